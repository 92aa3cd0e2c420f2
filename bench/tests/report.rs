//! The suite report on a tiny synthetic results directory: table rows (mean ± std, the published
//! figure, the verdict, the speed-up), the skipped runs, and one SVG per target, through the
//! library and through the `gmmvi-report` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use gmmvi_bench::report::{self, Stat};

const HEADER: &str = "iteration,evals,components,elbo,mmd,wall_s";

fn json(target: &str, algo: &str, seed: u64, evals: u64, elbo: f64, ms: f64, mmd: Option<f64>) -> String {
    serde_json::json!({
        "target": target, "algo": algo, "seed": seed, "iterations": 10, "evals": evals, "components": 3,
        "elbo": elbo, "ms_per_iter": ms, "state_bytes": 1, "mmd": mmd, "wall_s": 2.5,
    })
    .to_string()
}

/// A JSON line of [`json`] whose ELBO is `null` (a run without an ELBO estimate).
fn without_elbo(line: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["elbo"] = serde_json::Value::Null;
    v.to_string()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// gmm20: SAMTRUX seeds 0, 1 (−ELBO 0.5, 0.7); breast_cancer: SAMTRUX seed 0 (−ELBO 80, MMD 0.02,
/// 1.76 ms/iter), SEPYFUX seed 3 (JSON without CSV), ADVI-MF seed 0 skipped; a stray file.
fn synthetic(dir: &Path) {
    let g = dir.join("gmm20");
    write(&g.join("SAMTRUX_s0.json"), &json("gmm20", "SAMTRUX", 0, 1000, -0.5, 2.0, None));
    write(
        &g.join("SAMTRUX_s0.csv"),
        &format!("{HEADER}\n1,100,1,-50,NaN,0.1\n5,500,2,-2,NaN,0.2\n10,1000,3,-0.5,NaN,0.3\n"),
    );
    write(&g.join("SAMTRUX_s1.json"), &(json("gmm20", "SAMTRUX", 1, 1000, -0.7, 4.0, None) + "\n"));
    write(&g.join("SAMTRUX_s1.csv"), &format!("{HEADER}\n2,200,1,-30,NaN,0.1\n10,1000,3,-0.7,NaN,0.3\n"));
    let b = dir.join("breast_cancer");
    write(&b.join("SAMTRUX_s0.json"), &json("breast_cancer", "SAMTRUX", 0, 892_500, -80.0, 1.76, Some(0.02)));
    write(&b.join("SAMTRUX_s0.csv"), &format!("{HEADER}\n1,3000,1,-5000,0.5,1\n300,892500,20,-80,0.02,9\n"));
    write(&b.join("SEPYFUX_s3.json"), &json("breast_cancer", "SEPYFUX", 3, 1_785_000, -77.0, 1.0, Some(0.01)));
    write(&b.join("ADVI-MF_s0.skipped"), "exit 1: gmmvi-bench --algo ADVI-MF\nerror: bad codeword \"ADVI-MF\"\n");
    write(&b.join("notes.txt"), "not a result");
    write(&dir.join("suite_log.txt"), "2026-01-01T00:00:00Z suite start: BUDGET_SCALE=0.5\n");
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gmmvi_report_{tag}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + b.abs())
}

#[test]
fn rows_from_a_synthetic_directory() {
    let dir = temp_dir("lib");
    synthetic(&dir);
    let res = report::load(&dir).unwrap();
    assert_eq!(res.runs.len(), 4);
    assert_eq!(res.skipped.len(), 1);
    assert_eq!((res.skipped[0].algo.as_str(), res.skipped[0].seed), ("ADVI-MF", 0));
    assert!(res.skipped[0].reason.contains("bad codeword"), "{}", res.skipped[0].reason);
    // Runner order of targets: gmm20 before breast_cancer; SAMTRUX before SEPYFUX.
    let rows = report::summarize(&res);
    let keys: Vec<(&str, &str)> = rows.iter().map(|r| (r.target.as_str(), r.algo.as_str())).collect();
    assert_eq!(keys, [("gmm20", "SAMTRUX"), ("breast_cancer", "SAMTRUX"), ("breast_cancer", "SEPYFUX")]);

    let g = &rows[0];
    assert_eq!(g.seeds, [0, 1]);
    let e = g.neg_elbo.unwrap();
    assert!(close(e.mean, 0.6) && close(e.std, 0.02f64.sqrt()) && e.n == 2, "{e:?}");
    let ms = g.ms_per_iter.unwrap();
    assert!(close(ms.mean, 3.0) && close(ms.std, 2f64.sqrt()));
    assert_eq!(g.mmd, None);
    // Same algorithm published (reference speed table, 103 ms/iter): 0.6 > 0 + 0.005 + 3·0.1414/√2.
    assert_eq!(g.published.unwrap().algo, "SAMTRUX");
    assert!(g.verdict.starts_with("worse (+0.6"), "{}", g.verdict);
    assert!(close(g.speedup.unwrap(), 103.0 / 3.0));

    let b = &rows[1];
    assert!(close(b.neg_elbo.unwrap().mean, 80.0) && b.neg_elbo.unwrap().std == 0.0);
    assert!(close(b.mmd.unwrap().mean, 0.02));
    assert_eq!(b.published.unwrap().neg_elbo, 78.28);
    assert_eq!(b.verdict, "worse (+1.72); 50 % of its evals");
    assert!(close(b.speedup.unwrap(), 100.0));
    // No SEPYFUX figure for breast_cancer: compared with the best published one (VIPS 78.2), no speed-up.
    let s = &rows[2];
    assert_eq!(s.published.unwrap().algo, "VIPS");
    assert_eq!(s.verdict, "better (-1.20); 47 % of its evals");
    assert_eq!(s.speedup, None);

    let (rows2, plots) = report::write_report(&dir, &dir.join("RESULTS.md"), "Header paragraph.", "A note.").unwrap();
    assert_eq!(rows2, rows);
    assert_eq!(plots, ["gmm20", "breast_cancer"]);
    for t in &plots {
        let svg = std::fs::read_to_string(dir.join(format!("{t}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("SAMTRUX") && svg.contains("polyline"), "{t}.svg");
    }
    let md = std::fs::read_to_string(dir.join("RESULTS.md")).unwrap();
    assert!(md.contains("Header paragraph."));
    assert!(md.contains(
        "| gmm20 | SAMTRUX | 0,1 | 1 k | 3 | 0.60 ± 0.14 | — | 3.00 ± 1.4 | ≈ 0.00 | SAMTRUX, 1 run (1.49 M) | worse (+0.600); 0 % of its evals | 103.0 | 34.3× |"
    ), "{md}");
    assert!(md.contains(
        "| breast_cancer | SAMTRUX | 0 | 892 k | 3 | 80.0000 | 0.0200 | 1.76 | 78.28 | SAMTRUX, 1 run (1.78 M) | worse (+1.72); 50 % of its evals | 176.0 | 100× |"
    ), "{md}");
    assert!(md.contains("| breast_cancer | SEPYFUX | 3 |"));
    assert!(md.contains("| breast_cancer | VIPS | 78.2 ± 0.041 | 5 | 3.78 M | — |"), "{md}");
    assert!(md.contains("| breast_cancer | ADVI-MF | 0 | error: bad codeword \"ADVI-MF\" |"), "{md}");
    assert!(md.contains("![gmm20](gmm20.svg)"), "{md}");
    // The notes come after the tables; the suite log is pointed to, not copied.
    assert!(md.find("## Notes\n\nA note.").unwrap() > md.find("## Published figures").unwrap());
    assert!(md.contains("results/suite_log.txt") && !md.contains("suite start: BUDGET_SCALE=0.5"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A run with `"scalar":"f32"` is a row of its own ("SAMTRUX (f32)"), not pooled with the f64
/// seeds of the same algorithm, and is compared with no same-algorithm published speed.
#[test]
fn f32_runs_are_rows_of_their_own() {
    let dir = temp_dir("f32");
    let g = dir.join("gmm20");
    write(&g.join("SAMTRUX_s0.json"), &json("gmm20", "SAMTRUX", 0, 1000, -0.5, 2.0, None));
    let mut f32_line: serde_json::Value =
        serde_json::from_str(&json("gmm20", "SAMTRUX", 1, 1000, -0.9, 1.0, None)).unwrap();
    f32_line["scalar"] = "f32".into();
    write(&g.join("SAMTRUX_s1.json"), &f32_line.to_string());
    let rows = report::summarize(&report::load(&dir).unwrap());
    let keys: Vec<(&str, &[u64])> = rows.iter().map(|r| (r.algo.as_str(), r.seeds.as_slice())).collect();
    assert_eq!(keys, [("SAMTRUX", &[0u64][..]), ("SAMTRUX (f32)", &[1u64][..])]);
    assert!(close(rows[0].neg_elbo.unwrap().mean, 0.5) && close(rows[1].neg_elbo.unwrap().mean, 0.9));
    assert_eq!(rows[1].speedup, None);
    assert!(report::parse_json_line(r#"{"scalar":"f16"}"#).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn binary_writes_table_and_svgs() {
    let dir = temp_dir("bin");
    let results = dir.join("results");
    synthetic(&results);
    write(&dir.join("header.md"), "Ran on a test machine.\n");
    let out = Command::new(env!("CARGO_BIN_EXE_gmmvi-report"))
        .arg("--results")
        .arg(&results)
        .arg("--out")
        .arg(dir.join("RESULTS.md"))
        .arg("--header")
        .arg(dir.join("header.md"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(results.join("gmm20.svg").is_file() && results.join("breast_cancer.svg").is_file());
    let md = std::fs::read_to_string(dir.join("RESULTS.md")).unwrap();
    assert!(
        md.contains("Ran on a test machine.") && md.contains("![breast_cancer](results/breast_cancer.svg)"),
        "{md}"
    );
    // A missing directory is an error message, not a panic.
    let out = Command::new(env!("CARGO_BIN_EXE_gmmvi-report"))
        .args(["--results", "/nonexistent/results", "--out"])
        .arg(dir.join("x.md"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: cannot list"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn helpers() {
    let j = report::parse_json_line(r#"{"target":"x y","elbo":-1.5,"mmd":null,"evals":300,"wall_s":2.5e-7}"#).unwrap();
    assert_eq!(
        j,
        report::JsonLine { elbo: Some(-1.5), evals: Some(300.0), wall_s: Some(2.5e-7), ..Default::default() }
    );
    assert!(report::parse_json_line(r#"{"elbo":"x"}"#).is_err());
    assert!(report::parse_json_line("").is_err());
    let dir = temp_dir("badjson");
    write(&dir.join("gmm20").join("SAMTRUX_s0.json"), "{\"elbo\": -1.5,");
    let e = report::load(&dir).unwrap_err();
    assert!(e.contains("SAMTRUX_s0.json"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report::parse_stem("ADVI-MF_s12"), Some(("ADVI-MF".into(), 12)));
    assert_eq!(report::parse_stem("a_b_s3"), Some(("a_b".into(), 3)));
    assert_eq!(report::parse_stem("SAMTRUX"), None);
    assert_eq!(report::parse_curve("iteration,evals,elbo\n1,10,-3\n2,20,NaN\n"), [(10.0, -3.0)]);
    // Two runs on [10, 1000] and [100, 1000]: the grid's first point has one run, later points both.
    let c = report::mean_curve(&[vec![(10.0, 4.0), (1000.0, 2.0)], vec![(100.0, 1.0), (1000.0, 1.0)]], 3);
    assert_eq!(c.len(), 3);
    assert!(close(c[0].0, 10.0) && close(c[0].1, 4.0));
    assert!(close(c[1].0, 100.0) && close(c[1].1, (3.0 + 1.0) / 2.0), "{c:?}");
    assert!(close(c[2].0, 1000.0) && close(c[2].1, 1.5));
    let s = Stat::of([1.0, f64::NAN, 3.0]).unwrap();
    assert!(s.n == 2 && close(s.mean, 2.0) && close(s.std, 2f64.sqrt()));
    assert_eq!(report::sig(78.2811, 4), "78.28");
    assert_eq!(report::sig(-0.0123456, 3), "-0.0123");
    let st = |mean, std, n| Some(Stat { mean, std, n });
    assert_eq!(report::neg_elbo_text(st(12.3512, 0.081, 5)), "12.351 ± 0.081");
    assert_eq!(report::neg_elbo_text(st(585.1113, 0.0, 1)), "585.111");
    assert_eq!(report::neg_elbo_text(st(-6.5e-7, 1.4e-6, 5)), "-6.5e-7 ± 1.4e-6");
    assert_eq!(report::neg_elbo_text(None), "—");
    assert_eq!(report::verdict(None, None, report::published_for("gmm20", "SAMTRUX")), "n/a");
    assert_eq!(report::published_for("wine", "SAMTRUX"), None);
}

/// planar_robot_4: SAMTRUX seeds 0, 1 (rows at ≈ 30 k, 300 k, 600 k, 1.2 M evaluations); ADVI-FR
/// seeds 0, 1 finished at 434 256 evaluations, seed 2 rejected; IWAE failed on every seed; VR
/// seed 0 finished without an ELBO. breast_cancer: SAMTRUX seed 0 with MMD rows; SVGD seed 0
/// (no ELBO, MMD 0.3) at 300 evaluations, before SAMTRUX's first row; ADVI-MF seed 0 with MMD.
/// gmm20: FLOW seed 0 and no SAMTRUX run.
fn synthetic_baselines(dir: &Path) {
    let p = dir.join("planar_robot_4");
    let samtrux = [
        (0, [(30_000, -1000.0), (300_000, -80.0), (600_000, -14.0), (1_200_000, -12.3)]),
        (1, [(31_000, -900.0), (310_000, -70.0), (620_000, -13.0), (1_240_000, -12.4)]),
    ];
    for (seed, rows) in samtrux {
        let csv: String =
            rows.iter().enumerate().map(|(i, (x, e))| format!("{},{x},5,{e},NaN,1\n", 2 * i + 2)).collect();
        write(&p.join(format!("SAMTRUX_s{seed}.csv")), &format!("{HEADER}\n{csv}"));
        let (x, e) = rows[3];
        write(&p.join(format!("SAMTRUX_s{seed}.json")), &json("planar_robot_4", "SAMTRUX", seed, x, e, 900.0, None));
    }
    for (seed, elbo, ms) in [(0, -50.0, 0.01), (1, -52.0, 0.03)] {
        write(
            &p.join(format!("ADVI-FR_s{seed}.json")),
            &json("planar_robot_4", "ADVI-FR", seed, 434_256, elbo, ms, None),
        );
        write(
            &p.join(format!("ADVI-FR_s{seed}.csv")),
            &format!("{HEADER}\n1,16,1,-5000,NaN,0\n27141,434256,1,{elbo},NaN,1\n"),
        );
    }
    let rejected = "exit 1: gmmvi-bench --algo ADVI-FR\nerror: step: 1000 steps in a row rejected | InvalidArgument\n";
    write(&p.join("ADVI-FR_s2.skipped"), rejected);
    for seed in 0..3 {
        write(
            &p.join(format!("IWAE_s{seed}.skipped")),
            "exit 1: gmmvi-bench --algo IWAE\nerror: the worker thread panicked\n",
        );
    }
    let vr = without_elbo(&json("planar_robot_4", "VR", 0, 434_256, 0.0, 0.02, None));
    write(&p.join("VR_s0.json"), &vr);
    let b = dir.join("breast_cancer");
    write(&b.join("SAMTRUX_s0.json"), &json("breast_cancer", "SAMTRUX", 0, 600_000, -79.0, 400.0, Some(0.002)));
    write(
        &b.join("SAMTRUX_s0.csv"),
        &format!("{HEADER}\n1,3000,1,-5000,0.5,1\n100,300000,10,-85,0.01,5\n200,600000,20,-79,0.002,9\n"),
    );
    let svgd = without_elbo(&json("breast_cancer", "SVGD", 0, 300, 0.0, 8.0, Some(0.3)));
    write(&b.join("SVGD_s0.json"), &svgd);
    write(&b.join("ADVI-MF_s0.json"), &json("breast_cancer", "ADVI-MF", 0, 400_000, -90.0, 1.0, Some(0.05)));
    write(&dir.join("gmm20").join("FLOW_s0.json"), &json("gmm20", "FLOW", 0, 500_000, -1.5, 0.2, None));
}

#[test]
fn baselines_vs_samtrux_section() {
    let dir = temp_dir("vs");
    synthetic_baselines(&dir);
    let res = report::load(&dir).unwrap();
    let rows = report::baselines_vs_reference(&res);
    let keys: Vec<(&str, &str)> = rows.iter().map(|r| (r.target.as_str(), r.algo.as_str())).collect();
    assert_eq!(
        keys,
        [
            ("planar_robot_4", "ADVI-FR"),
            ("planar_robot_4", "IWAE"),
            ("planar_robot_4", "VR"),
            ("gmm20", "FLOW"),
            ("breast_cancer", "ADVI-MF"),
            ("breast_cancer", "SVGD"),
        ]
    );
    // ADVI-FR: 51 ± √2 over seeds 0, 1; SAMTRUX at ≤ 434 256 evaluations: rows 300 k (80) and 310 k (70).
    let fr = &rows[0];
    assert_eq!(fr.seeds, [0, 1]);
    let e = fr.neg_elbo.unwrap();
    assert!(close(e.mean, 51.0) && close(e.std, 2f64.sqrt()));
    let r = fr.reference_neg_elbo.unwrap();
    assert!(close(r.mean, 75.0) && close(r.std, 50f64.sqrt()) && r.n == 2, "{r:?}");
    assert!(close(fr.reference_evals.unwrap().mean, 305_000.0));
    assert!(close(fr.ms_per_iter.unwrap().mean, 0.02));
    assert_eq!(fr.problems.len(), 1);
    assert_eq!(fr.problems[0].0, 2);
    assert!(fr.problems[0].1.contains("rejected"), "{:?}", fr.problems);
    // IWAE: no finished run, every seed listed with its reason; VR: finished without an ELBO.
    assert!(rows[1].seeds.is_empty() && rows[1].evals.is_none() && rows[1].problems.len() == 3);
    assert!(rows[2].seeds.is_empty() && rows[2].problems == [(0, "finished without a finite final ELBO".to_string())]);
    // ADVI-MF on breast_cancer: SAMTRUX's row at 300 k (−ELBO 85, MMD 0.01).
    let mf = &rows[4];
    assert!(close(mf.reference_neg_elbo.unwrap().mean, 85.0) && close(mf.reference_mmd.unwrap().mean, 0.01));
    // SVGD: finished (no ELBO), but before SAMTRUX's first row at 3000 evaluations.
    let sv = &rows[5];
    assert_eq!(sv.seeds, [0]);
    assert!(sv.neg_elbo.is_none() && close(sv.mmd.unwrap().mean, 0.3) && sv.reference_neg_elbo.is_none());
    assert_eq!(sv.reference_first_evals, Some(3000.0));
    assert_eq!(rows[3].reference_runs, 0);

    let md = report::vs_reference_markdown(&rows);
    assert!(md.starts_with("## Gradient-based baselines vs SAMTRUX at equal evaluations\n"), "{md}");
    for line in [
        "| planar_robot_4 | ADVI-FR | 0,1 | 434 k | 51.0 ± 1.4 | 75.0 ± 7.1 (2 seeds, 305 k) | -24.0 | — | — | 0.0200 ± 0.014 | s2: error: step: 1000 steps in a row rejected \\| InvalidArgument |",
        "| planar_robot_4 | IWAE | none | — | failed | — | — | — | — | — | s0: error: the worker thread panicked; s1: error: the worker thread panicked; s2: error: the worker thread panicked |",
        "| planar_robot_4 | VR | none | — | failed | — | — | — | — | — | s0: finished without a finite final ELBO |",
        "| gmm20 | FLOW | 0 | 500 k | 1.50000 | — (no SAMTRUX runs) | — | — | — | 0.200 | — |",
        "| breast_cancer | ADVI-MF | 0 | 400 k | 90.0000 | 85.0000 (1 seed, 300 k) | +5.00 | 0.0500 | 0.0100 | 1.00 | — |",
        "| breast_cancer | SVGD | 0 | 0 k | n/a (no density) | — (first SAMTRUX row at 3 k) | — | 0.300 | — | 8.00 | — |",
    ] {
        assert!(md.contains(line), "missing\n{line}\nin\n{md}");
    }
    // The full report has the section between the summary and the published figures, and the
    // baselines' curves in the plots.
    let (_, plots) = report::write_report(&dir, &dir.join("RESULTS.md"), "", "").unwrap();
    assert_eq!(plots, ["planar_robot_4", "breast_cancer"]);
    let full = std::fs::read_to_string(dir.join("RESULTS.md")).unwrap();
    let (a, b, c) = (
        full.find("## Summary").unwrap(),
        full.find("## Gradient-based baselines vs SAMTRUX").unwrap(),
        full.find("## Published figures").unwrap(),
    );
    assert!(a < b && b < c);
    let svg = std::fs::read_to_string(dir.join("planar_robot_4.svg")).unwrap();
    assert!(svg.contains("ADVI-FR") && svg.contains("SAMTRUX"));
    // Without baselines there is no section.
    assert_eq!(report::vs_reference_markdown(&[]), "");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn keep_header_reuses_the_notes() {
    let md = "# gmmvi benchmark results\n\n**What was run.** Notes.\n\nMore notes.\n\n## Summary\n\n| a |\n";
    assert_eq!(report::header_of(md), "**What was run.** Notes.\n\nMore notes.");
    assert_eq!(report::header_of("# t\n\n## Summary\n"), "");
    assert_eq!(report::header_of("no title"), "");
    let with_notes = "# t\n\nHead.\n\n## Summary\n\n| a |\n\n## Notes\n\nNote one.\n\nNote two.\n\n## Plots\n";
    assert_eq!(report::notes_of(with_notes), "Note one.\n\nNote two.");
    assert_eq!(report::notes_of(md), "");
    let dir = temp_dir("keep");
    let results = dir.join("results");
    synthetic(&results);
    std::fs::write(dir.join("RESULTS.md"), md).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gmmvi-report"))
            .arg("--results")
            .arg(&results)
            .arg("--out")
            .arg(dir.join("RESULTS.md"))
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--keep-header"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.join("RESULTS.md")).unwrap();
    assert!(text.contains("**What was run.** Notes.\n\nMore notes.\n\n## Summary"), "{text}");
    // Twice in a row: the notes are not duplicated.
    assert!(run(&["--keep-header"]).status.success());
    let again = std::fs::read_to_string(dir.join("RESULTS.md")).unwrap();
    assert_eq!(again.matches("More notes.").count(), 1);
    // --header replaces the kept header: a missing file is an error.
    let out = run(&["--keep-header", "--header", "x.md"]);
    assert!(!out.status.success());
    std::fs::remove_dir_all(&dir).unwrap();
}

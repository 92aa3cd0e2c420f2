//! The suite report on a tiny synthetic results directory: table rows (mean ± std, the published
//! figure, the verdict, the speed-up), the skipped runs, and one SVG per target, through the
//! library and through the `gmmvi-report` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use gmmvi_bench::report::{self, Stat};

const HEADER: &str = "iteration,evals,components,elbo,mmd,wall_s";

fn json(target: &str, algo: &str, seed: u64, evals: u64, elbo: f64, ms: f64, mmd: Option<f64>) -> String {
    format!(
        r#"{{"target":"{target}","algo":"{algo}","seed":{seed},"iterations":10,"evals":{evals},"components":3,"elbo":{elbo},"ms_per_iter":{ms},"state_bytes":1,"mmd":{},"wall_s":2.5}}"#,
        mmd.map_or("null".to_string(), |m| m.to_string())
    )
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

    let (rows2, plots) = report::write_report(&dir, &dir.join("RESULTS.md"), "Header paragraph.").unwrap();
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
    assert!(md.contains("suite start: BUDGET_SCALE=0.5"));
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
    assert_eq!(report::json_field(r#"{"a":"x y","b":-1.5,"c":null}"#, "b"), Some("-1.5"));
    assert_eq!(report::json_field(r#"{"a":"x y","b":-1.5,"c":null}"#, "a"), Some("x y"));
    assert_eq!(report::json_field(r#"{"a":"x y","b":-1.5,"c":null}"#, "c"), Some("null"));
    assert_eq!(report::json_field(r#"{"a":1}"#, "z"), None);
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

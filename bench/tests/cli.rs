//! The runner's output formats: runs the binary on a small budget and parses the JSON line
//! and the CSV file; bad command lines fail with a message instead of a panic.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gmmvi-bench");

/// A JSON line as an object, keys in their order in the line.
fn json(line: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn num(j: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    j.get(key).and_then(serde_json::Value::as_f64).unwrap_or_else(|| panic!("{key} is not a number in {j:?}"))
}

#[test]
fn json_line_and_csv() {
    let csv = std::env::temp_dir().join(format!("gmmvi_bench_cli_{}.csv", std::process::id()));
    let out = Command::new(BIN)
        .args(["--target", "breast_cancer", "--algo", "SAMTRUX", "--seed", "3", "--evals", "1e6", "--iterations", "4"])
        .args(["--config", "n_des=30", "--log-every", "2", "--elbo-samples", "300", "--mmd-gt-rows", "500", "--quiet"])
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let j = json(lines[0]);
    let keys: Vec<&str> = j.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "target",
            "algo",
            "scalar",
            "seed",
            "iterations",
            "evals",
            "components",
            "elbo",
            "ms_per_iter",
            "state_bytes",
            "mmd",
            "wall_s"
        ]
    );
    assert_eq!(j["target"], "breast_cancer");
    assert_eq!(j["algo"], "SAMTRUX");
    assert_eq!(num(&j, "seed"), 3.0);
    assert_eq!(num(&j, "iterations"), 4.0);
    assert_eq!(num(&j, "evals"), 4.0 * 30.0);
    assert!(num(&j, "elbo").is_finite() && num(&j, "mmd") > 0.0 && num(&j, "state_bytes") > 0.0);

    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::remove_file(&csv).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["iteration", "evals", "components", "elbo", "mmd", "wall_s"]);
    let rows: Vec<Vec<f64>> =
        reader.records().map(|r| r.unwrap().iter().map(|v| v.parse::<f64>().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (r, it) in rows.iter().zip([2.0, 4.0]) {
        assert_eq!(r.len(), 6);
        assert_eq!(r[0], it);
        assert_eq!(r[1], it * 30.0);
        assert!(r[2] >= 1.0 && r[3].is_finite() && r[4].is_finite() && r[5] >= 0.0, "{r:?}");
    }
    // The final row is the JSON line's state.
    assert_eq!(rows[1][3], num(&j, "elbo"));
    assert_eq!(rows[1][4], num(&j, "mmd"));
}

#[test]
fn no_ground_truth_gives_null_mmd() {
    let out = Command::new(BIN)
        .args(["--target", "gmm20", "--iterations", "2", "--config", "n_des=20 k0=2", "--elbo-samples", "200"])
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = json(String::from_utf8(out.stdout).unwrap().trim());
    assert!(j["mmd"].is_null(), "{j:?}");
    assert_eq!(num(&j, "components"), 2.0);
}

#[test]
fn bad_input_fails_cleanly() {
    for args in [
        &["--target", "nope"][..],
        &["--algo", "SAMTRUQ"],
        &["--evals", "-3"],
        &["--evals", "1.5"],
        &["--seed", "99999999999"],
        &["--target", "gmm20", "--config", "n_des"],
        &["--target", "gmm20", "--config", "bogus=1"],
        &["--target", "gmm20", "--config", "k0=100000"],
        &["--target", "gmm20", "--config", "n_des=100000"],
        &["--target", "gmm20", "--elbo-samples", "0"],
        &["--target", "breast_cancer", "--data-dir", "/nonexistent"],
    ] {
        let out = Command::new(BIN).args(args).args(["--iterations", "1", "--quiet"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
}

/// A short gmm20 run in both precisions: `--f32` is reported, and its ELBO is the f64 run's up to
/// rounding. Both runs start from the same initial model (rounded to f32) and draw from the same
/// random streams, and six iterations stay before the first add or delete, so they differ only by
/// f32 rounding (2⁻²⁴ relative per operation) carried through a few iterations, not by Monte-Carlo
/// noise; 1e-4 relative leaves about a thousand roundings of room.
#[test]
fn f32_run_matches_f64_up_to_rounding() {
    let run = |extra: &[&str]| {
        let out = Command::new(BIN)
            .args(["--target", "gmm20", "--iterations", "6", "--config", "n_des=20 k0=2", "--elbo-samples", "500"])
            .args(["--log-every", "0", "--threads", "2", "--quiet"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        json(String::from_utf8(out.stdout).unwrap().trim())
    };
    let (single, double) = (run(&["--f32"]), run(&[]));
    assert_eq!((&single["scalar"], &double["scalar"]), (&"f32".into(), &"f64".into()));
    for key in ["iterations", "evals", "components"] {
        assert_eq!(num(&single, key), num(&double, key), "{key}");
    }
    let (e32, e64) = (num(&single, "elbo"), num(&double, "elbo"));
    assert!(e32.is_finite() && (e32 - e64).abs() <= 1e-4 * e64.abs(), "f32 {e32} vs f64 {e64}");
    // The f32 optimiser's state is smaller (mostly f32 rows).
    assert!(num(&single, "state_bytes") < 0.75 * num(&double, "state_bytes"));
}

#[test]
fn f32_is_refused_where_unsupported() {
    for (args, name) in [
        (&["--target", "stm20"][..], "stm20"),
        (&["--target", "breast_cancer_mb"], "breast_cancer_mb"),
        (&["--target", "gmm20", "--algo", "ADVI-MF"], "ADVI-MF"),
    ] {
        let out = Command::new(BIN).args(args).args(["--f32", "--iterations", "1", "--quiet"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "{args:?}");
        assert!(err.contains(&format!("--f32 is not supported for {name}")), "{args:?}: {err}");
    }
}

#[test]
fn list_names_every_target() {
    let out = Command::new(BIN).arg("--list").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for t in gmmvi_bench::presets::TargetId::ALL {
        assert!(text.contains(t.name()), "{} missing", t.name());
    }
    assert!(text.contains("SAMTRUX") && text.contains("SEPYFUX"));
}

/// The `--smoke` suite (every target × SAMTRUX, a few iterations; ~90 s in a debug build).
#[test]
#[ignore = "slow in debug builds: run with --include-ignored"]
fn smoke_suite() {
    let out = Command::new(BIN).arg("--smoke").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), gmmvi_bench::presets::TargetId::ALL.len(), "{stdout}");
    for line in lines {
        let j = json(line);
        assert_eq!(j["algo"], "SAMTRUX");
        assert!(num(&j, "elbo").is_finite(), "{line}");
    }
}

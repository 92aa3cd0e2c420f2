//! The runner's output formats: runs the binary on a small budget and parses the JSON line
//! and the CSV file; bad command lines fail with a message instead of a panic.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gmmvi-bench");

/// The value of `"key":` in a flat JSON object (number, `null` or string).
fn json_field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let at = line.find(&pat).unwrap_or_else(|| panic!("{key} missing in {line}")) + pat.len();
    let rest = &line[at..];
    let end = match rest.strip_prefix('"') {
        Some(inner) => inner.find('"').unwrap() + 2,
        None => rest.find([',', '}']).unwrap(),
    };
    &rest[..end]
}

fn num(line: &str, key: &str) -> f64 {
    json_field(line, key).parse().unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
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
    let line = lines[0];
    assert!(line.starts_with('{') && line.ends_with('}'));
    let keys = [
        "target",
        "algo",
        "seed",
        "iterations",
        "evals",
        "components",
        "elbo",
        "ms_per_iter",
        "state_bytes",
        "mmd",
        "wall_s",
    ];
    let mut last = 0;
    for k in keys {
        let at = line.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} missing in {line}"));
        assert!(at >= last, "key order at {k}");
        last = at;
    }
    assert_eq!(json_field(line, "target"), "\"breast_cancer\"");
    assert_eq!(json_field(line, "algo"), "\"SAMTRUX\"");
    assert_eq!(num(line, "seed"), 3.0);
    assert_eq!(num(line, "iterations"), 4.0);
    assert_eq!(num(line, "evals"), 4.0 * 30.0);
    assert!(num(line, "elbo").is_finite() && num(line, "mmd") > 0.0 && num(line, "state_bytes") > 0.0);

    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::remove_file(&csv).unwrap();
    let mut rows = text.lines();
    assert_eq!(rows.next(), Some("iteration,evals,components,elbo,mmd,wall_s"));
    let rows: Vec<Vec<f64>> = rows.map(|r| r.split(',').map(|v| v.parse::<f64>().unwrap()).collect()).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (r, it) in rows.iter().zip([2.0, 4.0]) {
        assert_eq!(r.len(), 6);
        assert_eq!(r[0], it);
        assert_eq!(r[1], it * 30.0);
        assert!(r[2] >= 1.0 && r[3].is_finite() && r[4].is_finite() && r[5] >= 0.0, "{r:?}");
    }
    // The final row is the JSON line's state.
    assert_eq!(rows[1][3], num(line, "elbo"));
    assert_eq!(rows[1][4], num(line, "mmd"));
}

#[test]
fn no_ground_truth_gives_null_mmd() {
    let out = Command::new(BIN)
        .args(["--target", "gmm20", "--iterations", "2", "--config", "n_des=20 k0=2", "--elbo-samples", "200"])
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(json_field(line.trim(), "mmd"), "null");
    assert_eq!(num(line.trim(), "components"), 2.0);
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
        assert_eq!(json_field(line, "algo"), "\"SAMTRUX\"");
        assert!(num(line, "elbo").is_finite(), "{line}");
    }
}

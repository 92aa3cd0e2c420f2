//! The gradient-based baselines through the binary: `--algo ADVI-MF` and `--algo SVGD` on
//! breast_cancer for a small budget give the GMM runs' JSON line (SVGD: ELBO null, MMD set).

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

fn run(algo: &str, evals: &str) -> String {
    let out = Command::new(BIN)
        .args(["--target", "breast_cancer", "--algo", algo, "--evals", evals, "--log-every", "0"])
        .args(["--elbo-samples", "200", "--mmd-gt-rows", "300", "--quiet"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{algo}: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    lines[0].to_string()
}

fn num(line: &str, key: &str) -> f64 {
    json_field(line, key).parse().unwrap_or_else(|e| panic!("{key} in {line}: {e}"))
}

#[test]
fn advi_mf_and_svgd_json_lines() {
    let keys =
        ["target", "algo", "seed", "iterations", "evals", "components", "elbo", "ms_per_iter", "state_bytes", "mmd"];
    let line = run("ADVI-MF", "320");
    for k in keys.iter().chain(&["wall_s"]) {
        json_field(&line, k);
    }
    assert_eq!(json_field(&line, "algo"), "\"ADVI-MF\"");
    assert_eq!((num(&line, "iterations"), num(&line, "evals"), num(&line, "components")), (20.0, 320.0, 1.0));
    assert!(num(&line, "elbo").is_finite() && num(&line, "mmd") > 0.0 && num(&line, "state_bytes") > 0.0);

    let line = run("SVGD", "300");
    assert_eq!(json_field(&line, "algo"), "\"SVGD\"");
    assert_eq!((num(&line, "iterations"), num(&line, "evals"), num(&line, "components")), (3.0, 300.0, 100.0));
    assert_eq!(json_field(&line, "elbo"), "null");
    assert!(num(&line, "mmd") > 0.0);
}

#[test]
fn baselines_are_listed_and_reject_core_keys() {
    let out = Command::new(BIN).arg("--list").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for a in gmmvi_bench::baselines::Algo::ALL {
        assert!(text.contains(a.name()), "{} missing", a.name());
    }
    let out = Command::new(BIN)
        .args(["--target", "gmm20", "--algo", "FLOW", "--config", "n_des=10", "--iterations", "1", "--quiet"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("error") && !err.contains("panicked"), "{err}");
}

//! The gradient-based baselines through the binary: `--algo ADVI-MF` and `--algo SVGD` on
//! breast_cancer for a small budget give the GMM runs' JSON line (SVGD: ELBO null, MMD set).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gmmvi-bench");

/// A JSON line as an object, keys in their order in the line.
fn json(line: &str) -> serde_json::Map<String, serde_json::Value> {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"))
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

fn num(j: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    j.get(key).and_then(serde_json::Value::as_f64).unwrap_or_else(|| panic!("{key} is not a number in {j:?}"))
}

#[test]
fn advi_mf_and_svgd_json_lines() {
    let keys = [
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
        "wall_s",
    ];
    let j = json(&run("ADVI-MF", "320"));
    assert_eq!(j.keys().map(String::as_str).collect::<Vec<_>>(), keys);
    assert_eq!(j["algo"], "ADVI-MF");
    assert_eq!((num(&j, "iterations"), num(&j, "evals"), num(&j, "components")), (20.0, 320.0, 1.0));
    assert!(num(&j, "elbo").is_finite() && num(&j, "mmd") > 0.0 && num(&j, "state_bytes") > 0.0);

    let j = json(&run("SVGD", "300"));
    assert_eq!(j.keys().map(String::as_str).collect::<Vec<_>>(), keys);
    assert_eq!(j["algo"], "SVGD");
    assert_eq!((num(&j, "iterations"), num(&j, "evals"), num(&j, "components")), (3.0, 300.0, 100.0));
    assert!(j["elbo"].is_null(), "{j:?}");
    assert!(num(&j, "mmd") > 0.0);
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

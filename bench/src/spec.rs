//! Merging a codeword, the paper's hyperparameter row (docs/algorithm.md §12) and `--config
//! key=value` overrides into a [`RunSpec`]. The keys `k0`, `prior_scale` and `initial_cov`
//! (scalars) set the initial model; every other key goes to [`gmmvi::Config::parse`].

use gmmvi::Config;

use crate::presets::{PerDim, TargetId, paper_row};
use crate::runner::{RunOptions, RunSpec};

/// Command-line settings of one run.
#[derive(Clone, Debug)]
pub struct Request {
    /// Target name.
    pub target: String,
    /// Codeword.
    pub algo: String,
    /// Seed.
    pub seed: u64,
    /// `key=value` overrides (each entry may hold several, separated by spaces or commas).
    pub config: Vec<String>,
    /// Budget, logging and environment (passed through).
    pub run: RunOptions,
}

/// The merged settings: the run and the text given to `Config::parse` (for reporting).
///
/// # Errors
/// A message naming the bad target, codeword, key or value.
pub fn build(req: &Request) -> Result<(RunSpec, String), String> {
    let target = TargetId::from_name(&req.target).ok_or_else(|| {
        let names: Vec<&str> = TargetId::ALL.iter().map(|t| t.name()).collect();
        format!("unknown target {:?}; expected one of {}", req.target, names.join(", "))
    })?;
    let baseline = crate::baselines::Algo::from_name(&req.algo).is_some();
    if !baseline {
        Config::<f64>::from_codeword(&req.algo).map_err(|e| format!("bad codeword {:?}: {e:?}", req.algo))?;
    }
    let seed = u32::try_from(req.seed).map_err(|_| format!("seed {} must be below 2^32 (NumPy seeding)", req.seed))?;
    let row = paper_row(&req.algo, target);
    let mut init = target.default_init();
    let mut text = req.algo.clone();
    if let Some(r) = row {
        init.k0 = r.k0;
        text.push(' ');
        text.push_str(&r.settings());
    }
    for token in req.config.iter().flat_map(|c| c.split(|ch: char| ch.is_whitespace() || ch == ',')) {
        if token.is_empty() {
            continue;
        }
        let (key, value) = token.split_once('=').ok_or_else(|| format!("--config {token:?} is not key=value"))?;
        let real = || -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| format!("{key}={value}: need a positive number"))
        };
        match key {
            "k0" => init.k0 = value.parse().map_err(|_| format!("k0={value}: need a positive integer"))?,
            "prior_scale" => init.prior_scale = PerDim::Scalar(real()?),
            "initial_cov" => init.initial_cov = PerDim::Scalar(real()?),
            "codeword" => return Err("set the codeword with --algo".into()),
            _ => {
                text.push(' ');
                text.push_str(token);
            }
        }
    }
    // The baselines have fixed settings: only the initial-model keys apply to them.
    let config = if baseline {
        if text != req.algo {
            return Err(format!("{}: only k0, prior_scale and initial_cov can be set ({text:?})", req.algo));
        }
        Config::default()
    } else {
        Config::<f64>::parse(&text).map_err(|e| format!("configuration {text:?}: {e}"))?
    };
    if req.run.max_iterations == 0 {
        return Err("--iterations must be positive".into());
    }
    if req.run.elbo_samples == 0 {
        return Err("--elbo-samples must be positive".into());
    }
    let mut run = req.run.clone();
    run.threads = run.threads.max(1);
    Ok((RunSpec { target, algo: req.algo.clone(), config, init, seed, run }, text))
}

/// A `--smoke` run: few components and samples so that every target runs in seconds even
/// in a debug build (where the core is unoptimised and one trust-region update at D = 300
/// costs seconds). Returns (overrides, iterations, ELBO samples).
pub fn smoke_settings(target: TargetId) -> (Vec<String>, u64, usize) {
    let big = target.dim() >= 100;
    let k0 = if big { 1 } else { paper_row("SAMTRUX", target).map_or(1, |r| r.k0).min(3) };
    let n_des = if big { 20 } else { 40 };
    let overrides = vec![format!("k0={k0} n_des={n_des} num_database_samples=2000")];
    if target.dim() >= 300 {
        (overrides, 1, 100)
    } else if big {
        (overrides, 2, 300)
    } else {
        (overrides, 3, 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmmvi_targets::data::DataDir;

    fn req(target: &str, algo: &str, config: &[&str]) -> Request {
        Request {
            target: target.into(),
            algo: algo.into(),
            seed: 0,
            config: config.iter().map(|s| s.to_string()).collect(),
            run: RunOptions {
                evals: 1000,
                max_iterations: 10,
                log_every: 1,
                threads: 1,
                data: DataDir(gmmvi_targets::data::default_data_dir()),
                progress: false,
                elbo_samples: 100,
                mmd_gt_rows: None,
                passes: false,
                single_precision: false,
                csv: None,
            },
        }
    }

    #[test]
    fn merges_row_and_overrides() {
        let (spec, text) = build(&req("gmm20", "SAMTRUX", &["n_des=50", "k0=2 initial_cov=10"])).unwrap();
        assert!(text.starts_with("SAMTRUX n_des=100"), "{text}");
        assert_eq!(spec.config.samples.desired_samples_per_component, 50);
        assert_eq!(spec.init.k0, 2);
        assert_eq!(spec.init.initial_cov, PerDim::Scalar(10.0));
        let (spec, _) = build(&req("planar_robot_4", "SAMTRUX", &[])).unwrap();
        assert_eq!(spec.config, Config::samtrux_planar_robot_4());
        assert_eq!(spec.init.k0, 300);
        // No row: codeword defaults and the YAML's initial model.
        let (spec, text) = build(&req("gmm20", "SEPIFUX", &[])).unwrap();
        assert_eq!(text, "SEPIFUX");
        assert_eq!(spec.init.k0, 1);
    }

    #[test]
    fn rejects_bad_input() {
        for (t, a, c) in [
            ("nope", "SAMTRUX", ""),
            ("gmm20", "SAMTRUQ", ""),
            ("gmm20", "SAMTRUX", "n_des"),
            ("gmm20", "SAMTRUX", "n_des=-1"),
            ("gmm20", "SAMTRUX", "bogus=1"),
            ("gmm20", "SAMTRUX", "k0=x"),
            ("gmm20", "SAMTRUX", "initial_cov=0"),
        ] {
            let e = build(&req(t, a, &[c])).unwrap_err();
            assert!(!e.is_empty());
        }
    }
}

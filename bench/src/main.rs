//! `gmmvi-bench`: runs one benchmark (target × codeword × seed) and prints a JSON line, or
//! lists the targets and presets (`--list`), or runs every target with SAMTRUX for a few
//! iterations (`--smoke`).
//!
//! ```text
//! gmmvi-bench --target planar_robot_4 --algo SAMTRUX --seed 0 --evals 2e6 \
//!     [--config key=value ...] [--csv out.csv] [--log-every N]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use gmmvi_bench::presets::{PRESETS, ROWS, TargetId};
use gmmvi_bench::runner::{self, RunOptions, Summary};
use gmmvi_bench::spec::{Request, build, smoke_settings};
use gmmvi_targets::data::{DataDir, default_data_dir};

/// Benchmark runner of gmmvi (the paper's target suite).
#[derive(Parser, Debug)]
#[command(name = "gmmvi-bench", version, about)]
struct Cli {
    /// Target (see --list).
    #[arg(long, default_value = "planar_robot_4")]
    target: String,
    /// 7-letter codeword (the paper's per-target hyperparameters apply where docs/algorithm.md §12
    /// has a row), or a baseline: ADVI-MF, ADVI-FR, IWAE, VR, SVGD, FLOW.
    #[arg(long, default_value = "SAMTRUX")]
    algo: String,
    /// Seed of the target instance, the initial model and the optimiser (< 2^32).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Target-evaluation budget (e.g. 2e6 or 2_000_000).
    #[arg(long, default_value = "2e6", value_parser = parse_count)]
    evals: u64,
    /// Iteration bound.
    #[arg(long, default_value = "4294967295", value_parser = parse_count)]
    iterations: u64,
    /// Overrides `key=value` (Config::parse keys, plus k0, prior_scale, initial_cov); repeatable.
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// Write one CSV row per logging interval to this file, each row as it is logged (a long
    /// run's progress can be read while it runs).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Log (ELBO, MMD, CSV row) every N iterations; 0 logs only the final state.
    #[arg(long, default_value_t = 25)]
    log_every: u64,
    /// Threads of the hot loops (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Data directory (default: $GMMVI_DATA_DIR, else the repository's data/).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Samples of each ELBO estimate (the benchmark uses 2000, docs/targets.md §0).
    #[arg(long, default_value_t = runner::ELBO_SAMPLES)]
    elbo_samples: usize,
    /// Use only the first N ground-truth rows for the MMD (default: all, as docs/targets.md §9
    /// says).
    #[arg(long)]
    mmd_gt_rows: Option<usize>,
    /// Time every pass of the iterations: the JSON line gets a "passes" array (ms, dense GFLOP
    /// and effective GFLOP/s per iteration) and stderr the same as a Markdown table.
    #[arg(long)]
    passes: bool,
    /// Run the optimiser in single precision (planar_robot_1, planar_robot_4, gmm20 and
    /// breast_cancer; not the gradient-VI baselines): its model, configuration and the target
    /// values and gradients it receives are f32 (the targets compute in f64 and round). The
    /// ELBO is the optimiser's own estimate in f32; the MMD takes its samples as f64. The JSON
    /// line says "scalar":"f32" (default "f64").
    #[arg(long = "f32")]
    f32: bool,
    /// Print every target and the codeword presets, then exit.
    #[arg(long)]
    list: bool,
    /// Every target × SAMTRUX for a few iterations, checking finite values (with --f32: the
    /// targets that support it).
    #[arg(long)]
    smoke: bool,
}

/// A count such as `2e6`, `2000000` or `2_000_000`.
fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.replace('_', "");
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
        _ => Err(format!("{s:?} is not a non-negative whole number")),
    }
}

/// Stack of the executor's scoped worker threads: the core keeps D×D matrices on the stack
/// (720 kB each at D = 300), more than the default 2 MiB allows.
const MIN_STACK: &str = "268435456";

fn main() -> ExitCode {
    if std::env::var_os("RUST_MIN_STACK").is_none() {
        // SAFETY: the first statement of `main`, before any thread exists.
        unsafe { std::env::set_var("RUST_MIN_STACK", MIN_STACK) };
    }
    let cli = Cli::parse();
    let result = if cli.list {
        list();
        Ok(())
    } else if cli.smoke {
        smoke(&cli)
    } else {
        single(&cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn request(cli: &Cli, target: &str, config: Vec<String>) -> Request {
    Request {
        target: target.into(),
        algo: cli.algo.clone(),
        seed: cli.seed,
        config,
        run: RunOptions {
            evals: cli.evals,
            max_iterations: cli.iterations,
            log_every: cli.log_every,
            threads: cli.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            data: DataDir(cli.data_dir.clone().unwrap_or_else(default_data_dir)),
            progress: !cli.quiet,
            elbo_samples: cli.elbo_samples,
            mmd_gt_rows: cli.mmd_gt_rows,
            passes: cli.passes,
            single_precision: cli.f32,
            csv: None,
        },
    }
}

fn single(cli: &Cli) -> Result<(), String> {
    let mut req = request(cli, &cli.target, cli.config.clone());
    req.run.csv.clone_from(&cli.csv);
    let (spec, text) = build(&req)?;
    eprintln!("{} {}: config \"{text}\", init {:?}", spec.target.name(), cli.algo, spec.init);
    let summary = runner::run(spec)?;
    if let Some(rows) = &summary.passes {
        eprint!("{}", gmmvi_bench::passes::markdown(rows));
    }
    println!("{}", summary.to_json());
    Ok(())
}

fn check_finite(s: &Summary) -> Result<(), String> {
    let ok = s.elbo.is_finite()
        && s.ms_per_iter.is_finite()
        && s.mmd.is_none_or(f64::is_finite)
        && s.iterations > 0
        && s.components > 0
        && s.rows.iter().all(|r| r.elbo.is_finite());
    if ok { Ok(()) } else { Err(format!("non-finite or empty result: {}", s.to_json())) }
}

/// Ground-truth rows of the smoke runs' MMD (the full 10⁴ rows cost a minute per target in a
/// debug build).
const SMOKE_MMD_GT_ROWS: usize = 1000;

fn smoke(cli: &Cli) -> Result<(), String> {
    let start = Instant::now();
    let mut failures = Vec::new();
    // With --f32: the targets that support it.
    let targets: Vec<TargetId> = TargetId::ALL.into_iter().filter(|&t| !cli.f32 || runner::f32_supported(t)).collect();
    for &t in &targets {
        let (overrides, iterations, elbo_samples) = smoke_settings(t);
        let mut c = Cli::parse_from(["gmmvi-bench", "--algo", "SAMTRUX", "--log-every", "0"]);
        c.iterations = iterations;
        c.elbo_samples = elbo_samples;
        c.mmd_gt_rows = Some(SMOKE_MMD_GT_ROWS);
        c.data_dir = cli.data_dir.clone();
        c.threads = cli.threads;
        c.f32 = cli.f32;
        c.quiet = true;
        let t0 = Instant::now();
        let result = build(&request(&c, t.name(), overrides)).and_then(|(spec, _)| runner::run(spec));
        eprintln!("smoke {}: {:.1} s", t.name(), t0.elapsed().as_secs_f64());
        match result.and_then(|s| check_finite(&s).map(|()| s)) {
            Ok(s) => println!("{}", s.to_json()),
            Err(e) => {
                eprintln!("smoke {}: {e}", t.name());
                failures.push(t.name());
            }
        }
    }
    eprintln!("smoke: {} targets in {:.1} s", targets.len(), start.elapsed().as_secs_f64());
    if failures.is_empty() { Ok(()) } else { Err(format!("smoke failed for {}", failures.join(", "))) }
}

fn list() {
    println!("gradient-based baselines (--algo NAME, fixed settings):");
    for a in gmmvi_bench::baselines::Algo::ALL {
        println!("  {:8} {}", a.name(), a.describe());
    }
    println!("targets (name, dimension, paper environment, MMD ground truth):");
    for t in TargetId::ALL {
        let gt = t.ground_truth().map_or("-".to_string(), |(f, _, a)| format!("{f} (alpha {a})"));
        println!("  {:18} D = {:3}  {:?}  {}", t.name(), t.dim(), t.paper_env(), gt);
    }
    println!("codeword presets (any 7-letter codeword works: Z/S A/E M/P I/Y/T F/D/R U/O X/G/N):");
    for p in PRESETS {
        println!("  {p}");
    }
    println!("paper rows (docs/algorithm.md §12) applied with --algo:");
    for r in ROWS {
        println!("  {} {:?}: k0={} {}", r.algo, r.env, r.k0, r.settings());
    }
}

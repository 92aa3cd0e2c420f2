//! The Panda pose benchmark: random reachable poses (flange poses of random joint
//! configurations within the limits, seeds `first, first + 1, …`), each fitted from scratch
//! with the settings of `panda_ik` (the same for every pose), then 2000 solutions drawn.
//!
//! One line per pose (in-tolerance fraction, branches, fit and sampling time, ELBO), then
//! the mean and the worst value over the poses, and one JSON line with the summary. Times are
//! the thread's CPU time ("one host core"; other processes on a shared machine do not inflate
//! it) and, for comparison, the wall clock.
//!
//! ```text
//! cargo run --release --example panda_poses [-- --poses 20 --first 0]
//! ```

#[path = "panda/mod.rs"]
mod panda;

use std::process::ExitCode;

use clap::Parser;
use gmmvi_targets::PandaIk;
use panda::{BoxError, N_SOLUTIONS, Settings};
use serde::Serialize;

/// Samples of the ELBO estimate.
const ELBO_SAMPLES: usize = 2000;
/// The goal: fit + 2000 solutions within this many ms of one core …
const GOAL_MS: f64 = 100.0;
/// … with at least this fraction of the solutions within 10 mm and 2°, on every pose.
const GOAL_IN_TOLERANCE: f64 = 0.9;

/// Fits every pose from scratch with the same settings; prints a line per pose and a summary.
#[derive(Clone, Copy, Debug, Parser)]
#[command(name = "panda_poses")]
struct Args {
    /// Number of poses.
    #[arg(long, default_value_t = 20)]
    poses: u64,
    /// Seed of the first pose.
    #[arg(long, default_value_t = 0)]
    first: u64,
}

/// One pose's figures.
#[derive(Clone, Copy, Debug, Serialize)]
struct Row {
    seed: u64,
    in_tolerance: f64,
    branches: usize,
    fit_cpu_ms: f64,
    sample_cpu_ms: f64,
    fit_ms: f64,
    sample_ms: f64,
    elbo: f64,
}

/// The JSON line.
#[derive(Clone, Copy, Debug, Serialize)]
struct Summary {
    poses: u64,
    in_tolerance_mean: f64,
    in_tolerance_min: f64,
    branches_mean: f64,
    branches_min: usize,
    fit_cpu_ms_mean: f64,
    fit_cpu_ms_max: f64,
    sample_cpu_ms_mean: f64,
    total_cpu_ms_max: f64,
    fit_ms_mean: f64,
    elbo_mean: f64,
    elbo_min: f64,
    goal_met: bool,
}

fn main() -> ExitCode {
    panda::print_json_of(move || run(Args::parse()))
}

fn run(a: Args) -> Result<Summary, BoxError> {
    let s = Settings::default();
    eprintln!("settings (every pose): {s:?}");
    println!("pose  in_tol  branches  fit_cpu_ms  sample_cpu_ms  fit_ms(wall)  elbo");
    let mut rows = Vec::new();
    for seed in a.first..a.first + a.poses {
        let (goal, _) = panda::goal_of_seed(seed);
        let f = panda::fit(&goal, &s, seed)?;
        let clock = panda::Clock::start();
        let qs = panda::draw(&f.opt, N_SOLUTIONS, seed);
        let (sample_ms, sample_cpu_ms) = clock.ms();
        let mut opt = f.opt;
        let elbo = opt.estimate_elbo(&mut PandaIk::new(goal), ELBO_SAMPLES)?;
        let r = Row {
            seed,
            in_tolerance: panda::in_tolerance(&goal, &qs),
            branches: panda::branches(&goal, &qs),
            fit_cpu_ms: f.fit_cpu_ms,
            sample_cpu_ms,
            fit_ms: f.fit_ms,
            sample_ms,
            elbo,
        };
        println!(
            "{:4}  {:6.3}  {:8}  {:10.1}  {:13.2}  {:12.1}  {:.2}",
            r.seed, r.in_tolerance, r.branches, r.fit_cpu_ms, r.sample_cpu_ms, r.fit_ms, r.elbo
        );
        rows.push(r);
    }
    let n = rows.len().max(1) as f64;
    let mean = |f: fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let min = |f: fn(&Row) -> f64| rows.iter().map(f).fold(f64::INFINITY, f64::min);
    let max = |f: fn(&Row) -> f64| rows.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    let sum = Summary {
        poses: a.poses,
        in_tolerance_mean: mean(|r| r.in_tolerance),
        in_tolerance_min: min(|r| r.in_tolerance),
        branches_mean: mean(|r| r.branches as f64),
        branches_min: rows.iter().map(|r| r.branches).min().unwrap_or(0),
        fit_cpu_ms_mean: mean(|r| r.fit_cpu_ms),
        fit_cpu_ms_max: max(|r| r.fit_cpu_ms),
        sample_cpu_ms_mean: mean(|r| r.sample_cpu_ms),
        total_cpu_ms_max: max(|r| r.fit_cpu_ms + r.sample_cpu_ms),
        fit_ms_mean: mean(|r| r.fit_ms),
        elbo_mean: mean(|r| r.elbo),
        elbo_min: min(|r| r.elbo),
        goal_met: false,
    };
    let goal_met = sum.total_cpu_ms_max <= GOAL_MS && sum.in_tolerance_min >= GOAL_IN_TOLERANCE;
    println!(
        "mean  {:6.3}  {:8.1}  {:10.1}  {:13.2}  {:12.1}  {:.2}",
        sum.in_tolerance_mean,
        sum.branches_mean,
        sum.fit_cpu_ms_mean,
        sum.sample_cpu_ms_mean,
        sum.fit_ms_mean,
        sum.elbo_mean
    );
    println!(
        "min   {:6.3}  {:8}  max {:6.1}  (fit + 2000 solutions, worst pose: {:.1} ms CPU)      {:.2}",
        sum.in_tolerance_min, sum.branches_min, sum.fit_cpu_ms_max, sum.total_cpu_ms_max, sum.elbo_min
    );
    println!(
        "goal: fit + 2000 solutions <= {GOAL_MS} ms on one core and >= {:.0} % within tolerance on every pose: {}",
        100.0 * GOAL_IN_TOLERANCE,
        if goal_met { "met" } else { "NOT met" }
    );
    Ok(Summary { goal_met, ..sum })
}

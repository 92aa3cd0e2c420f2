//! Inverse kinematics of a 7-joint Franka Emika Panda as a distribution: the posterior over
//! joint angles within the joint limits that put the flange at a full pose (position and
//! orientation), fitted from scratch, then 2000 solutions drawn from it.
//!
//! The goal is the flange pose of a random joint configuration within the limits (`--seed`).
//! The fit is the same for every pose (see `panda/mod.rs`): 16 components spread over the
//! joint space, SEMTFUX, and a tempered likelihood whose σ shrink geometrically from
//! 10 cm / 0.5 rad to the target's 3 mm / 0.6° over the first 60 of 100 iterations. It runs on
//! one thread (the serial executor).
//!
//! It prints the fraction of solutions within 10 mm and 2°, the number of distinct solution
//! branches, the fit time and the time for 2000 solutions (wall clock and the thread's CPU
//! time, which other processes on a shared machine do not inflate), draws 100 sampled arms
//! into `target/panda_ik.svg` and ends with one JSON line.
//!
//! ```text
//! cargo run --release --example panda_ik [-- --seed S]
//! ```

#[path = "panda/mod.rs"]
mod panda;

use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use gmmvi_targets::PandaIk;
use panda::{BoxError, N_SOLUTIONS, Settings, Unconstrained};
use serde::Serialize;

/// Arms drawn in the SVG.
const PLOT_ARMS: usize = 100;
/// Samples of the ELBO estimate.
const ELBO_SAMPLES: usize = 2000;

/// Fits one Panda pose from scratch and draws 2000 solutions; prints one JSON line.
#[derive(Clone, Copy, Debug, Parser)]
#[command(name = "panda_ik")]
struct Args {
    /// Seed of the goal pose (a random configuration within the limits) and of the fit.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The JSON line (keys in field order, non-finite numbers `null`).
#[derive(Clone, Copy, Debug, Serialize)]
struct Summary {
    seed: u64,
    in_tolerance: f64,
    branches: usize,
    fit_ms: f64,
    fit_cpu_ms: f64,
    sample_ms: f64,
    sample_cpu_ms: f64,
    elbo: f64,
    components: usize,
    iterations: u64,
    evaluations: u64,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(s) => match serde_json::to_string(&s) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<Summary, BoxError> {
    let settings = Settings::default();
    let (goal, q0) = panda::goal_of_seed(args.seed);
    eprintln!(
        "goal (seed {}): flange at ({:.3}, {:.3}, {:.3}) m, from q = {:.3?}",
        args.seed, goal.position[0], goal.position[1], goal.position[2], q0
    );
    let fit = panda::fit(&goal, &settings, args.seed)?;
    let clock = panda::Clock::start();
    let qs = panda::draw(&fit.opt, N_SOLUTIONS, args.seed);
    let (sample_ms, sample_cpu_ms) = clock.ms();

    let in_tolerance = panda::in_tolerance(&goal, &qs);
    let branches = panda::branches(&goal, &qs);
    let mut target = PandaIk::new(goal);
    let mut opt = fit.opt;
    let elbo = opt.estimate_elbo(&mut Unconstrained(&mut target), ELBO_SAMPLES)?;
    let model = opt.model();
    eprintln!(
        "fit: {} iterations, {} evaluations, {:.1} ms ({:.1} ms CPU); {} solutions in {:.2} ms ({:.2} ms CPU)",
        opt.iterations(),
        opt.evaluations(),
        fit.fit_ms,
        fit.fit_cpu_ms,
        qs.len(),
        sample_ms,
        sample_cpu_ms
    );
    eprintln!(
        "{:.1} % within 10 mm and 2°, {} branches (linkage radius {} rad), {} components, ELBO {:.3}",
        100.0 * in_tolerance,
        branches,
        panda::BRANCH_RADIUS,
        model.len(),
        elbo
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("panda_ik.svg");
    let title = format!(
        "Panda IK, pose seed {}: {:.1} % within 10 mm / 2°, {} branches, K = {}",
        args.seed,
        100.0 * in_tolerance,
        branches,
        model.len()
    );
    panda::draw_arms(model, &goal, args.seed, PLOT_ARMS, &title, &path)?;
    eprintln!("wrote {}", path.display());
    Ok(Summary {
        seed: args.seed,
        in_tolerance,
        branches,
        fit_ms: fit.fit_ms,
        fit_cpu_ms: fit.fit_cpu_ms,
        sample_ms,
        sample_cpu_ms,
        elbo,
        components: model.len(),
        iterations: opt.iterations(),
        evaluations: opt.evaluations(),
    })
}

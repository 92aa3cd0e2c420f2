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
use panda::{BoxError, N_SOLUTIONS, Settings};
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
    panda::print_json_of(move || run(Args::parse()))
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
    let elbo = opt.estimate_elbo(&mut target, ELBO_SAMPLES)?;
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
    panda::draw_arms(&opt, &goal, args.seed, PLOT_ARMS, &title, &path)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_ends_at_the_target_sigmas() {
        let s = Settings::default();
        let (p0, r0) = panda::sigmas_at(&s, 0);
        assert!((p0 - s.sigma_p0).abs() < 1e-15 && (r0 - s.sigma_r0).abs() < 1e-15);
        let (p, r) = panda::sigmas_at(&s, s.anneal_iters);
        assert!((p - PandaIk::SIGMA_POSITION).abs() < 1e-15 && (r - PandaIk::SIGMA_ROTATION).abs() < 1e-15);
        assert_eq!(panda::sigmas_at(&s, s.anneal_iters + 5), (p, r));
        let (p1, _) = panda::sigmas_at(&s, s.anneal_iters / 2);
        assert!(p1 < s.sigma_p0 && p1 > p);
    }

    #[test]
    fn tolerance_and_branches_count_separate_solution_sets() {
        let (goal, q0) = panda::goal_of_seed(4);
        // A tight cloud around an exact solution: all in tolerance, one branch.
        let near: Vec<[f64; 7]> = (0..50)
            .map(|i| {
                let mut q = q0;
                q[6] += 1e-4 * i as f64;
                q
            })
            .collect();
        assert_eq!(panda::in_tolerance(&goal, &near), 1.0);
        assert_eq!(panda::branches(&goal, &near), 1);
        // Off the goal: nothing in tolerance, no branch.
        let mut off = q0;
        off[0] += 0.2;
        assert_eq!(panda::in_tolerance(&goal, &[off, off]), 0.0);
        assert_eq!(panda::branches(&goal, &[off]), 0);
        let mixed = [q0, off, q0, off];
        assert_eq!(panda::in_tolerance(&goal, &mixed), 0.5);
    }

    #[test]
    fn json_line() {
        let s = Summary {
            seed: 2,
            in_tolerance: 0.95,
            branches: 3,
            fit_ms: 50.0,
            fit_cpu_ms: 40.0,
            sample_ms: 0.5,
            sample_cpu_ms: 0.25,
            elbo: -30.5,
            components: 16,
            iterations: 100,
            evaluations: 32000,
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"seed":2,"in_tolerance":0.95,"branches":3,"fit_ms":50.0,"fit_cpu_ms":40.0,"sample_ms":0.5,"sample_cpu_ms":0.25,"elbo":-30.5,"components":16,"iterations":100,"evaluations":32000}"#
        );
    }

    #[test]
    fn one_fit_reaches_the_pose() {
        let (goal, _) = panda::goal_of_seed(0);
        let f = panda::on_big_stack(move || panda::fit(&goal, &Settings::default(), 0)).unwrap();
        let qs = panda::draw(&f.opt, 1000, 0);
        assert_eq!(qs.len(), 1000);
        assert!(qs.iter().all(PandaIk::within_limits));
        assert!(panda::in_tolerance(&goal, &qs) >= 0.85);
        assert!(panda::branches(&goal, &qs) >= 1);
    }
}

//! A moving pose goal for the Franka Emika Panda: the flange's goal moves 1 cm per control
//! tick along a 30 cm straight line (orientation fixed). After one fit from scratch at the
//! start (the fit of `panda_ik`), the components of weight ≥ 0.5 % go on; every tick
//! retargets the optimiser (the mixture stays, the stored target values of the old goal go)
//! and iterates from the previous fit, at most [`MAX_ITERS`] iterations, until a check of
//! [`CHECK_SAMPLES`] solutions finds at least 92 % within 10 mm and 2° (a margin for the
//! check's sampling error, so that at least 90 % of the solutions are); the check looks at
//! [`EARLY_SAMPLES`] of them first and draws the rest only if that look is not clearly short. Against it, a cold
//! start (the fit of `panda_ik` from scratch) at every tick.
//!
//! The check runs after every iteration and is counted in the tick's time; after the tick
//! (not timed) 2000 fresh solutions give the reported in-tolerance fraction and branches.
//! Times are the thread's CPU time ("one host core") and the wall clock.
//!
//! ```text
//! cargo run --release --example panda_track [-- --seed S]
//! ```

#[path = "panda/mod.rs"]
mod panda;

use std::process::ExitCode;

use clap::Parser;
use gmmvi::Config;
use gmmvi_targets::{PandaIk, Pose};
use panda::{BoxError, Model, N_SOLUTIONS, Opt, Settings};
use serde::Serialize;

/// Control ticks (one 1 cm move each).
const TICKS: usize = 30;
/// Goal motion per tick (m).
const STEP_M: f64 = 0.01;
/// Most iterations per tick.
const MAX_ITERS: u64 = 40;
/// Solutions drawn by the per-iteration stopping check.
const CHECK_SAMPLES: usize = 500;
/// The check's first look: this many of its solutions are drawn and checked first.
const EARLY_SAMPLES: usize = 100;
/// Below this fraction at the first look the tick iterates on without drawing the rest: a
/// model at the 92 % threshold shows it with probability about 5·10⁻⁶ (4.4 standard
/// deviations of 100 draws), so the look saves the rest of the check on iterations that are
/// clearly not done and almost never stops one that is.
const EARLY_IN_TOLERANCE: f64 = 0.80;
/// A tick is done once this fraction of the check's solutions is within tolerance.
const TICK_IN_TOLERANCE: f64 = 0.92;
/// The arm's configuration at the middle of the line: elbow bent, flange pointing down.
const Q_MID: [f64; 7] = [0.0, -0.3, 0.0, -2.2, 0.0, 1.9, 0.785];
/// Components below this weight are dropped before tracking.
const MIN_WEIGHT: f64 = 0.005;
/// Direction of the line (base frame), from `-15 cm` to `+15 cm` around the middle.
const DIRECTION: [f64; 3] = [0.0, 1.0, 0.0];

/// Tracks a goal moving along a 30 cm line, warm against cold; prints one JSON line.
#[derive(Clone, Copy, Debug, Parser)]
#[command(name = "panda_track")]
struct Args {
    /// Seed of the initial fit and the optimiser.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The JSON line.
#[derive(Clone, Copy, Debug, Serialize)]
struct Summary {
    ticks: usize,
    ms_per_tick: f64,
    ms_per_tick_max: f64,
    wall_ms_per_tick: f64,
    iterations_mean: f64,
    iterations_max: u64,
    cold_ms_per_tick: f64,
    cold_ms_per_tick_max: f64,
    speedup: f64,
    in_tolerance_min: f64,
    in_tolerance_mean: f64,
    cold_in_tolerance_min: f64,
    branches_min: usize,
}

fn main() -> ExitCode {
    panda::print_json_of(move || run(Args::parse()))
}

/// The goal after `tick` moves (tick 0 is the start of the line).
fn goal_at(tick: usize) -> Pose {
    let mid = PandaIk::forward(&Q_MID);
    let s = tick as f64 * STEP_M - 0.5 * TICKS as f64 * STEP_M;
    let mut p = mid.position;
    for (v, d) in p.iter_mut().zip(DIRECTION) {
        *v += s * d;
    }
    Pose { position: p, rotation: mid.rotation }
}

/// The components of `model` with weight at least [`MIN_WEIGHT`] (renormalised): the others
/// draw samples every iteration but hardly any solution.
fn significant_components(model: &Model) -> Result<Model, BoxError> {
    let mut out = Model::new();
    let mut log_w = Vec::new();
    for (k, &lw) in model.log_weights().iter().enumerate() {
        if let (true, Some(mean), Some(cov)) = (lw.exp() >= MIN_WEIGHT, model.mean(k), model.covariance(k)) {
            out.add_component(1.0, *mean, &cov)?;
            log_w.push(lw);
        }
    }
    let lse = log_w.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let total: f64 = log_w.iter().map(|l| (l - lse).exp()).sum();
    let norm: Vec<f64> = log_w.iter().map(|l| l - lse - total.ln()).collect();
    out.set_log_weights(&norm)?;
    Ok(out)
}

/// The stopping check: at least [`TICK_IN_TOLERANCE`] of [`CHECK_SAMPLES`] fresh solutions
/// within tolerance, with a first look at [`EARLY_SAMPLES`] of them. The solutions are those of one draw of [`CHECK_SAMPLES`], so that a check that gets past
/// the first look decides as the whole check does.
fn tick_done(opt: &Opt, goal: &Pose, seed: u64) -> bool {
    let target = PandaIk::new(*goal);
    let within = |qs: &[[f64; panda::D]]| qs.iter().filter(|q| target.in_tolerance(q)).count();
    let mut rng = panda::draw_stream(seed);
    let first = within(&panda::draw_from(opt, EARLY_SAMPLES, &mut rng));
    if (first as f64 / EARLY_SAMPLES as f64) < EARLY_IN_TOLERANCE {
        return false;
    }
    let rest = within(&panda::draw_from(opt, CHECK_SAMPLES - EARLY_SAMPLES, &mut rng));
    // The fraction as `panda::in_tolerance` computes it for the whole check.
    (first + rest) as f64 / CHECK_SAMPLES as f64 >= TICK_IN_TOLERANCE
}

fn run(args: Args) -> Result<Summary, BoxError> {
    let settings = Settings::default();
    let start = goal_at(0);
    let fit = panda::fit(&start, &settings, args.seed)?;
    let qs = panda::draw(&fit.opt, N_SOLUTIONS, args.seed);
    eprintln!(
        "start: fitted from scratch in {:.1} ms CPU, {:.1} % within tolerance",
        fit.fit_cpu_ms,
        100.0 * panda::in_tolerance(&start, &qs)
    );
    let cfg = Config::<f64>::parse(&settings.config).map_err(|e| e.to_string())?;
    let kept = significant_components(fit.opt.model())?;
    eprintln!("tracking with {} of {} components (weight >= {MIN_WEIGHT})", kept.len(), fit.opt.model().len());
    let mut opt = Box::new(Opt::new(&cfg, kept, args.seed)?);
    opt.set_bounds(fit.opt.bounds())?;
    let mut target = PandaIk::new(start);
    eprintln!("tick  iters  cpu_ms  wall_ms  in_tol  branches  cold_cpu_ms  cold_in_tol");
    let (mut warm, mut wall, mut iters, mut tol, mut cold, mut cold_tol, mut brs) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for tick in 1..=TICKS {
        let goal = goal_at(tick);
        let clock = panda::Clock::start();
        target.set_goal(goal);
        opt.retarget();
        let mut n = 0;
        loop {
            opt.step(&mut target)?;
            n += 1;
            if n >= MAX_ITERS || tick_done(&opt, &goal, args.seed ^ (tick as u64) << 8 ^ n) {
                break;
            }
        }
        let (w, c) = clock.ms();
        let qs = panda::draw(&opt, N_SOLUTIONS, args.seed ^ 0xF00D ^ tick as u64);
        let t = panda::in_tolerance(&goal, &qs);
        let b = panda::branches(&goal, &qs);
        let cf = panda::fit(&goal, &settings, args.seed ^ tick as u64)?;
        let ct = panda::in_tolerance(&goal, &panda::draw(&cf.opt, N_SOLUTIONS, args.seed));
        eprintln!("{tick:4}  {n:5}  {c:6.2}  {w:7.2}  {t:6.3}  {b:8}  {:11.1}  {ct:11.3}", cf.fit_cpu_ms);
        warm.push(c);
        wall.push(w);
        iters.push(n);
        tol.push(t);
        brs.push(b);
        cold.push(cf.fit_cpu_ms);
        cold_tol.push(ct);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let s = Summary {
        ticks: TICKS,
        ms_per_tick: mean(&warm),
        ms_per_tick_max: max(&warm),
        wall_ms_per_tick: mean(&wall),
        iterations_mean: iters.iter().sum::<u64>() as f64 / TICKS as f64,
        iterations_max: iters.iter().copied().max().unwrap_or(0),
        cold_ms_per_tick: mean(&cold),
        cold_ms_per_tick_max: max(&cold),
        speedup: mean(&cold) / mean(&warm),
        in_tolerance_min: min(&tol),
        in_tolerance_mean: mean(&tol),
        cold_in_tolerance_min: min(&cold_tol),
        branches_min: brs.iter().copied().min().unwrap_or(0),
    };
    eprintln!(
        "warm: {:.2} ms per tick (max {:.2}), {:.1} iterations; cold: {:.1} ms per tick: {:.1}x faster",
        s.ms_per_tick, s.ms_per_tick_max, s.iterations_mean, s.cold_ms_per_tick, s.speedup
    );
    Ok(s)
}

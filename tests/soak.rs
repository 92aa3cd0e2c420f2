//! Soak: `STEPS` optimiser steps of the firmware configuration (D = 7, K = 8, n_des = 12,
//! S = 96, G = 8, H = 8; SAMTRUX with 50 prior candidates, as `firmware/`) on a planar 7-link
//! arm whose goal moves (`Optimizer::retarget`), with a target that at random (seeded) returns
//! NaN and ±infinity as values, non-finite gradients, whole blocks without a finite value, and
//! errors. Half of the steps run in `f32` (the firmware's scalar), half in `f64`, on a thread
//! each, with their own optimiser, target and seeds.
//!
//! Checked on every step: every weight, mean and Cholesky factor of the model is finite (the
//! factors lower triangular with a positive diagonal, the weights summing to one); a failed step
//! returns `TargetFailed` (with the target's code) or `NonFiniteTarget`, leaves the model bit for
//! bit as it was and adds no row to the sample store. Each step's stack is measured as the
//! firmware measures it: the free stack below the caller is painted with a pattern before the
//! step and scanned after it; every step must stay within `STEP_STACK_F32` (`STEP_STACK_F64`),
//! the bounds the README documents. At random points the state is saved and restored into a
//! fresh optimiser (other seed, other initial model), which then runs `CHECKPOINT_STEPS` steps
//! beside the original with a clone of the target (same goal, same fault stream): every report
//! and model must agree bit for bit, and so must both states' checkpoints afterwards. Before
//! each move of the goal, and at the end of the run, most draws of the model must put the end
//! effector near the goal it followed, while few of them reach a new goal before it is fitted.
//!
//! Long: run by `.ci/run` with `cargo test --release --test soak -- --ignored --nocapture`.
//! A build with debug assertions (the workspace's `--include-ignored` test command) runs the
//! same checks over `STEPS_DEBUG` steps; the summary line names the count.

use std::mem::MaybeUninit;
use std::time::Instant;

use gmmvi::rng::{Xoshiro256, fill_standard_normal, uniform};
use gmmvi::{Config, Error, Gmm, Optimizer, Real, StepReport, Target, TargetError};
use nalgebra::{SMatrix, SVector};

use paint::{UNPAINTED, paint, used};

#[path = "common/paint.rs"]
mod paint;

// ---- the firmware configuration ---------------------------------------------------------------

const D: usize = 7;
const K: usize = 8;
const N_DES: usize = 12;
const S: usize = N_DES * K;
const G: usize = K;
const H: usize = 8;
type Opt<T> = Optimizer<T, D, K, S, G, H>;
type Model<T> = Gmm<T, D, K>;

/// As `firmware/src/main.rs`: SAMTRUX, `N_DES` new samples per component, no reuse, 50 prior
/// candidates for the add heuristic, the deletion window that `H` holds.
fn config<T: Real>() -> Config<T> {
    let mut cfg = Config::<T>::samtrux();
    cfg.samples.desired_samples_per_component = N_DES;
    cfg.samples.reuse_ratio = T::zero();
    cfg.adapt.max_components = K;
    cfg.adapt.num_prior_samples = 50;
    while cfg.adapt.del_iters > 1 && cfg.history_needed() > H {
        cfg.adapt.del_iters -= 1;
    }
    cfg
}

// ---- the run --------------------------------------------------------------------------------

/// Steps in all, over the chains.
const STEPS: u64 = 1_000_000;
/// Steps in all with debug assertions (overflow checks make each step slower).
const STEPS_DEBUG: u64 = 20_000;
/// Stack one step of this configuration may use on a 64-bit host, in `f32` and in `f64`: the
/// bounds the README documents.
const STEP_STACK_F32: usize = 12 << 10;
const STEP_STACK_F64: usize = 20 << 10;
/// Steps a goal is kept: uniform in this range, then it moves.
const SEGMENT: (u64, u64) = (2_000, 6_000);
/// Mean steps between two checkpoints (the gaps are uniform in `[1, 2·CHECKPOINT_GAP]`).
const CHECKPOINT_GAP: u64 = 2_500;
/// Steps a restored optimiser runs beside the original.
const CHECKPOINT_STEPS: u64 = 12;
/// Draws of the reach check, its radius around the goal, and the fraction of draws that must
/// reach the goal at the end of the run (and, at the end of every segment, `SEGMENT_REACH`).
const REACH_DRAWS: usize = 1_000;
const REACH_RADIUS: f64 = 0.2;
const FINAL_REACH: f64 = 0.9;
const SEGMENT_REACH: f64 = 0.8;
/// Mean fraction of draws that reach a new goal before the optimiser has seen it must stay below
/// this.
const STALE_REACH: f64 = 0.2;

// ---- the arm and its faults ---------------------------------------------------------------------

/// Likelihood standard deviation of the end effector around the goal (as the firmware's arm).
const LIK_STD: f64 = 0.05;
/// Per call: an `Err` (after writing NaN into the outputs), and the start of an outage of 1 to
/// 3 calls that return no finite value at all (a step whose new samples all fall in one fails).
const P_ERROR: f64 = 2e-3;
const P_OUTAGE: f64 = 1e-3;
/// Per point: a NaN, +∞ or −∞ value; a NaN or ∞ gradient entry.
const P_NAN: f64 = 4e-3;
const P_POS_INF: f64 = 2e-3;
const P_NEG_INF: f64 = 2e-3;
const P_BAD_GRAD: f64 = 4e-3;
/// The code of the target's errors.
const ERROR_CODE: i32 = 17;

/// End effector of joint angles `q` (7 unit links), with the sines and cosines of the absolute
/// link angles.
fn forward<T: Real>(q: &SVector<T, D>, sin: &mut [f64; D], cos: &mut [f64; D]) -> [f64; 2] {
    let (mut a, mut x, mut y) = (0.0, 0.0, 0.0);
    for i in 0..D {
        a += q[i].to_f64();
        (sin[i], cos[i]) = a.sin_cos();
        x += cos[i];
        y += sin[i];
    }
    [x, y]
}

/// `log p~(q) = −|q|²/2 − |e(q) − goal|² / (2σ²)` and its gradient.
fn arm<T: Real>(q: &SVector<T, D>, goal: [f64; 2], grad: Option<&mut SVector<T, D>>) -> T {
    let inv_var = 1.0 / (LIK_STD * LIK_STD);
    let (mut sin, mut cos) = ([0.0; D], [0.0; D]);
    let e = forward(q, &mut sin, &mut cos);
    let (dx, dy) = (e[0] - goal[0], e[1] - goal[1]);
    if let Some(g) = grad {
        let (gx, gy) = (-dx * inv_var, -dy * inv_var);
        let (mut tail_sin, mut tail_cos) = (0.0, 0.0);
        for j in (0..D).rev() {
            tail_sin += sin[j];
            tail_cos += cos[j];
            g[j] = T::of(-q[j].to_f64() - gx * tail_sin + gy * tail_cos);
        }
    }
    let prior: f64 = q.iter().map(|v| v.to_f64() * v.to_f64()).sum();
    T::of(-0.5 * prior - 0.5 * (dx * dx + dy * dy) * inv_var)
}

fn reaches<T: Real>(q: &SVector<T, D>, goal: [f64; 2]) -> bool {
    let (mut sin, mut cos) = ([0.0; D], [0.0; D]);
    let e = forward(q, &mut sin, &mut cos);
    (e[0] - goal[0]).hypot(e[1] - goal[1]) <= REACH_RADIUS
}

/// What the target injected.
#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    errors: u64,
    outages: u64,
    bad_values: u64,
    bad_grads: u64,
}

/// The arm with a goal that moves and a seeded stream of faults. `Clone` copies the fault
/// stream: a clone misbehaves exactly as the original from that point on.
#[derive(Clone)]
struct FaultyArm {
    goal: [f64; 2],
    rng: Xoshiro256,
    outage: u32,
    faults: Faults,
}

impl FaultyArm {
    fn eval<T: Real>(
        &mut self,
        x: &[SVector<T, D>],
        lp: &mut [T],
        mut grad: Option<&mut [SVector<T, D>]>,
    ) -> Result<(), TargetError> {
        if self.outage == 0 && uniform(&mut self.rng) < P_OUTAGE {
            self.outage = 1 + (uniform(&mut self.rng) * 3.0) as u32;
            self.faults.outages += 1;
        }
        if self.outage > 0 {
            self.outage -= 1;
            for (i, l) in lp.iter_mut().enumerate() {
                *l = [T::NAN, T::INFINITY, T::NEG_INF][i % 3];
            }
            return Ok(());
        }
        if uniform(&mut self.rng) < P_ERROR {
            self.faults.errors += 1;
            lp.fill(T::NAN);
            return Err(TargetError { code: ERROR_CODE });
        }
        for (i, (xi, l)) in x.iter().zip(lp.iter_mut()).enumerate() {
            let g = grad.as_deref_mut().and_then(|g| g.get_mut(i));
            let has_grad = g.is_some();
            *l = arm(xi, self.goal, g);
            let u = uniform(&mut self.rng);
            let bad = [T::NAN, T::INFINITY, T::NEG_INF];
            let mut p = 0.0;
            for (bad, pb) in bad.into_iter().zip([P_NAN, P_POS_INF, P_NEG_INF]) {
                if (p..p + pb).contains(&u) {
                    *l = bad;
                    self.faults.bad_values += 1;
                }
                p += pb;
            }
            if has_grad && (p..p + P_BAD_GRAD).contains(&u) {
                let j = (uniform(&mut self.rng) * D as f64) as usize % D;
                if let Some(g) = grad.as_deref_mut().and_then(|g| g.get_mut(i)) {
                    g[j] = if u < p + P_BAD_GRAD / 2.0 { T::NAN } else { T::NEG_INF };
                }
                self.faults.bad_grads += 1;
            }
        }
        Ok(())
    }
}

impl<T: Real> Target<T, D> for FaultyArm {
    fn log_density(&mut self, x: &[SVector<T, D>], lp: &mut [T]) -> Result<(), TargetError> {
        self.eval(x, lp, None)
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        lp: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        self.eval(x, lp, Some(grad))
    }
}

/// A reachable goal: distance 2.5–5 from the base, within ±1.2 rad of the arm's rest direction.
fn random_goal(rng: &mut Xoshiro256) -> [f64; 2] {
    let r = 2.5 + 2.5 * uniform(rng);
    let a = -1.2 + 2.4 * uniform(rng);
    [r * a.cos(), r * a.sin()]
}

// ---- checks -------------------------------------------------------------------------------

/// Every value of the model is finite, the weights sum to one and every factor is lower
/// triangular with a positive diagonal.
fn assert_valid<T: Real>(q: &Model<T>, step: u64) {
    assert!(!q.is_empty() && q.len() <= K, "step {step}: {} components", q.len());
    let mut wsum = 0.0f64;
    for k in 0..q.len() {
        let lw = q.log_weights()[k].to_f64();
        assert!(lw.is_finite() && lw <= 1e-5, "step {step}: log weight {k} = {lw}");
        wsum += lw.exp();
        let (Some(m), Some(l)) = (q.mean(k), q.chol(k)) else { panic!("step {step}: component {k} missing") };
        assert!(m.iter().all(|v| v.to_f64().is_finite()), "step {step}: mean {k} = {m:?}");
        for c in 0..D {
            for r in 0..D {
                let v = l[(r, c)].to_f64();
                let ok = match r.cmp(&c) {
                    std::cmp::Ordering::Less => v == 0.0,
                    std::cmp::Ordering::Equal => v.is_finite() && v > 0.0,
                    std::cmp::Ordering::Greater => v.is_finite(),
                };
                assert!(ok, "step {step}: Cholesky factor {k} at ({r}, {c}) = {v}");
            }
        }
    }
    assert!((wsum - 1.0).abs() < 1e-4, "step {step}: weights sum to {wsum}");
}

/// The model's bits: log weights, means and Cholesky factors.
fn model_bits<T: Real>(q: &Model<T>, out: &mut Vec<u64>) {
    out.clear();
    out.extend(q.log_weights().iter().map(|v| v.to_f64().to_bits()));
    for k in 0..q.len() {
        out.extend(q.mean(k).into_iter().flat_map(|m| m.iter().map(|v| v.to_f64().to_bits())));
        out.extend(q.chol(k).into_iter().flat_map(|l| l.iter().map(|v| v.to_f64().to_bits())));
    }
}

/// A step's outcome with the ELBO estimate as bits (NaN when the weights were frozen).
fn outcome<T: Real>(r: &Result<StepReport<T>, Error>) -> String {
    match r {
        Ok(rep) => format!("{rep:?} elbo bits {:016x}", rep.elbo_estimate.to_f64().to_bits()),
        Err(e) => format!("{e:?}"),
    }
}

/// Fraction of `REACH_DRAWS` draws of the model whose end effector is within `REACH_RADIUS`
/// of `goal`.
fn reach<T: Real>(q: &Model<T>, goal: [f64; 2], seed: u64, draws: &mut [SVector<T, D>]) -> f64 {
    let mut rng = Xoshiro256::seed_from_u64(seed);
    let n = q.sample(&mut rng, draws);
    draws[..n].iter().filter(|x| reaches(x, goal)).count() as f64 / REACH_DRAWS as f64
}

/// What one chain did.
#[derive(Debug, Default)]
struct ChainReport {
    steps: u64,
    failed_steps: u64,
    target_errors: u64,
    no_finite_sample: u64,
    rejected_samples: u64,
    faults: Faults,
    retargets: u64,
    checkpoints: u64,
    segment_reach_min: f64,
    segment_reach_sum: f64,
    stale_reach_sum: f64,
    segments: u64,
    final_reach: f64,
    max_stack: usize,
    secs: f64,
}

/// One step of `opt`, checked: an error is one the target caused, leaves the model as it was and
/// stores none of the step's samples; after any step the model is valid.
fn checked_step<T: Real>(
    opt: &mut Opt<T>,
    arm: &mut FaultyArm,
    step: u64,
    bits: (&mut Vec<u64>, &mut Vec<u64>),
    rep: &mut ChainReport,
) -> Result<StepReport<T>, Error> {
    let (before, after) = bits;
    model_bits(opt.model(), before);
    let stored = opt.stored_samples();
    let (r, stack) = measured_step(opt, arm);
    rep.max_stack = rep.max_stack.max(stack);
    let bound = if size_of::<T>() == 4 { STEP_STACK_F32 } else { STEP_STACK_F64 };
    assert!(stack <= bound, "step {step}: {stack} B of stack");
    match &r {
        Ok(s) => {
            assert!(s.rejected_samples <= s.new_evaluations, "step {step}: {s:?}");
            rep.rejected_samples += s.rejected_samples as u64;
        }
        Err(e) => {
            match e {
                Error::TargetFailed(TargetError { code: ERROR_CODE }) => rep.target_errors += 1,
                Error::NonFiniteTarget => rep.no_finite_sample += 1,
                other => panic!("step {step}: unexpected error {other:?}"),
            }
            rep.failed_steps += 1;
            model_bits(opt.model(), after);
            assert!(before == after, "step {step}: the failed step ({e:?}) changed the model");
            // None of its samples is stored (a full store may have been thinned for them).
            let now = opt.stored_samples();
            assert!(now <= stored, "step {step}: the failed step ({e:?}) stored samples ({stored} -> {now})");
        }
    }
    assert_valid(opt.model(), step);
    r
}

// ---- stack: painted below the caller, as the firmware measures it --------------------------

/// Bytes below a step's caller that are painted before the step and scanned after it; more
/// than any step needs, and well within `THREAD_STACK` below the chain's frames.
const PAINTED: usize = 48 << 10;
/// Each chain's thread stack: room for its frames and the painted region.
const THREAD_STACK: usize = 1 << 20;

/// `opt.step` in a frame of its own, so that all of its stack lies below its caller's.
#[inline(never)]
fn step_frame<T: Real>(opt: &mut Opt<T>, arm: &mut FaultyArm) -> Result<StepReport<T>, Error> {
    opt.step(arm)
}

/// One step and the stack it used, measured from its caller's frame.
#[inline(never)]
fn measured_step<T: Real>(opt: &mut Opt<T>, arm: &mut FaultyArm) -> (Result<StepReport<T>, Error>, usize) {
    let top = paint::<PAINTED>();
    let r = step_frame(opt, arm);
    (r, used::<PAINTED>(top))
}

/// One chain of `steps` steps with its own seeds.
fn chain<T: Real>(id: u64, steps: u64) -> ChainReport {
    let start = Instant::now();
    let cfg = config::<T>();
    let mut sched = Xoshiro256::seed_from_u64(0x50A4_0000 + id);
    let mut arm = FaultyArm {
        goal: random_goal(&mut sched),
        rng: Xoshiro256::seed_from_u64(0xFA17_0000 + id),
        outage: 0,
        faults: Faults::default(),
    };

    // As the firmware: 4 components around the N(0, I) prior, std 0.3.
    let init = |seed: u64| {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let mut q = Model::<T>::new();
        for _ in 0..4 {
            let mut m = SVector::<T, D>::zeros();
            fill_standard_normal(&mut rng, m.as_mut_slice());
            q.add_component(T::one(), m, &SMatrix::from_diagonal_element(T::of(0.09))).unwrap();
        }
        q
    };
    let zero = SVector::<T, D>::zeros();
    let one = SVector::<T, D>::repeat(T::one());
    let mut slot: Box<MaybeUninit<Opt<T>>> = Box::new_uninit();
    let opt = Opt::new_in(&mut slot, &cfg, &init(id), id).unwrap();
    opt.set_prior(&zero, &one).unwrap();
    let mut shadow_slot: Box<MaybeUninit<Opt<T>>> = Box::new_uninit();

    let mut rep = ChainReport { segment_reach_min: 1.0, ..Default::default() };
    let (mut before, mut after) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
    let (mut bytes, mut shadow_bytes) = (Vec::new(), Vec::new());
    let mut draws = vec![SVector::<T, D>::zeros(); REACH_DRAWS];
    let gap = |r: &mut Xoshiro256, (lo, hi): (u64, u64)| lo + (uniform(r) * (hi - lo + 1) as f64) as u64;
    let mut next_move = gap(&mut sched, SEGMENT);
    let mut next_checkpoint = gap(&mut sched, (1, 2 * CHECKPOINT_GAP));

    let mut done = 0u64;
    while done < steps {
        // The goal moves, unless too little of the run is left to follow it.
        if done >= next_move && steps - done >= SEGMENT.0 {
            let r = reach(opt.model(), arm.goal, done, &mut draws);
            rep.segment_reach_min = rep.segment_reach_min.min(r);
            rep.segment_reach_sum += r;
            rep.segments += 1;
            assert!(r >= SEGMENT_REACH, "chain {id} step {done}: {r} of the draws reach {:?}", arm.goal);
            arm.goal = random_goal(&mut sched);
            // What the model fitted to the old goal gives for the new one: the criterion has to
            // be earned by following the goal.
            rep.stale_reach_sum += reach(opt.model(), arm.goal, done, &mut draws);
            opt.retarget();
            rep.retargets += 1;
            next_move = done + gap(&mut sched, SEGMENT);
        }
        if done >= next_checkpoint {
            // Save, restore into a fresh optimiser, run both beside each other.
            bytes.resize(opt.checkpoint_size(), 0);
            let n = opt.save(&mut bytes).unwrap();
            let shadow = Opt::new_in(&mut shadow_slot, &cfg, &init(!id), id + 99).unwrap();
            shadow.restore(&bytes[..n]).unwrap();
            let mut shadow_arm = arm.clone();
            let (mut b2, mut a2) = (Vec::new(), Vec::new());
            let mut shadow_rep = ChainReport::default();
            for _ in 0..CHECKPOINT_STEPS.min(steps - done) {
                let a = checked_step(opt, &mut arm, done, (&mut before, &mut after), &mut rep);
                let b = checked_step(shadow, &mut shadow_arm, done, (&mut b2, &mut a2), &mut shadow_rep);
                assert_eq!(outcome(&a), outcome(&b), "chain {id} step {done}: restored run differs");
                model_bits(opt.model(), &mut before);
                model_bits(shadow.model(), &mut b2);
                assert!(before == b2, "chain {id} step {done}: restored model differs");
                done += 1;
            }
            bytes.resize(opt.checkpoint_size(), 0);
            shadow_bytes.resize(shadow.checkpoint_size(), 0);
            let (na, nb) = (opt.save(&mut bytes).unwrap(), shadow.save(&mut shadow_bytes).unwrap());
            assert!(bytes[..na] == shadow_bytes[..nb], "chain {id} step {done}: restored state differs");
            rep.checkpoints += 1;
            next_checkpoint = done + gap(&mut sched, (1, 2 * CHECKPOINT_GAP));
            continue;
        }
        let _ = checked_step(opt, &mut arm, done, (&mut before, &mut after), &mut rep);
        done += 1;
    }
    rep.steps = done;
    rep.faults = arm.faults;
    rep.final_reach = reach(opt.model(), arm.goal, done, &mut draws);
    rep.secs = start.elapsed().as_secs_f64();
    rep
}

#[test]
#[ignore = "long: about 3 minutes with optimisations on 2 cores; run by .ci/run in release mode"]
fn soak() {
    let steps = if cfg!(debug_assertions) { STEPS_DEBUG } else { STEPS };
    let start = Instant::now();
    // Half the steps in f32 (the firmware's scalar), half in f64, on a thread each.
    let spawn = |id: u64, run: fn(u64, u64) -> ChainReport| {
        let n = steps / 2 + id * (steps % 2);
        std::thread::Builder::new().name(format!("soak-{id}")).stack_size(THREAD_STACK).spawn(move || run(id, n))
    };
    let handles = [spawn(0, chain::<f32>).unwrap(), spawn(1, chain::<f64>).unwrap()];
    let reports: Vec<ChainReport> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let secs = start.elapsed().as_secs_f64();
    for (r, scalar) in reports.iter().zip(["f32", "f64"]) {
        eprintln!("soak chain {scalar}: {r:?}");
    }
    let sum = |f: fn(&ChainReport) -> u64| reports.iter().map(f).sum::<u64>();
    let total = sum(|r| r.steps);
    assert_eq!(total, steps);
    let failed = sum(|r| r.failed_steps);
    // The faults happened and were seen as such.
    assert!(sum(|r| r.target_errors) > 0 && sum(|r| r.no_finite_sample) > 0, "{reports:?}");
    assert!(sum(|r| r.rejected_samples) > 0);
    // The painting saw the steps' stack.
    assert!(reports.iter().all(|r| r.max_stack > UNPAINTED));
    let final_reach = reports.iter().map(|r| r.final_reach).fold(1.0, f64::min);
    let segment_reach = reports.iter().map(|r| r.segment_reach_min).fold(1.0, f64::min);
    for r in &reports {
        assert!(r.final_reach >= FINAL_REACH, "final goal reached by {} of the draws", r.final_reach);
        assert!(r.segments > 0 && r.stale_reach_sum / (r.segments as f64) < STALE_REACH, "{r:?}");
    }
    println!(
        "soak: {total} steps, {failed} failed steps rejected ({} target errors, {} without a finite sample) and {} non-finite samples rejected, {} retargets, {} checkpoints restored bit-identically, max stack {} B (f32) and {} B (f64), each goal reached by at least {:.1} % of samples before it moved and the final goal by {:.1} %, {secs:.1} s",
        sum(|r| r.target_errors),
        sum(|r| r.no_finite_sample),
        sum(|r| r.rejected_samples),
        sum(|r| r.retargets),
        sum(|r| r.checkpoints),
        reports[0].max_stack,
        reports[1].max_stack,
        100.0 * segment_reach,
        100.0 * final_reach,
    );
}

//! Per-pass timing of the optimiser's iterations (`gmmvi-bench --passes`) and the analytic
//! FLOP count of every pass.
//!
//! [`PassTimer`] wraps the executor: the optimiser reports the end of every pass with its extent
//! ([`Parallel::pass_done`]), and the timer charges the time since the previous report to that
//! pass. [`TimedTarget`] wraps the target and takes its calls out of the pass they fall in (they
//! are reported as "target"). The executor's tasks and their boundaries are those of the
//! wrapped executor, so the results are those of a run without the timer.
//!
//! FLOPs count a fused multiply-add as 2 and `exp`/`ln` as 1, for the dense work of a pass (every
//! row under every Gaussian of its extent, before the bounds prune pairs or the kept background
//! sums skip them); `GFLOP/s` of a pass is this count over its time, an effective rate. With
//! `ℓ(D) = D² + 4D + 2` (`x − μ`: D; `z = L⁻¹(x − μ)`: D(D+1)/2 FMAs; `|z|²`: D FMAs; scale and
//! normaliser: 2) and `m(D) = ℓ(D) + 4` (a term of a log-sum-exp: weight, maximum, `exp`, sum):
//!
//! | pass | FLOPs |
//! |---|---|
//! | background | rows · Gaussians · m(D) |
//! | selection (ESS of the reused rows) | rows · K · (m(D) + 2) |
//! | draw | samples · (D² + 2D) (`μ + L ε`) |
//! | log q (Stein: with ∇log q) | rows · K · (2D² + 7D + 7); MORE: rows · K · m(D) |
//! | estimation (Stein) | rows · K · (4D² + 10D + 6) + K · 2D³ |
//! | weight update | rows · K · (m(D) + 6) |
//! | adaptation (add heuristic) | candidates · K · m(D) |
//!
//! The component update (Cholesky factors and the trust-region search, O(K·D³) per step of the
//! search) and the target are timed but not counted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use gmmvi::{Parallel, Pass, Target, TargetError};
use nalgebra::SVector;
use serde::Serialize;

/// The passes in the order of an iteration, as reported by the optimiser.
const PASSES: [(Pass, &str); 8] = [
    (Pass::Selection, "selection (ESS)"),
    (Pass::Background, "background log b"),
    (Pass::Draw, "draw"),
    (Pass::LogQ, "log q"),
    (Pass::Estimation, "estimation"),
    (Pass::ComponentUpdate, "component update"),
    (Pass::WeightUpdate, "weight update"),
    (Pass::Adaptation, "adaptation"),
];
/// Row of the target's time.
const TARGET: usize = PASSES.len();
/// Row of the time outside every reported pass (the step's own bookkeeping).
const OTHER: usize = TARGET + 1;
/// Rows of the table.
const ROWS: usize = OTHER + 1;

/// `D² + 4D + 2`: `log N(x; μ, LLᵀ)` of one row (see the module docs).
fn log_n(d: f64) -> f64 {
    d * d + 4.0 * d + 2.0
}

/// A log-sum-exp term `log w + log N`.
fn mix(d: f64) -> f64 {
    log_n(d) + 4.0
}

/// FLOPs of one report of `pass` (NaN: not counted).
pub fn pass_flops(pass: Pass, d: usize, stein: bool, rows: usize, gaussians: usize) -> f64 {
    let (d, pairs) = (d as f64, rows as f64 * gaussians as f64);
    match pass {
        Pass::Background | Pass::Adaptation => pairs * mix(d),
        Pass::Selection => pairs * (mix(d) + 2.0),
        Pass::Draw => rows as f64 * (d * d + 2.0 * d),
        Pass::LogQ if stein => pairs * (2.0 * d * d + 7.0 * d + 7.0),
        Pass::LogQ => pairs * mix(d),
        Pass::Estimation if stein => pairs * (4.0 * d * d + 10.0 * d + 6.0) + gaussians as f64 * 2.0 * d * d * d,
        Pass::WeightUpdate => pairs * (mix(d) + 6.0),
        _ => f64::NAN,
    }
}

/// Accumulated time and FLOPs of one row.
#[derive(Clone, Copy, Debug, Default)]
struct Acc {
    time: Duration,
    flops: f64,
}

#[derive(Debug)]
struct State {
    mark: Instant,
    /// Target time since `mark`.
    target: Duration,
    acc: [Acc; ROWS],
    steps: u64,
}

/// An executor that times the passes of `inner`'s iterations (see the module docs); `on = false`
/// only forwards.
#[derive(Debug)]
pub struct PassTimer<X> {
    inner: X,
    on: bool,
    dim: usize,
    stein: bool,
    state: Mutex<State>,
}

/// One row of the per-pass table (per iteration; `gflop` and `gflops` null where not counted).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PassRow {
    /// The pass.
    pub pass: String,
    /// Milliseconds per iteration.
    pub ms: f64,
    /// GFLOP per iteration (dense count).
    pub gflop: Option<f64>,
    /// Effective GFLOP/s.
    pub gflops: Option<f64>,
}

impl<X> PassTimer<X> {
    /// Times the passes of a `dim`-dimensional optimiser with the Stein estimator if `stein`.
    pub fn new(inner: X, on: bool, dim: usize, stein: bool) -> Self {
        let state = State { mark: Instant::now(), target: Duration::ZERO, acc: [Acc::default(); ROWS], steps: 0 };
        Self { inner, on, dim, stein, state: Mutex::new(state) }
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        if self.on {
            // A poisoned lock only means a panicking step: keep timing.
            let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut s);
        }
    }

    /// Charges the time since the last mark (without the target's) to row `i`.
    fn charge(s: &mut State, i: usize, flops: f64) {
        let now = Instant::now();
        let span = now.duration_since(s.mark);
        s.acc[i].time += span.saturating_sub(s.target);
        s.acc[i].flops += flops;
        s.acc[TARGET].time += s.target.min(span);
        s.target = Duration::ZERO;
        s.mark = now;
    }

    /// Call right before a step.
    pub fn begin_step(&self) {
        self.with(|s| {
            s.mark = Instant::now();
            s.target = Duration::ZERO;
        });
    }

    /// Call right after a step.
    pub fn end_step(&self) {
        self.with(|s| {
            Self::charge(s, OTHER, 0.0);
            s.steps += 1;
        });
    }

    /// Adds a target call's time.
    fn target_time(&self, t: Duration) {
        self.with(|s| s.target += t);
    }

    /// The table per iteration (`None` if off or before any step).
    pub fn rows(&self) -> Option<Vec<PassRow>> {
        if !self.on {
            return None;
        }
        let s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.steps == 0 {
            return None;
        }
        let n = s.steps as f64;
        // The target and the rest are not counted, nor the passes without a formula.
        let counted = |p: Pass| pass_flops(p, self.dim, self.stein, 1, 1).is_finite();
        let names = PASSES.iter().map(|p| (p.1, counted(p.0))).chain([("target", false), ("other", false)]);
        let rows = names
            .zip(s.acc.iter())
            .map(|((name, counted), a)| {
                let sec = a.time.as_secs_f64() / n;
                let gflop = (counted && a.flops.is_finite()).then_some(a.flops / n / 1e9);
                PassRow {
                    pass: name.into(),
                    ms: sec * 1e3,
                    gflop,
                    gflops: gflop.filter(|_| sec > 0.0).map(|g| g / sec),
                }
            })
            .collect();
        Some(rows)
    }
}

impl<X: Parallel> Parallel for PassTimer<X> {
    fn pass_done(&self, pass: Pass, rows: usize, gaussians: usize) {
        self.with(|s| {
            let i = PASSES.iter().position(|p| p.0 == pass).unwrap_or(OTHER);
            Self::charge(s, i, pass_flops(pass, self.dim, self.stein, rows, gaussians));
        });
    }

    fn for_each_chunk<U: Send>(&self, items: &mut [U], chunk: usize, f: &(dyn Fn(usize, &mut [U]) + Sync)) {
        self.inner.for_each_chunk(items, chunk, f);
    }
}

/// A target whose calls are timed into a [`PassTimer`].
pub struct TimedTarget<'a, P: ?Sized, X> {
    /// The target.
    pub inner: &'a mut P,
    /// The timer.
    pub timer: &'a PassTimer<X>,
}

impl<T: gmmvi::Real, P: Target<T, D> + ?Sized, X, const D: usize> Target<T, D> for TimedTarget<'_, P, X> {
    fn log_density(&mut self, x: &[SVector<T, D>], lp: &mut [T]) -> Result<(), TargetError> {
        let t = Instant::now();
        let r = self.inner.log_density(x, lp);
        self.timer.target_time(t.elapsed());
        r
    }

    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        lp: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        let t = Instant::now();
        let r = self.inner.log_density_with_grad(x, lp, grad);
        self.timer.target_time(t.elapsed());
        r
    }
}

/// The table as Markdown (ms per iteration, GFLOP per iteration, effective GFLOP/s).
pub fn markdown(rows: &[PassRow]) -> String {
    let f = |v: Option<f64>, p: usize| v.map_or("—".to_string(), |v| format!("{v:.p$}"));
    let mut out = String::from("| pass | ms/iter | GFLOP/iter | GFLOP/s |\n|---|---:|---:|---:|\n");
    for r in rows {
        out += &format!("| {} | {:.2} | {} | {} |\n", r.pass, r.ms, f(r.gflop, 4), f(r.gflops, 2));
    }
    let total: f64 = rows.iter().map(|r| r.ms).sum();
    out += &format!("| total | {total:.2} | | |\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmmvi::Serial;

    /// The counts of the module docs at D = 10 (ℓ = 142, m = 146).
    #[test]
    fn flop_formulas() {
        assert_eq!(pass_flops(Pass::Background, 10, true, 3, 5), 15.0 * 146.0);
        assert_eq!(pass_flops(Pass::Selection, 10, true, 3, 5), 15.0 * 148.0);
        assert_eq!(pass_flops(Pass::Draw, 10, true, 7, 1), 7.0 * 120.0);
        assert_eq!(pass_flops(Pass::LogQ, 10, true, 2, 2), 4.0 * 277.0);
        assert_eq!(pass_flops(Pass::LogQ, 10, false, 2, 2), 4.0 * 146.0);
        assert_eq!(pass_flops(Pass::Estimation, 10, true, 2, 3), 6.0 * 506.0 + 3.0 * 2000.0);
        assert!(pass_flops(Pass::Estimation, 10, false, 2, 3).is_nan());
        assert!(pass_flops(Pass::ComponentUpdate, 10, true, 0, 3).is_nan());
        assert_eq!(pass_flops(Pass::WeightUpdate, 10, true, 2, 3), 6.0 * 152.0);
    }

    /// Every report lands in its row, the target's time leaves the pass it fell in, and the
    /// executor still runs every task.
    #[test]
    fn timer_charges_passes_and_forwards_tasks() {
        let timer = PassTimer::new(Serial, true, 2, true);
        timer.begin_step();
        std::thread::sleep(Duration::from_millis(20));
        timer.target_time(Duration::from_millis(15));
        timer.pass_done(Pass::Draw, 10, 1);
        std::thread::sleep(Duration::from_millis(5));
        timer.pass_done(Pass::WeightUpdate, 4, 2);
        let mut v = [0u32; 10];
        timer.for_each_chunk(&mut v, 3, &|first, part| {
            for (i, x) in part.iter_mut().enumerate() {
                *x = (first + i) as u32;
            }
        });
        assert_eq!(v, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        timer.end_step();
        let rows = timer.rows().expect("one step");
        let get = |n: &str| rows.iter().find(|r| r.pass == n).expect(n).clone();
        assert!((get("target").ms - 15.0).abs() < 1e-6);
        assert!(get("draw").ms >= 5.0 && get("draw").ms < get("target").ms + 20.0);
        assert!(get("weight update").ms >= 5.0);
        assert_eq!(get("draw").gflop, Some(10.0 * (4.0 + 4.0) / 1e9));
        assert_eq!(get("component update").gflop, None);
        assert_eq!(get("target").gflop, None);
        assert!(PassTimer::new(Serial, false, 2, true).rows().is_none());
    }
}

//! Synthetic multimodal, curved targets in any dimension and the per-iteration timing of the
//! default configuration against the number of components and the reuse ratio (the
//! `gmmvi-scaling` binary).
//!
//! * [`Bananas`]: a mixture of three rotated banana-shaped densities; the first two coordinates
//!   of every pair `(2i, 2i + 1)` are bent (`y₁ − b·y₀²`), an odd last coordinate is Gaussian.
//! * [`Ring`]: a thin ring of radius 4 in the first two coordinates, Gaussian in the others.
//! * [`Grid`]: a 4 × 4 grid of narrow Gaussians (spacing 3) in the first two coordinates,
//!   Gaussian in the others.
//!
//! All three have analytic gradients (the Stein estimator of the default configuration needs
//! them) and live roughly in `[−6, 6]` along the first two coordinates.

use std::time::Instant;

use gmmvi::config::ComponentAdaptation;
use gmmvi::error::TargetError;
use gmmvi::{Config, Gmm, Optimizer, Parallel, Target};
use nalgebra::SVector;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Component capacity of the timed optimisers.
pub const MAX_K: usize = 64;
/// Store rows: `(2·100 + 100)·64` rounded up (the whole reuse window of ratio 2 at 64
/// components).
pub const SAMPLES: usize = 20_480;
/// Gaussian ring: `64·(2·100 + 1)` rounded up (covers any working set of ratio 2).
pub const GAUSSIANS: usize = 13_000;
/// History columns (`del_iters = 100` needs 166).
pub const HISTORY: usize = 256;

/// The optimiser type of the scaling runs.
pub type ScalingOpt<const D: usize> = Optimizer<f64, D, MAX_K, SAMPLES, GAUSSIANS, HISTORY>;

/// Log-sum-exp of `vals` with the matching combination of `grads` (responsibility-weighted).
fn lse_grad<const D: usize>(vals: &[f64], grads: &[SVector<f64, D>], g: &mut SVector<f64, D>) -> f64 {
    let m = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut s = 0.0;
    g.fill(0.0);
    for (v, gr) in vals.iter().zip(grads) {
        let w = (v - m).exp();
        s += w;
        *g += gr * w;
    }
    *g /= s;
    m + s.ln()
}

/// Evaluates `f(x, grad)` row by row.
fn per_row<const D: usize>(
    x: &[SVector<f64, D>],
    out: &mut [f64],
    grad: Option<&mut [SVector<f64, D>]>,
    f: impl Fn(&SVector<f64, D>, &mut SVector<f64, D>) -> f64,
) {
    let mut g = SVector::<f64, D>::zeros();
    match grad {
        Some(grad) => {
            for ((xi, o), gi) in x.iter().zip(out.iter_mut()).zip(grad.iter_mut()) {
                *o = f(xi, gi);
            }
        }
        None => {
            for (xi, o) in x.iter().zip(out.iter_mut()) {
                *o = f(xi, &mut g);
            }
        }
    }
}

macro_rules! impl_target {
    ($t:ident) => {
        impl<const D: usize> Target<f64, D> for $t<D> {
            fn log_density(&mut self, x: &[SVector<f64, D>], out: &mut [f64]) -> Result<(), TargetError> {
                per_row(x, out, None, |x, g| self.eval(x, g));
                Ok(())
            }
            fn log_density_with_grad(
                &mut self,
                x: &[SVector<f64, D>],
                out: &mut [f64],
                grad: &mut [SVector<f64, D>],
            ) -> Result<(), TargetError> {
                per_row(x, out, Some(grad), |x, g| self.eval(x, g));
                Ok(())
            }
        }
    };
}

/// A mixture of three rotated bananas (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Bananas<const D: usize>;

impl<const D: usize> Bananas<D> {
    const CENTERS: [[f64; 2]; 3] = [[-3.0, -1.0], [2.5, -2.0], [0.5, 3.0]];
    const ANGLES: [f64; 3] = [0.3, 2.4, -1.9];
    const S0: f64 = 1.2;
    const S1: f64 = 0.35;
    const BEND: f64 = 0.6;

    fn one(&self, i: usize, x: &SVector<f64, D>, g: &mut SVector<f64, D>) -> f64 {
        let (c, s) = (Self::ANGLES[i].cos(), Self::ANGLES[i].sin());
        let mut y = *x;
        let (u, v) = (x[0] - Self::CENTERS[i][0], x[1] - Self::CENTERS[i][1]);
        y[0] = c * u + s * v;
        y[1] = -s * u + c * v;
        let mut gy = SVector::<f64, D>::zeros();
        let mut lp = 0.0;
        let mut d = 0;
        while d + 1 < D {
            let (a, b) = (y[d], y[d + 1]);
            let r = b - Self::BEND * a * a;
            lp -= a * a / (2.0 * Self::S0 * Self::S0) + r * r / (2.0 * Self::S1 * Self::S1);
            gy[d] = -a / (Self::S0 * Self::S0) + r / (Self::S1 * Self::S1) * 2.0 * Self::BEND * a;
            gy[d + 1] = -r / (Self::S1 * Self::S1);
            d += 2;
        }
        if d < D {
            lp -= 0.5 * y[d] * y[d];
            gy[d] = -y[d];
        }
        *g = gy;
        // Back through the rotation of the first two coordinates.
        g[0] = c * gy[0] - s * gy[1];
        g[1] = s * gy[0] + c * gy[1];
        lp
    }

    fn eval(&self, x: &SVector<f64, D>, g: &mut SVector<f64, D>) -> f64 {
        let mut vals = [0.0; 3];
        let mut grads = [SVector::<f64, D>::zeros(); 3];
        for i in 0..3 {
            vals[i] = self.one(i, x, &mut grads[i]);
        }
        lse_grad(&vals, &grads, g)
    }
}
impl_target!(Bananas);

/// A thin ring of radius 4 (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Ring<const D: usize>;

impl<const D: usize> Ring<D> {
    const RADIUS: f64 = 4.0;
    const WIDTH: f64 = 0.3;

    fn eval(&self, x: &SVector<f64, D>, g: &mut SVector<f64, D>) -> f64 {
        let r = (x[0] * x[0] + x[1] * x[1]).sqrt().max(1e-12);
        let e = (r - Self::RADIUS) / Self::WIDTH;
        let mut lp = -0.5 * e * e;
        let dr = -e / Self::WIDTH;
        g[0] = dr * x[0] / r;
        g[1] = dr * x[1] / r;
        for d in 2..D {
            lp -= 0.5 * x[d] * x[d];
            g[d] = -x[d];
        }
        lp
    }
}
impl_target!(Ring);

/// A 4 × 4 grid of narrow Gaussians (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Grid<const D: usize>;

impl<const D: usize> Grid<D> {
    const SPACING: f64 = 3.0;
    const SIGMA: f64 = 0.5;

    fn eval(&self, x: &SVector<f64, D>, g: &mut SVector<f64, D>) -> f64 {
        let mut vals = [0.0; 16];
        let mut grads = [SVector::<f64, D>::zeros(); 16];
        let s2 = Self::SIGMA * Self::SIGMA;
        for (i, (v, gr)) in vals.iter_mut().zip(grads.iter_mut()).enumerate() {
            let cx = (i % 4) as f64 * Self::SPACING - 1.5 * Self::SPACING;
            let cy = (i / 4) as f64 * Self::SPACING - 1.5 * Self::SPACING;
            let (u, w) = (x[0] - cx, x[1] - cy);
            *v = -(u * u + w * w) / (2.0 * s2);
            gr[0] = -u / s2;
            gr[1] = -w / s2;
        }
        let mut lp = lse_grad(&vals, &grads, g);
        for d in 2..D {
            lp -= 0.5 * x[d] * x[d];
            g[d] = -x[d];
        }
        lp
    }
}
impl_target!(Grid);

/// How the number of components is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `k` initial components spread over the target's region and no adaptation.
    Fixed(usize),
    /// `Config::samtrux()` as shipped: one broad initial component, adaptive components.
    Adaptive,
}

/// One timed run.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Fixed or adaptive components.
    pub mode: Mode,
    /// `samples.reuse_ratio`.
    pub reuse_ratio: f64,
    /// Iterations before timing (fixed mode).
    pub warmup: usize,
    /// Timed iterations (fixed mode) or all iterations (adaptive mode).
    pub iterations: usize,
    /// Wall-clock cap in seconds of the whole run: it stops after the first iteration past it.
    pub max_seconds: f64,
    /// Seed of the initial model and the optimiser.
    pub seed: u64,
}

/// The timing of one iteration.
#[derive(Clone, Copy, Debug)]
pub struct Timed {
    /// Components during the iteration (before adaptation).
    pub components: usize,
    /// Working-set rows.
    pub working_set: usize,
    /// Milliseconds of `step_with`.
    pub ms: f64,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Every iteration after the warm-up.
    pub steps: Vec<Timed>,
    /// Iterations run in all (warm-up included).
    pub iterations: usize,
    /// The last iteration's `elbo_estimate`.
    pub elbo: f64,
    /// FNV-1a hash of the final model's log weights and means (bit identity across builds).
    pub fingerprint: u64,
}

/// The configuration of a scenario: `Config::samtrux()` with its reuse ratio and, for a fixed
/// number of components, adaptation off.
pub fn config(s: &Scenario) -> Config<f64> {
    let mut cfg = Config::<f64>::samtrux();
    cfg.samples.reuse_ratio = s.reuse_ratio;
    if let Mode::Fixed(_) = s.mode {
        cfg.adapt.mode = ComponentAdaptation::Fixed;
    }
    cfg
}

/// The initial model of a scenario: `k` components with means `N(0, 3²I)` and covariance `I`,
/// or one broad component `N(0, 25 I)`.
pub fn initial_model<const D: usize>(s: &Scenario) -> Gmm<f64, D, MAX_K> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(s.seed);
    let (k, scale, var) = match s.mode {
        Mode::Fixed(k) => (k, 3.0, 1.0),
        Mode::Adaptive => (1, 0.0, 25.0),
    };
    Gmm::from_prior(k, &SVector::zeros(), &SVector::repeat(scale), &SVector::repeat(var), &mut rng)
        .expect("initial model")
}

/// Runs a scenario on `target` with the executor `par`.
pub fn run<const D: usize, P: Target<f64, D>, X: Parallel>(target: &mut P, s: &Scenario, par: &X) -> Measured {
    let mut slot: Box<std::mem::MaybeUninit<ScalingOpt<D>>> = Box::new_uninit();
    let opt = ScalingOpt::<D>::new_in(&mut slot, &config(s), &initial_model::<D>(s), s.seed).expect("optimiser");
    let warmup = if s.mode == Mode::Adaptive { 0 } else { s.warmup };
    let t0 = Instant::now();
    let mut steps = Vec::new();
    let mut elbo = f64::NAN;
    let mut iterations = 0;
    for i in 0..warmup + s.iterations {
        let k = opt.model().len();
        let t = Instant::now();
        let rep = opt.step_with(target, par).expect("step");
        let ms = t.elapsed().as_secs_f64() * 1e3;
        iterations += 1;
        elbo = rep.elbo_estimate;
        if i >= warmup {
            steps.push(Timed { components: k, working_set: rep.working_set, ms });
        }
        if t0.elapsed().as_secs_f64() > s.max_seconds {
            break;
        }
    }
    Measured { steps, iterations, elbo, fingerprint: fingerprint(opt.model()) }
}

/// FNV-1a over the bits of the log weights and means.
pub fn fingerprint<const D: usize, const K: usize>(q: &Gmm<f64, D, K>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: f64| {
        for b in v.to_bits().to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (k, lw) in q.log_weights().iter().enumerate() {
        eat(*lw);
        for m in q.mean(k).into_iter().flat_map(|m| m.iter()) {
            eat(*m);
        }
    }
    h
}

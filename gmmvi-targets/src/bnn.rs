//! WINE: Bayesian neural-network regression (docs/targets.md §7).
//!
//! A fully connected network `11 → 8 → 8 → 1` with logistic-sigmoid, sigmoid and identity
//! activations: `h1 = sig(x W1 + b1)`, `h2 = sig(h1 W2 + b2)`, `f = h2 W3 + b3`. The parameter
//! vector `θ ∈ R^177` holds, in order, `W1` (11×8, row-major `[fan_in, fan_out]`), `b1` (8),
//! `W2` (8×8), `b2` (8), `W3` (8×1), `b3` (1) (§7.2).
//!
//! For each point `θ_i` of a call, its own minibatch `B_i` of rows is drawn and
//! `log p~(θ_i) = λ·[−(N/|B_i|) Σ_{b ∈ B_i} (y_b − f_θ(x_b))² − ½‖θ‖²/σ_prior²]` with `N` the
//! number of training rows, `λ = 1`, `σ_prior = 1` (§7.3; no normalising constants). The
//! reference's batches come from a TensorFlow shuffle buffer (a row can repeat within a batch),
//! which cannot be reproduced; this target draws the rows **with replacement** (independent
//! uniform indices), so `E[log p~]` is the full-data value. [`BnnBatch::Full`]
//! uses all rows (the setting of the §7.3 test vectors). The gradient is back-propagation of the
//! same expression on the same batch.
//!
//! Data (§7.1): the shipped `wine_seed_{k}.npz` splits hold standardised `features_train`
//! (2938×11, `f32`) and `labels_train` (quality scores, `i32`); pass them as `f64`. The run
//! with seed `s` uses split `k = s mod 10`.

use core::marker::PhantomData;

use gmmvi::error::{Error, TargetError};
use gmmvi::real::Real;
use gmmvi::target::Target;
use nalgebra::SVector;
use rand_core::Rng;

use super::logistic::sigmoid;
use super::logistic_mb::below;

/// Input features of the WINE network (§7.1).
pub const WINE_INPUTS: usize = 11;
/// Width of both hidden layers (§7.2).
pub const WINE_HIDDEN: usize = 8;
/// Dimension of θ: `11·8 + 8 + 8·8 + 8 + 8 + 1 = 177` (§7.2).
pub const WINE_DIM: usize = 177;
/// The benchmark's minibatch size (§7).
pub const WINE_BATCH_SIZE: usize = 128;

const H: usize = WINE_HIDDEN;

/// Which rows a WINE evaluation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BnnBatch {
    /// All training rows (the expectation of the minibatch estimator, §7.3 test vectors).
    Full,
    /// `size` rows drawn uniformly with replacement, fresh for every point (128 in the
    /// benchmark, [`WINE_BATCH_SIZE`]).
    Random {
        /// Rows per point.
        size: usize,
    },
}

/// The network parameters unpacked from θ (§7.2 layout).
#[derive(Clone, Copy, Debug, Default)]
struct Params {
    w1: [[f64; H]; WINE_INPUTS],
    b1: [f64; H],
    w2: [[f64; H]; H],
    b2: [f64; H],
    w3: [f64; H],
    b3: f64,
}

impl Params {
    /// Unpacks θ in the order `W1, b1, W2, b2, W3, b3` (row-major weights).
    fn unpack(theta: &[f64; WINE_DIM]) -> Self {
        let mut p = Self::default();
        let mut it = theta.iter().copied();
        for v in p.w1.iter_mut().flatten() {
            *v = it.next().unwrap_or(0.0);
        }
        for v in &mut p.b1 {
            *v = it.next().unwrap_or(0.0);
        }
        for v in p.w2.iter_mut().flatten() {
            *v = it.next().unwrap_or(0.0);
        }
        for v in &mut p.b2 {
            *v = it.next().unwrap_or(0.0);
        }
        for v in &mut p.w3 {
            *v = it.next().unwrap_or(0.0);
        }
        p.b3 = it.next().unwrap_or(0.0);
        p
    }

    /// Packs back into θ order (the inverse of [`Params::unpack`]).
    fn pack(&self, out: &mut [f64; WINE_DIM]) {
        let vals = self
            .w1
            .iter()
            .flatten()
            .chain(&self.b1)
            .chain(self.w2.iter().flatten())
            .chain(&self.b2)
            .chain(&self.w3)
            .chain(core::iter::once(&self.b3));
        for (o, &v) in out.iter_mut().zip(vals) {
            *o = v;
        }
    }

    /// Forward pass: `(h1, h2, f)`.
    fn forward(&self, x: &[f64; WINE_INPUTS]) -> ([f64; H], [f64; H], f64) {
        let mut a1 = self.b1;
        for (&xk, row) in x.iter().zip(&self.w1) {
            for (a, &w) in a1.iter_mut().zip(row) {
                *a += xk * w;
            }
        }
        let h1 = a1.map(sigmoid);
        let mut a2 = self.b2;
        for (&hi, row) in h1.iter().zip(&self.w2) {
            for (a, &w) in a2.iter_mut().zip(row) {
                *a += hi * w;
            }
        }
        let h2 = a2.map(sigmoid);
        let f = self.b3 + h2.iter().zip(&self.w3).map(|(h, w)| h * w).sum::<f64>();
        (h1, h2, f)
    }

    /// Adds `∂(−c (y − f)²)/∂θ` for one row to `g`; returns `(y − f)²`.
    fn backprop(&self, x: &[f64; WINE_INPUTS], y: f64, c: f64, g: &mut Params) -> f64 {
        let (h1, h2, f) = self.forward(x);
        let r = y - f;
        let gf = 2.0 * c * r; // ∂(−c r²)/∂f
        g.b3 += gf;
        let mut d2 = [0.0; H];
        for (((gw3, &w3), &h), d) in g.w3.iter_mut().zip(&self.w3).zip(&h2).zip(&mut d2) {
            *gw3 += gf * h;
            *d = gf * w3 * h * (1.0 - h);
        }
        let mut d1 = [0.0; H];
        for (((grow, wrow), &h), d) in g.w2.iter_mut().zip(&self.w2).zip(&h1).zip(&mut d1) {
            let mut s = 0.0;
            for ((gw, &w), &dj) in grow.iter_mut().zip(wrow).zip(&d2) {
                *gw += h * dj;
                s += w * dj;
            }
            *d = s * h * (1.0 - h);
        }
        for (gb, &dj) in g.b2.iter_mut().zip(&d2) {
            *gb += dj;
        }
        for (grow, &xk) in g.w1.iter_mut().zip(x) {
            for (gw, &di) in grow.iter_mut().zip(&d1) {
                *gw += xk * di;
            }
        }
        for (gb, &di) in g.b1.iter_mut().zip(&d1) {
            *gb += di;
        }
        r * r
    }
}

/// The WINE network output `f_θ(x)` (§7.2), e.g. for the Bayesian-model-average test loss
/// of §7.4.
pub fn wine_predict(theta: &SVector<f64, WINE_DIM>, x: &[f64; WINE_INPUTS]) -> f64 {
    Params::unpack(&(*theta).into()).forward(x).2
}

/// The WINE BNN regression target of docs/targets.md §7 over borrowed training data, with its
/// own RNG `R` for the minibatches; evaluated in `f64`, reported as `T`.
#[derive(Debug)]
pub struct WineBnn<'a, T: Real, R> {
    data: Data<'a>,
    batch: BnnBatch,
    rng: R,
    _scalar: PhantomData<fn() -> T>,
}

/// The borrowed data and the fixed scalars of a [`WineBnn`].
#[derive(Clone, Copy, Debug)]
struct Data<'a> {
    features: &'a [[f64; WINE_INPUTS]],
    labels: &'a [f64],
    likelihood_scaling: f64,
    prior_std: f64,
}

impl<'a> Data<'a> {
    /// `−½ λ ‖θ‖²/σ_prior²`.
    fn log_prior(&self, theta: &SVector<f64, WINE_DIM>) -> f64 {
        -0.5 * self.likelihood_scaling * theta.norm_squared() / (self.prior_std * self.prior_std)
    }

    /// The value over `count` rows from `rows` (a missing row gives NaN) and, if `grad` is
    /// given, its gradient.
    fn value<'r>(
        &self,
        theta: &SVector<f64, WINE_DIM>,
        count: usize,
        rows: impl Iterator<Item = (Option<&'r [f64; WINE_INPUTS]>, Option<&'r f64>)>,
        grad: Option<&mut SVector<f64, WINE_DIM>>,
    ) -> f64 {
        if count == 0 {
            if let Some(g) = grad {
                g.fill(f64::NAN);
            }
            return f64::NAN;
        }
        let lam = self.likelihood_scaling;
        let c = lam * self.features.len() as f64 / count as f64;
        let p = Params::unpack(&(*theta).into());
        let mut gp = Params::default();
        let mut sse = 0.0;
        for (x, y) in rows {
            let (Some(x), Some(&y)) = (x, y) else {
                sse = f64::NAN;
                continue;
            };
            sse += if grad.is_some() {
                p.backprop(x, y, c, &mut gp)
            } else {
                let r = y - p.forward(x).2;
                r * r
            };
        }
        if let Some(g) = grad {
            let mut out = [0.0; WINE_DIM];
            gp.pack(&mut out);
            *g = SVector::from(out);
            g.axpy(-lam / (self.prior_std * self.prior_std), theta, 1.0);
        }
        -c * sse + self.log_prior(theta)
    }
}

impl<'a, T: Real, R: Rng> WineBnn<'a, T, R> {
    /// The target over the training `features` (standardised, as shipped) and `labels`
    /// (quality scores as `f64`), with `λ = 1` and `σ_prior = 1` (§7). `N = features.len()`
    /// (2938 for the shipped splits).
    ///
    /// # Errors
    /// `InvalidArgument` if the data are empty, the lengths differ, a value is not finite,
    /// or a random batch size is 0.
    pub fn new(features: &'a [[f64; WINE_INPUTS]], labels: &'a [f64], batch: BnnBatch, rng: R) -> Result<Self, Error> {
        if features.is_empty() || features.len() != labels.len() {
            return Err(Error::InvalidArgument { what: "features and labels must be non-empty and of equal length" });
        }
        if features.iter().flatten().chain(labels).any(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument { what: "data must be finite" });
        }
        let data = Data { features, labels, likelihood_scaling: 1.0, prior_std: 1.0 };
        let mut t = Self { data, batch: BnnBatch::Full, rng, _scalar: PhantomData };
        t.set_batch(batch)?;
        Ok(t)
    }

    /// Changes the batch rule.
    ///
    /// # Errors
    /// `InvalidArgument` for `Random { size: 0 }`.
    pub fn set_batch(&mut self, batch: BnnBatch) -> Result<(), Error> {
        if batch == (BnnBatch::Random { size: 0 }) {
            return Err(Error::InvalidArgument { what: "batch size must be positive" });
        }
        self.batch = batch;
        Ok(())
    }

    /// Sets `λ` (`likelihood_scaling`) and `σ_prior` (`prior_std`); both 1 in the benchmark.
    ///
    /// # Errors
    /// `InvalidArgument` unless `λ` is finite and positive and `σ_prior` positive and finite.
    pub fn set_scaling(&mut self, likelihood_scaling: f64, prior_std: f64) -> Result<(), Error> {
        if !(likelihood_scaling > 0.0 && likelihood_scaling.is_finite() && prior_std > 0.0 && prior_std.is_finite()) {
            return Err(Error::InvalidArgument { what: "scaling and prior std must be positive and finite" });
        }
        self.data.likelihood_scaling = likelihood_scaling;
        self.data.prior_std = prior_std;
        Ok(())
    }

    /// Number of training rows `N`.
    pub fn len(&self) -> usize {
        self.data.features.len()
    }

    /// Always `false` (the constructor rejects empty data).
    pub fn is_empty(&self) -> bool {
        self.data.features.is_empty()
    }

    /// The prior term `−½ λ ‖θ‖²/σ_prior²` alone.
    pub fn log_prior_f64(&self, theta: &SVector<f64, WINE_DIM>) -> f64 {
        self.data.log_prior(theta)
    }

    /// `log p~(θ)` over the given rows (`−λ (N/|rows|) Σ (y − f)²` plus the prior) and, if
    /// `grad` is given, its gradient. An index out of range, or no rows, gives NaN.
    pub fn rows_log_density_f64(
        &self,
        theta: &SVector<f64, WINE_DIM>,
        rows: &[u32],
        grad: Option<&mut SVector<f64, WINE_DIM>>,
    ) -> f64 {
        let (f, l) = (self.data.features, self.data.labels);
        let it = rows.iter().map(|&n| (f.get(n as usize), l.get(n as usize)));
        self.data.value(theta, rows.len(), it, grad)
    }

    /// `log p~(θ)` over all training rows (the expectation of the minibatch estimator) and,
    /// if `grad` is given, its gradient.
    pub fn full_log_density_f64(
        &self,
        theta: &SVector<f64, WINE_DIM>,
        grad: Option<&mut SVector<f64, WINE_DIM>>,
    ) -> f64 {
        let (f, l) = (self.data.features, self.data.labels);
        let it = f.iter().zip(l).map(|(x, y)| (Some(x), Some(y)));
        self.data.value(theta, f.len(), it, grad)
    }

    /// Shared body of the two trait methods.
    fn eval(
        &mut self,
        x: &[SVector<T, WINE_DIM>],
        log_p: &mut [T],
        mut grad: Option<&mut [SVector<T, WINE_DIM>]>,
    ) -> Result<(), TargetError> {
        if x.len() != log_p.len() || grad.as_ref().is_some_and(|g| g.len() != x.len()) {
            return Err(TargetError { code: -1 });
        }
        let data = self.data;
        let n = data.features.len();
        for (i, (xi, lp)) in x.iter().zip(log_p.iter_mut()).enumerate() {
            let theta = xi.map(|v| v.to_f64());
            let mut g = SVector::<f64, WINE_DIM>::zeros();
            let gi = grad.as_deref_mut().and_then(|gr| gr.get_mut(i));
            let want = gi.is_some().then_some(&mut g);
            let v = match self.batch {
                BnnBatch::Full => self.full_log_density_f64(&theta, want),
                BnnBatch::Random { size } => {
                    let rng = &mut self.rng;
                    let it = (0..size).map(|_| {
                        let k = below(rng, n);
                        (data.features.get(k), data.labels.get(k))
                    });
                    data.value(&theta, size, it, want)
                }
            };
            *lp = T::of(v);
            if let Some(gi) = gi {
                *gi = g.map(T::of);
            }
        }
        Ok(())
    }
}

impl<T: Real, R: Rng> Target<T, WINE_DIM> for WineBnn<'_, T, R> {
    /// `log p~(θ_i)` of docs/targets.md §7.3 on a fresh batch per point, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, WINE_DIM>], log_p: &mut [T]) -> Result<(), TargetError> {
        self.eval(x, log_p, None)
    }

    /// `log p~(θ_i)` and its gradient (same batch) of docs/targets.md §7.3, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, WINE_DIM>],
        log_p: &mut [T],
        grad: &mut [SVector<T, WINE_DIM>],
    ) -> Result<(), TargetError> {
        self.eval(x, log_p, Some(grad))
    }
}

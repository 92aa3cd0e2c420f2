//! Minibatch Bayesian logistic regression: BreastCancerMB and GermanCreditMB
//! (docs/targets.md §6). Same data, preprocessing, prior and label convention as §5
//! ([`LogisticRegression`]).
//!
//! Each call of a [`Target`] method on points `θ_1..θ_M`:
//! 1. draws one fresh uniform permutation of the `N` training rows (Fisher–Yates from the
//!    caller's RNG), shared by all points of the call;
//! 2. walks through the permuted rows in consecutive windows of `B` (64 in the benchmark):
//!    before assigning a window, if `start + B > N` then `start = 0` (no reshuffle); `θ_1`
//!    gets the first window, `θ_2` the next, … (with `own_batch_per_sample = false` every
//!    point gets the first window);
//! 3. `log p̂(θ_i) = (N/B) Σ_{n ∈ B_i} ℓ_n(θ_i) + log prior(θ_i)`, and the gradient of the
//!    same expression (same batch).
//!
//! The optimiser hands at most [`gmmvi::TARGET_BLOCK`] points per call, so the windows restart
//! at every block rather than once per reference call; the exact reference minibatch stream
//! (TensorFlow shuffling) is not reproducible anyway (§12), only its distribution.
//! Evaluate the ELBO with the full-batch target ([`LogisticRegressionMinibatch::full`], §6
//! "elbo_fb").

use gmmvi::error::{Error, TargetError};
use gmmvi::real::Real;
use gmmvi::target::Target;
use nalgebra::SVector;
use rand_core::Rng;

use super::LogisticRegression;

/// The benchmark's minibatch size (§6).
pub const LOGREG_BATCH_SIZE: usize = 64;

/// A uniform integer in `0..n` (`n ≥ 1`) by the multiply-shift method (bias below `n/2⁶⁴`).
#[inline]
pub(crate) fn below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Minibatch logistic regression (docs/targets.md §6) over a borrowed [`LogisticRegression`] and a
/// caller-provided permutation buffer, with its own RNG `R`.
#[derive(Debug)]
pub struct LogisticRegressionMinibatch<'a, T: Real, const D: usize, R> {
    full: LogisticRegression<'a, T, D>,
    perm: &'a mut [u32],
    batch_size: usize,
    own_batch_per_sample: bool,
    rng: R,
}

impl<'a, T: Real, const D: usize, R: Rng> LogisticRegressionMinibatch<'a, T, D, R> {
    /// The minibatch target over the rows of `full` (all of them are training rows: drop
    /// held-out rows from the slices first). `perm` is scratch for the permutation and needs
    /// at least `N = full.len()` entries; `batch_size` is `B` (64 in the benchmark,
    /// [`LOGREG_BATCH_SIZE`]); `own_batch_per_sample` as in the benchmark config (`true`).
    ///
    /// # Errors
    /// `BufferTooSmall { needed: N }` if `perm` is shorter than `N`; `InvalidArgument` if
    /// `batch_size` is not in `1..=N` or `N` exceeds `u32::MAX`.
    pub fn new(
        full: LogisticRegression<'a, T, D>,
        perm: &'a mut [u32],
        batch_size: usize,
        own_batch_per_sample: bool,
        rng: R,
    ) -> Result<Self, Error> {
        let n = full.len();
        if u32::try_from(n).is_err() {
            return Err(Error::InvalidArgument { what: "too many rows for u32 indices" });
        }
        let perm = perm.get_mut(..n).ok_or(Error::BufferTooSmall { needed: n })?;
        if batch_size == 0 || batch_size > n {
            return Err(Error::InvalidArgument { what: "batch_size must be in 1..=N" });
        }
        for (i, p) in perm.iter_mut().enumerate() {
            *p = i as u32;
        }
        Ok(Self { full, perm, batch_size, own_batch_per_sample, rng })
    }

    /// The full-batch target over the same rows (for the "elbo_fb" evaluation, §6).
    pub fn full(&self) -> &LogisticRegression<'a, T, D> {
        &self.full
    }

    /// The minibatch size `B`.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The RNG that draws the permutations.
    pub fn rng_mut(&mut self) -> &mut R {
        &mut self.rng
    }

    /// `log p̂(θ) = (N/|batch|) Σ_{n ∈ batch} ℓ_n(θ) + log prior(θ)` for explicit row indices
    /// and, if `grad` is given, its gradient. An index out of range, or an empty batch,
    /// gives NaN.
    pub fn minibatch_log_density_f64(
        &self,
        theta: &SVector<f64, D>,
        batch: &[u32],
        grad: Option<&mut SVector<f64, D>>,
    ) -> f64 {
        minibatch_value(&self.full, theta, batch, grad)
    }

    /// A fresh uniform permutation of `0..N` in `perm` (Fisher–Yates from the identity).
    fn shuffle(&mut self) {
        for (i, p) in self.perm.iter_mut().enumerate() {
            *p = i as u32;
        }
        for i in (1..self.perm.len()).rev() {
            let j = below(&mut self.rng, i + 1);
            self.perm.swap(i, j);
        }
    }

    /// Shared body of the two trait methods.
    fn eval(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        mut grad: Option<&mut [SVector<T, D>]>,
    ) -> Result<(), TargetError> {
        if x.len() != log_p.len() || grad.as_ref().is_some_and(|g| g.len() != x.len()) {
            return Err(TargetError { code: -1 });
        }
        self.shuffle();
        let (n, b) = (self.perm.len(), self.batch_size);
        let mut start = 0usize;
        for (i, (xi, lp)) in x.iter().zip(log_p.iter_mut()).enumerate() {
            if !self.own_batch_per_sample || start + b > n {
                start = 0;
            }
            let batch = self.perm.get(start..start + b).unwrap_or(&[]);
            start += b;
            let theta = xi.map(|v| v.to_f64());
            match grad.as_deref_mut().and_then(|g| g.get_mut(i)) {
                Some(gi) => {
                    let mut g = SVector::<f64, D>::zeros();
                    *lp = T::of(minibatch_value(&self.full, &theta, batch, Some(&mut g)));
                    *gi = g.map(T::of);
                }
                None => *lp = T::of(minibatch_value(&self.full, &theta, batch, None)),
            }
        }
        Ok(())
    }
}

/// `(N/|batch|) Σ_{n ∈ batch} ℓ_n(θ) + log prior(θ)`, gradient written (not added) to `grad`.
fn minibatch_value<T: Real, const D: usize>(
    full: &LogisticRegression<'_, T, D>,
    theta: &SVector<f64, D>,
    batch: &[u32],
    mut grad: Option<&mut SVector<f64, D>>,
) -> f64 {
    if let Some(g) = grad.as_deref_mut() {
        g.fill(0.0);
    }
    if batch.is_empty() {
        if let Some(g) = grad {
            g.fill(f64::NAN);
        }
        return f64::NAN;
    }
    let scale = full.len() as f64 / batch.len() as f64;
    let mut ll = 0.0;
    for &n in batch {
        ll += full.row_log_lik(theta, n as usize, scale, grad.as_deref_mut());
    }
    scale * ll + full.log_prior_f64(theta, grad)
}

impl<T: Real, const D: usize, R: Rng> Target<T, D> for LogisticRegressionMinibatch<'_, T, D, R> {
    /// Minibatch `log p̂(θ_i)` of docs/targets.md §6, computed in `f64` (one permutation per call).
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), TargetError> {
        self.eval(x, log_p, None)
    }

    /// Minibatch `log p̂(θ_i)` and its gradient on the same batch (docs/targets.md §6).
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        self.eval(x, log_p, Some(grad))
    }
}

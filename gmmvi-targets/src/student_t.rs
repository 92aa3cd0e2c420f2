//! A normalised mixture of multivariate Student-t distributions (docs/targets.md §3; the
//! STM20/STM300 benchmarks of Lin et al.).
//!
//! Component `i` has degrees of freedom `ν`, location `μ_i` and scale matrix `Σ_i`:
//! `log t_i(x) = lnΓ((ν+D)/2) − lnΓ(ν/2) − (D/2) ln(νπ) − ½ ln det Σ_i − ((ν+D)/2) ln(1 + δ_i/ν)`
//! with `δ_i = (x − μ_i)ᵀ Σ_i⁻¹ (x − μ_i)`; `log p(x) = logsumexp_i [ln π_i + log t_i(x)]`
//! (`log Z = 0`). Gradient: `∇ log t_i(x) = −((ν + D)/(ν + δ_i)) Σ_i⁻¹ (x − μ_i)`, mixed with
//! the responsibilities as in §2.2.
//!
//! Each component keeps the lower Cholesky factor `R_i` of the **precision** `P_i = Σ_i⁻¹`
//! (`P_i = R_i R_iᵀ`), so `δ_i = ‖R_iᵀ(x − μ_i)‖²`, `Σ_i⁻¹(x − μ_i) = R_i (R_iᵀ(x − μ_i))` and
//! `−½ ln det Σ_i = Σ_j ln R_i[j,j]`: no triangular solves. The benchmark draws `P_i` directly
//! (§3.1: `P_i = BᵀB + I`, `Σ_i = P_i⁻¹`). All arithmetic is done in `f64`.

use core::marker::PhantomData;

use gmmvi::error::{Error, TargetError};
use gmmvi::real::Real;
use gmmvi::rng::uniform;
use gmmvi::target::Target;
use nalgebra::{ArrayStorage, Cholesky, SMatrix, SVector};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::NumpyRandomState;
use super::linalg::{add_lower_outer, cholesky_in_place, dot, log_diag_sum};

/// Components whose log term lies more than this below the running maximum are left out
/// of the gradient (relative change below `e⁻⁵⁰`).
const SKIP_LOG: f64 = 50.0;

/// Rows per block of [`StudentTMixture::log_density_rows_f64`].
pub const STM_BLOCK: usize = 8;

/// Degrees of freedom of every STM benchmark component (§3.1).
pub const STM_DOF: f64 = 2.0;

/// Half-width `s` of the STM20 location box `[−s, s]^D` (§3.1, `harder_setting: False`).
pub const STM20_HALF_WIDTH: f64 = 20.0;

/// Half-width `s` of the STM300 location box `[−s, s]^D` (§3.1, `harder_setting: True`).
pub const STM300_HALF_WIDTH: f64 = 25.0;

/// The STM20 benchmark target (§3): `D = 20`, 10 components, `ν = 2`, half-width 20.
pub type Stm20<T> = StudentTMixture<T, 20, 10>;

/// The STM300 benchmark target (§3): `D = 300`, 20 components, `ν = 2`, half-width 25
/// (about 14.5 MB: build it in place, [`StudentTMixture::benchmark_in_place`]).
pub type Stm300<T> = StudentTMixture<T, 300, 20>;

/// A normalised mixture of `M` multivariate Student-t distributions with a common number of
/// degrees of freedom `ν` in `R^D` (docs/targets.md §3.2), evaluated in `f64`, reported as `T`.
#[derive(Clone, Debug)]
pub struct StudentTMixture<T: Real, const D: usize, const M: usize> {
    /// Normalised log weights `ln π_i`.
    log_w: [f64; M],
    /// Degrees of freedom `ν`.
    dof: f64,
    /// Locations `μ_i`.
    loc: [SVector<f64, D>; M],
    /// Lower Cholesky factors `R_i` of the precisions, `Σ_i⁻¹ = R_i R_iᵀ`.
    prec_chol: [SMatrix<f64, D, D>; M],
    /// `lnΓ((ν+D)/2) − lnΓ(ν/2) − (D/2) ln(νπ) + Σ_j ln R_i[j,j]`.
    log_norm: [f64; M],
    _scalar: PhantomData<fn() -> T>,
}

impl<T: Real, const D: usize, const M: usize> StudentTMixture<T, D, M> {
    /// Builds `p(x) = Σ_i π_i t_ν(x; μ_i, Σ_i)` with `π_i = w_i / Σ_j w_j` from the scale
    /// matrices `Σ_i` (each symmetrised before factorisation). Meant for small `D`: it uses
    /// `D × D` temporaries on the stack.
    ///
    /// # Errors
    /// * `InvalidArgument` if `M == 0`, a weight is not positive and finite, `ν` is not
    ///   positive and finite, or a location has a non-finite entry;
    /// * `CholeskyFailed { component: i }` if `Σ_i` is not finite and positive definite.
    pub fn new(
        weights: &[f64; M],
        dof: f64,
        locs: &[SVector<f64, D>; M],
        scales: &[SMatrix<f64, D, D>; M],
    ) -> Result<Self, Error> {
        let mut t = Self::placeholder(dof)?;
        t.set_weights(weights)?;
        if locs.iter().any(|m| m.iter().any(|v| !v.is_finite())) {
            return Err(Error::InvalidArgument { what: "locations must be finite" });
        }
        t.loc = *locs;
        for (k, (scale, r)) in scales.iter().zip(t.prec_chol.iter_mut()).enumerate() {
            let fail = Error::CholeskyFailed { component: k };
            if scale.iter().any(|v| !v.is_finite()) {
                return Err(fail);
            }
            let sym = (scale + scale.transpose()) * 0.5;
            *r = Cholesky::new(sym).ok_or(fail)?.inverse();
            if !cholesky_in_place(r) {
                return Err(fail);
            }
        }
        t.update_log_norm();
        Ok(t)
    }

    /// An all-zero placeholder (not a usable target) for storage that must exist before the
    /// target is built, e.g. a `static`: build it there with
    /// [`benchmark_in_place`](Self::benchmark_in_place), so a 14.5 MB STM300 never passes
    /// through the stack.
    ///
    /// ```
    /// use gmmvi_targets::{STM300_HALF_WIDTH, Stm300};
    /// use std::sync::Mutex;
    /// static STM300: Mutex<Stm300<f64>> = Mutex::new(Stm300::zeroed());
    /// let mut t = STM300.lock().unwrap();
    /// t.benchmark_in_place(STM300_HALF_WIDTH, 10000)?;
    /// # Ok::<(), gmmvi::Error>(())
    /// ```
    pub const fn zeroed() -> Self {
        Self {
            log_w: [0.0; M],
            dof: 0.0,
            loc: [SVector::from_array_storage(ArrayStorage([[0.0; D]; 1])); M],
            prec_chol: [SMatrix::from_array_storage(ArrayStorage([[0.0; D]; D])); M],
            log_norm: [0.0; M],
            _scalar: PhantomData,
        }
    }

    /// A value with identity precisions and uniform weights, to be overwritten.
    fn placeholder(dof: f64) -> Result<Self, Error> {
        if M == 0 {
            return Err(Error::InvalidArgument { what: "a mixture needs at least one component" });
        }
        if !(dof > 0.0 && dof.is_finite()) {
            return Err(Error::InvalidArgument { what: "degrees of freedom must be positive and finite" });
        }
        let mut t = Self {
            log_w: [-libm::log(M as f64); M],
            dof,
            loc: [SVector::zeros(); M],
            prec_chol: [SMatrix::identity(); M],
            log_norm: [0.0; M],
            _scalar: PhantomData,
        };
        t.update_log_norm();
        Ok(t)
    }

    fn set_weights(&mut self, weights: &[f64; M]) -> Result<(), Error> {
        let mut max = f64::NEG_INFINITY;
        for (lw, &w) in self.log_w.iter_mut().zip(weights) {
            if !(w > 0.0 && w.is_finite()) {
                return Err(Error::InvalidArgument { what: "weights must be positive and finite" });
            }
            *lw = libm::log(w);
            max = max.max(*lw);
        }
        let s: f64 = self.log_w.iter().map(|&lw| libm::exp(lw - max)).sum();
        let lse = max + libm::log(s);
        for lw in &mut self.log_w {
            *lw -= lse;
        }
        Ok(())
    }

    fn update_log_norm(&mut self) {
        let (nu, d) = (self.dof, D as f64);
        let c = libm::lgamma(0.5 * (nu + d)) - libm::lgamma(0.5 * nu) - 0.5 * d * libm::log(nu * core::f64::consts::PI);
        for (ln, r) in self.log_norm.iter_mut().zip(&self.prec_chol) {
            *ln = c + log_diag_sum(r);
        }
    }

    /// The STM benchmark instance of docs/targets.md §3.1: weights `1/M`, `ν = 2`, and for each
    /// component in order a location with coordinates `uniform·2s − s` drawn from `loc_rng`
    /// (the reference used TensorFlow's RNG, which cannot be reproduced; any seeded uniform
    /// generator substitutes for it), then `B` = `normal(0, 1, D·D)·(0.1·D)` from the
    /// NumPy stream `np` (row-major), `P_i = BᵀB + I`, `Σ_i = P_i⁻¹`.
    ///
    /// # Errors
    /// `InvalidArgument` if `M == 0` or `half_width` is not positive and finite;
    /// `CholeskyFailed` if a precision is not finite (the stream cannot produce that).
    pub fn numpy_benchmark<R: Rng + ?Sized>(
        half_width: f64,
        np: &mut NumpyRandomState,
        loc_rng: &mut R,
    ) -> Result<Self, Error> {
        let mut t = Self::placeholder(STM_DOF)?;
        t.numpy_benchmark_in_place(half_width, np, loc_rng)?;
        Ok(t)
    }

    /// Overwrites `self` with the instance of [`numpy_benchmark`](Self::numpy_benchmark),
    /// using only `O(D)` stack.
    ///
    /// # Errors
    /// As [`numpy_benchmark`](Self::numpy_benchmark); after an error `self` is partly
    /// overwritten and must be rebuilt before use.
    pub fn numpy_benchmark_in_place<R: Rng + ?Sized>(
        &mut self,
        half_width: f64,
        np: &mut NumpyRandomState,
        loc_rng: &mut R,
    ) -> Result<(), Error> {
        if M == 0 {
            return Err(Error::InvalidArgument { what: "a mixture needs at least one component" });
        }
        if !(half_width > 0.0 && half_width.is_finite()) {
            return Err(Error::InvalidArgument { what: "half_width must be positive and finite" });
        }
        self.dof = STM_DOF;
        self.log_w = [-libm::log(M as f64); M];
        let scale = 0.1 * D as f64;
        for (k, (mu, r)) in self.loc.iter_mut().zip(self.prec_chol.iter_mut()).enumerate() {
            for m in mu.iter_mut() {
                *m = uniform(loc_rng) * 2.0 * half_width - half_width;
            }
            // P = BᵀB + I = Σ_rows b_r b_rᵀ + I, accumulated in the lower triangle.
            r.fill(0.0);
            for _ in 0..D {
                let mut row = SVector::<f64, D>::zeros();
                for v in row.iter_mut() {
                    *v = np.normal(0.0, 1.0) * scale;
                }
                add_lower_outer(r, &row);
            }
            for j in 0..D {
                r[(j, j)] += 1.0;
            }
            if !cholesky_in_place(r) {
                return Err(Error::CholeskyFailed { component: k });
            }
        }
        self.update_log_norm();
        Ok(())
    }

    /// [`numpy_benchmark`](Self::numpy_benchmark) with `np = NumpyRandomState::new(seed)` and
    /// locations from `Xoshiro256PlusPlus::seed_from_u64(seed)`: STM20 is
    /// `Stm20::benchmark(STM20_HALF_WIDTH, seed)`.
    ///
    /// # Errors
    /// As [`numpy_benchmark`](Self::numpy_benchmark).
    pub fn benchmark(half_width: f64, seed: u32) -> Result<Self, Error> {
        let mut np = NumpyRandomState::new(seed);
        let mut loc_rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(seed));
        Self::numpy_benchmark(half_width, &mut np, &mut loc_rng)
    }

    /// [`benchmark`](Self::benchmark), written into `self` (for STM300, about 14.5 MB).
    ///
    /// # Errors
    /// As [`numpy_benchmark`](Self::numpy_benchmark).
    pub fn benchmark_in_place(&mut self, half_width: f64, seed: u32) -> Result<(), Error> {
        let mut np = NumpyRandomState::new(seed);
        let mut loc_rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(seed));
        self.numpy_benchmark_in_place(half_width, &mut np, &mut loc_rng)
    }

    /// Normalised log weights `ln π_i`.
    pub fn log_weights(&self) -> &[f64; M] {
        &self.log_w
    }

    /// Degrees of freedom `ν`.
    pub fn dof(&self) -> f64 {
        self.dof
    }

    /// Locations `μ_i`.
    pub fn locations(&self) -> &[SVector<f64, D>; M] {
        &self.loc
    }

    /// Lower Cholesky factors `R_i` of the precisions `Σ_i⁻¹ = R_i R_iᵀ`.
    pub fn precision_chol_factors(&self) -> &[SMatrix<f64, D, D>; M] {
        &self.prec_chol
    }

    /// [`log_density_f64`](Self::log_density_f64) of every row of `xs` into `log_p` (and
    /// `grads`, if given), bit for bit, in blocks of [`STM_BLOCK`] rows: each component's factor
    /// `R_i` is swept once per block instead of once per row, which matters when the factors
    /// outgrow the caches (STM300: 14 MB). Uses `2·STM_BLOCK·D` `f64` of stack.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    pub fn log_density_rows_f64(
        &self,
        xs: &[SVector<f64, D>],
        log_p: &mut [f64],
        grads: Option<&mut [SVector<f64, D>]>,
    ) -> Result<(), TargetError> {
        super::eval_in_blocks::<_, _, _, STM_BLOCK>(xs, log_p, grads, |xb, lb, gb| self.block(xb, lb, gb))
    }

    /// One block of at most [`STM_BLOCK`] rows of [`Self::log_density_rows_f64`]: per row the
    /// same operations in the same order as `log_density_f64`.
    fn block(&self, xb: &[SVector<f64, D>], lb: &mut [f64], mut gb: Option<&mut [SVector<f64, D>]>) {
        let n = xb.len().min(STM_BLOCK).min(lb.len());
        let nu = self.dof;
        let half_nd = 0.5 * (nu + D as f64);
        let mut max = [f64::NEG_INFINITY; STM_BLOCK];
        let mut sum = [0.0; STM_BLOCK];
        // Per row: the gradient coefficient of this component, `None` when it is skipped.
        let mut coef = [None; STM_BLOCK];
        let mut z = [SVector::<f64, D>::zeros(); STM_BLOCK];
        let mut w = [SVector::<f64, D>::zeros(); STM_BLOCK];
        if let Some(g) = gb.as_deref_mut() {
            g.iter_mut().for_each(|gi| gi.fill(0.0));
        }
        let comps = self.log_w.iter().zip(&self.loc).zip(self.prec_chol.iter().zip(&self.log_norm));
        for ((&lw, mu), (r, &ln)) in comps {
            for (zs, xs) in z.iter_mut().zip(xb).take(n) {
                *zs = xs - mu;
            }
            // w_s = Rᵀ z_s, column by column of R for all rows.
            for (j, col) in r.as_slice().chunks_exact(D.max(1)).enumerate() {
                let c = col.get(j..).unwrap_or(&[]);
                for (ws, zs) in w.iter_mut().zip(&z).take(n) {
                    ws[j] = dot(c, zs.as_slice().get(j..).unwrap_or(&[]));
                }
            }
            for s in 0..n {
                coef[s] = None;
                let delta = w[s].norm_squared();
                let a = lw + ln - half_nd * libm::log1p(delta / nu);
                if a == f64::NEG_INFINITY {
                    continue;
                }
                let wt = if a > max[s] {
                    let scale = if max[s] == f64::NEG_INFINITY { 0.0 } else { libm::exp(max[s] - a) };
                    sum[s] = sum[s] * scale + 1.0;
                    if let Some(g) = gb.as_deref_mut().and_then(|g| g.get_mut(s)) {
                        *g *= scale;
                    }
                    max[s] = a;
                    1.0
                } else {
                    let e = libm::exp(a - max[s]);
                    sum[s] += e;
                    e
                };
                if a - max[s] > -SKIP_LOG {
                    coef[s] = Some(-wt * 2.0 * half_nd / (nu + delta));
                }
            }
            // acc_s −= wt · ((ν + D)/(ν + δ)) · R w_s, column by column of R for all rows.
            if let Some(g) = gb.as_deref_mut() {
                for (j, col) in r.as_slice().chunks_exact(D.max(1)).enumerate() {
                    let cj = col.get(j..).unwrap_or(&[]);
                    for s in 0..n {
                        let Some(cs) = coef[s] else { continue };
                        let f = cs * w[s][j];
                        if let Some(acc) = g.get_mut(s) {
                            for (ai, &rij) in acc.as_mut_slice().get_mut(j..).unwrap_or(&mut []).iter_mut().zip(cj) {
                                *ai += f * rij;
                            }
                        }
                    }
                }
            }
        }
        for s in 0..n {
            let lp = if sum[s] > 0.0 {
                max[s] + libm::log(sum[s])
            } else if sum[s] == 0.0 {
                f64::NEG_INFINITY
            } else {
                f64::NAN
            };
            lb[s] = lp;
            if let Some(g) = gb.as_deref_mut().and_then(|g| g.get_mut(s)) {
                if sum[s] > 0.0 {
                    *g /= sum[s];
                } else {
                    g.fill(f64::NAN);
                }
            }
        }
    }

    /// `log p(x)` of §3.2 and, if `grad` is given, `∇ log p(x)`, in one pass with a streaming
    /// log-sum-exp. Non-finite input gives a non-finite value.
    pub fn log_density_f64(&self, x: &SVector<f64, D>, grad: Option<&mut SVector<f64, D>>) -> f64 {
        let want_grad = grad.is_some();
        let nu = self.dof;
        let half_nd = 0.5 * (nu + D as f64);
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0;
        let mut acc = SVector::<f64, D>::zeros();
        let comps = self.log_w.iter().zip(&self.loc).zip(self.prec_chol.iter().zip(&self.log_norm));
        for ((&lw, mu), (r, &ln)) in comps {
            let z = x - mu;
            // w = Rᵀ z: w_j = Σ_{i ≥ j} R[i,j] z_i (column j of R is contiguous).
            let mut w = SVector::<f64, D>::zeros();
            for (j, (col, wj)) in r.as_slice().chunks_exact(D.max(1)).zip(w.iter_mut()).enumerate() {
                let (c, zz) = (col.get(j..).unwrap_or(&[]), z.as_slice().get(j..).unwrap_or(&[]));
                *wj = dot(c, zz);
            }
            let delta = w.norm_squared();
            let a = lw + ln - half_nd * libm::log1p(delta / nu);
            if a == f64::NEG_INFINITY {
                continue;
            }
            let wt = if a > max {
                let scale = if max == f64::NEG_INFINITY { 0.0 } else { libm::exp(max - a) };
                sum = sum * scale + 1.0;
                if want_grad {
                    acc *= scale;
                }
                max = a;
                1.0
            } else {
                let e = libm::exp(a - max);
                sum += e;
                e
            };
            if want_grad && a - max > -SKIP_LOG {
                // acc −= wt · ((ν + D)/(ν + δ)) · R w.
                let c = -wt * 2.0 * half_nd / (nu + delta);
                for (j, (col, &wj)) in r.as_slice().chunks_exact(D.max(1)).zip(w.iter()).enumerate() {
                    let f = c * wj;
                    let (cj, aj) = (col.get(j..).unwrap_or(&[]), acc.as_mut_slice().get_mut(j..).unwrap_or(&mut []));
                    for (ai, &rij) in aj.iter_mut().zip(cj) {
                        *ai += f * rij;
                    }
                }
            }
        }
        let lp = if sum > 0.0 {
            max + libm::log(sum)
        } else if sum == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
        if let Some(g) = grad {
            if sum > 0.0 {
                *g = acc / sum;
            } else {
                g.fill(f64::NAN);
            }
        }
        lp
    }
}

impl<T: Real, const D: usize, const M: usize> Target<T, D> for StudentTMixture<T, D, M> {
    /// `log p(x_i)` of docs/targets.md §3.2, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), TargetError> {
        self.rows_as_f64(x, log_p, None)
    }

    /// `log p(x_i)` and `∇ log p(x_i)` of docs/targets.md §3.2, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        self.rows_as_f64(x, log_p, Some(grad))
    }
}

impl<T: Real, const D: usize, const M: usize> StudentTMixture<T, D, M> {
    /// The trait's evaluation: blocks of [`STM_BLOCK`] rows converted to `f64` and back.
    fn rows_as_f64(
        &self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: Option<&mut [SVector<T, D>]>,
    ) -> Result<(), TargetError> {
        super::eval_blocks_as_f64::<T, D, STM_BLOCK>(x, log_p, grad, |xb, lb, gb| self.block(xb, lb, gb))
    }
}

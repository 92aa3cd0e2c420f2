//! Trust-region component update, letter `T` (spec algorithm.md §5.3).
//!
//! With the quadratic reward surrogate `R = Ĥ`, `r = Ĥμ − ĝ`, the candidate for a multiplier
//! `η > 0` is `q_η ∝ q·exp(ρ̃/η)`: `Λ_η = Λ + R/η`, `h_η = Λμ + r/η`, the maximiser of
//! `E_q[ρ̃] − η·KL(q‖q_old)`. The bound `KL(q_η‖q_old) ≤ ε` is met by a bracketing search over
//! `log η` (at most [`MAX_BRACKET_ITERS`] KL evaluations, in practice ≤ 20): cold start on
//! `[−20, 80]`, warm start on `ln η_last ± 3` (lower end ≥ 0); stop when the bracket is
//! narrower than 0.1 in linear space or the KL is within 10 % of ε. The accepted η is clipped
//! below at the temperature. KL of Gaussians, with `P = chol(Λ_η)`:
//! `KL = ½(2Σlog L_dd − D + 2Σlog P_dd + ‖P⁻¹L⁻ᵀ‖²_F + ‖L⁻¹(μ − μ_η)‖²)`.

use nalgebra::{Cholesky, SMatrix, SVector};

use super::Outcome;
use crate::model::cholesky;
use crate::real::Real;

/// Most KL evaluations of the bracketing search (the reference's bound).
pub const MAX_BRACKET_ITERS: usize = 1000;

/// `KL(η)` and the candidate `(μ_η, P)` with `P = chol(Λ_η)`; `None` if `Λ_η` is not
/// positive definite (the reference then reports `f32::MAX`).
pub(crate) struct Problem<'a, T: Real, const D: usize> {
    /// Current mean.
    pub mean: &'a SVector<T, D>,
    /// Current Cholesky factor `L`.
    pub chol: &'a SMatrix<T, D, D>,
    /// `(L⁻¹)ᵀ`.
    pub inv_t: &'a SMatrix<T, D, D>,
    /// Surrogate curvature `R = Ĥ`.
    pub r_mat: &'a SMatrix<T, D, D>,
    /// Surrogate linear term `r = Ĥμ − ĝ`.
    pub r_vec: &'a SVector<T, D>,
}

impl<T: Real, const D: usize> Problem<'_, T, D> {
    fn precision(&self) -> SMatrix<T, D, D> {
        self.inv_t * self.inv_t.transpose()
    }

    /// `(KL, μ_η, P)`.
    pub(crate) fn kl(&self, eta: T) -> Option<(T, SVector<T, D>, SMatrix<T, D, D>)> {
        let lam = self.precision();
        let lam_eta = lam + self.r_mat / eta;
        let h_eta = lam * self.mean + self.r_vec / eta;
        if lam_eta.iter().any(|v| !v.finite()) || h_eta.iter().any(|v| !v.finite()) {
            return None;
        }
        let ch = Cholesky::new(lam_eta)?;
        let p = ch.l();
        let mean_eta = ch.solve(&h_eta);
        let mut logdet_l = T::zero();
        let mut logdet_p = T::zero();
        for d in 0..D {
            if !(p[(d, d)] > T::zero()) {
                return None;
            }
            logdet_l += self.chol[(d, d)].ln();
            logdet_p += p[(d, d)].ln();
        }
        let pinv_lt = p.solve_lower_triangular(self.inv_t)?;
        let trace = pinv_lt.norm_squared();
        let diff = self.mean - mean_eta;
        let maha = (self.inv_t.transpose() * diff).norm_squared();
        let kl = T::of(0.5) * (T::of(2.0) * logdet_l - T::of(D as f64) + T::of(2.0) * logdet_p + trace + maha);
        if kl.finite() && mean_eta.iter().all(|v| v.finite()) { Some((kl, mean_eta, p)) } else { None }
    }
}

/// Result of [`update`]: the outcome, the new parameters when updated, and the number of KL
/// evaluations the search used.
pub(crate) struct Step<T: Real, const D: usize> {
    pub outcome: Outcome<T>,
    pub mean: SVector<T, D>,
    pub chol: SMatrix<T, D, D>,
    pub kl: T,
    pub evals: usize,
}

/// One trust-region update with KL bound `eps`, previous multiplier `last_eta` (< 0 = cold
/// start) and temperature `temp`.
pub(crate) fn update<T: Real, const D: usize>(pr: &Problem<'_, T, D>, eps: T, last_eta: T, temp: T) -> Step<T, D> {
    let (mut lo, mut hi) = if last_eta < T::zero() {
        (-20.0f64, 80.0f64)
    } else {
        let l = libm::log(last_eta.to_f64());
        ((l - 3.0).max(0.0), l + 3.0)
    };
    let eps64 = eps.to_f64();
    let mut e = 0.5 * (lo + hi);
    let mut ok = false;
    let mut evals = 0;
    for _ in 0..MAX_BRACKET_ITERS {
        let diff = (libm::exp(hi) - libm::exp(e)).min(libm::exp(e) - libm::exp(lo));
        if diff < 0.1 {
            break;
        }
        evals += 1;
        let kl = pr.kl(T::of(libm::exp(e))).map_or(f32::MAX as f64, |v| v.0.to_f64());
        if (eps64 - kl).abs() < 0.1 * eps64 {
            lo = e;
            hi = e;
            break;
        }
        if kl < eps64 {
            hi = e;
            ok = true;
        } else {
            lo = e;
        }
        e = 0.5 * (lo + hi);
    }
    if ok {
        lo = hi;
    }
    let rejected = Step { outcome: Outcome::Rejected, mean: *pr.mean, chol: *pr.chol, kl: T::zero(), evals };
    if lo != hi {
        return rejected;
    }
    let eta = T::of(libm::exp(lo)).max(temp);
    let Some((kl, mean, p)) = pr.kl(eta) else { return rejected };
    // Σ' = P⁻ᵀ P⁻¹, then L' = chol(Σ').
    let Some(p_inv) = p.solve_lower_triangular(&SMatrix::<T, D, D>::identity()) else { return rejected };
    let Some(chol) = cholesky(&(p_inv.transpose() * p_inv)) else { return rejected };
    Step { outcome: Outcome::Updated { eta }, mean, chol, kl, evals }
}

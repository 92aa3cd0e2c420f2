//! iBLR component update, letter `Y` (Arenz et al. 2023, §3.3; docs/algorithm.md §5.2): the
//! improved Bayesian learning rule of Lin et al. (2020), full covariances.
//!
//! With the old covariance `Σ = LLᵀ`, `Λ = Σ⁻¹` and step size `β`:
//! `Λ' = Λ + β·(Ĥ + (β/2)·ĤΣĤ)` (the second-order term keeps `Λ'` positive definite for a
//! symmetric `Ĥ` of either sign), `μ' = μ − β·Σĝ` — with the **old** `Σ`, and `μ' = μ` on a
//! component's very first update (`num_received_updates == 0`) — then `Σ' = Λ'⁻¹`,
//! `L' = chol(Σ')` (§14.4: the reference differs from Lin et al. in both points). The update is
//! rejected (component kept) when a factorisation fails or anything is non-finite.

use nalgebra::{SMatrix, SVector};

use super::direct::{inverse_and_factor, precision};
use crate::model::{lower_times_transpose, times};
use crate::real::Real;

/// New mean and lower Cholesky factor after an iBLR step of size `beta` from `(mean, chol)` with
/// the negated expected Hessian `hess` (`Ĥ`) and gradient `grad` (`ĝ`); `first_update` is true
/// for a component that has never been updated (its mean is then kept). `None` if rejected.
#[inline(never)]
pub(crate) fn update<T: Real, const D: usize>(
    mean: &SVector<T, D>,
    chol: &SMatrix<T, D, D>,
    hess: &SMatrix<T, D, D>,
    grad: &SVector<T, D>,
    beta: T,
    first_update: bool,
) -> Option<(SVector<T, D>, SMatrix<T, D, D>)> {
    let mut l = *chol;
    l.fill_upper_triangle(T::zero(), 1);
    let cov = lower_times_transpose(&l);
    let lam = precision(&l)?;
    // `hess * cov * hess`, a block of the product at a time (the same bits).
    let hch = times(&times(hess, &cov), hess);
    let new_lam = lam + (hess + hch * (beta * T::of(0.5))) * beta;
    let new_mean = if first_update { *mean } else { mean - cov * grad * beta };
    if new_mean.iter().any(|v| !v.finite()) {
        return None;
    }
    let (_, new_l) = inverse_and_factor(&new_lam)?;
    Some((new_mean, new_l))
}

/// [`update`] for the diagonal model, elementwise in O(D) (docs/algorithm.md §5.2): with `s =
/// L_d²`, `Λ'_d = 1/s + β(Ĥ_d + (β/2)Ĥ_d² s)`, `μ'_d = μ_d − β s ĝ_d` (kept on the first update),
/// `L'_d = (Λ'_d)^{-1/2}`. Only the diagonals of `chol` and `hess` are read.
#[inline(never)]
pub(crate) fn update_diag<T: Real, const D: usize>(
    mean: &SVector<T, D>,
    chol: &SMatrix<T, D, D>,
    hess: &SMatrix<T, D, D>,
    grad: &SVector<T, D>,
    beta: T,
    first_update: bool,
) -> Option<(SVector<T, D>, SMatrix<T, D, D>)> {
    let mut new_mean = *mean;
    let mut new_l = SMatrix::<T, D, D>::zeros();
    for d in 0..D {
        let s = chol[(d, d)] * chol[(d, d)];
        let h = hess[(d, d)];
        let lam = T::one() / s + beta * (h + beta * T::of(0.5) * h * h * s);
        if !first_update {
            new_mean[d] = mean[d] - beta * s * grad[d];
        }
        let l = (T::one() / lam).sqrt();
        if !(lam > T::zero()) || !l.finite() || !(l > T::zero()) || !new_mean[d].finite() {
            return None;
        }
        new_l[(d, d)] = l;
    }
    Some((new_mean, new_l))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cholesky;

    // The common component and quadratic reward of docs/algorithm.md §13: Ĥ = A, ĝ = Aμ − b.
    fn case() -> (SVector<f64, 2>, SMatrix<f64, 2, 2>, SMatrix<f64, 2, 2>, SVector<f64, 2>) {
        let mean = SVector::from([0.5, -0.2]);
        let chol = cholesky(&SMatrix::<f64, 2, 2>::new(1.0, 0.3, 0.3, 0.5)).unwrap();
        let a = SMatrix::<f64, 2, 2>::new(2.0, 0.5, 0.5, 1.0);
        let g = a * mean - SVector::from([1.0, -1.0]);
        (mean, chol, a, g)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-8 * b.abs()
    }

    const TV3_COV: [f64; 3] = [0.35826793768, 0.02813170863, 0.32791273011];

    fn check(first: bool, mu: [f64; 2]) {
        let (mean, chol, h, g) = case();
        let (m, l) = update(&mean, &chol, &h, &g, 0.5, first).unwrap();
        let s = l * l.transpose();
        assert_eq!(l[(0, 1)], 0.0, "factor must be lower triangular");
        assert!(close(m[0], mu[0]) && close(m[1], mu[1]), "mean {m:?} vs {mu:?}");
        let cov = TV3_COV;
        assert!(close(s[(0, 0)], cov[0]) && close(s[(0, 1)], cov[1]) && close(s[(1, 1)], cov[2]), "cov {s:?}");
    }

    #[test]
    fn tv3_iblr_already_updated() {
        check(false, [0.3925, -0.4475]);
    }

    #[test]
    fn tv3_iblr_first_update_keeps_mean() {
        check(true, [0.5, -0.2]);
    }

    #[test]
    fn negative_curvature_stays_positive_definite() {
        // Λ + β(Ĥ + (β/2)ĤΣĤ) is PD for any symmetric Ĥ; a moderately negative Ĥ must succeed.
        let (mean, chol, _, g) = case();
        let h = SMatrix::<f64, 2, 2>::new(-3.0, 0.2, 0.2, -5.0);
        let (m, l) = update(&mean, &chol, &h, &g, 0.5, false).unwrap();
        assert!(m.iter().chain(l.iter()).all(|v| v.is_finite()));
    }

    #[test]
    fn non_finite_is_rejected() {
        let (mean, chol, h, g) = case();
        let nan = SMatrix::<f64, 2, 2>::new(f64::NAN, 0.0, 0.0, 1.0);
        assert!(update(&mean, &chol, &nan, &g, 0.5, false).is_none());
        assert!(update(&mean, &chol, &h, &SVector::from([f64::NAN, 0.0]), 0.5, false).is_none());
        assert!(update(&mean, &SMatrix::<f64, 2, 2>::zeros(), &h, &g, 0.5, true).is_none());
        assert!(update(&mean, &chol, &h, &g, f64::INFINITY, true).is_none());
    }
}

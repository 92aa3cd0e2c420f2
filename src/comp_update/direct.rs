//! Direct natural-gradient component update, letter `I` (Arenz et al. 2023, §3.3; docs/algorithm.md
//! §5.1), full covariances only.
//!
//! With `Λ = L⁻ᵀL⁻¹` and `h = Λμ`, one natural-gradient step of size `β` in the natural
//! parameters of the component is
//! `Λ' = Λ + β·Ĥ`, `h' = h + β·(Ĥμ − ĝ)`, `μ' = Λ'⁻¹h'`, `Σ' = Λ'⁻¹`, `L' = chol(Σ')`.
//! With the quadratic surrogate `ρ̃(x) = −½xᵀĤx + (Ĥμ − ĝ)ᵀx` of `ρ = log p~ − log q` (§0.5)
//! the step is `q' ∝ q·exp(β·ρ̃)`; `β = 1` jumps to the Laplace-like fixed point. The update
//! is rejected (the component is kept, §5.4 then raises the MORE ridge) when a factorisation
//! fails or anything is non-finite.
//!
//! `Λ'` is factorised by Cholesky, `Λ' = PPᵀ`, instead of the reference's general solve and
//! inverse: if `Λ'` is not positive definite neither is `Σ'`, whose Cholesky factorisation then
//! fails in the reference as well, so the outcome is the same.

use nalgebra::{SMatrix, SVector};

use crate::model::{cholesky, gram_of_lower, lower_inverse};
use crate::real::Real;

/// New mean and lower Cholesky factor `L'` (`Σ' = L'L'ᵀ`) after a direct NG step of size `beta`
/// from the component `(mean, chol)` with the negated expected Hessian `hess` (`Ĥ`) and gradient
/// `grad` (`ĝ`) of the log ratio; `None` if the update is rejected.
#[inline(never)]
pub(crate) fn update<T: Real, const D: usize>(
    mean: &SVector<T, D>,
    chol: &SMatrix<T, D, D>,
    hess: &SMatrix<T, D, D>,
    grad: &SVector<T, D>,
    beta: T,
) -> Option<(SVector<T, D>, SMatrix<T, D, D>)> {
    let lam = precision(chol)?;
    let new_lam = lam + hess * beta;
    let new_h = lam * mean + (hess * mean - grad) * beta;
    from_natural(&new_lam, &new_h)
}

/// `Λ = L⁻ᵀL⁻¹` from a lower Cholesky factor (upper triangle ignored); `None` if `L` is singular
/// or the result non-finite.
pub(super) fn precision<T: Real, const D: usize>(chol: &SMatrix<T, D, D>) -> Option<SMatrix<T, D, D>> {
    let l_inv = lower_inverse(chol)?;
    let lam = gram_of_lower(&l_inv);
    lam.iter().all(|v| v.finite()).then_some(lam)
}

/// `(Σ', L')` with `Σ' = Λ'⁻¹ = P⁻ᵀP⁻¹` (`P = chol(Λ')`) and `L' = chol(Σ')`; `None` unless
/// `Λ'` and `Σ'` are finite and positive definite (shared with iBLR, §5.2).
pub(super) fn inverse_and_factor<T: Real, const D: usize>(
    lam: &SMatrix<T, D, D>,
) -> Option<(SMatrix<T, D, D>, SMatrix<T, D, D>)> {
    let p = cholesky(lam)?;
    let p_inv = lower_inverse(&p)?;
    let cov = gram_of_lower(&p_inv);
    let l = cholesky(&cov)?;
    Some((cov, l))
}

/// `(Λ'⁻¹h', chol(Λ'⁻¹))`; `None` if rejected.
fn from_natural<T: Real, const D: usize>(
    lam: &SMatrix<T, D, D>,
    h: &SVector<T, D>,
) -> Option<(SVector<T, D>, SMatrix<T, D, D>)> {
    let (cov, l) = inverse_and_factor(lam)?;
    let mean = cov * h;
    mean.iter().all(|v| v.finite()).then_some((mean, l))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn check(beta: f64, mu: [f64; 2], cov: [f64; 3]) {
        let (mean, chol, h, g) = case();
        let (m, l) = update(&mean, &chol, &h, &g, beta).unwrap();
        let s = l * l.transpose();
        assert_eq!(l[(0, 1)], 0.0, "factor must be lower triangular");
        assert!(close(m[0], mu[0]) && close(m[1], mu[1]), "mean {m:?} vs {mu:?}");
        assert!(
            close(s[(0, 0)], cov[0]) && close(s[(0, 1)], cov[1]) && close(s[(1, 1)], cov[2]),
            "cov {s:?} vs {cov:?}"
        );
    }

    #[test]
    fn tv2_direct_step_half() {
        check(0.5, [0.4831596802, -0.3813908408], [0.46716743397, 0.07656893627, 0.35279864308]);
    }

    #[test]
    fn tv2_direct_step_full() {
        check(1.0, [0.5091311566, -0.5047039292], [0.31211953514, 0.02102933038, 0.29219701162]);
    }

    #[test]
    fn non_pd_or_non_finite_is_rejected() {
        let (mean, chol, _, g) = case();
        let neg = SMatrix::<f64, 2, 2>::new(-1e3, 0.0, 0.0, -1e3);
        assert!(update(&mean, &chol, &neg, &g, 0.5).is_none());
        let nan = SMatrix::<f64, 2, 2>::new(f64::NAN, 0.0, 0.0, 1.0);
        assert!(update(&mean, &chol, &nan, &g, 0.5).is_none());
        let (_, _, h, _) = case();
        assert!(update(&mean, &chol, &h, &SVector::from([f64::INFINITY, 0.0]), 0.5).is_none());
        assert!(update(&mean, &SMatrix::<f64, 2, 2>::zeros(), &h, &g, 0.5).is_none());
    }

    #[test]
    fn zero_step_keeps_component() {
        let (mean, chol, h, g) = case();
        let (m, l) = update(&mean, &chol, &h, &g, 0.0).unwrap();
        assert!((m - mean).norm() < 1e-12 && (l - chol).norm() < 1e-12);
    }
}

//! Natural gradients of the Gaussian family (`docs/estimators.md` §9.1), as pure functions.
//!
//! The natural gradient is `g̃ = F⁻¹ ∇_λ L` with the Fisher information
//! `F(λ) = E_q[∇_λ log q ∇_λ log qᵀ]`. For an exponential family with natural parameters `η`
//! and mean parameters `m = ∇A(η)`, `F(η) = ∂m/∂η`, so the natural gradient in `η` is the
//! ordinary gradient in `m`; no matrix is inverted.
//!
//! * Diagonal Gaussian in `(μ, ω = ln σ)`: `F = diag(1/σ², 2)` per coordinate, so
//!   `g̃ = (σ² ∂_μ L, ½ ∂_ω L)` ([`diag_natural_gradient`]).
//! * Full Gaussian, `η = (Σ⁻¹μ, −½Σ⁻¹)`, mean parameters `(μ, Σ + μμᵀ)`: by the chain rule
//!   `g̃_η = (∇_μ L − 2 ∇_Σ L μ, ∇_Σ L)` ([`natural_gradient_eta`]). A step of size ρ,
//!   `η ← η + ρ g̃_η`, reads `Σ_new⁻¹ = Σ⁻¹ − 2ρ ∇_Σ L`, `μ_new = μ + ρ Σ_new ∇_μ L`
//!   ([`natural_step`]); with `∇_Σ L = ½ E_q[∇² log p~] + ½ Σ⁻¹` it is
//!   `Σ_new⁻¹ = (1 − ρ) Σ⁻¹ − ρ E_q[∇² log p~]` ([`natural_step_hessian`]), where the expected
//!   Hessian may be Stein's first-order estimate `E_q[∇ log p~ (x − μ)ᵀ] Σ⁻¹`, symmetrised
//!   ([`stein_expected_hessian`]). For a Gaussian target the natural gradient in `η` is
//!   `η* − η`, so the ρ = 1 step lands on the target.
//!
//! The full-covariance functions work with the precision `Λ = Σ⁻¹` (the natural parameter up
//! to the factor −½) and solve with its Cholesky factor.

use gmmvi::{Error, Real};
use nalgebra::{Cholesky, SMatrix, SVector};

fn all_finite<T: Real>(v: &[T]) -> bool {
    v.iter().all(|x| x.finite())
}

fn check_rho<T: Real>(rho: T) -> Result<(), Error> {
    if rho > T::zero() && rho.finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument { what: "natgrad: step size rho must be positive and finite" })
    }
}

/// Diagonal Fisher information of `N(μ, diag e^{2ω})` in `(μ, ω)`: writes `1/σ_d²` into
/// `f_mu` and `2` into `f_omega` (§9.1).
///
/// # Errors
/// `InvalidArgument` on a length mismatch or a non-finite `ω`.
pub fn diag_fisher<T: Real>(omega: &[T], f_mu: &mut [T], f_omega: &mut [T]) -> Result<(), Error> {
    if f_mu.len() != omega.len() || f_omega.len() != omega.len() {
        return Err(Error::InvalidArgument { what: "natgrad: buffer lengths differ" });
    }
    if !all_finite(omega) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite omega" });
    }
    for ((fm, fw), &w) in f_mu.iter_mut().zip(f_omega.iter_mut()).zip(omega) {
        *fm = (-T::of(2.0) * w).exp();
        *fw = T::of(2.0);
    }
    Ok(())
}

/// Natural gradient of the diagonal Gaussian in `(μ, ω)`: `g̃_μ = σ² ∂_μ L`,
/// `g̃_ω = ½ ∂_ω L` per coordinate (§9.1), written into `out_mu`, `out_omega`.
///
/// # Errors
/// `InvalidArgument` on a length mismatch or a non-finite input.
pub fn diag_natural_gradient<T: Real>(
    omega: &[T],
    grad_mu: &[T],
    grad_omega: &[T],
    out_mu: &mut [T],
    out_omega: &mut [T],
) -> Result<(), Error> {
    let n = omega.len();
    if grad_mu.len() != n || grad_omega.len() != n || out_mu.len() != n || out_omega.len() != n {
        return Err(Error::InvalidArgument { what: "natgrad: buffer lengths differ" });
    }
    if !(all_finite(omega) && all_finite(grad_mu) && all_finite(grad_omega)) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite input" });
    }
    for ((om, &w), &gm) in out_mu.iter_mut().zip(omega).zip(grad_mu) {
        *om = (T::of(2.0) * w).exp() * gm;
    }
    for (o, &g) in out_omega.iter_mut().zip(grad_omega) {
        *o = g * T::of(0.5);
    }
    Ok(())
}

/// Natural parameters `(η1, η2) = (Σ⁻¹μ, −½Σ⁻¹)` of `N(μ, Σ)`.
///
/// # Errors
/// `CholeskyFailed { component: 0 }` if `Σ` is not positive definite; `InvalidArgument` for
/// non-finite input.
pub fn to_natural<T: Real, const D: usize>(
    mu: &SVector<T, D>,
    sigma: &SMatrix<T, D, D>,
) -> Result<(SVector<T, D>, SMatrix<T, D, D>), Error> {
    let c = spd_chol(sigma)?;
    let prec = c.inverse();
    Ok((prec * mu, prec * T::of(-0.5)))
}

/// Inverse of [`to_natural`]: `Σ = (−2η2)⁻¹`, `μ = Σ η1`.
///
/// # Errors
/// `CholeskyFailed { component: 0 }` if `−2η2` is not positive definite; `InvalidArgument`
/// for non-finite input.
pub fn from_natural<T: Real, const D: usize>(
    eta1: &SVector<T, D>,
    eta2: &SMatrix<T, D, D>,
) -> Result<(SVector<T, D>, SMatrix<T, D, D>), Error> {
    if !all_finite(eta1.as_slice()) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite eta1" });
    }
    let c = spd_chol(&(eta2 * T::of(-2.0)))?;
    Ok((c.solve(eta1), c.inverse()))
}

/// Natural gradient of the ELBO w.r.t. `η = (Σ⁻¹μ, −½Σ⁻¹)` from the ordinary gradients
/// `∇_μ L`, `∇_Σ L`: `g̃_η = (∇_μ L − 2 ∇_Σ L μ, ∇_Σ L)` (the gradient w.r.t. the mean
/// parameters `(μ, Σ + μμᵀ)`, §9.1). `∇_Σ L` is symmetrised first.
pub fn natural_gradient_eta<T: Real, const D: usize>(
    mu: &SVector<T, D>,
    grad_mu: &SVector<T, D>,
    grad_sigma: &SMatrix<T, D, D>,
) -> (SVector<T, D>, SMatrix<T, D, D>) {
    let gs = (grad_sigma + grad_sigma.transpose()) * T::of(0.5);
    (grad_mu - gs * mu * T::of(2.0), gs)
}

/// Natural-gradient ascent step of size ρ in precision form (§9.1):
/// `Λ_new = Λ − 2ρ ∇_Σ L`, `μ_new = μ + ρ Λ_new⁻¹ ∇_μ L` (a Cholesky solve). Equivalent to
/// `η ← η + ρ g̃_η`. Returns `(μ_new, Λ_new)`.
///
/// # Errors
/// `CholeskyFailed { component: 0 }` if `Λ_new` is not positive definite (the caller keeps
/// the old q); `InvalidArgument` for non-finite input or ρ ≤ 0.
pub fn natural_step<T: Real, const D: usize>(
    mu: &SVector<T, D>,
    precision: &SMatrix<T, D, D>,
    grad_mu: &SVector<T, D>,
    grad_sigma: &SMatrix<T, D, D>,
    rho: T,
) -> Result<(SVector<T, D>, SMatrix<T, D, D>), Error> {
    check_rho(rho)?;
    if !all_finite(grad_sigma.as_slice()) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite gradient" });
    }
    let gs = (grad_sigma + grad_sigma.transpose()) * T::of(0.5);
    let new_prec = precision - gs * (T::of(2.0) * rho);
    finish_step(mu, precision, &new_prec, grad_mu, rho)
}

/// The same step written with the expected Hessian `H = E_q[∇²_x log p~]` and
/// `∇_μ L = E_q[∇_x log p~]` (§9.1): `Λ_new = (1 − ρ) Λ − ρ H`, `μ_new = μ + ρ Λ_new⁻¹ ∇_μ L`.
///
/// # Errors
/// As [`natural_step`].
pub fn natural_step_hessian<T: Real, const D: usize>(
    mu: &SVector<T, D>,
    precision: &SMatrix<T, D, D>,
    grad_mu: &SVector<T, D>,
    exp_hessian: &SMatrix<T, D, D>,
    rho: T,
) -> Result<(SVector<T, D>, SMatrix<T, D, D>), Error> {
    check_rho(rho)?;
    if !all_finite(exp_hessian.as_slice()) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite Hessian" });
    }
    let h = (exp_hessian + exp_hessian.transpose()) * T::of(0.5);
    let new_prec = precision * (T::one() - rho) - h * rho;
    finish_step(mu, precision, &new_prec, grad_mu, rho)
}

fn finish_step<T: Real, const D: usize>(
    mu: &SVector<T, D>,
    precision: &SMatrix<T, D, D>,
    new_prec: &SMatrix<T, D, D>,
    grad_mu: &SVector<T, D>,
    rho: T,
) -> Result<(SVector<T, D>, SMatrix<T, D, D>), Error> {
    if !(all_finite(mu.as_slice()) && all_finite(precision.as_slice()) && all_finite(grad_mu.as_slice())) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite input" });
    }
    let c = spd_chol(new_prec)?;
    let mu_new = mu + c.solve(grad_mu) * rho;
    if !all_finite(mu_new.as_slice()) {
        return Err(Error::InvalidArgument { what: "natgrad: step overflowed" });
    }
    Ok((mu_new, *new_prec))
}

/// Stein's first-order estimates from samples `x_s ~ N(μ, Λ⁻¹)` and target scores
/// `g_s = ∇ log p~(x_s)`: returns `(mean_s g_s, sym(mean_s g_s (x_s − μ)ᵀ Λ))`, estimates of
/// `∇_μ L = E_q[∇ log p~]` and `E_q[∇² log p~]` (§9.1).
///
/// # Errors
/// `InvalidArgument` if `x` and `g` differ in length, are empty, or hold a non-finite value.
pub fn stein_expected_hessian<T: Real, const D: usize>(
    mu: &SVector<T, D>,
    precision: &SMatrix<T, D, D>,
    x: &[SVector<T, D>],
    g: &[SVector<T, D>],
) -> Result<(SVector<T, D>, SMatrix<T, D, D>), Error> {
    if x.len() != g.len() || x.is_empty() {
        return Err(Error::InvalidArgument { what: "natgrad: x and g lengths differ or are 0" });
    }
    let mut mean_g = SVector::<T, D>::zeros();
    let mut cross = SMatrix::<T, D, D>::zeros();
    for (xs, gs) in x.iter().zip(g) {
        if !(all_finite(xs.as_slice()) && all_finite(gs.as_slice())) {
            return Err(Error::InvalidArgument { what: "natgrad: non-finite sample or score" });
        }
        mean_g += gs;
        cross.ger(T::one(), gs, &(xs - mu), T::one());
    }
    let inv_n = T::one() / T::of(x.len() as f64);
    let h = cross * precision * inv_n;
    Ok((mean_g * inv_n, (h + h.transpose()) * T::of(0.5)))
}

/// Cholesky of a symmetric positive-definite matrix; non-finite input is `InvalidArgument`.
fn spd_chol<T: Real, const D: usize>(s: &SMatrix<T, D, D>) -> Result<Cholesky<T, nalgebra::Const<D>>, Error> {
    const { assert!(D > 0) }
    if !all_finite(s.as_slice()) {
        return Err(Error::InvalidArgument { what: "natgrad: non-finite matrix" });
    }
    let c = Cholesky::new(*s).ok_or(Error::CholeskyFailed { component: 0 })?;
    let l = c.l_dirty();
    if (0..D).all(|d| l[(d, d)] > T::zero() && l[(d, d)].finite()) {
        Ok(c)
    } else {
        Err(Error::CholeskyFailed { component: 0 })
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use gmmvi::rng::fill_standard_normal;
    use nalgebra::{Matrix1, Matrix2, Vector1, Vector2};
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::vec;

    /// TP1 exact gradients at q = N(μ, σ²): (∂_μ L, ∂_Σ L) with target N(1, 4).
    fn tp1_grads(mu: f64, var: f64) -> (f64, f64) {
        let (m, s2) = (1.0, 4.0);
        ((m - mu) / s2, 0.5 * (1.0 / var - 1.0 / s2))
    }

    /// TP2: m = (1, −1), Σ_p = [[2, 0.6], [0.6, 1]]; exact gradients at q = N(μ, Σ).
    fn tp2() -> (Vector2<f64>, Matrix2<f64>) {
        let sp = Matrix2::new(2.0, 0.6, 0.6, 1.0);
        (Vector2::new(1.0, -1.0), sp.try_inverse().unwrap())
    }

    #[test]
    fn ng1_tp1_natural_gradient() {
        // (μ, ω): ordinary gradient (0.25, 0.75) at N(0, 1).
        let (mut gm, mut gw) = ([0.0f64], [0.0f64]);
        diag_natural_gradient(&[0.0], &[0.25], &[0.75], &mut gm, &mut gw).unwrap();
        assert_eq!((gm[0], gw[0]), (0.25, 0.375));
        let (mut fm, mut fw) = ([0.0], [0.0]);
        diag_fisher(&[0.0f64], &mut fm, &mut fw).unwrap();
        assert_eq!((fm[0], fw[0]), (1.0, 2.0));
        // η: g̃_η = ∇_m L = η* − η = (0.25, 0.375) exactly.
        let (g_mu, g_s) = tp1_grads(0.0, 1.0);
        let (e1, e2) = natural_gradient_eta(&Vector1::new(0.0), &Vector1::new(g_mu), &Matrix1::new(g_s));
        assert_eq!((e1[0], e2[(0, 0)]), (0.25, 0.375));
        let (eta1, eta2) = to_natural(&Vector1::new(0.0), &Matrix1::new(1.0)).unwrap();
        assert_eq!((eta1[0], eta2[(0, 0)]), (0.0, -0.5));
        assert_eq!((0.25 - eta1[0], -0.125 - eta2[(0, 0)]), (0.25, 0.375));
        // Any Gaussian target, any q: g̃_η = η* − η (TP2).
        let (m, p) = tp2();
        let mu = Vector2::new(0.3, 0.7);
        let sig = Matrix2::new(0.5, -0.1, -0.1, 2.0);
        let sig_inv = sig.try_inverse().unwrap();
        let (n1, n2) = natural_gradient_eta(&mu, &(p * (m - mu)), &((sig_inv - p) * 0.5));
        let (q1, q2) = to_natural(&mu, &sig).unwrap();
        assert!((n1 - (p * m - q1)).amax() < 1e-12);
        assert!((n2 - (p * -0.5 - q2)).amax() < 1e-12);
    }

    #[test]
    fn ng2_unit_step_lands_on_target() {
        // TP1 from several q, exact expectations.
        for &(mu, var) in &[(0.0f64, 1.0f64), (-3.0, 0.1), (2.5, 9.0)] {
            let (g_mu, g_s) = tp1_grads(mu, var);
            let (m1, p1) =
                natural_step(&Vector1::new(mu), &Matrix1::new(1.0 / var), &Vector1::new(g_mu), &Matrix1::new(g_s), 1.0)
                    .unwrap();
            assert!((m1[0] - 1.0).abs() < 1e-12 && (p1[(0, 0)] - 0.25).abs() < 1e-12);
        }
        // TP2 (2-D) from a correlated q, both step forms.
        let (m, p) = tp2();
        let mu = Vector2::new(-0.4, 0.9);
        let prec = Matrix2::new(3.0, 0.5, 0.5, 0.7);
        let g_mu = p * (m - mu);
        let (m1, p1) = natural_step(&mu, &prec, &g_mu, &((prec - p) * 0.5), 1.0).unwrap();
        assert!((m1 - m).amax() < 1e-12 && (p1 - p).amax() < 1e-12);
        let (m2, p2) = natural_step_hessian(&mu, &prec, &g_mu, &(-p), 1.0).unwrap();
        assert!((m2 - m).amax() < 1e-12 && (p2 - p).amax() < 1e-12);
        // ρ = 0.5 from N(0, 1) on TP1: η = (0.125, −0.3125), σ² = 1.6, μ = 0.2.
        let (g_mu, g_s) = tp1_grads(0.0, 1.0);
        let (mh, ph) =
            natural_step(&Vector1::new(0.0), &Matrix1::new(1.0), &Vector1::new(g_mu), &Matrix1::new(g_s), 0.5).unwrap();
        assert!((mh[0] - 0.2).abs() < 1e-15 && (1.0 / ph[(0, 0)] - 1.6).abs() < 1e-14);
        let (e1, e2) = to_natural(&mh, &Matrix1::new(1.0 / ph[(0, 0)])).unwrap();
        assert!((e1[0] - 0.125).abs() < 1e-14 && (e2[(0, 0)] + 0.3125).abs() < 1e-14);
    }

    #[test]
    fn ng2_stein_estimate_tp1() {
        const S: usize = 100_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5eed_0091);
        let mut eps = vec![0.0f64; S];
        fill_standard_normal(&mut rng, &mut eps);
        let x: std::vec::Vec<Vector1<f64>> = eps.iter().map(|&e| Vector1::new(e)).collect();
        let g: std::vec::Vec<Vector1<f64>> = x.iter().map(|x| Vector1::new(-(x[0] - 1.0) / 4.0)).collect();
        let (mu, prec) = (Vector1::new(0.0), Matrix1::new(1.0));
        let (gm, h) = stein_expected_hessian(&mu, &prec, &x, &g).unwrap();
        let (m1, p1) = natural_step_hessian(&mu, &prec, &gm, &h, 1.0).unwrap();
        let var = 1.0 / p1[(0, 0)];
        std::println!("NG2 Stein: mean {} var {}", m1[0], var);
        assert!((m1[0] - 1.0).abs() < 0.03, "{}", m1[0]);
        assert!((var - 4.0).abs() < 0.05 * 4.0, "{var}");
    }

    #[test]
    fn ng3_invariance() {
        // The precision-form step equals η ← η + ρ g̃_η exactly, for ρ = 1 and ρ = 0.5.
        let (m, p) = tp2();
        let mu = Vector2::new(0.2, -0.3);
        let sig = Matrix2::new(1.5, 0.2, 0.2, 0.6);
        let prec = sig.try_inverse().unwrap();
        let (g_mu, g_s) = (p * (m - mu), (prec - p) * 0.5);
        for rho in [1.0, 0.5] {
            let (m1, p1) = natural_step(&mu, &prec, &g_mu, &g_s, rho).unwrap();
            let (e1, e2) = to_natural(&mu, &sig).unwrap();
            let (n1, n2) = natural_gradient_eta(&mu, &g_mu, &g_s);
            let (m2, s2) = from_natural(&(e1 + n1 * rho), &(e2 + n2 * rho)).unwrap();
            assert!((m1 - m2).amax() < 1e-12);
            assert!((p1 - s2.try_inverse().unwrap()).amax() < 1e-12);
        }
        // (μ, ω) with F⁻¹: the same tangent vector as g̃_η (pushed through ∂η/∂(μ, ω)), at
        // several points of TP1; so small steps agree to O(ρ²).
        for &(mu, om) in &[(0.0f64, 0.0f64), (0.7, -0.4), (-2.0, 0.9)] {
            let var = (2.0 * om).exp();
            let (g_mu, g_s) = tp1_grads(mu, var);
            let g_om = 2.0 * var * g_s; // ∂Σ/∂ω = 2σ²
            let (mut nm, mut nw) = ([0.0], [0.0]);
            diag_natural_gradient(&[om], &[g_mu], &[g_om], &mut nm, &mut nw).unwrap();
            // η1 = μ e^{−2ω}, η2 = −½ e^{−2ω}.
            let j_eta1 = (nm[0] - 2.0 * mu * nw[0]) / var;
            let j_eta2 = nw[0] / var;
            let (n1, n2) = natural_gradient_eta(&Vector1::new(mu), &Vector1::new(g_mu), &Matrix1::new(g_s));
            assert!((j_eta1 - n1[0]).abs() < 1e-12 && (j_eta2 - n2[(0, 0)]).abs() < 1e-12);
            let mut prev = f64::INFINITY;
            for rho in [1e-2, 1e-3] {
                let (m_eta, p_eta) = natural_step(
                    &Vector1::new(mu),
                    &Matrix1::new(1.0 / var),
                    &Vector1::new(g_mu),
                    &Matrix1::new(g_s),
                    rho,
                )
                .unwrap();
                let m_mw = mu + rho * nm[0];
                let v_mw = (2.0 * (om + rho * nw[0])).exp();
                let diff = (m_eta[0] - m_mw).abs() + (1.0 / p_eta[(0, 0)] - v_mw).abs();
                assert!(diff < 50.0 * rho * rho, "rho {rho}: {diff}");
                assert!(diff < prev);
                prev = diff;
            }
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        let mu = Vector1::new(0.0f64);
        let p = Matrix1::new(1.0);
        // Too large a step makes the precision indefinite.
        assert_eq!(natural_step(&mu, &p, &mu, &Matrix1::new(1.0), 1.0), Err(Error::CholeskyFailed { component: 0 }));
        assert!(natural_step(&mu, &p, &mu, &Matrix1::new(0.0), 0.0).is_err());
        assert!(natural_step(&mu, &p, &mu, &Matrix1::new(f64::NAN), 0.5).is_err());
        assert!(natural_step(&Vector1::new(f64::NAN), &p, &mu, &Matrix1::new(0.0), 0.5).is_err());
        assert!(to_natural(&mu, &Matrix1::new(-1.0)).is_err());
        assert!(from_natural(&mu, &Matrix1::new(0.5)).is_err());
        assert!(stein_expected_hessian::<f64, 1>(&mu, &p, &[], &[]).is_err());
        assert!(stein_expected_hessian(&mu, &p, &[mu], &[Vector1::new(f64::INFINITY)]).is_err());
        let mut o = [0.0; 2];
        let mut o1 = [0.0; 1];
        assert!(diag_natural_gradient(&[0.0f64], &[0.0], &[0.0], &mut o, &mut o1).is_err());
        assert!(diag_natural_gradient(&[f64::NAN], &[0.0], &[0.0], &mut [0.0], &mut o1).is_err());
        assert!(diag_fisher(&[0.0f64], &mut o, &mut o1).is_err());
    }
}

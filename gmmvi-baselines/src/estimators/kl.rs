//! Closed-form Gaussian KL divergences and the unit-variance Gaussian log-likelihood: the
//! analytic pieces of the VAE-style objective `L = E_q[log p(y | x)] − KL(q(x) ‖ p(x))`
//! (`docs/estimators.md` §15).
//!
//! * Full covariance: `KL(N(μ0, Σ0) ‖ N(μ1, Σ1)) = ½ [tr(Σ1⁻¹Σ0) + (μ1 − μ0)ᵀΣ1⁻¹(μ1 − μ0) −
//!   D + ln(det Σ1 / det Σ0)]`, evaluated with Cholesky factors `Σi = Li Liᵀ`:
//!   `tr(Σ1⁻¹Σ0) = ‖L1⁻¹L0‖²_F`, the quadratic form is `‖L1⁻¹(μ1 − μ0)‖²` and
//!   `ln det Σi = 2 Σ_d ln (Li)_dd` — triangular solves and log-diagonals, never an explicit
//!   inverse or determinant.
//! * Diagonal `q = N(μ, diag σ²)`, `ω = ln σ`, against `N(0, I)`:
//!   `KL = ½ Σ_d (σ_d² + μ_d² − 1 − 2ω_d)`, `∂KL/∂μ_d = μ_d`, `∂KL/∂ω_d = σ_d² − 1`.
//! * `log p(y | x) = −½‖y − decoder(x)‖² − (dim y / 2) ln 2π`, gradient w.r.t. the decoder
//!   output `y − decoder(x)`.

use gmmvi::real::LN_2PI;
use gmmvi::{Error, Real};
use nalgebra::{Cholesky, SMatrix, SVector};

fn check_finite<T: Real>(v: &[T], what: &'static str) -> Result<(), Error> {
    if v.iter().all(|x| x.finite()) { Ok(()) } else { Err(Error::InvalidArgument { what }) }
}

/// `KL(N(μ0, L0 L0ᵀ) ‖ N(μ1, L1 L1ᵀ))` from lower-triangular Cholesky factors (§15).
///
/// Only the lower triangles of `l0`, `l1` are read.
///
/// # Errors
/// `InvalidArgument` for non-finite input or a factor whose diagonal is not strictly
/// positive (it would not be a Cholesky factor of a positive-definite matrix).
pub fn kl_gaussian_chol<T: Real, const D: usize>(
    mu0: &SVector<T, D>,
    l0: &SMatrix<T, D, D>,
    mu1: &SVector<T, D>,
    l1: &SMatrix<T, D, D>,
) -> Result<T, Error> {
    const { assert!(D > 0) }
    check_finite(mu0.as_slice(), "kl: non-finite mean")?;
    check_finite(mu1.as_slice(), "kl: non-finite mean")?;
    check_finite(l0.as_slice(), "kl: non-finite Cholesky factor")?;
    check_finite(l1.as_slice(), "kl: non-finite Cholesky factor")?;
    let mut log_det_ratio = T::zero(); // ln det Σ1 − ln det Σ0
    for d in 0..D {
        let (a, b) = (l0[(d, d)], l1[(d, d)]);
        if !(a > T::zero() && b > T::zero()) {
            return Err(Error::InvalidArgument { what: "kl: Cholesky diagonal not positive" });
        }
        log_det_ratio += (b.ln() - a.ln()) * T::of(2.0);
    }
    let l0 = l0.lower_triangle();
    let l1 = l1.lower_triangle();
    // L1⁻¹ L0 and L1⁻¹ (μ1 − μ0) by forward substitution; L1 has a positive diagonal.
    let a = l1.solve_lower_triangular(&l0).ok_or(Error::InvalidArgument { what: "kl: singular Cholesky factor" })?;
    let r = l1
        .solve_lower_triangular(&(mu1 - mu0))
        .ok_or(Error::InvalidArgument { what: "kl: singular Cholesky factor" })?;
    let kl = (a.norm_squared() + r.norm_squared() - T::of(D as f64) + log_det_ratio) * T::of(0.5);
    if kl.finite() { Ok(kl) } else { Err(Error::InvalidArgument { what: "kl: overflow" }) }
}

/// `KL(N(μ0, Σ0) ‖ N(μ1, Σ1))` for full covariances (§15), via their Cholesky factors.
///
/// # Errors
/// `CholeskyFailed { component: 0 }` if `Σ0` is not positive definite, `component: 1` for `Σ1`;
/// `InvalidArgument` for non-finite or non-symmetric input.
pub fn kl_gaussian<T: Real, const D: usize>(
    mu0: &SVector<T, D>,
    sigma0: &SMatrix<T, D, D>,
    mu1: &SVector<T, D>,
    sigma1: &SMatrix<T, D, D>,
) -> Result<T, Error> {
    let l0 = chol(sigma0, 0)?;
    let l1 = chol(sigma1, 1)?;
    kl_gaussian_chol(mu0, &l0, mu1, &l1)
}

/// Lower Cholesky factor of a symmetric positive-definite `s`; `component` names it in the error.
fn chol<T: Real, const D: usize>(s: &SMatrix<T, D, D>, component: usize) -> Result<SMatrix<T, D, D>, Error> {
    check_finite(s.as_slice(), "kl: non-finite covariance")?;
    let scale = s.amax();
    for i in 0..D {
        for j in 0..i {
            if (s[(i, j)] - s[(j, i)]).abs() > scale * T::of(1e-10) {
                return Err(Error::InvalidArgument { what: "kl: covariance not symmetric" });
            }
        }
    }
    let c = Cholesky::new(*s).ok_or(Error::CholeskyFailed { component })?;
    let l = c.l();
    // nalgebra accepts a zero pivot it cannot divide by only as NaN/inf; reject those too.
    if (0..D).all(|d| l[(d, d)] > T::zero() && l[(d, d)].finite()) {
        Ok(l)
    } else {
        Err(Error::CholeskyFailed { component })
    }
}

/// `KL(N(μ, diag e^{2ω}) ‖ N(0, I)) = ½ Σ_d (σ_d² + μ_d² − 1 − 2ω_d)` (§15).
///
/// # Errors
/// `InvalidArgument` on a length mismatch, an empty input or a non-finite value.
pub fn kl_diag_std_normal<T: Real>(mu: &[T], omega: &[T]) -> Result<T, Error> {
    if mu.len() != omega.len() || mu.is_empty() {
        return Err(Error::InvalidArgument { what: "kl_diag: mu and omega lengths differ or are 0" });
    }
    check_finite(mu, "kl_diag: non-finite mu")?;
    check_finite(omega, "kl_diag: non-finite omega")?;
    let two = T::of(2.0);
    let mut s = T::zero();
    for (&m, &w) in mu.iter().zip(omega) {
        s += (two * w).exp() + m * m - T::one() - two * w;
    }
    let kl = s * T::of(0.5);
    if kl.finite() { Ok(kl) } else { Err(Error::InvalidArgument { what: "kl_diag: overflow" }) }
}

/// [`kl_diag_std_normal`] and its gradients `∂KL/∂μ_d = μ_d`, `∂KL/∂ω_d = σ_d² − 1`, written
/// into `grad_mu` and `grad_omega` (§15).
///
/// # Errors
/// As [`kl_diag_std_normal`]; also `InvalidArgument` if a gradient buffer has the wrong length.
pub fn kl_diag_std_normal_grad<T: Real>(
    mu: &[T],
    omega: &[T],
    grad_mu: &mut [T],
    grad_omega: &mut [T],
) -> Result<T, Error> {
    if grad_mu.len() != mu.len() || grad_omega.len() != mu.len() {
        return Err(Error::InvalidArgument { what: "kl_diag: gradient buffer length" });
    }
    let kl = kl_diag_std_normal(mu, omega)?;
    for (g, &m) in grad_mu.iter_mut().zip(mu) {
        *g = m;
    }
    for (g, &w) in grad_omega.iter_mut().zip(omega) {
        *g = (T::of(2.0) * w).exp() - T::one();
    }
    Ok(kl)
}

/// Unit-variance Gaussian log-likelihood `log N(y; mean, I) = −½‖y − mean‖² − (dim/2) ln 2π`
/// (§15; `mean` is the decoder output).
///
/// # Errors
/// `InvalidArgument` on a length mismatch or an empty input. Non-finite values propagate
/// into the result (the caller rejects the sample).
pub fn gaussian_unit_loglik<T: Real>(y: &[T], mean: &[T]) -> Result<T, Error> {
    if y.len() != mean.len() || y.is_empty() {
        return Err(Error::InvalidArgument { what: "loglik: y and mean lengths differ or are 0" });
    }
    let mut s = T::zero();
    for (&a, &b) in y.iter().zip(mean) {
        s += (a - b) * (a - b);
    }
    Ok(-s * T::of(0.5) - T::of(0.5 * y.len() as f64 * LN_2PI))
}

/// [`gaussian_unit_loglik`] and its gradient w.r.t. `mean`, `y − mean`, written into `grad`.
///
/// # Errors
/// As [`gaussian_unit_loglik`]; also `InvalidArgument` if `grad` has the wrong length.
pub fn gaussian_unit_loglik_grad<T: Real>(y: &[T], mean: &[T], grad: &mut [T]) -> Result<T, Error> {
    if grad.len() != y.len() {
        return Err(Error::InvalidArgument { what: "loglik: gradient buffer length" });
    }
    let l = gaussian_unit_loglik(y, mean)?;
    for ((g, &a), &b) in grad.iter_mut().zip(y).zip(mean) {
        *g = a - b;
    }
    Ok(l)
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

    #[test]
    fn vk1_closed_form() {
        let kl = kl_diag_std_normal(&[1.0f64], &[2f64.ln()]).unwrap();
        assert!((kl - 1.3068528194400546).abs() < 1e-14, "{kl}");
        let full =
            kl_gaussian(&Vector1::new(1.0f64), &Matrix1::new(4.0), &Vector1::new(0.0), &Matrix1::new(1.0)).unwrap();
        assert!((full - 1.3068528194400546).abs() < 1e-14);
        let mu = [1.0f64, -0.5];
        let om = [2f64.ln(), 0.5f64.ln()];
        let (mut gm, mut gw) = ([0.0; 2], [0.0; 2]);
        let kl = kl_diag_std_normal_grad(&mu, &om, &mut gm, &mut gw).unwrap();
        assert!((kl - 1.75).abs() < 1e-14, "{kl}");
        assert_eq!(gm, mu);
        assert!((gw[0] - 3.0).abs() < 1e-14 && (gw[1] + 0.75).abs() < 1e-14);
        // Gradients against central differences.
        let h = 1e-6;
        for d in 0..2 {
            let (mut a, mut b) = (om, om);
            a[d] += h;
            b[d] -= h;
            let fd = (kl_diag_std_normal(&mu, &a).unwrap() - kl_diag_std_normal(&mu, &b).unwrap()) / (2.0 * h);
            assert!((fd - gw[d]).abs() < 1e-8);
        }
    }

    #[test]
    fn vk2_full_covariance() {
        let kl = kl_gaussian(
            &Vector2::new(0.2f64, -0.1),
            &Matrix2::new(1.0, 0.3, 0.3, 0.5),
            &Vector2::new(1.0, 0.5),
            &Matrix2::new(2.0, -0.4, -0.4, 1.0),
        )
        .unwrap();
        assert!((kl - 0.833290541104513).abs() < 1e-13, "{kl}");
        // KL(q‖q) = 0; f32 works too.
        let s = Matrix2::new(1.0f32, 0.3, 0.3, 0.5);
        let z = kl_gaussian(&Vector2::new(0.2f32, -0.1), &s, &Vector2::new(0.2, -0.1), &s).unwrap();
        assert!(z.abs() < 1e-6);
    }

    #[test]
    fn bad_input_is_an_error() {
        let m = Vector2::new(0.0f64, 0.0);
        let i = Matrix2::identity();
        let not_pd = Matrix2::new(1.0, 2.0, 2.0, 1.0);
        assert_eq!(kl_gaussian(&m, &not_pd, &m, &i), Err(Error::CholeskyFailed { component: 0 }));
        assert_eq!(kl_gaussian(&m, &i, &m, &not_pd), Err(Error::CholeskyFailed { component: 1 }));
        let zero = Matrix2::zeros();
        assert!(kl_gaussian(&m, &i, &m, &zero).is_err());
        let nan = Matrix2::new(f64::NAN, 0.0, 0.0, 1.0);
        assert!(matches!(kl_gaussian(&m, &nan, &m, &i), Err(Error::InvalidArgument { .. })));
        let asym = Matrix2::new(1.0, 0.5, 0.0, 1.0);
        assert!(matches!(kl_gaussian(&m, &asym, &m, &i), Err(Error::InvalidArgument { .. })));
        assert!(kl_gaussian_chol(&m, &zero, &m, &i).is_err());
        assert!(kl_diag_std_normal(&[0.0f64], &[]).is_err());
        assert!(kl_diag_std_normal::<f64>(&[], &[]).is_err());
        assert!(kl_diag_std_normal(&[0.0f64], &[f64::INFINITY]).is_err());
        assert!(kl_diag_std_normal(&[0.0f64], &[1e6]).is_err());
        assert!(gaussian_unit_loglik(&[0.0f64], &[0.0, 1.0]).is_err());
        let mut g = [0.0; 3];
        assert!(gaussian_unit_loglik_grad(&[0.0f64], &[0.0], &mut g).is_err());
    }

    #[test]
    fn loglik_value_and_gradient() {
        let y = [1.0f64, -2.0, 0.5];
        let m = [0.5, -1.0, 0.5];
        let mut g = [0.0; 3];
        let l = gaussian_unit_loglik_grad(&y, &m, &mut g).unwrap();
        assert!((l - (-0.5 * 1.25 - 1.5 * LN_2PI)).abs() < 1e-14);
        assert_eq!(g, [0.5, -1.0, 0.0]);
    }

    /// VK3: SVI-A target, `q = N(0.5, 0.3²)`: MC log-likelihood + analytic KL vs plain MC ELBO.
    #[test]
    fn vk3_analytic_kl_vs_plain_mc() {
        const S: usize = 100_000;
        let y = [1.2f64, 0.4, 2.1, 1.7, 0.9, 1.5];
        let (mu, sd, prior_var) = (0.5f64, 0.3f64, 4.0f64);
        let exact = -10.0532511841;
        let kl = kl_gaussian(&Vector1::new(mu), &Matrix1::new(sd * sd), &Vector1::new(0.0), &Matrix1::new(prior_var))
            .unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5eed_0003);
        let mut eps = [0.0f64; 1000];
        let (mut a, mut b) = (vec![0.0f64; S], vec![0.0f64; S]);
        for (ca, cb) in a.chunks_mut(1000).zip(b.chunks_mut(1000)) {
            fill_standard_normal(&mut rng, &mut eps);
            for ((va, vb), &e) in ca.iter_mut().zip(cb.iter_mut()).zip(&eps) {
                let x = mu + sd * e;
                let mut ll = 0.0;
                for &yn in &y {
                    ll += gaussian_unit_loglik(&[yn], &[x]).unwrap();
                }
                let log_prior = -0.5 * x * x / prior_var - 0.5 * (LN_2PI + prior_var.ln());
                let log_q = -0.5 * e * e - sd.ln() - 0.5 * LN_2PI;
                *va = ll - kl;
                *vb = ll + log_prior - log_q;
            }
        }
        for (v, want_var) in [(&a, 2.2194), (&b, 2.062709375)] {
            let n = S as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            let m4 = v.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n;
            let se_mean = (want_var / n).sqrt();
            let se_var = ((m4 - var * var) / n).sqrt();
            std::println!("VK3: mean {mean} (exact {exact}), var {var} (exact {want_var}, se {se_var})");
            assert!((mean - exact).abs() <= 5.0 * se_mean, "mean {mean} vs {exact}");
            assert!((var - want_var).abs() <= 5.0 * se_var, "var {var} vs {want_var} (se {se_var})");
        }
    }
}

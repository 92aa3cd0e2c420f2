//! Trust-region component update, letter `T` (Arenz et al. 2023, §3.3; docs/algorithm.md §5.3).
//!
//! With the quadratic reward surrogate `R = Ĥ`, `r = Ĥμ − ĝ`, the candidate for a multiplier
//! `η > 0` is `q_η ∝ q·exp(ρ̃/η)`: `Λ_η = Λ + R/η`, `h_η = Λμ + r/η`, the maximiser of
//! `E_q[ρ̃] − η·KL(q‖q_old)`. The bound `KL(q_η‖q_old) ≤ ε` is met by a bracketing search over
//! `log η` (at most [`MAX_BRACKET_ITERS`] KL evaluations, in practice ≤ 20): cold start on
//! `[−20, 80]`, warm start on `ln η_last ± 3` (lower end ≥ 0); stop when the bracket is
//! narrower than 0.1 in linear space or the KL is within 10 % of ε. The accepted η is clipped
//! below at the temperature. KL of Gaussians, with `P = chol(Λ_η)`:
//! `KL = ½(2Σlog L_dd − D + 2Σlog P_dd + ‖P⁻¹L⁻ᵀ‖²_F + ‖L⁻¹(μ − μ_η)‖²)`.
//!
//! Diagonal model (only the diagonals of `L` and `R` are read), O(D) per evaluation:
//! `KL = ½(max(0, Σ_d [log(Λ_η,d/Λ_d) + Λ_d/Λ_η,d] − D) + Σ_d ((μ_d − μ_η,d)/L_d)²)`.

use nalgebra::{Cholesky, SMatrix, SVector};

use super::Outcome;
use crate::model::{
    cholesky, gram_of_lower, gram_of_upper_transpose, lower_inverse, solve_lower_in_place, transpose_times,
};
use crate::real::Real;

/// Most KL evaluations of the bracketing search (the reference's bound).
pub const MAX_BRACKET_ITERS: usize = 1000;

/// From this dimension on, [`Problem::kl`] solves `P⁻¹L⁻ᵀ` in column blocks.
const BLOCKED_KL_DIM: usize = 16;

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
    /// Diagonal model: `L` and `R` are diagonal (off-diagonals are not read).
    pub diag: bool,
}

/// What every KL evaluation of one search shares: `Λ = L⁻ᵀL⁻¹`, `Λμ` and `Σ_d log L_dd`,
/// computed once per search rather than per `η` (the same values bit for bit).
pub(crate) struct Fixed<T: Real, const D: usize> {
    lam: SMatrix<T, D, D>,
    lam_mean: SVector<T, D>,
    logdet_l: T,
}

impl<T: Real, const D: usize> Problem<'_, T, D> {
    /// The η-independent part of [`Self::kl`] (unused by the diagonal model).
    pub(crate) fn fixed(&self) -> Fixed<T, D> {
        if self.diag {
            return Fixed { lam: SMatrix::zeros(), lam_mean: SVector::zeros(), logdet_l: T::zero() };
        }
        // inv_t·inv_tᵀ, with inv_tᵀ = L⁻¹ lower triangular.
        let lam = gram_of_upper_transpose(self.inv_t);
        let mut logdet_l = T::zero();
        for d in 0..D {
            logdet_l += self.chol[(d, d)].ln();
        }
        Fixed { lam, lam_mean: lam * self.mean, logdet_l }
    }

    /// `(KL, μ_η)`, and `P` into `p` if given (the search needs only the KL: no copy of the
    /// factor per evaluation); `fx` is [`Self::fixed`] of this problem.
    pub(crate) fn kl(&self, fx: &Fixed<T, D>, eta: T, p: Option<&mut SMatrix<T, D, D>>) -> Option<(T, SVector<T, D>)> {
        if self.diag {
            return self.kl_diag(eta, p);
        }
        let lam_eta = fx.lam + self.r_mat / eta;
        let h_eta = fx.lam_mean + self.r_vec / eta;
        if lam_eta.iter().any(|v| !v.finite()) || h_eta.iter().any(|v| !v.finite()) {
            return None;
        }
        let ch = Cholesky::new(lam_eta)?;
        // Its strict upper triangle is garbage, which neither the solves nor the diagonal read.
        let l = ch.l_dirty();
        let mean_eta = ch.solve(&h_eta);
        let mut logdet_p = T::zero();
        for d in 0..D {
            if !(l[(d, d)] > T::zero()) {
                return None;
            }
            logdet_p += l[(d, d)].ln();
        }
        let diff = self.mean - mean_eta;
        // The same bits either way; the column-blocked forms pay off once P⁻¹'s operand and
        // L⁻ᵀ outgrow the caches, the dense ones are shorter for small D.
        let (trace, maha) = if D >= BLOCKED_KL_DIM {
            let mut pinv_lt = *self.inv_t;
            if !solve_lower_in_place(l, &mut pinv_lt) {
                return None;
            }
            (pinv_lt.norm_squared(), transpose_times(self.inv_t, &diff).norm_squared())
        } else {
            let pinv_lt = l.solve_lower_triangular(self.inv_t)?;
            (pinv_lt.norm_squared(), (self.inv_t.transpose() * diff).norm_squared())
        };
        let kl = T::of(0.5) * (T::of(2.0) * fx.logdet_l - T::of(D as f64) + T::of(2.0) * logdet_p + trace + maha);
        if !(kl.finite() && mean_eta.iter().all(|v| v.finite())) {
            return None;
        }
        if let Some(p) = p {
            *p = ch.l();
        }
        Some((kl, mean_eta))
    }
}

impl<T: Real, const D: usize> Problem<'_, T, D> {
    fn kl_diag(&self, eta: T, p: Option<&mut SMatrix<T, D, D>>) -> Option<(T, SVector<T, D>)> {
        let mut p = p;
        if let Some(p) = p.as_deref_mut() {
            p.fill(T::zero());
        }
        let mut mean_eta = SVector::<T, D>::zeros();
        let (mut logs, mut maha) = (T::zero(), T::zero());
        for d in 0..D {
            let a = self.inv_t[(d, d)]; // 1/L_d
            let lam = a * a;
            let lam_eta = lam + self.r_mat[(d, d)] / eta;
            if !(lam_eta > T::zero()) || !lam_eta.finite() {
                return None;
            }
            mean_eta[d] = (lam * self.mean[d] + self.r_vec[d] / eta) / lam_eta;
            if let Some(p) = p.as_deref_mut() {
                p[(d, d)] = lam_eta.sqrt();
            }
            logs += (lam_eta / lam).ln() + lam / lam_eta;
            let m = (self.mean[d] - mean_eta[d]) * a;
            maha += m * m;
        }
        let kl = T::of(0.5) * ((logs - T::of(D as f64)).max(T::zero()) + maha);
        if kl.finite() && mean_eta.iter().all(|v| v.finite()) { Some((kl, mean_eta)) } else { None }
    }
}

/// Result of [`update`]: the outcome, the new parameters when updated, and the number of KL
/// evaluations the search used.
pub(crate) struct Step<T: Real, const D: usize> {
    pub outcome: Outcome<T>,
    pub mean: SVector<T, D>,
    pub chol: SMatrix<T, D, D>,
    // Read by the unit tests (TV4–TV6 of docs/algorithm.md §13).
    #[cfg_attr(not(test), allow(dead_code))]
    pub kl: T,
    #[cfg_attr(not(test), allow(dead_code))]
    pub evals: usize,
}

/// One trust-region update with KL bound `eps`, previous multiplier `last_eta` (`None`: cold
/// start) and temperature `temp`.
#[inline(never)]
pub(crate) fn update<T: Real, const D: usize>(
    pr: &Problem<'_, T, D>,
    eps: T,
    last_eta: Option<T>,
    temp: T,
) -> Step<T, D> {
    // Bisection over log η in `T` (f32 builds link no f64 arithmetic); for f64 the same
    // operations as an explicit f64 search.
    let (mut lo, mut hi) = match last_eta {
        None => (T::of(-20.0), T::of(80.0)),
        Some(eta) => {
            let l = eta.ln();
            ((l - T::of(3.0)).max(T::zero()), l + T::of(3.0))
        }
    };
    let (half, tol, rel) = (T::of(0.5), T::of(0.1), T::of(0.1));
    let mut e = half * (lo + hi);
    let mut ok = false;
    let mut evals = 0;
    let fx = pr.fixed();
    // exp of the bracket's ends, carried along with them (each is some earlier `e`).
    let (mut exp_lo, mut exp_hi) = (lo.exp(), hi.exp());
    for _ in 0..MAX_BRACKET_ITERS {
        let exp_e = e.exp();
        let diff = (exp_hi - exp_e).min(exp_e - exp_lo);
        if diff < tol {
            break;
        }
        evals += 1;
        let kl = pr.kl(&fx, exp_e, None).map_or(T::of(f32::MAX as f64), |v| v.0);
        if (eps - kl).abs() < rel * eps {
            lo = e;
            hi = e;
            break;
        }
        if kl < eps {
            hi = e;
            exp_hi = exp_e;
            ok = true;
        } else {
            lo = e;
            exp_lo = exp_e;
        }
        e = half * (lo + hi);
    }
    if ok {
        lo = hi;
    }
    let rejected = Step { outcome: Outcome::Rejected, mean: *pr.mean, chol: *pr.chol, kl: T::zero(), evals };
    if lo != hi {
        return rejected;
    }
    let eta = lo.exp().max(temp);
    let mut p = SMatrix::<T, D, D>::zeros();
    let Some((kl, mean)) = pr.kl(&fx, eta, Some(&mut p)) else { return rejected };
    if pr.diag {
        let chol = SMatrix::<T, D, D>::from_diagonal(&SVector::from_fn(|d, _| T::one() / p[(d, d)]));
        return Step { outcome: Outcome::Updated { eta }, mean, chol, kl, evals };
    }
    // Σ' = P⁻ᵀ P⁻¹, then L' = chol(Σ').
    let Some(p_inv) = lower_inverse(&p) else { return rejected };
    let Some(chol) = cholesky(&gram_of_lower(&p_inv)) else { return rejected };
    Step { outcome: Outcome::Updated { eta }, mean, chol, kl, evals }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cholesky;

    struct Case {
        mean: SVector<f64, 2>,
        chol: SMatrix<f64, 2, 2>,
        inv_t: SMatrix<f64, 2, 2>,
        a: SMatrix<f64, 2, 2>,
        b: SVector<f64, 2>,
    }

    // The common component and quadratic reward of docs/algorithm.md §13.
    fn case(scale: f64) -> Case {
        let mean = SVector::from([0.5, -0.2]);
        let cov = SMatrix::<f64, 2, 2>::new(1.0, 0.3, 0.3, 0.5);
        let chol = cholesky(&cov).unwrap();
        let inv_t = chol.solve_lower_triangular(&SMatrix::<f64, 2, 2>::identity()).unwrap().transpose();
        Case {
            mean,
            chol,
            inv_t,
            a: SMatrix::<f64, 2, 2>::new(2.0, 0.5, 0.5, 1.0) * scale,
            b: SVector::from([1.0, -1.0]) * scale,
        }
    }

    fn run(c: &Case, eps: f64, last_eta: f64) -> Step<f64, 2> {
        // R = Ĥ = A, r = Ĥμ − ĝ = b.
        let pr = Problem { mean: &c.mean, chol: &c.chol, inv_t: &c.inv_t, r_mat: &c.a, r_vec: &c.b, diag: false };
        update(&pr, eps, (last_eta >= 0.0).then_some(last_eta), 1.0)
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-12)
    }

    fn check(st: &Step<f64, 2>, evals: usize, eta: f64, kl: f64, mu: [f64; 2], cov: [f64; 3]) {
        assert_eq!(st.evals, evals);
        let Outcome::Updated { eta: e } = st.outcome else { panic!("rejected") };
        assert!(close(e, eta, 1e-8), "eta {e} vs {eta}");
        assert!(close(st.kl, kl, 1e-7), "kl {} vs {kl}", st.kl);
        let s = st.chol * st.chol.transpose();
        assert!(close(st.mean[0], mu[0], 1e-8) && close(st.mean[1], mu[1], 1e-8), "{:?}", st.mean);
        assert!(close(s[(0, 0)], cov[0], 1e-8) && close(s[(0, 1)], cov[1], 1e-8) && close(s[(1, 1)], cov[2], 1e-8));
    }

    #[test]
    fn tv4_cold_start() {
        for eps in [0.05, 1.0, 100.0] {
            let st = run(&case(1.0), eps, -1.0);
            check(
                &st,
                2,
                148.4131591025766,
                8.228031629e-05,
                [0.4985896295, -0.2033126977],
                [0.9841630323, 0.2930798557, 0.4961484925],
            );
        }
    }

    #[test]
    fn tv5_warm_start() {
        for eps in [0.05, 1.0] {
            let st = run(&case(1.0), eps, 148.4131591025766);
            if eps == 0.05 {
                check(
                    &st,
                    8,
                    7.564282514653275,
                    0.022706974639,
                    [0.4826827298, -0.2584689313],
                    [0.76242266757, 0.19736665790, 0.44001160073],
                );
            } else {
                assert!(matches!(st.outcome, Outcome::Updated { .. }));
            }
        }
    }

    #[test]
    fn tv6_strong_curvature() {
        let st = run(&case(1000.0), 0.05, -1.0);
        check(
            &st,
            10,
            4527.697223293125,
            0.05243927086,
            [0.4788404512, -0.2921286748],
            [0.65957621367, 0.15405871587, 0.41193963478],
        );
        let st = run(&case(1000.0), 1.0, -1.0);
        check(
            &st,
            9,
            394.08337555704935,
            1.03064376963,
            [0.5867923402, -0.7447586874],
            [0.16034321094, -0.01730390221, 0.20280947826],
        );
    }

    #[test]
    fn non_pd_curvature_is_rejected_not_nan() {
        let mut c = case(1.0);
        c.a = SMatrix::<f64, 2, 2>::new(-1e9, 0.0, 0.0, -1e9);
        let st = run(&c, 0.05, -1.0);
        // Either a tiny step (huge η) or a rejection, but never a non-finite result.
        assert!(st.mean.iter().chain(st.chol.iter()).all(|v| v.is_finite()));
        c.a = SMatrix::<f64, 2, 2>::new(f64::NAN, 0.0, 0.0, 1.0);
        let st = run(&c, 0.05, -1.0);
        assert_eq!(st.outcome, Outcome::Rejected);
        assert_eq!(st.mean, c.mean);
    }
}

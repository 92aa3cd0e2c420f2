//! Pathwise (reparameterisation, SGVB) ELBO gradient (`docs/estimators.md` §3) and the §4
//! variance-comparison estimators ([`variance`]).
//!
//! With `x_s = r(λ, ε_s)` and the target score `gp_s = ∇_x log p~(x_s)`:
//!
//! * analytic-entropy form (§3.1, default, [`pathwise_grad`]):
//!   `ĝ = (1/S) Σ_s (∂x_s/∂λ)ᵀ gp_s + ∇_λ H(q)`; ELBO estimate `mean_s log p~(x_s) + H(q)`;
//! * full Monte Carlo form (§3.2, [`pathwise_grad_full_mc`]):
//!   `ĝ = (1/S) Σ_s d/dλ [log p~(x_s(λ)) − log q(x_s(λ); λ)]` (total derivative), which for
//!   location–scale families equals §3.1 sample by sample;
//! * sticking the landing (§3.3, [`pathwise_grad_stl`]):
//!   `ĝ = (1/S) Σ_s (∂x_s/∂λ)ᵀ (gp_s − gq_s)`, `gq_s = ∇_x log q(x_s; λ)`: zero variance at `q = p`.
//!
//! The interface is the one of [`super::score`]: per-sample target quantities
//! (`log_p[s]`, `grad_log_p[s]` at `x_s = family.reparam(&eps[s])`, e.g. from
//! [`super::score::eval_target`]), the gradient written into `out`
//! (`out.len() == family.num_params()`), the ELBO estimate returned, and `out` all zero on
//! any error (a non-finite `log_p[s]` or `grad_log_p[s]` entry gives
//! `InvalidArgument { what: "non-finite target value" }`).
//!
//! ```
//! use gmmvi_baselines::estimators::reparam::pathwise_grad;
//! use gmmvi_baselines::families::{Family, MeanFieldGaussian};
//! use nalgebra::SVector;
//! use rand_core::SeedableRng;
//!
//! // TP1 (§16): log p~(x) = 0.7 + log N(x; 1, 2²); q = N(0, 1), λ = (μ, ω = log σ).
//! let target = |x: &SVector<f64, 1>| {
//!     let r = (x[0] - 1.0) / 2.0;
//!     (0.7 - 0.5 * r * r - 2f64.ln() - 0.5 * (2.0 * core::f64::consts::PI).ln(), SVector::from([-r / 2.0]))
//! };
//! let q = MeanFieldGaussian::<f64, 1>::standard();
//! let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
//! let mut eps = [SVector::zeros(); 4096];
//! q.sample_noise(&mut rng, &mut eps);
//! let (mut lp, mut gp) = ([0.0; 4096], [SVector::zeros(); 4096]);
//! for ((e, l), g) in eps.iter().zip(&mut lp).zip(&mut gp) {
//!     (*l, *g) = target(&q.reparam(e));
//! }
//! let mut grad = [0.0; 2];
//! let elbo = pathwise_grad(&q, &eps, &lp, &gp, &mut grad)?;
//! assert!((grad[0] - 0.25).abs() < 0.03 && (grad[1] - 0.75).abs() < 0.05); // exact (0.25, 0.75)
//! assert!((elbo - 0.2569).abs() < 0.03);
//! # Ok::<(), gmmvi::Error>(())
//! ```

use gmmvi::error::Error;
use gmmvi::real::Real;
use nalgebra::SVector;

use super::score::{NON_FINITE_TARGET, check_and_zero, finish, signal, zero_on_err};
use crate::families::{AnalyticEntropy, Reparameterized};

fn check_grad<T: Real, const D: usize>(lp: T, gp: &SVector<T, D>) -> Result<(), Error> {
    if lp.finite() && gp.iter().all(|g| g.finite()) { Ok(()) } else { Err(NON_FINITE_TARGET) }
}

/// Pathwise ELBO gradient, analytic-entropy form (§3.1):
/// `out = (1/S) Σ_s (∂x_s/∂λ)ᵀ gp_s + ∇_λ H`; returns `mean_s log_p[s] + H(q)`.
///
/// # Errors
/// `BufferTooSmall`/`InvalidArgument` on length mismatches or `S = 0`;
/// `InvalidArgument { what: "non-finite target value" }` for a non-finite target value or
/// gradient entry. On error `out` is zero.
pub fn pathwise_grad<T: Real, F: AnalyticEntropy<T, D>, const D: usize>(
    family: &F,
    eps: &[SVector<T, D>],
    log_p: &[T],
    grad_log_p: &[SVector<T, D>],
    out: &mut [T],
) -> Result<T, Error> {
    check_and_zero(family.num_params(), eps.len(), &[log_p.len(), grad_log_p.len()], out)?;
    let s = T::of(eps.len() as f64);
    zero_on_err(out, |out| {
        let mut sum = T::zero();
        for ((e, &lp), gp) in eps.iter().zip(log_p).zip(grad_log_p) {
            check_grad(lp, gp)?;
            family.vjp_acc(e, gp, out);
            sum += lp;
        }
        finish(out, T::one() / s)?;
        family.entropy_grad_acc(T::one(), out);
        let elbo = sum / s + family.entropy();
        if !elbo.finite() {
            return Err(Error::InvalidArgument { what: "non-finite ELBO estimate" });
        }
        Ok(elbo)
    })
}

/// Pathwise ELBO gradient, full Monte Carlo form (§3.2):
/// `out = (1/S) Σ_s [(∂x_s/∂λ)ᵀ gp_s − d/dλ log q(x_s(λ); λ)]`; returns `mean_s ℓ_s`.
///
/// # Errors
/// As [`pathwise_grad`].
pub fn pathwise_grad_full_mc<T: Real, F: Reparameterized<T, D>, const D: usize>(
    family: &F,
    eps: &[SVector<T, D>],
    log_p: &[T],
    grad_log_p: &[SVector<T, D>],
    out: &mut [T],
) -> Result<T, Error> {
    check_and_zero(family.num_params(), eps.len(), &[log_p.len(), grad_log_p.len()], out)?;
    let s = T::of(eps.len() as f64);
    zero_on_err(out, |out| {
        let mut sum = T::zero();
        for ((e, &lp), gp) in eps.iter().zip(log_p).zip(grad_log_p) {
            check_grad(lp, gp)?;
            sum += signal(family, e, lp)?.1;
            family.vjp_acc(e, gp, out);
            family.log_q_total_grad_acc(e, -T::one(), out);
        }
        finish(out, T::one() / s)?;
        Ok(sum / s)
    })
}

/// Pathwise ELBO gradient, "sticking the landing" (§3.3):
/// `out = (1/S) Σ_s (∂x_s/∂λ)ᵀ (gp_s − ∇_x log q(x_s; λ))`; returns `mean_s ℓ_s`.
///
/// # Errors
/// As [`pathwise_grad`].
pub fn pathwise_grad_stl<T: Real, F: Reparameterized<T, D>, const D: usize>(
    family: &F,
    eps: &[SVector<T, D>],
    log_p: &[T],
    grad_log_p: &[SVector<T, D>],
    out: &mut [T],
) -> Result<T, Error> {
    check_and_zero(family.num_params(), eps.len(), &[log_p.len(), grad_log_p.len()], out)?;
    let s = T::of(eps.len() as f64);
    zero_on_err(out, |out| {
        let mut sum = T::zero();
        for ((e, &lp), gp) in eps.iter().zip(log_p).zip(grad_log_p) {
            check_grad(lp, gp)?;
            let (x, f) = signal(family, e, lp)?;
            sum += f;
            family.vjp_acc(e, &(gp - family.grad_x_log_q(&x)), out);
        }
        finish(out, T::one() / s)?;
        Ok(sum / s)
    })
}

/// The §4 variance comparison: `q = N(μ, σ²)`, cost `f(x) = (x − k)²`, gradients of
/// `E_q[f] = (μ − k)² + σ²` with respect to `θ = μ` (`2(μ − k)`) and `θ = σ` (`2σ`, the scale
/// itself, not `log σ`), estimated from one sample `x = μ + σ ε`:
///
/// * score function: `f(x) ε/σ` (θ = μ), `f(x)(ε² − 1)/σ` (θ = σ) — the [`MeanFieldGaussian`]
///   scores with `∂/∂σ = σ⁻¹ ∂/∂ω`;
/// * score function with a constant baseline `b`: `f` replaced by `f − b`, with `b = E_q f`
///   or the optimal `b* = E[f s²]/E[s²]` = `(μ−k)² + 3σ²` (θ = μ), `(μ−k)² + 5σ²` (θ = σ);
/// * pathwise: `f′(x) = 2(x − k)` (θ = μ), `f′(x) ε` (θ = σ).
///
/// Exact single-sample variances (`a = μ − k`), returned by
/// [`QuadraticCost::exact_variance`](variance::QuadraticCost::exact_variance):
///
/// | θ | SF | SF + `E f` | SF + `b*` | pathwise |
/// |---|----|------------|-----------|----------|
/// | μ | `a⁴/σ² + 14a² + 15σ²` | `8a² + 10σ²` | `8a² + 6σ²` | `4σ²` |
/// | σ | `2a⁴/σ² + 60a² + 74σ²` | `40a² + 56σ²` | `40a² + 24σ²` | `4a² + 8σ²` |
///
/// [`MeanFieldGaussian`]: crate::families::MeanFieldGaussian
pub mod variance {
    use gmmvi::error::Error;
    use gmmvi::real::Real;

    /// The parameter differentiated in §4.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Theta {
        /// `θ = μ` (left panel).
        Mean,
        /// `θ = σ` (right panel; the standard deviation itself).
        Std,
    }

    /// The single-sample estimators compared in §4.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Estimator {
        /// Score function, no baseline.
        ScoreFunction,
        /// Score function with `b = E_q f`.
        ScoreFunctionMeanBaseline,
        /// Score function with the optimal constant `b*`.
        ScoreFunctionOptimalBaseline,
        /// Pathwise (reparameterisation).
        Pathwise,
    }

    impl Estimator {
        /// All four, in the order of the §4 table.
        pub const ALL: [Estimator; 4] = [
            Estimator::ScoreFunction,
            Estimator::ScoreFunctionMeanBaseline,
            Estimator::ScoreFunctionOptimalBaseline,
            Estimator::Pathwise,
        ];
    }

    /// Score-function sample for `θ = μ`: `(f(x) − b) ε/σ`.
    #[inline]
    pub fn score_mean<T: Real>(fx: T, b: T, eps: T, sigma: T) -> T {
        (fx - b) * eps / sigma
    }

    /// Score-function sample for `θ = σ`: `(f(x) − b)(ε² − 1)/σ`.
    #[inline]
    pub fn score_std<T: Real>(fx: T, b: T, eps: T, sigma: T) -> T {
        (fx - b) * (eps * eps - T::one()) / sigma
    }

    /// Pathwise sample for `θ = μ`: `f′(x)` (`∂x/∂μ = 1`).
    #[inline]
    pub fn pathwise_mean<T: Real>(dfx: T) -> T {
        dfx
    }

    /// Pathwise sample for `θ = σ`: `f′(x) ε` (`∂x/∂σ = ε`).
    #[inline]
    pub fn pathwise_std<T: Real>(dfx: T, eps: T) -> T {
        dfx * eps
    }

    /// The §4 toy: `q = N(μ, σ²)`, `f(x) = (x − k)²`.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct QuadraticCost<T> {
        mu: T,
        sigma: T,
        k: T,
    }

    impl<T: Real> QuadraticCost<T> {
        /// The toy at `(μ, σ, k)`.
        ///
        /// # Errors
        /// `InvalidArgument` if a value is non-finite or `σ ≤ 0`.
        pub fn new(mu: T, sigma: T, k: T) -> Result<Self, Error> {
            if !(mu.finite() && k.finite() && sigma.finite() && sigma > T::zero()) {
                return Err(Error::InvalidArgument { what: "toy needs finite mu, k and sigma > 0" });
            }
            Ok(Self { mu, sigma, k })
        }

        /// `f(x) = (x − k)²`.
        pub fn cost(&self, x: T) -> T {
            (x - self.k) * (x - self.k)
        }

        /// `E_q f = (μ − k)² + σ²`.
        pub fn expected_cost(&self) -> T {
            let a = self.mu - self.k;
            a * a + self.sigma * self.sigma
        }

        /// The exact gradient: `2(μ − k)` (θ = μ) or `2σ` (θ = σ).
        pub fn grad(&self, theta: Theta) -> T {
            match theta {
                Theta::Mean => T::of(2.0) * (self.mu - self.k),
                Theta::Std => T::of(2.0) * self.sigma,
            }
        }

        /// The constant baseline `b` the estimator subtracts (0 for SF and pathwise).
        pub fn baseline(&self, theta: Theta, est: Estimator) -> T {
            let a = self.mu - self.k;
            let s2 = self.sigma * self.sigma;
            match (est, theta) {
                (Estimator::ScoreFunctionMeanBaseline, _) => self.expected_cost(),
                (Estimator::ScoreFunctionOptimalBaseline, Theta::Mean) => a * a + T::of(3.0) * s2,
                (Estimator::ScoreFunctionOptimalBaseline, Theta::Std) => a * a + T::of(5.0) * s2,
                _ => T::zero(),
            }
        }

        /// One sample of the estimator at base noise `ε` (`x = μ + σ ε`).
        pub fn per_sample(&self, theta: Theta, est: Estimator, eps: T) -> T {
            let x = self.mu + self.sigma * eps;
            if est == Estimator::Pathwise {
                let dfx = T::of(2.0) * (x - self.k);
                return match theta {
                    Theta::Mean => pathwise_mean(dfx),
                    Theta::Std => pathwise_std(dfx, eps),
                };
            }
            let b = self.baseline(theta, est);
            match theta {
                Theta::Mean => score_mean(self.cost(x), b, eps, self.sigma),
                Theta::Std => score_std(self.cost(x), b, eps, self.sigma),
            }
        }

        /// The exact single-sample variance (the §4 table).
        pub fn exact_variance(&self, theta: Theta, est: Estimator) -> T {
            let a2 = (self.mu - self.k) * (self.mu - self.k);
            let s2 = self.sigma * self.sigma;
            let c = T::of;
            match (theta, est) {
                (Theta::Mean, Estimator::ScoreFunction) => a2 * a2 / s2 + c(14.0) * a2 + c(15.0) * s2,
                (Theta::Mean, Estimator::ScoreFunctionMeanBaseline) => c(8.0) * a2 + c(10.0) * s2,
                (Theta::Mean, Estimator::ScoreFunctionOptimalBaseline) => c(8.0) * a2 + c(6.0) * s2,
                (Theta::Mean, Estimator::Pathwise) => c(4.0) * s2,
                (Theta::Std, Estimator::ScoreFunction) => c(2.0) * a2 * a2 / s2 + c(60.0) * a2 + c(74.0) * s2,
                (Theta::Std, Estimator::ScoreFunctionMeanBaseline) => c(40.0) * a2 + c(56.0) * s2,
                (Theta::Std, Estimator::ScoreFunctionOptimalBaseline) => c(40.0) * a2 + c(24.0) * s2,
                (Theta::Std, Estimator::Pathwise) => c(4.0) * a2 + c(8.0) * s2,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::variance::{Estimator, QuadraticCost, Theta};
    use super::*;
    use crate::families::testing::{Exponential, evaluate, gauss_hermite, mean_var, noise, tp1};
    use crate::families::testing::{TP4_LOG_Z, normal_trapezoid, tp2, tp2_precision, tp3, tp4};
    use crate::families::{Family, FullRankGaussian, MeanFieldGaussian};
    use nalgebra::{Matrix2, Vector1, Vector2};
    use std::vec::Vec;

    fn assert_mean(got: &[f64], want: &[f64], var: &[f64], s: usize, what: &str) {
        for ((g, w), v) in got.iter().zip(want).zip(var) {
            let tol = 5.0 * (v / s as f64).sqrt();
            std::eprintln!("{what}: {g:.6} vs {w:.6} (tol {tol:.6})");
            assert!((g - w).abs() <= tol, "{what}: {g} vs {w} (tol {tol})");
        }
    }

    #[test]
    fn pw1_tp1() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let s = 10_000;
        let eps = noise(&q, 21, s);
        let (lp, gp) = evaluate(&q, &eps, tp1);
        let mut g = [0.0; 2];
        let elbo = pathwise_grad(&q, &eps, &lp, &gp, &mut g).unwrap();
        std::eprintln!("PW1 S=1e4 gradient {g:?}, ELBO {elbo}");
        assert!((g[0] - 0.25).abs() <= 0.0125 && (g[1] - 0.75).abs() <= 0.0217, "{g:?}");
        // ρ = log σ²: ∂/∂ρ = ½ ∂/∂ω = 0.375.
        assert!((0.5 * g[1] - 0.375).abs() <= 0.0217 / 2.0);
        // Analytic-entropy ELBO: Var(log p~) = Var((ε − 1)²/8) = 6/64.
        assert_mean(&[elbo], &[0.25685281944005467], &[6.0 / 64.0], s, "ELBO");
        let mut g2 = [0.0; 2];
        let elbo2 = pathwise_grad_stl(&q, &eps, &lp, &gp, &mut g2).unwrap();
        assert_mean(&g2, &[0.25, 0.75], &[0.5625, 1.1875], s, "STL");
        assert_mean(&[elbo2], &[0.25685281944005467], &[0.34375], s, "MC ELBO");
    }

    #[test]
    fn full_mc_equals_analytic_per_sample() {
        let mf = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.3), Vector1::new(1.7)).unwrap();
        let fr = FullRankGaussian::<f64, 2>::new(Vector2::new(0.2, -0.4), Matrix2::new(1.2, 0.0, 0.3, 0.8)).unwrap();
        let ex = Exponential { rate: 2.0 };
        fn same<F: AnalyticEntropy<f64, D>, const D: usize, const P: usize>(
            q: &F,
            seed: u64,
            t: impl Fn(&SVector<f64, D>) -> (f64, SVector<f64, D>),
        ) {
            let eps = noise(q, seed, 200);
            let (lp, gp) = evaluate(q, &eps, t);
            for s in 0..eps.len() {
                let (mut a, mut b) = ([0.0; P], [0.0; P]);
                pathwise_grad(q, &eps[s..=s], &lp[s..=s], &gp[s..=s], &mut a).unwrap();
                pathwise_grad_full_mc(q, &eps[s..=s], &lp[s..=s], &gp[s..=s], &mut b).unwrap();
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() <= 1e-12, "{a:?} {b:?}");
                }
            }
        }
        same::<_, 1, 2>(&mf, 22, tp3);
        same::<_, 2, 5>(&fr, 23, tp2);
        // Exponential uses the default chain-rule total derivative.
        same::<_, 1, 1>(&ex, 24, |x| (-x[0], SVector::from([-1.0])));
    }

    #[test]
    fn pw2_zero_variance_at_optimum() {
        let q = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(1.0), Vector1::new(2.0)).unwrap();
        let eps = noise(&q, 25, 1000);
        let (lp, gp) = evaluate(&q, &eps, tp1);
        for s in 0..eps.len() {
            let mut g = [1.0; 2];
            let elbo = pathwise_grad_stl(&q, &eps[s..=s], &lp[s..=s], &gp[s..=s], &mut g).unwrap();
            assert_eq!(g, [0.0, 0.0]);
            assert!((elbo - 0.7).abs() <= 1e-12); // ℓ_s = log Z (E1)
            pathwise_grad(&q, &eps[s..=s], &lp[s..=s], &gp[s..=s], &mut g).unwrap();
            let e = eps[s][0];
            assert!((g[0] - -e / 2.0).abs() <= 1e-12 && (g[1] - (1.0 - e * e)).abs() <= 1e-12);
        }
    }

    #[test]
    fn pw3_exponential() {
        let (lambda, beta) = (2.0, 1.0);
        let q = Exponential { rate: lambda };
        let target = |x: &SVector<f64, 1>| (f64::ln(beta) - beta * x[0], SVector::from([-beta]));
        let s = 1_000_000;
        let eps = noise(&q, 26, s);
        let (lp, gp) = evaluate(&q, &eps, target);
        let mut vals = Vec::with_capacity(s);
        for i in 0..s {
            let mut g = [0.0];
            pathwise_grad(&q, &eps[i..=i], &lp[i..=i], &gp[i..=i], &mut g).unwrap();
            let want = beta * eps[i][0] / (lambda * lambda) - 1.0 / lambda;
            assert!((g[0] - want).abs() <= 1e-15);
            vals.push(g[0]);
        }
        let mut g = [0.0];
        let elbo = pathwise_grad(&q, &eps[..100_000], &lp[..100_000], &gp[..100_000], &mut g).unwrap();
        assert_mean(&g, &[-0.25], &[0.0625], 100_000, "PW3");
        // E[log p~] + H: Var(log p~) = β² Var x = 1/4.
        assert_mean(&[elbo], &[-0.1931471805599453], &[0.25], 100_000, "ELBO");
        let (m, v) = mean_var(vals.iter().copied());
        std::eprintln!("PW3 S=1e6 mean {m}, var {v}");
        assert_mean(&[m], &[-0.25], &[0.0625], s, "PW3 S=1e6");
        assert!((v / 0.0625 - 1.0).abs() < 0.125, "{v}");
        pathwise_grad_stl(&q, &eps[..100_000], &lp[..100_000], &gp[..100_000], &mut g).unwrap();
        // STL per sample: (−x/λ)(−β + λ) = −ε/4; variance 1/16.
        assert_mean(&g, &[-0.25], &[0.0625], 100_000, "STL TP-Exp");
    }

    /// The symmetric cubature `{±√2 e_1, ±√2 e_2}`: exact for expectations of polynomials of
    /// degree ≤ 2 in `ε ~ N(0, I)` (all §3 estimators on TP2 are of that form).
    fn cubature2() -> [SVector<f64, 2>; 4] {
        let r = core::f64::consts::SQRT_2;
        [Vector2::new(r, 0.0), Vector2::new(-r, 0.0), Vector2::new(0.0, r), Vector2::new(0.0, -r)]
    }

    #[test]
    fn pw4_tp2_closed_form() {
        let p = tp2_precision();
        let m = Vector2::new(1.0, -1.0);
        let eps = cubature2();
        // At q = N(0, I): the §16 numbers.
        let q = FullRankGaussian::<f64, 2>::standard();
        let (lp, gp) = evaluate(&q, &eps, tp2);
        let mut g = [0.0; 5];
        let elbo = pathwise_grad(&q, &eps, &lp, &gp, &mut g).unwrap();
        assert!((elbo - -1.4424700721375658).abs() < 1e-12, "{elbo}");
        let want = [0.9756097561, -1.5853658537, 0.3902439024, 0.3658536585, -0.2195121951];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{g:?}");
        }
        // General (μ, L): ∇_μ = P(m − μ), ∇_L = tril(L⁻ᵀ − P L); all three forms agree.
        let l = Matrix2::new(1.2, 0.0, 0.3, 0.8);
        let mu = Vector2::new(0.2, 0.1);
        let q = FullRankGaussian::new(mu, l).unwrap();
        let (lp, gp) = evaluate(&q, &eps, tp2);
        let gmu = p * (m - mu);
        let gl = (l.try_inverse().unwrap().transpose() - p * l).lower_triangle();
        let want = [gmu[0], gmu[1], gl[(0, 0)], gl[(1, 0)], gl[(1, 1)]];
        for f in [pathwise_grad::<f64, FullRankGaussian<f64, 2>, 2>, pathwise_grad_full_mc, pathwise_grad_stl] {
            f(&q, &eps, &lp, &gp, &mut g).unwrap();
            for (a, b) in g.iter().zip(want) {
                assert!((a - b).abs() < 1e-12, "{g:?} vs {want:?}");
            }
        }
        // Mean-field: ∇ at N(0, I) is the diagonal of the above; zero at the best diagonal q.
        let mf = MeanFieldGaussian::<f64, 2>::standard();
        let (lp, gp) = evaluate(&mf, &eps, tp2);
        let mut g = [0.0; 4];
        pathwise_grad(&mf, &eps, &lp, &gp, &mut g).unwrap();
        for (a, b) in g.iter().zip([0.9756097561, -1.5853658537, 0.3902439024, -0.2195121951]) {
            assert!((a - b).abs() < 1e-9);
        }
        let best = MeanFieldGaussian::from_std(m, Vector2::new(1.64f64.sqrt(), 0.82f64.sqrt())).unwrap();
        let (lp, gp) = evaluate(&best, &eps, tp2);
        let elbo = pathwise_grad(&best, &eps, &lp, &gp, &mut g).unwrap();
        assert!((elbo - -0.09922546936191912).abs() < 1e-12, "{elbo}");
        assert!(g.iter().all(|v| v.abs() < 1e-12), "{g:?}");
    }

    /// Exact mean and variance of a per-sample estimator over `N(0, I_D)` by a product
    /// Gauss–Hermite rule (`D = 2`) or a fine trapezoid rule (`D = 1`).
    fn gh_moments<const D: usize, const P: usize>(
        mut est: impl FnMut(&SVector<f64, D>, &mut [f64; P]),
    ) -> ([f64; P], [f64; P]) {
        let (x, w) = if D == 2 {
            let (x, w) = gauss_hermite::<40>();
            (x.to_vec(), w.to_vec())
        } else {
            normal_trapezoid(24_000)
        };
        let (mut m1, mut m2) = ([0.0; P], [0.0; P]);
        let n2 = if D == 2 { x.len() } else { 1 };
        for i in 0..x.len() {
            for j in 0..n2 {
                let mut e = SVector::zeros();
                e[0] = x[i];
                let mut wt = w[i];
                if D == 2 {
                    e[1] = x[j];
                    wt *= w[j];
                }
                let mut g = [0.0; P];
                est(&e, &mut g);
                for p in 0..P {
                    m1[p] += wt * g[p];
                    m2[p] += wt * g[p] * g[p];
                }
            }
        }
        (m1, core::array::from_fn(|p| m2[p] - m1[p] * m1[p]))
    }

    type Est<F, const D: usize> =
        fn(&F, &[SVector<f64, D>], &[f64], &[SVector<f64, D>], &mut [f64]) -> Result<f64, Error>;

    /// Pathwise and STL on a target: quadrature mean equals `want`, the S-sample mean is
    /// within 5 standard errors (variance by quadrature).
    fn check_stat<F: AnalyticEntropy<f64, D>, const D: usize, const P: usize>(
        q: &F,
        t: fn(&SVector<f64, D>) -> (f64, SVector<f64, D>),
        want: &[f64; P],
        s: usize,
        seed: u64,
    ) {
        let ests: [Est<F, D>; 3] = [pathwise_grad, pathwise_grad_full_mc, pathwise_grad_stl];
        for f in ests {
            let (m, v) = gh_moments::<D, P>(|e, g| {
                let (lp, gp) = t(&q.reparam(e));
                f(q, core::slice::from_ref(e), &[lp], &[gp], g).unwrap();
            });
            for p in 0..P {
                assert!((m[p] - want[p]).abs() < 1e-8, "quadrature {m:?} vs {want:?}");
            }
            let eps = noise(q, seed, s);
            let (lp, gp) = evaluate(q, &eps, t);
            let mut g = [0.0; P];
            f(q, &eps, &lp, &gp, &mut g).unwrap();
            assert_mean(&g, want, &v, s, "pathwise");
        }
    }

    #[test]
    fn pathwise_on_tp1_to_tp4() {
        // TP1 at a non-trivial q: ∂μ = (m − μ)/s², ∂ω = 1 − σ²/s².
        let q = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(-0.5), Vector1::new(0.7)).unwrap();
        check_stat::<_, 1, 2>(&q, tp1, &[1.5 / 4.0, 1.0 - 0.49 / 4.0], 10_000, 31);
        // TP2 at q = N(0, I), full rank and mean field.
        let want = [0.9756097561, -1.5853658537, 0.3902439024, 0.3658536585, -0.2195121951];
        let fr = FullRankGaussian::<f64, 2>::standard();
        let exact: [f64; 5] = {
            let (lp, gp) = evaluate(&fr, &cubature2(), tp2);
            let mut g = [0.0; 5];
            pathwise_grad(&fr, &cubature2(), &lp, &gp, &mut g).unwrap();
            g
        };
        for (a, b) in exact.iter().zip(want) {
            assert!((a - b).abs() < 1e-9);
        }
        check_stat::<_, 2, 5>(&fr, tp2, &exact, 10_000, 32);
        let mf = MeanFieldGaussian::<f64, 2>::standard();
        check_stat::<_, 2, 4>(&mf, tp2, &[exact[0], exact[1], exact[2], exact[4]], 10_000, 33);
        // TP3 at q = N(0, 2²): exact gradient by quadrature of E[g], E[g σ ε] + 1.
        let q3 = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.0), Vector1::new(2.0)).unwrap();
        let (x, w) = normal_trapezoid(24_000);
        let (mut gm, mut gw) = (0.0, 1.0);
        for (e, wt) in x.iter().zip(&w) {
            let g = tp3(&Vector1::new(2.0 * e)).1[0];
            gm += wt * g;
            gw += wt * g * 2.0 * e;
        }
        check_stat::<_, 1, 2>(&q3, tp3, &[gm, gw], 100_000, 34);
        // TP4 at q = N(0.5, 0.3²); posterior N(1.248, 0.16).
        let q4 = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.5), Vector1::new(0.3)).unwrap();
        check_stat::<_, 1, 2>(&q4, tp4, &[0.748 / 0.16, 1.0 - 0.09 / 0.16], 10_000, 35);
        // ELBO of TP4 (analytic-entropy value, quadrature-exact for this quadratic target).
        let (m, _) = gh_moments::<1, 1>(|e, g| {
            let (lp, gp) = tp4(&q4.reparam(e));
            let mut o = [0.0; 2];
            g[0] = pathwise_grad(&q4, core::slice::from_ref(e), &[lp], &[gp], &mut o).unwrap();
        });
        let l4 = TP4_LOG_Z - ((0.4f64 / 0.3).ln() + (0.09 + 0.748 * 0.748) / 0.32 - 0.5);
        assert!((m[0] - l4).abs() < 1e-9);
    }

    #[test]
    fn f32_pathwise_tp1() {
        let q = MeanFieldGaussian::<f32, 1>::standard();
        let s = 10_000;
        use rand_core::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(36);
        let mut eps = std::vec![SVector::<f32, 1>::zeros(); s];
        q.sample_noise(&mut rng, &mut eps);
        let (lp, gp): (Vec<f32>, Vec<SVector<f32, 1>>) = eps
            .iter()
            .map(|e| {
                let (l, g) = tp1(&e.map(|v| v as f64));
                (l as f32, g.map(|v| v as f32))
            })
            .unzip();
        let mut g = [0.0f32; 2];
        pathwise_grad(&q, &eps, &lp, &gp, &mut g).unwrap();
        // f32: the statistical tolerance plus 1e-4 for rounding in a 1e4-term sum.
        assert!((g[0] - 0.25).abs() <= 0.0125 + 1e-4 && (g[1] - 0.75).abs() <= 0.0217 + 1e-4, "{g:?}");
    }

    #[test]
    fn non_finite_target_is_rejected() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let eps = [Vector1::new(0.3), Vector1::new(-1.0)];
        let ok = [Vector1::new(0.1), Vector1::new(0.2)];
        for bad in [f64::NAN, f64::INFINITY] {
            let bad_g = [Vector1::new(0.1), Vector1::new(bad)];
            let ests: [Est<MeanFieldGaussian<f64, 1>, 1>; 3] =
                [pathwise_grad, pathwise_grad_full_mc, pathwise_grad_stl];
            for f in ests {
                let mut g = [7.0; 2];
                assert_eq!(f(&q, &eps, &[0.0, bad], &ok, &mut g), Err(NON_FINITE_TARGET));
                assert_eq!(g, [0.0; 2]);
                g = [7.0; 2];
                assert_eq!(f(&q, &eps, &[0.0, 0.0], &bad_g, &mut g), Err(NON_FINITE_TARGET));
                assert_eq!(g, [0.0; 2]);
                assert!(f(&q, &eps, &[0.0], &ok, &mut g).is_err());
                assert!(f(&q, &eps, &[0.0; 2], &ok[..1], &mut g).is_err());
                assert!(f(&q, &[], &[], &[], &mut g).is_err());
                assert_eq!(f(&q, &eps, &[0.0; 2], &ok, &mut [0.0]), Err(Error::BufferTooSmall { needed: 2 }));
                g = [7.0; 2];
                assert!(
                    f(&q, &[Vector1::new(1.0), Vector1::new(2.0)], &[0.0; 2], &[Vector1::new(1e308); 2], &mut g)
                        .is_err()
                );
                assert_eq!(g, [0.0; 2]);
            }
        }
    }

    #[test]
    fn vc1_variance_comparison_statistical() {
        use rand_core::SeedableRng;
        let s = 2_000_000;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(41);
        let mut eps = std::vec![0.0f64; s];
        gmmvi::rng::fill_standard_normal(&mut rng, &mut eps);
        for k in [-3.0, 0.0, 3.0] {
            let toy = QuadraticCost::new(1.0, 1.0, k).unwrap();
            for theta in [Theta::Mean, Theta::Std] {
                let mut var = [0.0; 4];
                for (i, est) in Estimator::ALL.into_iter().enumerate() {
                    let (m, v) = mean_var(eps.iter().map(|e| toy.per_sample(theta, est, *e)));
                    let exact = toy.exact_variance(theta, est);
                    assert_mean(&[m], &[toy.grad(theta)], &[exact], s, "VC1 (i)");
                    assert!((v / exact - 1.0).abs() < 0.07, "VC1 (iii) k={k} {theta:?} {est:?}: {v} vs {exact}");
                    var[i] = v;
                }
                std::eprintln!("VC1 k={k} {theta:?}: variances {var:?}");
                assert!(var[0] > var[1] && var[1] >= var[2] && var[2] > var[3], "VC1 (ii) {var:?}");
                if k == -3.0 && theta == Theta::Mean {
                    let r = var[0] / var[3];
                    std::eprintln!("VC1 SF/PW ratio (mu, k=-3) = {r}");
                    assert!((110.0..=140.0).contains(&r), "VC1 (iv) {r}");
                }
            }
        }
    }

    #[test]
    fn vc2_variance_table_by_quadrature() {
        let (x, w) = gauss_hermite::<24>();
        let table: [(f64, [f64; 8]); 7] = [
            (-3.0, [495.0, 138.0, 134.0, 4.0, 1546.0, 696.0, 664.0, 72.0]),
            (-2.0, [222.0, 82.0, 78.0, 4.0, 776.0, 416.0, 384.0, 44.0]),
            (-1.0, [87.0, 42.0, 38.0, 4.0, 346.0, 216.0, 184.0, 24.0]),
            (0.0, [30.0, 18.0, 14.0, 4.0, 136.0, 96.0, 64.0, 12.0]),
            (1.0, [15.0, 10.0, 6.0, 4.0, 74.0, 56.0, 24.0, 8.0]),
            (2.0, [30.0, 18.0, 14.0, 4.0, 136.0, 96.0, 64.0, 12.0]),
            (3.0, [87.0, 42.0, 38.0, 4.0, 346.0, 216.0, 184.0, 24.0]),
        ];
        for (k, row) in table {
            let toy = QuadraticCost::new(1.0, 1.0, k).unwrap();
            let mut i = 0;
            for theta in [Theta::Mean, Theta::Std] {
                for est in Estimator::ALL {
                    let m1: f64 = x.iter().zip(&w).map(|(e, wt)| wt * toy.per_sample(theta, est, *e)).sum();
                    let m2: f64 = x.iter().zip(&w).map(|(e, wt)| wt * toy.per_sample(theta, est, *e).powi(2)).sum();
                    let v = m2 - m1 * m1;
                    assert!(((m1 - toy.grad(theta)) / toy.grad(theta).abs().max(1.0)).abs() < 1e-9);
                    assert!((v / row[i] - 1.0).abs() < 1e-9, "k={k} {theta:?} {est:?}: {v} vs {}", row[i]);
                    assert!((toy.exact_variance(theta, est) / row[i] - 1.0).abs() < 1e-12);
                    i += 1;
                }
            }
        }
        // General σ: the formulas of the table against quadrature at μ = 0.3, σ = 1.7, k = −1.2.
        let toy = QuadraticCost::new(0.3, 1.7, -1.2).unwrap();
        for theta in [Theta::Mean, Theta::Std] {
            for est in Estimator::ALL {
                let m1: f64 = x.iter().zip(&w).map(|(e, wt)| wt * toy.per_sample(theta, est, *e)).sum();
                let m2: f64 = x.iter().zip(&w).map(|(e, wt)| wt * toy.per_sample(theta, est, *e).powi(2)).sum();
                assert!(((m2 - m1 * m1) / toy.exact_variance(theta, est) - 1.0).abs() < 1e-9);
            }
        }
        // The SF samples are the MeanFieldGaussian scores with ∂/∂σ = σ⁻¹ ∂/∂ω.
        let q = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.3), Vector1::new(1.7)).unwrap();
        let e = Vector1::new(0.77);
        let xs = q.reparam(&e);
        let mut sc = [0.0; 2];
        q.score_acc(&xs, toy.cost(xs[0]), &mut sc);
        assert!((sc[0] - toy.per_sample(Theta::Mean, Estimator::ScoreFunction, 0.77)).abs() < 1e-12);
        assert!((sc[1] / 1.7 - toy.per_sample(Theta::Std, Estimator::ScoreFunction, 0.77)).abs() < 1e-12);
        assert!(QuadraticCost::new(0.0, 0.0, 1.0).is_err());
        assert!(QuadraticCost::new(f64::NAN, 1.0, 1.0).is_err());
    }
}

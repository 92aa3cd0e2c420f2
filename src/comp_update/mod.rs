//! Design choice 4 — natural-gradient component update (Arenz et al. 2023, §3.3, equivalence of the
//! updates §2.3; docs/algorithm.md §5).
//!
//! Every updater receives `(Ĥ_k, ĝ_k)` and a step size per component and either replaces the
//! component's mean and Cholesky factor or rejects the update and keeps the component.
//!
//! Option `T` ([`trust_region`]): KL-bounded step, the bound being the step size.
//! Option `I` ([`direct`]): direct natural-gradient step in the natural parameters.
//! Option `Y` ([`iblr`]): improved Bayesian learning rule (iBLR).

pub mod direct;
pub mod iblr;
pub mod trust_region;

/// Outcome of one component update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Outcome<T> {
    /// New parameters stored; the trust-region multiplier η used.
    Updated { eta: T },
    /// Rejected (no positive-definite candidate); the component is unchanged.
    Rejected,
}

#[cfg(test)]
mod properties {
    //! 1000 random steps: iBLR always yields a positive-definite covariance (its precision is
    //! `Σ^{-1/2}(½(I + βB)² + ½I)Σ^{-1/2}` with `B = Σ^{1/2}ĤΣ^{1/2}`), and every accepted
    //! trust-region step is positive definite and within its KL bound up to the bracketing
    //! tolerance (10 %), checked with an independent KL.
    use nalgebra::{SMatrix, SVector};
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::{Outcome, iblr, trust_region};
    use crate::rng::{fill_standard_normal, uniform};

    const D: usize = 3;
    type M = SMatrix<f64, D, D>;
    type V = SVector<f64, D>;

    fn normal_matrix(rng: &mut Xoshiro256PlusPlus) -> M {
        let mut a = M::zeros();
        fill_standard_normal(rng, a.as_mut_slice());
        a
    }

    fn kl(m1: &V, c1: &M, m0: &V, c0: &M) -> f64 {
        // KL(N(m1, c1) ‖ N(m0, c0))
        let c0_inv = c0.try_inverse().unwrap();
        let d = m0 - m1;
        0.5 * ((c0_inv * c1).trace() + (d.transpose() * c0_inv * d)[0] - D as f64
            + (c0.determinant() / c1.determinant()).ln())
    }

    #[test]
    fn random_steps_stay_positive_definite_and_within_the_bound() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..1000 {
            let a = normal_matrix(&mut rng);
            let cov = a * a.transpose() + M::identity() * 0.1;
            let l = cov.cholesky().unwrap().l();
            let mut mean = V::zeros();
            fill_standard_normal(&mut rng, mean.as_mut_slice());
            let b = normal_matrix(&mut rng) * libm::exp(4.0 * uniform(&mut rng) - 2.0);
            let hess = (b + b.transpose()) * 0.5; // symmetric, often indefinite
            let mut grad = V::zeros();
            fill_standard_normal(&mut rng, grad.as_mut_slice());
            let beta = libm::exp(-7.0 * uniform(&mut rng)); // 1e-3 .. 1

            let (m1, l1) = iblr::update(&mean, &l, &hess, &grad, beta, false).expect("iBLR keeps Λ' PD");
            let c1 = l1 * l1.transpose();
            assert!(c1.iter().all(|v| v.is_finite()) && c1.cholesky().is_some() && m1.iter().all(|v| v.is_finite()));

            let inv_t = l.try_inverse().unwrap().transpose();
            let r_vec = hess * mean - grad;
            let pr = trust_region::Problem {
                mean: &mean,
                chol: &l,
                inv_t: &inv_t,
                r_mat: &hess,
                r_vec: &r_vec,
                diag: false,
            };
            let st = trust_region::update(&pr, beta, None, 1.0);
            match st.outcome {
                Outcome::Updated { .. } => {
                    accepted += 1;
                    let c2 = st.chol * st.chol.transpose();
                    assert!(c2.cholesky().is_some());
                    let k = kl(&st.mean, &c2, &mean, &cov);
                    assert!(k <= 1.1 * beta + 1e-9, "KL {k} above the bound {beta}");
                    assert!((k - st.kl).abs() <= 1e-6 * (1.0 + k), "reported KL {} vs {k}", st.kl);
                }
                Outcome::Rejected => rejected += 1,
            }
        }
        assert!(accepted > 900, "accepted {accepted}, rejected {rejected}");
    }
}

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

use nalgebra::{SMatrix, SVector};

use crate::component_state::{ComponentState, ComponentStates};
use crate::config::{ComponentUpdateConfig, ComponentUpdater};
use crate::model::{ComponentMut, Gmm};
use crate::ng_estimate::Estimate;
use crate::parallel::Parallel;
use crate::real::Real;

/// Outcome of one trust-region search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Outcome<T> {
    /// New parameters stored; the trust-region multiplier η used.
    Updated { eta: T },
    /// Rejected (no positive-definite candidate); the component is unchanged.
    Rejected,
}

/// A component's new mean and Cholesky factor, and the trust-region multiplier η if the
/// trust-region update made it (the direct and iBLR updates have none).
pub(crate) struct Candidate<T: Real, const D: usize> {
    pub mean: SVector<T, D>,
    pub chol: SMatrix<T, D, D>,
    pub eta: Option<T>,
}

/// Design choice 4: updates every active component from its estimate `ng[k]` and its state
/// (step size, last η), applies the candidates and books each update in the component's state
/// (`initial_l2`: the ridge coefficient's floor). `DIAG`: the diagonal model. Returns the
/// number of rejected updates (no estimate, no candidate, or a candidate the model refused).
///
/// One task per component on `par`: a task reads and writes only its own component, so the
/// result does not depend on the executor; the states are booked afterwards in component order.
pub(crate) fn update<T: Real, const D: usize, const K: usize, const DIAG: bool, X: Parallel>(
    cfg: &ComponentUpdateConfig,
    temperature: T,
    initial_l2: T,
    model: &mut Gmm<T, D, K>,
    ng: &[Estimate<T, D>],
    states: &mut ComponentStates<T, K>,
    par: &X,
) -> usize {
    let kn = model.len().min(ng.len());
    let mut parts = model.parts_mut();
    let mut tasks: [Option<Task<'_, T, D>>; K] =
        core::array::from_fn(|_| parts.next().map(|part| Task { part, applied: None }));
    let st = &*states;
    par.for_each_chunk(&mut tasks[..kn], 1, &|first, out| {
        for (j, task) in out.iter_mut().enumerate() {
            let k = first + j;
            if let (Some(t), Some(est)) = (task, ng.get(k)) {
                let cand = candidate::<T, D, DIAG>(cfg, temperature, &t.part, est, &st.get(k));
                t.applied = cand.and_then(|c| t.part.set(c.mean, &c.chol).then_some(c.eta));
            }
        }
    });
    let mut rejected = 0;
    for (k, task) in tasks[..kn].iter().enumerate() {
        let applied = task.as_ref().and_then(|t| t.applied);
        rejected += usize::from(applied.is_none());
        let mut s = states.get(k);
        s.record_update(applied, initial_l2);
        states.set(k, &s);
    }
    rejected
}

/// One component's update task: its parameters and, once run, `Some(eta)` if the candidate was
/// applied (as [`ComponentState::record_update`] takes it).
struct Task<'a, T: Real, const D: usize> {
    part: ComponentMut<'a, T, D>,
    applied: Option<Option<T>>,
}

/// The candidate of a component by the configured updater, `None` without an estimate or if
/// the update was rejected.
fn candidate<T: Real, const D: usize, const DIAG: bool>(
    cfg: &ComponentUpdateConfig,
    temperature: T,
    part: &ComponentMut<'_, T, D>,
    est: &Estimate<T, D>,
    st: &ComponentState<T>,
) -> Option<Candidate<T, D>> {
    let (mean, chol) = (*part.mean(), *part.chol());
    let (hess, grad) = (*est)?;
    let beta = st.stepsize;
    match cfg.updater {
        ComponentUpdater::TrustRegion => {
            let r_vec = hess * mean - grad;
            let pr = trust_region::Problem {
                mean: &mean,
                chol: &chol,
                inv_t: part.inv_t(),
                r_mat: &hess,
                r_vec: &r_vec,
                diag: DIAG,
            };
            let step = trust_region::update(&pr, beta, st.last_eta, temperature);
            match step.outcome {
                Outcome::Updated { eta } => Some(Candidate { mean: step.mean, chol: step.chol, eta: Some(eta) }),
                Outcome::Rejected => None,
            }
        }
        ComponentUpdater::Direct if cfg!(feature = "direct-update") => {
            direct::update(&mean, &chol, &hess, &grad, beta).map(|(mean, chol)| Candidate { mean, chol, eta: None })
        }
        ComponentUpdater::Iblr if cfg!(feature = "iblr-update") => {
            let first = st.n_updates == 0;
            let step = if DIAG { iblr::update_diag } else { iblr::update };
            step(&mean, &chol, &hess, &grad, beta, first).map(|(mean, chol)| Candidate { mean, chol, eta: None })
        }
        // Left out of this build (`Config::validate` rejected it): no update.
        ComponentUpdater::Direct | ComponentUpdater::Iblr => None,
    }
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

//! Design choice 2 — number of components (Arenz et al. 2023, §3.6; docs/algorithm.md §3, §10).
//!
//! Option `A` ([`vips`]): after every iteration `it`, delete components that neither improved
//! nor ever mattered (`it > del_iters`), then every `add_iters` iterations add one component at
//! the stored sample that the mixture explains worst.

pub mod vips;

use nalgebra::{SMatrix, SVector};
use rand_core::Rng;

use crate::component_state::{ComponentState, ComponentStates};
use crate::config::{AdaptConfig, ComponentAdaptation};
use crate::history::History;
use crate::model::Gmm;
use crate::parallel::Parallel;
use crate::real::Real;
use crate::store::SampleStore;
use crate::target::Target;

/// The state the adaptation works on: the model with everything stored per component (reward
/// and weight histories, optimiser states), the store the add heuristic searches (`log_q`
/// its scratch, at least as long as the store), the generator and the executor.
pub(crate) struct Adaptation<
    'a,
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const HISTORY: usize,
    R,
    X,
> {
    pub model: &'a mut Gmm<T, D, K>,
    pub rewards: &'a mut History<T, K, HISTORY>,
    pub weights: &'a mut History<T, K, HISTORY>,
    pub states: &'a mut ComponentStates<T, K>,
    pub store: &'a mut SampleStore<T, D, SAMPLES, GAUSSIANS>,
    pub log_q: &'a mut [T],
    pub rng: &'a mut R,
    pub par: &'a X,
}

/// The add heuristic's schedule and prior: completed iterations, adds so far, the prior's
/// entropy and distribution (mean and standard deviations), and the state of a new component.
pub(crate) struct AddSchedule<'a, T: Real, const D: usize> {
    pub iteration: u64,
    pub add_calls: &'a mut usize,
    pub prior_entropy: Option<T>,
    pub prior: Option<&'a (SVector<T, D>, SVector<T, D>)>,
    pub new_state: ComponentState<T>,
}

/// What one adaptation did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Adapted {
    pub deleted: usize,
    pub added: usize,
    /// Target evaluations spent on prior candidates.
    pub evaluated: usize,
    /// Candidate rows of the add heuristic (stored rows and prior draws; 0 if it did not run).
    pub candidates: usize,
}

/// Design choice 2: with option `A`, deletes the components that neither improved nor mattered
/// and then, if it is time, adds one (option `E`: nothing).
pub(crate) fn adapt<
    T,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const HISTORY: usize,
    R,
    X,
    P,
>(
    cfg: &AdaptConfig<T>,
    mut st: Adaptation<'_, T, D, K, SAMPLES, GAUSSIANS, HISTORY, R, X>,
    sched: AddSchedule<'_, T, D>,
    target: &mut P,
) -> Adapted
where
    T: Real,
    R: Rng + Clone,
    X: Parallel,
    P: Target<T, D> + ?Sized,
{
    match cfg.mode {
        ComponentAdaptation::Fixed => Adapted::default(),
        ComponentAdaptation::Adaptive => {
            let deleted = delete(cfg, sched.iteration, &mut st);
            let (added, evaluated, candidates) = add(cfg, &mut st, sched, target);
            Adapted { deleted, added, evaluated, candidates }
        }
    }
}

/// Deletes the components of [`vips::deletion_candidates`] (never the last one), each with its
/// histories and state; returns how many.
#[inline(never)]
fn delete<
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const HISTORY: usize,
    R,
    X,
>(
    cfg: &AdaptConfig<T>,
    iteration: u64,
    st: &mut Adaptation<'_, T, D, K, SAMPLES, GAUSSIANS, HISTORY, R, X>,
) -> usize {
    let del = cfg.del_iters;
    if iteration <= del as u64 {
        return 0;
    }
    let n = st.model.len();
    let mut bad = [false; K];
    vips::deletion_candidates(st.rewards, st.weights, n, del, cfg.min_weight_for_del, &mut bad);
    let mut deleted = 0;
    for (k, &bad) in bad.iter().enumerate().take(n).rev() {
        // Never delete the last component.
        if bad && st.model.len() > 1 && st.model.remove_component(k).is_ok() {
            let m = st.model.len() + 1;
            st.rewards.remove_row(k, m);
            st.weights.remove_row(k, m);
            st.states.remove(k, m);
            deleted += 1;
        }
    }
    deleted
}

/// Adds a component if it is time (docs/algorithm.md §10.1), with fresh histories and state;
/// the number added (0 or 1), the target evaluations spent on prior candidates and the
/// number of candidates (0 if it was not time).
#[inline(never)]
fn add<
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const HISTORY: usize,
    R,
    X,
    P,
>(
    cfg: &AdaptConfig<T>,
    st: &mut Adaptation<'_, T, D, K, SAMPLES, GAUSSIANS, HISTORY, R, X>,
    sched: AddSchedule<'_, T, D>,
    target: &mut P,
) -> (usize, usize, usize)
where
    R: Rng + Clone,
    X: Parallel,
    P: Target<T, D> + ?Sized,
{
    let (it, n) = (sched.iteration, st.model.len());
    if !(it > 1 && it.is_multiple_of(cfg.add_iters as u64) && n < cfg.max_components && n < K) {
        return (0, 0, 0);
    }
    *sched.add_calls += 1;
    // `Config::validate` rejected an empty list.
    let Some(&tau) = cfg.thresholds.get(*sched.add_calls % cfg.thresholds.len().max(1)) else {
        return (0, 0, 0);
    };
    let prior = match sched.prior {
        Some((mean, std)) if cfg.num_prior_samples > 0 => {
            Some(vips::PriorCandidates { mean, std, n: cfg.num_prior_samples, target })
        }
        _ => None,
    };
    let pick = vips::Pick { num_candidates: cfg.num_database_samples, tau, prior_entropy: sched.prior_entropy };
    let (proposal, evaluated) = vips::propose(&*st.model, &st.store.rows(), st.log_q, st.rng, &pick, prior, st.par);
    st.store.count_evaluations(evaluated);
    let candidates = cfg.num_database_samples.min(st.store.len()) + evaluated;
    let Some((mean, var)) = proposal else {
        return (0, evaluated, candidates);
    };
    let chol = SMatrix::<T, D, D>::identity() * var.sqrt();
    let Ok(k) = st.model.push_chol(T::of(libm::log(vips::NEW_COMPONENT_WEIGHT)), mean, &chol) else {
        return (0, evaluated, candidates);
    };
    st.rewards.reset_row(k, T::SENTINEL);
    st.weights.reset_row(k, T::of(vips::NEW_COMPONENT_WEIGHT));
    st.states.reset(k, &sched.new_state);
    (1, evaluated, candidates)
}

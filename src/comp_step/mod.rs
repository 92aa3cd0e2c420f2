//! Design choice 5 — component step size (Arenz et al. 2023, §3.5; docs/algorithm.md §6), called at
//! the start of every iteration's component update. For the trust-region update the step size is
//! the KL bound ε, for the direct and iBLR updates the natural-gradient step size β.
//!
//! * Option `F` ([`fixed`]): `β_k = initial`.
//! * Option `D` ([`decaying`]): `β_k = initial / (1 + n_k^a)` with `n_k` the component's
//!   received updates.
//! * Option `R` ([`improvement`]): grow after an improvement of the component's reward, shrink
//!   otherwise.

pub mod decaying;
pub mod fixed;
pub mod improvement;

use crate::component_state::ComponentStates;
use crate::config::{ComponentStepConfig, StepSchedule};
use crate::history::History;
use crate::real::Real;

/// Design choice 5: the step sizes of the first `n` components for this iteration, from their
/// state and their reward history.
pub(crate) fn adapt_all<T: Real, const K: usize, const HISTORY: usize>(
    cfg: &ComponentStepConfig<T>,
    rewards: &History<T, K, HISTORY>,
    states: &mut ComponentStates<T, K>,
    n: usize,
) {
    for k in 0..n {
        let st = states.get(k);
        states.set_stepsize(k, adapt(cfg, st.stepsize, st.n_updates, rewards.get(k, 2), rewards.get(k, 1)));
    }
}

/// The new step size of one component: current `beta`, received updates `n`, and its last
/// two rewards `prev`, `last` (reward history entries −2 and −1).
pub(crate) fn adapt<T: Real>(cfg: &ComponentStepConfig<T>, beta: T, n: u64, prev: T, last: T) -> T {
    match cfg.schedule {
        StepSchedule::Fixed => fixed::stepsize(cfg),
        StepSchedule::Decaying if cfg!(feature = "decaying-steps") => decaying::stepsize(cfg, n),
        // Left out of this build (`Config::validate` rejected it).
        StepSchedule::Decaying => beta,
        StepSchedule::ImprovementBased => improvement::adapt(cfg, beta, prev, last),
    }
}

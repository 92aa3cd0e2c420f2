//! Fixed component step size, letter `F` (Arenz et al. 2023, §3.5; docs/algorithm.md §6): `β_k =
//! initial_stepsize` (default 1e-5).

use crate::config::ComponentStepConfig;

/// The step size of every component in every iteration.
pub(crate) fn stepsize<T: Copy>(cfg: &ComponentStepConfig<T>) -> T {
    cfg.initial
}

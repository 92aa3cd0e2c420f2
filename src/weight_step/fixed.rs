//! Fixed weight step size, letter `X` (Arenz et al. 2023, §3.5; docs/algorithm.md §8): `β_w =
//! initial_stepsize`.

use crate::config::WeightStepConfig;

/// The step size of every iteration.
pub(crate) fn stepsize<T: Copy>(cfg: &WeightStepConfig<T>) -> T {
    cfg.initial
}

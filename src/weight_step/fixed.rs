//! Fixed weight step size, letter `X` (spec algorithm.md §8): `β_w = initial_stepsize`.

use crate::config::WeightStepConfig;

/// The step size of every iteration.
pub(crate) fn stepsize<T: Copy>(cfg: &WeightStepConfig<T>) -> T {
    cfg.initial
}

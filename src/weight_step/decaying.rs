//! Decaying weight step size, letter `G` (Arenz et al. 2023, §3.5; docs/algorithm.md §8): `β_w =
//! initial / (1 + m^a)` with `m` the number of previous calls (0 at the first). The reference ships
//! no default exponent `a`, so [`crate::Config::validate`] requires `annealing_exponent` to be set.

use crate::config::WeightStepConfig;
use crate::real::Real;

/// The step size of call number `m` (from 0); an unset exponent counts as 0 (validated away).
pub(crate) fn stepsize<T: Real>(cfg: &WeightStepConfig<T>, m: u64) -> T {
    let a = cfg.annealing_exponent.unwrap_or_else(T::zero);
    let decay = if m == 0 { T::zero() } else { T::count_pow(m, a) };
    cfg.initial / (T::one() + decay)
}

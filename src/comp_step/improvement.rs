//! Improvement-based component step size, letter `R` (Arenz et al. 2023, §3.5; docs/algorithm.md
//! §6).
//!
//! With `rh_k` the component's reward history (`R_k` of the previous weight updates):
//! if `rh_k[−2] ≥ rh_k[−1]` then `β_k ← max(dec·β_k, min)`, else `β_k ← min(inc·β_k, max)`.
//! A fresh component holds the sentinel in both entries, so it shrinks at its first update and
//! grows at its second, as in the reference.

use crate::config::ComponentStepConfig;
use crate::real::Real;

/// New step size of one component from its last two rewards.
pub(crate) fn adapt<T: Real>(cfg: &ComponentStepConfig<T>, beta: T, prev: T, last: T) -> T {
    if prev >= last { (cfg.dec_factor * beta).max(cfg.min) } else { (cfg.inc_factor * beta).min(cfg.max) }
}

//! Improvement-based weight step size, letter `N` (Arenz et al. 2023, §3.5; docs/algorithm.md §8).
//!
//! At every call `Ê = Σ_k w_k·rh_k[−1] − Σ_k w_k·log w_k` (current weights, newest rewards: the
//! ELBO of the previous iteration's rewards, without a temperature factor); if `Ê` exceeds the
//! previous call's value `β_w ← min(inc·β_w, max)`, else `β_w ← max(dec·β_w, min)`. The first
//! comparison is against the sentinel and fresh components carry sentinel rewards, so the
//! reference's "decrease first" behaviour follows from the arithmetic.

use crate::config::WeightStepConfig;
use crate::real::Real;

/// `Ê = Σ_k w_k (rh_k[−1] − log w_k)`.
pub(crate) fn elbo_estimate<T: Real>(log_w: &[T], last_rewards: &[T]) -> T {
    let mut e = T::zero();
    for (&lw, &r) in log_w.iter().zip(last_rewards) {
        e += lw.exp() * (r - lw);
    }
    e
}

/// The new step size after an ELBO estimate `now` following `prev`.
pub(crate) fn adapt<T: Real>(cfg: &WeightStepConfig<T>, beta: T, prev: T, now: T) -> T {
    if now > prev { (cfg.inc_factor * beta).min(cfg.max) } else { (cfg.dec_factor * beta).max(cfg.min) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn grows_on_improvement_and_clips() {
        let cfg = Config::<f64>::samtron().weight_step;
        assert_eq!(adapt(&cfg, 1.0, -5.0, -4.0), 1.0); // clipped at max
        assert!((adapt(&cfg, 0.5, -5.0, -4.0) - 0.575).abs() < 1e-15);
        assert!((adapt(&cfg, 0.5, -4.0, -4.0) - 0.425).abs() < 1e-15);
        assert_eq!(adapt(&cfg, 1e-4, 0.0, -1.0), 1e-4); // clipped at min
        // w = (0.25, 0.75), rewards (−1, −2): Ê = 0.25(−1 − ln 0.25) + 0.75(−2 − ln 0.75).
        let lw = [0.25f64.ln(), 0.75f64.ln()];
        let e = elbo_estimate(&lw, &[-1.0, -2.0]);
        assert!((e - (0.25 * (-1.0 - 0.25f64.ln()) + 0.75 * (-2.0 - 0.75f64.ln()))).abs() < 1e-14);
    }
}

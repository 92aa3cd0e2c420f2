//! Decaying component step size, letter `D` (Arenz et al. 2023, §3.5; docs/algorithm.md §6):
//! `β_k = initial / (1 + n_k^a)`, `n_k` = the component's received updates (so a component that
//! was never updated gets `initial`; `0^a = 0`), `a` = `annealing_exponent` (default 0.55).

use crate::config::ComponentStepConfig;
use crate::real::Real;

/// The step size of a component that has received `n` updates.
pub(crate) fn stepsize<T: Real>(cfg: &ComponentStepConfig<T>, n: u64) -> T {
    let decay = if n == 0 { T::zero() } else { T::count_pow(n, cfg.annealing_exponent) };
    cfg.initial / (T::one() + decay)
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn schedule() {
        let cfg = Config::<f64>::from_codeword("SAMTDUX").unwrap().component_step;
        assert_eq!(super::stepsize(&cfg, 0), 1.0);
        assert_eq!(super::stepsize(&cfg, 1), 0.5);
        assert!((super::stepsize(&cfg, 4) - 1.0 / (1.0 + 4f64.powf(0.55))).abs() < 1e-15);
    }
}

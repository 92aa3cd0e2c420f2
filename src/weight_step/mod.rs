//! Design choice 7 — weight step size (Arenz et al. 2023, §3.5; docs/algorithm.md §8), called once
//! per iteration right before the weight update; the result is a step size for `U` and a KL bound
//! for `O`.
//!
//! * Option `X` ([`fixed`]): a constant step size.
//! * Option `G` ([`decaying`]): `β_w = initial / (1 + m^a)`, `m` = previous calls.
//! * Option `N` ([`improvement`]): grow when the ELBO estimate of the previous rewards rose,
//!   shrink otherwise.

pub mod decaying;
pub mod fixed;
pub mod improvement;

use crate::config::{StepSchedule, WeightStepConfig};
use crate::history::History;
use crate::real::Real;

/// The schedule's state between iterations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct WeightStepState<T> {
    /// Current step size (`N`).
    pub beta: T,
    /// Previous calls (`G`).
    pub calls: u64,
    /// The previous ELBO estimate (`N`); starts at the sentinel.
    pub last_elbo: T,
}

impl<T: Real> WeightStepState<T> {
    /// All zeros (see `Optimizer::BLANK`).
    pub const BLANK: Self = Self { beta: T::ZERO_CONST, calls: 0, last_elbo: T::ZERO_CONST };

    /// The state before the first call.
    pub fn new(cfg: &WeightStepConfig<T>) -> Self {
        Self { beta: cfg.initial, calls: 0, last_elbo: T::SENTINEL }
    }

    /// Design choice 7: the step size of this iteration, from the current log weights `log_w`
    /// and the newest reward-history entry of their components.
    pub fn next_after<const K: usize, const HISTORY: usize>(
        &mut self,
        cfg: &WeightStepConfig<T>,
        log_w: &[T],
        rewards: &History<T, K, HISTORY>,
    ) -> T {
        let mut last = [T::zero(); K];
        for (k, r) in last.iter_mut().enumerate().take(log_w.len()) {
            *r = rewards.get(k, 1);
        }
        self.next(cfg, log_w, &last[..log_w.len().min(K)])
    }

    /// The step size of this iteration; `log_w` are the current log weights and `last_rewards`
    /// the newest reward-history entry of every component.
    pub fn next(&mut self, cfg: &WeightStepConfig<T>, log_w: &[T], last_rewards: &[T]) -> T {
        match cfg.schedule {
            StepSchedule::Fixed => fixed::stepsize(cfg),
            StepSchedule::Decaying if cfg!(feature = "decaying-steps") => {
                let b = decaying::stepsize(cfg, self.calls);
                self.calls += 1;
                b
            }
            // Left out of this build (`Config::validate` rejected it).
            StepSchedule::Decaying => self.beta,
            StepSchedule::ImprovementBased => {
                let e = improvement::elbo_estimate(log_w, last_rewards);
                self.beta = improvement::adapt(cfg, self.beta, self.last_elbo, e);
                self.last_elbo = e;
                self.beta
            }
        }
    }
}

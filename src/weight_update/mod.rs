//! Design choice 6 — weight update (Arenz et al. 2023, §3.4 and App. F; docs/algorithm.md §7).
//!
//! Both options first estimate, with the components already updated in this iteration and the
//! old weights, the expected log ratio of every component
//! `E_k = Σ_n ŵ_k[n]·(log p~(x_n) − T·log q(x_n))`, `ŵ_k ∝ N(x_n; μ_k, Σ_k)/b(x_n)`
//! ([`rewards`]); the component reward is `R_k = T·log w_k + E_k`.
//!
//! Option `U` ([`direct`]): natural-gradient step on the log weights.
//! Option `O` ([`trust_region`]): KL-bounded step on the log weights.

pub mod direct;
pub mod rewards;
pub mod trust_region;

use crate::config::{WeightUpdateConfig, WeightUpdater};
use crate::history::History;
use crate::model::Gmm;
use crate::parallel::Parallel;
use crate::real::Real;
use crate::store::WorkingSet;
use rewards::RewardScratch;

/// The state a weight update works on: the model (components already updated), the working set,
/// the reward and weight histories it appends to and the rewards pass's scratch.
pub(crate) struct Weighting<'a, T: Real, const D: usize, const K: usize, const HISTORY: usize> {
    pub model: &'a mut Gmm<T, D, K>,
    pub ws: WorkingSet<'a, T, D>,
    pub rewards: &'a mut History<T, K, HISTORY>,
    pub weights: &'a mut History<T, K, HISTORY>,
    pub scratch: &'a mut RewardScratch<T, K>,
}

/// Design choice 6: estimates the expected log ratios, appends the rewards `T·log w_k + E_k` to
/// the reward history (the sentinel where not finite) and, with more than one component, steps
/// the log weights with step size `beta` by option `U` or `O` and appends the new weights to
/// the weight history. Returns the importance-sampled ELBO `Σ_k w_k E_k`, or `None` if some
/// `E_k` is not finite (the weights are then left as they are).
pub(crate) fn update<T: Real, const D: usize, const K: usize, const HISTORY: usize, X: Parallel>(
    cfg: &WeightUpdateConfig,
    temperature: T,
    beta: T,
    st: Weighting<'_, T, D, K, HISTORY>,
    par: &X,
) -> Option<T> {
    let Weighting { model, ws, rewards: rh, weights: wh, scratch } = st;
    let kn = model.len().min(K);
    let ok = rewards::expected_log_ratios(model, &ws, temperature, cfg.self_normalized, scratch, par);
    let e = &scratch.e;
    let mut rewards_now = [T::zero(); K];
    let mut elbo = T::zero();
    let lw = model.log_weights();
    for ((rk, &lwk), &ek) in rewards_now.iter_mut().zip(lw).zip(e) {
        let r = temperature * lwk + ek;
        *rk = if r.finite() { r } else { T::SENTINEL };
        elbo += lwk.exp() * ek;
    }
    rh.push(&rewards_now[..kn]);
    if ok && kn > 1 {
        let mut u = [T::zero(); K];
        match cfg.updater {
            WeightUpdater::Direct => direct::update(lw, &e[..kn], beta, temperature, &mut u[..kn]),
            WeightUpdater::TrustRegion if cfg!(feature = "weight-trust-region") => {
                trust_region::update(lw, &e[..kn], beta, temperature, &mut u[..kn]);
            }
            // Left out of this build (`Config::validate` rejected it): weights unchanged.
            WeightUpdater::TrustRegion => u[..kn].copy_from_slice(lw),
        }
        if model.set_log_weights(&u[..kn]).is_ok() {
            let mut w = [T::zero(); K];
            for (wk, lk) in w.iter_mut().zip(model.log_weights()) {
                *wk = lk.exp();
            }
            wh.push(&w[..kn]);
        }
    }
    ok.then_some(elbo)
}

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

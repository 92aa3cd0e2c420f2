//! Design choice 4 — natural-gradient component update (spec algorithm.md §5).
//!
//! Every updater receives `(Ĥ_k, ĝ_k)` and a step size per component and either replaces the
//! component's mean and Cholesky factor or rejects the update and keeps the component.
//!
//! Option `T` ([`trust_region`]): KL-bounded step, the bound being the step size.
//! Option `I` ([`direct`]): direct natural-gradient step in the natural parameters.
//! Option `Y` ([`iblr`]): improved Bayesian learning rule (iBLR).

pub mod direct;
pub mod iblr;
pub mod trust_region;

/// Outcome of one component update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Outcome<T> {
    /// New parameters stored; the trust-region multiplier η used.
    Updated { eta: T },
    /// Rejected (no positive-definite candidate); the component is unchanged.
    Rejected,
}

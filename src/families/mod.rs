//! Variational families for the gradient-based baselines (`estimators.md` §0, §13, §14).
//!
//! Placeholder module tree; each file is filled by its own change.

pub mod gaussian;
pub mod gumbel;
pub mod planar;

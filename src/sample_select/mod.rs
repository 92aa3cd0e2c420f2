//! Design choice 3 — sample selection (spec algorithm.md §4, §9).
//!
//! Option `M` ([`component`]): every component tops its effective sample size up to
//! `n_des` with fresh samples of its own, reusing the newest stored samples by importance
//! weighting.

pub mod component;

//! Design choice 7 — weight step size (spec algorithm.md §8).
//!
//! Option `X` ([`fixed`]): a constant step size.

pub mod fixed;

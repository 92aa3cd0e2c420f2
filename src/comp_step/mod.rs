//! Design choice 5 — component step size (spec algorithm.md §6). For the trust-region update
//! the step size is the KL bound ε.
//!
//! Option `R` ([`improvement`]): grow after an improvement of the component's reward, shrink
//! otherwise.

pub mod improvement;

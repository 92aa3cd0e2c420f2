//! Design choice 1 — natural-gradient estimation (Arenz et al. 2023, §3.2; docs/algorithm.md §2).
//!
//! Every estimator returns, per component o, the negated expected Hessian
//! `Ĥ_o = −E_{q(x|o)}[∇²ρ]` and the negated expected gradient `ĝ_o = −E_{q(x|o)}[∇ρ]` of the log
//! ratio `ρ = log p~ − log q`, importance-weighted over the working set.
//!
//! Option `S` ([`stein`]): first order, from target gradients by Stein's lemma.
//! Option `Z` ([`more`]): zero order, quadratic surrogate by weighted ridge regression.

pub mod more;
pub mod stein;

//! Design choice 2 — number of components (Arenz et al. 2023, §3.6; docs/algorithm.md §3, §10).
//!
//! Option `A` ([`vips`]): after every iteration `it`, delete components that neither improved
//! nor ever mattered (`it > del_iters`), then every `add_iters` iterations add one component at
//! the stored sample that the mixture explains worst.

pub mod vips;

//! The variational model: a Gaussian mixture with a const-generic component capacity.

mod gmm;

pub(crate) use gmm::{Component, block_candidates, cholesky, log_mix};

pub use gmm::Gmm;

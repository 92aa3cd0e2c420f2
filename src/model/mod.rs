//! The variational model: a Gaussian mixture with a const-generic component capacity.

mod gmm;

pub(crate) use gmm::{cholesky, whiten};

pub use gmm::Gmm;

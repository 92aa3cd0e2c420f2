//! The variational model: a Gaussian mixture with a const-generic component capacity.

mod gmm;

pub use gmm::Gmm;

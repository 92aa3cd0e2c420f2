//! gmmvi: natural-gradient variational inference with Gaussian mixture models, `no_std`
//! and allocation-free.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod error;
pub mod model;
pub mod real;
pub mod rng;
pub mod target;
pub mod targets;

pub use error::{Error, TargetError};
pub use model::Gmm;
pub use real::Real;
pub use target::{TARGET_BLOCK, Target};

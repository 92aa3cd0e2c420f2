//! gmmvi: natural-gradient variational inference with Gaussian mixture models, `no_std`
//! and allocation-free.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod adapt;
pub mod comp_step;
pub mod comp_update;
pub mod config;
pub mod error;
mod history;
pub mod model;
pub mod ng_estimate;
pub mod optimizer;
pub mod real;
pub mod rng;
pub mod sample_select;
pub mod store;
pub mod target;
pub mod targets;
pub mod weight_step;
pub mod weight_update;

pub use config::Config;
pub use error::{Error, TargetError};
pub use model::Gmm;
pub use optimizer::{Optimizer, RunSummary, StepReport, StopReason, StopRule};
pub use real::Real;
pub use target::{TARGET_BLOCK, Target};

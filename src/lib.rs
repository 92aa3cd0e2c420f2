//! # gmmvi
//!
//! Natural-gradient variational inference with Gaussian mixture models (Arenz et al., "A
//! Unified Perspective on Natural Gradient Variational Inference with Gaussian Mixture
//! Models", TMLR 2023), `no_std` and without any heap: every buffer is sized by const
//! generics and lives inline in one value.
//!
//! Given an unnormalised log-density `log p~(x)` (a [`Target`]), the [`Optimizer`] fits
//! `q(x) = Σ_k w_k N(x; μ_k, Σ_k)` by maximising `ELBO = E_q[log p~(x) − log q(x)]`. Every
//! design of the paper's modular framework (Arenz et al. 2023, §3) is implemented: a
//! 7-letter codeword picks one option for each of the seven design choices (432 designs, e.g.
//! **SAMTRUX**, the default, or SAMTRON, ZAMTRUX ≈ VIPS, SEPYFUX ≈ iBayes-GMM). One module per
//! design choice: [`ng_estimate`], [`adapt`], [`sample_select`], [`comp_update`],
//! [`comp_step`], [`weight_update`], [`weight_step`]; the method is described in
//! `docs/algorithm.md`.
//!
//! ```
//! use gmmvi::{Config, Gmm, Optimizer, Real, StopRule, Target, TargetError};
//! use nalgebra::SVector;
//!
//! /// log p~(x) = −½‖x − (1, 2)‖², a Gaussian with log Z = ln 2π.
//! struct Bowl;
//! impl<T: Real> Target<T, 2> for Bowl {
//!     fn log_density(&mut self, x: &[SVector<T, 2>], lp: &mut [T]) -> Result<(), TargetError> {
//!         let mut g = [SVector::zeros(); gmmvi::TARGET_BLOCK];
//!         self.log_density_with_grad(x, lp, &mut g[..x.len()])
//!     }
//!     fn log_density_with_grad(&mut self, x: &[SVector<T, 2>], lp: &mut [T],
//!                              grad: &mut [SVector<T, 2>]) -> Result<(), TargetError> {
//!         for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
//!             let d = xi - SVector::from([T::of(1.0), T::of(2.0)]);
//!             *l = -d.norm_squared() * T::of(0.5);
//!             *g = -d;
//!         }
//!         Ok(())
//!     }
//! }
//!
//! // D = 2, up to K = 4 components, 1024 stored samples, 16 stored Gaussians, 256 history columns.
//! type Opt = Optimizer<f64, 2, 4, 1024, 16, 256>;
//! let mut init = Gmm::new();
//! init.add_component(1.0, SVector::zeros(), &(nalgebra::SMatrix::identity() * 10.0))?;
//! let mut opt = Box::new(Opt::new(&Config::samtrux(), init, 42)?);
//! opt.run(&mut Bowl, &StopRule::iterations(50), |_| {})?;
//! let elbo = opt.estimate_elbo(&mut Bowl, 1000)?;
//! assert!((elbo - core::f64::consts::TAU.ln()).abs() < 1e-3); // ELBO → log Z
//! # Ok::<(), gmmvi::Error>(())
//! ```
//!
//! ## Bounded supports and moving goals
//! [`Optimizer::set_bounds`] declares per-coordinate bounds ([`Bounds`]: two-sided, one-sided or
//! none, mixed freely); the mixture is then fitted in an unconstrained space through a smooth
//! bijection per bounded coordinate ([`bounds`], docs/algorithm.md §15), the target is evaluated
//! strictly inside the bounds, and [`Optimizer::sample`] / [`Optimizer::log_density`] work in
//! the constrained space. [`Optimizer::retarget`] keeps the mixture when the target changes and
//! resets what belonged to the old one.
//!
//! ## Memory
//! [`Optimizer<T, DIM, COMPONENTS, SAMPLES, GAUSSIANS, HISTORY>`](Optimizer) is one value of fixed
//! size (`t` = `size_of::<T>()`; `D`, `K`, `S`, `G`, `H` below stand for those capacities):
//!
//! ```text
//! size ≈ S·((3D + 3)·t + 32)                sample store: x, ∇log p~, log p~, id + per-row scratch
//!                                           and kept background sums (24 bytes a row)
//!      + G·((2D² + 6D + 7)·t + 40)          stored Gaussians (ring + working-set copy + row blocks)
//!      + K·((3D² + 4D + 2H + 33)·t + 8)      model, NG estimates, histories, step sizes
//! ```
//!
//! e.g. planar_robot_4 (`f64`, D = 10, K = 1000, S = 200 000, G = 2000, H = 32): 67.1 MB;
//! a 7-joint arm for a microcontroller (`f32`, D = 7, K = 8, S = 320, G = 24, H = 16):
//! 63.8 kB (the sample store dominates). The optimiser's last parameter `BG_CACHE = 0` leaves
//! the kept background sums out (`24·S` bytes less, the same results, more time per
//! iteration with reuse). The value can live in a `static`, on a large enough stack or in a `Box`
//! (build it on a thread with a big stack when it is megabytes: `Box::new` may build the value
//! on the stack first).
//!
//! ## Cargo features
//! The default feature `all-options` compiles in every option of the seven design choices. A
//! build for one method turns the defaults off and keeps SAMTRUX's options (and `E`, `F`, `N`),
//! adding back what it needs: `ng-more` (`Z`), `mixture-selection` (`P`), `direct-update`
//! (`I`), `iblr-update` (`Y`), `decaying-steps` (`D`, `G`), `weight-trust-region` (`O`).
//! [`Config::validate`] rejects a configuration that picks a left-out option, naming the field
//! and the feature; the firmware in `firmware/` is built this way (62 KiB of flash instead of
//! 79). The default feature `decimal-text` lets the text form ([`Config::parse`],
//! [`Config::set`]) read fractions and exponents; without it numbers are integers and no float
//! parsing is linked. `std` adds the threaded executor.
//!
//! The C ABI (`include/gmmvi.h`) is the workspace crate `gmmvi-abi` in `ffi/`; the crate
//! `gmmvi-ffi` in `ffi/staticlib/` builds it into `libgmmvi.a`.
//!
//! ## Failure handling
//! No function panics on any input. A target error aborts the step and keeps the model; a
//! non-finite target value or gradient rejects that sample; a failed factorisation rejects
//! that component's update and keeps the component; the model never holds a NaN.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// `!(x > 0)` is how this crate rejects NaN together with out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

#[cfg(feature = "std")]
extern crate std;

pub mod adapt;
pub mod bounds;
pub mod checkpoint;
pub mod comp_step;
pub mod comp_update;
mod component_state;
pub mod config;
pub mod error;
mod history;
pub mod model;
pub mod ng_estimate;
pub mod optimizer;
pub mod parallel;
pub mod real;
pub mod rng;
pub mod sample_select;
pub mod store;
pub mod target;
pub mod weight_step;
pub mod weight_update;

pub use bounds::Bounds;
pub use config::Config;
pub use error::{Error, TargetError};
pub use model::{Gmm, SubGmm};
pub use optimizer::{Optimizer, Optimizer7x8, RunSummary, SmallOptimizer, StepReport, StopReason, StopRule};
#[cfg(feature = "std")]
pub use parallel::Threads;
pub use parallel::{Parallel, Pass, Serial};
pub use real::Real;
pub use target::{TARGET_BLOCK, Target};

/// The README's examples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// `size_of` of an optimiser state by the formula of the crate docs (without the O(1) part).
pub const fn state_size_formula(t: usize, d: usize, k: usize, s: usize, g: usize, h: usize) -> usize {
    s * ((3 * d + 3) * t + 32) + g * ((2 * d * d + 6 * d + 7) * t + 40) + k * ((3 * d * d + 4 * d + 2 * h + 33) * t + 8)
}

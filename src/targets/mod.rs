//! Benchmark targets usable in `no_std` (spec targets.md): a normalised Gaussian mixture
//! (§2) and the 10-link planar robot (§4).

mod gaussian;
mod planar_robot;

pub use gaussian::GaussianMixtureTarget;
pub use planar_robot::PlanarRobot;

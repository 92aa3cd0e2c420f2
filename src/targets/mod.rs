//! Benchmark targets usable in `no_std` (spec targets.md): a normalised Gaussian mixture
//! (§2) and the 10-link planar robot (§4).

mod gaussian;
mod planar_robot;

pub use gaussian::GaussianMixtureTarget;
pub use planar_robot::PlanarRobot;

use nalgebra::SVector;

use crate::error::TargetError;
use crate::real::Real;

/// The batched [`crate::Target`] methods for a target evaluated point by point in `f64`:
/// `f(x, grad)` returns `log p~(x)` and writes the gradient when asked. Mismatched slice
/// lengths give `TargetError { code: -1 }`.
pub(crate) fn eval_pointwise_f64<T: Real, const D: usize>(
    x: &[SVector<T, D>],
    log_p: &mut [T],
    grad: Option<&mut [SVector<T, D>]>,
    f: impl Fn(&SVector<f64, D>, Option<&mut SVector<f64, D>>) -> f64,
) -> Result<(), TargetError> {
    if x.len() != log_p.len() || grad.as_ref().is_some_and(|g| g.len() != x.len()) {
        return Err(TargetError { code: -1 });
    }
    match grad {
        None => {
            for (xi, lp) in x.iter().zip(log_p.iter_mut()) {
                *lp = T::of(f(&xi.map(|v| v.to_f64()), None));
            }
        }
        Some(grad) => {
            for ((xi, lp), gi) in x.iter().zip(log_p.iter_mut()).zip(grad.iter_mut()) {
                let mut g = SVector::<f64, D>::zeros();
                *lp = T::of(f(&xi.map(|v| v.to_f64()), Some(&mut g)));
                *gi = g.map(T::of);
            }
        }
    }
    Ok(())
}

//! The target interface: an unnormalised log-density `log p~(x)`, evaluated a block of
//! points at a time so that a target can vectorise and a C callback is called once per block.

use nalgebra::SVector;

use crate::error::TargetError;
use crate::real::Real;

/// Most points the optimiser passes to one call of a [`Target`] method.
pub const TARGET_BLOCK: usize = 64;

/// An unnormalised log-density over `R^D`.
///
/// The optimiser calls these methods with `x.len() == log_p.len() (== grad.len())`,
/// at most [`TARGET_BLOCK`] points per call.
///
/// * A non-finite `log_p[i]` (or a non-finite entry of `grad[i]`) **rejects that sample**:
///   it is dropped before it enters the sample store (it still counts as an evaluation).
/// * `Err` aborts the step: the model is left as it was and none of the step's samples is
///   stored (a full sample store may already have been thinned to make room for them).
pub trait Target<T: Real, const D: usize> {
    /// Writes `log p~(x_i)` into `log_p[i]`.
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), TargetError>;

    /// Writes `log p~(x_i)` into `log_p[i]` and `∇_x log p~(x_i)` into `grad[i]`.
    /// First-order estimators (Stein, letter `S`) call this one.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError>;
}

impl<T: Real, const D: usize, P: Target<T, D> + ?Sized> Target<T, D> for &mut P {
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), TargetError> {
        (**self).log_density(x, log_p)
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        (**self).log_density_with_grad(x, log_p, grad)
    }
}

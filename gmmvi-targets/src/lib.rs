//! Benchmark targets usable in `no_std` (docs/targets.md), all evaluated in `f64` and
//! reported as `T`, implementing [`gmmvi::Target`]; data are passed in as slices (with the `std`
//! feature, `data` loads the files of the repository's `data/`):
//!
//! | target | type | docs/targets.md |
//! |---|---|---|
//! | GMM20, GMM100 | [`Gmm20`], [`Gmm100`] ([`GaussianMixtureTarget::numpy_benchmark`]) | §2 |
//! | STM20, STM300 | [`Stm20`], [`Stm300`] ([`StudentTMixture::benchmark`]) | §3 |
//! | PlanarRobot1, PlanarRobot4 | [`PlanarRobot`] | §4 |
//! | Franka Panda pose IK | [`PandaIk`] | (module docs) |
//! | BreastCancer, GermanCredit | [`BreastCancer`], [`GermanCredit`] ([`LogisticRegression`]) | §5 |
//! | BreastCancerMB, GermanCreditMB | [`LogisticRegressionMinibatch`] | §6 |
//! | WINE | [`WineBnn`] | §7 |
//!
//! The random instances (GMM, STM) are drawn from NumPy's legacy stream,
//! [`NumpyRandomState`] (§1), so a seed gives the reference's instance where that is
//! possible (GMM fully; STM only its scale matrices).
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
// `!(x > 0)` is how these crates reject NaN together with out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

#[cfg(any(test, feature = "std"))]
extern crate std;

mod bnn;
#[cfg(feature = "std")]
pub mod data;
mod gaussian;
mod linalg;
mod log_sigmoid;
mod logistic;
mod logistic_mb;
mod numpy_rng;
mod panda;
mod planar_robot;
mod student_t;

pub use bnn::{BnnBatch, WINE_BATCH_SIZE, WINE_DIM, WINE_HIDDEN, WINE_INPUTS, WineBnn, wine_predict};
pub use gaussian::{GaussianMixtureTarget, Gmm20, Gmm100, draw_gmm_component};
pub use logistic::{
    BREAST_CANCER_DIM, BREAST_CANCER_ROWS, BreastCancer, GERMAN_CREDIT_DIM, GERMAN_CREDIT_ROWS, GermanCredit,
    LOGREG_BLOCK, LOGREG_PRIOR_STD, LogisticRegression, parse_breast_cancer, parse_german_credit, preprocess_features,
};
pub use logistic_mb::{LOGREG_BATCH_SIZE, LogisticRegressionMinibatch};
pub use numpy_rng::NumpyRandomState;
pub use panda::{PandaFrames, PandaIk, Pose, PoseError};
pub use planar_robot::PlanarRobot;
pub use student_t::{STM_BLOCK, STM_DOF, STM20_HALF_WIDTH, STM300_HALF_WIDTH, Stm20, Stm300, StudentTMixture};

use gmmvi::error::TargetError;
use gmmvi::real::Real;
use nalgebra::SVector;

/// The batched [`gmmvi::Target`] methods for a target evaluated point by point in `f64`:
/// `f(x, grad)` returns `log p~(x)` and writes the gradient when asked. Mismatched slice
/// lengths give `TargetError { code: -1 }`.
pub(crate) fn eval_pointwise_f64<T: Real, const D: usize>(
    x: &[SVector<T, D>],
    log_p: &mut [T],
    grad: Option<&mut [SVector<T, D>]>,
    mut f: impl FnMut(&SVector<f64, D>, Option<&mut SVector<f64, D>>) -> f64,
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

/// The length check and block loop shared by the blocked targets: `f` gets consecutive
/// blocks of at most `B` points with their `log_p` (and `grads`) sub-slices, in order.
/// Mismatched slice lengths give `TargetError { code: -1 }` and `f` is not called.
pub(crate) fn eval_in_blocks<P, V, G, const B: usize>(
    xs: &[P],
    log_p: &mut [V],
    mut grads: Option<&mut [G]>,
    mut f: impl FnMut(&[P], &mut [V], Option<&mut [G]>),
) -> Result<(), TargetError> {
    if xs.len() != log_p.len() || grads.as_ref().is_some_and(|g| g.len() != xs.len()) {
        return Err(TargetError { code: -1 });
    }
    for (b, (xb, lb)) in xs.chunks(B.max(1)).zip(log_p.chunks_mut(B.max(1))).enumerate() {
        let start = b * B.max(1);
        let gb = grads.as_deref_mut().and_then(|g| g.get_mut(start..start + xb.len()));
        f(xb, lb, gb);
    }
    Ok(())
}

/// [`eval_in_blocks`] for a target whose block kernel `f` runs in `f64`: each block of `T`
/// points is converted to `f64` (in `B`-sized stack buffers), evaluated, and converted back.
pub(crate) fn eval_blocks_as_f64<T: Real, const D: usize, const B: usize>(
    x: &[SVector<T, D>],
    log_p: &mut [T],
    grad: Option<&mut [SVector<T, D>]>,
    mut f: impl FnMut(&[SVector<f64, D>], &mut [f64], Option<&mut [SVector<f64, D>]>),
) -> Result<(), TargetError> {
    let mut xb = [SVector::<f64, D>::zeros(); B];
    let mut lb = [0.0f64; B];
    let mut gb = [SVector::<f64, D>::zeros(); B];
    eval_in_blocks::<_, _, _, B>(x, log_p, grad, |xs, ls, gs| {
        // `xs.len() ≤ B` by construction of the blocks.
        let n = xs.len().min(B);
        for (d, s) in xb.iter_mut().zip(xs) {
            *d = s.map(|v| v.to_f64());
        }
        match gs {
            Some(gs) => {
                f(&xb[..n], &mut lb[..n], Some(&mut gb[..n]));
                for (d, s) in gs.iter_mut().zip(&gb) {
                    *d = s.map(T::of);
                }
            }
            None => f(&xb[..n], &mut lb[..n], None),
        }
        for (d, &s) in ls.iter_mut().zip(&lb) {
            *d = T::of(s);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_in_blocks_covers_every_point_once_in_order() {
        let xs: [u32; 7] = [0, 1, 2, 3, 4, 5, 6];
        let mut lp = [0u32; 7];
        let mut g = [0u32; 7];
        let mut sizes = [0usize; 4];
        let mut calls = 0;
        let r = eval_in_blocks::<_, _, _, 3>(&xs, &mut lp, Some(&mut g), |xb, lb, gb| {
            if let Some(s) = sizes.get_mut(calls) {
                *s = xb.len();
            }
            calls += 1;
            let gb = gb.unwrap_or(&mut []);
            assert_eq!((lb.len(), gb.len()), (xb.len(), xb.len()));
            for ((x, l), gi) in xb.iter().zip(lb.iter_mut()).zip(gb.iter_mut()) {
                *l = 10 * x;
                *gi = 100 * x;
            }
        });
        assert_eq!(r, Ok(()));
        assert_eq!(sizes, [3, 3, 1, 0]);
        assert_eq!(lp, [0, 10, 20, 30, 40, 50, 60]);
        assert_eq!(g, [0, 100, 200, 300, 400, 500, 600]);
    }

    #[test]
    fn eval_in_blocks_rejects_mismatched_lengths_without_calling() {
        let xs = [1.0f64; 5];
        let mut called = false;
        let r = eval_in_blocks::<_, _, f64, 2>(&xs, &mut [0.0; 4], None, |_, _, _| called = true);
        assert_eq!(r, Err(TargetError { code: -1 }));
        let r = eval_in_blocks::<_, _, _, 2>(&xs, &mut [0.0; 5], Some(&mut [0.0f64; 6]), |_, _, _| called = true);
        assert_eq!(r, Err(TargetError { code: -1 }));
        assert!(!called);
        assert_eq!(eval_in_blocks::<f64, f64, f64, 2>(&[], &mut [], None, |_, _, _| called = true), Ok(()));
        assert!(!called);
    }

    #[test]
    fn eval_blocks_as_f64_round_trips_through_f64() {
        let x =
            [SVector::<f32, 2>::new(1.5, -2.0), SVector::<f32, 2>::new(0.25, 4.0), SVector::<f32, 2>::new(-1.0, 0.5)];
        let mut lp = [0.0f32; 3];
        let mut g = [SVector::<f32, 2>::zeros(); 3];
        let r = eval_blocks_as_f64::<f32, 2, 2>(&x, &mut lp, Some(&mut g), |xb, lb, gb| {
            let gb = gb.unwrap_or(&mut []);
            for ((x, l), gi) in xb.iter().zip(lb.iter_mut()).zip(gb.iter_mut()) {
                *l = x[0] * x[1];
                *gi = x * 2.0;
            }
        });
        assert_eq!(r, Ok(()));
        assert_eq!(lp, [-3.0, 1.0, -0.5]);
        assert_eq!(g[2], SVector::<f32, 2>::new(-2.0, 1.0));
    }
}

//! Benchmark targets usable in `no_std` (spec targets.md), all evaluated in `f64` and
//! reported as `T`; data are passed in as slices (loading files is the caller's business):
//!
//! | target | type | spec |
//! |---|---|---|
//! | GMM20, GMM100 | [`Gmm20`], [`Gmm100`] ([`GaussianMixtureTarget::numpy_benchmark`]) | §2 |
//! | STM20, STM300 | [`Stm20`], [`Stm300`] ([`StudentTMixture::benchmark`]) | §3 |
//! | PlanarRobot1, PlanarRobot4 | [`PlanarRobot`] | §4 |
//! | BreastCancer, GermanCredit | [`BreastCancer`], [`GermanCredit`] ([`LogisticRegression`]) | §5 |
//! | BreastCancerMB, GermanCreditMB | [`LogisticRegressionMinibatch`] | §6 |
//! | WINE | [`WineBnn`] | §7 |
//!
//! The random instances (GMM, STM) are drawn from NumPy's legacy stream,
//! [`NumpyRandomState`] (§1), so a seed gives the reference's instance where the spec says
//! it can (GMM fully; STM only its scale matrices).

mod bnn;
mod gaussian;
mod linalg;
mod log_sigmoid;
mod logistic;
mod logistic_mb;
mod numpy_rng;
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
pub use planar_robot::PlanarRobot;
pub use student_t::{STM_BLOCK, STM_DOF, STM20_HALF_WIDTH, STM300_HALF_WIDTH, Stm20, Stm300, StudentTMixture};

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

//! Design choice 1 — natural-gradient estimation (Arenz et al. 2023, §3.2; docs/algorithm.md §2).
//!
//! Every estimator returns, per component o, the negated expected Hessian
//! `Ĥ_o = −E_{q(x|o)}[∇²ρ]` and the negated expected gradient `ĝ_o = −E_{q(x|o)}[∇ρ]` of the log
//! ratio `ρ = log p~ − log q`, importance-weighted over the working set.
//!
//! Option `S` ([`stein`]): first order, from target gradients by Stein's lemma.
//! Option `Z` ([`more`]): zero order, quadratic surrogate by weighted ridge regression.

pub mod more;
pub mod stein;

use nalgebra::{SMatrix, SVector};

use crate::component_state::ComponentStates;
use crate::config::{NgEstimationConfig, NgEstimator};
use crate::error::Error;
use crate::model::Gmm;
use crate::parallel::{Parallel, Pass};
use crate::real::Real;
use crate::store::{SampleStore, Scratch, log_q_rows};
use more::MoreWorkspace;

/// A natural-gradient estimate `(Ĥ_k, ĝ_k)` of one component; `None` if it failed.
pub(crate) type Estimate<T, const D: usize> = Option<(SMatrix<T, D, D>, SVector<T, D>)>;

/// The state an estimate reads (and the scratch it writes): the model before this iteration,
/// the store and the working set of this iteration, the components' MORE ridge coefficients and
/// the MORE workspace for `D > 10`.
pub(crate) struct Estimation<
    'a,
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const MORE_FEATURES: usize,
> {
    pub model: &'a Gmm<T, D, K>,
    pub store: &'a SampleStore<T, D, SAMPLES, GAUSSIANS>,
    pub scratch: &'a mut Scratch<T, D, SAMPLES, GAUSSIANS>,
    pub states: &'a ComponentStates<T, K>,
    pub more: &'a mut MoreWorkspace<D, MORE_FEATURES>,
}

/// Whether the estimator of `cfg` needs the target's gradients (Stein).
pub(crate) fn needs_gradients<T>(cfg: &NgEstimationConfig<T>) -> bool {
    cfg.estimator == NgEstimator::Stein
}

/// Design choice 1: writes the estimate of every active component into `ng` (option `S` or
/// `Z`), after the pass over the working set that the estimator needs (log-ratio gradients for
/// Stein, `log q` for MORE). `DIAG`: the diagonal model's Stein estimate.
///
/// # Errors
/// `InvalidConfig` for an estimator left out of this build.
pub(crate) fn estimate<
    T,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const MORE_FEATURES: usize,
    const DIAG: bool,
    X,
>(
    cfg: &NgEstimationConfig<T>,
    st: Estimation<'_, T, D, K, SAMPLES, GAUSSIANS, MORE_FEATURES>,
    ng: &mut [Estimate<T, D>],
    par: &X,
) -> Result<(), Error>
where
    T: Real,
    X: Parallel,
{
    let Estimation { model, store, scratch, states, more } = st;
    let ws = store.working_set(&scratch.bg);
    match cfg.estimator {
        NgEstimator::Stein => {
            stein::log_ratio_gradients(model, &ws, &mut scratch.gamma, par);
            par.pass_done(Pass::LogQ, ws.rows(), model.len());
            stein::estimate::<_, D, K, GAUSSIANS, X, DIAG>(model, &ws, &scratch.gamma, cfg, ng, par);
            par.pass_done(Pass::Estimation, ws.rows(), model.len());
        }
        NgEstimator::More if cfg!(feature = "ng-more") => {
            log_q_rows(model, &ws, &mut scratch.log_q, par);
            par.pass_done(Pass::LogQ, ws.rows(), model.len());
            let rows = more::Rows { ws, log_q: &scratch.log_q };
            more::estimate(model, &rows, cfg, states, ng, more, par);
            par.pass_done(Pass::Estimation, rows.ws.rows(), model.len());
        }
        // Left out of this build: `Config::validate` rejected it.
        NgEstimator::More => return Err(Error::InvalidConfig { field: "ng.estimator" }),
    }
    Ok(())
}

//! Design choice 3 — sample selection (Arenz et al. 2023, §3.1; docs/algorithm.md §4, §9). Both
//! options reuse the newest stored samples by importance weighting against their background density
//! `b` (the mixture of the Gaussians that drew them, §9.1), draw fresh samples to top the effective
//! sample size up to `n_des`, evaluate the target on them and return the newest rows as the working
//! set.
//!
//! * Option `M` ([`component`]): per component, `m_k = max(1, n_des − ess_k)` samples of its own.
//! * Option `P` ([`mixture`]): `m = max(1, n_des − ess)` samples from the mixture in total.

pub mod component;
pub mod mixture;

use rand_core::Rng;

use crate::config::{SampleSelectionConfig, SampleSelector};
use crate::error::Error;
use crate::model::Gmm;
use crate::parallel::{Parallel, Pass};
use crate::real::{OnlineLse, Real};
use crate::store::{Background, BgSums, SampleStore, Scratch};
use crate::target::{TARGET_BLOCK, Target};

/// What one selection did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Selection {
    /// First row of the working set (the store's end is its end).
    pub start: usize,
    /// New target evaluations.
    pub evaluated: usize,
    /// Of those, rejected as non-finite.
    pub rejected: usize,
}

/// The state a selection works on: the model to draw from, the store it fills, the scratch that
/// receives the working set, the generator and the executor.
pub(crate) struct Sampling<
    'a,
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const KEEP: usize,
    R: ?Sized,
    X,
> {
    pub model: &'a Gmm<T, D, K>,
    pub store: &'a mut SampleStore<T, D, SAMPLES, GAUSSIANS>,
    pub scratch: &'a mut Scratch<T, D, SAMPLES, GAUSSIANS>,
    /// The kept background sums (none: made afresh at every selection).
    pub sums: &'a mut BgSums<KEEP>,
    pub rng: &'a mut R,
    pub par: &'a X,
}

/// The request of one selection, from its configuration and the estimator's needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request {
    /// `desired_samples_per_component` (the total for `P`).
    pub n_des: usize,
    /// Newest stored rows offered for reuse.
    pub reuse_rows: usize,
    /// `max_database_size`.
    pub max_rows: usize,
    /// The estimator needs target gradients.
    pub need_grad: bool,
    /// `use_sample_database = false`: the new rows replace the store.
    pub replace: bool,
}

/// Design choice 3: selects the working set of this iteration by option `M` or `P`
/// (`reuse_rows` newest stored rows offered for reuse, target gradients if `need_grad`). On
/// `Err` nothing new is stored, but a full store may have been thinned to make room.
///
/// # Errors
/// As the target; `NonFiniteTarget` without a usable sample; `InvalidConfig` for an option left
/// out of this build.
pub(crate) fn select<
    T,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const KEEP: usize,
    P,
    R,
    X,
>(
    cfg: &SampleSelectionConfig<T>,
    reuse_rows: usize,
    need_grad: bool,
    st: Sampling<'_, T, D, K, SAMPLES, GAUSSIANS, KEEP, R, X>,
    target: &mut P,
) -> Result<Selection, Error>
where
    T: Real,
    P: Target<T, D> + ?Sized,
    R: Rng + ?Sized,
    X: Parallel,
{
    let req = Request {
        n_des: cfg.desired_samples_per_component,
        reuse_rows,
        max_rows: cfg.max_database_size,
        need_grad,
        replace: !cfg.use_sample_database,
    };
    match cfg.selector {
        SampleSelector::ComponentBased => component::select(&req, st, target),
        SampleSelector::MixtureBased if cfg!(feature = "mixture-selection") => mixture::select(&req, st, target),
        // Left out of this build: `Config::validate` rejected it.
        SampleSelector::MixtureBased => Err(Error::InvalidConfig { field: "samples.selector" }),
    }
}

/// `⌊1/Σŵ²⌋` from the online sums `s1 = Σ e^{a−m}` and `s2 = Σ e^{2a−2m}` of the same rows:
/// the common scale cancels, `ESS = s1²/s2`; 0 if that is not a positive finite number.
pub(crate) fn ess_from_sums<T: Real>(s1: &OnlineLse<T>, s2: &OnlineLse<T>) -> usize {
    let v = (s1.sum * s1.sum / s2.sum).floor();
    if v.finite() && v > T::zero() { v.to_f64() as usize } else { 0 }
}

/// The reuse prelude of both options: makes the newest `reuse_rows` stored rows (fewer if
/// their Gaussians left the ring) the working set with its background density and returns
/// how many rows it holds (0 without reuse or with an empty store).
pub(crate) fn reuse_window<
    T: Real,
    const D: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const KEEP: usize,
    X: Parallel,
>(
    store: &SampleStore<T, D, SAMPLES, GAUSSIANS>,
    bg: &mut Background<T, D, SAMPLES, GAUSSIANS>,
    sums: &mut BgSums<KEEP>,
    reuse_rows: usize,
    par: &X,
) -> usize {
    if reuse_rows == 0 || store.is_empty() {
        return 0;
    }
    let start = store.select_working_set(reuse_rows, bg, sums, par);
    par.pass_done(Pass::Background, store.len() - start, bg.blocks().len());
    store.len() - start
}

/// Draws `m[k]` samples of every component k (in component order), evaluates the target on them
/// in blocks, stores the finite ones with the Gaussian of every component that kept a sample,
/// and makes the newest `reused + accepted` rows the working set with their background.
/// Samples with a non-finite target value (or gradient, if `need_grad`) are dropped. With
/// `replace` (`use_sample_database = false`, docs/algorithm.md §9.1 step 3) the accepted rows
/// replace the store and are the whole working set. On `Err` nothing new is stored, but
/// `reserve` may already have thinned a full store.
pub(crate) fn draw_and_store<
    T: Real,
    const D: usize,
    const K: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const KEEP: usize,
    P,
    R,
    X,
>(
    req: &Request,
    st: Sampling<'_, T, D, K, SAMPLES, GAUSSIANS, KEEP, R, X>,
    target: &mut P,
    m: &[usize; K],
    reused: usize,
) -> Result<Selection, Error>
where
    P: Target<T, D> + ?Sized,
    R: Rng + ?Sized,
    X: Parallel,
{
    let Sampling { model, store, scratch, sums, rng, par } = st;
    let kn = model.len();
    let total: usize = m[..kn].iter().sum();
    // The working set is the newest `reused + accepted` rows, whether or not this thinned.
    let first = store.reserve(total, req.max_rows);
    let (xs, log_p, grad) = store.free_rows(first);
    let total = total.min(xs.len());
    let mut r = 0;
    for (k, &mk) in m.iter().enumerate().take(kn) {
        for _ in 0..mk {
            if r >= total {
                break;
            }
            if let Some(x) = model.sample_component(k, rng) {
                xs[r] = x;
            }
            r += 1;
        }
    }
    // Evaluate in blocks; on failure leave `len` untouched so nothing is stored.
    let mut b0 = 0;
    while b0 < total {
        let b1 = (b0 + TARGET_BLOCK).min(total);
        let res = if req.need_grad {
            target.log_density_with_grad(&xs[b0..b1], &mut log_p[b0..b1], &mut grad[b0..b1])
        } else {
            target.log_density(&xs[b0..b1], &mut log_p[b0..b1])
        };
        res?;
        b0 = b1;
    }
    store.count_evaluations(total);
    // Compact out rejected rows; every component that kept a sample stores its Gaussian (in
    // component order), whose id its rows carry.
    store.begin_draw();
    let mut w = first;
    let mut r = first;
    for (k, &mk) in m.iter().enumerate().take(kn) {
        let w0 = w;
        for _ in 0..mk {
            if r >= first + total {
                break;
            }
            if store.row_is_finite(r, req.need_grad) {
                store.move_row(r, w);
                w += 1;
            }
            r += 1;
        }
        if w > w0 {
            let gid = store.push_gaussian(&model.components()[k], k);
            store.set_gid(w0, w, gid);
        }
    }
    let accepted = w - first;
    store.commit(accepted);
    if accepted == 0 && (reused == 0 || req.replace) {
        return Err(Error::NonFiniteTarget);
    }
    let reused = if req.replace {
        store.keep_newest(accepted);
        0
    } else {
        reused
    };
    par.pass_done(Pass::Draw, total, 1);
    let start = store.select_working_set(reused + accepted, &mut scratch.bg, sums, par);
    par.pass_done(Pass::Background, store.len() - start, scratch.bg.blocks().len());
    Ok(Selection { start, evaluated: total, rejected: total - accepted })
}

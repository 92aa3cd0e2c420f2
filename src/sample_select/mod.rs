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

use crate::error::Error;
use crate::model::Gmm;
use crate::parallel::Parallel;
use crate::real::{OnlineLse, Real};
use crate::store::SampleStore;
use crate::target::{TARGET_BLOCK, Target};

/// What one selection did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Selection {
    /// First row of the working set (`store.len` is its end).
    pub start: usize,
    /// New target evaluations.
    pub evaluated: usize,
    /// Of those, rejected as non-finite.
    pub rejected: usize,
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
pub(crate) fn reuse_window<T: Real, const D: usize, const S: usize, const G: usize, X: Parallel>(
    store: &mut SampleStore<T, D, S, G>,
    reuse_rows: usize,
    par: &X,
) -> usize {
    if reuse_rows == 0 || store.is_empty() {
        return 0;
    }
    let start = store.newest(reuse_rows);
    store.compute_background(par);
    store.len - start
}

/// Draws `m[k]` samples of every component k (in component order), evaluates the target on them
/// in blocks, stores the finite ones with the Gaussian of every component that kept a sample,
/// and makes the newest `reused + accepted` rows the working set with their background.
/// Samples with a non-finite target value (or gradient, if `need_grad`) are dropped. With
/// `replace` (`use_sample_database = false`, docs/algorithm.md §9.1 step 3) the accepted rows
/// replace the store and are the whole working set. On `Err` the store holds what it held before.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_and_store<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, P, R, X>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    target: &mut P,
    rng: &mut R,
    m: &[usize; K],
    reused: usize,
    max_rows: usize,
    need_grad: bool,
    replace: bool,
    par: &X,
) -> Result<Selection, Error>
where
    P: Target<T, D> + ?Sized,
    R: Rng + ?Sized,
    X: Parallel,
{
    let kn = model.len();
    let total: usize = m[..kn].iter().sum();
    // The working set is the newest `reused + accepted` rows, whether or not this thinned.
    let first = store.reserve(total, max_rows);
    let total = total.min(store.x.len() - first);
    let mut r = first;
    for (k, &mk) in m.iter().enumerate().take(kn) {
        for _ in 0..mk {
            if r >= first + total {
                break;
            }
            if let Some(x) = model.sample_component(k, rng) {
                store.x[r] = x;
            }
            r += 1;
        }
    }
    // Evaluate in blocks; on failure leave `len` untouched so nothing is stored.
    let mut b0 = first;
    while b0 < first + total {
        let b1 = (b0 + TARGET_BLOCK).min(first + total);
        let res = if need_grad {
            target.log_density_with_grad(&store.x[b0..b1], &mut store.log_p[b0..b1], &mut store.grad[b0..b1])
        } else {
            target.log_density(&store.x[b0..b1], &mut store.log_p[b0..b1])
        };
        res?;
        b0 = b1;
    }
    store.count_evaluations(total);
    // Compact out rejected rows, storing the Gaussian of every component that kept a sample.
    store.begin_draw();
    let mut w = first;
    let mut r = first;
    for (k, &mk) in m.iter().enumerate().take(kn) {
        let mut id = None;
        for _ in 0..mk {
            if r >= first + total {
                break;
            }
            let ok = store.log_p[r].finite() && (!need_grad || store.grad[r].iter().all(|v| v.finite()));
            if ok {
                let gid = match id {
                    Some(g) => g,
                    None => {
                        let g = store.push_gaussian(&model.components()[k], k);
                        id = Some(g);
                        g
                    }
                };
                store.x[w] = store.x[r];
                store.log_p[w] = store.log_p[r];
                store.grad[w] = store.grad[r];
                store.gid[w] = gid;
                w += 1;
            }
            r += 1;
        }
    }
    let accepted = w - first;
    store.commit(accepted);
    if accepted == 0 && (reused == 0 || replace) {
        return Err(Error::NonFiniteTarget);
    }
    let reused = if replace {
        store.keep_newest(accepted);
        0
    } else {
        reused
    };
    let start = store.newest(reused + accepted);
    store.compute_background(par);
    Ok(Selection { start, evaluated: total, rejected: total - accepted })
}

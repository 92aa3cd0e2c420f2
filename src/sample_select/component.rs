//! Component-based sample selection, letter `M` (Arenz et al. 2023, §3.1; docs/algorithm.md §9.2).
//!
//! With `n_re = ⌊ratio·n_des⌋`, the newest `n_re·K` stored rows `X0` are importance-weighted
//! for each component against their background `b`: `ŵ_k = softmax_n(log N(x_n; μ_k, Σ_k) −
//! log b(x_n))`, `ess_k = ⌊1/Σ_n ŵ_k[n]²⌋`. Component k then draws `m_k = max(1, n_des −
//! ess_k)` fresh samples (`μ_k + L_k ε`), the target is evaluated on them in blocks, and the
//! working set is the newest `|X0| + Σ m_k` rows with their background recomputed.
//! Samples with a non-finite target value or gradient are dropped before they are stored.

use rand_core::Rng;

use super::{Request, Sampling, Selection, draw_and_store, ess_from_sums, reuse_window};
use crate::error::Error;
use crate::model::{Component, Gmm};
use crate::parallel::{Parallel, Pass};
use crate::real::{OnlineLse, Real};
use crate::store::{Groups, WorkingSet, component_softmax, with_groups};
use crate::target::Target;

/// `ess_k = ⌊exp(2·lse(a) − lse(2a))⌋` with `a_n = log N(x_n; k) − log b(x_n)` over the working
/// set (docs/algorithm.md §9.2, TV11).
#[inline(never)] // once per iteration; keeps profiles readable
pub(crate) fn effective_sample_sizes<T: Real, const D: usize, const K: usize, const GAUSSIANS: usize, X>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    ess: &mut [usize; K],
    par: &X,
) where
    X: Parallel,
{
    let comps = model.components();
    with_groups::<T, D, GAUSSIANS, _>(ws, |groups| {
        par.for_each_chunk(&mut ess[..comps.len()], 1, &|first, out| {
            for (j, e) in out.iter_mut().enumerate() {
                if let Some(c) = comps.get(first + j) {
                    *e = ess_floor(ws, groups, c);
                }
            }
        });
    });
}

/// `⌊1/Σ ŵ²⌋` over the working set for self-normalised weights `ŵ_n ∝ N(x_n; c)/b(x_n)`,
/// computed as `(Σ e^{a−m})² / Σ e^{2(a−m)}` over the rows of [`component_softmax`].
pub(crate) fn ess_floor<T: Real, const D: usize, const BLOCKS: usize>(
    ws: &WorkingSet<'_, T, D>,
    groups: Option<&Groups<T, D, BLOCKS>>,
    c: &Component<T, D>,
) -> usize {
    let mut s1 = OnlineLse::new();
    let mut s2 = OnlineLse::new();
    // Rows negligible for Σŵ are negligible for Σŵ² too (2a < 2·max − 2·NEG).
    component_softmax(ws, groups, c, &mut s1, |_, a, _, _, _| {
        s2.push(a + a);
    });
    ess_from_sums(&s1, &s2)
}

/// Runs the selection; on `Err` nothing new is stored (a full store may have been thinned).
#[inline(never)]
pub(crate) fn select<
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
) -> Result<Selection, Error>
where
    P: Target<T, D> + ?Sized,
    R: Rng + ?Sized,
    X: Parallel,
{
    let kn = st.model.len();
    let mut ess = [0usize; K];
    let reused = reuse_window(st.store, &mut st.scratch.bg, st.sums, req.reuse_rows, st.par);
    if reused > 0 {
        effective_sample_sizes::<T, D, K, GAUSSIANS, X>(
            st.model,
            &st.store.working_set(&st.scratch.bg),
            &mut ess,
            st.par,
        );
    }
    st.par.pass_done(Pass::Selection, reused, kn);
    let mut m = [0usize; K];
    for k in 0..kn {
        m[k] = req.n_des.saturating_sub(ess[k]).max(1);
    }
    draw_and_store(req, st, target, &m, reused)
}

#[cfg(test)]
mod tests {
    use crate::model::Gmm;
    use crate::store::{Background, SampleStore};
    use nalgebra::{SMatrix, SVector};

    fn ess_with_backgrounds(lb: &[f64]) -> usize {
        // Equal N(x; c) at every row, so the background carries the importance ratios.
        let mut q = Gmm::<f64, 2, 1>::new();
        q.add_component(1.0, SVector::zeros(), &SMatrix::identity()).unwrap();
        let c = q.components()[0];
        let mut st = SampleStore::<f64, 2, 16, 4>::new();
        let mut bg = Background::<f64, 2, 16, 4>::BLANK;
        let id = st.push_gaussian(&c, 0);
        let first = st.reserve(lb.len(), 16);
        for (r, b) in lb.iter().enumerate() {
            st.set_row(first + r, SVector::zeros(), 0.0, id);
            bg.log_b_mut()[first + r] = *b;
        }
        st.commit(lb.len());
        st.newest(lb.len(), &mut bg);
        super::ess_floor::<f64, 2, 0>(&st.working_set(&bg), None, &c)
    }

    #[test]
    fn tv11_ess() {
        // Importance weights [1, 0.5, 0.25, 0.25] (TV11).
        let ess = ess_with_backgrounds(&[0.0f64, 2f64.ln(), 4f64.ln(), 4f64.ln()]);
        assert_eq!(ess, 2);
        assert_eq!(100usize.saturating_sub(ess).max(1), 98);
        assert_eq!(ess_with_backgrounds(&[0.0; 7]), 7);
    }
}

//! Expected log ratios of the components (Arenz et al. 2023, §3.4 and App. F; docs/algorithm.md
//! §7.1), one streaming pass over the working set: per row the component log densities and `log q`,
//! then an online softmax per component (no K × N matrix).

use crate::model::{CHUNK, Chunk, Gmm, block_candidates, chunk_mixture};
use crate::parallel::Parallel;
use crate::real::{OnlineLse, Real};
use crate::store::{WorkingSet, clipped};

/// Row tasks of the rewards pass: a fixed count, so the split does not depend on the executor.
pub(crate) const REWARD_TASKS: usize = 8;

/// One task's online softmax per component: `(running max and sum, Σ e^{a−max} ρ)`.
pub(crate) type Partial<T> = (OnlineLse<T>, T);

/// Scratch of the rewards pass: the expected log ratios and the row tasks' accumulators.
#[derive(Clone, Debug)]
pub(crate) struct RewardScratch<T, const K: usize> {
    /// `E_k` of the active components.
    pub e: [T; K],
    partial: [[Partial<T>; K]; REWARD_TASKS],
}

impl<T: Real, const K: usize> RewardScratch<T, K> {
    /// All zeros (see `Optimizer::BLANK`).
    pub const BLANK: Self =
        Self { e: [T::ZERO_CONST; K], partial: [[(OnlineLse::BLANK, T::ZERO_CONST); K]; REWARD_TASKS] };
}

/// Writes `E_k` for every active component into `out.e`; returns `false` if some `E_k` is not
/// finite (the caller then skips the weight update). One pass over the working set in
/// [`REWARD_TASKS`] row tasks, each with its own accumulators, merged in task order.
#[inline(never)]
pub(crate) fn expected_log_ratios<T: Real, const D: usize, const K: usize, X>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    temperature: T,
    self_normalized: bool,
    out: &mut RewardScratch<T, K>,
    par: &X,
) -> bool
where
    X: Parallel,
{
    let RewardScratch { e, partial } = out;
    let kn = model.len();
    let start = ws.start;
    let w = ws.rows();
    par.for_each_chunk(&mut partial[..], 1, &|first, out| {
        for (j, p) in out.iter_mut().enumerate() {
            let i = first + j;
            let (a, b) = (start + w * i / REWARD_TASKS, start + w * (i + 1) / REWARD_TASKS);
            rows_task(model, ws, temperature, a, b, p);
        }
    });
    let n = T::of(w as f64).ln();
    for k in 0..kn {
        let (mut acc, mut pay) = (OnlineLse::<T>::new(), T::zero());
        for p in partial.iter() {
            let (pa, pp) = p[k];
            if !(pa.sum > T::zero()) {
                continue;
            }
            let m = acc.max.max(pa.max);
            let (s0, s1) = (if acc.sum > T::zero() { (acc.max - m).exp() } else { T::zero() }, (pa.max - m).exp());
            acc.sum = acc.sum * s0 + pa.sum * s1;
            pay = pay * s0 + pp * s1;
            acc.max = m;
        }
        e[k] = if self_normalized { pay / acc.sum } else { pay * (acc.max - n).exp() };
    }
    e[..kn].iter().all(|v| v.finite())
}

/// Rows `[r0, r1)`: per block the components that matter to `log q` or, by their own running
/// maximum, to their own softmax; per row `ρ_T = log p~ − T·log q` and the online updates.
#[allow(clippy::needless_range_loop)] // rows index the columns of `vals`
fn rows_task<T: Real, const D: usize, const K: usize>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    temperature: T,
    r0: usize,
    r1: usize,
    p: &mut [Partial<T>; K],
) {
    let kn = model.len();
    let (comps, lw) = (model.components(), model.log_weights());
    for slot in p.iter_mut() {
        *slot = (OnlineLse::new(), T::zero());
    }
    let mut vals = [[T::zero(); CHUNK]; K];
    let mut ub = [T::zero(); K];
    let mut idx = [0usize; K];
    let mut mask = [false; K];
    for (blk, a, b) in clipped(ws.blocks, r0, r1) {
        let xs = &ws.x[a..b];
        // Components that matter to log q somewhere in these rows ...
        let mut n = block_candidates(comps, lw, xs, &blk.lo, &blk.hi, &mut ub, &mut idx);
        mask[..kn].fill(false);
        for &k in &idx[..n] {
            mask[k] = true;
        }
        // ... plus those whose own softmax may still see them.
        for k in 0..kn {
            if !mask[k] && !comps[k].box_below(&blk.lo, &blk.hi, p[k].0.max - T::NEGLIGIBLE_LOG + blk.min_log_b) {
                mask[k] = true;
                n += 1;
            }
        }
        let mut i = 0;
        for (k, &m) in mask.iter().enumerate().take(kn) {
            if m {
                idx[i] = k;
                i += 1;
            }
        }
        let sel = &idx[..n.min(i)];
        for c0 in (a..b).step_by(CHUNK) {
            let ch = Chunk::load(&ws.x[c0..b]);
            // vals[i][r] = log w_k + log N(x_r; k).
            let lse = chunk_mixture(comps, lw, sel, &ch, Some(&mut vals[..]));
            for r in 0..ch.n {
                let row = c0 + r;
                let rho = ws.log_p[row] - temperature * lse.lse(r);
                let log_b = ws.log_b[row];
                for (i, &k) in sel.iter().enumerate() {
                    let a = vals[i][r] - lw[k] - log_b;
                    let (acc, pay) = &mut p[k];
                    if !(a >= acc.max - T::NEGLIGIBLE_LOG) {
                        continue;
                    }
                    let (scale, w) = acc.push(a);
                    *pay = *pay * scale + w * rho;
                }
            }
        }
    }
}

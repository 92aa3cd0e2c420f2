//! Expected log ratios of the components (spec algorithm.md §7.1), one streaming pass over the
//! working set: per row all component log densities and `log q`, then an online softmax per
//! component (no K × N matrix).

use crate::model::{CHUNK, Chunk, Gmm, block_candidates, chunk_mixture};
use crate::real::{OnlineLse, Real};
use crate::store::SampleStore;

/// Writes `E_k` for every active component into `e`; returns `false` if some `E_k` is not
/// finite (the caller then skips the weight update).
#[allow(clippy::needless_range_loop)] // rows index the columns of `vals`
#[inline(never)] // once per iteration; keeps profiles readable
pub(crate) fn expected_log_ratios<T: Real, const D: usize, const K: usize, const S: usize, const G: usize>(
    model: &Gmm<T, D, K>,
    store: &SampleStore<T, D, S, G>,
    start: usize,
    temperature: T,
    self_normalized: bool,
    e: &mut [T; K],
) -> bool {
    let kn = model.len();
    let comps = model.components();
    let lw = model.log_weights();
    let mut acc = [OnlineLse::<T>::new(); K];
    let mut pay = [T::zero(); K];
    let mut vals = [[T::zero(); CHUNK]; K];
    let mut ub = [T::zero(); K];
    let mut idx = [0usize; K];
    let mut mask = [false; K];
    for blk in store.working_blocks() {
        let xs = &store.x[blk.start..blk.end];
        // Components that matter to log q somewhere in the block ...
        let mut n = block_candidates(comps, lw, xs, &blk.lo, &blk.hi, &mut ub, &mut idx);
        mask[..kn].fill(false);
        for &k in &idx[..n] {
            mask[k] = true;
        }
        // ... plus those whose own softmax over rows may still see this block.
        for k in 0..kn {
            if !mask[k] && !comps[k].box_below(&blk.lo, &blk.hi, acc[k].max - T::NEGLIGIBLE_LOG + blk.min_log_b) {
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
        for c0 in (blk.start..blk.end).step_by(CHUNK) {
            let ch = Chunk::load(&store.x[c0..blk.end]);
            // vals[i][r] = log w_k + log N(x_r; k).
            let lse = chunk_mixture(comps, lw, sel, &ch, Some(&mut vals[..]));
            for r in 0..ch.n {
                let row = c0 + r;
                let rho = store.log_p[row] - temperature * lse.lse(r);
                let log_b = store.log_b[row];
                for (i, &k) in sel.iter().enumerate() {
                    let a = vals[i][r] - lw[k] - log_b;
                    if !(a >= acc[k].max - T::NEGLIGIBLE_LOG) {
                        continue;
                    }
                    let (scale, w) = acc[k].push(a);
                    pay[k] = pay[k] * scale + w * rho;
                }
            }
        }
    }
    let n = T::of(libm::log((store.len - start) as f64));
    let mut ok = true;
    for k in 0..kn {
        e[k] = if self_normalized { pay[k] / acc[k].sum } else { pay[k] * (acc[k].max - n).exp() };
        ok &= e[k].finite();
    }
    ok
}

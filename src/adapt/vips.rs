//! Adaptive number of components, letter `A` (VIPS heuristics, spec algorithm.md §10).
//!
//! **Delete** (§10.2), with `f = ⌊del/3⌋`, `G = 2f` and a Gaussian kernel `κ` of `G` taps
//! (σ = del/8, normalised): `cur_k`/`old_k` are the kernel-smoothed rewards of the newest `G`
//! columns and of the `G` columns ending `del` earlier, both shifted by `max_k cur_k`;
//! component k is bad if `(cur_k − old_k)/|old_k| ≤ 0.4`, its largest weight in the window
//! (actual, or "greedy" `softmax_k rh[c]`) is below `min_weight_for_del`, and it holds real
//! rewards in the whole window (documented form of the reference's sentinel rule).
//!
//! **Add** (§10.1): threshold `τ = thresholds[calls mod len]` (first add uses index 1);
//! among stored samples, `μ_new = argmax_x log p~(x) − max(max_c log q(x_c) − τ, log q(x))`;
//! isotropic covariance `c·I` with entropy `H_des = a·H̄_model + (1 − a)·H_prior`,
//! `a ~ U[0, 1)` (`H_des = H̄_model` without a prior), `c = exp(2(H_des − (D/2)(log 2π + 1))/D)`;
//! initial weight 1e−29 before re-normalisation.

use nalgebra::SVector;
use rand_core::Rng;

use crate::history::History;
use crate::model::Gmm;
use crate::parallel::{Parallel, ROW_TASK};
use crate::real::{LN_2PI, Real};
use crate::rng::uniform;
use crate::store::SampleStore;

/// Unnormalised weight of an added component.
pub const NEW_COMPONENT_WEIGHT: f64 = 1e-29;
/// Most kernel taps: `del_iters` up to 3·`MAX_TAPS`/2.
const MAX_TAPS: usize = 1024;
/// Candidates scored per call of the mixture density.
const CHUNK_ROWS: usize = 64;

/// The `G = 2⌊del/3⌋` normalised kernel taps `κ_j = φ(j; 0, del/8)`, `j = −f..f−1` (TV10).
pub fn deletion_kernel(del_iters: usize, out: &mut [f64]) -> usize {
    let f = del_iters / 3;
    let g = (2 * f).min(out.len());
    let sigma = del_iters as f64 / 8.0;
    let mut sum = 0.0;
    for (i, o) in out.iter_mut().enumerate().take(g) {
        let j = i as f64 - f as f64;
        *o = libm::exp(-0.5 * (j / sigma) * (j / sigma)) / (sigma * libm::sqrt(core::f64::consts::TAU));
        sum += *o;
    }
    for o in out.iter_mut().take(g) {
        *o /= sum;
    }
    g
}

/// Marks in `bad` the components to delete (spec §10.2). `H` must hold `2f + del` columns.
pub(crate) fn deletion_candidates<T: Real, const K: usize, const H: usize>(
    rh: &History<T, K, H>,
    wh: &History<T, K, H>,
    n: usize,
    del: usize,
    min_weight: T,
    bad: &mut [bool; K],
) -> usize {
    let mut kern = [0.0f64; MAX_TAPS];
    let g = deletion_kernel(del, &mut kern);
    let win = g + del;
    let sentinel = T::SENTINEL;
    let mut cur = [0.0f64; K];
    let mut old = [0.0f64; K];
    let mut max_cur = f64::NEG_INFINITY;
    for k in 0..n {
        let (mut c, mut o) = (0.0, 0.0);
        for (j, &kj) in kern.iter().enumerate().take(g) {
            c += rh.get(k, g - j).to_f64() * kj;
            o += rh.get(k, g + del - j).to_f64() * kj;
        }
        cur[k] = c / g as f64;
        old[k] = o / g as f64;
        max_cur = max_cur.max(cur[k]);
    }
    // Greedy weights: per column, softmax over components of the rewards.
    let mut max_greedy = [0.0f64; K];
    for back in 1..=win {
        let mut m = f64::NEG_INFINITY;
        for k in 0..n {
            m = m.max(rh.get(k, back).to_f64());
        }
        let mut s = 0.0;
        for k in 0..n {
            s += libm::exp(rh.get(k, back).to_f64() - m);
        }
        let lse = m + libm::log(s);
        for (k, mg) in max_greedy.iter_mut().enumerate().take(n) {
            *mg = mg.max(libm::exp(rh.get(k, back).to_f64() - lse));
        }
    }
    let mut count = 0;
    for k in 0..n {
        let (c, o) = (cur[k] - max_cur, old[k] - max_cur);
        let improvement = (c - o) / o.abs();
        let mut max_actual = f64::NEG_INFINITY;
        for back in 2..=win {
            max_actual = max_actual.max(wh.get(k, back).to_f64());
        }
        let max_w = max_actual.max(max_greedy[k]);
        let seasoned = rh.get(k, del) != sentinel && rh.get(k, win) != sentinel;
        bad[k] = improvement <= 0.4 && max_w < min_weight.to_f64() && seasoned;
        count += bad[k] as usize;
    }
    count
}

/// Mean and isotropic variance of the component to add, or `None` without candidates.
/// Candidates are a uniform random subset of `min(num_candidates, len)` stored rows
/// (selection sampling); `log_q` of the store is used as scratch.
#[allow(clippy::too_many_arguments)]
#[inline(never)] // once per iteration; keeps profiles readable
pub(crate) fn propose<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, R, X>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    rng: &mut R,
    num_candidates: usize,
    tau: T,
    prior_entropy: Option<T>,
    par: &X,
) -> Option<(SVector<T, D>, T)>
where
    R: Rng + ?Sized,
    X: Parallel,
{
    let len = store.len;
    if len == 0 || model.is_empty() {
        return None;
    }
    // Knuth's algorithm S: take row r with probability need/(len − r). Taken rows are marked
    // +inf in the `log_q` scratch, the others NaN.
    let mut need = num_candidates.min(len);
    for (r, lq) in store.log_q[..len].iter_mut().enumerate() {
        let take = need > 0 && uniform(rng) * ((len - r) as f64) < need as f64;
        need -= take as usize;
        *lq = if take { T::INFINITY } else { T::NAN };
    }
    // log q of the taken rows, gathered CHUNK_ROWS at a time within fixed row ranges.
    let x = &store.x;
    par.for_each_chunk(&mut store.log_q[..len], ROW_TASK, &|first, out| {
        let mut rows = [0usize; CHUNK_ROWS];
        let mut xs = [SVector::<T, D>::zeros(); CHUNK_ROWS];
        let mut lq = [T::zero(); CHUNK_ROWS];
        let mut n = 0;
        let last = out.len().saturating_sub(1);
        for i in 0..out.len() {
            if out[i] == T::INFINITY {
                rows[n] = i;
                xs[n] = x[first + i];
                n += 1;
            }
            if n == CHUNK_ROWS || (i == last && n > 0) {
                model.log_density_many(&xs[..n], &mut lq[..n]);
                for j in 0..n {
                    out[rows[j]] = lq[j];
                }
                n = 0;
            }
        }
    });
    let max_lq = store.log_q[..len].iter().filter(|v| !v.is_nan_like()).fold(T::NEG_INF, |m, &v| m.max(v));
    let mut best: Option<(usize, T)> = None;
    for r in 0..len {
        let lq = store.log_q[r];
        if lq.is_nan_like() {
            continue;
        }
        let s = store.log_p[r] - (max_lq - tau).max(lq);
        if s.finite() && best.is_none_or(|(_, b)| s > b) {
            best = Some((r, s));
        }
    }
    let (row, _) = best?;
    let h_model = model.average_entropy();
    let h_des = match prior_entropy {
        Some(hp) => {
            let a = T::of(uniform(rng));
            a * h_model + (T::one() - a) * hp
        }
        None => h_model,
    };
    let c = T::of(isotropic_variance(h_des.to_f64(), D));
    (c.finite() && c > T::zero()).then(|| (store.x[row], c))
}

/// The variance `c` of `N(μ, c·I)` in `R^d` with entropy `h`:
/// `c = exp(2(h − (d/2)(log 2π + 1))/d)` (spec §10.1 step 6, TV9).
pub fn isotropic_variance(h: f64, d: usize) -> f64 {
    libm::exp(2.0 * (h - 0.5 * d as f64 * (LN_2PI + 1.0)) / d as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tv9_add_heuristic_covariance() {
        let h_des = 0.7 * 1.2 + 0.3 * 3.0;
        assert!((h_des - 1.74f64).abs() < 1e-12);
        let c = isotropic_variance(h_des, 2);
        assert!((c - 0.33357849753363294).abs() < 1e-12 * c, "{c}");
    }

    #[test]
    fn tv10_deletion_kernel() {
        let mut k = [0.0; 128];
        let g = deletion_kernel(100, &mut k);
        assert_eq!(g, 66);
        assert!((k[0] - 0.0009867367230078).abs() < 1e-8 * 0.0009867367230078);
        assert!((k[33] - 0.03218330951733127).abs() < 1e-8 * 0.03218330951733127);
        assert!((k[..g].iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}

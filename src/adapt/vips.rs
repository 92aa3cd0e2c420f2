//! Adaptive number of components, letter `A` (VIPS heuristics; Arenz et al. 2023, §3.6;
//! docs/algorithm.md §10).
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
//! initial weight 1e−29 before re-normalisation. With `num_prior_samples = n > 0` the
//! candidates also include `n` draws from the prior `N(prior_mean, diag(initial_cov))`, on which
//! the target is evaluated (`PriorCandidates`).
//!
//! The argmax is found by branch and bound rather than by `log q` at every candidate (that was
//! half of an iteration on planar_robot_4). With `L(x) ≤ log q(x)` and `M ∈ [M_lo, M_hi]`,
//! every score `s(x) = log p~(x) − max(M − τ, log q(x))` lies in
//! `[log p~ − max(M_hi − τ, log q), log p~ − max(M_lo − τ, L)]`. Rows are taken in blocks drawn
//! by one Gaussian; the first row of each block meets every component in the dense kernel (its
//! `log q`, and the components that dominate there), and the block's other rows get as `L` the
//! log-sum of those components' terms. `M_lo` is the exact `log q` of the row with the largest
//! `L`, `M_hi = log Σ_k w_k max N_k`. Only rows whose upper bound reaches the best lower bound
//! get `log q` (dense kernel, then [`Gmm::log_density`] for the few that can still win). Each
//! score difference is monotone in `M`, so a row that wins at both `M_lo` and `M_hi` wins at the
//! true `M`; only otherwise (about one call in ten late in a planar_robot_4 run, then as
//! costly as the plain argmax) is the exact `M` computed. The result is the row of the plain
//! argmax over [`Gmm::log_density`] values, ties included.

use nalgebra::SVector;
use rand_core::Rng;

use crate::history::History;
use crate::model::{CHUNK, Chunk, Component, Gmm, chunk_mixture};
use crate::parallel::{Parallel, ROW_TASK};
use crate::real::{LN_2PI, Real, log_sum_exp};
use crate::rng::{fill_standard_normal, selection_draw, uniform_in};
use crate::store::Rows;
use crate::target::Target;

/// Unnormalised weight of an added component.
pub const NEW_COMPONENT_WEIGHT: f64 = 1e-29;
/// Most kernel taps (`del_iters` up to 3·`MAX_TAPS`/2 use them all).
const MAX_TAPS: usize = 1024;
/// Most components in a block's lower bound on `log q`.
const TOP: usize = 4;
/// Components more than this below the largest term at a block's first row are left out of
/// the block's lower bound.
const GAP: f64 = 4.0;
/// Terms more than this below a row's largest are left out of the dense kernel's `log q`
/// (a lower bound then, at most `K·e^−NEAR` below), which saves their `exp`.
const NEAR: f64 = 20.0;
/// [`NEAR`] for the first rows of pass 1, where only a lower bound is needed.
const FIRST_NEAR: f64 = 12.0;
/// Candidate rows per block.
const BLOCK_ROWS: usize = 64;
/// Bounds computed along different paths are compared with this many ulps of slack per unit.
const SLACK_ULPS: f64 = 4096.0;

/// The `G = 2⌊del/3⌋` normalised kernel taps `κ_j = φ(j; 0, del/8)`, `j = −f..f−1` (TV10).
pub fn deletion_kernel(del_iters: usize, out: &mut [f64]) -> usize {
    let g = (2 * (del_iters / 3)).min(out.len());
    let sum = tap_sum::<f64>(del_iters, g);
    for (i, o) in out.iter_mut().enumerate().take(g) {
        *o = tap::<f64>(del_iters, i) / sum;
    }
    g
}

/// Unnormalised tap `i` of [`deletion_kernel`]: computed where it is used rather than kept in
/// an array, which would cost `8·MAX_TAPS` bytes of stack on a microcontroller.
fn tap<T: Real>(del_iters: usize, i: usize) -> T {
    let sigma = T::of(del_iters as f64) / T::of(8.0);
    let j = T::of(i as f64) - T::of((del_iters / 3) as f64);
    (T::of(-0.5) * (j / sigma) * (j / sigma)).exp() / (sigma * T::of(core::f64::consts::TAU).sqrt())
}

/// The sum of the first `g` taps, in tap order.
fn tap_sum<T: Real>(del_iters: usize, g: usize) -> T {
    let mut sum = T::zero();
    for i in 0..g {
        sum += tap::<T>(del_iters, i);
    }
    sum
}

/// Marks in `bad` the components to delete (docs/algorithm.md §10.2). `H` must hold `2f + del`
/// columns.
pub(crate) fn deletion_candidates<T: Real, const K: usize, const HISTORY: usize>(
    rh: &History<T, K, HISTORY>,
    wh: &History<T, K, HISTORY>,
    n: usize,
    del: usize,
    min_weight: T,
    bad: &mut [bool; K],
) -> usize {
    let g = (2 * (del / 3)).min(MAX_TAPS);
    let sum = tap_sum::<T>(del, g);
    let win = g + del;
    let sentinel = T::SENTINEL;
    let mut cur = [T::zero(); K];
    let mut old = [T::zero(); K];
    let mut max_cur = T::NEG_INF;
    // Tap-major, so each tap is computed once; every sum still runs over j in order.
    for j in 0..g {
        let kj = tap::<T>(del, j) / sum;
        for k in 0..n {
            cur[k] += rh.get(k, g - j) * kj;
            old[k] += rh.get(k, g + del - j) * kj;
        }
    }
    for k in 0..n {
        cur[k] /= T::of(g as f64);
        old[k] /= T::of(g as f64);
        max_cur = max_cur.max(cur[k]);
    }
    // Greedy weights: per column, softmax over components of the rewards.
    let mut max_greedy = [T::zero(); K];
    for back in 1..=win {
        let mut m = T::NEG_INF;
        for k in 0..n {
            m = m.max(rh.get(k, back));
        }
        let mut s = T::zero();
        for k in 0..n {
            s += (rh.get(k, back) - m).exp();
        }
        let lse = m + s.ln();
        for (k, mg) in max_greedy.iter_mut().enumerate().take(n) {
            *mg = mg.max((rh.get(k, back) - lse).exp());
        }
    }
    let mut count = 0;
    for k in 0..n {
        let (c, o) = (cur[k] - max_cur, old[k] - max_cur);
        let improvement = (c - o) / o.abs();
        let mut max_actual = T::NEG_INF;
        for back in 2..=win {
            max_actual = max_actual.max(wh.get(k, back));
        }
        let max_w = max_actual.max(max_greedy[k]);
        let seasoned = rh.get(k, del) != sentinel && rh.get(k, win) != sentinel;
        bad[k] = improvement <= T::of(0.4) && max_w < min_weight && seasoned;
        count += bad[k] as usize;
    }
    count
}

/// Rows of one target call on prior candidates (a stack buffer of `PRIOR_BLOCK·D` values).
const PRIOR_BLOCK: usize = 16;

/// The prior candidates of an add (docs/algorithm.md §10.1 step 2): `n` draws `mean + std ⊙ ε` and
/// the target that scores them.
pub(crate) struct PriorCandidates<'a, T: Real, const D: usize, P: ?Sized> {
    pub mean: &'a SVector<T, D>,
    pub std: &'a SVector<T, D>,
    pub n: usize,
    pub target: &'a mut P,
}

/// The add heuristic's parameters: stored rows to consider, threshold `τ` and the prior's
/// entropy (`None`: the model's average entropy alone).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pick<T> {
    pub num_candidates: usize,
    pub tau: T,
    pub prior_entropy: Option<T>,
}

/// Mean and isotropic variance of the component to add, or `None` without candidates.
/// Candidates are a uniform random subset of `min(num_candidates, len)` stored rows
/// (selection sampling), then the prior draws of `prior` if given; `log_q` (at least as long
/// as `rows`) is scratch. The second value is the number of target evaluations spent on prior
/// candidates (the caller counts them).
#[inline(never)] // once per iteration; keeps profiles readable
pub(crate) fn propose<T: Real, const D: usize, const K: usize, R, X, P>(
    model: &Gmm<T, D, K>,
    rows: &Rows<'_, T, D>,
    log_q: &mut [T],
    rng: &mut R,
    pick: &Pick<T>,
    prior: Option<PriorCandidates<'_, T, D, P>>,
    par: &X,
) -> (Option<(SVector<T, D>, T)>, usize)
where
    R: Rng + Clone,
    X: Parallel,
    P: Target<T, D> + ?Sized,
{
    let len = rows.x.len().min(log_q.len());
    let (rows, log_q) = (&rows.prefix(len), &mut log_q[..len]);
    let Pick { num_candidates, tau, prior_entropy } = *pick;
    if (len == 0 && prior.as_ref().is_none_or(|p| p.n == 0)) || model.is_empty() {
        return (None, 0);
    }
    // Knuth's algorithm S: take row r with probability need/(len − r). Taken rows are marked
    // +inf in the `log_q` scratch, the others NaN.
    let mut need = num_candidates.min(len);
    for (r, lq) in log_q.iter_mut().enumerate() {
        let take = need > 0 && selection_draw(rng, len - r, need);
        need -= take as usize;
        *lq = if take { T::INFINITY } else { T::NAN };
    }
    let (best, evaluated) = match prior.filter(|p| p.n > 0) {
        None => (best_candidate(model, rows, log_q, tau, None, par).map(|(row, _)| rows.x[row]), 0),
        Some(p) => with_prior(model, rows, log_q, rng, tau, p, par),
    };
    let Some(best) = best else { return (None, evaluated) };
    let h_model = model.average_entropy();
    let h_des = match prior_entropy {
        Some(hp) => {
            let a: T = uniform_in(rng);
            a * h_model + (T::one() - a) * hp
        }
        None => h_model,
    };
    let c = isotropic_variance(h_des, D);
    ((c.finite() && c > T::zero()).then_some((best, c)), evaluated)
}

/// The winner over the stored candidates (marked in `log_q`) followed by the prior draws, with
/// `M` the largest `log q` over both. The draws are made twice from the same generator state:
/// first (on a copy) for their `log q` and `M`, then for the target, so no buffer of `n` rows
/// is needed and the target sees every draw once. A failed target call ends the prior
/// candidates of this add (the draws evaluated before it still count); draws with a
/// non-finite value or `log q` never win.
fn with_prior<T: Real, const D: usize, const K: usize, R, X, P>(
    model: &Gmm<T, D, K>,
    rows: &Rows<'_, T, D>,
    log_q: &mut [T],
    rng: &mut R,
    tau: T,
    p: PriorCandidates<'_, T, D, P>,
    par: &X,
) -> (Option<SVector<T, D>>, usize)
where
    R: Rng + Clone,
    X: Parallel,
    P: Target<T, D> + ?Sized,
{
    let draw = |r: &mut R, x: &mut SVector<T, D>| {
        fill_standard_normal(r, x.as_mut_slice());
        *x = p.mean + p.std.component_mul(x);
    };
    let mut x = SVector::<T, D>::zeros();
    let mut replay = rng.clone();
    let mut m_prior = T::NEG_INF;
    for _ in 0..p.n {
        draw(&mut replay, &mut x);
        let lq = model.log_density(&x);
        if lq > m_prior {
            m_prior = lq;
        }
    }
    let stored = if !rows.x.is_empty() { best_candidate(model, rows, log_q, tau, Some(m_prior), par) } else { None };
    let m = stored.map_or(m_prior, |(_, m)| m);
    let mut best = stored.and_then(|(row, _)| {
        let (lp, lq) = (rows.log_p[row], log_q[row]);
        Some((rows.x[row], lp - (m - tau).max(lq))).filter(|(_, s)| s.finite())
    });
    let target = p.target;
    let mut xs = [SVector::<T, D>::zeros(); PRIOR_BLOCK];
    let mut lp = [T::zero(); PRIOR_BLOCK];
    let mut evaluated = 0;
    while evaluated < p.n {
        let b = PRIOR_BLOCK.min(p.n - evaluated);
        for xi in &mut xs[..b] {
            draw(rng, xi);
        }
        if target.log_density(&xs[..b], &mut lp[..b]).is_err() {
            break;
        }
        evaluated += b;
        for (xi, &l) in xs[..b].iter().zip(&lp[..b]) {
            let s = l - (m - tau).max(model.log_density(xi));
            if s.finite() && best.is_none_or(|(_, b)| s > b) {
                best = Some((*xi, s));
            }
        }
    }
    (best.map(|(x, _)| x), evaluated)
}

/// Slack for comparing values of `log q` computed along different paths (dense kernel,
/// [`Gmm::log_density`]): `abs + rel·|v|`, and `near`, what the dense kernel leaves out.
#[derive(Clone, Copy, Debug)]
struct Tol<T> {
    abs: T,
    rel: T,
    near: T,
}

impl<T: Real> Tol<T> {
    fn new<const D: usize>(comps: &[Component<T, D>], lw: &[T]) -> Self {
        let rel = T::of(SLACK_ULPS) * T::default_epsilon();
        let scale = comps.iter().zip(lw).fold(T::one(), |m, (c, &w)| m.max(c.log_norm.abs() + w.abs()));
        let n = T::of(comps.len() as f64);
        Self { abs: rel * (scale + n), rel, near: n * T::of(-NEAR).exp() }
    }

    fn at(&self, v: T) -> T {
        if v.finite() { self.abs + self.rel * v.abs() } else { T::zero() }
    }
}

/// Score bounds for `M ∈ [M_lo, M_hi]`, `t = M − τ`.
#[derive(Clone, Copy, Debug)]
struct Bounds<T> {
    t_lo: T,
    t_hi: T,
}

impl<T: Real> Bounds<T> {
    /// Upper bound on the score of a row with `log q ≥ l` (−inf when it cannot be finite).
    fn upper(&self, lp: T, l: T) -> T {
        if lp.finite() { lp - self.t_lo.max(l) } else { T::NEG_INF }
    }

    /// Lower bound on the score of a row with `log q ≤ q` (−inf unless finite).
    fn lower(&self, lp: T, q: T) -> T {
        let s = lp - self.t_hi.max(q);
        if q.is_nan_like() || !s.finite() { T::NEG_INF } else { s }
    }
}

/// The blocks of one task: runs of up to [`BLOCK_ROWS`] candidate rows (non-NaN `out`) drawn
/// by the same Gaussian, which lie close together.
struct Blocks {
    next: usize,
}

impl Blocks {
    /// The next block: its first row (an index into `out`) and its number of rows.
    fn next<T: Real>(&mut self, out: &[T], gid: &[u64]) -> Option<(usize, usize)> {
        let mut first: Option<(usize, u64)> = None;
        let mut n = 0;
        while n < BLOCK_ROWS {
            let i = self.next;
            let (Some(v), Some(&g)) = (out.get(i), gid.get(i)) else { break };
            if !v.is_nan_like() {
                match first {
                    Some((_, g0)) if g0 != g => break,
                    None => first = Some((i, g)),
                    _ => {}
                }
                n += 1;
            }
            self.next += 1;
        }
        first.map(|(f, _)| (f, n))
    }
}

/// Row of `argmax_x log p~(x) − max(M − τ, log q(x))` over the candidate rows (non-NaN
/// `log_q`, which is scratch), `M` their largest `log q`, or the larger `m_ext` (the largest
/// `log q` of further candidates) if given; the first such row on ties. With `m_ext` the
/// exact `M` is computed and returned, and the row's `log_q` is exact; without, `M` is NaN
/// when the bounds alone decided.
fn best_candidate<T: Real, const D: usize, const K: usize, X: Parallel>(
    model: &Gmm<T, D, K>,
    rows: &Rows<'_, T, D>,
    log_q: &mut [T],
    tau: T,
    m_ext: Option<T>,
    par: &X,
) -> Option<(usize, T)> {
    let len = rows.x.len().min(log_q.len());
    let (x, gid, log_p) = (&rows.x[..len], &rows.gid[..len], &rows.log_p[..len]);
    let (comps, lw) = (model.components(), model.log_weights());
    let tol = Tol::new(comps, lw);
    // Pass 1: L(x) ≤ log q(x) into every candidate row.
    par.for_each_chunk(&mut log_q[..len], ROW_TASK, &|first, out| {
        for (i, part) in out.chunks_mut(ROW_TASK).enumerate() {
            let f = first + i * ROW_TASK;
            let (Some(xt), Some(gt)) = (x.get(f..f + part.len()), gid.get(f..f + part.len())) else { continue };
            lower_bounds(comps, lw, &tol, xt, gt, part);
        }
    });
    let lq = &mut log_q[..len];
    // M_lo: the exact log q of the row with the largest L; M_hi: log Σ_k w_k max N_k.
    let mut top: Option<(usize, T)> = None;
    for (r, &l) in lq.iter().enumerate() {
        if !l.is_nan_like() && top.is_none_or(|(_, b)| l > b) {
            top = Some((r, l));
        }
    }
    let m_lo = model.log_density(&x[top?.0]);
    let m_lo = if m_lo.is_nan_like() { T::NEG_INF } else { m_lo };
    let ext = m_ext.filter(|v| !v.is_nan_like()).unwrap_or(T::NEG_INF);
    let m_lo = m_lo.max(ext);
    let mut peaks = [T::zero(); K];
    for ((p, c), &w) in peaks.iter_mut().zip(comps).zip(lw) {
        *p = c.log_norm + w;
    }
    let p = log_sum_exp(&peaks[..comps.len().min(K)]);
    let m_hi = (p + tol.at(p)).max(m_lo).max(ext);
    let b = Bounds { t_lo: m_lo - tau, t_hi: m_hi - tau };
    // Seed of every task's best lower bound: the CHUNK rows with the largest upper bounds.
    let mut seeds = Picks::new();
    for (r, &l) in lq.iter().enumerate() {
        if !l.is_nan_like() {
            seeds.offer(r, b.upper(log_p[r], l), T::NEG_INF);
        }
    }
    let mut s_seed = T::NEG_INF;
    let seed_rows = seeds.rows();
    let ch = Chunk::gather(seed_rows.len(), |j| &x[seed_rows[j].0]);
    let (_, q) = dense::<T, D, false>(comps, lw, &ch, T::of(NEAR));
    for (&(r, _), &q) in seeds.rows().iter().zip(&q) {
        s_seed = s_seed.max(b.lower(log_p[r], q + tol.near + tol.at(q)));
    }
    // Pass 2: exact log q of the rows that can win; +inf marks the rows ruled out.
    par.for_each_chunk(lq, ROW_TASK, &|first, out| {
        for (i, part) in out.chunks_mut(ROW_TASK).enumerate() {
            let f = first + i * ROW_TASK;
            let (Some(xt), Some(pt)) = (x.get(f..f + part.len()), log_p.get(f..f + part.len())) else { continue };
            contenders(model, &tol, &b, s_seed, xt, pt, part);
        }
    });
    // Each score difference is monotone in M, so a row that wins at both ends of [M_lo, M_hi]
    // wins at every M in between.
    let at_hi = argmax_score(lq, log_p, b.t_hi);
    if m_ext.is_none() && argmax_score(lq, log_p, b.t_lo) == at_hi {
        return at_hi.map(|r| (r, T::NAN));
    }
    #[cfg(test)]
    tests::EXACT_M.with(|c| c.set(c.get() + 1));
    let m = exact_max(model, &tol, x, lq, m_lo, par);
    if !m.finite() {
        return None;
    }
    argmax_score(lq, log_p, m - tau).map(|r| (r, m))
}

/// Pass 1 over one task's rows: blocks of one Gaussian's rows; the first rows of CHUNK blocks
/// at a time meet every component in the dense kernel, which gives them `log q` itself and the
/// block's dominant components for its other rows.
fn lower_bounds<T: Real, const D: usize>(
    comps: &[Component<T, D>],
    lw: &[T],
    tol: &Tol<T>,
    x: &[SVector<T, D>],
    gid: &[u64],
    out: &mut [T],
) {
    let lower = |v: T| if v.is_nan_like() { T::NEG_INF } else { v - tol.at(v) };
    let mut blocks = Blocks { next: 0 };
    let mut rows = [0usize; CHUNK];
    // Bounded by the rows: every round consumes at least one block.
    for _ in 0..out.len() {
        // The first rows of up to CHUNK blocks, and where each block starts and how long it is.
        let mut starts = [(0usize, 0usize); CHUNK];
        let mut nc = 0;
        while nc < CHUNK {
            let Some((r, n)) = blocks.next(out, gid) else { break };
            starts[nc] = (r, n);
            nc += 1;
        }
        if nc == 0 {
            break;
        }
        let ch = Chunk::gather(nc, |j| &x[starts[j].0]);
        let (dom, lse) = dense::<T, D, true>(comps, lw, &ch, T::of(FIRST_NEAR));
        for ((&(r0, len), dom), &lse) in starts.iter().zip(&dom).zip(&lse).take(nc) {
            // The block's other rows: the next len − 1 candidate rows after r0 (L is never NaN,
            // so the rows written keep marking candidates).
            let mut i = r0 + 1;
            let mut left = len.saturating_sub(1);
            while left > 0 {
                let mut n = 0;
                while n < CHUNK && left > 0 && i < out.len() {
                    if !out[i].is_nan_like() {
                        rows[n] = i;
                        n += 1;
                        left -= 1;
                    }
                    i += 1;
                }
                if n == 0 {
                    break;
                }
                let ch = Chunk::gather(n, |j| &x[rows[j]]);
                let l = chunk_mixture(comps, lw, dom.components(), &ch, None);
                for (k, &r) in rows.iter().enumerate().take(n) {
                    out[r] = lower(l.lse(k));
                }
            }
            out[r0] = lower(lse);
        }
    }
}

/// Pass 2 over one task's rows, best first: CHUNK rows at a time, those with the largest upper
/// bounds above the best lower bound so far get `log q` from the dense kernel; at the end the
/// ones that can still win get [`Gmm::log_density`], the others (and the rows never picked) +inf.
fn contenders<T: Real, const D: usize, const K: usize>(
    model: &Gmm<T, D, K>,
    tol: &Tol<T>,
    b: &Bounds<T>,
    seed: T,
    x: &[SVector<T, D>],
    log_p: &[T],
    out: &mut [T],
) {
    const PENDING: u8 = 0;
    const DENSE: u8 = 1;
    const EXACT: u8 = 2;
    let (comps, lw) = (model.components(), model.log_weights());
    let n = out.len().min(ROW_TASK).min(x.len()).min(log_p.len());
    let mut state = [PENDING; ROW_TASK];
    let mut best = seed;
    for _ in 0..n {
        let mut picks = Picks::new();
        for i in 0..n {
            if state[i] == PENDING && !out[i].is_nan_like() {
                picks.offer(i, b.upper(log_p[i], out[i]), best);
            }
        }
        if picks.n == 0 {
            break;
        }
        let picked = picks.rows();
        let ch = Chunk::gather(picked.len(), |j| &x[picked[j].0]);
        let (_, lse) = dense::<T, D, false>(comps, lw, &ch, T::of(NEAR));
        for (&(i, _), &q) in picks.rows().iter().zip(&lse) {
            if q.is_nan_like() {
                out[i] = model.log_density(&x[i]);
                state[i] = EXACT;
                best = best.max(b.lower(log_p[i], out[i]));
            } else {
                out[i] = q;
                state[i] = DENSE;
                best = best.max(b.lower(log_p[i], q + tol.near + tol.at(q)));
            }
        }
    }
    for i in 0..n {
        if state[i] == DENSE && b.upper(log_p[i], out[i] - tol.at(out[i])) >= best {
            out[i] = model.log_density(&x[i]);
        } else if state[i] != EXACT && !out[i].is_nan_like() {
            out[i] = T::INFINITY;
        }
    }
}

/// The (up to) CHUNK rows offered with the largest values, largest first.
struct Picks<T> {
    rows: [(usize, T); CHUNK],
    n: usize,
}

impl<T: Real> Picks<T> {
    fn new() -> Self {
        Self { rows: [(0, T::NEG_INF); CHUNK], n: 0 }
    }

    /// Keeps row `i` if `u ≥ floor` and `u` is among the CHUNK largest (earlier rows first on ties).
    fn offer(&mut self, i: usize, u: T, floor: T) {
        if !(u >= floor) || (self.n == CHUNK && !(u > self.rows[CHUNK - 1].1)) {
            return;
        }
        let mut j = self.n.min(CHUNK - 1);
        while j > 0 && self.rows[j - 1].1 < u {
            self.rows[j] = self.rows[j - 1];
            j -= 1;
        }
        self.rows[j] = (i, u);
        self.n = (self.n + 1).min(CHUNK);
    }

    fn rows(&self) -> &[(usize, T)] {
        &self.rows[..self.n]
    }
}

/// The (up to) [`TOP`] largest terms at a point within [`GAP`] of the largest, best first.
#[derive(Clone, Copy)]
struct Dominant<T> {
    k: [usize; TOP],
    v: [T; TOP],
    n: usize,
}

impl<T: Real> Dominant<T> {
    fn offer(&mut self, k: usize, v: T) {
        if !(v > self.v[TOP - 1]) || !(v >= self.v[0] - T::of(GAP)) {
            return;
        }
        let mut j = TOP - 1;
        while j > 0 && self.v[j - 1] < v {
            self.v[j] = self.v[j - 1];
            self.k[j] = self.k[j - 1];
            j -= 1;
        }
        self.v[j] = v;
        self.k[j] = k;
        self.n = (self.n + 1).min(TOP);
    }

    /// The components kept, dropping those that fell more than GAP below the largest.
    fn components(&self) -> &[usize] {
        let keep = self.v.iter().take(self.n).take_while(|&&v| v >= self.v[0] - T::of(GAP)).count();
        &self.k[..keep]
    }
}

/// Every component at every row of the chunk (the dense kernel, no bounds: cheaper than any
/// bound for so few points): per row the log-sum of the terms within `near` of the largest,
/// which is `log q` from below and at most `K·e^−near` under it, and, if `DOM`, the dominant
/// components.
fn dense<T: Real, const D: usize, const DOM: bool>(
    comps: &[Component<T, D>],
    lw: &[T],
    ch: &Chunk<T, D>,
    near: T,
) -> ([Dominant<T>; CHUNK], [T; CHUNK]) {
    let mut dom = [Dominant { k: [0; TOP], v: [T::NEG_INF; TOP], n: 0 }; CHUNK];
    let mut m = [T::NEG_INF; CHUNK];
    let mut s = [T::zero(); CHUNK];
    let mut out = [T::zero(); CHUNK];
    for (k, (c, &w)) in comps.iter().zip(lw).enumerate() {
        c.chunk_log_density(ch, &mut out);
        for (r, &o) in out.iter().enumerate().take(ch.n) {
            let v = o + w;
            // Most terms are far below: one comparison.
            if !(v >= m[r] - near) {
                continue;
            }
            if v > m[r] {
                s[r] = if m[r] == T::NEG_INF { T::one() } else { s[r] * (m[r] - v).exp() + T::one() };
                m[r] = v;
            } else {
                s[r] += (v - m[r]).exp();
            }
            if DOM {
                dom[r].offer(k, v);
            }
        }
    }
    let lse = core::array::from_fn(|r| if s[r] > T::zero() { m[r] + s[r].ln() } else { T::NEG_INF });
    (dom, lse)
}

/// First row of the largest finite `log p~ − max(t, log q)` over the rows with an exact
/// `log q` (neither NaN nor the +inf of a row ruled out).
fn argmax_score<T: Real>(lq: &[T], log_p: &[T], t: T) -> Option<usize> {
    let mut best: Option<(usize, T)> = None;
    for (r, (&q, &lp)) in lq.iter().zip(log_p).enumerate() {
        let s = lp - t.max(q);
        if !q.is_nan_like() && q != T::INFINITY && s.finite() && best.is_none_or(|(_, b)| s > b) {
            best = Some((r, s));
        }
    }
    best.map(|(r, _)| r)
}

/// The largest `log q` of the candidate rows (`lq` exact, or +inf where ruled out), given that
/// it is at least `m_lo`: the +inf rows go through the dense kernel, and those that can reach
/// the largest known value get their exact `log q` in place.
fn exact_max<T: Real, const D: usize, const K: usize, X: Parallel>(
    model: &Gmm<T, D, K>,
    tol: &Tol<T>,
    x: &[SVector<T, D>],
    lq: &mut [T],
    m_lo: T,
    par: &X,
) -> T {
    let exact = |v: &&T| !v.is_nan_like() && **v != T::INFINITY;
    let known = lq.iter().filter(exact).fold(m_lo, |a, &v| a.max(v));
    let (comps, lw) = (model.components(), model.log_weights());
    par.for_each_chunk(lq, ROW_TASK, &|first, out| {
        let mut rows = [0usize; CHUNK];
        let mut n = 0;
        for i in 0..=out.len() {
            if out.get(i).is_some_and(|&v| v == T::INFINITY) {
                rows[n] = i;
                n += 1;
            }
            if n == CHUNK || (i == out.len() && n > 0) {
                let ch = Chunk::gather(n, |j| &x[first + rows[j]]);
                let (_, lse) = dense::<T, D, false>(comps, lw, &ch, T::of(NEAR));
                for (&r, &v) in rows.iter().zip(&lse).take(n) {
                    if !(v + tol.at(v) + tol.near < known) {
                        out[r] = model.log_density(&x[first + r]);
                    }
                }
                n = 0;
            }
        }
    });
    lq.iter().filter(exact).fold(m_lo, |a, &v| a.max(v))
}

/// The variance `c` of `N(μ, c·I)` in `R^d` with entropy `h`:
/// `c = exp(2(h − (d/2)(log 2π + 1))/d)` (docs/algorithm.md §10.1 step 6, TV9).
pub fn isotropic_variance<T: Real>(h: T, d: usize) -> T {
    let d = T::of(d as f64);
    (T::of(2.0) * (h - T::of(0.5) * d * T::of(LN_2PI + 1.0)) / d).exp()
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::parallel::Serial;
    use crate::rng::uniform;
    use crate::store::SampleStore;
    use nalgebra::SMatrix;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::boxed::Box;

    std::thread_local! {
        /// Calls of `best_candidate` that needed the exact `M`.
        pub(super) static EXACT_M: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    }

    const SAMPLES: usize = 2048;
    type Store<T> = SampleStore<T, 3, SAMPLES, 64>;

    /// The plain heuristic with the same RNG calls: [`Gmm::log_density`] of every candidate, then
    /// the first row of the largest finite score.
    fn reference<T: Real>(
        model: &Gmm<T, 3, 16>,
        store: &Store<T>,
        rng: &mut Xoshiro256PlusPlus,
        num_candidates: usize,
        tau: T,
        prior_entropy: Option<T>,
        prior: Option<(SVector<T, 3>, SVector<T, 3>, usize)>,
    ) -> Option<(SVector<T, 3>, T)> {
        let rows = store.rows();
        let len = rows.x.len();
        let n_prior = prior.map_or(0, |p| p.2);
        if (len == 0 && n_prior == 0) || model.is_empty() {
            return None;
        }
        // All candidates in order (stored rows, then prior draws): (x, log p~, log q).
        let mut cand = std::vec::Vec::new();
        let mut need = num_candidates.min(len);
        for r in 0..len {
            let take = need > 0 && uniform(rng) * ((len - r) as f64) < need as f64;
            need -= take as usize;
            if take {
                cand.push((rows.x[r], rows.log_p[r], model.log_density(&rows.x[r])));
            }
        }
        if let Some((mean, std, n)) = prior {
            for _ in 0..n {
                let mut x = SVector::<T, 3>::zeros();
                fill_standard_normal(rng, x.as_mut_slice());
                let x = mean + std.component_mul(&x);
                cand.push((x, bumpy(&x), model.log_density(&x)));
            }
        }
        let m = cand.iter().map(|c| c.2).filter(|v| !v.is_nan_like()).fold(T::NEG_INF, |a, v| a.max(v));
        let mut best: Option<(SVector<T, 3>, T)> = None;
        for &(x, lp, q) in &cand {
            let s = lp - (m - tau).max(q);
            if !q.is_nan_like() && s.finite() && best.is_none_or(|(_, b)| s > b) {
                best = Some((x, s));
            }
        }
        let (xbest, _) = best?;
        let h_model = model.average_entropy();
        let h_des = match prior_entropy {
            Some(hp) => {
                let a = T::of(uniform(rng));
                a * h_model + (T::one() - a) * hp
            }
            None => h_model,
        };
        let c = isotropic_variance(h_des, 3);
        (c.finite() && c > T::zero()).then_some((xbest, c))
    }

    /// The prior candidates' target: a bumpy log density, NaN and −inf at some points.
    fn bumpy<T: Real>(x: &SVector<T, 3>) -> T {
        let v = x.map(|v| v.to_f64());
        let s = libm::sin(3.0 * v[0]) + libm::cos(2.0 * v[1] * v[2]);
        if s > 1.9 {
            T::NAN
        } else if s < -1.95 {
            T::NEG_INF
        } else {
            T::of(-0.5 * v.norm_squared() + 2.0 * s)
        }
    }

    /// [`bumpy`] as a [`Target`] that fails on its `fail_at`-th call.
    struct Bumpy {
        calls: usize,
        fail_at: usize,
    }

    impl<T: Real> Target<T, 3> for Bumpy {
        fn log_density(&mut self, x: &[SVector<T, 3>], lp: &mut [T]) -> Result<(), crate::TargetError> {
            self.calls += 1;
            if self.calls == self.fail_at {
                return Err(crate::TargetError { code: 7 });
            }
            for (xi, l) in x.iter().zip(lp) {
                *l = bumpy(xi);
            }
            Ok(())
        }
        fn log_density_with_grad(
            &mut self,
            _: &[SVector<T, 3>],
            _: &mut [T],
            _: &mut [SVector<T, 3>],
        ) -> Result<(), crate::TargetError> {
            Err(crate::TargetError { code: 8 })
        }
    }

    fn normal(rng: &mut Xoshiro256PlusPlus) -> f64 {
        let mut e = [0.0f64];
        crate::rng::fill_standard_normal(rng, &mut e);
        e[0]
    }

    /// A random full (or, one time in four, diagonal) Gaussian around `mean` with scales about `scale`.
    fn gaussian<T: Real>(rng: &mut Xoshiro256PlusPlus, mean: &SVector<f64, 3>, scale: f64) -> Gmm<T, 3, 16> {
        let diag = uniform(rng) < 0.25;
        let l = SMatrix::<f64, 3, 3>::from_fn(|i, j| match i.cmp(&j) {
            core::cmp::Ordering::Equal => scale * libm::exp(2.0 * uniform(rng) - 1.5),
            core::cmp::Ordering::Greater if !diag => 0.5 * scale * normal(rng),
            _ => 0.0,
        });
        let mut g = Gmm::new();
        g.push_chol(T::zero(), mean.map(T::of), &l.map(T::of)).expect("gaussian");
        g
    }

    /// A random mixture, and a store of runs of rows drawn by perturbed copies of its components
    /// or by broad Gaussians, with target values from another mixture (a few not finite).
    fn random_case<T: Real>(rng: &mut Xoshiro256PlusPlus) -> (Gmm<T, 3, 16>, Box<Store<T>>) {
        let n = 1 + (uniform(rng) * 12.0) as usize;
        let centre = |rng: &mut Xoshiro256PlusPlus| SVector::<f64, 3>::from_fn(|_, _| 6.0 * (uniform(rng) - 0.5));
        let mut model = Gmm::<T, 3, 16>::new();
        let mut lw = [T::zero(); 16];
        for w in lw.iter_mut().take(n) {
            let (m, sc) = (centre(rng), 0.3 + uniform(rng));
            let g = gaussian::<T>(rng, &m, sc);
            let c = g.components()[0];
            model.push_chol(T::zero(), c.mean, g.chol(0).expect("chol")).expect("component");
            *w = T::of(3.0 * normal(rng));
        }
        model.set_log_weights(&lw[..n]).expect("weights");
        let target = {
            let mut t = Gmm::<T, 3, 16>::new();
            for _ in 0..3 {
                let m = centre(rng);
                let g = gaussian::<T>(rng, &m, 1.5);
                t.push_chol(T::zero(), g.components()[0].mean, g.chol(0).expect("chol")).expect("target");
            }
            t
        };
        let mut store = Box::new(Store::<T>::new());
        let rows = (uniform(rng) * SAMPLES as f64) as usize;
        while store.len() < rows {
            let run = (1 + (uniform(rng) * 80.0) as usize).min(rows - store.len());
            let src = if uniform(rng) < 0.7 {
                let k = (uniform(rng) * n as f64) as usize % n;
                let m = model.mean(k).expect("mean").map(|v| v.to_f64()) + SVector::from_fn(|_, _| 0.3 * normal(rng));
                let sc = 0.5 + 2.0 * uniform(rng);
                gaussian::<T>(rng, &m, sc)
            } else {
                let m = centre(rng);
                gaussian::<T>(rng, &m, 3.0)
            };
            let id = store.push_gaussian(&src.components()[0], 0);
            let first = store.reserve(run, SAMPLES);
            for r in first..first + run {
                let x = src.sample_component(0, rng).expect("sample");
                let u = uniform(rng);
                let log_p = if u < 0.01 {
                    T::NAN
                } else if u < 0.02 {
                    T::NEG_INF
                } else {
                    target.log_density(&x) * T::of(1.0 + uniform(rng))
                };
                store.set_row(r, x, log_p, id);
            }
            store.commit(run);
        }
        (model, store)
    }

    fn same_as_reference<T: Real>(seed: u64, cases: usize) -> usize {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut some = 0;
        for case in 0..cases {
            let (model, store) = random_case::<T>(&mut rng);
            let tau = T::of([0.5, 3.0, 50.0, 5000.0][case % 4]);
            let num = (uniform(&mut rng) * (store.len() + 20) as f64) as usize;
            let prior = (case % 3 == 0).then(|| T::of(2.0));
            // Prior candidates (num_prior_samples) in every other case, across block boundaries.
            let draws = (case % 2 == 1).then(|| {
                let mean = SVector::<T, 3>::from_fn(|_, _| T::of(4.0 * (uniform(&mut rng) - 0.5)));
                let std = SVector::<T, 3>::from_fn(|_, _| T::of(0.2 + 2.0 * uniform(&mut rng)));
                (mean, std, 1 + case % 41)
            });
            let mut r_ref = Xoshiro256PlusPlus::seed_from_u64(case as u64);
            let mut r_new = r_ref.clone();
            let want = reference(&model, &store, &mut r_ref, num, tau, prior, draws);
            fn cands<'a, T: Real>(
                d: &'a Option<(SVector<T, 3>, SVector<T, 3>, usize)>,
                t: &'a mut Bumpy,
            ) -> Option<PriorCandidates<'a, T, 3, Bumpy>> {
                d.as_ref().map(|(mean, std, n)| PriorCandidates { mean, std, n: *n, target: t })
            }
            let mut target = Bumpy { calls: 0, fail_at: 0 };
            let pick = Pick { num_candidates: num, tau, prior_entropy: prior };
            let mut log_q = std::vec![T::zero(); SAMPLES];
            let rows = store.rows();
            let (got, evals) =
                propose(&model, &rows, &mut log_q, &mut r_new, &pick, cands(&draws, &mut target), &Serial);
            assert_eq!(got, want, "case {case}: {} rows, {} components", store.len(), model.len());
            assert_eq!(r_new.next_u64(), r_ref.next_u64(), "case {case}: RNG stream");
            let n = draws.map_or(0, |d| d.2);
            assert_eq!((evals, target.calls), (n, n.div_ceil(PRIOR_BLOCK)), "case {case}");
            #[cfg(feature = "std")]
            {
                let mut r_thr = Xoshiro256PlusPlus::seed_from_u64(case as u64);
                let mut t = Bumpy { calls: 0, fail_at: 0 };
                let par = crate::Threads::new(3);
                let (threads, _) = propose(&model, &rows, &mut log_q, &mut r_thr, &pick, cands(&draws, &mut t), &par);
                assert_eq!(threads, want, "case {case}: threads");
            }
            // A failing target ends the prior candidates: the draws before the failed call
            // still count, and the result is the stored rows' winner over the evaluated ones.
            if let Some((mean, std, n)) = draws.filter(|d| d.2 > PRIOR_BLOCK) {
                let mut r_f = Xoshiro256PlusPlus::seed_from_u64(case as u64);
                let mut t = Bumpy { calls: 0, fail_at: 2 };
                let c = Some(PriorCandidates { mean: &mean, std: &std, n, target: &mut t });
                let (_, evals) = propose(&model, &rows, &mut log_q, &mut r_f, &pick, c, &Serial);
                assert_eq!(evals, PRIOR_BLOCK);
            }
            some += want.is_some() as usize;
        }
        some
    }

    #[test]
    fn propose_matches_plain_argmax_f64() {
        let before = EXACT_M.with(|c| c.get());
        let some = same_as_reference::<f64>(1, 400);
        assert!(some > 300, "{some}");
        // The exact M was needed in some cases.
        assert!(EXACT_M.with(|c| c.get()) > before);
    }

    #[test]
    fn exact_max_is_the_largest_log_q() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for case in 0..100 {
            let (model, store) = random_case::<f64>(&mut rng);
            let x = store.rows().x;
            let want = x.iter().fold(f64::NEG_INFINITY, |m, x| m.max(model.log_density(x)));
            let tol = Tol::new(model.components(), model.log_weights());
            let mut lq = std::vec![0.0; x.len()];
            for m_lo in [f64::NEG_INFINITY, want - 0.3, want] {
                lq.fill(f64::INFINITY);
                assert_eq!(exact_max(&model, &tol, x, &mut lq, m_lo, &Serial), want, "case {case}");
            }
        }
    }

    #[test]
    fn propose_matches_plain_argmax_f32() {
        let some = same_as_reference::<f32>(2, 400);
        assert!(some > 300, "{some}");
    }

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

//! The sample store ("sample database"; Arenz et al. 2023, §3.1; docs/algorithm.md §9.1): a
//! fixed-capacity replay buffer of evaluated samples and of the Gaussians that drew them.
//!
//! Rows are kept oldest → newest in structure-of-arrays form (`x`, `log p~`, `∇ log p~`, the id
//! of the drawing Gaussian), so a block of new rows is handed to the target as plain slices.
//! When an insert would exceed `min(max_database_size, S)` rows the store is thinned once
//! (rows 0, 2, 4, … kept, §9.1 step 1). Gaussians live in a ring of `G` slots addressed by a
//! monotone id; rows whose Gaussian has left the ring cannot serve as importance samples, so a
//! working set is cut at the newest such row (a documented bound: it never triggers when `G`
//! covers the Gaussians of a full working set, e.g. `G ≥ K·(⌊ratio·n_des⌋ + 1)`).
//!
//! The background (proposal) density of a working set is the mixture of the Gaussians that
//! drew its rows, weighted by their row counts: `log b(x) = log Σ_j (c_j/Σc) N(x; μ_j, Σ_j)`.

use nalgebra::SVector;

use crate::checkpoint::{Reader, Writer};
use crate::error::Error;
use crate::model::{CHUNK, Chunk, Component, Gmm, block_candidates, chunk_mixture};
use crate::parallel::{Parallel, ROW_TASK};
use crate::real::{OnlineLse, Real};

/// A run of working-set rows drawn by one Gaussian, with its bounding box: the unit of the
/// block-level pruning (one O(D) bound per block and component instead of per row).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowBlock<T: Real, const D: usize> {
    pub start: usize,
    pub end: usize,
    pub lo: SVector<T, D>,
    pub hi: SVector<T, D>,
    /// Smallest background log density of its rows (set by `compute_background`).
    pub min_log_b: T,
    /// Id of the Gaussian that drew the rows.
    pub gid: u64,
}

impl<T: Real, const D: usize> RowBlock<T, D> {
    const EMPTY: Self =
        Self { start: 0, end: 0, lo: crate::real::zeros(), hi: crate::real::zeros(), min_log_b: T::ZERO_CONST, gid: 0 };
}

/// Fixed-capacity store of `S` samples and `G` Gaussians.
#[derive(Clone, Debug)]
pub struct SampleStore<T: Real, const D: usize, const S: usize, const G: usize> {
    pub(crate) len: usize,
    pub(crate) x: [SVector<T, D>; S],
    pub(crate) log_p: [T; S],
    pub(crate) grad: [SVector<T, D>; S],
    pub(crate) gid: [u64; S],
    // Per-row scratch of the current iteration (background, log q, log-ratio gradient).
    pub(crate) log_b: [T; S],
    pub(crate) log_q: [T; S],
    pub(crate) gamma: [SVector<T, D>; S],
    // Gaussian ring.
    next_gid: u64,
    g_id: [u64; G],
    // Model component that each ring Gaussian was, and the first id of the newest draw: the
    // "own samples" of component k are the rows of the newest draw's Gaussian of k
    // (docs/algorithm.md §2).
    g_comp: [usize; G],
    draw_first_gid: u64,
    g: [Component<T, D>; G],
    // Background mixture of the current working set (copied out of the ring, contiguous).
    pub(crate) bg_len: usize,
    bg: [Component<T, D>; G],
    bg_log_w: [T; G],
    // Blocks of the working set: block i holds the rows of background Gaussian i.
    pub(crate) blocks: [RowBlock<T, D>; G],
    written: u64,
}

impl<T: Real, const D: usize, const S: usize, const G: usize> Default for SampleStore<T, D, S, G> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const D: usize, const S: usize, const G: usize> SampleStore<T, D, S, G> {
    /// An empty store.
    pub fn new() -> Self {
        const { assert!(S > 0 && G > 0, "store needs S > 0 and G > 0") };
        let mut s = Self::BLANK;
        s.reset();
        s
    }

    /// All-zero bytes (see `Optimizer::BLANK`); [`Self::reset`] makes it the empty store.
    pub(crate) const BLANK: Self = Self {
        len: 0,
        x: [crate::real::zeros(); S],
        log_p: [T::ZERO_CONST; S],
        grad: [crate::real::zeros(); S],
        gid: [0; S],
        log_b: [T::ZERO_CONST; S],
        log_q: [T::ZERO_CONST; S],
        gamma: [crate::real::zeros(); S],
        next_gid: 0,
        g_id: [0; G],
        g_comp: [0; G],
        draw_first_gid: 0,
        g: [Component::ZERO; G],
        bg_len: 0,
        bg: [Component::ZERO; G],
        bg_log_w: [T::ZERO_CONST; G],
        blocks: [RowBlock::EMPTY; G],
        written: 0,
    };

    /// Empties a [`Self::BLANK`] store in place: the counters and the Gaussian ring's ids.
    /// The row arrays are not touched (nothing reads a row at or beyond `len`).
    pub(crate) fn reset(&mut self) {
        self.len = 0;
        self.next_gid = 0;
        self.g_id = [u64::MAX; G];
        self.g_comp = [usize::MAX; G];
        self.draw_first_gid = u64::MAX;
        self.bg_len = 0;
        self.written = 0;
    }

    /// Number of stored samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` if no sample is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Target evaluations so far (`num_samples_written`, rejected samples included).
    pub fn evaluations(&self) -> u64 {
        self.written
    }

    pub(crate) fn count_evaluations(&mut self, n: usize) {
        self.written = self.written.saturating_add(n as u64);
    }

    /// Makes room for `n` new rows below `cap` (thinning once, clearing if that is not enough);
    /// returns the first free row. `n <= cap` is the caller's invariant.
    pub(crate) fn reserve(&mut self, n: usize, cap: usize) -> usize {
        let cap = cap.min(S);
        if self.len + n > cap {
            let keep = self.len.div_ceil(2);
            for i in 0..keep {
                let j = 2 * i;
                self.x[i] = self.x[j];
                self.log_p[i] = self.log_p[j];
                self.grad[i] = self.grad[j];
                self.gid[i] = self.gid[j];
            }
            self.len = keep;
            if self.len + n > cap {
                self.len = 0;
            }
        }
        self.len
    }

    /// Checkpoint form: counters, the Gaussian ring, then the stored rows (the working-set
    /// scratch is rebuilt by every step and not saved).
    pub(crate) fn save_state(&self, w: &mut Writer) {
        w.count(self.len);
        w.u64(self.next_gid);
        w.u64(self.written);
        for (id, g) in self.g_id.iter().zip(&self.g) {
            w.u64(*id);
            g.save(w);
        }
        for r in 0..self.len {
            w.reals(self.x[r].as_slice());
            w.real(self.log_p[r]);
            w.reals(self.grad[r].as_slice());
            w.u64(self.gid[r]);
        }
    }

    /// Reads the checkpoint form, storing it only if `WRITE`.
    pub(crate) fn load_state<const WRITE: bool>(&mut self, r: &mut Reader) -> Result<(), Error> {
        let len = r.count(S)?;
        let next_gid = r.u64()?;
        let written = r.u64()?;
        for slot in 0..G {
            let id = r.u64()?;
            let g = Component::load(r)?;
            if WRITE {
                self.g_id[slot] = id;
                self.g[slot] = g;
            }
        }
        for row in 0..len {
            r.reals::<T, WRITE>(self.x[row].as_mut_slice())?;
            let lp = r.real()?;
            r.reals::<T, WRITE>(self.grad[row].as_mut_slice())?;
            let id = r.u64()?;
            if WRITE {
                self.log_p[row] = lp;
                self.gid[row] = id;
            }
        }
        if WRITE {
            self.len = len;
            self.next_gid = next_gid;
            self.written = written;
            self.bg_len = 0;
            self.draw_first_gid = u64::MAX;
        }
        Ok(())
    }

    /// Starts a draw: the Gaussians pushed from now on are the newest draw's.
    pub(crate) fn begin_draw(&mut self) {
        self.draw_first_gid = self.next_gid;
    }

    /// Stores the Gaussian of model component `k` and returns its id.
    pub(crate) fn push_gaussian(&mut self, c: &Component<T, D>, k: usize) -> u64 {
        let id = self.next_gid;
        let slot = (id % G as u64) as usize;
        self.g_id[slot] = id;
        self.g_comp[slot] = k;
        self.g[slot] = *c;
        self.next_gid += 1;
        id
    }

    fn live(&self, id: u64) -> bool {
        id < self.next_gid && self.next_gid - id <= G as u64
    }

    /// Keeps only the newest `n` rows, moved to the front (`use_sample_database = false`).
    pub(crate) fn keep_newest(&mut self, n: usize) {
        let n = n.min(self.len);
        let from = self.len - n;
        if from > 0 {
            self.x.copy_within(from..self.len, 0);
            self.log_p.copy_within(from..self.len, 0);
            self.grad.copy_within(from..self.len, 0);
            self.gid.copy_within(from..self.len, 0);
        }
        self.len = n;
    }

    /// Commits rows `[len, len + n)` as stored.
    pub(crate) fn commit(&mut self, n: usize) {
        self.len = (self.len + n).min(S);
    }

    /// First row of the working set made of the newest `n` rows (fewer if older rows' Gaussians
    /// have left the ring), and computes the background mixture of those rows.
    pub(crate) fn newest(&mut self, n: usize) -> usize {
        let mut start = self.len - n.min(self.len);
        // Gaussian ids never decrease along the rows, so live rows form a suffix.
        while start < self.len && !self.live(self.gid[start]) {
            start += 1;
        }
        // Run-length count of the Gaussians of rows start..len.
        self.bg_len = 0;
        let total = T::of((self.len - start) as f64);
        let mut r = start;
        while r < self.len && self.bg_len < G {
            let id = self.gid[r];
            let mut e = r;
            while e < self.len && self.gid[e] == id {
                e += 1;
            }
            self.bg[self.bg_len] = self.g[(id % G as u64) as usize];
            self.bg_log_w[self.bg_len] = (T::of((e - r) as f64) / total).ln();
            let mut b = RowBlock { start: r, end: e, lo: self.x[r], hi: self.x[r], min_log_b: T::zero(), gid: id };
            for x in &self.x[r..e] {
                b.lo = b.lo.inf(x);
                b.hi = b.hi.sup(x);
            }
            self.blocks[self.bg_len] = b;
            self.bg_len += 1;
            r = e;
        }
        start
    }

    /// The blocks of the current working set.
    pub(crate) fn working_blocks(&self) -> &[RowBlock<T, D>] {
        &self.blocks[..self.bg_len]
    }

    /// First row of the working set of [`Self::newest`].
    pub(crate) fn working_start(&self) -> usize {
        self.blocks[..self.bg_len].first().map_or(self.len, |b| b.start)
    }

    /// Writes `log b(x_r)` for the rows of the working set of [`Self::newest`] into `log_b`,
    /// in tasks of [`ROW_TASK`] rows.
    pub(crate) fn compute_background<X: Parallel>(&mut self, par: &X) {
        let n = self.bg_len;
        let start = self.working_start();
        let (x, bg, lw, blocks) = (&self.x, &self.bg[..n], &self.bg_log_w[..n], &self.blocks[..n]);
        par.for_each_chunk(&mut self.log_b[start..self.len], ROW_TASK, &|first, out| {
            mixture_rows::<T, D, G>(bg, lw, x, blocks, start + first, out);
        });
        for b in &mut self.blocks[..n] {
            b.min_log_b = self.log_b[b.start..b.end].iter().fold(T::INFINITY, |m, &v| m.min(v));
        }
    }
}

/// The working-set blocks in the order a per-component pass should visit them: first the block
/// with the largest bound on `log N(x; c) − log b(x)` (usually the component's own samples), so
/// that the pass's running maximum starts near its final value and prunes the rest.
pub(crate) fn seeded_order<'a, T: Real, const D: usize>(
    c: &Component<T, D>,
    blocks: &'a [RowBlock<T, D>],
) -> impl Iterator<Item = &'a RowBlock<T, D>> {
    let mut seed = 0;
    let mut best = T::NEG_INF;
    for (i, b) in blocks.iter().enumerate() {
        let v = c.cheap_bound_box(&b.lo, &b.hi) - b.min_log_b;
        if v > best {
            best = v;
            seed = i;
        }
    }
    blocks.get(seed).into_iter().chain(blocks.iter().enumerate().filter(move |(i, _)| *i != seed).map(|(_, b)| b))
}

/// Component `c`'s online softmax over the working set, `ŵ_n ∝ exp(a_n)` with
/// `a_n = log N(x_n; c) − log b(x_n)`: every row that is not provably negligible (blocks by
/// their bound, in [`seeded_order`], then rows by value) is pushed into `lse`, and
/// `f(row, a, scale, w)` receives the rescale factor and weight of that push.
pub(crate) fn component_softmax<T: Real, const D: usize, const S: usize, const G: usize>(
    store: &SampleStore<T, D, S, G>,
    c: &Component<T, D>,
    lse: &mut OnlineLse<T>,
    mut f: impl FnMut(usize, T, T, T),
) {
    let mut val = [T::zero(); CHUNK];
    for blk in seeded_order(c, store.working_blocks()) {
        if c.box_below(&blk.lo, &blk.hi, lse.max - T::NEGLIGIBLE_LOG + blk.min_log_b) {
            continue;
        }
        for c0 in (blk.start..blk.end).step_by(CHUNK) {
            let ch = Chunk::load(&store.x[c0..blk.end]);
            c.chunk_log_density(&ch, &mut val);
            for (r, &lc) in val.iter().enumerate().take(ch.n) {
                let row = c0 + r;
                let a = lc - store.log_b[row];
                if !(a >= lse.max - T::NEGLIGIBLE_LOG) {
                    continue;
                }
                let (scale, w) = lse.push(a);
                f(row, a, scale, w);
            }
        }
    }
}

/// The rows of component `k`'s natural-gradient estimate (docs/algorithm.md §2, "Sample subset per
/// component"), like [`component_softmax`]: with `own = false` every working-set row with
/// `a_n = log N(x_n; c) − log b(x_n)`; with `own = true` (`only_use_own_samples`) only the rows
/// that component `k` drew itself in the newest draw, each with `a_n = 0` (plain Monte Carlo
/// over its own samples). The reference maps rows to components by Gaussian index arithmetic, which
/// holds only for rows of the newest draw; older reused rows are excluded here, as there (the
/// paper uses the option only without reuse). Returns the number of rows `N` the estimate
/// averages over (for plain weights).
pub(crate) fn estimate_rows<T: Real, const D: usize, const S: usize, const G: usize>(
    store: &SampleStore<T, D, S, G>,
    c: &Component<T, D>,
    k: usize,
    own: bool,
    lse: &mut OnlineLse<T>,
    mut f: impl FnMut(usize, T, T, T),
) -> usize {
    if !own {
        component_softmax(store, c, lse, f);
        return store.len - store.working_start();
    }
    let mut n = 0;
    for blk in store.working_blocks() {
        let slot = (blk.gid % G as u64) as usize;
        let newest = blk.gid >= store.draw_first_gid && store.live(blk.gid);
        if !newest || store.g_comp.get(slot) != Some(&k) {
            continue;
        }
        for row in blk.start..blk.end {
            let (scale, w) = lse.push(T::zero());
            f(row, T::zero(), scale, w);
            n += 1;
        }
    }
    n
}

/// The blocks overlapping rows `[r0, r1)`, each with its rows clipped to that range.
pub(crate) fn clipped<T: Real, const D: usize>(
    blocks: &[RowBlock<T, D>],
    r0: usize,
    r1: usize,
) -> impl Iterator<Item = (&RowBlock<T, D>, usize, usize)> {
    blocks.iter().filter(move |b| b.end > r0 && b.start < r1).map(move |b| (b, b.start.max(r0), b.end.min(r1)))
}

/// `out[i] = log Σ_j exp(lw_j + log N(x_{r0+i}; c_j))` for rows of the working set, with the
/// per-block pruning of [`block_candidates`] (`CAP` ≥ `comps.len()` sizes the scratch).
pub(crate) fn mixture_rows<T: Real, const D: usize, const CAP: usize>(
    comps: &[Component<T, D>],
    lw: &[T],
    x: &[SVector<T, D>],
    blocks: &[RowBlock<T, D>],
    r0: usize,
    out: &mut [T],
) {
    let mut ub = [T::zero(); CAP];
    let mut idx = [0usize; CAP];
    for (blk, a, b) in clipped(blocks, r0, r0 + out.len()) {
        let c = block_candidates(comps, lw, &x[a..b], &blk.lo, &blk.hi, &mut ub, &mut idx);
        for c0 in (a..b).step_by(CHUNK) {
            let ch = Chunk::load(&x[c0..b]);
            let lse = chunk_mixture(comps, lw, &idx[..c], &ch, None);
            for r in 0..ch.n {
                out[c0 + r - r0] = lse.lse(r);
            }
        }
    }
}

/// `store.log_q[r] = log q(x_r)` for the working-set rows (the rewards `ρ = log p~ − log q`
/// regressed by MORE, the mixture ESS of `P`), in tasks of [`ROW_TASK`] rows.
pub(crate) fn log_q_rows<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, X: Parallel>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    par: &X,
) {
    let start = store.working_start();
    let (x, blocks) = (&store.x, &store.blocks[..store.bg_len]);
    let (comps, lw) = (model.components(), model.log_weights());
    par.for_each_chunk(&mut store.log_q[start..store.len], ROW_TASK, &|first, out| {
        mixture_rows::<T, D, K>(comps, lw, x, blocks, start + first, out);
    });
}

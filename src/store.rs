//! The sample store ("sample database"; Arenz et al. 2023, §3.1; docs/algorithm.md §9.1): a
//! fixed-capacity replay buffer of evaluated samples and of the Gaussians that drew them.
//!
//! Rows are kept oldest → newest in structure-of-arrays form (`x`, `log p~`, `∇ log p~`, the id
//! of the drawing Gaussian), so a block of new rows is handed to the target as plain slices.
//! When an insert would exceed `min(max_database_size, SAMPLES)` rows the store is thinned once
//! (rows 0, 2, 4, … kept, §9.1 step 1). Gaussians live in a ring of `GAUSSIANS` slots addressed
//! by a monotone id; rows whose Gaussian has left the ring cannot serve as importance samples,
//! so a working set is cut at the newest such row (a documented bound: it never triggers when
//! the ring covers the Gaussians of a full working set, e.g. `GAUSSIANS ≥ K·(⌊ratio·n_des⌋ +
//! 1)`).
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

/// Fixed-capacity store of `SAMPLES` evaluated samples and `GAUSSIANS` Gaussians: what persists
/// between iterations (and is checkpointed). The working set of an iteration is described by a
/// `Background` and read through a `WorkingSet` view.
#[derive(Clone, Debug)]
pub struct SampleStore<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> {
    len: usize,
    x: [SVector<T, DIM>; SAMPLES],
    log_p: [T; SAMPLES],
    grad: [SVector<T, DIM>; SAMPLES],
    gid: [u64; SAMPLES],
    // Gaussian ring.
    next_gid: u64,
    g_id: [u64; GAUSSIANS],
    // Model component that each ring Gaussian was, and the first id of the newest draw: the
    // "own samples" of component k are the rows of the newest draw's Gaussian of k
    // (docs/algorithm.md §2).
    g_comp: [usize; GAUSSIANS],
    draw_first_gid: u64,
    g: [Component<T, DIM>; GAUSSIANS],
    written: u64,
}

/// The working set of the current iteration: the background mixture of its rows (copied out of
/// the ring, contiguous), its row blocks (block i holds the rows of background Gaussian i) and
/// the background log density `log b` of its rows. Rebuilt by every selection, not saved.
#[derive(Clone, Debug)]
pub(crate) struct Background<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> {
    len: usize,
    bg: [Component<T, DIM>; GAUSSIANS],
    bg_log_w: [T; GAUSSIANS],
    blocks: [RowBlock<T, DIM>; GAUSSIANS],
    log_b: [T; SAMPLES],
}

/// Per-iteration scratch of the optimiser, apart from the persistent [`SampleStore`]: the
/// working set and the per-row columns that the passes fill in.
#[derive(Clone, Debug)]
pub(crate) struct Scratch<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> {
    /// The working set and its background.
    pub bg: Background<T, DIM, SAMPLES, GAUSSIANS>,
    /// `log q(x_r)` (MORE's rewards, the mixture ESS of `P`, the add heuristic).
    pub log_q: [T; SAMPLES],
    /// `∇log p~(x_r) − ∇log q(x_r)` (Stein).
    pub gamma: [SVector<T, DIM>; SAMPLES],
}

impl<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> Scratch<T, DIM, SAMPLES, GAUSSIANS> {
    /// All-zero bytes (see `Optimizer::BLANK`).
    pub const BLANK: Self =
        Self { bg: Background::BLANK, log_q: [T::ZERO_CONST; SAMPLES], gamma: [crate::real::zeros(); SAMPLES] };
}

/// Which component drew each Gaussian of the newest draw: the "own samples" of
/// `only_use_own_samples`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewestDraw<'a> {
    first_gid: u64,
    next_gid: u64,
    g_comp: &'a [usize],
}

impl NewestDraw<'_> {
    /// The component whose Gaussian `gid` is, if it belongs to the newest draw.
    #[inline]
    pub fn drawn_by(&self, gid: u64) -> Option<usize> {
        let ring = self.g_comp.len() as u64;
        let live = gid < self.next_gid && self.next_gid - gid <= ring;
        if gid < self.first_gid || !live || ring == 0 {
            return None;
        }
        self.g_comp.get((gid % ring) as usize).copied()
    }
}

/// The stored rows `0..len` (borrowed, indexed as in the store).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rows<'a, T: Real, const D: usize> {
    pub x: &'a [SVector<T, D>],
    pub log_p: &'a [T],
    pub gid: &'a [u64],
}

impl<'a, T: Real, const D: usize> Rows<'a, T, D> {
    /// The first `n` rows.
    pub fn prefix(&self, n: usize) -> Self {
        let n = n.min(self.x.len()).min(self.log_p.len()).min(self.gid.len());
        Self { x: &self.x[..n], log_p: &self.log_p[..n], gid: &self.gid[..n] }
    }
}

/// A borrowed working set: the stored rows `0..len` (indexed as in the store; the working set
/// is `start..len`), its row blocks, the background log densities of its rows and the newest
/// draw. Passes over the working set take this view instead of the store, so they do not
/// depend on its capacities.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WorkingSet<'a, T: Real, const D: usize> {
    pub x: &'a [SVector<T, D>],
    pub log_p: &'a [T],
    pub grad: &'a [SVector<T, D>],
    /// `log b(x_r)`, valid for the working-set rows.
    pub log_b: &'a [T],
    pub blocks: &'a [RowBlock<T, D>],
    pub start: usize,
    pub newest: NewestDraw<'a>,
}

impl<T: Real, const D: usize> WorkingSet<'_, T, D> {
    /// End of the working set (the number of stored rows).
    #[inline]
    pub fn end(&self) -> usize {
        self.x.len()
    }

    /// Rows in the working set.
    #[inline]
    pub fn rows(&self) -> usize {
        self.end() - self.start.min(self.end())
    }
}

impl<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> Background<T, DIM, SAMPLES, GAUSSIANS> {
    /// All-zero bytes (see `Optimizer::BLANK`); empty.
    pub const BLANK: Self = Self {
        len: 0,
        bg: [Component::ZERO; GAUSSIANS],
        bg_log_w: [T::ZERO_CONST; GAUSSIANS],
        blocks: [RowBlock::EMPTY; GAUSSIANS],
        log_b: [T::ZERO_CONST; SAMPLES],
    };

    /// The blocks of the current working set.
    pub fn blocks(&self) -> &[RowBlock<T, DIM>] {
        &self.blocks[..self.len.min(GAUSSIANS)]
    }

    /// Empty: no working set.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// The background log densities, writable (tests that set importance ratios directly).
    #[cfg(test)]
    pub fn log_b_mut(&mut self) -> &mut [T; SAMPLES] {
        &mut self.log_b
    }
}

impl<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> Default
    for SampleStore<T, DIM, SAMPLES, GAUSSIANS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> SampleStore<T, DIM, SAMPLES, GAUSSIANS> {
    /// An empty store.
    pub fn new() -> Self {
        const { assert!(SAMPLES > 0 && GAUSSIANS > 0, "store needs SAMPLES > 0 and GAUSSIANS > 0") };
        let mut s = Self::BLANK;
        s.reset();
        s
    }

    /// All-zero bytes (see `Optimizer::BLANK`); [`Self::reset`] makes it the empty store.
    pub(crate) const BLANK: Self = Self {
        len: 0,
        x: [crate::real::zeros(); SAMPLES],
        log_p: [T::ZERO_CONST; SAMPLES],
        grad: [crate::real::zeros(); SAMPLES],
        gid: [0; SAMPLES],
        next_gid: 0,
        g_id: [0; GAUSSIANS],
        g_comp: [0; GAUSSIANS],
        draw_first_gid: 0,
        g: [Component::ZERO; GAUSSIANS],
        written: 0,
    };

    /// Empties a [`Self::BLANK`] store in place: the counters and the Gaussian ring's ids.
    /// The row arrays are not touched (nothing reads a row at or beyond `len`).
    pub(crate) fn reset(&mut self) {
        self.len = 0;
        self.next_gid = 0;
        self.g_id = [u64::MAX; GAUSSIANS];
        self.g_comp = [usize::MAX; GAUSSIANS];
        self.draw_first_gid = u64::MAX;
        self.written = 0;
    }

    /// Drops every stored row (their target values are no longer valid); the Gaussian ids
    /// and the evaluation count go on.
    pub(crate) fn clear_rows(&mut self) {
        self.len = 0;
        self.draw_first_gid = u64::MAX;
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
        let cap = cap.min(SAMPLES);
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

    /// Checkpoint form: counters, the Gaussian ring, then the stored rows (the working set is
    /// rebuilt by every step and not saved).
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
        let len = r.count(SAMPLES)?;
        let next_gid = r.u64()?;
        let written = r.u64()?;
        for slot in 0..GAUSSIANS {
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
            self.draw_first_gid = u64::MAX;
        }
        Ok(())
    }

    /// Starts a draw: the Gaussians pushed from now on are the newest draw's.
    pub(crate) fn begin_draw(&mut self) {
        self.draw_first_gid = self.next_gid;
    }

    /// Stores the Gaussian of model component `k` and returns its id.
    pub(crate) fn push_gaussian(&mut self, c: &Component<T, DIM>, k: usize) -> u64 {
        let id = self.next_gid;
        let slot = (id % GAUSSIANS as u64) as usize;
        self.g_id[slot] = id;
        self.g_comp[slot] = k;
        self.g[slot] = *c;
        self.next_gid += 1;
        id
    }

    fn live(&self, id: u64) -> bool {
        id < self.next_gid && self.next_gid - id <= GAUSSIANS as u64
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
        self.len = (self.len + n).min(SAMPLES);
    }

    /// The stored rows.
    pub(crate) fn rows(&self) -> Rows<'_, T, DIM> {
        let n = self.len.min(SAMPLES);
        Rows { x: &self.x[..n], log_p: &self.log_p[..n], gid: &self.gid[..n] }
    }

    /// Free rows from `first` on (up to the capacity) to draw into: points, target values and
    /// gradients.
    pub(crate) fn free_rows(&mut self, first: usize) -> (&mut [SVector<T, DIM>], &mut [T], &mut [SVector<T, DIM>]) {
        let f = first.min(SAMPLES);
        (&mut self.x[f..], &mut self.log_p[f..], &mut self.grad[f..])
    }

    /// Moves free row `from` to free row `to` (`to ≤ from`).
    #[inline]
    pub(crate) fn move_row(&mut self, from: usize, to: usize) {
        if from < SAMPLES && to < SAMPLES {
            self.x[to] = self.x[from];
            self.log_p[to] = self.log_p[from];
            self.grad[to] = self.grad[from];
        }
    }

    /// Sets the Gaussian id of free rows `a..b`.
    pub(crate) fn set_gid(&mut self, a: usize, b: usize, gid: u64) {
        if let Some(ids) = self.gid.get_mut(a..b) {
            ids.fill(gid);
        }
    }

    /// `true` if row `r`'s target value (and, if `grad`, its gradient) is finite.
    #[inline]
    pub(crate) fn row_is_finite(&self, r: usize, grad: bool) -> bool {
        r < SAMPLES && self.log_p[r].finite() && (!grad || self.grad[r].iter().all(|v| v.finite()))
    }

    /// Writes a free row (tests that build a store by hand).
    #[cfg(test)]
    pub(crate) fn set_row(&mut self, r: usize, x: SVector<T, DIM>, log_p: T, gid: u64) {
        self.x[r] = x;
        self.log_p[r] = log_p;
        self.gid[r] = gid;
    }

    /// Makes the newest `n` rows (fewer if older rows' Gaussians have left the ring) the working
    /// set of `bg` with its background mixture and blocks; returns its first row. `log b` is
    /// left to [`Self::compute_background`].
    pub(crate) fn newest(&self, n: usize, bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>) -> usize {
        let mut start = self.len - n.min(self.len);
        // Gaussian ids never decrease along the rows, so live rows form a suffix.
        while start < self.len && !self.live(self.gid[start]) {
            start += 1;
        }
        // Run-length count of the Gaussians of rows start..len.
        bg.len = 0;
        let total = T::of((self.len - start) as f64);
        let mut r = start;
        while r < self.len && bg.len < GAUSSIANS {
            let id = self.gid[r];
            let mut e = r;
            while e < self.len && self.gid[e] == id {
                e += 1;
            }
            bg.bg[bg.len] = self.g[(id % GAUSSIANS as u64) as usize];
            bg.bg_log_w[bg.len] = (T::of((e - r) as f64) / total).ln();
            let mut b = RowBlock { start: r, end: e, lo: self.x[r], hi: self.x[r], min_log_b: T::zero(), gid: id };
            for x in &self.x[r..e] {
                b.lo = b.lo.inf(x);
                b.hi = b.hi.sup(x);
            }
            bg.blocks[bg.len] = b;
            bg.len += 1;
            r = e;
        }
        start
    }

    /// [`Self::newest`] and [`Self::compute_background`]: the working set of the newest `n`
    /// rows with its background; returns its first row.
    pub(crate) fn select_working_set<X: Parallel>(
        &self,
        n: usize,
        bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>,
        par: &X,
    ) -> usize {
        let start = self.newest(n, bg);
        self.compute_background(bg, par);
        start
    }

    /// Writes `log b(x_r)` for the rows of `bg`'s working set, in tasks of [`ROW_TASK`] rows, and
    /// every block's smallest value.
    pub(crate) fn compute_background<X: Parallel>(&self, bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>, par: &X) {
        let n = bg.len;
        let start = bg.start(self.len);
        let (x, comps, lw, blocks) = (&self.x, &bg.bg[..n], &bg.bg_log_w[..n], &bg.blocks[..n]);
        par.for_each_chunk(&mut bg.log_b[start..self.len], ROW_TASK, &|first, out| {
            mixture_rows::<T, DIM, GAUSSIANS>(comps, lw, x, blocks, start + first, out);
        });
        for b in &mut bg.blocks[..n] {
            b.min_log_b = bg.log_b[b.start..b.end].iter().fold(T::INFINITY, |m, &v| m.min(v));
        }
    }

    /// The working set of `bg` over this store.
    pub(crate) fn working_set<'a>(&'a self, bg: &'a Background<T, DIM, SAMPLES, GAUSSIANS>) -> WorkingSet<'a, T, DIM> {
        let n = self.len.min(SAMPLES);
        WorkingSet {
            x: &self.x[..n],
            log_p: &self.log_p[..n],
            grad: &self.grad[..n],
            log_b: &bg.log_b[..n],
            blocks: bg.blocks(),
            start: bg.start(n),
            newest: NewestDraw { first_gid: self.draw_first_gid, next_gid: self.next_gid, g_comp: &self.g_comp },
        }
    }
}

impl<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> Background<T, DIM, SAMPLES, GAUSSIANS> {
    /// First row of the working set of a store of `len` rows.
    fn start(&self, len: usize) -> usize {
        self.blocks().first().map_or(len, |b| b.start)
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
pub(crate) fn component_softmax<T: Real, const D: usize>(
    ws: &WorkingSet<'_, T, D>,
    c: &Component<T, D>,
    lse: &mut OnlineLse<T>,
    mut f: impl FnMut(usize, T, T, T),
) {
    let mut val = [T::zero(); CHUNK];
    for blk in seeded_order(c, ws.blocks) {
        if c.box_below(&blk.lo, &blk.hi, lse.max - T::NEGLIGIBLE_LOG + blk.min_log_b) {
            continue;
        }
        for c0 in (blk.start..blk.end).step_by(CHUNK) {
            let ch = Chunk::load(&ws.x[c0..blk.end]);
            c.chunk_log_density(&ch, &mut val);
            for (r, &lc) in val.iter().enumerate().take(ch.n) {
                let row = c0 + r;
                let a = lc - ws.log_b[row];
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
pub(crate) fn estimate_rows<T: Real, const D: usize>(
    ws: &WorkingSet<'_, T, D>,
    c: &Component<T, D>,
    k: usize,
    own: bool,
    lse: &mut OnlineLse<T>,
    mut f: impl FnMut(usize, T, T, T),
) -> usize {
    if !own {
        component_softmax(ws, c, lse, f);
        return ws.rows();
    }
    let mut n = 0;
    for blk in ws.blocks {
        if ws.newest.drawn_by(blk.gid) != Some(k) {
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

/// `log_q[r] = log q(x_r)` for the working-set rows (the rewards `ρ = log p~ − log q`
/// regressed by MORE, the mixture ESS of `P`), in tasks of [`ROW_TASK`] rows.
pub(crate) fn log_q_rows<T: Real, const D: usize, const K: usize, X: Parallel>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    log_q: &mut [T],
    par: &X,
) {
    let (start, end) = (ws.start, ws.end());
    let (x, blocks) = (ws.x, ws.blocks);
    let (comps, lw) = (model.components(), model.log_weights());
    let Some(out) = log_q.get_mut(start..end) else { return };
    par.for_each_chunk(out, ROW_TASK, &|first, out| {
        mixture_rows::<T, D, K>(comps, lw, x, blocks, start + first, out);
    });
}

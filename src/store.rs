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
//! It is computed through per-row fixed-point sums (docs/algorithm.md §9.1): exact
//! integer sums, so they can be kept between iterations and updated with only the Gaussians
//! that enter or leave the working set, with the same bits as sums made afresh.

use nalgebra::SVector;

use crate::checkpoint::{Reader, Writer};
use crate::error::Error;
use crate::model::{CHUNK, Chunk, Component, Gmm, RowLse, block_candidates, chunk_mixture};
use crate::parallel::{Parallel, ROW_TASK};
use crate::real::{OnlineLse, Real, min_num};

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
    /// Changes whenever stored rows move or go other than by leaving a working set (thinning,
    /// clearing, replacing, restoring): kept background sums are then made afresh.
    layout: u64,
}

/// The working set of the current iteration: the background mixture of its rows (copied out of
/// the ring, contiguous), its row blocks (block i holds the rows of background Gaussian i) and
/// the background log density `log b` of its rows. Rebuilt by every selection, not saved.
#[derive(Clone, Debug)]
pub(crate) struct Background<T: Real, const DIM: usize, const SAMPLES: usize, const GAUSSIANS: usize> {
    len: usize,
    bg: [Component<T, DIM>; GAUSSIANS],
    blocks: [RowBlock<T, DIM>; GAUSSIANS],
    log_b: [T; SAMPLES],
    /// Which kept [`RowSum`]s are current (used only with a cache of `SAMPLES` rows).
    kept: Kept,
}

/// The per-row sums of the background density, as integers with [`FIX_BITS`] fraction bits.
///
/// For a row `r` drawn by Gaussian `o` with `ℓ_r = log N(x_r; o)`, the sum is
/// `Σ_j ⌊n_j·exp(log N(x_r; g_j) − ℓ_r)·2^FIX_BITS⌋` over the working set's Gaussians `g_j`
/// other than `o` and the oldest one (whose row count changes as the working set slides),
/// `n_j` being its row count. Each term depends only on the row and the Gaussian, and integer
/// addition is exact and associative, so a sum updated by adding the Gaussians that enter and
/// subtracting those that leave has the same bits as one made afresh. A term of at least
/// [`fix_cap`] does not fit: it is left out and `ovf` holds the largest such id + 1; while
/// that Gaussian is summed, the row's density is summed directly instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RowSum {
    /// The sum as the two halves of an `i128` (an `i128` field would raise the alignment).
    acc: [u64; 2],
    ovf: u64,
}

impl RowSum {
    /// An empty sum.
    pub const ZERO: Self = Self { acc: [0; 2], ovf: 0 };

    #[inline]
    fn get(&self) -> i128 {
        ((u128::from(self.acc[1]) << 64) | u128::from(self.acc[0])) as i128
    }

    #[inline]
    fn set(&mut self, v: i128) {
        let u = v as u128;
        self.acc = [u as u64, (u >> 64) as u64];
    }
}

/// The kept sums of the optimiser: `N` rows, `SAMPLES` to keep them between iterations or 0 to
/// make them afresh at every selection (same results, less memory).
#[derive(Clone, Debug)]
pub(crate) struct BgSums<const N: usize> {
    pub rows: [RowSum; N],
}

impl<const N: usize> BgSums<N> {
    /// All-zero bytes.
    pub const BLANK: Self = Self { rows: [RowSum::ZERO; N] };
}

/// The Gaussian ids `lo..hi` and rows `rows.0..rows.1` whose kept sums are current, for the
/// store layout `layout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kept {
    lo: u64,
    hi: u64,
    rows: (usize, usize),
    layout: u64,
}

impl Kept {
    const NONE: Self = Self { lo: 0, hi: 0, rows: (0, 0), layout: 0 };
}

/// Fraction bits of the fixed-point sums ([`Real::to_fixed60`]).
const FIX_BITS: u32 = 60;
/// A term `n·exp(a)` with `a + ln n` below this is `< 2^-FIX_BITS·e^-2`, so exactly 0 in the
/// sums: `−FIX_BITS·ln 2 − 2`, the 2 nats covering the rounding of the bounds that prune.
const FIX_PRUNE: f64 = -(FIX_BITS as f64) * core::f64::consts::LN_2 - 2.0;

/// The largest term that fits: below `2^66/g` for `g` Gaussians (so a sum stays below
/// `2^(66+60)`), and below `2^62` (its integer part fits an `i64`).
const fn fix_cap(g: usize) -> f64 {
    let bits = usize::BITS - g.leading_zeros();
    let e = if bits >= 62 { 4 } else { 66 - bits };
    let e = if e > 62 { 62 } else { e };
    (1u64 << e) as f64
}

/// `⌊v·2^FIX_BITS⌋` of a term `v = n·exp(a)` in `[0, cap)`; `None` if it does not fit.
#[inline]
fn fix_term<T: Real>(v: T, cap: T) -> Option<i128> {
    if !(v < cap) {
        return None;
    }
    Some(v.max(T::zero()).to_fixed60())
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
    /// The component that drew Gaussian `gid` (in any draw still in the ring), or 0: the key of
    /// the block groups of [`Groups`].
    #[inline]
    pub fn component_of(&self, gid: u64) -> usize {
        let ring = self.g_comp.len() as u64;
        if ring == 0 { 0 } else { self.g_comp.get((gid % ring) as usize).copied().unwrap_or(0) }
    }

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
        blocks: [RowBlock::EMPTY; GAUSSIANS],
        log_b: [T::ZERO_CONST; SAMPLES],
        kept: Kept::NONE,
    };

    /// The blocks of the current working set.
    pub fn blocks(&self) -> &[RowBlock<T, DIM>] {
        &self.blocks[..self.len.min(GAUSSIANS)]
    }

    /// Empty: no working set, no current kept sums.
    pub fn clear(&mut self) {
        self.len = 0;
        self.kept = Kept::NONE;
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
        layout: 0,
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
        self.moved();
    }

    /// Stored rows moved or went: kept background sums are stale.
    fn moved(&mut self) {
        self.layout = self.layout.wrapping_add(1);
    }

    /// Drops every stored row (their target values are no longer valid); the Gaussian ids
    /// and the evaluation count go on.
    pub(crate) fn clear_rows(&mut self) {
        self.len = 0;
        self.draw_first_gid = u64::MAX;
        self.moved();
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
            self.moved();
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
            self.moved();
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
            self.moved();
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

    /// First row of the working set of the newest `n` rows: older rows whose Gaussian has left
    /// the ring are cut.
    fn window_start(&self, n: usize) -> usize {
        let mut start = self.len - n.min(self.len);
        // Gaussian ids never decrease along the rows, so live rows form a suffix.
        while start < self.len && !self.live(self.gid[start]) {
            start += 1;
        }
        start
    }

    /// Makes the newest `n` rows (fewer if older rows' Gaussians have left the ring) the working
    /// set of `bg` with its background mixture and blocks; returns its first row. `log b` is
    /// left to the caller.
    #[cfg(test)]
    pub(crate) fn newest(&self, n: usize, bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>) -> usize {
        let start = self.window_start(n);
        self.fill_blocks(start, bg);
        start
    }

    /// The background Gaussians and row blocks of the working set `start..len`.
    fn fill_blocks(&self, start: usize, bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>) {
        // Run-length count of the Gaussians of rows start..len.
        bg.len = 0;
        let mut r = start;
        while r < self.len && bg.len < GAUSSIANS {
            let id = self.gid[r];
            let mut e = r;
            while e < self.len && self.gid[e] == id {
                e += 1;
            }
            bg.bg[bg.len] = self.g[(id % GAUSSIANS as u64) as usize];
            let mut b = RowBlock { start: r, end: e, lo: self.x[r], hi: self.x[r], min_log_b: T::zero(), gid: id };
            for x in &self.x[r..e] {
                b.lo = b.lo.inf(x);
                b.hi = b.hi.sup(x);
            }
            bg.blocks[bg.len] = b;
            bg.len += 1;
            r = e;
        }
    }

    /// The working set of the newest `n` rows (fewer if older rows' Gaussians have left the
    /// ring) with its background mixture, row blocks and `log b`; returns its first row.
    /// `sums` keeps the per-row sums between calls if it has `SAMPLES` rows: only the Gaussians
    /// that left or entered and the rows that entered are then evaluated. Fewer rows (`KEEP = 0`)
    /// make them afresh; the bits of `log b` are the same either way.
    pub(crate) fn select_working_set<const KEEP: usize, X: Parallel>(
        &self,
        n: usize,
        bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>,
        sums: &mut BgSums<KEEP>,
        par: &X,
    ) -> usize {
        let start = self.window_start(n);
        // Known at compile time: a build without kept sums has no code for them.
        let keep = if KEEP >= SAMPLES && SAMPLES > 0 { sums.rows.get_mut(..SAMPLES) } else { None };
        match keep {
            Some(sums) => {
                self.retire(start, bg, sums, par);
                self.fill_blocks(start, bg);
                self.kept_background(bg, sums, par);
            }
            None => {
                bg.kept = Kept::NONE;
                self.fill_blocks(start, bg);
                self.fresh_background(bg, par);
            }
        }
        for b in &mut bg.blocks[..bg.len.min(GAUSSIANS)] {
            b.min_log_b = bg.log_b[b.start..b.end].iter().fold(T::INFINITY, |m, &v| m.min(v));
        }
        start
    }

    /// Subtracts from the kept sums of the rows that stay (from `start` on) the Gaussians of
    /// the previous working set that the new one no longer sums; forgets every sum if the
    /// rows have moved since.
    fn retire<X: Parallel>(
        &self,
        start: usize,
        bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>,
        sums: &mut [RowSum],
        par: &X,
    ) {
        let k = bg.kept;
        if k.layout != self.layout || k.rows.0 >= k.rows.1 {
            bg.kept = Kept { layout: self.layout, ..Kept::NONE };
            return;
        }
        // The new sums start after the new oldest Gaussian.
        let new_lo = if start < self.len { self.gid[start] + 1 } else { u64::MAX };
        let (r0, r1) = (k.rows.0.max(start), k.rows.1.min(self.len));
        let n = bg.len.min(GAUSSIANS);
        let win = Window {
            x: &self.x[..self.len],
            blocks: &bg.blocks[..n],
            comps: &bg.bg[..n],
            cap: T::of(fix_cap(GAUSSIANS)),
        };
        let i0 = win.blocks.partition_point(|b| b.gid < k.lo);
        let i1 = win.blocks.partition_point(|b| b.gid < k.hi.min(new_lo));
        if r0 < r1 && i0 < i1 {
            par.for_each_chunk(&mut sums[r0..r1], ROW_TASK, &|first, part| {
                let a = r0 + first;
                win.for_chunks(a, a + part.len(), |own, c0, ch, lref| {
                    let part = &mut part[c0 - a..c0 - a + ch.n];
                    let mut acc = Acc::load(part);
                    win.add(own, ch, lref, i0..i1, &mut acc, -1);
                    acc.store(part);
                });
            });
        }
        let lo = k.lo.max(new_lo);
        bg.kept = Kept { lo, hi: k.hi.max(lo), rows: (r0, r1.max(r0)), layout: k.layout };
    }

    /// `log b` of the working set of `bg` from the kept sums: the sums of the rows that stay
    /// get the Gaussians that entered, the other rows' sums are made afresh; then every row's
    /// `log b` is read off its sum.
    fn kept_background<X: Parallel>(
        &self,
        bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>,
        sums: &mut [RowSum],
        par: &X,
    ) {
        let n = bg.len.min(GAUSSIANS);
        let start = bg.start(self.len);
        let win = Window {
            x: &self.x[..self.len],
            blocks: &bg.blocks[..n],
            comps: &bg.bg[..n],
            cap: T::of(fix_cap(GAUSSIANS)),
        };
        let k = if bg.kept.layout == self.layout { bg.kept } else { Kept::NONE };
        // Rows v0..v1 have current sums over the ids k.lo..k.hi.
        let v0 = k.rows.0.max(start);
        let v1 = k.rows.1.min(self.len).max(v0);
        let k0 = win.blocks.partition_point(|b| b.gid < k.lo).max(1);
        let k1 = win.blocks.partition_point(|b| b.gid < k.hi).max(k0);
        if start < self.len {
            par.for_each_chunk(&mut sums[start..self.len], ROW_TASK, &|first, part| {
                let a = start + first;
                let b = a + part.len();
                // Before the current rows, the current rows, after them.
                let (m0, m1) = (v0.clamp(a, b), v1.clamp(a, b));
                for (s0, s1, current) in [(a, m0, false), (m0, m1.max(m0), true), (m1.max(m0), b, false)] {
                    win.for_chunks(s0, s1, |own, c0, ch, lref| {
                        let part = &mut part[c0 - a..c0 - a + ch.n];
                        let mut acc = if current { Acc::load(part) } else { Acc::ZERO };
                        if current {
                            win.add(own, ch, lref, 1..k0, &mut acc, 1);
                            win.add(own, ch, lref, k1..n, &mut acc, 1);
                        } else {
                            win.add(own, ch, lref, 1..n, &mut acc, 1);
                        }
                        acc.store(part);
                    });
                }
            });
        }
        let lo = win.blocks.first().map_or(0, |b| b.gid + 1);
        let hi = win.blocks.last().map_or(0, |b| b.gid + 1).max(lo);
        bg.kept = Kept { lo, hi, rows: (start, self.len), layout: self.layout };
        let sums = &*sums;
        par.for_each_chunk(&mut bg.log_b[start..self.len], ROW_TASK, &|first, out| {
            let a = start + first;
            win.for_chunks(a, a + out.len(), |own, c0, ch, lref| {
                let acc = Acc::load(&sums[c0..c0 + ch.n]);
                win.read_off(own, ch, lref, &acc, &mut out[c0 - a..c0 - a + ch.n]);
            });
        });
    }

    /// `log b` of the working set of `bg` from sums made afresh, chunk by chunk (no kept sums).
    fn fresh_background<X: Parallel>(&self, bg: &mut Background<T, DIM, SAMPLES, GAUSSIANS>, par: &X) {
        let n = bg.len.min(GAUSSIANS);
        let start = bg.start(self.len);
        let win = Window {
            x: &self.x[..self.len],
            blocks: &bg.blocks[..n],
            comps: &bg.bg[..n],
            cap: T::of(fix_cap(GAUSSIANS)),
        };
        par.for_each_chunk(&mut bg.log_b[start..self.len], ROW_TASK, &|first, out| {
            let a = start + first;
            win.for_chunks(a, a + out.len(), |own, c0, ch, lref| {
                let mut acc = Acc::ZERO;
                win.add(own, ch, lref, 1..n, &mut acc, 1);
                win.read_off(own, ch, lref, &acc, &mut out[c0 - a..c0 - a + ch.n]);
            });
        });
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
pub(crate) fn seeded_order<'a, T: Real, const D: usize, const BLOCKS: usize>(
    c: &Component<T, D>,
    ws: &WorkingSet<'a, T, D>,
    groups: Option<&Groups<T, D, BLOCKS>>,
) -> impl Iterator<Item = &'a RowBlock<T, D>> {
    let groups = Groups::live(groups);
    let blocks = ws.blocks;
    // A group's bound is at least that of each of its blocks: a group below the best so far
    // holds no block that would become the seed.
    let mut gb = [T::INFINITY; GROUPS];
    if let Some(gr) = groups {
        for (g, b) in gb.iter_mut().enumerate() {
            if gr.lo[g][0] <= gr.hi[g][0] {
                *b = c.cheap_bound_box(&gr.lo[g], &gr.hi[g]) - gr.min_log_b[g];
            }
        }
    }
    let mut seed = 0;
    let mut best = T::NEG_INF;
    for (i, b) in blocks.iter().enumerate() {
        if groups.is_some() && gb[Groups::<T, D, BLOCKS>::of(ws, b)] < best {
            continue;
        }
        let v = c.cheap_bound_box(&b.lo, &b.hi) - b.min_log_b;
        if v > best {
            best = v;
            seed = i;
        }
    }
    blocks.get(seed).into_iter().chain(blocks.iter().enumerate().filter(move |(i, _)| *i != seed).map(|(_, b)| b))
}

/// The number of block groups of [`Groups`].
pub(crate) const GROUPS: usize = 32;

/// The working-set blocks grouped by the component that drew them (modulo [`GROUPS`]), with
/// each group's bounding box and smallest `log b`: a per-component pass tests a group once and
/// skips all its blocks when the component is negligible over the whole box (draws of one
/// component lie close together, so the boxes stay tight). A group bound holds for every block
/// of the group, so the skipped rows are rows that the block and row tests would skip too.
///
/// `BLOCKS` is the working set's block capacity (the store's Gaussian capacity): with at most
/// [`GROUPS`] blocks there are never groups, and the code that would test them compiles away
/// (flash on small targets).
pub(crate) struct Groups<T: Real, const D: usize, const BLOCKS: usize> {
    lo: [SVector<T, D>; GROUPS],
    hi: [SVector<T, D>; GROUPS],
    min_log_b: [T; GROUPS],
}

impl<T: Real, const D: usize, const BLOCKS: usize> Groups<T, D, BLOCKS> {
    /// Whether a working set of this capacity can have groups.
    const POSSIBLE: bool = D <= 16 && BLOCKS > GROUPS;

    /// `groups`, or `None` where groups are impossible: a constant, so that the tests of a
    /// group are not compiled for small capacities.
    #[inline(always)]
    fn live(groups: Option<&Self>) -> Option<&Self> {
        if Self::POSSIBLE { groups } else { None }
    }

    /// The group of a block.
    #[inline]
    fn of(ws: &WorkingSet<'_, T, D>, blk: &RowBlock<T, D>) -> usize {
        ws.newest.component_of(blk.gid) % GROUPS
    }

    fn build(ws: &WorkingSet<'_, T, D>) -> Self {
        let mut g = Self {
            lo: [SVector::repeat(T::INFINITY); GROUPS],
            hi: [SVector::repeat(T::NEG_INF); GROUPS],
            min_log_b: [T::INFINITY; GROUPS],
        };
        for blk in ws.blocks {
            let i = Self::of(ws, blk);
            g.lo[i] = g.lo[i].inf(&blk.lo);
            g.hi[i] = g.hi[i].sup(&blk.hi);
            g.min_log_b[i] = min_num(g.min_log_b[i], blk.min_log_b);
        }
        g
    }
}

/// Calls `f` with the block groups of `ws`, or with `None` above 16 dimensions (the groups
/// then take too much stack) or for at most [`GROUPS`] blocks (nothing to save; a small build
/// then never puts the groups on its stack). `BLOCKS` is the capacity of `ws.blocks`.
pub(crate) fn with_groups<T: Real, const D: usize, const BLOCKS: usize, R>(
    ws: &WorkingSet<'_, T, D>,
    f: impl FnOnce(Option<&Groups<T, D, BLOCKS>>) -> R,
) -> R {
    #[inline(never)]
    fn built<T: Real, const D: usize, const BLOCKS: usize, R>(
        ws: &WorkingSet<'_, T, D>,
        f: impl FnOnce(Option<&Groups<T, D, BLOCKS>>) -> R,
    ) -> R {
        let g = Groups::build(ws);
        f(Some(&g))
    }
    if Groups::<T, D, BLOCKS>::POSSIBLE && ws.blocks.len() > GROUPS { built(ws, f) } else { f(None) }
}

/// Component `c`'s online softmax over the working set, `ŵ_n ∝ exp(a_n)` with
/// `a_n = log N(x_n; c) − log b(x_n)`: every row that is not provably negligible (blocks by
/// their bound, in [`seeded_order`], then rows by value) is pushed into `lse`, and
/// `f(row, a, scale, w, z)` receives the rescale factor and weight of that push and the row's
/// whitened `z = L⁻¹(x − μ)` (the chunk kernel computes it anyway).
///
/// The rows of the blocks that pass their bound are gathered into full chunks across blocks
/// (a block often holds a single row) and pushed in the same order as block by block: a block
/// tested against an older running maximum only lets more rows reach the exact row test, so
/// the pushes, and their bits, are the same.
#[inline]
pub(crate) fn component_softmax<T: Real, const D: usize, const BLOCKS: usize>(
    ws: &WorkingSet<'_, T, D>,
    groups: Option<&Groups<T, D, BLOCKS>>,
    c: &Component<T, D>,
    lse: &mut OnlineLse<T>,
    mut f: impl FnMut(usize, T, T, T, &SVector<T, D>),
) {
    softmax_rows(ws, groups, c, lse, &mut f);
}

/// The callback of [`component_softmax`]: `(row, a, scale, w, z)`.
type RowFn<'f, T, const D: usize> = dyn FnMut(usize, T, T, T, &SVector<T, D>) + 'f;

/// [`component_softmax`] with the callback behind a pointer: one copy for every caller.
#[inline(never)]
fn softmax_rows<T: Real, const D: usize, const BLOCKS: usize>(
    ws: &WorkingSet<'_, T, D>,
    groups: Option<&Groups<T, D, BLOCKS>>,
    c: &Component<T, D>,
    lse: &mut OnlineLse<T>,
    f: &mut RowFn<'_, T, D>,
) {
    // Per group: the floor it was last tested at, and whether it is below it (for good: the
    // running maximum only grows).
    let mut tested = [T::NEG_INF; GROUPS];
    let mut skip = [false; GROUPS];
    let mut pending = [0usize; CHUNK];
    let mut n = 0;
    let mut val = [T::zero(); CHUNK];
    let mut zt = [[T::zero(); CHUNK]; D];
    let mut z = SVector::<T, D>::zeros();
    let mut flush = |pending: &[usize], lse: &mut OnlineLse<T>| {
        chunk_ratios(ws, c, pending, &mut val, &mut zt);
        for (l, (&row, &a)) in pending.iter().zip(&val).enumerate() {
            if !(a >= lse.max - T::NEGLIGIBLE_LOG) {
                continue;
            }
            for d in 0..D {
                z[d] = zt[d][l];
            }
            let (scale, w) = lse.push(a);
            f(row, a, scale, w, &z);
        }
    };
    let groups = Groups::live(groups);
    for (i, blk) in seeded_order(c, ws, groups).enumerate() {
        let floor = lse.max - T::NEGLIGIBLE_LOG;
        if let Some(gr) = groups {
            let g = Groups::<T, D, BLOCKS>::of(ws, blk);
            if skip[g] {
                continue;
            }
            if floor > tested[g] {
                tested[g] = floor;
                if c.box_below(&gr.lo[g], &gr.hi[g], floor + gr.min_log_b[g]) {
                    skip[g] = true;
                    continue;
                }
            }
        }
        if c.box_below(&blk.lo, &blk.hi, floor + blk.min_log_b) {
            continue;
        }
        for row in blk.start..blk.end {
            pending[n] = row;
            n += 1;
            if n == CHUNK {
                flush(&pending, lse);
                n = 0;
            }
        }
        // The seed block sets the running maximum that prunes the others.
        if i == 0 && n > 0 {
            flush(&pending[..n], lse);
            n = 0;
        }
    }
    if n > 0 {
        flush(&pending[..n], lse);
    }
}

/// `a[l] = log N(x_r; c) − log b(x_r)` for the rows `r = rows[l]` and their whitened
/// `zt[d][l]`. Not inlined: one copy of the chunk kernel serves every caller of
/// [`component_softmax`] (flash on small targets; one call per chunk on large ones).
#[inline(never)]
fn chunk_ratios<T: Real, const D: usize>(
    ws: &WorkingSet<'_, T, D>,
    c: &Component<T, D>,
    rows: &[usize],
    a: &mut [T; CHUNK],
    zt: &mut [[T; CHUNK]; D],
) {
    let ch = Chunk::gather(rows.len(), |i| &ws.x[rows[i]]);
    c.chunk_log_density_z(&ch, a, zt);
    for (v, &row) in a.iter_mut().zip(rows) {
        *v -= ws.log_b[row];
    }
}

/// The rows of component `k`'s natural-gradient estimate (docs/algorithm.md §2, "Sample subset per
/// component"), like [`component_softmax`]: with `own = false` every working-set row with
/// `a_n = log N(x_n; c) − log b(x_n)`; with `own = true` (`only_use_own_samples`) only the rows
/// that component `k` drew itself in the newest draw, each with `a_n = 0` (plain Monte Carlo
/// over its own samples). The reference maps rows to components by Gaussian index arithmetic, which
/// holds only for rows of the newest draw; older reused rows are excluded here, as there (the
/// paper uses the option only without reuse). `f` receives the row's `z`, as in
/// [`component_softmax`]. Returns the number of rows `N` the estimate averages over (for plain
/// weights).
pub(crate) fn estimate_rows<T: Real, const D: usize, const BLOCKS: usize>(
    ws: &WorkingSet<'_, T, D>,
    groups: Option<&Groups<T, D, BLOCKS>>,
    c: &Component<T, D>,
    k: usize,
    own: bool,
    lse: &mut OnlineLse<T>,
    mut f: impl FnMut(usize, T, T, T, &SVector<T, D>),
) -> usize {
    if !own {
        component_softmax(ws, groups, c, lse, f);
        return ws.rows();
    }
    let mut n = 0;
    let mut z = SVector::<T, D>::zeros();
    for blk in ws.blocks {
        if ws.newest.drawn_by(blk.gid) != Some(k) {
            continue;
        }
        for row in blk.start..blk.end {
            c.log_density(&ws.x[row], &mut z);
            let (scale, w) = lse.push(T::zero());
            f(row, T::zero(), scale, w, &z);
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

/// The Gaussians of a working set (block `i` holds the rows of `comps[i]`) over the stored
/// rows, for the background sums.
struct Window<'a, T: Real, const D: usize> {
    x: &'a [SVector<T, D>],
    blocks: &'a [RowBlock<T, D>],
    comps: &'a [Component<T, D>],
    /// [`fix_cap`] of the store.
    cap: T,
}

/// The fixed-point sums of a chunk's rows (see [`RowSum`]).
#[derive(Clone, Copy)]
struct Acc {
    acc: [i128; CHUNK],
    ovf: [u64; CHUNK],
}

impl Acc {
    const ZERO: Self = Self { acc: [0; CHUNK], ovf: [0; CHUNK] };

    fn load(rows: &[RowSum]) -> Self {
        let mut a = Self::ZERO;
        for (l, r) in rows.iter().enumerate().take(CHUNK) {
            a.acc[l] = r.get();
            a.ovf[l] = r.ovf;
        }
        a
    }

    fn store(&self, rows: &mut [RowSum]) {
        for (l, r) in rows.iter_mut().enumerate().take(CHUNK) {
            r.set(self.acc[l]);
            r.ovf = self.ovf[l];
        }
    }
}

/// `log(e^a + e^b)`; `a` if `b` is `−∞`.
#[inline]
fn lse2<T: Real>(a: T, b: T) -> T {
    if !(b > T::NEG_INF) {
        return a;
    }
    let (hi, lo) = if b > a { (b, a) } else { (a, b) };
    hi + (T::one() + (lo - hi).exp()).ln()
}

impl<T: Real, const D: usize> Window<'_, T, D> {
    /// Calls `f(own, c0, chunk, ℓ)` for the rows `a..b` of the working set in chunks of
    /// [`CHUNK`] rows (across blocks: a block may hold a single row): `own[l]` is the block of
    /// lane `l` (its row's Gaussian), `c0` the chunk's first row and `ℓ` the rows' log
    /// densities under their own Gaussians, row by row so that they do not depend on the
    /// chunking.
    fn for_chunks(&self, a: usize, b: usize, mut f: impl FnMut(&[usize; CHUNK], usize, &Chunk<T, D>, &[T; CHUNK])) {
        let mut lref = [T::zero(); CHUNK];
        let mut own = [0usize; CHUNK];
        let mut z = SVector::<T, D>::zeros();
        let mut cur = self.blocks.partition_point(|blk| blk.end <= a);
        for c0 in (a..b).step_by(CHUNK) {
            let ch = Chunk::load(&self.x[c0..b]);
            for l in 0..ch.n {
                while cur + 1 < self.blocks.len() && self.blocks[cur].end <= c0 + l {
                    cur += 1;
                }
                own[l] = cur;
                lref[l] = self.comps.get(cur).map_or(T::NAN, |g| g.log_density(&self.x[c0 + l], &mut z));
            }
            f(&own, c0, &ch, &lref);
        }
    }

    /// Adds `sign ×` the terms of the Gaussians `js` to the sums of the chunk's rows (each row
    /// but its own Gaussian's, `own`), skipping the Gaussians whose bound over the chunk's box
    /// makes every term 0; a term that does not fit marks the row when adding.
    fn add(
        &self,
        own: &[usize; CHUNK],
        ch: &Chunk<T, D>,
        lref: &[T; CHUNK],
        js: core::ops::Range<usize>,
        acc: &mut Acc,
        sign: i128,
    ) {
        if js.is_empty() || ch.n == 0 {
            return;
        }
        let mut lo = SVector::<T, D>::zeros();
        let mut hi = SVector::<T, D>::zeros();
        for d in 0..D {
            let row = &ch.xt[d][..ch.n];
            lo[d] = row.iter().fold(row[0], |m, &v| m.min(v));
            hi[d] = row.iter().fold(row[0], |m, &v| m.max(v));
        }
        // NaN keeps every Gaussian (the terms then mark the row).
        let lmin = lref[..ch.n].iter().fold(T::INFINITY, |m, &v| if v < m || v.is_nan_like() { v } else { m });
        let mut val = [T::zero(); CHUNK];
        for j in js {
            let (Some(b), Some(g)) = (self.blocks.get(j), self.comps.get(j)) else { break };
            let cnt = T::of((b.end - b.start) as f64);
            let ln_n = cnt.ln();
            // Every term is exactly 0 if the bound lies below the fixed point's resolution
            // (with a margin for the rounding of the bound and of the densities).
            let below = |ub: T| {
                let slack = (ub.abs() + lmin.abs()) * T::of(1.0 / 65536.0);
                ub + ln_n - lmin + slack < T::of(FIX_PRUNE)
            };
            if below(g.cheap_bound_box(&lo, &hi)) || below(g.upper_bound_box(&lo, &hi)) {
                continue;
            }
            g.chunk_log_density(ch, &mut val);
            // The same test row by row, exact without slack: no `exp` for a term that is 0.
            let floor = T::of(FIX_PRUNE) - ln_n;
            for l in 0..ch.n {
                let a = val[l] - lref[l];
                if own[l] == j || a < floor {
                    continue;
                }
                match fix_term(cnt * a.exp(), self.cap) {
                    Some(q) if sign > 0 => acc.acc[l] = acc.acc[l].wrapping_add(q),
                    Some(q) => acc.acc[l] = acc.acc[l].wrapping_sub(q),
                    None if sign > 0 => acc.ovf[l] = acc.ovf[l].max(b.gid + 1),
                    None => {}
                }
            }
        }
    }

    /// `out[l] = log b(x)` of the chunk's rows from their sums: the sum, the own Gaussian
    /// (`n_own·exp(0)`) and the oldest Gaussian (its row count in the working set), minus
    /// `log(rows)`; a row marked by a Gaussian that is summed gets the direct sum instead.
    fn read_off(&self, own: &[usize; CHUNK], ch: &Chunk<T, D>, lref: &[T; CHUNK], acc: &Acc, out: &mut [T]) {
        let Some(first) = self.blocks.first() else { return };
        let lo = first.gid + 1;
        let rows = self.blocks.last().map_or(0, |l| l.end) - first.start;
        let total = T::of(rows as f64).ln();
        let count = |k: usize| self.blocks.get(k).map_or(T::zero(), |b| T::of((b.end - b.start) as f64));
        let mut oldest = [T::NEG_INF; CHUNK];
        if own[..ch.n].iter().any(|&k| k != 0) {
            let mut none = RowLse::new();
            self.push_block(0, ch, &mut none, &mut oldest);
        }
        let direct = acc.ovf[..ch.n].iter().any(|&o| o > lo);
        let mut all = RowLse::new();
        if direct {
            let mut t = [T::zero(); CHUNK];
            for j in 0..self.blocks.len() {
                self.push_block(j, ch, &mut all, &mut t);
            }
        }
        for (l, o) in out.iter_mut().enumerate().take(ch.n) {
            let v = if acc.ovf[l] > lo {
                all.lse(l)
            } else {
                let t = lref[l] + (T::from_fixed60(acc.acc[l].max(0)) + count(own[l])).ln();
                if own[l] != 0 { lse2(t, oldest[l]) } else { t }
            };
            *o = v - total;
        }
    }

    /// Pushes `t = log n_j + log N(x; g_j)` of the chunk's rows into `lse` (one copy of the
    /// kernel for the few Gaussians summed directly).
    #[inline(never)]
    fn push_block(&self, j: usize, ch: &Chunk<T, D>, lse: &mut RowLse<T>, t: &mut [T; CHUNK]) {
        let (Some(b), Some(g)) = (self.blocks.get(j), self.comps.get(j)) else { return };
        g.chunk_log_density(ch, t);
        let ln_n = T::of((b.end - b.start) as f64).ln();
        for v in t.iter_mut() {
            *v += ln_n;
        }
        lse.push(t, ch.n);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::Serial;
    use nalgebra::SMatrix;
    use rand_core::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;
    use std::boxed::Box;

    type Store = SampleStore<f64, 2, 600, 96>;
    type Bg = Background<f64, 2, 600, 96>;

    /// `log Σ_j (c_j/C) N(x; g_j)` over the blocks of `bg`, term by term.
    fn plain(bg: &Bg, x: &SVector<f64, 2>) -> f64 {
        let total: usize = bg.blocks().iter().map(|b| b.end - b.start).sum();
        let mut z = SVector::zeros();
        let terms: std::vec::Vec<f64> = bg
            .blocks()
            .iter()
            .zip(&bg.bg)
            .map(|(b, g)| ((b.end - b.start) as f64 / total as f64).ln() + g.log_density(x, &mut z))
            .collect();
        crate::real::log_sum_exp(&terms)
    }

    /// A random Gaussian: mean in [−4, 4)², standard deviations in [0.002, 3) (narrow ones
    /// make terms that do not fit the fixed-point sums).
    fn gaussian(rng: &mut Xoshiro256PlusPlus) -> Component<f64, 2> {
        let u = |rng: &mut Xoshiro256PlusPlus| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let m = SVector::from([8.0 * u(rng) - 4.0, 8.0 * u(rng) - 4.0]);
        let a = 0.002 + 3.0 * u(rng) * u(rng) * u(rng);
        let b = 0.05 + 3.0 * u(rng);
        let l = SMatrix::<f64, 2, 2>::new(a, 0.0, 0.3 * a, b);
        let mut q = Gmm::<f64, 2, 1>::new();
        q.add_component(1.0, m, &(l * l.transpose())).unwrap();
        q.components()[0]
    }

    /// Sliding working sets (growing, shrinking, thinned, cut by the ring) of a store filled
    /// iteration by iteration: the kept sums give the same `log b` bits as sums made afresh,
    /// and `log b` agrees with the plain mixture density.
    #[test]
    fn kept_background_equals_a_fresh_one() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut st = Box::new(Store::new());
        let mut kept = Box::new(Bg::BLANK);
        let mut sums = Box::new(BgSums::<600>::BLANK);
        let (mut marked, mut rows) = (0, 0);
        for it in 0..80 {
            // A few Gaussians, each with 1–40 rows drawn from it; thinning once the store is full.
            let k = 1 + (rng.next_u64() % 4) as usize;
            for _ in 0..k {
                let g = gaussian(&mut rng);
                let n = 1 + (rng.next_u64() % 40) as usize;
                let first = st.reserve(n, 600);
                let id = st.push_gaussian(&g, 0);
                for r in 0..n {
                    let mut e = [0.0; 2];
                    crate::rng::fill_standard_normal(&mut rng, &mut e);
                    let mut z = SVector::zeros();
                    let x = g.mean + SVector::from(e) * 1.5;
                    st.set_row(first + r, x, g.log_density(&x, &mut z), id);
                }
                st.commit(n);
            }
            // Windows that slide, grow back and shrink; twice per iteration, as a selection does.
            for n in [[40, 200, 120, 400, 90][it % 5], [60, 250, 100, 500, 30][(it + 2) % 5]] {
                let start = st.select_working_set(n, &mut kept, &mut sums, &Serial);
                let mut fresh = Box::new(Bg::BLANK);
                assert_eq!(st.select_working_set(n, &mut fresh, &mut BgSums { rows: [] }, &Serial), start);
                let ws = st.working_set(&kept);
                for r in start..st.len() {
                    assert_eq!(kept.log_b[r].to_bits(), fresh.log_b[r].to_bits(), "iteration {it}, row {r}");
                    let p = plain(&kept, &ws.x[r]);
                    assert!((kept.log_b[r] - p).abs() <= 1e-12 * p.abs().max(1.0), "{} vs {p}", kept.log_b[r]);
                    marked += usize::from(sums.rows[r].ovf > kept.kept.lo);
                    rows += 1;
                }
                for b in kept.blocks() {
                    let m = kept.log_b[b.start..b.end].iter().fold(f64::INFINITY, |m, &v| m.min(v));
                    assert_eq!(b.min_log_b, m);
                    assert_eq!(fresh.blocks().iter().find(|f| f.gid == b.gid).map(|f| f.min_log_b), Some(m));
                }
            }
        }
        // Both rows with a term too large for the fixed point (summed directly) and rows read
        // off their sums were exercised.
        assert!(marked > 0 && marked * 2 < rows, "{marked} of {rows}");
    }

    /// The block groups only skip work: a component's softmax pushes the same rows with the
    /// same bits (and whitened `z`) with and without them, from the same seed block, while
    /// whole groups lie below the final running maximum (so they were skipped).
    #[test]
    fn block_groups_push_the_same_rows() {
        type St = SampleStore<f64, 2, 600, 200>;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let u = |rng: &mut Xoshiro256PlusPlus| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut st = Box::new(St::new());
        // 40 drawing components on a grid 5 apart, 150 narrow Gaussians of 1–3 rows.
        for i in 0..150 {
            let key = i % 40;
            let centre = SVector::from([(key % 8) as f64 * 5.0, (key / 8) as f64 * 5.0]);
            let mean = centre + SVector::from([u(&mut rng) - 0.5, u(&mut rng) - 0.5]);
            let sd = 0.2 + 0.3 * u(&mut rng);
            let mut q = Gmm::<f64, 2, 1>::new();
            q.add_component(1.0, mean, &(SMatrix::identity() * (sd * sd))).unwrap();
            let g = q.components()[0];
            let n = 1 + (rng.next_u64() % 3) as usize;
            let first = st.reserve(n, 600);
            let id = st.push_gaussian(&g, key);
            for r in 0..n {
                let mut e = [0.0; 2];
                crate::rng::fill_standard_normal(&mut rng, &mut e);
                let x = g.mean + SVector::from(e) * sd;
                st.set_row(first + r, x, 0.0, id);
            }
            st.commit(n);
        }
        let mut bg = Box::new(Background::<f64, 2, 600, 200>::BLANK);
        st.select_working_set(600, &mut bg, &mut BgSums { rows: [] }, &Serial);
        let ws = st.working_set(&bg);
        assert!(ws.blocks.len() > GROUPS);
        let groups = Groups::<f64, 2, 200>::build(&ws);
        let mut skipped = 0;
        for probe in 0..12 {
            let mut q = Gmm::<f64, 2, 1>::new();
            let mean = SVector::from([(probe % 4) as f64 * 11.0, (probe / 4) as f64 * 9.0]);
            q.add_component(1.0, mean, &(SMatrix::identity() * 0.5)).unwrap();
            let c = q.components()[0];
            let seeds = [Some(&groups), None].map(|g| seeded_order(&c, &ws, g).next().map(|b| b.gid));
            assert_eq!(seeds[0], seeds[1], "probe {probe}");
            let run = |g: Option<&Groups<f64, 2, 200>>| {
                let mut lse = OnlineLse::new();
                let mut pushed = std::vec::Vec::new();
                component_softmax(&ws, g, &c, &mut lse, |row, a, scale, w, z| {
                    pushed.push((row, [a, scale, w, z[0], z[1]].map(f64::to_bits)));
                });
                (pushed, lse.max)
            };
            let ((with, max), (without, _)) = (run(Some(&groups)), run(None));
            assert!(!with.is_empty());
            assert_eq!(with, without, "probe {probe}");
            let floor = max - f64::NEGLIGIBLE_LOG;
            skipped += (0..GROUPS)
                .filter(|&g| {
                    groups.lo[g][0] <= groups.hi[g][0]
                        && c.box_below(&groups.lo[g], &groups.hi[g], floor + groups.min_log_b[g])
                })
                .count();
        }
        assert!(skipped > 0);
    }

    /// The fixed-point term is `⌊v·2^60⌋` exactly, and refuses what does not fit.
    #[test]
    fn fixed_point_terms() {
        const FIX_ONE: f64 = (1u64 << FIX_BITS) as f64;
        assert_eq!(fix_term(1.0f64, fix_cap(8)), Some(1i128 << 60));
        assert_eq!(fix_term(0.75f64, fix_cap(8)), Some(3i128 << 58));
        assert_eq!(fix_term(2f64.powi(-61), fix_cap(8)), Some(0));
        let v = 12_345.678_9_f64;
        assert_eq!(fix_term(v, fix_cap(8)), Some((v * FIX_ONE) as i128));
        assert_eq!(fix_term(f64::NAN, fix_cap(8)), None);
        assert_eq!(fix_term(fix_cap(8), fix_cap(8)), None);
        // f32 gives the bits of the same value in f64, and reads back as f64 does.
        for v in [0.0f32, 1.0, 0.3, 3.7e-12, 1234.567, 1.5e15] {
            assert_eq!(fix_term(v, fix_cap(8) as f32), fix_term(f64::from(v), fix_cap(8)), "{v}");
        }
        // The largest sum of the largest terms stays within an i128.
        for g in [1usize, 8, 2000, 1 << 20] {
            let max = (fix_cap(g) * FIX_ONE) as i128;
            assert!(max.checked_mul(g as i128).is_some_and(|m| m < i128::MAX / 2), "{g}");
        }
    }
}

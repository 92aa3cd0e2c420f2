//! Per-component histories (docs/algorithm.md §0.6): a ring of `HISTORY` columns shared by all
//! components, so a push ("shift left, append") is O(K) and reading column `−j` is O(1).

use crate::checkpoint::{Reader, Writer};
use crate::error::Error;
use crate::real::Real;

#[derive(Clone, Debug)]
pub(crate) struct History<T, const COMPONENTS: usize, const HISTORY: usize> {
    data: [[T; HISTORY]; COMPONENTS],
    head: usize,
}

impl<T: Real, const COMPONENTS: usize, const HISTORY: usize> History<T, COMPONENTS, HISTORY> {
    /// All zeros (see `Optimizer::BLANK`).
    pub const BLANK: Self = Self { data: [[T::ZERO_CONST; HISTORY]; COMPONENTS], head: 0 };

    /// Every entry `fill`, the ring at its start.
    pub fn fill(&mut self, fill: T) {
        self.data = [[fill; HISTORY]; COMPONENTS];
        self.head = 0;
    }

    /// Appends one column: `values[k]` for the first `values.len()` rows.
    pub fn push(&mut self, values: &[T]) {
        for (row, &v) in self.data.iter_mut().zip(values) {
            row[self.head] = v;
        }
        self.head = (self.head + 1) % HISTORY;
    }

    /// Column `−back` of row `k` (`back = 1` is the newest); `back` must be in `1..=H`.
    #[inline]
    pub fn get(&self, k: usize, back: usize) -> T {
        let back = back.clamp(1, HISTORY);
        self.data[k % COMPONENTS][(self.head + HISTORY - back) % HISTORY]
    }

    /// Sets the whole row `k` to `v` (a new component).
    pub fn reset_row(&mut self, k: usize, v: T) {
        if let Some(row) = self.data.get_mut(k) {
            *row = [v; HISTORY];
        }
    }

    /// Removes row `k` of `n` active rows, shifting the later rows down.
    pub fn remove_row(&mut self, k: usize, n: usize) {
        for i in k..n.min(COMPONENTS).saturating_sub(1) {
            self.data[i] = self.data[i + 1];
        }
    }

    /// Checkpoint form: the ring head, then every row.
    pub fn save(&self, w: &mut Writer) {
        w.count(self.head);
        for row in &self.data {
            w.reals(row);
        }
    }

    /// Reads the checkpoint form, storing it only if `WRITE`.
    pub fn load<const WRITE: bool>(&mut self, r: &mut Reader) -> Result<(), Error> {
        let head = r.count(HISTORY - 1)?;
        for row in &mut self.data {
            r.reals::<T, WRITE>(row)?;
        }
        if WRITE {
            self.head = head;
        }
        Ok(())
    }
}

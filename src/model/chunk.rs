//! The dense kernel of every hot loop: `log N(x_r; μ, Σ)` for a chunk of [`CHUNK`] rows at
//! once. Rows are transposed to structure-of-arrays (`xt[d][r]`), so the triangular mat-vec
//! `z = L⁻¹(x − μ)` runs with the rows in the innermost, branch-free loop of constant length:
//! the compiler unrolls over `D` and vectorises over rows. Callers prune (row-block, component)
//! pairs with bounds first and use scalar code only for the few non-negligible pairs.

// Lane-indexed loops of constant length are what the vectoriser wants here.
#![allow(clippy::needless_range_loop)]

use nalgebra::SVector;

use super::gmm::Component;
use crate::real::Real;

/// Rows per chunk: the fastest of 8, 16 and 32 on the planar_robot_4 benchmark (`f64`, SSE2);
/// 8 rows leave the FMA units idle, at 32 the accumulators no longer fit the registers.
pub(crate) const CHUNK: usize = 16;

/// Up to [`CHUNK`] rows in structure-of-arrays form; unused lanes repeat the last row.
pub(crate) struct Chunk<T, const D: usize> {
    pub xt: [[T; CHUNK]; D],
    pub n: usize,
}

impl<T: Real, const D: usize> Chunk<T, D> {
    /// The first `min(xs.len(), CHUNK)` rows of `xs` (`n = 0` for an empty slice).
    pub fn load(xs: &[SVector<T, D>]) -> Self {
        Self::gather(xs.len(), |r| &xs[r])
    }

    /// The rows `row(0), …, row(n − 1)` (`n` clamped to [`CHUNK`]), transposed straight from
    /// where they are: no row-major copy of `CHUNK·D` scalars on the stack.
    pub fn gather<'a>(n: usize, row: impl Fn(usize) -> &'a SVector<T, D>) -> Self {
        let n = n.min(CHUNK);
        let mut xt = [[T::zero(); CHUNK]; D];
        if n > 0 {
            for r in 0..CHUNK {
                let x = row(r.min(n - 1));
                for d in 0..D {
                    xt[d][r] = x[d];
                }
            }
        }
        Self { xt, n }
    }
}

/// Per-row streaming log-sum-exp over the terms pushed for a chunk.
pub(crate) struct RowLse<T> {
    pub m: [T; CHUNK],
    pub s: [T; CHUNK],
}

impl<T: Real> RowLse<T> {
    pub fn new() -> Self {
        Self { m: [T::NEG_INF; CHUNK], s: [T::zero(); CHUNK] }
    }

    /// Adds `t[r]` to row r's sum for the first `n` rows (the chunk's `n`: the other lanes
    /// are padding, and their `exp`s would be wasted); terms below the row's running maximum
    /// by more than the scalar's precision are skipped (no `exp`).
    #[inline]
    pub fn push(&mut self, t: &[T; CHUNK], n: usize) {
        for r in 0..n.min(CHUNK) {
            let (m, v) = (self.m[r], t[r]);
            if v > m {
                self.s[r] = if m == T::NEG_INF { T::one() } else { self.s[r] * (m - v).exp() + T::one() };
                self.m[r] = v;
            } else if v >= m - T::NEGLIGIBLE_LOG {
                self.s[r] += (v - m).exp();
            }
        }
    }

    /// `log Σ exp(t)` of row r.
    pub fn lse(&self, r: usize) -> T {
        let r = r % CHUNK;
        if self.s[r] > T::zero() { self.m[r] + self.s[r].ln() } else { T::NEG_INF }
    }
}

impl<T: Real, const D: usize> Component<T, D> {
    /// `out[r] = log N(x_r; μ, Σ)` for every lane of the chunk.
    #[inline(always)]
    pub fn chunk_log_density(&self, ch: &Chunk<T, D>, out: &mut [T; CHUNK]) {
        self.chunk_kernel(ch, out, None);
    }

    /// [`Self::chunk_log_density`] that also writes every lane's whitened
    /// `z = L⁻¹(x − μ)` into `zt[d][r]`, with the arithmetic of [`Component::log_density`]
    /// (the same bits).
    #[inline(always)]
    pub fn chunk_log_density_z(&self, ch: &Chunk<T, D>, out: &mut [T; CHUNK], zt: &mut [[T; CHUNK]; D]) {
        self.chunk_kernel(ch, out, Some(zt));
    }

    /// The one kernel of both: `zt` is a constant at every (inlined) call, so the stores of `z`
    /// vanish where nobody reads them.
    #[inline(always)]
    fn chunk_kernel(&self, ch: &Chunk<T, D>, out: &mut [T; CHUNK], mut zt: Option<&mut [[T; CHUNK]; D]>) {
        let mut v = [[T::zero(); CHUNK]; D];
        for (vd, (xd, &m)) in v.iter_mut().zip(ch.xt.iter().zip(self.mean.iter())) {
            for r in 0..CHUNK {
                vd[r] = xd[r] - m;
            }
        }
        let mut sq = [T::zero(); CHUNK];
        if self.diag {
            for (i, vi) in v.iter().enumerate() {
                let a = self.inv_t[(i, i)];
                let mut z = [T::zero(); CHUNK];
                for r in 0..CHUNK {
                    z[r] = a * vi[r];
                    sq[r] += z[r] * z[r];
                }
                if let Some(zi) = zt.as_deref_mut().and_then(|zt| zt.get_mut(i)) {
                    *zi = z;
                }
            }
        } else {
            for (i, col) in self.inv_t.as_slice().chunks_exact(D).enumerate() {
                let mut z = [T::zero(); CHUNK];
                for (&a, vj) in col.iter().zip(v.iter()).take(i + 1) {
                    for r in 0..CHUNK {
                        z[r] += a * vj[r];
                    }
                }
                for r in 0..CHUNK {
                    sq[r] += z[r] * z[r];
                }
                if let Some(zi) = zt.as_deref_mut().and_then(|zt| zt.get_mut(i)) {
                    *zi = z;
                }
            }
        }
        let h = T::of(0.5);
        for r in 0..CHUNK {
            out[r] = self.log_norm - h * sq[r];
        }
    }
}

/// Row-wise `log Σ_{k ∈ sel} exp(lw_k + log N(x_r; c_k))` for a chunk; if `vals` is given,
/// `vals[i][r]` receives `lw_k + log N(x_r; c_k)` for `k = sel[i]`.
pub(crate) fn chunk_mixture<T: Real, const D: usize>(
    comps: &[Component<T, D>],
    lw: &[T],
    sel: &[usize],
    ch: &Chunk<T, D>,
    vals: Option<&mut [[T; CHUNK]]>,
) -> RowLse<T> {
    // Two monomorphic loops, so the kernel inlines into each (an `Option` per candidate costs 40 %).
    #[inline(always)]
    fn one<T: Real, const D: usize>(
        c: &Component<T, D>,
        w: T,
        ch: &Chunk<T, D>,
        out: &mut [T; CHUNK],
        lse: &mut RowLse<T>,
    ) {
        c.chunk_log_density(ch, out);
        for v in out.iter_mut() {
            *v += w;
        }
        lse.push(out, ch.n);
    }
    let mut lse = RowLse::new();
    match vals {
        Some(vals) => {
            for (&k, out) in sel.iter().zip(vals.iter_mut()) {
                if let (Some(c), Some(&w)) = (comps.get(k), lw.get(k)) {
                    one(c, w, ch, out, &mut lse);
                }
            }
        }
        None => {
            let mut tmp = [T::zero(); CHUNK];
            for &k in sel {
                if let (Some(c), Some(&w)) = (comps.get(k), lw.get(k)) {
                    one(c, w, ch, &mut tmp, &mut lse);
                }
            }
        }
    }
    lse
}

#[cfg(test)]
mod tests {
    use super::{CHUNK, Chunk, RowLse};
    use crate::model::Gmm;
    use nalgebra::{SMatrix, SVector};

    fn rows(n: usize) -> [SVector<f64, 3>; CHUNK] {
        core::array::from_fn(|i| {
            let t = i as f64;
            SVector::from([(t * 0.71).sin() * 3.0, (t * 1.3).cos() - 0.5, t * 0.2 - 1.0]).map(|v| v + n as f64 * 1e-3)
        })
    }

    /// The estimators take `z` from the chunk kernel instead of `Component::log_density`: the
    /// two must agree to the bit, for full and diagonal covariances and partial chunks.
    #[test]
    fn kernel_z_has_the_bits_of_the_scalar_density() {
        let mut q = Gmm::<f64, 3, 2>::new();
        let full = SMatrix::<f64, 3, 3>::new(2.0, 0.3, -0.2, 0.3, 1.1, 0.25, -0.2, 0.25, 0.7);
        let diag = SMatrix::<f64, 3, 3>::from_diagonal(&SVector::from([0.4, 2.5, 1.3]));
        q.add_component(0.5, SVector::from([0.3, -1.0, 0.8]), &full).unwrap();
        q.add_component(0.5, SVector::from([-1.2, 0.4, 0.1]), &diag).unwrap();
        let mut comps = [q.components()[0], q.components()[1]];
        comps[1].diag = true;
        for n in [CHUNK, 5, 1] {
            let xs = rows(n);
            let ch = Chunk::load(&xs[..n]);
            for c in &comps {
                let (mut v, mut vz) = ([0.0; CHUNK], [0.0; CHUNK]);
                let mut zt = [[0.0; CHUNK]; 3];
                c.chunk_log_density(&ch, &mut v);
                c.chunk_log_density_z(&ch, &mut vz, &mut zt);
                for (r, x) in xs.iter().enumerate().take(n) {
                    let mut z = SVector::<f64, 3>::zeros();
                    let l = c.log_density(x, &mut z);
                    assert_eq!(l.to_bits(), v[r].to_bits(), "row {r} of {n}, diag {}", c.diag);
                    assert_eq!(l.to_bits(), vz[r].to_bits(), "row {r} of {n}, diag {}", c.diag);
                    for d in 0..3 {
                        assert_eq!(z[d].to_bits(), zt[d][r].to_bits(), "z[{d}] of row {r}, diag {}", c.diag);
                    }
                }
            }
        }
    }

    /// A push of `n` rows leaves the padding lanes empty and the pushed rows as a push of all.
    #[test]
    fn row_lse_pushes_only_the_chunks_rows() {
        let t1: [f64; CHUNK] = core::array::from_fn(|r| r as f64 * 0.5 - 3.0);
        let t2: [f64; CHUNK] = core::array::from_fn(|r| 2.0 - r as f64 * 0.25);
        let (mut all, mut some) = (RowLse::new(), RowLse::new());
        for t in [&t1, &t2] {
            all.push(t, CHUNK);
            some.push(t, 3);
        }
        for r in 0..CHUNK {
            if r < 3 {
                assert_eq!(some.lse(r).to_bits(), all.lse(r).to_bits());
                assert!(some.lse(r).is_finite());
            } else {
                assert_eq!(some.lse(r), f64::NEG_INFINITY);
            }
        }
    }
}

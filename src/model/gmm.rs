//! Gaussian mixture `q(x) = Σ_k w_k N(x; μ_k, L_k L_kᵀ)` (Arenz et al. 2023, §2 and App. D;
//! docs/algorithm.md §0).
//!
//! Stored per component: `log w_k`, `μ_k`, the lower Cholesky factor `L_k` of the covariance
//! and, derived from it, the inverse factor `L_k⁻¹` and the log normaliser
//! `−Σ_d log L_k[d,d] − (D/2) log 2π`, so that
//! `log N(x; μ_k, Σ_k) = −½‖L_k⁻¹(x − μ_k)‖² + lognorm_k` is a triangular mat-vec, no solve.
//! Every write of the weights re-normalises them (`log_w ← v − logsumexp(v)`, §0.1).

use nalgebra::{Cholesky, SMatrix, SVector};
use rand_core::Rng;

use crate::error::Error;
use crate::real::{LN_2PI, Real, log_sum_exp, max_num, min_num};
use crate::rng::{fill_standard_normal, uniform_in};
use crate::target::{TARGET_BLOCK, Target};

use super::chunk::{CHUNK, Chunk, chunk_mixture};

/// A Gaussian mixture in `R^D` with room for `K` components; `len()` of them are active.
///
/// ```
/// use gmmvi::Gmm;
/// use nalgebra::{SMatrix, SVector};
/// let mut q = Gmm::<f64, 2, 4>::new();
/// q.add_component(1.0, SVector::from([0.0, 0.0]), &SMatrix::identity()).unwrap();
/// let lq = q.log_density(&SVector::from([0.0, 0.0]));
/// assert!((lq + core::f64::consts::TAU.ln()).abs() < 1e-12);
/// ```
#[derive(Clone, Debug)]
pub struct Gmm<T: Real, const D: usize, const K: usize> {
    pub(super) n: usize,
    pub(super) log_w: [T; K],
    pub(super) mean: [SVector<T, D>; K],
    pub(super) chol: [SMatrix<T, D, D>; K],
    pub(super) comp: [Component<T, D>; K],
}

/// What evaluating `log N(x; μ, LLᵀ)` needs: the mean, `(L⁻¹)ᵀ` (column `i` is row `i` of
/// `L⁻¹`, contiguous), the log normaliser, and `1/tr(Σ)` and `1/Σ_dd` for cheap upper bounds.
/// `diag` marks a diagonal `L`: the whitening is then O(D) instead of O(D²), with the same
/// values bit for bit (the skipped terms are exact zeros).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Component<T: Real, const D: usize> {
    pub mean: SVector<T, D>,
    pub inv_t: SMatrix<T, D, D>,
    pub log_norm: T,
    pub inv_trace: T,
    pub inv_diag: SVector<T, D>,
    pub diag: bool,
}

impl<T: Real, const D: usize> Component<T, D> {
    pub const ZERO: Self = Self {
        mean: crate::real::zeros(),
        inv_t: crate::real::zeros(),
        log_norm: T::ZERO_CONST,
        inv_trace: T::ZERO_CONST,
        inv_diag: crate::real::zeros(),
        diag: false,
    };

    /// `log N(x; μ, Σ)`; `z` receives `L⁻¹(x − μ)`.
    #[inline(always)]
    pub fn log_density(&self, x: &SVector<T, D>, z: &mut SVector<T, D>) -> T {
        let sq = if self.diag {
            let mut sq = T::zero();
            for i in 0..D {
                z[i] = self.inv_t[(i, i)] * (x[i] - self.mean[i]);
                sq += z[i] * z[i];
            }
            sq
        } else {
            whiten(&self.inv_t, &(x - self.mean), z)
        };
        self.log_norm - T::of(0.5) * sq
    }

    /// `d = L⁻ᵀ z` (so `d = Σ⁻¹(x − μ)` when `z = L⁻¹(x − μ)`).
    #[inline(always)]
    pub fn unwhiten_t(&self, z: &SVector<T, D>, d: &mut SVector<T, D>) {
        if self.diag {
            for i in 0..D {
                d[i] = self.inv_t[(i, i)] * z[i];
            }
        } else {
            unwhiten_t(&self.inv_t, z, d);
        }
    }

    /// `true` if `log N(x; μ, Σ) < floor` for every `x` in the box `[lo, hi]`: the O(D) bound of
    /// [`Self::upper_bound`] on the box's nearest corner first, the O(D²) interval bound of
    /// [`Self::upper_bound_box`] only when that is not enough.
    #[inline]
    pub fn box_below(&self, lo: &SVector<T, D>, hi: &SVector<T, D>, floor: T) -> bool {
        self.cheap_bound_box(lo, hi) < floor || self.upper_bound_box(lo, hi) < floor
    }

    /// [`Self::upper_bound`] for every `x` in the box `[lo, hi]`: `|v_d|` replaced by the
    /// distance of `μ_d` to `[lo_d, hi_d]`. O(D).
    #[inline]
    pub fn cheap_bound_box(&self, lo: &SVector<T, D>, hi: &SVector<T, D>) -> T {
        let mut sq = T::zero();
        let mut axis = T::zero();
        for d in 0..D {
            let v = max_num(max_num(lo[d] - self.mean[d], self.mean[d] - hi[d]), T::zero());
            let v2 = v * v;
            sq += v2;
            axis = max_num(axis, v2 * self.inv_diag[d]);
        }
        self.log_norm - T::of(0.5) * max_num(sq * self.inv_trace, axis)
    }

    /// An upper bound on `log N(x; μ, Σ)` for every `x` in the box `[lo, hi]`, by interval
    /// arithmetic on `z = L⁻¹(x − μ)`: each `z_i` ranges over an interval `[a_i, b_i]`, and
    /// `‖z‖² ≥ Σ_i min_{[a_i, b_i]} z_i²` (0 if the interval holds 0). O(D²) per box, so it
    /// pays off over a block of rows.
    #[inline]
    pub fn upper_bound_box(&self, lo: &SVector<T, D>, hi: &SVector<T, D>) -> T {
        let vl: [T; D] = core::array::from_fn(|d| lo[d] - self.mean[d]);
        let vh: [T; D] = core::array::from_fn(|d| hi[d] - self.mean[d]);
        let data = self.inv_t.as_slice();
        let mut sq = T::zero();
        if self.diag {
            for i in 0..D {
                let c = self.inv_t[(i, i)];
                let (p, q) = (c * vl[i], c * vh[i]);
                let dist = max_num(max_num(min_num(p, q), -max_num(p, q)), T::zero());
                sq += dist * dist;
            }
            return self.log_norm - T::of(0.5) * sq;
        }
        for (i, col) in data.chunks_exact(D).enumerate() {
            let (mut a, mut b) = (T::zero(), T::zero());
            for ((&c, &l), &h) in col.iter().zip(&vl).zip(&vh).take(i + 1) {
                let (p, q) = (c * l, c * h);
                a += min_num(p, q);
                b += max_num(p, q);
            }
            // Distance of 0 to [a, b] (a ≤ b), branch-free.
            let dist = max_num(max_num(a, -b), T::zero());
            sq += dist * dist;
        }
        self.log_norm - T::of(0.5) * sq
    }

    /// `Some(log N(x; μ, Σ))` (with `z = L⁻¹(x − μ)`), or `None` once it is proven below
    /// `floor`: `z` is built row by row (row `i` costs `i + 1` multiply-adds) and the partial
    /// `‖z‖²` only grows, so most negligible pairs stop after a few cheap rows.
    #[inline(always)]
    pub fn log_density_above(&self, x: &SVector<T, D>, floor: T, z: &mut SVector<T, D>) -> Option<T> {
        let limit = T::of(2.0) * (self.log_norm - floor);
        if !(limit >= T::zero()) {
            return None;
        }
        let v: [T; D] = core::array::from_fn(|d| x[d] - self.mean[d]);
        let data = self.inv_t.as_slice();
        let mut sq = T::zero();
        if self.diag {
            for i in 0..D {
                z[i] = self.inv_t[(i, i)] * v[i];
                sq += z[i] * z[i];
                if sq > limit {
                    return None;
                }
            }
            return Some(self.log_norm - T::of(0.5) * sq);
        }
        for (i, col) in data.chunks_exact(D).enumerate() {
            let mut s = T::zero();
            for (a, b) in col.iter().zip(&v).take(i + 1) {
                s += *a * *b;
            }
            z[i] = s;
            sq += s * s;
            if sq > limit {
                return None;
            }
        }
        Some(self.log_norm - T::of(0.5) * sq)
    }

    /// An upper bound on `log N(x; μ, Σ)` in O(D), from two lower bounds on `vᵀΛv`
    /// (`v = x − μ`): `‖v‖²/λ_max(Σ) ≥ ‖v‖²/tr(Σ)` (isotropic) and, by Cauchy–Schwarz in the
    /// Λ-metric, `(e_dᵀv)²/(e_dᵀΣe_d) = v_d²/Σ_dd` for every axis d (tight for narrow axes).
    #[inline(always)]
    pub fn upper_bound(&self, x: &SVector<T, D>) -> T {
        let mut sq = T::zero();
        let mut axis = T::zero();
        for d in 0..D {
            let v = x[d] - self.mean[d];
            let v2 = v * v;
            sq += v2;
            axis = axis.max(v2 * self.inv_diag[d]);
        }
        self.log_norm - T::of(0.5) * (sq * self.inv_trace).max(axis)
    }
}

/// `log Σ_j exp(lw_j + log N(x; c_j))` over `comps`, writing the exact `log N(x; c_j)` into
/// `vals[j]` (or `-inf` where skipped) and the bound plus `lw_j` into `ub[j]`.
///
/// The component with the largest O(D) upper bound is evaluated first; any other whose bound is
/// more than [`Real::NEGLIGIBLE_LOG`] below the running maximum cannot change the sum at the
/// scalar's precision and is skipped without its O(D²) whitening.
fn log_mix<T: Real, const D: usize>(
    comps: &[Component<T, D>],
    lw: &[T],
    x: &SVector<T, D>,
    vals: &mut [T],
    ub: &mut [T],
) -> T {
    let n = comps.len().min(lw.len()).min(vals.len()).min(ub.len());
    if n == 0 {
        return T::NEG_INF;
    }
    let mut best = 0;
    for j in 0..n {
        ub[j] = comps[j].upper_bound(x) + lw[j];
        if ub[j] > ub[best] {
            best = j;
        }
    }
    let mut z = SVector::<T, D>::zeros();
    vals[best] = comps[best].log_density(x, &mut z);
    let mut m = vals[best] + lw[best];
    for j in 0..n {
        if j == best {
            continue;
        }
        let floor = m - T::NEGLIGIBLE_LOG;
        if ub[j] < floor {
            vals[j] = T::NEG_INF;
            continue;
        }
        vals[j] = comps[j].log_density_above(x, floor - lw[j], &mut z).unwrap_or(T::NEG_INF);
        m = m.max(vals[j] + lw[j]);
    }
    if !m.finite() {
        return m;
    }
    let mut s = T::zero();
    for j in 0..n {
        let t = vals[j] + lw[j];
        if t >= m - T::NEGLIGIBLE_LOG {
            s += (t - m).exp();
        }
    }
    m + s.ln()
}

/// From this dimension on, [`block_candidates`] evaluates its lower bound with the chunk
/// kernel (the same values): one row's `O(D²)` log-density is a chain of dependent sums, which
/// running [`CHUNK`] rows side by side hides. Below, the scalar loop keeps the code and stack of
/// microcontroller builds (`D = 7`) as small as they are.
const CHUNKED_BOUND_DIM: usize = 8;

/// The components that can matter to `log Σ_j exp(lw_j + log N(x; c_j))` for some row `x` of a
/// block inside the box `[lo, hi]`: every row's maximum is at least its term under the component
/// with the largest box bound, so a component whose box bound is more than
/// [`Real::NEGLIGIBLE_LOG`] below the smallest such term is skipped for the whole block.
/// Writes the indices (ascending) into `idx` and returns their number.
#[allow(clippy::needless_range_loop)] // parallel slices indexed together
pub(crate) fn block_candidates<T: Real, const D: usize>(
    comps: &[Component<T, D>],
    lw: &[T],
    xs: &[SVector<T, D>],
    lo: &SVector<T, D>,
    hi: &SVector<T, D>,
    ubb: &mut [T],
    idx: &mut [usize],
) -> usize {
    let n = comps.len().min(lw.len()).min(ubb.len()).min(idx.len());
    if n == 0 || xs.is_empty() {
        return 0;
    }
    let mut best = 0;
    for j in 0..n {
        ubb[j] = comps[j].cheap_bound_box(lo, hi) + lw[j];
        if ubb[j] > ubb[best] {
            best = j;
        }
    }
    // The smallest log-density of a row under the best component: the chunk kernel from
    // CHUNKED_BOUND_DIM on (its values are the per-row ones), per row below.
    let mut m_blk = T::zero();
    let mut first = true;
    let mut out = [T::zero(); CHUNK];
    let mut z = SVector::<T, D>::zeros();
    for xc in xs.chunks(CHUNK) {
        let rows = if D >= CHUNKED_BOUND_DIM {
            let ch = Chunk::load(xc);
            comps[best].chunk_log_density(&ch, &mut out);
            ch.n
        } else {
            for (o, x) in out.iter_mut().zip(xc) {
                *o = comps[best].log_density(x, &mut z);
            }
            xc.len().min(CHUNK)
        };
        for &o in out.iter().take(rows) {
            let v = o + lw[best];
            m_blk = if first { v } else { m_blk.min(v) };
            first = false;
        }
    }
    if !m_blk.finite() {
        // No usable lower bound: keep everything.
        for (j, o) in idx.iter_mut().enumerate().take(n) {
            *o = j;
        }
        return n;
    }
    let floor = m_blk - T::NEGLIGIBLE_LOG;
    let mut c = 0;
    for j in 0..n {
        // Cheap bound first; the O(D²) interval bound only for the survivors.
        if ubb[j] >= floor && comps[j].upper_bound_box(lo, hi) + lw[j] >= floor {
            idx[c] = j;
            c += 1;
        }
    }
    c
}

/// One component's parameters of a [`Gmm`], borrowed mutably ([`Gmm::parts_mut`]).
pub(crate) struct ComponentMut<'a, T: Real, const D: usize> {
    mean: &'a mut SVector<T, D>,
    chol: &'a mut SMatrix<T, D, D>,
    comp: &'a mut Component<T, D>,
}

impl<T: Real, const D: usize> ComponentMut<'_, T, D> {
    /// The mean.
    pub fn mean(&self) -> &SVector<T, D> {
        self.mean
    }

    /// The lower Cholesky factor of the covariance.
    pub fn chol(&self) -> &SMatrix<T, D, D> {
        self.chol
    }

    /// `(L⁻¹)ᵀ`.
    pub fn inv_t(&self) -> &SMatrix<T, D, D> {
        &self.comp.inv_t
    }

    /// Replaces the mean and the Cholesky factor `l` (its strict upper triangle is ignored) and
    /// the derived evaluation data; `false`, and nothing written, unless everything is finite
    /// and the diagonal of `l` positive.
    pub fn set(&mut self, mean: SVector<T, D>, l: &SMatrix<T, D, D>) -> bool {
        let Some((l, comp)) = factor_from_chol(&mean, l) else { return false };
        *self.mean = mean;
        *self.chol = l;
        *self.comp = comp;
        true
    }
}

impl<T: Real, const D: usize, const K: usize> Default for Gmm<T, D, K> {
    fn default() -> Self {
        Self::new()
    }
}

/// Row `i` of `L ε` for a lower-triangular `L` with the bits of the full product `(L ε)_i`
/// (`Σ_j L_ij ε_j` summed in `j` order, as nalgebra's matrix-vector product sums): the strict
/// upper triangle holds zeros and `ε` is finite, so its products are zeros, and adding a zero to
/// a nonzero sum changes nothing. Only a zero partial sum, whose sign the zeros can change,
/// takes the whole row.
#[inline]
fn lower_row_times<T: Real, const D: usize>(l: &SMatrix<T, D, D>, i: usize, eps: &SVector<T, D>) -> T {
    let row = |n: usize| {
        let mut acc = l[(i, 0)] * eps[0];
        for j in 1..n {
            acc = l[(i, j)] * eps[j] + acc;
        }
        acc
    };
    let acc = row(i + 1);
    if acc == T::zero() { row(D) } else { acc }
}

/// From a mean and lower Cholesky factor, the cleaned factor and the derived evaluation data;
/// `None` unless everything is finite and the diagonal positive.
pub(crate) fn factor_from_chol<T: Real, const D: usize>(
    mean: &SVector<T, D>,
    l: &SMatrix<T, D, D>,
) -> Option<(SMatrix<T, D, D>, Component<T, D>)> {
    let mut l = *l;
    l.fill_upper_triangle(T::zero(), 1);
    let mut log_det_half = T::zero();
    for d in 0..D {
        let v = l[(d, d)];
        if !(v > T::zero()) || !v.finite() {
            return None;
        }
        log_det_half += v.ln();
    }
    // Forward substitution for L⁻¹, one row at a time (row i of L⁻¹ = column i of inv_t):
    // (L⁻¹)[i, c] = (δ_ic − Σ_{j=c}^{i−1} L[i, j] (L⁻¹)[j, c]) / L[i, i], the sums over j for
    // all c at once (each still over ascending j), down contiguous columns.
    let mut inv_t = SMatrix::<T, D, D>::zeros();
    for i in 0..D {
        let (done, rest) = inv_t.as_mut_slice().split_at_mut(i * D);
        let Some(col) = rest.get_mut(..=i) else { break };
        if let Some(v) = col.last_mut() {
            *v = T::one();
        }
        for (j, prev) in done.chunks_exact(D).enumerate() {
            let lij = l[(i, j)];
            for (s, &v) in col.iter_mut().zip(prev.get(..=j).unwrap_or(&[])) {
                *s -= lij * v;
            }
        }
        let lii = l[(i, i)];
        for s in col.iter_mut() {
            *s /= lii;
        }
    }
    for v in inv_t.iter().chain(l.iter()).chain(mean.iter()) {
        if !v.finite() {
            return None;
        }
    }
    let log_norm = -log_det_half - T::of(0.5 * D as f64 * LN_2PI);
    let inv_trace = T::one() / l.norm_squared();
    // Σ_dd = ‖row d of L‖².
    let inv_diag = SVector::<T, D>::from_fn(|d, _| T::one() / l.row(d).norm_squared());
    // A finite covariance: its diagonal ‖row d‖² is finite (then every entry is, |Σ_ij| ≤
    // √(Σ_ii Σ_jj)), i.e. the reciprocals are positive.
    let ok = inv_trace > T::zero() && inv_trace.finite() && inv_diag.iter().all(|v| *v > T::zero() && v.finite());
    let diag = (0..D).all(|i| (0..i).all(|j| l[(i, j)] == T::zero()));
    ok.then_some((l, Component { mean: *mean, inv_t, log_norm, inv_trace, inv_diag, diag }))
}

/// Lower Cholesky factor of a symmetric matrix; `None` unless it is finite and positive definite.
pub(crate) fn cholesky<T: Real, const D: usize>(m: &SMatrix<T, D, D>) -> Option<SMatrix<T, D, D>> {
    if m.iter().any(|v| !v.finite()) {
        return None;
    }
    let sym = (m + m.transpose()) * T::of(0.5);
    let l = Cholesky::new(sym)?.unpack();
    if l.iter().all(|v| v.finite()) && (0..D).all(|d| l[(d, d)] > T::zero()) { Some(l) } else { None }
}

/// `z = L⁻¹ v` using the stored `(L⁻¹)ᵀ`; returns `‖z‖²`.
#[inline(always)]
fn whiten<T: Real, const D: usize>(inv_t: &SMatrix<T, D, D>, v: &SVector<T, D>, z: &mut SVector<T, D>) -> T {
    let mut sq = T::zero();
    for i in 0..D {
        let row = inv_t.column(i);
        let mut s = T::zero();
        for j in 0..=i {
            s += row[j] * v[j];
        }
        z[i] = s;
        sq += s * s;
    }
    sq
}

/// `d = L⁻ᵀ z` using the stored `(L⁻¹)ᵀ` (so `d = Σ⁻¹ (x − μ)` when `z = L⁻¹(x − μ)`).
#[inline(always)]
fn unwhiten_t<T: Real, const D: usize>(inv_t: &SMatrix<T, D, D>, z: &SVector<T, D>, d: &mut SVector<T, D>) {
    d.fill(T::zero());
    for i in 0..D {
        let row = inv_t.column(i);
        let zi = z[i];
        for j in 0..=i {
            d[j] += row[j] * zi;
        }
    }
}

impl<T: Real, const D: usize, const K: usize> Gmm<T, D, K> {
    /// An empty mixture (no active component).
    pub fn new() -> Self {
        const { assert!(D > 0 && K > 0, "Gmm needs D > 0 and K > 0") };
        Self::BLANK
    }

    /// The empty mixture as a constant: all-zero bytes.
    pub(crate) const BLANK: Self = Self {
        n: 0,
        log_w: [T::ZERO_CONST; K],
        mean: [crate::real::zeros(); K],
        chol: [crate::real::zeros(); K],
        comp: [Component::ZERO; K],
    };

    /// `*self = other.clone()` field by field, so that no mixture-sized temporary is built.
    pub(crate) fn assign(&mut self, other: &Self) {
        self.n = other.n;
        self.log_w = other.log_w;
        self.mean = other.mean;
        self.chol = other.chol;
        self.comp = other.comp;
    }

    /// The initial model of docs/targets.md §0: `k0` components with weights `1/k0`, covariance
    /// `diag(cov_diag)` and means `prior_mean` (if `k0 == 1`) or `prior_mean + prior_scale ⊙ ε_k`,
    /// `ε_k ~ N(0, I)`.
    ///
    /// # Errors
    /// `InvalidArgument` if `k0` is 0 or exceeds `K`, or a variance is not positive.
    pub fn from_prior<R: Rng + ?Sized>(
        k0: usize,
        prior_mean: &SVector<T, D>,
        prior_scale: &SVector<T, D>,
        cov_diag: &SVector<T, D>,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut g = Self::new();
        g.fill_from_prior(k0, prior_mean, prior_scale, cov_diag, rng)?;
        Ok(g)
    }

    /// [`Self::from_prior`] in place: replaces the components of `self` by that initial model
    /// (same draws, same bits), without a mixture-sized temporary on the stack (firmware and the
    /// C ABI build their initial model this way).
    ///
    /// # Errors
    /// As [`Self::from_prior`]; `self` is then empty.
    pub fn fill_from_prior<R: Rng + ?Sized>(
        &mut self,
        k0: usize,
        prior_mean: &SVector<T, D>,
        prior_scale: &SVector<T, D>,
        cov_diag: &SVector<T, D>,
        rng: &mut R,
    ) -> Result<(), Error> {
        // All-zero, as `new()` gives it (a memset, no temporary).
        *self = Self::BLANK;
        if k0 == 0 || k0 > K {
            return Err(Error::InvalidArgument { what: "k0 must be in 1..=K" });
        }
        if cov_diag.iter().any(|v| !(*v > T::zero()) || !v.finite()) {
            return Err(Error::InvalidArgument { what: "initial variances must be positive" });
        }
        let chol = SMatrix::<T, D, D>::from_diagonal(&cov_diag.map(|v| v.sqrt()));
        for _ in 0..k0 {
            let mut mean = *prior_mean;
            if k0 > 1 {
                let mut eps = SVector::<T, D>::zeros();
                fill_standard_normal(rng, eps.as_mut_slice());
                mean += prior_scale.component_mul(&eps);
            }
            if let Err(e) = self.push_chol(T::zero(), mean, &chol) {
                *self = Self::BLANK;
                return Err(e);
            }
        }
        Ok(())
    }

    /// The component capacity `K`.
    pub const fn capacity() -> usize {
        K
    }

    /// Number of active components.
    pub fn len(&self) -> usize {
        self.n
    }

    /// `true` if there is no active component.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Appends a component with unnormalised weight `weight` (> 0) next to the existing
    /// weights, which sum to 1, then re-normalises all weights. Returns its index.
    ///
    /// So adding weight 1 to a one-component mixture gives 1/2 each, and a third component
    /// with weight 1 gets 1/3 of the total only if given weight 1/2. For arbitrary weights, add
    /// the components and then call [`Self::set_log_weights`]:
    ///
    /// ```
    /// # use gmmvi::Gmm;
    /// # use nalgebra::{SMatrix, SVector};
    /// let mut q = Gmm::<f64, 1, 3>::new();
    /// for m in [-1.0, 0.0, 1.0] {
    ///     q.add_component(1.0, SVector::from([m]), &SMatrix::identity())?;
    /// }
    /// assert!((q.log_weights()[2].exp() - 0.5).abs() < 1e-12); // not 1/3
    /// q.set_log_weights(&[0.0, 0.0, 0.0])?; // now 1/3 each
    /// assert!((q.log_weights()[2].exp() - 1.0 / 3.0).abs() < 1e-12);
    /// # Ok::<(), gmmvi::Error>(())
    /// ```
    ///
    /// # Errors
    /// `CapacityFull`; `InvalidArgument` for a non-positive or non-finite weight or mean;
    /// `CholeskyFailed` if `cov` is not symmetric positive definite.
    pub fn add_component(&mut self, weight: T, mean: SVector<T, D>, cov: &SMatrix<T, D, D>) -> Result<usize, Error> {
        if !(weight > T::zero()) || !weight.finite() {
            return Err(Error::InvalidArgument { what: "weight must be positive and finite" });
        }
        let l = cholesky(cov).ok_or(Error::CholeskyFailed { component: self.n })?;
        self.push_chol(weight.ln(), mean, &l)
    }

    /// Appends a component given the log of its unnormalised weight and its Cholesky factor.
    pub(crate) fn push_chol(&mut self, log_w: T, mean: SVector<T, D>, l: &SMatrix<T, D, D>) -> Result<usize, Error> {
        if self.n >= K {
            return Err(Error::CapacityFull);
        }
        if mean.iter().any(|v| !v.finite()) || !log_w.finite() {
            return Err(Error::InvalidArgument { what: "non-finite mean or weight" });
        }
        let (l, comp) = factor_from_chol(&mean, l).ok_or(Error::CholeskyFailed { component: self.n })?;
        let k = self.n;
        self.log_w[k] = log_w;
        self.mean[k] = mean;
        self.chol[k] = l;
        self.comp[k] = comp;
        self.n += 1;
        self.normalize_weights();
        Ok(k)
    }

    /// Removes component `k`, keeping the order of the others, and re-normalises.
    pub fn remove_component(&mut self, k: usize) -> Result<(), Error> {
        if k >= self.n {
            return Err(Error::NoSuchComponent { index: k });
        }
        for i in k..self.n - 1 {
            self.log_w[i] = self.log_w[i + 1];
            self.mean[i] = self.mean[i + 1];
            self.chol[i] = self.chol[i + 1];
            self.comp[i] = self.comp[i + 1];
        }
        self.n -= 1;
        self.normalize_weights();
        Ok(())
    }

    /// The active components' parameters, one mutable part per component, so that tasks can
    /// replace components independently (weights unchanged).
    pub(crate) fn parts_mut(&mut self) -> impl Iterator<Item = ComponentMut<'_, T, D>> {
        let n = self.n;
        self.mean[..n]
            .iter_mut()
            .zip(&mut self.chol[..n])
            .zip(&mut self.comp[..n])
            .map(|((mean, chol), comp)| ComponentMut { mean, chol, comp })
    }

    /// Replaces all log weights by `v − logsumexp(v)` (docs/algorithm.md §0.1 "replace_weights").
    ///
    /// # Errors
    /// `InvalidArgument` if `v.len() != len()` or the result would not be finite; the weights
    /// are then unchanged.
    pub fn set_log_weights(&mut self, v: &[T]) -> Result<(), Error> {
        if v.len() != self.n || self.n == 0 {
            return Err(Error::InvalidArgument { what: "log-weight vector length" });
        }
        let lse = log_sum_exp(v);
        if !lse.finite() || v.iter().any(|x| !(*x - lse).finite()) {
            return Err(Error::InvalidArgument { what: "non-finite log weights" });
        }
        for (dst, &x) in self.log_w.iter_mut().zip(v) {
            *dst = x - lse;
        }
        Ok(())
    }

    pub(super) fn normalize_weights(&mut self) {
        let lse = log_sum_exp(&self.log_w[..self.n]);
        if lse.finite() {
            for lw in &mut self.log_w[..self.n] {
                *lw -= lse;
            }
        }
    }

    /// Log weights of the active components (normalised: `logsumexp = 0`).
    pub fn log_weights(&self) -> &[T] {
        &self.log_w[..self.n]
    }

    /// Mean of component `k`.
    pub fn mean(&self, k: usize) -> Option<&SVector<T, D>> {
        self.mean[..self.n].get(k)
    }

    /// Lower Cholesky factor of the covariance of component `k`.
    pub fn chol(&self, k: usize) -> Option<&SMatrix<T, D, D>> {
        self.chol[..self.n].get(k)
    }

    /// Covariance `L Lᵀ` of component `k`.
    pub fn covariance(&self, k: usize) -> Option<SMatrix<T, D, D>> {
        self.chol(k).map(|l| l * l.transpose())
    }

    /// Evaluation data of the active components.
    pub(crate) fn components(&self) -> &[Component<T, D>] {
        &self.comp[..self.n]
    }

    /// Entropy of component `k`: `(D/2)(log 2π + 1) + Σ_d log L[d,d]` (docs/algorithm.md §0.3).
    pub fn component_entropy(&self, k: usize) -> Option<T> {
        (k < self.n).then(|| T::of(0.5 * D as f64) - self.comp[k].log_norm)
    }

    /// `Σ_k w_k H_k`, the weighted mean of component entropies (docs/algorithm.md §0.3).
    pub fn average_entropy(&self) -> T {
        let mut h = T::zero();
        for k in 0..self.n {
            h += self.log_w[k].exp() * (T::of(0.5 * D as f64) - self.comp[k].log_norm);
        }
        h
    }

    /// `log N(x; μ_k, Σ_k)`; `-inf` for an inactive `k`.
    pub fn component_log_density(&self, k: usize, x: &SVector<T, D>) -> T {
        if k >= self.n {
            return T::NEG_INF;
        }
        let mut z = SVector::<T, D>::zeros();
        self.comp[k].log_density(x, &mut z)
    }

    /// `log q(x)` (`-inf` for an empty mixture).
    pub fn log_density(&self, x: &SVector<T, D>) -> T {
        let mut vals = [T::zero(); K];
        let mut ub = [T::zero(); K];
        log_mix(self.components(), self.log_weights(), x, &mut vals, &mut ub)
    }

    /// `out[i] = log q(xs[i])` for every point (`min(xs.len(), out.len())` of them), with the
    /// pruning and dense kernel of the optimiser's hot loops: much faster than calling
    /// [`Self::log_density`] per point when the points are clustered.
    pub fn log_density_many(&self, xs: &[SVector<T, D>], out: &mut [T]) {
        let mut ub = [T::zero(); K];
        let mut idx = [0usize; K];
        let (comps, lw) = (self.components(), self.log_weights());
        // Candidates once per TARGET_BLOCK points, dense evaluation per CHUNK.
        for (xb, ob) in xs.chunks(TARGET_BLOCK).zip(out.chunks_mut(TARGET_BLOCK)) {
            let (mut lo, mut hi) = (xb[0], xb[0]);
            for x in xb {
                lo = lo.inf(x);
                hi = hi.sup(x);
            }
            let c = block_candidates(comps, lw, xb, &lo, &hi, &mut ub, &mut idx);
            for (xc, oc) in xb.chunks(CHUNK).zip(ob.chunks_mut(CHUNK)) {
                let lse = chunk_mixture(comps, lw, &idx[..c], &Chunk::load(xc), None);
                for (r, o) in oc.iter_mut().enumerate() {
                    *o = lse.lse(r);
                }
            }
        }
    }

    /// Writes `log N(x; μ_k, Σ_k)` for every active `k` into `out[k]` and returns `log q(x)`.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out.len() < len()`.
    pub fn component_log_densities(&self, x: &SVector<T, D>, out: &mut [T]) -> Result<T, Error> {
        let out = out.get_mut(..self.n).ok_or(Error::BufferTooSmall { needed: self.n })?;
        let mut m = T::NEG_INF;
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.component_log_density(k, x);
            m = m.max(*o + self.log_w[k]);
        }
        if !m.finite() {
            return Ok(m);
        }
        let mut s = T::zero();
        for (k, o) in out.iter().enumerate() {
            s += (*o + self.log_w[k] - m).exp();
        }
        Ok(m + s.ln())
    }

    /// `log q(x)` and its gradient `Σ_k r_k(x)·(−Σ_k⁻¹(x − μ_k))` (docs/algorithm.md §0.2).
    /// Components whose responsibility is below the scalar's precision relative to the largest are
    /// skipped.
    pub fn log_density_and_grad(&self, x: &SVector<T, D>, grad: &mut SVector<T, D>) -> T {
        let mut vals = [T::zero(); K];
        let mut ub = [T::zero(); K];
        let lq = log_mix(self.components(), self.log_weights(), x, &mut vals, &mut ub);
        grad.fill(T::zero());
        if !lq.finite() {
            return lq;
        }
        let mut z = SVector::<T, D>::zeros();
        let mut d = SVector::<T, D>::zeros();
        for (k, &v) in vals.iter().enumerate().take(self.n) {
            let a = self.log_w[k] + v;
            if a < lq - T::NEGLIGIBLE_LOG {
                continue;
            }
            let r = (a - lq).exp();
            self.comp[k].log_density(x, &mut z);
            self.comp[k].unwhiten_t(&z, &mut d);
            *grad -= d * r;
        }
        lq
    }

    /// Draws one sample of component `k`: `μ_k + L_k ε` (docs/algorithm.md §0.4).
    pub fn sample_component<R: Rng + ?Sized>(&self, k: usize, rng: &mut R) -> Option<SVector<T, D>> {
        if k >= self.n {
            return None;
        }
        let mut eps = SVector::<T, D>::zeros();
        fill_standard_normal(rng, eps.as_mut_slice());
        if self.comp[k].diag {
            let l = &self.chol[k];
            return Some(SVector::from_fn(|d, _| self.mean[k][d] + l[(d, d)] * eps[d]));
        }
        Some(SVector::from_fn(|i, _| self.mean[k][i] + lower_row_times(&self.chol[k], i, &eps)))
    }

    /// Index of the component for a uniform draw `u ∈ [0, 1)` by inverse CDF on the weights
    /// (clamped to the last component when rounding leaves `u` above the total, docs/algorithm.md
    /// §0.4). The cumulative weights are kept in `cum` (`known` of them computed so far; start
    /// at 0) for the next draws of one call: each is summed once, in component order.
    pub(crate) fn component_for(&self, u: T, cum: &mut [T; K], known: &mut usize) -> usize {
        for k in 0..self.n {
            if k == *known {
                let prev = if k == 0 { T::zero() } else { cum[k - 1] };
                cum[k] = prev + self.log_w[k].exp();
                *known += 1;
            }
            if u < cum[k] {
                return k;
            }
        }
        self.n.saturating_sub(1)
    }

    /// Fills `out` with samples from the mixture (component by inverse CDF, then
    /// `μ_k + L_k ε`); returns the number written (0 for an empty mixture).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [SVector<T, D>]) -> usize {
        if self.n == 0 {
            return 0;
        }
        let (mut cum, mut known) = ([T::zero(); K], 0);
        for o in out.iter_mut() {
            let k = self.component_for(uniform_in(rng), &mut cum, &mut known);
            if let Some(x) = self.sample_component(k, rng) {
                *o = x;
            }
        }
        out.len()
    }

    /// Monte-Carlo ELBO `mean_s[log p~(x_s) − log q(x_s)]` over `n` samples of `q`
    /// (docs/algorithm.md §1.3, `T = 1`), evaluated in blocks of [`TARGET_BLOCK`].
    /// Samples whose target value is not finite are left out of the mean.
    ///
    /// # Errors
    /// `TargetFailed` if the target fails; `NonFiniteTarget` if no sample had a finite value;
    /// `InvalidArgument` for an empty mixture or `n == 0`.
    pub fn elbo<P: Target<T, D> + ?Sized, R: Rng + ?Sized>(
        &self,
        target: &mut P,
        rng: &mut R,
        n: usize,
    ) -> Result<T, Error> {
        if self.n == 0 || n == 0 {
            return Err(Error::InvalidArgument { what: "elbo needs components and samples" });
        }
        let mut xs = [SVector::<T, D>::zeros(); TARGET_BLOCK];
        let mut lp = [T::zero(); TARGET_BLOCK];
        let mut lq = [T::zero(); TARGET_BLOCK];
        let mut sum = 0.0f64;
        let mut count = 0usize;
        let mut left = n;
        while left > 0 {
            let b = left.min(TARGET_BLOCK);
            self.sample(rng, &mut xs[..b]);
            target.log_density(&xs[..b], &mut lp[..b])?;
            self.log_density_many(&xs[..b], &mut lq[..b]);
            for i in 0..b {
                let v = lp[i] - lq[i];
                if v.finite() {
                    sum += v.to_f64();
                    count += 1;
                }
            }
            left -= b;
        }
        if count == 0 {
            return Err(Error::NonFiniteTarget);
        }
        Ok(T::of(sum / count as f64))
    }
}

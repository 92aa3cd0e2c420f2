//! Marginals and conditionals of a [`Gmm`] in closed form, in fixed-size storage.
//!
//! Both come from one factorisation per component: for an ordering `P` of the coordinates
//! (first the ones a marginal keeps, or the given ones of a conditional), the lower Cholesky
//! factor `L'` of `P Σ Pᵀ` is obtained from `L` by a Householder QR of `(P L)ᵀ`
//! (`P Σ Pᵀ = (P L)(P L)ᵀ = Rᵀ R`), without forming `Σ`. Partitioned as
//! `L' = [[L_bb, 0], [L_ab, L_aa]]` (`b` first), `L_bb` is the factor of the marginal `Σ_bb`,
//! `L_aa` the factor of the Schur complement `Σ_aa − Σ_ab Σ_bb⁻¹ Σ_ba`, and
//! `Σ_ab Σ_bb⁻¹ (x_b − μ_b) = L_ab L_bb⁻¹ (x_b − μ_b)`.

use nalgebra::{Dyn, MatrixView, SMatrix, SVector, U1};
use rand_core::Rng;

use crate::error::Error;
use crate::real::{LN_2PI, Real};
use crate::rng::uniform_in;

use super::gmm::Gmm;

/// A Gaussian mixture over `dim()` of the `D` coordinates of a [`Gmm<T, D, K>`]: what
/// [`Gmm::marginal`] and [`Gmm::conditional`] write. Same fixed size for every `dim`, so one
/// value (or one C buffer) holds any of them.
///
/// Points are always full `D`-vectors in the original coordinates: [`Self::log_density`] reads
/// the coordinates listed by [`Self::coords`] and ignores the others, and [`Self::sample`]
/// writes exactly those and leaves the others as they are. For a conditional, a vector that
/// already holds the given values thus comes back as a complete configuration.
///
/// ```
/// use gmmvi::{Gmm, SubGmm};
/// use nalgebra::{SMatrix, SVector};
/// use rand_core::SeedableRng;
/// let mut q = Gmm::<f64, 2, 2>::new();
/// let cov = SMatrix::<f64, 2, 2>::new(1.0, 0.8, 0.8, 1.0);
/// q.add_component(1.0, SVector::from([0.0, 0.0]), &cov)?;
/// // Coordinate 1 is known to be 1.0: x_0 | x_1 = 1 is N(0.8, 1 − 0.8²).
/// let mut x = SVector::from([0.0, 1.0]);
/// let mut c = SubGmm::new();
/// q.conditional(&[1], &x, &mut c)?;
/// assert_eq!(c.coords(), &[0]);
/// assert!((c.mean(0).unwrap()[0] - 0.8).abs() < 1e-12);
/// assert!((c.chol(0).unwrap()[(0, 0)] - 0.6).abs() < 1e-12);
/// let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
/// c.sample(&mut rng, core::slice::from_mut(&mut x));
/// assert_eq!(x[1], 1.0); // the given coordinate is kept
/// # Ok::<(), gmmvi::Error>(())
/// ```
///
/// Storage: the free coordinates are packed into the first `dim` slots of a `Gmm<T, D, K>`
/// whose remaining `D − dim` slots hold an independent standard normal (mean 0, unit factor);
/// densities remove its constant, and samples drop those slots.
#[derive(Clone, Debug)]
pub struct SubGmm<T: Real, const D: usize, const K: usize> {
    dim: usize,
    coords: [usize; D],
    packed: Gmm<T, D, K>,
}

impl<T: Real, const D: usize, const K: usize> Default for SubGmm<T, D, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const D: usize, const K: usize> SubGmm<T, D, K> {
    /// An empty mixture over no coordinate (what a failed marginal or conditional leaves).
    pub fn new() -> Self {
        Self { dim: 0, coords: [0; D], packed: Gmm::new() }
    }

    fn clear(&mut self) {
        self.dim = 0;
        self.coords = [0; D];
        self.packed = Gmm::BLANK;
    }

    /// Number of coordinates the mixture is over.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The original coordinates the mixture is over, in the order of its packed means and
    /// factors (the kept order of a marginal; ascending for a conditional).
    pub fn coords(&self) -> &[usize] {
        &self.coords[..self.dim]
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.packed.len()
    }

    /// `true` if there is no component.
    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Normalised log weights.
    pub fn log_weights(&self) -> &[T] {
        self.packed.log_weights()
    }

    /// Mean of component `k`: `dim()` values, entry `i` for coordinate `coords()[i]`.
    pub fn mean(&self, k: usize) -> Option<&[T]> {
        self.packed.mean(k).map(|m| &m.as_slice()[..self.dim])
    }

    /// Lower Cholesky factor (`dim() × dim()`) of the covariance of component `k`, in the order
    /// of [`Self::coords`].
    pub fn chol(&self, k: usize) -> Option<MatrixView<'_, T, Dyn, Dyn, U1, nalgebra::Const<D>>> {
        self.packed.chol(k).map(|l| l.view((0, 0), (self.dim, self.dim)))
    }

    /// `x` restricted to the coordinates of the mixture, packed, and zero in the padding slots.
    fn pack(&self, x: &SVector<T, D>) -> SVector<T, D> {
        let mut p = SVector::<T, D>::zeros();
        for (dst, &c) in p.iter_mut().zip(self.coords()) {
            *dst = x[c];
        }
        p
    }

    /// `log q(x_a)` of the coordinates `a = coords()` of `x` (the others are not read);
    /// `-inf` for an empty mixture.
    pub fn log_density(&self, x: &SVector<T, D>) -> T {
        let pad = T::of(0.5 * (D - self.dim) as f64 * LN_2PI);
        self.packed.log_density(&self.pack(x)) + pad
    }

    /// Writes a sample of the mixture into the coordinates `coords()` of every vector of `out`,
    /// leaving their other coordinates unchanged; returns the number written (0 if empty).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [SVector<T, D>]) -> usize {
        if self.packed.is_empty() {
            return 0;
        }
        let (mut cum, mut known) = ([T::zero(); K], 0);
        for o in out.iter_mut() {
            let k = self.packed.component_for(uniform_in(rng), &mut cum, &mut known);
            if let Some(p) = self.packed.sample_component(k, rng) {
                for (i, &c) in self.coords().iter().enumerate() {
                    o[c] = p[i];
                }
            }
        }
        out.len()
    }
}

/// Marks the coordinates of `idx` in `seen`; `InvalidArgument` for an empty list, an index
/// `≥ D` or a repeated one.
fn mark<const D: usize>(idx: &[usize], seen: &mut [bool; D]) -> Result<(), Error> {
    if idx.is_empty() {
        return Err(Error::InvalidArgument { what: "empty coordinate list" });
    }
    for &c in idx {
        let s = seen.get_mut(c).ok_or(Error::InvalidArgument { what: "coordinate index out of range" })?;
        if *s {
            return Err(Error::InvalidArgument { what: "coordinate index repeated" });
        }
        *s = true;
    }
    Ok(())
}

/// `first` followed by the coordinates not in `seen`, ascending; returns the order.
fn order_with<const D: usize>(first: &[usize], seen: &[bool; D]) -> [usize; D] {
    let mut order = [0usize; D];
    let mut n = 0;
    for (&c, o) in first.iter().zip(order.iter_mut()) {
        *o = c;
        n += 1;
    }
    for (c, _) in seen.iter().enumerate().filter(|(_, s)| !**s) {
        if let Some(o) = order.get_mut(n) {
            *o = c;
            n += 1;
        }
    }
    order
}

/// The lower Cholesky factor of `P L Lᵀ Pᵀ`, where row `i` of `P L` is row `order[i]` of `L`:
/// Householder QR of `A = (P L)ᵀ`, then `L' = Rᵀ` with the signs chosen so that its diagonal is
/// positive. `None` if a diagonal entry is not positive and finite (a singular covariance).
fn permuted_factor<T: Real, const D: usize>(l: &SMatrix<T, D, D>, order: &[usize; D]) -> Option<SMatrix<T, D, D>> {
    // a[(i, j)] = L[order[j], i]
    let mut a = SMatrix::<T, D, D>::from_fn(|i, j| l[(order[j] % D, i)]);
    for c in 0..D {
        let mut norm2 = T::zero();
        for i in c..D {
            norm2 += a[(i, c)] * a[(i, c)];
        }
        let norm = norm2.sqrt();
        if !(norm > T::zero()) || !norm.finite() {
            return None;
        }
        // Reflect column c onto alpha e_c, alpha = −sign(a_cc)·‖a_c‖ (no cancellation in v_c).
        let alpha = if a[(c, c)] > T::zero() { -norm } else { norm };
        let mut v = SVector::<T, D>::zeros();
        for i in c..D {
            v[i] = a[(i, c)];
        }
        v[c] -= alpha;
        let vv = norm2 - a[(c, c)] * a[(c, c)] + v[c] * v[c];
        if vv > T::zero() {
            for j in c + 1..D {
                let mut s = T::zero();
                for i in c..D {
                    s += v[i] * a[(i, j)];
                }
                let f = T::of(2.0) * s / vv;
                for i in c..D {
                    a[(i, j)] -= f * v[i];
                }
            }
        }
        a[(c, c)] = alpha;
        for i in c + 1..D {
            a[(i, c)] = T::zero();
        }
    }
    // L' = Rᵀ, column c negated where R_cc < 0.
    let mut lp = SMatrix::<T, D, D>::zeros();
    for c in 0..D {
        let s = if a[(c, c)] < T::zero() { -T::one() } else { T::one() };
        for j in c..D {
            lp[(j, c)] = s * a[(c, j)];
        }
    }
    lp.iter().all(|v| v.finite()).then_some(lp)
}

/// `D × D` storage of a `dim × dim` block of `lp` (top-left at `(off, off)`), the identity
/// elsewhere; its mean counterpart is packed by the caller.
fn padded_block<T: Real, const D: usize>(lp: &SMatrix<T, D, D>, off: usize, dim: usize) -> SMatrix<T, D, D> {
    SMatrix::from_fn(|i, j| {
        if i < dim && j < dim {
            lp[((off + i) % D, (off + j) % D)]
        } else if i == j {
            T::one()
        } else {
            T::zero()
        }
    })
}

impl<T: Real, const D: usize, const K: usize> Gmm<T, D, K> {
    /// The marginal over the coordinates `keep` (in that order) into `out`: the same weights,
    /// the means restricted to `keep`, and per component the Cholesky factor of `Σ_keep,keep`,
    /// obtained from `L` by an orthogonal reduction (O(D³), no covariance is formed).
    ///
    /// # Errors
    /// `InvalidArgument` for an empty mixture, an empty `keep`, an index `≥ D` or a repeated
    /// one; `CholeskyFailed` if a restricted covariance is numerically singular. `out` is then
    /// empty.
    pub fn marginal(&self, keep: &[usize], out: &mut SubGmm<T, D, K>) -> Result<(), Error> {
        out.clear();
        let r = self.marginal_into(keep, out);
        if r.is_err() {
            out.clear();
        }
        r
    }

    fn marginal_into(&self, keep: &[usize], out: &mut SubGmm<T, D, K>) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::InvalidArgument { what: "empty mixture" });
        }
        let mut seen = [false; D];
        mark(keep, &mut seen)?;
        let order = order_with(keep, &seen);
        let m = keep.len();
        for k in 0..self.n {
            let lp = permuted_factor(&self.chol[k], &order).ok_or(Error::CholeskyFailed { component: k })?;
            let mean = SVector::<T, D>::from_fn(|i, _| if i < m { self.mean[k][order[i] % D] } else { T::zero() });
            out.packed
                .push_chol(T::zero(), mean, &padded_block(&lp, 0, m))
                .map_err(|_| Error::CholeskyFailed { component: k })?;
        }
        out.packed.set_log_weights(self.log_weights())?;
        out.dim = m;
        out.coords = order;
        Ok(())
    }

    /// The conditional of the other coordinates given the values `x[i]` of the coordinates
    /// `i ∈ given` (the other entries of `x` are not read) into `out`, over the free coordinates
    /// in ascending order. Per component, with `a` free and `b` given:
    /// mean `μ_a + Σ_ab Σ_bb⁻¹ (x_b − μ_b)`, covariance `Σ_aa − Σ_ab Σ_bb⁻¹ Σ_ba` (both through
    /// the reordered Cholesky factor, see the module docs), and weight
    /// `∝ w_k N(x_b; μ_b, Σ_bb)`, normalised in log space. A component whose weight underflows
    /// even in log space is left out.
    ///
    /// # Errors
    /// `InvalidArgument` for an empty mixture, an empty `given`, an index `≥ D` or a repeated
    /// one, every coordinate given, or a non-finite given value; `CholeskyFailed` if a reordered
    /// covariance is numerically singular. `out` is then empty.
    pub fn conditional(&self, given: &[usize], x: &SVector<T, D>, out: &mut SubGmm<T, D, K>) -> Result<(), Error> {
        out.clear();
        let r = self.conditional_into(given, x, out);
        if r.is_err() {
            out.clear();
        }
        r
    }

    fn conditional_into(&self, given: &[usize], x: &SVector<T, D>, out: &mut SubGmm<T, D, K>) -> Result<(), Error> {
        if self.is_empty() {
            return Err(Error::InvalidArgument { what: "empty mixture" });
        }
        let mut seen = [false; D];
        mark(given, &mut seen)?;
        let nb = given.len();
        if nb >= D {
            return Err(Error::InvalidArgument { what: "every coordinate is given: nothing left to condition" });
        }
        if given.iter().any(|&c| !x[c % D].finite()) {
            return Err(Error::InvalidArgument { what: "non-finite given value" });
        }
        let order = order_with(given, &seen);
        let na = D - nb;
        let norm_b = T::of(0.5 * nb as f64 * LN_2PI);
        let mut raw = [T::zero(); K];
        let mut kept = 0;
        for k in 0..self.n {
            let lp = permuted_factor(&self.chol[k], &order).ok_or(Error::CholeskyFailed { component: k })?;
            // z = L_bb⁻¹ (x_b − μ_b), forward substitution.
            let mut z = SVector::<T, D>::zeros();
            let mut sq = T::zero();
            let mut log_det_half = T::zero();
            for i in 0..nb {
                let c = order[i] % D;
                let mut s = x[c] - self.mean[k][c];
                for j in 0..i {
                    s -= lp[(i, j)] * z[j];
                }
                z[i] = s / lp[(i, i)];
                sq += z[i] * z[i];
                log_det_half += lp[(i, i)].ln();
            }
            let lw = self.log_w[k] - T::of(0.5) * sq - log_det_half - norm_b;
            if !lw.finite() {
                continue;
            }
            let mean = SVector::<T, D>::from_fn(|r, _| {
                if r >= na {
                    return T::zero();
                }
                let mut s = self.mean[k][order[nb + r] % D];
                for j in 0..nb {
                    s += lp[(nb + r, j)] * z[j];
                }
                s
            });
            out.packed
                .push_chol(T::zero(), mean, &padded_block(&lp, nb, na))
                .map_err(|_| Error::CholeskyFailed { component: k })?;
            raw[kept] = lw;
            kept += 1;
        }
        if kept == 0 {
            return Err(Error::InvalidArgument { what: "given values have zero density under every component" });
        }
        out.packed.set_log_weights(&raw[..kept])?;
        out.dim = na;
        out.coords = [0; D];
        for (dst, &c) in out.coords.iter_mut().zip(&order[nb..]) {
            *dst = c;
        }
        Ok(())
    }
}

//! Bounded supports: per-coordinate intervals `[lo, hi]`, `[lo, ∞)`, `(−∞, hi]` or `R`, mixed
//! freely (docs/algorithm.md §15).
//!
//! The optimiser fits its mixture `q_Y` in an unconstrained space `y ∈ R^D` and maps every
//! coordinate through a smooth bijection onto its interval:
//!
//! * two-sided: `x = lo + (hi − lo)·σ(y)` (the scaled logistic),
//! * lower bound only: `x = lo + softplus(y)`, upper bound only: `x = hi − softplus(−y)`,
//! * unbounded: `x = y`.
//!
//! Softplus rather than `exp` for one-sided coordinates: it is the identity far from the bound,
//! so a target that looks Gaussian away from its bound stays Gaussian in `y` (an exponential
//! map would turn it into a log-normal with a heavy tail), the map never overflows for large
//! `y`, and its log-Jacobian `log σ(y)` and its derivative lie in `(−∞, 0]` and `(0, 1)`.
//!
//! The target is always evaluated at `x`; the optimiser adds `log|dx/dy|` to its log density
//! and applies the chain rule to its gradient. The density of the constrained model is
//! `log q_X(x) = log q_Y(y(x)) − log|dx/dy|`, and `−∞` on or outside a bound.
//!
//! **Open intervals.** Every mapped point lies strictly inside its interval: where the map
//! rounds onto a bound (`σ(y)` rounding to 0 or 1 in `f32`, or `lo + softplus(y) == lo`), the
//! value is clamped to the nearest representable number inside. A target may therefore
//! evaluate terms such as `ln(x − lo)` without guarding against the bound.

use nalgebra::SVector;
use rand_core::Rng;

use crate::error::{Error, TargetError};
use crate::model::Gmm;
use crate::real::{Real, max_num, min_num};
use crate::target::{TARGET_BLOCK, Target};

/// Per-coordinate bounds of the target's support: `lo[i] = −∞` and `hi[i] = +∞` leave that
/// side open. Every optimiser starts [`Bounds::unbounded`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bounds<T: Real, const D: usize> {
    lo: [T; D],
    hi: [T; D],
}

impl<T: Real, const D: usize> Default for Bounds<T, D> {
    fn default() -> Self {
        Self::unbounded()
    }
}

/// `softplus(y) = ln(1 + eʸ)` without overflow or cancellation.
#[inline]
fn softplus<T: Real>(y: T) -> T {
    y.max(T::zero()) + (-y.abs()).exp().ln_1p()
}

/// The logistic function `σ(y) = 1/(1 + e⁻ʸ)`, accurate in both tails.
#[inline]
fn sigmoid<T: Real>(y: T) -> T {
    if y >= T::zero() {
        T::one() / (T::one() + (-y).exp())
    } else {
        let e = y.exp();
        e / (T::one() + e)
    }
}

/// `(σ(y), σ(−y), softplus(y), softplus(−y))`, the same values bit for bit as [`sigmoid`] and
/// [`softplus`] of `±y` (every one of them takes `e^{−|y|}`), with one `exp` and one `ln_1p`.
#[inline]
fn logistic<T: Real>(y: T) -> (T, T, T, T) {
    let e = (-y.abs()).exp();
    let p = T::one() + e;
    // At y = ±0 both are 1/2 (e = 1); NaN takes the second arm, NaN either way.
    let (s, sm) = if y >= T::zero() { (T::one() / p, e / p) } else { (e / p, T::one() / p) };
    let l = e.ln_1p();
    (s, sm, max_num(y, T::zero()) + l, max_num(-y, T::zero()) + l)
}

/// `min_num(a, b)` for a `b` that is not NaN (a finite bound's inner end), one comparison less.
#[inline(always)]
fn min_below<T: Real>(a: T, b: T) -> T {
    if a < b { a } else { b }
}

/// `softplus⁻¹(d) = ln(eᵈ − 1) = d + ln(1 − e⁻ᵈ)` for `d > 0`, stable for tiny and huge `d`,
/// and `ln σ(softplus⁻¹(d)) = ln(1 − e⁻ᵈ)`, the one-sided log-Jacobian at that point.
#[inline]
fn inv_softplus<T: Real>(d: T) -> (T, T) {
    let log_j = (-(-d).exp_m1()).ln();
    (d + log_j, log_j)
}

impl<T: Real, const D: usize> Bounds<T, D> {
    /// All-zero bytes (see `Optimizer::BLANK`); not valid bounds until overwritten.
    pub(crate) const BLANK: Self = Self { lo: [T::ZERO_CONST; D], hi: [T::ZERO_CONST; D] };

    /// No bounds: every coordinate on `R` (the map is the identity).
    pub fn unbounded() -> Self {
        Self { lo: [T::NEG_INF; D], hi: [T::INFINITY; D] }
    }

    /// Bounds `lo[i] < x_i < hi[i]`; `−∞`/`+∞` for an open side. Both slices have `D` entries.
    ///
    /// # Errors
    /// `InvalidArgument` for a slice length other than `D`, a NaN, `lo[i] ≥ hi[i]` (also
    /// `lo = +∞` or `hi = −∞`), an interval without a finite representable value strictly inside
    /// (also `lo` = the largest finite value with `hi = +∞`), or a width `hi − lo` that overflows.
    pub fn new(lo: &[T], hi: &[T]) -> Result<Self, Error> {
        if lo.len() != D || hi.len() != D {
            return Err(Error::InvalidArgument { what: "bounds need D lower and D upper values" });
        }
        let mut b = Self::unbounded();
        for i in 0..D {
            let (l, h) = (lo[i], hi[i]);
            if !(l < h) {
                return Err(Error::InvalidArgument { what: "bounds need lo < hi (and no NaN)" });
            }
            // A finite value strictly inside: also for one-sided bounds at the end of the
            // range (`lo = MAX` leaves only +∞ above it).
            let inside = (!l.finite() || (l.next_up().finite() && l.next_up() < h))
                && (!h.finite() || (h.next_down().finite() && l < h.next_down()));
            if !inside || (l.finite() && h.finite() && !(h - l).finite()) {
                return Err(Error::InvalidArgument {
                    what: "bounds need a finite width hi - lo with a finite value strictly inside",
                });
            }
            b.lo[i] = l;
            b.hi[i] = h;
        }
        Ok(b)
    }

    /// The lower bounds (`−∞` where open).
    pub fn lower(&self) -> &[T; D] {
        &self.lo
    }

    /// The upper bounds (`+∞` where open).
    pub fn upper(&self) -> &[T; D] {
        &self.hi
    }

    /// `true` if no coordinate is bounded (the maps are the identity).
    pub fn is_unbounded(&self) -> bool {
        self.lo.iter().zip(&self.hi).all(|(l, h)| !l.finite() && !h.finite())
    }

    /// `true` if `x` lies strictly inside the bounds (NaN is outside).
    pub fn contains(&self, x: &SVector<T, D>) -> bool {
        (0..D).all(|i| self.lo[i] < x[i] && x[i] < self.hi[i])
    }

    /// Coordinate `i`'s Jacobian terms at `y`: `dx_i/dy_i`, `log|dx_i/dy_i|` and its
    /// derivative; `log_w` is `ln(hi − lo)` of a two-sided coordinate ([`Self::log_widths`]).
    /// One `exp` and one `ln_1p` serve σ(±y) and softplus(±y) ([`logistic`]).
    #[inline]
    fn jac1(&self, i: usize, y: T, log_w: T) -> (T, T, T) {
        match (self.lo[i].finite(), self.hi[i].finite()) {
            (false, false) => (T::one(), T::zero(), T::zero()),
            (true, false) => {
                let (s, sm, _, sp_neg) = logistic(y);
                (s, -sp_neg, sm)
            }
            (false, true) => {
                let (s, sm, sp, _) = logistic(y);
                (sm, -sp, -s)
            }
            (true, true) => {
                let w = self.hi[i] - self.lo[i];
                let (s, sm, sp, sp_neg) = logistic(y);
                (w * s * sm, log_w - sp - sp_neg, sm - s)
            }
        }
    }

    /// `ln(hi_i − lo_i)` of every two-sided coordinate (0 elsewhere), for [`Self::jac1`].
    fn log_widths(&self) -> [T; D] {
        core::array::from_fn(|i| {
            let (lo, hi) = (self.lo[i], self.hi[i]);
            if lo.finite() && hi.finite() { (hi - lo).ln() } else { T::zero() }
        })
    }

    /// Coordinate `i`'s map `x_i(y)`: strictly inside the interval for any `y`. Apart from
    /// [`Self::jac1`]: sampling and the target's points need no Jacobian.
    #[inline]
    fn x1(&self, i: usize, y: T) -> T {
        self.x1_within(i, y, self.lo[i].next_up(), self.hi[i].next_down())
    }

    /// [`Self::x1`] with the values next inside the bounds, `lo_in = lo.next_up()` and
    /// `hi_in = hi.next_down()`, given ([`Self::inner_ends`]): many points share them.
    #[inline]
    fn x1_within(&self, i: usize, y: T, lo_in: T, hi_in: T) -> T {
        let (lo, hi) = (self.lo[i], self.hi[i]);
        match (lo.finite(), hi.finite()) {
            (false, false) => y,
            (true, false) => min_num(max_num(lo + softplus(y), lo_in), T::MAX_FINITE),
            (false, true) => max_num(min_below(hi - softplus(-y), hi_in), -T::MAX_FINITE),
            (true, true) => {
                let w = hi - lo;
                let x = if y < T::zero() { lo + w * sigmoid(y) } else { hi - w * sigmoid(-y) };
                min_below(max_num(x, lo_in), hi_in)
            }
        }
    }

    /// The representable values next inside every bound: `(lo.next_up(), hi.next_down())`.
    fn inner_ends(&self) -> ([T; D], [T; D]) {
        (self.lo.map(T::next_up), self.hi.map(T::next_down))
    }

    /// Maps `y` to `x(y)` in place, with the ends from [`Self::inner_ends`].
    #[inline]
    fn constrain_in_place(&self, y: &mut SVector<T, D>, ends: &([T; D], [T; D])) {
        for i in 0..D {
            y[i] = self.x1_within(i, y[i], ends.0[i], ends.1[i]);
        }
    }

    /// The constrained point `x(y)`, strictly inside the bounds for any `y`.
    pub fn to_constrained(&self, y: &SVector<T, D>) -> SVector<T, D> {
        SVector::from_fn(|i, _| self.x1(i, y[i]))
    }

    /// `log|det dx/dy|` at the unconstrained point `y` (0 when unbounded).
    pub fn log_jacobian(&self, y: &SVector<T, D>) -> T {
        let log_w = self.log_widths();
        let mut s = T::zero();
        for i in 0..D {
            s += self.jac1(i, y[i], log_w[i]).1;
        }
        s
    }

    /// The unconstrained point `y(x)` and `log|det dx/dy|` there, computed from `x` (more
    /// accurate near a bound than going through `y`); `None` unless `x` is strictly inside.
    pub fn to_unconstrained_with_log_jacobian(&self, x: &SVector<T, D>) -> Option<(SVector<T, D>, T)> {
        if !self.contains(x) {
            return None;
        }
        let mut y = *x;
        let mut log_j = T::zero();
        for i in 0..D {
            let (lo, hi, xi) = (self.lo[i], self.hi[i], x[i]);
            match (lo.finite(), hi.finite()) {
                (false, false) => {}
                (true, false) => {
                    let (yi, lj) = inv_softplus(xi - lo);
                    y[i] = yi;
                    log_j += lj;
                }
                (false, true) => {
                    let (yi, lj) = inv_softplus(hi - xi);
                    y[i] = -yi;
                    log_j += lj;
                }
                (true, true) => {
                    let (a, b) = ((xi - lo).ln(), (hi - xi).ln());
                    y[i] = a - b;
                    log_j += a + b - (hi - lo).ln();
                }
            }
        }
        let finite = y.iter().all(|v| v.finite()) && log_j.finite();
        finite.then_some((y, log_j))
    }

    /// The unconstrained point `y(x)`; `None` unless `x` is strictly inside the bounds.
    pub fn to_unconstrained(&self, x: &SVector<T, D>) -> Option<SVector<T, D>> {
        self.to_unconstrained_with_log_jacobian(x).map(|(y, _)| y)
    }

    /// `log q_X(x) = log q_Y(y(x)) − log|det dx/dy|` of the mixture `q` over `y`; `−∞` on or
    /// outside the bounds.
    pub fn log_density<const K: usize>(&self, q: &Gmm<T, D, K>, x: &SVector<T, D>) -> T {
        match self.to_unconstrained_with_log_jacobian(x) {
            Some((y, log_j)) => q.log_density(&y) - log_j,
            None => T::NEG_INF,
        }
    }

    /// `out[i] = log q_X(xs[i])` for every point (`min(xs.len(), out.len())` of them) with the
    /// batched kernel of [`Gmm::log_density_many`]; `−∞` on or outside the bounds.
    pub fn log_density_many<const K: usize>(&self, q: &Gmm<T, D, K>, xs: &[SVector<T, D>], out: &mut [T]) {
        if self.is_unbounded() {
            q.log_density_many(xs, out);
            return;
        }
        let mut ys = [SVector::<T, D>::zeros(); TARGET_BLOCK];
        let mut log_j = [T::zero(); TARGET_BLOCK];
        for (xb, ob) in xs.chunks(TARGET_BLOCK).zip(out.chunks_mut(TARGET_BLOCK)) {
            let n = xb.len().min(ob.len());
            for i in 0..n {
                // Outside: any finite point for the kernel; the result is replaced below.
                (ys[i], log_j[i]) =
                    self.to_unconstrained_with_log_jacobian(&xb[i]).unwrap_or((SVector::zeros(), T::INFINITY));
            }
            q.log_density_many(&ys[..n], &mut ob[..n]);
            for (o, lj) in ob[..n].iter_mut().zip(&log_j[..n]) {
                *o = if lj.finite() { *o - *lj } else { T::NEG_INF };
            }
        }
    }

    /// Draws from the mixture `q` over `y` and maps every draw into the bounds; returns the
    /// number written (0 for an empty mixture).
    pub fn sample<const K: usize, R: Rng + ?Sized>(
        &self,
        q: &Gmm<T, D, K>,
        rng: &mut R,
        out: &mut [SVector<T, D>],
    ) -> usize {
        let n = q.sample(rng, out);
        if !self.is_unbounded() {
            let ends = self.inner_ends();
            for x in &mut out[..n] {
                self.constrain_in_place(x, &ends);
            }
        }
        n
    }
}

/// Reads an exported model with or without bounds ([`crate::Optimizer::export_model`],
/// [`Gmm::export`]) into `q` (the mixture over the unconstrained space) and `bounds`
/// (unbounded for a mixture alone), e.g. to sample a host-fitted model on a device with
/// [`Bounds::sample`]. Nothing changes on error.
///
/// # Errors
/// As [`Gmm::import`]; also `BadCheckpoint` for bounds that are invalid in `T`.
pub fn import_model<T: Real, const D: usize, const K: usize>(
    bytes: &[u8],
    q: &mut Gmm<T, D, K>,
    bounds: &mut Bounds<T, D>,
) -> Result<(), Error> {
    let b = q.import_checked(bytes, false, true)?;
    *bounds = b.unwrap_or_else(Bounds::unbounded);
    Ok(())
}

/// A target over `x` seen from the unconstrained space: `log p~(x(y)) + log|det dx/dy|` and its
/// gradient `∇_x log p~ · dx/dy + ∇_y log|det dx/dy|` (the Jacobian is diagonal). The
/// optimiser wraps its target in this; with unbounded bounds the calls pass through unchanged.
pub struct Unconstrained<'a, T: Real, const D: usize, P: ?Sized> {
    pub(crate) bounds: &'a Bounds<T, D>,
    pub(crate) target: &'a mut P,
}

impl<'a, T: Real, const D: usize, P: Target<T, D> + ?Sized> Unconstrained<'a, T, D, P> {
    /// `target` (over the constrained `x`) seen from the unconstrained space of `bounds`.
    pub fn new(bounds: &'a Bounds<T, D>, target: &'a mut P) -> Self {
        Self { bounds, target }
    }
}

impl<T: Real, const D: usize, P: Target<T, D> + ?Sized> Unconstrained<'_, T, D, P> {
    /// Evaluates blocks of at most [`TARGET_BLOCK`] points; `grad` is `None` for values only.
    /// Not inlined, so that its point buffer stays out of the stack frames of unbounded runs.
    #[inline(never)]
    fn eval(
        &mut self,
        y: &[SVector<T, D>],
        lp: &mut [T],
        mut grad: Option<&mut [SVector<T, D>]>,
    ) -> Result<(), TargetError> {
        let mut x = [SVector::<T, D>::zeros(); TARGET_BLOCK];
        let log_w = self.bounds.log_widths();
        let ends = self.bounds.inner_ends();
        let n = y.len().min(lp.len()).min(grad.as_deref().map_or(usize::MAX, <[_]>::len));
        let mut start = 0;
        while start < n {
            let b = (n - start).min(TARGET_BLOCK);
            let (yb, lpb) = (&y[start..start + b], &mut lp[start..start + b]);
            for (xi, yi) in x.iter_mut().zip(yb) {
                *xi = *yi;
                self.bounds.constrain_in_place(xi, &ends);
            }
            let mut gb = grad.as_deref_mut().map(|g| &mut g[start..start + b]);
            match gb.as_deref_mut() {
                None => self.target.log_density(&x[..b], lpb)?,
                Some(g) => self.target.log_density_with_grad(&x[..b], lpb, g)?,
            }
            for (r, (l, yi)) in lpb.iter_mut().zip(yb).enumerate() {
                let mut log_j = T::zero();
                for d in 0..D {
                    let (dx, lj, dlj) = self.bounds.jac1(d, yi[d], log_w[d]);
                    log_j += lj;
                    // ∇_y = ∇_x·dx/dy + ∇_y log|dx/dy|, coordinate by coordinate.
                    if let Some(g) = gb.as_deref_mut() {
                        g[r][d] = g[r][d] * dx + dlj;
                    }
                }
                *l += log_j;
            }
            start += b;
        }
        Ok(())
    }
}

impl<T: Real, const D: usize, P: Target<T, D> + ?Sized> Target<T, D> for Unconstrained<'_, T, D, P> {
    fn log_density(&mut self, y: &[SVector<T, D>], lp: &mut [T]) -> Result<(), TargetError> {
        if self.bounds.is_unbounded() {
            return self.target.log_density(y, lp);
        }
        self.eval(y, lp, None)
    }

    fn log_density_with_grad(
        &mut self,
        y: &[SVector<T, D>],
        lp: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        if self.bounds.is_unbounded() {
            return self.target.log_density_with_grad(y, lp, grad);
        }
        self.eval(y, lp, Some(grad))
    }
}

#[cfg(test)]
mod tests {
    use super::{Bounds, sigmoid, softplus};
    use crate::real::Real;

    /// Coordinate `i`'s map, its derivative, log-derivative and that one's derivative,
    /// written out with one `sigmoid`/`softplus` call per term: the reference for `x1` and
    /// `jac1`, which share their exponentials.
    fn map1_reference<T: Real, const D: usize>(b: &Bounds<T, D>, i: usize, y: T) -> (T, T, T, T) {
        let (lo, hi) = (b.lower()[i], b.upper()[i]);
        match (lo.finite(), hi.finite()) {
            (false, false) => (y, T::one(), T::zero(), T::zero()),
            (true, false) => {
                let x = (lo + softplus(y)).max(lo.next_up()).min(T::MAX_FINITE);
                (x, sigmoid(y), -softplus(-y), sigmoid(-y))
            }
            (false, true) => {
                let x = (hi - softplus(-y)).min(hi.next_down()).max(-T::MAX_FINITE);
                (x, sigmoid(-y), -softplus(y), -sigmoid(y))
            }
            (true, true) => {
                let w = hi - lo;
                let (s, sm) = (sigmoid(y), sigmoid(-y));
                let x = if y < T::zero() { lo + w * s } else { hi - w * sm };
                let x = x.max(lo.next_up()).min(hi.next_down());
                (x, w * s * sm, w.ln() - softplus(y) - softplus(-y), sm - s)
            }
        }
    }

    fn same_bits<T: Real>(a: T, b: T) -> bool {
        a.to_f64().to_bits() == b.to_f64().to_bits() || (a.is_nan_like() && b.is_nan_like())
    }

    /// `x1` and `jac1` give the reference's four values bit for bit (and `constrain_in_place`
    /// the values of `x1`), on every kind of coordinate, in both precisions, also at ±0, ±∞ and NaN.
    fn maps_match_the_reference<T: Real>() {
        let inf = T::INFINITY;
        let lo = [T::of(-1.5), T::of(-2.0), -inf, -inf];
        let hi = [T::of(1.5), inf, T::of(3.0), inf];
        let b = Bounds::<T, 4>::new(&lo, &hi).expect("valid bounds");
        let log_w = b.log_widths();
        let special = [T::zero(), -T::zero(), inf, -inf, T::NAN];
        let grid = (-4000..=4000).flat_map(|k| {
            let k = f64::from(k);
            [k * 0.0173, k * 1e3, k * 1e-30].map(T::of)
        });
        let ends = b.inner_ends();
        for y in grid.chain(special) {
            let mut v = nalgebra::SVector::<T, 4>::repeat(y);
            b.constrain_in_place(&mut v, &ends);
            for (i, &lw) in log_w.iter().enumerate() {
                assert!(same_bits(v[i], b.x1(i, y)), "constrain_in_place, coordinate {i}, y = {y:?}");
                let (x, dx, lj, dlj) = map1_reference(&b, i, y);
                let (dx1, lj1, dlj1) = b.jac1(i, y, lw);
                assert!(same_bits(b.x1(i, y), x), "x, coordinate {i}, y = {y:?}");
                assert!(same_bits(dx1, dx), "dx/dy, coordinate {i}, y = {y:?}");
                assert!(same_bits(lj1, lj), "log|dx/dy|, coordinate {i}, y = {y:?}");
                assert!(same_bits(dlj1, dlj), "d log|dx/dy| / dy, coordinate {i}, y = {y:?}");
            }
        }
    }

    #[test]
    fn shared_exponentials_give_the_reference_bit_for_bit() {
        maps_match_the_reference::<f32>();
        maps_match_the_reference::<f64>();
    }
}

//! MORE natural-gradient estimator, letter `Z` (Arenz et al. 2023, §3.2; docs/algorithm.md §2.2): a
//! compatible quadratic surrogate of the log ratio by weighted ridge regression (zero order, no
//! target gradients).
//!
//! For a component `(μ, L)` and samples `x_n` with rewards `ρ_n = log p~(x_n) − log q(x_n)` and
//! importance weights `ŵ_n`:
//! 1. whiten, `z_n = A(x_n − μ)` with `A = L⁻¹`;
//! 2. features `φ(z) = (z_i z_j for i ≤ j in row-major upper-triangle order, z_1..z_D, 1)`, of
//!    length `P = D(D+1)/2 + D + 1`;
//! 3. solve `(ΦᵀWΦ + λI′)θ = ΦᵀWρ`, `W = diag(ŵ)`, `I′` the identity with the bias entry zeroed
//!    (the constant is not regularised);
//! 4. unpack `Q = −(Q_up + Q_upᵀ)` (`Q_up[i][j] = θ_ij`, i ≤ j), linear `b`, constant `c`, so that
//!    `ρ ≈ −½zᵀQz + bᵀz + c`;
//! 5. un-whiten: `R = AᵀQA`, `t₁ = Aᵀb`, `t₂ = Rμ`, `r = t₁ + t₂`, `c ← c − μᵀ(½t₂ + t₁)`, so
//!    `ρ ≈ −½xᵀRx + rᵀx + c`;
//! 6. natural-gradient pair (`natural_gradient`): `Ĥ = R`, `ĝ = Rμ − r` (= `−∇ρ̃(μ)`).
//!
//! Without a heap the normal equations live in a `[[f64; C]; C]` array of capacity `C ≥ P`:
//! for `D ≤ 10` a stack array of exactly `C = P` (`8·P²` bytes: 10 KB at `D = 7`, 35 KB at
//! `D = 10`, one per parallel task); for larger `D` the optimiser's own workspace
//! ([`MoreWorkspace`], its const parameter `MORE_FEATURES`, e.g. 231 for `D = 20`, 528 for
//! `D = 31`), used by one component after the other. The
//! regression arithmetic is done in `f64` whatever `T` is, and the `P × P` system is solved by
//! Gaussian elimination with partial pivoting (the reference uses a general LU solve).

use nalgebra::{SMatrix, SVector};

use super::Estimate;
use crate::component_state::ComponentStates;
use crate::config::NgEstimationConfig;
use crate::model::{Component, Gmm};
use crate::parallel::Parallel;
use crate::real::{OnlineLse, Real};
use crate::store::{WorkingSet, estimate_rows};

/// Capacity of the regression buffers: the number of features `P = D(D+1)/2 + D + 1` must not
/// exceed it (66 = `P` for `D = 10`).
pub(crate) const MAX_MORE_FEATURES: usize = 66;

/// Number of regression features `D(D+1)/2 + D + 1` for dimension `d`.
pub(crate) const fn num_features(d: usize) -> usize {
    d * (d + 1) / 2 + d + 1
}

/// The optimiser's MORE workspace for `D > 10`: normal equations of capacity `FEATURES`
/// (`FEATURES ≥ D(D+1)/2 + D + 1`; 0, the default, when MORE never runs above `D = 10`).
pub type MoreWorkspace<const D: usize, const FEATURES: usize> = Regression<D, FEATURES>;

/// The working set with the rewards' `log q`.
pub(crate) struct Rows<'a, T: Real, const D: usize> {
    pub ws: WorkingSet<'a, T, D>,
    /// `log q(x_r)` of the working-set rows.
    pub log_q: &'a [T],
}

/// Fits the quadratic surrogate `ρ(x) ≈ −½xᵀRx + rᵀx + c` for the component `(mean, chol)` (lower
/// Cholesky factor of the covariance) from samples `xs`, rewards `rho`, importance weights
/// `weights` (used as given: self-normalised or plain) and ridge coefficient `l2`; returns
/// `(R, r, c)`. `None` if the slice lengths differ, `P > MAX_MORE_FEATURES` (`D > 10`), `L` is
/// singular, the system is singular, or the result is non-finite. Samples of weight exactly 0
/// are skipped (they contribute nothing, even if their reward is not finite). The optimiser
/// streams rows through [`Regression`] instead; this slice form states the math for the tests.
#[cfg(test)]
pub(crate) fn fit<T: Real, const D: usize>(
    mean: &SVector<T, D>,
    chol: &SMatrix<T, D, D>,
    xs: &[SVector<T, D>],
    rho: &[T],
    weights: &[T],
    l2: T,
) -> Option<(SMatrix<T, D, D>, SVector<T, D>, T)> {
    if xs.len() != rho.len() || xs.len() != weights.len() {
        return None;
    }
    let a = chol.map(|v| v.to_f64()).solve_lower_triangular(&SMatrix::<f64, D, D>::identity())?;
    let mu = mean.map(|v| v.to_f64());
    let mut acc = Regression::<D, MAX_MORE_FEATURES>::new()?;
    for ((x, &rh), &w) in xs.iter().zip(rho).zip(weights) {
        let w = w.to_f64();
        if w != 0.0 {
            acc.add(&(a * (x.map(|v| v.to_f64()) - mu)), rh.to_f64(), w);
        }
    }
    acc.solve(mean, &a, l2.to_f64())
}

/// The weighted normal equations `ΦᵀWΦ`, `ΦᵀWρ` of the regression in capacity `C`,
/// accumulated row by row in `f64` (upper triangle only), so that a caller can stream rows
/// with an online rescaling.
#[derive(Clone, Debug)]
pub struct Regression<const D: usize, const C: usize> {
    m: [[f64; C]; C],
    rhs: [f64; C],
    /// Features of the row being added.
    f: [f64; C],
}

impl<const D: usize, const C: usize> Regression<D, C> {
    /// Zero sums of capacity `C` (usable only if `C ≥ num_features(D)`).
    pub const fn zeroed() -> Self {
        Self { m: [[0.0; C]; C], rhs: [0.0; C], f: [0.0; C] }
    }

    /// Empty sums; `None` if `D` exceeds the feature capacity.
    pub(crate) fn new() -> Option<Self> {
        Self::fits().then(Self::zeroed)
    }

    /// `true` if the capacity holds the features of dimension `D`.
    pub(crate) const fn fits() -> bool {
        num_features(D) <= C
    }

    /// Clears the sums in use (the leading `P × P` block).
    pub(crate) fn reset(&mut self) {
        let p = num_features(D).min(C);
        for (row, r) in self.m[..p].iter_mut().zip(&mut self.rhs[..p]) {
            *r = 0.0;
            row[..p].fill(0.0);
        }
    }

    /// Adds the whitened sample `z` with reward `rho` and weight `w`.
    pub(crate) fn add(&mut self, z: &SVector<f64, D>, rho: f64, w: f64) {
        let p = num_features(D).min(C);
        let f = &mut self.f;
        features(z, &mut f[..p]);
        for (i, (row, r)) in self.m[..p].iter_mut().zip(&mut self.rhs[..p]).enumerate() {
            let wf = w * f[i];
            *r += wf * rho;
            for (mij, &fj) in row[i..p].iter_mut().zip(&f[i..p]) {
                *mij += wf * fj;
            }
        }
    }

    /// Multiplies everything accumulated so far by `s`.
    pub(crate) fn scale(&mut self, s: f64) {
        let p = num_features(D).min(C);
        for (row, r) in self.m[..p].iter_mut().zip(&mut self.rhs[..p]) {
            *r *= s;
            for v in &mut row[..p] {
                *v *= s;
            }
        }
    }

    /// Adds the ridge `l2` (not on the bias), solves, and un-whitens with `a = L⁻¹` around
    /// `mean`: `(R, r, c)`, or `None` for a singular system or a non-finite result.
    pub(crate) fn solve<T: Real>(
        &mut self,
        mean: &SVector<T, D>,
        a: &SMatrix<f64, D, D>,
        l2: f64,
    ) -> Option<(SMatrix<T, D, D>, SVector<T, D>, T)> {
        let p = num_features(D).min(C);
        if p == 0 || !Self::fits() {
            return None;
        }
        let mu = mean.map(|v| v.to_f64());
        if a.iter().chain(mu.iter()).any(|v| !v.is_finite()) {
            return None;
        }
        let m = &mut self.m;
        for i in 1..p {
            // Mirror the upper triangle: rows `..i` are above row `i`.
            let (top, bottom) = m.split_at_mut(i);
            for (mij, upper) in bottom[0][..i].iter_mut().zip(top.iter()) {
                *mij = upper[i];
            }
        }
        // Ridge on every entry but the bias (last).
        for (i, row) in m[..p - 1].iter_mut().enumerate() {
            row[i] += l2;
        }
        if !solve_in_place(m, &mut self.rhs, p) {
            return None;
        }
        let theta = &self.rhs[..p];

        // Unpack (whitened space).
        let mut q = SMatrix::<f64, D, D>::zeros();
        let mut k = 0;
        for i in 0..D {
            for j in i..D {
                q[(i, j)] -= theta[k];
                q[(j, i)] -= theta[k];
                k += 1;
            }
        }
        let b = SVector::<f64, D>::from_fn(|i, _| theta[k + i]);
        let c = theta[p - 1];

        // Un-whiten.
        let r_mat = a.transpose() * q * a;
        let t1 = a.transpose() * b;
        let t2 = r_mat * mu;
        let r_vec = t1 + t2;
        let c = c - mu.dot(&(t2 * 0.5 + t1));
        if !c.is_finite() || r_mat.iter().chain(r_vec.iter()).any(|v| !v.is_finite()) {
            return None;
        }
        Some((r_mat.map(T::of), r_vec.map(T::of), T::of(c)))
    }
}

/// Writes `(Ĥ_k, ĝ_k)` of the MORE surrogate into `ng[k]` (`None` where the regression failed)
/// with component k's ridge coefficient. For `D ≤ 10` one parallel task per component with a
/// stack regression; above, one component after the other in `ws`.
#[inline(never)]
pub(crate) fn estimate<T: Real, const D: usize, const K: usize, const MORE_FEATURES: usize, X>(
    model: &Gmm<T, D, K>,
    rows: &Rows<'_, T, D>,
    cfg: &NgEstimationConfig<T>,
    states: &ComponentStates<T, K>,
    ng: &mut [Estimate<T, D>],
    ws: &mut MoreWorkspace<D, MORE_FEATURES>,
    par: &X,
) where
    X: Parallel,
{
    let (self_normalized, own) = (cfg.self_normalized, cfg.only_use_own_samples);
    let kn = model.len().min(ng.len());
    let l2 = |k: usize| states.get(k).l2.to_f64();
    if !Regression::<D, MAX_MORE_FEATURES>::fits() {
        for (k, (slot, c)) in ng[..kn].iter_mut().zip(model.components()).enumerate() {
            ws.reset();
            *slot = estimate_with(ws, c, k, own, rows, self_normalized, l2(k));
        }
        return;
    }
    par.for_each_chunk(&mut ng[..kn], 1, &|first, out| {
        for (j, slot) in out.iter_mut().enumerate() {
            let k = first + j;
            if let Some(c) = model.components().get(k) {
                *slot = estimate_one(c, k, own, rows, self_normalized, l2(k));
            }
        }
    });
}

/// [`estimate_with`] on a stack regression of exactly `P = num_features(D)` features: `D` is a
/// constant, so one arm survives, and the frame is `8·P²` bytes (10 KB at `D = 7`) instead of
/// the `D = 10` maximum (35 KB) — the difference between fitting and overflowing the stack of a
/// microcontroller.
fn estimate_one<T: Real, const D: usize>(
    c: &Component<T, D>,
    k: usize,
    own: bool,
    rows: &Rows<'_, T, D>,
    self_normalized: bool,
    l2: f64,
) -> Estimate<T, D> {
    match D {
        1 => estimate_sized::<T, D, { num_features(1) }>(c, k, own, rows, self_normalized, l2),
        2 => estimate_sized::<T, D, { num_features(2) }>(c, k, own, rows, self_normalized, l2),
        3 => estimate_sized::<T, D, { num_features(3) }>(c, k, own, rows, self_normalized, l2),
        4 => estimate_sized::<T, D, { num_features(4) }>(c, k, own, rows, self_normalized, l2),
        5 => estimate_sized::<T, D, { num_features(5) }>(c, k, own, rows, self_normalized, l2),
        6 => estimate_sized::<T, D, { num_features(6) }>(c, k, own, rows, self_normalized, l2),
        7 => estimate_sized::<T, D, { num_features(7) }>(c, k, own, rows, self_normalized, l2),
        8 => estimate_sized::<T, D, { num_features(8) }>(c, k, own, rows, self_normalized, l2),
        9 => estimate_sized::<T, D, { num_features(9) }>(c, k, own, rows, self_normalized, l2),
        _ => estimate_sized::<T, D, MAX_MORE_FEATURES>(c, k, own, rows, self_normalized, l2),
    }
}

// Never inlined: the normal equations are a large stack frame that must not grow the frame of
// every caller (e.g. a firmware step that never runs MORE).
#[inline(never)]
fn estimate_sized<T: Real, const D: usize, const C: usize>(
    c: &Component<T, D>,
    k: usize,
    own: bool,
    rows: &Rows<'_, T, D>,
    self_normalized: bool,
    l2: f64,
) -> Estimate<T, D> {
    let mut acc = Regression::<D, C>::new()?;
    estimate_with(&mut acc, c, k, own, rows, self_normalized, l2)
}

/// Accumulates the regression of component `c` (index `k`; `own`: `only_use_own_samples`,
/// [`estimate_rows`]) into the empty `acc` and solves it.
fn estimate_with<T: Real, const D: usize, const C: usize>(
    acc: &mut Regression<D, C>,
    c: &Component<T, D>,
    k: usize,
    own: bool,
    rows: &Rows<'_, T, D>,
    self_normalized: bool,
    l2: f64,
) -> Estimate<T, D> {
    if !Regression::<D, C>::fits() {
        return None;
    }
    let mut lse = OnlineLse::new();
    let ws = &rows.ws;
    estimate_rows::<T, D, 0>(ws, None, c, k, own, &mut lse, |row, _, scale, w, z| {
        if scale != T::one() {
            acc.scale(scale.to_f64());
        }
        acc.add(&z.map(|v| v.to_f64()), (ws.log_p[row] - rows.log_q[row]).to_f64(), w.to_f64());
    });
    if !(lse.sum > T::zero()) {
        return None;
    }
    // Self-normalised: ŵ = w/Σw; plain: ŵ = exp(a) = exp(max)·w (docs/algorithm.md §2: no 1/N for
    // MORE).
    acc.scale(if self_normalized { 1.0 / lse.sum.to_f64() } else { libm::exp(lse.max.to_f64()) });
    let a = c.inv_t.transpose().map(|v| v.to_f64());
    let (r_mat, r_vec, _) = acc.solve(&c.mean, &a, l2)?;
    Some(natural_gradient(&c.mean, &r_mat, &r_vec))
}

/// The ridge coefficient after a component update (docs/algorithm.md §5.4): halved, down to
/// `initial`, after an applied update; ten times larger, up to 1e-6, after a rejected one. It is
/// adapted whatever the estimator (it is part of the checkpoint) and read only by MORE.
pub(crate) fn adapt_ridge<T: Real>(l2: T, applied: bool, initial: T) -> T {
    if applied { (l2 * T::of(0.5)).max(initial) } else { T::of(1e-6).min(l2 * T::of(10.0)) }
}

/// The natural-gradient pair `(Ĥ, ĝ) = (R, Rμ − r)` of the surrogate `−½xᵀRx + rᵀx + c` at the
/// component mean `μ` (§2.2 step 6).
pub(crate) fn natural_gradient<T: Real, const D: usize>(
    mean: &SVector<T, D>,
    r_mat: &SMatrix<T, D, D>,
    r_vec: &SVector<T, D>,
) -> (SMatrix<T, D, D>, SVector<T, D>) {
    (*r_mat, r_mat * mean - r_vec)
}

/// Quadratic features of `z` into `f` (length `num_features(D)`): `z_i z_j` (i ≤ j, row-major
/// upper triangle), then `z_i`, then `1`.
fn features<const D: usize>(z: &SVector<f64, D>, f: &mut [f64]) {
    let mut k = 0;
    for i in 0..D {
        for j in i..D {
            f[k] = z[i] * z[j];
            k += 1;
        }
    }
    for i in 0..D {
        f[k + i] = z[i];
    }
    f[k + D] = 1.0;
}

/// Solves the leading `p × p` system `m θ = rhs` in place (θ overwrites `rhs`) by Gaussian
/// elimination with partial pivoting; `false` on a zero or non-finite pivot or a non-finite
/// solution. `p ≤ C`; every loop is bounded by `p`.
fn solve_in_place<const C: usize>(m: &mut [[f64; C]; C], rhs: &mut [f64; C], p: usize) -> bool {
    let p = p.min(C);
    for col in 0..p {
        let mut piv = col;
        let mut best = m[col][col].abs();
        for (row, mr) in m.iter().enumerate().take(p).skip(col + 1) {
            let v = mr[col].abs();
            if v > best {
                best = v;
                piv = row;
            }
        }
        if !(best > 0.0 && best.is_finite()) {
            return false;
        }
        if piv != col {
            m.swap(col, piv);
            rhs.swap(col, piv);
        }
        let (top, bottom) = m.split_at_mut(col + 1);
        let pivot_row = &top[col];
        let pivot = pivot_row[col];
        let pivot_rhs = rhs[col];
        for (row, r) in bottom[..p - col - 1].iter_mut().zip(&mut rhs[col + 1..p]) {
            let factor = row[col] / pivot;
            if factor != 0.0 {
                for (x, &y) in row[col..p].iter_mut().zip(&pivot_row[col..p]) {
                    *x -= factor * y;
                }
                *r -= factor * pivot_rhs;
            }
        }
    }
    for i in (0..p).rev() {
        let mut s = rhs[i];
        for (mik, &tk) in m[i][i + 1..p].iter().zip(&rhs[i + 1..p]) {
            s -= mik * tk;
        }
        rhs[i] = s / m[i][i];
    }
    rhs[..p].iter().all(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cholesky;
    use crate::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Samples `x = μ + Lε` of the component.
    fn draw<const D: usize>(mean: &SVector<f64, D>, chol: &SMatrix<f64, D, D>, seed: u64, xs: &mut [SVector<f64, D>]) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for x in xs.iter_mut() {
            let mut eps = [0.0f64; D];
            fill_standard_normal(&mut rng, &mut eps);
            *x = mean + chol * SVector::from(eps);
        }
    }

    fn tv1_case() -> (SVector<f64, 2>, SMatrix<f64, 2, 2>, SMatrix<f64, 2, 2>, SVector<f64, 2>) {
        let mean = SVector::from([0.5, -0.2]);
        let chol = cholesky(&SMatrix::<f64, 2, 2>::new(1.0, 0.3, 0.3, 0.5)).unwrap();
        let a = SMatrix::<f64, 2, 2>::new(2.0, 0.5, 0.5, 1.0);
        let b = SVector::from([1.0, -1.0]);
        (mean, chol, a, b)
    }

    fn quad<const D: usize>(x: &SVector<f64, D>, a: &SMatrix<f64, D, D>, b: &SVector<f64, D>, c: f64) -> f64 {
        -0.5 * x.dot(&(a * x)) + b.dot(x) + c
    }

    #[test]
    fn feature_count_bound() {
        assert_eq!(num_features(2), 6);
        assert_eq!(num_features(10), MAX_MORE_FEATURES);
        assert!(num_features(11) > MAX_MORE_FEATURES);
    }

    #[test]
    fn tv1_more_regression() {
        let (mean, chol, a, b) = tv1_case();
        let mut xs = [SVector::<f64, 2>::zeros(); 50];
        draw(&mean, &chol, 7, &mut xs);
        let rho = xs.map(|x| quad(&x, &a, &b, 3.0));
        let w = [1.0 / 50.0; 50];
        let (r_mat, r_vec, c) = fit(&mean, &chol, &xs, &rho, &w, 1e-12).unwrap();
        assert!((r_mat - a).abs().max() < 1e-9, "R = {r_mat:?}");
        assert!((r_vec - b).abs().max() < 1e-9, "r = {r_vec:?}");
        assert!((c - 3.0).abs() < 1e-9, "c = {c}");
        let (h, g) = natural_gradient(&mean, &r_mat, &r_vec);
        assert_eq!(h, r_mat);
        assert!((g - SVector::from([-0.1, 1.05])).abs().max() < 1e-9, "g = {g:?}");
    }

    #[test]
    fn exact_fit_with_unequal_weights_and_f32() {
        let (mean, chol, a, b) = tv1_case();
        let mut xs = [SVector::<f64, 2>::zeros(); 30];
        draw(&mean, &chol, 11, &mut xs);
        let rho = xs.map(|x| quad(&x, &a, &b, -1.5));
        let mut w = [0.0; 30];
        for (i, wi) in w.iter_mut().enumerate() {
            *wi = 1.0 + (i % 7) as f64;
        }
        // A zero-weight sample with a non-finite reward is ignored.
        let mut rho2 = rho;
        rho2[0] = f64::NEG_INFINITY;
        w[0] = 0.0;
        let (r_mat, r_vec, c) = fit(&mean, &chol, &xs, &rho2, &w, 1e-12).unwrap();
        assert!((r_mat - a).abs().max() < 1e-9 && (r_vec - b).abs().max() < 1e-9 && (c + 1.5).abs() < 1e-9);

        let xs32 = xs.map(|x| x.map(|v| v as f32));
        let rho32 = rho.map(|v| v as f32);
        let w32 = [1.0f32 / 30.0; 30];
        let (r_mat, r_vec, c) =
            fit(&mean.map(|v| v as f32), &chol.map(|v| v as f32), &xs32, &rho32, &w32, 1e-12).unwrap();
        assert!((r_mat.map(f64::from) - a).abs().max() < 1e-3, "{r_mat:?}");
        assert!((r_vec.map(f64::from) - b).abs().max() < 1e-3 && (c + 1.5).abs() < 1e-3);
    }

    #[test]
    fn exact_fit_at_capacity_d10() {
        const D: usize = 10;
        let mean = SVector::<f64, D>::from_fn(|i, _| 0.1 * i as f64 - 0.3);
        let cov = SMatrix::<f64, D, D>::from_fn(|i, j| if i == j { 1.0 + 0.1 * i as f64 } else { 0.05 });
        let chol = cholesky(&cov).unwrap();
        let a = SMatrix::<f64, D, D>::from_fn(|i, j| if i == j { 2.0 + i as f64 } else { 0.1 * ((i + j) % 3) as f64 });
        let b = SVector::<f64, D>::from_fn(|i, _| 1.0 - 0.2 * i as f64);
        let mut xs = [SVector::<f64, D>::zeros(); 200];
        draw(&mean, &chol, 3, &mut xs);
        let rho = xs.map(|x| quad(&x, &a, &b, 0.7));
        let w = [1.0 / 200.0; 200];
        let (r_mat, r_vec, c) = fit(&mean, &chol, &xs, &rho, &w, 1e-12).unwrap();
        assert!((r_mat - a).abs().max() < 1e-7, "{r_mat:?}");
        assert!((r_vec - b).abs().max() < 1e-7 && (c - 0.7).abs() < 1e-7);
    }

    #[test]
    fn exact_fit_above_d10_in_a_workspace() {
        const D: usize = 14;
        const C: usize = num_features(D);
        let mean = SVector::<f64, D>::from_fn(|i, _| 0.05 * i as f64 - 0.3);
        let cov = SMatrix::<f64, D, D>::from_fn(|i, j| if i == j { 1.0 + 0.05 * i as f64 } else { 0.03 });
        let chol = cholesky(&cov).unwrap();
        let a = SMatrix::<f64, D, D>::from_fn(|i, j| if i == j { 2.0 + i as f64 } else { 0.1 * ((i + j) % 3) as f64 });
        let b = SVector::<f64, D>::from_fn(|i, _| 1.0 - 0.1 * i as f64);
        let mut xs = [SVector::<f64, D>::zeros(); 400];
        draw(&mean, &chol, 3, &mut xs);
        let inv = chol.solve_lower_triangular(&SMatrix::identity()).unwrap();
        let mut ws = MoreWorkspace::<D, C>::zeroed();
        for _ in 0..2 {
            // Reused after a reset: same result.
            ws.reset();
            for x in &xs {
                ws.add(&(inv * (x - mean)), quad(x, &a, &b, 0.7), 1.0 / 400.0);
            }
            let (r_mat, r_vec, c) = ws.solve::<f64>(&mean, &inv, 1e-12).unwrap();
            assert!((r_mat - a).abs().max() < 1e-7, "{r_mat:?}");
            assert!((r_vec - b).abs().max() < 1e-7 && (c - 0.7).abs() < 1e-7);
        }
        // Too small a capacity is refused, not truncated.
        assert!(MoreWorkspace::<D, 66>::zeroed().solve::<f64>(&mean, &inv, 1e-12).is_none());
    }

    #[test]
    fn rejections() {
        let (mean, chol, a, b) = tv1_case();
        let mut xs = [SVector::<f64, 2>::zeros(); 20];
        draw(&mean, &chol, 5, &mut xs);
        let rho = xs.map(|x| quad(&x, &a, &b, 0.0));
        let w = [0.05; 20];
        // Length mismatch.
        assert!(fit(&mean, &chol, &xs, &rho[..19], &w, 1e-12).is_none());
        // Singular Cholesky factor.
        assert!(fit(&mean, &SMatrix::zeros(), &xs, &rho, &w, 1e-12).is_none());
        // Non-finite reward with positive weight.
        let mut bad = rho;
        bad[3] = f64::NAN;
        assert!(fit(&mean, &chol, &xs, &bad, &w, 1e-12).is_none());
        // No samples (all-zero system; the bias is unregularised).
        assert!(fit(&mean, &chol, &[], &[], &[], 1e-12).is_none());
        // Too many features: D = 11 → P = 78 > 66.
        let m11 = SVector::<f64, 11>::zeros();
        let l11 = SMatrix::<f64, 11, 11>::identity();
        assert!(fit(&m11, &l11, &[SVector::zeros(); 3], &[0.0; 3], &[1.0; 3], 1e-12).is_none());
    }

    #[test]
    fn too_few_samples_do_not_panic() {
        // Fewer samples than features: the ridge keeps the system solvable.
        let (mean, chol, a, b) = tv1_case();
        let mut xs = [SVector::<f64, 2>::zeros(); 3];
        draw(&mean, &chol, 9, &mut xs);
        let rho = xs.map(|x| quad(&x, &a, &b, 0.0));
        let _ = fit(&mean, &chol, &xs, &rho, &[1.0 / 3.0; 3], 1e-6);
    }
}

//! Bayesian logistic regression, full batch: the BreastCancer and GermanCredit benchmarks
//! (docs/targets.md §5).
//!
//! For parameters `θ ∈ R^D` and preprocessed rows `x_n` (bias first), `z_n = θ·x_n` and the
//! reference's label convention (inherited from VIPS, §5.2): `y_n = 1 → ℓ_n = ln σ(−z_n)`,
//! `y_n = 0 → ℓ_n = ln σ(z_n)`, `σ(a) = 1/(1 + e^{−a})`, computed stably as
//! `ln σ(a) = −softplus(−a)`. Prior `θ ~ N(0, 10² I_D)` with constants:
//!
//! `log p~(θ) = Σ_n ℓ_n(θ) + Σ_d [−ln 10 − ½ ln 2π − θ_d²/200]`,
//! `∇ log p~(θ) = Σ_n (1 − y_n − σ(z_n)) x_n − θ/100`.
//!
//! Data are caller-provided slices (no heap): [`parse_breast_cancer`] and
//! [`parse_german_credit`] read the shipped text files (§5.1) into flat buffers, and
//! [`preprocess_features`] divides every feature column by its population standard deviation
//! and prepends the bias column of ones.
//!
//! Evaluation runs [`LOGREG_BLOCK`] points at a time (lanes innermost), so each data row is read
//! once per block and the products, the log-sigmoids (branch-free polynomials, see
//! `log_sigmoid.rs`) and the gradient terms vectorise across points. A point's value does not
//! depend on the block it is in: [`LogisticRegression::log_density_f64`] is the one-lane block.

use core::marker::PhantomData;

use gmmvi::error::{Error, TargetError};
use gmmvi::real::{LN_2PI, Real};
use gmmvi::target::Target;
use nalgebra::SVector;

use super::log_sigmoid::log_sigmoid_and_complement;

/// Points per block of [`LogisticRegression::log_density_rows_f64`] (and of the batched
/// [`Target`] methods): each data row is read once per block.
pub const LOGREG_BLOCK: usize = 8;

/// Prior standard deviation of every coordinate, bias included (§5.2).
pub const LOGREG_PRIOR_STD: f64 = 10.0;

/// Dimension of the BreastCancer target: 30 features and a bias (§5.1).
pub const BREAST_CANCER_DIM: usize = 31;
/// Number of rows of `breast_cancer.data` (§5.1).
pub const BREAST_CANCER_ROWS: usize = 569;
/// Dimension of the GermanCredit target: 24 features and a bias (§5.1).
pub const GERMAN_CREDIT_DIM: usize = 25;
/// Number of rows of `german.data-numeric` (§5.1).
pub const GERMAN_CREDIT_ROWS: usize = 1000;

/// The BreastCancer target (§5): `D = 31`.
pub type BreastCancer<'a, T> = LogisticRegression<'a, T, BREAST_CANCER_DIM>;
/// The GermanCredit target (§5): `D = 25`.
pub type GermanCredit<'a, T> = LogisticRegression<'a, T, GERMAN_CREDIT_DIM>;

/// Most whitespace-separated numbers per line the parsers accept.
const MAX_COLS: usize = 32;

/// Parses whitespace-separated rows of exactly `cols` numbers (blank lines skipped) and
/// hands each to `f` with its index. Returns the row count.
fn parse_rows(text: &str, cols: usize, mut f: impl FnMut(usize, &[f64]) -> Result<(), Error>) -> Result<usize, Error> {
    let mut vals = [0.0; MAX_COLS];
    let vals = vals.get_mut(..cols).ok_or(Error::InvalidArgument { what: "too many columns" })?;
    let mut n = 0;
    for line in text.lines() {
        let mut toks = line.split_whitespace().peekable();
        if toks.peek().is_none() {
            continue;
        }
        for v in vals.iter_mut() {
            let tok = toks.next().ok_or(Error::InvalidArgument { what: "a data row has too few columns" })?;
            *v = tok.parse::<f64>().map_err(|_| Error::InvalidArgument { what: "a data entry is not a number" })?;
        }
        if toks.next().is_some() {
            return Err(Error::InvalidArgument { what: "a data row has too many columns" });
        }
        f(n, vals)?;
        n += 1;
    }
    Ok(n)
}

/// Counts the non-blank lines of `text`.
fn count_rows(text: &str) -> usize {
    text.lines().filter(|l| !l.trim().is_empty()).count()
}

/// Checks that `features` holds `rows·cols` values and `labels` `rows`.
fn check_capacity(rows: usize, cols: usize, features: &[f64], labels: &[u8]) -> Result<(), Error> {
    let needed = rows.checked_mul(cols).ok_or(Error::InvalidArgument { what: "too many rows" })?;
    if features.len() < needed {
        return Err(Error::BufferTooSmall { needed });
    }
    if labels.len() < rows {
        return Err(Error::BufferTooSmall { needed: rows });
    }
    Ok(())
}

/// Copies one parsed row into the flat feature buffer.
fn store_row(features: &mut [f64], row: usize, src: &[f64]) -> Result<(), Error> {
    let cols = src.len();
    let dst =
        features.get_mut(row * cols..(row + 1) * cols).ok_or(Error::BufferTooSmall { needed: (row + 1) * cols })?;
    dst.copy_from_slice(src);
    Ok(())
}

/// `Some(0)` if the entry equals `zero`, `Some(1)` if it equals `one`, `None` otherwise.
fn label(v: Option<&f64>, zero: f64, one: f64) -> Option<u8> {
    let v = *v?;
    if v == zero {
        Some(0)
    } else if v == one {
        Some(1)
    } else {
        None
    }
}

/// Parses `breast_cancer.data` (UCI WDBC, §5.1): per line 32 numbers — patient ID (ignored),
/// label in {0, 1}, 30 features. Writes the features row-major into `features` (30 per row)
/// and the labels into `labels`; returns the number of rows (569 for the shipped file).
///
/// # Errors
/// `BufferTooSmall` if a buffer cannot hold every row; `InvalidArgument` for a malformed
/// line or a label other than 0 or 1.
pub fn parse_breast_cancer(text: &str, features: &mut [f64], labels: &mut [u8]) -> Result<usize, Error> {
    const F: usize = BREAST_CANCER_DIM - 1;
    check_capacity(count_rows(text), F, features, labels)?;
    parse_rows(text, F + 2, |n, v| {
        let y =
            label(v.get(1), 0.0, 1.0).ok_or(Error::InvalidArgument { what: "a breast-cancer label is not 0 or 1" })?;
        *labels.get_mut(n).ok_or(Error::BufferTooSmall { needed: n + 1 })? = y;
        store_row(features, n, v.get(2..).unwrap_or(&[]))
    })
}

/// Parses `german.data-numeric` (UCI Statlog German Credit, §5.1): per line 25 numbers —
/// 24 coded attributes, then the class in {1 = good, 2 = bad}; the label is `class − 1`.
/// Writes the attributes row-major into `features` (24 per row) and the labels into
/// `labels`; returns the number of rows (1000 for the shipped file).
///
/// # Errors
/// `BufferTooSmall` if a buffer cannot hold every row; `InvalidArgument` for a malformed
/// line or a class other than 1 or 2.
pub fn parse_german_credit(text: &str, features: &mut [f64], labels: &mut [u8]) -> Result<usize, Error> {
    const F: usize = GERMAN_CREDIT_DIM - 1;
    check_capacity(count_rows(text), F, features, labels)?;
    parse_rows(text, F + 1, |n, v| {
        let y =
            label(v.get(F), 1.0, 2.0).ok_or(Error::InvalidArgument { what: "a german-credit class is not 1 or 2" })?;
        *labels.get_mut(n).ok_or(Error::BufferTooSmall { needed: n + 1 })? = y;
        store_row(features, n, v.get(..F).unwrap_or(&[]))
    })
}

/// The preprocessing of §5.1: `raw` holds `N = rows.len()` rows of `D − 1` features
/// (row-major); every feature column is divided by its **population** standard deviation
/// (divisor `N`, no centring) and a constant 1 is prepended, giving `rows[n] =
/// (1, x_n1/s_1, …, x_n,D−1/s_{D−1})`.
///
/// # Errors
/// `InvalidArgument` if `D == 0`, `rows` is empty, `raw.len() != N·(D − 1)`, or a column has
/// a non-finite entry or zero standard deviation.
pub fn preprocess_features<const D: usize>(raw: &[f64], rows: &mut [SVector<f64, D>]) -> Result<(), Error> {
    let f = D.checked_sub(1).ok_or(Error::InvalidArgument { what: "dimension must be at least 1" })?;
    let n = rows.len();
    if n == 0 || raw.len() != n.saturating_mul(f) {
        return Err(Error::InvalidArgument { what: "raw features must hold rows.len()·(D − 1) values" });
    }
    if raw.iter().any(|v| !v.is_finite()) {
        return Err(Error::InvalidArgument { what: "features must be finite" });
    }
    // Column means, then population standard deviations (two passes), in slots 1..D.
    let mut mean = SVector::<f64, D>::zeros();
    if f > 0 {
        for r in raw.chunks_exact(f) {
            for (m, &v) in mean.iter_mut().skip(1).zip(r) {
                *m += v;
            }
        }
    }
    mean /= n as f64;
    let mut sd = SVector::<f64, D>::zeros();
    if f > 0 {
        for r in raw.chunks_exact(f) {
            for ((s, &m), &v) in sd.iter_mut().skip(1).zip(mean.iter().skip(1)).zip(r) {
                *s += (v - m) * (v - m);
            }
        }
    }
    for s in sd.iter_mut().skip(1) {
        *s = libm::sqrt(*s / n as f64);
        if !(*s > 0.0 && s.is_finite()) {
            return Err(Error::InvalidArgument { what: "a feature column has zero standard deviation" });
        }
    }
    for (i, row) in rows.iter_mut().enumerate() {
        row.fill(1.0);
        let src = raw.get(i * f..(i + 1) * f).unwrap_or(&[]);
        for ((x, &v), &s) in row.iter_mut().skip(1).zip(src).zip(sd.iter().skip(1)) {
            *x = v / s;
        }
    }
    Ok(())
}

/// One row's `(ℓ, ∂ℓ/∂z)` at `z = θ·x` with §5.2's labels: `y = 1`: `ℓ = ln σ(−z)`,
/// `∂ℓ/∂z = −σ(z)`; otherwise `ℓ = ln σ(z)`, `∂ℓ/∂z = σ(−z)`. The sign flips are exact.
#[inline(always)]
fn row_term(y: u8, z: f64) -> (f64, f64) {
    let sign = if y == 1 { -1.0 } else { 1.0 };
    let (l, s) = log_sigmoid_and_complement(sign * z);
    (l, sign * s)
}

/// `σ(a) = 1/(1 + e^{−a})`, stable for every finite `a`.
#[inline]
pub(crate) fn sigmoid(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + libm::exp(-a))
    } else {
        let e = libm::exp(a);
        e / (1.0 + e)
    }
}

/// Bayesian logistic regression over caller-provided rows (docs/targets.md §5.2), evaluated in
/// `f64`, reported as `T`. Holds only borrowed data.
#[derive(Debug)]
pub struct LogisticRegression<'a, T: Real, const D: usize> {
    rows: &'a [SVector<f64, D>],
    labels: &'a [u8],
    prior_std: f64,
    /// `D·(−ln σ_prior − ½ ln 2π)`.
    prior_const: f64,
    _scalar: PhantomData<fn() -> T>,
}

impl<T: Real, const D: usize> Clone for LogisticRegression<'_, T, D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Real, const D: usize> Copy for LogisticRegression<'_, T, D> {}

impl<'a, T: Real, const D: usize> LogisticRegression<'a, T, D> {
    /// The target over preprocessed `rows` (bias first, [`preprocess_features`]) and their
    /// `labels` in {0, 1}, with the `N(0, 10² I)` prior of §5.2.
    ///
    /// # Errors
    /// `InvalidArgument` if `D == 0`, `rows` is empty, the lengths differ, a label is not 0
    /// or 1, or a row has a non-finite entry.
    pub fn new(rows: &'a [SVector<f64, D>], labels: &'a [u8]) -> Result<Self, Error> {
        if D == 0 {
            return Err(Error::InvalidArgument { what: "dimension must be at least 1" });
        }
        if rows.is_empty() || rows.len() != labels.len() {
            return Err(Error::InvalidArgument { what: "rows and labels must be non-empty and of equal length" });
        }
        if labels.iter().any(|&y| y > 1) {
            return Err(Error::InvalidArgument { what: "labels must be 0 or 1" });
        }
        if rows.iter().any(|r| r.iter().any(|v| !v.is_finite())) {
            return Err(Error::InvalidArgument { what: "rows must be finite" });
        }
        let mut t = Self { rows, labels, prior_std: 0.0, prior_const: 0.0, _scalar: PhantomData };
        t.set_prior_std(LOGREG_PRIOR_STD)?;
        Ok(t)
    }

    /// Replaces the prior standard deviation (10 in the benchmark, §5.2).
    ///
    /// # Errors
    /// `InvalidArgument` unless `std` is positive and finite.
    pub fn set_prior_std(&mut self, std: f64) -> Result<(), Error> {
        if !(std > 0.0 && std.is_finite()) {
            return Err(Error::InvalidArgument { what: "prior std must be positive and finite" });
        }
        self.prior_std = std;
        self.prior_const = D as f64 * (-libm::log(std) - 0.5 * LN_2PI);
        Ok(())
    }

    /// The rows `x_n` (bias first).
    pub fn rows(&self) -> &'a [SVector<f64, D>] {
        self.rows
    }

    /// The labels `y_n` in {0, 1}.
    pub fn labels(&self) -> &'a [u8] {
        self.labels
    }

    /// Number of rows `N`.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Always `false` (the constructor rejects empty data).
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `log prior(θ) = Σ_d [−ln σ − ½ ln 2π − θ_d²/(2σ²)]`; adds `−θ/σ²` to `grad` if given.
    pub fn log_prior_f64(&self, theta: &SVector<f64, D>, grad: Option<&mut SVector<f64, D>>) -> f64 {
        let v = self.prior_std * self.prior_std;
        if let Some(g) = grad {
            g.axpy(-1.0 / v, theta, 1.0);
        }
        self.prior_const - 0.5 * theta.norm_squared() / v
    }

    /// `ℓ_n(θ)` for row `n`; adds `scale·(1 − y_n − σ(z_n)) x_n` to `grad` if given.
    /// Returns NaN for an index out of range.
    #[inline]
    pub(crate) fn row_log_lik(
        &self,
        theta: &SVector<f64, D>,
        n: usize,
        scale: f64,
        grad: Option<&mut SVector<f64, D>>,
    ) -> f64 {
        let (Some(x), Some(&y)) = (self.rows.get(n), self.labels.get(n)) else {
            return f64::NAN;
        };
        let (l, c) = row_term(y, theta.dot(x));
        if let Some(g) = grad {
            g.axpy(scale * c, x, 1.0);
        }
        l
    }

    /// `log p~(θ)` of §5.2 over all rows and, if `grad` is given, its gradient.
    /// Non-finite `θ` gives a non-finite value. Bit-identical to the same point's value from
    /// [`Self::log_density_rows_f64`].
    pub fn log_density_f64(&self, theta: &SVector<f64, D>, grad: Option<&mut SVector<f64, D>>) -> f64 {
        let mut lp = [0.0];
        self.block::<1>(core::slice::from_ref(theta), &mut lp, grad.map(core::slice::from_mut));
        lp[0]
    }

    /// [`Self::log_density_f64`] of every `thetas[i]` into `log_p[i]` (and `grads[i]`): the
    /// points are taken [`LOGREG_BLOCK`] at a time, so every data row is read once per block
    /// and its `D` products, log-sigmoids and gradient terms run over the block's lanes.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    pub fn log_density_rows_f64(
        &self,
        thetas: &[SVector<f64, D>],
        log_p: &mut [f64],
        grads: Option<&mut [SVector<f64, D>]>,
    ) -> Result<(), TargetError> {
        super::eval_in_blocks::<_, _, _, LOGREG_BLOCK>(thetas, log_p, grads, |tb, lb, gb| {
            self.block::<LOGREG_BLOCK>(tb, lb, gb)
        })
    }

    /// Up to `L` points (`thetas.len() ≤ L`, the rest of the lanes idle). Lane `l` runs the
    /// same operations in the same order for every `L`: `z = Σ_d θ_d x_d` left to right, the
    /// row terms summed in row order, then the prior.
    fn block<const L: usize>(
        &self,
        thetas: &[SVector<f64, D>],
        log_p: &mut [f64],
        grads: Option<&mut [SVector<f64, D>]>,
    ) {
        let n = thetas.len().min(log_p.len()).min(L);
        // θ and the gradient transposed, lanes innermost, so each row entry is read once.
        let mut th = [[0.0f64; L]; D];
        for (l, t) in thetas.iter().take(n).enumerate() {
            for (thd, &v) in th.iter_mut().zip(t.iter()) {
                thd[l] = v;
            }
        }
        let want_grad = grads.is_some();
        let mut g = [[0.0f64; L]; D];
        let mut ll = [0.0f64; L];
        for (x, &y) in self.rows.iter().zip(self.labels) {
            let mut z = [0.0f64; L];
            for (thd, &xd) in th.iter().zip(x.iter()) {
                for (zl, &t) in z.iter_mut().zip(thd) {
                    *zl += t * xd;
                }
            }
            let mut c = [0.0f64; L];
            for ((cl, lll), &zl) in c.iter_mut().zip(ll.iter_mut()).zip(&z) {
                let (l, dl) = row_term(y, zl);
                *lll += l;
                *cl = dl;
            }
            if want_grad {
                for (gd, &xd) in g.iter_mut().zip(x.iter()) {
                    for (gl, &cl) in gd.iter_mut().zip(&c) {
                        *gl += cl * xd;
                    }
                }
            }
        }
        let grads = grads.map(|gs| gs.iter_mut());
        let mut grads = grads.into_iter().flatten();
        for (l, (t, lp)) in thetas.iter().zip(log_p.iter_mut()).take(n).enumerate() {
            let gl = match grads.next() {
                Some(gi) => {
                    for (gid, gd) in gi.iter_mut().zip(&g) {
                        *gid = gd[l];
                    }
                    Some(gi)
                }
                None => None,
            };
            *lp = ll[l] + self.log_prior_f64(t, gl);
        }
    }
}

impl<T: Real, const D: usize> Target<T, D> for LogisticRegression<'_, T, D> {
    /// `log p~(θ_i)` of docs/targets.md §5.2 (all rows), computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), TargetError> {
        self.eval_as_f64(x, log_p, None)
    }

    /// `log p~(θ_i)` and its gradient (docs/targets.md §5.2), computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        self.eval_as_f64(x, log_p, Some(grad))
    }
}

impl<T: Real, const D: usize> LogisticRegression<'_, T, D> {
    /// The batched methods for any `T`: blocks of [`LOGREG_BLOCK`] points through `f64`.
    fn eval_as_f64(
        &self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: Option<&mut [SVector<T, D>]>,
    ) -> Result<(), TargetError> {
        super::eval_blocks_as_f64::<T, D, LOGREG_BLOCK>(x, log_p, grad, |xb, lb, gb| {
            self.block::<LOGREG_BLOCK>(xb, lb, gb)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_sigmoid() {
        for a in [-800.0, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0] {
            let naive = 1.0 / (1.0 + libm::exp(-a));
            assert!((sigmoid(a) - naive).abs() < 1e-15);
            let (_, c) = log_sigmoid_and_complement(a);
            assert!((c - sigmoid(-a)).abs() <= 1e-15 * sigmoid(-a) + 1e-300);
        }
    }

    #[test]
    fn blocks_equal_single_points_bit_for_bit() {
        let mut rows = [SVector::<f64, 3>::zeros(); 7];
        let mut labels = [0u8; 7];
        for (n, (r, y)) in rows.iter_mut().zip(&mut labels).enumerate() {
            let v = n as f64;
            *r = SVector::from([1.0, libm::sin(1.3 * v), libm::cos(0.7 * v) * 3.0]);
            *y = (n % 3 == 0) as u8;
        }
        let t = LogisticRegression::<f64, 3>::new(&rows, &labels).unwrap();
        let thetas: [SVector<f64, 3>; 19] = core::array::from_fn(|i| {
            SVector::from([0.3 * i as f64 - 2.0, libm::sin(i as f64) * 40.0, -0.1 * i as f64])
        });
        let mut lp = [0.0; 19];
        let mut g = [SVector::<f64, 3>::zeros(); 19];
        t.log_density_rows_f64(&thetas, &mut lp, Some(&mut g)).unwrap();
        let mut lp_only = [0.0; 19];
        t.log_density_rows_f64(&thetas, &mut lp_only, None).unwrap();
        let mut t32 = LogisticRegression::<f32, 3>::new(&rows, &labels).unwrap();
        let th32 = thetas.map(|th| th.map(|v| v as f32));
        let (mut lp32, mut g32) = ([0.0f32; 19], [SVector::<f32, 3>::zeros(); 19]);
        t32.log_density_with_grad(&th32, &mut lp32, &mut g32).unwrap();
        for i in 0..19 {
            let mut gi = SVector::zeros();
            let single = t.log_density_f64(&thetas[i], Some(&mut gi));
            assert_eq!(single.to_bits(), lp[i].to_bits());
            assert_eq!(single.to_bits(), lp_only[i].to_bits());
            assert_eq!(gi, g[i]);
            // Straightforward formula with libm.
            let mut want = -0.5 * thetas[i].norm_squared() / 100.0 + 3.0 * (-libm::log(10.0) - 0.5 * LN_2PI);
            for (x, &y) in rows.iter().zip(&labels) {
                let z = thetas[i].dot(x);
                // ln σ(−z) = −ln(1 + e^z), ln σ(z) = −ln(1 + e^{−z}) (|z| < 200 here).
                want -= if y == 1 { libm::log1p(libm::exp(z)) } else { libm::log1p(libm::exp(-z)) };
            }
            assert!((single - want).abs() <= 1e-12 * want.abs(), "{single} {want}");
            let th = thetas[i].map(|v| v as f32).map(f64::from);
            assert_eq!(lp32[i], t.log_density_f64(&th, None) as f32);
        }
        assert!(t.log_density_rows_f64(&thetas, &mut lp[..3], None).is_err());
    }

    #[test]
    fn parse_rejects_bad_rows() {
        let mut f = [0.0; 48];
        let mut y = [0u8; 2];
        assert!(matches!(parse_german_credit("1 2 3\n", &mut f, &mut y), Err(Error::InvalidArgument { .. })));
        let row = "1 ".repeat(24) + "3\n";
        assert!(matches!(parse_german_credit(&row, &mut f, &mut y), Err(Error::InvalidArgument { .. })));
        let row = "1 ".repeat(24) + "2\n";
        assert_eq!(parse_german_credit(&row, &mut f, &mut y), Ok(1));
        assert_eq!(y[0], 1);
        let three = row.repeat(3);
        assert_eq!(parse_german_credit(&three, &mut f, &mut y), Err(Error::BufferTooSmall { needed: 72 }));
        let bad = "1 ".repeat(24) + "x\n";
        assert!(matches!(parse_german_credit(&bad, &mut f, &mut y), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn preprocess_rejects_constant_columns() {
        let raw = [1.0, 2.0, 1.0, 3.0];
        let mut rows = [SVector::<f64, 3>::zeros(); 2];
        assert!(preprocess_features(&raw, &mut rows).is_err());
        let raw = [1.0, 2.0, 3.0, 4.0];
        assert!(preprocess_features(&raw, &mut rows).is_ok());
        assert_eq!(rows[0][0], 1.0);
        assert!((rows[1][1] - 3.0).abs() < 1e-15); // std of (1, 3) is 1
        assert!(preprocess_features(&raw[..3], &mut rows).is_err());
    }
}

//! Gaussian variational families (`docs/estimators.md` §0).
//!
//! * [`MeanFieldGaussian`]: `λ = (μ, ω)`, `ω_d = log σ_d`, `x = μ + σ ⊙ ε`, `ε ~ N(0, I)`.
//!   Per coordinate `∂ log q/∂μ_d|_x = (x_d − μ_d)/σ_d² = ε_d/σ_d`,
//!   `∂ log q/∂ω_d|_x = ε_d² − 1`, `H = Σ_d ω_d + (D/2)(1 + ln 2π)`, and
//!   `log q(x(ε); λ) = −½‖ε‖² − Σ_d ω_d − (D/2) ln 2π` has total λ-derivative `(0, −1)`.
//! * [`FullRankGaussian`]: `λ = (μ, L)`, `L` lower-triangular with positive diagonal,
//!   `x = μ + L ε`, `Σ = L Lᵀ`. With `z = L⁻¹(x − μ)` and `w = L⁻ᵀ z = Σ⁻¹(x − μ)`:
//!   `∇_μ log q|_x = w`, `∇_L log q|_x = tril(w zᵀ) − diag(1/L_dd)`, `∇_x log q = −w`,
//!   `vᵀ ∂x/∂(μ, L) = (v, tril(v εᵀ))`, `H = Σ_d ln L_dd + (D/2)(1 + ln 2π)`,
//!   `∇_L H = diag(1/L_dd)`; `log q(x(ε)) = −½‖ε‖² − Σ ln L_dd − (D/2) ln 2π`.
//! * [`LogCholeskyGaussian`]: the same distribution in the log-Cholesky parameterisation
//!   `λ = (μ, L_strict, s)` with `L_dd = exp(s_d)`. Every gradient is the full-rank one with the
//!   chain rule `∂/∂s_d = L_dd ∂/∂L_dd` on the diagonal (off-diagonal and mean entries are
//!   unchanged): `∂ log q/∂s_d|_x = L_dd w_d z_d − 1`, `vᵀ ∂x/∂s_d = v_d ε_d L_dd`,
//!   `∂H/∂s_d = 1`, and `log q(x(ε))` has total derivative `−1` in each `s_d`.
//!
//! Parameter layout (the P-vector of the [`Family`] contract): mean-field
//! `[μ_1..μ_D, ω_1..ω_D]` (`P = 2D`); full-rank `[μ_1..μ_D, L_11, L_21, L_22, L_31, …]`,
//! the lower triangle packed row by row (`P = D + D(D+1)/2`, `L_ij` at `D + i(i+1)/2 + j`
//! for zero-based `j ≤ i`); log-Cholesky the same packing with `s_i = ln L_ii` in the diagonal
//! slots.
//!
//! # Why two full-rank families
//!
//! docs/estimators.md states the full-covariance family in the raw factor: §0 and §3.1 give
//! `∇_L = tril(g εᵀ) + diag(1/L_dd)`, and the test cases built on it (PW4's general `(μ, L)`
//! case `∇_L = tril(L⁻ᵀ − P L)`, TP2's `∇_L L`, the score-function tests of §2 on TP2) are
//! stated for `λ = (μ, L)`. [`FullRankGaussian`] keeps exactly that parameterisation, so those
//! tests check those formulas as written. Its domain has a boundary, though: a gradient
//! step larger than a diagonal entry (Adam moves every coordinate by about its step size, 0.01
//! by default) leaves the family, which is what made ADVI-FR, IWAE and VR fail on the planar
//! robots (initial `σ = 0.05`, posterior scales far below it). [`LogCholeskyGaussian`] has no
//! boundary — every finite `s` is a positive diagonal, as §0 does for the mean-field scale with
//! `ω = log σ` — and is the family the baseline drivers use. At `L = I` (`s = 0`) the two
//! gradients coincide, so §16's TP2 numbers at `q = N(0, I)` hold for both (tested).
use gmmvi::error::Error;
use gmmvi::real::{LN_2PI, Real};
use nalgebra::{SMatrix, SVector};

use super::{AnalyticEntropy, Family, Reparameterized};

fn all_finite<T: Real>(v: &[T]) -> bool {
    v.iter().all(|x| x.finite())
}

/// Diagonal Gaussian `N(μ, diag σ²)` parameterised by `λ = (μ, ω = log σ)` (§0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeanFieldGaussian<T: Real, const D: usize> {
    mean: SVector<T, D>,
    log_std: SVector<T, D>,
    std: SVector<T, D>,
}

impl<T: Real, const D: usize> MeanFieldGaussian<T, D> {
    /// Number of parameters `P = 2D`.
    pub const NUM_PARAMS: usize = 2 * D;

    /// The standard normal `N(0, I)` (`μ = 0`, `ω = 0`).
    pub fn standard() -> Self {
        const { assert!(D > 0) }
        Self { mean: SVector::zeros(), log_std: SVector::zeros(), std: SVector::repeat(T::one()) }
    }

    /// `N(mean, diag exp(2 log_std))`.
    ///
    /// # Errors
    /// `InvalidArgument` if an entry is non-finite or `σ = exp(ω)` is zero, infinite or has
    /// an infinite `1/σ²` (the score would overflow).
    pub fn new(mean: SVector<T, D>, log_std: SVector<T, D>) -> Result<Self, Error> {
        let mut g = Self::standard();
        g.set(mean, log_std)?;
        Ok(g)
    }

    /// `N(mean, diag std²)`; `σ` is stored exactly as given.
    ///
    /// # Errors
    /// `InvalidArgument` if an entry is non-finite or a standard deviation is not positive.
    pub fn from_std(mean: SVector<T, D>, std: SVector<T, D>) -> Result<Self, Error> {
        if !std.iter().all(|s| *s > T::zero() && s.finite()) {
            return Err(Error::InvalidArgument { what: "standard deviation must be positive and finite" });
        }
        let mut g = Self::new(mean, std.map(|s| s.ln()))?;
        // Keep σ exactly as given (exp(ln σ) may differ in the last bit).
        g.std = std;
        Ok(g)
    }

    fn set(&mut self, mean: SVector<T, D>, log_std: SVector<T, D>) -> Result<(), Error> {
        if !all_finite(mean.as_slice()) || !all_finite(log_std.as_slice()) {
            return Err(Error::InvalidArgument { what: "non-finite Gaussian parameter" });
        }
        let std = log_std.map(|w| w.exp());
        if !std.iter().all(|s| *s > T::zero() && s.finite() && (T::one() / (*s * *s)).finite()) {
            return Err(Error::InvalidArgument { what: "log standard deviation out of range" });
        }
        *self = Self { mean, log_std, std };
        Ok(())
    }

    /// The mean `μ`.
    pub fn mean(&self) -> &SVector<T, D> {
        &self.mean
    }

    /// The log standard deviations `ω`.
    pub fn log_std(&self) -> &SVector<T, D> {
        &self.log_std
    }

    /// The standard deviations `σ = exp(ω)`.
    pub fn std(&self) -> &SVector<T, D> {
        &self.std
    }
}

impl<T: Real, const D: usize> Family<T, D> for MeanFieldGaussian<T, D> {
    fn num_params(&self) -> usize {
        2 * D
    }

    fn params(&self, out: &mut [T]) -> Result<(), Error> {
        let out = out.get_mut(..2 * D).ok_or(Error::BufferTooSmall { needed: 2 * D })?;
        let (m, w) = out.split_at_mut(D);
        m.copy_from_slice(self.mean.as_slice());
        w.copy_from_slice(self.log_std.as_slice());
        Ok(())
    }

    fn set_params(&mut self, p: &[T]) -> Result<(), Error> {
        if p.len() != 2 * D {
            return Err(Error::InvalidArgument { what: "parameter vector length != 2D" });
        }
        let (m, w) = p.split_at(D);
        self.set(SVector::from_column_slice(m), SVector::from_column_slice(w))
    }

    fn reparam(&self, eps: &SVector<T, D>) -> SVector<T, D> {
        self.mean + self.std.component_mul(eps)
    }

    fn log_q(&self, x: &SVector<T, D>) -> T {
        let mut s = T::zero();
        for ((xd, md), (sd, wd)) in x.iter().zip(self.mean.iter()).zip(self.std.iter().zip(self.log_std.iter())) {
            let z = (*xd - *md) / *sd;
            s -= z * z * T::of(0.5) + *wd;
        }
        s - T::of(0.5 * D as f64 * LN_2PI)
    }

    fn score_acc(&self, x: &SVector<T, D>, c: T, out: &mut [T]) {
        let (om, ow) = out.split_at_mut(D.min(out.len()));
        for (((o, xd), md), sd) in om.iter_mut().zip(x.iter()).zip(self.mean.iter()).zip(self.std.iter()) {
            *o += c * (*xd - *md) / (*sd * *sd);
        }
        for (((o, xd), md), sd) in ow.iter_mut().zip(x.iter()).zip(self.mean.iter()).zip(self.std.iter()) {
            let z = (*xd - *md) / *sd;
            *o += c * (z * z - T::one());
        }
    }
}

impl<T: Real, const D: usize> Reparameterized<T, D> for MeanFieldGaussian<T, D> {
    fn vjp_acc(&self, eps: &SVector<T, D>, v: &SVector<T, D>, out: &mut [T]) {
        let (om, ow) = out.split_at_mut(D.min(out.len()));
        for (o, vd) in om.iter_mut().zip(v.iter()) {
            *o += *vd;
        }
        // ∂x_d/∂ω_d = σ_d ε_d.
        for (((o, vd), sd), ed) in ow.iter_mut().zip(v.iter()).zip(self.std.iter()).zip(eps.iter()) {
            *o += *vd * *sd * *ed;
        }
    }

    fn grad_x_log_q(&self, x: &SVector<T, D>) -> SVector<T, D> {
        (self.mean - x).component_div(&self.std.component_mul(&self.std))
    }

    fn log_q_total_grad_acc(&self, _eps: &SVector<T, D>, c: T, out: &mut [T]) {
        for o in out.iter_mut().take(2 * D).skip(D) {
            *o -= c;
        }
    }
}

impl<T: Real, const D: usize> AnalyticEntropy<T, D> for MeanFieldGaussian<T, D> {
    fn entropy(&self) -> T {
        self.log_std.sum() + T::of(0.5 * D as f64 * (1.0 + LN_2PI))
    }

    fn entropy_grad_acc(&self, c: T, out: &mut [T]) {
        for o in out.iter_mut().take(2 * D).skip(D) {
            *o += c;
        }
    }
}

/// Full-covariance Gaussian `N(μ, L Lᵀ)` parameterised by `λ = (μ, L)` with `L`
/// lower-triangular with a positive diagonal (§0, §3.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FullRankGaussian<T: Real, const D: usize> {
    mean: SVector<T, D>,
    chol: SMatrix<T, D, D>,
}

impl<T: Real, const D: usize> FullRankGaussian<T, D> {
    /// Number of parameters `P = D + D(D+1)/2`.
    pub const NUM_PARAMS: usize = D + D * (D + 1) / 2;

    /// The standard normal `N(0, I)` (`μ = 0`, `L = I`).
    pub fn standard() -> Self {
        const { assert!(D > 0) }
        Self { mean: SVector::zeros(), chol: SMatrix::identity() }
    }

    /// `N(mean, chol cholᵀ)`.
    ///
    /// # Errors
    /// `InvalidArgument` if an entry is non-finite, an entry above the diagonal is non-zero,
    /// or a diagonal entry is not positive (or has an infinite reciprocal).
    pub fn new(mean: SVector<T, D>, chol: SMatrix<T, D, D>) -> Result<Self, Error> {
        Self::validate(&mean, &chol)?;
        Ok(Self { mean, chol })
    }

    fn validate(mean: &SVector<T, D>, chol: &SMatrix<T, D, D>) -> Result<(), Error> {
        if !all_finite(mean.as_slice()) || !all_finite(chol.as_slice()) {
            return Err(Error::InvalidArgument { what: "non-finite Gaussian parameter" });
        }
        for i in 0..D {
            for j in (i + 1)..D {
                if chol[(i, j)] != T::zero() {
                    return Err(Error::InvalidArgument { what: "Cholesky factor must be lower-triangular" });
                }
            }
            let d = chol[(i, i)];
            if !(d > T::zero()) || !(T::one() / d).finite() {
                return Err(Error::InvalidArgument { what: "Cholesky diagonal must be positive" });
            }
        }
        Ok(())
    }

    /// The mean `μ`.
    pub fn mean(&self) -> &SVector<T, D> {
        &self.mean
    }

    /// The lower-triangular Cholesky factor `L`.
    pub fn chol(&self) -> &SMatrix<T, D, D> {
        &self.chol
    }

    /// The covariance `Σ = L Lᵀ`.
    pub fn covariance(&self) -> SMatrix<T, D, D> {
        self.chol * self.chol.transpose()
    }

    /// Forward substitution `z = L⁻¹ r`.
    fn solve_l(&self, r: &SVector<T, D>) -> SVector<T, D> {
        let mut z = *r;
        for i in 0..D {
            let mut s = z[i];
            for j in 0..i {
                s -= self.chol[(i, j)] * z[j];
            }
            z[i] = s / self.chol[(i, i)];
        }
        z
    }

    /// Back substitution `w = L⁻ᵀ z`.
    fn solve_lt(&self, z: &SVector<T, D>) -> SVector<T, D> {
        let mut w = *z;
        for i in (0..D).rev() {
            let mut s = w[i];
            for j in (i + 1)..D {
                s -= self.chol[(j, i)] * w[j];
            }
            w[i] = s / self.chol[(i, i)];
        }
        w
    }

    /// `out += c · ∇ log q(x)` at fixed `x`; with `log_diag` the diagonal slots get
    /// `∂/∂s_i = L_ii ∂/∂L_ii` (log-Cholesky layout), otherwise `∂/∂L_ii`.
    fn score_acc_in(&self, x: &SVector<T, D>, c: T, out: &mut [T], log_diag: bool) {
        let z = self.solve_l(&(x - self.mean));
        let w = self.solve_lt(&z);
        for i in 0..D {
            if let Some(o) = out.get_mut(i) {
                *o += c * w[i];
            }
            for j in 0..=i {
                let g = if i != j {
                    w[i] * z[j]
                } else if log_diag {
                    self.chol[(i, i)] * w[i] * z[i] - T::one()
                } else {
                    w[i] * z[i] - T::one() / self.chol[(i, i)]
                };
                if let Some(o) = out.get_mut(tri(D, i, j)) {
                    *o += c * g;
                }
            }
        }
    }

    /// `out += vᵀ ∂x/∂λ` at `x = μ + L ε`, diagonal slots as in [`Self::score_acc_in`].
    fn vjp_acc_in(&self, eps: &SVector<T, D>, v: &SVector<T, D>, out: &mut [T], log_diag: bool) {
        for i in 0..D {
            if let Some(o) = out.get_mut(i) {
                *o += v[i];
            }
            for j in 0..=i {
                let g = if i == j && log_diag { v[i] * eps[j] * self.chol[(i, i)] } else { v[i] * eps[j] };
                if let Some(o) = out.get_mut(tri(D, i, j)) {
                    *o += g;
                }
            }
        }
    }
}

/// Index of `L_ij` (`j ≤ i`) in the packed P-vector.
#[inline]
fn tri(d: usize, i: usize, j: usize) -> usize {
    d + i * (i + 1) / 2 + j
}

impl<T: Real, const D: usize> Family<T, D> for FullRankGaussian<T, D> {
    fn num_params(&self) -> usize {
        Self::NUM_PARAMS
    }

    fn params(&self, out: &mut [T]) -> Result<(), Error> {
        let p = Self::NUM_PARAMS;
        let out = out.get_mut(..p).ok_or(Error::BufferTooSmall { needed: p })?;
        let (m, l) = out.split_at_mut(D);
        m.copy_from_slice(self.mean.as_slice());
        let mut it = l.iter_mut();
        for i in 0..D {
            for j in 0..=i {
                if let Some(o) = it.next() {
                    *o = self.chol[(i, j)];
                }
            }
        }
        Ok(())
    }

    fn set_params(&mut self, p: &[T]) -> Result<(), Error> {
        if p.len() != Self::NUM_PARAMS {
            return Err(Error::InvalidArgument { what: "parameter vector length != D + D(D+1)/2" });
        }
        let (m, l) = p.split_at(D);
        let mean = SVector::from_column_slice(m);
        let mut chol = SMatrix::zeros();
        let mut it = l.iter();
        for i in 0..D {
            for j in 0..=i {
                if let Some(v) = it.next() {
                    chol[(i, j)] = *v;
                }
            }
        }
        Self::validate(&mean, &chol)?;
        self.mean = mean;
        self.chol = chol;
        Ok(())
    }

    fn reparam(&self, eps: &SVector<T, D>) -> SVector<T, D> {
        let mut x = self.mean;
        for i in 0..D {
            let mut s = T::zero();
            for j in 0..=i {
                s += self.chol[(i, j)] * eps[j];
            }
            x[i] += s;
        }
        x
    }

    fn log_q(&self, x: &SVector<T, D>) -> T {
        let z = self.solve_l(&(x - self.mean));
        let mut logdet = T::zero();
        for i in 0..D {
            logdet += self.chol[(i, i)].ln();
        }
        -z.norm_squared() * T::of(0.5) - logdet - T::of(0.5 * D as f64 * LN_2PI)
    }

    fn score_acc(&self, x: &SVector<T, D>, c: T, out: &mut [T]) {
        self.score_acc_in(x, c, out, false);
    }
}

impl<T: Real, const D: usize> Reparameterized<T, D> for FullRankGaussian<T, D> {
    fn vjp_acc(&self, eps: &SVector<T, D>, v: &SVector<T, D>, out: &mut [T]) {
        self.vjp_acc_in(eps, v, out, false);
    }

    fn grad_x_log_q(&self, x: &SVector<T, D>) -> SVector<T, D> {
        -self.solve_lt(&self.solve_l(&(x - self.mean)))
    }

    fn log_q_total_grad_acc(&self, _eps: &SVector<T, D>, c: T, out: &mut [T]) {
        for i in 0..D {
            if let Some(o) = out.get_mut(tri(D, i, i)) {
                *o -= c / self.chol[(i, i)];
            }
        }
    }
}

impl<T: Real, const D: usize> AnalyticEntropy<T, D> for FullRankGaussian<T, D> {
    fn entropy(&self) -> T {
        let mut h = T::of(0.5 * D as f64 * (1.0 + LN_2PI));
        for i in 0..D {
            h += self.chol[(i, i)].ln();
        }
        h
    }

    fn entropy_grad_acc(&self, c: T, out: &mut [T]) {
        for i in 0..D {
            if let Some(o) = out.get_mut(tri(D, i, i)) {
                *o += c / self.chol[(i, i)];
            }
        }
    }
}

/// Full-covariance Gaussian `N(μ, L Lᵀ)` in the log-Cholesky parameterisation
/// `λ = (μ, L_strict, s)`, `L_dd = exp(s_d)`: unconstrained, so no gradient step can leave the
/// family (see the module documentation). The family the baseline drivers use.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogCholeskyGaussian<T: Real, const D: usize> {
    full: FullRankGaussian<T, D>,
    log_diag: SVector<T, D>,
}

impl<T: Real, const D: usize> LogCholeskyGaussian<T, D> {
    /// Number of parameters `P = D + D(D+1)/2`.
    pub const NUM_PARAMS: usize = D + D * (D + 1) / 2;

    /// The standard normal `N(0, I)` (`μ = 0`, `L = I`, `s = 0`).
    pub fn standard() -> Self {
        Self { full: FullRankGaussian::standard(), log_diag: SVector::zeros() }
    }

    /// `N(mean, chol cholᵀ)`; `L` is stored exactly as given, `s_d = ln L_dd`.
    ///
    /// # Errors
    /// As [`FullRankGaussian::new`].
    pub fn new(mean: SVector<T, D>, chol: SMatrix<T, D, D>) -> Result<Self, Error> {
        let full = FullRankGaussian::new(mean, chol)?;
        Ok(Self::from_full_rank(full))
    }

    /// The same distribution as `full`.
    pub fn from_full_rank(full: FullRankGaussian<T, D>) -> Self {
        let log_diag = SVector::from_fn(|i, _| full.chol[(i, i)].ln());
        Self { full, log_diag }
    }

    /// The distribution in the raw parameterisation.
    pub fn full_rank(&self) -> &FullRankGaussian<T, D> {
        &self.full
    }

    /// The mean `μ`.
    pub fn mean(&self) -> &SVector<T, D> {
        &self.full.mean
    }

    /// The lower-triangular Cholesky factor `L` (diagonal `exp(s)`).
    pub fn chol(&self) -> &SMatrix<T, D, D> {
        &self.full.chol
    }

    /// The log-diagonal `s_d = ln L_dd`.
    pub fn log_diag(&self) -> &SVector<T, D> {
        &self.log_diag
    }

    /// The covariance `Σ = L Lᵀ`.
    pub fn covariance(&self) -> SMatrix<T, D, D> {
        self.full.covariance()
    }
}

impl<T: Real, const D: usize> Family<T, D> for LogCholeskyGaussian<T, D> {
    fn num_params(&self) -> usize {
        Self::NUM_PARAMS
    }

    fn params(&self, out: &mut [T]) -> Result<(), Error> {
        self.full.params(out)?;
        for i in 0..D {
            if let Some(o) = out.get_mut(tri(D, i, i)) {
                *o = self.log_diag[i];
            }
        }
        Ok(())
    }

    /// # Errors
    /// `InvalidArgument` if `p.len() != P`, an entry is non-finite, or `exp(s_d)` is zero,
    /// infinite or has an infinite reciprocal (`|s_d|` beyond about 709 in `f64`).
    fn set_params(&mut self, p: &[T]) -> Result<(), Error> {
        if p.len() != Self::NUM_PARAMS {
            return Err(Error::InvalidArgument { what: "parameter vector length != D + D(D+1)/2" });
        }
        let (m, l) = p.split_at(D);
        let mean = SVector::from_column_slice(m);
        let mut chol = SMatrix::zeros();
        let mut log_diag = SVector::zeros();
        let mut it = l.iter();
        for i in 0..D {
            for j in 0..=i {
                if let Some(v) = it.next() {
                    if i == j {
                        if !v.finite() {
                            return Err(Error::InvalidArgument { what: "non-finite Gaussian parameter" });
                        }
                        log_diag[i] = *v;
                        chol[(i, i)] = v.exp();
                    } else {
                        chol[(i, j)] = *v;
                    }
                }
            }
        }
        FullRankGaussian::validate(&mean, &chol)?;
        *self = Self { full: FullRankGaussian { mean, chol }, log_diag };
        Ok(())
    }

    fn reparam(&self, eps: &SVector<T, D>) -> SVector<T, D> {
        self.full.reparam(eps)
    }

    fn log_q(&self, x: &SVector<T, D>) -> T {
        let z = self.full.solve_l(&(x - self.full.mean));
        -z.norm_squared() * T::of(0.5) - self.log_diag.sum() - T::of(0.5 * D as f64 * LN_2PI)
    }

    fn score_acc(&self, x: &SVector<T, D>, c: T, out: &mut [T]) {
        self.full.score_acc_in(x, c, out, true);
    }
}

impl<T: Real, const D: usize> Reparameterized<T, D> for LogCholeskyGaussian<T, D> {
    fn vjp_acc(&self, eps: &SVector<T, D>, v: &SVector<T, D>, out: &mut [T]) {
        self.full.vjp_acc_in(eps, v, out, true);
    }

    fn grad_x_log_q(&self, x: &SVector<T, D>) -> SVector<T, D> {
        self.full.grad_x_log_q(x)
    }

    fn log_q_total_grad_acc(&self, _eps: &SVector<T, D>, c: T, out: &mut [T]) {
        for i in 0..D {
            if let Some(o) = out.get_mut(tri(D, i, i)) {
                *o -= c;
            }
        }
    }
}

impl<T: Real, const D: usize> AnalyticEntropy<T, D> for LogCholeskyGaussian<T, D> {
    fn entropy(&self) -> T {
        self.log_diag.sum() + T::of(0.5 * D as f64 * (1.0 + LN_2PI))
    }

    fn entropy_grad_acc(&self, c: T, out: &mut [T]) {
        for i in 0..D {
            if let Some(o) = out.get_mut(tri(D, i, i)) {
                *o += c;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2, Matrix3, Vector2, Vector3};

    /// Central finite differences of `log q(x; λ)` in `λ` at fixed `x`.
    fn fd_score<F: Family<f64, D> + Copy, const D: usize>(f: &F, x: &SVector<f64, D>, out: &mut [f64]) {
        let n = f.num_params();
        let mut p = [0.0; 16];
        f.params(&mut p[..n]).unwrap();
        let mut g = *f;
        for k in 0..n {
            let h = 1e-6;
            let mut q = p;
            q[k] += h;
            g.set_params(&q[..n]).unwrap();
            let up = g.log_q(x);
            q[k] -= 2.0 * h;
            g.set_params(&q[..n]).unwrap();
            out[k] = (up - g.log_q(x)) / (2.0 * h);
        }
    }

    #[test]
    fn mean_field_identities() {
        let g = MeanFieldGaussian::<f64, 2>::new(Vector2::new(0.5, -1.0), Vector2::new(0.3, -0.2)).unwrap();
        let eps = Vector2::new(0.7, -1.3);
        let x = g.reparam(&eps);
        let s = g.std();
        // log q(x(ε)) = −½‖ε‖² − Σω − ln 2π.
        let want = -0.5 * eps.norm_squared() - 0.1 - LN_2PI;
        assert!((g.log_q(&x) - want).abs() < 1e-13);
        let mut sc = [0.0; 4];
        g.score_acc(&x, 1.0, &mut sc);
        let want = [eps[0] / s[0], eps[1] / s[1], eps[0] * eps[0] - 1.0, eps[1] * eps[1] - 1.0];
        for (a, b) in sc.iter().zip(want) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut fd = [0.0; 4];
        fd_score(&g, &x, &mut fd);
        for (a, b) in sc.iter().zip(fd) {
            assert!((a - b).abs() < 1e-7);
        }
        assert!((g.entropy() - (0.1 + 1.0 + LN_2PI)).abs() < 1e-14);
        let mut p = [0.0; 4];
        g.params(&mut p).unwrap();
        assert_eq!(p, [0.5, -1.0, 0.3, -0.2]);
        assert_eq!(g.grad_x_log_q(&x), -eps.component_div(s));
    }

    #[test]
    fn full_rank_identities() {
        let l = Matrix2::new(1.3, 0.0, -0.4, 0.7);
        let g = FullRankGaussian::<f64, 2>::new(Vector2::new(0.2, -0.5), l).unwrap();
        let eps = Vector2::new(-0.6, 1.1);
        let x = g.reparam(&eps);
        assert!((x - (Vector2::new(0.2, -0.5) + l * eps)).norm() < 1e-14);
        let want = -0.5 * eps.norm_squared() - (1.3f64 * 0.7).ln() - LN_2PI;
        assert!((g.log_q(&x) - want).abs() < 1e-13);
        // Score against finite differences.
        let mut sc = [0.0; 5];
        g.score_acc(&x, 1.0, &mut sc);
        let mut fd = [0.0; 5];
        fd_score(&g, &x, &mut fd);
        for (a, b) in sc.iter().zip(fd) {
            assert!((a - b).abs() < 1e-7, "{sc:?} {fd:?}");
        }
        // ∇_x log q = −Σ⁻¹(x − μ).
        let sigma = g.covariance();
        let gx = -sigma.try_inverse().unwrap() * (x - g.mean());
        assert!((g.grad_x_log_q(&x) - gx).norm() < 1e-12);
        // VJP against finite differences of the sampler.
        let v = Vector2::new(0.9, -0.3);
        let mut vj = [0.0; 5];
        g.vjp_acc(&eps, &v, &mut vj);
        let mut p = [0.0; 5];
        g.params(&mut p).unwrap();
        assert_eq!(p, [0.2, -0.5, 1.3, -0.4, 0.7]);
        for k in 0..5 {
            let (mut a, mut b) = (g, g);
            let (mut q1, mut q2) = (p, p);
            q1[k] += 1e-6;
            q2[k] -= 1e-6;
            a.set_params(&q1).unwrap();
            b.set_params(&q2).unwrap();
            let fd = v.dot(&(a.reparam(&eps) - b.reparam(&eps))) / 2e-6;
            assert!((vj[k] - fd).abs() < 1e-8);
        }
        // The default chain-rule total derivative equals the closed-form override.
        let mut chain = [0.0; 5];
        g.vjp_acc(&eps, &g.grad_x_log_q(&x), &mut chain);
        g.score_acc(&x, 1.0, &mut chain);
        let mut closed = [0.0; 5];
        g.log_q_total_grad_acc(&eps, 1.0, &mut closed);
        for (a, b) in chain.iter().zip(closed) {
            assert!((a - b).abs() < 1e-12);
        }
        assert!((g.entropy() - ((1.3f64 * 0.7).ln() + 1.0 + LN_2PI)).abs() < 1e-14);
        let mut eg = [0.0; 5];
        g.entropy_grad_acc(1.0, &mut eg);
        assert_eq!(eg, [0.0, 0.0, 1.0 / 1.3, 0.0, 1.0 / 0.7]);
    }

    #[test]
    fn full_rank_3d_score_fd() {
        let mut g = FullRankGaussian::<f64, 3>::standard();
        g.set_params(&[0.1, 0.2, -0.3, 1.1, 0.2, 0.9, -0.3, 0.4, 1.5]).unwrap();
        let x = Vector3::new(0.4, -0.8, 1.2);
        let mut sc = [0.0; 9];
        g.score_acc(&x, 2.0, &mut sc);
        let mut fd = [0.0; 9];
        fd_score(&g, &x, &mut fd);
        for (a, b) in sc.iter().zip(fd) {
            assert!((a - 2.0 * b).abs() < 1e-7);
        }
    }

    /// Central finite differences of `h(λ)` for the family's own parameters.
    fn fd_params<F: Family<f64, D> + Copy, const D: usize>(f: &F, h: impl Fn(&F) -> f64, out: &mut [f64]) {
        let n = f.num_params();
        let mut p = [0.0; 16];
        f.params(&mut p[..n]).unwrap();
        let mut g = *f;
        for k in 0..n {
            let step = 1e-6;
            let mut q = p;
            q[k] += step;
            g.set_params(&q[..n]).unwrap();
            let up = h(&g);
            q[k] -= 2.0 * step;
            g.set_params(&q[..n]).unwrap();
            out[k] = (up - h(&g)) / (2.0 * step);
        }
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * (1.0 + b.abs())
    }

    /// Every gradient of the log-Cholesky family against central finite differences in its own
    /// parameters `(μ, L_strict, s)`, and against the raw family through the chain rule
    /// `∂/∂s_i = L_ii ∂/∂L_ii`; with a small diagonal entry (0.05, the planar robots' initial σ).
    #[test]
    fn log_cholesky_gradients_are_exact() {
        let l = Matrix3::new(1.3, 0.0, 0.0, -0.4, 0.05, 0.0, 0.2, 0.7, 2.1);
        let mean = Vector3::new(0.2, -0.5, 1.0);
        let g = LogCholeskyGaussian::<f64, 3>::new(mean, l).unwrap();
        let raw = FullRankGaussian::new(mean, l).unwrap();
        assert_eq!(g.full_rank(), &raw);
        let diag = [3, 5, 8];
        let mut p = [0.0; 9];
        g.params(&mut p).unwrap();
        assert_eq!(p, [0.2, -0.5, 1.0, 1.3f64.ln(), -0.4, 0.05f64.ln(), 0.2, 0.7, 2.1f64.ln()]);
        let mut back = LogCholeskyGaussian::standard();
        back.set_params(&p).unwrap();
        let mut p2 = [0.0; 9];
        back.params(&mut p2).unwrap();
        assert_eq!(p, p2);
        assert!((back.chol() - l).abs().max() < 1e-15);

        let eps = Vector3::new(-0.6, 1.1, 0.4);
        let x = g.reparam(&eps);
        assert_eq!(x, raw.reparam(&eps));
        assert!(close(g.log_q(&x), raw.log_q(&x), 1e-13));
        assert!(close(g.entropy(), raw.entropy(), 1e-14));
        let at = Vector3::new(0.1, -0.45, 0.7);
        // Score at a fixed x (one on the sampler's path, one off it).
        for y in [x, at] {
            let mut sc = [0.0; 9];
            g.score_acc(&y, 1.0, &mut sc);
            let mut fd = [0.0; 9];
            fd_params(&g, |f| f.log_q(&y), &mut fd);
            for (a, b) in sc.iter().zip(fd) {
                assert!(close(*a, b, 1e-7), "{sc:?} {fd:?}");
            }
            let mut sr = [0.0; 9];
            raw.score_acc(&y, 1.0, &mut sr);
            for k in 0..9 {
                let want = match diag.iter().position(|d| *d == k) {
                    Some(i) => l[(i, i)] * sr[k],
                    None => sr[k],
                };
                assert!(close(sc[k], want, 1e-12), "{k}: {} vs {want}", sc[k]);
            }
        }
        // VJP of the sampler.
        let v = Vector3::new(0.9, -0.3, 1.7);
        let mut vj = [0.0; 9];
        g.vjp_acc(&eps, &v, &mut vj);
        let mut fd = [0.0; 9];
        fd_params(&g, |f| v.dot(&f.reparam(&eps)), &mut fd);
        for (a, b) in vj.iter().zip(fd) {
            assert!(close(*a, b, 1e-8), "{vj:?} {fd:?}");
        }
        // Total derivative of log q(x(ε)): closed form = chain rule = finite differences.
        let mut closed = [0.0; 9];
        g.log_q_total_grad_acc(&eps, 1.0, &mut closed);
        let mut chain = [0.0; 9];
        g.vjp_acc(&eps, &g.grad_x_log_q(&x), &mut chain);
        g.score_acc(&x, 1.0, &mut chain);
        fd_params(&g, |f| f.log_q(&f.reparam(&eps)), &mut fd);
        for k in 0..9 {
            assert!(close(chain[k], closed[k], 1e-10) && close(fd[k], closed[k], 1e-6), "{chain:?} {closed:?} {fd:?}");
        }
        assert_eq!(closed, [0.0, 0.0, 0.0, -1.0, 0.0, -1.0, 0.0, 0.0, -1.0]);
        // Entropy gradient.
        let mut eg = [0.0; 9];
        g.entropy_grad_acc(2.0, &mut eg);
        fd_params(&g, |f| f.entropy(), &mut fd);
        for (a, b) in eg.iter().zip(fd) {
            assert!(close(*a, 2.0 * b, 1e-8));
        }
        assert_eq!(eg, [0.0, 0.0, 0.0, 2.0, 0.0, 2.0, 0.0, 0.0, 2.0]);
    }

    /// The pathwise ELBO gradient (§3.1) of the log-Cholesky family on TP2, exact with a
    /// degree-2 cubature: §16's numbers at `q = N(0, I)` (where `∂/∂s = ∂/∂L`), and PW4's
    /// `tril(L⁻ᵀ − P L)` with the diagonal times `L_ii` at a general `(μ, L)`.
    #[test]
    fn log_cholesky_pathwise_on_tp2() {
        use crate::estimators::reparam::pathwise_grad;
        use crate::families::testing::{evaluate, tp2, tp2_precision};
        let r = core::f64::consts::SQRT_2;
        let eps = [Vector2::new(r, 0.0), Vector2::new(-r, 0.0), Vector2::new(0.0, r), Vector2::new(0.0, -r)];
        let q = LogCholeskyGaussian::<f64, 2>::standard();
        let (lp, gp) = evaluate(&q, &eps, tp2);
        let mut g = [0.0; 5];
        let elbo = pathwise_grad(&q, &eps, &lp, &gp, &mut g).unwrap();
        assert!((elbo - -1.4424700721375658).abs() < 1e-12, "{elbo}");
        for (a, b) in g.iter().zip([0.9756097561, -1.5853658537, 0.3902439024, 0.3658536585, -0.2195121951]) {
            assert!((a - b).abs() < 1e-9, "{g:?}");
        }
        let l = Matrix2::new(1.2, 0.0, 0.3, 0.8);
        let mu = Vector2::new(0.2, 0.1);
        let q = LogCholeskyGaussian::new(mu, l).unwrap();
        let (lp, gp) = evaluate(&q, &eps, tp2);
        pathwise_grad(&q, &eps, &lp, &gp, &mut g).unwrap();
        let p = tp2_precision();
        let gmu = p * (Vector2::new(1.0, -1.0) - mu);
        let gl = (l.try_inverse().unwrap().transpose() - p * l).lower_triangle();
        let want = [gmu[0], gmu[1], gl[(0, 0)] * 1.2, gl[(1, 0)], gl[(1, 1)] * 0.8];
        for (a, b) in g.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{g:?} vs {want:?}");
        }
    }

    /// The log-Cholesky domain is every finite `s` whose `exp` is a usable scale: a step that
    /// would take the raw diagonal 0.05 below zero is a valid log-diagonal step.
    #[test]
    fn log_cholesky_domain() {
        let mut g = LogCholeskyGaussian::<f64, 2>::standard();
        let s = 0.05f64.ln();
        // Raw: 0.05 − 0.06 < 0 is outside the family; in s the same-size step is fine.
        let mut raw = FullRankGaussian::<f64, 2>::standard();
        assert!(raw.set_params(&[0.0, 0.0, 0.05 - 0.06, 0.0, 1.0]).is_err());
        g.set_params(&[0.0, 0.0, s - 0.06, 0.0, -30.0]).unwrap();
        assert!(g.chol()[(0, 0)] > 0.0 && g.chol()[(1, 1)] > 0.0);
        assert!((g.chol()[(0, 0)] - 0.05 * (-0.06f64).exp()).abs() < 1e-16);
        let before = g;
        for bad in [&[0.0, 0.0, -800.0, 0.0, 0.0][..], &[0.0, 0.0, 800.0, 0.0, 0.0], &[0.0, 0.0, f64::NAN, 0.0, 0.0]] {
            assert!(g.set_params(bad).is_err(), "{bad:?}");
        }
        assert!(g.set_params(&[0.0, 0.0, 0.0, f64::INFINITY, 0.0]).is_err());
        assert!(g.set_params(&[f64::NAN, 0.0, 0.0, 0.0, 0.0]).is_err());
        assert!(g.set_params(&[0.0; 4]).is_err());
        assert_eq!(g, before);
        assert!(LogCholeskyGaussian::new(Vector2::zeros(), Matrix2::new(-1.0, 0.0, 0.0, 1.0)).is_err());
        let mut short = [0.0; 4];
        assert_eq!(g.params(&mut short), Err(Error::BufferTooSmall { needed: 5 }));
    }

    #[test]
    fn rejects_invalid_parameters() {
        let mut g = MeanFieldGaussian::<f64, 1>::standard();
        assert!(g.set_params(&[f64::NAN, 0.0]).is_err());
        assert!(g.set_params(&[0.0, f64::INFINITY]).is_err());
        assert!(g.set_params(&[0.0, 800.0]).is_err());
        assert!(g.set_params(&[0.0, -800.0]).is_err());
        assert!(g.set_params(&[0.0]).is_err());
        assert!(MeanFieldGaussian::<f64, 1>::from_std(SVector::zeros(), SVector::from([0.0])).is_err());
        assert_eq!(g, MeanFieldGaussian::standard());
        let mut h = FullRankGaussian::<f64, 2>::standard();
        assert!(h.set_params(&[0.0, 0.0, 1.0, 0.0, 0.0]).is_err());
        assert!(h.set_params(&[0.0, 0.0, -1.0, 0.0, 1.0]).is_err());
        assert!(h.set_params(&[0.0, 0.0, 1.0, f64::NAN, 1.0]).is_err());
        assert!(h.set_params(&[0.0, 0.0, 1.0, 0.0, 1e-320]).is_err());
        assert!(FullRankGaussian::new(Vector2::zeros(), Matrix2::new(1.0, 0.5, 0.0, 1.0)).is_err());
        assert_eq!(h, FullRankGaussian::standard());
        let mut short = [0.0; 4];
        assert_eq!(h.params(&mut short), Err(Error::BufferTooSmall { needed: 5 }));
    }
}

//! Gaussian variational families (`estimators.md` §0).
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
//!
//! Parameter layout (the P-vector of the [`Family`] contract): mean-field
//! `[μ_1..μ_D, ω_1..ω_D]` (`P = 2D`); full-rank `[μ_1..μ_D, L_11, L_21, L_22, L_31, …]`,
//! the lower triangle packed row by row (`P = D + D(D+1)/2`, `L_ij` at `D + i(i+1)/2 + j`
//! for zero-based `j ≤ i`).

use nalgebra::{SMatrix, SVector};

use super::{AnalyticEntropy, Family, Reparameterized};
use crate::error::Error;
use crate::real::{LN_2PI, Real};

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
        let z = self.solve_l(&(x - self.mean));
        let w = self.solve_lt(&z);
        for i in 0..D {
            if let Some(o) = out.get_mut(i) {
                *o += c * w[i];
            }
            for j in 0..=i {
                let mut g = w[i] * z[j];
                if i == j {
                    g -= T::one() / self.chol[(i, i)];
                }
                if let Some(o) = out.get_mut(tri(D, i, j)) {
                    *o += c * g;
                }
            }
        }
    }
}

impl<T: Real, const D: usize> Reparameterized<T, D> for FullRankGaussian<T, D> {
    fn vjp_acc(&self, eps: &SVector<T, D>, v: &SVector<T, D>, out: &mut [T]) {
        for i in 0..D {
            if let Some(o) = out.get_mut(i) {
                *o += v[i];
            }
            for j in 0..=i {
                if let Some(o) = out.get_mut(tri(D, i, j)) {
                    *o += v[i] * eps[j];
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix2, Vector2, Vector3};

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

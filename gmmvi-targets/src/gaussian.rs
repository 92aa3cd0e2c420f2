//! A normalised mixture of full-covariance Gaussians as a target (docs/targets.md §2.2; the
//! GMM20/GMM100 benchmark is an instance with `M = 10`, a single Gaussian is `M = 1`).
//!
//! `log p(x) = logsumexp_i [ log π_i + log N(x; μ_i, Σ_i) ]` with
//! `log N(x; μ, Σ) = −½ (x−μ)ᵀ Σ⁻¹ (x−μ) − ½ log det Σ − (D/2) log 2π`, so `log Z = 0`.
//! Every component keeps the lower Cholesky factor `L_i` of `Σ_i` (computed once, in `f64`);
//! `Σ_i⁻¹(x − μ_i)` is two triangular solves. All arithmetic is done in `f64`.
//!
//! The GMM20/GMM100 benchmark instances (§2.1) are drawn from NumPy's legacy stream
//! ([`NumpyRandomState`]) by [`GaussianMixtureTarget::numpy_benchmark`]: for each of the
//! `M = 10` components in order, the mean `μ_i = 100·(u − 0.5)` from `random(D)`, then
//! `A = 0.1·normal(0, D, D·D)` reshaped row-major to `D × D` and `Σ_i = AᵀA + I`; weights `1/M`.

use core::marker::PhantomData;

use gmmvi::error::{Error, TargetError};
use gmmvi::real::{LN_2PI, Real};
use gmmvi::rng::{fill_standard_normal, uniform};
use gmmvi::target::Target;
use nalgebra::{ArrayStorage, Cholesky, SMatrix, SVector};
use rand_core::Rng;

use super::linalg::{add_lower_outer, cholesky_in_place, log_diag_sum};
use super::{NumpyRandomState, eval_pointwise_f64};

/// The GMM20 benchmark target (docs/targets.md §2): `D = 20`, 10 components.
pub type Gmm20<T> = GaussianMixtureTarget<T, 20, 10>;

/// The GMM100 benchmark target (docs/targets.md §2): `D = 100`, 10 components (about 0.8 MB).
pub type Gmm100<T> = GaussianMixtureTarget<T, 100, 10>;

/// Draws one GMM benchmark component from the NumPy stream (docs/targets.md §2.1, gmmvi order):
/// first the mean `μ = 100·(u − 0.5)`, `u` = `random(D)`; then `D·D` values
/// `normal(0, D)`, each times `0.1`, as the rows of `A` (row-major), and `Σ = AᵀA + I_D`.
///
/// `Σ` is accumulated one row of `A` at a time (`AᵀA = Σ_r a_r a_rᵀ`), so no `D × D`
/// temporary is needed; it is exactly symmetric.
pub fn draw_gmm_component<const D: usize>(
    rng: &mut NumpyRandomState,
    mean: &mut SVector<f64, D>,
    cov: &mut SMatrix<f64, D, D>,
) {
    rng.fill_random(mean.as_mut_slice());
    for m in mean.iter_mut() {
        *m = 100.0 * (*m - 0.5);
    }
    cov.fill(0.0);
    let scale = D as f64;
    for _ in 0..D {
        let mut row = SVector::<f64, D>::zeros();
        for v in row.iter_mut() {
            *v = rng.normal(0.0, scale) * 0.1;
        }
        add_lower_outer(cov, &row);
    }
    for j in 0..D {
        cov[(j, j)] += 1.0;
        for i in j + 1..D {
            cov[(j, i)] = cov[(i, j)];
        }
    }
}

/// Components whose log term lies more than this below the running maximum change the
/// gradient by less than `e⁻⁵⁰ ≈ 2·10⁻²²` relative and are left out of it.
const SKIP_LOG: f64 = 50.0;

/// A normalised mixture of `M` full-covariance Gaussians in `R^D` (docs/targets.md §2.2),
/// evaluated in `f64` and reported as `T`.
///
/// `log p(x) = logsumexp_i [log π_i + log N(x; μ_i, Σ_i)]` (exact, `log Z = 0`) and
/// `∇ log p(x) = −Σ_i γ_i(x) Σ_i⁻¹ (x − μ_i)` with responsibilities
/// `γ_i(x) = π_i N(x; μ_i, Σ_i) / p(x)`.
#[derive(Clone, Debug)]
pub struct GaussianMixtureTarget<T: Real, const D: usize, const M: usize> {
    /// Normalised log weights `log π_i`.
    log_w: [f64; M],
    /// Means `μ_i`.
    mean: [SVector<f64, D>; M],
    /// Lower Cholesky factors `L_i`, `Σ_i = L_i L_iᵀ` (strict upper triangle zero).
    chol: [SMatrix<f64, D, D>; M],
    /// `−Σ_d ln L_i[d,d] − (D/2) ln 2π`.
    log_norm: [f64; M],
    _scalar: PhantomData<fn() -> T>,
}

impl<T: Real, const D: usize, const M: usize> GaussianMixtureTarget<T, D, M> {
    /// Builds `p(x) = Σ_i π_i N(x; μ_i, Σ_i)` with `π_i = w_i / Σ_j w_j`.
    /// Each covariance is symmetrised (`(Σ + Σᵀ)/2`) before its Cholesky factorisation.
    ///
    /// # Errors
    /// * `InvalidArgument` if `M == 0`, a weight is not positive and finite, or a mean has a
    ///   non-finite entry;
    /// * `CholeskyFailed { component: i }` if `Σ_i` has a non-finite entry or is not positive
    ///   definite.
    pub fn new(
        weights: &[f64; M],
        means: &[SVector<f64, D>; M],
        covs: &[SMatrix<f64, D, D>; M],
    ) -> Result<Self, Error> {
        if M == 0 {
            return Err(Error::InvalidArgument { what: "a mixture needs at least one component" });
        }
        let mut log_w = [0.0; M];
        let mut max = f64::NEG_INFINITY;
        for (lw, &w) in log_w.iter_mut().zip(weights) {
            if !(w > 0.0 && w.is_finite()) {
                return Err(Error::InvalidArgument { what: "weights must be positive and finite" });
            }
            *lw = libm::log(w);
            max = max.max(*lw);
        }
        let mut s = 0.0;
        for &lw in &log_w {
            s += libm::exp(lw - max);
        }
        let lse = max + libm::log(s);
        for lw in &mut log_w {
            *lw -= lse;
        }

        if means.iter().any(|m| m.iter().any(|v| !v.is_finite())) {
            return Err(Error::InvalidArgument { what: "means must be finite" });
        }

        let mut chol = [SMatrix::<f64, D, D>::zeros(); M];
        let mut log_norm = [0.0; M];
        for (k, ((c, ln), cov)) in chol.iter_mut().zip(log_norm.iter_mut()).zip(covs).enumerate() {
            let fail = Error::CholeskyFailed { component: k };
            if cov.iter().any(|v| !v.is_finite()) {
                return Err(fail);
            }
            let sym = (cov + cov.transpose()) * 0.5;
            let l = Cholesky::new(sym).ok_or(fail)?.unpack();
            let mut half_log_det = 0.0;
            for &d in l.diagonal().iter() {
                if !(d > 0.0 && d.is_finite()) {
                    return Err(fail);
                }
                half_log_det += libm::log(d);
            }
            if l.iter().any(|v| !v.is_finite()) {
                return Err(fail);
            }
            *c = l;
            *ln = -half_log_det - 0.5 * D as f64 * LN_2PI;
        }

        Ok(Self { log_w, mean: *means, chol, log_norm, _scalar: PhantomData })
    }

    /// The GMM20/GMM100 benchmark instance of docs/targets.md §2.1 drawn from `rng` (seed it with
    /// the run seed: `NumpyRandomState::new(seed)`): weights `1/M`, components from
    /// [`draw_gmm_component`] in order. Continue with the same stream for the initial means
    /// ([`NumpyRandomState::initial_means`]). For `D = 100` the value is about 0.8 MB; see
    /// [`numpy_benchmark_in_place`](Self::numpy_benchmark_in_place) to build it where it lives.
    ///
    /// # Errors
    /// `InvalidArgument` if `M == 0`; `CholeskyFailed` if a covariance is not finite (the
    /// stream cannot produce that in practice).
    pub fn numpy_benchmark(rng: &mut NumpyRandomState) -> Result<Self, Error> {
        let mut t = Self::zeroed();
        t.numpy_benchmark_in_place(rng)?;
        Ok(t)
    }

    /// An all-zero placeholder (not a usable target) for storage that must exist before the
    /// target is built, e.g. a `static`; build it there with
    /// [`numpy_benchmark_in_place`](Self::numpy_benchmark_in_place).
    pub const fn zeroed() -> Self {
        Self {
            log_w: [0.0; M],
            mean: [SVector::from_array_storage(ArrayStorage([[0.0; D]; 1])); M],
            chol: [SMatrix::from_array_storage(ArrayStorage([[0.0; D]; D])); M],
            log_norm: [0.0; M],
            _scalar: PhantomData,
        }
    }

    /// Overwrites `self` with the benchmark instance of
    /// [`numpy_benchmark`](Self::numpy_benchmark), using only `O(D)` stack.
    ///
    /// # Errors
    /// As [`numpy_benchmark`](Self::numpy_benchmark); after an error `self` is partly
    /// overwritten and must be rebuilt before use.
    pub fn numpy_benchmark_in_place(&mut self, rng: &mut NumpyRandomState) -> Result<(), Error> {
        if M == 0 {
            return Err(Error::InvalidArgument { what: "a mixture needs at least one component" });
        }
        let log_w = -libm::log(M as f64);
        let comps = self.log_w.iter_mut().zip(self.mean.iter_mut()).zip(self.chol.iter_mut().zip(&mut self.log_norm));
        for (k, ((lw, mu), (l, ln))) in comps.enumerate() {
            draw_gmm_component(rng, mu, l);
            if !cholesky_in_place(l) {
                return Err(Error::CholeskyFailed { component: k });
            }
            *lw = log_w;
            *ln = -log_diag_sum(l) - 0.5 * D as f64 * LN_2PI;
        }
        Ok(())
    }

    /// Normalised log weights `log π_i`.
    pub fn log_weights(&self) -> &[f64; M] {
        &self.log_w
    }

    /// Component means `μ_i`.
    pub fn means(&self) -> &[SVector<f64, D>; M] {
        &self.mean
    }

    /// Lower Cholesky factors `L_i` of the component covariances, `Σ_i = L_i L_iᵀ`.
    pub fn chol_factors(&self) -> &[SMatrix<f64, D, D>; M] {
        &self.chol
    }

    /// `log p(x)` (§2.2) and, if `grad` is given, `∇ log p(x) = −Σ_i γ_i(x) Σ_i⁻¹(x − μ_i)`,
    /// in one pass with a streaming log-sum-exp. Far from every component the value stays
    /// finite (no underflow). Non-finite input gives a non-finite value (or `−∞`).
    pub fn log_density_f64(&self, x: &SVector<f64, D>, grad: Option<&mut SVector<f64, D>>) -> f64 {
        let want_grad = grad.is_some();
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0;
        let mut acc = SVector::<f64, D>::zeros();
        let comps = self.log_w.iter().zip(&self.mean).zip(self.chol.iter().zip(&self.log_norm));
        for ((&lw, mu), (l, &ln)) in comps {
            let mut z = x - mu;
            // z ← L⁻¹(x − μ); cannot fail, the diagonal is positive.
            let _ = l.solve_lower_triangular_mut(&mut z);
            let a = lw + ln - 0.5 * z.norm_squared();
            if a == f64::NEG_INFINITY {
                continue;
            }
            let w = if a > max {
                let scale = if max == f64::NEG_INFINITY { 0.0 } else { libm::exp(max - a) };
                sum = sum * scale + 1.0;
                if want_grad {
                    acc *= scale;
                }
                max = a;
                1.0
            } else {
                let w = libm::exp(a - max);
                sum += w;
                w
            };
            if want_grad && a - max > -SKIP_LOG {
                // z ← L⁻ᵀ L⁻¹ (x − μ) = Σ⁻¹ (x − μ).
                let _ = l.tr_solve_lower_triangular_mut(&mut z);
                acc.axpy(-w, &z, 1.0);
            }
        }
        let lp = if sum > 0.0 {
            max + libm::log(sum)
        } else if sum == 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
        if let Some(g) = grad {
            if sum > 0.0 {
                *g = acc / sum;
            } else {
                g.fill(f64::NAN);
            }
        }
        lp
    }

    /// One exact sample: a component by inverse CDF on the weights (one uniform draw), then
    /// `μ_i + L_i ε`, `ε ~ N(0, I_D)` (§2.3).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> SVector<f64, D> {
        let u = uniform(rng);
        let mut c = 0.0;
        let mut k = M.saturating_sub(1);
        for (i, &lw) in self.log_w.iter().enumerate() {
            c += libm::exp(lw);
            if u < c {
                k = i;
                break;
            }
        }
        let mut eps = SVector::<f64, D>::zeros();
        fill_standard_normal(rng, eps.as_mut_slice());
        match (self.mean.get(k), self.chol.get(k)) {
            (Some(mu), Some(l)) => mu + l * eps,
            _ => eps,
        }
    }
}

impl<T: Real, const D: usize, const M: usize> Target<T, D> for GaussianMixtureTarget<T, D, M> {
    /// `log p(x_i)` of docs/targets.md §2.2, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if `x.len() != log_p.len()`.
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), TargetError> {
        eval_pointwise_f64(x, log_p, None, |xi, _| self.log_density_f64(xi, None))
    }

    /// `log p(x_i)` and `∇ log p(x_i)` of docs/targets.md §2.2, computed in `f64`.
    ///
    /// # Errors
    /// `TargetError { code: -1 }` if the slice lengths differ.
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        eval_pointwise_f64(x, log_p, Some(grad), |xi, g| self.log_density_f64(xi, g))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use nalgebra::{Matrix2, Vector2};
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    type Mix2 = GaussianMixtureTarget<f64, 2, 2>;

    fn mix2_parts() -> ([f64; 2], [Vector2<f64>; 2], [Matrix2<f64>; 2]) {
        (
            [0.3, 0.9],
            [Vector2::new(0.0, 0.0), Vector2::new(2.0, -1.0)],
            [Matrix2::new(1.0, 0.5, 0.5, 2.0), Matrix2::new(0.5, -0.2, -0.2, 0.3)],
        )
    }

    fn mix2() -> Mix2 {
        let (w, m, c) = mix2_parts();
        Mix2::new(&w, &m, &c).unwrap()
    }

    /// Direct `log Σ_k π_k N(x; μ_k, Σ_k)` with explicit 2×2 inverses and determinants.
    fn naive_mix2(x: &Vector2<f64>) -> f64 {
        let (w, m, c) = mix2_parts();
        let wsum = w[0] + w[1];
        let mut p = 0.0;
        for k in 0..2 {
            let (a, b, cc, d) = (c[k][(0, 0)], c[k][(0, 1)], c[k][(1, 0)], c[k][(1, 1)]);
            let det = a * d - b * cc;
            let v = x - m[k];
            let qf = (d * v[0] * v[0] - (b + cc) * v[0] * v[1] + a * v[1] * v[1]) / det;
            p += w[k] / wsum * libm::exp(-0.5 * qf) / (2.0 * core::f64::consts::PI * libm::sqrt(det));
        }
        libm::log(p)
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    /// Norm-wise relative error of central finite differences against the analytic gradient.
    fn fd_error<const D: usize, const M: usize>(t: &GaussianMixtureTarget<f64, D, M>, x: &SVector<f64, D>) -> f64 {
        let mut g = SVector::<f64, D>::zeros();
        t.log_density_f64(x, Some(&mut g));
        let h = 1e-5;
        let mut fd = SVector::<f64, D>::zeros();
        for k in 0..D {
            let (mut p, mut m) = (*x, *x);
            p[k] += h;
            m[k] -= h;
            fd[k] = (t.log_density_f64(&p, None) - t.log_density_f64(&m, None)) / (2.0 * h);
        }
        (fd - g).norm() / g.norm().max(1e-3)
    }

    #[test]
    fn weights_are_normalised() {
        let t = mix2();
        let lw = t.log_weights();
        assert!((libm::exp(lw[0]) - 0.25).abs() < 1e-15);
        assert!((libm::exp(lw[1]) - 0.75).abs() < 1e-15);
    }

    #[test]
    fn log_density_matches_naive_formula() {
        let t = mix2();
        let pts = [[0.0, 0.0], [2.0, -1.0], [1.0, 0.5], [-1.5, 2.0], [3.0, -2.5], [0.7, -0.4]];
        for p in pts {
            let x = Vector2::new(p[0], p[1]);
            let r = rel(t.log_density_f64(&x, None), naive_mix2(&x));
            assert!(r < 1e-12, "at {p:?}: rel {r}");
        }
    }

    #[test]
    fn integrates_to_one() {
        let t = mix2();
        let (h, n) = (0.04, 400);
        let mut s = 0.0;
        for i in 0..n {
            for j in 0..n {
                let x = Vector2::new(-8.0 + (i as f64 + 0.5) * h, -8.0 + (j as f64 + 0.5) * h);
                s += libm::exp(t.log_density_f64(&x, None));
            }
        }
        assert!((s * h * h - 1.0).abs() < 1e-6, "integral {}", s * h * h);
    }

    #[test]
    fn gradient_matches_finite_differences_2d() {
        let t = mix2();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for _ in 0..10 {
            let mut x = Vector2::<f64>::zeros();
            fill_standard_normal(&mut rng, x.as_mut_slice());
            x *= 2.0;
            let e = fd_error(&t, &x);
            assert!(e < 1e-6, "fd error {e} at {x:?}");
        }
    }

    #[test]
    fn gradient_matches_finite_differences_random_5d() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut means = [SVector::<f64, 5>::zeros(); 3];
        let mut covs = [SMatrix::<f64, 5, 5>::zeros(); 3];
        for (m, c) in means.iter_mut().zip(covs.iter_mut()) {
            fill_standard_normal(&mut rng, m.as_mut_slice());
            *m *= 2.0;
            let mut a = SMatrix::<f64, 5, 5>::zeros();
            fill_standard_normal(&mut rng, a.as_mut_slice());
            *c = a.transpose() * a * 0.3 + SMatrix::identity() * 0.5;
        }
        let t = GaussianMixtureTarget::<f64, 5, 3>::new(&[1.0, 2.0, 3.0], &means, &covs).unwrap();
        for _ in 0..10 {
            let mut x = SVector::<f64, 5>::zeros();
            fill_standard_normal(&mut rng, x.as_mut_slice());
            x *= 2.5;
            let e = fd_error(&t, &x);
            assert!(e < 1e-6, "fd error {e} at {x:?}");
        }
    }

    #[test]
    fn single_gaussian_matches_closed_form() {
        let cov = Matrix2::new(2.0, 0.3, 0.3, 0.5);
        let mu = Vector2::new(1.0, -2.0);
        let t = GaussianMixtureTarget::<f64, 2, 1>::new(&[5.0], &[mu], &[cov]).unwrap();
        let det = 2.0 * 0.5 - 0.09;
        let want = -0.5 * libm::log(det) - LN_2PI;
        assert!((t.log_density_f64(&mu, None) - want).abs() < 1e-14);
        let x = Vector2::new(0.2, 0.7);
        let mut g = Vector2::zeros();
        t.log_density_f64(&x, Some(&mut g));
        let want_g = -(cov.try_inverse().unwrap() * (x - mu));
        assert!((g - want_g).norm() < 1e-12 * want_g.norm());
    }

    #[test]
    fn far_away_point_stays_finite() {
        let t = mix2();
        let x = Vector2::new(1e3, -2e3);
        let mut g = Vector2::zeros();
        let v = t.log_density_f64(&x, Some(&mut g));
        assert!(v.is_finite() && v < -1e5);
        assert!(g.iter().all(|v| v.is_finite()));
        assert!(fd_error(&t, &Vector2::new(40.0, -30.0)) < 1e-6);
    }

    #[test]
    fn non_finite_input() {
        let t = mix2();
        assert!(t.log_density_f64(&Vector2::new(f64::NAN, 0.0), None).is_nan());
        let v = t.log_density_f64(&Vector2::new(f64::INFINITY, 0.0), None);
        assert!(!v.is_finite());
    }

    #[test]
    fn constructor_errors() {
        let (w, m, c) = mix2_parts();
        let mut bad_c = c;
        bad_c[1] = Matrix2::new(1.0, 2.0, 2.0, 1.0);
        assert_eq!(Mix2::new(&w, &m, &bad_c).err(), Some(Error::CholeskyFailed { component: 1 }));
        bad_c[1] = Matrix2::new(1.0, 0.0, 0.0, f64::NAN);
        assert_eq!(Mix2::new(&w, &m, &bad_c).err(), Some(Error::CholeskyFailed { component: 1 }));
        bad_c[0] = Matrix2::zeros();
        assert_eq!(Mix2::new(&w, &m, &bad_c).err(), Some(Error::CholeskyFailed { component: 0 }));
        for bad_w in [[0.0, 1.0], [1.0, -1.0], [f64::NAN, 1.0], [1.0, f64::INFINITY]] {
            assert!(matches!(Mix2::new(&bad_w, &m, &c), Err(Error::InvalidArgument { .. })));
        }
        let bad_m = [Vector2::new(0.0, f64::NAN), m[1]];
        assert!(matches!(Mix2::new(&w, &bad_m, &c), Err(Error::InvalidArgument { .. })));
        assert!(matches!(GaussianMixtureTarget::<f64, 2, 0>::new(&[], &[], &[]), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn samples_have_mixture_moments() {
        let t = mix2();
        let (_, m, c) = mix2_parts();
        let pi = [0.25, 0.75];
        let mean = m[0] * pi[0] + m[1] * pi[1];
        let mut cov = Matrix2::zeros();
        for k in 0..2 {
            cov += (c[k] + m[k] * m[k].transpose()) * pi[k];
        }
        cov -= mean * mean.transpose();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        let n = 50_000;
        let (mut s1, mut s2) = (Vector2::zeros(), Matrix2::zeros());
        for _ in 0..n {
            let x = t.sample(&mut rng);
            s1 += x;
            s2 += x * x.transpose();
        }
        let em = s1 / n as f64;
        let ec = s2 / n as f64 - em * em.transpose();
        assert!((em - mean).norm() < 0.03, "{em:?} vs {mean:?}");
        assert!((ec - cov).norm() < 0.06, "{ec:?} vs {cov:?}");
    }

    #[test]
    fn trait_f32_agrees_with_f64() {
        let (w, m, c) = mix2_parts();
        let mut t32 = GaussianMixtureTarget::<f32, 2, 2>::new(&w, &m, &c).unwrap();
        let mut t64 = mix2();
        let pts = [[0.5f32, 0.25], [2.0, -1.5], [-3.0, 4.0], [10.0, 10.0]];
        let x32: [SVector<f32, 2>; 4] = pts.map(SVector::from);
        let x64 = x32.map(|v| v.map(f64::from));
        let (mut l32, mut l64) = ([0.0f32; 4], [0.0f64; 4]);
        let mut g32 = [SVector::<f32, 2>::zeros(); 4];
        let mut g64 = [SVector::<f64, 2>::zeros(); 4];
        t32.log_density_with_grad(&x32, &mut l32, &mut g32).unwrap();
        t64.log_density_with_grad(&x64, &mut l64, &mut g64).unwrap();
        let mut v32 = [0.0f32; 4];
        t32.log_density(&x32, &mut v32).unwrap();
        for i in 0..4 {
            assert_eq!(v32[i], l32[i]);
            assert!(rel(f64::from(l32[i]), l64[i]) < 1e-4);
            assert!((g32[i].map(f64::from) - g64[i]).norm() <= 1e-4 * g64[i].norm());
        }
    }

    #[test]
    fn mismatched_lengths_are_rejected() {
        let mut t = mix2();
        let x = [Vector2::<f64>::zeros(); 3];
        let mut lp = [0.0; 2];
        let mut g = [Vector2::<f64>::zeros(); 3];
        assert_eq!(t.log_density(&x, &mut lp), Err(TargetError { code: -1 }));
        assert_eq!(t.log_density_with_grad(&x, &mut lp, &mut g), Err(TargetError { code: -1 }));
        let mut lp3 = [0.0; 3];
        assert_eq!(t.log_density_with_grad(&x, &mut lp3, &mut g[..1]), Err(TargetError { code: -1 }));
        assert!(t.log_density_with_grad(&x, &mut lp3, &mut g).is_ok());
    }
}

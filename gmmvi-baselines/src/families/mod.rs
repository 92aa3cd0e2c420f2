//! Variational families for the gradient-based baselines (`docs/estimators.md` §0, §13, §14).
//!
//! A family `q(x; λ)` over `R^D` with `P` real parameters `λ` and a sampler `x = r(λ, ε)`
//! driven by base noise `ε` that the caller draws (estimators never own an RNG, §0).
//! Because stable Rust cannot write `[T; 2 * D]`, P-vectors (parameters, scores,
//! vector–Jacobian products) are caller slices whose length is checked against
//! [`Family::num_params`].
//!
//! The contract is split by what an estimator needs (§0's per-sample quantities):
//!
//! * [`Family`] — sampling from noise, `lq = log q(x; λ)` and the score
//!   `sq = ∇_λ log q(x; λ)` at fixed `x`: everything the score-function estimator (§2) uses.
//!   Discrete families implement only this trait.
//! * [`Reparameterized`] — additionally the vector–Jacobian product `vᵀ ∂x/∂λ` of the
//!   sampler and `gq = ∇_x log q(x; λ)`: the pathwise "full Monte Carlo" and
//!   "sticking the landing" forms (§3.2, §3.3). Flows implement this.
//! * [`AnalyticEntropy`] — a closed-form entropy `H(q)` and `∇_λ H`: the default pathwise
//!   form (§3.1).
//!
//! P-vector outputs are *accumulated* (`out += c · …`, BLAS `axpy` style) so that an
//! estimator can sum over samples without a scratch P-vector. These methods never panic:
//! an `out` of the wrong length is written over `min(len, P)` entries; estimators check
//! lengths before calling them.

use gmmvi::error::Error;
use gmmvi::real::Real;
use nalgebra::SVector;
use rand_core::Rng;

pub mod gaussian;
pub mod gumbel;
pub mod planar;

pub use gaussian::{FullRankGaussian, LogCholeskyGaussian, MeanFieldGaussian};

/// A variational family `q(x; λ)` with a noise-driven sampler (score-function interface, §2).
pub trait Family<T: Real, const D: usize> {
    /// Number `P` of real parameters `λ`.
    fn num_params(&self) -> usize;

    /// Writes `λ` into `out[..P]`.
    ///
    /// # Errors
    /// `BufferTooSmall` if `out.len() < P`.
    fn params(&self, out: &mut [T]) -> Result<(), Error>;

    /// Sets `λ` from `p[..P]`; on error the family is unchanged.
    ///
    /// # Errors
    /// `InvalidArgument` if `p.len() != P` or `p` is outside the family's domain
    /// (non-finite, non-positive scale, ...).
    fn set_params(&mut self, p: &[T]) -> Result<(), Error>;

    /// The sample `x = r(λ, ε)` for base noise `ε` (drawn by [`Family::sample_noise`]).
    /// For a discrete family this is any measurable map (e.g. an inverse CDF of uniforms).
    fn reparam(&self, eps: &SVector<T, D>) -> SVector<T, D>;

    /// `log q(x; λ)`.
    fn log_q(&self, x: &SVector<T, D>) -> T;

    /// `out += c · ∇_λ log q(x; λ)` at fixed `x` (the score `sq` of §0).
    fn score_acc(&self, x: &SVector<T, D>, c: T, out: &mut [T]);

    /// Fills `eps` with independent base-noise draws; the default is standard normal.
    fn sample_noise<R: Rng + ?Sized>(&self, rng: &mut R, eps: &mut [SVector<T, D>]) {
        for e in eps.iter_mut() {
            gmmvi::rng::fill_standard_normal(rng, e.as_mut_slice());
        }
    }
}

/// A family whose sampler `x = r(λ, ε)` is differentiable in `λ` (pathwise interface, §3).
pub trait Reparameterized<T: Real, const D: usize>: Family<T, D> {
    /// `out += vᵀ ∂x/∂λ` at `x = r(λ, ε)` (vector–Jacobian product of the sampler).
    fn vjp_acc(&self, eps: &SVector<T, D>, v: &SVector<T, D>, out: &mut [T]);

    /// `gq = ∇_x log q(x; λ)` (sticking the landing, §3.3).
    fn grad_x_log_q(&self, x: &SVector<T, D>) -> SVector<T, D>;

    /// `out += c · d/dλ log q(r(λ, ε); λ)`, the total derivative (§3.2).
    ///
    /// The default is the chain rule `J_εᵀ ∇_x log q + ∇_λ log q|_x`; location–scale
    /// families override it with their deterministic closed form.
    fn log_q_total_grad_acc(&self, eps: &SVector<T, D>, c: T, out: &mut [T]) {
        let x = self.reparam(eps);
        let gq = self.grad_x_log_q(&x) * c;
        self.vjp_acc(eps, &gq, out);
        self.score_acc(&x, c, out);
    }
}

/// A reparameterised family with a closed-form entropy (analytic-entropy ELBO, §3.1).
pub trait AnalyticEntropy<T: Real, const D: usize>: Reparameterized<T, D> {
    /// `H(q) = −E_q[log q]`.
    fn entropy(&self) -> T;

    /// `out += c · ∇_λ H(q)`.
    fn entropy_grad_acc(&self, c: T, out: &mut [T]);
}

/// Test-only families and quadrature shared by the estimator tests.
#[cfg(test)]
pub(crate) mod testing {
    extern crate std;

    use super::*;

    /// `q = Exp(rate λ)` on `x ≥ 0` (TP-Exp): `x = ε/λ` with `ε ~ Exp(1)` in `eps[0]`.
    pub struct Exponential {
        pub rate: f64,
    }

    impl Family<f64, 1> for Exponential {
        fn num_params(&self) -> usize {
            1
        }
        fn params(&self, out: &mut [f64]) -> Result<(), Error> {
            let o = out.get_mut(0).ok_or(Error::BufferTooSmall { needed: 1 })?;
            *o = self.rate;
            Ok(())
        }
        fn set_params(&mut self, p: &[f64]) -> Result<(), Error> {
            match p {
                [r] if *r > 0.0 && r.is_finite() => {
                    self.rate = *r;
                    Ok(())
                }
                _ => Err(Error::InvalidArgument { what: "rate" }),
            }
        }
        fn reparam(&self, eps: &SVector<f64, 1>) -> SVector<f64, 1> {
            eps / self.rate
        }
        fn log_q(&self, x: &SVector<f64, 1>) -> f64 {
            self.rate.ln() - self.rate * x[0]
        }
        fn score_acc(&self, x: &SVector<f64, 1>, c: f64, out: &mut [f64]) {
            out[0] += c * (1.0 / self.rate - x[0]);
        }
        fn sample_noise<R: Rng + ?Sized>(&self, rng: &mut R, eps: &mut [SVector<f64, 1>]) {
            for e in eps {
                e[0] = -(1.0 - gmmvi::rng::uniform(rng)).ln();
            }
        }
    }

    impl Reparameterized<f64, 1> for Exponential {
        fn vjp_acc(&self, eps: &SVector<f64, 1>, v: &SVector<f64, 1>, out: &mut [f64]) {
            // ∂x/∂λ = −ε/λ² = −x/λ.
            out[0] -= v[0] * eps[0] / (self.rate * self.rate);
        }
        fn grad_x_log_q(&self, _x: &SVector<f64, 1>) -> SVector<f64, 1> {
            SVector::from([-self.rate])
        }
    }

    impl AnalyticEntropy<f64, 1> for Exponential {
        fn entropy(&self) -> f64 {
            1.0 - self.rate.ln()
        }
        fn entropy_grad_acc(&self, c: f64, out: &mut [f64]) {
            out[0] -= c / self.rate;
        }
    }

    /// `q = softmax(λ)` over 3 states (TP-Cat); `x[0]` is the state index, drawn from a
    /// uniform `eps[0]` by the inverse CDF.
    pub struct Categorical3 {
        pub logits: [f64; 3],
    }

    impl Categorical3 {
        pub fn probs(&self) -> [f64; 3] {
            let mut p = [0.0; 3];
            crate::estimators::softmax(&self.logits, &mut p);
            p
        }
        pub fn index(x: &SVector<f64, 1>) -> usize {
            (x[0].round() as usize).min(2)
        }
    }

    impl Family<f64, 1> for Categorical3 {
        fn num_params(&self) -> usize {
            3
        }
        fn params(&self, out: &mut [f64]) -> Result<(), Error> {
            out.get_mut(..3).ok_or(Error::BufferTooSmall { needed: 3 })?.copy_from_slice(&self.logits);
            Ok(())
        }
        fn set_params(&mut self, p: &[f64]) -> Result<(), Error> {
            let p: [f64; 3] = p.try_into().map_err(|_| Error::InvalidArgument { what: "len" })?;
            self.logits = p;
            Ok(())
        }
        fn reparam(&self, eps: &SVector<f64, 1>) -> SVector<f64, 1> {
            let p = self.probs();
            let i = if eps[0] < p[0] {
                0.0
            } else if eps[0] < p[0] + p[1] {
                1.0
            } else {
                2.0
            };
            SVector::from([i])
        }
        fn log_q(&self, x: &SVector<f64, 1>) -> f64 {
            self.probs()[Self::index(x)].ln()
        }
        fn score_acc(&self, x: &SVector<f64, 1>, c: f64, out: &mut [f64]) {
            let i = Self::index(x);
            for (j, (o, p)) in out.iter_mut().zip(self.probs()).enumerate() {
                *o += c * (if i == j { 1.0 } else { 0.0 } - p);
            }
        }
        fn sample_noise<R: Rng + ?Sized>(&self, rng: &mut R, eps: &mut [SVector<f64, 1>]) {
            for e in eps {
                e[0] = gmmvi::rng::uniform(rng);
            }
        }
    }

    /// TP1: `log p~ = log Z + log N(x; m, s²)` with `m = 1, s = 2, log Z = 0.7`.
    pub fn tp1(x: &SVector<f64, 1>) -> (f64, SVector<f64, 1>) {
        tp1_at(x, 1.0, 2.0, 0.7)
    }

    /// TP1 with general `m, s, log Z`.
    pub fn tp1_at(x: &SVector<f64, 1>, m: f64, s: f64, log_z: f64) -> (f64, SVector<f64, 1>) {
        let r = (x[0] - m) / s;
        let lp = log_z - 0.5 * r * r - s.ln() - 0.5 * gmmvi::real::LN_2PI;
        (lp, SVector::from([(m - x[0]) / (s * s)]))
    }

    /// TP2 precision `P = Σ_p⁻¹`, `Σ_p = [[2, 0.6], [0.6, 1]]`.
    pub fn tp2_precision() -> nalgebra::Matrix2<f64> {
        nalgebra::Matrix2::new(1.0, -0.6, -0.6, 2.0) / 1.64
    }

    /// TP2: `log p~ = log N(x; (1, −1), Σ_p)`, `log Z = 0`.
    pub fn tp2(x: &SVector<f64, 2>) -> (f64, SVector<f64, 2>) {
        let r = x - nalgebra::Vector2::new(1.0, -1.0);
        let pr = tp2_precision() * r;
        let lp = -0.5 * r.dot(&pr) - 0.5 * 1.64f64.ln() - gmmvi::real::LN_2PI;
        (lp, -pr)
    }

    /// TP3: `p = 0.3 N(−2, 0.5²) + 0.7 N(1.5, 1)`, `log Z = 0`.
    pub fn tp3(x: &SVector<f64, 1>) -> (f64, SVector<f64, 1>) {
        let comp = [(0.3f64, -2.0f64, 0.5f64), (0.7, 1.5, 1.0)];
        let mut l = [0.0; 2];
        let mut g = [0.0; 2];
        for ((li, gi), (w, m, s)) in l.iter_mut().zip(g.iter_mut()).zip(comp) {
            let r = (x[0] - m) / s;
            *li = w.ln() - 0.5 * r * r - s.ln() - 0.5 * gmmvi::real::LN_2PI;
            *gi = -(x[0] - m) / (s * s);
        }
        let mut resp = [0.0; 2];
        let lp = crate::estimators::softmax(&l, &mut resp);
        (lp, SVector::from([resp[0] * g[0] + resp[1] * g[1]]))
    }

    /// TP4: `log p~ = log N(x; 0, 4) + Σ_n log N(y_n; x, 1)`.
    pub fn tp4(x: &SVector<f64, 1>) -> (f64, SVector<f64, 1>) {
        let y = [1.2, 0.4, 2.1, 1.7, 0.9, 1.5];
        let h = 0.5 * gmmvi::real::LN_2PI;
        let mut lp = -x[0] * x[0] / 8.0 - 2f64.ln() - h;
        let mut g = -x[0] / 4.0;
        for yn in y {
            lp += -0.5 * (yn - x[0]) * (yn - x[0]) - h;
            g += yn - x[0];
        }
        (lp, SVector::from([g]))
    }

    /// TP4 reference: log Z.
    pub const TP4_LOG_Z: f64 = -8.235869111662137;

    /// `(log_p, grad_log_p)` for every sample `x_s = family.reparam(eps_s)`.
    pub fn evaluate<F: Family<f64, D>, const D: usize>(
        family: &F,
        eps: &[SVector<f64, D>],
        target: impl Fn(&SVector<f64, D>) -> (f64, SVector<f64, D>),
    ) -> (std::vec::Vec<f64>, std::vec::Vec<SVector<f64, D>>) {
        eps.iter().map(|e| target(&family.reparam(e))).unzip()
    }

    /// `n` base-noise draws from a fixed seed.
    pub fn noise<F: Family<f64, D>, const D: usize>(family: &F, seed: u64, n: usize) -> std::vec::Vec<SVector<f64, D>> {
        use rand_core::SeedableRng;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut v = std::vec![SVector::zeros(); n];
        family.sample_noise(&mut rng, &mut v);
        v
    }

    /// Sample mean and (unbiased) variance.
    pub fn mean_var(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
        let n = v.clone().count() as f64;
        let m = v.clone().sum::<f64>() / n;
        let var = v.map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
        (m, var)
    }

    /// Trapezoid rule for `E_{ε~N(0,1)}[h(ε)]` on `[−12, 12]` with `n` intervals: spectrally
    /// accurate for smooth integrands (TP3's log-mixture, where Gauss–Hermite converges slowly).
    pub fn normal_trapezoid(n: usize) -> (std::vec::Vec<f64>, std::vec::Vec<f64>) {
        let h = 24.0 / n as f64;
        (0..=n)
            .map(|i| {
                let x = -12.0 + h * i as f64;
                let end = if i == 0 || i == n { 0.5 } else { 1.0 };
                (x, end * h * (-0.5 * x * x).exp() / (2.0 * core::f64::consts::PI).sqrt())
            })
            .unzip()
    }

    /// Gauss–Hermite rule for `E_{ε~N(0,1)}[h(ε)] ≈ Σ w_i h(z_i)` with `N` nodes (Newton
    /// iteration on the orthonormal Hermite recurrence; weights sum to 1).
    pub fn gauss_hermite<const N: usize>() -> ([f64; N], [f64; N]) {
        let mut t = [0.0f64; N];
        let mut w = [0.0f64; N];
        let pim4 = core::f64::consts::PI.powf(-0.25);
        let n = N as f64;
        let m = N.div_ceil(2);
        let mut z = 0.0f64;
        for i in 0..m {
            z = match i {
                0 => (2.0 * n + 1.0).sqrt() - 1.85575 * (2.0 * n + 1.0).powf(-0.16667),
                1 => z - 1.14 * n.powf(0.426) / z,
                2 => 1.86 * z - 0.86 * t[0],
                3 => 1.91 * z - 0.91 * t[1],
                _ => 2.0 * z - t[i - 2],
            };
            let mut pp = 0.0;
            for _ in 0..100 {
                let mut p1 = pim4;
                let mut p2 = 0.0;
                for j in 0..N {
                    let p3 = p2;
                    p2 = p1;
                    let jf = j as f64 + 1.0;
                    p1 = z * (2.0 / jf).sqrt() * p2 - ((jf - 1.0) / jf).sqrt() * p3;
                }
                pp = (2.0 * n).sqrt() * p2;
                let dz = p1 / pp;
                z -= dz;
                if dz.abs() < 1e-15 * z.abs().max(1.0) {
                    break;
                }
            }
            t[i] = z;
            t[N - 1 - i] = -z;
            w[i] = 2.0 / (pp * pp);
            w[N - 1 - i] = w[i];
        }
        // Physicists' nodes t and weights w (∫ e^{−t²} h); map to N(0, 1).
        let sp = core::f64::consts::PI.sqrt();
        let mut x = [0.0; N];
        for (xi, ti) in x.iter_mut().zip(t) {
            *xi = core::f64::consts::SQRT_2 * ti;
        }
        for wi in w.iter_mut() {
            *wi /= sp;
        }
        (x, w)
    }

    #[test]
    fn gauss_hermite_moments() {
        let (x, w) = gauss_hermite::<24>();
        let m = |k: i32| x.iter().zip(&w).map(|(x, w)| w * x.powi(k)).sum::<f64>();
        assert!((m(0) - 1.0).abs() < 1e-14);
        assert!(m(1).abs() < 1e-14);
        assert!((m(2) - 1.0).abs() < 1e-13);
        assert!((m(4) - 3.0).abs() < 1e-12);
        assert!((m(8) - 105.0).abs() < 1e-10);
        assert!((m(12) - 10395.0).abs() < 1e-7);
    }
}

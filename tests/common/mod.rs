//! Test targets with known normalisers, independent of the library's own targets.
#![allow(dead_code)]

use gmmvi::{Bounds, Real, Target, TargetError};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Normalised Gaussian N(m, C): log Z = 0.
pub struct Gauss<const D: usize> {
    pub mean: SVector<f64, D>,
    pub prec: SMatrix<f64, D, D>,
    pub log_norm: f64,
}

impl<const D: usize> Gauss<D> {
    pub fn new(mean: SVector<f64, D>, cov: SMatrix<f64, D, D>) -> Self {
        let ch = nalgebra::Cholesky::new(cov).expect("SPD test covariance");
        let prec = ch.inverse();
        let logdet: f64 = (0..D).map(|d| 2.0 * ch.l()[(d, d)].ln()).sum();
        let log_norm = -0.5 * logdet - 0.5 * D as f64 * (2.0 * std::f64::consts::PI).ln();
        Self { mean, prec, log_norm }
    }
    pub fn eval(&self, x: &SVector<f64, D>) -> (f64, SVector<f64, D>) {
        let d = x - self.mean;
        let g = -(self.prec * d);
        (self.log_norm + 0.5 * d.dot(&g), g)
    }
}

impl<T: Real, const D: usize> Target<T, D> for Gauss<D> {
    fn log_density(&mut self, x: &[SVector<T, D>], lp: &mut [T]) -> Result<(), TargetError> {
        for (xi, l) in x.iter().zip(lp.iter_mut()) {
            *l = T::of(self.eval(&xi.map(|v| v.to_f64())).0);
        }
        Ok(())
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        lp: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        for ((xi, l), g) in x.iter().zip(lp.iter_mut()).zip(grad.iter_mut()) {
            let (v, gr) = self.eval(&xi.map(|v| v.to_f64()));
            *l = T::of(v);
            *g = gr.map(T::of);
        }
        Ok(())
    }
}

/// Equal-weight mixture of normalised Gaussians: log Z = 0.
pub struct Mixture<const D: usize> {
    pub comps: Vec<Gauss<D>>,
}

impl<const D: usize> Mixture<D> {
    pub fn eval(&self, x: &SVector<f64, D>) -> (f64, SVector<f64, D>) {
        let lw = -(self.comps.len() as f64).ln();
        let vals: Vec<(f64, SVector<f64, D>)> = self.comps.iter().map(|c| c.eval(x)).collect();
        let m = vals.iter().map(|v| v.0).fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = vals.iter().map(|v| (v.0 - m).exp()).sum();
        let lp = lw + m + s.ln();
        let mut g = SVector::zeros();
        for (v, gi) in &vals {
            g += gi * ((v - m).exp() / s);
        }
        (lp, g)
    }
}

impl<T: Real, const D: usize> Target<T, D> for Mixture<D> {
    fn log_density(&mut self, x: &[SVector<T, D>], lp: &mut [T]) -> Result<(), TargetError> {
        for (xi, l) in x.iter().zip(lp.iter_mut()) {
            *l = T::of(self.eval(&xi.map(|v| v.to_f64())).0);
        }
        Ok(())
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        lp: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        for ((xi, l), g) in x.iter().zip(lp.iter_mut()).zip(grad.iter_mut()) {
            let (v, gr) = self.eval(&xi.map(|v| v.to_f64()));
            *l = T::of(v);
            *g = gr.map(T::of);
        }
        Ok(())
    }
}

/// Runs `f` on a thread with a large stack (optimiser states are big values).
pub fn big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new().stack_size(256 << 20).spawn(f).expect("spawn").join().expect("join")
}

/// A random correlated 10-D Gaussian with log Z = 0.
pub fn random_10d() -> Gauss<10> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(42);
    let mut a = SMatrix::<f64, 10, 10>::zeros();
    gmmvi::rng::fill_standard_normal(&mut rng, a.as_mut_slice());
    let cov = a.transpose() * a * 0.2 + SMatrix::identity() * 0.5;
    let mut m = SVector::<f64, 10>::zeros();
    gmmvi::rng::fill_standard_normal(&mut rng, m.as_mut_slice());
    Gauss::new(m * 3.0, cov)
}

/// Four well-separated correlated 2-D Gaussians of equal weight, log Z = 0.
pub fn four_modes() -> Mixture<2> {
    let comps = [(-10.0, -10.0), (-10.0, 10.0), (10.0, -10.0), (10.0, 10.0)]
        .iter()
        .map(|&(a, b)| Gauss::new(SVector::from([a, b]), SMatrix::<f64, 2, 2>::new(1.0, 0.3, 0.3, 0.5)))
        .collect();
    Mixture { comps }
}

/// `Φ(z)`, the standard normal CDF.
pub fn phi(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// A product of 1-D Gaussians `exp(−(x_i − m_i)²/(2 s_i²))` (unnormalised), truncated to
/// bounds; counts calls outside the open bounds.
pub struct TruncGauss<const D: usize> {
    pub m: [f64; D],
    pub s: [f64; D],
    pub lo: [f64; D],
    pub hi: [f64; D],
    /// Calls on or outside the open bounds.
    pub outside: usize,
}

impl<const D: usize> TruncGauss<D> {
    pub fn new(m: [f64; D], s: [f64; D], lo: [f64; D], hi: [f64; D]) -> Self {
        Self { m, s, lo, hi, outside: 0 }
    }
    /// `log Z = Σ_i ln(s_i √(2π)) + ln(Φ((hi − m)/s) − Φ((lo − m)/s))`.
    pub fn log_z(&self) -> f64 {
        (0..D)
            .map(|i| {
                let mass = phi((self.hi[i] - self.m[i]) / self.s[i]) - phi((self.lo[i] - self.m[i]) / self.s[i]);
                (self.s[i] * (2.0 * std::f64::consts::PI).sqrt()).ln() + mass.ln()
            })
            .sum()
    }
    pub fn bounds<T: Real>(&self) -> Bounds<T, D> {
        Bounds::new(&self.lo.map(T::of), &self.hi.map(T::of)).unwrap()
    }
    pub fn eval<T: Real>(&mut self, x: &SVector<T, D>) -> (T, SVector<T, D>) {
        let mut lp = 0.0;
        let mut g = SVector::<T, D>::zeros();
        for i in 0..D {
            let xi = x[i].to_f64();
            if !(self.lo[i] < xi && xi < self.hi[i]) {
                self.outside += 1;
            }
            let z = (xi - self.m[i]) / self.s[i];
            lp -= 0.5 * z * z;
            g[i] = T::of(-z / self.s[i]);
        }
        (T::of(lp), g)
    }
}

impl<T: Real, const D: usize> Target<T, D> for TruncGauss<D> {
    fn log_density(&mut self, x: &[SVector<T, D>], lp: &mut [T]) -> Result<(), TargetError> {
        for (xi, l) in x.iter().zip(lp) {
            *l = self.eval(xi).0;
        }
        Ok(())
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        lp: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), TargetError> {
        for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
            (*l, *g) = self.eval(xi);
        }
        Ok(())
    }
}

//! Stein variational gradient descent with an RBF kernel (`docs/estimators.md` §12, §17).
//!
//! `N` particles `x_1..x_N ∈ R^D` represent q. One synchronous step with step size ε:
//! `x_i ← x_i + ε φ(x_i)`, with
//! `φ(x_i) = (1/N) Σ_j [ k(x_j, x_i) ∇log p~(x_j) + ∇_{x_j} k(x_j, x_i) ]`,
//! `k(x, y) = exp(−‖x − y‖²/h)`, so the repulsion is `∇_{x_j} k(x_j, x_i) = (2/h)(x_i − x_j) k_ij`
//! (it pushes `x_i` away from `x_j`; test SV2 pins the sign, §17).
//!
//! Bandwidth: fixed, or the median heuristic `h = med²/ln N` with `med` the median of the
//! `N(N−1)/2` distinct pairwise distances (mean of the two middle values for an even count);
//! `N = 1` gives `h = 1`, and `h` is floored at `1e−12`. The median is found without
//! allocation in a caller-provided scratch slice by an iterative heapsort (no recursion):
//! at most `m·(2⌈log₂ m⌉ + 2)` comparisons for `m = N(N−1)/2` distances.
//!
//! ```
//! use gmmvi_baselines::estimators::svgd::{Bandwidth, Svgd, pair_count};
//! use nalgebra::Vector1;
//! // Three particles on the target N(0, 1) (∇log p~(x) = −x), median-heuristic bandwidth.
//! let mut svgd = Svgd::<f64, 3, 1>::new([-1.0, 0.5, 2.0].map(Vector1::new), Bandwidth::Median)?;
//! let mut scratch = [0.0; pair_count(3)];
//! for _ in 0..100 {
//!     let grads = svgd.particles().map(|x| -x);
//!     svgd.step(&grads, 0.1, &mut scratch)?;
//! }
//! assert!(svgd.particles().iter().all(|x| x[0].abs() < 3.0));
//! # Ok::<(), gmmvi::Error>(())
//! ```

use gmmvi::{Error, Real};
use nalgebra::SVector;

/// How the RBF bandwidth `h` is chosen at each step (§12).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bandwidth<T> {
    /// `h = med²/ln N`, recomputed from the current particles every step (the default).
    Median,
    /// A user-fixed `h > 0`.
    Fixed(T),
}

/// Number of distinct particle pairs, `N(N−1)/2`: the scratch length the median heuristic needs.
pub const fn pair_count(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

/// Sorts `v` ascending in place by heapsort (iterative; `v` must hold no NaN).
fn heapsort<T: Real>(v: &mut [T]) {
    let n = v.len();
    // Sift `root` down within v[..end].
    let sift = |v: &mut [T], mut root: usize, end: usize| {
        // Each pass at least doubles `root`, so this runs at most log₂(end) + 1 times.
        for _ in 0..usize::BITS {
            let left = 2 * root + 1;
            if left >= end {
                break;
            }
            let right = left + 1;
            let child = if right < end && v[right] > v[left] { right } else { left };
            if v[child] > v[root] {
                v.swap(child, root);
                root = child;
            } else {
                break;
            }
        }
    };
    for start in (0..n / 2).rev() {
        sift(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift(v, 0, end);
    }
}

/// Median-heuristic bandwidth `h = med²/ln N` of §12 (`h = 1` for `N = 1`, floor `1e−12`).
///
/// `scratch` must hold at least [`pair_count`]`(N)` entries; its contents are overwritten.
///
/// # Errors
/// `BufferTooSmall { needed }` for a short scratch, `InvalidArgument` for non-finite particles.
pub fn median_bandwidth<T: Real, const N: usize, const D: usize>(
    particles: &[SVector<T, D>; N],
    scratch: &mut [T],
) -> Result<T, Error> {
    let m = pair_count(N);
    if N <= 1 {
        return Ok(T::one());
    }
    let Some(buf) = scratch.get_mut(..m) else {
        return Err(Error::BufferTooSmall { needed: m });
    };
    if !particles.iter().all(|x| x.iter().all(|v| v.finite())) {
        return Err(Error::InvalidArgument { what: "non-finite particle" });
    }
    let mut slots = buf.iter_mut();
    for (i, xi) in particles.iter().enumerate() {
        for xj in particles.iter().skip(i + 1) {
            if let Some(s) = slots.next() {
                *s = (xi - xj).norm();
            }
        }
    }
    if buf.iter().any(|d| !d.finite()) {
        return Err(Error::InvalidArgument { what: "pairwise distance overflows" });
    }
    heapsort(buf);
    let (lo, hi) = (buf.get((m - 1) / 2), buf.get(m / 2));
    let (Some(&lo), Some(&hi)) = (lo, hi) else {
        return Err(Error::BufferTooSmall { needed: m });
    };
    let med = (lo + hi) * T::of(0.5);
    let h = med * med / T::of(N as f64).ln();
    Ok(if h < T::of(1e-12) { T::of(1e-12) } else { h })
}

/// The Stein direction `φ(x_i)` of §12 for every particle at bandwidth `h`, written to `out`.
///
/// `grads[j] = ∇log p~(x_j)` at the current particles.
///
/// # Errors
/// `InvalidArgument` if `h` is not finite and positive or a particle or gradient is not finite.
pub fn stein_direction<T: Real, const N: usize, const D: usize>(
    particles: &[SVector<T, D>; N],
    grads: &[SVector<T, D>; N],
    h: T,
    out: &mut [SVector<T, D>; N],
) -> Result<(), Error> {
    if !(h > T::zero()) || !h.finite() {
        return Err(Error::InvalidArgument { what: "bandwidth h must be finite and positive" });
    }
    if !particles.iter().all(|x| x.iter().all(|v| v.finite())) {
        return Err(Error::InvalidArgument { what: "non-finite particle" });
    }
    if !grads.iter().all(|x| x.iter().all(|v| v.finite())) {
        return Err(Error::InvalidArgument { what: "non-finite target gradient" });
    }
    let inv_h = T::one() / h;
    let two_h = T::of(2.0) * inv_h;
    let inv_n = T::one() / T::of(N as f64);
    for (xi, phi) in particles.iter().zip(out.iter_mut()) {
        let mut acc = SVector::<T, D>::zeros();
        for (xj, gj) in particles.iter().zip(grads) {
            let diff = xi - xj;
            let k = (-diff.norm_squared() * inv_h).exp();
            // k_ij ∇log p~(x_j) + (2/h)(x_i − x_j) k_ij: attraction plus repulsion.
            acc += (gj + diff * two_h) * k;
        }
        *phi = acc * inv_n;
    }
    Ok(())
}

/// SVGD state: `N` particles in `R^D`, the bandwidth rule and the last Stein direction.
#[derive(Clone, Copy, Debug)]
pub struct Svgd<T, const N: usize, const D: usize> {
    particles: [SVector<T, D>; N],
    phi: [SVector<T, D>; N],
    bandwidth: Bandwidth<T>,
}

impl<T: Real, const N: usize, const D: usize> Svgd<T, N, D> {
    /// SVGD from initial particles.
    ///
    /// # Errors
    /// `InvalidArgument` for non-finite particles; `InvalidConfig { field: "bandwidth" }` for a
    /// fixed `h` that is not finite and positive.
    pub fn new(particles: [SVector<T, D>; N], bandwidth: Bandwidth<T>) -> Result<Self, Error> {
        const { assert!(N > 0 && D > 0) }
        if let Bandwidth::Fixed(h) = bandwidth
            && (!(h > T::zero()) || !h.finite())
        {
            return Err(Error::InvalidConfig { field: "bandwidth" });
        }
        if !particles.iter().all(|x| x.iter().all(|v| v.finite())) {
            return Err(Error::InvalidArgument { what: "non-finite particle" });
        }
        Ok(Self { particles, phi: [SVector::zeros(); N], bandwidth })
    }

    /// The current particles.
    pub fn particles(&self) -> &[SVector<T, D>; N] {
        &self.particles
    }

    /// The Stein direction `φ` of the last [`Self::direction`] or [`Self::step`] call.
    pub fn phi(&self) -> &[SVector<T, D>; N] {
        &self.phi
    }

    /// The bandwidth for the current particles (see [`median_bandwidth`] for `scratch`;
    /// a fixed bandwidth ignores it).
    ///
    /// # Errors
    /// As [`median_bandwidth`].
    pub fn bandwidth(&self, scratch: &mut [T]) -> Result<T, Error> {
        match self.bandwidth {
            Bandwidth::Fixed(h) => Ok(h),
            Bandwidth::Median => median_bandwidth(&self.particles, scratch),
        }
    }

    /// Computes `φ` at the current particles into [`Self::phi`] (no move), e.g. to drive the
    /// particles with an optimiser of §11; returns the bandwidth used.
    ///
    /// # Errors
    /// As [`Self::bandwidth`] and [`stein_direction`]; the state is unchanged then.
    pub fn direction(&mut self, grads: &[SVector<T, D>; N], scratch: &mut [T]) -> Result<T, Error> {
        let h = self.bandwidth(scratch)?;
        let mut phi = [SVector::zeros(); N];
        stein_direction(&self.particles, grads, h, &mut phi)?;
        self.phi = phi;
        Ok(h)
    }

    /// One synchronous SVGD step `x_i ← x_i + ε φ(x_i)`; returns the bandwidth used.
    ///
    /// `grads[i] = ∇log p~(x_i)` at the current particles.
    ///
    /// # Errors
    /// `InvalidArgument` for a non-finite or non-positive ε or a step that would leave a
    /// particle non-finite; as [`Self::direction`] otherwise. The particles are unchanged then.
    pub fn step(&mut self, grads: &[SVector<T, D>; N], eps: T, scratch: &mut [T]) -> Result<T, Error> {
        if !(eps > T::zero()) || !eps.finite() {
            return Err(Error::InvalidArgument { what: "step size must be finite and positive" });
        }
        let h = self.direction(grads, scratch)?;
        let ok = self.particles.iter().zip(&self.phi).all(|(x, p)| (x + p * eps).iter().all(|v| v.finite()));
        if !ok {
            return Err(Error::InvalidArgument { what: "step would give a non-finite particle" });
        }
        for (x, p) in self.particles.iter_mut().zip(&self.phi) {
            *x += p * eps;
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use gmmvi::real::log_sum_exp;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    type V1 = SVector<f64, 1>;
    type V2 = SVector<f64, 2>;

    fn v1<const N: usize>(x: [f64; N]) -> [V1; N] {
        x.map(V1::new)
    }

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    #[test]
    fn sv1_single_particle_is_gradient_ascent() {
        let mut s = Svgd::<f64, 1, 1>::new(v1([1.5]), Bandwidth::Median).unwrap();
        let g = [V1::new(-1.5)];
        s.step(&g, 0.1, &mut []).unwrap();
        close(s.particles()[0][0], 1.35, 1e-12);
    }

    #[test]
    fn sv2_repulsion_sign() {
        let x = v1([-0.5, 0.5]);
        let mut phi = [V1::zeros(); 2];
        stein_direction(&x, &[V1::zeros(); 2], 1.0, &mut phi).unwrap();
        close(phi[0][0], -0.3678794412, 1e-10);
        close(phi[1][0], 0.3678794412, 1e-10);
    }

    #[test]
    fn sv3_fixed_bandwidth() {
        let x = v1([-1.0, 0.5, 2.0]);
        let mut s = Svgd::<f64, 3, 1>::new(x, Bandwidth::Fixed(1.0)).unwrap();
        let g = x.map(|v| -v);
        s.step(&g, 0.1, &mut []).unwrap();
        for (p, w) in s.phi().iter().zip([0.2100384785, -0.2017997415, -0.5785460233]) {
            close(p[0], w, 1e-9);
        }
        for (p, w) in s.particles().iter().zip([-0.9789961521, 0.4798200258, 1.9421453977]) {
            close(p[0], w, 1e-9);
        }
    }

    #[test]
    fn sv3_f32() {
        // SV3 in f32: agreement to 1e−5 (f32 rounding of exp and sums).
        let x = [-1.0f32, 0.5, 2.0].map(SVector::<f32, 1>::new);
        let mut s = Svgd::<f32, 3, 1>::new(x, Bandwidth::Fixed(1.0)).unwrap();
        s.step(&x.map(|v| -v), 0.1, &mut []).unwrap();
        for (p, w) in s.particles().iter().zip([-0.9789961521f64, 0.4798200258, 1.9421453977].map(|v| v as f32)) {
            assert!((p[0] - w).abs() < 1e-5);
        }
    }

    #[test]
    fn sv4_median_heuristic() {
        let x = v1([-1.0, 0.5, 2.0]);
        let mut scratch = [0.0; 3];
        let h = median_bandwidth(&x, &mut scratch).unwrap();
        close(h, 2.048038259910384, 1e-12);
        let mut s = Svgd::<f64, 3, 1>::new(x, Bandwidth::Median).unwrap();
        s.direction(&x.map(|v| -v), &mut scratch).unwrap();
        for (p, w) in s.phi().iter().zip([0.0947338471, -0.2777777778, -0.5432935179]) {
            close(p[0], w, 1e-9);
        }
        assert_eq!(s.direction(&x.map(|v| -v), &mut [0.0; 2]), Err(Error::BufferTooSmall { needed: 3 }));
    }

    #[test]
    fn sv5_two_dimensional() {
        let x = [V2::new(0.0, 0.0), V2::new(1.0, 0.0), V2::new(0.0, 2.0), V2::new(1.0, 1.0)];
        let m = V2::new(1.0, -1.0);
        let g = x.map(|v| m - v);
        let mut scratch = [0.0; 6];
        let mut s = Svgd::<f64, 4, 2>::new(x, Bandwidth::Median).unwrap();
        let h = s.direction(&g, &mut scratch).unwrap();
        close(h, core::f64::consts::LOG2_E, 1e-9); // 2/ln 4 = 1.4426950409
        let want = [
            [0.0056948073, -0.6768400964],
            [0.3169297198, -0.8433851445],
            [0.1681511777, -0.7468115543],
            [0.2982867951, -0.7017132049],
        ];
        for (p, w) in s.phi().iter().zip(want) {
            close(p[0], w[0], 1e-9);
            close(p[1], w[1], 1e-9);
        }
    }

    /// Runs SVGD with the median heuristic; `grad` maps a particle to ∇log p~.
    fn run<const N: usize, const D: usize>(
        init: [SVector<f64, D>; N],
        eps: f64,
        steps: usize,
        grad: impl Fn(&SVector<f64, D>) -> SVector<f64, D>,
        scratch: &mut [f64],
    ) -> [SVector<f64, D>; N] {
        let mut s = Svgd::<f64, N, D>::new(init, Bandwidth::Median).unwrap();
        for _ in 0..steps {
            let g = s.particles().map(|x| grad(&x));
            s.step(&g, eps, scratch).unwrap();
        }
        *s.particles()
    }

    fn init<const N: usize, const D: usize>(seed: u64, sd: f64) -> [SVector<f64, D>; N] {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut out = [SVector::<f64, D>::zeros(); N];
        for x in out.iter_mut() {
            fill_standard_normal(&mut rng, x.as_mut_slice());
            *x *= sd;
        }
        out
    }

    fn moments1(x: &[V1]) -> (f64, f64) {
        let n = x.len() as f64;
        let mean = x.iter().map(|v| v[0]).sum::<f64>() / n;
        let var = x.iter().map(|v| (v[0] - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn sv6_gaussian_statistics() {
        let x = run::<50, 1>(init(6, 0.1), 0.05, 1000, |x| (V1::new(2.0) - x) / 0.25, &mut [0.0; pair_count(50)]);
        let (mean, sd) = moments1(&x);
        std::eprintln!("SV6 mean {mean} sd {sd}");
        assert!((mean - 2.0).abs() < 0.01, "mean {mean}");
        assert!((0.46..=0.51).contains(&sd), "sd {sd}");
    }

    #[test]
    fn sv7_bimodal_covers_both_modes() {
        let a = V2::new(2.0, 2.0);
        let grad = |x: &V2| {
            // ∇ lse(−½‖x−a‖², −½‖x+a‖²) = softmax-weighted sum of the component scores.
            let (l1, l2) = (-0.5 * (x - a).norm_squared(), -0.5 * (x + a).norm_squared());
            let lse = log_sum_exp(&[l1, l2]);
            (a - x) * (l1 - lse).exp() + (-a - x) * (l2 - lse).exp()
        };
        let x = run::<100, 2>(init(7, 0.1), 0.1, 200, grad, &mut [0.0; pair_count(100)]);
        let up = x.iter().filter(|v| v[0] + v[1] > 0.0).count();
        std::eprintln!("SV7 upper {up}");
        assert!((25..=75).contains(&up), "{up} of 100 in the upper mode");
    }

    // TP1: N(1, 2²), log Z = 0.7. 100 particles; the particle mean has standard error ≈ 0.2
    // for an iid sample, SVGD does better; we assert |mean − 1| < 0.05 and sd ∈ [1.8, 2.1]
    // (SVGD with the median heuristic under-disperses slightly, cf. SV6).
    #[test]
    fn tp1_moments() {
        let x = run::<100, 1>(init(1, 1.0), 0.1, 2000, |x| (V1::new(1.0) - x) / 4.0, &mut [0.0; pair_count(100)]);
        let (mean, sd) = moments1(&x);
        std::eprintln!("TP1 mean {mean} sd {sd}");
        assert!((mean - 1.0).abs() < 0.05, "mean {mean}");
        assert!((1.8..=2.1).contains(&sd), "sd {sd}");
    }

    // TP2: m = (1, −1), Σ = [[2, 0.6], [0.6, 1]]: mean within 0.05, covariance entries within
    // 15 % of Σ's diagonal scale (0.3 on Σ₁₁, 0.15 on Σ₁₂ and Σ₂₂).
    #[test]
    fn tp2_moments() {
        let m = V2::new(1.0, -1.0);
        let p = nalgebra::Matrix2::new(2.0, 0.6, 0.6, 1.0).try_inverse().unwrap();
        let x = run::<100, 2>(init(2, 1.0), 0.1, 2000, |x| p * (m - x), &mut [0.0; pair_count(100)]);
        let mean = x.iter().sum::<V2>() / 100.0;
        let cov = x.iter().map(|v| (v - mean) * (v - mean).transpose()).sum::<nalgebra::Matrix2<f64>>() / 100.0;
        std::eprintln!("TP2 mean {mean:?} cov {cov:?}");
        assert!((mean - m).amax() < 0.05, "mean {mean}");
        close(cov[(0, 0)], 2.0, 0.3);
        close(cov[(0, 1)], 0.6, 0.15);
        close(cov[(1, 1)], 1.0, 0.15);
    }

    // TP3: 0.3 N(−2, 0.5²) + 0.7 N(1.5, 1): mean 0.45, variance 3.3475. From a broad start
    // N(0, 2²) both modes are populated; the left mode holds 0.3 of the mass.
    #[test]
    fn tp3_moments() {
        let grad = |x: &V1| {
            let x = x[0];
            let l1 = 0.3f64.ln() - 0.5 * ((x + 2.0) / 0.5).powi(2) - 0.5f64.ln();
            let l2 = 0.7f64.ln() - 0.5 * (x - 1.5).powi(2);
            let lse = log_sum_exp(&[l1, l2]);
            V1::new((l1 - lse).exp() * (-(x + 2.0) / 0.25) + (l2 - lse).exp() * (1.5 - x))
        };
        let x = run::<100, 1>(init(3, 2.0), 0.1, 2000, grad, &mut [0.0; pair_count(100)]);
        let (mean, sd) = moments1(&x);
        let left = x.iter().filter(|v| v[0] < -0.25).count();
        std::eprintln!("TP3 mean {mean} var {} left {left}", sd * sd);
        assert!((mean - 0.45).abs() < 0.25, "mean {mean}");
        close(sd * sd, 3.3475, 0.5);
        assert!((20..=40).contains(&left), "{left} of 100 in the left mode");
    }

    #[test]
    fn rejects_bad_input() {
        let x = v1([0.0, 1.0]);
        assert!(Svgd::<f64, 2, 1>::new(x, Bandwidth::Fixed(0.0)).is_err());
        assert!(Svgd::<f64, 2, 1>::new(v1([0.0, f64::NAN]), Bandwidth::Median).is_err());
        let mut s = Svgd::<f64, 2, 1>::new(x, Bandwidth::Median).unwrap();
        assert!(s.step(&v1([0.0, f64::INFINITY]), 0.1, &mut [0.0]).is_err());
        assert!(s.step(&v1([0.0, 0.0]), f64::NAN, &mut [0.0]).is_err());
        assert!(s.step(&v1([0.0, 1e308]), 1e10, &mut [0.0]).is_err());
        assert_eq!(s.particles(), &x);
        // Coincident particles: med = 0 → h floored at 1e−12, still finite.
        let same = Svgd::<f64, 2, 1>::new(v1([1.0, 1.0]), Bandwidth::Median).unwrap();
        assert_eq!(same.bandwidth(&mut [0.0]), Ok(1e-12));
        let mut v = [3.0, 1.0, 2.0, 5.0, 4.0, 0.0, 2.0];
        heapsort(&mut v);
        assert_eq!(v, [0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 5.0]);
    }
}

//! NVIL: the score-function estimator with a learned baseline (`docs/estimators.md` §6).
//!
//! Objective `E_q[f(x)]`, `f = log p~(x) − log q(x; λ)` (the log weight `ℓ`). In the
//! non-amortised setting the input-dependent baseline network collapses to a constant `c`:
//! `ĝ_λ = (1/S) Σ_s [(f_s − c) sq_s + ∇_λ f(x_s)]`, `sq_s = ∇_λ log q(x_s; λ)`, where the direct
//! term `∇_λ f = −sq_s` has mean zero and is dropped by default (as in §2).
//! The baseline is fitted by minimising `E_q[(f − c)²]` with the stochastic step
//! `c ← c + η_c (2/S) Σ_s (f_s − c)`, whose fixed point is `E_q[f] = L`.
//!
//! Optional variance normalisation (flag, default off): EMAs (decay `d`) of the centred signal's
//! mean `ν ← d ν + (1 − d) mean_s(f_s − c)` and variance `v ← d v + (1 − d) var_s(f_s − c)`,
//! and the learning signal `(f_s − c − ν)/max(1, sqrt v)`: a positive rescaling of the gradient
//! (biased in magnitude, not in direction).
//!
//! Call [`Nvil::gradient`] first and [`Nvil::update_baseline`] afterwards with the same `f`, so
//! the baseline of step t does not depend on step t's samples. Nothing is allocated; S is the
//! length of the caller's slices.

use gmmvi::{Error, Real};

use super::objectives::{NON_FINITE, check_log_weights, mean};

/// State of the NVIL estimator (§6): the learned constant baseline `c`, its step size and the
/// optional variance-normalisation EMAs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Nvil<T> {
    /// The learned baseline `c`.
    pub c: T,
    /// Step size `η_c` of the baseline update (§6 default: 0.1 × the main step size).
    pub eta_c: T,
    /// Keep the direct term `∇_λ f = −sq` in the gradient (default `false`: dropped, mean zero).
    pub keep_direct_term: bool,
    /// Variance normalisation on (default `false`).
    normalise: bool,
    /// EMA decay `d` of the normalisation statistics.
    decay: T,
    /// EMA of the centred signal's mean `ν`.
    nu: T,
    /// EMA of the centred signal's variance `v`.
    var: T,
}

impl<T: Real> Nvil<T> {
    /// A baseline starting at `c0` with step size `eta_c`; variance normalisation off, direct
    /// term dropped.
    ///
    /// # Errors
    /// `InvalidConfig` if `c0` is not finite or `eta_c` is not finite and positive.
    pub fn new(c0: T, eta_c: T) -> Result<Self, Error> {
        if !c0.finite() {
            return Err(Error::InvalidConfig { field: "nvil.c0" });
        }
        if !(eta_c > T::zero()) || !eta_c.finite() {
            return Err(Error::InvalidConfig { field: "nvil.eta_c" });
        }
        Ok(Self {
            c: c0,
            eta_c,
            keep_direct_term: false,
            normalise: false,
            decay: T::of(0.9),
            nu: T::zero(),
            var: T::zero(),
        })
    }

    /// Turns on the variance normalisation with EMA decay `decay` (the method uses 0.8–0.9);
    /// the statistics start at `ν = 0`, `v = 0`.
    ///
    /// # Errors
    /// `InvalidConfig` unless `0 < decay < 1`.
    pub fn with_variance_normalisation(mut self, decay: T) -> Result<Self, Error> {
        if !(decay > T::zero() && decay < T::one()) {
            return Err(Error::InvalidConfig { field: "nvil.decay" });
        }
        self.normalise = true;
        self.decay = decay;
        self.nu = T::zero();
        self.var = T::zero();
        Ok(self)
    }

    /// `true` when the variance normalisation is on.
    pub fn normalises(&self) -> bool {
        self.normalise
    }

    /// The normalisation EMAs `(ν, v)` (both zero while normalisation is off).
    pub fn normalisation_stats(&self) -> (T, T) {
        (self.nu, self.var)
    }

    /// The learning signal of one sample: `f − c`, or `(f − c − ν)/max(1, sqrt v)` with
    /// variance normalisation.
    pub fn learning_signal(&self, f: T) -> T {
        if self.normalise {
            let scale = self.var.sqrt();
            let scale = if scale > T::one() { scale } else { T::one() };
            (f - self.c - self.nu) / scale
        } else {
            f - self.c
        }
    }

    /// The NVIL gradient (§6): `out = (1/S) Σ_s [signal(f_s) sq_s − (direct ? sq_s : 0)]`, with
    /// `f[s] = ℓ_s` and `sq[s] = ∇_λ log q(x_s; λ)` (a P-vector, `P = out.len()`).
    ///
    /// # Errors
    /// `InvalidArgument` for an empty batch, a non-finite `f_s`, a length mismatch or a
    /// non-finite result; `out` is then zeroed.
    pub fn gradient<V: AsRef<[T]>>(&self, f: &[T], sq: &[V], out: &mut [T]) -> Result<(), Error> {
        let r = self.gradient_inner(f, sq, out);
        if r.is_err() {
            out.fill(T::zero());
        }
        r
    }

    fn gradient_inner<V: AsRef<[T]>>(&self, f: &[T], sq: &[V], out: &mut [T]) -> Result<(), Error> {
        check_log_weights(f)?;
        if sq.len() != f.len() || sq.iter().any(|s| s.as_ref().len() != out.len()) {
            return Err(Error::InvalidArgument { what: "gradient length mismatch" });
        }
        let direct = if self.keep_direct_term { T::one() } else { T::zero() };
        out.fill(T::zero());
        for (&fs, s) in f.iter().zip(sq) {
            let a = self.learning_signal(fs) - direct;
            for (o, &v) in out.iter_mut().zip(s.as_ref()) {
                *o += a * v;
            }
        }
        let inv_s = T::one() / T::of(f.len() as f64);
        for o in out.iter_mut() {
            *o *= inv_s;
        }
        if out.iter().all(|v| v.finite()) {
            Ok(())
        } else {
            Err(Error::InvalidArgument { what: "non-finite gradient" })
        }
    }

    /// One baseline step on this batch's signals `f` (§6): `c ← c + η_c (2/S) Σ_s (f_s − c)`;
    /// with variance normalisation, first the EMAs of the centred signal `f_s − c` (old `c`).
    ///
    /// # Errors
    /// `InvalidArgument` for an empty batch or a non-finite `f_s` (the state is unchanged).
    pub fn update_baseline(&mut self, f: &[T]) -> Result<(), Error> {
        check_log_weights(f)?;
        let m = mean(f) - self.c;
        let c_new = self.c + self.eta_c * (m + m);
        if !c_new.finite() {
            return Err(NON_FINITE);
        }
        if self.normalise {
            let mut v = T::zero();
            for &fs in f {
                let d = fs - self.c - m;
                v += d * d;
            }
            v /= T::of(f.len() as f64);
            let one_m = T::one() - self.decay;
            self.nu = self.decay * self.nu + one_m * m;
            self.var = self.decay * self.var + one_m * v;
        }
        self.c = c_new;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    extern crate std;

    /// TP1 (SF1 setup: m = 1, s = 2, log Z = 0.7, q = N(0, 1)): ℓ = 0.7 − ln 2 + 3ε²/8 + ε/4 − 1/8.
    fn tp1_f(e: f64) -> f64 {
        0.7 - 2f64.ln() + 0.375 * e * e + 0.25 * e - 0.125
    }

    const L: f64 = 0.256_852_819_440_054_67;

    /// 5-node Gauss–Hermite rule for N(0, 1): exact for polynomials of degree ≤ 9.
    fn gauss_hermite5() -> [(f64, f64); 5] {
        let (a, b) = ((5.0 - 10f64.sqrt()).sqrt(), (5.0 + 10f64.sqrt()).sqrt());
        let (wa, wb) = ((7.0 + 2.0 * 10f64.sqrt()) / 60.0, (7.0 - 2.0 * 10f64.sqrt()) / 60.0);
        [(0.0, 8.0 / 15.0), (a, wa), (-a, wa), (b, wb), (-b, wb)]
    }

    #[test]
    fn nv1_baseline_converges_to_the_elbo() {
        // §6 NV1: η_c = 0.005, S = 100, c0 = 0, 2000 steps: |c − L| ≤ 0.025.
        let mut nv = Nvil::new(0.0, 0.005).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(501);
        let mut eps = [0.0f64; 100];
        for _ in 0..2000 {
            fill_standard_normal(&mut rng, &mut eps);
            let f = eps.map(tp1_f);
            nv.update_baseline(&f).unwrap();
        }
        std::println!("NV1: c = {:.6} (L = {L:.6})", nv.c);
        assert!((nv.c - L).abs() <= 0.025);
    }

    #[test]
    fn nv2_variances_equal_the_sf_b_equals_l_row() {
        // §6 NV2 with §2.4 SF1 "b = L" row: mean (0.25, 0.75), Var (1.53125, 8.5).
        let nv = Nvil::new(L, 0.1).unwrap();
        let single = |e: f64, nv: &Nvil<f64>| {
            let mut g = [0.0; 2];
            nv.gradient(&[tp1_f(e)], &[[e, e * e - 1.0]], &mut g).unwrap();
            g
        };
        // Exact moments by quadrature (the estimator is a polynomial of degree ≤ 4 in ε).
        let (mut m, mut m2) = ([0.0; 2], [0.0; 2]);
        for (x, w) in gauss_hermite5() {
            let g = single(x, &nv);
            for p in 0..2 {
                m[p] += w * g[p];
                m2[p] += w * g[p] * g[p];
            }
        }
        let var = [m2[0] - m[0] * m[0], m2[1] - m[1] * m[1]];
        assert!((m[0] - 0.25).abs() < 1e-12 && (m[1] - 0.75).abs() < 1e-12, "{m:?}");
        assert!((var[0] - 1.53125).abs() < 1e-12 && (var[1] - 8.5).abs() < 1e-12, "{var:?}");
        // Keeping the direct term leaves the mean unchanged.
        let mut nvd = nv;
        nvd.keep_direct_term = true;
        let mut md = [0.0; 2];
        for (x, w) in gauss_hermite5() {
            let g = single(x, &nvd);
            md[0] += w * g[0];
            md[1] += w * g[1];
        }
        assert!((md[0] - 0.25).abs() < 1e-12 && (md[1] - 0.75).abs() < 1e-12);
        // Monte Carlo as in SF1: S = 10⁶, means within 5·sqrt(v/S), variances within 12.5 %.
        const S: usize = 1_000_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(502);
        let mut eps = [0.0f64; 1000];
        let (mut s1, mut s2) = ([0.0; 2], [0.0; 2]);
        for _ in 0..S / 1000 {
            fill_standard_normal(&mut rng, &mut eps);
            for &e in &eps {
                let g = single(e, &nv);
                for p in 0..2 {
                    s1[p] += g[p];
                    s2[p] += g[p] * g[p];
                }
            }
        }
        let want_v = [1.53125, 8.5];
        for p in 0..2 {
            let mean = s1[p] / S as f64;
            let v = s2[p] / S as f64 - mean * mean;
            std::println!("NV2 p={p}: mean {mean:.5}, Var {v:.5} (exact {})", want_v[p]);
            assert!((mean - [0.25, 0.75][p]).abs() <= 5.0 * (want_v[p] / S as f64).sqrt());
            assert!((v / want_v[p] - 1.0).abs() <= 0.125);
        }
    }

    #[test]
    fn variance_normalisation_rescales_the_signal() {
        let mut nv = Nvil::new(0.0, 0.05).unwrap().with_variance_normalisation(0.8).unwrap();
        assert!(nv.normalises());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(503);
        let mut eps = [0.0f64; 50];
        for _ in 0..20 {
            fill_standard_normal(&mut rng, &mut eps);
            let f = eps.map(|e| 10.0 * tp1_f(e)); // spread > 1 so the scale is active
            nv.update_baseline(&f).unwrap();
        }
        let (nu, v) = nv.normalisation_stats();
        assert!(v > 1.0);
        fill_standard_normal(&mut rng, &mut eps);
        let f = eps.map(|e| 10.0 * tp1_f(e));
        let sq = eps.map(|e| [e, e * e - 1.0]);
        let mut g = [0.0; 2];
        nv.gradient(&f, &sq, &mut g).unwrap();
        // Same as the plain estimator with baseline c + ν, divided by sqrt(v).
        let plain = Nvil::new(nv.c + nu, 0.05).unwrap();
        let mut h = [0.0; 2];
        plain.gradient(&f, &sq, &mut h).unwrap();
        for p in 0..2 {
            assert!((g[p] - h[p] / v.sqrt()).abs() <= 1e-12 * h[p].abs().max(1.0));
        }
        // Default: off.
        assert!(!Nvil::new(0.0f64, 0.1).unwrap().normalises());
    }

    #[test]
    fn invalid_inputs() {
        assert!(Nvil::new(f64::NAN, 0.1).is_err());
        assert!(Nvil::new(0.0, 0.0).is_err());
        assert!(Nvil::new(0.0, f64::INFINITY).is_err());
        assert!(Nvil::new(0.0, 0.1).unwrap().with_variance_normalisation(1.0).is_err());
        let mut nv = Nvil::new(0.5f64, 0.1).unwrap();
        let before = nv;
        assert_eq!(nv.update_baseline(&[1.0, f64::NAN]), Err(NON_FINITE));
        assert!(nv.update_baseline(&[]).is_err());
        assert_eq!(nv, before);
        let mut out = [4.0; 2];
        assert_eq!(nv.gradient(&[f64::INFINITY], &[[1.0, 1.0]], &mut out), Err(NON_FINITE));
        assert_eq!(out, [0.0; 2]);
        out = [4.0; 2];
        assert!(nv.gradient(&[1.0], &[[1.0]], &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
        out = [4.0; 2];
        assert!(nv.gradient(&[1.0], &[[1.0, f64::NAN]], &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
    }
}

//! VIMCO: the leave-one-out baseline for the K-sample bound (`docs/estimators.md` §7).
//!
//! For one group of `K ≥ 2` samples from a (possibly non-reparameterisable) `q` with log weights
//! `ℓ_k` and scores `sq_k = ∇_λ log q(x_k; λ)`:
//! * `L̂ = lse(ℓ) − ln K`, `w̃ = softmax(ℓ)`;
//! * `ℓ̄_{−k} = (1/(K−1)) Σ_{i≠k} ℓ_i` replaces entry k: `L̂_{−k} = lse(ℓ_{−k} ∪ {ℓ̄_{−k}}) − ln K`;
//! * learning signal `δ_k = L̂ − L̂_{−k}`;
//! * gradient `ĝ = Σ_k δ_k sq_k + Σ_k w̃_k ∇_λ ℓ_k|_x = Σ_k (δ_k − w̃_k) sq_k`
//!   (`∇_λ ℓ_k|_x = −sq_k`; the target does not depend on λ).
//!
//! Unbiased for `∇ L_K` because `L̂_{−k}` does not depend on `x_k`. `K = 1` has no leave-one-out
//! and is rejected with an error (VM4).
//!
//! Two computations of `δ` are offered and agree to 1e−12: [`loo_signals_quadratic`] (each
//! `L̂_{−k}` with its own max-subtracted lse, O(K²)) and [`loo_signals`] (O(K): the lse of the
//! other K − 1 terms from one shared sum, then `logaddexp` with `ℓ̄_{−k}`). The gradient uses the
//! O(K) form and stores nothing, so K is bounded only by the caller's slices.

use gmmvi::{Error, Real};

use super::objectives::check_log_weights;

const K_TOO_SMALL: Error = Error::InvalidArgument { what: "VIMCO needs K >= 2 samples per group" };
const LEN: Error = Error::InvalidArgument { what: "gradient length mismatch" };

/// Checks the group: `K ≥ 2` and every `ℓ_k` finite.
fn check_group<T: Real>(l: &[T]) -> Result<(), Error> {
    if l.len() < 2 {
        return Err(K_TOO_SMALL);
    }
    check_log_weights(l)
}

/// `ln(e^a + e^b)` for finite `a, b`.
fn logaddexp<T: Real>(a: T, b: T) -> T {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// Shared O(K) summary of a group from which every `δ_k` follows in O(1).
struct Loo<T> {
    /// `max ℓ` and its (first) index.
    m1: T,
    imax: usize,
    /// `Σ_{i≠imax} exp(ℓ_i − m1)`.
    t2: T,
    /// `lse` of the entries other than `imax`, with its own maximum (no underflow).
    lse_wo_max: T,
    /// `Σ ℓ` (compensated).
    sum_l: T,
    /// `lse(ℓ) = m1 + ln(1 + t2)`.
    lse: T,
    /// `K − 1`.
    km1: T,
}

impl<T: Real> Loo<T> {
    /// `l` must be a checked group (`K ≥ 2`, finite).
    fn new(l: &[T]) -> Self {
        let (mut m1, mut imax) = (T::NEG_INF, 0);
        for (i, &v) in l.iter().enumerate() {
            if v > m1 {
                m1 = v;
                imax = i;
            }
        }
        let mut m2 = T::NEG_INF;
        for (i, &v) in l.iter().enumerate() {
            if i != imax && v > m2 {
                m2 = v;
            }
        }
        let (mut t2, mut u2) = (T::zero(), T::zero());
        // Neumaier-compensated Σ ℓ: ℓ̄_{−k} is formed as (Σ ℓ − ℓ_k)/(K − 1).
        let (mut sum, mut comp) = (T::zero(), T::zero());
        for (i, &v) in l.iter().enumerate() {
            if i != imax {
                t2 += (v - m1).exp();
                u2 += (v - m2).exp();
            }
            let t = sum + v;
            comp += if sum.abs() >= v.abs() { (sum - t) + v } else { (v - t) + sum };
            sum = t;
        }
        Self {
            m1,
            imax,
            t2,
            lse_wo_max: m2 + u2.ln(),
            sum_l: sum + comp,
            lse: m1 + t2.ln_1p(),
            km1: T::of((l.len() - 1) as f64),
        }
    }

    /// `δ_k = L̂ − L̂_{−k} = lse(ℓ) − logaddexp(lse_{i≠k} ℓ_i, ℓ̄_{−k})`.
    fn delta(&self, k: usize, lk: T) -> T {
        let lse_wo_k = if k == self.imax {
            self.lse_wo_max
        } else {
            // Σ_{i≠k} exp(ℓ_i − m1) = 1 + (t2 − e_k) ≥ 1: t2 holds e_k as one of its terms.
            let rest = self.t2 - (lk - self.m1).exp();
            self.m1 + (if rest > T::zero() { rest } else { T::zero() }).ln_1p()
        };
        let mean_wo_k = (self.sum_l - lk) / self.km1;
        self.lse - logaddexp(lse_wo_k, mean_wo_k)
    }
}

/// Leave-one-out signals `δ_k = L̂ − L̂_{−k}` in O(K) (§7), written to `delta[..K]`; returns `L̂`.
///
/// # Errors
/// `InvalidArgument` if `K < 2` or an `ℓ_k` is not finite; `BufferTooSmall` if `delta` is
/// shorter than `l`.
pub fn loo_signals<T: Real>(l: &[T], delta: &mut [T]) -> Result<T, Error> {
    check_group(l)?;
    if delta.len() < l.len() {
        return Err(Error::BufferTooSmall { needed: l.len() });
    }
    let loo = Loo::new(l);
    for (k, (d, &lk)) in delta.iter_mut().zip(l).enumerate() {
        *d = loo.delta(k, lk);
    }
    Ok(loo.lse - T::of(l.len() as f64).ln())
}

/// Leave-one-out signals computed directly (§7): for each k, `L̂_{−k}` is the max-subtracted
/// lse of `ℓ` with entry k replaced by `ℓ̄_{−k}`, minus `ln K` (O(K²)); returns `L̂`.
/// Reference for [`loo_signals`].
///
/// # Errors
/// As [`loo_signals`].
pub fn loo_signals_quadratic<T: Real>(l: &[T], delta: &mut [T]) -> Result<T, Error> {
    check_group(l)?;
    if delta.len() < l.len() {
        return Err(Error::BufferTooSmall { needed: l.len() });
    }
    let lse = gmmvi::real::log_sum_exp(l);
    let km1 = T::of((l.len() - 1) as f64);
    for (k, d) in delta.iter_mut().enumerate().take(l.len()) {
        let mut mean = T::zero();
        for (i, &v) in l.iter().enumerate() {
            if i != k {
                mean += v;
            }
        }
        mean /= km1;
        let replaced = |i: usize, v: T| if i == k { mean } else { v };
        let mut m = T::NEG_INF;
        for (i, &v) in l.iter().enumerate() {
            let r = replaced(i, v);
            if r > m {
                m = r;
            }
        }
        let mut s = T::zero();
        for (i, &v) in l.iter().enumerate() {
            s += (replaced(i, v) - m).exp();
        }
        // δ_k = (lse − ln K) − (lse_{−k} − ln K).
        *d = lse - (m + s.ln());
    }
    Ok(lse - T::of(l.len() as f64).ln())
}

/// Score coefficients `c_k = δ_k − w̃_k` of the VIMCO gradient (§7), written to `coef[..K]`;
/// returns `L̂`.
///
/// # Errors
/// As [`loo_signals`].
pub fn coefficients<T: Real>(l: &[T], coef: &mut [T]) -> Result<T, Error> {
    check_group(l)?;
    if coef.len() < l.len() {
        return Err(Error::BufferTooSmall { needed: l.len() });
    }
    let loo = Loo::new(l);
    for (k, (c, &lk)) in coef.iter_mut().zip(l).enumerate() {
        *c = loo.delta(k, lk) - (lk - loo.lse).exp();
    }
    Ok(loo.lse - T::of(l.len() as f64).ln())
}

/// VIMCO gradient of one group (§7): `out = Σ_k (δ_k − w̃_k) sq_k`, with `sq[k]` the score
/// `∇_λ log q(x_k; λ)` (a P-vector, `P = out.len()`). Returns `L̂`. With S groups the caller
/// averages the group estimates. Model parameters, if learned, need `Σ_k w̃_k ∇_θ log p~_θ(x_k)`
/// added by the caller.
///
/// # Errors
/// `InvalidArgument` if `K < 2` (VM4), an `ℓ_k` is not finite, the lengths mismatch or the
/// result is not finite; `out` is then zeroed.
pub fn gradient<T: Real, V: AsRef<[T]>>(l: &[T], sq: &[V], out: &mut [T]) -> Result<T, Error> {
    let r = gradient_inner(l, sq, out);
    if r.is_err() {
        out.fill(T::zero());
    }
    r
}

fn gradient_inner<T: Real, V: AsRef<[T]>>(l: &[T], sq: &[V], out: &mut [T]) -> Result<T, Error> {
    check_group(l)?;
    if sq.len() != l.len() || sq.iter().any(|s| s.as_ref().len() != out.len()) {
        return Err(LEN);
    }
    let loo = Loo::new(l);
    out.fill(T::zero());
    for (k, (&lk, s)) in l.iter().zip(sq).enumerate() {
        let c = loo.delta(k, lk) - (lk - loo.lse).exp();
        for (o, &v) in out.iter_mut().zip(s.as_ref()) {
            *o += c * v;
        }
    }
    if out.iter().all(|v| v.finite()) {
        Ok(loo.lse - T::of(l.len() as f64).ln())
    } else {
        Err(Error::InvalidArgument { what: "non-finite gradient" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::iwae;
    use crate::estimators::objectives::NON_FINITE;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    extern crate std;

    #[test]
    fn vm1_leave_one_out_values() {
        // §7 VM1.
        let l = [-1.0f64, 0.5, 2.0, -0.3];
        let lhat_k =
            [1.086_928_015_500_027_2, 0.892_055_015_558_737_7, -0.126_882_894_118_615_53, 1.016_532_194_845_614_3];
        let delta_want =
            [-0.156_096_018_988_932_44, 0.038_776_980_952_357_04, 1.057_714_890_629_710_2, -0.085_700_198_334_519_58];
        let coef_want = [-0.192_352_89, -0.123_715_04, 0.329_476_16, -0.158_712_57];
        let (mut d_lin, mut d_quad, mut c) = ([0.0; 4], [0.0; 4], [0.0; 4]);
        let lhat = loo_signals(&l, &mut d_lin).unwrap();
        assert!((lhat - 0.930_831_996_511_094_7).abs() < 1e-14);
        assert_eq!(loo_signals_quadratic(&l, &mut d_quad), Ok(lhat));
        coefficients(&l, &mut c).unwrap();
        for k in 0..4 {
            assert!((d_lin[k] - delta_want[k]).abs() < 1e-12, "{k}: {}", d_lin[k]);
            assert!((d_quad[k] - delta_want[k]).abs() < 1e-12, "{k}: {}", d_quad[k]);
            assert!((lhat - d_lin[k] - lhat_k[k]).abs() < 1e-12);
            assert!((c[k] - coef_want[k]).abs() < 1e-8);
        }
        // The gradient with unit scores returns the coefficients.
        let sq = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        let mut g = [0.0; 4];
        gradient(&l, &sq, &mut g).unwrap();
        assert_eq!(g, c);
    }

    #[test]
    fn linear_and_quadratic_signals_agree() {
        // §7: both computations agree to 1e−12, including ties, wide spreads and K = 2.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(301);
        let mut worst = 0.0f64;
        for trial in 0..3000 {
            let k = 2 + trial % 40;
            let scale = [0.1, 1.0, 5.0, 30.0, 300.0][trial % 5];
            let mut l = [0.0f64; 41];
            fill_standard_normal(&mut rng, &mut l[..k]);
            for v in &mut l[..k] {
                *v = *v * scale + 3.0;
            }
            if trial % 7 == 0 {
                l[1] = l[0]; // a tie, possibly at the maximum
            }
            let (mut a, mut b) = ([0.0; 41], [0.0; 41]);
            let la = loo_signals(&l[..k], &mut a).unwrap();
            let lb = loo_signals_quadratic(&l[..k], &mut b).unwrap();
            assert!((la - lb).abs() <= 1e-12);
            for (x, y) in a[..k].iter().zip(&b[..k]) {
                worst = worst.max((x - y).abs());
            }
        }
        std::println!("max |δ_lin − δ_quad| = {worst:e}");
        assert!(worst <= 1e-12);
        // Entries 2000 below the maximum (exp underflows relative to it).
        let l = [0.0f64, -2000.0, -2001.0];
        let (mut a, mut b) = ([0.0; 3], [0.0; 3]);
        loo_signals(&l, &mut a).unwrap();
        loo_signals_quadratic(&l, &mut b).unwrap();
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() <= 1e-12, "{x} {y}");
        }
    }

    /// Mean and sd of the VIMCO and naive estimators on TP5 (q = N(0, 1), ℓ = ε − ½,
    /// sq = (ε, ε² − 1)) over `s` groups of `k`.
    fn tp5_moments(k: usize, s: usize, seed: u64) -> ([f64; 2], [f64; 2], [f64; 2], [f64; 2]) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (mut m, mut m2, mut n, mut n2) = ([0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        let (mut eps, mut l, mut sq, mut w) = ([0.0; 10], [0.0; 10], [[0.0; 2]; 10], [0.0; 10]);
        for _ in 0..s {
            fill_standard_normal(&mut rng, &mut eps[..k]);
            for j in 0..k {
                l[j] = eps[j] - 0.5;
                sq[j] = [eps[j], eps[j] * eps[j] - 1.0];
            }
            let mut g = [0.0; 2];
            let lhat = gradient(&l[..k], &sq[..k], &mut g).unwrap();
            // Naive multi-sample score estimator Σ_k (L̂ − w̃_k) sq_k (VM3).
            iwae::weights(&l[..k], &mut w).unwrap();
            let mut h = [0.0; 2];
            for j in 0..k {
                for p in 0..2 {
                    h[p] += (lhat - w[j]) * sq[j][p];
                }
            }
            for p in 0..2 {
                m[p] += g[p];
                m2[p] += g[p] * g[p];
                n[p] += h[p];
                n2[p] += h[p] * h[p];
            }
        }
        let sf = s as f64;
        let fin = |a: [f64; 2], b: [f64; 2]| {
            let mean = a.map(|v| v / sf);
            ([mean[0], mean[1]], [(b[0] / sf - mean[0] * mean[0]).sqrt(), (b[1] / sf - mean[1] * mean[1]).sqrt()])
        };
        let (vm, vs) = fin(m, m2);
        let (nm, ns) = fin(n, n2);
        (vm, vs, nm, ns)
    }

    #[test]
    fn vm2_unbiased_for_the_iwae_gradient_on_tp5() {
        // §7 VM2: S = 10⁶ groups, tol = 5·sd/sqrt(S) + 1e−3.
        const S: usize = 1_000_000;
        let table = [
            (2usize, [0.6368, 0.3629], [1.157, 1.980]),
            (5, [0.3325, 0.3698], [0.515, 1.098]),
            (10, [0.1946, 0.2734], [0.305, 0.691]),
        ];
        for (i, (k, want, sd)) in table.into_iter().enumerate() {
            let (mean, emp_sd, _, _) = tp5_moments(k, S, 310 + i as u64);
            std::println!("VM2 K={k}: mean {mean:?} (ref {want:?}), sd {emp_sd:?} (ref {sd:?})");
            for p in 0..2 {
                let tol = 5.0 * sd[p] / (S as f64).sqrt() + 1e-3;
                assert!((mean[p] - want[p]).abs() <= tol, "K={k} p={p}: {} vs {}", mean[p], want[p]);
            }
        }
    }

    #[test]
    fn vm3_vimco_has_lower_variance_than_the_naive_estimator() {
        // §7 VM3: S = 10⁵; naive sd (1.883, 2.430), (1.752, 1.951), (1.704, 1.958).
        const S: usize = 100_000;
        for (i, k) in [2usize, 5, 10].into_iter().enumerate() {
            let (vm, vs, nm, ns) = tp5_moments(k, S, 320 + i as u64);
            std::println!("VM3 K={k}: VIMCO mean {vm:?} sd {vs:?}; naive mean {nm:?} sd {ns:?}");
            assert!(vs[0] < ns[0] && vs[1] < ns[1], "K={k}");
        }
    }

    #[test]
    fn vimco_matches_the_pathwise_iwae_gradient_on_tp1() {
        // §16 applicability (VIMCO × TP1): both estimators are unbiased for ∇L_K; TP1 with
        // m = 1, s = 2, log Z = 0.7, q = N(0, 1): ℓ = 0.7 − ln 2 + 3ε²/8 + ε/4 − 1/8.
        const S: usize = 200_000;
        const K: usize = 5;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(330);
        let (mut a, mut a2, mut b, mut b2) = ([0.0; 2], [0.0; 2], [0.0; 2], [0.0; 2]);
        for _ in 0..S {
            let mut eps = [0.0; K];
            fill_standard_normal(&mut rng, &mut eps);
            let l = eps.map(|e| 0.7 - 2f64.ln() + 0.375 * e * e + 0.25 * e - 0.125);
            let sq = eps.map(|e| [e, e * e - 1.0]);
            let dl = eps.map(|e| [(1.0 - e) / 4.0, (1.0 - e) / 4.0 * e + 1.0]);
            let (mut g, mut h) = ([0.0; 2], [0.0; 2]);
            gradient(&l, &sq, &mut g).unwrap();
            iwae::gradient(&l, &dl, &mut h).unwrap();
            for p in 0..2 {
                a[p] += g[p];
                a2[p] += g[p] * g[p];
                b[p] += h[p];
                b2[p] += h[p] * h[p];
            }
        }
        let sf = S as f64;
        for p in 0..2 {
            let (ma, mb) = (a[p] / sf, b[p] / sf);
            let va = a2[p] / sf - ma * ma;
            let vb = b2[p] / sf - mb * mb;
            let tol = 5.0 * ((va + vb) / sf).sqrt();
            std::println!("TP1 K=5 p={p}: VIMCO {ma:.5}, IWAE {mb:.5}, tol {tol:.5}");
            assert!((ma - mb).abs() <= tol);
        }
        // At q = p every ℓ equals log Z: δ = 0 and the coefficients are −1/K.
        let l = [0.7f64; K];
        let mut c = [0.0; K];
        coefficients(&l, &mut c).unwrap();
        assert!(c.iter().all(|&v| (v + 0.2).abs() <= 1e-15));
    }

    #[test]
    fn vm4_k1_and_bad_inputs_are_rejected() {
        // §7 VM4.
        let mut out = [5.0; 2];
        assert_eq!(gradient(&[0.3f64], &[[1.0, 2.0]], &mut out), Err(K_TOO_SMALL));
        assert_eq!(out, [0.0; 2]);
        let mut d = [0.0; 1];
        assert_eq!(loo_signals(&[0.3f64], &mut d), Err(K_TOO_SMALL));
        assert_eq!(loo_signals_quadratic(&[0.3f64], &mut d), Err(K_TOO_SMALL));
        assert_eq!(coefficients::<f64>(&[], &mut d), Err(K_TOO_SMALL));
        out = [5.0; 2];
        assert_eq!(gradient(&[0.3, f64::NAN], &[[1.0, 2.0], [1.0, 2.0]], &mut out), Err(NON_FINITE));
        assert_eq!(out, [0.0; 2]);
        out = [5.0; 2];
        assert!(gradient(&[0.3, 0.1], &[[1.0, 2.0]], &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
        assert_eq!(loo_signals(&[0.3, 0.1], &mut d), Err(Error::BufferTooSmall { needed: 2 }));
    }
}

//! VR (Rényi) bound gradient (`docs/estimators.md` §8, value §1.4).
//!
//! Pathwise, for one group of K reparameterised samples: `ĝ = Σ_k w̃^(α)_k ∇_λ ℓ_k` with
//! `w̃^(α) = softmax((1 − α) ℓ)` and `∇_λ ℓ_k` the total derivative of §5 (caller-supplied
//! P-vectors, or the diagonal-Gaussian convenience). Value
//! `L̂_{α,K} = [lse((1−α) ℓ) − ln K]/(1 − α)`, non-increasing in `α`.
//!
//! Special values of `α` (Li & Turner's convention; `β = 1 − α` converts from the other one,
//! see [`super::objectives::beta_from_alpha`]):
//! * `α = 0`: the IWAE bound and gradient (§5);
//! * `|1 − α| < 1e−6`: the limit, uniform weights `1/K` and value `mean ℓ` (the ELBO pathwise
//!   gradient); the general formula would cancel catastrophically;
//! * `α = +∞`: all weight on the smallest `ℓ_k`, value `min ℓ`;
//! * `α = −∞` ("VR-max"): all weight on the largest `ℓ_k`, value `max ℓ`.
//!   Ties at the extreme share the weight equally (the limit of the softmax).
//!
//! The softmax is computed as `exp((1−α)(ℓ_k − e) − ln Σ)` with `e` the extreme `ℓ`, so
//! `(1 − α) ℓ` is never formed. The score-function VR estimator for non-reparameterisable `q`
//! is not part of this release (§8). On any error the gradient buffers are zeroed.

use gmmvi::{Error, Real};

use super::iwae::{DiagGroup, weighted_sum, weighted_sum_diag};
use super::objectives::{AlphaRegime, alpha_regime, check_log_weights, extreme, mean, scaled_lse_parts};

/// The weights of one group for a given `α`, and the bound's value.
#[derive(Clone, Copy)]
enum VrWeights<T> {
    Uniform {
        w: T,
    },
    /// All weight equally on the entries equal to `at`.
    Extreme {
        at: T,
        w: T,
    },
    Softmax {
        s: T,
        e: T,
        ln_sum: T,
    },
}

impl<T: Real> VrWeights<T> {
    /// `l` must be checked (non-empty, finite). Returns the weights and `L̂_{α,K}`.
    fn new(l: &[T], alpha: T) -> Result<(Self, T), Error> {
        let k = T::of(l.len() as f64);
        Ok(match alpha_regime(alpha)? {
            AlphaRegime::One => (Self::Uniform { w: T::one() / k }, mean(l)),
            AlphaRegime::PlusInf | AlphaRegime::MinusInf => {
                let (at, n) = extreme(l, alpha == T::NEG_INF);
                (Self::Extreme { at, w: T::one() / T::of(n as f64) }, at)
            }
            AlphaRegime::Scaled(s) => {
                let (e, ln_sum) = scaled_lse_parts(l, s);
                (Self::Softmax { s, e, ln_sum }, e + (ln_sum - k.ln()) / s)
            }
        })
    }

    fn weight(&self, lk: T) -> T {
        match *self {
            Self::Uniform { w } => w,
            Self::Extreme { at, w } => {
                if lk == at {
                    w
                } else {
                    T::zero()
                }
            }
            Self::Softmax { s, e, ln_sum } => (s * (lk - e) - ln_sum).exp(),
        }
    }
}

/// Value of the VR bound of one group, `L̂_{α,K}` (§1.4); see
/// [`super::objectives::renyi_bound`].
///
/// # Errors
/// `InvalidArgument` if `l` is empty or non-finite, or `alpha` is NaN.
pub fn bound<T: Real>(l: &[T], alpha: T) -> Result<T, Error> {
    super::objectives::renyi_bound(l, alpha)
}

/// Writes the VR weights `w̃^(α) = softmax((1 − α) ℓ)` (with the limits of the module doc) into
/// `w[..K]` and returns `L̂_{α,K}` (§8).
///
/// # Errors
/// `InvalidArgument` if `l` is empty or non-finite, or `alpha` is NaN; `BufferTooSmall` if `w`
/// is shorter than `l`.
pub fn weights<T: Real>(l: &[T], alpha: T, w: &mut [T]) -> Result<T, Error> {
    check_log_weights(l)?;
    if w.len() < l.len() {
        return Err(Error::BufferTooSmall { needed: l.len() });
    }
    let (vw, value) = VrWeights::new(l, alpha)?;
    for (o, &lk) in w.iter_mut().zip(l) {
        *o = vw.weight(lk);
    }
    Ok(value)
}

/// Pathwise VR gradient of one group (§8): `out = Σ_k w̃^(α)_k ∇_λ ℓ_k`, with `dl[k]` the total
/// derivative `∇_λ ℓ_k` (a P-vector, `P = out.len()`). Returns `L̂_{α,K}`.
///
/// # Errors
/// `InvalidArgument` for an empty group, a non-finite `ℓ`, a NaN `alpha`, a length mismatch or
/// a non-finite result; `out` is then zeroed.
pub fn gradient<T: Real, V: AsRef<[T]>>(l: &[T], alpha: T, dl: &[V], out: &mut [T]) -> Result<T, Error> {
    let r = (|| {
        check_log_weights(l)?;
        let (vw, value) = VrWeights::new(l, alpha)?;
        weighted_sum(l, dl, out, |v| vw.weight(v))?;
        Ok(value)
    })();
    if r.is_err() {
        out.fill(T::zero());
    }
    r
}

/// Pathwise VR gradient of one group for the diagonal Gaussian `x = μ + σ ⊙ ε`, `λ = (μ, ω)`
/// (§8 with §5): `out_mu = Σ_k w̃^(α)_k gp_k`, `out_omega = Σ_k w̃^(α)_k (gp_k ⊙ σ ⊙ ε_k) + 1`.
/// The draws as [`DiagGroup`] (`D = group.mu.len()`). Returns `L̂_{α,K}`.
///
/// # Errors
/// As [`gradient`]; both output buffers are zeroed on error.
pub fn gradient_diag_gaussian<T: Real, V: AsRef<[T]>, W: AsRef<[T]>>(
    l: &[T],
    alpha: T,
    group: &DiagGroup<'_, T, V, W>,
    out_mu: &mut [T],
    out_omega: &mut [T],
) -> Result<T, Error> {
    let r = (|| {
        check_log_weights(l)?;
        let (vw, value) = VrWeights::new(l, alpha)?;
        weighted_sum_diag(l, group, out_mu, out_omega, |v| vw.weight(v))?;
        Ok(value)
    })();
    if r.is_err() {
        out_mu.fill(T::zero());
        out_omega.fill(T::zero());
    }
    r
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

    const L: [f64; 4] = [-1.0, 0.5, 2.0, -0.3];
    const LN_2PI: f64 = 1.837_877_066_409_345_5;

    #[test]
    fn vr_table_values_and_weights() {
        // §8 table.
        let table: [(f64, f64, [f64; 4]); 5] = [
            (0.0, 0.930_831_996_511_094_7, [0.036_256_87, 0.162_492_02, 0.728_238_73, 0.073_012_37]),
            (0.5, 0.625_802_463_985_583, [0.110_892_33, 0.234_759_05, 0.496_984_92, 0.157_363_7]),
            (1.0, 0.3, [0.25, 0.25, 0.25, 0.25]),
            (2.0, -0.184_404_090_769_046_5, [0.565_130_58, 0.126_097_68, 0.028_136_2, 0.280_635_54]),
            (-1.0, 1.337_079_314_179_179_2, [0.002_333_34, 0.046_866_46, 0.941_338_02, 0.009_462_18]),
        ];
        for (alpha, value, want) in table {
            let mut w = [0.0; 4];
            let v = weights(&L, alpha, &mut w).unwrap();
            assert!((v - value).abs() < 1e-12, "α = {alpha}: {v}");
            assert_eq!(bound(&L, alpha), Ok(v));
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
            for (a, b) in w.iter().zip(want) {
                assert!((a - b).abs() < 1e-8, "α = {alpha}: {w:?}");
            }
            // The gradient with unit vectors returns the weights.
            let dl = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
            let mut g = [0.0; 4];
            assert_eq!(gradient(&L, alpha, &dl, &mut g), Ok(v));
            assert_eq!(g, w);
        }
        // α = 0 is IWAE.
        let (mut wi, mut wv) = ([0.0; 4], [0.0; 4]);
        iwae::weights(&L, &mut wi).unwrap();
        weights(&L, 0.0, &mut wv).unwrap();
        for (a, b) in wi.iter().zip(wv) {
            assert!((a - b).abs() < 1e-15);
        }
        // α = ±∞: all weight on the smallest / largest ℓ.
        let mut w = [0.0; 4];
        assert_eq!(weights(&L, f64::INFINITY, &mut w), Ok(-1.0));
        assert_eq!(w, [1.0, 0.0, 0.0, 0.0]);
        assert_eq!(weights(&L, f64::NEG_INFINITY, &mut w), Ok(2.0));
        assert_eq!(w, [0.0, 0.0, 1.0, 0.0]);
        // Ties share the weight; large finite α approaches the limit.
        assert_eq!(weights(&[1.0, 3.0, 3.0], f64::NEG_INFINITY, &mut w), Ok(3.0));
        assert_eq!(&w[..3], &[0.0, 0.5, 0.5]);
        let v = weights(&L, -1e6, &mut w).unwrap();
        assert!((v - 2.0).abs() < 1e-5 && (w[2] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn vr_value_non_increasing_in_alpha() {
        // §8: non-increasing in α on the table's vector.
        let mut prev = f64::INFINITY;
        for i in 0..=400 {
            let alpha = -10.0 + 0.05 * i as f64;
            let v = bound(&L, alpha).unwrap();
            assert!(v <= prev + 1e-15, "α = {alpha}: {v} > {prev}");
            prev = v;
        }
        assert!(bound(&L, f64::NEG_INFINITY).unwrap() >= bound(&L, -10.0).unwrap());
        assert!(bound(&L, f64::INFINITY).unwrap() <= prev);
    }

    #[test]
    fn vr_near_one_vs_limit() {
        // §8: at α = 0.999999 (|1 − α| just above 1e−6) the general formula gives 0.30000062
        // (= 0.3 + (1 − α) Var(ℓ)/2, Var(ℓ) = 1.245); inside the band the limit gives 0.3.
        let v = bound(&L, 0.999_999).unwrap();
        std::println!("α = 0.999999: {v:.12}");
        assert!((v - 0.300_000_62).abs() < 5e-9);
        assert!((v - (0.3 + 1e-6 * 1.245 / 2.0)).abs() < 1e-9);
        let mut w = [0.0; 4];
        assert_eq!(weights(&L, 1.0 - 5e-7, &mut w), Ok(0.3));
        assert_eq!(w, [0.25; 4]);
        assert_eq!(weights(&L, 1.0, &mut w), Ok(0.3));
    }

    #[test]
    fn vr1_tp5_bound_approaches_minus_alpha_over_two() {
        // §8 VR1: TP5 (ℓ = ε − ½), K = 1000, S = 10⁴, α = 0.5: −0.27 ≤ mean ≤ −0.245.
        const K: usize = 1000;
        const S: usize = 10_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(401);
        let mut l = [0.0f64; K];
        let mut sum = 0.0;
        for _ in 0..S {
            fill_standard_normal(&mut rng, &mut l);
            for v in &mut l {
                *v -= 0.5;
            }
            sum += bound(&l, 0.5).unwrap();
        }
        let m = sum / S as f64;
        std::println!("VR1: mean L̂_0.5,1000 = {m:.6}");
        assert!((-0.25 - 0.02..=-0.25 + 0.005).contains(&m), "{m}");
    }

    #[test]
    fn vr_limit_gradient_is_the_elbo_gradient_on_tp5() {
        // §8 α → 1 on TP5: uniform weights give the pathwise ELBO gradient (1, 0); per-sample
        // sd (1, √3), group of K = 5 averages: sd/√5. S = 10⁵ groups, 5 standard errors.
        const K: usize = 5;
        const S: usize = 100_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(402);
        let (mut gm, mut go) = (0.0, 0.0);
        for _ in 0..S {
            let mut eps = [0.0; K];
            fill_standard_normal(&mut rng, &mut eps);
            let l = eps.map(|e| e - 0.5);
            let (e, gp) = (eps.map(|v| [v]), eps.map(|v| [1.0 - v]));
            let (mut om, mut oo) = ([0.0], [0.0]);
            gradient_diag_gaussian(
                &l,
                1.0,
                &DiagGroup { mu: &[0.0], omega: &[0.0], eps: &e, gp: &gp },
                &mut om,
                &mut oo,
            )
            .unwrap();
            gm += om[0];
            go += oo[0];
        }
        let se = (1.0 / (K * S) as f64).sqrt();
        assert!((gm / S as f64 - 1.0).abs() <= 5.0 * se);
        assert!((go / S as f64).abs() <= 5.0 * 3f64.sqrt() * se);
        // α = 0 matches the IWAE gradient sample by sample.
        let eps = [0.3f64, -1.2, 0.8, 2.1, -0.4];
        let l = eps.map(|e| e - 0.5);
        let (e, gp) = (eps.map(|v| [v]), eps.map(|v| [1.0 - v]));
        let (mut a, mut b, mut c, mut d) = ([0.0], [0.0], [0.0], [0.0]);
        gradient_diag_gaussian(&l, 0.0, &DiagGroup { mu: &[0.0], omega: &[0.0], eps: &e, gp: &gp }, &mut a, &mut b)
            .unwrap();
        iwae::gradient_diag_gaussian(&l, &DiagGroup { mu: &[0.0], omega: &[0.0], eps: &e, gp: &gp }, &mut c, &mut d)
            .unwrap();
        assert!((a[0] - c[0]).abs() < 1e-14 && (b[0] - d[0]).abs() < 1e-14);
    }

    #[test]
    fn vr_exact_at_the_optimum_tp1() {
        // §16 VR × TP1: at q = p (μ = m = 1, σ = s = 2, log Z = 0.7) every L̂_α = log Z and the
        // weights are uniform, for every α.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(403);
        let mut eps = [0.0f64; 20];
        fill_standard_normal(&mut rng, &mut eps);
        let l = eps.map(|e| {
            let x = 1.0 + 2.0 * e;
            let lp = 0.7 - 2f64.ln() - 0.5 * LN_2PI - (x - 1.0) * (x - 1.0) / 8.0;
            let lq = -(2f64.ln()) - 0.5 * LN_2PI - 0.5 * e * e;
            lp - lq
        });
        for alpha in [-3.0, 0.0, 0.5, 1.0, 2.0, 10.0] {
            let mut w = [0.0; 20];
            let v = weights(&l, alpha, &mut w).unwrap();
            assert!((v - 0.7).abs() <= 1e-12, "α = {alpha}: {v}");
            assert!(w.iter().all(|&x| (x - 0.05).abs() <= 1e-12));
        }
    }

    #[test]
    fn vr_on_tp3_is_ordered_in_alpha() {
        // §16 VR × TP3: q = N(0, 2²); E[L̂_{α,K}] is non-increasing in α, the α → 1 limit is the
        // ELBO −0.6021865758021949, and α = 0 stays below log Z = 0. Same groups for every α.
        let lp = |x: f64| {
            let a = 0.3f64.ln() - 0.5f64.ln() - 0.5 * LN_2PI - 0.5 * ((x + 2.0) / 0.5).powi(2);
            let b = 0.7f64.ln() - 0.5 * LN_2PI - 0.5 * (x - 1.5).powi(2);
            let m = a.max(b);
            m + ((a - m).exp() + (b - m).exp()).ln()
        };
        const K: usize = 10;
        const S: usize = 100_000;
        let alphas = [0.0, 0.5, 1.0, 2.0];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(404);
        let (mut s1, mut s2) = ([0.0; 4], [0.0; 4]);
        for _ in 0..S {
            let mut eps = [0.0; K];
            fill_standard_normal(&mut rng, &mut eps);
            let l = eps.map(|e| lp(2.0 * e) - (-(2f64.ln()) - 0.5 * LN_2PI - 0.5 * e * e));
            for (i, &a) in alphas.iter().enumerate() {
                let v = bound(&l, a).unwrap();
                s1[i] += v;
                s2[i] += v * v;
            }
        }
        let m = s1.map(|v| v / S as f64);
        std::println!("TP3 K=10 mean L̂_α for α = {alphas:?}: {m:?}");
        for i in 1..4 {
            assert!(m[i] < m[i - 1]);
        }
        let se1 = ((s2[2] / S as f64 - m[2] * m[2]) / S as f64).sqrt();
        assert!((m[2] + 0.602_186_575_802_194_9).abs() <= 5.0 * se1);
        assert!(m[0] < 0.0);
    }

    #[test]
    fn vr_errors_zero_the_gradient() {
        let mut out = [3.0; 2];
        let dl = [[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(gradient(&[0.0, f64::NEG_INFINITY], 0.5, &dl, &mut out), Err(NON_FINITE));
        assert_eq!(out, [0.0; 2]);
        out = [3.0; 2];
        assert!(gradient(&[0.0, 1.0], f64::NAN, &dl, &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
        out = [3.0; 2];
        assert!(gradient(&[0.0, 1.0, 2.0], 0.5, &dl, &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
        let (mut om, mut oo) = ([3.0], [3.0]);
        let r = gradient_diag_gaussian(
            &[0.0],
            2.0,
            &DiagGroup { mu: &[0.0], omega: &[f64::INFINITY], eps: &[[1.0]], gp: &[[1.0]] },
            &mut om,
            &mut oo,
        );
        assert!(r.is_err());
        assert_eq!((om, oo), ([0.0], [0.0]));
        let mut w = [0.0; 1];
        assert_eq!(weights(&[0.0, 1.0], 0.5, &mut w), Err(Error::BufferTooSmall { needed: 2 }));
        // f32 table row α = 0.5.
        let v = bound(&[-1.0f32, 0.5, 2.0, -0.3], 0.5).unwrap();
        assert!((v - 0.625_802_5).abs() < 1e-5);
    }
}

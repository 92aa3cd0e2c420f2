//! `(ln σ(a), σ(−a))` without branches or calls, for the logistic-regression rows
//! (docs/targets.md §5.2).
//!
//! With `e = exp(−|a|) ∈ (0, 1]`: `ln σ(a) = min(a, 0) − ln(1 + e)` and `σ(−a)` is `e/(1 + e)`
//! for `a ≥ 0` and `1/(1 + e)` otherwise, each free of cancellation. The logistic targets
//! evaluate this pair for every (sample, row): 1.7 M pairs per BreastCancer iteration, where
//! `libm`'s `exp` and `log1p` took half of the optimiser's time. Here both are straight-line
//! polynomial code over lane arrays, which the compiler vectorises:
//!
//! - `exp(t)`, `t ≤ 0`: `t = k ln 2 + r` with `k = round(t/ln 2)` (Cody–Waite split of `ln 2`),
//!   `|r| ≤ ½ ln 2`, `exp(r)` by its Taylor polynomial of degree 13 (truncation < 1e-17), and
//!   `2^k` assembled in the exponent bits. `t` is clamped at −708 so that `2^k` stays normal:
//!   `exp(−708) ≈ 3e−308` is 0 beside every other term of a log-density.
//! - `ln(1 + e)`, `e ∈ [0, 1]`: for `e > √2 − 1`, `ln(1 + e) = ln 2 + ln(1 + f)` with
//!   `f = (e − 1)/2`, otherwise `f = e`, so `f ∈ [1/√2 − 1, √2 − 1]`; then
//!   `ln(1 + f) = 2 atanh(s)`, `s = f/(2 + f)`, `|s| ≤ 0.172`, by the odd series to `s²¹`
//!   (truncation < 1e-18).
//!
//! Both are within a few ulp of the correctly rounded values (tested against `libm` over
//! the whole range). Every lane runs the same operations in the same order, so a value does not
//! depend on the lane or the block it was computed in.

const LOG2_E: f64 = core::f64::consts::LOG2_E;
/// `ln 2` split so that `k·LN2_HI` is exact for `|k| < 2¹¹`.
const LN2_HI: f64 = 6.931_471_803_691_238e-1;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
const LN_2: f64 = core::f64::consts::LN_2;
/// `1.5·2⁵²`: adding it rounds to an integer held in the low mantissa bits.
const ROUND_SHIFT: f64 = 6_755_399_441_055_744.0;
/// Smallest argument of [`exp_nonpositive`] (`2^k` stays a normal number).
const EXP_MIN_ARG: f64 = -708.0;
const SQRT2_M1: f64 = core::f64::consts::SQRT_2 - 1.0;

/// `exp(t)` for `t ≤ 0` (`t < −708` is treated as −708; NaN stays NaN).
#[inline(always)]
pub(crate) fn exp_nonpositive(t: f64) -> f64 {
    let t = if t < EXP_MIN_ARG { EXP_MIN_ARG } else { t };
    let shifted = t * LOG2_E + ROUND_SHIFT;
    let k = shifted - ROUND_SHIFT;
    let r = (t - k * LN2_HI) - k * LN2_LO;
    // Taylor coefficients 1/n!, n = 13 down to 0.
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // The low mantissa bits of `shifted` hold 2⁵¹ + k, k ∈ [−1021, 1]: the shift keeps
    // k + 1023 in the exponent field and drops everything above it.
    let bits = shifted.to_bits().wrapping_add(1023u64.wrapping_sub(1 << 51)) << 52;
    p * f64::from_bits(bits)
}

/// `ln(1 + e)` for `e ∈ [0, 1]`.
#[inline(always)]
pub(crate) fn ln_1p_unit(e: f64) -> f64 {
    let big = e > SQRT2_M1;
    let f = if big { (e - 1.0) * 0.5 } else { e };
    let s = f / (2.0 + f);
    let s2 = s * s;
    // 2 atanh(s) = 2s Σ s^{2j}/(2j + 1), j = 0..=10.
    let mut p = 1.0 / 21.0;
    p = p * s2 + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    let tail = 2.0 * s * (s2 * p);
    let head = if big { LN_2 } else { 0.0 };
    head + (2.0 * s + tail)
}

/// `(ln σ(a), σ(−a))`, stable for every `a` (NaN in, NaN out).
#[inline(always)]
pub(crate) fn log_sigmoid_and_complement(a: f64) -> (f64, f64) {
    let e = exp_nonpositive(-a.abs());
    let r = 1.0 / (1.0 + e);
    let lower = if a < 0.0 { a } else { 0.0 };
    let c = if a < 0.0 { r } else { e * r };
    (lower - ln_1p_unit(e), c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> f64 {
        ((a - b) / (b.abs() * f64::EPSILON).max(f64::MIN_POSITIVE)).abs()
    }

    #[test]
    fn exp_within_two_ulp_of_libm() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            let t = -708.0 * f64::from(i) / 200_000.0;
            worst = worst.max(ulps(exp_nonpositive(t), libm::exp(t)));
        }
        for t in [0.0, -1e-300, -1e-17, -0.346_573_590_279_972_6, -0.346_573_590_279_972_7, -1.0, -707.9] {
            worst = worst.max(ulps(exp_nonpositive(t), libm::exp(t)));
        }
        assert!(worst <= 2.0, "{worst}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(-800.0), exp_nonpositive(-708.0));
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), exp_nonpositive(-708.0));
        assert!(exp_nonpositive(f64::NAN).is_nan());
    }

    #[test]
    fn ln_1p_within_two_ulp_of_libm() {
        let mut worst: f64 = 0.0;
        for i in 0..=200_000 {
            let e = f64::from(i) / 200_000.0;
            worst = worst.max(ulps(ln_1p_unit(e), libm::log1p(e)));
        }
        for e in [1e-300, 1e-17, 1e-9, SQRT2_M1, SQRT2_M1 + 1e-16, 1.0] {
            worst = worst.max(ulps(ln_1p_unit(e), libm::log1p(e)));
        }
        assert!(worst <= 2.0, "{worst}");
        assert_eq!(ln_1p_unit(0.0), 0.0);
    }

    #[test]
    fn pair_is_stable_everywhere() {
        for a in [-800.0, -30.0, -1.0, -1e-20, 0.0, 0.5, 30.0, 800.0] {
            let naive = 1.0 / (1.0 + libm::exp(-a));
            let (l, c) = log_sigmoid_and_complement(a);
            assert!(l.is_finite());
            assert!((c - (1.0 - naive)).abs() < 1e-15);
            if a.abs() < 30.0 {
                assert!((l - libm::log(naive)).abs() < 1e-15);
            }
        }
        assert!((log_sigmoid_and_complement(-800.0).0 + 800.0).abs() < 1e-12);
        assert!(log_sigmoid_and_complement(800.0).0.abs() < 1e-300);
        assert!((log_sigmoid_and_complement(0.0).0 + LN_2).abs() < 1e-16);
        assert!(log_sigmoid_and_complement(f64::NEG_INFINITY).0 == f64::NEG_INFINITY);
        assert!(log_sigmoid_and_complement(f64::NAN).0.is_nan());
    }
}

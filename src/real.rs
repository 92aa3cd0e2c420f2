//! The scalar abstraction: every numeric type of the crate is generic over [`Real`]
//! (`f32` or `f64`). Transcendental functions come from `libm` through nalgebra/simba,
//! so results do not depend on the platform's `std` math library.

use nalgebra::RealField;

/// A floating-point scalar the optimiser can run in: implemented for `f32` and `f64`.
pub trait Real: RealField + Copy + Default + Send + Sync + core::fmt::Debug + 'static {
    /// The reference's history sentinel `f32::MIN` (`-3.4028235e38`) in this type.
    const SENTINEL: Self;
    /// Negative infinity.
    const NEG_INF: Self;
    /// Not a number.
    const NAN: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Zero, usable in constants.
    const ZERO_CONST: Self;
    /// Terms whose log weight lies more than this below the running maximum are below
    /// this type's relative precision and may be skipped in sums.
    const NEGLIGIBLE_LOG: Self;
    /// The largest finite value.
    const MAX_FINITE: Self;
    /// Converts from `f64` (rounding for `f32`).
    fn of(x: f64) -> Self;
    /// Converts to `f64`.
    fn to_f64(self) -> f64;
    /// `true` unless NaN or infinite.
    fn finite(self) -> bool;
    /// `true` for NaN.
    #[inline(always)]
    fn is_nan_like(self) -> bool {
        self.partial_cmp(&self).is_none()
    }
    /// Two independent standard normals (Box–Muller) from two draws of `rng`, in this type's
    /// own arithmetic: `f32` takes 24-bit uniforms, `libm::logf`, a square root with the bits
    /// of `libm::sqrtf` and a sine/cosine of the turn fraction, so `f32` builds (firmware) link
    /// no `f64` trigonometry. Not part of the stable API.
    #[doc(hidden)]
    fn normal_pair<R: rand_core::Rng + ?Sized>(rng: &mut R) -> (Self, Self);
    /// `n^a` in this type's arithmetic (the decaying step sizes). Not part of the stable API.
    #[doc(hidden)]
    fn count_pow(n: u64, a: Self) -> Self;
    /// The next representable value towards `+∞` (the bounds' open intervals). Not part of
    /// the stable API.
    #[doc(hidden)]
    fn next_up(self) -> Self;
    /// The next representable value towards `−∞`. Not part of the stable API.
    #[doc(hidden)]
    fn next_down(self) -> Self;
    /// `⌊self·2^60⌋` for `0 ≤ self < 2^62` (the background's fixed-point sums), exact. Not
    /// part of the stable API.
    #[doc(hidden)]
    #[inline]
    fn to_fixed60(self) -> i128 {
        fixed60_f64(self.to_f64())
    }
    /// `v·2^-60` rounded to this type, for `v ≥ 0`. Not part of the stable API.
    #[doc(hidden)]
    #[inline]
    fn from_fixed60(v: i128) -> Self {
        Self::of(v as f64 / (1u64 << 60) as f64)
    }
    /// `self as usize` (towards zero, saturating; NaN gives 0): the value of
    /// `self.to_f64() as usize`, without `f64` for `f32`. Not part of the stable API.
    #[doc(hidden)]
    #[inline]
    fn to_usize(self) -> usize {
        self.to_f64() as usize
    }
    /// `u·2^-53` rounded to this type, for `u < 2^53`: the bits of `Self::of(uniform)` for
    /// the uniform `u·2^-53` (one rounding either way). Not part of the stable API.
    #[doc(hidden)]
    #[inline]
    fn from_unit53(u: u64) -> Self {
        Self::of(u as f64 * (1.0 / 9_007_199_254_740_992.0))
    }
}

/// `⌊v·2^60⌋` for `0 ≤ v < 2^62`: the integer part and the fraction convert separately, and
/// both conversions are exact.
#[inline]
fn fixed60_f64(v: f64) -> i128 {
    let hi = v as i64;
    let lo = ((v - hi as f64) * (1u64 << 60) as f64) as i64;
    (i128::from(hi) << 60) | i128::from(lo)
}

impl Real for f32 {
    const SENTINEL: Self = f32::MIN;
    const NEG_INF: Self = f32::NEG_INFINITY;
    const NAN: Self = f32::NAN;
    const INFINITY: Self = f32::INFINITY;
    const ZERO_CONST: Self = 0.0;
    const NEGLIGIBLE_LOG: Self = 25.0;
    const MAX_FINITE: Self = f32::MAX;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
    // Exact: f32 -> f64 loses nothing, and both casts truncate and saturate alike.
    #[inline(always)]
    fn to_usize(self) -> usize {
        self as usize
    }
    #[inline]
    fn normal_pair<R: rand_core::Rng + ?Sized>(rng: &mut R) -> (Self, Self) {
        const ULP: f32 = 1.0 / 16_777_216.0;
        // 1 - u lies in (0, 1] (u has 24 bits, exact in f32), so the logarithm is finite.
        let u1 = 1.0 - (rng.next_u32() >> 8) as f32 * ULP;
        let v = -2.0 * libm::logf(u1);
        // libm takes the hardware square root where it has one (SSE2, AArch64): the same bits.
        let hw = cfg!(any(target_feature = "sse2", all(target_arch = "aarch64", target_feature = "neon")));
        let r = if hw { libm::sqrtf(v) } else { sqrt_f32(v) };
        let (s, c) = sin_cos_turn_f32(rng.next_u32() >> 8);
        (r * c, r * s)
    }
    #[inline]
    fn count_pow(n: u64, a: Self) -> Self {
        libm::powf(n as f32, a)
    }
    #[inline]
    fn next_up(self) -> Self {
        f32::next_up(self)
    }
    #[inline]
    fn next_down(self) -> Self {
        f32::next_down(self)
    }
    /// As for `f64`, in single precision (no double-precision software arithmetic on an FPU
    /// without it).
    #[inline]
    fn to_fixed60(self) -> i128 {
        let hi = self as i64;
        let lo = ((self - hi as f32) * (1u64 << 60) as f32) as i64;
        (i128::from(hi) << 60) | i128::from(lo)
    }
    #[inline]
    fn from_fixed60(v: i128) -> Self {
        v as f32 * (1.0 / (1u64 << 60) as f32)
    }
    /// Rounding `u` to `f32` and scaling by a power of two (exact: no underflow for `u ≥ 1`)
    /// rounds once, as the `f64` route does: the same bits, without software `f64`. The
    /// rounding is the hardware's `u32` conversion of `u`'s top 32 bits, the bits shifted out
    /// folded into the lowest one (they lie below the rounding position: `u` has at most 53
    /// significant bits, 32 are kept, 24 survive), instead of a library call for `u64`.
    #[inline]
    fn from_unit53(u: u64) -> Self {
        let (hi, lo) = ((u >> 32) as u32, u as u32);
        // Bits to drop so that the rest fits in 32: 0..=21 for u < 2^53 (at most 32 for any u,
        // so no shift below overflows).
        let s = 32 - hi.leading_zeros();
        let v = if s == 0 { lo } else { (hi << (32 - s)) | ((lo >> 1) >> (s - 1)) | u32::from(lo << (32 - s) != 0) };
        // 2^(s − 53), a normal power of two.
        v as f32 * f32::from_bits((74 + s) << 23)
    }
}

/// The correctly rounded square root of `x`, the bits of `libm::sqrtf` (IEEE 754 requires them),
/// faster on a core whose FPU square root cannot be reached from `core`: `libm` computes it bit
/// by bit. For a positive normal `x = X·2^(2h)` with `X ∈ [1, 4)` the 24-bit significand `q` of
/// `√X` is the integer nearest to `√N`, `N = X·2^46`: a single-precision estimate (reciprocal
/// square root by Newton steps) is at most two units off, and the exact residual `N − q²`
/// (small, so its low 32 bits suffice) moves it to the integer with `q² − q < N ≤ q² + q`.
/// Zero, subnormal, negative and non-finite `x` go to `libm`. Not inlined: one copy serves
/// every generator type.
#[inline(never)]
fn sqrt_f32(x: f32) -> f32 {
    let b = x.to_bits();
    // Biased exponents 1..=254: positive normal numbers.
    if !(0x0080_0000..0x7f80_0000).contains(&b) {
        return libm::sqrtf(x);
    }
    // x = X·2^(2h): X = 1.f for an even unbiased exponent, 2·1.f for an odd one (even biased).
    let odd = u32::from((b >> 23) & 1 == 0);
    let frac = b & 0x007f_ffff;
    // X as f32: the fraction with the exponent 0 or 1 (exact).
    let big_x = f32::from_bits(frac | (0x3f80_0000 + (odd << 23)));
    // 1/√X: a linear first guess from the bits, then three Newton steps r ← r·(3 − X·r²)/2.
    let half_x = 0.5 * big_x;
    let mut r = f32::from_bits(0x5f37_59df - (big_x.to_bits() >> 1));
    r *= 1.5 - half_x * r * r;
    r *= 1.5 - half_x * r * r;
    r *= 1.5 - half_x * r * r;
    let mut q = (big_x * r * 8_388_608.0) as u32;
    // N − q² modulo 2^32 (N = (2^23 + frac)·2^(23 + odd)): exact while |N − q²| < 2^31,
    // which holds for |q − √N| ≤ 2 (√N < 2^24).
    let n_low = ((0x0080_0000 | frac) << odd).wrapping_shl(23);
    let mut d = n_low.wrapping_sub(q.wrapping_mul(q)) as i32;
    while d > q as i32 {
        d -= (2 * q + 1) as i32;
        q += 1;
    }
    while d <= -(q as i32) {
        q -= 1;
        d += (2 * q + 1) as i32;
    }
    // Biased exponent of the result: ⌊(biased − 127)/2⌋ + 127. Adding q (2^23 ≤ q ≤ 2^24)
    // supplies the implicit bit, and q = 2^24 carries into the exponent.
    let e = ((b >> 23) + 127) >> 1;
    f32::from_bits(((e - 1) << 23) + q)
}

/// `(sin 2πt, cos 2πt)` for the angle `t = k / 2²⁴` turns, `k < 2²⁴` (higher bits ignored).
///
/// The octant comes from `k`'s top three bits and the remainder is reflected into `[0, π/4]`
/// with integer arithmetic, so no range reduction is needed: `libm::sincosf` reduces its
/// argument in `f64`, which an FPU without double precision (Cortex-M4F) runs in software.
/// Taylor polynomials to degree 9 (sine) and 10 (cosine) are accurate to about one ulp on
/// `[0, π/4]`.
fn sin_cos_turn_f32(k: u32) -> (f32, f32) {
    const OCTANT: u32 = 1 << 21;
    let octant = (k >> 21) & 7;
    let r = k & (OCTANT - 1);
    // Odd octants measure the angle back from the octant's end.
    let r = if octant & 1 == 1 { OCTANT - r } else { r };
    let x = r as f32 * (core::f32::consts::FRAC_PI_4 / OCTANT as f32);
    let x2 = x * x;
    let s = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0)))));
    let c =
        1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40_320.0 + x2 * (-1.0 / 3_628_800.0)))));
    match octant {
        0 => (s, c),
        1 => (c, s),
        2 => (c, -s),
        3 => (s, -c),
        4 => (-s, -c),
        5 => (-c, -s),
        6 => (-c, s),
        _ => (-s, c),
    }
}

impl Real for f64 {
    const SENTINEL: Self = f32::MIN as f64;
    const NEG_INF: Self = f64::NEG_INFINITY;
    const NAN: Self = f64::NAN;
    const INFINITY: Self = f64::INFINITY;
    const ZERO_CONST: Self = 0.0;
    const NEGLIGIBLE_LOG: Self = 45.0;
    const MAX_FINITE: Self = f64::MAX;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn finite(self) -> bool {
        self.is_finite()
    }
    #[inline]
    fn normal_pair<R: rand_core::Rng + ?Sized>(rng: &mut R) -> (Self, Self) {
        // 1 - u lies in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - crate::rng::uniform(rng);
        let u2 = crate::rng::uniform(rng);
        let r = libm::sqrt(-2.0 * libm::log(u1));
        let (s, c) = libm::sincos(core::f64::consts::TAU * u2);
        (r * c, r * s)
    }
    #[inline]
    fn count_pow(n: u64, a: Self) -> Self {
        libm::pow(n as f64, a)
    }
    #[inline]
    fn next_up(self) -> Self {
        f64::next_up(self)
    }
    #[inline]
    fn next_down(self) -> Self {
        f64::next_down(self)
    }
}

/// `a.max(b)`: the larger, or the other operand if one is NaN, as libm's `fmax` computes it,
/// inlined: Cortex-M4 has no max instruction, so `f32::max` there is a library call, which
/// dominated the O(D²) box bounds. Both tests are evaluated (`|`, not `||`), so the choice
/// compiles to a branch-free select: the bounds take maxima of unordered values, and a
/// mispredicted branch per maximum cost more than the bounds' arithmetic.
#[inline(always)]
pub(crate) fn max_num<T: Real>(a: T, b: T) -> T {
    if a.is_nan_like() | (a < b) { b } else { a }
}

/// `a.min(b)` as libm's `fmin` computes it; see [`max_num`].
#[inline(always)]
pub(crate) fn min_num<T: Real>(a: T, b: T) -> T {
    if b.is_nan_like() | (a < b) { a } else { b }
}

/// `ln(2π)`, the constant of every Gaussian log density.
pub const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// `log Σ exp(v_i) = m + ln Σ exp(v_i − m)` with `m = max v_i`, without overflow. An empty slice
/// or all `−∞` give `−∞`; any NaN entry gives NaN; otherwise a `+∞` entry gives `+∞`. Never
/// panics. (Callers that need a finite value check the result with [`Real::finite`].)
pub fn log_sum_exp<T: Real>(v: &[T]) -> T {
    let mut m = T::NEG_INF;
    for &x in v {
        if x.is_nan_like() {
            return T::NAN;
        }
        if x > m {
            m = x;
        }
    }
    if !m.finite() {
        return m;
    }
    let mut s = T::zero();
    for &x in v {
        s += (x - m).exp();
    }
    m + s.ln()
}

/// Streaming log-sum-exp with a weighted payload, rescaled whenever the maximum grows
/// (the "online softmax"): after feeding `(a_n, v_n)`, `max + ln(sum)` is `log Σ exp(a_n)` and the
/// payload holds `Σ exp(a_n - max) v_n`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OnlineLse<T> {
    pub max: T,
    pub sum: T,
}

impl<T: Real> OnlineLse<T> {
    /// All zeros (see `Optimizer::BLANK`).
    pub const BLANK: Self = Self { max: T::ZERO_CONST, sum: T::ZERO_CONST };

    pub fn new() -> Self {
        Self { max: T::NEG_INF, sum: T::zero() }
    }
    /// Adds `a`; returns `(scale, weight)`: multiply previously accumulated payload by
    /// `scale`, then add this term's payload times `weight`.
    #[inline]
    pub fn push(&mut self, a: T) -> (T, T) {
        if a > self.max {
            let scale = if self.max == T::NEG_INF { T::zero() } else { (self.max - a).exp() };
            self.sum = self.sum * scale + T::one();
            self.max = a;
            (scale, T::one())
        } else {
            let w = (a - self.max).exp();
            self.sum += w;
            (T::one(), w)
        }
    }
}

/// The zero matrix as a constant (nalgebra's `zeros` is not `const`), for the all-zero
/// placeholders that let a state be written in place (`Optimizer::BLANK`).
pub(crate) const fn zeros<T: Real, const R: usize, const C: usize>() -> nalgebra::SMatrix<T, R, C> {
    nalgebra::SMatrix::from_array_storage(nalgebra::ArrayStorage([[T::ZERO_CONST; R]; C]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_to_usize_is_the_f64_cast() {
        let edges = [0.0, -0.0, 0.5, 1.0, 2.75, -1.5, 16_777_217.0, 4_294_967_295.0, 1.8e19, 3.0e38, f32::MAX];
        let specials = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::MIN_POSITIVE, f32::EPSILON];
        for x in edges.into_iter().chain(specials).chain((0..2000).map(|i| i as f32 * 0.37)) {
            assert_eq!(x.to_usize(), x.to_f64() as usize, "{x}");
        }
    }

    /// The bits of `libm::sqrtf` (correctly rounded). Exhaustive over `[1, 4)`: both exponent
    /// parities and every significand, and the estimate and its corrections depend on nothing
    /// else, so this covers every positive normal input; then every exponent with a stride of
    /// significands and their ends, negative values and the special ones.
    #[test]
    fn sqrt_f32_is_correctly_rounded() {
        let check = |x: f32| {
            let (a, b) = (sqrt_f32(x), libm::sqrtf(x));
            assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "sqrt({x:e}): {a:e} vs {b:e}");
        };
        for bits in 1.0f32.to_bits()..4.0f32.to_bits() {
            check(f32::from_bits(bits));
        }
        for e in 0..256u32 {
            for f in (0..1u32 << 23).step_by(9973).chain([1, 2, (1 << 23) - 2, (1 << 23) - 1]) {
                check(f32::from_bits(e << 23 | f));
                check(-f32::from_bits(e << 23 | f));
            }
        }
        for x in [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN, f32::MIN_POSITIVE, f32::MAX, 33.27] {
            check(x);
        }
    }

    #[test]
    fn turn_sine_and_cosine_are_accurate_to_about_an_ulp_over_the_whole_circle() {
        let mut worst = 0.0f64;
        // Every 97th grid angle plus the octant boundaries and their neighbours.
        let edges = (0..8u32).flat_map(|o| [o << 21, (o << 21) + 1, ((o + 1) << 21) - 1]);
        for k in (0..1u32 << 24).step_by(97).chain(edges) {
            let (s, c) = sin_cos_turn_f32(k);
            let t = core::f64::consts::TAU * k as f64 / (1u64 << 24) as f64;
            worst = worst.max((s as f64 - libm::sin(t)).abs()).max((c as f64 - libm::cos(t)).abs());
            assert!(s.abs() <= 1.0 && c.abs() <= 1.0, "k = {k}");
        }
        // f32's ulp at 1 is 1.2e-7; at most two of them.
        assert!(worst < 2.4e-7, "worst error {worst:e}");
    }

    #[test]
    fn log_sum_exp_is_stable_and_propagates_non_finite_entries() {
        let l = [-1.0f64, 0.5, 2.0, -0.3];
        let direct = l.iter().map(|v| v.exp()).sum::<f64>().ln();
        assert!((log_sum_exp(&l) - direct).abs() < 1e-15);
        let shifted = l.map(|v| v + 1000.0);
        assert!((log_sum_exp(&shifted) - 1000.0 - direct).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[f32::MIN; 2]), f32::MIN);
        assert_eq!(log_sum_exp::<f64>(&[]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY, 3.0]), 3.0);
        for v in [[1.0, f64::NAN], [f64::NAN, f64::NEG_INFINITY], [f64::INFINITY, f64::NAN]] {
            assert!(log_sum_exp(&v).is_nan(), "{v:?}");
        }
    }
}

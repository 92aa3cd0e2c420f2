//! Random variates from a caller-supplied [`rand_core::Rng`]: uniforms and standard normals
//! (Box–Muller without rejection, so every draw costs a bounded amount of work).

use rand_core::Rng;

use crate::real::Real;

/// Uniform on `[0, 1)` with 53 random bits.
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// Fills `out` with independent standard normal variates.
pub fn fill_standard_normal<T: Real, R: Rng + ?Sized>(rng: &mut R, out: &mut [T]) {
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        let (a, b) = normal_pair(rng);
        pair[0] = T::of(a);
        pair[1] = T::of(b);
    }
    if let [last] = chunks.into_remainder() {
        *last = T::of(normal_pair(rng).0);
    }
}

#[inline]
fn normal_pair<R: Rng + ?Sized>(rng: &mut R) -> (f64, f64) {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    let r = libm::sqrt(-2.0 * libm::log(u1));
    let (s, c) = libm::sincos(core::f64::consts::TAU * u2);
    (r * c, r * s)
}

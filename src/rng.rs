//! Random variates from a caller-supplied [`rand_core::Rng`]: uniforms and standard normals
//! (Box–Muller without rejection, so every draw costs a bounded amount of work).

use rand_core::Rng;

use crate::real::Real;

/// Uniform on `[0, 1)` with 53 random bits.
#[inline]
pub fn uniform<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
}

/// [`uniform`] rounded to `T`: the bits of `T::of(uniform(rng))`, computed without `f64`
/// arithmetic where `T` is `f32`.
#[inline]
pub fn uniform_in<T: Real, R: Rng + ?Sized>(rng: &mut R) -> T {
    T::from_unit53(rng.next_u64() >> 11)
}

/// The test `uniform(rng) * m as f64 < need as f64` of a selection-sampling step (take an item
/// with probability `need / m`), decided in integers with the same outcome: the `f64` product
/// is the exact `u·m·2^-53` rounded to 53 significant bits (nearest, ties to even), which is
/// compared with `need·2^53`. `m` and `need` below `2^53` (exact as `f64`).
pub fn selection_draw<R: Rng + ?Sized>(rng: &mut R, m: usize, need: usize) -> bool {
    let u = rng.next_u64() >> 11;
    selection_test(u, m as u64, need as u64)
}

/// [`selection_draw`] for the 53-bit `u`.
fn selection_test(u: u64, m: u64, need: u64) -> bool {
    let x = u128::from(u) * u128::from(m);
    let bits = 128 - x.leading_zeros();
    let rounded = if bits > 53 {
        let s = bits - 53;
        let (q, rem, half) = (x >> s, x & ((1u128 << s) - 1), 1u128 << (s - 1));
        let up = rem > half || (rem == half && q & 1 == 1);
        (q + u128::from(up)) << s
    } else {
        x
    };
    rounded < u128::from(need) << 53
}

/// Fills `out` with independent standard normal variates (Box–Muller in `T`'s own arithmetic).
pub fn fill_standard_normal<T: Real, R: Rng + ?Sized>(rng: &mut R, out: &mut [T]) {
    let mut chunks = out.chunks_exact_mut(2);
    for pair in &mut chunks {
        (pair[0], pair[1]) = T::normal_pair(rng);
    }
    if let [last] = chunks.into_remainder() {
        *last = T::normal_pair(rng).0;
    }
}

/// The optimiser's generator: xoshiro256++ (Blackman & Vigna), stream-identical to
/// `rand_xoshiro::Xoshiro256PlusPlus` for the same seed (tested), with its 256-bit state
/// readable and settable so that a checkpoint can resume the exact stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// The all-zero state: a placeholder (see `Optimizer::BLANK`), never drawn from.
    pub(crate) const BLANK: Self = Self { s: [0; 4] };

    /// Seeds as `Xoshiro256PlusPlus::seed_from_u64`: 32 bytes from SplitMix64, little-endian.
    pub fn seed_from_u64(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for w in &mut s {
            // SplitMix64 (Steele, Lea & Flood).
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            *w = z ^ (z >> 31);
        }
        if s == [0; 4] {
            // The all-zero state is a fixed point; SplitMix64 never yields it in practice.
            s[0] = 1;
        }
        Self { s }
    }

    /// The raw state (for checkpoints).
    pub fn state(&self) -> [u64; 4] {
        self.s
    }

    /// A generator at state `s`; `None` for the all-zero state, which would emit only zeros.
    pub fn from_state(s: [u64; 4]) -> Option<Self> {
        if s == [0; 4] { None } else { Some(Self { s }) }
    }
}

impl rand_core::TryRng for Xoshiro256 {
    type Error = core::convert::Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        // The upper bits: the lowest ones have linear dependencies.
        self.try_next_u64().map(|v| (v >> 32) as u32)
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let s = &mut self.s;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        Ok(out)
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Self::Error> {
        let mut chunks = dest.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.try_next_u64()?.to_le_bytes());
        }
        let rest = chunks.into_remainder();
        if !rest.is_empty() {
            let b = self.try_next_u64()?.to_le_bytes();
            rest.copy_from_slice(&b[..rest.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn same_stream_as_rand_xoshiro() {
        for seed in [0u64, 1, 42, u64::MAX, 0x9E37_79B9_7F4A_7C15] {
            let mut a = Xoshiro256::seed_from_u64(seed);
            let mut b = Xoshiro256PlusPlus::seed_from_u64(seed);
            for i in 0..1000 {
                if i % 3 == 0 {
                    assert_eq!(a.next_u32(), b.next_u32());
                } else {
                    assert_eq!(a.next_u64(), b.next_u64());
                }
            }
            for len in [0, 1, 7, 8, 13] {
                let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
                a.fill_bytes(&mut x[..len]);
                b.fill_bytes(&mut y[..len]);
                assert_eq!(x, y);
            }
            let c = Xoshiro256::from_state(a.state()).unwrap();
            assert_eq!(c, a);
        }
        assert!(Xoshiro256::from_state([0; 4]).is_none());
    }

    /// Moments of N(0, 1) within 5 standard errors for both scalar types (the `f32` path has
    /// its own uniforms and libm calls), and finite draws only.
    #[test]
    fn standard_normals_have_the_right_moments() {
        fn moments<T: Real>() -> [f64; 4] {
            let mut rng = Xoshiro256::seed_from_u64(7);
            let mut x = [T::zero(); 1001];
            let (mut m, n) = ([0.0; 4], 200 * x.len());
            for _ in 0..200 {
                fill_standard_normal(&mut rng, &mut x);
                for v in x.iter().map(|v| v.to_f64()) {
                    assert!(v.is_finite());
                    m[0] += v;
                    m[1] += v * v;
                    m[2] += v * v * v;
                    m[3] += v * v * v * v;
                }
            }
            m.map(|s| s / n as f64)
        }
        let se = |var: f64| 5.0 * libm::sqrt(var / 200_200.0);
        for m in [moments::<f32>(), moments::<f64>()] {
            assert!(m[0].abs() < se(1.0), "{m:?}");
            assert!((m[1] - 1.0).abs() < se(2.0), "{m:?}");
            assert!(m[2].abs() < se(15.0), "{m:?}");
            assert!((m[3] - 3.0).abs() < se(96.0), "{m:?}");
        }
    }
}

#[cfg(test)]
mod selection_tests {
    use super::*;
    use rand_core::SeedableRng;

    /// The integer test agrees with the `f64` expression it replaces, also at the rounding
    /// boundaries (products within an ulp of `need`).
    #[test]
    fn selection_test_matches_the_f64_expression() {
        let f = |u: u64, m: u64, need: u64| (u as f64 * (1.0 / 9_007_199_254_740_992.0)) * (m as f64) < need as f64;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        let top = (1u64 << 53) - 1;
        for i in 0..200_000u64 {
            let m = 1 + (rng.next_u64() % [3, 100, 5000, 1 << 20, u32::MAX as u64][(i % 5) as usize]);
            let need = rng.next_u64() % (m + 1);
            // Random u, and u next to the boundary need/m·2^53 (where rounding decides).
            let edge = ((u128::from(need) << 53) / u128::from(m)).min(u128::from(top)) as u64;
            for u in [rng.next_u64() >> 11, edge, edge.saturating_sub(1), (edge + 1).min(top), top, 0] {
                assert_eq!(selection_test(u, m, need), f(u, m, need), "u {u} m {m} need {need}");
            }
        }
    }

    #[test]
    fn uniform_in_f32_has_the_bits_of_the_f64_route() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
        for i in 0..1_000_000u64 {
            // Ties and near-ties at every magnitude: 25 significant bits, then something below.
            let tie = ((1u64 << 24) | 1 | (rng.next_u64() & 0xff_fffe)) << (i % 29);
            let u = match i % 6 {
                0 => rng.next_u64() >> 11,
                1 => (rng.next_u64() >> 11) >> (rng.next_u64() % 53),
                2 => i,
                3 => tie,
                4 => tie | (1 << (i % 29)) >> 1 | u64::from(i % 29 > 1),
                _ => (1u64 << 53) - 1 - i,
            };
            let via_f64 = <f32 as Real>::of(u as f64 * (1.0 / 9_007_199_254_740_992.0));
            assert_eq!(<f32 as Real>::from_unit53(u).to_bits(), via_f64.to_bits(), "u {u}");
        }
        // Beyond the contract (u ≥ 2^53) no shift overflows: u rounded, scaled by 2^-53.
        for u in [1u64 << 53, (1 << 63) + 1, u64::MAX] {
            assert_eq!(<f32 as Real>::from_unit53(u), u as f32 * (1.0 / 9_007_199_254_740_992.0), "u {u}");
        }
    }
}

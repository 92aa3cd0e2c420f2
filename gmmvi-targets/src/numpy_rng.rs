//! NumPy's legacy `RandomState` stream (docs/targets.md §1), bit for bit: the reference
//! builds its random targets (GMM means and covariances, STM scale matrices) and its initial
//! component means from it, so the same seed gives the same instance here.
//!
//! * Generator: 32-bit Mersenne Twister MT19937 (624 words), seeded with the classic linear
//!   initialiser `mt[0] = s`, `mt[i] = 1812433253·(mt[i−1] ⊕ (mt[i−1] >> 30)) + i (mod 2³²)`;
//!   the first output twists the whole state; outputs are tempered.
//! * Uniform double on `[0, 1)` from two outputs `a`, `b`:
//!   `((a >> 5)·2²⁶ + (b >> 6)) / 2⁵³`.
//! * Standard normal ("legacy gauss"): polar Box–Muller with a one-value cache that persists
//!   across calls — draw `x₁ = 2u₁ − 1`, `x₂ = 2u₂ − 1` until `0 < r² = x₁² + x₂² < 1`, set
//!   `f = √(−2 ln r² / r²)`, cache `f·x₁` and return `f·x₂`.
//! * `normal(loc, scale)` is `loc + scale·gauss()`; arrays are filled in row-major order.
//!
//! The stream also implements [`rand_core::TryRng`] (so [`rand_core::Rng`]): `next_u32` is
//! one MT19937 output and `next_u64` is `(hi << 32) | lo` of two consecutive outputs, as in
//! NumPy's `MT19937` bit generator.

use core::convert::Infallible;

use nalgebra::SVector;
use rand_core::TryRng;

/// Number of 32-bit words of MT19937 state.
const N: usize = 624;
/// The twist offset.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_B0DF;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7FFF_FFFF;

/// At most this many rejection rounds per polar Box–Muller pair. A round is accepted with
/// probability `π/4`, so running out has probability `(1 − π/4)^1000 < 10⁻⁶⁶⁰`: it never
/// happens, but the loop is bounded.
const MAX_POLAR_ROUNDS: usize = 1000;

/// NumPy's legacy `RandomState` (MT19937 with the legacy uniform-double and polar
/// Box–Muller normal transformations; docs/targets.md §1).
///
/// ```
/// use gmmvi_targets::NumpyRandomState;
/// let mut rs = NumpyRandomState::new(10000);
/// assert_eq!(rs.random_f64(), 0.5454701510335127); // numpy.random.seed(10000); random()
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct NumpyRandomState {
    mt: [u32; N],
    pos: usize,
    gauss: Option<f64>,
}

impl NumpyRandomState {
    /// `numpy.random.seed(seed)` / `RandomState(seed)` for an integer seed `0 ≤ seed < 2³²`.
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; N];
        let mut prev = seed;
        for (i, w) in mt.iter_mut().enumerate() {
            if i > 0 {
                prev = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
            }
            *w = prev;
        }
        Self { mt, pos: N, gauss: None }
    }

    /// Regenerates all 624 words (the standard MT19937 twist).
    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.mt[i] & UPPER_MASK) | (self.mt[(i + 1) % N] & LOWER_MASK);
            let mag = if y & 1 == 1 { MATRIX_A } else { 0 };
            self.mt[i] = self.mt[(i + M) % N] ^ (y >> 1) ^ mag;
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.twist();
        }
        let mut y = self.mt.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9D2C_5680;
        y ^= (y << 15) & 0xEFC6_0000;
        y ^= y >> 18;
        y
    }

    /// One uniform double on `[0, 1)` with 53 random bits (`random_sample()`).
    pub fn random_f64(&mut self) -> f64 {
        let a = self.next_u32() >> 5;
        let b = self.next_u32() >> 6;
        (a as f64 * 67_108_864.0 + b as f64) / 9_007_199_254_740_992.0
    }

    /// One standard normal variate (`standard_normal()`, NumPy's "legacy gauss"), using and
    /// refilling the one-value cache.
    ///
    /// Returns NaN only if 1000 rejection rounds in a row fail, which has
    /// probability below `10⁻⁶⁶⁰`.
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        for _ in 0..MAX_POLAR_ROUNDS {
            let x1 = 2.0 * self.random_f64() - 1.0;
            let x2 = 2.0 * self.random_f64() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = libm::sqrt(-2.0 * libm::log(r2) / r2);
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
        f64::NAN
    }

    /// `normal(loc, scale)`: `loc + scale·gauss()`.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.gauss()
    }

    /// `random(n)`: fills `out` with uniform doubles on `[0, 1)`, in order.
    pub fn fill_random(&mut self, out: &mut [f64]) {
        for v in out {
            *v = self.random_f64();
        }
    }

    /// `standard_normal(n)`: fills `out` with [`gauss`](Self::gauss) values, in order.
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        for v in out {
            *v = self.gauss();
        }
    }

    /// `normal(loc, scale, n)`: fills `out` with `loc + scale·gauss()`, in order.
    pub fn fill_normal(&mut self, loc: f64, scale: f64, out: &mut [f64]) {
        for v in out {
            *v = self.normal(loc, scale);
        }
    }

    /// Initial component means of the reference's model initialisation (docs/targets.md §0):
    /// with `out.len() == 1` the single mean is exactly `prior_mean` and nothing is drawn;
    /// otherwise `μ_k = prior_mean + prior_scale ⊙ ε_k`, `ε_k` = `standard_normal(D)` drawn in
    /// component order. Call it on the stream that built the target, after building it.
    pub fn initial_means<const D: usize>(
        &mut self,
        prior_mean: &SVector<f64, D>,
        prior_scale: &SVector<f64, D>,
        out: &mut [SVector<f64, D>],
    ) {
        if let [only] = out {
            *only = *prior_mean;
            return;
        }
        for m in out {
            let mut eps = SVector::<f64, D>::zeros();
            self.fill_standard_normal(eps.as_mut_slice());
            *m = prior_mean + prior_scale.component_mul(&eps);
        }
    }
}

impl TryRng for NumpyRandomState {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(NumpyRandomState::next_u32(self))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let hi = NumpyRandomState::next_u32(self) as u64;
        let lo = NumpyRandomState::next_u32(self) as u64;
        Ok((hi << 32) | lo)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(4) {
            let w = NumpyRandomState::next_u32(self).to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(w) {
                *d = s;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of the reference MT19937 (`init_genrand(5489)`), from the original
    /// `mt19937ar` test output.
    #[test]
    fn reference_mt19937_outputs() {
        let mut rs = NumpyRandomState::new(5489);
        let want = [3_499_211_612u32, 581_869_302, 3_890_346_734, 3_586_334_585, 545_404_204];
        for w in want {
            assert_eq!(rs.next_u32(), w);
        }
    }

    #[test]
    fn spec_vector_seed_10000() {
        let mut rs = NumpyRandomState::new(10000);
        for w in [0.5454701510335127, 0.17186531503221092, 0.8529318094853018] {
            assert_eq!(rs.random_f64(), w);
        }
        for w in [6.8453042346736215, -24.678317962529302, 2.9461766484510274, -20.42577065557885] {
            let v = rs.normal(0.0, 20.0);
            assert!((v - w).abs() <= 1e-14 * w.abs(), "{v} vs {w}");
        }
        for w in [0.22033451985873537, -1.6530479521204196, -0.2764160816024497] {
            let v = rs.gauss();
            assert!((v - w).abs() <= 1e-14 * w.abs(), "{v} vs {w}");
        }
    }

    #[test]
    fn single_initial_mean_is_prior_mean_and_draws_nothing() {
        let mut rs = NumpyRandomState::new(1);
        let before = rs.clone();
        let pm = SVector::<f64, 3>::new(1.0, 2.0, 3.0);
        let mut out = [SVector::<f64, 3>::zeros()];
        rs.initial_means(&pm, &SVector::repeat(5.0), &mut out);
        assert_eq!(out[0], pm);
        assert_eq!(rs, before);
    }
}

//! Gumbel-softmax (Concrete) relaxation of a categorical over `C` classes (`docs/estimators.md`
//! §14).
//!
//! * Gumbel noise `g_i = −ln(−ln U_i)`, `U_i` clamped to `[1e−12, 1 − 1e−12]`.
//! * Gumbel-max: `argmax_i (l_i + g_i)` is distributed as `Cat(softmax(l))`.
//! * Relaxed sample at temperature τ > 0: `y = softmax((l + g)/τ)` (max-subtracted).
//! * Pathwise Jacobian w.r.t. the logits: `∂y_i/∂l_j = y_i (δ_ij − y_j)/τ`; the straight-through
//!   variant outputs the hard one-hot and back-propagates through the same relaxed Jacobian.
//! * Relaxed density (with `ln π = log-softmax(l)`):
//!   `log p(y) = ln((C−1)!) + (C−1) ln τ + Σ ln π_i − (τ+1) Σ ln y_i − C lse_i(ln π_i − τ ln y_i)`.
//!   On a face of the simplex (one `y_{i0} = 0`, where the formula is `0·∞`) the limit is used:
//!   the density behaves like `y_{i0}^{(C−1)τ−1}`, so it is `0` for `(C−1)τ > 1`, `+∞` for
//!   `(C−1)τ < 1`, and for `(C−1)τ = 1` it is the finite value with `ln y_{i0}` cancelled
//!   (Errata, GS4: for C = 2, τ = 1, `p(y_1 = 0) = π₂/π₁`).
//! * Annealing `τ_t = max(τ_min, τ_0 e^{−r t})`.

use gmmvi::real::log_sum_exp;
use gmmvi::{Error, Real};

/// The clamp applied to uniforms before the Gumbel transform (§14).
pub const U_CLAMP: f64 = 1e-12;

/// Gumbel transform `g = −ln(−ln U)` of one uniform, `U` clamped to `[1e−12, 1 − 1e−12]`.
///
/// # Errors
/// `InvalidArgument` for a NaN `u`.
pub fn gumbel<T: Real>(u: T) -> Result<T, Error> {
    if u.is_nan_like() {
        return Err(Error::InvalidArgument { what: "uniform is NaN" });
    }
    let (lo, hi) = (T::of(U_CLAMP), T::one() - T::of(U_CLAMP));
    let u = if u < lo {
        lo
    } else if u > hi {
        hi
    } else {
        u
    };
    Ok(-(-u.ln()).ln())
}

/// Gumbel noise for `C` uniforms.
///
/// # Errors
/// As [`gumbel`].
pub fn gumbel_noise<T: Real, const C: usize>(u: &[T; C]) -> Result<[T; C], Error> {
    let mut g = [T::zero(); C];
    for (o, &v) in g.iter_mut().zip(u) {
        *o = gumbel(v)?;
    }
    Ok(g)
}

fn check_finite<T: Real>(v: &[T], what: &'static str) -> Result<(), Error> {
    if v.iter().all(|x| x.finite()) { Ok(()) } else { Err(Error::InvalidArgument { what }) }
}

fn check_tau<T: Real>(tau: T) -> Result<(), Error> {
    if tau > T::zero() && tau.finite() {
        Ok(())
    } else {
        Err(Error::InvalidArgument { what: "temperature must be finite and positive" })
    }
}

/// `ln π = l − lse(l)`.
fn log_softmax<T: Real, const C: usize>(logits: &[T; C]) -> Result<[T; C], Error> {
    check_finite(logits, "non-finite logit")?;
    let lse = log_sum_exp(logits);
    Ok(logits.map(|l| l - lse))
}

/// Gumbel-max sample `argmax_i (l_i + g_i)`, exactly `Cat(softmax(l))`-distributed (§14).
///
/// # Errors
/// `InvalidArgument` for non-finite logits or noise.
pub fn gumbel_max<T: Real, const C: usize>(logits: &[T; C], g: &[T; C]) -> Result<usize, Error> {
    const { assert!(C > 0) }
    check_finite(logits, "non-finite logit")?;
    check_finite(g, "non-finite Gumbel noise")?;
    let mut best = (0, T::NEG_INF);
    for (i, (&l, &n)) in logits.iter().zip(g).enumerate() {
        if l + n > best.1 {
            best = (i, l + n);
        }
    }
    Ok(best.0)
}

/// A Gumbel-softmax draw: the relaxed sample, its logarithm and the hard class (§14).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GumbelSoftmax<T, const C: usize> {
    y: [T; C],
    log_y: [T; C],
    hard: usize,
    tau: T,
    straight_through: bool,
}

impl<T: Real, const C: usize> GumbelSoftmax<T, C> {
    /// `y = softmax((l + g)/τ)` computed with max-subtraction; `straight_through` makes
    /// [`Self::output`] the hard one-hot while [`Self::vjp`] keeps the relaxed Jacobian.
    ///
    /// # Errors
    /// `InvalidArgument` for non-finite logits or noise, or τ not finite and positive.
    pub fn new(logits: &[T; C], g: &[T; C], tau: T, straight_through: bool) -> Result<Self, Error> {
        const { assert!(C >= 2) }
        check_tau(tau)?;
        let hard = gumbel_max(logits, g)?;
        let mut x = [T::zero(); C];
        for ((o, &l), &n) in x.iter_mut().zip(logits).zip(g) {
            *o = (l + n) / tau;
        }
        check_finite(&x, "relaxed logits overflow")?;
        let lse = log_sum_exp(&x);
        let log_y = x.map(|v| v - lse);
        Ok(Self { y: log_y.map(|v| v.exp()), log_y, hard, tau, straight_through })
    }

    /// The relaxed sample `y` (in the simplex).
    pub fn relaxed(&self) -> &[T; C] {
        &self.y
    }

    /// `ln y`, finite even where `y` underflows to 0 (use it for [`relaxed_log_density_ln`]).
    pub fn log_relaxed(&self) -> &[T; C] {
        &self.log_y
    }

    /// The Gumbel-max class `argmax_i (l_i + g_i)`.
    pub fn hard(&self) -> usize {
        self.hard
    }

    /// The forward value: `one_hot(hard)` for straight-through, else `y`.
    pub fn output(&self) -> [T; C] {
        if !self.straight_through {
            return self.y;
        }
        let mut o = [T::zero(); C];
        if let Some(v) = o.get_mut(self.hard) {
            *v = T::one();
        }
        o
    }

    /// Vector–Jacobian product with the logits: given `v = ∂f/∂y` (at [`Self::output`]),
    /// returns `∂f/∂l_j = Σ_i v_i y_i (δ_ij − y_j)/τ = y_j (v_j − Σ_i v_i y_i)/τ`.
    ///
    /// # Errors
    /// `InvalidArgument` for a non-finite `v`.
    pub fn vjp(&self, v: &[T; C]) -> Result<[T; C], Error> {
        check_finite(v, "non-finite upstream gradient")?;
        let mean = self.y.iter().zip(v).fold(T::zero(), |a, (&y, &v)| a + y * v);
        let mut out = [T::zero(); C];
        for ((o, &y), &vj) in out.iter_mut().zip(&self.y).zip(v) {
            *o = y * (vj - mean) / self.tau;
        }
        Ok(out)
    }
}

/// `ln((C−1)!)`.
fn ln_factorial(n: usize) -> f64 {
    (2..=n).map(|k| libm::log(k as f64)).sum()
}

/// Relaxed (Concrete) log density `log p(y; π, τ)` from `ln y` (§14), `π = softmax(logits)`.
/// Exactly one `ln y_i = −∞` (a face of the simplex) gives the limit described in the module
/// doc (`−∞`, `+∞` or the finite value at `(C−1)τ = 1`).
///
/// # Errors
/// `InvalidArgument` for non-finite logits, τ not finite and positive, a NaN or positive
/// `ln y_i`, `Σ y_i` farther than `C·√ε_mach` from 1, or more than one zero coordinate (the
/// limit then depends on the path).
pub fn relaxed_log_density_ln<T: Real, const C: usize>(logits: &[T; C], log_y: &[T; C], tau: T) -> Result<T, Error> {
    const { assert!(C >= 2) }
    check_tau(tau)?;
    let log_pi = log_softmax(logits)?;
    if log_y.iter().any(|v| v.is_nan_like() || *v > T::zero()) {
        return Err(Error::InvalidArgument { what: "ln y must be <= 0 and not NaN" });
    }
    let sum = log_y.iter().fold(T::zero(), |a, v| a + v.exp());
    let kf = T::of(C as f64);
    if (sum - T::one()).abs() > kf * T::default_epsilon().sqrt() {
        return Err(Error::InvalidArgument { what: "y is not on the simplex" });
    }
    let zeros = log_y.iter().filter(|v| !v.finite()).count();
    let km1 = T::of((C - 1) as f64);
    let head = T::of(ln_factorial(C - 1)) + km1 * tau.ln() + log_pi.iter().fold(T::zero(), |a, &v| a + v);
    let finite_sum = log_y.iter().filter(|v| v.finite()).fold(T::zero(), |a, &v| a + v);
    match zeros {
        0 => {
            let mut terms = [T::zero(); C];
            for ((t, &lp), &ly) in terms.iter_mut().zip(&log_pi).zip(log_y) {
                *t = lp - tau * ly;
            }
            Ok(head - (tau + T::one()) * finite_sum - kf * log_sum_exp(&terms))
        }
        1 => {
            // Σ π_j y_j^{−τ} ~ π_{i0} y_{i0}^{−τ}: the density ~ y_{i0}^{(C−1)τ − 1}.
            let e = km1 * tau - T::one();
            if e > T::zero() {
                return Ok(T::NEG_INF);
            }
            if e < T::zero() {
                return Ok(T::INFINITY);
            }
            let lp0 = log_pi.iter().zip(log_y).find(|(_, ly)| !ly.finite()).map(|(lp, _)| *lp).unwrap_or(T::zero());
            Ok(head - (tau + T::one()) * finite_sum - kf * lp0)
        }
        _ => Err(Error::InvalidArgument { what: "more than one zero coordinate: the density limit is path dependent" }),
    }
}

/// Relaxed log density from `y` itself (entries in `[0, 1]`); see [`relaxed_log_density_ln`]
/// (prefer that one with [`GumbelSoftmax::log_relaxed`] when `y` may underflow).
///
/// # Errors
/// As [`relaxed_log_density_ln`], and `InvalidArgument` for entries outside `[0, 1]`.
pub fn relaxed_log_density<T: Real, const C: usize>(logits: &[T; C], y: &[T; C], tau: T) -> Result<T, Error> {
    if !y.iter().all(|&v| v >= T::zero() && v <= T::one()) {
        return Err(Error::InvalidArgument { what: "y entries must lie in [0, 1]" });
    }
    relaxed_log_density_ln(logits, &y.map(|v| v.ln()), tau)
}

/// Annealed temperature `τ_t = max(τ_min, τ_0 e^{−r t})` (§14; typical `τ_0 = 1`,
/// `τ_min = 0.5`, `r = 1e−4`).
///
/// # Errors
/// `InvalidConfig` naming `tau0` or `tau_min` (finite, positive) or `rate` (finite, ≥ 0).
pub fn annealed_temperature<T: Real>(tau0: T, tau_min: T, rate: T, t: u64) -> Result<T, Error> {
    if !(tau0 > T::zero()) || !tau0.finite() {
        return Err(Error::InvalidConfig { field: "tau0" });
    }
    if !(tau_min > T::zero()) || !tau_min.finite() {
        return Err(Error::InvalidConfig { field: "tau_min" });
    }
    if !(rate >= T::zero()) || !rate.finite() {
        return Err(Error::InvalidConfig { field: "rate" });
    }
    let tau = tau0 * (-rate * T::of(t as f64)).exp();
    Ok(if tau > tau_min { tau } else { tau_min })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use gmmvi::rng::uniform;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn close(a: f64, b: f64, tol: f64) {
        assert!((a - b).abs() <= tol, "{a} vs {b}");
    }

    const PI: [f64; 3] = [0.2, 0.5, 0.3];

    fn logits() -> [f64; 3] {
        PI.map(f64::ln)
    }

    #[test]
    fn gs1_gumbel_transform() {
        let g = gumbel_noise(&[0.3, 0.8, 0.5]).unwrap();
        for (a, b) in g.iter().zip([-0.185626758862, 1.49993998676, 0.366512920582]) {
            close(*a, b, 1e-11);
        }
        assert!(gumbel(0.0f64).unwrap().is_finite() && gumbel(1.0f64).unwrap().is_finite());
        assert!(gumbel(f64::NAN).is_err());
    }

    #[test]
    fn gs2_temperature_limits() {
        let g = [0.1, -0.4, 1.2];
        let l = logits();
        for (x, w) in l.iter().zip(&g).zip([-1.509437912434, -1.09314718056, -0.003972804326]) {
            close(x.0 + x.1, w, 1e-11);
        }
        let table: [(f64, [f64; 3]); 5] = [
            (100.0, [0.331198194904, 0.332579816079, 0.336221989017]),
            (1.0, [0.142397895705, 0.215921724059, 0.641680380237]),
            (0.5, [0.04236296038, 0.097402888692, 0.860234150928]),
            (0.1, [2.896275696795e-07, 1.861090864157e-05, 0.9999810994638]),
            (0.01, [4.154139582298e-66, 4.986064096499e-48, 1.0]),
        ];
        let (mut last_l1, mut last_unif) = (f64::INFINITY, 0.0);
        for (tau, want) in table {
            let s = GumbelSoftmax::new(&l, &g, tau, false).unwrap();
            assert_eq!(s.hard(), 2);
            let y = s.relaxed();
            for (a, b) in y.iter().zip(want) {
                // Relative to the entry (the table has 12–13 significant digits).
                assert!((a - b).abs() <= 1e-10 * b.max(1e-300) + 1e-300, "tau {tau}: {a} vs {b}");
            }
            assert!(y.iter().all(|v| !v.is_nan()));
            close(y.iter().sum::<f64>(), 1.0, 1e-12);
            let l1 = y[0] + y[1] + (1.0 - y[2]);
            let unif = y.iter().map(|v| (v - 1.0 / 3.0).abs()).fold(0.0, f64::max);
            // τ decreases along the table: ‖y − one_hot‖₁ falls, max |y − 1/3| grows.
            assert!(l1 < last_l1 && unif > last_unif);
            (last_l1, last_unif) = (l1, unif);
            let st = GumbelSoftmax::new(&l, &g, tau, true).unwrap();
            assert_eq!(st.output(), [0.0, 0.0, 1.0]);
        }
    }

    #[test]
    fn gs3_gumbel_max_frequencies() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let n = 100_000;
        let mut counts = [0usize; 3];
        let l = logits();
        for _ in 0..n {
            let u = [uniform(&mut rng), uniform(&mut rng), uniform(&mut rng)];
            counts[gumbel_max(&l, &gumbel_noise(&u).unwrap()).unwrap()] += 1;
        }
        for (c, p) in counts.iter().zip(PI) {
            let f = *c as f64 / n as f64;
            std::eprintln!("GS3 freq {f} vs {p}");
            close(f, p, 5.0 * (p * (1.0 - p) / n as f64).sqrt());
        }
    }

    #[test]
    fn gs4_density_integrates_to_one() {
        let l = [0.3f64.ln(), 0.7f64.ln()];
        let n = 2_000_000;
        for tau in [1.0, 2.0] {
            let mut sum = 0.0;
            for i in 0..=n {
                let y1 = i as f64 / n as f64;
                let p = relaxed_log_density(&l, &[y1, 1.0 - y1], tau).unwrap().exp();
                assert!(p.is_finite());
                sum += if i == 0 || i == n { 0.5 * p } else { p };
            }
            let integral = sum / n as f64;
            std::eprintln!("GS4 tau {tau}: integral − 1 = {:e}", integral - 1.0);
            close(integral, 1.0, 1e-6);
        }
        // The endpoint limits of the Errata.
        close(relaxed_log_density(&l, &[0.0, 1.0], 1.0).unwrap().exp(), 0.7 / 0.3, 1e-12);
        close(relaxed_log_density(&l, &[1.0, 0.0], 1.0).unwrap().exp(), 0.3 / 0.7, 1e-12);
        assert_eq!(relaxed_log_density(&l, &[0.0, 1.0], 2.0).unwrap(), f64::NEG_INFINITY);
        assert_eq!(relaxed_log_density(&l, &[1.0, 0.0], 0.5).unwrap(), f64::INFINITY);
        // τ = 1 interior: the closed form π₁π₂/(π₁y₂ + π₂y₁)².
        let y = [0.25, 0.75];
        close(relaxed_log_density(&l, &y, 1.0).unwrap().exp(), 0.21 / (0.3 * 0.75 + 0.7 * 0.25f64).powi(2), 1e-12);
    }

    #[test]
    fn vjp_matches_finite_differences() {
        let l = [0.2, -0.7, 1.1];
        let g = [0.3, 0.1, -0.4];
        let tau = 0.7;
        let v = [1.5, -0.5, 0.25];
        let f = |l: &[f64; 3]| {
            let y = GumbelSoftmax::new(l, &g, tau, false).unwrap();
            y.relaxed().iter().zip(&v).map(|(a, b)| a * b).sum::<f64>()
        };
        let an = GumbelSoftmax::new(&l, &g, tau, false).unwrap().vjp(&v).unwrap();
        for j in 0..3 {
            let (mut a, mut b) = (l, l);
            a[j] += 1e-6;
            b[j] -= 1e-6;
            close((f(&a) - f(&b)) / 2e-6, an[j], 1e-8);
        }
    }

    // TP-Cat: q = softmax(0), π = (0.2, 0.5, 0.3), L = −0.0702403437718841, gradient
    // (−0.14686176, 0.15856848, −0.01170672) = ∇_λ Σ q_i r_i at fixed r = ln π − ln q.
    #[test]
    fn tp_cat() {
        let lam = [0.0f64; 3];
        let r = [0.2f64, 0.5, 0.3].map(|p| p.ln() - (1.0f64 / 3.0).ln());
        let truth = [-0.14686176, 0.15856848, -0.01170672];
        let l_true = -0.0702403437718841;
        let var = r.iter().map(|v| v * v / 3.0).sum::<f64>() - l_true * l_true;
        let n = 100_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
        // ELBO by exact Gumbel-max sampling of q: within 5 standard errors.
        let mut elbo = 0.0;
        for _ in 0..n {
            let u = [uniform(&mut rng), uniform(&mut rng), uniform(&mut rng)];
            elbo += r[gumbel_max(&lam, &gumbel_noise(&u).unwrap()).unwrap()];
        }
        elbo /= n as f64;
        std::eprintln!("TP-Cat ELBO {elbo} vs {l_true} (tol {})", 5.0 * (var / n as f64).sqrt());
        close(elbo, l_true, 5.0 * (var / n as f64).sqrt());
        // Relaxed pathwise gradient of Σ y_i r_i: biased; the bias shrinks and the variance
        // grows as τ decreases (§14). Same noise for every τ.
        let mut err = [0.0; 3];
        let mut var_sum = [0.0; 3];
        for (k, tau) in [1.0, 0.5, 0.1].into_iter().enumerate() {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(18);
            let (mut m1, mut m2) = ([0.0; 3], [0.0; 3]);
            for _ in 0..n {
                let u = [uniform(&mut rng), uniform(&mut rng), uniform(&mut rng)];
                let s = GumbelSoftmax::new(&lam, &gumbel_noise(&u).unwrap(), tau, true).unwrap();
                let g = s.vjp(&r).unwrap();
                for j in 0..3 {
                    m1[j] += g[j];
                    m2[j] += g[j] * g[j];
                }
            }
            let mean = m1.map(|v| v / n as f64);
            err[k] = mean.iter().zip(truth).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            var_sum[k] = (0..3).map(|j| m2[j] / n as f64 - mean[j] * mean[j]).sum();
            std::eprintln!("TP-Cat tau {tau}: mean grad {mean:?}, |bias| {}, total var {}", err[k], var_sum[k]);
        }
        assert!(err[0] > err[1] && err[1] > err[2]);
        assert!(var_sum[0] < var_sum[1] && var_sum[1] < var_sum[2]);
    }

    #[test]
    fn rejects_bad_input() {
        let l = logits();
        let g = [0.0; 3];
        assert!(GumbelSoftmax::new(&l, &g, 0.0, false).is_err());
        assert!(GumbelSoftmax::new(&l, &[f64::NAN, 0.0, 0.0], 1.0, false).is_err());
        assert!(GumbelSoftmax::new(&[f64::INFINITY, 0.0, 0.0], &g, 1.0, false).is_err());
        assert!(GumbelSoftmax::new(&l, &[1e300, 0.0, 0.0], 1e-10, false).is_err());
        assert!(relaxed_log_density(&l, &[0.5, 0.5, 0.5], 1.0).is_err());
        assert!(relaxed_log_density(&l, &[0.0, 0.0, 1.0], 1.0).is_err());
        assert!(relaxed_log_density(&l, &[-0.1, 0.6, 0.5], 1.0).is_err());
        assert!(relaxed_log_density(&l, &[f64::NAN, 0.5, 0.5], 1.0).is_err());
        let s = GumbelSoftmax::new(&l, &g, 1.0, false).unwrap();
        assert!(s.vjp(&[f64::NAN, 0.0, 0.0]).is_err());
        // ln y keeps the density finite where y underflows (GS2's τ = 0.01 row).
        let cold = GumbelSoftmax::new(&l, &[0.1, -0.4, 1.2], 0.01, false).unwrap();
        assert!(relaxed_log_density_ln(&l, cold.log_relaxed(), 0.01).unwrap().is_finite());
        assert_eq!(annealed_temperature(1.0, 0.5, 1e-4, 0), Ok(1.0));
        close(annealed_temperature(1.0, 0.5, 1e-4, 1000).unwrap(), (-0.1f64).exp(), 1e-15);
        assert_eq!(annealed_temperature(1.0, 0.5, 1e-4, 100_000), Ok(0.5));
        assert!(annealed_temperature(1.0, 0.0, 1e-4, 1).is_err());
    }
}

//! Values of the variational objectives (`docs/estimators.md` §1).
//!
//! * ELBO (§1.1): `L = E_q[ℓ]`, `ℓ = log p~(x) − log q(x; λ)`, estimated by `L̂ = (1/S) Σ_s ℓ_s`,
//!   or by `(1/S) Σ_s lp_s + H(q)` when the entropy is analytic.
//! * Minibatch ELBO (§1.2): `log p~_B(x) = log p(x) + (N/M) Σ_{n∈B} log p(y_n | x)` is unbiased for
//!   `log p~(x)` when the batch `B` of size `M` is drawn uniformly; the same scaling applies to the
//!   x-gradient.
//! * Importance-weighted bound (§1.3): `L̂_K = lse(ℓ_1..ℓ_K) − ln K` for one group of K samples.
//! * Rényi / VR bound (§1.4, Li & Turner's `alpha`): `L̂_{α,K} = [lse((1−α) ℓ) − ln K] / (1−α)`,
//!   switching to the limit `(1/K) Σ_k ℓ_k` for `|1 − α| < 1e−6`; `α = +∞` gives `min ℓ` and
//!   `α = −∞` gives `max ℓ` (VR-max). The other convention `(1/β) ln (1/K) Σ exp(β ℓ_k)` is
//!   offered only as the conversion `β = 1 − α` ([`beta_from_alpha`], [`alpha_from_beta`]).
//!
//! Every function rejects a non-finite log weight with
//! `Error::InvalidArgument { what: "non-finite log weight" }` and an empty group with an error.

use gmmvi::{Error, Real};

/// The error for a NaN or infinite `ℓ`.
pub(crate) const NON_FINITE: Error = Error::InvalidArgument { what: "non-finite log weight" };
/// The error for an empty sample set or group.
pub(crate) const EMPTY: Error = Error::InvalidArgument { what: "empty sample set" };

/// Below this `|1 − α|` the Rényi bound uses its `α → 1` limit (§1.4).
pub const ALPHA_ONE_TOL: f64 = 1e-6;

/// Checks that `l` is non-empty and every entry is finite.
pub(crate) fn check_log_weights<T: Real>(l: &[T]) -> Result<(), Error> {
    if l.is_empty() {
        return Err(EMPTY);
    }
    if l.iter().all(|v| v.finite()) { Ok(()) } else { Err(NON_FINITE) }
}

/// `(1/n) Σ v` of a non-empty slice.
pub(crate) fn mean<T: Real>(v: &[T]) -> T {
    let mut s = T::zero();
    for &x in v {
        s += x;
    }
    s / T::of(v.len() as f64)
}

/// The regime of the Rényi weights for a given `α` (§1.4, §8).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum AlphaRegime<T> {
    /// `|1 − α| < 1e−6`: uniform weights, value `mean ℓ`.
    One,
    /// `α = +∞`: all weight on the smallest `ℓ`.
    PlusInf,
    /// `α = −∞` (VR-max): all weight on the largest `ℓ`.
    MinusInf,
    /// Finite `α` away from 1: the scale `s = 1 − α`.
    Scaled(T),
}

/// Classifies `alpha`; NaN is an error.
pub(crate) fn alpha_regime<T: Real>(alpha: T) -> Result<AlphaRegime<T>, Error> {
    if alpha.is_nan_like() {
        return Err(Error::InvalidArgument { what: "alpha is NaN" });
    }
    if alpha == T::INFINITY {
        return Ok(AlphaRegime::PlusInf);
    }
    if alpha == T::NEG_INF {
        return Ok(AlphaRegime::MinusInf);
    }
    let s = T::one() - alpha;
    if s.abs() < T::of(ALPHA_ONE_TOL) { Ok(AlphaRegime::One) } else { Ok(AlphaRegime::Scaled(s)) }
}

/// For finite `ℓ` and `s ≠ 0`: returns `(e, ln Σ_k exp(s (ℓ_k − e)))` with `e = max ℓ` for
/// `s > 0` and `e = min ℓ` for `s < 0`, so every exponent is `≤ 0` and the sum lies in `[1, K]`.
/// Then `lse(s ℓ) = s e + ln Σ`, computed without forming `s ℓ` (which could overflow).
pub(crate) fn scaled_lse_parts<T: Real>(l: &[T], s: T) -> (T, T) {
    let mut e = match l.first() {
        Some(&v) => v,
        None => return (T::NEG_INF, T::NEG_INF),
    };
    let pos = s > T::zero();
    for &v in l {
        if (pos && v > e) || (!pos && v < e) {
            e = v;
        }
    }
    let mut sum = T::zero();
    for &v in l {
        sum += (s * (v - e)).exp();
    }
    (e, sum.ln())
}

/// The extreme entry of `l` (`max` if `largest`) and how many entries tie with it.
pub(crate) fn extreme<T: Real>(l: &[T], largest: bool) -> (T, usize) {
    let mut e = match l.first() {
        Some(&v) => v,
        None => return (T::NAN, 0),
    };
    for &v in l {
        if (largest && v > e) || (!largest && v < e) {
            e = v;
        }
    }
    (e, l.iter().filter(|&&v| v == e).count())
}

/// ELBO estimate `L̂ = (1/S) Σ_s ℓ_s` from per-sample log weights `ℓ_s = lp_s − lq_s` (§1.1).
///
/// # Errors
/// `InvalidArgument` if `l` is empty or holds a non-finite value.
pub fn elbo<T: Real>(l: &[T]) -> Result<T, Error> {
    check_log_weights(l)?;
    Ok(mean(l))
}

/// ELBO estimate with an analytic entropy, `L̂ = (1/S) Σ_s lp_s + H(q)` (§1.1): unbiased, but
/// unlike [`elbo`] its variance does not vanish at `q = p`.
///
/// # Errors
/// `InvalidArgument` if `lp` is empty or a value (or `entropy`) is not finite.
pub fn elbo_analytic_entropy<T: Real>(lp: &[T], entropy: T) -> Result<T, Error> {
    check_log_weights(lp)?;
    if !entropy.finite() {
        return Err(Error::InvalidArgument { what: "non-finite entropy" });
    }
    Ok(mean(lp) + entropy)
}

/// The data-sum scale `N/M` of a minibatch of `batch_size = M` out of `n_total = N` data (§1.2).
///
/// # Errors
/// `InvalidArgument` if `M = 0` or `M > N`.
pub fn minibatch_scale<T: Real>(n_total: usize, batch_size: usize) -> Result<T, Error> {
    if batch_size == 0 || batch_size > n_total {
        return Err(Error::InvalidArgument { what: "minibatch size must be in 1..=N" });
    }
    Ok(T::of(n_total as f64) / T::of(batch_size as f64))
}

/// Minibatch surrogate of the target (§1.2):
/// `log p~_B(x) = log p(x) + (N/M) Σ_{n∈B} log p(y_n | x)` with `M = batch_loglik.len()`.
///
/// # Errors
/// `InvalidArgument` for an empty batch, `M > N` or a non-finite input.
pub fn minibatch_log_target<T: Real>(log_prior: T, batch_loglik: &[T], n_total: usize) -> Result<T, Error> {
    let scale = minibatch_scale::<T>(n_total, batch_loglik.len())?;
    let mut s = T::zero();
    for &v in batch_loglik {
        s += v;
    }
    let out = log_prior + scale * s;
    if out.finite() { Ok(out) } else { Err(Error::InvalidArgument { what: "non-finite log density" }) }
}

/// x-gradient of the minibatch surrogate (§1.2):
/// `out = ∇ log p(x) + (N/M) Σ_{n∈B} ∇ log p(y_n | x)`, with one gradient per datum in
/// `batch_grads` (`M = batch_grads.len()`, each of length `out.len()`).
///
/// # Errors
/// `InvalidArgument` for an empty batch, `M > N`, a length mismatch or a non-finite result;
/// `out` is then zeroed.
pub fn minibatch_log_target_grad<T: Real, V: AsRef<[T]>>(
    grad_prior: &[T],
    batch_grads: &[V],
    n_total: usize,
    out: &mut [T],
) -> Result<(), Error> {
    let r = minibatch_grad_inner(grad_prior, batch_grads, n_total, out);
    if r.is_err() {
        out.fill(T::zero());
    }
    r
}

fn minibatch_grad_inner<T: Real, V: AsRef<[T]>>(
    grad_prior: &[T],
    batch_grads: &[V],
    n_total: usize,
    out: &mut [T],
) -> Result<(), Error> {
    let scale = minibatch_scale::<T>(n_total, batch_grads.len())?;
    if grad_prior.len() != out.len() {
        return Err(Error::InvalidArgument { what: "gradient length mismatch" });
    }
    out.fill(T::zero());
    for g in batch_grads {
        let g = g.as_ref();
        if g.len() != out.len() {
            return Err(Error::InvalidArgument { what: "gradient length mismatch" });
        }
        for (o, &v) in out.iter_mut().zip(g) {
            *o += v;
        }
    }
    for (o, &p) in out.iter_mut().zip(grad_prior) {
        *o = p + scale * *o;
    }
    if out.iter().all(|v| v.finite()) { Ok(()) } else { Err(Error::InvalidArgument { what: "non-finite gradient" }) }
}

/// Minibatch ELBO estimate (§1.1 with §1.2): `(1/S) Σ_s [lp0_s + (N/M) ll_s − lq_s]`, where for
/// sample `s` `lp0_s = log p(x_s)` (prior), `ll_s = Σ_{n∈B} log p(y_n | x_s)` (the batch sum, one
/// batch of size `batch_size = M` for all samples of the step) and `lq_s = log q(x_s; λ)`.
///
/// # Errors
/// `InvalidArgument` for empty or mismatched slices, `M ∉ 1..=N` or a non-finite log weight.
pub fn minibatch_elbo<T: Real>(
    log_prior: &[T],
    batch_loglik_sum: &[T],
    log_q: &[T],
    batch_size: usize,
    n_total: usize,
) -> Result<T, Error> {
    let scale = minibatch_scale::<T>(n_total, batch_size)?;
    if log_prior.is_empty() {
        return Err(EMPTY);
    }
    if batch_loglik_sum.len() != log_prior.len() || log_q.len() != log_prior.len() {
        return Err(Error::InvalidArgument { what: "per-sample slices differ in length" });
    }
    let mut s = T::zero();
    for ((&p, &ll), &q) in log_prior.iter().zip(batch_loglik_sum).zip(log_q) {
        let l = p + scale * ll - q;
        if !l.finite() {
            return Err(NON_FINITE);
        }
        s += l;
    }
    Ok(s / T::of(log_prior.len() as f64))
}

/// Importance-weighted bound of one group (§1.3): `L̂_K = lse(ℓ_1..ℓ_K) − ln K`.
/// `K = 1` gives the single-sample ELBO estimate `ℓ_1` exactly.
///
/// # Errors
/// `InvalidArgument` if `l` is empty or holds a non-finite value.
pub fn iwae_bound<T: Real>(l: &[T]) -> Result<T, Error> {
    check_log_weights(l)?;
    Ok(gmmvi::real::log_sum_exp(l) - T::of(l.len() as f64).ln())
}

/// Rényi / VR bound of one group (§1.4): `L̂_{α,K} = [lse((1−α) ℓ) − ln K] / (1−α)`.
///
/// `α = 0` is the IWAE bound, `|1 − α| < 1e−6` returns the limit `(1/K) Σ ℓ_k` (the general
/// formula cancels catastrophically there), `α = +∞` returns `min ℓ`, `α = −∞` returns `max ℓ`
/// (VR-max). Any real `α` is accepted (`α < 0` bounds `log Z` from above only as `K → ∞`).
/// Computed as `e + (ln Σ_k exp((1−α)(ℓ_k − e)) − ln K)/(1−α)` with `e` the extreme `ℓ`, so
/// `(1−α) ℓ` is never formed and cannot overflow. The value is non-increasing in `α`.
///
/// # Errors
/// `InvalidArgument` if `l` is empty, holds a non-finite value, or `alpha` is NaN.
pub fn renyi_bound<T: Real>(l: &[T], alpha: T) -> Result<T, Error> {
    check_log_weights(l)?;
    Ok(match alpha_regime(alpha)? {
        AlphaRegime::One => mean(l),
        AlphaRegime::PlusInf => extreme(l, false).0,
        AlphaRegime::MinusInf => extreme(l, true).0,
        AlphaRegime::Scaled(s) => {
            let (e, ln_sum) = scaled_lse_parts(l, s);
            e + (ln_sum - T::of(l.len() as f64).ln()) / s
        }
    })
}

/// Converts Li & Turner's `α` to the exponent `β = 1 − α` of the other convention
/// `(1/β) ln (1/K) Σ_k exp(β ℓ_k)` (§1.4, §17).
pub fn beta_from_alpha<T: Real>(alpha: T) -> T {
    T::one() - alpha
}

/// Converts the exponent `β` of `(1/β) ln (1/K) Σ_k exp(β ℓ_k)` to the library's `α = 1 − β`.
pub fn alpha_from_beta<T: Real>(beta: T) -> T {
    T::one() - beta
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    const LN_2PI: f64 = 1.837_877_066_409_345_5;

    /// TP1 (§16): `log p~(x) = log Z + log N(x; m, s²)`; q = N(μ, σ²) with `x = μ + σ ε`.
    fn tp1_log_weight(eps: f64, mu: f64, sigma: f64, m: f64, s: f64, log_z: f64) -> f64 {
        let x = mu + sigma * eps;
        let lp = log_z - s.ln() - 0.5 * LN_2PI - (x - m) * (x - m) / (2.0 * s * s);
        let lq = -sigma.ln() - 0.5 * LN_2PI - 0.5 * eps * eps;
        lp - lq
    }

    #[test]
    fn e1_log_weights_equal_log_z_at_the_optimum() {
        // §1.1 E1: TP1 with μ = m = 1, σ = s = 2, log Z = 0.7.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(101);
        let mut eps = [0.0f64; 1000];
        fill_standard_normal(&mut rng, &mut eps);
        let l = eps.map(|e| tp1_log_weight(e, 1.0, 2.0, 1.0, 2.0, 0.7));
        let worst = l.iter().fold(0.0f64, |a, &v| a.max((v - 0.7).abs()));
        assert!(worst <= 1e-12, "max |ℓ − log Z| = {worst:e}");
        assert!((elbo(&l).unwrap() - 0.7).abs() <= 1e-12);
        assert!((iwae_bound(&l).unwrap() - 0.7).abs() <= 1e-12);
    }

    #[test]
    fn e2_elbo_estimate_of_tp1() {
        // §1.1 E2: L = 0.25685281944005467, per-sample variance 0.34375, S = 10⁴, tol 0.0293.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(102);
        let mut eps = [0.0f64; 10_000];
        fill_standard_normal(&mut rng, &mut eps);
        let l = eps.map(|e| tp1_log_weight(e, 0.0, 1.0, 1.0, 2.0, 0.7));
        let est = elbo(&l).unwrap();
        let tol = 5.0 * (0.34375f64 / 1e4).sqrt();
        assert!((tol - 0.0293).abs() < 1e-4);
        assert!((est - 0.256_852_819_440_054_67).abs() <= tol, "L̂ = {est}");
        // The analytic-entropy form (H = ω + ½(1 + ln 2π), ω = 0) has the same mean; its
        // per-sample variance is Var((ε − 1)²/8) = 6/64 = 0.09375.
        let lp = eps.map(|e| tp1_log_weight(e, 0.0, 1.0, 1.0, 2.0, 0.7) - 0.5 * LN_2PI - 0.5 * e * e);
        let est_h = elbo_analytic_entropy(&lp, 0.5 * (1.0 + LN_2PI)).unwrap();
        let tol_h = 5.0 * (0.09375f64 / 1e4).sqrt();
        assert!((est_h - 0.256_852_819_440_054_67).abs() <= tol_h, "L̂_H = {est_h}");
    }

    #[test]
    fn mb1_minibatch_average_equals_full_target() {
        // §1.2 MB1: prior N(0, 1), y_n ~ N(x, 1), y = (0.3, −1.2, 2.0, 0.7), M = 2, x = 0.5.
        let y = [0.3f64, -1.2, 2.0, 0.7];
        let x = 0.5;
        let lik = y.map(|yn| -0.5 * LN_2PI - 0.5 * (yn - x) * (yn - x));
        let prior = -0.5 * LN_2PI - 0.5 * x * x;
        let full = prior + lik.iter().sum::<f64>();
        let want = -7.329_692_666_023_362;
        assert!(((full - want) / want).abs() < 1e-12);
        let b1 = minibatch_log_target(prior, &lik[..2], 4).unwrap();
        let b2 = minibatch_log_target(prior, &lik[2..], 4).unwrap();
        let avg = 0.5 * (b1 + b2);
        assert!(((avg - want) / want).abs() < 1e-12, "avg {avg}");
        // Gradient: ∇ log p(x) = −x, ∇ log p(y_n | x) = y_n − x.
        let g = y.map(|yn| [yn - x]);
        let gprior = [-x];
        let full_g = -x + y.iter().map(|yn| yn - x).sum::<f64>();
        let (mut g1, mut g2) = ([0.0], [0.0]);
        minibatch_log_target_grad(&gprior, &g[..2], 4, &mut g1).unwrap();
        minibatch_log_target_grad(&gprior, &g[2..], 4, &mut g2).unwrap();
        assert!((0.5 * (g1[0] + g2[0]) - full_g).abs() <= 1e-12 * full_g.abs());
        // Minibatch ELBO with one sample (lq = 0) reproduces the surrogate.
        let ll1 = lik[0] + lik[1];
        let e1 = minibatch_elbo(&[prior], &[ll1], &[0.0], 2, 4).unwrap();
        assert_eq!(e1, b1);
        assert_eq!(minibatch_scale::<f64>(4, 2), Ok(2.0));
    }

    #[test]
    fn vr_value_table() {
        // §8 table, values (the weights are tested in `renyi`).
        let l = [-1.0f64, 0.5, 2.0, -0.3];
        let table = [
            (0.0, 0.930_831_996_511_094_7),
            (0.5, 0.625_802_463_985_583),
            (1.0, 0.3),
            (2.0, -0.184_404_090_769_046_5),
            (-1.0, 1.337_079_314_179_179_2),
        ];
        for (a, want) in table {
            let v = renyi_bound(&l, a).unwrap();
            assert!((v - want).abs() < 1e-12, "α = {a}: {v} vs {want}");
        }
        assert!((renyi_bound(&l, 0.0).unwrap() - iwae_bound(&l).unwrap()).abs() < 1e-15);
        assert_eq!(renyi_bound(&l, f64::INFINITY), Ok(-1.0));
        assert_eq!(renyi_bound(&l, f64::NEG_INFINITY), Ok(2.0));
        // Near-limit: 0.999999 is outside the 1e-6 band and gives the true 0.30000062; inside
        // the band the limit 0.3 is returned.
        let near = renyi_bound(&l, 0.999_999).unwrap();
        assert!((near - 0.300_000_62).abs() < 5e-9, "{near}");
        assert_eq!(renyi_bound(&l, 1.0 - 5e-7), Ok(0.3));
        assert_eq!(beta_from_alpha(0.25), 0.75);
        assert_eq!(alpha_from_beta(beta_from_alpha(0.25)), 0.25);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        assert_eq!(elbo::<f64>(&[]), Err(EMPTY));
        assert_eq!(elbo(&[1.0, f64::NAN]), Err(NON_FINITE));
        assert_eq!(iwae_bound(&[f64::NEG_INFINITY]), Err(NON_FINITE));
        assert_eq!(renyi_bound(&[1.0, f64::INFINITY], 0.5), Err(NON_FINITE));
        assert!(renyi_bound(&[1.0], f64::NAN).is_err());
        assert!(minibatch_scale::<f64>(3, 0).is_err());
        assert!(minibatch_scale::<f64>(3, 4).is_err());
        let mut out = [7.0];
        assert!(minibatch_log_target_grad(&[0.0, 1.0], &[[1.0]], 4, &mut out).is_err());
        assert_eq!(out, [0.0]);
        assert!(minibatch_elbo(&[0.0], &[0.0, 1.0], &[0.0], 1, 2).is_err());
        // Huge but finite weights do not overflow (1 − α) ℓ.
        let v = renyi_bound(&[1e308f64, -1e308], -10.0).unwrap();
        assert!(v.is_finite());
    }
}

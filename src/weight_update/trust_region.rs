//! Trust-region weight update, letter `O` (Arenz et al. 2023, §3.4 and App. F; docs/algorithm.md
//! §7.3), only when K > 1.
//!
//! The weight step size `ε_w` bounds `KL(w'‖w)` of the categorical weight distributions. For a
//! multiplier `η > 0` the candidate is
//! `u(η) = ((η + 1)/(T + η))·log w + E/(T + η)`, normalised, clipped below at −69.07
//! (weights ≥ ~1e−30), normalised again, with `KL(η) = Σ_k exp(u_k)(u_k − log w_k)`
//! (with `T = 1` a direct step of size `1/(1 + η)`; the factor `(η + 1)` rather than `(η + T)`
//! is the reference's, §14.1). η is found by bisection over `log η ∈ [−45, 45]` with at most
//! [`MAX_BRACKET_ITERS`] iterations: stop when `|e^hi − e^lo| < 0.1` or when the KL is within
//! 10 % of `ε_w` (then the last candidate is taken); otherwise take the candidate at `e^hi` if
//! some η met the bound, else keep the weights.

use super::direct::LOG_WEIGHT_FLOOR;
use crate::real::{Real, log_sum_exp};

/// Most iterations of the bracketing search (the reference's bound).
pub const MAX_BRACKET_ITERS: usize = 50;

/// Initial bracket on `log η`.
const LOG_ETA_BRACKET: (f64, f64) = (-45.0, 45.0);

/// Writes the candidate `u(η)` into `out` and returns `KL(u‖log_w)`. All slices have equal length.
fn candidate<T: Real>(log_w: &[T], e: &[T], eta: T, temperature: T, out: &mut [T]) -> T {
    let denom = temperature + eta;
    let a = (eta + T::one()) / denom;
    let b = T::one() / denom;
    for ((o, &lw), &ek) in out.iter_mut().zip(log_w).zip(e) {
        *o = a * lw + b * ek;
    }
    let lse = log_sum_exp(out);
    let floor = T::of(LOG_WEIGHT_FLOOR);
    for o in out.iter_mut() {
        *o = (*o - lse).max(floor);
    }
    let lse = log_sum_exp(out);
    let mut kl = T::zero();
    for (o, &lw) in out.iter_mut().zip(log_w) {
        *o -= lse;
        kl += o.exp() * (*o - lw);
    }
    kl
}

/// Trust-region weight update with KL bound `eps` and temperature `temperature`: writes the new
/// normalised log weights into `out` (the first `min(len)` entries of the three slices are used)
/// and returns `(η, KL(w'‖w))`, or `(−1, −1)` (the reference's values) when no η satisfied the
/// bound and the weights are left unchanged.
pub(crate) fn update<T: Real>(log_w: &[T], e: &[T], eps: T, temperature: T, out: &mut [T]) -> (T, T) {
    let n = log_w.len().min(e.len()).min(out.len());
    let (log_w, e, out) = (&log_w[..n], &e[..n], &mut out[..n]);
    out.copy_from_slice(log_w);
    let eps64 = eps.to_f64();
    let (mut lo, mut hi) = LOG_ETA_BRACKET;
    let mut le = 0.5 * (lo + hi);
    let mut ok = false;
    let mut eta = -1.0f64;
    let mut kl = -T::one();
    for _ in 0..MAX_BRACKET_ITERS {
        eta = libm::exp(le);
        if (libm::exp(hi) - libm::exp(lo)).abs() < 0.1 {
            break;
        }
        kl = candidate(log_w, e, T::of(eta), temperature, out);
        let k = kl.to_f64();
        if (eps64 - k).abs() < 0.1 * eps64 {
            // Good enough: mark "found" and keep this candidate.
            lo = hi;
            break;
        }
        if k < eps64 {
            hi = le;
            ok = true;
        } else {
            lo = le;
        }
        le = 0.5 * (lo + hi);
    }
    if lo == hi {
        // `out` holds the candidate of the last evaluated η.
        (T::of(eta), kl)
    } else if ok {
        let eta = T::of(libm::exp(hi));
        let kl = candidate(log_w, e, eta, temperature, out);
        (eta, kl)
    } else {
        out.copy_from_slice(log_w);
        let lse = log_sum_exp(out);
        if lse.finite() {
            for o in out.iter_mut() {
                *o -= lse;
            }
        }
        (-T::one(), -T::one())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // w = [0.5, 0.3, 0.2] (docs/algorithm.md §13, TV7).
    fn log_w() -> [f64; 3] {
        [0.5f64.ln(), 0.3f64.ln(), 0.2f64.ln()]
    }
    const E: [f64; 3] = [1.0, 0.0, -1.0];

    fn check(eps: f64, eta: f64, kl: f64, w: [f64; 3]) {
        let mut out = [0.0; 3];
        let (got_eta, got_kl) = update(&log_w(), &E, eps, 1.0, &mut out);
        assert!((got_eta - eta).abs() <= 1e-8 * eta, "eta {got_eta} vs {eta}");
        assert!((got_kl - kl).abs() < 1e-9, "kl {got_kl} vs {kl}");
        for (o, w) in out.iter().zip(w) {
            assert!((o.exp() - w).abs() < 1e-9, "w {} vs {w}", o.exp());
        }
        let sum: f64 = out.iter().map(|o| o.exp()).sum();
        assert!((sum - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tv7_tight_bound() {
        check(0.01, 4.455505956692757, 0.009628731225, [0.5628270829, 0.2811380322, 0.1560348848]);
    }

    #[test]
    fn tv7_medium_bound() {
        check(0.1, 0.4950358969261986, 0.102899014901, [0.7080436937, 0.2176307723, 0.0743255340]);
    }

    #[test]
    fn tv7_inactive_bound_takes_upper_end() {
        check(10.0, 1.6918979226e-10, 0.192245447459, [0.7843987617, 0.1731385069, 0.0424627314]);
    }

    #[test]
    fn unsatisfiable_bound_keeps_weights() {
        // A negative bound can never be met (for ε = 0, rounding can make KL(η) slightly negative).
        let e = [5.0, 0.0, -5.0];
        let mut out = [0.0; 3];
        let (eta, kl) = update(&log_w(), &e, -1.0, 1.0, &mut out);
        assert_eq!((eta, kl), (-1.0, -1.0));
        for (o, w) in out.iter().zip(log_w()) {
            assert!((o - w).abs() < 1e-15);
        }
    }

    #[test]
    fn non_finite_rewards_do_not_panic() {
        let mut out = [0.0; 3];
        let _ = update(&log_w(), &[f64::NAN, 0.0, f64::INFINITY], 0.1, 1.0, &mut out);
        let _ = update(&log_w(), &[f64::NEG_INFINITY, 0.0, 1.0], 0.1, 1.0, &mut out);
        let (eta, _) = update(&[0.0], &[3.0], 0.1, 1.0, &mut out[..1]);
        assert!(eta.is_finite());
        assert_eq!(out[0], 0.0);
        let _ = update::<f64>(&[], &[], 0.1, 1.0, &mut []);
    }

    #[test]
    fn f32_matches_tv7() {
        let lw = log_w().map(|v| v as f32);
        let e = E.map(|v| v as f32);
        let mut out = [0.0f32; 3];
        let (eta, _) = update(&lw, &e, 0.1f32, 1.0, &mut out);
        assert!((eta - 0.4950359).abs() < 1e-4, "{eta}");
        assert!((out[0].exp() - 0.7080437).abs() < 1e-4);
    }
}

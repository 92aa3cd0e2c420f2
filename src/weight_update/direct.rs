//! Direct weight update, letter `U` (Arenz et al. 2023, §3.4 and App. F; docs/algorithm.md §7.2),
//! only when K > 1: `u = log w + (β_w/T)·E`, normalised, clipped below at −69.07 (weights ≥
//! ~1e−30), normalised.

use crate::real::{Real, log_sum_exp};

/// Log weight floor of the reference.
pub const LOG_WEIGHT_FLOOR: f64 = -69.07;

/// New unnormalised-then-normalised log weights into `out`.
pub(crate) fn update<T: Real>(log_w: &[T], e: &[T], beta: T, temperature: T, out: &mut [T]) {
    for ((o, &lw), &ek) in out.iter_mut().zip(log_w).zip(e) {
        *o = lw + beta / temperature * ek;
    }
    let n = log_w.len().min(out.len());
    let lse = log_sum_exp(&out[..n]);
    let floor = T::of(LOG_WEIGHT_FLOOR);
    for o in out[..n].iter_mut() {
        *o = (*o - lse).max(floor);
    }
    let lse = log_sum_exp(&out[..n]);
    for o in out[..n].iter_mut() {
        *o -= lse;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tv8_direct_weight_step() {
        let lw = [0.5f64.ln(), 0.3f64.ln(), 0.2f64.ln()];
        let e = [1.0, 0.0, -1.0];
        let mut out = [0.0; 3];
        super::update(&lw, &e, 0.5, 1.0, &mut out);
        let want = [0.6617826348, 0.2408348748, 0.0973824903];
        for (o, w) in out.iter().zip(want) {
            assert!((o.exp() - w).abs() < 1e-9, "{} vs {w}", o.exp());
        }
    }
}

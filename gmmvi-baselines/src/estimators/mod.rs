//! Gradient estimators for variational objectives (`docs/estimators.md`): the classic
//! baselines beside the natural-gradient GMM core.
//!
//! Every estimator is a pure function of per-sample quantities (`docs/estimators.md` §0): the
//! caller supplies the base noise or the samples and receives the gradient in its own
//! buffer, so nothing here owns an RNG or allocates.

use gmmvi::Real;
use gmmvi::real::log_sum_exp;

pub mod baselines;
pub mod cavi;
pub mod driver;
pub mod iwae;
pub mod kl;
pub mod natgrad;
pub mod nvil;
pub mod objectives;
pub mod renyi;
pub mod reparam;
pub mod score;
pub mod svgd;
pub mod svi;
pub mod vimco;

/// Writes `softmax(ℓ)` into `out[..ℓ.len()]` and returns `lse(ℓ)` (`docs/estimators.md` §0;
/// [`log_sum_exp`] is the core's: NaN in any entry gives NaN). When `lse(ℓ)` is not
/// finite (empty, all `−∞`, NaN, `+∞`) the weights are left uniform over `ℓ` and the
/// non-finite value is returned so the caller can reject the estimate.
///
/// `out` shorter than `l` is an error of the caller; only `min(len)` entries are written.
pub fn softmax<T: Real>(l: &[T], out: &mut [T]) -> T {
    let lse = log_sum_exp(l);
    let n = l.len().min(out.len());
    if !lse.finite() {
        let u = if n == 0 { T::zero() } else { T::one() / T::of(n as f64) };
        for o in out.iter_mut().take(n) {
            *o = u;
        }
        return lse;
    }
    for (o, &v) in out.iter_mut().zip(l) {
        *o = (v - lse).exp();
    }
    lse
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lse_and_softmax_match_iw1() {
        // docs/estimators.md §5 IW1.
        let l = [-1.0f64, 0.5, 2.0, -0.3];
        let mut w = [0.0; 4];
        let lse = softmax(&l, &mut w);
        assert!((lse - 4f64.ln() - 0.930_831_996_511_094_7).abs() < 1e-14);
        let want = [0.036_256_87, 0.162_492_02, 0.728_238_73, 0.073_012_37];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-8);
        }
        let shifted = l.map(|v| v + 1000.0);
        assert!((log_sum_exp(&shifted) - 1000.0 - log_sum_exp(&l)).abs() < 1e-12);
        assert_eq!(log_sum_exp::<f64>(&[]), f64::NEG_INFINITY);
        assert!(log_sum_exp(&[1.0, f64::NAN]).is_nan());
    }
}

//! Score-function (REINFORCE, likelihood-ratio) ELBO gradient (`docs/estimators.md` §2).
//!
//! `∇_λ E_q[h] = E_q[h ∇_λ log q]`; for the ELBO the learning signal is
//! `f_s = ℓ_s = log p~(x_s) − log q(x_s; λ)` and, with the score `sq_s = ∇_λ log q(x_s; λ)`,
//!
//! * (a) no baseline: `ĝ = (1/S) Σ_s f_s sq_s` (§2.1);
//! * (b) a baseline `b` independent of this batch: `ĝ = (1/S) Σ_s (f_s − b) sq_s` — a constant,
//!   the exponential moving average [`MovingAverageBaseline`], or the in-batch leave-one-out
//!   mean `ĝ = (1/(S−1)) Σ_s (f_s − f̄) sq_s` (§2.2);
//! * (c) the optimal per-coordinate control variate
//!   `ĝ_p = (1/S) Σ_s (f_s − a_p) sq_{s,p}`, `a_p* = E[f sq_p²]/E[sq_p²]`, estimated by
//!   `â_p = Σ_s (f_s sq_{s,p} − m1)(sq_{s,p} − m2) / Σ_s (sq_{s,p} − m2)²`
//!   ([`OptimalControlVariate`], §2.3).
//!
//! No target gradient is needed, so any [`Family`] works, discrete ones included.
//!
//! # Interface (shared with `reparam`)
//! The estimators take the target's *per-sample quantities* (§0) rather than a closure or a
//! [`gmmvi::Target`]: the caller draws the noise `eps[s]`, evaluates the target at
//! `x_s = family.reparam(&eps[s])` (in blocks, e.g. with [`eval_target`], which drives a
//! [`gmmvi::Target`]) and passes `log_p[s]` (and, for the pathwise estimators, `grad_log_p[s]`).
//! This keeps every estimator a pure function, lets the caller evaluate the target in
//! vectorised blocks, and lets two-pass estimators revisit samples without re-evaluating
//! the target. `log q`, the score and `x_s` are recomputed from `eps[s]` (cheap).
//!
//! Every estimator writes the gradient into `out` (`out.len() == family.num_params()`) and
//! returns the ELBO estimate `mean_s ℓ_s`. On any error `out` is left all zero, never NaN:
//! a non-finite `log_p[s]` gives `InvalidArgument { what: "non-finite target value" }`.

use gmmvi::Target;
use gmmvi::error::Error;
use gmmvi::real::Real;
use gmmvi::target::TARGET_BLOCK;
use nalgebra::SVector;

use crate::families::Family;

/// Error for a non-finite `log p~` (§0: estimators reject rather than propagate NaN).
pub(crate) const NON_FINITE_TARGET: Error = Error::InvalidArgument { what: "non-finite target value" };

/// Checks `S ≥ 1`, per-sample slice lengths and `out.len() == P`; zeroes `out`.
pub(crate) fn check_and_zero<T: Real>(p: usize, s: usize, per_sample: &[usize], out: &mut [T]) -> Result<(), Error> {
    out.fill(T::zero());
    if out.len() < p {
        return Err(Error::BufferTooSmall { needed: p });
    }
    if out.len() > p {
        return Err(Error::InvalidArgument { what: "gradient buffer length != num_params" });
    }
    if s == 0 {
        return Err(Error::InvalidArgument { what: "no samples" });
    }
    if per_sample.iter().any(|&n| n != s) {
        return Err(Error::InvalidArgument { what: "per-sample slices differ in length from eps" });
    }
    Ok(())
}

/// Scales `out` by `scale`; a non-finite result zeroes `out` and is an error.
pub(crate) fn finish<T: Real>(out: &mut [T], scale: T) -> Result<(), Error> {
    for o in out.iter_mut() {
        *o *= scale;
    }
    if out.iter().all(|o| o.finite()) {
        Ok(())
    } else {
        out.fill(T::zero());
        Err(Error::InvalidArgument { what: "non-finite gradient" })
    }
}

/// Runs `body`; on error zeroes `out` (the "never NaN, never half-written" contract).
pub(crate) fn zero_on_err<T: Real, R>(
    out: &mut [T],
    body: impl FnOnce(&mut [T]) -> Result<R, Error>,
) -> Result<R, Error> {
    let r = body(out);
    if r.is_err() {
        out.fill(T::zero());
    }
    r
}

/// `(x_s, f_s = log p~(x_s) − log q(x_s))` for one sample, with finiteness checks.
#[inline]
pub(crate) fn signal<T: Real, F: Family<T, D>, const D: usize>(
    family: &F,
    eps: &SVector<T, D>,
    lp: T,
) -> Result<(SVector<T, D>, T), Error> {
    if !lp.finite() {
        return Err(NON_FINITE_TARGET);
    }
    let x = family.reparam(eps);
    let f = lp - family.log_q(&x);
    if !f.finite() {
        return Err(Error::InvalidArgument { what: "non-finite log q (noise or parameters)" });
    }
    Ok((x, f))
}

/// Evaluates a [`Target`] at `x_s = family.reparam(&eps[s])`, [`TARGET_BLOCK`] points per
/// call: writes `x`, `log_p` and, if given, `grad_log_p` (all of length `eps.len()`).
///
/// # Errors
/// `InvalidArgument` on a length mismatch; `TargetFailed` if the target fails. Non-finite
/// target values are passed through (the estimators reject them).
pub fn eval_target<T: Real, F: Family<T, D>, P: Target<T, D> + ?Sized, const D: usize>(
    family: &F,
    target: &mut P,
    eps: &[SVector<T, D>],
    x: &mut [SVector<T, D>],
    log_p: &mut [T],
    grad_log_p: Option<&mut [SVector<T, D>]>,
) -> Result<(), Error> {
    let n = eps.len();
    if x.len() != n || log_p.len() != n || grad_log_p.as_ref().is_some_and(|g| g.len() != n) {
        return Err(Error::InvalidArgument { what: "per-sample slices differ in length from eps" });
    }
    for (xi, e) in x.iter_mut().zip(eps) {
        *xi = family.reparam(e);
    }
    match grad_log_p {
        Some(g) => {
            for ((xc, lc), gc) in
                x.chunks(TARGET_BLOCK).zip(log_p.chunks_mut(TARGET_BLOCK)).zip(g.chunks_mut(TARGET_BLOCK))
            {
                target.log_density_with_grad(xc, lc, gc)?;
            }
        }
        None => {
            for (xc, lc) in x.chunks(TARGET_BLOCK).zip(log_p.chunks_mut(TARGET_BLOCK)) {
                target.log_density(xc, lc)?;
            }
        }
    }
    Ok(())
}

/// The baseline of the score-function estimator, §2.1–§2.2 (the per-coordinate optimal
/// scaling of §2.3 is [`score_grad_cv`] / [`OptimalControlVariate`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline<T> {
    /// (a) `b = 0`.
    None,
    /// (b) a constant `b`, independent of this batch (user constant or [`MovingAverageBaseline`]).
    Constant(T),
    /// (b) leave-one-out in-batch mean `b_s = (1/(S−1)) Σ_{r≠s} f_r` (needs `S ≥ 2`).
    LeaveOneOut,
}

/// Score-function ELBO gradient with a scalar baseline (§2.1, §2.2).
///
/// `out = (1/S) Σ_s (f_s − b) sq_s`, or `(1/(S−1)) Σ_s (f_s − f̄) sq_s` for leave-one-out;
/// returns the ELBO estimate `f̄ = mean_s f_s`.
///
/// # Errors
/// `BufferTooSmall`/`InvalidArgument` on length mismatches, `S = 0`, `S < 2` with
/// leave-one-out or a non-finite `b`; `InvalidArgument { what: "non-finite target value" }`
/// for a non-finite `log_p[s]`. On error `out` is zero.
pub fn score_grad<T: Real, F: Family<T, D>, const D: usize>(
    family: &F,
    eps: &[SVector<T, D>],
    log_p: &[T],
    baseline: Baseline<T>,
    out: &mut [T],
) -> Result<T, Error> {
    check_and_zero(family.num_params(), eps.len(), &[log_p.len()], out)?;
    let s = T::of(eps.len() as f64);
    zero_on_err(out, |out| match baseline {
        Baseline::LeaveOneOut => {
            if eps.len() < 2 {
                return Err(Error::InvalidArgument { what: "leave-one-out baseline needs at least 2 samples" });
            }
            let mut sum = T::zero();
            for (e, &lp) in eps.iter().zip(log_p) {
                sum += signal(family, e, lp)?.1;
            }
            let mean = sum / s;
            for (e, &lp) in eps.iter().zip(log_p) {
                let (x, f) = signal(family, e, lp)?;
                family.score_acc(&x, f - mean, out);
            }
            finish(out, T::one() / (s - T::one()))?;
            Ok(mean)
        }
        Baseline::None | Baseline::Constant(_) => {
            let b = match baseline {
                Baseline::Constant(b) => b,
                _ => T::zero(),
            };
            if !b.finite() {
                return Err(Error::InvalidArgument { what: "non-finite baseline" });
            }
            let mut sum = T::zero();
            for (e, &lp) in eps.iter().zip(log_p) {
                let (x, f) = signal(family, e, lp)?;
                family.score_acc(&x, f - b, out);
                sum += f;
            }
            finish(out, T::one() / s)?;
            Ok(sum / s)
        }
    })
}

/// Score-function ELBO gradient with a per-coordinate baseline `a` (§2.3):
/// `out_p = (1/S) Σ_s (f_s − a_p) sq_{s,p}`; returns `mean_s f_s`.
///
/// `P` is the family's parameter count as a compile-time size (the scratch score lives on
/// the stack); `a` must be independent of this batch for an unbiased estimate.
///
/// # Errors
/// As [`score_grad`]; also `InvalidArgument` if `family.num_params() != P` or `a` is not finite.
pub fn score_grad_cv<T: Real, F: Family<T, D>, const D: usize, const P: usize>(
    family: &F,
    eps: &[SVector<T, D>],
    log_p: &[T],
    a: &[T; P],
    out: &mut [T],
) -> Result<T, Error> {
    if family.num_params() != P {
        return Err(Error::InvalidArgument { what: "family.num_params() != P" });
    }
    check_and_zero(P, eps.len(), &[log_p.len()], out)?;
    if !a.iter().all(|v| v.finite()) {
        return Err(Error::InvalidArgument { what: "non-finite control-variate scale" });
    }
    let s = T::of(eps.len() as f64);
    zero_on_err(out, |out| {
        let mut sum = T::zero();
        for (e, &lp) in eps.iter().zip(log_p) {
            let (x, f) = signal(family, e, lp)?;
            let mut sq = [T::zero(); P];
            family.score_acc(&x, T::one(), &mut sq);
            for ((o, q), ap) in out.iter_mut().zip(sq).zip(a) {
                *o += (f - *ap) * q;
            }
            sum += f;
        }
        finish(out, T::one() / s)?;
        Ok(sum / s)
    })
}

/// Exponential moving-average baseline (§2.2): `b_t = β b_{t−1} + (1 − β) mean_s f_s^{(t−1)}`,
/// `b_0 = 0`, updated after the gradient of step `t` is computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MovingAverageBaseline<T> {
    decay: T,
    value: T,
}

impl<T: Real> Default for MovingAverageBaseline<T> {
    /// `β = 0.9`, `b_0 = 0`.
    fn default() -> Self {
        Self { decay: T::of(0.9), value: T::zero() }
    }
}

impl<T: Real> MovingAverageBaseline<T> {
    /// A baseline with decay `β ∈ [0, 1]` and `b_0 = 0`.
    ///
    /// # Errors
    /// `InvalidConfig { field: "baseline_decay" }` if `β ∉ [0, 1]`.
    pub fn new(decay: T) -> Result<Self, Error> {
        if !(decay >= T::zero() && decay <= T::one()) {
            return Err(Error::InvalidConfig { field: "baseline_decay" });
        }
        Ok(Self { decay, value: T::zero() })
    }

    /// The current baseline `b`.
    pub fn value(&self) -> T {
        self.value
    }

    /// `b ← β b + (1 − β) mean_f`; a non-finite `mean_f` is ignored.
    pub fn update(&mut self, mean_f: T) {
        if mean_f.finite() {
            self.value = self.decay * self.value + (T::one() - self.decay) * mean_f;
        }
    }

    /// [`score_grad`] with `Baseline::Constant(b)`, then [`Self::update`] with the returned
    /// mean learning signal (only on success).
    ///
    /// # Errors
    /// As [`score_grad`].
    pub fn grad<F: Family<T, D>, const D: usize>(
        &mut self,
        family: &F,
        eps: &[SVector<T, D>],
        log_p: &[T],
        out: &mut [T],
    ) -> Result<T, Error> {
        let m = score_grad(family, eps, log_p, Baseline::Constant(self.value), out)?;
        self.update(m);
        Ok(m)
    }
}

/// Optimal per-coordinate control variate (§2.3) with its scale state `â ∈ R^P`.
///
/// Default mode: `â` from the previous call's samples (unbiased; the first call uses
/// `â = 0`, i.e. no baseline). Same-sample mode ([`Self::same_sample`]): `â` from the
/// current samples, which adds an `O(1/S)` bias.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimalControlVariate<T, const P: usize> {
    scale: [T; P],
    same_sample: bool,
}

impl<T: Real, const P: usize> Default for OptimalControlVariate<T, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Real, const P: usize> OptimalControlVariate<T, P> {
    /// Previous-iteration mode with `â = 0`.
    pub fn new() -> Self {
        Self { scale: [T::zero(); P], same_sample: false }
    }

    /// Same-sample mode (biased by `O(1/S)`, documented in §2.3).
    pub fn same_sample() -> Self {
        Self { scale: [T::zero(); P], same_sample: true }
    }

    /// The current scale `â` (the one the next call of [`Self::grad`] uses in default mode).
    pub fn scale(&self) -> &[T; P] {
        &self.scale
    }

    /// Sets `â` (e.g. a known optimum).
    ///
    /// # Errors
    /// `InvalidArgument` if an entry is not finite; the state is unchanged.
    pub fn set_scale(&mut self, a: [T; P]) -> Result<(), Error> {
        if !a.iter().all(|v| v.finite()) {
            return Err(Error::InvalidArgument { what: "non-finite control-variate scale" });
        }
        self.scale = a;
        Ok(())
    }

    /// Estimates `â_p = Σ_s (f_s sq_{s,p} − m1)(sq_{s,p} − m2) / Σ_s (sq_{s,p} − m2)²` from
    /// these samples (two passes); `â_p = 0` where the denominator is `< 1e-300`.
    ///
    /// # Errors
    /// As [`score_grad_cv`]; on error `out` is zero.
    pub fn estimate_scale<F: Family<T, D>, const D: usize>(
        family: &F,
        eps: &[SVector<T, D>],
        log_p: &[T],
        out: &mut [T; P],
    ) -> Result<(), Error> {
        if family.num_params() != P {
            return Err(Error::InvalidArgument { what: "family.num_params() != P" });
        }
        check_and_zero(P, eps.len(), &[log_p.len()], out)?;
        let s = T::of(eps.len() as f64);
        zero_on_err(out, |out| {
            let (mut m1, mut m2) = ([T::zero(); P], [T::zero(); P]);
            for (e, &lp) in eps.iter().zip(log_p) {
                let (x, f) = signal(family, e, lp)?;
                let mut sq = [T::zero(); P];
                family.score_acc(&x, T::one(), &mut sq);
                for ((a, b), q) in m1.iter_mut().zip(m2.iter_mut()).zip(sq) {
                    *a += f * q;
                    *b += q;
                }
            }
            for (a, b) in m1.iter_mut().zip(m2.iter_mut()) {
                *a /= s;
                *b /= s;
            }
            let (mut num, mut den) = ([T::zero(); P], [T::zero(); P]);
            for (e, &lp) in eps.iter().zip(log_p) {
                let (x, f) = signal(family, e, lp)?;
                let mut sq = [T::zero(); P];
                family.score_acc(&x, T::one(), &mut sq);
                for ((((n, d), q), a), b) in num.iter_mut().zip(den.iter_mut()).zip(sq).zip(&m1).zip(&m2) {
                    let c = q - *b;
                    *n += (f * q - *a) * c;
                    *d += c * c;
                }
            }
            let tiny = T::of(1e-300);
            for ((o, n), d) in out.iter_mut().zip(num).zip(den) {
                let a = n / d;
                *o = if d > tiny && a.finite() { a } else { T::zero() };
            }
            Ok(())
        })
    }

    /// Score-function gradient with the optimal control variate (§2.3); returns `mean_s f_s`.
    /// Default mode uses the stored `â`, then re-estimates it from these samples for the next
    /// call; same-sample mode estimates `â` first and uses it.
    ///
    /// # Errors
    /// As [`score_grad_cv`]; on error `out` is zero and the stored `â` is unchanged.
    pub fn grad<F: Family<T, D>, const D: usize>(
        &mut self,
        family: &F,
        eps: &[SVector<T, D>],
        log_p: &[T],
        out: &mut [T],
    ) -> Result<T, Error> {
        let mut next = [T::zero(); P];
        if self.same_sample {
            Self::estimate_scale(family, eps, log_p, &mut next)?;
            let m = score_grad_cv(family, eps, log_p, &next, out)?;
            self.scale = next;
            Ok(m)
        } else {
            let m = score_grad_cv(family, eps, log_p, &self.scale, out)?;
            if let Err(e) = Self::estimate_scale(family, eps, log_p, &mut next) {
                out.fill(T::zero());
                return Err(e);
            }
            self.scale = next;
            Ok(m)
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::estimators::reparam::{pathwise_grad, pathwise_grad_stl};
    use crate::families::testing::{Categorical3, Exponential, evaluate, gauss_hermite, mean_var, noise, tp1, tp1_at};
    use crate::families::testing::{TP4_LOG_Z, normal_trapezoid, tp2, tp3, tp4};
    use crate::families::{FullRankGaussian, MeanFieldGaussian};
    use gmmvi::TargetError;
    use nalgebra::{Vector1, Vector2};
    use std::vec::Vec;

    const TP1_L: f64 = 0.25685281944005467;

    /// One call of an estimator per sample (S = 1): the single-sample values.
    fn per_sample<const D: usize, const P: usize>(
        eps: &[SVector<f64, D>],
        lp: &[f64],
        mut est: impl FnMut(&[SVector<f64, D>], &[f64], &mut [f64]) -> Result<f64, Error>,
    ) -> Vec<[f64; P]> {
        eps.iter()
            .zip(lp)
            .map(|(e, l)| {
                let mut g = [0.0; P];
                est(core::slice::from_ref(e), core::slice::from_ref(l), &mut g).unwrap();
                g
            })
            .collect()
    }

    fn column<const P: usize>(v: &[[f64; P]], p: usize) -> (f64, f64) {
        mean_var(v.iter().map(|g| g[p]))
    }

    /// Asserts `|mean − want| ≤ 5 sqrt(v/S)` for every coordinate.
    fn assert_mean(got: &[f64], want: &[f64], var: &[f64], s: usize, what: &str) {
        for ((g, w), v) in got.iter().zip(want).zip(var) {
            let tol = 5.0 * (v / s as f64).sqrt();
            std::eprintln!("{what}: {g:.6} vs {w:.6} (tol {tol:.6})");
            assert!((g - w).abs() <= tol, "{what}: {g} vs {w} (tol {tol})");
        }
    }

    #[test]
    fn sf1_means_s1e5() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let s = 100_000;
        let eps = noise(&q, 1, s);
        let (lp, _) = evaluate(&q, &eps, tp1);
        let want = [0.25, 0.75];
        let mut g = [0.0; 2];
        let elbo = score_grad(&q, &eps, &lp, Baseline::None, &mut g).unwrap();
        assert_mean(&g, &want, &[1.982503, 10.173064], s, "SF");
        assert_mean(&[elbo], &[TP1_L], &[0.34375], s, "ELBO");
        score_grad(&q, &eps, &lp, Baseline::Constant(TP1_L), &mut g).unwrap();
        assert_mean(&g, &want, &[1.53125, 8.5], s, "SF+b");
        score_grad_cv(&q, &eps, &lp, &[TP1_L + 0.75, TP1_L + 1.5], &mut g).unwrap();
        assert_mean(&g, &want, &[0.96875, 4.0], s, "SF+a*");
        let mut cv = OptimalControlVariate::<f64, 2>::same_sample();
        cv.grad(&q, &eps, &lp, &mut g).unwrap();
        assert_mean(&g, &want, &[0.96875, 4.0], s, "SF+â same sample");
        assert!((cv.scale()[0] - 1.006853).abs() < 0.05 && (cv.scale()[1] - 1.756853).abs() < 0.1);
        // Shift test: log Z + 10 leaves the mean unchanged (no-baseline variance grows).
        let lp10: Vec<f64> = lp.iter().map(|l| l + 10.0).collect();
        score_grad(&q, &eps, &lp10, Baseline::None, &mut g).unwrap();
        assert_mean(&g, &want, &[122.1196, 280.4472], s, "SF shifted");
        // Leave-one-out baseline (unbiased; variance close to b = L).
        score_grad(&q, &eps, &lp10, Baseline::LeaveOneOut, &mut g).unwrap();
        assert_mean(&g, &want, &[1.53125, 8.5], s, "SF+LOO");
    }

    #[test]
    fn sf1_variances_and_ordering_s1e6() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let s = 1_000_000;
        let eps = noise(&q, 2, s);
        let (lp, gp) = evaluate(&q, &eps, tp1);
        let a_star = [TP1_L + 0.75, TP1_L + 1.5];
        let sf = per_sample::<1, 2>(&eps, &lp, |e, l, o| score_grad(&q, e, l, Baseline::None, o));
        let sfb = per_sample::<1, 2>(&eps, &lp, |e, l, o| score_grad(&q, e, l, Baseline::Constant(TP1_L), o));
        let sfa = per_sample::<1, 2>(&eps, &lp, |e, l, o| score_grad_cv(&q, e, l, &a_star, o));
        let mut k = 0;
        let pw = per_sample::<1, 2>(&eps, &lp, |e, l, o| {
            k += 1;
            pathwise_grad(&q, e, l, &gp[k - 1..k], o)
        });
        let mut k = 0;
        let stl = per_sample::<1, 2>(&eps, &lp, |e, l, o| {
            k += 1;
            pathwise_grad_stl(&q, e, l, &gp[k - 1..k], o)
        });
        let table: [(&[[f64; 2]], [f64; 2]); 5] = [
            (&sf, [1.982503, 10.173064]),
            (&sfb, [1.53125, 8.5]),
            (&sfa, [0.96875, 4.0]),
            (&pw, [0.0625, 0.1875]),
            (&stl, [0.5625, 1.1875]),
        ];
        let want = [0.25, 0.75];
        let mut vars = [[0.0; 2]; 5];
        for (i, (vals, v)) in table.iter().enumerate() {
            for p in 0..2 {
                let (m, var) = column(vals, p);
                assert_mean(&[m], &[want[p]], &[v[p]], s, "S=1e6 mean");
                assert!((var / v[p] - 1.0).abs() < 0.125, "estimator {i} coord {p}: var {var} vs {}", v[p]);
                vars[i][p] = var;
            }
        }
        std::eprintln!("SF1 S=1e6 variances (SF, SF+b, SF+a*, PW, STL): {vars:?}");
        for p in 0..2 {
            let col = vars.map(|v| v[p]);
            assert!(col[0] > col[1] && col[1] > col[2] && col[2] > col[3]);
        }
        // Shift by c = 10: no-baseline variance grows, the optimal CV (a* + c) is unchanged.
        let lp10: Vec<f64> = lp.iter().map(|l| l + 10.0).collect();
        let sf10 = per_sample::<1, 2>(&eps, &lp10, |e, l, o| score_grad(&q, e, l, Baseline::None, o));
        for (p, v) in [122.1196, 280.4472].into_iter().enumerate() {
            let (m, var) = column(&sf10, p);
            assert_mean(&[m], &[want[p]], &[v], s, "shifted mean");
            std::eprintln!("SF1 shifted no-baseline var[{p}] = {var} (exact {v})");
            assert!((var / v - 1.0).abs() < 0.125, "shifted var {var} vs {v}");
        }
        let shifted = [a_star[0] + 10.0, a_star[1] + 10.0];
        let sfa10 = per_sample::<1, 2>(&eps, &lp10, |e, l, o| score_grad_cv(&q, e, l, &shifted, o));
        for (a, b) in sfa.iter().zip(&sfa10) {
            assert!((a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9);
        }
    }

    /// Exact moments of the implemented single-sample estimators by Gauss–Hermite quadrature.
    fn gh_moments<const N: usize, const P: usize>(mut est: impl FnMut(f64, &mut [f64; P])) -> ([f64; P], [f64; P]) {
        let (x, w) = gauss_hermite::<N>();
        let (mut m1, mut m2) = ([0.0; P], [0.0; P]);
        for (xi, wi) in x.iter().zip(&w) {
            let mut g = [0.0; P];
            est(*xi, &mut g);
            for p in 0..P {
                m1[p] += wi * g[p];
                m2[p] += wi * g[p] * g[p];
            }
        }
        let mut var = [0.0; P];
        for p in 0..P {
            var[p] = m2[p] - m1[p] * m1[p];
        }
        (m1, var)
    }

    #[test]
    fn sf1_exact_moments_by_quadrature() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let run = |log_z: f64, b: Option<[f64; 2]>| {
            gh_moments::<30, 2>(|e, g| {
                let eps = [Vector1::new(e)];
                let lp = [tp1_at(&q.reparam(&eps[0]), 1.0, 2.0, log_z).0];
                match b {
                    None => score_grad(&q, &eps, &lp, Baseline::None, g).unwrap(),
                    Some(a) => score_grad_cv(&q, &eps, &lp, &a, g).unwrap(),
                };
            })
        };
        let cases = [
            (0.7, None, [1.982503, 10.173064], 5e-7),
            (0.7, Some([TP1_L; 2]), [1.53125, 8.5], 1e-10),
            (0.7, Some([TP1_L + 0.75, TP1_L + 1.5]), [0.96875, 4.0], 1e-10),
            (10.7, None, [122.1196, 280.4472], 5e-5),
            (10.7, Some([TP1_L + 10.75, TP1_L + 11.5]), [0.96875, 4.0], 1e-10),
        ];
        for (log_z, b, var, tol) in cases {
            let (m, v) = run(log_z, b);
            assert!((m[0] - 0.25).abs() < 1e-12 && (m[1] - 0.75).abs() < 1e-12, "{m:?}");
            assert!((v[0] - var[0]).abs() < tol && (v[1] - var[1]).abs() < tol, "{v:?} vs {var:?}");
        }
        // â shifts by exactly c.
        let eps = noise(&q, 3, 10_000);
        let (lp, _) = evaluate(&q, &eps, tp1);
        let lp10: Vec<f64> = lp.iter().map(|l| l + 10.0).collect();
        let (mut a, mut a10) = ([0.0; 2], [0.0; 2]);
        OptimalControlVariate::estimate_scale(&q, &eps, &lp, &mut a).unwrap();
        OptimalControlVariate::estimate_scale(&q, &eps, &lp10, &mut a10).unwrap();
        assert!((a10[0] - a[0] - 10.0).abs() < 1e-9 && (a10[1] - a[1] - 10.0).abs() < 1e-9);
    }

    #[test]
    fn sf2_exponential() {
        let q = Exponential { rate: 2.0 };
        let l = 0.5 - 2f64.ln(); // −0.19314718
        let a_star = [1.5 - 2f64.ln()]; // 0.806853
        let target = |x: &SVector<f64, 1>| (-x[0], SVector::from([-1.0]));
        let s = 100_000;
        let eps = noise(&q, 4, s);
        let (lp, _) = evaluate(&q, &eps, target);
        let mut g = [0.0];
        let elbo = score_grad(&q, &eps, &lp, Baseline::None, &mut g).unwrap();
        assert!((elbo - l).abs() < 5.0 * (1.0 / s as f64).sqrt()); // Var ℓ = Var x = 1/4
        assert_mean(&g, &[-0.25], &[0.412753], s, "SF");
        score_grad(&q, &eps, &lp, Baseline::Constant(l), &mut g).unwrap();
        assert_mean(&g, &[-0.25], &[0.5], s, "SF+b");
        score_grad_cv(&q, &eps, &lp, &a_star, &mut g).unwrap();
        assert_mean(&g, &[-0.25], &[0.25], s, "SF+a*");
        // Previous-iteration â (default mode): the second batch uses â from the first.
        let mut cv = OptimalControlVariate::<f64, 1>::new();
        cv.grad(&q, &eps[..s / 2], &lp[..s / 2], &mut g).unwrap();
        assert!((cv.scale()[0] - a_star[0]).abs() < 0.05, "{:?}", cv.scale());
        cv.grad(&q, &eps[s / 2..], &lp[s / 2..], &mut g).unwrap();
        assert_mean(&g, &[-0.25], &[0.26], s / 2, "SF+â previous");
        // Variances at S = 1e6: b = L is worse than no baseline.
        let s = 1_000_000;
        let eps = noise(&q, 5, s);
        let (lp, _) = evaluate(&q, &eps, target);
        let v = |b: Option<f64>| {
            let vals = per_sample::<1, 1>(&eps, &lp, |e, l, o| match b {
                None => score_grad(&q, e, l, Baseline::None, o),
                Some(b) => score_grad_cv(&q, e, l, &[b], o),
            });
            let (m, var) = column(&vals, 0);
            (m, var)
        };
        let (none, bl, opt) = (v(None), v(Some(l)), v(Some(a_star[0])));
        std::eprintln!("SF2 S=1e6 (mean, var): none {none:?}, b=L {bl:?}, a* {opt:?}");
        for ((m, var), want) in [(none, 0.412753), (bl, 0.5), (opt, 0.25)] {
            assert_mean(&[m], &[-0.25], &[want], s, "S=1e6");
            assert!((var / want - 1.0).abs() < 0.125, "{var} vs {want}");
        }
        assert!(bl.1 > none.1 && none.1 > opt.1);
    }

    #[test]
    fn sf3_categorical_exact() {
        let q = Categorical3 { logits: [0.0; 3] };
        let pi = [0.2f64, 0.5, 0.3];
        let target = |x: &SVector<f64, 1>| (pi[Categorical3::index(x)].ln(), SVector::zeros());
        let probs = q.probs();
        // One uniform per state, inside that state's CDF interval.
        let states = [Vector1::new(0.1), Vector1::new(0.5), Vector1::new(0.9)];
        let (lp, _) = evaluate(&q, &states, target);
        let elbo: f64 = states.iter().zip(&lp).zip(probs).map(|((e, l), p)| p * (l - q.log_q(&q.reparam(e)))).sum();
        assert!((elbo - -0.0702403437718841).abs() < 1e-12);
        let grad = [-0.14686176, 0.15856848, -0.01170672];
        let exact = |b: [f64; 3]| {
            let (mut m1, mut m2) = ([0.0; 3], [0.0; 3]);
            for ((e, l), p) in states.iter().zip(&lp).zip(probs) {
                let mut g = [0.0; 3];
                score_grad_cv(&q, core::slice::from_ref(e), core::slice::from_ref(l), &b, &mut g).unwrap();
                for j in 0..3 {
                    m1[j] += p * g[j];
                    m2[j] += p * g[j] * g[j];
                }
            }
            (m1, [0, 1, 2].map(|j| m2[j] - m1[j] * m1[j]))
        };
        // a* = E[f sq²]/E[sq²] by enumeration.
        let mut a_star = [0.0; 3];
        for (j, a) in a_star.iter_mut().enumerate() {
            let (mut num, mut den) = (0.0, 0.0);
            for (i, ((e, l), p)) in states.iter().zip(&lp).zip(probs).enumerate() {
                let f = l - q.log_q(&q.reparam(e));
                let sq = if i == j { 1.0 } else { 0.0 } - probs[j];
                num += p * f * sq * sq;
                den += p * sq * sq;
            }
            *a = num / den;
        }
        for (a, want) in a_star.iter().zip([-0.29053298, 0.16761238, -0.08780043]) {
            assert!((a - want).abs() < 5e-9);
        }
        let cases = [
            ([0.0; 3], [0.02358992, 0.00928757, 0.01726103]),
            ([elbo; 3], [0.01561646; 3]),
            (a_star, [0.00483227, 0.00304448, 0.01554794]),
        ];
        // Exact expectation (enumeration; the per-sample estimator itself) to 1e-12.
        let exact_grad = [0, 1, 2].map(|j| probs[j] * ((pi[j].ln() - probs[j].ln()) - elbo));
        for (b, var) in cases {
            let (m, v) = exact(b);
            for j in 0..3 {
                assert!((m[j] - exact_grad[j]).abs() < 1e-12);
                assert!((m[j] - grad[j]).abs() < 5e-9);
                assert!((v[j] - var[j]).abs() < 5e-9, "{v:?} vs {var:?}");
            }
        }
        // b = L is worse than no baseline on coordinate 2.
        assert!(exact([elbo; 3]).1[1] > exact([0.0; 3]).1[1]);
        // Statistical: S = 1e5 with Baseline::None and the constant baseline.
        let s = 100_000;
        let eps = noise(&q, 6, s);
        let (lp, _) = evaluate(&q, &eps, target);
        let mut g = [0.0; 3];
        score_grad(&q, &eps, &lp, Baseline::None, &mut g).unwrap();
        assert_mean(&g, &grad, &cases[0].1, s, "TP-Cat SF");
        score_grad(&q, &eps, &lp, Baseline::Constant(elbo), &mut g).unwrap();
        assert_mean(&g, &grad, &cases[1].1, s, "TP-Cat SF+b");
    }

    #[test]
    fn sf_tp2_full_rank_and_mean_field() {
        // Exact gradient at q = N(0, I) (§16 TP2); variances by 2-D Gauss–Hermite (exact here).
        let (x, w) = gauss_hermite::<12>();
        let nodes: Vec<(Vector2<f64>, f64)> = x
            .iter()
            .zip(&w)
            .flat_map(|(a, wa)| x.iter().zip(&w).map(move |(b, wb)| (Vector2::new(*a, *b), wa * wb)))
            .collect();
        let fr = FullRankGaussian::<f64, 2>::standard();
        let mf = MeanFieldGaussian::<f64, 2>::standard();
        let l = -1.4424700721375658;
        let want_fr = [0.9756097561, -1.5853658537, 0.3902439024, 0.3658536585, -0.2195121951];
        let want_mf = [0.9756097561, -1.5853658537, 0.3902439024, -0.2195121951];
        fn check<F: Family<f64, 2>, const P: usize>(
            q: &F,
            nodes: &[(Vector2<f64>, f64)],
            want: &[f64; P],
            l: f64,
            seed: u64,
        ) {
            for b in [[0.0; P], [l; P]] {
                let (mut m1, mut m2) = ([0.0; P], [0.0; P]);
                for (e, wt) in nodes {
                    let lp = [tp2(&q.reparam(e)).0];
                    let mut g = [0.0; P];
                    score_grad_cv(q, core::slice::from_ref(e), &lp, &b, &mut g).unwrap();
                    for p in 0..P {
                        m1[p] += wt * g[p];
                        m2[p] += wt * g[p] * g[p];
                    }
                }
                let var: [f64; P] = core::array::from_fn(|p| m2[p] - m1[p] * m1[p]);
                for p in 0..P {
                    assert!((m1[p] - want[p]).abs() < 1e-9, "quadrature mean {m1:?}");
                }
                let s = 100_000;
                let eps = noise(q, seed, s);
                let (lp, _) = evaluate(q, &eps, tp2);
                let mut g = [0.0; P];
                score_grad_cv(q, &eps, &lp, &b, &mut g).unwrap();
                assert_mean(&g, want, &var, s, "TP2 SF");
            }
            // Optimal CV with â from a previous batch.
            let s = 50_000;
            let eps = noise(q, seed + 1, 2 * s);
            let (lp, _) = evaluate(q, &eps, tp2);
            let mut cv = OptimalControlVariate::<f64, P>::new();
            let mut g = [0.0; P];
            cv.grad(q, &eps[..s], &lp[..s], &mut g).unwrap();
            let a = *cv.scale();
            cv.grad(q, &eps[s..], &lp[s..], &mut g).unwrap();
            let vals: Vec<[f64; P]> = per_sample(&eps[s..], &lp[s..], |e, l, o| score_grad_cv(q, e, l, &a, o));
            let var: [f64; P] = core::array::from_fn(|p| column(&vals, p).1);
            assert_mean(&g, want, &var, s, "TP2 SF+â");
        }
        check(&fr, &nodes, &want_fr, l, 7);
        check(&mf, &nodes, &want_mf, l, 9);
    }

    #[test]
    fn sf_tp3_tp4() {
        let (x, w) = normal_trapezoid(24_000);
        // TP3 at q = N(0, 2²): exact gradient by quadrature of ∂μ = E[g], ∂ω = E[g σ ε] + 1.
        let q = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.0), Vector1::new(2.0)).unwrap();
        let (mut elbo, mut gm, mut gw) = (0.0, 0.0, 1.0);
        for (e, wt) in x.iter().zip(&w) {
            let xs = Vector1::new(2.0 * e);
            let (lp, gp) = tp3(&xs);
            elbo += wt * (lp - q.log_q(&xs));
            gm += wt * gp[0];
            gw += wt * gp[0] * 2.0 * e;
        }
        assert!((elbo - -0.6021865758021949).abs() < 1e-8, "{elbo}");
        // TP4 at q = N(0.5, 0.3²): posterior N(1.248, 0.16) gives the closed form.
        let q4 = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.5), Vector1::new(0.3)).unwrap();
        let l4 = TP4_LOG_Z - ((0.4f64 / 0.3).ln() + (0.09 + 0.748 * 0.748) / 0.32 - 0.5);
        type Case<'a> = (&'a MeanFieldGaussian<f64, 1>, fn(&SVector<f64, 1>) -> (f64, SVector<f64, 1>), [f64; 2], f64);
        let cases: [Case; 2] = [(&q, tp3, [gm, gw], elbo), (&q4, tp4, [0.748 / 0.16, 1.0 - 0.09 / 0.16], l4)];
        for (i, (q, t, want, l)) in cases.into_iter().enumerate() {
            for b in [[0.0; 2], [l; 2]] {
                let (mut m1, mut m2, mut el) = ([0.0; 2], [0.0; 2], 0.0);
                for (e, wt) in x.iter().zip(&w) {
                    let eps = [Vector1::new(*e)];
                    let lp = [t(&q.reparam(&eps[0])).0];
                    let mut g = [0.0; 2];
                    el += wt * score_grad_cv(q, &eps, &lp, &b, &mut g).unwrap();
                    for p in 0..2 {
                        m1[p] += wt * g[p];
                        m2[p] += wt * g[p] * g[p];
                    }
                }
                assert!((el - l).abs() < 1e-9, "case {i}: ELBO {el} vs {l}");
                for p in 0..2 {
                    assert!((m1[p] - want[p]).abs() < 1e-8, "case {i}: {m1:?} vs {want:?}");
                }
                let var = [m2[0] - m1[0] * m1[0], m2[1] - m1[1] * m1[1]];
                let s = 100_000;
                let eps = noise(q, 10 + i as u64, s);
                let (lp, _) = evaluate(q, &eps, t);
                let mut g = [0.0; 2];
                score_grad_cv(q, &eps, &lp, &b, &mut g).unwrap();
                assert_mean(&g, &want, &var, s, "TP3/TP4 SF");
            }
        }
    }

    #[test]
    fn leave_one_out_and_moving_average() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let eps = noise(&q, 11, 7);
        let (lp, _) = evaluate(&q, &eps, tp1);
        let mut g = [0.0; 2];
        let m = score_grad(&q, &eps, &lp, Baseline::LeaveOneOut, &mut g).unwrap();
        // Explicit (1/S) Σ (f_s − b_s) sq_s with b_s the mean of the others.
        let f: Vec<f64> = eps.iter().zip(&lp).map(|(e, l)| l - q.log_q(&q.reparam(e))).collect();
        let total: f64 = f.iter().sum();
        let mut want = [0.0; 2];
        for (s, e) in eps.iter().enumerate() {
            let b = (total - f[s]) / 6.0;
            q.score_acc(&q.reparam(e), (f[s] - b) / 7.0, &mut want);
        }
        assert!((g[0] - want[0]).abs() < 1e-12 && (g[1] - want[1]).abs() < 1e-12);
        assert!((m - total / 7.0).abs() < 1e-12);
        assert!(score_grad(&q, &eps[..1], &lp[..1], Baseline::LeaveOneOut, &mut g).is_err());
        // Moving average: b_1 = 0.1 mean f^(0), b_2 = 0.9 b_1 + 0.1 mean f^(1); step 1 uses b_0 = 0.
        let mut ma = MovingAverageBaseline::default();
        let mut g0 = [0.0; 2];
        let m0 = ma.grad(&q, &eps[..3], &lp[..3], &mut g).unwrap();
        score_grad(&q, &eps[..3], &lp[..3], Baseline::None, &mut g0).unwrap();
        assert_eq!(g, g0);
        assert!((ma.value() - 0.1 * m0).abs() < 1e-15);
        let m1 = ma.grad(&q, &eps[3..], &lp[3..], &mut g).unwrap();
        score_grad(&q, &eps[3..], &lp[3..], Baseline::Constant(0.1 * m0), &mut g0).unwrap();
        assert_eq!(g, g0);
        assert!((ma.value() - (0.09 * m0 + 0.1 * m1)).abs() < 1e-15);
        assert!(MovingAverageBaseline::new(1.5f64).is_err());
        assert!(MovingAverageBaseline::new(f64::NAN).is_err());
    }

    #[test]
    fn invalid_inputs_give_errors_and_zero_output() {
        let q = MeanFieldGaussian::<f64, 1>::standard();
        let eps = [Vector1::new(0.3), Vector1::new(-1.0)];
        let mut g = [7.0; 2];
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for b in [Baseline::None, Baseline::Constant(1.0), Baseline::LeaveOneOut] {
                g = [7.0; 2];
                assert_eq!(score_grad(&q, &eps, &[0.0, bad], b, &mut g), Err(NON_FINITE_TARGET));
                assert_eq!(g, [0.0; 2]);
            }
            g = [7.0; 2];
            assert_eq!(score_grad_cv(&q, &eps, &[bad, 0.0], &[1.0, 2.0], &mut g), Err(NON_FINITE_TARGET));
            assert_eq!(g, [0.0; 2]);
            let mut cv = OptimalControlVariate::<f64, 2>::new();
            assert_eq!(cv.grad(&q, &eps, &[bad, 0.0], &mut g), Err(NON_FINITE_TARGET));
            assert_eq!((g, *cv.scale()), ([0.0; 2], [0.0; 2]));
        }
        let nan_eps = [Vector1::new(f64::NAN)];
        assert!(score_grad(&q, &nan_eps, &[0.0], Baseline::None, &mut g).is_err());
        assert_eq!(g, [0.0; 2]);
        assert!(score_grad(&q, &eps, &[0.0], Baseline::None, &mut g).is_err());
        assert!(score_grad(&q, &[], &[], Baseline::None, &mut g).is_err());
        assert_eq!(
            score_grad(&q, &eps, &[0.0; 2], Baseline::None, &mut [0.0; 1]),
            Err(Error::BufferTooSmall { needed: 2 })
        );
        assert!(score_grad(&q, &eps, &[0.0; 2], Baseline::None, &mut [0.0; 3]).is_err());
        assert!(score_grad(&q, &eps, &[0.0; 2], Baseline::Constant(f64::NAN), &mut g).is_err());
        assert!(score_grad_cv(&q, &eps, &[0.0; 2], &[0.0; 3], &mut g).is_err());
        assert!(score_grad_cv(&q, &eps, &[0.0; 2], &[0.0, f64::NAN], &mut g).is_err());
        let mut cv = OptimalControlVariate::<f64, 2>::new();
        assert!(cv.set_scale([f64::INFINITY, 0.0]).is_err());
        // Overflowing products are caught too.
        assert!(score_grad(&q, &[Vector1::new(1e200)], &[0.0], Baseline::None, &mut g).is_err());
        assert_eq!(g, [0.0; 2]);
    }

    struct Tp1Target {
        calls: usize,
    }
    impl Target<f64, 1> for Tp1Target {
        fn log_density(&mut self, x: &[SVector<f64, 1>], lp: &mut [f64]) -> Result<(), TargetError> {
            self.calls += 1;
            for (xi, l) in x.iter().zip(lp) {
                *l = tp1(xi).0;
            }
            Ok(())
        }
        fn log_density_with_grad(
            &mut self,
            x: &[SVector<f64, 1>],
            lp: &mut [f64],
            g: &mut [SVector<f64, 1>],
        ) -> Result<(), TargetError> {
            self.calls += 1;
            for ((xi, l), gi) in x.iter().zip(lp).zip(g) {
                (*l, *gi) = tp1(xi);
            }
            Ok(())
        }
    }

    #[test]
    fn eval_target_in_blocks() {
        let q = MeanFieldGaussian::<f64, 1>::from_std(Vector1::new(0.2), Vector1::new(1.5)).unwrap();
        let eps = noise(&q, 12, 150);
        let mut x = std::vec![SVector::zeros(); 150];
        let mut lp = std::vec![0.0; 150];
        let mut gp = std::vec![SVector::zeros(); 150];
        let mut t = Tp1Target { calls: 0 };
        eval_target(&q, &mut t, &eps, &mut x, &mut lp, Some(&mut gp)).unwrap();
        assert_eq!(t.calls, 3);
        let (lp2, gp2) = evaluate(&q, &eps, tp1);
        assert_eq!((lp.clone(), gp), (lp2, gp2));
        eval_target(&q, &mut t, &eps, &mut x, &mut lp, None).unwrap();
        assert_eq!(t.calls, 6);
        assert!(eval_target(&q, &mut t, &eps, &mut x[..3], &mut lp, None).is_err());
    }
}

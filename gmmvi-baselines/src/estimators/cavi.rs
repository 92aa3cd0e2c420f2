//! Mean-field coordinate-ascent VI (CAVI) for the Bayesian mixture of unit-variance
//! Gaussians (`docs/estimators.md` §10).
//!
//! Model: `μ_k ~ N(0, σ²)` for `k < K`, `c_n ~ Cat(1/K, …, 1/K)`, `y_n | c_n, μ ~ N(μ_{c_n}, 1)`.
//! Family: `q(μ_k) = N(m_k, s_k²)`, `q(c_n) = Cat(φ_n)`. One sweep updates all `φ`, then all
//! `(m, s²)`, each the exact maximiser of the ELBO in its block:
//! * `φ_nk ∝ exp(m_k y_n − ½(s_k² + m_k²))` (normalised with log-sum-exp),
//! * `s_k² = 1 / (1/σ² + Σ_n φ_nk)`, `m_k = s_k² Σ_n φ_nk y_n`.
//!
//! ELBO: `Σ_k [−½ ln(2πσ²) − (s_k² + m_k²)/(2σ²)] − N ln K +
//! Σ_nk φ_nk [−½ ln 2π − ½(y_n² − 2 y_n m_k + s_k² + m_k²)] − Σ_nk φ_nk ln φ_nk +
//! Σ_k [½ ln(2π s_k²) + ½]`. Coordinate ascent never decreases it; [`MixtureCavi::run`]
//! checks this after every half-sweep.
//!
//! The data `y` and the responsibilities `φ` (one `[T; K]` row per data point) are caller
//! slices, so the data capacity is the caller's.

use gmmvi::real::LN_2PI;
use gmmvi::{Error, Real};

use crate::estimators::softmax;

/// Responsibilities of one data point: `φ_k ∝ exp(m_k y − ½(s_k² + m_k²))`, written into `out`.
///
/// # Errors
/// `InvalidArgument` if the log-weights are not finite (non-finite `y`, `m` or `s²`).
pub fn responsibilities<T: Real, const K: usize>(m: &[T; K], s2: &[T; K], y: T, out: &mut [T; K]) -> Result<(), Error> {
    let mut logit = [T::zero(); K];
    for ((l, &mk), &sk) in logit.iter_mut().zip(m).zip(s2) {
        *l = mk * y - (sk + mk * mk) * T::of(0.5);
    }
    let lse = softmax(&logit, out);
    if lse.finite() { Ok(()) } else { Err(Error::InvalidArgument { what: "cavi: non-finite responsibilities" }) }
}

/// Summary of a [`MixtureCavi::run`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CaviSummary<T> {
    /// Sweeps performed.
    pub sweeps: usize,
    /// ELBO after the last sweep.
    pub elbo: T,
    /// `true` if the stopping tolerance was met before `max_sweeps`.
    pub converged: bool,
}

/// CAVI state of the §10 mixture: the factors `q(μ_k) = N(m_k, s_k²)` and the prior variance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixtureCavi<T, const K: usize> {
    m: [T; K],
    s2: [T; K],
    prior_var: T,
}

impl<T: Real, const K: usize> MixtureCavi<T, K> {
    /// Starts from `q(μ_k) = N(m_k, s2_k)` with prior variance `σ² = prior_var`.
    ///
    /// # Errors
    /// `InvalidArgument` unless `prior_var` and every `s2_k` are positive and finite and every
    /// `m_k` is finite.
    pub fn new(prior_var: T, m: [T; K], s2: [T; K]) -> Result<Self, Error> {
        const { assert!(K > 0) }
        if !(prior_var > T::zero() && prior_var.finite()) {
            return Err(Error::InvalidArgument { what: "cavi: prior variance must be positive" });
        }
        if !m.iter().all(|v| v.finite()) || !s2.iter().all(|&v| v > T::zero() && v.finite()) {
            return Err(Error::InvalidArgument { what: "cavi: bad initial m or s2" });
        }
        Ok(Self { m, s2, prior_var })
    }

    /// Variational means `m_k`.
    pub fn means(&self) -> &[T; K] {
        &self.m
    }

    /// Variational variances `s_k²`.
    pub fn variances(&self) -> &[T; K] {
        &self.s2
    }

    /// Prior variance `σ²`.
    pub fn prior_var(&self) -> T {
        self.prior_var
    }

    fn check(y: &[T], phi: &[[T; K]]) -> Result<(), Error> {
        if y.is_empty() || y.len() != phi.len() {
            return Err(Error::InvalidArgument { what: "cavi: y empty or phi length differs" });
        }
        if y.iter().all(|v| v.finite()) {
            Ok(())
        } else {
            Err(Error::InvalidArgument { what: "cavi: non-finite data" })
        }
    }

    /// The `φ` half-sweep: every row of `phi` set to [`responsibilities`] of its `y_n`.
    ///
    /// # Errors
    /// `InvalidArgument` if `y` is empty, `phi.len() != y.len()`, or a value is not finite.
    pub fn update_assignments(&self, y: &[T], phi: &mut [[T; K]]) -> Result<(), Error> {
        Self::check(y, phi)?;
        for (row, &yn) in phi.iter_mut().zip(y) {
            responsibilities(&self.m, &self.s2, yn, row)?;
        }
        Ok(())
    }

    /// The `(m, s²)` half-sweep: `s_k² = 1/(1/σ² + Σ_n φ_nk)`, `m_k = s_k² Σ_n φ_nk y_n`.
    ///
    /// # Errors
    /// As [`Self::update_assignments`]; the state is unchanged on error.
    pub fn update_means(&mut self, y: &[T], phi: &[[T; K]]) -> Result<(), Error> {
        Self::check(y, phi)?;
        let mut nk = [T::zero(); K];
        let mut sy = [T::zero(); K];
        for (row, &yn) in phi.iter().zip(y) {
            for ((a, b), &p) in nk.iter_mut().zip(sy.iter_mut()).zip(row) {
                *a += p;
                *b += p * yn;
            }
        }
        let mut m = self.m;
        let mut s2 = self.s2;
        for (((mk, sk), &a), &b) in m.iter_mut().zip(s2.iter_mut()).zip(&nk).zip(&sy) {
            *sk = T::one() / (T::one() / self.prior_var + a);
            *mk = *sk * b;
        }
        if !(m.iter().all(|v| v.finite()) && s2.iter().all(|&v| v > T::zero() && v.finite())) {
            return Err(Error::InvalidArgument { what: "cavi: non-finite responsibilities" });
        }
        self.m = m;
        self.s2 = s2;
        Ok(())
    }

    /// The ELBO of the module docs at the current `(m, s²)` and the given `φ`.
    ///
    /// # Errors
    /// As [`Self::update_assignments`].
    pub fn elbo(&self, y: &[T], phi: &[[T; K]]) -> Result<T, Error> {
        Self::check(y, phi)?;
        let half = T::of(0.5);
        let ln2pi = T::of(LN_2PI);
        let mut e = T::zero();
        for (&mk, &sk) in self.m.iter().zip(&self.s2) {
            e += -half * (ln2pi + self.prior_var.ln()) - (sk + mk * mk) / (T::of(2.0) * self.prior_var);
            e += half * (ln2pi + sk.ln()) + half;
        }
        e -= T::of(y.len() as f64) * T::of(K as f64).ln();
        for (row, &yn) in phi.iter().zip(y) {
            for ((&p, &mk), &sk) in row.iter().zip(&self.m).zip(&self.s2) {
                if p > T::zero() {
                    let ll = -half * ln2pi - half * (yn * yn - T::of(2.0) * yn * mk + sk + mk * mk);
                    e += p * (ll - p.ln());
                }
            }
        }
        if e.finite() { Ok(e) } else { Err(Error::InvalidArgument { what: "cavi: non-finite ELBO" }) }
    }

    /// One sweep (all `φ`, then all `(m, s²)`); returns the ELBO after each half-sweep.
    ///
    /// # Errors
    /// As [`Self::update_assignments`].
    pub fn sweep(&mut self, y: &[T], phi: &mut [[T; K]]) -> Result<(T, T), Error> {
        self.update_assignments(y, phi)?;
        let a = self.elbo(y, phi)?;
        self.update_means(y, phi)?;
        let b = self.elbo(y, phi)?;
        Ok((a, b))
    }

    /// Runs at most `max_sweeps` sweeps, stopping early once a sweep raises the ELBO by less
    /// than `tol` (`tol = 0` runs all sweeps). `on_sweep(sweep, elbo_after_phi, elbo_after_means)`
    /// is called after each sweep. Verifies that the ELBO never decreases (by more than
    /// `max(1e−12, 100 ε_T)·|ELBO|`, rounding) across half-sweeps.
    ///
    /// # Errors
    /// As [`Self::update_assignments`]; `InvalidArgument` if the ELBO decreases (which exact
    /// coordinate ascent cannot do, so it means corrupted input) or `tol` is negative or NaN.
    pub fn run<F: FnMut(usize, T, T)>(
        &mut self,
        y: &[T],
        phi: &mut [[T; K]],
        max_sweeps: usize,
        tol: T,
        mut on_sweep: F,
    ) -> Result<CaviSummary<T>, Error> {
        if !(tol >= T::zero()) {
            return Err(Error::InvalidArgument { what: "cavi: tol must be >= 0" });
        }
        let slack = T::of(1e-12).max(T::default_epsilon() * T::of(100.0));
        let mut prev: Option<T> = None;
        let mut summary = CaviSummary { sweeps: 0, elbo: T::NEG_INF, converged: false };
        for sweep in 0..max_sweeps {
            let (a, b) = self.sweep(y, phi)?;
            on_sweep(sweep, a, b);
            let mut last = prev;
            for e in [a, b] {
                if let Some(p) = last
                    && e - p < -slack * e.abs()
                {
                    return Err(Error::InvalidArgument { what: "cavi: ELBO decreased" });
                }
                last = Some(e);
            }
            summary = CaviSummary { sweeps: sweep + 1, elbo: b, converged: false };
            if let Some(p) = prev
                && tol > T::zero()
                && b - p < tol
            {
                summary.converged = true;
                return Ok(summary);
            }
            prev = Some(b);
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Y: [f64; 8] = [-3.1, -2.7, -3.4, -2.2, 2.9, 3.3, 2.6, 0.2];

    #[test]
    fn cavi1_first_sweep_and_elbo_trace() {
        let mut c = MixtureCavi::new(5.0, [-1.0, 1.0], [1.0, 1.0]).unwrap();
        let mut phi = [[0.0; 2]; 8];
        c.update_assignments(&Y, &mut phi).unwrap();
        let want = [
            0.9979746796,
            0.9955037268,
            0.998887464,
            0.987871565,
            0.0030184163,
            0.00135852,
            0.0054862989,
            0.4013123399,
        ];
        for (row, w) in phi.iter().zip(want) {
            assert!((row[0] - w).abs() < 1e-9, "{} vs {w}", row[0]);
            assert!((row[0] + row[1] - 1.0).abs() < 1e-15);
        }
        c.update_means(&Y, &phi).unwrap();
        assert!((c.means()[0] + 2.4487784035).abs() < 1e-9 && (c.means()[1] - 2.3219511714).abs() < 1e-9);
        assert!((c.variances()[0] - 0.2177978757).abs() < 1e-9);
        assert!((c.variances()[1] - 0.2625645686).abs() < 1e-9);

        let want = [
            -30.6633750158,
            -20.7476471114,
            -20.4912233034,
            -20.4506637479,
            -20.4330045712,
            -20.425685786,
            -20.4230807061,
            -20.4221924629,
        ];
        let mut c = MixtureCavi::new(5.0, [-1.0, 1.0], [1.0, 1.0]).unwrap();
        let mut got = [0.0; 8];
        c.run(&Y, &mut phi, 4, 0.0, |i, a, b| {
            got[2 * i] = a;
            got[2 * i + 1] = b;
        })
        .unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-8, "{g} vs {w}");
        }
    }

    #[test]
    fn cavi1_converged_monotone_and_label_switching() {
        let mut phi = [[0.0; 2]; 8];
        let mut c = MixtureCavi::new(5.0, [-1.0, 1.0], [1.0, 1.0]).unwrap();
        let mut prev = f64::NEG_INFINITY;
        let s = c
            .run(&Y, &mut phi, 100, 0.0, |_, a, b| {
                assert!(a - prev >= -1e-12 * a.abs() && b - a >= -1e-12 * b.abs());
                prev = b;
            })
            .unwrap();
        assert_eq!(s.sweeps, 100);
        extern crate std;
        std::println!("CAVI1: ELBO {}, m {:?}, s2 {:?}", s.elbo, c.means(), c.variances());
        assert!((s.elbo + 20.4217812639).abs() < 1e-7, "{}", s.elbo);
        let (m, s2) = (*c.means(), *c.variances());
        assert!((m[0] + 2.6348017583).abs() < 1e-7 && (m[1] - 2.1988243322).abs() < 1e-7);
        assert!((s2[0] - 0.2316050446).abs() < 1e-7 && (s2[1] - 0.2449596638).abs() < 1e-7);

        let mut c2 = MixtureCavi::new(5.0, [1.0, -1.0], [1.0, 1.0]).unwrap();
        let s2r = c2.run(&Y, &mut phi, 100, 0.0, |_, _, _| {}).unwrap();
        assert!((s2r.elbo - s.elbo).abs() < 1e-10);
        assert!((c2.means()[0] - m[1]).abs() < 1e-9 && (c2.means()[1] - m[0]).abs() < 1e-9);
        assert!((c2.variances()[0] - s2[1]).abs() < 1e-9);

        // Early stop with a tolerance; f32 runs too.
        let mut c3 = MixtureCavi::new(5.0, [-1.0, 1.0], [1.0, 1.0]).unwrap();
        let r = c3.run(&Y, &mut phi, 1000, 1e-10, |_, _, _| {}).unwrap();
        assert!(r.converged && r.sweeps < 1000);
        let yf = Y.map(|v| v as f32);
        let mut pf = [[0.0f32; 2]; 8];
        let mut cf = MixtureCavi::new(5.0f32, [-1.0, 1.0], [1.0, 1.0]).unwrap();
        let rf = cf.run(&yf, &mut pf, 100, 0.0, |_, _, _| {}).unwrap();
        assert!((rf.elbo as f64 + 20.4217812639).abs() < 1e-3);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(MixtureCavi::new(0.0, [0.0; 2], [1.0; 2]).is_err());
        assert!(MixtureCavi::new(1.0, [f64::NAN, 0.0], [1.0; 2]).is_err());
        assert!(MixtureCavi::new(1.0, [0.0; 2], [0.0, 1.0]).is_err());
        let mut c = MixtureCavi::new(5.0, [-1.0, 1.0], [1.0, 1.0]).unwrap();
        let mut phi = [[0.0; 2]; 3];
        assert!(c.sweep(&Y, &mut phi).is_err());
        assert!(c.sweep(&[], &mut []).is_err());
        assert!(c.sweep(&[f64::NAN, 0.0, 1.0], &mut phi).is_err());
        assert!(c.run(&[0.0, 0.0, 1.0], &mut phi, 3, f64::NAN, |_, _, _| {}).is_err());
        // Unchanged after the failures.
        assert_eq!(c.means(), &[-1.0, 1.0]);
    }
}

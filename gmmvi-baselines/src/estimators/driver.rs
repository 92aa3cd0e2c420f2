//! One driver for the gradient-based baselines: the same `step()` /
//! [`StopRule`] / [`StepReport`] contract as the GMM [`gmmvi::Optimizer`], so a caller (the
//! benchmark runner, a control loop) runs ADVI, IWAE or VR exactly like SAMTRUX.
//!
//! One iteration draws `S` base-noise vectors `ε_s` from the driver's own generator, evaluates
//! the target (value and gradient) at `x_s = r(λ, ε_s)`, forms the gradient of the chosen
//! [`Objective`] with the estimators of this module tree and applies one step of the
//! [`Optimiser`] (ascent) to `λ`:
//!
//! | objective | estimator | reported value |
//! |---|---|---|
//! | [`Objective::Elbo`] | pathwise, analytic entropy (`docs/estimators.md` §3.1) | ELBO estimate |
//! | [`Objective::ElboStl`] | pathwise, sticking the landing (§3.3) | ELBO estimate |
//! | [`Objective::Iwae`] | importance-weighted pathwise (§5), `S/k` groups of `k` | `L̂_k` (mean over groups) |
//! | [`Objective::Renyi`] | VR-α pathwise (§8), groups of `k` | `L̂_{α,k}` (mean over groups) |
//!
//! Samples whose target value or gradient is not finite are dropped (with their whole group
//! for the grouped objectives); if none is left the step is an error and `λ` is unchanged. A
//! step whose result leaves the family's domain (e.g. a non-positive Cholesky diagonal) is
//! rejected the same way, so the family never holds a NaN.
//!
//! ```
//! use gmmvi_baselines::estimators::driver::{GradientVi, Objective};
//! use gmmvi_baselines::families::MeanFieldGaussian;
//! use gmmvi_baselines::optim::Adam;
//! use gmmvi::StopRule;
//! use gmmvi_targets::GaussianMixtureTarget;
//! use nalgebra::{SMatrix, SVector};
//!
//! // A 2-D Gaussian target N((1, -1), diag(4, 0.25)), log Z = 0.
//! let cov = SMatrix::<f64, 2, 2>::from_diagonal(&SVector::from([4.0, 0.25]));
//! let mut target = GaussianMixtureTarget::<f64, 2, 1>::new(&[1.0], &[SVector::from([1.0, -1.0])], &[cov])?;
//! // ADVI (mean field): S = 16 samples per step, P = 4 parameters (μ, log σ).
//! let mut vi = GradientVi::<f64, _, _, 2, 16, 4>::new(
//!     MeanFieldGaussian::standard(),
//!     Adam::<f64, 4>::with_step(0.01)?,
//!     Objective::Elbo,
//!     1,
//! )?;
//! vi.run(&mut target, &StopRule::iterations(3000), |_| {})?;
//! let q = vi.family();
//! assert!((q.mean()[0] - 1.0).abs() < 0.15 && (q.std()[1] - 0.5).abs() < 0.1);
//! # Ok::<(), gmmvi::Error>(())
//! ```

use gmmvi::error::Error;
use gmmvi::optimizer::{RunSummary, StepReport, StopRule};
use gmmvi::real::Real;
use gmmvi::rng::Xoshiro256;
use gmmvi::target::{TARGET_BLOCK, Target};
use nalgebra::SVector;

use super::{iwae, renyi, reparam};
use crate::families::AnalyticEntropy;
use crate::optim::Optimiser;

/// The objective whose gradient the driver follows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Objective<T> {
    /// The ELBO, pathwise with the analytic entropy (ADVI; §3.1).
    Elbo,
    /// The ELBO, pathwise "sticking the landing" (§3.3).
    ElboStl,
    /// The importance-weighted bound with `k` samples per group (`S` a multiple of `k`; §5).
    Iwae {
        /// Samples per group.
        k: usize,
    },
    /// The Rényi bound of order `alpha` with `k` samples per group (§8).
    Renyi {
        /// Order α (`1` is the ELBO, `0` the IWAE bound).
        alpha: T,
        /// Samples per group.
        k: usize,
    },
}

/// A gradient-based VI method: family `F`, optimiser `O`, `S` samples per step, `P` parameters
/// (`P` must equal `F::num_params()`); all buffers inline.
#[derive(Clone, Debug)]
pub struct GradientVi<T: Real, F, O, const D: usize, const S: usize, const P: usize> {
    family: F,
    opt: O,
    objective: Objective<T>,
    rng: Xoshiro256,
    iteration: u64,
    evaluations: u64,
    eps: [SVector<T, D>; S],
    x: [SVector<T, D>; S],
    log_p: [T; S],
    grad_p: [SVector<T, D>; S],
    /// Per-sample total derivatives `∇_λ ℓ_s` (grouped objectives).
    dl: [[T; P]; S],
    l: [T; S],
    grad: [T; P],
    params: [T; P],
}

impl<T: Real, F: AnalyticEntropy<T, D>, O: Optimiser<T> + Clone, const D: usize, const S: usize, const P: usize>
    GradientVi<T, F, O, D, S, P>
{
    /// A driver starting at `family`'s parameters, deterministic in `seed`.
    ///
    /// # Errors
    /// `InvalidConfig` if `P` differs from the family's parameter count, `S == 0`, or a group
    /// size `k` is 0 or does not divide `S`.
    pub fn new(family: F, opt: O, objective: Objective<T>, seed: u64) -> Result<Self, Error> {
        if family.num_params() != P {
            return Err(Error::InvalidConfig { field: "P (must equal the family's parameter count)" });
        }
        if S == 0 {
            return Err(Error::InvalidConfig { field: "S (samples per step must be positive)" });
        }
        match objective {
            Objective::Iwae { k } | Objective::Renyi { k, .. } if k == 0 || !S.is_multiple_of(k) => {
                return Err(Error::InvalidConfig { field: "objective.k (must divide S)" });
            }
            Objective::Renyi { alpha, .. } if alpha.is_nan_like() => {
                return Err(Error::InvalidConfig { field: "objective.alpha" });
            }
            _ => {}
        }
        let mut params = [T::zero(); P];
        family.params(&mut params)?;
        Ok(Self {
            family,
            opt,
            objective,
            rng: Xoshiro256::seed_from_u64(seed),
            iteration: 0,
            evaluations: 0,
            eps: [SVector::zeros(); S],
            x: [SVector::zeros(); S],
            log_p: [T::zero(); S],
            grad_p: [SVector::zeros(); S],
            dl: [[T::zero(); P]; S],
            l: [T::zero(); S],
            grad: [T::zero(); P],
            params,
        })
    }

    /// The current variational distribution.
    pub fn family(&self) -> &F {
        &self.family
    }

    /// Completed iterations.
    pub fn iterations(&self) -> u64 {
        self.iteration
    }

    /// Target evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// One iteration: `S` target evaluations, one optimiser step. On error the family and the
    /// optimiser state are unchanged.
    ///
    /// # Errors
    /// `TargetFailed` if the target fails; `NonFiniteTarget` if no (group of) sample(s) has a
    /// finite value and gradient; `InvalidArgument` if the step would leave the family's domain
    /// or the estimate is not finite.
    pub fn step<Q: Target<T, D> + ?Sized>(&mut self, target: &mut Q) -> Result<StepReport<T>, Error> {
        self.family.sample_noise(&mut self.rng, &mut self.eps);
        for (x, e) in self.x.iter_mut().zip(&self.eps) {
            *x = self.family.reparam(e);
        }
        let blocks = self.x.chunks(TARGET_BLOCK).zip(self.log_p.chunks_mut(TARGET_BLOCK));
        for ((x, lp), gp) in blocks.zip(self.grad_p.chunks_mut(TARGET_BLOCK)) {
            target.log_density_with_grad(x, lp, gp)?;
        }
        self.evaluations = self.evaluations.saturating_add(S as u64);
        let group = match self.objective {
            Objective::Elbo | Objective::ElboStl => 1,
            Objective::Iwae { k } | Objective::Renyi { k, .. } => k,
        };
        let n = self.keep_finite_groups(group);
        let rejected = S - n;
        if n == 0 {
            return Err(Error::NonFiniteTarget);
        }
        let value = self.gradient(n, group)?;
        let mut next = self.params;
        let before = self.opt.clone();
        let applied = self.opt.step(&mut next, &self.grad).and_then(|()| {
            if next.iter().any(|v| !v.finite()) {
                return Err(Error::InvalidArgument { what: "non-finite parameters after the step" });
            }
            self.family.set_params(&next)
        });
        if let Err(e) = applied {
            // Keep the optimiser's moments consistent with the unchanged parameters.
            self.opt = before;
            return Err(e);
        }
        self.params = next;
        self.iteration += 1;
        Ok(StepReport {
            iteration: self.iteration,
            evaluations: self.evaluations,
            new_evaluations: S,
            rejected_samples: rejected,
            working_set: n,
            components: 1,
            elbo_estimate: value,
            rejected_updates: 0,
            weights_frozen: false,
            added: 0,
            deleted: 0,
        })
    }

    /// Steps until the first rule of `rule` is met (as [`gmmvi::Optimizer::run`]); `report`
    /// sees every step.
    ///
    /// # Errors
    /// The first failing step's error.
    pub fn run<Q: Target<T, D> + ?Sized, R: FnMut(&StepReport<T>)>(
        &mut self,
        target: &mut Q,
        rule: &StopRule<T>,
        report: R,
    ) -> Result<RunSummary<T>, Error> {
        super::baselines::run_loop(rule, self.evaluations, true, || self.step(target), report)
    }

    /// Moves the groups of `group` samples whose values and gradients are all finite to the
    /// front; returns the number of samples kept.
    fn keep_finite_groups(&mut self, group: usize) -> usize {
        let mut kept = 0;
        for start in (0..S).step_by(group.max(1)) {
            let end = (start + group).min(S);
            let ok = (start..end).all(|s| self.log_p[s].finite() && self.grad_p[s].iter().all(|g| g.finite()));
            if ok {
                for s in start..end {
                    self.eps[kept] = self.eps[s];
                    self.x[kept] = self.x[s];
                    self.log_p[kept] = self.log_p[s];
                    self.grad_p[kept] = self.grad_p[s];
                    kept += 1;
                }
            }
        }
        kept
    }

    /// The objective's gradient over the first `n` samples into `self.grad`; its value.
    fn gradient(&mut self, n: usize, group: usize) -> Result<T, Error> {
        let (eps, lp, gp) = (&self.eps[..n], &self.log_p[..n], &self.grad_p[..n]);
        match self.objective {
            Objective::Elbo => reparam::pathwise_grad(&self.family, eps, lp, gp, &mut self.grad),
            Objective::ElboStl => reparam::pathwise_grad_stl(&self.family, eps, lp, gp, &mut self.grad),
            Objective::Iwae { .. } | Objective::Renyi { .. } => {
                // Per-sample log weights and total derivatives ∇_λ ℓ = Jᵀ gp − d/dλ log q.
                for s in 0..n {
                    let f = &self.family;
                    self.l[s] = lp[s] - f.log_q(&self.x[s]);
                    let d = &mut self.dl[s];
                    d.fill(T::zero());
                    f.vjp_acc(&eps[s], &gp[s], d);
                    f.log_q_total_grad_acc(&eps[s], -T::one(), d);
                }
                self.grad.fill(T::zero());
                let mut g = [T::zero(); P];
                let mut value = T::zero();
                let groups = n / group.max(1);
                for j in 0..groups {
                    let r = j * group..(j + 1) * group;
                    let (l, dl) = (&self.l[r.clone()], &self.dl[r]);
                    value += match self.objective {
                        Objective::Renyi { alpha, .. } => renyi::gradient(l, alpha, dl, &mut g)?,
                        _ => iwae::gradient(l, dl, &mut g)?,
                    };
                    for (a, b) in self.grad.iter_mut().zip(&g) {
                        *a += *b;
                    }
                }
                let inv = T::one() / T::of(groups as f64);
                for a in &mut self.grad {
                    *a *= inv;
                }
                Ok(value * inv)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::SMatrix;

    use super::*;
    use crate::families::{Family, FullRankGaussian, LogCholeskyGaussian, MeanFieldGaussian};
    use crate::optim::Adam;
    use gmmvi::optimizer::StopReason;
    use gmmvi_targets::GaussianMixtureTarget;

    /// TP2 of docs/estimators.md §16: `N((1, −1), [[2, 0.6], [0.6, 1]])`, log Z = 0.
    fn tp2() -> GaussianMixtureTarget<f64, 2, 1> {
        let cov = SMatrix::<f64, 2, 2>::new(2.0, 0.6, 0.6, 1.0);
        GaussianMixtureTarget::new(&[1.0], &[SVector::from([1.0, -1.0])], &[cov]).unwrap()
    }

    /// Monte-Carlo ELBO of `q` with 20 000 samples.
    fn elbo<F: Family<f64, 2>>(q: &F, t: &mut GaussianMixtureTarget<f64, 2, 1>) -> f64 {
        let mut rng = Xoshiro256::seed_from_u64(99);
        let mut eps = [SVector::<f64, 2>::zeros(); 500];
        let (mut sum, mut n) = (0.0, 0.0);
        for _ in 0..40 {
            q.sample_noise(&mut rng, &mut eps);
            let xs = eps.map(|e| q.reparam(&e));
            let mut lp = [0.0; 500];
            for (x, l) in xs.chunks(TARGET_BLOCK).zip(lp.chunks_mut(TARGET_BLOCK)) {
                t.log_density(x, l).unwrap();
            }
            for (x, l) in xs.iter().zip(lp) {
                sum += l - q.log_q(x);
                n += 1.0;
            }
        }
        sum / n
    }

    fn fit<F: AnalyticEntropy<f64, 2> + Clone, const P: usize>(family: F, objective: Objective<f64>) -> (F, f64) {
        let mut t = tp2();
        let mut q = family;
        // A constant Adam step, then a ten times smaller one to settle the noise.
        for (alpha, seed) in [(0.02, 3), (0.002, 4)] {
            let opt = Adam::<f64, P>::with_step(alpha).unwrap();
            let mut vi = GradientVi::<f64, F, _, 2, 16, P>::new(q, opt, objective, seed).unwrap();
            let s = vi.run(&mut t, &StopRule::iterations(2000), |_| {}).unwrap();
            assert_eq!(s.reason, StopReason::MaxIterations);
            assert_eq!(vi.evaluations(), 2000 * 16);
            q = vi.family().clone();
        }
        let e = elbo(&q, &mut t);
        (q, e)
    }

    #[test]
    fn every_objective_converges_on_tp2() {
        // Full rank, raw and log-Cholesky: the ELBO reaches log Z = 0.
        for obj in
            [Objective::Elbo, Objective::ElboStl, Objective::Iwae { k: 4 }, Objective::Renyi { alpha: 0.5, k: 4 }]
        {
            // The grouped objectives' gradients are noisier at a constant step (§5's SNR note).
            let tol = if matches!(obj, Objective::Elbo | Objective::ElboStl) { 0.15 } else { 0.3 };
            let (q, e) = fit::<_, 5>(FullRankGaussian::<f64, 2>::standard(), obj);
            assert!(e > -0.05 && e <= 0.01, "{obj:?}: ELBO {e} mean {:?} chol {:?}", q.mean(), q.chol());
            assert!((q.mean() - SVector::from([1.0, -1.0])).abs().max() < tol, "{obj:?}: mean {:?} ELBO {e}", q.mean());
            let (q, e) = fit::<_, 5>(LogCholeskyGaussian::<f64, 2>::standard(), obj);
            assert!(e > -0.05 && e <= 0.01, "log-Cholesky {obj:?}: ELBO {e} mean {:?} chol {:?}", q.mean(), q.chol());
            assert!((q.mean() - SVector::from([1.0, -1.0])).abs().max() < tol, "log-Cholesky {obj:?}: {:?}", q.mean());
            // Σ = L Lᵀ near Σ_p = [[2, 0.6], [0.6, 1]].
            let err = (q.covariance() - SMatrix::<f64, 2, 2>::new(2.0, 0.6, 0.6, 1.0)).abs().max();
            assert!(err < 0.5, "log-Cholesky {obj:?}: covariance {:?}", q.covariance());
        }
        // Mean field: the best diagonal q has ELBO −0.0992 (the mean-field gap).
        let (q, e) = fit::<_, 4>(MeanFieldGaussian::<f64, 2>::standard(), Objective::Elbo);
        assert!((e + 0.099_225_469_361_919_12).abs() < 0.05, "ELBO {e}");
        assert!(
            (q.std()[0] - 1.64f64.sqrt()).abs() < 0.1 && (q.std()[1] - 0.82f64.sqrt()).abs() < 0.1,
            "{:?} {e}",
            q.std()
        );
    }

    /// The planar robots' failure mode: a posterior scale (0.01) far below the initial
    /// σ = 0.05 and Adam's step 0.01. The raw Cholesky diagonal is pushed across 0 (ELBO: within
    /// a few steps) and the step is rejected; the log-Cholesky family moves freely and fits the
    /// target with every objective.
    #[test]
    fn small_scales_need_the_log_cholesky_diagonal() {
        let cov = SMatrix::<f64, 2, 2>::new(1e-4, 0.5e-4, 0.5e-4, 1e-4);
        let mut t = GaussianMixtureTarget::<f64, 2, 1>::new(&[1.0], &[SVector::from([0.02, -0.01])], &[cov]).unwrap();
        let chol = SMatrix::<f64, 2, 2>::identity() * 0.05;
        for obj in [Objective::Elbo, Objective::Iwae { k: 4 }, Objective::Renyi { alpha: 0.5, k: 4 }] {
            if obj == Objective::Elbo {
                let raw = FullRankGaussian::new(SVector::zeros(), chol).unwrap();
                let opt = Adam::<f64, 5>::with_step(0.01).unwrap();
                let mut vi = GradientVi::<f64, _, _, 2, 16, 5>::new(raw, opt, obj, 5).unwrap();
                let failed = (0..500).map(|_| vi.step(&mut t)).find_map(Result::err);
                assert!(matches!(failed, Some(Error::InvalidArgument { .. })), "{obj:?}: {failed:?}");
            }

            let q = LogCholeskyGaussian::new(SVector::zeros(), chol).unwrap();
            let e0 = elbo(&q, &mut t);
            // Adam's step 0.01 (the benchmark's), then 0.001 to settle the off-diagonal entry,
            // whose noise ball at the larger step is as large as L_21 = 0.005 itself. Every step is
            // accepted (`run` stops at the first error).
            let mut q = q;
            for (alpha, seed) in [(0.01, 5), (0.001, 6)] {
                let opt = Adam::<f64, 5>::with_step(alpha).unwrap();
                let mut vi = GradientVi::<f64, _, _, 2, 16, 5>::new(q, opt, obj, seed).unwrap();
                let s = vi.run(&mut t, &StopRule::iterations(3000), |_| {}).unwrap();
                assert_eq!(s.reason, StopReason::MaxIterations);
                q = *vi.family();
            }
            let q = &q;
            let e = elbo(q, &mut t);
            // The grouped objectives' gradients are noisier (§5's SNR note).
            let tol = if obj == Objective::Elbo { 0.1 } else { 0.2 };
            assert!(e0 < -20.0 && e > -tol && e <= 0.02, "{obj:?}: ELBO {e0} -> {e}, chol {:?}", q.chol());
            let (l11, l22) = (q.chol()[(0, 0)], q.chol()[(1, 1)]);
            assert!(
                (l11 / 0.01 - 1.0).abs() < 0.25 && (l22 / 0.0075f64.sqrt() / 0.1 - 1.0).abs() < 0.25,
                "{l11} {l22}"
            );
            assert!((q.mean() - SVector::from([0.02, -0.01])).abs().max() < 0.005, "{obj:?}: mean {:?}", q.mean());
        }
    }

    /// A target that is NaN on a tenth of the plane and fails on request.
    struct Flaky {
        inner: GaussianMixtureTarget<f64, 2, 1>,
        fail: bool,
    }

    impl Target<f64, 2> for Flaky {
        fn log_density(&mut self, x: &[SVector<f64, 2>], lp: &mut [f64]) -> Result<(), gmmvi::TargetError> {
            self.inner.log_density(x, lp)
        }
        fn log_density_with_grad(
            &mut self,
            x: &[SVector<f64, 2>],
            lp: &mut [f64],
            g: &mut [SVector<f64, 2>],
        ) -> Result<(), gmmvi::TargetError> {
            if self.fail {
                return Err(gmmvi::TargetError { code: 7 });
            }
            self.inner.log_density_with_grad(x, lp, g)?;
            for (xi, l) in x.iter().zip(lp) {
                if (xi[0] * 10.0).rem_euclid(1.0) < 0.1 {
                    *l = f64::NAN;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn bad_samples_are_dropped_and_errors_keep_the_family() {
        let opt = Adam::<f64, 4>::with_step(0.02).unwrap();
        let mut t = Flaky { inner: tp2(), fail: false };
        let mut vi =
            GradientVi::<f64, _, _, 2, 16, 4>::new(MeanFieldGaussian::standard(), opt, Objective::Elbo, 1).unwrap();
        let mut rejected = 0;
        vi.run(&mut t, &StopRule::iterations(2000), |r| rejected += r.rejected_samples).unwrap();
        assert!(rejected > 1000, "{rejected}");
        assert!((vi.family().mean() - SVector::from([1.0, -1.0])).abs().max() < 0.15);
        let before = *vi.family().mean();
        t.fail = true;
        assert_eq!(vi.step(&mut t).map(|_| ()), Err(Error::TargetFailed(gmmvi::TargetError { code: 7 })));
        assert_eq!(*vi.family().mean(), before);
    }

    #[test]
    fn invalid_sizes_are_config_errors() {
        let q = MeanFieldGaussian::<f64, 2>::standard();
        let bad_p = GradientVi::<f64, _, _, 2, 16, 5>::new(q, Adam::<f64, 5>::with_defaults(), Objective::Elbo, 0);
        assert!(matches!(bad_p.map(|_| ()), Err(Error::InvalidConfig { .. })));
        let bad_k =
            GradientVi::<f64, _, _, 2, 16, 4>::new(q, Adam::<f64, 4>::with_defaults(), Objective::Iwae { k: 3 }, 0);
        assert!(matches!(bad_k.map(|_| ()), Err(Error::InvalidConfig { .. })));
    }
}

//! SVGD and planar-flow drivers with the contract of [`super::driver::GradientVi`] and the GMM
//! [`gmmvi::Optimizer`]: `new(…, seed)`, `step(target)` →
//! [`StepReport`], `run(target, &StopRule, report)` → [`RunSummary`], `iterations()`,
//! `evaluations()`, and sampling from the fitted approximation into a caller slice.
//!
//! * [`SvgdVi`] (`docs/estimators.md` §12): `N` particles; one step evaluates `log p~` and
//!   `∇log p~` at every particle (`N` evaluations), forms the Stein direction
//!   `φ(x_i) = (1/N) Σ_j [k(x_j, x_i) ∇log p~(x_j) + ∇_{x_j} k(x_j, x_i)]` (RBF kernel, median or
//!   fixed bandwidth) and moves every particle by one step of a §11 optimiser with `φ` in place
//!   of the gradient (ascent), as §12 allows. Each particle has its own optimiser of `P = D`
//!   parameters; the §11 optimisers are elementwise, so `N` Adam instances are one Adam over all
//!   `N·D` coordinates (Adam is the default: the SVGD paper drives the particles with an
//!   adaptive per-coordinate step too). A particle whose target value or gradient is not finite
//!   enters that step with a zero gradient (only the repulsion acts through it) and is counted
//!   in [`StepReport::rejected_samples`]; if every particle is rejected the step is an error.
//!   Particles carry no density, so [`StepReport::elbo_estimate`] is NaN and
//!   [`SvgdVi::run`] ignores the convergence window of the [`StopRule`] (only the iteration and
//!   evaluation bounds apply). [`StepReport::components`] is `N` (one Dirac per particle).
//! * [`FlowVi`] (§13): a [`PlanarFlow`] trained by the pathwise ELBO gradient and an
//!   [`Optimiser`]: `S` base draws `ε_s ~ N(0, I)` per step, `z_s = f(ε_s)` with `log q(z_s)`
//!   from the forward pass, one batched target call for `(log p~, ∇log p~)`, the gradient of
//!   `mean_s [log p~(z_s) − log q(z_s)]` by [`PlanarFlow::add_elbo_grad`] (the per-sample
//!   kernel of [`PlanarFlow::elbo_and_grad`], called here per sample because the target is
//!   evaluated a block at a time) and one optimiser step. The reported `elbo_estimate` is that
//!   mean. Samples with a non-finite target value or gradient (or a non-finite per-sample
//!   gradient) are dropped; if none is left the step is an error. On any failed step the flow
//!   and the optimiser state are unchanged.
//!
//! ```
//! use gmmvi_baselines::estimators::baselines::SvgdVi;
//! use gmmvi_baselines::estimators::svgd::Bandwidth;
//! use gmmvi_baselines::families::MeanFieldGaussian;
//! use gmmvi_baselines::optim::Adam;
//! use gmmvi::StopRule;
//! use gmmvi_targets::GaussianMixtureTarget;
//! use nalgebra::{SMatrix, SVector};
//!
//! // N((1, −1), diag(1, 1)); 50 particles drawn from N(0, I), Adam step 0.05 per particle.
//! let cov = SMatrix::<f64, 2, 2>::identity();
//! let mut t = GaussianMixtureTarget::<f64, 2, 1>::new(&[1.0], &[SVector::from([1.0, -1.0])], &[cov])?;
//! let init = MeanFieldGaussian::<f64, 2>::standard();
//! let mut vi = SvgdVi::<f64, 50, 2>::new(&init, Bandwidth::Median, Adam::with_step(0.05)?, 7)?;
//! vi.run(&mut t, &StopRule::iterations(300), |_| {})?;
//! let mean = vi.particles().iter().sum::<SVector<f64, 2>>() / 50.0;
//! assert!((mean - SVector::from([1.0, -1.0])).amax() < 0.1);
//! # Ok::<(), gmmvi::Error>(())
//! ```

use gmmvi::error::Error;
use gmmvi::optimizer::{RunSummary, StepReport, StopReason, StopRule};
use gmmvi::real::Real;
use gmmvi::rng::{Xoshiro256, fill_standard_normal, uniform};
use gmmvi::target::{TARGET_BLOCK, Target};
use nalgebra::SVector;
use rand_core::Rng;

use super::svgd::{Bandwidth, median_bandwidth, stein_direction};
use crate::families::Family;
use crate::families::planar::PlanarFlow;
use crate::optim::{Adam, Optimiser};

/// The loop of `run` shared by every driver of this module tree (as [`gmmvi::Optimizer::run`]); `evals` is the
/// driver's evaluation count before the first step, `window` whether the convergence window of
/// `rule` applies.
pub(super) fn run_loop<T: Real>(
    rule: &StopRule<T>,
    mut evals: u64,
    window: bool,
    mut step: impl FnMut() -> Result<StepReport<T>, Error>,
    mut report: impl FnMut(&StepReport<T>),
) -> Result<RunSummary<T>, Error> {
    let mut last = None;
    let mut best = T::NEG_INF;
    let mut since_best = 0u64;
    for _ in 0..rule.max_iterations {
        if evals >= rule.max_evaluations {
            return Ok(RunSummary { reason: StopReason::MaxEvaluations, last });
        }
        let r = step()?;
        evals = r.evaluations;
        report(&r);
        last = Some(r);
        if window && rule.window > 0 {
            if r.elbo_estimate > best + rule.tolerance {
                best = r.elbo_estimate;
                since_best = 0;
            } else {
                since_best += 1;
                if since_best >= rule.window {
                    return Ok(RunSummary { reason: StopReason::Converged, last });
                }
            }
        }
    }
    let reason = if evals >= rule.max_evaluations { StopReason::MaxEvaluations } else { StopReason::MaxIterations };
    Ok(RunSummary { reason, last })
}

fn all_finite<T: Real, const D: usize>(v: &SVector<T, D>) -> bool {
    v.iter().all(|x| x.finite())
}

/// SVGD (§12) as a driver: `N` particles in `R^D`, each moved by its own optimiser `O` of
/// `P = D` parameters (default [`Adam`]); all buffers inline (the median scratch is `N×N`).
#[derive(Clone, Debug)]
pub struct SvgdVi<T: Real, const N: usize, const D: usize, O = Adam<T, D>> {
    particles: [SVector<T, D>; N],
    opts: [O; N],
    bandwidth: Bandwidth<T>,
    iteration: u64,
    evaluations: u64,
    last_h: T,
    log_p: [T; N],
    grads: [SVector<T, D>; N],
    phi: [SVector<T, D>; N],
    /// Scratch of the median heuristic (`N² ≥ N(N−1)/2` entries).
    scratch: [[T; N]; N],
}

impl<T: Real, const N: usize, const D: usize, O: Optimiser<T> + Clone> SvgdVi<T, N, D, O> {
    /// `N` particles drawn from `init` (base noise from a generator seeded with `seed`), each
    /// driven by a copy of `opt`.
    ///
    /// # Errors
    /// As [`Self::from_particles`]; `InvalidArgument` if a drawn particle is not finite.
    pub fn new<F: Family<T, D>>(init: &F, bandwidth: Bandwidth<T>, opt: O, seed: u64) -> Result<Self, Error> {
        let mut rng = Xoshiro256::seed_from_u64(seed);
        let mut eps = [SVector::<T, D>::zeros(); N];
        init.sample_noise(&mut rng, &mut eps);
        Self::from_particles(eps.map(|e| init.reparam(&e)), bandwidth, opt)
    }

    /// SVGD from given particles, each driven by a copy of `opt`.
    ///
    /// # Errors
    /// `InvalidConfig` for a fixed bandwidth that is not finite and positive, or an optimiser
    /// whose parameter count is not `D`; `InvalidArgument` for a non-finite particle.
    pub fn from_particles(particles: [SVector<T, D>; N], bandwidth: Bandwidth<T>, opt: O) -> Result<Self, Error> {
        const { assert!(N > 0 && D > 0) }
        if let Bandwidth::Fixed(h) = bandwidth
            && (!(h > T::zero()) || !h.finite())
        {
            return Err(Error::InvalidConfig { field: "bandwidth" });
        }
        // The §11 optimisers reject a parameter slice of the wrong length: probe a copy.
        let mut probe = [T::zero(); D];
        if opt.clone().step(&mut probe, &[T::zero(); D]).is_err() {
            return Err(Error::InvalidConfig { field: "opt (the per-particle optimiser needs P = D parameters)" });
        }
        if !particles.iter().all(all_finite) {
            return Err(Error::InvalidArgument { what: "non-finite particle" });
        }
        Ok(Self {
            particles,
            opts: core::array::from_fn(|_| opt.clone()),
            bandwidth,
            iteration: 0,
            evaluations: 0,
            last_h: T::NAN,
            log_p: [T::zero(); N],
            grads: [SVector::zeros(); N],
            phi: [SVector::zeros(); N],
            scratch: [[T::zero(); N]; N],
        })
    }

    /// The current particles.
    pub fn particles(&self) -> &[SVector<T, D>; N] {
        &self.particles
    }

    /// The kernel bandwidth `h` of the last step (NaN before the first).
    pub fn last_bandwidth(&self) -> T {
        self.last_h
    }

    /// Completed iterations.
    pub fn iterations(&self) -> u64 {
        self.iteration
    }

    /// Target evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// Fills `out` with particles drawn uniformly with replacement (indices from `rng`).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [SVector<T, D>]) {
        for o in out.iter_mut() {
            // uniform < 1, so the index is below N; `min` guards the rounding of N·u.
            let i = ((uniform(rng) * N as f64) as usize).min(N - 1);
            if let Some(p) = self.particles.get(i) {
                *o = *p;
            }
        }
    }

    /// One SVGD step: `N` target evaluations, the Stein direction, one optimiser step per
    /// particle. On error the particles and the optimiser states are unchanged.
    ///
    /// # Errors
    /// `TargetFailed` if the target fails; `NonFiniteTarget` if no particle has a finite value
    /// and gradient; `InvalidArgument` if the bandwidth or a moved particle is not finite.
    pub fn step<Q: Target<T, D> + ?Sized>(&mut self, target: &mut Q) -> Result<StepReport<T>, Error> {
        let blocks = self.particles.chunks(TARGET_BLOCK).zip(self.log_p.chunks_mut(TARGET_BLOCK));
        for ((x, lp), g) in blocks.zip(self.grads.chunks_mut(TARGET_BLOCK)) {
            target.log_density_with_grad(x, lp, g)?;
        }
        self.evaluations = self.evaluations.saturating_add(N as u64);
        let mut rejected = 0;
        for (lp, g) in self.log_p.iter().zip(self.grads.iter_mut()) {
            if !lp.finite() || !all_finite(g) {
                *g = SVector::zeros();
                rejected += 1;
            }
        }
        if rejected == N {
            return Err(Error::NonFiniteTarget);
        }
        let h = match self.bandwidth {
            Bandwidth::Fixed(h) => h,
            Bandwidth::Median => median_bandwidth(&self.particles, self.scratch.as_flattened_mut())?,
        };
        stein_direction(&self.particles, &self.grads, h, &mut self.phi)?;
        let mut next = self.particles;
        let mut opts = self.opts.clone();
        for ((x, p), o) in next.iter_mut().zip(&self.phi).zip(opts.iter_mut()) {
            o.step(x.as_mut_slice(), p.as_slice())?;
            if !all_finite(x) {
                return Err(Error::InvalidArgument { what: "step would give a non-finite particle" });
            }
        }
        self.particles = next;
        self.opts = opts;
        self.last_h = h;
        self.iteration += 1;
        Ok(StepReport {
            iteration: self.iteration,
            evaluations: self.evaluations,
            new_evaluations: N,
            rejected_samples: rejected,
            working_set: N - rejected,
            components: N,
            elbo_estimate: T::NAN,
            rejected_updates: 0,
            weights_frozen: false,
            added: 0,
            deleted: 0,
        })
    }

    /// Steps until the iteration or evaluation bound of `rule` is met (the convergence window
    /// does not apply: the ELBO estimate is NaN); `report` sees every step.
    ///
    /// # Errors
    /// The first failing step's error.
    pub fn run<Q: Target<T, D> + ?Sized, R: FnMut(&StepReport<T>)>(
        &mut self,
        target: &mut Q,
        rule: &StopRule<T>,
        report: R,
    ) -> Result<RunSummary<T>, Error> {
        run_loop(rule, self.evaluations, false, || self.step(target), report)
    }
}

/// A planar flow (§13) trained by its pathwise ELBO gradient: `D` dimensions, `DEPTH`
/// layers, `S` samples per step, `P` parameters (`P` must equal
/// [`PlanarFlow::NUM_PARAMS`] `= 2D + DEPTH·(2D + 1)`), optimiser `O` (default [`Adam`]);
/// all buffers inline.
#[derive(Clone, Debug)]
pub struct FlowVi<T: Real, const D: usize, const DEPTH: usize, const S: usize, const P: usize, O = Adam<T, P>> {
    flow: PlanarFlow<T, D, DEPTH>,
    opt: O,
    rng: Xoshiro256,
    iteration: u64,
    evaluations: u64,
    eps: [SVector<T, D>; S],
    x: [SVector<T, D>; S],
    log_q: [T; S],
    log_p: [T; S],
    grad_p: [SVector<T, D>; S],
    grad: [T; P],
    params: [T; P],
}

impl<T: Real, const D: usize, const DEPTH: usize, const S: usize, const P: usize, O: Optimiser<T> + Clone>
    FlowVi<T, D, DEPTH, S, P, O>
{
    /// A driver starting at `flow`, deterministic in `seed`.
    ///
    /// # Errors
    /// `InvalidConfig` if `P` differs from [`PlanarFlow::NUM_PARAMS`] or `S == 0`.
    pub fn new(flow: PlanarFlow<T, D, DEPTH>, opt: O, seed: u64) -> Result<Self, Error> {
        if P != PlanarFlow::<T, D, DEPTH>::NUM_PARAMS {
            return Err(Error::InvalidConfig { field: "P (must equal PlanarFlow::NUM_PARAMS = 2D + DEPTH(2D + 1))" });
        }
        if S == 0 {
            return Err(Error::InvalidConfig { field: "S (samples per step must be positive)" });
        }
        let mut params = [T::zero(); P];
        flow.params(&mut params)?;
        Ok(Self {
            flow,
            opt,
            rng: Xoshiro256::seed_from_u64(seed),
            iteration: 0,
            evaluations: 0,
            eps: [SVector::zeros(); S],
            x: [SVector::zeros(); S],
            log_q: [T::zero(); S],
            log_p: [T::zero(); S],
            grad_p: [SVector::zeros(); S],
            grad: [T::zero(); P],
            params,
        })
    }

    /// The current flow.
    pub fn flow(&self) -> &PlanarFlow<T, D, DEPTH> {
        &self.flow
    }

    /// Completed iterations.
    pub fn iterations(&self) -> u64 {
        self.iteration
    }

    /// Target evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.evaluations
    }

    /// `log q(y)` of the current flow (by inverting the layers, [`PlanarFlow::log_density`]).
    ///
    /// # Errors
    /// As [`PlanarFlow::log_density`].
    pub fn log_q(&self, y: &SVector<T, D>) -> Result<T, Error> {
        self.flow.log_density(y)
    }

    /// Fills `out` with samples of the current flow (base noise from `rng`) and `log_q` with
    /// their log-densities from the forward pass (cheaper than [`Self::log_q`]).
    ///
    /// # Errors
    /// `BufferTooSmall` if `log_q` is shorter than `out`; as [`PlanarFlow::sample`] otherwise
    /// (the slices are then partly written).
    pub fn sample_with_log_q<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        out: &mut [SVector<T, D>],
        log_q: &mut [T],
    ) -> Result<(), Error> {
        if log_q.len() < out.len() {
            return Err(Error::BufferTooSmall { needed: out.len() });
        }
        for (o, l) in out.iter_mut().zip(log_q.iter_mut()) {
            let mut e = SVector::<T, D>::zeros();
            fill_standard_normal(rng, e.as_mut_slice());
            (*o, *l) = self.flow.sample(&e)?;
        }
        Ok(())
    }

    /// Fills `out` with samples of the current flow (base noise from `rng`).
    ///
    /// # Errors
    /// As [`PlanarFlow::sample`] (`out` is then partly written).
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R, out: &mut [SVector<T, D>]) -> Result<(), Error> {
        for o in out.iter_mut() {
            let mut e = SVector::<T, D>::zeros();
            fill_standard_normal(rng, e.as_mut_slice());
            *o = self.flow.sample(&e)?.0;
        }
        Ok(())
    }

    /// One iteration: `S` flow samples (fewer target evaluations if a sample is numerically
    /// singular), one optimiser step. On error the flow and the optimiser state are unchanged.
    ///
    /// # Errors
    /// `TargetFailed` if the target fails; `NonFiniteTarget` if no sample has a finite value and
    /// gradient; `InvalidArgument` if the step would leave the flow non-finite.
    pub fn step<Q: Target<T, D> + ?Sized>(&mut self, target: &mut Q) -> Result<StepReport<T>, Error> {
        for e in self.eps.iter_mut() {
            fill_standard_normal(&mut self.rng, e.as_mut_slice());
        }
        // Forward pass; a numerically singular sample is dropped before the target sees it.
        let mut n = 0;
        for s in 0..S {
            if let Ok((z, lq)) = self.flow.sample(&self.eps[s]) {
                self.eps[n] = self.eps[s];
                self.x[n] = z;
                self.log_q[n] = lq;
                n += 1;
            }
        }
        let blocks = self.x[..n].chunks(TARGET_BLOCK).zip(self.log_p[..n].chunks_mut(TARGET_BLOCK));
        for ((x, lp), gp) in blocks.zip(self.grad_p[..n].chunks_mut(TARGET_BLOCK)) {
            target.log_density_with_grad(x, lp, gp)?;
        }
        self.evaluations = self.evaluations.saturating_add(n as u64);
        self.grad.fill(T::zero());
        let (mut kept, mut elbo) = (0usize, T::zero());
        for s in 0..n {
            let (lp, lq, gp) = (self.log_p[s], self.log_q[s], &self.grad_p[s]);
            if !(lp - lq).finite() || !all_finite(gp) {
                continue;
            }
            // add_elbo_grad leaves `grad` unchanged when it fails: the sample is just dropped.
            if self.flow.add_elbo_grad(&self.eps[s], gp, T::one(), &mut self.grad).is_ok() {
                elbo += lp - lq;
                kept += 1;
            }
        }
        if kept == 0 {
            return Err(Error::NonFiniteTarget);
        }
        let inv = T::one() / T::of(kept as f64);
        for g in &mut self.grad {
            *g *= inv;
        }
        let elbo = elbo * inv;
        let mut next = self.params;
        let before = self.opt.clone();
        let applied = self.opt.step(&mut next, &self.grad).and_then(|()| {
            if next.iter().any(|v| !v.finite()) {
                return Err(Error::InvalidArgument { what: "non-finite parameters after the step" });
            }
            self.flow.set_params(&next)
        });
        if let Err(e) = applied {
            // Keep the optimiser's moments consistent with the unchanged flow.
            self.opt = before;
            return Err(e);
        }
        self.params = next;
        self.iteration += 1;
        Ok(StepReport {
            iteration: self.iteration,
            evaluations: self.evaluations,
            new_evaluations: n,
            rejected_samples: S - kept,
            working_set: kept,
            components: 1,
            elbo_estimate: elbo,
            rejected_updates: 0,
            weights_frozen: false,
            added: 0,
            deleted: 0,
        })
    }

    /// Steps until the first rule of `rule` is met (as [`gmmvi::Optimizer::run`], the window
    /// on the per-step ELBO estimate); `report` sees every step.
    ///
    /// # Errors
    /// The first failing step's error.
    pub fn run<Q: Target<T, D> + ?Sized, R: FnMut(&StepReport<T>)>(
        &mut self,
        target: &mut Q,
        rule: &StopRule<T>,
        report: R,
    ) -> Result<RunSummary<T>, Error> {
        run_loop(rule, self.evaluations, true, || self.step(target), report)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use nalgebra::SMatrix;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::*;
    use crate::families::MeanFieldGaussian;
    use crate::families::planar::PlanarLayer;
    use gmmvi_targets::GaussianMixtureTarget;

    /// TP2 of docs/estimators.md §16: `N((1, −1), [[2, 0.6], [0.6, 1]])`, log Z = 0.
    fn tp2() -> GaussianMixtureTarget<f64, 2, 1> {
        let cov = SMatrix::<f64, 2, 2>::new(2.0, 0.6, 0.6, 1.0);
        GaussianMixtureTarget::new(&[1.0], &[SVector::from([1.0, -1.0])], &[cov]).unwrap()
    }

    type Svgd100 = SvgdVi<f64, 100, 2>;

    fn svgd_fit(seed: u64) -> Svgd100 {
        let init = MeanFieldGaussian::<f64, 2>::standard();
        let mut vi = Svgd100::new(&init, Bandwidth::Median, Adam::with_step(0.02).unwrap(), seed).unwrap();
        let s = vi.run(&mut tp2(), &StopRule::iterations(2000), |r| assert!(r.elbo_estimate.is_nan())).unwrap();
        assert_eq!(s.reason, StopReason::MaxIterations);
        assert_eq!((vi.iterations(), vi.evaluations()), (2000, 200_000));
        vi
    }

    // TP2 with SVGD: particle mean within 0.1 of (1, −1), covariance entries within 0.3.
    #[test]
    fn svgd_converges_on_tp2() {
        let vi = svgd_fit(1);
        let x = vi.particles();
        let mean = x.iter().sum::<SVector<f64, 2>>() / 100.0;
        let cov = x.iter().map(|v| (v - mean) * (v - mean).transpose()).sum::<SMatrix<f64, 2, 2>>() / 100.0;
        std::eprintln!("SVGD TP2: mean {mean:?} cov {cov:?} h {}", vi.last_bandwidth());
        assert!((mean - SVector::from([1.0, -1.0])).amax() < 0.1, "{mean:?}");
        assert!((cov - SMatrix::<f64, 2, 2>::new(2.0, 0.6, 0.6, 1.0)).amax() < 0.3, "{cov:?}");
        // Sampling draws particles.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut out = [SVector::zeros(); 300];
        vi.sample(&mut rng, &mut out);
        assert!(out.iter().all(|o| x.contains(o)));
        assert!(out.iter().any(|o| *o != out[0]));
    }

    fn flow_init<const DEPTH: usize>(seed: u64) -> PlanarFlow<f64, 2, DEPTH> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let layers = core::array::from_fn(|_| {
            let mut v = [0.0; 5];
            fill_standard_normal(&mut rng, &mut v);
            PlanarLayer::new(
                SVector::from([0.1 * v[0], 0.1 * v[1]]),
                SVector::from([0.5 * v[2], 0.5 * v[3]]),
                0.1 * v[4],
            )
        });
        PlanarFlow::new(SVector::zeros(), SVector::zeros(), layers).unwrap()
    }

    const DEPTH: usize = 8;
    const FP: usize = PlanarFlow::<f64, 2, DEPTH>::NUM_PARAMS;
    type Flow = FlowVi<f64, 2, DEPTH, 16, FP>;

    /// Adam at 0.01, then at 0.001 to settle the constant-step noise (as the planar tests).
    fn flow_fit(seed: u64) -> PlanarFlow<f64, 2, DEPTH> {
        let mut f = flow_init(seed);
        for (alpha, s) in [(0.01, seed), (0.001, seed + 100)] {
            let mut vi = Flow::new(f, Adam::with_step(alpha).unwrap(), s).unwrap();
            vi.run(&mut tp2(), &StopRule::iterations(4000), |r| assert!(r.elbo_estimate.is_finite())).unwrap();
            assert_eq!(vi.evaluations(), 4000 * 16);
            f = *vi.flow();
        }
        f
    }

    // TP2 with a planar flow: the Monte-Carlo ELBO (2·10⁴ samples) within 0.05 of log Z = 0.
    #[test]
    fn flow_converges_on_tp2() {
        let f = flow_fit(2);
        let vi = Flow::new(f, Adam::with_defaults(), 0).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(99);
        let (mut x, mut lq, mut lp) = ([SVector::zeros(); 64], [0.0; 64], [0.0; 64]);
        let (mut sum, mut sq, mut mean) = (0.0, 0.0, SVector::<f64, 2>::zeros());
        let n = 20_000 / 64 * 64;
        let mut t = tp2();
        for _ in 0..n / 64 {
            vi.sample_with_log_q(&mut rng, &mut x, &mut lq).unwrap();
            t.log_density(&x, &mut lp).unwrap();
            for ((a, b), z) in lp.iter().zip(&lq).zip(&x) {
                sum += a - b;
                sq += (a - b) * (a - b);
                mean += z;
            }
        }
        let (elbo, mean) = (sum / n as f64, mean / n as f64);
        let se = ((sq / n as f64 - elbo * elbo) / n as f64).sqrt();
        std::eprintln!("FLOW TP2: ELBO {elbo} ± {se}, mean {mean:?}");
        assert!(elbo.abs() < 0.05 && elbo < 5.0 * se, "{elbo} ± {se}");
        assert!((mean - SVector::from([1.0, -1.0])).amax() < 0.1);
        // log q by inversion agrees with the forward pass.
        assert!((vi.log_q(&x[0]).unwrap() - lq[0]).abs() < 1e-8);
    }

    #[test]
    fn same_seed_same_bits() {
        let init = MeanFieldGaussian::<f64, 2>::standard();
        let run_svgd = |seed| {
            let mut vi = Svgd100::new(&init, Bandwidth::Median, Adam::with_step(0.02).unwrap(), seed).unwrap();
            vi.run(&mut tp2(), &StopRule::evaluations(5000), |_| {}).unwrap();
            vi.particles().map(|x| x.map(f64::to_bits))
        };
        assert_eq!(run_svgd(3), run_svgd(3));
        assert_ne!(run_svgd(3), run_svgd(4));
        let run_flow = |seed| {
            let mut vi = Flow::new(flow_init(1), Adam::with_step(0.01).unwrap(), seed).unwrap();
            let s = vi.run(&mut tp2(), &StopRule::evaluations(1600), |_| {}).unwrap();
            assert_eq!((s.reason, vi.iterations()), (StopReason::MaxEvaluations, 100));
            let mut p = [0.0; FP];
            vi.flow().params(&mut p).unwrap();
            p.map(f64::to_bits)
        };
        assert_eq!(run_flow(3), run_flow(3));
        assert_ne!(run_flow(3), run_flow(4));
    }

    #[test]
    fn invalid_configurations() {
        let init = MeanFieldGaussian::<f64, 2>::standard();
        let adam = Adam::<f64, 2>::with_step(0.02).unwrap();
        let config = |r: Result<(), Error>| matches!(r, Err(Error::InvalidConfig { .. }));
        for h in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(config(Svgd100::new(&init, Bandwidth::Fixed(h), adam, 0).map(|_| ())));
        }
        // A per-particle optimiser of the wrong size.
        let wrong = Adam::<f64, 3>::with_defaults();
        assert!(config(SvgdVi::<f64, 10, 2, _>::new(&init, Bandwidth::Median, wrong, 0).map(|_| ())));
        let bad = [SVector::from([f64::NAN, 0.0]); 4];
        assert!(SvgdVi::<f64, 4, 2>::from_particles(bad, Bandwidth::Median, adam).is_err());
        // P differs from NUM_PARAMS; S = 0.
        let f = flow_init::<2>(0);
        let p = PlanarFlow::<f64, 2, 2>::NUM_PARAMS;
        assert!(config(FlowVi::<f64, 2, 2, 16, 9>::new(f, Adam::with_defaults(), 0).map(|_| ())));
        assert_eq!(p, 14);
        assert!(config(FlowVi::<f64, 2, 2, 0, 14>::new(f, Adam::with_defaults(), 0).map(|_| ())));
        assert!(FlowVi::<f64, 2, 2, 16, 14>::new(f, Adam::with_defaults(), 0).is_ok());
    }

    /// TP2 with NaN values on a tenth of the plane; fails on request.
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
    fn bad_samples_are_counted_and_errors_keep_the_state() {
        let mut t = Flaky { inner: tp2(), fail: false };
        let init = MeanFieldGaussian::<f64, 2>::standard();
        let mut svgd = SvgdVi::<f64, 20, 2>::new(&init, Bandwidth::Median, Adam::with_step(0.02).unwrap(), 1).unwrap();
        let mut flow = Flow::new(flow_init(1), Adam::with_step(0.01).unwrap(), 1).unwrap();
        let (mut rs, mut rf) = (0, 0);
        svgd.run(&mut t, &StopRule::iterations(300), |r| rs += r.rejected_samples).unwrap();
        flow.run(&mut t, &StopRule::iterations(300), |r| rf += r.rejected_samples).unwrap();
        assert!(rs > 100 && rf > 100, "{rs} {rf}");
        t.fail = true;
        let (p, f) = (*svgd.particles(), *flow.flow());
        let err = Err(Error::TargetFailed(gmmvi::TargetError { code: 7 }));
        assert_eq!(svgd.step(&mut t).map(|_| ()), err);
        assert_eq!(flow.step(&mut t).map(|_| ()), err);
        assert_eq!((*svgd.particles(), *flow.flow()), (p, f));
        assert_eq!((svgd.iterations(), flow.iterations()), (300, 300));
    }
}

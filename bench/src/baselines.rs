//! The gradient-based baselines in the runner: `--algo ADVI-MF | ADVI-FR |
//! IWAE | VR | SVGD | FLOW` besides the 7-letter codewords, on every target, with the same CSV
//! rows and final JSON line as the GMM runs.
//!
//! Fixed defaults (docs/algorithm.md §12 has no row for these methods):
//!
//! | algo | method (`gmmvi_baselines::estimators`) | family / state | per step |
//! |---|---|---|---|
//! | `ADVI-MF` | `driver::GradientVi`, ELBO, pathwise + analytic entropy | mean-field Gaussian | S = 16 |
//! | `ADVI-FR` | same | full-rank Gaussian, log-Cholesky (`P = D + D(D+1)/2`) | S = 16 |
//! | `IWAE` | `GradientVi`, importance-weighted bound, k = 4 | full-rank Gaussian, log-Cholesky | S = 16 (4 groups) |
//! | `VR` | `GradientVi`, Rényi bound α = 0.5, k = 4 | full-rank Gaussian, log-Cholesky | S = 16 (4 groups) |
//! | `SVGD` | `baselines::SvgdVi`, RBF kernel, median bandwidth | N = 100 particles | 100 evaluations |
//! | `FLOW` | `baselines::FlowVi`, pathwise ELBO | planar flow, DEPTH = 8 | S = 16 |
//!
//! Every method uses Adam with step 0.01 (per particle for SVGD; the docs/estimators.md §11
//! defaults otherwise). The initial q is the target's initial Gaussian of docs/targets.md §0 (the
//! `InitSpec`): mean 0 and the diagonal initial covariance (`initial_cov`, settable with `--config
//! initial_cov=…`); the SVGD particles are drawn from it, and the flow's base is it, with layers
//! `u = 0.1·σ⊙ξ_u`, `w = ξ_w/√(Σ_d σ_d²)` (so `wᵀz` has unit scale under the base), `b = 0`
//! (`ξ ~ N(0, I)` from the run's seed). The ELBO of every row is a Monte-Carlo estimate with
//! `--elbo-samples` (2000) samples of q on the full-batch target, as for the GMM; SVGD has no
//! density, so its ELBO is `null` (its MMD uses particles drawn with replacement). The
//! `components` column is 1 for the Gaussians and the flow, N for SVGD. The full-rank Gaussian is
//! `families::LogCholeskyGaussian` (`L_dd = exp(s_d)`): the raw factor of `FullRankGaussian`
//! has a boundary at `L_dd = 0` that Adam's steps of about 0.01 crossed from the planar robots'
//! initial σ = 0.05, so every step of ADVI-FR, IWAE and VR there was rejected. A step the driver
//! rejects (a parameter leaving the family's domain, e.g. an overflowing `exp`; or no finite
//! sample) leaves q unchanged and still counts its evaluations; the run goes on (a note on
//! stderr gives the count) and fails after [`MAX_REJECTED_IN_A_ROW`] rejections in a row.
//!
//! Logging: a baseline iteration costs 16 evaluations (SVGD 100), 10²–10⁴ times fewer than a GMM
//! iteration, so `--log-every N` alone would log 10³–10⁵ rows, each with a 2000-sample ELBO and an
//! MMD (about a second on the logistic regressions). A row is logged at a multiple of `N`
//! iterations only once the evaluations have grown by [`LOG_GROWTH`] since the last row (log-spaced
//! rows, about 3 per decade of evaluations, as the report's log axes need); `N = 0` logs only the
//! final state, as for the GMM runs. The memory of every
//! state is small (the largest, IWAE/VR at D = 300, keeps 16 P-vectors of P = 45 450, 5.8 MB),
//! so every target runs.

use std::time::{Duration, Instant};

use gmmvi::rng::fill_standard_normal;
use gmmvi::{StepReport, Target, TargetError};
use gmmvi_baselines::estimators::baselines::{FlowVi, SvgdVi};
use gmmvi_baselines::estimators::driver::{GradientVi, Objective};
use gmmvi_baselines::estimators::svgd::Bandwidth;
use gmmvi_baselines::families::planar::{PlanarFlow, PlanarLayer};
use gmmvi_baselines::families::{AnalyticEntropy, LogCholeskyGaussian, MeanFieldGaussian};
use gmmvi_baselines::optim::Adam;
use gmmvi_targets::{
    BnnBatch, GaussianMixtureTarget, LOGREG_BATCH_SIZE, LogisticRegression, LogisticRegressionMinibatch,
    NumpyRandomState, PlanarRobot, STM20_HALF_WIDTH, STM300_HALF_WIDTH, StudentTMixture, WINE_BATCH_SIZE, WineBnn,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::mmd::{MMD_MODEL_SAMPLES, Mmd};
use crate::presets::TargetId;
use crate::runner::{LogRow, RowLog, RunSpec, Summary, ground_truth};

/// Samples per step of ADVI, IWAE, VR and FLOW.
pub const SAMPLES: usize = 16;
/// Adam step size of every method.
pub const STEP: f64 = 0.01;
/// Group size `k` of IWAE and VR (`SAMPLES / k` groups per step).
pub const GROUP_K: usize = 4;
/// Order α of the VR (Rényi) bound.
pub const VR_ALPHA: f64 = 0.5;
/// SVGD particles.
pub const PARTICLES: usize = 100;
/// Planar-flow layers.
pub const FLOW_DEPTH: usize = 8;

/// Factor by which the evaluations grow between two logged rows (see the module documentation).
pub const LOG_GROWTH: f64 = 2.0;

/// Rejected steps in a row (see `drive`) after which a run fails.
pub const MAX_REJECTED_IN_A_ROW: u64 = 1000;

/// A gradient-based baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    /// ADVI with a mean-field Gaussian.
    AdviMf,
    /// ADVI with a full-rank Gaussian.
    AdviFr,
    /// Importance-weighted bound, full-rank Gaussian.
    Iwae,
    /// Rényi bound, full-rank Gaussian.
    Vr,
    /// Stein variational gradient descent.
    Svgd,
    /// Planar normalizing flow.
    Flow,
}

impl Algo {
    /// Every baseline, in the order of `--list`.
    pub const ALL: [Algo; 6] = [Algo::AdviMf, Algo::AdviFr, Algo::Iwae, Algo::Vr, Algo::Svgd, Algo::Flow];

    /// The `--algo` name.
    pub fn name(self) -> &'static str {
        match self {
            Algo::AdviMf => "ADVI-MF",
            Algo::AdviFr => "ADVI-FR",
            Algo::Iwae => "IWAE",
            Algo::Vr => "VR",
            Algo::Svgd => "SVGD",
            Algo::Flow => "FLOW",
        }
    }

    /// The baseline of an `--algo` name (`None` for a codeword).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// One line for `--list`: the method and its fixed defaults.
    pub fn describe(self) -> &'static str {
        match self {
            Algo::AdviMf => "mean-field Gaussian, pathwise ELBO (analytic entropy), S = 16, Adam 0.01",
            Algo::AdviFr => "full-rank Gaussian, pathwise ELBO (analytic entropy), S = 16, Adam 0.01",
            Algo::Iwae => "full-rank Gaussian, IWAE bound k = 4 (4 groups of S = 16), Adam 0.01",
            Algo::Vr => "full-rank Gaussian, Renyi bound alpha = 0.5, k = 4 (S = 16), Adam 0.01",
            Algo::Svgd => "SVGD, N = 100 particles, RBF median bandwidth, Adam 0.01 per particle (ELBO null)",
            Algo::Flow => "planar flow DEPTH = 8 on the initial Gaussian, pathwise ELBO, S = 16, Adam 0.01",
        }
    }
}

/// What the logging loop needs of a driver.
trait Fit<const D: usize> {
    fn step_on<P: Target<f64, D>>(&mut self, t: &mut P) -> Result<StepReport<f64>, gmmvi::Error>;
    fn iterations(&self) -> u64;
    fn evaluations(&self) -> u64;
    fn components(&self) -> usize;
    /// Whether q has a density (an ELBO).
    fn has_density(&self) -> bool;
    /// Fills `x` with samples of q and `lq` with `log q(x)` (NaN without a density).
    fn draw(&self, rng: &mut Xoshiro256PlusPlus, x: &mut [SVector<f64, D>], lq: &mut [f64]) -> Result<(), String>;
}

impl<F, const D: usize, const S: usize, const P: usize> Fit<D> for GradientVi<f64, F, Adam<f64, P>, D, S, P>
where
    F: AnalyticEntropy<f64, D> + Clone,
{
    fn step_on<Q: Target<f64, D>>(&mut self, t: &mut Q) -> Result<StepReport<f64>, gmmvi::Error> {
        self.step(t)
    }
    fn iterations(&self) -> u64 {
        GradientVi::iterations(self)
    }
    fn evaluations(&self) -> u64 {
        GradientVi::evaluations(self)
    }
    fn components(&self) -> usize {
        1
    }
    fn has_density(&self) -> bool {
        true
    }
    fn draw(&self, rng: &mut Xoshiro256PlusPlus, x: &mut [SVector<f64, D>], lq: &mut [f64]) -> Result<(), String> {
        let q = self.family();
        q.sample_noise(rng, x);
        for (xi, l) in x.iter_mut().zip(lq) {
            *xi = q.reparam(xi);
            *l = q.log_q(xi);
        }
        Ok(())
    }
}

impl<const N: usize, const D: usize> Fit<D> for SvgdVi<f64, N, D> {
    fn step_on<Q: Target<f64, D>>(&mut self, t: &mut Q) -> Result<StepReport<f64>, gmmvi::Error> {
        self.step(t)
    }
    fn iterations(&self) -> u64 {
        SvgdVi::iterations(self)
    }
    fn evaluations(&self) -> u64 {
        SvgdVi::evaluations(self)
    }
    fn components(&self) -> usize {
        N
    }
    fn has_density(&self) -> bool {
        false
    }
    fn draw(&self, rng: &mut Xoshiro256PlusPlus, x: &mut [SVector<f64, D>], lq: &mut [f64]) -> Result<(), String> {
        self.sample(rng, x);
        lq.fill(f64::NAN);
        Ok(())
    }
}

impl<const D: usize, const DEPTH: usize, const S: usize, const P: usize> Fit<D> for FlowVi<f64, D, DEPTH, S, P> {
    fn step_on<Q: Target<f64, D>>(&mut self, t: &mut Q) -> Result<StepReport<f64>, gmmvi::Error> {
        self.step(t)
    }
    fn iterations(&self) -> u64 {
        FlowVi::iterations(self)
    }
    fn evaluations(&self) -> u64 {
        FlowVi::evaluations(self)
    }
    fn components(&self) -> usize {
        1
    }
    fn has_density(&self) -> bool {
        true
    }
    fn draw(&self, rng: &mut Xoshiro256PlusPlus, x: &mut [SVector<f64, D>], lq: &mut [f64]) -> Result<(), String> {
        self.sample_with_log_q(rng, x, lq).map_err(|e| format!("flow sample: {e:?}"))
    }
}

fn err(what: &str) -> impl Fn(gmmvi::Error) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

fn adam<const P: usize>() -> Result<Adam<f64, P>, String> {
    Adam::with_step(STEP).map_err(err("Adam"))
}

/// The initial covariance diagonal of the run's `InitSpec`.
fn initial_var<const D: usize>(spec: &RunSpec) -> Result<SVector<f64, D>, String> {
    let var = SVector::<f64, D>::from_fn(|d, _| spec.init.initial_cov.at(d));
    if var.iter().any(|v| !(*v > 0.0 && v.is_finite())) {
        return Err("initial_cov must be positive".into());
    }
    Ok(var)
}

fn flow_init<const D: usize>(var: &SVector<f64, D>, seed: u64) -> Result<PlanarFlow<f64, D, FLOW_DEPTH>, String> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xF10F);
    let sd = var.map(f64::sqrt);
    let w_scale = 1.0 / var.sum().sqrt();
    let layers = core::array::from_fn(|_| {
        let (mut u, mut w) = (SVector::<f64, D>::zeros(), SVector::<f64, D>::zeros());
        fill_standard_normal(&mut rng, u.as_mut_slice());
        fill_standard_normal(&mut rng, w.as_mut_slice());
        PlanarLayer::new(u.component_mul(&sd) * 0.1, w * w_scale, 0.0)
    });
    PlanarFlow::new(SVector::zeros(), sd.map(f64::ln), layers).map_err(err("initial flow"))
}

/// Builds the method `algo` at dimension `D` and runs it; `MF`, `FR`, `FL` are the parameter
/// counts of the mean-field and full-rank Gaussians and of the flow (checked by the drivers).
fn per_algo<const D: usize, const MF: usize, const FR: usize, const FL: usize, P, E>(
    spec: &RunSpec,
    algo: Algo,
    t: &mut P,
    e: &mut E,
    mmd: Option<Mmd>,
) -> Result<Summary, String>
where
    P: Target<f64, D>,
    E: Target<f64, D>,
{
    let seed = u64::from(spec.seed);
    let var = initial_var::<D>(spec)?;
    let sd = var.map(f64::sqrt);
    let mf = MeanFieldGaussian::from_std(SVector::zeros(), sd).map_err(err("initial q"))?;
    let fr = LogCholeskyGaussian::new(SVector::zeros(), SMatrix::from_diagonal(&sd)).map_err(err("initial q"))?;
    match algo {
        Algo::AdviMf => {
            let vi = GradientVi::<f64, _, _, D, SAMPLES, MF>::new(mf, adam()?, Objective::Elbo, seed);
            drive(spec, Box::new(vi.map_err(err("ADVI-MF"))?), t, e, mmd)
        }
        Algo::AdviFr | Algo::Iwae | Algo::Vr => {
            let obj = match algo {
                Algo::Iwae => Objective::Iwae { k: GROUP_K },
                Algo::Vr => Objective::Renyi { alpha: VR_ALPHA, k: GROUP_K },
                _ => Objective::Elbo,
            };
            let vi = GradientVi::<f64, _, _, D, SAMPLES, FR>::new(fr, adam()?, obj, seed);
            drive(spec, Box::new(vi.map_err(err(algo.name()))?), t, e, mmd)
        }
        Algo::Svgd => {
            let vi = SvgdVi::<f64, PARTICLES, D>::new(&mf, Bandwidth::Median, adam()?, seed);
            drive(spec, Box::new(vi.map_err(err("SVGD"))?), t, e, mmd)
        }
        Algo::Flow => {
            let vi = FlowVi::<f64, D, FLOW_DEPTH, SAMPLES, FL>::new(flow_init(&var, seed)?, adam()?, seed);
            drive(spec, Box::new(vi.map_err(err("FLOW"))?), t, e, mmd)
        }
    }
}

/// `per_algo` at a literal dimension, with the parameter counts computed from it.
macro_rules! at_dim {
    ($d:literal, $spec:expr, $algo:expr, $t:expr, $e:expr, $mmd:expr) => {
        per_algo::<$d, { 2 * $d }, { $d + $d * ($d + 1) / 2 }, { 2 * $d + FLOW_DEPTH * (2 * $d + 1) }, _, _>(
            $spec, $algo, $t, $e, $mmd,
        )
    };
}

/// Runs the baseline `algo` on `spec`'s target (on the caller's thread; [`crate::runner::run`]
/// calls it on its large-stack worker). The target instance is the GMM run's for the same seed.
///
/// # Errors
/// A message for a missing data file, a failing target or a failing step.
pub fn run_here(spec: &RunSpec, algo: Algo) -> Result<Summary, String> {
    let seed = u64::from(spec.seed);
    match spec.target {
        TargetId::PlanarRobot1 | TargetId::PlanarRobot4 => {
            let mut t =
                if spec.target == TargetId::PlanarRobot1 { PlanarRobot::one_goal() } else { PlanarRobot::four_goals() };
            let mut e = t;
            at_dim!(10, spec, algo, &mut t, &mut e, ground_truth::<10>(spec)?)
        }
        TargetId::Gmm20 => {
            let mut np = NumpyRandomState::new(spec.seed);
            let mut t = Box::new(GaussianMixtureTarget::<f64, 20, 10>::numpy_benchmark(&mut np).map_err(err("GMM20"))?);
            let mut e = t.clone();
            at_dim!(20, spec, algo, &mut *t, &mut *e, None)
        }
        TargetId::Gmm100 => {
            let mut np = NumpyRandomState::new(spec.seed);
            let mut t = Box::new(GaussianMixtureTarget::<f64, 100, 10>::zeroed());
            t.numpy_benchmark_in_place(&mut np).map_err(err("GMM100"))?;
            let mut e = t.clone();
            at_dim!(100, spec, algo, &mut *t, &mut *e, None)
        }
        TargetId::Stm20 => {
            let (mut np, mut loc) = (NumpyRandomState::new(spec.seed), Xoshiro256PlusPlus::seed_from_u64(seed));
            let mut t = Box::new(StudentTMixture::<f64, 20, 10>::zeroed());
            t.numpy_benchmark_in_place(STM20_HALF_WIDTH, &mut np, &mut loc).map_err(err("STM20"))?;
            let mut e = t.clone();
            at_dim!(20, spec, algo, &mut *t, &mut *e, None)
        }
        TargetId::Stm300 => {
            let (mut np, mut loc) = (NumpyRandomState::new(spec.seed), Xoshiro256PlusPlus::seed_from_u64(seed));
            let mut t = Box::new(StudentTMixture::<f64, 300, 20>::zeroed());
            t.numpy_benchmark_in_place(STM300_HALF_WIDTH, &mut np, &mut loc).map_err(err("STM300"))?;
            let mut e = t.clone();
            at_dim!(300, spec, algo, &mut *t, &mut *e, None)
        }
        TargetId::BreastCancer | TargetId::BreastCancerMb => {
            let (rows, labels) = spec.run.data.breast_cancer()?;
            let mmd = ground_truth::<31>(spec)?;
            let mut e = LogisticRegression::<f64, 31>::new(&rows, &labels).map_err(err("logistic regression"))?;
            if spec.target == TargetId::BreastCancerMb {
                let mut perm = vec![0u32; rows.len()];
                let mut t = minibatch(spec, e, &mut perm)?;
                at_dim!(31, spec, algo, &mut t, &mut e, mmd)
            } else {
                let mut t = e;
                at_dim!(31, spec, algo, &mut t, &mut e, mmd)
            }
        }
        TargetId::GermanCredit | TargetId::GermanCreditMb => {
            let (rows, labels) = spec.run.data.german_credit()?;
            let mmd = ground_truth::<25>(spec)?;
            let mut e = LogisticRegression::<f64, 25>::new(&rows, &labels).map_err(err("logistic regression"))?;
            if spec.target == TargetId::GermanCreditMb {
                let mut perm = vec![0u32; rows.len()];
                let mut t = minibatch(spec, e, &mut perm)?;
                at_dim!(25, spec, algo, &mut t, &mut e, mmd)
            } else {
                let mut t = e;
                at_dim!(25, spec, algo, &mut t, &mut e, mmd)
            }
        }
        TargetId::Wine => {
            let (x, y) = spec.run.data.wine_train(seed % 10)?;
            let batch = BnnBatch::Random { size: WINE_BATCH_SIZE };
            let mut t =
                WineBnn::<f64, _>::new(&x, &y, batch, Xoshiro256PlusPlus::seed_from_u64(seed)).map_err(err("WINE"))?;
            let mut e = WineBnn::<f64, _>::new(&x, &y, batch, Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED))
                .map_err(err("WINE"))?;
            at_dim!(177, spec, algo, &mut t, &mut e, None)
        }
    }
}

/// The minibatch logistic-regression target of docs/targets.md §6 (as the GMM runner builds it).
fn minibatch<'a, const D: usize>(
    spec: &RunSpec,
    full: LogisticRegression<'a, f64, D>,
    perm: &'a mut [u32],
) -> Result<impl Target<f64, D> + 'a, String> {
    let rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(spec.seed));
    LogisticRegressionMinibatch::new(full, perm, LOGREG_BATCH_SIZE, true, rng).map_err(err("minibatch target"))
}

/// Monte-Carlo ELBO of `vi`'s q with `n` samples on `e` (NaN without a density).
fn estimate_elbo<const D: usize, V: Fit<D>, E: Target<f64, D>>(
    vi: &V,
    e: &mut E,
    rng: &mut Xoshiro256PlusPlus,
    n: usize,
) -> Result<f64, String> {
    if !vi.has_density() {
        return Ok(f64::NAN);
    }
    let (mut x, mut lq, mut lp) = (vec![SVector::<f64, D>::zeros(); n], vec![0.0; n], vec![0.0; n]);
    vi.draw(rng, &mut x, &mut lq)?;
    for (xb, lb) in x.chunks(gmmvi::TARGET_BLOCK).zip(lp.chunks_mut(gmmvi::TARGET_BLOCK)) {
        e.log_density(xb, lb).map_err(|TargetError { code }| format!("ELBO target failed (code {code})"))?;
    }
    Ok(lp.iter().zip(&lq).map(|(p, q)| p - q).sum::<f64>() / n as f64)
}

/// The optimisation loop with logging (as the GMM runner's).
fn drive<const D: usize, V: Fit<D>, P: Target<f64, D>, E: Target<f64, D>>(
    spec: &RunSpec,
    mut vi: Box<V>,
    target: &mut P,
    elbo_target: &mut E,
    mmd: Option<Mmd>,
) -> Result<Summary, String> {
    let start = Instant::now();
    let mut elbo_rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(spec.seed) ^ 0x00E1_B0E5);
    let mut mmd_rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(spec.seed) ^ 0x004D_4D44);
    let bar = if spec.run.progress {
        let b = ProgressBar::with_draw_target(Some(spec.run.evals), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} evals {msg}") {
            b.set_style(style);
        }
        b
    } else {
        ProgressBar::hidden()
    };
    let mut rows = RowLog::new(spec.run.csv.as_deref())?;
    let mut eval_time = Duration::ZERO;
    let mut log = |vi: &V, rows: &mut RowLog| -> Result<LogRow, String> {
        let t = Instant::now();
        let elbo = estimate_elbo(vi, elbo_target, &mut elbo_rng, spec.run.elbo_samples)?;
        let m = match &mmd {
            Some(m) => {
                let mut x = vec![SVector::<f64, D>::zeros(); MMD_MODEL_SAMPLES];
                vi.draw(&mut mmd_rng, &mut x, &mut vec![0.0; MMD_MODEL_SAMPLES])?;
                m.eval(&x.iter().map(|r| r.as_slice().to_vec()).collect::<Vec<_>>())
            }
            None => f64::NAN,
        };
        eval_time += t.elapsed();
        let row = LogRow {
            iteration: vi.iterations(),
            evals: vi.evaluations(),
            components: vi.components(),
            elbo,
            mmd: m,
            wall_s: start.elapsed().as_secs_f64(),
        };
        rows.push(row)?;
        Ok(row)
    };
    let (mut rejected, mut in_a_row) = (0u64, 0u64);
    while vi.evaluations() < spec.run.evals && vi.iterations() < spec.run.max_iterations {
        // A step that would leave the family's domain (e.g. a Cholesky diagonal pushed below 0
        // by a step larger than it), or saw no finite sample, is rejected with q and Adam
        // unchanged; its evaluations still count. A failing target ends the run.
        let rep = match vi.step_on(target) {
            Ok(rep) => rep,
            Err(e @ (gmmvi::Error::InvalidArgument { .. } | gmmvi::Error::NonFiniteTarget)) => {
                rejected += 1;
                in_a_row += 1;
                if in_a_row >= MAX_REJECTED_IN_A_ROW {
                    return Err(format!("step: {in_a_row} steps in a row rejected, the last with {e:?}"));
                }
                continue;
            }
            Err(e) => return Err(format!("step: {e:?}")),
        };
        in_a_row = 0;
        bar.set_position(rep.evaluations.min(spec.run.evals));
        let grown = rows.last().is_none_or(|r: &LogRow| rep.evaluations as f64 >= r.evals as f64 * LOG_GROWTH);
        if spec.run.log_every > 0 && rep.iteration.is_multiple_of(spec.run.log_every) && grown {
            let row = log(&vi, &mut rows)?;
            bar.set_message(format!("it {} -ELBO {:.4}", row.iteration, -row.elbo));
        }
    }
    if rows.last().is_none_or(|r| r.iteration != vi.iterations()) {
        log(&vi, &mut rows)?;
    }
    bar.finish_and_clear();
    if rejected > 0 {
        eprintln!("note: {rejected} steps rejected (q unchanged, evaluations counted)");
    }
    let last = rows.last().copied().ok_or("no row logged")?;
    let iters = vi.iterations();
    let opt_time = start.elapsed().saturating_sub(eval_time);
    Ok(Summary {
        target: spec.target.name().into(),
        algo: spec.algo.clone(),
        scalar: "f64",
        seed: spec.seed,
        iterations: iters,
        evals: vi.evaluations(),
        components: vi.components(),
        elbo: last.elbo,
        ms_per_iter: if iters > 0 { opt_time.as_secs_f64() * 1e3 / iters as f64 } else { f64::NAN },
        state_bytes: size_of::<V>(),
        mmd: mmd.as_ref().map(|_| last.mmd),
        wall_s: start.elapsed().as_secs_f64(),
        passes: None,
        rows: rows.into_rows(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Algo::ALL {
            assert_eq!(Algo::from_name(a.name()), Some(a));
        }
        assert_eq!(Algo::from_name("SAMTRUX"), None);
    }
}

//! One benchmark run: builds the target and the initial model (docs/targets.md §0), the
//! optimiser with its per-target capacities, steps it until the evaluation budget, and logs
//! the 2000-sample ELBO (docs/targets.md §0) and the MMD (§9) every `log_every` iterations.
//!
//! The optimiser runs in `f64`, or in `f32` with [`RunOptions::single_precision`] (the targets
//! of [`f32_supported`]): then its model, its configuration and the target values and gradients
//! it receives are `f32` (the targets compute in `f64` and round their results), the ELBO is the
//! optimiser's own estimate in `f32`, and the MMD takes the `f32` model's samples as `f64`.

use std::time::{Duration, Instant};

use gmmvi::config::{ComponentAdaptation, NgEstimator, SampleSelector};
use gmmvi::{Config, Gmm, Optimizer, Real, Target, Threads};
use gmmvi_targets::{
    BnnBatch, GaussianMixtureTarget, LOGREG_BATCH_SIZE, LogisticRegression, LogisticRegressionMinibatch,
    NumpyRandomState, PlanarRobot, STM20_HALF_WIDTH, STM300_HALF_WIDTH, StudentTMixture, WINE_BATCH_SIZE, WineBnn,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

use crate::mmd::{MMD_MODEL_SAMPLES, Mmd};
use crate::passes::{PassRow, PassTimer, TimedTarget};
use crate::presets::{InitSpec, TargetId};
use gmmvi_targets::data::DataDir;

/// Samples of the Monte-Carlo ELBO (docs/targets.md §0).
pub const ELBO_SAMPLES: usize = 2000;
/// Stack of the worker thread that builds the (up to several hundred MB) optimiser.
pub const WORKER_STACK: usize = 4 << 30;

/// Everything a run needs besides the target.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The target.
    pub target: TargetId,
    /// The codeword (reported in the JSON line).
    pub algo: String,
    /// The merged configuration.
    pub config: Config<f64>,
    /// The initial model.
    pub init: InitSpec,
    /// Seed of the target, the initial model and the optimiser.
    pub seed: u32,
    /// Budget, logging and environment.
    pub run: RunOptions,
}

/// The settings of a run that do not define the experiment.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Target-evaluation budget.
    pub evals: u64,
    /// Iteration bound.
    pub max_iterations: u64,
    /// A CSV row every this many iterations (and after the last one).
    pub log_every: u64,
    /// Worker threads of the hot loops.
    pub threads: usize,
    /// The data directory.
    pub data: DataDir,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Samples of each ELBO estimate ([`ELBO_SAMPLES`] in the benchmark).
    pub elbo_samples: usize,
    /// Use only the first this many ground-truth rows for the MMD (`None`: all, as §9 says;
    /// the bandwidth uses the first 1000 either way). For quick checks in debug builds.
    pub mmd_gt_rows: Option<usize>,
    /// Time every pass of the iterations ([`crate::passes`]); the summary then has the table.
    pub passes: bool,
    /// Run the optimiser in `f32` (see the module docs; only the targets of [`f32_supported`]).
    pub single_precision: bool,
    /// Append every logged row to this CSV file as it is logged (header first), so a long
    /// run's progress can be read while it runs.
    pub csv: Option<std::path::PathBuf>,
}

/// One CSV row (the fields in column order).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LogRow {
    /// Completed iterations.
    pub iteration: u64,
    /// Target evaluations.
    pub evals: u64,
    /// Components.
    pub components: usize,
    /// 2000-sample ELBO estimate.
    pub elbo: f64,
    /// MMD against the ground truth (NaN without one).
    pub mmd: f64,
    /// Wall seconds since the start of the optimisation.
    pub wall_s: f64,
}

/// The CSV header.
pub const CSV_HEADER: &str = "iteration,evals,components,elbo,mmd,wall_s";

/// The final figures of a run (the JSON line: the fields but `rows`, in order; non-finite
/// numbers and a missing MMD are `null`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Target name.
    pub target: String,
    /// Codeword.
    pub algo: String,
    /// The optimiser's scalar type, `"f64"` or `"f32"`.
    pub scalar: &'static str,
    /// Seed.
    pub seed: u32,
    /// Iterations.
    pub iterations: u64,
    /// Target evaluations.
    pub evals: u64,
    /// Components.
    pub components: usize,
    /// Final 2000-sample ELBO (estimated in the optimiser's scalar type).
    pub elbo: f64,
    /// Optimiser milliseconds per iteration (without ELBO and MMD evaluations).
    pub ms_per_iter: f64,
    /// `size_of` the optimiser state.
    pub state_bytes: usize,
    /// Final MMD (`None` without ground truth).
    pub mmd: Option<f64>,
    /// Wall seconds of the whole run, evaluations included.
    pub wall_s: f64,
    /// Per-pass time and FLOPs per iteration ([`RunOptions::passes`]; otherwise absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passes: Option<Vec<PassRow>>,
    /// Every logged row.
    #[serde(skip)]
    pub rows: Vec<LogRow>,
}

impl Summary {
    /// One line of JSON, keys in a fixed order; non-finite numbers and a missing MMD are `null`.
    pub fn to_json(&self) -> String {
        // Serialising plain fields to a string cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The logged rows as CSV text with header (non-finite numbers as `NaN`, `inf`).
    ///
    /// # Errors
    /// Never in practice (the writer is a `Vec`); the `csv` writer's error type says otherwise.
    pub fn to_csv(&self) -> Result<String, String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        for r in &self.rows {
            w.serialize(r).map_err(|e| e.to_string())?;
        }
        if self.rows.is_empty() {
            w.write_record(CSV_HEADER.split(',')).map_err(|e| e.to_string())?;
        }
        let bytes = w.into_inner().map_err(|e| e.to_string())?;
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

/// Runs `spec` on a worker thread with a [`WORKER_STACK`] stack.
///
/// # Errors
/// A message for a missing data file, an invalid configuration (for example one that does not
/// fit the target's capacities), a failing target, or a panic of the worker.
pub fn run(spec: RunSpec) -> Result<Summary, String> {
    let worker =
        std::thread::Builder::new().name("gmmvi-bench".into()).stack_size(WORKER_STACK).spawn(move || run_here(&spec));
    match worker {
        Ok(h) => h.join().unwrap_or_else(|_| Err("the worker thread panicked".into())),
        Err(e) => Err(format!("cannot start the worker thread: {e}")),
    }
}

fn gmmvi_err(what: &str) -> impl Fn(gmmvi::Error) -> String + '_ {
    move |e| format!("{what}: {e:?}")
}

/// The initial model of docs/targets.md §0 with means from the NumPy stream `np` (drawn in
/// `f64`, then rounded to `T`).
fn initial_model<T: Real, const D: usize, const K: usize>(
    np: &mut NumpyRandomState,
    init: &InitSpec,
) -> Result<Gmm<T, D, K>, String> {
    if init.k0 == 0 || init.k0 > K {
        return Err(format!("k0 = {} must be in 1..={K} (the runner's component capacity for this target)", init.k0));
    }
    let scale = SVector::<f64, D>::from_fn(|d, _| init.prior_scale.at(d));
    let var = SVector::<f64, D>::from_fn(|d, _| init.initial_cov.at(d));
    if var.iter().any(|v| !(*v > 0.0 && v.is_finite())) || scale.iter().any(|s| !(s.is_finite() && *s >= 0.0)) {
        return Err("initial_cov must be positive and prior_scale non-negative".into());
    }
    let mut means = vec![SVector::<f64, D>::zeros(); init.k0];
    np.initial_means(&SVector::zeros(), &scale, &mut means);
    let cov = SMatrix::<f64, D, D>::from_diagonal(&var).map(T::of);
    let mut q = Gmm::new();
    for m in means {
        q.add_component(T::one(), m.map(T::of), &cov).map_err(gmmvi_err("initial model"))?;
    }
    q.set_log_weights(&vec![T::zero(); init.k0]).map_err(gmmvi_err("initial model"))?;
    Ok(q)
}

/// Whether `--f32` ([`RunOptions::single_precision`]) is available for `target`.
pub fn f32_supported(target: TargetId) -> bool {
    matches!(target, TargetId::PlanarRobot1 | TargetId::PlanarRobot4 | TargetId::Gmm20 | TargetId::BreastCancer)
}

/// `c` with its real fields rounded to `T` (the identity for `f64`).
fn config_as<T: Real>(c: &Config<f64>) -> Config<T> {
    let r = T::of;
    Config {
        temperature: r(c.temperature),
        ng: gmmvi::config::NgEstimationConfig {
            estimator: c.ng.estimator,
            only_use_own_samples: c.ng.only_use_own_samples,
            self_normalized: c.ng.self_normalized,
            initial_l2_regularizer: r(c.ng.initial_l2_regularizer),
        },
        adapt: gmmvi::config::AdaptConfig {
            mode: c.adapt.mode,
            del_iters: c.adapt.del_iters,
            add_iters: c.adapt.add_iters,
            max_components: c.adapt.max_components,
            // Same length as the source, so no push can fail.
            thresholds: c.adapt.thresholds.iter().map(|&t| r(t)).collect(),
            min_weight_for_del: r(c.adapt.min_weight_for_del),
            num_database_samples: c.adapt.num_database_samples,
            num_prior_samples: c.adapt.num_prior_samples,
        },
        samples: gmmvi::config::SampleSelectionConfig {
            selector: c.samples.selector,
            desired_samples_per_component: c.samples.desired_samples_per_component,
            reuse_ratio: r(c.samples.reuse_ratio),
            max_database_size: c.samples.max_database_size,
            use_sample_database: c.samples.use_sample_database,
        },
        component_update: c.component_update.clone(),
        component_step: gmmvi::config::ComponentStepConfig {
            schedule: c.component_step.schedule,
            initial: r(c.component_step.initial),
            min: r(c.component_step.min),
            max: r(c.component_step.max),
            inc_factor: r(c.component_step.inc_factor),
            dec_factor: r(c.component_step.dec_factor),
            annealing_exponent: r(c.component_step.annealing_exponent),
        },
        weight_update: c.weight_update.clone(),
        weight_step: gmmvi::config::WeightStepConfig {
            schedule: c.weight_step.schedule,
            initial: r(c.weight_step.initial),
            min: r(c.weight_step.min),
            max: r(c.weight_step.max),
            inc_factor: r(c.weight_step.inc_factor),
            dec_factor: r(c.weight_step.dec_factor),
            annealing_exponent: c.weight_step.annealing_exponent.map(r),
        },
    }
}

fn numpy_seed(spec: &RunSpec) -> NumpyRandomState {
    NumpyRandomState::new(spec.seed)
}

pub(crate) fn ground_truth<const D: usize>(spec: &RunSpec) -> Result<Option<Mmd>, String> {
    let Some((file, member, alpha)) = spec.target.ground_truth() else { return Ok(None) };
    let arr = match member {
        Some(m) => spec.run.data.npz_member(file, m)?,
        None => spec.run.data.npy(file)?,
    };
    let rows = arr.rows::<D>().map_err(|e| format!("{file}: {e}"))?;
    let n = spec.run.mmd_gt_rows.unwrap_or(rows.len()).min(rows.len());
    Mmd::new(rows[..n].iter().map(|r| r.as_slice().to_vec()).collect(), alpha).map(Some)
}

fn run_here(spec: &RunSpec) -> Result<Summary, String> {
    let f32 = spec.run.single_precision;
    if let Some(algo) = crate::baselines::Algo::from_name(&spec.algo) {
        if f32 {
            return Err(format!("--f32 is not supported for {} (the gradient-VI baselines run in f64)", algo.name()));
        }
        return crate::baselines::run_here(spec, algo);
    }
    if f32 && !f32_supported(spec.target) {
        return Err(format!("--f32 is not supported for {}", spec.target.name()));
    }
    let seed = u64::from(spec.seed);
    match spec.target {
        TargetId::PlanarRobot1 | TargetId::PlanarRobot4 => {
            let robot =
                if spec.target == TargetId::PlanarRobot1 { PlanarRobot::one_goal() } else { PlanarRobot::four_goals() };
            if f32 { planar_robot::<f32>(spec, robot) } else { planar_robot::<f64>(spec, robot) }
        }
        TargetId::Gmm20 => {
            let mut np = numpy_seed(spec);
            let gmm =
                Box::new(GaussianMixtureTarget::<f64, 20, 10>::numpy_benchmark(&mut np).map_err(gmmvi_err("GMM20"))?);
            if f32 { gmm20::<f32>(spec, &gmm, &mut np) } else { gmm20::<f64>(spec, &gmm, &mut np) }
        }
        TargetId::Gmm100 => {
            let mut np = numpy_seed(spec);
            let mut gmm = Box::new(GaussianMixtureTarget::<f64, 100, 10>::zeroed());
            gmm.numpy_benchmark_in_place(&mut np).map_err(gmmvi_err("GMM100"))?;
            let mut e = gmm.clone();
            let mut t = pointwise(|x: &SVector<f64, 100>, g| gmm.log_density_f64(x, g), spec.run.threads);
            let q = initial_model(&mut np, &spec.init)?;
            drive::<f64, 100, 50, 15_000, 100, 170, 0, _, _>(spec, q, &mut t, &mut *e, None, false)
        }
        TargetId::Stm20 => {
            let mut np = numpy_seed(spec);
            let mut loc = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut stm = Box::new(StudentTMixture::<f64, 20, 10>::zeroed());
            stm.numpy_benchmark_in_place(STM20_HALF_WIDTH, &mut np, &mut loc).map_err(gmmvi_err("STM20"))?;
            let mut e = stm.clone();
            let mut t = stm_rows(&stm, spec.run.threads);
            let q = initial_model(&mut np, &spec.init)?;
            drive::<f64, 20, 300, 180_000, 600, 170, 231, _, _>(spec, q, &mut t, &mut *e, None, false)
        }
        TargetId::Stm300 => {
            let mut np = numpy_seed(spec);
            let mut loc = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut stm = Box::new(StudentTMixture::<f64, 300, 20>::zeroed());
            stm.numpy_benchmark_in_place(STM300_HALF_WIDTH, &mut np, &mut loc).map_err(gmmvi_err("STM300"))?;
            let mut e = stm.clone();
            let mut t = stm_rows(&stm, spec.run.threads);
            let q = initial_model(&mut np, &spec.init)?;
            drive::<f64, 300, 64, 12_800, 64, 170, 0, _, _>(spec, q, &mut t, &mut *e, None, false)
        }
        TargetId::BreastCancer | TargetId::BreastCancerMb => {
            let (rows, labels) = spec.run.data.breast_cancer()?;
            let mmd = ground_truth::<31>(spec)?;
            if f32 {
                logistic_sized::<f32, 31, 528>(spec, &rows, &labels, mmd)
            } else {
                logistic_sized::<f64, 31, 528>(spec, &rows, &labels, mmd)
            }
        }
        TargetId::GermanCredit | TargetId::GermanCreditMb => {
            let (rows, labels) = spec.run.data.german_credit()?;
            logistic_sized::<f64, 25, 351>(spec, &rows, &labels, ground_truth::<25>(spec)?)
        }
        TargetId::Wine => {
            let (x, y) = spec.run.data.wine_train(seed % 10)?;
            let batch = BnnBatch::Random { size: WINE_BATCH_SIZE };
            let mut t = WineBnn::<f64, _>::new(&x, &y, batch, Xoshiro256PlusPlus::seed_from_u64(seed))
                .map_err(gmmvi_err("WINE"))?;
            // The reference's ELBO uses the same minibatch estimator; its own stream keeps the run unchanged.
            let mut e = WineBnn::<f64, _>::new(&x, &y, batch, Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5EED))
                .map_err(gmmvi_err("WINE"))?;
            let q = initial_model(&mut numpy_seed(spec), &spec.init)?;
            drive::<f64, 177, 64, 48_000, 128, 170, 0, _, _>(spec, q, &mut t, &mut e, None, false)
        }
    }
}

/// The planar robot with the optimiser in `T`.
fn planar_robot<T: Real>(spec: &RunSpec, robot: PlanarRobot) -> Result<Summary, String> {
    let mut e = robot;
    let f = |th: &SVector<f64, 10>, g: Option<&mut SVector<f64, 10>>| match g {
        None => robot.log_density_f64(&(*th).into(), None),
        Some(g) => {
            let mut ga = [0.0; 10];
            let l = robot.log_density_f64(&(*th).into(), Some(&mut ga));
            *g = ga.into();
            l
        }
    };
    let mut t = pointwise(f, spec.run.threads);
    let q = initial_model::<T, 10, 1000>(&mut numpy_seed(spec), &spec.init)?;
    drive::<T, 10, 1000, 200_000, 2000, 170, 0, _, _>(spec, q, &mut t, &mut e, ground_truth::<10>(spec)?, false)
}

/// GMM20 with the optimiser in `T`; `np` continues the stream that built `gmm`.
fn gmm20<T: Real>(
    spec: &RunSpec,
    gmm: &GaussianMixtureTarget<f64, 20, 10>,
    np: &mut NumpyRandomState,
) -> Result<Summary, String> {
    let f = |x: &SVector<f64, 20>, g: Option<&mut SVector<f64, 20>>| gmm.log_density_f64(x, g);
    let (mut t, mut e) = (pointwise(f, spec.run.threads), pointwise(f, 1));
    let q = initial_model::<T, 20, 300>(np, &spec.init)?;
    drive::<T, 20, 300, 180_000, 600, 170, 231, _, _>(spec, q, &mut t, &mut e, None, false)
}

/// The smaller component capacity of the BC/GC instantiations.
const FEW_COMPONENTS: usize = 8;

/// Whether a run takes the small-capacity instantiation: one iteration at the full capacity
/// `k_big` would draw more rows than the store's `s` (the ZAMTRUX minibatch rows: 4 200 and
/// 3 600 samples per component, with one add every 250 iterations), and `k_small` components
/// fit. The run then stops with an error if it reaches `k_small` components (`drive`'s
/// `k_exact`), so a finished run is the one a larger capacity would have given.
fn few_components_fit(spec: &RunSpec, s: usize, k_big: usize, k_small: usize) -> bool {
    let c = &spec.config;
    let n_des = c.samples.desired_samples_per_component;
    c.samples.selector == SampleSelector::ComponentBased
        && c.adapt.mode == ComponentAdaptation::Adaptive
        && n_des.saturating_mul(k_big) > s
        && n_des.saturating_mul(k_small) <= s
        && spec.init.k0 < k_small
}

/// BC/GC at the component capacity the run needs (K = 100, or [`FEW_COMPONENTS`] when
/// [`few_components_fit`]), with its initial model, the optimiser in `T`.
fn logistic_sized<T: Real, const D: usize, const M: usize>(
    spec: &RunSpec,
    rows: &[SVector<f64, D>],
    labels: &[u8],
    mmd: Option<Mmd>,
) -> Result<Summary, String> {
    const S: usize = 160_000;
    if few_components_fit(spec, S, 100, FEW_COMPONENTS) {
        let q = initial_model(&mut numpy_seed(spec), &spec.init)?;
        logistic::<T, D, FEW_COMPONENTS, S, 300, 340, M>(spec, q, rows, labels, mmd, true)
    } else {
        let q = initial_model(&mut numpy_seed(spec), &spec.init)?;
        logistic::<T, D, 100, S, 300, 340, M>(spec, q, rows, labels, mmd, false)
    }
}

/// BC/GC, full batch or minibatch (ELBO always on the full batch, docs/targets.md §6).
fn logistic<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, const H: usize, const M: usize>(
    spec: &RunSpec,
    q: Gmm<T, D, K>,
    rows: &[SVector<f64, D>],
    labels: &[u8],
    mmd: Option<Mmd>,
    k_exact: bool,
) -> Result<Summary, String> {
    let full = || LogisticRegression::<T, D>::new(rows, labels).map_err(gmmvi_err("logistic regression"));
    let mut e = full()?;
    if matches!(spec.target, TargetId::BreastCancerMb | TargetId::GermanCreditMb) {
        let mut perm = vec![0u32; rows.len()];
        let rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(spec.seed));
        let mut t = LogisticRegressionMinibatch::new(full()?, &mut perm, LOGREG_BATCH_SIZE, true, rng)
            .map_err(gmmvi_err("minibatch target"))?;
        drive::<T, D, K, S, G, H, M, _, _>(spec, q, &mut t, &mut e, mmd, k_exact)
    } else {
        // Full batch: the points are independent, so they are split over the runner's threads
        // (as the TF reference batches them over its cores); the values do not depend on the split.
        let t = full()?;
        let f = |th: &[SVector<T, D>], lp: &mut [T], g: Option<&mut [SVector<T, D>]>| {
            // A copy per part (the target is a few references); the lengths match by
            // construction (split_eval).
            let mut t = t;
            let r = match g {
                None => t.log_density(th, lp),
                Some(g) => t.log_density_with_grad(th, lp, g),
            };
            if r.is_err() {
                lp.fill(T::NAN);
            }
        };
        let mut t = rowwise(f, spec.run.threads);
        drive::<T, D, K, S, G, H, M, _, _>(spec, q, &mut t, &mut e, mmd, k_exact)
    }
}

/// Points below which a batch is evaluated on the calling thread (a spawn costs ~20 µs).
const POINTWISE_MIN_PART: usize = 16;

/// `f(rows, log_p, grads)`: evaluates a part of a batch (`grads` when gradients are asked for).
trait RowsFn<T, const D: usize>: Fn(&[SVector<T, D>], &mut [T], Option<&mut [SVector<T, D>]>) + Sync {}

impl<T, const D: usize, F> RowsFn<T, D> for F where
    F: Fn(&[SVector<T, D>], &mut [T], Option<&mut [SVector<T, D>]>) + Sync
{
}

/// A target whose rows are independent: `f(rows, log_p, grads)` evaluates a contiguous part
/// of a batch, and the parts run on up to `threads` scoped threads. Every row is computed by
/// the same code whatever the split, so runs are bit-identical for every thread count.
struct Rowwise<F> {
    f: F,
    threads: usize,
}

/// [`Rowwise`] with `f`'s signature fixed (closures infer the higher-ranked one from it).
fn rowwise<T, const D: usize, F>(f: F, threads: usize) -> Rowwise<F>
where
    F: Fn(&[SVector<T, D>], &mut [T], Option<&mut [SVector<T, D>]>) + Sync,
{
    Rowwise { f, threads }
}

/// [`Rowwise`] of a per-point `f(x, grad) = log p~(x)` in `f64` (the gradient buffer is
/// zeroed first) for an optimiser in `T`: points, values and gradients are converted.
fn pointwise<T: Real, const D: usize, F>(f: F, threads: usize) -> Rowwise<impl RowsFn<T, D>>
where
    F: Fn(&SVector<f64, D>, Option<&mut SVector<f64, D>>) -> f64 + Sync,
{
    rowwise(
        move |x: &[SVector<T, D>], lp: &mut [T], g: Option<&mut [SVector<T, D>]>| match g {
            None => x.iter().zip(lp).for_each(|(xi, l)| *l = T::of(f(&xi.map(T::to_f64), None))),
            Some(g) => x.iter().zip(lp).zip(g).for_each(|((xi, l), gi)| {
                let mut gd = SVector::<f64, D>::zeros();
                *l = T::of(f(&xi.map(T::to_f64), Some(&mut gd)));
                *gi = gd.map(T::of);
            }),
        },
        threads,
    )
}

/// [`Rowwise`] of a Student-t mixture's blocked rows: the factors (STM300: 14 MB) are swept
/// once per block of rows, not once per row.
fn stm_rows<const D: usize, const M: usize>(
    stm: &StudentTMixture<f64, D, M>,
    threads: usize,
) -> Rowwise<impl RowsFn<f64, D> + '_> {
    rowwise(
        move |x: &[SVector<f64, D>], lp: &mut [f64], g: Option<&mut [SVector<f64, D>]>| {
            // The lengths match by construction (split_eval); NaN rows would be rejected.
            if stm.log_density_rows_f64(x, lp, g).is_err() {
                lp.fill(f64::NAN);
            }
        },
        threads,
    )
}

/// Evaluates `run` on parts of the batch on up to `threads` scoped threads (parts of at least
/// [`POINTWISE_MIN_PART`] rows; one part runs on the calling thread).
fn split_eval<T: Send + Sync, const D: usize, R>(
    threads: usize,
    x: &[SVector<T, D>],
    log_p: &mut [T],
    grad: Option<&mut [SVector<T, D>]>,
    run: &R,
) where
    R: RowsFn<T, D>,
{
    let parts = threads.clamp(1, x.len().div_ceil(POINTWISE_MIN_PART).max(1));
    let part = x.len().div_ceil(parts).max(1);
    if parts == 1 {
        return run(x, log_p, grad);
    }
    std::thread::scope(|s| {
        let mut gparts = grad.map(|g| g.chunks_mut(part));
        for (xs, lp) in x.chunks(part).zip(log_p.chunks_mut(part)) {
            let g = gparts.as_mut().and_then(Iterator::next);
            s.spawn(move || run(xs, lp, g));
        }
    });
}

impl<T: Real, const D: usize, F: RowsFn<T, D>> Target<T, D> for Rowwise<F> {
    fn log_density(&mut self, x: &[SVector<T, D>], log_p: &mut [T]) -> Result<(), gmmvi::TargetError> {
        if x.len() != log_p.len() {
            return Err(gmmvi::TargetError { code: -1 });
        }
        split_eval(self.threads, x, log_p, None, &self.f);
        Ok(())
    }

    fn log_density_with_grad(
        &mut self,
        x: &[SVector<T, D>],
        log_p: &mut [T],
        grad: &mut [SVector<T, D>],
    ) -> Result<(), gmmvi::TargetError> {
        if x.len() != log_p.len() || grad.len() != x.len() {
            return Err(gmmvi::TargetError { code: -1 });
        }
        split_eval(self.threads, x, log_p, Some(grad), &self.f);
        Ok(())
    }
}

/// `n` samples of the model as `f64` rows.
fn model_samples<T: Real, const D: usize, const K: usize>(
    q: &Gmm<T, D, K>,
    rng: &mut Xoshiro256PlusPlus,
    n: usize,
) -> Vec<Vec<f64>> {
    let mut xs = vec![SVector::<T, D>::zeros(); n];
    let drawn = q.sample(rng, &mut xs);
    xs[..drawn].iter().map(|x| x.iter().map(|v| v.to_f64()).collect()).collect()
}

/// The optimisation loop with logging.
#[allow(clippy::too_many_arguments)]
fn drive<
    T: Real,
    const D: usize,
    const K: usize,
    const S: usize,
    const G: usize,
    const H: usize,
    const M: usize,
    P,
    E,
>(
    spec: &RunSpec,
    q: Gmm<T, D, K>,
    target: &mut P,
    elbo_target: &mut E,
    mmd: Option<Mmd>,
    k_exact: bool,
) -> Result<Summary, String>
where
    P: Target<T, D>,
    E: Target<T, D>,
{
    let start = Instant::now();
    let var = SVector::<f64, D>::from_fn(|d, _| spec.init.initial_cov.at(d)).map(T::of);
    let config = config_as::<T>(&spec.config);
    // Built in place on the heap: the state (hundreds of MB at high D) is neither built on the
    // stack nor copied, so its construction costs one pass over its bytes.
    let mut slot = Box::<Optimizer<T, D, K, S, G, H, false, M>>::new_uninit();
    let opt = Optimizer::new_in(&mut slot, &config, &q, u64::from(spec.seed)).map_err(|e| {
        format!(
            "{e:?} (capacities for {}: D = {D}, K = {K}, S = {S}, G = {G}, H = {H}, MORE workspace M = {M})",
            spec.target.name()
        )
    })?;
    // The prior N(prior_mean = 0, diag(initial_cov)) of docs/targets.md §0: the add heuristic's
    // entropy and, with num_prior_samples, its extra candidates.
    opt.set_prior(&SVector::zeros(), &var).map_err(gmmvi_err("prior"))?;
    let mut mmd_rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(spec.seed) ^ 0x004D_4D44);
    let stein = spec.config.ng.estimator == NgEstimator::Stein;
    let par = PassTimer::new(Threads::new(spec.run.threads), spec.run.passes, D, stein);
    let target = &mut TimedTarget { inner: target, timer: &par };
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
    let mut log = |opt: &mut Optimizer<T, D, K, S, G, H, false, M>, rows: &mut RowLog| -> Result<LogRow, String> {
        let t = Instant::now();
        let elbo = opt.estimate_elbo(elbo_target, spec.run.elbo_samples).map_err(gmmvi_err("ELBO estimate"))?.to_f64();
        let m = mmd.as_ref().map_or(f64::NAN, |m| m.eval(&model_samples(opt.model(), &mut mmd_rng, MMD_MODEL_SAMPLES)));
        eval_time += t.elapsed();
        let row = LogRow {
            iteration: opt.iterations(),
            evals: opt.evaluations(),
            components: opt.model().len(),
            elbo,
            mmd: m,
            wall_s: start.elapsed().as_secs_f64(),
        };
        rows.push(row)?;
        Ok(row)
    };
    while opt.evaluations() < spec.run.evals && opt.iterations() < spec.run.max_iterations {
        par.begin_step();
        let rep = opt.step_with(target, &par).map_err(gmmvi_err("step"))?;
        par.end_step();
        // `k_exact`: K was chosen below what the configuration allows; reaching it could block
        // an add, and the run would no longer be the configuration's.
        if k_exact && rep.components >= K && K < spec.config.adapt.max_components {
            return Err(format!(
                "{}: the component capacity K = {K} was reached at iteration {}; this run needs a larger instantiation",
                spec.target.name(),
                rep.iteration
            ));
        }
        bar.set_position(rep.evaluations.min(spec.run.evals));
        if spec.run.log_every > 0 && rep.iteration.is_multiple_of(spec.run.log_every) {
            let row = log(opt, &mut rows)?;
            bar.set_message(format!("it {} K {} -ELBO {:.4}", row.iteration, row.components, -row.elbo));
        } else {
            bar.set_message(format!("it {} K {}", rep.iteration, rep.components));
        }
    }
    if rows.last().is_none_or(|r| r.iteration != opt.iterations()) {
        log(opt, &mut rows)?;
    }
    bar.finish_and_clear();
    let last = rows.last().copied().ok_or("no row logged")?;
    let iters = opt.iterations();
    let opt_time = start.elapsed().saturating_sub(eval_time);
    Ok(Summary {
        target: spec.target.name().into(),
        algo: spec.algo.clone(),
        scalar: if size_of::<T>() == size_of::<f32>() { "f32" } else { "f64" },
        seed: spec.seed,
        iterations: iters,
        evals: opt.evaluations(),
        components: opt.model().len(),
        elbo: last.elbo,
        ms_per_iter: if iters > 0 { opt_time.as_secs_f64() * 1e3 / iters as f64 } else { f64::NAN },
        state_bytes: size_of::<Optimizer<T, D, K, S, G, H, false, M>>(),
        mmd: mmd.as_ref().map(|_| last.mmd),
        wall_s: start.elapsed().as_secs_f64(),
        passes: par.rows(),
        rows: rows.into_rows(),
    })
}

/// The rows logged so far, each also appended to the CSV file of [`RunOptions::csv`] (and
/// flushed) as it comes.
pub struct RowLog {
    rows: Vec<LogRow>,
    csv: Option<(csv::Writer<std::fs::File>, std::path::PathBuf)>,
}

impl RowLog {
    /// An empty log; creates (truncates) `path` if given.
    ///
    /// # Errors
    /// If the file cannot be created.
    pub fn new(path: Option<&std::path::Path>) -> Result<Self, String> {
        let csv = match path {
            Some(p) => Some((
                csv::Writer::from_path(p).map_err(|e| format!("cannot create {}: {e}", p.display()))?,
                p.to_path_buf(),
            )),
            None => None,
        };
        Ok(Self { rows: Vec::new(), csv })
    }

    /// Logs `row`.
    ///
    /// # Errors
    /// If the CSV file cannot be written.
    pub fn push(&mut self, row: LogRow) -> Result<(), String> {
        if let Some((w, p)) = &mut self.csv {
            w.serialize(row)
                .and_then(|()| w.flush().map_err(Into::into))
                .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
        }
        self.rows.push(row);
        Ok(())
    }

    /// The last row logged.
    pub fn last(&self) -> Option<&LogRow> {
        self.rows.last()
    }

    /// Every row logged.
    pub fn into_rows(self) -> Vec<LogRow> {
        self.rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointwise_split_does_not_change_values() {
        let f = |x: &SVector<f64, 3>, g: Option<&mut SVector<f64, 3>>| {
            if let Some(g) = g {
                *g = x.map(|v| -v.sin());
            }
            x.map(f64::cos).sum() + 1e-3 * x.norm_squared()
        };
        let xs: Vec<SVector<f64, 3>> =
            (0..101).map(|i| SVector::from_fn(|d, _| (i * 3 + d) as f64 * 0.37 - 20.0)).collect();
        let mut runs = Vec::new();
        for threads in [1, 2, 3, 8] {
            let mut t = pointwise(f, threads);
            let (mut lp, mut g) = (vec![0.0; xs.len()], vec![SVector::<f64, 3>::zeros(); xs.len()]);
            t.log_density_with_grad(&xs, &mut lp, &mut g).unwrap();
            let mut lp2 = vec![0.0; xs.len()];
            t.log_density(&xs, &mut lp2).unwrap();
            assert_eq!(lp, lp2);
            runs.push((lp, g));
            assert!(t.log_density(&xs, &mut [0.0; 3]).is_err());
        }
        for (x, (l, g)) in xs.iter().zip(runs[0].0.iter().zip(&runs[0].1)) {
            let mut gd = SVector::zeros();
            assert_eq!(f(x, Some(&mut gd)).to_bits(), l.to_bits());
            assert_eq!(gd, *g);
        }
        assert!(runs.iter().all(|r| *r == runs[0]));
    }

    /// `f64` is copied unchanged; `f32` rounds every real field and keeps the rest.
    #[test]
    fn config_conversion() {
        let c = Config::<f64>::parse("SEPYFUX beta=0.1 weight_stepsize.annealing_exponent=0.3 reuse=1.5").unwrap();
        assert_eq!(config_as::<f64>(&c), c);
        let s = config_as::<f32>(&c);
        assert_eq!(s.codeword(), c.codeword());
        assert_eq!(
            s,
            Config::<f32>::parse("SEPYFUX beta=0.1 weight_stepsize.annealing_exponent=0.3 reuse=1.5").unwrap()
        );
        assert_eq!((s.component_step.initial, s.weight_step.annealing_exponent), (0.1f32, Some(0.3f32)));
        assert_eq!(s.adapt.thresholds.len(), c.adapt.thresholds.len());
    }

    #[test]
    fn json_and_csv() {
        let row = LogRow { iteration: 3, evals: 900, components: 2, elbo: -1.5, mmd: f64::NAN, wall_s: 0.25 };
        let s = Summary {
            target: "gmm20".into(),
            algo: "SAMTRUX".into(),
            scalar: "f64",
            seed: 0,
            iterations: 3,
            evals: 900,
            components: 2,
            elbo: -1.5,
            ms_per_iter: 2.0,
            state_bytes: 10,
            mmd: None,
            wall_s: 0.5,
            passes: None,
            rows: vec![row],
        };
        assert_eq!(
            s.to_json(),
            r#"{"target":"gmm20","algo":"SAMTRUX","scalar":"f64","seed":0,"iterations":3,"evals":900,"components":2,"elbo":-1.5,"ms_per_iter":2.0,"state_bytes":10,"mmd":null,"wall_s":0.5}"#
        );
        assert_eq!(s.to_csv().unwrap(), "iteration,evals,components,elbo,mmd,wall_s\n3,900,2,-1.5,NaN,0.25\n");
        // Non-finite numbers are null; strings are escaped.
        let odd = Summary { algo: "a\"b\\\n".into(), elbo: f64::NEG_INFINITY, mmd: Some(f64::NAN), rows: vec![], ..s };
        let v: serde_json::Value = serde_json::from_str(&odd.to_json()).unwrap();
        assert_eq!((v["algo"].as_str(), v["elbo"].is_null(), v["mmd"].is_null()), (Some("a\"b\\\n"), true, true));
        assert_eq!(odd.to_csv().unwrap(), "iteration,evals,components,elbo,mmd,wall_s\n");
    }

    /// Each row is on disk once it is logged, and the finished file is the summary's CSV.
    #[test]
    fn row_log_appends_as_it_goes() {
        let path = std::env::temp_dir().join(format!("gmmvi-rowlog-{}.csv", std::process::id()));
        let mut log = RowLog::new(Some(&path)).unwrap();
        let rows = [
            LogRow { iteration: 1, evals: 300, components: 2, elbo: -3.0, mmd: f64::NAN, wall_s: 0.1 },
            LogRow { iteration: 2, evals: 600, components: 3, elbo: -2.5, mmd: 0.5, wall_s: 0.2 },
        ];
        log.push(rows[0]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "iteration,evals,components,elbo,mmd,wall_s\n1,300,2,-3.0,NaN,0.1\n"
        );
        log.push(rows[1]).unwrap();
        assert_eq!(log.last(), Some(&rows[1]));
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let s = Summary {
            target: "gmm20".into(),
            algo: "SAMTRUX".into(),
            scalar: "f64",
            seed: 0,
            iterations: 2,
            evals: 600,
            components: 3,
            elbo: -2.5,
            ms_per_iter: 1.0,
            state_bytes: 10,
            mmd: None,
            wall_s: 0.3,
            passes: None,
            rows: log.into_rows(),
        };
        assert_eq!(text, s.to_csv().unwrap());
        assert!(RowLog::new(Some(std::path::Path::new("/nonexistent-dir/x.csv"))).is_err());
    }
}

//! Wall time of one SAMTRUX iteration ([`Optimizer::step`]) at a fixed number of components:
//!
//! * `step/planar_robot_4_k30`: the 10-link planar robot with four goals, Planar4
//!   hyperparameters, 30 components (adding switched off);
//! * `step/gmm20_k10`: a random 20-D mixture of 10 broad Gaussians (docs/targets.md §2.1 recipe,
//!   own RNG stream), library-default SAMTRUX, 10 components;
//! * `step/planar_robot_4_k300_f64` and `_f32`: the reference's timing configuration
//!   (bench/RESULTS.md, "Published figures": SAMTRUX on planar_robot_4 with ~300 components and
//!   100 samples per component, 3.9 s per iteration on two cores): 300 components, Planar4
//!   hyperparameters including the add heuristic over 10⁵ stored samples every iteration;
//!   serial and on every core (`_threads`, [`Threads::available`]).
//!
//! * `step/diag_d50_full` and `step/diag_d50_diagonal`: a 50-D diagonal Gaussian target, 8
//!   components, library-default SAMTRUX, with the full and the diagonal covariance model
//!   (`Optimizer<…, DIAG>`).
//!
//! Each optimiser is warmed up with a few steps; every measured call then starts from a clone
//! of that warmed-up state (same RNG state too), so all measured steps do the same work.
//!
//! ```text
//! cargo bench --bench step
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, criterion_group};
use gmmvi::rng::{fill_standard_normal, uniform};
use gmmvi::{Config, Gmm, Optimizer, Parallel, Real, Serial, Target, Threads};
use gmmvi_targets::{GaussianMixtureTarget, PlanarRobot};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Steps run before measuring.
const WARMUP_STEPS: usize = 5;

/// Planar robot: `D = 10`, room for 64 components, 16 384 stored samples.
type PlanarOpt = Optimizer<f64, 10, 64, 16_384, 128, 32>;
/// GMM20: `D = 20`, room for 16 components, 8192 stored samples, history for `del_iters = 100`.
type Gmm20Opt = Optimizer<f64, 20, 16, 8192, 128, 256>;

/// Planar robot at the reference's scale: room for 400 components and 200 000 stored samples.
type PlanarOpt300<T> = Optimizer<T, 10, 400, 200_000, 800, 32>;

/// Dimension and component count of the GMM20 target.
const GMM_D: usize = 20;
const GMM_M: usize = 10;

fn planar_robot_4_k30() -> (Box<PlanarOpt>, PlanarRobot) {
    const K0: usize = 30;
    let mut cfg = Config::<f64>::samtrux_planar_robot_4();
    // A fixed number of components: never add (deletion still runs, but only removes
    // components whose weight stayed below 1e-6).
    cfg.adapt.add_iters = 1_000_000;
    let var =
        SVector::<f64, 10>::from([0.0625, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025]);
    let scale = SVector::from(PlanarRobot::PRIOR_STD);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let init = Gmm::from_prior(K0, &SVector::zeros(), &scale, &var, &mut rng).expect("initial model");
    let mut opt = Box::new(PlanarOpt::new(&cfg, init, 0).expect("optimiser"));
    opt.set_prior_variances(&var).expect("prior");
    (opt, PlanarRobot::four_goals())
}

/// 300 components from the Planar4 prior, then enough steps to fill the store with 10⁵ samples.
fn planar_robot_4_k300<T: Real>() -> (Box<PlanarOpt300<T>>, PlanarRobot) {
    const K0: usize = 300;
    let cfg = Config::<T>::samtrux_planar_robot_4();
    let var = SVector::<T, 10>::from_fn(|d, _| T::of(if d == 0 { 0.0625 } else { 0.0025 }));
    let scale = SVector::<T, 10>::from_fn(|d, _| T::of(PlanarRobot::PRIOR_STD[d]));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let init = Gmm::from_prior(K0, &SVector::zeros(), &scale, &var, &mut rng).expect("initial model");
    let mut opt = Box::new(PlanarOpt300::new(&cfg, init, 0).expect("optimiser"));
    opt.set_prior_variances(&var).expect("prior");
    (opt, PlanarRobot::four_goals())
}

/// Ten components, means uniform on `[−50, 50)^20`, covariances `AᵀA + I` with `A_ij ~ N(0, 2²)`.
fn gmm20_target(seed: u64) -> GaussianMixtureTarget<f64, GMM_D, GMM_M> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let weights = [1.0 / GMM_M as f64; GMM_M];
    let mut means = [SVector::<f64, GMM_D>::zeros(); GMM_M];
    let mut covs = [SMatrix::<f64, GMM_D, GMM_D>::zeros(); GMM_M];
    for (mean, cov) in means.iter_mut().zip(covs.iter_mut()) {
        for v in mean.iter_mut() {
            *v = 100.0 * (uniform(&mut rng) - 0.5);
        }
        let mut a = SMatrix::<f64, GMM_D, GMM_D>::zeros();
        fill_standard_normal(&mut rng, a.as_mut_slice());
        a *= 2.0;
        *cov = a.transpose() * a + SMatrix::identity();
    }
    GaussianMixtureTarget::new(&weights, &means, &covs).expect("GMM20 target")
}

fn gmm20_k10() -> (Box<Gmm20Opt>, GaussianMixtureTarget<f64, GMM_D, GMM_M>) {
    let mut cfg = Config::<f64>::samtrux();
    cfg.samples.desired_samples_per_component = 100;
    let var = SVector::<f64, GMM_D>::repeat(1000.0);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let init = Gmm::from_prior(10, &SVector::zeros(), &SVector::repeat(31.63), &var, &mut rng).expect("initial model");
    let mut opt = Box::new(Gmm20Opt::new(&cfg, init, 1).expect("optimiser"));
    opt.set_prior_variances(&var).expect("prior");
    (opt, gmm20_target(10_000))
}

/// A diagonal Gaussian in `R^50` with variances from 0.1 to 10 (log density and gradient O(D)).
struct DiagGauss50;

impl Target<f64, 50> for DiagGauss50 {
    fn log_density(&mut self, x: &[SVector<f64, 50>], lp: &mut [f64]) -> Result<(), gmmvi::TargetError> {
        let mut g = [SVector::zeros(); gmmvi::TARGET_BLOCK];
        self.log_density_with_grad(x, lp, &mut g[..x.len()])
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f64, 50>],
        lp: &mut [f64],
        grad: &mut [SVector<f64, 50>],
    ) -> Result<(), gmmvi::TargetError> {
        for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
            let mut s = 0.0;
            for d in 0..50 {
                let prec = 10f64.powf(1.0 - 2.0 * d as f64 / 49.0);
                s += prec * xi[d] * xi[d];
                g[d] = -prec * xi[d];
            }
            *l = -0.5 * s;
        }
        Ok(())
    }
}

type Diag50Opt<const DG: bool> = Optimizer<f64, 50, 8, 4096, 64, 256, DG>;

/// 8 components from the prior, adding switched off.
fn diag_d50<const DG: bool>() -> Box<Diag50Opt<DG>> {
    let mut cfg = Config::<f64>::samtrux();
    cfg.adapt.add_iters = 1_000_000;
    let var = SVector::<f64, 50>::repeat(4.0);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
    let init = Gmm::from_prior(8, &SVector::zeros(), &SVector::repeat(2.0), &var, &mut rng).expect("initial model");
    Box::new(Diag50Opt::<DG>::new(&cfg, init, 3).expect("optimiser"))
}

/// Warms `opt` up, then measures single steps, each from a fresh clone of the warmed-up state.
#[allow(clippy::type_complexity)]
fn bench_step<T, const D: usize, const K: usize, const S: usize, const G: usize, const H: usize, const DG: bool, P, X>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    mut opt: Box<Optimizer<T, D, K, S, G, H, DG>>,
    mut target: P,
    par: &X,
) where
    T: Real,
    P: Target<T, D>,
    X: Parallel,
{
    for _ in 0..WARMUP_STEPS {
        opt.step_with(&mut target, par).expect("warm-up step");
    }
    let rep = opt.step_with(&mut target, par).expect("step");
    eprintln!(
        "step/{name}: after warm-up K = {}, {} new evaluations and {} working-set rows per step, elbo_est {:?}",
        rep.components, rep.new_evaluations, rep.working_set, rep.elbo_estimate
    );
    group.bench_function(name, |b| {
        b.iter_batched(
            || opt.clone(),
            |mut o| {
                black_box(o.step_with(&mut target, par).expect("step"));
                o
            },
            BatchSize::PerIteration,
        )
    });
}

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("step");
    // Steps take milliseconds: flat sampling (the same iteration count per sample) fits 20
    // samples into the measurement time.
    group.sample_size(20).measurement_time(Duration::from_secs(12)).sampling_mode(SamplingMode::Flat);
    let (opt, target) = planar_robot_4_k30();
    bench_step(&mut group, "planar_robot_4_k30", opt, target, &Serial);
    let (opt, target) = gmm20_k10();
    bench_step(&mut group, "gmm20_k10", opt, target, &Serial);
    bench_step(&mut group, "diag_d50_full", diag_d50::<false>(), DiagGauss50, &Serial);
    bench_step(&mut group, "diag_d50_diagonal", diag_d50::<true>(), DiagGauss50, &Serial);
    group.finish();

    // Steps of about a second: the fewest samples criterion accepts.
    let mut group = c.benchmark_group("step");
    group.sample_size(10).measurement_time(Duration::from_secs(10)).sampling_mode(SamplingMode::Flat);
    let threads = Threads::available();
    let (opt, target) = planar_robot_4_k300::<f64>();
    bench_step(&mut group, "planar_robot_4_k300_f64", opt, target, &Serial);
    let (opt, target) = planar_robot_4_k300::<f64>();
    bench_step(&mut group, "planar_robot_4_k300_f64_threads", opt, target, &threads);
    let (opt, target) = planar_robot_4_k300::<f32>();
    bench_step(&mut group, "planar_robot_4_k300_f32", opt, target, &Serial);
    let (opt, target) = planar_robot_4_k300::<f32>();
    bench_step(&mut group, "planar_robot_4_k300_f32_threads", opt, target, &threads);
    group.finish();
}

criterion_group!(benches, step);

/// Like `criterion_main!`, but on a thread with a large stack: the optimisers are up to 62 MB and
/// are built (and cloned) by value before they are boxed.
fn main() {
    std::thread::Builder::new()
        .name("bench".into())
        .stack_size(1 << 30)
        .spawn(|| {
            benches();
            Criterion::default().configure_from_args().final_summary();
        })
        .expect("bench thread")
        .join()
        .expect("bench panicked");
}

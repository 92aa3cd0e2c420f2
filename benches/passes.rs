//! The passes of one SAMTRUX iteration and the kernel they are built on, on two threads:
//!
//! * `floor/d{D}_k{K}`: the mixture log-density kernel ([`Gmm::log_density_many`], 16-row
//!   chunks) of 16 384 points under K components, every (point, component) pair evaluated
//!   (the components overlap, so the bounds prune nothing; checked at set-up). The throughput
//!   is in FLOPs, `D² + 4D + 6` per pair (`log N`: `D² + 4D + 2`, a log-sum-exp term: 4; a
//!   fused multiply-add counts 2, `exp` 1), so criterion's `elem/s` is FLOP/s: the rate the
//!   project's own kernel reaches on this machine. Sizes: D = 10, K = 300 (planar_robot_4);
//!   D = 20, K = 16 (gmm20); D = 31, K = 8 (breast_cancer).
//! * `pass/{setup}/{pass}`: the time of one pass ([`Pass`]) of an iteration, reported by the
//!   optimiser to a timing executor ([`Parallel::pass_done`]). Set-ups: `planar_robot_4_k300`
//!   (Planar4 hyperparameters, 300 components, add heuristic over the stored samples),
//!   `gmm20_k10` (a random 20-D mixture, 10 components) and `gauss31_k4` (a correlated 31-D
//!   Gaussian, breast_cancer's dimension and `n_des = 250`, 4 components). Every measured step
//!   starts from a clone of the same warmed-up optimiser (same RNG state), so all do the same
//!   work; a sample times the pass in one step and scales it to criterion's iteration count
//!   (a step costs far more than most of its passes).
//!
//! ```text
//! cargo bench --bench passes
//! cargo bench --bench passes -- floor
//! ```

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group};
use gmmvi::rng::{fill_standard_normal, uniform};
use gmmvi::{Config, Gmm, Optimizer, Parallel, Pass, Real, Target, TargetError, Threads};
use gmmvi_targets::{GaussianMixtureTarget, PlanarRobot};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Threads of the hot loops (the benchmark runner's `--threads 2`).
const THREADS: usize = 2;
/// Points of the kernel floor.
const FLOOR_ROWS: usize = 16_384;
/// Steps run before measuring.
const WARMUP_STEPS: usize = 5;

/// FLOPs of one (point, component) pair of the kernel: `D² + 4D + 6`.
fn pair_flops(d: usize) -> u64 {
    (d * d + 4 * d + 6) as u64
}

/// K overlapping components of equal weight in `R^D` (means within ±0.5, covariances
/// `0.1·AAᵀ/D + I`, `A_ij ~ N(0, 1)`) and
/// [`FLOOR_ROWS`] points drawn from them.
fn floor_case<const D: usize, const K: usize>() -> (Box<Gmm<f64, D, K>>, Vec<SVector<f64, D>>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(17);
    let mut q = Box::new(Gmm::new());
    for _ in 0..K {
        let mean = SVector::<f64, D>::from_fn(|_, _| uniform(&mut rng) - 0.5);
        let mut a = SMatrix::<f64, D, D>::zeros();
        fill_standard_normal(&mut rng, a.as_mut_slice());
        let cov = a * a.transpose() * (0.1 / D as f64) + SMatrix::identity();
        q.add_component(1.0, mean, &cov).expect("valid component");
    }
    q.set_log_weights(&[0.0; K]).expect("K weights");
    let mut xs = vec![SVector::zeros(); FLOOR_ROWS];
    q.sample(&mut rng, &mut xs);
    // Every component within the kernel's negligible range of the largest term at every point:
    // no block of points can prune it, so every pair is evaluated.
    let mut v = [0.0; K];
    let lw = q.log_weights().to_vec();
    for x in &xs {
        q.component_log_densities(x, &mut v).expect("K slots");
        let t: Vec<f64> = v.iter().zip(&lw).map(|(a, b)| a + b).collect();
        let (lo, hi) = t.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &a| (l.min(a), h.max(a)));
        assert!(hi - lo < f64::NEGLIGIBLE_LOG, "a component would be pruned ({lo} vs {hi})");
    }
    (q, xs)
}

fn bench_floor<const D: usize, const K: usize>(c: &mut Criterion) {
    let (q, xs) = floor_case::<D, K>();
    let par = Threads::new(THREADS);
    let mut out = vec![0.0; xs.len()];
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(pair_flops(D) * (K * xs.len()) as u64));
    group.sample_size(20).measurement_time(Duration::from_secs(6));
    group.bench_function(format!("d{D}_k{K}"), |b| {
        b.iter(|| {
            // Two halves, one per thread (the passes split rows the same way).
            par.for_each_chunk(&mut out, xs.len().div_ceil(THREADS), &|first, part| {
                q.log_density_many(&xs[first..first + part.len()], part);
            });
            black_box(&out);
        })
    });
    group.finish();
}

/// An executor that adds up the time of one pass (the time since the previous pass ended).
struct PassClock<X> {
    inner: X,
    pass: Pass,
    /// (end of the previous pass, time of `pass` so far)
    state: Mutex<(Instant, Duration)>,
}

impl<X> PassClock<X> {
    fn start(&self) {
        self.state.lock().expect("clock").0 = Instant::now();
    }
    fn take(&self) -> Duration {
        std::mem::take(&mut self.state.lock().expect("clock").1)
    }
}

impl<X: Parallel> Parallel for PassClock<X> {
    fn pass_done(&self, pass: Pass, _rows: usize, _gaussians: usize) {
        let mut s = self.state.lock().expect("clock");
        let (mark, spent) = &mut *s;
        let now = Instant::now();
        if pass == self.pass {
            *spent += now - *mark;
        }
        *mark = now;
    }

    fn for_each_chunk<U: Send>(&self, items: &mut [U], chunk: usize, f: &(dyn Fn(usize, &mut [U]) + Sync)) {
        self.inner.for_each_chunk(items, chunk, f);
    }
}

/// The passes of a SAMTRUX step (Stein, trust region, adaptive).
const PASSES: [(Pass, &str); 8] = [
    (Pass::Background, "background"),
    (Pass::Selection, "selection"),
    (Pass::Draw, "draw_with_target"),
    (Pass::LogQ, "log_q"),
    (Pass::Estimation, "estimation"),
    (Pass::ComponentUpdate, "component_update"),
    (Pass::WeightUpdate, "weight_update"),
    (Pass::Adaptation, "adaptation"),
];

/// Warms `opt` up, then one benchmark per pass (see the module docs).
#[allow(clippy::type_complexity)]
fn bench_passes<const D: usize, const K: usize, const S: usize, const G: usize, const H: usize, P>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    setup: &str,
    mut opt: Box<Optimizer<f64, D, K, S, G, H>>,
    mut target: P,
) where
    P: Target<f64, D>,
{
    let threads = Threads::new(THREADS);
    for _ in 0..WARMUP_STEPS {
        opt.step_with(&mut target, &threads).expect("warm-up step");
    }
    for (pass, name) in PASSES {
        let clock = PassClock { inner: threads, pass, state: Mutex::new((Instant::now(), Duration::ZERO)) };
        group.bench_function(format!("{setup}/{name}"), |b| {
            b.iter_custom(|iters| {
                let mut o = opt.clone();
                clock.start();
                black_box(o.step_with(&mut target, &clock).expect("step"));
                clock.take() * u32::try_from(iters).unwrap_or(u32::MAX)
            })
        });
    }
}

/// Planar robot at the reference's scale: room for 400 components and 200 000 stored samples.
type PlanarOpt300 = Optimizer<f64, 10, 400, 200_000, 800, 32>;

fn planar_robot_4_k300() -> (Box<PlanarOpt300>, PlanarRobot) {
    let cfg = Config::<f64>::samtrux_planar_robot_4();
    let var = SVector::<f64, 10>::from_fn(|d, _| if d == 0 { 0.0625 } else { 0.0025 });
    let scale = SVector::from(PlanarRobot::PRIOR_STD);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let init = Gmm::from_prior(300, &SVector::zeros(), &scale, &var, &mut rng).expect("initial model");
    let mut opt = Box::new(PlanarOpt300::new(&cfg, init, 0).expect("optimiser"));
    opt.set_prior_variances(&var).expect("prior");
    (opt, PlanarRobot::four_goals())
}

/// GMM20: ten components, means uniform on `[−50, 50)^20`, covariances `AᵀA + I`, `A_ij ~ N(0, 2²)`.
fn gmm20_k10() -> (Box<Optimizer<f64, 20, 16, 8192, 128, 256>>, GaussianMixtureTarget<f64, 20, 10>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(10_000);
    let weights = [0.1; 10];
    let mut means = [SVector::<f64, 20>::zeros(); 10];
    let mut covs = [SMatrix::<f64, 20, 20>::zeros(); 10];
    for (mean, cov) in means.iter_mut().zip(covs.iter_mut()) {
        mean.iter_mut().for_each(|v| *v = 100.0 * (uniform(&mut rng) - 0.5));
        let mut a = SMatrix::<f64, 20, 20>::zeros();
        fill_standard_normal(&mut rng, a.as_mut_slice());
        a *= 2.0;
        *cov = a.transpose() * a + SMatrix::identity();
    }
    let target = GaussianMixtureTarget::new(&weights, &means, &covs).expect("GMM20 target");
    let mut cfg = Config::<f64>::samtrux();
    cfg.samples.desired_samples_per_component = 100;
    let var = SVector::<f64, 20>::repeat(1000.0);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let init = Gmm::from_prior(10, &SVector::zeros(), &SVector::repeat(31.63), &var, &mut rng).expect("initial model");
    let mut opt = Box::new(Optimizer::new(&cfg, init, 1).expect("optimiser"));
    opt.set_prior_variances(&var).expect("prior");
    (opt, target)
}

/// `N(0, Σ)` in `R^31` with `Σ⁻¹ = 0.1·BBᵀ + I` (a fixed random `B`): breast_cancer's dimension.
struct Gauss31 {
    prec: SMatrix<f64, 31, 31>,
}

impl Target<f64, 31> for Gauss31 {
    fn log_density(&mut self, x: &[SVector<f64, 31>], lp: &mut [f64]) -> Result<(), TargetError> {
        let mut g = vec![SVector::zeros(); x.len()];
        self.log_density_with_grad(x, lp, &mut g)
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f64, 31>],
        lp: &mut [f64],
        grad: &mut [SVector<f64, 31>],
    ) -> Result<(), TargetError> {
        for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
            *g = -(self.prec * xi);
            *l = 0.5 * xi.dot(g);
        }
        Ok(())
    }
}

fn gauss31_k4() -> (Box<Optimizer<f64, 31, 8, 8192, 64, 256>>, Gauss31) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(31);
    let mut b = SMatrix::<f64, 31, 31>::zeros();
    fill_standard_normal(&mut rng, b.as_mut_slice());
    let prec = b * b.transpose() * 0.1 + SMatrix::identity();
    let mut cfg = Config::<f64>::samtrux();
    cfg.samples.desired_samples_per_component = 250;
    cfg.adapt.add_iters = 1_000_000;
    let var = SVector::<f64, 31>::repeat(4.0);
    let init = Gmm::from_prior(4, &SVector::zeros(), &SVector::repeat(2.0), &var, &mut rng).expect("initial model");
    let mut opt = Box::new(Optimizer::new(&cfg, init, 5).expect("optimiser"));
    opt.set_prior_variances(&var).expect("prior");
    (opt, Gauss31 { prec })
}

fn benches(c: &mut Criterion) {
    bench_floor::<10, 300>(c);
    bench_floor::<20, 16>(c);
    bench_floor::<31, 8>(c);

    let mut group = c.benchmark_group("pass");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).sampling_mode(SamplingMode::Flat);
    let (opt, target) = planar_robot_4_k300();
    bench_passes(&mut group, "planar_robot_4_k300", opt, target);
    let (opt, target) = gmm20_k10();
    bench_passes(&mut group, "gmm20_k10", opt, target);
    let (opt, target) = gauss31_k4();
    bench_passes(&mut group, "gauss31_k4", opt, target);
    group.finish();
}

criterion_group!(passes, benches);

/// Like `criterion_main!`, but on a thread with a large stack: the optimisers are built (and
/// cloned) by value before they are boxed.
fn main() {
    std::thread::Builder::new()
        .name("bench".into())
        .stack_size(1 << 30)
        .spawn(|| {
            passes();
            Criterion::default().configure_from_args().final_summary();
        })
        .expect("bench thread")
        .join()
        .expect("bench panicked");
}

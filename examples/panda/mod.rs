//! What the Panda examples share: the fit from scratch with its tempered schedule, sampling,
//! the in-tolerance and branch statistics, and the SVG of sampled arms.

#![allow(dead_code)]

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use gmmvi::{Bounds, Config, Gmm, Optimizer};
use gmmvi_targets::{PandaIk, Pose};
use nalgebra::{SMatrix, SVector};
use plotters::prelude::*;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

pub type BoxError = Box<dyn Error + Send + Sync>;

/// Number of joints.
pub const D: usize = 7;
/// Component capacity.
pub const K: usize = 32;
/// The optimiser: 7 joints, up to 32 components, a store of 4096 samples.
pub type Opt = Optimizer<f64, D, K, 4096, 64, 64>;
/// The mixture over joint angles.
pub type Model = Gmm<f64, D, K>;

/// Solutions drawn per pose.
pub const N_SOLUTIONS: usize = 2000;

/// The fit's settings, the same for every pose.
#[derive(Clone, Debug)]
pub struct Settings {
    pub config: String,
    pub k0: usize,
    pub init_std: f64,
    pub anneal_iters: u64,
    pub final_iters: u64,
    pub sigma_p0: f64,
    pub sigma_r0: f64,
    pub prior_exponent: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            config: "SEMTFUX n_des=20 reuse=0 beta=0.5 beta_w=0.5".into(),
            k0: 16,
            init_std: 0.7,
            anneal_iters: 60,
            final_iters: 40,
            sigma_p0: 0.1,
            sigma_r0: 0.5,
            prior_exponent: 0.0,
        }
    }
}

/// Runs `f` on a thread with a stack large enough for the optimiser state (built on the stack
/// before it is boxed).
pub fn on_big_stack<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, BoxError> + Send + 'static,
) -> Result<R, BoxError> {
    let worker = std::thread::Builder::new().stack_size(256 << 20).spawn(f)?;
    worker.join().map_err(|_| BoxError::from("the worker thread panicked"))?
}

/// An example's `main`: runs `f` on a big stack ([`on_big_stack`]) and prints its summary as
/// one JSON line; an error goes to stderr with a failing exit code.
pub fn print_json_of<R: serde::Serialize + Send + 'static>(
    f: impl FnOnce() -> Result<R, BoxError> + Send + 'static,
) -> std::process::ExitCode {
    match on_big_stack(f).and_then(|s| Ok(serde_json::to_string(&s)?)) {
        Ok(line) => {
            println!("{line}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A random configuration within the limits (2 % away from each limit), uniform per joint.
pub fn random_configuration<R: Rng + ?Sized>(rng: &mut R) -> [f64; D] {
    let mut q = [0.0; D];
    for (i, v) in q.iter_mut().enumerate() {
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        *v = PandaIk::LOWER[i] + (0.02 + 0.96 * u) * (PandaIk::UPPER[i] - PandaIk::LOWER[i]);
    }
    q
}

/// The goal of pose `seed`: the flange pose of a random configuration within the limits.
pub fn goal_of_seed(seed: u64) -> (Pose, [f64; D]) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5EED_0000 ^ seed);
    let q = random_configuration(&mut rng);
    (PandaIk::forward(&q), q)
}

/// The σ values of iteration `t` of the tempered schedule: geometric from `(σ_p0, σ_r0)` to
/// the target's defaults over `anneal_iters`, then the defaults.
pub fn sigmas_at(s: &Settings, t: u64) -> (f64, f64) {
    let f = if s.anneal_iters == 0 { 1.0 } else { (t as f64 / s.anneal_iters as f64).min(1.0) };
    let lerp = |a: f64, b: f64| (a.ln() * (1.0 - f) + b.ln() * f).exp();
    (lerp(s.sigma_p0, PandaIk::SIGMA_POSITION), lerp(s.sigma_r0, PandaIk::SIGMA_ROTATION))
}

/// The joint limits as the optimiser's bounds: it fits the mixture over `y ∈ R⁷` with
/// `q = lo + (hi − lo)·sigmoid(y)` per joint, so every sample is within the limits.
pub fn joint_bounds() -> Result<Bounds<f64, D>, BoxError> {
    Ok(Bounds::new(&PandaIk::LOWER, &PandaIk::UPPER)?)
}

/// The initial model, over the unconstrained `y` of [`joint_bounds`]: `k0` components with
/// means uniform in `[−1.5, 1.5]⁷` (the middle 64 % of every joint's range) and isotropic
/// standard deviation `init_std`.
pub fn initial_model(s: &Settings, seed: u64) -> Result<Model, BoxError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut m = Model::new();
    let cov = SMatrix::<f64, D, D>::identity() * (s.init_std * s.init_std);
    for _ in 0..s.k0 {
        let mut mean = SVector::<f64, D>::zeros();
        for i in 0..D {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            mean[i] = 3.0 * u - 1.5;
        }
        m.add_component(1.0, mean, &cov)?;
    }
    m.set_log_weights(&vec![0.0; s.k0])?;
    Ok(m)
}

/// A clock for "one host core": besides the wall clock, the CPU time of the calling thread
/// (`CLOCK_THREAD_CPUTIME_ID`), which other processes sharing the machine do not inflate.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    wall: Instant,
    cpu: Option<u64>,
}

fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

impl Clock {
    pub fn start() -> Self {
        Self { wall: Instant::now(), cpu: thread_cpu_ns() }
    }
    /// (wall ms, CPU ms) since [`Clock::start`].
    pub fn ms(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64() * 1e3;
        let cpu = match (self.cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e6,
            _ => wall,
        };
        (wall, cpu)
    }
}

/// Result of one fit.
pub struct Fit {
    pub opt: Box<Opt>,
    pub fit_ms: f64,
    pub fit_cpu_ms: f64,
    pub iterations: u64,
}

/// Fits the posterior of `goal` from scratch with the tempered schedule.
pub fn fit(goal: &Pose, s: &Settings, seed: u64) -> Result<Fit, BoxError> {
    let cfg = Config::<f64>::parse(&s.config).map_err(|e| e.to_string())?;
    let init = initial_model(s, seed)?;
    let clock = Clock::start();
    let mut opt = Box::new(Opt::new(&cfg, init, seed)?);
    opt.set_bounds(&joint_bounds()?)?;
    let mut target = PandaIk::new(*goal);
    target.set_prior_exponent(s.prior_exponent).map_err(|e| format!("{e:?}"))?;
    for t in 0..s.anneal_iters + s.final_iters {
        let (sp, sr) = sigmas_at(s, t);
        target.set_sigmas(sp, sr).map_err(|e| format!("{e:?}"))?;
        opt.step(&mut target)?;
    }
    let (fit_ms, fit_cpu_ms) = clock.ms();
    let iterations = opt.iterations();
    Ok(Fit { opt, fit_ms, fit_cpu_ms, iterations })
}

/// Draws `n` solutions from the fitted model.
pub fn draw(opt: &Opt, n: usize, seed: u64) -> Vec<[f64; D]> {
    draw_from(opt, n, &mut draw_stream(seed))
}

/// The generator [`draw`] uses for `seed`.
pub fn draw_stream(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xD0_5A3B)
}

/// `n` solutions drawn with `rng`: draws of `a` then `b` solutions from one stream are the
/// `a + b` solutions of one draw.
pub fn draw_from(opt: &Opt, n: usize, rng: &mut Xoshiro256PlusPlus) -> Vec<[f64; D]> {
    let mut xs = vec![SVector::<f64, D>::zeros(); n];
    let drawn = opt.sample(rng, &mut xs);
    xs[..drawn].iter().map(|x| (*x).into()).collect()
}

/// Fraction of `qs` within the limits and within 10 mm and 2° of `goal`.
pub fn in_tolerance(goal: &Pose, qs: &[[f64; D]]) -> f64 {
    let t = PandaIk::new(*goal);
    let ok = qs.iter().filter(|q| t.in_tolerance(q)).count();
    if qs.is_empty() { 0.0 } else { ok as f64 / qs.len() as f64 }
}

/// Joint-space linkage radius of [`branches`] (rad, Euclidean over the 7 joints).
pub const BRANCH_RADIUS: f64 = 0.3;
/// A branch holds at least this fraction of the in-tolerance solutions.
pub const BRANCH_MIN_FRACTION: f64 = 0.01;

/// Distinct solution branches: the in-tolerance solutions are linked when closer than
/// [`BRANCH_RADIUS`] in joint space (single linkage: connected pieces of the sampled
/// solution set); pieces holding at least [`BRANCH_MIN_FRACTION`] of them are counted.
pub fn branches(goal: &Pose, qs: &[[f64; D]]) -> usize {
    let t = PandaIk::new(*goal);
    let good: Vec<&[f64; D]> = qs.iter().filter(|q| t.in_tolerance(q)).collect();
    let n = good.len();
    let mut label = vec![usize::MAX; n];
    let mut sizes = Vec::new();
    let r2 = BRANCH_RADIUS * BRANCH_RADIUS;
    for seed in 0..n {
        if label[seed] != usize::MAX {
            continue;
        }
        let id = sizes.len();
        label[seed] = id;
        let mut stack = vec![seed];
        let mut size = 0usize;
        while let Some(i) = stack.pop() {
            size += 1;
            for j in 0..n {
                if label[j] == usize::MAX {
                    let d2: f64 = good[i].iter().zip(good[j]).map(|(a, b)| (a - b) * (a - b)).sum();
                    if d2 < r2 {
                        label[j] = id;
                        stack.push(j);
                    }
                }
            }
        }
        sizes.push(size);
    }
    sizes.iter().filter(|&&s| s as f64 >= BRANCH_MIN_FRACTION * n as f64 && s > 0).count()
}

/// A component index drawn by inverse CDF on the mixture weights.
fn draw_component<R: Rng + ?Sized>(model: &Model, rng: &mut R) -> usize {
    let u = gmmvi::rng::uniform(rng);
    let mut cdf = 0.0;
    for (k, lw) in model.log_weights().iter().enumerate() {
        cdf += lw.exp();
        if u < cdf {
            return k;
        }
    }
    model.len().saturating_sub(1)
}

/// A well-spread colour per component (golden-ratio hue sequence).
fn component_colour(k: usize) -> HSLColor {
    HSLColor((k as f64 * 0.618_033_988_749_895).fract(), 0.8, 0.42)
}

/// Draws `n_arms` arms sampled from the model of `opt` (coloured by the component that drew them) in a
/// side view (x–z) and a top view (x–y), with the goal's flange position, into an SVG at
/// `path` (its directory is created if missing).
pub fn draw_arms(opt: &Opt, goal: &Pose, seed: u64, n_arms: usize, title: &str, path: &Path) -> Result<(), BoxError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xA475);
    let model = opt.model();
    let mut arms = Vec::with_capacity(n_arms);
    if !model.is_empty() {
        for _ in 0..n_arms {
            let k = draw_component(model, &mut rng);
            if let Some(y) = model.sample_component(k, &mut rng) {
                let f = PandaIk::frames(&opt.bounds().to_constrained(&y).into());
                let mut pts: Vec<[f64; 3]> = f.origins.to_vec();
                pts.push(f.position);
                arms.push((k, pts));
            }
        }
    }
    let root = SVGBackend::new(path, (1400, 760)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 20))?;
    let (left, right) = root.split_horizontally(700);
    // (name, horizontal axis, vertical axis, vertical range)
    let views = [(left, "side view", 2usize, -0.4..1.3), (right, "top view", 1usize, -0.85..0.85)];
    for (area, name, v, yr) in views {
        let mut chart = ChartBuilder::on(&area)
            .caption(name, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(45)
            .build_cartesian_2d(-0.85..0.85, yr)?;
        let yname = if v == 2 { "z (m)" } else { "y (m)" };
        chart.configure_mesh().x_desc("x (m)").y_desc(yname).light_line_style(WHITE).draw()?;
        chart.draw_series(arms.iter().map(|(k, pts)| {
            let line: Vec<(f64, f64)> = pts.iter().map(|p| (p[0], p[v])).collect();
            PathElement::new(line, component_colour(*k).mix(0.6).stroke_width(1))
        }))?;
        let g = goal.position;
        chart.draw_series(std::iter::once(Circle::new((g[0], g[v]), 8, BLACK.stroke_width(2))))?;
        chart.draw_series(std::iter::once(Rectangle::new([(-0.03, -0.03), (0.03, 0.03)], BLACK.filled())))?;
    }
    root.present()?;
    Ok(())
}

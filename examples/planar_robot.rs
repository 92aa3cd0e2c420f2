//! SAMTRUX (or another preset, `--algo`) on the 10-link planar robot with four goals
//! (`planar_robot_4`, docs/targets.md §4), with the paper's Planar4 hyperparameters
//! (docs/algorithm.md §12) and its initial model drawn from the joint prior (docs/targets.md §4.4).
//!
//! The posterior over the ten joint angles is strongly multimodal (several arm configurations
//! reach each of the four goals), so the example shows the adaptive mixture finding and keeping
//! well-separated modes. It prints progress to stderr, one JSON summary line to stdout, and
//! draws about 100 arms sampled from the learned mixture, coloured by the component that drew
//! them, into `target/planar_robot.svg`.
//!
//! ```text
//! cargo run --release --example planar_robot [-- --evals N --seed S --algo SAMTRUX]
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use gmmvi::rng::uniform;
use gmmvi::{Config, Gmm, Optimizer, StopRule, Threads};
use gmmvi_targets::PlanarRobot;
use nalgebra::SVector;
use plotters::prelude::*;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

/// Number of joints (the dimension of the target).
const D: usize = 10;
/// Component capacity of the optimiser.
const K: usize = 1000;
/// The whole optimiser state (~60 MB): built on a thread with a large stack, kept in a `Box`.
type Opt = Optimizer<f64, D, K, 200_000, 2000, 32>;
/// The mixture model the optimiser learns.
type Model = Gmm<f64, D, K>;

/// The presets with a Planar4 row in docs/algorithm.md §12: codeword, initial components and the
/// row's settings in `Config::parse` form. (SEPIFUX has no Planar4 row; it runs with the
/// SEPYFUX row's sizes.) The same rows drive `gmmvi-bench`.
const PLANAR4_ROWS: [(&str, usize, &str); 5] = [
    (
        "SAMTRUX",
        300,
        "n_des=100 reuse=0 del=10 add=1 max_k=1000 max_db=2000000 component_stepsize.initial_stepsize=0.1 component_stepsize.min_stepsize=0.001 component_stepsize.max_stepsize=1 weight_stepsize.initial_stepsize=0.85",
    ),
    (
        "SAMTRON",
        100,
        "n_des=100 reuse=0 del=10 add=1 max_k=1000 max_db=2000000 component_stepsize.initial_stepsize=0.1 component_stepsize.min_stepsize=0.001 component_stepsize.max_stepsize=1 weight_stepsize.initial_stepsize=5 weight_stepsize.min_stepsize=1e-5 weight_stepsize.max_stepsize=4",
    ),
    (
        "ZAMTRUX",
        300,
        "n_des=200 reuse=0 del=10 add=1 max_k=1000 max_db=2000000 component_stepsize.initial_stepsize=0.1 component_stepsize.min_stepsize=0.001 component_stepsize.max_stepsize=1 weight_stepsize.initial_stepsize=0.5",
    ),
    (
        "SEPYFUX",
        100,
        "n_des=300 reuse=0 max_db=2000000 component_stepsize.initial_stepsize=0.001 weight_stepsize.initial_stepsize=0.0001",
    ),
    (
        "SEPIFUX",
        100,
        "n_des=300 reuse=0 max_db=2000000 component_stepsize.initial_stepsize=0.001 weight_stepsize.initial_stepsize=0.0001",
    ),
];
/// Scale of the initial means around 0: the joint prior's standard deviations (1, 0.2 × 9).
const PRIOR_SCALE: [f64; D] = PlanarRobot::PRIOR_STD;
/// Initial covariance diagonal (std 0.25 and 0.05); also declared as the prior's variances.
const INITIAL_VAR: [f64; D] = [0.0625, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025, 0.0025];

/// Samples of the Monte-Carlo ELBO (docs/algorithm.md §1.3).
const ELBO_SAMPLES: usize = 2000;
/// Progress line every this many iterations.
const PROGRESS_EVERY: u64 = 5;
/// Progress line with a fresh `-ELBO` estimate every this many iterations.
const ELBO_EVERY: u64 = 25;

/// Samples used to decide which goals the model reaches.
const GOAL_SAMPLES: usize = 2000;
/// An end effector within this distance of a goal reaches it.
const GOAL_RADIUS: f64 = 0.1;
/// A goal counts as reached if at least this fraction of the samples reach it. The
/// ELBO-optimal mixture holds only 2–3 % at the goal (−7, 0), which needs the first joint near
/// ±π against its prior (the ELBO is mode-seeking), so a larger fraction is not a criterion of
/// a good fit.
const GOAL_MIN_FRACTION: f64 = 0.01;

/// Arms drawn in the SVG.
const PLOT_ARMS: usize = 100;

type BoxError = Box<dyn Error + Send + Sync>;

/// SAMTRUX (or another preset) on the 10-link planar robot with four goals; prints one JSON line.
#[derive(Clone, Copy, Debug, Parser)]
#[command(name = "planar_robot")]
struct Args {
    /// Target-evaluation budget (e.g. 5000000 or 5_000_000).
    #[arg(long, default_value = "5000000", value_parser = parse_count)]
    evals: u64,
    /// Seed of the initial model and of the optimiser.
    #[arg(long, default_value_t = 0, value_parser = parse_count)]
    seed: u64,
    /// Preset with a Planar4 row: SAMTRUX, SAMTRON, ZAMTRUX, SEPYFUX or SEPIFUX (any case).
    #[arg(long = "algo", value_name = "CODEWORD", default_value = "SAMTRUX", value_parser = parse_algo)]
    algo: usize,
}

/// A whole number, `_` allowed as a separator.
fn parse_count(s: &str) -> Result<u64, String> {
    s.replace('_', "").parse().map_err(|e| format!("{s:?}: {e}"))
}

/// The index into [`PLANAR4_ROWS`] of a codeword.
fn parse_algo(s: &str) -> Result<usize, String> {
    let name = s.to_ascii_uppercase();
    PLANAR4_ROWS.iter().position(|(c, ..)| *c == name).ok_or_else(|| {
        let names: Vec<&str> = PLANAR4_ROWS.iter().map(|r| r.0).collect();
        format!("no Planar4 row for {name} (one of {})", names.join(", "))
    })
}

/// What one run produced: the JSON line (keys in field order, non-finite numbers `null`).
#[derive(Clone, Copy, Debug, Serialize)]
struct Summary {
    target: &'static str,
    algo: &'static str,
    seed: u64,
    iterations: u64,
    evals: u64,
    components: usize,
    elbo: f64,
    goals_reached: usize,
    ms_per_iter: f64,
    state_bytes: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let worker = thread::Builder::new().name("planar_robot".into()).stack_size(1 << 30).spawn(move || run(args));
    match worker.map(|h| h.join()) {
        Ok(Ok(Ok(summary))) => match serde_json::to_string(&summary) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Ok(Err(e))) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Ok(Err(_)) => ExitCode::FAILURE, // the worker panicked; the message is already printed
        Err(e) => {
            eprintln!("cannot start the worker thread: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The whole experiment; runs on the large-stack worker thread.
fn run(args: Args) -> Result<Summary, BoxError> {
    let mut target = PlanarRobot::four_goals();
    let (algo, k0, settings) = PLANAR4_ROWS[args.algo];
    let cfg = Config::<f64>::parse(&format!("{algo} {settings}")).map_err(|e| e.to_string())?;
    let var = SVector::<f64, D>::from(INITIAL_VAR);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(args.seed);
    let init = Model::from_prior(k0, &SVector::zeros(), &SVector::from(PRIOR_SCALE), &var, &mut rng)?;
    let mut opt = Box::new(Opt::new(&cfg, init, args.seed)?);
    opt.set_prior_variances(&var)?;
    eprintln!(
        "planar_robot_4, {algo} (Planar4 hyperparameters), K0 = {k0}, budget {} evaluations, seed {}, state {:.1} MB",
        args.evals,
        args.seed,
        size_of::<Opt>() as f64 / 1e6
    );

    let stats = optimise(&mut opt, &mut target, args.evals)?;
    let elbo = opt.estimate_elbo(&mut target, ELBO_SAMPLES)?;
    let model = opt.model();
    let fractions = goal_fractions(model, target.goals(), &mut rng, GOAL_SAMPLES, GOAL_RADIUS);
    let reached = goals_reached(&fractions, GOAL_MIN_FRACTION);
    eprintln!(
        "done: {} iterations, {} evaluations, {} components, -ELBO {:.4}, goals reached {}/{} \
         (fractions of samples {:.3?}); {} rejected component updates, {} frozen weight updates, {} rejected samples, {} NaN ELBO estimates",
        opt.iterations(),
        opt.evaluations(),
        model.len(),
        -elbo,
        reached,
        target.goals().len(),
        fractions,
        stats.rejected_updates,
        stats.frozen_weights,
        stats.rejected_samples,
        stats.nan_estimates,
    );

    let path = svg_path();
    let title = format!(
        "{algo} on planar_robot_4: -ELBO = {:.3}  (K = {}, {:.2}M evals)",
        -elbo,
        model.len(),
        opt.evaluations() as f64 / 1e6
    );
    draw_arms(model, target.goals(), &mut rng, PLOT_ARMS, &title, &path)?;
    eprintln!("wrote {}", path.display());

    let iters = opt.iterations();
    Ok(Summary {
        target: "planar_robot_4",
        algo,
        seed: args.seed,
        iterations: iters,
        evals: opt.evaluations(),
        components: model.len(),
        elbo,
        goals_reached: reached,
        ms_per_iter: if iters > 0 { stats.optimiser_time.as_secs_f64() * 1e3 / iters as f64 } else { f64::NAN },
        state_bytes: size_of::<Opt>(),
    })
}

/// Counters over the optimisation loop.
#[derive(Clone, Copy, Debug, Default)]
struct LoopStats {
    /// Wall time of the loop without the periodic ELBO estimates.
    optimiser_time: Duration,
    rejected_updates: usize,
    frozen_weights: usize,
    rejected_samples: usize,
    nan_estimates: usize,
}

/// Steps the optimiser until `evals` target evaluations, printing progress to stderr.
///
/// `run` is called in chunks that end on multiples of [`ELBO_EVERY`] iterations, because the
/// `-ELBO` estimate needs the optimiser, which `run` borrows while it calls back.
fn optimise(opt: &mut Opt, target: &mut PlanarRobot, evals: u64) -> Result<LoopStats, BoxError> {
    let mut stats = LoopStats::default();
    let mut elbo_time = Duration::ZERO;
    let start = Instant::now();
    // The hot loops on every core; results are bit-identical to a serial run.
    let par = Threads::available();
    while opt.evaluations() < evals {
        let chunk = ELBO_EVERY - opt.iterations() % ELBO_EVERY;
        let rule = StopRule { max_iterations: chunk, ..StopRule::evaluations(evals) };
        let before = opt.iterations();
        opt.run_with(target, &rule, &par, |rep| {
            stats.rejected_updates += rep.rejected_updates;
            stats.frozen_weights += usize::from(rep.weights_frozen);
            stats.rejected_samples += rep.rejected_samples;
            stats.nan_estimates += usize::from(!rep.elbo_estimate.is_finite());
            if rep.iteration.is_multiple_of(PROGRESS_EVERY) {
                eprintln!(
                    "it {:5}  evals {:9}  K {:4}  elbo_est {:12.4}  (+{} -{} comps, {} rejected updates)",
                    rep.iteration,
                    rep.evaluations,
                    rep.components,
                    rep.elbo_estimate,
                    rep.added,
                    rep.deleted,
                    rep.rejected_updates
                );
            }
        })?;
        if opt.iterations() == before {
            break;
        }
        if opt.iterations().is_multiple_of(ELBO_EVERY) {
            let t = Instant::now();
            let elbo = opt.estimate_elbo(target, ELBO_SAMPLES)?;
            elbo_time += t.elapsed();
            eprintln!("it {:5}  evals {:9}  -ELBO {:.4}", opt.iterations(), opt.evaluations(), -elbo);
        }
    }
    stats.optimiser_time = start.elapsed().saturating_sub(elbo_time);
    Ok(stats)
}

/// A component index drawn by inverse CDF on the mixture weights.
fn draw_component<const K: usize, R: Rng + ?Sized>(model: &Gmm<f64, D, K>, rng: &mut R) -> usize {
    let u = uniform(rng);
    let mut cdf = 0.0;
    for (k, lw) in model.log_weights().iter().enumerate() {
        cdf += lw.exp();
        if u < cdf {
            return k;
        }
    }
    model.len().saturating_sub(1)
}

/// For each goal, the fraction of `n` samples of `model` that reach it, i.e. put the end
/// effector within `radius` of the goal.
fn goal_fractions<const K: usize, R: Rng + ?Sized>(
    model: &Gmm<f64, D, K>,
    goals: &[[f64; 2]],
    rng: &mut R,
    n: usize,
    radius: f64,
) -> Vec<f64> {
    let mut xs = vec![SVector::<f64, D>::zeros(); n];
    let drawn = model.sample(rng, &mut xs);
    let mut hits = vec![0usize; goals.len()];
    for x in &xs[..drawn] {
        let theta: [f64; D] = (*x).into();
        let [ex, ey] = PlanarRobot::end_effector(&theta);
        for (h, [gx, gy]) in hits.iter_mut().zip(goals) {
            if (ex - gx).hypot(ey - gy) < radius {
                *h += 1;
            }
        }
    }
    hits.iter().map(|&h| if drawn > 0 { h as f64 / drawn as f64 } else { 0.0 }).collect()
}

/// Number of goals reached by at least `min_fraction` of the samples.
fn goals_reached(fractions: &[f64], min_fraction: f64) -> usize {
    fractions.iter().filter(|&&f| f >= min_fraction).count()
}

/// `target/planar_robot.svg` of this crate, whatever the working directory.
fn svg_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("planar_robot.svg")
}

/// A well-spread colour per component (golden-ratio hue sequence).
fn component_colour(k: usize) -> HSLColor {
    HSLColor((k as f64 * 0.618_033_988_749_895).fract(), 0.8, 0.42)
}

/// Draws `n_arms` arms sampled from `model` (coloured by the component that drew them), the
/// goals and the base into an SVG at `path` (its directory is created if missing), with equal
/// scales on both axes.
fn draw_arms<const K: usize, R: Rng + ?Sized>(
    model: &Gmm<f64, D, K>,
    goals: &[[f64; 2]],
    rng: &mut R,
    n_arms: usize,
    title: &str,
    path: &Path,
) -> Result<(), BoxError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // (component, joint positions) of each arm.
    let mut arms = Vec::with_capacity(n_arms);
    if !model.is_empty() {
        for _ in 0..n_arms {
            let k = draw_component(model, rng);
            if let Some(theta) = model.sample_component(k, rng) {
                arms.push((k, PlanarRobot::joint_positions(&theta.into())));
            }
        }
    }

    const SIZE: u32 = 900;
    const MARGIN: u32 = 15;
    const X_LABELS: u32 = 35;
    const Y_LABELS: u32 = 45;
    let root = SVGBackend::new(path, (SIZE, SIZE)).into_drawing_area();
    root.fill(&WHITE)?;
    let area = root.titled(title, ("sans-serif", 22))?;
    // Choose the y range so that one unit has the same length in pixels on both axes.
    let (w, h) = area.dim_in_pixel();
    let (plot_w, plot_h) = (w - Y_LABELS - 2 * MARGIN, h - X_LABELS - 2 * MARGIN);
    let half_x = 11.0;
    let half_y = half_x * plot_h as f64 / plot_w as f64;
    let mut chart = ChartBuilder::on(&area)
        .margin(MARGIN)
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS)
        .build_cartesian_2d(-half_x..half_x, -half_y..half_y)?;
    chart.configure_mesh().x_desc("x").y_desc("y").light_line_style(WHITE).draw()?;

    chart.draw_series(arms.iter().map(|(k, joints)| {
        let pts: Vec<(f64, f64)> = joints.iter().map(|&[x, y]| (x, y)).collect();
        PathElement::new(pts, component_colour(*k).mix(0.7).stroke_width(1))
    }))?;
    chart.draw_series(
        arms.iter().map(|(k, joints)| Circle::new((joints[D][0], joints[D][1]), 2, component_colour(*k).filled())),
    )?;
    chart.draw_series(goals.iter().map(|&[x, y]| Circle::new((x, y), 9, BLACK.stroke_width(2))))?;
    chart.draw_series(goals.iter().map(|&[x, y]| Cross::new((x, y), 5, BLACK.stroke_width(2))))?;
    chart.draw_series(std::iter::once(Rectangle::new([(-0.25, -0.25), (0.25, 0.25)], BLACK.filled())))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::SMatrix;

    /// Joint angles whose end effector is exactly at distance 7 from the base in direction
    /// `dir`: the arm zig-zags with link angles `dir ± a`, `cos a = 0.7`.
    fn pose_reaching(dir: f64) -> SVector<f64, D> {
        let a = 0.7f64.acos();
        SVector::from_fn(|i, _| match i {
            0 => dir + a,
            i if i % 2 == 1 => -2.0 * a,
            _ => 2.0 * a,
        })
    }

    /// Equal-weight mixture of narrow components at [`pose_reaching`]`(dir)`.
    fn mixture_at(dirs: &[f64]) -> Gmm<f64, D, 4> {
        let mut q = Gmm::new();
        for &dir in dirs {
            q.add_component(1.0, pose_reaching(dir), &(SMatrix::identity() * 1e-8)).unwrap();
        }
        // `add_component` weighs the new component against the (normalised) existing ones.
        q.set_log_weights(&vec![0.0; dirs.len()]).unwrap();
        q
    }

    #[test]
    fn poses_reach_their_goal() {
        for (dir, goal) in [(0.0, [7.0, 0.0]), (std::f64::consts::PI, [-7.0, 0.0])] {
            let [x, y] = PlanarRobot::end_effector(&pose_reaching(dir).into());
            assert!((x - goal[0]).hypot(y - goal[1]) < 1e-12, "({x}, {y})");
        }
    }

    #[test]
    fn counts_goals_reached() {
        use std::f64::consts::{FRAC_PI_2, PI};
        let goals = PlanarRobot::four_goals().goals().to_vec();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let fractions =
            |q: &Gmm<f64, D, 4>, rng: &mut Xoshiro256PlusPlus| goal_fractions(q, &goals, rng, 400, GOAL_RADIUS);
        let all = fractions(&mixture_at(&[0.0, PI, FRAC_PI_2, -FRAC_PI_2]), &mut rng);
        assert!(all.iter().all(|f| (0.15..0.35).contains(f)), "{all:?}");
        assert_eq!(goals_reached(&all, GOAL_MIN_FRACTION), 4);
        assert_eq!(fractions(&mixture_at(&[PI]), &mut rng), vec![0.0, 1.0, 0.0, 0.0]);
        let none = fractions(&mixture_at(&[0.5]), &mut rng);
        assert_eq!(goals_reached(&none, GOAL_MIN_FRACTION), 0);
        assert_eq!(goals_reached(&[0.01, 0.0099, 0.9], GOAL_MIN_FRACTION), 2);
    }

    #[test]
    fn writes_an_svg() {
        let goals = PlanarRobot::four_goals().goals().to_vec();
        let q = mixture_at(&[0.0, std::f64::consts::PI]);
        let path = std::env::temp_dir().join(format!("gmmvi_planar_robot_test_{}.svg", std::process::id()));
        draw_arms(&q, &goals, &mut Xoshiro256PlusPlus::seed_from_u64(1), 20, "test", &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.matches("<polyline").count() >= 20);
    }

    #[test]
    fn json_line() {
        let s = Summary {
            target: "planar_robot_4",
            algo: "SAMTRUX",
            seed: 0,
            iterations: 3,
            evals: 90_000,
            components: 302,
            elbo: -76.5,
            goals_reached: 4,
            ms_per_iter: 12.25,
            state_bytes: 1,
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"target":"planar_robot_4","algo":"SAMTRUX","seed":0,"iterations":3,"evals":90000,"components":302,"elbo":-76.5,"goals_reached":4,"ms_per_iter":12.25,"state_bytes":1}"#
        );
        let nan = Summary { elbo: f64::NAN, ..s };
        assert!(serde_json::to_string(&nan).unwrap().contains(r#""elbo":null"#));
    }

    #[test]
    fn planar4_rows() {
        for (algo, _, settings) in PLANAR4_ROWS {
            let c = Config::<f64>::parse(&format!("{algo} {settings}")).unwrap();
            assert_eq!(c.codeword().as_str(), algo);
            c.validate().unwrap();
        }
        // The default run is exactly the paper's SAMTRUX Planar4 configuration.
        let (algo, k0, settings) = PLANAR4_ROWS[0];
        assert_eq!((algo, k0), ("SAMTRUX", 300));
        assert_eq!(Config::<f64>::parse(&format!("{algo} {settings}")).unwrap(), Config::samtrux_planar_robot_4());
        let a = Args::try_parse_from(["planar_robot", "--algo", "zamtrux", "--evals", "60_000"]).unwrap();
        assert_eq!((PLANAR4_ROWS[a.algo].0, a.evals, a.seed), ("ZAMTRUX", 60_000, 0));
        let d = Args::try_parse_from(["planar_robot"]).unwrap();
        assert_eq!((PLANAR4_ROWS[d.algo].0, d.evals), ("SAMTRUX", 5_000_000));
        assert!(Args::try_parse_from(["planar_robot", "--algo", "SAMTROX"]).is_err());
        assert!(Args::try_parse_from(["planar_robot", "--seed", "-1"]).is_err());
        assert!(Args::try_parse_from(["planar_robot", "--bogus"]).is_err());
    }
}

//! A first taste, in about a second: a two-link arm (unit links) should put its hand at
//! (1.2, 0.8). Two joint configurations do it, elbow up and elbow down; the posterior over the
//! two joint angles,
//!
//! ```text
//! log p~(θ) = −|fk(θ) − goal|² / (2σ²) − |θ|² / (2·1.5²),   σ = 0.05,
//! ```
//!
//! therefore has two modes. SAMTRUX (`Config::samtrux()`, the defaults) starts from one broad
//! Gaussian and finds both; the example prints the fitted components, the share of samples
//! whose hand lands within 0.1 of the goal, and the time it took.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::process::ExitCode;
use std::time::Instant;

use gmmvi::{Config, Gmm, Optimizer, Real, StopRule, Target, TargetError};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const GOAL: [f64; 2] = [1.2, 0.8];
const SIGMA: f64 = 0.05;
const PRIOR_STD: f64 = 1.5;

/// The hand of the arm at joint angles `t`.
fn hand(t: &SVector<f64, 2>) -> [f64; 2] {
    let (a, b) = (t[0], t[0] + t[1]);
    [a.cos() + b.cos(), a.sin() + b.sin()]
}

/// The posterior over the two joint angles, with its gradient (Stein codewords need it).
struct TwoLinkArm;

impl Target<f64, 2> for TwoLinkArm {
    fn log_density(&mut self, x: &[SVector<f64, 2>], lp: &mut [f64]) -> Result<(), TargetError> {
        let mut g = [SVector::zeros(); gmmvi::TARGET_BLOCK];
        self.log_density_with_grad(x, lp, &mut g[..x.len()])
    }

    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f64, 2>],
        lp: &mut [f64],
        grad: &mut [SVector<f64, 2>],
    ) -> Result<(), TargetError> {
        for ((t, l), g) in x.iter().zip(lp).zip(grad) {
            let (a, b) = (t[0], t[0] + t[1]);
            let h = hand(t);
            let (ex, ey) = (h[0] - GOAL[0], h[1] - GOAL[1]);
            let s2 = SIGMA * SIGMA;
            *l = -(ex * ex + ey * ey) / (2.0 * s2) - t.norm_squared() / (2.0 * PRIOR_STD * PRIOR_STD);
            // d hand / d θ: column j is the hand's velocity when joint j turns.
            let j = SMatrix::<f64, 2, 2>::new(-a.sin() - b.sin(), -b.sin(), a.cos() + b.cos(), b.cos());
            *g = -(j.transpose() * SVector::from([ex, ey])) / s2 - t / (PRIOR_STD * PRIOR_STD);
        }
        Ok(())
    }
}

/// D = 2, ≤ 8 components, 4096 stored samples, 64 stored Gaussians, 256 history columns.
type Opt = Optimizer<f64, 2, 8, 4096, 64, 256>;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, gmmvi::Error> {
    let start = Instant::now();
    let mut init = Gmm::new();
    init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * PRIOR_STD * PRIOR_STD))?;
    let mut opt = Box::new(Opt::new(&Config::samtrux(), init, 0)?);
    opt.run(&mut TwoLinkArm, &StopRule::iterations(150), |_| {})?;
    let fit = start.elapsed();
    let elbo = opt.estimate_elbo(&mut TwoLinkArm, 2000)?;

    let q = opt.model();
    let (its, evals) = (opt.iterations(), opt.evaluations());
    println!("fitted in {:.0} ms: {its} iterations, {evals} target evaluations", fit.as_secs_f64() * 1e3);
    println!("components (weight, shoulder and elbow angle in degrees):");
    for k in 0..q.len() {
        let (w, m) = (q.log_weights().get(k).map_or(0.0, |l| l.exp()), q.mean(k).copied().unwrap_or_default());
        println!("  {w:5.3}  ({:7.1}, {:7.1})", m[0].to_degrees(), m[1].to_degrees());
    }

    // Draw configurations as a controller would, and check where the hand lands.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut xs = [SVector::zeros(); 1000];
    q.sample(&mut rng, &mut xs);
    let near = |t: &SVector<f64, 2>| {
        let h = hand(t);
        (h[0] - GOAL[0]).hypot(h[1] - GOAL[1]) < 0.1
    };
    let reached = xs.iter().filter(|t| near(t)).count();
    let elbow_up = xs.iter().filter(|t| near(t) && t[1] > 0.0).count();
    // 0.1 is 2σ: exact posterior samples land within it with probability 1 − e⁻² ≈ 0.86.
    println!(
        "{reached} of 1000 samples put the hand within 0.1 of the goal (exact posterior: about 865): \
         {elbow_up} elbow up, {} elbow down",
        reached - elbow_up
    );
    println!("ELBO {:.3} (an estimate of log Z from below)", elbo.to_f64());
    // Both branches found, and about as many samples reach the goal as exact ones would.
    Ok(reached >= 800 && elbow_up >= 100 && reached - elbow_up >= 100)
}

#[cfg(test)]
mod tests {
    /// `cargo test` runs the example's fit: both branches found, the hand near the goal.
    #[test]
    fn quickstart_finds_both_branches() {
        assert_eq!(super::run().ok(), Some(true));
    }
}

//! The §4 variance comparison of `docs/estimators.md`: single-sample variance of the score-function
//! estimator (no baseline, `b = E_q f`, optimal `b*`) and the pathwise estimator for the
//! gradient of `E_{N(μ, σ²)}[(x − k)²]` with respect to `θ = μ` and `θ = σ` at `μ = σ = 1`,
//! `k = −3..3`; S = 10⁵ draws per point next to the exact values.
//!
//! Prints the table and writes `target/estimator_variance.svg` (log-scale y axis, one panel
//! per θ). Run with `cargo run --release -p gmmvi-baselines --example estimator_variance`.

use gmmvi_baselines::estimators::reparam::variance::{Estimator, QuadraticCost, Theta};
use plotters::prelude::*;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const S: usize = 100_000;
const NAMES: [&str; 4] = ["SF", "SF+E f", "SF+b*", "PW"];

fn empirical(toy: &QuadraticCost<f64>, theta: Theta, est: Estimator, eps: &[f64]) -> f64 {
    let n = eps.len() as f64;
    let mean = eps.iter().map(|e| toy.per_sample(theta, est, *e)).sum::<f64>() / n;
    eps.iter().map(|e| (toy.per_sample(theta, est, *e) - mean).powi(2)).sum::<f64>() / (n - 1.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    let mut eps = vec![0.0f64; S];
    gmmvi::rng::fill_standard_normal(&mut rng, &mut eps);
    let thetas = [(Theta::Mean, "mu"), (Theta::Std, "sigma")];

    // rows[k][theta][estimator] = (empirical, exact)
    let ks: Vec<i32> = (-3..=3).collect();
    let mut rows = Vec::new();
    for &k in &ks {
        let toy = QuadraticCost::new(1.0, 1.0, f64::from(k))?;
        let mut row = [[(0.0, 0.0); 4]; 2];
        for (t, (theta, _)) in thetas.iter().enumerate() {
            for (i, est) in Estimator::ALL.into_iter().enumerate() {
                row[t][i] = (empirical(&toy, *theta, est, &eps), toy.exact_variance(*theta, est));
            }
        }
        rows.push(row);
    }

    println!("Single-sample variance, mu = sigma = 1, S = {S} (empirical / exact)");
    print!("{:>3}", "k");
    for (_, tn) in &thetas {
        for n in NAMES {
            print!(" | {:>17}", format!("{tn}: {n}"));
        }
    }
    println!();
    for (k, row) in ks.iter().zip(&rows) {
        print!("{k:>3}");
        for t in row {
            for (emp, exact) in t {
                print!(" | {:>17}", format!("{emp:8.2} / {exact:4.0}"));
            }
        }
        println!();
    }

    // The workspace's target/ (this crate lives in <root>/gmmvi-baselines).
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = manifest.parent().unwrap_or(manifest).join("target");
    std::fs::create_dir_all(&path)?;
    let file = path.join("estimator_variance.svg");
    let root = SVGBackend::new(&file, (1100, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((1, 2));
    let colors = [RED, BLUE, MAGENTA, GREEN];
    let kf: Vec<f64> = ks.iter().map(|&k| f64::from(k)).collect();
    for (t, (panel, (theta, tn))) in panels.iter().zip(&thetas).enumerate() {
        let mut chart = ChartBuilder::on(panel)
            .caption(format!("gradient w.r.t. {tn}: single-sample variance"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(35)
            .y_label_area_size(55)
            .build_cartesian_2d(-3.2f64..3.2f64, (1f64..3000f64).log_scale())?;
        chart.configure_mesh().x_desc("k").y_desc("variance").draw()?;
        // Exact curves on a fine grid, empirical points at the integers.
        let grid: Vec<f64> = (0..=120).map(|i| -3.0 + 0.05 * f64::from(i)).collect();
        for (i, est) in Estimator::ALL.into_iter().enumerate() {
            let color = colors[i];
            let exact: Vec<(f64, f64)> = grid
                .iter()
                .filter_map(|&k| QuadraticCost::new(1.0, 1.0, k).ok().map(|toy| (k, toy.exact_variance(*theta, est))))
                .collect();
            chart
                .draw_series(LineSeries::new(exact, color.stroke_width(2)))?
                .label(NAMES[i])
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart
                .draw_series(kf.iter().zip(&rows).map(|(&k, row)| Circle::new((k, row[t][i].0), 4, color.filled())))?;
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    }
    root.present()?;
    println!("lines: exact variance; dots: empirical (S = {S}); wrote {}", file.display());
    Ok(())
}

//! Milliseconds per iteration of `Config::samtrux()` against the number of components `K` and
//! the reuse ratio, in 2 and 10 dimensions, on the synthetic targets of
//! `gmmvi_bench::scaling` (bananas, ring, grid).
//!
//! ```text
//! gmmvi-scaling [--dims 2,10] [--targets bananas] [--ks 4,8,16,32,64] [--ratios 0,1,2]
//!               [--warmup 40] [--iterations 20] [--adaptive-iterations 600]
//!               [--max-seconds 60] [--threads 2 | --serial] [--seed 0]
//! ```
//!
//! Fixed-K rows: `K` initial components, adaptation off, `--warmup` iterations, then the mean
//! over `--iterations` timed ones. Adaptive rows: the shipped configuration from one broad
//! component; the mean time of the iterations run at each `K` of `--ks` (a `K` the run did
//! not reach within its limits is left out). Every run stops after the first iteration past
//! `--max-seconds`. One tab-separated line per result on stdout, with the final model's
//! fingerprint (bit identity across builds) and ELBO estimate.

use clap::Parser;
use gmmvi::{Parallel, Serial, Target, Threads};
use gmmvi_bench::scaling::{self, Bananas, Grid, Measured, Mode, Ring, Scenario};

/// Per-iteration time of the default configuration against K and the reuse ratio.
#[derive(Parser, Debug)]
#[command(name = "gmmvi-scaling", about)]
struct Cli {
    /// Dimensions (2 and/or 10).
    #[arg(long, value_delimiter = ',', default_value = "2,10")]
    dims: Vec<usize>,
    /// Targets: bananas, ring, grid.
    #[arg(long, value_delimiter = ',', default_value = "bananas")]
    targets: Vec<String>,
    /// Component counts.
    #[arg(long, value_delimiter = ',', default_value = "4,8,16,32,64")]
    ks: Vec<usize>,
    /// Reuse ratios of the fixed-K runs.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    ratios: Vec<f64>,
    /// Untimed iterations of a fixed-K run.
    #[arg(long, default_value_t = 40)]
    warmup: usize,
    /// Timed iterations of a fixed-K run.
    #[arg(long, default_value_t = 20)]
    iterations: usize,
    /// Iterations of the adaptive run (0: none).
    #[arg(long, default_value_t = 600)]
    adaptive_iterations: usize,
    /// Wall-clock cap of every run, seconds.
    #[arg(long, default_value_t = 60.0)]
    max_seconds: f64,
    /// Threads of the `Threads` executor.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Use the `Serial` executor instead.
    #[arg(long)]
    serial: bool,
    /// Seed of the initial model and the optimiser.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn print_fixed(d: usize, target: &str, k: usize, ratio: f64, m: &Measured) {
    let n = m.steps.len().max(1) as f64;
    let ms = m.steps.iter().map(|s| s.ms).sum::<f64>() / n;
    let ws = m.steps.iter().map(|s| s.working_set as f64).sum::<f64>() / n;
    println!(
        "{d}\t{target}\tfixed\t{ratio}\t{k}\t{ms:.3}\t{ws:.0}\t{}\t{}\t{:.6}\t{:016x}",
        m.steps.len(),
        m.iterations,
        m.elbo,
        m.fingerprint
    );
}

fn print_adaptive(d: usize, target: &str, ks: &[usize], m: &Measured) {
    for &k in ks {
        let at: Vec<_> = m.steps.iter().filter(|s| s.components == k).collect();
        if at.is_empty() {
            continue;
        }
        let n = at.len() as f64;
        let ms = at.iter().map(|s| s.ms).sum::<f64>() / n;
        let ws = at.iter().map(|s| s.working_set as f64).sum::<f64>() / n;
        println!(
            "{d}\t{target}\tadaptive\t2\t{k}\t{ms:.3}\t{ws:.0}\t{}\t{}\t{:.6}\t{:016x}",
            at.len(),
            m.iterations,
            m.elbo,
            m.fingerprint
        );
    }
}

fn sweep<const D: usize, P: Target<f64, D>, X: Parallel>(cli: &Cli, name: &str, target: &mut P, par: &X) {
    let base = Scenario {
        mode: Mode::Adaptive,
        reuse_ratio: 2.0,
        warmup: cli.warmup,
        iterations: cli.iterations,
        max_seconds: cli.max_seconds,
        seed: cli.seed,
    };
    for &ratio in &cli.ratios {
        for &k in &cli.ks {
            let s = Scenario { mode: Mode::Fixed(k), reuse_ratio: ratio, ..base };
            print_fixed(D, name, k, ratio, &scaling::run::<D, P, X>(target, &s, par));
        }
    }
    if cli.adaptive_iterations > 0 {
        let s = Scenario { iterations: cli.adaptive_iterations, ..base };
        print_adaptive(D, name, &cli.ks, &scaling::run::<D, P, X>(target, &s, par));
    }
}

fn dim<const D: usize, X: Parallel>(cli: &Cli, par: &X) {
    for t in &cli.targets {
        match t.as_str() {
            "bananas" => sweep::<D, _, X>(cli, t, &mut Bananas::<D>, par),
            "ring" => sweep::<D, _, X>(cli, t, &mut Ring::<D>, par),
            "grid" => sweep::<D, _, X>(cli, t, &mut Grid::<D>, par),
            other => eprintln!("unknown target {other} (bananas, ring, grid)"),
        }
    }
}

fn all<X: Parallel>(cli: &Cli, par: &X) {
    println!("D\ttarget\tmode\treuse\tK\tms_per_iter\tworking_set\ttimed\titerations\telbo\tfingerprint");
    for &d in &cli.dims {
        match d {
            2 => dim::<2, X>(cli, par),
            10 => dim::<10, X>(cli, par),
            other => eprintln!("dimension {other} not built (2, 10)"),
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if cli.serial {
        all(&cli, &Serial);
    } else {
        all(&cli, &Threads::new(cli.threads));
    }
}

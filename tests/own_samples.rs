//! `only_use_own_samples` (docs/algorithm.md §2, the paper's WINE configs): every component
//! estimates its natural gradient from the samples it drew itself, as plain Monte Carlo. The fits
//! must still reach log Z = 0 of a correlated Gaussian, with Stein (S) and MORE (Z), without reuse
//! as in the paper's configs and with reuse; the option must change the run and stay deterministic.
mod common;

use common::{Gauss, big_stack};
use gmmvi::{Config, Gmm, Optimizer, StopRule};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Opt = Optimizer<f64, 2, 2, 2048, 16, 256>;

fn run(codeword: &str, own: bool, reuse: f64, iters: u64) -> (f64, Box<Opt>) {
    let mut cfg = Config::<f64>::from_codeword(codeword).unwrap();
    cfg.ng.only_use_own_samples = own;
    cfg.samples.reuse_ratio = reuse;
    cfg.adapt.add_iters = 1_000_000; // one component: the target is a single Gaussian
    let init = Gmm::<f64, 2, 2>::from_prior(
        1,
        &SVector::zeros(),
        &SVector::repeat(1.0),
        &SVector::repeat(10.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(1),
    )
    .unwrap();
    let mut target = Gauss::new(SVector::from([1.0, -2.0]), SMatrix::<f64, 2, 2>::new(2.0, 1.2, 1.2, 1.0));
    let mut opt = Box::new(Opt::new(&cfg, init, 7).unwrap());
    opt.run(&mut target, &StopRule::iterations(iters), |_| {}).unwrap();
    (opt.estimate_elbo(&mut target, 20_000).unwrap(), opt)
}

#[test]
fn own_samples_reach_log_z() {
    big_stack(|| {
        for (code, iters) in [("SAMTRUX", 200), ("ZAMTRUX", 300)] {
            for reuse in [0.0, 1.0] {
                let (elbo, _) = run(code, true, reuse, iters);
                assert!(elbo.abs() < 0.01, "{code}, reuse {reuse}: log Z - ELBO = {}", -elbo);
            }
        }
    });
}

#[test]
fn own_samples_change_the_run_and_are_deterministic() {
    big_stack(|| {
        // With reuse the two options see different samples and weights.
        let (_, a) = run("SAMTRUX", true, 1.0, 5);
        let (_, b) = run("SAMTRUX", true, 1.0, 5);
        let (_, c) = run("SAMTRUX", false, 1.0, 5);
        let mean = |o: &Opt| o.model().mean(0).copied().unwrap();
        assert_eq!(mean(&a), mean(&b));
        assert_ne!(mean(&a), mean(&c));
    });
}

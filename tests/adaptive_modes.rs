//! The adaptive scheme (letter A) finds all modes of a multimodal target from one component.
mod common;

use common::{big_stack, four_modes};
use gmmvi::{Config, Gmm, Optimizer, StopRule};
use nalgebra::SVector;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Opt = Optimizer<f64, 2, 16, 8192, 64, 256>;

#[test]
fn finds_all_four_modes_from_one_component() {
    big_stack(|| {
        let mut target = four_modes();
        let cfg = Config::<f64>::samtrux();
        let init = Gmm::<f64, 2, 16>::from_prior(
            1,
            &SVector::zeros(),
            &SVector::repeat(10.0),
            &SVector::repeat(100.0),
            &mut Xoshiro256PlusPlus::seed_from_u64(3),
        )
        .unwrap();
        let mut opt = Box::new(Opt::new(&cfg, init, 11).unwrap());
        opt.set_prior_variances(&SVector::repeat(100.0)).unwrap();
        opt.run(&mut target, &StopRule::iterations(160), |r| {
            if r.iteration % 40 == 0 {
                eprintln!("it {} evals {} K {} elbo {:.4}", r.iteration, r.evaluations, r.components, r.elbo_estimate);
            }
        })
        .unwrap();
        let elbo = opt.estimate_elbo(&mut target, 20_000).unwrap();
        let q = opt.model();
        eprintln!("K = {}, ELBO = {elbo}", q.len());
        for c in &target.comps {
            // Total weight of the model components whose mean is within 1 of this mode.
            let w: f64 = (0..q.len())
                .filter(|&k| (q.mean(k).unwrap() - c.mean).norm() < 1.0)
                .map(|k| q.log_weights()[k].exp())
                .sum();
            assert!((w - 0.25).abs() < 0.05, "mode {:?} holds weight {w}", c.mean);
        }
        // log Z = 0; four separated modes fitted exactly give ELBO -> 0.
        assert!(-elbo < 0.05, "log Z - ELBO = {}", -elbo);
    });
}

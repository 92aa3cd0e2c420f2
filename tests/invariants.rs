//! Invariants after every step, over random seeds and random multimodal targets: the weights
//! are normalised and positive, every covariance is symmetric positive definite and finite,
//! `log_density` agrees with a naive sum over components, and the counters only grow.
mod common;

use common::{Gauss, Mixture, big_stack};
use gmmvi::{Config, Gmm, Optimizer};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Opt = Optimizer<f64, 3, 12, 8192, 64, 256>;

fn random_target(seed: u64) -> Mixture<3> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let comps = (0..3)
        .map(|_| {
            let mut m = SVector::<f64, 3>::zeros();
            gmmvi::rng::fill_standard_normal(&mut rng, m.as_mut_slice());
            let mut a = SMatrix::<f64, 3, 3>::zeros();
            gmmvi::rng::fill_standard_normal(&mut rng, a.as_mut_slice());
            Gauss::new(m * 6.0, a.transpose() * a * 0.3 + SMatrix::identity() * 0.2)
        })
        .collect();
    Mixture { comps }
}

fn check(q: &Gmm<f64, 3, 12>, rng: &mut Xoshiro256PlusPlus, seed: u64) {
    let total: f64 = q.log_weights().iter().map(|lw| lw.exp()).sum();
    assert!((total - 1.0).abs() < 1e-12, "seed {seed}: weights sum to {total}");
    for k in 0..q.len() {
        let cov = q.covariance(k).unwrap();
        assert!(cov.iter().all(|v| v.is_finite()));
        assert!((cov - cov.transpose()).norm() <= 1e-12 * cov.norm());
        assert!(nalgebra::Cholesky::new(cov).is_some(), "seed {seed}: component {k} not SPD");
    }
    // log q against a naive sum over components at points drawn from q.
    let mut xs = [SVector::<f64, 3>::zeros(); 16];
    q.sample(rng, &mut xs);
    let mut many = [0.0; 16];
    q.log_density_many(&xs, &mut many);
    for (x, m) in xs.iter().zip(many) {
        let naive: f64 =
            (0..q.len()).map(|k| q.log_weights()[k].exp() * q.component_log_density(k, x).exp()).sum::<f64>().ln();
        assert!((q.log_density(x) - naive).abs() < 1e-9 * naive.abs().max(1.0));
        assert!((m - naive).abs() < 1e-9 * naive.abs().max(1.0));
    }
}

#[test]
fn invariants_hold_after_every_step() {
    big_stack(|| {
        for seed in 0..8u64 {
            let mut target = random_target(100 + seed);
            let mut cfg = Config::samtrux();
            cfg.adapt.add_iters = 10; // exercise adding and, after del_iters, deleting
            let init = Gmm::from_prior(
                2,
                &SVector::zeros(),
                &SVector::repeat(3.0),
                &SVector::repeat(20.0),
                &mut Xoshiro256PlusPlus::seed_from_u64(seed),
            )
            .unwrap();
            let mut opt = Box::new(Opt::new(&cfg, init, seed).unwrap());
            let mut last_evals = 0;
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            for _ in 0..150 {
                let r = opt.step(&mut target).unwrap();
                assert!(r.evaluations >= last_evals && r.elbo_estimate.is_finite());
                last_evals = r.evaluations;
                check(opt.model(), &mut rng, seed);
            }
            assert!(opt.model().len() > 2, "seed {seed}: the adaptive scheme never added");
        }
    });
}

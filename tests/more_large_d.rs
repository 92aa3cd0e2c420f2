//! MORE (`Z`) above D = 10 with the optimiser's workspace `M`: ZAMTRUX converges on a
//! correlated 14-D Gaussian, and a too small workspace is a configuration error.

mod common;

use common::{Gauss, big_stack};
use gmmvi::{Config, Error, Gmm, Optimizer, StopRule};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const D: usize = 14;
const M: usize = D * (D + 1) / 2 + D + 1;

fn target() -> Gauss<D> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let mut a = SMatrix::<f64, D, D>::zeros();
    gmmvi::rng::fill_standard_normal(&mut rng, a.as_mut_slice());
    let cov = a.transpose() * a * 0.1 + SMatrix::identity() * 0.5;
    Gauss::new(SVector::from_fn(|i, _| i as f64 * 0.3 - 2.0), cov)
}

#[test]
fn zamtrux_above_d10_converges_with_a_workspace() {
    big_stack(|| {
        let mut cfg = Config::<f64>::zamtrux();
        cfg.samples.desired_samples_per_component = 4 * M;
        let mut init = Gmm::<f64, D, 2>::new();
        init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * 9.0)).unwrap();

        let small = Optimizer::<f64, D, 2, 8192, 16, 170>::new(&cfg, init.clone(), 1);
        assert!(matches!(small.map(|_| ()), Err(Error::InvalidConfig { .. })));
        let too_small = Optimizer::<f64, D, 2, 8192, 16, 170, false, { M - 1 }>::new(&cfg, init.clone(), 1);
        assert!(matches!(too_small.map(|_| ()), Err(Error::InvalidConfig { .. })));

        let mut opt = Box::new(Optimizer::<f64, D, 2, 8192, 16, 170, false, M>::new(&cfg, init, 1).unwrap());
        let mut t = target();
        opt.run(&mut t, &StopRule::iterations(150), |_| {}).unwrap();
        let elbo = opt.estimate_elbo(&mut t, 4000).unwrap();
        // log Z = 0.
        assert!(elbo < 0.02 && elbo > -0.05, "ELBO {elbo}");
    });
}

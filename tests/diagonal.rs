//! The diagonal-covariance model (`Optimizer<…, DIAG = true>`): it fits a diagonal Gaussian as
//! well as the full model does, stays diagonal, and rejects what needs full covariances.
mod common;

use common::{Gauss, big_stack};
use gmmvi::{Config, Error, Gmm, Optimizer, StopRule};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

const D: usize = 20;

/// A diagonal Gaussian with variances from 0.05 to 20 and log Z = 0.
fn diagonal_target() -> Gauss<D> {
    let var = SVector::<f64, D>::from_fn(|d, _| 0.05 * 400f64.powf(d as f64 / (D - 1) as f64));
    let mean = SVector::<f64, D>::from_fn(|d, _| (d as f64 - 10.0) * 0.7);
    Gauss::new(mean, SMatrix::from_diagonal(&var))
}

fn fit<const DIAG: bool>(code: &str) -> (f64, Gmm<f64, D, 2>) {
    let mut cfg = Config::<f64>::from_codeword(code).unwrap();
    cfg.adapt.add_iters = 1_000_000;
    if cfg.component_step.schedule == gmmvi::config::StepSchedule::Fixed {
        cfg.component_step.initial = 0.3;
    }
    let init = Gmm::<f64, D, 2>::from_prior(
        1,
        &SVector::zeros(),
        &SVector::repeat(1.0),
        &SVector::repeat(10.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(1),
    )
    .unwrap();
    let mut opt = Box::new(Optimizer::<f64, D, 2, 4096, 16, 256, DIAG>::new(&cfg, init, 7).unwrap());
    let mut target = diagonal_target();
    opt.run(&mut target, &StopRule::iterations(300), |_| {}).unwrap();
    let elbo = opt.estimate_elbo(&mut target, 20_000).unwrap();
    (elbo, opt.model().clone())
}

#[test]
fn diagonal_and_full_models_reach_the_same_elbo() {
    big_stack(|| {
        for code in ["SAMTRUX", "SEPYFUX"] {
            let (e_diag, q) = fit::<true>(code);
            let (e_full, _) = fit::<false>(code);
            eprintln!("{code}: log Z - ELBO diagonal {:.5}, full {:.5}", -e_diag, -e_full);
            assert!(-e_diag < 0.01 && -e_full < 0.01, "{code}: {e_diag} {e_full}");
            assert!((e_diag - e_full).abs() < 0.01, "{code}: {e_diag} vs {e_full}");
            let l = q.chol(0).unwrap();
            for i in 0..D {
                for j in 0..i {
                    assert_eq!(l[(i, j)], 0.0, "{code}: L[{i},{j}] = {}", l[(i, j)]);
                }
            }
            let t = diagonal_target();
            let cov = q.covariance(0).unwrap();
            for d in 0..D {
                let v = 1.0 / t.prec[(d, d)];
                assert!((cov[(d, d)] / v - 1.0).abs() < 0.02, "{code}: var[{d}] {} vs {v}", cov[(d, d)]);
            }
        }
    });
}

#[test]
fn diagonal_model_rejects_what_needs_full_covariances() {
    big_stack(|| {
        type DiagOpt = Optimizer<f64, 2, 2, 1024, 8, 256, true>;
        let mut init = Gmm::<f64, 2, 2>::new();
        init.add_component(1.0, SVector::zeros(), &SMatrix::identity()).unwrap();
        for code in ["ZAMTRUX", "SEPIFUX"] {
            let cfg = Config::from_codeword(code).unwrap();
            assert!(matches!(DiagOpt::new(&cfg, init.clone(), 0), Err(Error::InvalidConfig { .. })), "{code} accepted");
        }
        let mut full = Gmm::<f64, 2, 2>::new();
        full.add_component(1.0, SVector::zeros(), &SMatrix::<f64, 2, 2>::new(1.0, 0.5, 0.5, 1.0)).unwrap();
        assert!(matches!(DiagOpt::new(&Config::samtrux(), full, 0), Err(Error::InvalidArgument { .. })));
        assert!(DiagOpt::new(&Config::samtrux(), init, 0).is_ok());
    });
}

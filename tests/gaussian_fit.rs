//! One-component fits of Gaussians with log Z = 0: the ELBO must reach log Z and the component
//! must match the target's moments, in f32 and f64.
mod common;

use common::{Gauss, big_stack, random_10d};
use gmmvi::{Config, Gmm, Optimizer, Real};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn fit<T: Real, const D: usize>(target: &mut Gauss<D>, iters: u64) -> (f64, SVector<f64, D>, SMatrix<f64, D, D>) {
    fit_with(target, iters, Config::<T>::samtrux(), |_| {})
}

/// [`fit`] with the configuration `cfg` (components added only at start) and a check on every
/// step's report and the optimiser after it.
fn fit_with<T: Real, const D: usize>(
    target: &mut Gauss<D>,
    iters: u64,
    mut cfg: Config<T>,
    mut each: impl FnMut(&Optimizer<T, D, 2, 2048, 16, 256>),
) -> (f64, SVector<f64, D>, SMatrix<f64, D, D>) {
    cfg.adapt.add_iters = 1_000_000; // one component: the target is a single Gaussian
    let init = Gmm::<T, D, 2>::from_prior(
        1,
        &SVector::zeros(),
        &SVector::repeat(T::one()),
        &SVector::repeat(T::of(10.0)),
        &mut Xoshiro256PlusPlus::seed_from_u64(1),
    )
    .unwrap();
    let mut opt = Box::new(Optimizer::<T, D, 2, 2048, 16, 256>::new(&cfg, init, 7).unwrap());
    for _ in 0..iters {
        opt.step(target).unwrap();
        each(&opt);
    }
    let elbo = opt.estimate_elbo(target, 20_000).unwrap().to_f64();
    let q = opt.model();
    (elbo, q.mean(0).unwrap().map(|v| v.to_f64()), q.covariance(0).unwrap().map(|v| v.to_f64()))
}

fn check<const D: usize>(target: &Gauss<D>, got: (f64, SVector<f64, D>, SMatrix<f64, D, D>), tol: f64) {
    let (elbo, mean, cov) = got;
    let true_cov = target.prec.try_inverse().unwrap();
    assert!(elbo < 0.01, "ELBO estimate above log Z = 0 beyond Monte-Carlo noise: {elbo}");
    assert!(-elbo < 0.01, "log Z - ELBO = {}", -elbo);
    for d in 0..D {
        let sd = true_cov[(d, d)].sqrt();
        assert!((mean[d] - target.mean[d]).abs() < tol * sd, "mean[{d}] {} vs {}", mean[d], target.mean[d]);
    }
    let rel = (cov - true_cov).norm() / true_cov.norm();
    assert!(rel < tol, "relative covariance error {rel}");
}

#[test]
fn correlated_2d_f64() {
    big_stack(|| {
        let mut t = Gauss::new(SVector::from([1.0, -2.0]), SMatrix::<f64, 2, 2>::new(2.0, 1.2, 1.2, 1.0));
        let got = fit::<f64, 2>(&mut t, 200);
        check(&t, got, 1e-3);
    });
}

#[test]
fn correlated_2d_f32() {
    big_stack(|| {
        let mut t = Gauss::new(SVector::from([1.0, -2.0]), SMatrix::<f64, 2, 2>::new(2.0, 1.2, 1.2, 1.0));
        let got = fit::<f32, 2>(&mut t, 200);
        check(&t, got, 1e-2);
    });
}

#[test]
fn correlated_10d_f64() {
    big_stack(|| {
        let mut t = random_10d();
        let got = fit::<f64, 10>(&mut t, 300);
        check(&t, got, 1e-3);
    });
}

#[test]
fn correlated_10d_f32() {
    big_stack(|| {
        let mut t = random_10d();
        let got = fit::<f32, 10>(&mut t, 300);
        check(&t, got, 2e-2);
    });
}

/// `use_sample_database = false` (docs/algorithm.md §9.1 step 3): after every step the store holds
/// exactly that step's batch, and the fit still converges. The reuse pass (ratio 2) still sees the
/// previous batch when it decides how many samples to draw, as in the reference, so a batch may
/// be smaller than `n_des`.
#[test]
fn correlated_2d_without_sample_database() {
    big_stack(|| {
        let mut t = Gauss::new(SVector::from([1.0, -2.0]), SMatrix::<f64, 2, 2>::new(2.0, 1.2, 1.2, 1.0));
        let mut cfg = Config::<f64>::samtrux();
        cfg.set("use_sample_database", "false").unwrap();
        assert!(!cfg.samples.use_sample_database);
        let n_des = cfg.samples.desired_samples_per_component;
        let mut last = 0;
        let got = fit_with::<f64, 2>(&mut t, 200, cfg, |opt| {
            let batch = (opt.evaluations() - last) as usize;
            last = opt.evaluations();
            // One component and a finite target: every drawn sample is kept, and only those.
            assert!((1..=n_des).contains(&batch), "{batch}");
            assert_eq!(opt.stored_samples(), batch);
        });
        check(&t, got, 1e-3);
        // With the database (the default) the store keeps growing past one batch.
        let mut grew = false;
        fit_with::<f64, 2>(&mut t, 3, Config::samtrux(), |opt| grew |= opt.stored_samples() > n_des);
        assert!(grew);
    });
}

//! `num_prior_samples` (docs/algorithm.md §10.1 step 2; the paper's STM300 and WINE configs): every
//! add also scores draws from the prior `N(prior_mean, diag(initial_cov))`, evaluated on the target
//! and counted as evaluations.
mod common;

use common::{big_stack, four_modes};
use gmmvi::{Config, Error, Gmm, Optimizer, StopRule};
use nalgebra::{SMatrix, SVector};

type Opt = Optimizer<f64, 2, 16, 4096, 64, 256>;

/// One narrow component on the mode at (−10, −10): the stored samples never leave it, so only
/// the prior's draws can show the add heuristic the other three modes.
fn setup(prior_samples: usize) -> Box<Opt> {
    let mut cfg = Config::<f64>::samtrux();
    cfg.adapt.add_iters = 5;
    cfg.adapt.num_prior_samples = prior_samples;
    let mut init = Gmm::new();
    init.add_component(1.0, SVector::from([-10.0, -10.0]), &(SMatrix::identity() * 0.5)).unwrap();
    Box::new(Opt::new(&cfg, init, 3).unwrap())
}

#[test]
fn prior_candidates_need_the_prior_mean() {
    big_stack(|| {
        let mut opt = setup(100);
        let mut t = four_modes();
        let before = opt.model().clone();
        // Entropy only is not enough: the draws need the mean.
        opt.set_prior_variances(&SVector::repeat(225.0)).unwrap();
        let e = opt.step(&mut t).unwrap_err();
        assert!(matches!(e, Error::InvalidConfig { field } if field.starts_with("adapt.num_prior_samples")), "{e:?}");
        assert_eq!(opt.model().log_weights(), before.log_weights());
        assert_eq!(opt.evaluations(), 0);
        assert!(opt.set_prior(&SVector::from([f64::NAN, 0.0]), &SVector::repeat(1.0)).is_err());
        assert!(opt.set_prior(&SVector::zeros(), &SVector::from([1.0, 0.0])).is_err());
    });
}

#[test]
fn prior_candidates_find_the_other_modes_and_are_counted() {
    big_stack(|| {
        let mut opt = setup(200);
        opt.set_prior(&SVector::zeros(), &SVector::repeat(225.0)).unwrap();
        let mut t = four_modes();
        let (mut sum, mut with_prior) = (0u64, 0);
        let s = opt
            .run(&mut t, &StopRule::iterations(400), |r| {
                sum += r.new_evaluations as u64;
                // Adds happen every 5 iterations from the 5th on, each with 200 prior draws.
                if r.iteration % 5 == 0 && r.components < 16 {
                    assert!(r.new_evaluations >= 200, "{}: {}", r.iteration, r.new_evaluations);
                    with_prior += 1;
                }
            })
            .unwrap();
        assert_eq!(sum, s.last.unwrap().evaluations);
        assert!(with_prior > 0);
        let elbo = opt.estimate_elbo(&mut t, 20_000).unwrap();
        assert!(elbo > -0.05, "log Z - ELBO = {} with {} components", -elbo, opt.model().len());
    });
}

/// The first add (iteration 5) places the new component on another mode with prior
/// candidates, and on the known mode without them (its stored samples are all there).
#[test]
fn first_add_reaches_another_mode_only_with_prior_candidates() {
    big_stack(|| {
        let home = SVector::from([-10.0, -10.0]);
        for (n, elsewhere) in [(200, true), (0, false)] {
            let mut opt = setup(n);
            opt.set_prior(&SVector::zeros(), &SVector::repeat(225.0)).unwrap();
            let mut t = four_modes();
            opt.run(&mut t, &StopRule::iterations(5), |_| {}).unwrap();
            assert_eq!(opt.model().len(), 2);
            let added = *opt.model().mean(1).unwrap();
            assert_eq!((added - home).norm() > 5.0, elsewhere, "num_prior_samples {n}: added at {added}");
        }
    });
}

/// A checkpoint carries the prior (mean and deviations): restored into an optimiser without
/// one, the run continues bit-identically, prior draws included.
#[test]
fn checkpoint_carries_the_prior() {
    big_stack(|| {
        let mut t = four_modes();
        let mut a = setup(50);
        a.set_prior(&SVector::from([1.0, -2.0]), &SVector::repeat(225.0)).unwrap();
        a.run(&mut t, &StopRule::iterations(7), |_| {}).unwrap();
        let mut bytes = vec![0u8; a.checkpoint_size()];
        a.save(&mut bytes).unwrap();
        let mut b = setup(50);
        b.restore(&bytes).unwrap();
        a.run(&mut t, &StopRule::iterations(9), |_| {}).unwrap();
        b.run(&mut t, &StopRule::iterations(9), |_| {}).unwrap();
        let (mut sa, mut sb) = (vec![0u8; a.checkpoint_size()], vec![0u8; b.checkpoint_size()]);
        a.save(&mut sa).unwrap();
        b.save(&mut sb).unwrap();
        assert_eq!(sa, sb);
        assert!(a.model().len() >= 3);
    });
}

//! The control-loop API: every stop rule fires as documented and the callback sees every step.
mod common;

use common::{Gauss, big_stack};
use gmmvi::{Config, Gmm, Optimizer, StopReason, StopRule};
use nalgebra::{SMatrix, SVector};

type Opt = Optimizer<f64, 2, 4, 2048, 16, 256>;

fn setup() -> (Box<Opt>, Gauss<2>) {
    let mut init = Gmm::new();
    init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * 10.0)).unwrap();
    let mut cfg = Config::samtrux();
    cfg.adapt.add_iters = 1_000_000;
    let target = Gauss::new(SVector::from([1.0, -2.0]), SMatrix::<f64, 2, 2>::new(2.0, 1.2, 1.2, 1.0));
    (Box::new(Opt::new(&cfg, init, 1).unwrap()), target)
}

#[test]
fn converges_by_the_window_rule_before_the_iteration_bound() {
    big_stack(|| {
        let (mut opt, mut t) = setup();
        let rule = StopRule { max_iterations: 10_000, max_evaluations: u64::MAX, window: 20, tolerance: 1e-6 };
        let mut calls = 0u64;
        let s = opt.run(&mut t, &rule, |_| calls += 1).unwrap();
        assert_eq!(s.reason, StopReason::Converged);
        let last = s.last.unwrap();
        assert!(last.iteration < 10_000 && last.iteration >= 20, "{}", last.iteration);
        assert_eq!(calls, last.iteration);
        // Converged means converged: the fit is at log Z = 0.
        assert!(-opt.estimate_elbo(&mut t, 10_000).unwrap() < 0.01);
    });
}

#[test]
fn evaluation_budget_and_iteration_bound() {
    big_stack(|| {
        let (mut opt, mut t) = setup();
        let s = opt.run(&mut t, &StopRule::evaluations(500), |_| {}).unwrap();
        assert_eq!(s.reason, StopReason::MaxEvaluations);
        // Stops at the first step that reaches the budget: at most one step (n_des = 100) beyond.
        assert!(opt.evaluations() >= 500 && opt.evaluations() < 600, "{}", opt.evaluations());
        let before = opt.iterations();
        let s = opt.run(&mut t, &StopRule::iterations(7), |_| {}).unwrap();
        assert_eq!(s.reason, StopReason::MaxIterations);
        assert_eq!(opt.iterations(), before + 7);
        // A budget already spent runs no step.
        let s = opt.run(&mut t, &StopRule::evaluations(1), |_| {}).unwrap();
        assert_eq!((s.reason, s.last), (StopReason::MaxEvaluations, None));
    });
}

/// `Optimizer::new_in` (in caller storage) is `new` bit for bit, replaces a previous optimiser
/// in the slot, and rejects what `new` rejects.
#[test]
fn new_in_is_new_in_place() {
    use std::mem::MaybeUninit;
    big_stack(|| {
        let (mut a, mut t) = setup();
        let mut init = Gmm::new();
        init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * 10.0)).unwrap();
        let mut cfg = Config::samtrux();
        cfg.adapt.add_iters = 1_000_000;
        let mut slot: Box<MaybeUninit<Opt>> = Box::new_uninit();
        // A different optimiser first, then replaced in place.
        Opt::new_in(&mut slot, &Config::samtron(), &init, 99).unwrap();
        let b = Opt::new_in(&mut slot, &cfg, &init, 1).unwrap();
        let rule = StopRule::iterations(10);
        a.run(&mut t, &rule, |_| {}).unwrap();
        b.run(&mut t, &rule, |_| {}).unwrap();
        let (mut sa, mut sb) = (vec![0u8; a.checkpoint_size()], vec![0u8; b.checkpoint_size()]);
        a.save(&mut sa).unwrap();
        b.save(&mut sb).unwrap();
        assert_eq!(sa, sb, "new_in and new diverged");
        cfg.temperature = 0.0;
        assert!(matches!(Opt::new_in(&mut slot, &cfg, &init, 1), Err(gmmvi::Error::InvalidConfig { .. })));
        assert!(Opt::new_in(&mut slot, &Config::samtrux(), &Gmm::new(), 1).is_err());
    });
}

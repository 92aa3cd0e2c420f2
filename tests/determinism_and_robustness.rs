//! Determinism (same seed → same bits) and robustness (NaN targets, failing targets, bad
//! configurations give errors or documented recovery, never a panic or a NaN in the model).
mod common;

use common::{Gauss, big_stack};
use gmmvi::{Config, Error, Gmm, Optimizer, Real, StopRule, Target, TargetError};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Opt = Optimizer<f64, 2, 8, 4096, 64, 256>;

fn init(k0: usize) -> Gmm<f64, 2, 8> {
    Gmm::from_prior(
        k0,
        &SVector::zeros(),
        &SVector::repeat(3.0),
        &SVector::repeat(10.0),
        &mut Xoshiro256PlusPlus::seed_from_u64(5),
    )
    .unwrap()
}

fn target() -> Gauss<2> {
    Gauss::new(SVector::from([1.0, -2.0]), SMatrix::<f64, 2, 2>::new(2.0, 1.2, 1.2, 1.0))
}

fn bits(q: &Gmm<f64, 2, 8>) -> Vec<u64> {
    let mut v: Vec<u64> = q.log_weights().iter().map(|x| x.to_bits()).collect();
    for k in 0..q.len() {
        v.extend(q.mean(k).unwrap().iter().map(|x| x.to_bits()));
        v.extend(q.chol(k).unwrap().iter().map(|x| x.to_bits()));
    }
    v
}

fn assert_finite(q: &Gmm<f64, 2, 8>) {
    assert!(bits(q).iter().all(|b| f64::from_bits(*b).is_finite()), "model holds a non-finite value");
}

#[test]
fn same_seed_same_bits_different_seed_different_bits() {
    big_stack(|| {
        let cfg = Config::samtrux();
        let run = |seed| {
            let mut opt = Box::new(Opt::new(&cfg, init(3), seed).unwrap());
            let mut t = target();
            opt.run(&mut t, &StopRule::iterations(70), |_| {}).unwrap();
            (bits(opt.model()), opt.evaluations())
        };
        let a = run(1);
        assert_eq!(a, run(1));
        assert_ne!(a, run(2));
    });
}

#[test]
fn asking_for_the_elbo_does_not_change_the_run() {
    big_stack(|| {
        let cfg = Config::samtrux();
        let mut a = Box::new(Opt::new(&cfg, init(2), 9).unwrap());
        let mut b = Box::new(Opt::new(&cfg, init(2), 9).unwrap());
        let mut t = target();
        for _ in 0..20 {
            a.step(&mut t).unwrap();
            b.step(&mut t).unwrap();
            b.estimate_elbo(&mut t, 100).unwrap();
        }
        assert_eq!(bits(a.model()), bits(b.model()));
    });
}

/// Returns NaN (or an infinite gradient) for about 10 % of the points, chosen by a hash.
struct Flaky(Gauss<2>, u64);

impl Target<f64, 2> for Flaky {
    fn log_density(&mut self, x: &[SVector<f64, 2>], lp: &mut [f64]) -> Result<(), TargetError> {
        self.0.log_density(x, lp)?;
        for l in lp.iter_mut() {
            self.1 = self.1.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            if (self.1 >> 33).is_multiple_of(10) {
                *l = f64::NAN;
            }
        }
        Ok(())
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f64, 2>],
        lp: &mut [f64],
        g: &mut [SVector<f64, 2>],
    ) -> Result<(), TargetError> {
        self.0.log_density_with_grad(x, lp, g)?;
        for (l, gi) in lp.iter_mut().zip(g.iter_mut()) {
            self.1 = self.1.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            match (self.1 >> 33) % 20 {
                0 => *l = f64::NAN,
                1 => gi[0] = f64::INFINITY,
                _ => {}
            }
        }
        Ok(())
    }
}

#[test]
fn nan_for_ten_percent_of_inputs_still_converges() {
    big_stack(|| {
        let mut t = Flaky(target(), 1);
        let mut cfg = Config::samtrux();
        cfg.adapt.add_iters = 1_000_000;
        let mut opt = Box::new(Opt::new(&cfg, init(1), 3).unwrap());
        let mut rejected = 0;
        opt.run(&mut t, &StopRule::iterations(200), |r| {
            rejected += r.rejected_samples;
            assert!(r.elbo_estimate.is_finite());
        })
        .unwrap();
        assert!(rejected > 0);
        assert_finite(opt.model());
        let elbo = opt.estimate_elbo(&mut target(), 20_000).unwrap();
        assert!(-elbo < 0.01, "log Z - ELBO = {}", -elbo);
    });
}

struct Failing {
    inner: Gauss<2>,
    calls: usize,
    fail_at: usize,
}

impl Target<f64, 2> for Failing {
    fn log_density(&mut self, x: &[SVector<f64, 2>], lp: &mut [f64]) -> Result<(), TargetError> {
        self.inner.log_density(x, lp)
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f64, 2>],
        lp: &mut [f64],
        g: &mut [SVector<f64, 2>],
    ) -> Result<(), TargetError> {
        self.calls += 1;
        if self.calls >= self.fail_at {
            return Err(TargetError { code: 42 });
        }
        self.inner.log_density_with_grad(x, lp, g)
    }
}

#[test]
fn failing_target_aborts_the_step_and_keeps_the_model() {
    big_stack(|| {
        let mut t = Failing { inner: target(), calls: 0, fail_at: 30 };
        let mut opt = Box::new(Opt::new(&Config::samtrux(), init(2), 3).unwrap());
        let mut before = bits(opt.model());
        let mut evals = 0;
        let err = loop {
            match opt.step(&mut t) {
                Ok(_) => {
                    before = bits(opt.model());
                    evals = opt.evaluations();
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err, Error::TargetFailed(TargetError { code: 42 }));
        assert_eq!(bits(opt.model()), before);
        assert_eq!(opt.evaluations(), evals);
        assert!(format!("{err}").contains("42"));
    });
}

struct AllNan;
impl<T: Real> Target<T, 2> for AllNan {
    fn log_density(&mut self, _: &[SVector<T, 2>], lp: &mut [T]) -> Result<(), TargetError> {
        lp.fill(T::NAN);
        Ok(())
    }
    fn log_density_with_grad(
        &mut self,
        _: &[SVector<T, 2>],
        lp: &mut [T],
        _: &mut [SVector<T, 2>],
    ) -> Result<(), TargetError> {
        lp.fill(T::NAN);
        Ok(())
    }
}

#[test]
fn all_nan_target_is_an_error_not_a_nan_model() {
    big_stack(|| {
        let mut opt = Box::new(Opt::new(&Config::samtrux(), init(2), 3).unwrap());
        let before = bits(opt.model());
        assert_eq!(opt.step(&mut AllNan).unwrap_err(), Error::NonFiniteTarget);
        assert_eq!(bits(opt.model()), before);
        assert_eq!(opt.estimate_elbo(&mut AllNan, 100).unwrap_err(), Error::NonFiniteTarget);
    });
}

#[test]
fn invalid_configurations_are_named() {
    big_stack(|| {
        let field = |f: fn(&mut Config<f64>)| {
            let mut c = Config::samtrux();
            f(&mut c);
            match Opt::new(&c, init(1), 0) {
                Err(Error::InvalidConfig { field }) => field,
                other => panic!("expected InvalidConfig, got {:?}", other.map(|_| ())),
            }
        };
        assert_eq!(field(|c| c.temperature = -1.0), "temperature");
        assert_eq!(field(|c| c.temperature = f64::NAN), "temperature");
        assert_eq!(field(|c| c.samples.desired_samples_per_component = 0), "samples.desired_samples_per_component");
        assert_eq!(field(|c| c.samples.reuse_ratio = -0.5), "samples.reuse_ratio");
        assert_eq!(field(|c| c.component_step.min = 2.0), "component_step.min/max");
        assert_eq!(field(|c| c.component_step.initial = 0.0), "component_step.initial");
        assert_eq!(field(|c| c.weight_step.initial = f64::INFINITY), "weight_step.initial");
        assert_eq!(field(|c| c.adapt.add_iters = 0), "adapt.add_iters");
        assert_eq!(field(|c| c.adapt.thresholds.clear()), "adapt.thresholds");
        assert_eq!(field(|c| c.adapt.del_iters = 0), "adapt.del_iters");
        assert_eq!(field(|c| c.adapt.max_components = 0), "adapt.max_components");
        assert_eq!(field(|c| c.adapt.min_weight_for_del = -1.0), "adapt.min_weight_for_del");
        assert_eq!(field(|c| c.samples.max_database_size = 0), "samples.max_database_size");
        assert_eq!(field(|c| c.component_step.inc_factor = 0.0), "component_step.inc_factor/dec_factor");
        assert!(field(|c| c.adapt.del_iters = 1000).contains("history capacity"));
        assert!(field(|c| c.samples.desired_samples_per_component = 1000).contains("exceed the store"));
        assert!(matches!(Opt::new(&Config::samtrux(), Gmm::new(), 0), Err(Error::InvalidArgument { .. })));
    });
}

#[test]
fn bad_model_input_is_rejected() {
    let mut q = Gmm::<f64, 2, 2>::new();
    let bad = SMatrix::<f64, 2, 2>::new(1.0, 2.0, 2.0, 1.0);
    assert_eq!(q.add_component(1.0, SVector::zeros(), &bad), Err(Error::CholeskyFailed { component: 0 }));
    let zero_var = SMatrix::<f64, 2, 2>::new(1.0, 0.0, 0.0, 0.0);
    assert!(q.add_component(1.0, SVector::zeros(), &zero_var).is_err());
    assert!(q.add_component(f64::NAN, SVector::zeros(), &SMatrix::identity()).is_err());
    assert!(q.add_component(1.0, SVector::from([f64::NAN, 0.0]), &SMatrix::identity()).is_err());
    q.add_component(1.0, SVector::zeros(), &SMatrix::identity()).unwrap();
    q.add_component(1.0, SVector::zeros(), &SMatrix::identity()).unwrap();
    assert_eq!(q.add_component(1.0, SVector::zeros(), &SMatrix::identity()), Err(Error::CapacityFull));
    assert!(q.set_log_weights(&[f64::NAN, 0.0]).is_err());
    assert!(q.set_log_weights(&[0.0]).is_err());
    assert_eq!(q.remove_component(5), Err(Error::NoSuchComponent { index: 5 }));
    assert!((q.log_weights()[0].exp() - 0.5).abs() < 1e-15);
}

#[test]
fn memory_formula_matches_size_of() {
    use std::mem::size_of;
    let check = |actual: usize, formula: usize| {
        assert!(actual >= formula && actual - formula < 1024, "size_of {actual} vs formula {formula}");
    };
    check(
        size_of::<Optimizer<f64, 10, 1000, 200_000, 2000, 32>>(),
        gmmvi::state_size_formula(8, 10, 1000, 200_000, 2000, 32),
    );
    check(size_of::<Optimizer<f32, 7, 8, 320, 24, 16>>(), gmmvi::state_size_formula(4, 7, 8, 320, 24, 16));
    check(size_of::<Opt>(), gmmvi::state_size_formula(8, 2, 8, 4096, 64, 256));
}

#[test]
fn any_executor_gives_the_same_bits() {
    use gmmvi::{Serial, Threads};
    big_stack(|| {
        let mut cfg = Config::samtrux();
        // Working sets of more than one row task (ROW_TASK rows), so row passes really split.
        cfg.samples.desired_samples_per_component = 200;
        let mut t = common::Mixture {
            comps: vec![
                Gauss::new(SVector::from([-4.0, 0.0]), SMatrix::<f64, 2, 2>::identity()),
                Gauss::new(SVector::from([4.0, 1.0]), SMatrix::<f64, 2, 2>::new(1.0, 0.5, 0.5, 2.0)),
            ],
        };
        let mut serial = Box::new(Opt::new(&cfg, init(3), 4).unwrap());
        let mut two = Box::new(Opt::new(&cfg, init(3), 4).unwrap());
        let mut three = Box::new(Opt::new(&cfg, init(3), 4).unwrap());
        // Enough iterations for reuse, adds and deletions; rows span several ROW_TASK tasks.
        let mut max_rows = 0;
        for _ in 0..120 {
            let a = serial.step_with(&mut t, &Serial).unwrap();
            max_rows = max_rows.max(a.working_set);
            let b = two.step_with(&mut t, &Threads::new(2)).unwrap();
            let c = three.step_with(&mut t, &Threads::new(3)).unwrap();
            assert_eq!(a, b);
            assert_eq!(a, c);
        }
        assert_eq!(bits(serial.model()), bits(two.model()));
        assert_eq!(bits(serial.model()), bits(three.model()));
        assert!(max_rows > gmmvi::parallel::ROW_TASK, "{max_rows}");
        assert!(serial.model().len() > 1);
    });
}

/// A high-dimensional fit with several components, where the per-component passes (estimates,
/// trust-region searches, factorisations) are the bulk of an iteration: every executor and
/// thread count gives the same bits, for the trust-region (`T`), iBLR (`Y`) and direct (`I`)
/// component updates and for the diagonal model.
#[test]
fn any_executor_gives_the_same_bits_in_high_dimension() {
    use gmmvi::{Parallel, Serial, StepReport, Threads};
    const D: usize = 48;

    fn bits_d<const D: usize>(q: &Gmm<f64, D, 8>) -> Vec<u64> {
        let mut v: Vec<u64> = q.log_weights().iter().map(|x| x.to_bits()).collect();
        for k in 0..q.len() {
            v.extend(q.mean(k).unwrap().iter().map(|x| x.to_bits()));
            v.extend(q.chol(k).unwrap().iter().map(|x| x.to_bits()));
        }
        v
    }

    fn run<const DIAG: bool, X: Parallel>(
        cfg: &Config<f64>,
        init: &Gmm<f64, D, 8>,
        t: &mut common::Mixture<D>,
        par: &X,
    ) -> (Vec<StepReport<f64>>, Vec<u64>) {
        let mut opt = Box::new(Optimizer::<f64, D, 8, 4096, 64, 256, DIAG>::new(cfg, init.clone(), 3).unwrap());
        let reports = (0..12).map(|_| opt.step_with(t, par).unwrap()).collect();
        (reports, bits_d(opt.model()))
    }

    fn check<const DIAG: bool>(cfg: &Config<f64>, init: &Gmm<f64, D, 8>, t: &mut common::Mixture<D>) {
        let serial = run::<DIAG, _>(cfg, init, t, &Serial);
        for n in [1, 2, 3] {
            assert!(run::<DIAG, _>(cfg, init, t, &Threads::new(n)) == serial, "Threads({n}), DIAG {DIAG}");
        }
        // The components really moved and more than one ran in every iteration.
        let (reports, model) = serial;
        assert_ne!(model, bits_d(init), "DIAG {DIAG}");
        assert!(reports.iter().all(|r| r.components >= 4), "DIAG {DIAG}");
        assert!(reports.iter().any(|r| r.rejected_updates < r.components), "DIAG {DIAG}");
    }

    big_stack(|| {
        // Two correlated Gaussians, 4 apart in every coordinate.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let comps = [-2.0, 2.0]
            .map(|m| {
                let mut a = SMatrix::<f64, D, D>::zeros();
                gmmvi::rng::fill_standard_normal(&mut rng, a.as_mut_slice());
                let cov = a * a.transpose() / D as f64 + SMatrix::identity() * 0.5;
                Gauss::new(SVector::repeat(m), cov)
            })
            .into();
        let mut t = common::Mixture { comps };
        let init = Gmm::<f64, D, 8>::from_prior(
            5,
            &SVector::zeros(),
            &SVector::repeat(2.0),
            &SVector::repeat(4.0),
            &mut Xoshiro256PlusPlus::seed_from_u64(5),
        )
        .unwrap();
        for cfg in [Config::samtrux(), Config::sepyfux(), Config::sepifux()] {
            check::<false>(&cfg, &init, &mut t);
        }
        check::<true>(&Config::samtrux(), &init, &mut t);
    });
}

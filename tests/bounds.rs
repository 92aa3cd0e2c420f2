//! Bounded supports: truncated Gaussians with known normalisers fitted through the bijection
//! (ELBO → log Z), samples strictly inside the bounds in `f32` and `f64`, the chain rule
//! through the bijection against finite differences, determinism, checkpoints and export.

mod common;

use common::{TruncGauss, big_stack};
use gmmvi::bounds::{Unconstrained, import_model};
use gmmvi::{Bounds, Config, Error, Gmm, Optimizer, Real, StopRule, Target, TargetError};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Opt<T, const D: usize> = Optimizer<T, D, 16, 8192, 128, 64>;

fn config<T: Real>(code: &str) -> Config<T> {
    let mut c = Config::from_codeword(code).unwrap();
    c.samples.desired_samples_per_component = 60;
    c.adapt.max_components = 16;
    c.adapt.add_iters = 5;
    c.adapt.del_iters = 15;
    c
}

fn init<T: Real, const D: usize>() -> Gmm<T, D, 16> {
    let mut q = Gmm::new();
    q.add_component(T::one(), SVector::zeros(), &SMatrix::identity()).unwrap();
    q
}

/// Mean and standard error of `log p~(x) − log q_X(x)` over `n` constrained samples of the
/// optimiser (its public sampling and density, not the internal ELBO), and the
/// importance-sampled `log E_q[p~/q]`.
fn elbo_in_x<const D: usize>(opt: &Opt<f64, D>, target: &mut TruncGauss<D>, n: usize) -> (f64, f64, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    let mut xs = vec![SVector::<f64, D>::zeros(); n];
    assert_eq!(opt.sample(&mut rng, &mut xs), n);
    let v: Vec<f64> = xs.iter().map(|x| target.eval(x).0 - opt.log_density(x)).collect();
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (n - 1) as f64;
    let is = (v.iter().map(|a| (a - mean).exp()).sum::<f64>() / n as f64).ln() + mean;
    (mean, (var / n as f64).sqrt(), is)
}

/// Fits `target` from one standard component in the unconstrained space and checks the ELBO
/// against log Z: within 4 standard errors plus the fit's remaining KL (`slack`), and never
/// above log Z beyond the Monte-Carlo error.
fn fit_and_check<const D: usize>(code: &str, mut target: TruncGauss<D>, iters: u64, slack: f64) -> Box<Opt<f64, D>> {
    let mut opt = Box::new(Opt::<f64, D>::new(&config(code), init(), 3).unwrap());
    opt.set_bounds(&target.bounds()).unwrap();
    opt.run(&mut target, &StopRule::iterations(iters), |_| {}).unwrap();
    let log_z = target.log_z();
    let (elbo, se, is) = elbo_in_x(&opt, &mut target, 40_000);
    let internal = opt.estimate_elbo(&mut target, 40_000).unwrap();
    println!(
        "{code} D={D}: log Z {log_z:.5}, ELBO (x space) {elbo:.5} ± {se:.5}, ELBO (estimate_elbo) {internal:.5}, importance-sampled log Z {is:.5}, K={}",
        opt.model().len()
    );
    assert!(elbo <= log_z + 4.0 * se, "ELBO above log Z: {elbo} vs {log_z}");
    assert!(log_z - elbo < slack + 4.0 * se, "ELBO {elbo} too far below log Z {log_z}");
    assert!((internal - elbo).abs() < slack + 8.0 * se, "estimate_elbo {internal} vs {elbo}");
    assert!((is - log_z).abs() < 2e-3, "importance-sampled log Z {is} vs {log_z}");
    assert_eq!(target.outside, 0, "target evaluated on or outside its bounds");
    opt
}

#[test]
fn truncated_gaussian_1d_two_sided() {
    big_stack(|| {
        // Truncated at two standard deviations on both sides.
        let t = TruncGauss::new([1.0], [0.5], [0.0], [2.0]);
        let opt = fit_and_check("SAMTRUX", t, 300, 0.005);
        // The constrained density integrates to 1 over [0, 2] (trapezoid rule).
        let n = 200_000;
        let h = 2.0 / n as f64;
        let mut mass = 0.0;
        for i in 1..n {
            mass += opt.log_density(&SVector::from([i as f64 * h])).exp() * h;
        }
        println!("∫ q_X = {mass:.6}");
        assert!((mass - 1.0).abs() < 1e-3, "∫ q_X = {mass}");
        for x in [0.0, 2.0, -1.0, 2.5, f64::NAN] {
            assert_eq!(opt.log_density(&SVector::from([x])), f64::NEG_INFINITY);
        }
        // The batched density agrees with the pointwise one, inside and outside.
        let xs: Vec<SVector<f64, 1>> = (0..150).map(|i| SVector::from([-0.1 + i as f64 * 0.015])).collect();
        let mut many = vec![0.0; xs.len()];
        opt.log_density_many(&xs, &mut many);
        for (x, m) in xs.iter().zip(&many) {
            let one = opt.log_density(x);
            assert!(one == *m || (one - m).abs() < 1e-12, "{x:?}: {one} vs {m}");
        }
        assert!(many[0] == f64::NEG_INFINITY && many[149] == f64::NEG_INFINITY && many[70].is_finite());
    });
}

#[test]
fn nearly_uniform_target_keeps_a_small_gap() {
    big_stack(|| {
        // Much mass at both bounds: in y the target is close to a logistic density, whose
        // exponential tails a Gaussian mixture only approaches (docs/algorithm.md §15.1), so
        // the ELBO keeps a gap of about 0.01 nats here; it must still never exceed log Z.
        let mut t = TruncGauss::new([0.5], [1.0], [0.0], [2.0]);
        let mut opt = Box::new(Opt::<f64, 1>::new(&config("SAMTRUX"), init(), 3).unwrap());
        opt.set_bounds(&t.bounds()).unwrap();
        opt.run(&mut t, &StopRule::iterations(300), |_| {}).unwrap();
        let log_z = t.log_z();
        let (elbo, se, is) = elbo_in_x(&opt, &mut t, 100_000);
        println!("near-uniform: log Z {log_z:.5}, ELBO {elbo:.5} ± {se:.5}, importance-sampled log Z {is:.5}");
        assert!(elbo <= log_z + 4.0 * se && log_z - elbo < 0.02, "ELBO {elbo} vs log Z {log_z}");
        assert_eq!(t.outside, 0);
    });
}

#[test]
fn truncated_gaussian_1d_one_sided_and_gradient_free() {
    big_stack(|| {
        // Lower bound, mean below it: a half-Gaussian-like target; Stein estimator.
        fit_and_check("SAMTRUX", TruncGauss::new([-0.5], [1.0], [0.0], [f64::INFINITY]), 300, 0.005);
        // Upper bound; MORE (no gradients).
        fit_and_check("ZAMTRUX", TruncGauss::new([0.0], [2.0], [f64::NEG_INFINITY], [1.0]), 300, 0.005);
    });
}

#[test]
fn truncated_gaussian_3d_mixed_bounds() {
    big_stack(|| {
        let t = TruncGauss::new(
            [0.3, -0.5, 1.0],
            [1.0, 0.7, 1.5],
            [-1.0, 0.0, f64::NEG_INFINITY],
            [1.5, f64::INFINITY, 0.5],
        );
        fit_and_check("SAMTRUX", t, 300, 0.01);
        // One unbounded coordinate among bounded ones.
        let t = TruncGauss::new(
            [0.0, 1.0, 2.0],
            [1.0, 1.0, 0.5],
            [-1.0, f64::NEG_INFINITY, 0.0],
            [1.0, f64::INFINITY, 3.0],
        );
        fit_and_check("SAMTRUX", t, 300, 0.01);
    });
}

/// Every mapped point lies strictly inside, for extreme `y`, narrow and far-away intervals.
fn extreme_maps_stay_inside<T: Real>() {
    let big = T::MAX_FINITE.to_f64();
    let ys: Vec<f64> = [0.0, 1e-30, 1.0, 10.0, 17.0, 20.0, 40.0, 89.0, 100.0, 710.0, 1e10, 1e30, big]
        .iter()
        .flat_map(|&v| [v, -v])
        .collect();
    let cases: [(f64, f64); 8] = [
        (0.0, 1.0),
        (-2.8973, 2.8973),
        (1000.0, 1000.001),
        (1e30, 2e30),
        (-1e-30, 1e-30),
        (0.0, f64::INFINITY),
        (f64::NEG_INFINITY, -3.0),
        (5.0e7, f64::INFINITY),
    ];
    for (lo, hi) in cases {
        let b = Bounds::<T, 1>::new(&[T::of(lo)], &[T::of(hi)]).unwrap();
        for &y in &ys {
            let x = b.to_constrained(&SVector::from([T::of(y)]));
            assert!(b.contains(&x), "{lo}..{hi}: y = {y} maps to {:?}", x[0]);
            assert!(x[0].finite() && b.log_jacobian(&SVector::from([T::of(y)])).finite() || y.abs() >= 1e30);
            // Back and forth: the inverse exists for every mapped point.
            assert!(b.to_unconstrained(&x).is_some(), "{lo}..{hi}: no inverse at {:?}", x[0]);
        }
    }
}

#[test]
fn extreme_unconstrained_values_map_strictly_inside_f32_and_f64() {
    extreme_maps_stay_inside::<f32>();
    extreme_maps_stay_inside::<f64>();
}

/// Many samples of a deliberately wide model (its tails reach far beyond where `σ` rounds to
/// 0 or 1) all lie strictly inside, and have a finite density.
fn wide_model_samples_stay_inside<T: Real>() {
    let mut q = Gmm::<T, 3, 16>::new();
    q.add_component(
        T::one(),
        SVector::from([T::of(30.0), T::of(-30.0), T::zero()]),
        &(SMatrix::identity() * T::of(400.0)),
    )
    .unwrap();
    let b =
        Bounds::<T, 3>::new(&[T::of(-1.0), T::zero(), T::NEG_INF], &[T::of(1.0), T::INFINITY, T::of(0.25)]).unwrap();
    let mut opt = Box::new(Optimizer::<T, 3, 16, 8192, 128, 64>::new(&config("SAMTRUX"), q, 5).unwrap());
    opt.set_bounds(&b).unwrap();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let mut xs = vec![SVector::<T, 3>::zeros(); 100_000];
    let mut on_edge_in_y = 0;
    for _ in 0..5 {
        opt.sample(&mut rng, &mut xs);
        for x in &xs {
            assert!(b.contains(x), "sample outside the bounds: {x:?}");
            if opt.log_density(x) == T::NEG_INF {
                on_edge_in_y += 1;
            }
        }
    }
    // The clamped extreme draws are inside but their density may underflow: a small share.
    assert!(on_edge_in_y < 50_000, "{on_edge_in_y}");
}

#[test]
fn samples_never_leave_the_bounds_f32_and_f64() {
    big_stack(|| {
        wide_model_samples_stay_inside::<f32>();
        wide_model_samples_stay_inside::<f64>();
        // A fitted f32 run.
        let mut t = TruncGauss::new([0.5, -0.5], [1.0, 1.0], [0.0, 0.0], [2.0, f64::INFINITY]);
        let mut opt = Box::new(Opt::<f32, 2>::new(&config("SAMTRUX"), init(), 3).unwrap());
        opt.set_bounds(&t.bounds()).unwrap();
        opt.run(&mut t, &StopRule::iterations(60), |_| {}).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut xs = vec![SVector::<f32, 2>::zeros(); 200_000];
        opt.sample(&mut rng, &mut xs);
        assert!(xs.iter().all(|x| opt.bounds().contains(x)));
        assert_eq!(t.outside, 0);
    });
}

#[test]
fn invalid_bounds_are_rejected() {
    let bad = |lo: f64, hi: f64| Bounds::<f64, 1>::new(&[lo], &[hi]).is_err();
    assert!(bad(1.0, 1.0) && bad(2.0, 1.0) && bad(f64::NAN, 1.0) && bad(0.0, f64::NAN));
    assert!(bad(f64::INFINITY, f64::INFINITY) && bad(f64::NEG_INFINITY, f64::NEG_INFINITY));
    assert!(bad(-f64::MAX, f64::MAX), "overflowing width");
    assert!(bad(1.0, 1.0f64.next_up()), "no value strictly inside");
    assert!(!bad(1.0, 1.0f64.next_up().next_up()));
    // One side open: a finite value beyond the finite bound is needed (else every mapped
    // point equals the bound).
    assert!(bad(f64::NEG_INFINITY, -f64::MAX) && bad(f64::MAX, f64::INFINITY), "nothing finite beyond");
    assert!(!bad(f64::NEG_INFINITY, -f64::MAX.next_down()) && !bad(f64::MAX.next_down(), f64::INFINITY));
    assert!(Bounds::<f32, 1>::new(&[1.0], &[1.0 + 1e-9]).is_err(), "collapses in f32");
    assert!(Bounds::<f64, 2>::new(&[0.0], &[1.0]).is_err(), "wrong length");
    assert!(Bounds::<f64, 2>::unbounded().is_unbounded());
}

/// A target with curvature and cross terms, for the chain rule.
struct Wavy;
impl Target<f64, 3> for Wavy {
    fn log_density(&mut self, x: &[SVector<f64, 3>], lp: &mut [f64]) -> Result<(), TargetError> {
        let mut g = vec![SVector::zeros(); x.len()];
        self.log_density_with_grad(x, lp, &mut g)
    }
    fn log_density_with_grad(
        &mut self,
        x: &[SVector<f64, 3>],
        lp: &mut [f64],
        grad: &mut [SVector<f64, 3>],
    ) -> Result<(), TargetError> {
        for ((v, l), g) in x.iter().zip(lp).zip(grad) {
            let (a, b, c) = (v[0], v[1], v[2]);
            *l = (2.0 * a).sin() * b - 0.5 * c * c + a * c;
            *g = SVector::from([2.0 * (2.0 * a).cos() * b + c, (2.0 * a).sin(), -c + a]);
        }
        Ok(())
    }
}

#[test]
fn gradient_through_the_bijection_matches_finite_differences() {
    let b = Bounds::<f64, 3>::new(&[-1.0, 0.5, f64::NEG_INFINITY], &[2.0, f64::INFINITY, 0.3]).unwrap();
    let mut target = Wavy;
    let mut u = Unconstrained::new(&b, &mut target);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
    let mut ys = [SVector::<f64, 3>::zeros(); 40];
    for (i, y) in ys.iter_mut().enumerate() {
        let mut e = [0.0; 3];
        gmmvi::rng::fill_standard_normal(&mut rng, &mut e);
        // Up to |y| ≈ 12: deep into the tails of σ and softplus.
        *y = SVector::from(e) * (1.0 + (i % 4) as f64);
    }
    let mut lp = [0.0; 40];
    let mut g = [SVector::zeros(); 40];
    u.log_density_with_grad(&ys, &mut lp, &mut g).unwrap();
    let mut lp_only = [0.0; 40];
    u.log_density(&ys, &mut lp_only).unwrap();
    assert_eq!(lp, lp_only, "values with and without gradients differ");
    let h = 1e-5;
    let mut worst = 0.0f64;
    for (y, gy) in ys.iter().zip(&g) {
        for d in 0..3 {
            let (mut yp, mut ym) = (*y, *y);
            yp[d] += h;
            ym[d] -= h;
            let (mut fp, mut fm) = ([0.0], [0.0]);
            u.log_density(&[yp], &mut fp).unwrap();
            u.log_density(&[ym], &mut fm).unwrap();
            let fd = (fp[0] - fm[0]) / (2.0 * h);
            let err = (fd - gy[d]).abs() / (1.0 + gy[d].abs());
            worst = worst.max(err);
            assert!(err < 1e-6, "y = {y:?}, d = {d}: analytic {} vs finite difference {fd}", gy[d]);
        }
    }
    println!("largest relative gradient error {worst:.2e}");
    // The log-Jacobian of the values: log p~(x(y)) + log|dx/dy|.
    let x = b.to_constrained(&ys[0]);
    let mut raw = [0.0];
    Wavy.log_density(&[x], &mut raw).unwrap();
    assert!((lp[0] - raw[0] - b.log_jacobian(&ys[0])).abs() < 1e-12);
}

#[test]
fn inverse_map_and_log_jacobian_agree() {
    let b = Bounds::<f64, 3>::new(&[-1.0, 0.5, f64::NEG_INFINITY], &[2.0, f64::INFINITY, 0.3]).unwrap();
    // Near saturation x keeps only the bits of its distance to the bound that survive next to
    // the bound's magnitude: the log-Jacobian recomputed from x is as accurate as that distance.
    for (y, tol) in
        [([0.0, 0.0, 0.0], 1e-12), ([-7.0, 3.0, -2.0], 1e-10), ([12.0, -15.0, 14.0], 1e-6), ([30.0, -30.0, 30.0], 1e-2)]
    {
        let y = SVector::from(y);
        let x = b.to_constrained(&y);
        let (y2, lj) = b.to_unconstrained_with_log_jacobian(&x).unwrap();
        assert!((lj - b.log_jacobian(&y)).abs() < tol * (1.0 + lj.abs()), "{y:?}: {lj} vs {}", b.log_jacobian(&y));
        // Where x is not saturated, the round trip recovers y.
        for d in 0..3 {
            if y[d].abs() < 20.0 {
                assert!((y2[d] - y[d]).abs() < tol * (1.0 + y[d].abs()), "{y:?} → {y2:?}");
            }
        }
    }
}

fn bits<T: Real, const D: usize>(q: &Gmm<T, D, 16>) -> Vec<u64> {
    let mut v: Vec<u64> = q.log_weights().iter().map(|x| x.to_f64().to_bits()).collect();
    for k in 0..q.len() {
        v.extend(q.mean(k).unwrap().iter().map(|x| x.to_f64().to_bits()));
        v.extend(q.chol(k).unwrap().iter().map(|x| x.to_f64().to_bits()));
    }
    v
}

fn mixed_target() -> TruncGauss<2> {
    TruncGauss::new([0.5, -0.5], [1.0, 1.0], [0.0, 0.0], [2.0, f64::INFINITY])
}

#[test]
fn bounded_runs_are_deterministic_and_resume_bit_identically() {
    big_stack(|| {
        fn run<T: Real>() {
            let mut t = mixed_target();
            let make = |seed| {
                let mut o = Box::new(Opt::<T, 2>::new(&config("SAMTRUX"), init(), seed).unwrap());
                o.set_bounds(&mixed_target().bounds()).unwrap();
                o
            };
            let (mut a, mut b) = (make(11), make(11));
            for _ in 0..12 {
                let (ra, rb) = (a.step(&mut t).unwrap(), b.step(&mut t).unwrap());
                assert_eq!(ra.elbo_estimate.to_f64().to_bits(), rb.elbo_estimate.to_f64().to_bits());
            }
            assert_eq!(bits(a.model()), bits(b.model()));
            // Checkpoint a bounded run into an unbounded optimiser of another seed.
            let mut bytes = vec![0u8; a.checkpoint_size()];
            a.save(&mut bytes).unwrap();
            let mut c = Box::new(Opt::<T, 2>::new(&config("SAMTRUX"), init(), 999).unwrap());
            c.restore(&bytes).unwrap();
            assert_eq!(c.bounds(), a.bounds());
            let mut again = vec![0u8; c.checkpoint_size()];
            c.save(&mut again).unwrap();
            assert!(again == bytes, "re-saved checkpoint differs");
            for _ in 0..10 {
                let (ra, rc) = (a.step(&mut t).unwrap(), c.step(&mut t).unwrap());
                assert_eq!(ra.elbo_estimate.to_f64().to_bits(), rc.elbo_estimate.to_f64().to_bits());
                assert_eq!(bits(a.model()), bits(c.model()));
            }
            let mut r1 = Xoshiro256PlusPlus::seed_from_u64(5);
            let mut r2 = Xoshiro256PlusPlus::seed_from_u64(5);
            let (mut x1, mut x2) = ([SVector::<T, 2>::zeros(); 256], [SVector::<T, 2>::zeros(); 256]);
            a.sample(&mut r1, &mut x1);
            c.sample(&mut r2, &mut x2);
            assert_eq!(x1, x2);
            assert_eq!(a.estimate_elbo(&mut t, 500).unwrap(), c.estimate_elbo(&mut t, 500).unwrap());
        }
        run::<f64>();
        run::<f32>();
    });
}

/// FNV-1a over `b`, as the checkpoint's trailing checksum.
fn reseal(b: &mut [u8]) {
    let n = b.len() - 8;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &x in &b[..n] {
        h = (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    b[n..].copy_from_slice(&h.to_le_bytes());
}

#[test]
fn version_1_checkpoints_restore_as_unbounded() {
    big_stack(|| {
        let mut t = mixed_target();
        let mut a = Box::new(Opt::<f64, 2>::new(&config("SAMTRUX"), init(), 2).unwrap());
        for _ in 0..4 {
            a.step(&mut t).unwrap();
        }
        let mut v2 = vec![0u8; a.checkpoint_size()];
        a.save(&mut v2).unwrap();
        // Version 1 is version 2 without the bounds after the configuration fingerprint
        // (magic 8, version 4, flags 4, sizes 20, fingerprint 8 bytes).
        let at = 8 + 4 + 4 + 20 + 8;
        let mut v1 = v2.clone();
        v1.drain(at..at + 2 * 2 * 8);
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        reseal(&mut v1);
        let mut b = Box::new(Opt::<f64, 2>::new(&config("SAMTRUX"), init(), 7).unwrap());
        b.set_bounds(&t.bounds()).unwrap();
        b.restore(&v1).unwrap();
        assert!(b.bounds().is_unbounded());
        let mut again = vec![0u8; b.checkpoint_size()];
        b.save(&mut again).unwrap();
        assert!(again == v2, "a version-1 checkpoint re-saves as the same state");
        // Another version is still refused, and bad bounds in a resealed blob too.
        let mut v9 = v2.clone();
        v9[8] = 9;
        reseal(&mut v9);
        assert_eq!(b.restore(&v9), Err(Error::BadCheckpoint { what: "unsupported checkpoint version" }));
        let mut nan = v2.clone();
        nan[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
        reseal(&mut nan);
        assert_eq!(b.restore(&nan), Err(Error::BadCheckpoint { what: "invalid bounds" }));
    });
}

#[test]
fn export_holds_the_mixture_and_the_bounds() {
    big_stack(|| {
        let mut t = mixed_target();
        let mut a = Box::new(Opt::<f64, 2>::new(&config("SAMTRUX"), init(), 2).unwrap());
        // Unbounded: exactly the plain mixture export.
        let mut plain = vec![0u8; a.model().export_size()];
        a.model().export(&mut plain).unwrap();
        let mut via_opt = vec![0u8; a.export_model_size()];
        assert_eq!(a.export_model(&mut via_opt).unwrap(), via_opt.len());
        assert_eq!(plain, via_opt);

        a.set_bounds(&t.bounds()).unwrap();
        a.run(&mut t, &StopRule::iterations(30), |_| {}).unwrap();
        let mut buf = vec![0u8; a.export_model_size()];
        assert_eq!(a.export_model(&mut buf).unwrap(), buf.len());
        // A plain Gmm refuses it with a clear error (it would be the unconstrained mixture).
        let refused = Gmm::<f64, 2, 16>::new().import(&buf);
        assert!(matches!(refused, Err(Error::BadCheckpoint { what }) if what.contains("bounds")), "{refused:?}");
        // On a device in f32: the mixture and the bounds; densities agree with the host.
        let (mut q, mut b) = (Gmm::<f32, 2, 16>::new(), Bounds::<f32, 2>::unbounded());
        import_model(&buf, &mut q, &mut b).unwrap();
        assert_eq!(b.lower(), &[0.0, 0.0]);
        assert_eq!(b.upper(), &[2.0, f32::INFINITY]);
        for x in [[0.3, 0.2], [1.9, 3.0], [1.0, 0.01]] {
            let host = a.log_density(&SVector::from(x));
            let dev = b.log_density(&q, &SVector::from(x.map(|v| v as f32)));
            assert!((host - dev as f64).abs() < 1e-3, "{x:?}: {host} vs {dev}");
        }
        // An optimiser takes both; a fresh one gets the bounds.
        let mut c = Box::new(Opt::<f64, 2>::new(&config("SAMTRUX"), init(), 9).unwrap());
        c.import_model(&buf).unwrap();
        assert_eq!(c.bounds(), a.bounds());
        assert_eq!(c.log_density(&SVector::from([0.4, 0.4])), a.log_density(&SVector::from([0.4, 0.4])));
        // Corrupted bounds inside a valid checksum are refused; nothing changes.
        let n = buf.len();
        let mut broken = buf.clone();
        broken[n - 8 - 32..n - 8 - 24].copy_from_slice(&5.0f64.to_le_bytes()); // lo_0 = 5 > hi_0 = 2
        reseal(&mut broken);
        let before = bits(c.model());
        assert!(c.import_model(&broken).is_err());
        assert_eq!(bits(c.model()), before);
    });
}

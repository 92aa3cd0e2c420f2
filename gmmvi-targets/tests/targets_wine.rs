//! WINE Bayesian neural-network regression (docs/targets.md §7): the §7.3 test vectors on the
//! seed-0 split, back-propagation against central finite differences, and the minibatch
//! estimator's expectation.

mod common;

use common::{assert_rel, fd_rel_error, npz_member};
use gmmvi::Target;
use gmmvi_targets::{BnnBatch, WINE_BATCH_SIZE, WINE_DIM, WINE_INPUTS, WineBnn, wine_predict};
use nalgebra::SVector;
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

type Theta = SVector<f64, WINE_DIM>;

fn load(seed: usize) -> (Vec<[f64; WINE_INPUTS]>, Vec<f64>) {
    let file = format!("wine/wine_seed_{seed}.npz");
    let x = npz_member(&file, "features_train");
    let y = npz_member(&file, "labels_train");
    assert_eq!(x.shape, vec![2938, 11]);
    assert_eq!(x.dtype, "f4");
    assert_eq!(y.shape, vec![2938]);
    assert_eq!(y.dtype, "i4");
    let feats = (0..x.shape[0]).map(|i| x.row(i).unwrap().try_into().unwrap()).collect();
    (feats, y.data)
}

fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

#[test]
fn spec_vectors_seed0_full_batch() {
    let (x, y) = load(0);
    let mean_y2 = y.iter().map(|v| v * v).sum::<f64>() / y.len() as f64;
    assert_rel("mean y²", mean_y2, 35.424778761061944, 1e-14);
    let t = WineBnn::<f64, _>::new(&x, &y, BnnBatch::Full, rng(0)).unwrap();
    assert_eq!(t.len(), 2938);
    let r0 = assert_rel("θ = 0", t.full_log_density_f64(&Theta::zeros(), None), -104077.99999999999, 1e-12);
    let th = Theta::repeat(0.1);
    let prior = t.log_prior_f64(&th);
    let total = t.full_log_density_f64(&th, None);
    let r1 = assert_rel("prior", prior, -0.885, 1e-12);
    let r2 = assert_rel("likelihood", total - prior, -84364.06518187837, 1e-10);
    let r3 = assert_rel("total", total, -84364.95018187836, 1e-10);
    let r4 = assert_rel("f(x_0)", wine_predict(&th, &x[0]), 0.6183864810018633, 1e-12);
    eprintln!("WINE: θ=0 rel {r0:e}; θ=0.1: prior {r1:e}, likelihood {r2:e}, total {r3:e}, f(x_0) {r4:e}");

    // Through the batched trait with the full batch.
    let mut t = t;
    let xs = [Theta::zeros(), th];
    let (mut lp, mut g) = ([0.0; 2], [Theta::zeros(); 2]);
    t.log_density_with_grad(&xs, &mut lp, &mut g).unwrap();
    assert_eq!(lp[1], total);
    let mut lp2 = [0.0; 2];
    t.log_density(&xs, &mut lp2).unwrap();
    assert_eq!(lp, lp2);
}

fn random_theta(seed: u64, scale: f64) -> Theta {
    let mut r = rng(seed);
    let mut th = Theta::zeros();
    gmmvi::rng::fill_standard_normal(&mut r, th.as_mut_slice());
    th * scale
}

#[test]
fn backprop_matches_finite_differences() {
    let (x, y) = load(0);
    let t = WineBnn::<f64, _>::new(&x, &y, BnnBatch::Full, rng(0)).unwrap();
    let batch: Vec<u32> = (0..WINE_BATCH_SIZE as u32).map(|i| (i * 23 + 5) % 2938).collect();
    for (k, th) in [Theta::repeat(0.1), random_theta(1, 0.5), random_theta(2, 1.5)].iter().enumerate() {
        let mut g = Theta::zeros();
        t.full_log_density_f64(th, Some(&mut g));
        let mut f = |p: &[f64]| t.full_log_density_f64(&Theta::from_column_slice(p), None);
        let e = fd_rel_error(&mut f, th.as_slice(), g.as_slice(), 1e-5);
        assert!(e < 1e-6, "full batch, point {k}: finite-difference error {e:e}");

        let mut g = Theta::zeros();
        t.rows_log_density_f64(th, &batch, Some(&mut g));
        let mut f = |p: &[f64]| t.rows_log_density_f64(&Theta::from_column_slice(p), &batch, None);
        let e = fd_rel_error(&mut f, th.as_slice(), g.as_slice(), 1e-5);
        assert!(e < 1e-6, "minibatch, point {k}: finite-difference error {e:e}");
    }
    // Through the trait with identically seeded random batches (same rows for ±h).
    let th = random_theta(3, 0.5);
    let eval = |p: &Theta, grad: bool| {
        let mut t = WineBnn::<f64, _>::new(&x, &y, BnnBatch::Random { size: WINE_BATCH_SIZE }, rng(42)).unwrap();
        let (mut lp, mut g) = ([0.0; 1], [Theta::zeros(); 1]);
        if grad {
            t.log_density_with_grad(&[*p], &mut lp, &mut g).unwrap();
        } else {
            t.log_density(&[*p], &mut lp).unwrap();
        }
        (lp[0], g[0])
    };
    let (v, g) = eval(&th, true);
    assert_eq!(v, eval(&th, false).0, "value-only and gradient calls use the same rows");
    let mut f = |p: &[f64]| eval(&Theta::from_column_slice(p), false).0;
    let e = fd_rel_error(&mut f, th.as_slice(), g.as_slice(), 1e-5);
    assert!(e < 1e-6, "trait minibatch finite-difference error {e:e}");
}

#[test]
fn random_batches_are_unbiased_and_fresh_per_point() {
    let (x, y) = load(3);
    let th = random_theta(7, 0.3);
    let full = WineBnn::<f64, _>::new(&x, &y, BnnBatch::Full, rng(0)).unwrap().full_log_density_f64(&th, None);
    let mut t = WineBnn::<f64, _>::new(&x, &y, BnnBatch::Random { size: WINE_BATCH_SIZE }, rng(5)).unwrap();
    let xs = vec![th; 64];
    let mut vals = Vec::new();
    for _ in 0..40 {
        let mut lp = vec![0.0; 64];
        t.log_density(&xs, &mut lp).unwrap();
        assert!(lp.windows(2).any(|w| w[0] != w[1]), "each point draws its own batch");
        vals.extend(lp);
    }
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    assert!((mean - full).abs() < 4.0 * sd / n.sqrt(), "mean {mean} vs full {full} (sd {sd})");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let (x, y) = load(0);
    assert!(WineBnn::<f64, _>::new(&x, &y[..10], BnnBatch::Full, rng(0)).is_err());
    assert!(WineBnn::<f64, _>::new(&x, &y, BnnBatch::Random { size: 0 }, rng(0)).is_err());
    assert!(WineBnn::<f64, _>::new(&x[..0], &y[..0], BnnBatch::Full, rng(0)).is_err());
    let mut t = WineBnn::<f64, _>::new(&x, &y, BnnBatch::Full, rng(0)).unwrap();
    assert!(t.set_scaling(0.0, 1.0).is_err());
    assert!(t.rows_log_density_f64(&Theta::zeros(), &[5000], None).is_nan());
    assert!(t.rows_log_density_f64(&Theta::zeros(), &[], None).is_nan());
    let mut lp = [0.0; 1];
    assert!(t.log_density(&[Theta::zeros(); 2], &mut lp).is_err());
    let mut nan = Theta::zeros();
    nan[100] = f64::NAN;
    assert!(t.full_log_density_f64(&nan, None).is_nan());
}

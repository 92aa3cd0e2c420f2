//! BreastCancer / GermanCredit logistic regression (docs/targets.md §5) and their minibatch
//! variants (§6): data parsing and preprocessing, the §5.3 test vectors, the shipped
//! ground-truth log densities, an independent straightforward implementation on random
//! inputs, and central finite-difference gradients.

mod common;

use common::{assert_rel, fd_rel_error, npy_file, npz_member, read_text, rel};
use gmmvi::Target;
use gmmvi_targets::{
    BREAST_CANCER_DIM, BREAST_CANCER_ROWS, GERMAN_CREDIT_DIM, GERMAN_CREDIT_ROWS, LOGREG_BATCH_SIZE,
    LogisticRegression, LogisticRegressionMinibatch, parse_breast_cancer, parse_german_credit, preprocess_features,
};
use nalgebra::SVector;
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const BC: usize = BREAST_CANCER_DIM;
const GC: usize = GERMAN_CREDIT_DIM;

/// Raw features (row-major) and labels of a data file.
struct Raw {
    features: Vec<f64>,
    labels: Vec<u8>,
}

fn raw_bc() -> Raw {
    let text = read_text("breast_cancer.data");
    let mut features = vec![0.0; BREAST_CANCER_ROWS * (BC - 1)];
    let mut labels = vec![0u8; BREAST_CANCER_ROWS];
    assert_eq!(parse_breast_cancer(&text, &mut features, &mut labels), Ok(BREAST_CANCER_ROWS));
    Raw { features, labels }
}

fn raw_gc() -> Raw {
    let text = read_text("german.data-numeric");
    let mut features = vec![0.0; GERMAN_CREDIT_ROWS * (GC - 1)];
    let mut labels = vec![0u8; GERMAN_CREDIT_ROWS];
    assert_eq!(parse_german_credit(&text, &mut features, &mut labels), Ok(GERMAN_CREDIT_ROWS));
    Raw { features, labels }
}

fn rows<const D: usize>(raw: &Raw) -> Vec<SVector<f64, D>> {
    let mut rows = vec![SVector::<f64, D>::zeros(); raw.labels.len()];
    preprocess_features(&raw.features, &mut rows).unwrap();
    rows
}

/// Smallest population standard deviation of the raw feature columns.
fn min_col_std(raw: &Raw, f: usize) -> f64 {
    let n = raw.labels.len() as f64;
    (0..f)
        .map(|c| {
            let col: Vec<f64> = raw.features.chunks(f).map(|r| r[c]).collect();
            let m = col.iter().sum::<f64>() / n;
            (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n).sqrt()
        })
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn data_files_parse_as_the_spec_describes() {
    let bc = raw_bc();
    assert_eq!(bc.labels.iter().filter(|&&y| y == 0).count(), 212);
    assert_eq!(bc.labels.iter().filter(|&&y| y == 1).count(), 357);
    assert!((min_col_std(&bc, BC - 1) - 0.00264).abs() < 5e-6);
    let gc = raw_gc();
    assert_eq!(gc.labels.iter().filter(|&&y| y == 0).count(), 700);
    assert_eq!(gc.labels.iter().filter(|&&y| y == 1).count(), 300);
    assert!((min_col_std(&gc, GC - 1) - 0.1467).abs() < 5e-5);
    // Preprocessing: bias column of ones, unit population std per feature column.
    let r = rows::<BC>(&bc);
    assert!(r.iter().all(|x| x[0] == 1.0));
    for c in 1..BC {
        let n = r.len() as f64;
        let m = r.iter().map(|x| x[c]).sum::<f64>() / n;
        let s = (r.iter().map(|x| (x[c] - m).powi(2)).sum::<f64>() / n).sqrt();
        assert!((s - 1.0).abs() < 1e-12, "column {c} std {s}");
    }
}

/// §5.3 table: `log p~(0)`, `log p~(0.1·1)` and the first three gradient entries at 0.1·1.
fn check_vectors<const D: usize>(name: &str, t: &LogisticRegression<'_, f64, D>, want: [f64; 5]) {
    let r0 = assert_rel("log p~(0)", t.log_density_f64(&SVector::zeros(), None), want[0], 1e-10);
    let th = SVector::<f64, D>::repeat(0.1);
    let mut g = SVector::zeros();
    let r1 = assert_rel("log p~(0.1)", t.log_density_f64(&th, Some(&mut g)), want[1], 1e-10);
    let mut rg: f64 = 0.0;
    for k in 0..3 {
        rg = rg.max(assert_rel("grad(0.1)", g[k], want[2 + k], 1e-10));
    }
    eprintln!("{name}: log p~(0) rel {r0:e}, log p~(0.1·1) rel {r1:e}, grad rel ≤ {rg:e}");
    // The batched trait gives the same numbers.
    let mut tt = *t;
    let x = [SVector::zeros(), th];
    let (mut lp, mut gr) = ([0.0; 2], [SVector::zeros(); 2]);
    tt.log_density_with_grad(&x, &mut lp, &mut gr).unwrap();
    assert_eq!(lp[1], t.log_density_f64(&th, None));
    assert_eq!(gr[1], g);
    let mut lp2 = [0.0; 2];
    tt.log_density(&x, &mut lp2).unwrap();
    assert_eq!(lp, lp2);
}

#[test]
fn breast_cancer_spec_vectors() {
    let raw = raw_bc();
    let r = rows::<BC>(&raw);
    let t = LogisticRegression::<f64, BC>::new(&r, &raw.labels).unwrap();
    assert_eq!(t.len(), 569);
    check_vectors(
        "BreastCancer",
        &t,
        [-494.267978150769, -2952.567877186832, -356.815487192424, -1230.927336119732, -1487.543298044569],
    );
}

#[test]
fn german_credit_spec_vectors() {
    let raw = raw_gc();
    let r = rows::<GC>(&raw);
    let t = LogisticRegression::<f64, GC>::new(&r, &raw.labels).unwrap();
    assert_eq!(t.len(), 1000);
    check_vectors(
        "GermanCredit",
        &t,
        [-773.685271214913, -1555.11977204896, -292.448704586193, -440.012510715267, -606.823674303697],
    );
}

/// The shipped ground-truth samples' stored log densities agree with §5.2 and their mean is
/// the one §5.3 states; returns the samples.
fn check_ground_truth<const D: usize>(
    name: &str,
    t: &LogisticRegression<'_, f64, D>,
    samples: &gmmvi_targets::data::Npy,
    lns: &[f64],
    mean_want: f64,
) {
    assert_eq!(samples.shape, vec![lns.len(), D]);
    let (mut worst, mut sum) = (0.0f64, 0.0);
    for (i, &l) in lns.iter().enumerate() {
        let v = t.log_density_f64(&SVector::from_column_slice(samples.row(i).unwrap()), None);
        worst = worst.max(rel(v, l));
        sum += v;
    }
    let mean = sum / lns.len() as f64;
    eprintln!("{name}: {} ground-truth samples, worst rel vs stored lns {worst:e}, mean log p~ {mean}", lns.len());
    assert!(worst < 1e-10, "{name}: stored log densities differ by {worst:e}");
    assert!((mean - mean_want).abs() < 5e-5, "{name}: mean {mean} vs {mean_want}");
}

#[test]
fn breast_cancer_ground_truth_log_densities() {
    let raw = raw_bc();
    let r = rows::<BC>(&raw);
    let t = LogisticRegression::<f64, BC>::new(&r, &raw.labels).unwrap();
    let gt = npz_member("groundtruth/breastcancer_gt_with_lns_10k.npz", "groundtruth");
    let lns = npz_member("groundtruth/breastcancer_gt_with_lns_10k.npz", "groundtruth_lns");
    check_ground_truth("BreastCancer", &t, &gt, &lns.data, -139.2468);
}

#[test]
fn german_credit_ground_truth_log_densities() {
    let raw = raw_gc();
    let r = rows::<GC>(&raw);
    let t = LogisticRegression::<f64, GC>::new(&r, &raw.labels).unwrap();
    let gt = npy_file("groundtruth/german_credit10k.npy");
    let lns = npy_file("groundtruth/german_credit10k_lns.npy");
    check_ground_truth("GermanCredit", &t, &gt, &lns.data, -560.9867);
}

/// Straightforward logistic regression, written from the model's definition: probability
/// `P(y = 1 | x) = 1/(1 + exp(θ·x))` (the reference's sign convention), Bernoulli
/// log-likelihood, Gaussian prior `N(0, 10²)` per coordinate with its constant, and the
/// gradient by the chain rule on each term.
fn naive<const D: usize>(rows: &[SVector<f64, D>], y: &[u8], th: &SVector<f64, D>) -> (f64, SVector<f64, D>) {
    let mut lp = 0.0;
    let mut g = SVector::<f64, D>::zeros();
    for (x, &yi) in rows.iter().zip(y) {
        let mut z = 0.0;
        for d in 0..D {
            z += th[d] * x[d];
        }
        let p1 = 1.0 / (1.0 + z.exp());
        if yi == 1 {
            lp += p1.ln();
            // d/dθ ln(1/(1 + e^z)) = −e^z/(1 + e^z) x = −(1 − p1) x
            g -= x * (1.0 - p1);
        } else {
            lp += (1.0 - p1).ln();
            // d/dθ ln(e^z/(1 + e^z)) = (1 − e^z/(1 + e^z)) x = p1 x
            g += x * p1;
        }
    }
    for d in 0..D {
        lp += -0.5 * (th[d] / 10.0).powi(2) - 10f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        g[d] -= th[d] / 100.0;
    }
    (lp, g)
}

fn compare_naive<const D: usize>(rows: &[SVector<f64, D>], y: &[u8], rng: &mut Xoshiro256PlusPlus, scale: f64) {
    let t = LogisticRegression::<f64, D>::new(rows, y).unwrap();
    for _ in 0..20 {
        let mut th = SVector::<f64, D>::zeros();
        gmmvi::rng::fill_standard_normal(rng, th.as_mut_slice());
        th *= scale;
        let (want, want_g) = naive(rows, y, &th);
        let mut g = SVector::zeros();
        assert_rel("value vs naive", t.log_density_f64(&th, Some(&mut g)), want, 1e-10);
        assert!((g - want_g).norm() <= 1e-10 * want_g.norm().max(1.0), "gradient vs naive");
    }
}

#[test]
fn logistic_regression_matches_naive_implementation_on_random_inputs() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2024);
    // Random data sets of a few sizes.
    for n in [1usize, 7, 50, 300] {
        let mut raw = vec![0.0; n * 5];
        gmmvi::rng::fill_standard_normal(&mut rng, &mut raw);
        let rows: Vec<SVector<f64, 6>> =
            raw.chunks(5).map(|r| SVector::from_iterator(std::iter::once(1.0).chain(r.iter().copied()))).collect();
        let y: Vec<u8> = (0..n).map(|_| (rng.next_u32() & 1) as u8).collect();
        compare_naive(&rows, &y, &mut rng, 1.5);
    }
    // The real data at random parameters.
    let raw = raw_bc();
    compare_naive(&rows::<BC>(&raw), &raw.labels, &mut rng, 0.05);
    let raw = raw_gc();
    compare_naive(&rows::<GC>(&raw), &raw.labels, &mut rng, 0.05);
}

fn fd_check<const D: usize>(t: &LogisticRegression<'_, f64, D>, pts: &[SVector<f64, D>]) {
    for th in pts {
        let mut g = SVector::zeros();
        t.log_density_f64(th, Some(&mut g));
        let mut f = |p: &[f64]| t.log_density_f64(&SVector::from_column_slice(p), None);
        let e = fd_rel_error(&mut f, th.as_slice(), g.as_slice(), 1e-5);
        assert!(e < 1e-6, "finite-difference error {e:e}");
    }
}

#[test]
fn full_batch_gradients_match_finite_differences() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let raw = raw_bc();
    let r = rows::<BC>(&raw);
    let t = LogisticRegression::<f64, BC>::new(&r, &raw.labels).unwrap();
    let gt = npz_member("groundtruth/breastcancer_gt_with_lns_10k.npz", "groundtruth");
    let mut pts = vec![SVector::zeros(), SVector::repeat(0.1), SVector::from_column_slice(gt.row(17).unwrap())];
    let mut th = SVector::<f64, BC>::zeros();
    gmmvi::rng::fill_standard_normal(&mut rng, th.as_mut_slice());
    pts.push(th);
    fd_check(&t, &pts);

    let raw = raw_gc();
    let r = rows::<GC>(&raw);
    let t = LogisticRegression::<f64, GC>::new(&r, &raw.labels).unwrap();
    let gt = npy_file("groundtruth/german_credit10k.npy");
    let mut pts = vec![SVector::zeros(), SVector::repeat(0.1), SVector::from_column_slice(gt.row(17).unwrap())];
    let mut th = SVector::<f64, GC>::zeros();
    gmmvi::rng::fill_standard_normal(&mut rng, th.as_mut_slice());
    pts.push(th);
    fd_check(&t, &pts);
}

#[test]
fn constructor_rejects_bad_data() {
    let r = [SVector::<f64, 2>::new(1.0, 0.5); 3];
    assert!(LogisticRegression::<f64, 2>::new(&r, &[0, 1]).is_err());
    assert!(LogisticRegression::<f64, 2>::new(&r, &[0, 1, 2]).is_err());
    assert!(LogisticRegression::<f64, 2>::new(&[], &[]).is_err());
    let bad = [SVector::<f64, 2>::new(1.0, f64::NAN); 3];
    assert!(LogisticRegression::<f64, 2>::new(&bad, &[0, 1, 0]).is_err());
    let mut t = LogisticRegression::<f64, 2>::new(&r, &[0, 1, 0]).unwrap();
    assert!(t.set_prior_std(0.0).is_err());
    let mut perm = [0u32; 2];
    assert!(LogisticRegressionMinibatch::new(t, &mut perm, 1, true, Xoshiro256PlusPlus::seed_from_u64(0)).is_err());
    let mut perm = [0u32; 3];
    assert!(LogisticRegressionMinibatch::new(t, &mut perm, 4, true, Xoshiro256PlusPlus::seed_from_u64(0)).is_err());
    // A NaN parameter gives a NaN value, not a panic.
    assert!(t.log_density_f64(&SVector::<f64, 2>::new(f64::NAN, 0.0), None).is_nan());
    let (x, mut lp) = ([SVector::<f64, 2>::zeros(); 2], [0.0; 1]);
    assert!(t.log_density(&x, &mut lp).is_err());
}

// ---------------------------------------------------------------------------------------
// Minibatch variants (§6).

/// Evaluates one block of `m` copies of `θ` with a fresh minibatch target; returns values and
/// gradients.
fn mb_block<const D: usize>(
    full: LogisticRegression<'_, f64, D>,
    batch: usize,
    own: bool,
    seed: u64,
    th: &SVector<f64, D>,
    m: usize,
) -> (Vec<f64>, Vec<SVector<f64, D>>) {
    let mut perm = vec![0u32; full.len()];
    let mut t =
        LogisticRegressionMinibatch::new(full, &mut perm, batch, own, Xoshiro256PlusPlus::seed_from_u64(seed)).unwrap();
    let x = vec![*th; m];
    let (mut lp, mut g) = (vec![0.0; m], vec![SVector::zeros(); m]);
    t.log_density_with_grad(&x, &mut lp, &mut g).unwrap();
    let mut lp2 = vec![0.0; m];
    let mut t2 =
        LogisticRegressionMinibatch::new(full, &mut perm, batch, own, Xoshiro256PlusPlus::seed_from_u64(seed)).unwrap();
    t2.log_density(&x, &mut lp2).unwrap();
    assert_eq!(lp, lp2, "value-only and value-and-gradient calls use the same batches");
    (lp, g)
}

/// Window rule: `N / B` distinct windows, then the walk wraps to the first window.
fn check_windows<const D: usize>(full: LogisticRegression<'_, f64, D>, th: &SVector<f64, D>) {
    let (n, b) = (full.len(), LOGREG_BATCH_SIZE);
    let windows = n / b; // BC: 8 (starts 0..448), GC: 15 (starts 0..896)
    let (lp, g) = mb_block(full, b, true, 11, th, windows + 3);
    for i in 0..windows {
        for j in 0..i {
            assert_ne!(lp[i], lp[j], "windows {i} and {j} differ");
        }
    }
    for k in 0..3 {
        assert_eq!(lp[windows + k], lp[k], "window {} wraps to {k}", windows + k);
        assert_eq!(g[windows + k], g[k]);
    }
    // All points share the first window without own batches.
    let (lp, _) = mb_block(full, b, false, 11, th, 5);
    assert!(lp.iter().all(|&v| v == lp[0]));
    // With B = N every window is all rows: the full-batch value.
    let (lp, g) = mb_block(full, n, true, 3, th, 2);
    let mut gf = SVector::zeros();
    assert_rel("B = N is full batch", lp[1], full.log_density_f64(th, Some(&mut gf)), 1e-12);
    assert!((g[1] - gf).norm() <= 1e-12 * gf.norm());
}

/// The minibatch estimator is unbiased: the mean over many calls is the full-batch value
/// within four standard errors.
fn check_unbiased<const D: usize>(full: LogisticRegression<'_, f64, D>, th: &SVector<f64, D>) {
    let mut perm = vec![0u32; full.len()];
    let mut t = LogisticRegressionMinibatch::new(
        full,
        &mut perm,
        LOGREG_BATCH_SIZE,
        true,
        Xoshiro256PlusPlus::seed_from_u64(9),
    )
    .unwrap();
    let x = vec![*th; 1];
    let mut vals = Vec::new();
    for _ in 0..4000 {
        let mut lp = [0.0];
        t.log_density(&x, &mut lp).unwrap();
        vals.push(lp[0]);
    }
    let n = vals.len() as f64;
    let mean = vals.iter().sum::<f64>() / n;
    let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let want = full.log_density_f64(th, None);
    assert!((mean - want).abs() < 4.0 * sd / n.sqrt(), "mean {mean} vs {want} (sd {sd})");
}

/// Central differences on one fixed batch, and through the trait with identically seeded
/// targets (so both evaluations see the same permutation).
fn check_mb_gradients<const D: usize>(full: LogisticRegression<'_, f64, D>, th: &SVector<f64, D>) {
    let mut perm = vec![0u32; full.len()];
    let t = LogisticRegressionMinibatch::new(
        full,
        &mut perm,
        LOGREG_BATCH_SIZE,
        true,
        Xoshiro256PlusPlus::seed_from_u64(1),
    )
    .unwrap();
    let batch: Vec<u32> = (0..LOGREG_BATCH_SIZE as u32).map(|i| (i * 7 + 3) % full.len() as u32).collect();
    let mut g = SVector::zeros();
    t.minibatch_log_density_f64(th, &batch, Some(&mut g));
    let mut f = |p: &[f64]| t.minibatch_log_density_f64(&SVector::from_column_slice(p), &batch, None);
    let e = fd_rel_error(&mut f, th.as_slice(), g.as_slice(), 1e-5);
    assert!(e < 1e-6, "minibatch finite-difference error {e:e}");

    let (_, g) = mb_block(full, LOGREG_BATCH_SIZE, true, 77, th, 2);
    let mut f = |p: &[f64]| mb_block(full, LOGREG_BATCH_SIZE, true, 77, &SVector::from_column_slice(p), 2).0[1];
    let e = fd_rel_error(&mut f, th.as_slice(), g[1].as_slice(), 1e-5);
    assert!(e < 1e-6, "minibatch (trait) finite-difference error {e:e}");
}

#[test]
fn breast_cancer_minibatch() {
    let raw = raw_bc();
    let r = rows::<BC>(&raw);
    let full = LogisticRegression::<f64, BC>::new(&r, &raw.labels).unwrap();
    let gt = npz_member("groundtruth/breastcancer_gt_with_lns_10k.npz", "groundtruth");
    let th = SVector::from_column_slice(gt.row(3).unwrap());
    check_windows(full, &th);
    check_unbiased(full, &th);
    check_mb_gradients(full, &th);
}

#[test]
fn german_credit_minibatch() {
    let raw = raw_gc();
    let r = rows::<GC>(&raw);
    let full = LogisticRegression::<f64, GC>::new(&r, &raw.labels).unwrap();
    let gt = npy_file("groundtruth/german_credit10k.npy");
    let th = SVector::from_column_slice(gt.row(3).unwrap());
    check_windows(full, &th);
    check_unbiased(full, &th);
    check_mb_gradients(full, &th);
}

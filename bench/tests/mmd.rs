//! The MMD of docs/targets.md §9 against closed forms: identical sets give 0, and for shifted
//! Gaussians the V-statistic's expectation is known analytically for the RBF kernel.

use gmmvi_bench::mmd::{Mmd, median_bandwidth, mmd_with_scale};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

fn normals(rng: &mut Xoshiro256PlusPlus, n: usize, d: usize, shift: &[f64], sigma: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let mut z = vec![0.0f64; d];
            gmmvi::rng::fill_standard_normal(rng, &mut z);
            z.iter().zip(shift).map(|(z, m)| m + sigma * z).collect()
        })
        .collect()
}

#[test]
fn identical_sets_give_zero() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let a = normals(&mut rng, 300, 3, &[0.0; 3], 1.0);
    let m = mmd_with_scale(&a, &a, &[1.0, 2.0, 3.0]);
    assert!(m.abs() < 1e-12, "{m}");
    let mmd = Mmd::new(a.clone(), 20.0).unwrap();
    assert!(mmd.eval(&a).abs() < 1e-12);
    // Dimension mismatch and empty sets are NaN, not a panic.
    assert!(mmd.eval(&[vec![0.0; 2]]).is_nan());
    assert!(mmd.eval(&[]).is_nan());
    assert!(Mmd::new(Vec::new(), 1.0).is_err());
}

/// `G ~ N(0, σ²I)`, `S ~ N(δ, σ²I)`, kernel `exp(−‖a − b‖²/h)`: with `c = (1 + 4σ²/h)^{−D/2}`,
/// `E[V] = 1/n₁ + (1 − 1/n₁)c + 1/n₂ + (1 − 1/n₂)c − 2c·exp(−‖δ‖²/(h + 4σ²))`.
#[test]
fn shifted_gaussians_match_the_closed_form() {
    let (d, n1, n2, sigma, h) = (4usize, 3000usize, 2000usize, 0.7f64, 2.5f64);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    const REPS: usize = 6;
    for shift in [0.0, 0.5, 1.5] {
        let delta = vec![shift; d];
        // The mean of a few replicates: one estimate's sampling error is about 0.01 here.
        let got = (0..REPS)
            .map(|_| {
                let g = normals(&mut rng, n1, d, &[0.0; 4], sigma);
                let s = normals(&mut rng, n2, d, &delta, sigma);
                mmd_with_scale(&g, &s, &vec![h; d])
            })
            .sum::<f64>()
            / REPS as f64;
        let c = (1.0 + 4.0 * sigma * sigma / h).powf(-(d as f64) / 2.0);
        let (a, b) = (n1 as f64, n2 as f64);
        let dist2 = shift * shift * d as f64;
        let want = 1.0 / a + (1.0 - 1.0 / a) * c + 1.0 / b + (1.0 - 1.0 / b) * c
            - 2.0 * c * (-dist2 / (h + 4.0 * sigma * sigma)).exp();
        let tol = if shift == 0.0 { 2e-4 } else { 0.03 * want };
        assert!((got - want).abs() < tol, "shift {shift}: {got} vs {want}");
    }
}

/// The bandwidth is the nearest-rank median over pairs i ≤ j of the first 1000 rows.
#[test]
fn median_bandwidth_rule() {
    // Rows 0, 1, 2, 3 in one coordinate: squared differences over i ≤ j are
    // 0 ×4, 1 ×3, 4 ×2, 9 ×1 (10 values); the 5th smallest is 1.
    let rows: Vec<Vec<f64>> = (0..4).map(|i| vec![i as f64, 2.0 * i as f64]).collect();
    assert_eq!(median_bandwidth(&rows), vec![1.0, 4.0]);
    // Only the first 1000 rows count.
    let mut many: Vec<Vec<f64>> = (0..1000).map(|i| vec![(i % 2) as f64]).collect();
    many.extend((0..500).map(|_| vec![1e6]));
    let s = median_bandwidth(&many);
    // 1000 rows of alternating 0/1: of the 500 500 pairs i ≤ j, 250 500 have difference 0
    // (same parity, i = j included), so the 250 250-th smallest is 0; the 1e6 rows are ignored.
    assert_eq!(s, vec![0.0]);
    many.truncate(1001);
    many.extend((0..999).map(|_| vec![1e6]));
    assert!(Mmd::new(many.drain(..1000).collect(), 1.0).is_err(), "zero bandwidth is rejected");
    // The kernel of `Mmd` uses α·s.
    let mmd = Mmd::new(rows, 6.0).unwrap();
    assert_eq!(mmd.scale(), &[6.0, 24.0]);
}

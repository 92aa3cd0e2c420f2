//! STM20/STM300 mixtures of Student-t distributions (docs/targets.md §3): the §3.2 check value,
//! closed forms, the NumPy-stream scale matrices, and central finite-difference gradients.

mod common;

use common::{assert_rel, big_stack, fd_rel_error};
use gmmvi::Target;
use gmmvi_targets::{NumpyRandomState, STM_DOF, STM20_HALF_WIDTH, STM300_HALF_WIDTH, Stm20, Stm300, StudentTMixture};
use libm::lgamma;
use nalgebra::{Matrix2, SMatrix, SVector, Vector2};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

#[test]
fn spec_check_value_2d() {
    let t = StudentTMixture::<f64, 2, 1>::new(&[1.0], 2.0, &[Vector2::zeros()], &[Matrix2::identity()]).unwrap();
    let r = assert_rel("log t(1, 0)", t.log_density_f64(&Vector2::new(1.0, 0.0), None), -2.648807282626, 1e-11);
    eprintln!("STM check value: relative error {r:e}");
}

/// Multivariate t density written out with an explicit inverse and determinant.
fn naive_t<const D: usize>(x: &SVector<f64, D>, nu: f64, mu: &SVector<f64, D>, s: &SMatrix<f64, D, D>) -> f64 {
    let d = D as f64;
    let z = x - mu;
    let delta = (z.transpose() * s.try_inverse().unwrap() * z)[0];
    let l = nalgebra::Cholesky::new(*s).unwrap().unpack();
    let log_det: f64 = (0..D).map(|j| 2.0 * l[(j, j)].ln()).sum();
    lgamma((nu + d) / 2.0)
        - lgamma(nu / 2.0)
        - d / 2.0 * (nu * std::f64::consts::PI).ln()
        - 0.5 * log_det
        - (nu + d) / 2.0 * (1.0 + delta / nu).ln()
}

#[test]
fn mixture_matches_naive_formula() {
    let w = [0.2, 0.5, 0.3];
    let mu = [Vector2::new(0.0, 0.0), Vector2::new(3.0, -1.0), Vector2::new(-2.0, 4.0)];
    let s = [Matrix2::new(1.0, 0.3, 0.3, 0.5), Matrix2::new(2.0, -0.4, -0.4, 1.0), Matrix2::new(0.3, 0.0, 0.0, 3.0)];
    for nu in [1.0, 2.0, 3.5, 30.0] {
        let t = StudentTMixture::<f64, 2, 3>::new(&w, nu, &mu, &s).unwrap();
        for p in [[0.0, 0.0], [1.0, 2.0], [-5.0, 3.0], [40.0, -70.0], [3.0, -1.0]] {
            let x = Vector2::from(p);
            let want: f64 = (0..3).map(|i| w[i] * naive_t(&x, nu, &mu[i], &s[i]).exp()).sum::<f64>().ln();
            assert_rel("mixture vs naive", t.log_density_f64(&x, None), want, 1e-12);
        }
    }
    // One dimension, ν = 2: p(x) = (1/(2√2)) (1 + x²/2)^{−3/2} for unit scale.
    let t = StudentTMixture::<f64, 1, 1>::new(&[1.0], 2.0, &[SVector::zeros()], &[SMatrix::identity()]).unwrap();
    for x in [0.0f64, 0.7, -3.0, 100.0] {
        let want = (1.0 / (2.0 * 2f64.sqrt())) * (1.0 + x * x / 2.0).powf(-1.5);
        assert_rel("1-D t", t.log_density_f64(&SVector::from([x]), None), want.ln(), 1e-13);
    }
}

#[test]
fn benchmark_uses_numpy_stream_for_scale_matrices() {
    let seed = 10000;
    let t = Stm20::<f64>::benchmark(STM20_HALF_WIDTH, seed).unwrap();
    assert_eq!(t.dof(), STM_DOF);
    for lw in t.log_weights() {
        assert!((lw + 10f64.ln()).abs() < 1e-15);
    }
    for m in t.locations() {
        assert!(m.iter().all(|&v| (-20.0..20.0).contains(&v)));
    }
    // Independently: B_i = 0.1·D·normal(0, 1, D·D) row-major, P_i = BᵀB + I, for i in order.
    let mut rs = NumpyRandomState::new(seed);
    for (i, r) in t.precision_chol_factors().iter().enumerate() {
        let mut b = SMatrix::<f64, 20, 20>::zeros();
        for row in 0..20 {
            for col in 0..20 {
                b[(row, col)] = rs.normal(0.0, 1.0) * 2.0;
            }
        }
        let p = b.transpose() * b + SMatrix::<f64, 20, 20>::identity();
        let rrt = r * r.transpose();
        assert!((rrt - p).norm() <= 1e-12 * p.norm(), "component {i}: P = R Rᵀ");
        // Scale matrix Σ = P⁻¹ gives the same density as the naive formula.
        let sigma = p.try_inverse().unwrap();
        let x = t.locations()[i] + SVector::repeat(0.3);
        let want: f64 = naive_t(&x, 2.0, &t.locations()[i], &sigma) - 10f64.ln();
        let all: Vec<f64> = (0..10)
            .map(|k| {
                let pk = {
                    let rk = t.precision_chol_factors()[k];
                    rk * rk.transpose()
                };
                naive_t(&x, 2.0, &t.locations()[k], &pk.try_inverse().unwrap()) - 10f64.ln()
            })
            .collect();
        let m = all.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + all.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        assert!(want <= lse + 1e-12);
        assert_rel("STM20 vs naive", t.log_density_f64(&x, None), lse, 1e-10);
    }
    // Same seed, same instance; a different seed, a different one.
    let t2 = Stm20::<f64>::benchmark(STM20_HALF_WIDTH, seed).unwrap();
    assert_eq!(t.locations(), t2.locations());
    assert_eq!(t.precision_chol_factors(), t2.precision_chol_factors());
    let t3 = Stm20::<f64>::benchmark(STM20_HALF_WIDTH, seed + 1).unwrap();
    assert_ne!(t.locations(), t3.locations());
}

fn fd_check<const D: usize, const M: usize>(t: &StudentTMixture<f64, D, M>, pts: &[SVector<f64, D>]) {
    for x in pts {
        let mut g = SVector::<f64, D>::zeros();
        t.log_density_f64(x, Some(&mut g));
        let mut f = |p: &[f64]| t.log_density_f64(&SVector::from_column_slice(p), None);
        let e = fd_rel_error(&mut f, x.as_slice(), g.as_slice(), 1e-5);
        assert!(e < 1e-6, "STM{D} finite-difference error {e:e}");
    }
}

fn random_points<const D: usize>(seed: u64, around: &SVector<f64, D>, scale: f64, n: usize) -> Vec<SVector<f64, D>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let mut x = SVector::<f64, D>::zeros();
            gmmvi::rng::fill_standard_normal(&mut rng, x.as_mut_slice());
            around + x * scale
        })
        .collect()
}

#[test]
fn stm20_gradient_matches_finite_differences() {
    let mut t = Stm20::<f64>::benchmark(STM20_HALF_WIDTH, 10003).unwrap();
    let mut pts = random_points(1, &t.locations()[2], 0.3, 3);
    pts.extend(random_points(2, &SVector::zeros(), 15.0, 3));
    pts.push(SVector::zeros());
    fd_check(&t, &pts);
    // Through the batched trait.
    let (mut lp, mut g) = (vec![0.0; pts.len()], vec![SVector::zeros(); pts.len()]);
    t.log_density_with_grad(&pts, &mut lp, &mut g).unwrap();
    for (i, x) in pts.iter().enumerate() {
        let mut gi = SVector::zeros();
        assert_eq!(lp[i], t.log_density_f64(x, Some(&mut gi)));
        assert_eq!(g[i], gi);
    }
}

/// `log_density_rows_f64` (blocks of `STM_BLOCK` rows) is `log_density_f64` row by row, bit for
/// bit, with and without gradients, for a length that is not a multiple of the block and rows
/// near a component, far from all, at a location and not finite.
fn rows_match_pointwise<const D: usize, const M: usize>(t: &StudentTMixture<f64, D, M>, pts: &[SVector<f64, D>]) {
    let n = pts.len();
    assert!(!n.is_multiple_of(gmmvi_targets::STM_BLOCK));
    let (mut lp, mut g, mut lp0) = (vec![0.0; n], vec![SVector::repeat(7.0); n], vec![0.0; n]);
    t.log_density_rows_f64(pts, &mut lp, Some(&mut g)).unwrap();
    t.log_density_rows_f64(pts, &mut lp0, None).unwrap();
    for (i, x) in pts.iter().enumerate() {
        let mut gi = SVector::zeros();
        let li = t.log_density_f64(x, Some(&mut gi));
        assert_eq!(lp[i].to_bits(), li.to_bits(), "row {i}");
        assert_eq!(lp0[i].to_bits(), t.log_density_f64(x, None).to_bits(), "row {i}");
        for (a, b) in g[i].iter().zip(gi.iter()) {
            assert_eq!(a.to_bits(), b.to_bits(), "row {i}");
        }
    }
    assert!(t.log_density_rows_f64(pts, &mut lp[1..], None).is_err());
    assert!(t.log_density_rows_f64(pts, &mut lp, Some(&mut g[1..])).is_err());
}

#[test]
fn stm20_rows_match_pointwise() {
    let t = Stm20::<f64>::benchmark(STM20_HALF_WIDTH, 10003).unwrap();
    let mut pts = random_points(5, &t.locations()[2], 0.3, 9);
    pts.extend(random_points(6, &SVector::zeros(), 15.0, 9));
    pts.extend(random_points(7, &SVector::zeros(), 1e4, 2));
    pts.push(t.locations()[0]);
    pts.push(SVector::repeat(f64::NAN));
    pts.push(SVector::repeat(f64::INFINITY));
    rows_match_pointwise(&t, &pts);
}

#[test]
fn stm300_builds_in_place_and_gradient_matches_finite_differences() {
    big_stack(|| {
        let mut t = Box::new(Stm300::<f64>::benchmark(STM300_HALF_WIDTH, 10000).unwrap());
        let loc0 = t.locations()[0];
        t.benchmark_in_place(STM300_HALF_WIDTH, 10000).unwrap();
        assert_eq!(t.locations()[0], loc0);
        for m in t.locations() {
            assert!(m.iter().all(|&v| (-25.0..25.0).contains(&v)));
        }
        let mut pts = random_points(3, &t.locations()[5], 0.05, 1);
        pts.extend(random_points(4, &SVector::zeros(), 10.0, 1));
        fd_check(&t, &pts);
        let mut rows = random_points(8, &t.locations()[5], 0.05, 6);
        rows.extend(random_points(9, &SVector::zeros(), 10.0, 5));
        rows_match_pointwise(&t, &rows);
        let mut lp = [0.0f32; 1];
        let x32 = [pts[0].map(|v| v as f32)];
        let mut t32 = Box::new(Stm300::<f32>::benchmark(STM300_HALF_WIDTH, 10000).unwrap());
        t32.log_density(&x32, &mut lp).unwrap();
        assert!(lp[0].is_finite());
    });
}

#[test]
fn constructor_errors() {
    let mu = [Vector2::zeros()];
    let s = [Matrix2::identity()];
    assert!(StudentTMixture::<f64, 2, 1>::new(&[1.0], 0.0, &mu, &s).is_err());
    assert!(StudentTMixture::<f64, 2, 1>::new(&[1.0], f64::NAN, &mu, &s).is_err());
    assert!(StudentTMixture::<f64, 2, 1>::new(&[-1.0], 2.0, &mu, &s).is_err());
    assert!(StudentTMixture::<f64, 2, 1>::new(&[1.0], 2.0, &mu, &[Matrix2::new(1.0, 2.0, 2.0, 1.0)]).is_err());
    assert!(StudentTMixture::<f64, 2, 1>::new(&[1.0], 2.0, &[Vector2::new(f64::NAN, 0.0)], &s).is_err());
    assert!(Stm20::<f64>::benchmark(0.0, 1).is_err());
    let t = StudentTMixture::<f64, 2, 1>::new(&[1.0], 2.0, &mu, &s).unwrap();
    assert!(t.log_density_f64(&Vector2::new(f64::NAN, 0.0), None).is_nan());
    let v = t.log_density_f64(&Vector2::new(1e300, 0.0), None);
    assert!(!v.is_nan());
}

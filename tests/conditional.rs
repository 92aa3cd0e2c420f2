//! Marginals and conditionals of a `Gmm` (`Gmm::marginal`, `Gmm::conditional`): against the
//! textbook formulas, against the identity `q(x_a | x_b) = q(x) / q(x_b)`, against numeric
//! quadrature and against Monte Carlo (joint samples filtered near the given values), in f32
//! and f64; and the errors for bad index sets.
//!
//! `cargo test --test conditional -- --nocapture` prints the Monte Carlo figures.

use gmmvi::{Error, Gmm, Real, SubGmm};
use nalgebra::{SMatrix, SVector};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// Tolerance of a closed-form comparison at the precision of `T`.
fn tol<T: Real>() -> f64 {
    if size_of::<T>() == 4 { 2e-5 } else { 1e-11 }
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: {a} vs {b} (tol {tol})");
}

/// A mixture from f64 weights, means and covariances, at precision `T`.
fn mixture<T: Real, const D: usize, const K: usize>(
    w: &[f64],
    m: &[[f64; D]],
    c: &[SMatrix<f64, D, D>],
) -> Gmm<T, D, K> {
    let mut q = Gmm::<T, D, K>::new();
    for (mk, ck) in m.iter().zip(c) {
        q.add_component(T::one(), SVector::from(*mk).map(T::of), &ck.map(T::of)).unwrap();
    }
    let lw: Vec<T> = w.iter().map(|v| T::of(v.ln())).collect();
    q.set_log_weights(&lw).unwrap();
    q
}

/// Inverse of a small dense matrix (Gauss–Jordan with partial pivoting).
fn inverse(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = r.clone();
            row.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            row
        })
        .collect();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs())).unwrap();
        a.swap(c, p);
        let d = a[c][c];
        for v in &mut a[c] {
            *v /= d;
        }
        for r in 0..n {
            if r != c {
                let f = a[r][c];
                let pivot = a[c].clone();
                for (v, pv) in a[r].iter_mut().zip(pivot) {
                    *v -= f * pv;
                }
            }
        }
    }
    a.into_iter().map(|r| r[n..].to_vec()).collect()
}

/// Textbook conditional of `N(μ, Σ)` given `x_b`: `(mean_a, cov_a, log N(x_b; μ_b, Σ_bb))`,
/// with `Σ_bb⁻¹` by explicit inversion.
fn textbook<const D: usize>(
    mu: &[f64; D],
    cov: &SMatrix<f64, D, D>,
    b: &[usize],
    x: &[f64; D],
) -> (Vec<f64>, Vec<Vec<f64>>, f64) {
    let a: Vec<usize> = (0..D).filter(|i| !b.contains(i)).collect();
    let sbb: Vec<Vec<f64>> = b.iter().map(|&i| b.iter().map(|&j| cov[(i, j)]).collect()).collect();
    let ibb = inverse(&sbb);
    let r: Vec<f64> = b.iter().map(|&i| x[i] - mu[i]).collect();
    let ir: Vec<f64> = ibb.iter().map(|row| row.iter().zip(&r).map(|(p, q)| p * q).sum()).collect();
    let mean: Vec<f64> =
        a.iter().map(|&i| mu[i] + b.iter().zip(&ir).map(|(&j, v)| cov[(i, j)] * v).sum::<f64>()).collect();
    let covc: Vec<Vec<f64>> = a
        .iter()
        .map(|&i| {
            a.iter()
                .map(|&j| {
                    let mut s = cov[(i, j)];
                    for (p, &bp) in b.iter().enumerate() {
                        for (q, &bq) in b.iter().enumerate() {
                            s -= cov[(i, bp)] * ibb[p][q] * cov[(bq, j)];
                        }
                    }
                    s
                })
                .collect()
        })
        .collect();
    // log det Σ_bb by a Cholesky of the small block.
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s = sbb[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
        }
    }
    let logdet: f64 = (0..n).map(|i| 2.0 * l[i][i].ln()).sum();
    let quad: f64 = r.iter().zip(&ir).map(|(p, q)| p * q).sum();
    let lnb = -0.5 * quad - 0.5 * logdet - 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    (mean, covc, lnb)
}

/// Covariance `L Lᵀ` of component `k` of a sub-mixture, in f64.
fn sub_cov<T: Real, const D: usize, const K: usize>(s: &SubGmm<T, D, K>, k: usize) -> Vec<Vec<f64>> {
    let l = s.chol(k).unwrap();
    let n = s.dim();
    (0..n).map(|i| (0..n).map(|j| (0..n).map(|m| l[(i, m)].to_f64() * l[(j, m)].to_f64()).sum()).collect()).collect()
}

fn spd3(a: [f64; 9]) -> SMatrix<f64, 3, 3> {
    let m = SMatrix::<f64, 3, 3>::from_row_slice(&a);
    m * m.transpose() + SMatrix::identity() * 0.3
}

/// A fixed 3-component mixture in 3-D with correlated components.
fn mix3<T: Real>() -> Gmm<T, 3, 4> {
    let c = [
        spd3([1.0, 0.5, 0.0, 0.2, 0.8, -0.4, 0.1, 0.3, 0.9]),
        spd3([0.6, -0.2, 0.4, 0.0, 1.1, 0.2, -0.3, 0.0, 0.5]),
        spd3([0.3, 0.0, 0.0, 0.9, 0.4, 0.0, 0.2, -0.6, 0.7]),
    ];
    mixture(&[0.5, 0.3, 0.2], &[[0.0, 1.0, -1.0], [2.0, -1.0, 0.5], [-1.5, 0.0, 1.5]], &c)
}

fn single_gaussian_is_textbook<T: Real>() {
    let cov = spd3([1.0, 0.7, -0.2, 0.3, 0.9, 0.5, -0.4, 0.2, 1.2]);
    let mu = [0.3, -0.7, 1.1];
    let q: Gmm<T, 3, 4> = mixture(&[1.0], &[mu], &[cov]);
    let x = [0.0, 0.4, -0.5];
    let xv = SVector::from(x).map(T::of);
    for b in [&[0usize][..], &[2], &[1], &[2, 0], &[0, 1]] {
        let mut c = SubGmm::new();
        q.conditional(b, &xv, &mut c).unwrap();
        let (mean, covc, _) = textbook(&mu, &cov, b, &x);
        let a: Vec<usize> = (0..3).filter(|i| !b.contains(i)).collect();
        assert_eq!(c.coords(), &a[..]);
        assert_eq!(c.len(), 1);
        for (i, m) in mean.iter().enumerate() {
            close(c.mean(0).unwrap()[i].to_f64(), *m, tol::<T>(), "conditional mean");
        }
        let sc = sub_cov(&c, 0);
        for i in 0..a.len() {
            for j in 0..a.len() {
                close(sc[i][j], covc[i][j], tol::<T>(), "Schur complement");
            }
            // A lower factor with a positive diagonal.
            let l = c.chol(0).unwrap();
            assert!(l[(i, i)] > T::zero());
            for j in i + 1..a.len() {
                assert_eq!(l[(i, j)], T::zero());
            }
        }
        // The density of a one-component conditional is the Gaussian with these moments.
        let mut probe = xv;
        for (i, &ai) in a.iter().enumerate() {
            probe[ai] = T::of(mean[i] + 0.3);
        }
        let inv = inverse(&covc);
        let quad: f64 = (0..a.len()).map(|i| (0..a.len()).map(|j| 0.09 * inv[i][j]).sum::<f64>()).sum();
        let det = det_small(&covc);
        let want = -0.5 * quad - 0.5 * det.ln() - 0.5 * a.len() as f64 * (2.0 * std::f64::consts::PI).ln();
        close(c.log_density(&probe).to_f64(), want, 10.0 * tol::<T>(), "conditional log density");
    }
}

/// Determinant of a 1×1 or 2×2 matrix.
fn det_small(m: &[Vec<f64>]) -> f64 {
    match m.len() {
        1 => m[0][0],
        2 => m[0][0] * m[1][1] - m[0][1] * m[1][0],
        _ => unreachable!(),
    }
}

#[test]
fn conditional_of_a_single_gaussian_is_the_textbook_formula() {
    single_gaussian_is_textbook::<f64>();
    single_gaussian_is_textbook::<f32>();
}

/// Two 2-D components; given `x_1 = c`, by hand: component k has mean
/// `μ_0k + ρ_k σ_0k/σ_1k (c − μ_1k)`, variance `σ_0k²(1 − ρ_k²)` and weight
/// `∝ w_k N(c; μ_1k, σ_1k²)`.
fn two_d_by_hand<T: Real>() {
    let (s0, s1, rho) = ([1.0, 0.5], [0.8, 1.5], [0.6, -0.3]);
    let (mu0, mu1, w) = ([0.0, 2.0], [1.0, -1.0], [0.7, 0.3]);
    let cov: Vec<SMatrix<f64, 2, 2>> = (0..2)
        .map(|k| {
            let c = rho[k] * s0[k] * s1[k];
            SMatrix::<f64, 2, 2>::new(s0[k] * s0[k], c, c, s1[k] * s1[k])
        })
        .collect();
    let q: Gmm<T, 2, 2> = mixture(&w, &[[mu0[0], mu1[0]], [mu0[1], mu1[1]]], &cov);
    for cv in [-2.0, 0.3, 1.7] {
        let mut c = SubGmm::new();
        q.conditional(&[1], &SVector::from([T::of(123.0), T::of(cv)]), &mut c).unwrap();
        assert_eq!((c.dim(), c.coords()), (1, &[0usize][..]));
        let lnw: Vec<f64> = (0..2)
            .map(|k| {
                let z = (cv - mu1[k]) / s1[k];
                w[k].ln() - 0.5 * z * z - s1[k].ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
            })
            .collect();
        let lse = (lnw[0].exp() + lnw[1].exp()).ln();
        for k in 0..2 {
            close(c.log_weights()[k].to_f64(), lnw[k] - lse, tol::<T>(), "weight");
            close(c.mean(k).unwrap()[0].to_f64(), mu0[k] + rho[k] * s0[k] / s1[k] * (cv - mu1[k]), tol::<T>(), "mean");
            let sd = c.chol(k).unwrap()[(0, 0)].to_f64();
            close(sd * sd, s0[k] * s0[k] * (1.0 - rho[k] * rho[k]), tol::<T>(), "variance");
        }
        // Marginal of coordinate 1 at cv: Σ_k w_k N(cv; μ_1k, σ_1k²) = exp(lse).
        let mut m = SubGmm::new();
        q.marginal(&[1], &mut m).unwrap();
        close(m.log_density(&SVector::from([T::of(-5.0), T::of(cv)])).to_f64(), lse, tol::<T>(), "marginal");
    }
}

#[test]
fn two_component_2d_conditional_matches_the_hand_formulas() {
    two_d_by_hand::<f64>();
    two_d_by_hand::<f32>();
}

/// Every component of a mixture conditional is the textbook conditional, every weight
/// `∝ w_k N(x_b; μ_b, Σ_bb)`, and `log q(x_a | x_b) = log q(x) − log q_b(x_b)` at any `x`.
fn mixture_identities<T: Real>() {
    let q = mix3::<T>();
    let x0 = [0.4, -0.2, 0.7];
    for b in [&[0usize][..], &[1], &[2], &[0, 2], &[2, 1], &[1, 0]] {
        let mut c = SubGmm::new();
        let mut mb = SubGmm::new();
        q.conditional(b, &SVector::from(x0).map(T::of), &mut c).unwrap();
        q.marginal(b, &mut mb).unwrap();
        assert_eq!(mb.coords(), b);
        let mut lnw = Vec::new();
        for k in 0..3 {
            let mu: [f64; 3] = core::array::from_fn(|i| q.mean(k).unwrap()[i].to_f64());
            let cov = q.covariance(k).unwrap().map(|v| v.to_f64());
            let (mean, covc, lnb) = textbook(&mu, &cov, b, &x0);
            lnw.push(q.log_weights()[k].to_f64() + lnb);
            for (i, m) in mean.iter().enumerate() {
                close(c.mean(k).unwrap()[i].to_f64(), *m, 10.0 * tol::<T>(), "mixture conditional mean");
            }
            let sc = sub_cov(&c, k);
            for i in 0..covc.len() {
                for j in 0..covc.len() {
                    close(sc[i][j], covc[i][j], 10.0 * tol::<T>(), "mixture Schur complement");
                }
            }
        }
        let lse = lnw.iter().map(|v| v.exp()).sum::<f64>().ln();
        for (k, l) in lnw.iter().enumerate() {
            close(c.log_weights()[k].to_f64(), l - lse, 10.0 * tol::<T>(), "mixture conditional weight");
        }
        // Joint over marginal, at points sharing the given values.
        for probe in [[-1.0, 0.5, 2.0], [1.0, 1.0, 1.0], [0.0, -2.0, 0.3]] {
            let mut p = SVector::from(x0);
            for i in (0..3).filter(|i| !b.contains(i)) {
                p[i] = probe[i];
            }
            let p = p.map(T::of);
            let want = q.log_density(&p).to_f64() - mb.log_density(&p).to_f64();
            close(c.log_density(&p).to_f64(), want, 50.0 * tol::<T>(), "q(x_a | x_b) = q(x) / q(x_b)");
        }
    }
}

#[test]
fn mixture_conditional_matches_components_and_the_joint_over_the_marginal() {
    mixture_identities::<f64>();
    mixture_identities::<f32>();
}

/// The 1-D marginal of a 2-D mixture against Simpson quadrature of the joint over the other
/// coordinate, and the marginal's own mass; a permuted marginal keeps the requested order.
fn marginal_quadrature<T: Real>() -> f64 {
    let c0 = SMatrix::<f64, 2, 2>::new(1.0, 0.7, 0.7, 2.0);
    let c1 = SMatrix::<f64, 2, 2>::new(0.3, -0.2, -0.2, 0.5);
    let q: Gmm<T, 2, 2> = mixture(&[0.4, 0.6], &[[-1.0, 0.5], [1.5, -1.0]], &[c0, c1]);
    let mut m = SubGmm::new();
    q.marginal(&[0], &mut m).unwrap();
    let simpson = |f: &dyn Fn(f64) -> f64, lo: f64, hi: f64, n: usize| {
        let h = (hi - lo) / n as f64;
        let mut s = f(lo) + f(hi);
        for i in 1..n {
            s += f(lo + i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 };
        }
        s * h / 3.0
    };
    let mut worst: f64 = 0.0;
    for x0 in [-3.0, -1.0, 0.0, 0.8, 2.5] {
        let joint = |y: f64| q.log_density(&SVector::from([T::of(x0), T::of(y)])).to_f64().exp();
        let integral = simpson(&joint, -15.0, 15.0, 4000);
        let got = m.log_density(&SVector::from([T::of(x0), T::of(99.0)])).to_f64().exp();
        worst = worst.max((got - integral).abs() / integral);
        close(got, integral, 1e3 * tol::<T>(), "marginal vs quadrature");
    }
    let mass =
        simpson(&|x: f64| m.log_density(&SVector::from([T::of(x), T::zero()])).to_f64().exp(), -15.0, 15.0, 4000);
    close(mass, 1.0, 1e3 * tol::<T>(), "marginal mass");
    // Both coordinates, swapped: the factor is that of the swapped covariance.
    let mut s = SubGmm::new();
    q.marginal(&[1, 0], &mut s).unwrap();
    assert_eq!(s.coords(), &[1, 0]);
    let sc = sub_cov(&s, 0);
    close(sc[0][0], 2.0, tol::<T>(), "swapped covariance");
    close(sc[0][1], 0.7, tol::<T>(), "swapped covariance");
    close(sc[1][1], 1.0, tol::<T>(), "swapped covariance");
    close(s.mean(1).unwrap()[0].to_f64(), 1.5 * 0.0 - 1.0, tol::<T>(), "swapped mean");
    let p = SVector::from([T::of(0.3), T::of(-0.4)]);
    close(s.log_density(&p).to_f64(), q.log_density(&p).to_f64(), 10.0 * tol::<T>(), "full marginal is the joint");
    worst
}

#[test]
fn marginal_density_matches_quadrature_of_the_joint() {
    let w64 = marginal_quadrature::<f64>();
    let w32 = marginal_quadrature::<f32>();
    println!("marginal vs Simpson quadrature, largest relative difference: f64 {w64:.1e}, f32 {w32:.1e}");
}

/// Monte Carlo: joint samples with their component labels, kept when every given coordinate is
/// within `h` of its value; the kept labels' frequencies and the kept free coordinates' mean
/// against the conditional's weights and mixture mean, within 4 standard errors (the window's
/// bias is O(h²), far below that).
fn monte_carlo<T: Real>(b: &[usize], x0: [f64; 3], h: f64, n: usize, seed: u64) {
    let q = mix3::<T>();
    let mut c = SubGmm::new();
    let xv = SVector::from(x0).map(T::of);
    q.conditional(b, &xv, &mut c).unwrap();
    let a = c.coords().to_vec();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let cum: Vec<f64> = q
        .log_weights()
        .iter()
        .scan(0.0, |s, lw| {
            *s += lw.to_f64().exp();
            Some(*s)
        })
        .collect();
    let mut count = [0usize; 3];
    let mut sum = vec![0.0; a.len()];
    let mut sum2 = vec![0.0; a.len()];
    let mut kept = 0usize;
    for _ in 0..n {
        let u = gmmvi::rng::uniform(&mut rng);
        let k = cum.iter().position(|&v| u < v).unwrap_or(2);
        let x = q.sample_component(k, &mut rng).unwrap();
        if b.iter().all(|&i| (x[i].to_f64() - x0[i]).abs() < h) {
            kept += 1;
            count[k] += 1;
            for (j, &i) in a.iter().enumerate() {
                let v = x[i].to_f64();
                sum[j] += v;
                sum2[j] += v * v;
            }
        }
    }
    assert!(kept > 2000, "too few samples kept: {kept}");
    let kf = kept as f64;
    let mut report = format!(
        "{} given {:?} = {:?}, window ±{h}, {kept} of {n} kept:",
        if size_of::<T>() == 4 { "f32" } else { "f64" },
        b,
        b.iter().map(|&i| x0[i]).collect::<Vec<_>>()
    );
    for (k, &n) in count.iter().enumerate() {
        let w = c.log_weights()[k].to_f64().exp();
        let f = n as f64 / kf;
        let se = (w * (1.0 - w) / kf).sqrt();
        report += &format!(" w{k} {w:.4} vs MC {f:.4} (se {se:.4});");
        assert!((f - w).abs() < 4.0 * se + 1e-3, "weight {k}: closed form {w}, Monte Carlo {f} ± {se}");
    }
    for (j, &i) in a.iter().enumerate() {
        let mean: f64 = (0..3).map(|k| c.log_weights()[k].to_f64().exp() * c.mean(k).unwrap()[j].to_f64()).sum();
        let mc = sum[j] / kf;
        let var = sum2[j] / kf - mc * mc;
        let se = (var / kf).sqrt();
        report += &format!(" E[x{i}] {mean:.4} vs MC {mc:.4} (se {se:.4});");
        assert!((mc - mean).abs() < 4.0 * se, "mean of x{i}: closed form {mean}, Monte Carlo {mc} ± {se}");
    }
    println!("{report}");
}

#[test]
fn conditional_matches_filtered_joint_samples() {
    // One given coordinate (a slab), then two (a tube), at both precisions.
    monte_carlo::<f64>(&[1], [0.0, 0.3, 0.0], 0.01, 4_000_000, 11);
    monte_carlo::<f32>(&[1], [0.0, 0.3, 0.0], 0.01, 4_000_000, 12);
    monte_carlo::<f64>(&[0, 2], [0.0, 0.0, 0.5], 0.08, 6_000_000, 13);
    monte_carlo::<f32>(&[2, 0], [0.0, 0.0, 0.5], 0.08, 6_000_000, 14);
}

#[test]
fn bad_index_sets_and_values_are_rejected_and_leave_the_output_empty() {
    let q = mix3::<f64>();
    let x = SVector::from([0.1, 0.2, 0.3]);
    let mut c = SubGmm::new();
    q.conditional(&[0], &x, &mut c).unwrap();
    assert_eq!(c.len(), 3);
    let invalid = |r: Result<(), Error>, what: &str| match r {
        Err(Error::InvalidArgument { what: w }) => assert_eq!(w, what),
        other => panic!("expected InvalidArgument({what}), got {other:?}"),
    };
    invalid(q.conditional(&[], &x, &mut c), "empty coordinate list");
    assert!(c.is_empty() && c.dim() == 0);
    invalid(q.conditional(&[3], &x, &mut c), "coordinate index out of range");
    invalid(q.conditional(&[usize::MAX], &x, &mut c), "coordinate index out of range");
    invalid(q.conditional(&[1, 1], &x, &mut c), "coordinate index repeated");
    invalid(q.conditional(&[0, 1, 2], &x, &mut c), "every coordinate is given: nothing left to condition");
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut xb = x;
        xb[2] = bad;
        invalid(q.conditional(&[2], &xb, &mut c), "non-finite given value");
        // A non-finite value of a free coordinate is not read.
        q.conditional(&[0, 1], &xb, &mut c).unwrap();
        assert_eq!(c.coords(), &[2]);
    }
    invalid(q.marginal(&[], &mut c), "empty coordinate list");
    assert!(c.is_empty() && c.coords().is_empty());
    invalid(q.marginal(&[0, 5], &mut c), "coordinate index out of range");
    invalid(q.marginal(&[2, 0, 2], &mut c), "coordinate index repeated");
    let empty = Gmm::<f64, 3, 4>::new();
    invalid(empty.marginal(&[0], &mut c), "empty mixture");
    invalid(empty.conditional(&[0], &x, &mut c), "empty mixture");
    // An empty result samples nothing and has density -inf.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
    let mut out = [x; 2];
    assert_eq!(c.sample(&mut rng, &mut out), 0);
    assert_eq!(out, [x; 2]);
    assert_eq!(c.log_density(&x), f64::NEG_INFINITY);
}

/// Given values far in the tail: the weights go to the component that explains them, in log
/// space without underflow, and the result stays finite.
#[test]
fn far_given_values_reweight_without_underflow() {
    for v in [40.0, -200.0, 1e4] {
        let q = mix3::<f64>();
        let mut c = SubGmm::new();
        q.conditional(&[2], &SVector::from([0.0, 0.0, v]), &mut c).unwrap();
        assert!(!c.is_empty());
        let total: f64 = c.log_weights().iter().map(|l| l.exp()).sum();
        close(total, 1.0, 1e-12, "weights sum to one");
        for k in 0..c.len() {
            assert!(c.mean(k).unwrap().iter().all(|m| m.is_finite()));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let mut out = [SVector::from([0.0, 0.0, v]); 64];
        c.sample(&mut rng, &mut out);
        assert!(out.iter().all(|x| x.iter().all(|v| v.is_finite())));
        assert!(out.iter().all(|x| x[2] == v));
    }
}

//! NumPy legacy stream (docs/targets.md §1) and the GMM20/GMM100 targets (§2): the test vectors
//! of docs/targets.md §1 and §2.5, and central finite-difference gradients.

mod common;

use common::{assert_rel, big_stack, fd_rel_error};
use gmmvi::Target;
use gmmvi_targets::{GaussianMixtureTarget, Gmm20, Gmm100, NumpyRandomState, draw_gmm_component};
use nalgebra::{SMatrix, SVector};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const SEED: u32 = 10000;

#[test]
fn random_state_spec_vector_bit_exact() {
    let mut rs = NumpyRandomState::new(SEED);
    for w in [0.5454701510335127, 0.17186531503221092, 0.8529318094853018] {
        assert_eq!(rs.random_f64(), w);
    }
    let mut worst: f64 = 0.0;
    for w in [6.8453042346736215, -24.678317962529302, 2.9461766484510274, -20.42577065557885] {
        let v = rs.normal(0.0, 20.0);
        worst = worst.max(assert_rel("normal(0, 20)", v, w, 1e-15));
    }
    for w in [0.22033451985873537, -1.6530479521204196, -0.2764160816024497] {
        let v = rs.gauss();
        worst = worst.max(assert_rel("standard_normal", v, w, 1e-15));
    }
    eprintln!("RandomState normals: worst relative error {worst:e}");
}

#[test]
fn random_state_is_a_rand_core_rng() {
    let mut a = NumpyRandomState::new(7);
    let mut b = a.clone();
    let hi = b.next_u32() as u64;
    let lo = b.next_u32() as u64;
    assert_eq!(Rng::next_u64(&mut a), (hi << 32) | lo);
}

/// The §2.5 test vectors of one GMM size.
struct Vectors {
    mu0: [f64; 3],
    mu9_last: f64,
    sigma0_row0: [f64; 3],
    sigma9_last: f64,
    log_p0: f64,
    log_p_mu0: f64,
    init_m0: [f64; 3],
    init_m4: [f64; 3],
}

/// The raw GMM parameters of the §2.1 recipe for seed 10000, the target built from the
/// same stream and the K0 = 5 initial means, checked against §2.5; then finite differences.
fn check_gmm<const D: usize>(v: Vectors) {
    let Vectors { mu0, mu9_last, sigma0_row0, sigma9_last, log_p0, log_p_mu0, init_m0, init_m4 } = v;
    // Raw parameters straight from the recipe.
    let mut rs = NumpyRandomState::new(SEED);
    let mut mean = SVector::<f64, D>::zeros();
    let mut cov = SMatrix::<f64, D, D>::zeros();
    let mut means = Vec::new();
    for i in 0..10 {
        draw_gmm_component(&mut rs, &mut mean, &mut cov);
        means.push(mean);
        if i == 0 {
            for k in 0..3 {
                assert_rel("mu_0", mean[k], mu0[k], 1e-12);
                assert_rel("Sigma_0[0,k]", cov[(0, k)], sigma0_row0[k], 1e-11);
            }
        }
        if i == 9 {
            assert_rel("mu_9[D-1]", mean[D - 1], mu9_last, 1e-12);
            assert_rel("Sigma_9[D-1,D-1]", cov[(D - 1, D - 1)], sigma9_last, 1e-12);
        }
    }
    let mut cont = rs.clone();

    // The target from a fresh stream with the same seed.
    let mut rs2 = NumpyRandomState::new(SEED);
    let mut t = GaussianMixtureTarget::<f64, D, 10>::numpy_benchmark(&mut rs2).unwrap();
    assert_eq!(rs2, rs, "the target consumes exactly the recipe's draws");
    for (a, b) in t.means().iter().zip(&means) {
        assert_eq!(a, b);
    }
    for lw in t.log_weights() {
        assert!((lw + 10f64.ln()).abs() < 1e-15);
    }
    let l0 = t.chol_factors()[0];
    let s0 = l0 * l0.transpose();
    for k in 0..3 {
        assert_rel("Sigma_0 from the factor", s0[(0, k)], sigma0_row0[k], 1e-11);
    }
    let r0 = assert_rel("log p(0)", t.log_density_f64(&SVector::zeros(), None), log_p0, 1e-10);
    let r1 = assert_rel("log p(mu_0)", t.log_density_f64(&means[0], None), log_p_mu0, 1e-10);
    eprintln!("GMM{D}: log p(0) rel {r0:e}, log p(mu_0) rel {r1:e}");

    // Through the batched trait.
    let x = [SVector::<f64, D>::zeros(), means[0]];
    let mut lp = [0.0; 2];
    t.log_density(&x, &mut lp).unwrap();
    assert_rel("trait log p(0)", lp[0], log_p0, 1e-10);
    assert_rel("trait log p(mu_0)", lp[1], log_p_mu0, 1e-10);

    // K0 = 5 initial means continue the stream (prior mean 0, scale 31.63).
    let mut init = [SVector::<f64, D>::zeros(); 5];
    cont.initial_means(&SVector::zeros(), &SVector::repeat(31.63), &mut init);
    for k in 0..3 {
        assert_rel("m_0", init[0][k], init_m0[k], 1e-11);
        assert_rel("m_4", init[4][k], init_m4[k], 1e-11);
    }

    // Finite differences at the test-vector points, near a mean and at random points.
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(D as u64);
    let mut pts = vec![SVector::<f64, D>::zeros(), means[0], means[3] + SVector::repeat(2.0)];
    for _ in 0..3 {
        let mut x = SVector::<f64, D>::zeros();
        gmmvi::rng::fill_standard_normal(&mut rng, x.as_mut_slice());
        pts.push(x * 30.0);
    }
    for x in &pts {
        let mut g = SVector::<f64, D>::zeros();
        t.log_density_f64(x, Some(&mut g));
        let mut f = |p: &[f64]| t.log_density_f64(&SVector::from_column_slice(p), None);
        let e = fd_rel_error(&mut f, x.as_slice(), g.as_slice(), 1e-5);
        assert!(e < 1e-6, "GMM{D} finite-difference error {e:e}");
    }
}

#[test]
fn gmm20_spec_vectors() {
    big_stack(|| {
        check_gmm::<20>(Vectors {
            mu0: [4.547015103351, -32.813468496779, 35.29318094853],
            mu9_last: 44.72138930736611,
            sigma0_row0: [82.038849383706, 6.358518529159, -26.319706587996],
            sigma9_last: 48.10938030508142,
            log_p0: -391.456292954924,
            log_p_mu0: -56.804427064164,
            init_m0: [-24.139849520673, 42.129853172276, 2.311097697244],
            init_m4: [-6.569048168015, 72.990321620522, -57.375502723207],
        })
    });
}

#[test]
fn gmm100_spec_vectors() {
    big_stack(|| {
        check_gmm::<100>(Vectors {
            mu0: [4.547015103351, -32.813468496779, 35.29318094853],
            mu9_last: 2.586775205658143,
            sigma0_row0: [10371.87597801, -1528.879560741, 2.365351666936],
            sigma9_last: 10373.543403984693,
            log_p0: -573.998649587335,
            log_p_mu0: -506.897055080164,
            init_m0: [-53.267479197598, -1.844831333994, -11.697096383457],
            init_m4: [34.02559394249, -34.550012525259, -93.930251106356],
        })
    });
}

#[test]
fn in_place_build_matches_and_type_aliases_fit() {
    big_stack(|| {
        let a = Gmm20::<f32>::numpy_benchmark(&mut NumpyRandomState::new(3)).unwrap();
        let mut b = Gmm20::<f32>::numpy_benchmark(&mut NumpyRandomState::new(4)).unwrap();
        b.numpy_benchmark_in_place(&mut NumpyRandomState::new(3)).unwrap();
        assert_eq!(a.means(), b.means());
        assert_eq!(a.chol_factors(), b.chol_factors());
        let mut big = Box::new(Gmm100::<f64>::numpy_benchmark(&mut NumpyRandomState::new(SEED)).unwrap());
        big.numpy_benchmark_in_place(&mut NumpyRandomState::new(SEED)).unwrap();
        assert!(big.log_density_f64(&SVector::zeros(), None).is_finite());
    });
}

//! The model calls of the C ABI driven from Rust as C would drive them: a snapshot has the
//! state's densities, marginals and conditionals equal the core's `SubGmm` bit for bit, the
//! caller's stream is deterministic, and bad index sets, pointers and storage are refused.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{c_int, c_void};
use std::ptr::{null, null_mut};

use core_gmmvi::{Gmm, SubGmm};
use gmmvi_abi::gmmvi_status::*;
use gmmvi_abi::*;
use nalgebra::{SMatrix, SVector};

const D: usize = GMMVI_DIM;
const K: usize = GMMVI_MAX_COMPONENTS;
type R = gmmvi_real;

/// Zeroed storage, as a C `static` would be.
// Tests build with the current toolchain; `rust-version` is the library crates' minimum.
#[allow(clippy::incompatible_msrv)]
fn zeroed<T>() -> Box<T> {
    // SAFETY (all uses): the ABI's storage types are arrays of integers.
    unsafe { Box::<T>::new_zeroed().assume_init() }
}

/// log p = -|x - 1|²/2, with its gradient.
unsafe extern "C" fn target(_: *mut c_void, x: *const R, n: usize, lp: *mut R, grad: *mut R) -> c_int {
    let xs = unsafe { std::slice::from_raw_parts(x, n * D) };
    let lp = unsafe { std::slice::from_raw_parts_mut(lp, n) };
    for (i, row) in xs.chunks_exact(D).enumerate() {
        lp[i] = -0.5 * row.iter().map(|v| (v - 1.0) * (v - 1.0)).sum::<R>();
        if !grad.is_null() {
            let g = unsafe { std::slice::from_raw_parts_mut(grad.add(i * D), D) };
            for (gd, v) in g.iter_mut().zip(row) {
                *gd = 1.0 - v;
            }
        }
    }
    0
}

/// A state fitted for a few iterations.
fn fitted_state() -> Box<gmmvi_state> {
    let mut s = zeroed::<gmmvi_state>();
    let cfg = gmmvi_config_default();
    assert_eq!(unsafe { gmmvi_init(&mut *s, GMMVI_STATE_SIZE, &cfg, 7) }, GMMVI_OK);
    assert_eq!(unsafe { gmmvi_run(&mut *s, Some(target), null_mut(), 15, 0, null_mut()) }, GMMVI_OK);
    s
}

fn new_model() -> Box<gmmvi_model> {
    let mut m = zeroed::<gmmvi_model>();
    assert_eq!(unsafe { gmmvi_model_init(&mut *m) }, GMMVI_OK);
    m
}

fn seeded(seed: u64) -> gmmvi_rng {
    let mut r = *zeroed::<gmmvi_rng>();
    assert_eq!(unsafe { gmmvi_rng_seed(&mut r, seed) }, GMMVI_OK);
    r
}

/// Points spread around the fitted region.
fn points(n: usize) -> Vec<R> {
    (0..n * D).map(|i| ((i * 37 % 23) as R - 11.0) / 5.0).collect()
}

fn bits(v: &[R]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits() as u64).collect()
}

#[test]
fn a_snapshot_has_the_states_densities_and_samples_deterministically() {
    let s = fitted_state();
    let mut m = new_model();
    assert_eq!(unsafe { gmmvi_snapshot(&*s, &mut *m) }, GMMVI_OK);
    let n = 100;
    let x = points(n);
    let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
    assert_eq!(unsafe { gmmvi_log_density(&*s, x.as_ptr(), n, a.as_mut_ptr()) }, GMMVI_OK);
    assert_eq!(unsafe { gmmvi_model_log_density(&*m, x.as_ptr(), n, b.as_mut_ptr()) }, GMMVI_OK);
    assert!(a.iter().all(|v| v.is_finite()));
    assert_eq!(bits(&a), bits(&b));

    // Same seed, same draws (across the block boundary); the stream advances between calls.
    let draw = |seed: u64, calls: usize| {
        let mut r = seeded(seed);
        let mut out = vec![];
        for _ in 0..calls {
            let mut xs = vec![R::NAN; 70 * D];
            assert_eq!(unsafe { gmmvi_model_sample(&*m, &mut r, xs.as_mut_ptr(), 70) }, GMMVI_OK);
            out.extend(xs);
        }
        out
    };
    let (one, again, other) = (draw(3, 2), draw(3, 2), draw(4, 2));
    assert!(one.iter().all(|v| v.is_finite()));
    assert_eq!(bits(&one), bits(&again));
    assert_ne!(bits(&one), bits(&other));
    assert_ne!(bits(&one[..70 * D]), bits(&one[70 * D..]));
    // The samples lie where the fit puts its mass (the target's mean is 1 in every coordinate).
    let mean = one.iter().map(|v| f64::from(*v)).sum::<f64>() / one.len() as f64;
    assert!((mean - 1.0).abs() < 0.3, "sample mean {mean}");

    // Fitting on does not change the snapshot.
    let mut s = s;
    assert_eq!(unsafe { gmmvi_step(&mut *s, Some(target), null_mut(), null_mut()) }, GMMVI_OK);
    assert_eq!(unsafe { gmmvi_model_log_density(&*m, x.as_ptr(), n, a.as_mut_ptr()) }, GMMVI_OK);
    assert_eq!(bits(&a), bits(&b));
}

/// A known two-component mixture with correlated coordinates, in the core and in a state.
fn known_mixture() -> (Gmm<R, D, K>, Box<gmmvi_model>) {
    let mut q = Gmm::<R, D, K>::new();
    for (w, shift, rho) in [(0.3, -1.5, 0.6), (0.7, 2.0, -0.4)] {
        let mut cov = SMatrix::<R, D, D>::identity();
        for i in 0..D - 1 {
            cov[(i, i + 1)] = rho * 0.5;
            cov[(i + 1, i)] = rho * 0.5;
        }
        let mean = SVector::<R, D>::from_fn(|i, _| shift + i as R * 0.25);
        q.add_component(w, mean, &cov).unwrap();
    }
    let mut bytes = vec![0u8; q.export_size()];
    q.export(&mut bytes).unwrap();
    let mut s = fitted_state();
    assert_eq!(unsafe { gmmvi_import_model(&mut *s, bytes.as_ptr(), bytes.len()) }, GMMVI_OK);
    let mut m = new_model();
    assert_eq!(unsafe { gmmvi_snapshot(&*s, &mut *m) }, GMMVI_OK);
    (q, m)
}

/// Log densities and draws of a C submodel against the core's, bit for bit.
fn same_as_core(c: &gmmvi_submodel, r: &SubGmm<R, D, K>, start: &[R]) {
    let mut dim = usize::MAX;
    assert_eq!(unsafe { gmmvi_submodel_dim(c, &mut dim) }, GMMVI_OK);
    assert_eq!(dim, r.dim());
    let n = 90;
    let x = points(n);
    let mut lc = vec![0.0; n];
    assert_eq!(unsafe { gmmvi_submodel_log_density(c, x.as_ptr(), n, lc.as_mut_ptr()) }, GMMVI_OK);
    let lr: Vec<R> = x.chunks_exact(D).map(|p| r.log_density(&SVector::from_column_slice(p))).collect();
    assert!(lr.iter().all(|v| v.is_finite()));
    assert_eq!(bits(&lc), bits(&lr));

    let mut rng = seeded(11);
    let mut xc: Vec<R> = start.iter().copied().cycle().take(n * D).collect();
    assert_eq!(unsafe { gmmvi_submodel_sample(c, &mut rng, xc.as_mut_ptr(), n) }, GMMVI_OK);
    let mut core_rng = core_gmmvi::rng::Xoshiro256::seed_from_u64(11);
    let mut xr = vec![SVector::<R, D>::from_column_slice(start); n];
    assert_eq!(r.sample(&mut core_rng, &mut xr), n);
    let xr: Vec<R> = xr.iter().flat_map(|v| v.iter().copied()).collect();
    assert_eq!(bits(&xc), bits(&xr));
    // The coordinates outside the submodel keep their values.
    for row in xc.chunks_exact(D) {
        for i in (0..D).filter(|i| !r.coords().contains(i)) {
            assert_eq!(row[i].to_bits(), start[i].to_bits());
        }
    }
}

#[test]
fn marginals_and_conditionals_equal_the_cores() {
    let (q, m) = known_mixture();
    let mut c = zeroed::<gmmvi_submodel>();
    let start: Vec<R> = (0..D).map(|i| 0.5 - i as R * 0.3).collect();
    let x = SVector::<R, D>::from_column_slice(&start);

    let keep = [D - 1, 0, 2];
    assert_eq!(unsafe { gmmvi_model_marginal(&*m, keep.as_ptr(), keep.len(), &mut *c) }, GMMVI_OK);
    let mut r = SubGmm::new();
    q.marginal(&keep, &mut r).unwrap();
    same_as_core(&c, &r, &start);

    let given = [1, D - 2];
    assert_eq!(unsafe { gmmvi_model_conditional(&*m, given.as_ptr(), given.len(), start.as_ptr(), &mut *c) }, GMMVI_OK);
    q.conditional(&given, &x, &mut r).unwrap();
    assert_eq!(r.dim(), D - 2);
    same_as_core(&c, &r, &start);
}

#[test]
fn bad_index_sets_are_refused_and_leave_an_empty_submodel() {
    let (_, m) = known_mixture();
    let mut c = zeroed::<gmmvi_submodel>();
    let x = vec![0.5 as R; D];
    let all: Vec<usize> = (0..D).collect();
    let too_many: Vec<usize> = (0..=D).collect();
    let bad: [&[usize]; 5] = [&[], &[0, 0], &[D], &[usize::MAX], &too_many];
    let dim = |c: &gmmvi_submodel| {
        let mut d = usize::MAX;
        assert_eq!(unsafe { gmmvi_submodel_dim(c, &mut d) }, GMMVI_OK);
        d
    };
    for idx in bad {
        // A valid submodel first, so that the failure visibly empties it.
        assert_eq!(unsafe { gmmvi_model_marginal(&*m, [0].as_ptr(), 1, &mut *c) }, GMMVI_OK);
        assert_eq!(dim(&c), 1);
        let p = if idx.is_empty() { null() } else { idx.as_ptr() };
        assert_eq!(unsafe { gmmvi_model_marginal(&*m, p, idx.len(), &mut *c) }, GMMVI_INVALID_ARGUMENT, "{idx:?}");
        assert_eq!(dim(&c), 0);
        let st = unsafe { gmmvi_model_conditional(&*m, p, idx.len(), x.as_ptr(), &mut *c) };
        assert_eq!(st, GMMVI_INVALID_ARGUMENT, "{idx:?}");
        assert_eq!(dim(&c), 0);
    }
    // Conditioning on every coordinate leaves nothing; a non-finite given value is refused.
    assert_eq!(unsafe { gmmvi_model_conditional(&*m, all.as_ptr(), D, x.as_ptr(), &mut *c) }, GMMVI_INVALID_ARGUMENT);
    let mut nan = x.clone();
    nan[0] = R::NAN;
    assert_eq!(unsafe { gmmvi_model_conditional(&*m, [0].as_ptr(), 1, nan.as_ptr(), &mut *c) }, GMMVI_INVALID_ARGUMENT);
    // An empty submodel has no draws and -inf densities.
    let mut rng = seeded(1);
    let mut out = vec![0.0; D];
    assert_eq!(unsafe { gmmvi_submodel_sample(&*c, &mut rng, out.as_mut_ptr(), 1) }, GMMVI_INVALID_ARGUMENT);
    let mut l = [0.0];
    assert_eq!(unsafe { gmmvi_submodel_log_density(&*c, out.as_ptr(), 1, l.as_mut_ptr()) }, GMMVI_OK);
    assert_eq!(l[0], R::NEG_INFINITY);
}

#[test]
fn null_pointers_unprepared_storage_and_overlaps_are_refused() {
    let s = fitted_state();
    let mut m = new_model();
    let mut c = zeroed::<gmmvi_submodel>();
    let mut rng = seeded(5);
    let mut out = vec![0.0 as R; 4 * D];
    let x = [0.0 as R; 4 * D];
    let mut l = [0.0 as R; 4];
    let mut dim = 0usize;
    unsafe {
        assert_eq!(gmmvi_model_init(null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_rng_seed(null_mut(), 1), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_snapshot(null(), &mut *m), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_snapshot(&*s, null_mut()), GMMVI_NULL_POINTER);
        // A model without component: no draws, -inf densities, no marginal.
        assert_eq!(gmmvi_model_sample(&*m, &mut rng, out.as_mut_ptr(), 4), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_model_log_density(&*m, x.as_ptr(), 4, l.as_mut_ptr()), GMMVI_OK);
        assert!(l.iter().all(|v| *v == R::NEG_INFINITY));
        assert_eq!(gmmvi_model_marginal(&*m, [0].as_ptr(), 1, &mut *c), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_snapshot(&*s, &mut *m), GMMVI_OK);

        assert_eq!(gmmvi_model_sample(null(), &mut rng, out.as_mut_ptr(), 4), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_sample(&*m, null_mut(), out.as_mut_ptr(), 4), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_sample(&*m, &mut rng, null_mut(), 4), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_sample(&*m, &mut rng, null_mut(), 0), GMMVI_OK);
        assert_eq!(gmmvi_model_sample(&*m, &mut rng, out.as_mut_ptr(), usize::MAX), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_model_log_density(null(), x.as_ptr(), 4, l.as_mut_ptr()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_log_density(&*m, null(), 4, l.as_mut_ptr()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_log_density(&*m, x.as_ptr(), 4, null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_marginal(null(), [0].as_ptr(), 1, &mut *c), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_marginal(&*m, null(), 1, &mut *c), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_marginal(&*m, [0].as_ptr(), 1, null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_conditional(null(), [0].as_ptr(), 1, x.as_ptr(), &mut *c), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_conditional(&*m, null(), 1, x.as_ptr(), &mut *c), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_conditional(&*m, [0].as_ptr(), 1, null(), &mut *c), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_model_conditional(&*m, [0].as_ptr(), 1, x.as_ptr(), null_mut()), GMMVI_NULL_POINTER);

        // Never filled: the zeroed submodel, model and stream are refused as such.
        let c = zeroed::<gmmvi_submodel>();
        assert_eq!(gmmvi_submodel_dim(&*c, &mut dim), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_submodel_sample(&*c, &mut rng, out.as_mut_ptr(), 4), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_submodel_log_density(&*c, x.as_ptr(), 4, l.as_mut_ptr()), GMMVI_NOT_INITIALIZED);
        let blank = zeroed::<gmmvi_model>();
        assert_eq!(gmmvi_model_log_density(&*blank, x.as_ptr(), 4, l.as_mut_ptr()), GMMVI_NOT_INITIALIZED);
        let mut blank_out = zeroed::<gmmvi_model>();
        assert_eq!(gmmvi_snapshot(&*s, &mut *blank_out), GMMVI_NOT_INITIALIZED);
        let mut unseeded = *zeroed::<gmmvi_rng>();
        assert_eq!(gmmvi_model_sample(&*m, &mut unseeded, out.as_mut_ptr(), 4), GMMVI_NOT_INITIALIZED);

        let mut c = c;
        assert_eq!(gmmvi_model_marginal(&*m, [0, 2].as_ptr(), 2, &mut *c), GMMVI_OK);
        assert_eq!(gmmvi_submodel_dim(null(), &mut dim), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_dim(&*c, null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_sample(null(), &mut rng, out.as_mut_ptr(), 4), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_sample(&*c, null_mut(), out.as_mut_ptr(), 4), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_sample(&*c, &mut rng, null_mut(), 4), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_log_density(null(), x.as_ptr(), 4, l.as_mut_ptr()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_log_density(&*c, null(), 4, l.as_mut_ptr()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_submodel_log_density(&*c, x.as_ptr(), 4, null_mut()), GMMVI_NULL_POINTER);

        // Outputs inside the storage they are computed from are refused.
        let inside = (&mut *m as *mut gmmvi_model).cast::<R>();
        assert_eq!(gmmvi_model_sample(&*m, &mut rng, inside, 1), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_model_log_density(&*m, x.as_ptr(), 1, inside), GMMVI_INVALID_ARGUMENT);
        let sub_inside = (&mut *c as *mut gmmvi_submodel).cast::<usize>();
        assert_eq!(gmmvi_submodel_dim(&*c, sub_inside), GMMVI_INVALID_ARGUMENT);
        let state_inside = (&*s as *const gmmvi_state).cast_mut().cast::<gmmvi_model>();
        assert_eq!(gmmvi_snapshot(&*s, state_inside), GMMVI_INVALID_ARGUMENT);
    }
}

#[test]
fn the_storage_sizes_hold_the_types() {
    assert_eq!(size_of::<gmmvi_model>(), GMMVI_MODEL_SIZE);
    assert_eq!(size_of::<gmmvi_submodel>(), GMMVI_SUBMODEL_SIZE);
    assert_eq!(size_of::<gmmvi_rng>(), 32);
    assert!(size_of::<Gmm<R, D, K>>() + 8 <= GMMVI_MODEL_SIZE);
    assert!(size_of::<SubGmm<R, D, K>>() + 8 <= GMMVI_SUBMODEL_SIZE);
}

/// The stream is written back after the draws: rows over any of its 32 bytes, or a stream
/// inside the (const) model or submodel, are refused before anything is written.
#[test]
fn rows_over_the_stream_and_a_stream_inside_the_model_are_refused() {
    let s = fitted_state();
    let mut m = new_model();
    assert_eq!(unsafe { gmmvi_snapshot(&*s, &mut *m) }, GMMVI_OK);
    let mut c = zeroed::<gmmvi_submodel>();
    assert_eq!(unsafe { gmmvi_model_marginal(&*m, [0, 2].as_ptr(), 2, &mut *c) }, GMMVI_OK);
    // A stream followed by room for two rows.
    let mut arena = vec![0u64; 4 + 2 * D];
    let rng = arena.as_mut_ptr().cast::<gmmvi_rng>();
    assert_eq!(unsafe { gmmvi_rng_seed(rng, 3) }, GMMVI_OK);
    let seeded: Vec<u64> = arena[..4].to_vec();
    for off in (0..32).step_by(align_of::<R>()) {
        let rows = unsafe { arena.as_mut_ptr().cast::<u8>().add(off).cast::<R>() };
        assert_eq!(unsafe { gmmvi_model_sample(&*m, rng, rows, 2) }, GMMVI_INVALID_ARGUMENT, "rows at +{off}");
        assert_eq!(unsafe { gmmvi_submodel_sample(&*c, rng, rows, 2) }, GMMVI_INVALID_ARGUMENT, "rows at +{off}");
        assert_eq!(arena[..4], seeded[..], "rows at +{off}: the stream changed");
    }
    // Rows right after the stream are fine.
    let after = unsafe { arena.as_mut_ptr().add(4).cast::<R>() };
    assert_eq!(unsafe { gmmvi_model_sample(&*m, rng, after, 1) }, GMMVI_OK);

    // A stream inside the model or submodel (nonzero bits there: it would be accepted as
    // seeded and written back into the storage being read).
    let model_bytes = |m: &gmmvi_model| {
        unsafe { std::slice::from_raw_parts((m as *const gmmvi_model).cast::<u64>(), GMMVI_MODEL_WORDS) }.to_vec()
    };
    let before = model_bytes(&m);
    let mut out = vec![0.0 as R; D];
    for word in [1usize, 8, 40] {
        let inside = unsafe { (&mut *m as *mut gmmvi_model).cast::<u64>().add(word).cast::<gmmvi_rng>() };
        for n in [0, 1] {
            assert_eq!(unsafe { gmmvi_model_sample(&*m, inside, out.as_mut_ptr(), n) }, GMMVI_INVALID_ARGUMENT);
        }
        let inside = unsafe { (&mut *c as *mut gmmvi_submodel).cast::<u64>().add(word).cast::<gmmvi_rng>() };
        assert_eq!(unsafe { gmmvi_submodel_sample(&*c, inside, out.as_mut_ptr(), 1) }, GMMVI_INVALID_ARGUMENT);
    }
    assert_eq!(model_bytes(&m), before);
}

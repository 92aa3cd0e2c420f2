//! Bounds and retarget through the C ABI: `gmmvi_set_bounds` / `gmmvi_get_bounds` /
//! `gmmvi_retarget`, and `gmmvi_sample`, `gmmvi_log_density`, `gmmvi_export_model` and
//! `gmmvi_import_model` of a bounded model.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{CStr, c_int, c_void};
use std::ptr::{null, null_mut};

use gmmvi_abi::gmmvi_status::{self, *};
use gmmvi_abi::*;

const D: usize = GMMVI_DIM;

mod common;
use common::{model_bits, stats};
type R = gmmvi_real;
const INF: R = R::INFINITY;

#[allow(clippy::incompatible_msrv)]
fn new_state() -> Box<gmmvi_state> {
    // SAFETY: gmmvi_state is an array of integers: all zeros is a valid value.
    unsafe { Box::<gmmvi_state>::new_zeroed().assume_init() }
}

fn init(s: &mut gmmvi_state, seed: u64) {
    let cfg = gmmvi_config_default();
    assert_eq!(unsafe { gmmvi_init(s, GMMVI_STATE_SIZE, &cfg, seed) }, GMMVI_OK);
}

/// Mixed bounds: two-sided, one-sided each way, and open coordinates.
fn mixed_bounds() -> ([R; D], [R; D]) {
    let (mut lo, mut hi) = ([-INF; D], [INF; D]);
    (lo[0], hi[0]) = (0.0, 1.0);
    hi[1] = 2.0;
    lo[2] = -1.0;
    (lo[3], hi[3]) = (-10.0, 10.0);
    (lo, hi)
}

fn set_bounds(s: &mut gmmvi_state, lo: &[R; D], hi: &[R; D]) -> gmmvi_status {
    unsafe { gmmvi_set_bounds(s, lo.as_ptr(), hi.as_ptr(), D) }
}

fn get_bounds(s: &gmmvi_state) -> ([R; D], [R; D]) {
    let (mut lo, mut hi) = ([0.0; D], [0.0; D]);
    assert_eq!(unsafe { gmmvi_get_bounds(s, lo.as_mut_ptr(), hi.as_mut_ptr(), D) }, GMMVI_OK);
    (lo, hi)
}

fn last_error(s: &gmmvi_state) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    assert_eq!(unsafe { gmmvi_last_error(s, buf.as_mut_ptr(), buf.len(), null_mut()) }, GMMVI_OK);
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string()
}

fn sample(s: &mut gmmvi_state, n: usize) -> Vec<[R; D]> {
    let mut x = vec![[0.0; D]; n];
    assert_eq!(unsafe { gmmvi_sample(s, x.as_mut_ptr().cast(), n) }, GMMVI_OK);
    x
}

fn log_density(s: &gmmvi_state, x: &[[R; D]]) -> Vec<R> {
    let mut lq = vec![0.0; x.len()];
    assert_eq!(unsafe { gmmvi_log_density(s, x.as_ptr().cast(), x.len(), lq.as_mut_ptr()) }, GMMVI_OK);
    lq
}

fn inside(x: &[R; D], lo: &[R; D], hi: &[R; D]) -> bool {
    (0..D).all(|i| lo[i] < x[i] && x[i] < hi[i])
}

/// The callback's context: the target's mean, the bounds it must only be called inside, and
/// the state to re-enter (or NULL).
struct Goal {
    mean: [f64; D],
    lo: [R; D],
    hi: [R; D],
    outside: usize,
    state: *mut gmmvi_state,
    reentered: Vec<gmmvi_status>,
}

/// A normalised Gaussian N(mean, 0.5²·I) (log Z = 0 up to the negligible mass cut off by the
/// bounds) with its gradient; counts points outside the bounds.
unsafe extern "C" fn gaussian(ctx: *mut c_void, x: *const R, n: usize, lp: *mut R, grad: *mut R) -> c_int {
    let g = unsafe { &mut *ctx.cast::<Goal>() };
    if !g.state.is_null() {
        let (mut lo, mut hi) = ([0.0; D], [0.0; D]);
        let s = g.state;
        g.reentered.push(unsafe { gmmvi_set_bounds(s, lo.as_ptr(), hi.as_ptr(), D) });
        g.reentered.push(unsafe { gmmvi_get_bounds(s, lo.as_mut_ptr(), hi.as_mut_ptr(), D) });
        g.reentered.push(unsafe { gmmvi_retarget(s) });
    }
    let (xs, lp) = unsafe { (std::slice::from_raw_parts(x, n * D), std::slice::from_raw_parts_mut(lp, n)) };
    let var = 0.25f64;
    let log_norm = -0.5 * D as f64 * (2.0 * std::f64::consts::PI * var).ln();
    for (i, row) in xs.chunks_exact(D).enumerate() {
        let row: &[R; D] = row.try_into().unwrap();
        if !inside(row, &g.lo, &g.hi) {
            g.outside += 1;
        }
        let sq: f64 = row.iter().zip(&g.mean).map(|(&v, m)| (v as f64 - m).powi(2)).sum();
        lp[i] = (log_norm - 0.5 * sq / var) as R;
        if !grad.is_null() {
            for (d, (&v, m)) in row.iter().zip(&g.mean).enumerate() {
                unsafe { grad.add(i * D + d).write(((m - v as f64) / var) as R) };
            }
        }
    }
    0
}

fn goal(mean: f64, lo: [R; D], hi: [R; D]) -> Goal {
    Goal { mean: [mean; D], lo, hi, outside: 0, state: null_mut(), reentered: vec![] }
}

fn run(s: &mut gmmvi_state, g: &mut Goal, iterations: u64) -> gmmvi_report {
    let mut rep = gmmvi_report::default();
    let st = unsafe { gmmvi_run(s, Some(gaussian), (g as *mut Goal).cast(), iterations, 0, &mut rep) };
    assert_eq!(st, GMMVI_OK);
    rep
}

fn export(s: &gmmvi_state) -> Vec<u8> {
    let mut n = 0usize;
    let mut one = [0u8; 1];
    assert_eq!(unsafe { gmmvi_export_model(s, one.as_mut_ptr(), 1, &mut n) }, GMMVI_BUFFER_TOO_SMALL);
    let mut buf = vec![0u8; n];
    assert_eq!(unsafe { gmmvi_export_model(s, buf.as_mut_ptr(), n, &mut n) }, GMMVI_OK);
    assert_eq!(n, buf.len());
    buf
}

#[test]
fn ffi_bounds_default_open_and_read_back_exactly() {
    let mut s = new_state();
    init(&mut s, 1);
    assert_eq!(get_bounds(&s), ([-INF; D], [INF; D]));
    let (lo, hi) = mixed_bounds();
    assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
    assert_eq!(get_bounds(&s), (lo, hi));
    // Opening every side again is the unbounded default.
    assert_eq!(set_bounds(&mut s, &[-INF; D], &[INF; D]), GMMVI_OK);
    assert_eq!(get_bounds(&s), ([-INF; D], [INF; D]));
}

#[test]
#[cfg_attr(miri, ignore = "optimiser steps: too slow under Miri")]
fn ffi_bounded_samples_lie_inside_and_the_density_is_minus_infinity_outside() {
    let (lo, hi) = mixed_bounds();
    let mut s = new_state();
    init(&mut s, 3);
    assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
    let mut g = goal(0.5, lo, hi);
    for round in 0..2 {
        let xs = sample(&mut s, 500);
        assert!(xs.iter().all(|x| inside(x, &lo, &hi)), "round {round}");
        // Both one-sided coordinates and the open ones reach beyond where two-sided would stop.
        assert!(xs.iter().any(|x| x[1] < 0.0) && xs.iter().any(|x| x[2] > 1.0), "round {round}");
        assert!(log_density(&s, &xs).iter().all(|l| l.is_finite()), "round {round}");
        run(&mut s, &mut g, 10);
    }
    assert_eq!(g.outside, 0, "the callback saw points outside the bounds");
    let mid = sample(&mut s, 1)[0];
    let mut out = vec![];
    for (i, v) in [(0, 0.0), (0, 1.0), (0, 1.5), (0, -0.1), (1, 2.0), (1, 7.0), (2, -1.0), (3, 10.0), (0, R::NAN)] {
        let mut x = mid;
        x[i] = v;
        out.push(x);
    }
    out.push(mid);
    let lq = log_density(&s, &out);
    assert!(lq[..lq.len() - 1].iter().all(|&l| l == -INF), "{lq:?}");
    assert!(lq[lq.len() - 1].is_finite());
}

#[test]
fn ffi_bad_bounds_are_rejected_with_a_message_and_change_nothing() {
    let mut s = new_state();
    init(&mut s, 5);
    let (lo, hi) = mixed_bounds();
    assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
    let before = model_bits(&s);
    let cases: [(usize, R, R); 10] = [
        (3, R::NAN, 1.0),
        (4, 0.0, R::NAN),
        (5, 1.0, 1.0),
        (6, 2.0, 1.0),
        (1, INF, INF),
        (2, -INF, -INF),
        (0, -R::MAX, R::MAX),
        (0, 1.0, 1.0 + R::EPSILON),
        (2, R::MAX, INF),
        (3, -INF, -R::MAX),
    ];
    for (i, l, h) in cases {
        let (mut bl, mut bh) = (lo, hi);
        (bl[i], bh[i]) = (l, h);
        assert_eq!(set_bounds(&mut s, &bl, &bh), GMMVI_INVALID_ARGUMENT, "{i}: ({l}, {h})");
        let msg = last_error(&s);
        assert!(msg.contains(&format!("coordinate {i} ")) && msg.contains("bounds"), "{i}: ({l}, {h}): {msg}");
        assert_eq!(get_bounds(&s), (lo, hi));
    }
    for dim in [0, D - 1, D + 1] {
        assert_eq!(unsafe { gmmvi_set_bounds(&mut *s, lo.as_ptr(), hi.as_ptr(), dim) }, GMMVI_INVALID_ARGUMENT);
        assert!(last_error(&s).contains(&format!("dim = {dim}")), "{}", last_error(&s));
        let (mut l, mut h) = ([0.0; D], [0.0; D]);
        assert_eq!(unsafe { gmmvi_get_bounds(&*s, l.as_mut_ptr(), h.as_mut_ptr(), dim) }, GMMVI_INVALID_ARGUMENT);
    }
    assert_eq!(unsafe { gmmvi_set_bounds(&mut *s, null(), hi.as_ptr(), D) }, GMMVI_NULL_POINTER);
    assert_eq!(unsafe { gmmvi_set_bounds(&mut *s, lo.as_ptr(), null(), D) }, GMMVI_NULL_POINTER);
    let mut out = [0.0; 2 * D];
    let p = out.as_mut_ptr();
    assert_eq!(unsafe { gmmvi_get_bounds(&*s, null_mut(), p, D) }, GMMVI_NULL_POINTER);
    // Overlapping outputs, and outputs or inputs inside the state.
    assert_eq!(unsafe { gmmvi_get_bounds(&*s, p, p.add(D - 1), D) }, GMMVI_INVALID_ARGUMENT);
    let inner = (&mut *s as *mut gmmvi_state).cast::<R>();
    assert_eq!(unsafe { gmmvi_get_bounds(&*s, inner, p, D) }, GMMVI_INVALID_ARGUMENT);
    assert_eq!(unsafe { gmmvi_set_bounds(&mut *s, inner, hi.as_ptr(), D) }, GMMVI_INVALID_ARGUMENT);
    assert_eq!(unsafe { gmmvi_get_bounds(&*s, p, p.add(D), D) }, GMMVI_OK);
    assert_eq!(get_bounds(&s), (lo, hi));
    assert_eq!(model_bits(&s), before);

    let mut fresh = new_state();
    assert_eq!(set_bounds(&mut fresh, &lo, &hi), GMMVI_NOT_INITIALIZED);
    assert_eq!(unsafe { gmmvi_retarget(&mut *fresh) }, GMMVI_NOT_INITIALIZED);
    assert_eq!(unsafe { gmmvi_retarget(null_mut()) }, GMMVI_NULL_POINTER);
    assert_eq!(unsafe { gmmvi_set_bounds(null_mut(), lo.as_ptr(), hi.as_ptr(), D) }, GMMVI_NULL_POINTER);
    assert_eq!(unsafe { gmmvi_get_bounds(null(), p, p.add(D), D) }, GMMVI_NULL_POINTER);
}

#[test]
#[cfg_attr(miri, ignore = "optimiser steps: too slow under Miri")]
fn ffi_calls_from_the_callback_are_refused_as_busy() {
    let (lo, hi) = mixed_bounds();
    let mut s = new_state();
    init(&mut s, 2);
    assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
    let mut g = goal(0.5, lo, hi);
    g.state = &mut *s;
    let mut rep = gmmvi_report::default();
    let st = unsafe { gmmvi_step(&mut *s, Some(gaussian), (&mut g as *mut Goal).cast(), &mut rep) };
    assert_eq!(st, GMMVI_OK);
    assert!(!g.reentered.is_empty() && g.reentered.iter().all(|&r| r == GMMVI_BUSY), "{:?}", g.reentered);
    assert_eq!(get_bounds(&s), (lo, hi));
}

/// Mean and standard deviation of coordinate `i` of the samples.
fn moments(xs: &[[R; D]], i: usize) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().map(|x| x[i] as f64).sum::<f64>() / n;
    let v = xs.iter().map(|x| (x[i] as f64 - m).powi(2)).sum::<f64>() / n;
    (m, v.sqrt())
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri")]
fn ffi_retarget_keeps_the_model_and_the_fit_follows_the_moved_goal() {
    let (lo, hi) = ([-6.0; D], [6.0; D]);
    let mut s = new_state();
    init(&mut s, 11);
    assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
    let mut g = goal(-1.0, lo, hi);
    run(&mut s, &mut g, 60);
    let xs = sample(&mut s, 4000);
    for i in 0..D {
        let (m, sd) = moments(&xs, i);
        assert!((m + 1.0).abs() < 0.1 && (sd - 0.5).abs() < 0.1, "first goal, coordinate {i}: {m} ± {sd}");
    }

    let (bits, r) = (model_bits(&s), stats(&s));
    assert_eq!(unsafe { gmmvi_retarget(&mut *s) }, GMMVI_OK);
    assert_eq!(model_bits(&s), bits, "retarget keeps the model");
    let r2 = stats(&s);
    assert_eq!((r2.iterations, r2.evaluations, r2.components), (r.iterations, r.evaluations, r.components));
    assert_eq!(get_bounds(&s), (lo, hi));

    let mut moved = goal(1.5, lo, hi);
    let rep = run(&mut s, &mut moved, 80);
    assert!(rep.elbo.abs() < 0.2, "ELBO {} (log Z = 0)", rep.elbo);
    let xs = sample(&mut s, 4000);
    for i in 0..D {
        let (m, sd) = moments(&xs, i);
        assert!((m - 1.5).abs() < 0.1 && (sd - 0.5).abs() < 0.1, "moved goal, coordinate {i}: {m} ± {sd}");
    }
    assert_eq!(g.outside + moved.outside, 0);
}

#[test]
#[cfg_attr(miri, ignore = "optimiser steps: too slow under Miri")]
fn ffi_bounds_and_retarget_are_deterministic() {
    let (lo, hi) = mixed_bounds();
    let trace = || {
        let mut s = new_state();
        init(&mut s, 21);
        assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
        run(&mut s, &mut goal(0.5, lo, hi), 8);
        assert_eq!(unsafe { gmmvi_retarget(&mut *s) }, GMMVI_OK);
        let rep = run(&mut s, &mut goal(0.2, lo, hi), 8);
        let xs = sample(&mut s, 50);
        let lq = log_density(&s, &xs);
        let mut bits = model_bits(&s);
        bits.push(rep.elbo.to_bits());
        bits.extend(xs.iter().flatten().chain(&lq).map(|v| v.to_bits() as u64));
        (bits, export(&s))
    };
    assert_eq!(trace(), trace());
}

#[test]
#[cfg_attr(miri, ignore = "optimiser steps: too slow under Miri")]
fn ffi_bounded_export_import_round_trips() {
    let (lo, hi) = mixed_bounds();
    let mut a = new_state();
    init(&mut a, 4);
    let unbounded_len = export(&a).len();
    assert_eq!(set_bounds(&mut a, &lo, &hi), GMMVI_OK);
    run(&mut a, &mut goal(0.5, lo, hi), 10);
    let blob = export(&a);
    assert!(blob.len() > unbounded_len, "a bounded model carries its bounds");

    // A state without bounds takes the model's.
    let mut b = new_state();
    init(&mut b, 9);
    assert_eq!(unsafe { gmmvi_import_model(&mut *b, blob.as_ptr(), blob.len() - 1) }, GMMVI_BAD_CHECKPOINT);
    assert_eq!(get_bounds(&b), ([-INF; D], [INF; D]));
    assert_eq!(unsafe { gmmvi_import_model(&mut *b, blob.as_ptr(), blob.len()) }, GMMVI_OK);
    assert_eq!(get_bounds(&b), (lo, hi));
    assert_eq!(model_bits(&b), model_bits(&a));
    assert_eq!(export(&b), blob);
    let xs = sample(&mut a, 200);
    let (la, lb) = (log_density(&a, &xs), log_density(&b, &xs));
    for (p, q) in la.iter().zip(&lb) {
        assert!(((p - q) as f64).abs() <= 1e-5 * (1.0 + (*p as f64).abs()), "{p} vs {q}");
    }
    assert!(sample(&mut b, 500).iter().all(|x| inside(x, &lo, &hi)));

    // A mixture without bounds keeps the importing state's bounds.
    let mut c = new_state();
    init(&mut c, 6);
    let plain = export(&c);
    assert_eq!(plain.len(), unbounded_len);
    assert_eq!(unsafe { gmmvi_import_model(&mut *b, plain.as_ptr(), plain.len()) }, GMMVI_OK);
    assert_eq!(get_bounds(&b), (lo, hi));
    assert!(sample(&mut b, 500).iter().all(|x| inside(x, &lo, &hi)));
    // The imported bounded model keeps fitting inside its bounds.
    let mut g = goal(0.5, lo, hi);
    run(&mut b, &mut g, 3);
    assert_eq!(g.outside, 0);
}

/// One-sided bounds one step inside the finite range still have a finite value strictly
/// inside, and every sample lies there (`hi = -MAX` itself is refused, see above: the samples
/// came back equal to the bound).
#[test]
#[cfg_attr(miri, ignore = "sampling a few hundred points: slow under Miri")]
fn ffi_extreme_one_sided_bounds_keep_samples_strictly_inside() {
    let mut s = new_state();
    init(&mut s, 9);
    let next_to_max = R::from_bits(R::MAX.to_bits() - 1);
    let (mut lo, mut hi) = ([-INF; D], [INF; D]);
    hi[0] = -next_to_max;
    lo[1] = next_to_max;
    assert_eq!(set_bounds(&mut s, &lo, &hi), GMMVI_OK);
    let n = 200;
    let mut x = vec![0.0 as R; n * D];
    assert_eq!(unsafe { gmmvi_sample(&mut *s, x.as_mut_ptr(), n) }, GMMVI_OK);
    for row in x.chunks_exact(D) {
        assert!(row[0] < hi[0] && row[0].is_finite(), "{row:?}");
        assert!(row[1] > lo[1] && row[1].is_finite(), "{row:?}");
    }
}

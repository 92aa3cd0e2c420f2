//! Every `unsafe` block of `ffi/src/` with the least work, for Miri (`tests/miri.sh`): pointer,
//! size and alignment checks, init, one cheap `gmmvi_step` (with a re-entrant call and a
//! failing callback), sample, log_density, stats, get_component, save/restore,
//! export/import, bounds and retarget, the model calls, the config functions and status
//! strings. Also a plain test under `cargo test`. Storage is zeroed like a C `static`.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{CStr, c_int, c_void};
use std::ptr::{null, null_mut};

use gmmvi_abi::gmmvi_status::{self, *};
use gmmvi_abi::*;

const D: usize = GMMVI_DIM;
type R = gmmvi_real;

// Tests build with the current toolchain; `rust-version` is the library crates' minimum.
#[allow(clippy::incompatible_msrv)]
fn new_state() -> Box<gmmvi_state> {
    // SAFETY: an array of integers: all zeros is a valid value.
    unsafe { Box::<gmmvi_state>::new_zeroed().assume_init() }
}

/// The cheapest config that still runs every stage of a step: Stein estimates (the gradient
/// pointer is used), one fixed component, direct updates, 2 samples, no reuse.
fn cheap_config() -> gmmvi_config {
    let mut c = gmmvi_config_default();
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"SEMIFUX".as_ptr(), &mut c) }, GMMVI_OK);
    c.samples_per_component = 2;
    c.reuse_ratio = 0.0;
    c.initial_components = 1;
    c
}

/// What the callback does.
struct Ctx {
    state: *mut gmmvi_state,
    fail: c_int,
    seen: Vec<gmmvi_status>,
}

/// log p = -|x|²/2 with its gradient; re-enters the state once, or fails with `fail`.
unsafe extern "C" fn target(ctx: *mut c_void, x: *const R, n: usize, lp: *mut R, grad: *mut R) -> c_int {
    let c = unsafe { &mut *ctx.cast::<Ctx>() };
    if c.fail != 0 {
        return c.fail;
    }
    if c.seen.is_empty() {
        let mut rep = gmmvi_report::default();
        c.seen.push(unsafe { gmmvi_stats(c.state, &mut rep) });
        c.seen.push(unsafe { gmmvi_step(c.state, Some(target), ctx, null_mut()) });
    }
    let xs = unsafe { std::slice::from_raw_parts(x, n * D) };
    let lp = unsafe { std::slice::from_raw_parts_mut(lp, n) };
    for (i, row) in xs.chunks_exact(D).enumerate() {
        lp[i] = -0.5 * row.iter().map(|v| v * v).sum::<R>();
        if !grad.is_null() {
            let g = unsafe { std::slice::from_raw_parts_mut(grad.add(i * D), D) };
            for (gd, v) in g.iter_mut().zip(row) {
                *gd = -v;
            }
        }
    }
    0
}

#[test]
fn miri_status_strings_and_config_functions() {
    for code in (0..=13).chain([u32::MAX]) {
        let s = unsafe { CStr::from_ptr(gmmvi_status_str(code)) };
        assert!(!s.to_bytes().is_empty());
    }
    let mut c = gmmvi_config_default();
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"SAMTRON".as_ptr(), &mut c) }, GMMVI_OK);
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"SAMTRONX".as_ptr(), &mut c) }, GMMVI_BAD_CONFIG);
    assert_eq!(unsafe { gmmvi_config_from_codeword(null(), &mut c) }, GMMVI_NULL_POINTER);
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"SAMTRON".as_ptr(), null_mut()) }, GMMVI_NULL_POINTER);
    let text = c"SEMTRUX n_des=5 thresholds_for_add_heuristic=100;50";
    let mut off = usize::MAX;
    assert_eq!(unsafe { gmmvi_config_parse(text.as_ptr(), &mut c, &mut off, core::ptr::null_mut(), 0) }, GMMVI_OK);
    assert_eq!((c.samples_per_component, c.overrides, off), (5, text.as_ptr(), usize::MAX));
    assert_eq!(
        unsafe { gmmvi_config_parse(c"SAMTRUX bogus=1".as_ptr(), &mut c, &mut off, core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    assert_eq!(off, 8);
    // Not UTF-8, too long: the offset where the text stops being acceptable.
    let not_utf8 = [b'S', b' ', 0xff, 0];
    assert_eq!(
        unsafe { gmmvi_config_parse(not_utf8.as_ptr().cast(), &mut c, &mut off, core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    assert_eq!(off, 2);
    let mut long = vec![b' '; 5000];
    long.push(0);
    assert_eq!(
        unsafe { gmmvi_config_parse(long.as_ptr().cast(), &mut c, &mut off, core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    assert_eq!(off, 4096);
    let mut offs = [0usize; 2];
    let mis = unsafe { offs.as_mut_ptr().cast::<u8>().add(1).cast::<usize>() };
    assert_eq!(
        unsafe { gmmvi_config_parse(text.as_ptr(), &mut c, mis, core::ptr::null_mut(), 0) },
        GMMVI_BAD_ALIGNMENT
    );
    assert_eq!(unsafe { gmmvi_config_parse(null(), &mut c, null_mut(), core::ptr::null_mut(), 0) }, GMMVI_NULL_POINTER);
}

#[test]
fn miri_pointer_size_and_state_checks() {
    let cfg = cheap_config();
    let mut s = new_state();
    let sp: *mut gmmvi_state = &mut *s;
    let mut rep = gmmvi_report::default();
    let (mut x, mut lq, mut size) = ([0.0 as R; D], [0.0 as R; 1], 0usize);
    let mut buf = [0u8; 16];
    unsafe {
        // Zeroed storage: not initialised.
        assert_eq!(gmmvi_stats(sp, &mut rep), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_step(sp, Some(target), null_mut(), null_mut()), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_sample(sp, x.as_mut_ptr(), 1), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_log_density(sp, x.as_ptr(), 1, lq.as_mut_ptr()), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_checkpoint_size(sp, &mut size), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_save(sp, buf.as_mut_ptr(), 16, &mut size), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_restore(sp, buf.as_ptr(), 16), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_export_model(sp, buf.as_mut_ptr(), 16, &mut size), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_import_model(sp, buf.as_ptr(), 16), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_get_component(sp, 0, null_mut(), null_mut(), null_mut(), null_mut()), GMMVI_NOT_INITIALIZED);
        // NULL and misaligned states, short buffers, NULL config and callback.
        assert_eq!(gmmvi_init(null_mut(), GMMVI_STATE_SIZE, &cfg, 1), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, null(), 1), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE - 1, &cfg, 1), GMMVI_BUFFER_TOO_SMALL);
        assert_eq!(gmmvi_stats(null(), &mut rep), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_run(sp, None, null_mut(), 1, 0, null_mut()), GMMVI_NULL_POINTER);
        let mut big = vec![0u64; GMMVI_STATE_WORDS + 1];
        let odd = big.as_mut_ptr().cast::<u8>().add(4).cast::<gmmvi_state>();
        assert_eq!(gmmvi_init(odd, GMMVI_STATE_SIZE, &cfg, 1), GMMVI_BAD_ALIGNMENT);
        assert_eq!(gmmvi_stats(odd, &mut rep), GMMVI_BAD_ALIGNMENT);
        let mut bad = cfg;
        bad.samples_per_component = 0;
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &bad, 1), GMMVI_BAD_CONFIG);
        bad = cfg;
        bad.overrides = c"temperature=2".as_ptr();
        bad.codeword = [0; 8];
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &bad, 1), GMMVI_BAD_CONFIG);
        assert_eq!(gmmvi_stats(sp, &mut rep), GMMVI_NOT_INITIALIZED);
    }
}

#[test]
fn miri_one_step_and_every_entry_point() {
    let mut s = new_state();
    let sp: *mut gmmvi_state = &mut *s;
    let cfg = cheap_config();
    let mut rep = gmmvi_report::default();
    unsafe {
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &cfg, 3), GMMVI_OK);
        // One step; the callback's calls back into the state are refused.
        let mut ctx = Ctx { state: sp, fail: 0, seen: vec![] };
        let cp = (&raw mut ctx).cast::<c_void>();
        assert_eq!(gmmvi_step(sp, Some(target), cp, &mut rep), GMMVI_OK);
        assert_eq!((rep.iterations, rep.new_evaluations, rep.components), (1, 2, 1));
        assert_eq!(ctx.seen, [GMMVI_BUSY, GMMVI_BUSY]);
        // A failing callback keeps the model and reports its code.
        ctx.fail = -3;
        assert_eq!(gmmvi_run(sp, Some(target), cp, 1, 0, &mut rep), GMMVI_TARGET_FAILED);
        assert_eq!((rep.iterations, rep.target_error), (1, -3));
        // Reports: out pointer checks.
        let mut r2 = gmmvi_report::default();
        assert_eq!(gmmvi_stats(sp, &mut r2), GMMVI_OK);
        assert_eq!(r2.iterations, 1);
        assert_eq!(gmmvi_stats(sp, null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_stats(sp, sp.cast()), GMMVI_INVALID_ARGUMENT);

        // Sample and log_density, with the buffer checks.
        let mut xs = [0.0 as R; 3 * D];
        assert_eq!(gmmvi_sample(sp, xs.as_mut_ptr(), 3), GMMVI_OK);
        assert!(xs.iter().all(|v| v.is_finite()));
        assert_eq!(gmmvi_sample(sp, null_mut(), 0), GMMVI_OK);
        assert_eq!(gmmvi_sample(sp, xs.as_mut_ptr(), usize::MAX), GMMVI_INVALID_ARGUMENT);
        let mis = xs.as_mut_ptr().cast::<u8>().add(1).cast::<R>();
        assert_eq!(gmmvi_sample(sp, mis, 1), GMMVI_BAD_ALIGNMENT);
        assert_eq!(gmmvi_sample(sp, sp.cast::<R>().add(2), 1), GMMVI_INVALID_ARGUMENT);
        let mut lq = [0.0 as R; 3];
        assert_eq!(gmmvi_log_density(sp, xs.as_ptr(), 3, lq.as_mut_ptr()), GMMVI_OK);
        assert!(lq.iter().all(|v| v.is_finite()));
        assert_eq!(gmmvi_log_density(sp, null(), 1, lq.as_mut_ptr()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_log_density(sp, xs.as_ptr(), 1, sp.cast::<R>()), GMMVI_INVALID_ARGUMENT);

        // The component, every output and none.
        let (mut w, mut m, mut c, mut l) = (0.0 as R, [0.0 as R; D], [0.0 as R; D * D], [0.0 as R; D * D]);
        let st = gmmvi_get_component(sp, 0, &mut w, m.as_mut_ptr(), c.as_mut_ptr(), l.as_mut_ptr());
        assert_eq!(st, GMMVI_OK);
        assert!((w - 1.0).abs() < 1e-5 && l[0] > 0.0 && c[0] > 0.0);
        assert_eq!(gmmvi_get_component(sp, 0, null_mut(), null_mut(), null_mut(), null_mut()), GMMVI_OK);
        assert_eq!(gmmvi_get_component(sp, 1, &mut w, null_mut(), null_mut(), null_mut()), GMMVI_NO_SUCH_COMPONENT);
        let inside = sp.cast::<R>().add(4);
        assert_eq!(gmmvi_get_component(sp, 0, null_mut(), inside, null_mut(), null_mut()), GMMVI_INVALID_ARGUMENT);

        // Checkpoint: size, too small, overlapping, saved, restored into another state.
        let mut size = 0usize;
        assert_eq!(gmmvi_checkpoint_size(sp, &mut size), GMMVI_OK);
        // 8-aligned bytes (Miri gives a `Vec<u8>` alignment 1): the overlap check below needs
        // an aligned `written` inside the buffer.
        let mut words = vec![0u64; size.div_ceil(8)];
        let ckp = words.as_mut_ptr().cast::<u8>();
        let mut written = 0usize;
        assert_eq!(gmmvi_save(sp, ckp, size - 1, &mut written), GMMVI_BUFFER_TOO_SMALL);
        assert_eq!(written, size);
        assert_eq!(gmmvi_save(sp, ckp, size, ckp.cast()), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_save(sp, ckp, size, &mut written), GMMVI_OK);
        let mut t = new_state();
        let tp: *mut gmmvi_state = &mut *t;
        assert_eq!(gmmvi_init(tp, GMMVI_STATE_SIZE, &cfg, 9), GMMVI_OK);
        assert_eq!(gmmvi_restore(tp, ckp, size - 1), GMMVI_BAD_CHECKPOINT);
        assert_eq!(gmmvi_restore(tp, tp.cast::<u8>(), 64), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_restore(tp, ckp, size), GMMVI_OK);
        let mut rt = gmmvi_report::default();
        assert_eq!(gmmvi_stats(tp, &mut rt), GMMVI_OK);
        assert_eq!((rt.iterations, rt.target_error), (1, -3));
        let mut ys = [0.0 as R; D];
        assert_eq!(gmmvi_sample(sp, xs.as_mut_ptr(), 1), GMMVI_OK);
        assert_eq!(gmmvi_sample(tp, ys.as_mut_ptr(), 1), GMMVI_OK);
        assert_eq!(xs[..D], ys[..], "the sample stream is restored too");

        // Model export / import.
        assert_eq!(gmmvi_export_model(sp, ckp, 1, &mut written), GMMVI_BUFFER_TOO_SMALL);
        let mut model = vec![0u8; written];
        assert_eq!(gmmvi_export_model(sp, model.as_mut_ptr(), model.len(), &mut written), GMMVI_OK);
        assert_eq!(gmmvi_export_model(sp, null_mut(), 0, &mut written), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_import_model(tp, model.as_ptr(), model.len() - 1), GMMVI_BAD_CHECKPOINT);
        assert_eq!(gmmvi_import_model(tp, null(), 0), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_import_model(tp, model.as_ptr(), model.len()), GMMVI_OK);
        let mut lt = [0.0 as R; 3];
        assert_eq!(gmmvi_log_density(tp, xs.as_ptr(), 3, lt.as_mut_ptr()), GMMVI_OK);
        assert_eq!(gmmvi_log_density(sp, xs.as_ptr(), 3, lq.as_mut_ptr()), GMMVI_OK);
        for (a, b) in lq.iter().zip(&lt) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + a.abs()), "{a} vs {b}");
        }
        // Re-initialising replaces the optimiser.
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &cfg, 3), GMMVI_OK);
        assert_eq!(gmmvi_stats(sp, &mut rep), GMMVI_OK);
        assert_eq!(rep.iterations, 0);
    }
}

#[test]
fn miri_bounds_and_retarget() {
    let mut s = new_state();
    let sp: *mut gmmvi_state = &mut *s;
    let cfg = cheap_config();
    let (mut lo, mut hi) = ([R::NEG_INFINITY; D], [R::INFINITY; D]);
    (lo[0], hi[0], hi[1]) = (0.0, 1.0, 2.0);
    let (mut gl, mut gh) = ([0.0 as R; D], [0.0 as R; D]);
    unsafe {
        assert_eq!(gmmvi_set_bounds(sp, lo.as_ptr(), hi.as_ptr(), D), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_get_bounds(sp, gl.as_mut_ptr(), gh.as_mut_ptr(), D), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_retarget(sp), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &cfg, 3), GMMVI_OK);

        // Set and read back, with the pointer, size and value checks.
        assert_eq!(gmmvi_set_bounds(sp, lo.as_ptr(), hi.as_ptr(), D), GMMVI_OK);
        assert_eq!(gmmvi_get_bounds(sp, gl.as_mut_ptr(), gh.as_mut_ptr(), D), GMMVI_OK);
        assert_eq!((gl, gh), (lo, hi));
        assert_eq!(gmmvi_set_bounds(sp, null(), hi.as_ptr(), D), GMMVI_NULL_POINTER);
        let mis = lo.as_ptr().cast::<u8>().add(1).cast::<R>();
        assert_eq!(gmmvi_set_bounds(sp, mis, hi.as_ptr(), D), GMMVI_BAD_ALIGNMENT);
        assert_eq!(gmmvi_set_bounds(sp, sp.cast::<R>().add(2), hi.as_ptr(), D), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_set_bounds(sp, lo.as_ptr(), hi.as_ptr(), D + 1), GMMVI_INVALID_ARGUMENT);
        let mut bad = lo;
        bad[2] = R::NAN;
        assert_eq!(gmmvi_set_bounds(sp, bad.as_ptr(), hi.as_ptr(), D), GMMVI_INVALID_ARGUMENT);
        let mut msg = [0 as std::ffi::c_char; 256];
        assert_eq!(gmmvi_last_error(sp, msg.as_mut_ptr(), msg.len(), null_mut()), GMMVI_OK);
        assert!(CStr::from_ptr(msg.as_ptr()).to_bytes().starts_with(b"bounds of coordinate 2 "));
        assert_eq!(gmmvi_get_bounds(sp, null_mut(), gh.as_mut_ptr(), D), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_get_bounds(sp, gl.as_mut_ptr(), sp.cast::<R>(), D), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_get_bounds(sp, gl.as_mut_ptr(), gl.as_mut_ptr(), D), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_get_bounds(sp, gl.as_mut_ptr(), gh.as_mut_ptr(), 1), GMMVI_INVALID_ARGUMENT);

        // A bounded step, samples inside, the density outside, retarget, another step.
        let mut ctx = Ctx { state: null_mut(), fail: 0, seen: vec![GMMVI_OK] };
        let cp = (&raw mut ctx).cast::<c_void>();
        assert_eq!(gmmvi_step(sp, Some(target), cp, null_mut()), GMMVI_OK);
        let mut xs = [0.0 as R; 2 * D];
        assert_eq!(gmmvi_sample(sp, xs.as_mut_ptr(), 2), GMMVI_OK);
        assert!(xs.chunks_exact(D).all(|x| 0.0 < x[0] && x[0] < 1.0 && x[1] < 2.0));
        xs[D] = 1.0;
        let mut lq = [0.0 as R; 2];
        assert_eq!(gmmvi_log_density(sp, xs.as_ptr(), 2, lq.as_mut_ptr()), GMMVI_OK);
        assert!(lq[0].is_finite() && lq[1] == R::NEG_INFINITY);
        assert_eq!(gmmvi_retarget(sp), GMMVI_OK);
        assert_eq!(gmmvi_retarget(null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_step(sp, Some(target), cp, null_mut()), GMMVI_OK);

        // A bounded model carries its bounds into another state.
        let mut written = 0usize;
        let mut one = [0u8; 1];
        assert_eq!(gmmvi_export_model(sp, one.as_mut_ptr(), 1, &mut written), GMMVI_BUFFER_TOO_SMALL);
        let mut model = vec![0u8; written];
        assert_eq!(gmmvi_export_model(sp, model.as_mut_ptr(), model.len(), &mut written), GMMVI_OK);
        let mut t = new_state();
        let tp: *mut gmmvi_state = &mut *t;
        assert_eq!(gmmvi_init(tp, GMMVI_STATE_SIZE, &cfg, 9), GMMVI_OK);
        assert_eq!(gmmvi_import_model(tp, model.as_ptr(), model.len()), GMMVI_OK);
        assert_eq!(gmmvi_get_bounds(tp, gl.as_mut_ptr(), gh.as_mut_ptr(), D), GMMVI_OK);
        assert_eq!((gl, gh), (lo, hi));
    }
}

#[test]
fn miri_model_snapshot_marginal_and_conditional() {
    let mut s = new_state();
    let sp: *mut gmmvi_state = &mut *s;
    // SAFETY (below): the storage types are arrays of integers: zeros are valid values.
    #[allow(clippy::incompatible_msrv)]
    let (mut m, mut c) =
        unsafe { (Box::<gmmvi_model>::new_zeroed().assume_init(), Box::<gmmvi_submodel>::new_zeroed().assume_init()) };
    let mut rng = gmmvi_rng_zeroed();
    unsafe {
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &cheap_config(), 3), GMMVI_OK);
        assert_eq!(gmmvi_snapshot(sp, &mut *m), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_model_init(&mut *m), GMMVI_OK);
        assert_eq!(gmmvi_snapshot(sp, &mut *m), GMMVI_OK);
        assert_eq!(gmmvi_rng_seed(&mut rng, 1), GMMVI_OK);
        let mut xs = [0.0 as R; 2 * D];
        assert_eq!(gmmvi_model_sample(&*m, &mut rng, xs.as_mut_ptr(), 2), GMMVI_OK);
        let (mut a, mut b) = ([0.0 as R; 2], [0.0 as R; 2]);
        assert_eq!(gmmvi_model_log_density(&*m, xs.as_ptr(), 2, a.as_mut_ptr()), GMMVI_OK);
        assert_eq!(gmmvi_log_density(sp, xs.as_ptr(), 2, b.as_mut_ptr()), GMMVI_OK);
        assert_eq!(a, b);
        let mut dim = 0usize;
        assert_eq!(gmmvi_model_marginal(&*m, [0].as_ptr(), 1, &mut *c), GMMVI_OK);
        assert_eq!(gmmvi_submodel_dim(&*c, &mut dim), GMMVI_OK);
        assert_eq!(dim, 1);
        assert_eq!(gmmvi_model_conditional(&*m, [0].as_ptr(), 1, xs.as_ptr(), &mut *c), GMMVI_OK);
        assert_eq!(gmmvi_submodel_sample(&*c, &mut rng, xs.as_mut_ptr(), 2), GMMVI_OK);
        assert_eq!(gmmvi_submodel_log_density(&*c, xs.as_ptr(), 2, a.as_mut_ptr()), GMMVI_OK);
        assert!(a.iter().all(|v| v.is_finite()));
        assert_eq!(gmmvi_model_marginal(&*m, [0, 0].as_ptr(), 2, &mut *c), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_submodel_dim(&*c, &mut dim), GMMVI_OK);
        assert_eq!(dim, 0);
        // Inputs inside the output submodel are read (copied) before it is written: a fresh,
        // zeroed submodel starts with the index 0 and the value 0.0.
        let mut fresh: Box<gmmvi_submodel> = Box::new_zeroed().assume_init();
        let inside: *mut gmmvi_submodel = &mut *fresh;
        assert_eq!(gmmvi_model_marginal(&*m, inside.cast::<usize>(), 1, inside), GMMVI_OK);
        assert_eq!(gmmvi_submodel_dim(&*fresh, &mut dim), GMMVI_OK);
        assert_eq!(dim, 1);
        let mut fresh: Box<gmmvi_submodel> = Box::new_zeroed().assume_init();
        let inside: *mut gmmvi_submodel = &mut *fresh;
        let x = inside.cast::<u8>().add(64).cast::<R>();
        assert_eq!(gmmvi_model_conditional(&*m, [0].as_ptr(), 1, x, inside), GMMVI_OK);
        assert_eq!(gmmvi_submodel_dim(&*fresh, &mut dim), GMMVI_OK);
        assert_eq!(dim, D - 1);
    }
}

fn gmmvi_rng_zeroed() -> gmmvi_rng {
    // SAFETY: four integers.
    unsafe { std::mem::zeroed() }
}

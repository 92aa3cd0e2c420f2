//! Interleavings of every `gmmvi_*` entry point on one state, called as C calls them: fuzzed
//! configs and seeds, NULL / misaligned / overlapping / short buffers, scripted callbacks
//! (garbage, NaN, ±inf, huge values, error codes, NaN gradients, re-entrant calls), and
//! checkpoint and model bytes taken from the state and edited (with or without forged
//! checksums). After every call the invariants of `common::check_state` must hold; at most
//! `MAX_ITERATIONS` optimiser iterations run per input.
#![no_main]
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use arbitrary::Arbitrary;
use common::*;
use gmmvi_abi::gmmvi_status::{self, *};
use gmmvi_abi::*;
use libfuzzer_sys::fuzz_target;

/// An output pointer.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Out {
    Good,
    Null,
    Misaligned,
    /// Into the state (must be refused: the library holds references into it).
    InState(u16),
}

/// An input pointer of a byte blob.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum InPtr {
    Good,
    Null,
    InState(u16),
    /// A valid pointer with length 0.
    Empty,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Cap {
    Exact,
    Short(u16),
    Zero,
    Extra(u8),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SizeArg {
    Exact,
    Short(u16),
    Zero,
    Large(u32),
}

#[derive(Arbitrary, Debug, Clone)]
enum BlobSrc {
    LastSave,
    LastExport,
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone)]
struct Blob {
    src: BlobSrc,
    edits: Vec<Edit>,
    truncate: Option<u16>,
    fix_checksums: bool,
    ptr: InPtr,
}

#[derive(Arbitrary, Debug, Clone)]
struct InitOp {
    cfg: ConfigSpec,
    seed: u64,
    size: SizeArg,
    /// 0: NULL config, 1: misaligned config, else the config.
    cfg_ptr: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum N {
    Small(u8),
    Zero,
    /// `n * GMMVI_DIM` overflows (the buffer is small: the library must refuse first).
    Overflow(bool),
}

#[derive(Arbitrary, Debug, Clone)]
enum Op {
    Init(InitOp),
    Step { script: Vec<u8>, report: Out },
    Run { iterations: u8, max_evaluations: u16, script: Vec<u8>, report: Out, no_callback: bool },
    Sample { n: N, out: Out },
    LogDensity { n: N, xs: Vec<Real>, x: Out, out: Out },
    Stats { out: Out },
    Component { k: u8, which: u8, out: Out },
    CheckpointSize { out: Out },
    Save { cap: Cap, out: Out, written: Out, overlap: bool },
    Restore(Blob),
    Export { cap: Cap, out: Out, written: Out },
    Import(Blob),
    StatusStr(u32),
    SetBounds { lo: Vec<Real>, hi: Vec<Real>, dim: DimArg, lo_ptr: Out, hi_ptr: Out },
    GetBounds { dim: DimArg, lo: Out, hi: Out, overlap: bool },
    Retarget,
}

/// The `dim` argument of `gmmvi_set_bounds` / `gmmvi_get_bounds`.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum DimArg {
    Exact,
    Other(u8),
}

impl DimArg {
    fn get(self) -> usize {
        match self {
            DimArg::Exact => D,
            DimArg::Other(v) => usize::from(v),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    fill: u8,
    /// < 240: aligned state; else misaligned (every call must refuse it).
    state_mode: u8,
    first: InitOp,
    ops: Vec<Op>,
}

/// Refusals any call on a state may give.
const PTR_ERRS: [gmmvi_status; 4] =
    [GMMVI_NULL_POINTER, GMMVI_INVALID_ARGUMENT, GMMVI_BAD_ALIGNMENT, GMMVI_NOT_INITIALIZED];

fn allowed(extra: &[gmmvi_status]) -> Vec<gmmvi_status> {
    PTR_ERRS.iter().chain(extra).copied().collect()
}

struct Harness {
    buf: StateBuf,
    s: *mut gmmvi_state,
    init: bool,
    iterations_left: u64,
    last_save: Vec<u8>,
    last_export: Vec<u8>,
}

/// A buffer of `len` `T`s with one spare, and the pointer `mode` asks for.
fn out_ptr<T: Copy + Default>(h: &Harness, v: &mut Vec<T>, len: usize, mode: Out) -> *mut T {
    v.clear();
    v.resize(len + 1, T::default());
    match mode {
        Out::Good => v.as_mut_ptr(),
        Out::Null => null_mut(),
        Out::Misaligned if align_of::<T>() > 1 => unsafe { v.as_mut_ptr().cast::<u8>().add(1).cast() },
        Out::Misaligned => unsafe { v.as_mut_ptr().add(1) },
        Out::InState(off) => h.buf.inside(off),
    }
}

/// Weight, mean and factor bits of every component (to check "the model is unchanged").
fn model_bits(s: *mut gmmvi_state) -> Vec<u64> {
    let mut r = gmmvi_report::default();
    if unsafe { gmmvi_stats(s, &mut r) } != GMMVI_OK {
        return vec![];
    }
    let mut out = vec![r.iterations];
    for k in 0..r.components as usize {
        let (mut w, mut m, mut l) = (0.0 as R, [0.0 as R; D], [0.0 as R; D * D]);
        let st = unsafe { gmmvi_get_component(s, k, &mut w, m.as_mut_ptr(), null_mut(), l.as_mut_ptr()) };
        assert_eq!(st, GMMVI_OK);
        out.extend([w].iter().chain(&m).chain(&l).map(|v| v.to_bits() as u64));
    }
    out
}

impl Harness {
    fn init(&mut self, op: &InitOp) {
        let built = build_config(&op.cfg);
        let cfg_store = vec![built.cfg; 2];
        let cfg: *const gmmvi_config = match op.cfg_ptr {
            0 => null(),
            1 => unsafe { cfg_store.as_ptr().cast::<u8>().add(4).cast() },
            _ => cfg_store.as_ptr(),
        };
        let size = match op.size {
            SizeArg::Exact => GMMVI_STATE_SIZE,
            SizeArg::Short(v) => usize::from(v) % GMMVI_STATE_SIZE,
            SizeArg::Zero => 0,
            SizeArg::Large(v) => GMMVI_STATE_SIZE + v as usize,
        };
        let st = unsafe { gmmvi_init(self.s, size, cfg, op.seed) };
        check_status(
            st,
            &[GMMVI_OK, GMMVI_NULL_POINTER, GMMVI_BAD_ALIGNMENT, GMMVI_BUFFER_TOO_SMALL, GMMVI_BAD_CONFIG],
            "gmmvi_init",
        );
        match st {
            GMMVI_OK => {
                assert!(!cfg.is_null() && size >= GMMVI_STATE_SIZE && op.cfg_ptr > 1);
                self.init = true;
                let mut r = gmmvi_report::default();
                assert_eq!(unsafe { gmmvi_stats(self.s, &mut r) }, GMMVI_OK);
                assert_eq!((r.iterations, r.evaluations), (0, 0));
                assert!(r.elbo.is_nan());
            }
            // Pointer and size errors leave the state untouched.
            GMMVI_NULL_POINTER | GMMVI_BAD_ALIGNMENT | GMMVI_BUFFER_TOO_SMALL => {}
            _ => self.init = false,
        }
        drop(cfg_store);
        drop(built);
    }

    fn run(&mut self, iterations: u64, max_evaluations: u64, script: &[u8], report: Out, f: bool) -> gmmvi_status {
        let iterations = iterations.min(self.iterations_left);
        self.iterations_left -= iterations;
        let before = model_bits(self.s);
        let mut ctx = Script::new(script, self.s);
        let mut rv = Vec::new();
        let rp = out_ptr(self, &mut rv, 1, report);
        let cb: gmmvi_log_density_fn = if f { Some(callback) } else { None };
        let ctx_p = (&raw mut ctx).cast::<c_void>();
        let st = unsafe { gmmvi_run(self.s, cb, ctx_p, iterations, max_evaluations, rp) };
        let what = "gmmvi_run";
        check_status(st, &allowed(&[GMMVI_OK, GMMVI_TARGET_FAILED, GMMVI_NON_FINITE_TARGET, GMMVI_NUMERICAL]), what);
        let good = self.init && f && matches!(report, Out::Good | Out::Null);
        if st == GMMVI_OK {
            assert!(good, "{what} accepted a bad argument ({report:?}, callback {f})");
            let mut r = gmmvi_report::default();
            assert_eq!(unsafe { gmmvi_stats(self.s, &mut r) }, GMMVI_OK);
            if report == Out::Good {
                let same = gmmvi_report { elbo: 0.0, ..rv[0] } == gmmvi_report { elbo: 0.0, ..r }
                    && rv[0].elbo.to_bits() == r.elbo.to_bits();
                assert!(same, "the report written {:?} equals gmmvi_stats {r:?}", rv[0]);
            }
            let done = r.iterations - before[0];
            assert!(done <= iterations, "{done} iterations of {iterations}");
            // A NaN estimate is the library's signal of non-finite estimates (finite but huge
            // target values overflow the scalar): the weight update is then skipped.
            if done > 0 && r.weights_frozen == 0 {
                assert!(!r.elbo.is_nan(), "ELBO estimate NaN after a step with weights updated: {r:?}");
            }
        } else if matches!(st, GMMVI_TARGET_FAILED | GMMVI_NON_FINITE_TARGET | GMMVI_NUMERICAL) {
            assert!(good);
            if iterations == 1 {
                assert_eq!(model_bits(self.s), before, "a failed step changed the model ({st:?})");
            }
        } else if good {
            panic!("{what}: refusal {st:?} of good arguments");
        }
        st
    }

    fn blob(&self, b: &Blob) -> (Vec<u8>, InPtr) {
        let mut v = match &b.src {
            BlobSrc::LastSave => self.last_save.clone(),
            BlobSrc::LastExport => self.last_export.clone(),
            BlobSrc::Raw(r) => r.clone(),
        };
        apply_edits(&mut v, &b.edits);
        if let Some(t) = b.truncate {
            v.truncate(usize::from(t));
        }
        if b.fix_checksums {
            fix_checksums(&mut v);
        }
        (v, b.ptr)
    }

    fn put_blob(&mut self, b: &Blob, import: bool) {
        let (bytes, mode) = self.blob(b);
        let own = if import { matches!(b.src, BlobSrc::LastExport) } else { matches!(b.src, BlobSrc::LastSave) };
        let pristine = own && b.edits.is_empty() && b.truncate.is_none();
        let (p, len) = match mode {
            InPtr::Good => (bytes.as_ptr(), bytes.len()),
            InPtr::Null => (null(), bytes.len()),
            InPtr::InState(off) => (self.buf.inside::<u8>(off).cast_const(), bytes.len().min(64)),
            InPtr::Empty => (bytes.as_ptr(), 0),
        };
        let before = model_bits(self.s);
        let st = unsafe { if import { gmmvi_import_model(self.s, p, len) } else { gmmvi_restore(self.s, p, len) } };
        let what = if import { "gmmvi_import_model" } else { "gmmvi_restore" };
        check_status(st, &allowed(&[GMMVI_OK, GMMVI_BAD_CHECKPOINT]), what);
        if st == GMMVI_OK {
            assert!(self.init && mode == InPtr::Good, "{what} accepted {mode:?}");
        } else if self.init {
            assert_eq!(model_bits(self.s), before, "{what} failed ({st:?}) but changed the model");
        }
        if import && pristine && self.init && mode == InPtr::Good && !bytes.is_empty() {
            assert_eq!(st, GMMVI_OK, "a model exported by this build must import");
        }
    }

    fn op(&mut self, op: &Op) {
        let s = self.s;
        let all_good = |h: &Harness, outs: &[Out]| h.init && outs.iter().all(|o| matches!(o, Out::Good));
        match op {
            Op::Init(i) => self.init(i),
            Op::Step { script, report } => {
                if self.iterations_left > 0 {
                    self.run(1, 0, script, *report, true);
                }
            }
            Op::Run { iterations, max_evaluations, script, report, no_callback } => {
                self.run(u64::from(*iterations), u64::from(*max_evaluations), script, *report, !no_callback);
            }
            Op::Sample { n, out } => {
                let (n, len) = match n {
                    N::Small(v) => (usize::from(*v), usize::from(*v) * D),
                    N::Zero => (0, 0),
                    N::Overflow(b) => (if *b { usize::MAX } else { usize::MAX / 2 }, 1),
                };
                let mut v: Vec<R> = Vec::new();
                let p = out_ptr(self, &mut v, len, *out);
                let st = unsafe { gmmvi_sample(s, p, n) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_sample");
                if st == GMMVI_OK {
                    assert!(self.init && (n == 0 || *out == Out::Good), "sample accepted {out:?}");
                    assert!(v[..len].iter().all(|x| !x.is_nan()));
                } else {
                    assert!(!all_good(self, &[*out]) || matches!(n_kind(n), 2), "sample refused {st:?}");
                }
            }
            Op::LogDensity { n, xs, x, out } => {
                let (n, len) = match n {
                    N::Small(v) => (usize::from(*v), usize::from(*v) * D),
                    N::Zero => (0, 0),
                    N::Overflow(b) => (if *b { usize::MAX } else { usize::MAX / 2 }, 1),
                };
                let mut xv: Vec<R> = Vec::new();
                let xp = out_ptr(self, &mut xv, len, if matches!(x, Out::InState(_)) { Out::Good } else { *x });
                for (i, v) in xv.iter_mut().enumerate() {
                    *v = xs.get(i % xs.len().max(1)).map_or(0.0, |r| r.r());
                }
                let mut lv: Vec<R> = Vec::new();
                let lp = out_ptr(self, &mut lv, n.min(len), *out);
                let st = unsafe { gmmvi_log_density(s, xp, n, lp) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_log_density");
                if st == GMMVI_OK && n > 0 {
                    assert!(self.init && *out == Out::Good && !matches!(x, Out::Null | Out::Misaligned));
                    for (i, l) in lv[..n].iter().enumerate() {
                        let row = &xv[i * D..(i + 1) * D];
                        if row.iter().all(|v| v.is_finite()) {
                            assert!(!l.is_nan() && *l != R::INFINITY, "log q {l} at finite {row:?}");
                        }
                    }
                }
            }
            Op::Stats { out } => {
                let mut v = Vec::new();
                let p = out_ptr(self, &mut v, 1, *out);
                let st = unsafe { gmmvi_stats(s, p) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_stats");
                assert_eq!(st == GMMVI_OK, all_good(self, &[*out]), "stats {st:?} with {out:?}");
            }
            Op::Component { k, which, out } => {
                let mut bufs: [Vec<R>; 4] = Default::default();
                let lens = [1, D, D * D, D * D];
                let mut ps = [null_mut(); 4];
                for (i, (b, len)) in bufs.iter_mut().zip(lens).enumerate() {
                    let mode = if which & (1 << i) == 0 { Out::Null } else { *out };
                    ps[i] = out_ptr(self, b, len, mode);
                }
                let st = unsafe { gmmvi_get_component(s, usize::from(*k % 16), ps[0], ps[1], ps[2], ps[3]) };
                check_status(st, &allowed(&[GMMVI_OK, GMMVI_NO_SUCH_COMPONENT]), "gmmvi_get_component");
                if st == GMMVI_OK {
                    for (b, len) in bufs.iter().zip(lens) {
                        assert!(b[..len].iter().all(|v| v.is_finite()), "component {k}: {b:?}");
                    }
                }
            }
            Op::CheckpointSize { out } => {
                let mut v = Vec::new();
                let p = out_ptr(self, &mut v, 1, *out);
                let st = unsafe { gmmvi_checkpoint_size(s, p) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_checkpoint_size");
                assert_eq!(st == GMMVI_OK, all_good(self, &[*out]));
            }
            Op::Save { cap, out, written, overlap } => self.save(*cap, *out, *written, *overlap, false),
            Op::Export { cap, out, written } => self.save(*cap, *out, *written, false, true),
            Op::Restore(b) => self.put_blob(b, false),
            Op::Import(b) => self.put_blob(b, true),
            Op::StatusStr(c) => check_status_str(*c),
            Op::SetBounds { lo, hi, dim, lo_ptr, hi_ptr } => self.set_bounds(lo, hi, *dim, *lo_ptr, *hi_ptr),
            Op::GetBounds { dim, lo, hi, overlap } => self.get_bounds(*dim, *lo, *hi, *overlap),
            Op::Retarget => {
                let before = model_bits(s);
                let st = unsafe { gmmvi_retarget(s) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_retarget");
                assert_eq!(st == GMMVI_OK, self.init, "retarget {st:?}");
                assert_eq!(model_bits(s), before, "retarget changed the model or the counters");
            }
        }
    }

    /// `gmmvi_set_bounds` with fuzzed values (NaN, ±inf, huge, equal, reversed) and pointers:
    /// accepted exactly when the core's `Bounds::new` accepts the values, and then read back.
    fn set_bounds(&mut self, lo: &[Real], hi: &[Real], dim: DimArg, lo_ptr: Out, hi_ptr: Out) {
        let pick = |v: &[Real], i: usize| v.get(i % v.len().max(1)).map_or(R::NEG_INFINITY, |r| r.r());
        let l: [R; D] = core::array::from_fn(|i| pick(lo, i));
        let h: [R; D] = core::array::from_fn(|i| if hi.is_empty() { R::INFINITY } else { pick(hi, i) });
        let (mut lv, mut hv): (Vec<R>, Vec<R>) = (Vec::new(), Vec::new());
        let lp = out_ptr(self, &mut lv, D, lo_ptr);
        let hp = out_ptr(self, &mut hv, D, hi_ptr);
        lv[..D].copy_from_slice(&l);
        hv[..D].copy_from_slice(&h);
        let lp = if lo_ptr == Out::Good { lv.as_ptr() } else { lp.cast_const() };
        let hp = if hi_ptr == Out::Good { hv.as_ptr() } else { hp.cast_const() };
        let before = (model_bits(self.s), bounds_of(self.s));
        let st = unsafe { gmmvi_set_bounds(self.s, lp, hp, dim.get()) };
        check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_set_bounds");
        let valid = gmmvi::Bounds::<R, D>::new(&l, &h).is_ok();
        let ptrs_good = self.init && lo_ptr == Out::Good && hi_ptr == Out::Good;
        if st == GMMVI_OK {
            assert!(ptrs_good && dim.get() == D && valid, "set_bounds accepted {l:?} {h:?} dim {dim:?}");
            let (gl, gh) = bounds_of(self.s).expect("bounds of an initialised state");
            let same = |a: &[R; D], b: &[R; D]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same(&gl, &l) && same(&gh, &h), "read back {gl:?} {gh:?} after {l:?} {h:?}");
            assert_eq!(model_bits(self.s), before.0, "set_bounds changed the model");
        } else {
            assert!(!(ptrs_good && dim.get() == D && valid), "set_bounds refused good bounds {l:?} {h:?}: {st:?}");
            assert_eq!((model_bits(self.s), bounds_of(self.s)), before, "a refused set_bounds changed the state");
            if st == GMMVI_INVALID_ARGUMENT && ptrs_good {
                let mut msg = [0 as core::ffi::c_char; 256];
                assert_eq!(unsafe { gmmvi_last_error(self.s, msg.as_mut_ptr(), msg.len(), null_mut()) }, GMMVI_OK);
                let m = unsafe { core::ffi::CStr::from_ptr(msg.as_ptr()) }.to_bytes();
                assert!(m.starts_with(b"bounds of coordinate ") || m.starts_with(b"dim = "), "message {m:?}");
            }
        }
    }

    /// `gmmvi_get_bounds` with fuzzed pointers, sizes and overlapping outputs.
    fn get_bounds(&mut self, dim: DimArg, lo: Out, hi: Out, overlap: bool) {
        let (mut lv, mut hv): (Vec<R>, Vec<R>) = (Vec::new(), Vec::new());
        let lp = out_ptr(self, &mut lv, D, lo);
        let mut hp = out_ptr(self, &mut hv, D, hi);
        if overlap && lo == Out::Good {
            hp = unsafe { lp.add(D / 2) };
        }
        let st = unsafe { gmmvi_get_bounds(self.s, lp, hp, dim.get()) };
        check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_get_bounds");
        let good = self.init && lo == Out::Good && (hi == Out::Good || overlap) && dim.get() == D;
        assert_eq!(st == GMMVI_OK, good && !overlap, "get_bounds {st:?}: {lo:?} {hi:?} {overlap} {dim:?}");
        if st == GMMVI_OK {
            assert!((0..D).all(|i| lv[i] < hv[i]), "bounds read back {lv:?} {hv:?}");
        }
    }

    /// `gmmvi_save` or `gmmvi_export_model` into a buffer of fuzzed capacity.
    fn save(&mut self, cap: Cap, out: Out, written: Out, overlap: bool, export: bool) {
        let s = self.s;
        let mut needed = 0usize;
        if self.init && !export {
            assert_eq!(unsafe { gmmvi_checkpoint_size(s, &mut needed) }, GMMVI_OK);
        }
        let cap_n = |needed: usize| match cap {
            Cap::Exact => needed,
            Cap::Short(v) => usize::from(v) % needed.max(1),
            Cap::Zero => 0,
            Cap::Extra(v) => needed + usize::from(v),
        };
        // The export size is known only from a first call (with a 1-byte buffer).
        if export && self.init {
            let (mut one, mut w) = ([0u8; 1], 0usize);
            let st = unsafe { gmmvi_export_model(s, one.as_mut_ptr(), 1, &mut w) };
            assert_eq!(st, GMMVI_BUFFER_TOO_SMALL);
            needed = w;
        }
        let c = cap_n(needed);
        let mut ob: Vec<u8> = Vec::new();
        let op = out_ptr(self, &mut ob, c, if out == Out::Misaligned { Out::Good } else { out });
        let mut wb: Vec<usize> = Vec::new();
        let mut wp = out_ptr(self, &mut wb, 1, written);
        if overlap && !op.is_null() && c >= size_of::<usize>() && out == Out::Good {
            wp = op.cast();
            if !wp.is_aligned() {
                wp = null_mut();
            }
        }
        let st = unsafe { if export { gmmvi_export_model(s, op, c, wp) } else { gmmvi_save(s, op, c, wp) } };
        let what = if export { "gmmvi_export_model" } else { "gmmvi_save" };
        check_status(st, &allowed(&[GMMVI_OK, GMMVI_BUFFER_TOO_SMALL]), what);
        let ptrs_good = self.init && matches!(out, Out::Good | Out::Misaligned) && written == Out::Good;
        let aliased = wp.cast::<u8>() == op && !op.is_null();
        if st == GMMVI_OK {
            assert!(ptrs_good && !aliased && c >= needed, "{what} accepted {out:?} {written:?} cap {c} of {needed}");
            assert_eq!(wb[0], needed, "{what}: bytes written");
            let blob = ob[..needed].to_vec();
            if export {
                self.last_export = blob;
            } else {
                self.last_save = blob;
            }
        } else if st == GMMVI_BUFFER_TOO_SMALL {
            assert!(c < needed);
            assert_eq!(wb[0], needed, "{what}: size needed");
        } else if ptrs_good && !aliased {
            panic!("{what} refused good arguments: {st:?}");
        }
    }
}

/// The bounds of an initialised state (None otherwise).
fn bounds_of(s: *mut gmmvi_state) -> Option<([R; D], [R; D])> {
    let (mut l, mut h) = ([0.0 as R; D], [0.0 as R; D]);
    (unsafe { gmmvi_get_bounds(s, l.as_mut_ptr(), h.as_mut_ptr(), D) } == GMMVI_OK).then_some((l, h))
}

/// 2 for the overflowing counts (refused even with good pointers), 0/1 otherwise.
fn n_kind(n: usize) -> u8 {
    if n.checked_mul(D).is_none() { 2 } else { u8::from(n > 0) }
}

fuzz_target!(|input: Input| {
    let buf = StateBuf::new(input.fill);
    let s = if input.state_mode < 240 { buf.aligned() } else { buf.misaligned() };
    let mut h =
        Harness { buf, s, init: false, iterations_left: MAX_ITERATIONS, last_save: vec![], last_export: vec![] };
    h.init(&input.first);
    check_state(h.s, h.init);
    for op in input.ops.iter().take(24) {
        h.op(op);
        check_state(h.s, h.init);
    }
});

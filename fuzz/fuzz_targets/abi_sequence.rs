//! Interleavings of every `gmmvi_*` entry point on one state, called as C calls them: fuzzed
//! configs and seeds, NULL / misaligned / overlapping / short buffers, scripted callbacks
//! (garbage, NaN, ±inf, huge values, error codes, NaN gradients, re-entrant calls), and
//! checkpoint and model bytes taken from the state and edited (with or without forged
//! checksums). The model calls run on a `gmmvi_model`, a `gmmvi_submodel` and a `gmmvi_rng` in
//! caller storage (unprepared, NULL, misaligned, placed inside each other or the state), with
//! fuzzed index sets and given values; the `_abi` calls get this build's fingerprint or
//! another. After every call the invariants of `common::check_state` must hold (and those of
//! the model calls: statuses, untouched inputs, empty submodels after a failure, snapshot
//! densities equal to the state's, kept coordinates); at most `MAX_ITERATIONS` optimiser
//! iterations run per input. `fuzz/check_entry_points.sh` checks that every exported function
//! is called here or in another target.
#![no_main]
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;

use std::ffi::{CString, c_void};
use std::ptr::{null, null_mut};

use arbitrary::{Arbitrary, Unstructured};
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
    Step {
        script: Vec<u8>,
        report: Out,
    },
    Run {
        iterations: u8,
        max_evaluations: u16,
        script: Vec<u8>,
        report: Out,
        no_callback: bool,
    },
    Sample {
        n: N,
        out: Out,
    },
    LogDensity {
        n: N,
        xs: Vec<Real>,
        x: Out,
        out: Out,
    },
    Stats {
        out: Out,
    },
    Component {
        k: u8,
        which: u8,
        out: Out,
    },
    CheckpointSize {
        out: Out,
    },
    Save {
        cap: Cap,
        out: Out,
        written: Out,
        overlap: bool,
    },
    Restore(Blob),
    Export {
        cap: Cap,
        out: Out,
        written: Out,
    },
    Import(Blob),
    StatusStr(u32),
    SetBounds {
        lo: Vec<Real>,
        hi: Vec<Real>,
        dim: DimArg,
        lo_ptr: Out,
        hi_ptr: Out,
    },
    GetBounds {
        dim: DimArg,
        lo: Out,
        hi: Out,
        overlap: bool,
    },
    Retarget,
    /// A burst of model calls (at most 8).
    Model(Vec<ModelOp>),
    Abi(AbiOp),
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
    /// After `first`: `ModelOp::Ready` (a snapshot and a seeded stream to start from).
    ready: Option<u64>,
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
    ms: ModelSide,
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
            Op::Model(ms) => {
                for m in ms.iter().take(8) {
                    self.model_op(m);
                }
            }
            Op::Abi(a) => self.abi_op(a),
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

// ---------------------------------------------------------------------------------------------
// The model calls: a `gmmvi_model`, a `gmmvi_submodel` and a `gmmvi_rng` in caller storage.

/// A pointer to one of the caller's objects (model, submodel, stream); good in 5 of 8 cases
/// (as the next two), so that sequences reach the calls behind a successful one.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Obj {
    Good,
    Null,
    Misaligned,
    /// Storage of the right size that was never prepared (filled with the input's byte).
    Unprepared,
}

/// Where the output rows of a sampling call go.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rows {
    Good,
    Null,
    Misaligned,
    /// Into the model or submodel read by the call.
    InModel(u16),
    /// Starting `off` bytes into the stream (the rows cover the rest of it).
    OverRng(u8),
}

/// Where the stream of a sampling call is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RngAt {
    Good,
    Null,
    Misaligned,
    /// Never seeded (all zero).
    Zero,
    /// Inside the (const) model or submodel read by the call.
    InModel(u16),
}

impl<'a> Arbitrary<'a> for Obj {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? >> 5 {
            0..=4 => Obj::Good,
            5 => Obj::Null,
            6 => Obj::Misaligned,
            _ => Obj::Unprepared,
        })
    }
}

impl<'a> Arbitrary<'a> for Rows {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? >> 5 {
            0..=4 => Rows::Good,
            5 => Rows::Null,
            6 => Rows::Misaligned,
            _ if bool::arbitrary(u)? => Rows::InModel(u16::arbitrary(u)?),
            _ => Rows::OverRng(u8::arbitrary(u)?),
        })
    }
}

impl<'a> Arbitrary<'a> for RngAt {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? >> 5 {
            0..=4 => RngAt::Good,
            5 => RngAt::Null,
            6 if bool::arbitrary(u)? => RngAt::Misaligned,
            6 => RngAt::Zero,
            _ => RngAt::InModel(u16::arbitrary(u)?),
        })
    }
}

/// A fuzzed index set (empty, repeated, out of range, all coordinates, ...).
#[derive(Arbitrary, Debug, Clone)]
enum Idx {
    /// The coordinates whose bit is set, ascending, then rotated by `rot`.
    Mask(u32, u8),
    /// Any small values (repeats and `D`, `D + 1` included).
    List(Vec<u8>),
    All,
    AllReversed,
    /// `0..=D`: more indices than coordinates.
    TooMany,
    Huge,
}

impl Idx {
    fn get(&self) -> Vec<usize> {
        match self {
            Idx::Mask(m, rot) => {
                let mut v: Vec<usize> = (0..D).filter(|i| m & (1 << (i % 32)) != 0).collect();
                if !v.is_empty() {
                    let r = usize::from(*rot) % v.len();
                    v.rotate_left(r);
                }
                v
            }
            Idx::List(l) => l.iter().take(D + 2).map(|&b| usize::from(b) % (D + 2)).collect(),
            Idx::All => (0..D).collect(),
            Idx::AllReversed => (0..D).rev().collect(),
            Idx::TooMany => (0..=D).collect(),
            Idx::Huge => vec![usize::MAX, 0],
        }
    }
}

/// Distinct, in range and not empty.
fn valid_set(v: &[usize]) -> bool {
    let mut seen = [false; D];
    !v.is_empty() && v.len() <= D && v.iter().all(|&c| c < D && !std::mem::replace(&mut seen[c], true))
}

/// An input pointer (indices, points): good in 6 of 8 cases.
#[derive(Debug, Clone, Copy, PartialEq)]
enum IdxPtr {
    Good,
    Null,
    Misaligned,
}

impl<'a> Arbitrary<'a> for IdxPtr {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? >> 5 {
            0..=5 => IdxPtr::Good,
            6 => IdxPtr::Null,
            _ => IdxPtr::Misaligned,
        })
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum ModelOp {
    /// `gmmvi_init` with the default config (if the state is not initialised), then
    /// `gmmvi_model_init`, `gmmvi_snapshot` and `gmmvi_rng_seed` on the good objects (the
    /// deeper calls need all of them).
    Ready(u64),
    Init(Obj),
    Snapshot {
        state: bool,
        out: Obj,
        in_state: Option<u16>,
    },
    Seed {
        rng: Obj,
        seed: u64,
    },
    Sample {
        m: Obj,
        rng: RngAt,
        rows: Rows,
        n: N,
    },
    LogDensity {
        m: Obj,
        n: u8,
        xs: Vec<Real>,
        x: IdxPtr,
        out: Rows,
    },
    Marginal {
        m: Obj,
        keep: Idx,
        ptr: IdxPtr,
        out: Obj,
        in_model: Option<u16>,
    },
    Conditional {
        m: Obj,
        given: Idx,
        ptr: IdxPtr,
        xs: Vec<Real>,
        x: IdxPtr,
        out: Obj,
        in_model: Option<u16>,
    },
    SubDim {
        m: Obj,
        out: Rows,
    },
    SubSample {
        m: Obj,
        rng: RngAt,
        rows: Rows,
        n: N,
        fill: Vec<Real>,
    },
    SubLogDensity {
        m: Obj,
        n: u8,
        xs: Vec<Real>,
        x: IdxPtr,
        out: Rows,
    },
}

/// What the submodel storage holds (as far as the harness knows).
#[derive(Debug, Clone, PartialEq)]
enum Sub {
    /// Never written by the library.
    Unfilled,
    /// Filled: its coordinates (empty after a failure) and, for a conditional, the given values.
    Filled { coords: Vec<usize>, given: Option<(Vec<usize>, [R; D])> },
}

/// The caller's model-side objects, each with a spare word (for misaligned pointers), plus
/// never-prepared copies.
struct ModelSide {
    model: Vec<u64>,
    sub: Vec<u64>,
    /// The stream in its first 4 words; the rest is room for rows placed over it.
    rng: Vec<u64>,
    blank_model: Vec<u64>,
    blank_sub: Vec<u64>,
    zero_rng: Vec<u64>,
    /// `gmmvi_model_init` succeeded on `model`.
    prepared: bool,
    /// Components of the model (0 until a snapshot), if prepared.
    components: usize,
    /// `model_bits` of the state when it was snapshot.
    snap_of: Option<Vec<u64>>,
    seeded: bool,
    sub_state: Sub,
}

/// Most rows one sampling call asks for (past the 64-point block).
const MAX_ROWS: usize = 160;

impl ModelSide {
    fn new(fill: u8) -> Self {
        let words = |n: usize| vec![u64::from_ne_bytes([fill; 8]); n + 1];
        Self {
            model: words(GMMVI_MODEL_WORDS),
            sub: words(GMMVI_SUBMODEL_WORDS),
            rng: vec![0; 4 + MAX_ROWS * D * size_of::<R>() / 8 + 2],
            blank_model: words(GMMVI_MODEL_WORDS),
            blank_sub: words(GMMVI_SUBMODEL_WORDS),
            zero_rng: vec![0; 5],
            prepared: false,
            components: 0,
            snap_of: None,
            seeded: false,
            sub_state: Sub::Unfilled,
        }
    }

    fn model_ptr(&mut self, o: Obj) -> *mut gmmvi_model {
        match o {
            Obj::Good => self.model.as_mut_ptr().cast(),
            Obj::Null => null_mut(),
            Obj::Misaligned => unsafe { self.model.as_mut_ptr().cast::<u8>().add(4).cast() },
            Obj::Unprepared => self.blank_model.as_mut_ptr().cast(),
        }
    }

    fn sub_ptr(&mut self, o: Obj) -> *mut gmmvi_submodel {
        match o {
            Obj::Good => self.sub.as_mut_ptr().cast(),
            Obj::Null => null_mut(),
            Obj::Misaligned => unsafe { self.sub.as_mut_ptr().cast::<u8>().add(4).cast() },
            Obj::Unprepared => self.blank_sub.as_mut_ptr().cast(),
        }
    }

    /// A pointer `off` bytes into the model's storage (8-byte aligned, room for `bytes`).
    fn in_model(&mut self, off: u16, bytes: usize) -> *mut u8 {
        let room = (GMMVI_MODEL_SIZE.saturating_sub(bytes) / 8).max(1);
        unsafe { self.model.as_mut_ptr().add(usize::from(off) % room).cast() }
    }

    fn in_sub(&mut self, off: u16) -> *mut u8 {
        unsafe { self.sub.as_mut_ptr().add(usize::from(off) % (GMMVI_SUBMODEL_WORDS - 8)).cast() }
    }

    fn rng_ptr(&mut self, at: RngAt, sub: bool) -> *mut gmmvi_rng {
        match at {
            RngAt::Good => self.rng.as_mut_ptr().cast(),
            RngAt::Null => null_mut(),
            RngAt::Misaligned => unsafe { self.rng.as_mut_ptr().cast::<u8>().add(4).cast() },
            RngAt::Zero => self.zero_rng.as_mut_ptr().cast(),
            RngAt::InModel(off) if sub => self.in_sub(off).cast(),
            RngAt::InModel(off) => self.in_model(off, 32).cast(),
        }
    }
}

/// FNV-1a of a storage's words (to check that reading calls leave it as it was).
fn words_hash(w: &[u64]) -> u64 {
    fnv(&w.iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<u8>>())
}

fn count(n: N) -> (usize, usize) {
    match n {
        N::Small(v) => (usize::from(v) % (MAX_ROWS + 1), (usize::from(v) % (MAX_ROWS + 1)) * D),
        N::Zero => (0, 0),
        N::Overflow(b) => (if b { usize::MAX } else { usize::MAX / 2 }, 1),
    }
}

fn fill_rows(xs: &[Real], len: usize) -> Vec<R> {
    (0..len + D).map(|i| xs.get(i % xs.len().max(1)).map_or(0.5, |r| r.r())).collect()
}

impl Harness {
    fn model_op(&mut self, op: &ModelOp) {
        let m = &mut self.ms;
        let model_words = words_hash(&m.model);
        let sub_words = words_hash(&m.sub);
        match op {
            ModelOp::Ready(seed) => {
                if !self.init {
                    let spec = ConfigSpec { source: CfgSource::Default, fields: vec![] };
                    self.init(&InitOp { cfg: spec, seed: *seed, size: SizeArg::Exact, cfg_ptr: 2 });
                }
                self.model_op(&ModelOp::Init(Obj::Good));
                self.model_op(&ModelOp::Snapshot { state: true, out: Obj::Good, in_state: None });
                self.model_op(&ModelOp::Seed { rng: Obj::Good, seed: *seed });
                return;
            }
            ModelOp::Init(o) => {
                let p = m.model_ptr(*o);
                let st = unsafe { gmmvi_model_init(p) };
                check_status(st, &[GMMVI_OK, GMMVI_NULL_POINTER, GMMVI_BAD_ALIGNMENT], "gmmvi_model_init");
                assert_eq!(st == GMMVI_OK, matches!(o, Obj::Good | Obj::Unprepared), "model_init {st:?} of {o:?}");
                if *o == Obj::Good {
                    (m.prepared, m.components, m.snap_of) = (true, 0, None);
                } else if *o == Obj::Unprepared {
                    // Keep the spare storage unprepared for the next calls.
                    let f = m.blank_model[GMMVI_MODEL_WORDS];
                    m.blank_model.fill(f);
                }
            }
            ModelOp::Snapshot { state, out, in_state } => {
                let sp = if *state { self.s.cast_const() } else { null() };
                let op = match in_state {
                    Some(off) => self.buf.inside::<gmmvi_model>(*off),
                    None => m.model_ptr(*out),
                };
                let st = unsafe { gmmvi_snapshot(sp, op) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_snapshot");
                let bounded = bounds_of(self.s).is_some_and(|(l, h)| l.iter().chain(&h).any(|v| v.is_finite()));
                let good = self.init && *state && in_state.is_none() && *out == Obj::Good && m.prepared;
                if st == GMMVI_OK {
                    assert!(
                        good && !bounded,
                        "snapshot accepted: state {state} {out:?} {in_state:?} bounded {bounded}"
                    );
                    let mut r = gmmvi_report::default();
                    assert_eq!(unsafe { gmmvi_stats(self.s, &mut r) }, GMMVI_OK);
                    m.components = r.components as usize;
                    m.snap_of = Some(model_bits(self.s));
                    self.same_densities_as_state();
                } else {
                    assert!(!good || bounded, "snapshot refused good arguments: {st:?}");
                    assert_eq!(words_hash(&self.ms.model), model_words, "a refused snapshot changed the model");
                    if good && bounded {
                        assert_eq!(st, GMMVI_INVALID_ARGUMENT);
                        let mut msg = [0 as core::ffi::c_char; 256];
                        let e = unsafe { gmmvi_last_error(self.s, msg.as_mut_ptr(), msg.len(), null_mut()) };
                        assert_eq!(e, GMMVI_OK);
                        let t = unsafe { core::ffi::CStr::from_ptr(msg.as_ptr()) }.to_bytes();
                        assert!(t.starts_with(b"gmmvi_snapshot: the state has bounds"), "message {t:?}");
                    }
                }
            }
            ModelOp::Seed { rng, seed } => {
                let p = match rng {
                    Obj::Good => m.rng.as_mut_ptr().cast(),
                    Obj::Null => null_mut(),
                    Obj::Misaligned => unsafe { m.rng.as_mut_ptr().cast::<u8>().add(4).cast() },
                    Obj::Unprepared => m.zero_rng.as_mut_ptr().cast::<gmmvi_rng>(),
                };
                let st = unsafe { gmmvi_rng_seed(p, *seed) };
                check_status(st, &[GMMVI_OK, GMMVI_NULL_POINTER, GMMVI_BAD_ALIGNMENT], "gmmvi_rng_seed");
                assert_eq!(st == GMMVI_OK, matches!(rng, Obj::Good | Obj::Unprepared));
                match rng {
                    Obj::Good => m.seeded = true,
                    Obj::Unprepared => m.zero_rng.fill(0),
                    _ => {}
                }
            }
            ModelOp::Sample { m: mo, rng, rows, n } => self.sample_op(false, *mo, *rng, *rows, *n, &[]),
            ModelOp::SubSample { m: mo, rng, rows, n, fill } => self.sample_op(true, *mo, *rng, *rows, *n, fill),
            ModelOp::LogDensity { m: mo, n, xs, x, out } => self.density_op(false, *mo, *n, xs, *x, *out),
            ModelOp::SubLogDensity { m: mo, n, xs, x, out } => self.density_op(true, *mo, *n, xs, *x, *out),
            ModelOp::Marginal { m: mo, keep, ptr, out, in_model } => {
                self.sub_op(*mo, keep, *ptr, None, *out, *in_model);
            }
            ModelOp::Conditional { m: mo, given, ptr, xs, x, out, in_model } => {
                self.sub_op(*mo, given, *ptr, Some((xs, *x)), *out, *in_model);
            }
            ModelOp::SubDim { m: mo, out } => {
                let sp = m.sub_ptr(*mo);
                let mut v = vec![usize::MAX; 2];
                let p: *mut usize = match out {
                    Rows::Good => v.as_mut_ptr(),
                    Rows::Null => null_mut(),
                    Rows::Misaligned => unsafe { v.as_mut_ptr().cast::<u8>().add(1).cast() },
                    Rows::InModel(off) => m.in_sub(*off).cast(),
                    Rows::OverRng(_) => v.as_mut_ptr(),
                };
                let st = unsafe { gmmvi_submodel_dim(sp, p) };
                check_status(st, &allowed(&[GMMVI_OK]), "gmmvi_submodel_dim");
                let filled = *mo == Obj::Good && matches!(m.sub_state, Sub::Filled { .. });
                let good = filled && matches!(out, Rows::Good | Rows::OverRng(_));
                assert_eq!(st == GMMVI_OK, good, "submodel_dim {st:?}: {mo:?} {out:?} {:?}", m.sub_state);
                if st == GMMVI_OK && p == v.as_mut_ptr() {
                    let Sub::Filled { coords, .. } = &m.sub_state else { unreachable!() };
                    assert_eq!(v[0], coords.len(), "submodel dim");
                }
            }
        }
        // Reading calls leave the model as it was; only marginal/conditional write the submodel.
        if !matches!(op, ModelOp::Init(_) | ModelOp::Snapshot { .. }) {
            assert_eq!(words_hash(&self.ms.model), model_words, "{op:?} changed the model");
        }
        if !matches!(op, ModelOp::Marginal { .. } | ModelOp::Conditional { .. }) {
            assert_eq!(words_hash(&self.ms.sub), sub_words, "{op:?} changed the submodel");
        }
    }

    /// Right after a snapshot (or while the state's mixture is still the one snapshot, without
    /// bounds): the model's log densities equal the state's bit for bit.
    fn same_densities_as_state(&mut self) {
        let m = &mut self.ms;
        if !self.init || m.snap_of.as_ref() != Some(&model_bits(self.s)) || !m.prepared {
            return;
        }
        let unbounded = bounds_of(self.s).is_some_and(|(l, h)| l.iter().chain(&h).all(|v| v.is_infinite()));
        if !unbounded {
            return;
        }
        let n = 6;
        let mut xs = vec![0.0 as R; n * D];
        assert_eq!(unsafe { gmmvi_sample(self.s, xs.as_mut_ptr(), 4) }, GMMVI_OK);
        for (i, v) in xs[4 * D..].iter_mut().enumerate() {
            *v = (i as R - 3.0) * 0.7;
        }
        let (mut a, mut b) = (vec![0.0 as R; n], vec![0.0 as R; n]);
        assert_eq!(unsafe { gmmvi_log_density(self.s, xs.as_ptr(), n, a.as_mut_ptr()) }, GMMVI_OK);
        let mp = m.model_ptr(Obj::Good);
        assert_eq!(unsafe { gmmvi_model_log_density(mp, xs.as_ptr(), n, b.as_mut_ptr()) }, GMMVI_OK);
        let bits = |v: &[R]| v.iter().map(|x| x.to_bits() as u64).collect::<Vec<_>>();
        assert_eq!(bits(&a), bits(&b), "snapshot log densities {b:?} differ from the state's {a:?} at {xs:?}");
    }

    /// `gmmvi_model_sample` or `gmmvi_submodel_sample`.
    fn sample_op(&mut self, sub: bool, mo: Obj, rng: RngAt, rows: Rows, n: N, fill: &[Real]) {
        let m = &mut self.ms;
        let (n, len) = count(n);
        let mut buf: Vec<R> = fill_rows(fill, len.max(D));
        if let Some(Sub::Filled { given: Some((g, x)), .. }) = (sub).then_some(&m.sub_state) {
            // Rows holding the given values come back complete.
            for row in buf.chunks_exact_mut(D) {
                for &c in g {
                    row[c] = x[c];
                }
            }
        }
        let before = buf.clone();
        let rows_p: *mut R = match rows {
            Rows::Good => buf.as_mut_ptr(),
            Rows::Null => null_mut(),
            Rows::Misaligned => unsafe { buf.as_mut_ptr().cast::<u8>().add(1).cast() },
            Rows::InModel(off) if sub => m.in_sub(off).cast(),
            Rows::InModel(off) => m.in_model(off, 8).cast(),
            Rows::OverRng(off) => {
                let a = align_of::<R>();
                unsafe { m.rng.as_mut_ptr().cast::<u8>().add(usize::from(off) % 32 / a * a).cast() }
            }
        };
        let rp = m.rng_ptr(rng, sub);
        let rng_before: [u64; 4] = m.rng[..4].try_into().unwrap();
        let st = unsafe {
            if sub {
                gmmvi_submodel_sample(m.sub_ptr(mo), rp, rows_p, n)
            } else {
                gmmvi_model_sample(m.model_ptr(mo), rp, rows_p, n)
            }
        };
        let what = if sub { "gmmvi_submodel_sample" } else { "gmmvi_model_sample" };
        check_status(st, &allowed(&[GMMVI_OK]), what);
        let coords = match &m.sub_state {
            Sub::Filled { coords, .. } if sub => Some(coords.clone()),
            _ if sub => None,
            _ => (m.prepared && m.components > 0).then(|| (0..D).collect()),
        };
        let filled = mo == Obj::Good && coords.as_ref().is_some_and(|c| !c.is_empty());
        let rng_good = rng == RngAt::Good && m.seeded;
        let good = filled && rng_good && (n == 0 || (rows == Rows::Good && n_kind(n) < 2));
        let seeded = m.seeded;
        assert_eq!(
            st == GMMVI_OK,
            good,
            "{what} {st:?}: {mo:?} {rng:?} {rows:?} n {n} (coords {coords:?}, seeded {seeded})"
        );
        if st != GMMVI_OK {
            assert_eq!(m.rng[..4], rng_before, "a refused {what} advanced the stream");
            return;
        }
        if n == 0 {
            assert_eq!(m.rng[..4], rng_before, "no draw, yet the stream advanced");
            return;
        }
        let coords = coords.unwrap();
        for (row, old) in buf[..len].chunks_exact(D).zip(before.chunks_exact(D)) {
            for i in 0..D {
                if coords.contains(&i) {
                    assert!(!row[i].is_nan(), "{what}: NaN drawn: {row:?}");
                } else {
                    assert_eq!(row[i].to_bits(), old[i].to_bits(), "{what} changed coordinate {i} outside {coords:?}");
                }
            }
        }
        // Same stream, same draws.
        let mut again = before.clone();
        let mut r2: Vec<u64> = rng_before.to_vec();
        let st2 = unsafe {
            if sub {
                gmmvi_submodel_sample(m.sub_ptr(mo), r2.as_mut_ptr().cast(), again.as_mut_ptr(), n)
            } else {
                gmmvi_model_sample(m.model_ptr(mo), r2.as_mut_ptr().cast(), again.as_mut_ptr(), n)
            }
        };
        assert_eq!(st2, GMMVI_OK);
        let bits = |v: &[R]| v.iter().map(|x| x.to_bits() as u64).collect::<Vec<_>>();
        assert_eq!(bits(&again[..len]), bits(&buf[..len]), "{what}: same stream, other draws");
        assert_eq!(r2[..], m.rng[..4], "{what}: same stream, other end state");
        assert_ne!(m.rng[..4], rng_before, "{what}: the stream did not advance");
        // The draws have a density (finite rows: neither NaN nor +inf).
        let mut lq = vec![0.0 as R; n];
        let st = unsafe {
            if sub {
                gmmvi_submodel_log_density(m.sub_ptr(mo), buf.as_ptr(), n, lq.as_mut_ptr())
            } else {
                gmmvi_model_log_density(m.model_ptr(mo), buf.as_ptr(), n, lq.as_mut_ptr())
            }
        };
        assert_eq!(st, GMMVI_OK);
        for (l, row) in lq.iter().zip(buf.chunks_exact(D)) {
            if row.iter().all(|v| v.is_finite()) {
                assert!(!l.is_nan() && *l != R::INFINITY, "{what}: log q {l} of the draw {row:?}");
            }
        }
    }

    /// `gmmvi_model_log_density` or `gmmvi_submodel_log_density`.
    fn density_op(&mut self, sub: bool, mo: Obj, n: u8, xs: &[Real], x: IdxPtr, out: Rows) {
        let m = &mut self.ms;
        let n = usize::from(n) % (MAX_ROWS + 1);
        let xv = fill_rows(xs, n * D);
        let xp: *const R = match x {
            IdxPtr::Good => xv.as_ptr(),
            IdxPtr::Null => null(),
            IdxPtr::Misaligned => unsafe { xv.as_ptr().cast::<u8>().add(1).cast() },
        };
        let mut lv = vec![R::NAN; n + 1];
        let lp: *mut R = match out {
            Rows::Good | Rows::OverRng(_) => lv.as_mut_ptr(),
            Rows::Null => null_mut(),
            Rows::Misaligned => unsafe { lv.as_mut_ptr().cast::<u8>().add(1).cast() },
            Rows::InModel(off) if sub => m.in_sub(off).cast(),
            Rows::InModel(off) => m.in_model(off, 8 * (n + 1)).cast(),
        };
        let st = unsafe {
            if sub {
                gmmvi_submodel_log_density(m.sub_ptr(mo), xp, n, lp)
            } else {
                gmmvi_model_log_density(m.model_ptr(mo), xp, n, lp)
            }
        };
        let what = if sub { "gmmvi_submodel_log_density" } else { "gmmvi_model_log_density" };
        check_status(st, &allowed(&[GMMVI_OK]), what);
        let coords = match &m.sub_state {
            Sub::Filled { coords, .. } if sub => Some(coords.clone()),
            _ if sub => None,
            _ => m.prepared.then(|| (0..D).take(if m.components > 0 { D } else { 0 }).collect()),
        };
        let ready = mo == Obj::Good && coords.is_some();
        let ptrs = x == IdxPtr::Good && matches!(out, Rows::Good | Rows::OverRng(_));
        if st != GMMVI_OK {
            assert!(!(ready && (ptrs || n == 0)), "{what} refused good arguments: {st:?}");
            return;
        }
        assert!(ready && (ptrs || n == 0), "{what} accepted {mo:?} {x:?} {out:?}");
        if lp != lv.as_mut_ptr() {
            return;
        }
        let coords = coords.unwrap();
        for (l, row) in lv[..n].iter().zip(xv.chunks_exact(D)) {
            if coords.is_empty() {
                assert_eq!(*l, R::NEG_INFINITY, "{what} of an empty mixture");
            } else if coords.iter().all(|&c| row[c].is_finite()) {
                assert!(!l.is_nan() && *l != R::INFINITY, "{what}: log q {l} at {row:?}");
            }
        }
        if !sub && n > 0 {
            self.same_densities_as_state();
        }
    }

    /// `gmmvi_model_marginal` (`cond` None) or `gmmvi_model_conditional`.
    fn sub_op(
        &mut self,
        mo: Obj,
        idx: &Idx,
        ptr: IdxPtr,
        cond: Option<(&Vec<Real>, IdxPtr)>,
        out: Obj,
        in_model: Option<u16>,
    ) {
        let m = &mut self.ms;
        let sub_words = words_hash(&m.sub);
        let v = idx.get();
        let mut store = vec![0usize; v.len() + 1];
        store[..v.len()].copy_from_slice(&v);
        let ip: *const usize = match ptr {
            IdxPtr::Good => store.as_ptr(),
            IdxPtr::Null => null(),
            IdxPtr::Misaligned => unsafe { store.as_ptr().cast::<u8>().add(1).cast() },
        };
        let op: *mut gmmvi_submodel = match in_model {
            Some(off) => m.in_model(off, 64).cast(),
            None => m.sub_ptr(out),
        };
        let mp = m.model_ptr(mo);
        let (st, given) = match cond {
            None => (unsafe { gmmvi_model_marginal(mp, ip, v.len(), op) }, None),
            Some((xs, xmode)) => {
                let xv: Vec<R> = fill_rows(xs, 0);
                let xp: *const R = match xmode {
                    IdxPtr::Good => xv.as_ptr(),
                    IdxPtr::Null => null(),
                    IdxPtr::Misaligned => unsafe { xv.as_ptr().cast::<u8>().add(1).cast() },
                };
                let x: [R; D] = xv[..D].try_into().unwrap();
                (unsafe { gmmvi_model_conditional(mp, ip, v.len(), xp, op) }, Some((xmode, x)))
            }
        };
        let what = if cond.is_none() { "gmmvi_model_marginal" } else { "gmmvi_model_conditional" };
        check_status(st, &allowed(&[GMMVI_OK, GMMVI_NUMERICAL]), what);
        let model_ok = mo == Obj::Good && m.prepared;
        let out_ok = in_model.is_none() && matches!(out, Obj::Good | Obj::Unprepared);
        let set_ok = valid_set(&v) && (ptr == IdxPtr::Good || v.is_empty());
        let (args_ok, expect) = match given {
            None => (set_ok, v.clone()),
            Some((xmode, x)) => (
                set_ok && v.len() < D && xmode == IdxPtr::Good && v.iter().all(|&c| x[c].is_finite()),
                (0..D).filter(|c| !v.contains(c)).collect(),
            ),
        };
        if st == GMMVI_OK {
            assert!(
                model_ok && out_ok && args_ok && m.components > 0,
                "{what} accepted {mo:?} {v:?} {ptr:?} {given:?} {out:?} {in_model:?}"
            );
        } else if model_ok && out_ok && args_ok && m.components > 0 && cond.is_none() {
            assert_eq!(st, GMMVI_NUMERICAL, "{what} refused good arguments {v:?}");
        }
        if model_ok && out_ok {
            // Once the model and the output are checked, a failure leaves an empty submodel.
            let coords = if st == GMMVI_OK { expect } else { vec![] };
            let mut d = usize::MAX;
            assert_eq!(unsafe { gmmvi_submodel_dim(op, &mut d) }, GMMVI_OK);
            assert_eq!(d, coords.len(), "{what} ({st:?}): submodel dim");
            if out == Obj::Good {
                let given = given.filter(|_| st == GMMVI_OK).map(|(_, x)| (v.clone(), x));
                m.sub_state = Sub::Filled { coords, given };
            } else {
                let f = m.blank_sub[GMMVI_SUBMODEL_WORDS];
                m.blank_sub.fill(f);
            }
        } else {
            assert_eq!(words_hash(&m.sub), sub_words, "{what} refused ({st:?}) yet wrote the submodel");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The `_abi` entry points with the header's fingerprint or another one, and the version calls.

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fp {
    Right,
    Wrong(u64),
}

impl Fp {
    fn get(self) -> u64 {
        match self {
            Fp::Right => GMMVI_ABI_FINGERPRINT,
            Fp::Wrong(v) if v == GMMVI_ABI_FINGERPRINT => v ^ 1,
            Fp::Wrong(v) => v,
        }
    }
}

#[derive(Arbitrary, Debug, Clone)]
enum AbiOp {
    Version,
    ConfigDefault {
        abi: Fp,
        out: Obj,
    },
    FromCodeword {
        abi: Fp,
        codeword: Codeword,
        out: Obj,
    },
    Parse {
        abi: Fp,
        pieces: Vec<Piece>,
        cap: u16,
        out: Obj,
    },
    /// `gmmvi_init_abi` with another build's fingerprint: refused, the state untouched.
    Init {
        abi: u64,
        seed: u64,
    },
}

/// A config output: `Good`, NULL, misaligned, or (`Unprepared`) good too.
fn cfg_ptr(v: &mut [gmmvi_config], o: Obj) -> *mut gmmvi_config {
    match o {
        Obj::Good | Obj::Unprepared => v.as_mut_ptr(),
        Obj::Null => null_mut(),
        Obj::Misaligned => unsafe { v.as_mut_ptr().cast::<u8>().add(4).cast() },
    }
}

impl Harness {
    fn abi_op(&mut self, op: &AbiOp) {
        let sentinel = || gmmvi_config { temperature: -7.0, ..gmmvi_config_default() };
        let mut v = vec![sentinel(); 2];
        let shown = |c: &gmmvi_config| format!("{c:?}");
        let (st, out, right, expect) = match op {
            AbiOp::Version => {
                let want = (GMMVI_VERSION_MAJOR << 16) | (GMMVI_VERSION_MINOR << 8) | GMMVI_VERSION_PATCH;
                assert_eq!(gmmvi_version(), want);
                assert_eq!(gmmvi_abi_fingerprint(), GMMVI_ABI_FINGERPRINT);
                return;
            }
            AbiOp::Init { abi, seed } => {
                let abi = Fp::Wrong(*abi).get();
                let before = (model_bits(self.s), bounds_of(self.s));
                let cfg = gmmvi_config_default();
                let st = unsafe { gmmvi_init_abi(self.s, GMMVI_STATE_SIZE, &cfg, *seed, abi) };
                assert_eq!(st, GMMVI_ABI_MISMATCH, "gmmvi_init_abi with fingerprint {abi:#x}");
                assert_eq!((model_bits(self.s), bounds_of(self.s)), before, "a refused init changed the state");
                return;
            }
            AbiOp::ConfigDefault { abi, out } => {
                let st = unsafe { gmmvi_config_default_abi(cfg_ptr(&mut v, *out), abi.get()) };
                (st, *out, matches!(abi, Fp::Right), Some(gmmvi_config_default()))
            }
            AbiOp::FromCodeword { abi, codeword, out } => {
                let s = CString::new(codeword.bytes()).expect("no NUL");
                let st = unsafe { gmmvi_config_from_codeword_abi(s.as_ptr(), cfg_ptr(&mut v, *out), abi.get()) };
                let mut c = gmmvi_config_default();
                let st2 = unsafe { gmmvi_config_from_codeword(s.as_ptr(), &mut c) };
                (st, *out, matches!(abi, Fp::Right), (st2 == GMMVI_OK).then_some(c))
            }
            AbiOp::Parse { abi, pieces, cap, out } => {
                let s = CString::new(text(pieces)).expect("no NUL");
                let cap = usize::from(*cap % 300);
                let mut msg = vec![0x55 as core::ffi::c_char; cap + 1];
                let mut off = usize::MAX;
                let p = cfg_ptr(&mut v, *out);
                let st = unsafe { gmmvi_config_parse_abi(s.as_ptr(), p, &mut off, msg.as_mut_ptr(), cap, abi.get()) };
                if st == GMMVI_ABI_MISMATCH {
                    assert!(msg.iter().all(|&b| b == 0x55) && off == usize::MAX, "a refused parse wrote");
                } else if st == GMMVI_OK || st == GMMVI_BAD_CONFIG {
                    assert!(cap == 0 || msg[..cap].contains(&0), "message not NUL-terminated within {cap}");
                }
                let mut c = gmmvi_config_default();
                let st2 = unsafe { gmmvi_config_parse(s.as_ptr(), &mut c, null_mut(), null_mut(), 0) };
                (st, *out, matches!(abi, Fp::Right), (st2 == GMMVI_OK).then_some(c))
            }
        };
        check_status(
            st,
            &[GMMVI_OK, GMMVI_ABI_MISMATCH, GMMVI_NULL_POINTER, GMMVI_BAD_ALIGNMENT, GMMVI_BAD_CONFIG],
            "gmmvi_config_*_abi",
        );
        if !right {
            assert_eq!(st, GMMVI_ABI_MISMATCH, "{op:?}");
        }
        if st != GMMVI_OK {
            assert_eq!(shown(&v[0]), shown(&sentinel()), "a refused {op:?} wrote the config");
            if right && matches!(out, Obj::Good | Obj::Unprepared) {
                assert!(expect.is_none(), "{op:?} refused ({st:?}) what the Rust wrapper accepts");
            }
            return;
        }
        assert!(right && matches!(out, Obj::Good | Obj::Unprepared), "{op:?} accepted");
        let e = expect.expect("the Rust wrapper accepts it too");
        // The parsed config points at the text it came from: compare everything else.
        assert_eq!(shown(&gmmvi_config { overrides: e.overrides, ..v[0] }), shown(&e), "{op:?}");
    }
}

fuzz_target!(|input: Input| {
    let buf = StateBuf::new(input.fill);
    let s = if input.state_mode < 240 { buf.aligned() } else { buf.misaligned() };
    let ms = ModelSide::new(input.fill);
    let mut h =
        Harness { buf, s, init: false, iterations_left: MAX_ITERATIONS, last_save: vec![], last_export: vec![], ms };
    h.init(&input.first);
    check_state(h.s, h.init);
    if let Some(seed) = input.ready {
        h.model_op(&ModelOp::Ready(seed));
    }
    for op in input.ops.iter().take(24) {
        h.op(op);
        check_state(h.s, h.init);
    }
});

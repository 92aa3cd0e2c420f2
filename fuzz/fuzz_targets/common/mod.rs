//! Shared pieces of the fuzz targets: the state buffer as C declares it, fuzz-chosen values,
//! configs and pointers, the scripted log-density callback, checksum fix-ups for checkpoint and
//! model blobs, and the invariants checked after every call.
//!
//! Everything here calls the `gmmvi_*` functions exactly as C would: raw pointers, sizes,
//! NULLs, misaligned and overlapping buffers. A panic (a failed invariant) or an abort is a
//! crash. Pointers are only ever passed with the room the C contract asks for; the only
//! "short" buffers are those whose size is an argument (`s_size`, `cap`, `len`), which the
//! library checks.
#![allow(dead_code, clippy::undocumented_unsafe_blocks)]

use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr::{null, null_mut};

use arbitrary::Arbitrary;
use gmmvi_abi::gmmvi_status::{self, *};
use gmmvi_abi::*;

pub const D: usize = GMMVI_DIM;
pub const K: usize = GMMVI_MAX_COMPONENTS;
pub type R = gmmvi_real;

/// Bytes of the C layer's tail after the optimiser's blob in a `gmmvi_save` checkpoint (52
/// bytes and their FNV-1a), mirrored from the documented layout so the fuzzer can forge
/// checksums.
const FFI_TAIL: usize = 60;

/// The most target-evaluating iterations one input may run (keeps executions fast).
pub const MAX_ITERATIONS: u64 = 3;

// ---------------------------------------------------------------------------------------------
// Statuses

/// Every status the library may return, with its name; anything else is a crash.
pub fn check_status(st: gmmvi_status, allowed: &[gmmvi_status], what: &str) {
    let code = st as u32;
    assert!(code <= 13, "{what}: status {code} is no gmmvi_status");
    assert!(allowed.contains(&st), "{what}: unexpected status {st:?} (allowed {allowed:?})");
    let p = gmmvi_status_str(code);
    assert!(!p.is_null());
    // SAFETY: the library returns a static NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) }.to_str().expect("ASCII");
    assert!(!s.is_empty() && s != "unknown status", "{what}: {st:?} has no name");
}

/// `gmmvi_status_str` of any code: static, NUL-terminated, ASCII.
pub fn check_status_str(code: u32) {
    let p = gmmvi_status_str(code);
    assert!(!p.is_null());
    // SAFETY: the library returns a static NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) }.to_bytes();
    assert!(!s.is_empty() && s.len() < 200 && s.is_ascii());
    assert_eq!(code > 13, s == b"unknown status", "{code}");
}

// ---------------------------------------------------------------------------------------------
// The state buffer

/// Storage for one state, as a C `static gmmvi_state` (plus one spare word, so that a
/// misaligned pointer still has `GMMVI_STATE_SIZE` bytes behind it). The pointer is taken once
/// and the vector is never touched again until it is dropped.
pub struct StateBuf {
    _words: Vec<u64>,
    base: *mut u64,
}

impl StateBuf {
    /// A buffer whose bytes all equal `fill` (a repeated byte is never the initialised
    /// marker, so the contract "a state given to gmmvi_init" holds for every later call).
    pub fn new(fill: u8) -> Self {
        let mut words = vec![u64::from_ne_bytes([fill; 8]); GMMVI_STATE_WORDS + 1];
        let base = words.as_mut_ptr();
        Self { _words: words, base }
    }

    pub fn aligned(&self) -> *mut gmmvi_state {
        self.base.cast()
    }

    pub fn misaligned(&self) -> *mut gmmvi_state {
        // SAFETY: 4 bytes into a buffer of GMMVI_STATE_SIZE + 8 bytes.
        unsafe { self.base.cast::<u8>().add(4).cast() }
    }

    /// A pointer `off` bytes into the part of the state the library uses (reduced into it,
    /// aligned down for `T`). The rest of the `GMMVI_STATE_SIZE` bytes is never referenced by
    /// the library, so outputs there are accepted (by design of `disjoint` in ffi/src/raw.rs).
    pub fn inside<T>(&self, off: u16) -> *mut T {
        let a = align_of::<T>();
        let max = state_bytes_used() - size_of::<T>();
        let off = (usize::from(off) % max) / a * a;
        // SAFETY: within the buffer.
        unsafe { self.base.cast::<u8>().add(off).cast() }
    }
}

// ---------------------------------------------------------------------------------------------
// Fuzz-chosen values

/// A floating-point value: raw bits, a small fraction, or one of the edge cases.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Real {
    Bits(u64),
    Small(i8),
    Pick(u8),
}

const EDGES: [f64; 26] = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    1e-3,
    1e3,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    1e-300,
    1e300,
    f32::MAX as f64,
    -(f32::MAX as f64),
    f32::MIN_POSITIVE as f64,
    1e-45,
    3.5e38,
    1e-8,
    1e8,
    1e20,
    0.999,
    -1e20,
];

impl Real {
    pub fn get(self) -> f64 {
        match self {
            Real::Bits(b) => f64::from_bits(b),
            Real::Small(v) => f64::from(v) / 8.0,
            Real::Pick(i) => EDGES[usize::from(i) % EDGES.len()],
        }
    }
    /// In the build's scalar type (`f32` rounds, overflows to ±inf).
    pub fn r(self) -> R {
        self.get() as R
    }
}

/// A count for a `u32` field or a `size_t` argument.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Count {
    Raw(u32),
    Small(u8),
    Pick(u8),
}

const COUNT_EDGES: [u64; 16] = [
    0,
    1,
    2,
    3,
    5,
    10,
    GMMVI_SAMPLES_PER_COMPONENT as u64,
    K as u64,
    K as u64 + 1,
    GMMVI_STORE_CAPACITY as u64,
    GMMVI_STORE_CAPACITY as u64 + 1,
    GMMVI_HISTORY as u64,
    GMMVI_HISTORY as u64 + 1,
    u32::MAX as u64,
    u32::MAX as u64 - 1,
    1 << 31,
];

impl Count {
    pub fn get(self) -> u64 {
        match self {
            Count::Raw(v) => u64::from(v),
            Count::Small(v) => u64::from(v),
            Count::Pick(i) => COUNT_EDGES[usize::from(i) % COUNT_EDGES.len()],
        }
    }
    pub fn u32(self) -> u32 {
        u32::try_from(self.get()).unwrap_or(u32::MAX)
    }
}

// ---------------------------------------------------------------------------------------------
// Configurations

/// Letters of each codeword position (README table), so most fuzzed codewords are valid.
const LETTERS: [&[u8]; 7] = [b"ZS", b"AE", b"MP", b"IYT", b"FDR", b"UO", b"XGN"];

#[derive(Arbitrary, Debug, Clone)]
pub enum Codeword {
    /// One valid letter per position (index into the position's letters).
    Letters([u8; 7]),
    /// Any bytes.
    Raw(Vec<u8>),
}

impl Codeword {
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Codeword::Letters(ix) => ix.iter().zip(LETTERS).map(|(&i, l)| l[usize::from(i) % l.len()]).collect(),
            Codeword::Raw(b) => b.iter().copied().filter(|&c| c != 0).take(16).collect(),
        }
    }
}

const KEYS: &[&str] = &gmmvi::Config::<f32>::KEYS;

const WORDS: [&str; 22] = [
    "MORE",
    "Stein",
    "adaptive",
    "fixed",
    "component-based",
    "mixture-based",
    "direct",
    "iBLR",
    "trust-region",
    "decaying",
    "improvement-based",
    "improvement_based",
    "true",
    "false",
    "none",
    "nan",
    "inf",
    "-inf",
    "1e40",
    "-1",
    "0",
    "1;0.5;1e9",
];

/// One piece of a config text.
#[derive(Arbitrary, Debug, Clone)]
pub enum Piece {
    Key(u8),
    Eq,
    Word(u8),
    Value(Real),
    Int(Count),
    Sep(u8),
    Codeword(Codeword),
    Raw(String),
    /// A valid setting repeated: texts longer than the 4096-byte limit.
    Long(u16),
}

/// Builds a text (without NUL bytes) from pieces.
pub fn text(pieces: &[Piece]) -> Vec<u8> {
    let mut t = Vec::new();
    for p in pieces.iter().take(64) {
        match p {
            Piece::Key(i) => t.extend_from_slice(KEYS[usize::from(*i) % KEYS.len()].as_bytes()),
            Piece::Eq => t.push(b'='),
            Piece::Word(i) => t.extend_from_slice(WORDS[usize::from(*i) % WORDS.len()].as_bytes()),
            Piece::Value(v) => {
                let v = v.get();
                let s = if v.abs() > 1e6 || (v != 0.0 && v.abs() < 1e-4) { format!("{v:e}") } else { format!("{v}") };
                t.extend_from_slice(s.as_bytes());
            }
            Piece::Int(c) => t.extend_from_slice(c.get().to_string().as_bytes()),
            Piece::Sep(b) => t.push(b" ,\t;\n"[usize::from(*b) % 5]),
            Piece::Codeword(c) => t.extend_from_slice(&c.bytes()),
            Piece::Raw(s) => t.extend_from_slice(s.as_bytes()),
            Piece::Long(n) => {
                for _ in 0..usize::from(*n % 1024) {
                    t.extend_from_slice(b"add=3 ");
                }
            }
        }
    }
    t.retain(|&b| b != 0);
    t
}

/// Where the config comes from before its fields are edited.
#[derive(Arbitrary, Debug, Clone)]
pub enum CfgSource {
    Default,
    FromCodeword(Codeword),
    Parse(Vec<Piece>),
}

/// One edit of a `gmmvi_config` field (every field can be set).
#[derive(Arbitrary, Debug, Clone)]
pub enum Field {
    CodewordBytes([u8; 8]),
    Codeword(Codeword),
    Temperature(Real),
    ComponentStep(Real),
    WeightStep(Real),
    ReuseRatio(Real),
    SamplesPerComponent(Count),
    MaxComponents(Count),
    AddIters(Count),
    DelIters(Count),
    InitialComponents(Count),
    // Small: each prior draw is a target evaluation at every add.
    NumPriorSamples(u8),
    PriorMean(u8, Real),
    PriorStd(u8, Real),
    InitialStd(u8, Real),
    AllPriorMean(Real),
    AllPriorStd(Real),
    AllInitialStd(Real),
    Overrides(Vec<Piece>),
    NoOverrides,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct ConfigSpec {
    pub source: CfgSource,
    pub fields: Vec<Field>,
}

/// A config and the C strings its `overrides` may point to (kept alive until `gmmvi_init`).
pub struct BuiltConfig {
    pub cfg: gmmvi_config,
    _texts: Vec<CString>,
}

/// Builds a config through the C functions, as a C program does, then edits its fields.
pub fn build_config(spec: &ConfigSpec) -> BuiltConfig {
    let mut texts = Vec::new();
    let mut cfg = gmmvi_config_default();
    match &spec.source {
        CfgSource::Default => {}
        CfgSource::FromCodeword(c) => {
            let s = CString::new(c.bytes()).expect("no NUL");
            let st = unsafe { gmmvi_config_from_codeword(s.as_ptr(), &mut cfg) };
            check_status(st, &[GMMVI_OK, GMMVI_BAD_CONFIG], "gmmvi_config_from_codeword");
        }
        CfgSource::Parse(pieces) => {
            let s = CString::new(text(pieces)).expect("no NUL");
            let mut off = usize::MAX;
            let st = unsafe { gmmvi_config_parse(s.as_ptr(), &mut cfg, &mut off, core::ptr::null_mut(), 0) };
            check_status(st, &[GMMVI_OK, GMMVI_BAD_CONFIG], "gmmvi_config_parse");
            let len = s.as_bytes().len();
            if st == GMMVI_OK {
                assert_eq!(off, usize::MAX, "offset written on success");
                assert_eq!(cfg.overrides, s.as_ptr());
            } else {
                assert!(off <= len, "error offset {off} beyond the text ({len})");
            }
            texts.push(s);
        }
    }
    for f in spec.fields.iter().take(32) {
        let idx = |i: &u8| usize::from(*i) % D;
        match f {
            Field::CodewordBytes(b) => cfg.codeword = b.map(|c| c as _),
            Field::Codeword(c) => {
                let mut cw = [0; 8];
                for (d, s) in cw.iter_mut().zip(c.bytes().iter().take(7)) {
                    *d = *s as _;
                }
                cfg.codeword = cw;
            }
            Field::Temperature(v) => cfg.temperature = v.get(),
            Field::ComponentStep(v) => cfg.component_step = v.get(),
            Field::WeightStep(v) => cfg.weight_step = v.get(),
            Field::ReuseRatio(v) => cfg.reuse_ratio = v.get(),
            Field::SamplesPerComponent(c) => cfg.samples_per_component = c.u32(),
            Field::MaxComponents(c) => cfg.max_components = c.u32(),
            Field::AddIters(c) => cfg.add_iters = c.u32(),
            Field::DelIters(c) => cfg.del_iters = c.u32(),
            Field::InitialComponents(c) => cfg.initial_components = c.u32(),
            Field::NumPriorSamples(v) => cfg.num_prior_samples = u32::from(*v),
            Field::PriorMean(i, v) => cfg.prior_mean[idx(i)] = v.r(),
            Field::PriorStd(i, v) => cfg.prior_std[idx(i)] = v.r(),
            Field::InitialStd(i, v) => cfg.initial_std[idx(i)] = v.r(),
            Field::AllPriorMean(v) => cfg.prior_mean = [v.r(); D],
            Field::AllPriorStd(v) => cfg.prior_std = [v.r(); D],
            Field::AllInitialStd(v) => cfg.initial_std = [v.r(); D],
            Field::Overrides(pieces) => {
                let s = CString::new(text(pieces)).expect("no NUL");
                cfg.overrides = s.as_ptr();
                texts.push(s);
            }
            Field::NoOverrides => cfg.overrides = null(),
        }
    }
    BuiltConfig { cfg, _texts: texts }
}

// ---------------------------------------------------------------------------------------------
// The scripted callback

/// What the callback does, one script byte per call (cycled); some behaviours read more bytes.
pub struct Script<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
    /// The state the callback is evaluated for (re-entrant calls must get `GMMVI_BUSY`).
    pub state: *mut gmmvi_state,
    pub calls: u32,
}

impl<'a> Script<'a> {
    pub fn new(bytes: &'a [u8], state: *mut gmmvi_state) -> Self {
        Self { bytes, pos: 0, state, calls: 0 }
    }
    fn next(&mut self) -> u8 {
        if self.bytes.is_empty() {
            return 0;
        }
        let b = self.bytes[self.pos % self.bytes.len()];
        self.pos = self.pos.wrapping_add(1);
        b
    }
    fn garbage(&mut self) -> R {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.next();
        }
        if size_of::<R>() == 4 {
            f32::from_bits(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) as R
        } else {
            f64::from_bits(u64::from_le_bytes(b)) as R
        }
    }
}

/// A value of behaviour `mode` for a point (`good` is the well-behaved value).
fn value_of(sc: &mut Script, mode: u8, good: R) -> R {
    match mode % 8 {
        0 | 1 => good,
        2 => R::NAN,
        3 => R::INFINITY,
        4 => R::NEG_INFINITY,
        5 => R::MAX,
        6 => -R::MAX,
        _ => sc.garbage(),
    }
}

/// Calls every entry point on the callback's own state: each must answer `GMMVI_BUSY`.
fn reenter(s: *mut gmmvi_state) {
    let cfg = gmmvi_config_default();
    let mut out = [0.0 as R; D * D];
    let mut rep = gmmvi_report::default();
    let mut size = 0usize;
    let mut buf = [0u8; 64];
    let x = [0.0 as R; D];
    let busy = |st: gmmvi_status, what: &str| assert_eq!(st, GMMVI_BUSY, "re-entrant {what}");
    unsafe {
        busy(gmmvi_stats(s, &mut rep), "stats");
        busy(gmmvi_sample(s, out.as_mut_ptr(), 1), "sample");
        busy(gmmvi_step(s, Some(callback), null_mut(), null_mut()), "step");
        busy(gmmvi_run(s, Some(callback), null_mut(), 5, 0, &mut rep), "run");
        busy(gmmvi_init(s, GMMVI_STATE_SIZE, &cfg, 1), "init");
        busy(gmmvi_get_component(s, 0, null_mut(), out.as_mut_ptr(), null_mut(), null_mut()), "get_component");
        busy(gmmvi_log_density(s, x.as_ptr(), 1, out.as_mut_ptr()), "log_density");
        busy(gmmvi_checkpoint_size(s, &mut size), "checkpoint_size");
        busy(gmmvi_save(s, buf.as_mut_ptr(), buf.len(), &mut size), "save");
        busy(gmmvi_restore(s, buf.as_ptr(), buf.len()), "restore");
        busy(gmmvi_export_model(s, buf.as_mut_ptr(), buf.len(), &mut size), "export");
        busy(gmmvi_import_model(s, buf.as_ptr(), buf.len()), "import");
        let (mut lo, mut hi) = ([0.0 as R; D], [0.0 as R; D]);
        busy(gmmvi_get_bounds(s, lo.as_mut_ptr(), hi.as_mut_ptr(), D), "get_bounds");
        busy(gmmvi_set_bounds(s, lo.as_ptr(), hi.as_ptr(), D), "set_bounds");
        busy(gmmvi_retarget(s), "retarget");
    }
}

/// The log-density callback: its values, gradients and return code come from the script.
///
/// Byte `b` per call: `b & 15` picks the values (well-behaved, NaN, ±inf, ±MAX, garbage bits,
/// unwritten, or a mode per point), `b >> 4 == 15` returns an error code (4 more bytes; may be
/// 0), `b >> 4 == 14` calls back into the state first, `b >> 4 == 13` spoils the gradients.
pub unsafe extern "C" fn callback(ctx: *mut c_void, x: *const R, n: usize, lp: *mut R, grad: *mut R) -> c_int {
    assert!(!ctx.is_null(), "ctx is passed through");
    let sc = unsafe { &mut *ctx.cast::<Script>() };
    sc.calls += 1;
    assert!((1..=64).contains(&n), "block of {n} points");
    assert!(!x.is_null() && !lp.is_null() && x.is_aligned() && lp.is_aligned());
    assert!(grad.is_null() || grad.is_aligned());
    let xs = unsafe { std::slice::from_raw_parts(x, n * D) };
    assert!(xs.iter().all(|v| !v.is_nan()), "the optimiser asked for the density of a NaN point");
    let lp = unsafe { std::slice::from_raw_parts_mut(lp, n) };
    let mut grad = (!grad.is_null()).then(|| unsafe { std::slice::from_raw_parts_mut(grad, n * D) });

    let b = sc.next();
    let (mode, flags) = (b & 15, b >> 4);
    if flags == 15 {
        let code = i32::from_le_bytes([sc.next(), sc.next(), sc.next(), sc.next()]);
        if code != 0 {
            return code;
        }
    }
    if flags == 14 {
        reenter(sc.state);
    }
    if mode == 11 {
        return 0; // nothing written: every sample rejected
    }
    // A Gaussian bump: log p = -0.5·s·|x - c|², gradient -s·(x - c).
    let scale = 0.25 + f64::from(sc.next() % 16) / 4.0;
    let centre = f64::from(sc.next() as i8) / 16.0;
    for i in 0..n {
        let row = &xs[i * D..(i + 1) * D];
        let sq: f64 = row.iter().map(|&v| (f64::from(v) - centre).powi(2)).sum();
        let good = (-0.5 * scale * sq) as R;
        let pmode = match mode {
            14 => sc.next(),
            0..=7 => mode,
            _ => 0,
        };
        lp[i] = value_of(sc, pmode, good);
        if let Some(g) = grad.as_deref_mut() {
            for d in 0..D {
                let good = (-scale * (f64::from(row[d]) - centre)) as R;
                g[i * D + d] = if flags == 13 {
                    let m = sc.next();
                    value_of(sc, m, good)
                } else {
                    good
                };
            }
            if mode == 12 {
                g[i * D] = R::NAN;
            }
            if mode == 13 {
                g[i * D + D - 1] = R::MAX;
            }
        }
    }
    0
}

// ---------------------------------------------------------------------------------------------
// Invariants

/// After any call: an initialised state reports sane totals, every component is a valid,
/// finite Gaussian, the weights sum to 1, samples and their log densities are not NaN. An
/// uninitialised state says so.
pub fn check_state(s: *mut gmmvi_state, initialised: bool) {
    let mut r = gmmvi_report::default();
    let st = unsafe { gmmvi_stats(s, &mut r) };
    if !initialised {
        check_status(st, &[GMMVI_NOT_INITIALIZED, GMMVI_NULL_POINTER, GMMVI_BAD_ALIGNMENT], "stats (uninit)");
        return;
    }
    assert_eq!(st, GMMVI_OK, "stats of an initialised state");
    let n = r.components as usize;
    assert!((1..=K).contains(&n), "{r:?}");
    assert!(r.elbo != f64::INFINITY, "ELBO estimate +inf: {r:?}");
    let mut wsum = 0.0f64;
    for k in 0..n {
        let (mut w, mut m, mut c, mut l) = (0.0 as R, [0.0 as R; D], [0.0 as R; D * D], [0.0 as R; D * D]);
        let st = unsafe { gmmvi_get_component(s, k, &mut w, m.as_mut_ptr(), c.as_mut_ptr(), l.as_mut_ptr()) };
        assert_eq!(st, GMMVI_OK);
        assert!(w.is_finite() && w >= 0.0, "weight {w} of {k}");
        wsum += f64::from(w);
        assert!(m.iter().all(|v| v.is_finite()), "mean {m:?} of {k}");
        // Imported and restored factors too (fuzz/regressions/blobs-huge-factor-*).
        assert!(c.iter().all(|v| v.is_finite()), "covariance {c:?} of {k}");
        assert!(l.iter().all(|v| v.is_finite()), "Cholesky factor {l:?} of {k}");
        for i in 0..D {
            assert!(l[i * D + i] > 0.0, "Cholesky diagonal {l:?} of {k}");
        }
        // Lower triangular (fuzz/regressions/blobs-restore-nonzero-upper-triangle).
        for i in 0..D {
            for j in i + 1..D {
                assert_eq!(l[i * D + j], 0.0, "upper triangle of the Cholesky factor {l:?} of {k}");
            }
        }
    }
    // Normalised, up to f32 rounding (fuzz/regressions/blobs-restore-unnormalised-weights).
    assert!((wsum - 1.0).abs() < 2e-3, "weights sum to {wsum}");
    let st = unsafe { gmmvi_get_component(s, n, null_mut(), null_mut(), null_mut(), null_mut()) };
    assert_eq!(st, GMMVI_NO_SUCH_COMPONENT);
    let mut xs = [0.0 as R; 4 * D];
    assert_eq!(unsafe { gmmvi_sample(s, xs.as_mut_ptr(), 4) }, GMMVI_OK);
    assert!(xs.iter().all(|v| !v.is_nan()), "sampled NaN: {xs:?}");
    // Samples lie strictly inside the bounds (imported ones too).
    let (mut lo, mut hi) = ([0.0 as R; D], [0.0 as R; D]);
    assert_eq!(unsafe { gmmvi_get_bounds(s, lo.as_mut_ptr(), hi.as_mut_ptr(), D) }, GMMVI_OK);
    for x in xs.chunks_exact(D) {
        let inside =
            (0..D).all(|i| (lo[i] == R::NEG_INFINITY || lo[i] < x[i]) && (hi[i] == R::INFINITY || x[i] < hi[i]));
        assert!(inside, "sample {x:?} outside the bounds {lo:?} {hi:?}");
    }
    let mut lq = [0.0 as R; 4];
    assert_eq!(unsafe { gmmvi_log_density(s, xs.as_ptr(), 4, lq.as_mut_ptr()) }, GMMVI_OK);
    if xs.iter().all(|v| v.is_finite()) {
        assert!(lq.iter().all(|v| !v.is_nan() && *v != R::INFINITY), "log q {lq:?} of samples {xs:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Blobs

/// FNV-1a, 64 bit (the formats' documented checksum), to forge valid checksums.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Rewrites the checksums of a blob so that only its contents are judged: a model
/// (`GMMVIMDL`: the last 8 bytes) or a C checkpoint (`GMMVICKP`: the optimiser's blob and
/// the C layer's 60-byte tail each end with one).
pub fn fix_checksums(b: &mut [u8]) {
    let n = b.len();
    if b.starts_with(b"GMMVIMDL") && n >= 16 {
        let s = fnv(&b[..n - 8]);
        b[n - 8..].copy_from_slice(&s.to_le_bytes());
    } else if b.starts_with(b"GMMVICKP") && n >= FFI_TAIL + 16 {
        let split = n - FFI_TAIL;
        let s = fnv(&b[..split - 8]);
        b[split - 8..split].copy_from_slice(&s.to_le_bytes());
        let t = fnv(&b[split..n - 8]);
        b[n - 8..].copy_from_slice(&t.to_le_bytes());
    }
}

/// An edit of a blob.
#[derive(Arbitrary, Debug, Clone)]
pub enum Edit {
    Xor(u32, u8),
    Put8(u32, [u8; 8]),
    /// An `f32` value at a byte position (checkpoints of `f32` builds).
    PutF32(u32, Real),
    /// An `f64` value at a byte position.
    PutF64(u32, Real),
    /// An `f64` value in scalar slot `i` of a model body (log weight, mean, factor entries).
    ModelSlot(u16, Real),
    /// A count (`u32` / `u64`) at a byte position.
    PutCount(u32, Count),
}

pub fn apply_edits(b: &mut [u8], edits: &[Edit]) {
    if b.is_empty() {
        return;
    }
    for e in edits.iter().take(8) {
        let n = b.len();
        let at = |p: u32, w: usize| (n >= w).then(|| p as usize % (n - w + 1));
        let mut put = |p: Option<usize>, bytes: &[u8]| {
            if let Some(p) = p {
                b[p..p + bytes.len()].copy_from_slice(bytes);
            }
        };
        match e {
            Edit::Xor(p, x) => {
                let i = *p as usize % n;
                b[i] ^= x;
            }
            Edit::Put8(p, v) => put(at(*p, 8), v),
            Edit::PutF32(p, v) => put(at(*p, 4), &(v.get() as f32).to_le_bytes()),
            Edit::PutF64(p, v) => put(at(*p, 8), &v.get().to_le_bytes()),
            Edit::ModelSlot(i, v) => {
                let p = 24 + 8 * usize::from(*i);
                if p + 8 <= n {
                    put(Some(p), &v.get().to_le_bytes());
                }
            }
            Edit::PutCount(p, c) => put(at(*p, 8), &c.get().to_le_bytes()),
        }
    }
}

//! The unsafe half of the C ABI: the layout of the state and the only ways to reach it, the
//! pointer checks, C strings, rows of caller buffers and the callback adapter.
// Errors carry their message in a fixed buffer (no heap to box it in); they are cold.
#![allow(clippy::result_large_err)]

use core::cell::{Cell, UnsafeCell};
use core::ffi::{c_char, c_int, c_void};
use core::mem::{MaybeUninit, align_of, size_of};

use nalgebra::SVector;

use super::detail::{DETAIL_LEN, Fail, Msg, status_text};
use super::gmmvi_status::{self, *};
use super::{
    FfiOptimizer, GMMVI_DIM, GMMVI_STATE_ALIGN, GMMVI_STATE_SIZE, config, gmmvi_config, gmmvi_log_density_fn,
    gmmvi_real, gmmvi_report, gmmvi_state,
};
use core_gmmvi::error::TargetError;
use core_gmmvi::model::Gmm;
use core_gmmvi::rng::Xoshiro256;
use core_gmmvi::target::Target;

/// Marks an initialised state ("gmmvi", layout version 2).
const MAGIC: u64 = u64::from_le_bytes(*b"gmmvi\0\0\x02");

/// Marks a recorded message of the last failed call (the header is valid for every bit
/// pattern, so a state that was never initialised has none unless this tag is there).
const DETAIL_TAG: u64 = u64::from_le_bytes(*b"gmmvi\0\0E");

/// Seed offset of `gmmvi_sample`'s stream, so that sampling never changes the optimisation.
const SAMPLE_STREAM: u64 = 0x2545_F491_4F6C_DD1D;

/// What a `gmmvi_state` holds. The header is valid for every bit pattern, so it can be read
/// before the state is known to be initialised; the body is reached only through
/// [`state_mut`] / [`state_ref`] after the checks.
#[repr(C)]
struct State {
    magic: Cell<u64>,
    /// 1 while a call holds the body mutably (a callback runs inside it).
    busy: Cell<u32>,
    /// Why the last failed call on this state failed (`gmmvi_last_error`).
    detail: Detail,
    body: UnsafeCell<Body>,
}

/// A message in the state's header: `tag == DETAIL_TAG` and `len <= DETAIL_LEN` when set.
#[repr(C)]
pub(super) struct Detail {
    tag: Cell<u64>,
    /// The failure's status, whose text stands for an empty message.
    status: Cell<u32>,
    len: Cell<u32>,
    text: [Cell<u8>; DETAIL_LEN],
}

impl Detail {
    /// Records the failure: its status and message.
    pub fn set(&self, status: gmmvi_status, m: &Msg) {
        let b = m.as_bytes();
        for (dst, src) in self.text.iter().zip(b) {
            dst.set(*src);
        }
        self.status.set(status as u32);
        self.len.set(u32::try_from(b.len()).unwrap_or(0));
        self.tag.set(DETAIL_TAG);
    }

    pub fn clear(&self) {
        self.tag.set(0);
        self.len.set(0);
    }

    /// The recorded message (empty if none): bytes as recorded, at most `DETAIL_LEN`, or the
    /// status's text for an empty one.
    pub fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let set = self.tag.get() == DETAIL_TAG;
        let n = if set { self.len.get() as usize } else { 0 };
        let status: &[u8] = if set && n == 0 { status_text(self.status.get()).to_bytes() } else { &[] };
        self.text.iter().take(n).map(Cell::get).chain(status.iter().copied())
    }
}

/// The initialised part of a state.
pub(super) struct Body {
    pub opt: FfiOptimizer,
    /// `gmmvi_sample`'s random stream.
    pub rng: Xoshiro256,
    /// The last step's details (totals are read from `opt`).
    pub last: gmmvi_report,
}

impl Body {
    /// Totals of the optimiser with the last step's details.
    pub fn report(&self) -> gmmvi_report {
        gmmvi_report {
            iterations: self.opt.iterations(),
            evaluations: self.opt.evaluations(),
            components: u32::try_from(self.opt.model().len()).unwrap_or(u32::MAX),
            ..self.last
        }
    }
}

const _: () = {
    assert!(
        size_of::<State>() <= GMMVI_STATE_SIZE,
        "the ABI state outgrew GMMVI_STATE_SIZE: raise the bound in build.rs (Sizes::state_size)"
    );
    assert!(align_of::<State>() <= GMMVI_STATE_ALIGN && align_of::<gmmvi_state>() == GMMVI_STATE_ALIGN);
    assert!(size_of::<gmmvi_state>() == GMMVI_STATE_SIZE);
    // The callback sees a block of points as `n x D` scalars: SVector is D contiguous scalars.
    assert!(size_of::<SVector<gmmvi_real, GMMVI_DIM>>() == GMMVI_DIM * size_of::<gmmvi_real>());
    assert!(align_of::<SVector<gmmvi_real, GMMVI_DIM>>() == align_of::<gmmvi_real>());
};

/// Bytes of a state that the library uses (`GMMVI_STATE_SIZE` is an upper bound of it).
pub(super) const STATE_BYTES: usize = size_of::<State>();

/// `Err` unless `p` is non-null and aligned for `T`.
pub(super) fn check_in<T>(p: *const T) -> Result<(), gmmvi_status> {
    if p.is_null() {
        Err(GMMVI_NULL_POINTER)
    } else if !p.is_aligned() {
        Err(GMMVI_BAD_ALIGNMENT)
    } else {
        Ok(())
    }
}

/// [`check_in`] for an output pointer.
pub(super) fn check_out<T>(p: *mut T) -> Result<(), gmmvi_status> {
    check_in(p.cast_const())
}

/// `Err(GMMVI_INVALID_ARGUMENT)` if `len` values at `p` overlap the state at `s` or do not fit
/// the address space: the library holds references into the state while it writes outputs.
pub(super) fn disjoint<T, S>(p: *const T, len: usize, s: *const S) -> Result<(), gmmvi_status> {
    let bytes = len.checked_mul(size_of::<T>()).filter(|&b| b <= isize::MAX as usize).ok_or(GMMVI_INVALID_ARGUMENT)?;
    let (a, b) = (p.addr(), s.addr());
    let a_end = a.checked_add(bytes).ok_or(GMMVI_INVALID_ARGUMENT)?;
    let b_end = b.saturating_add(STATE_BYTES);
    if a < b_end && b < a_end { Err(GMMVI_INVALID_ARGUMENT) } else { Ok(()) }
}

/// The caller's output buffer of `cap` bytes at `out` and its length slot `written`, after the
/// null, alignment and overlap checks (neither overlaps the state or the other).
///
/// # Safety
/// `out` is NULL or valid for writing `cap` bytes, `written` NULL or writable, and neither is
/// accessed by anyone else during the call.
pub(super) unsafe fn out_bytes<'a>(
    s: *const gmmvi_state,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> Result<(&'a mut [u8], &'a mut usize), gmmvi_status> {
    check_out(written)?;
    check_out(out)?;
    disjoint(written, 1, s)?;
    disjoint(out, cap, s)?;
    let (w, o) = (written.addr(), out.addr());
    if w < o.saturating_add(cap) && o < w.saturating_add(size_of::<usize>()) {
        return Err(GMMVI_INVALID_ARGUMENT);
    }
    // SAFETY: checked non-null, aligned, disjoint from the state and from each other; the
    // caller guarantees `cap` writable bytes at `out` and a writable `written`.
    unsafe { Ok((core::slice::from_raw_parts_mut(out, cap), &mut *written)) }
}

/// The caller's `len` input bytes at `bytes`, after the null and overlap checks.
///
/// # Safety
/// `bytes` is NULL or valid for reading `len` bytes, not written during the call.
pub(super) unsafe fn in_bytes<'a>(
    s: *const gmmvi_state,
    bytes: *const u8,
    len: usize,
) -> Result<&'a [u8], gmmvi_status> {
    check_in(bytes)?;
    disjoint(bytes, len, s)?;
    // SAFETY: non-null, `len` readable bytes (caller's contract; `disjoint` bounded `len` by
    // `isize::MAX`), outside the state.
    Ok(unsafe { core::slice::from_raw_parts(bytes, len) })
}

/// The caller's text buffer of `cap` bytes at `p`: `None` for NULL or `cap == 0`.
///
/// # Safety
/// `p` is NULL or valid for writing `cap` bytes, not accessed by anyone else during the call.
pub(super) unsafe fn out_text<'a>(p: *mut c_char, cap: usize) -> Result<Option<&'a mut [u8]>, gmmvi_status> {
    if p.is_null() || cap == 0 {
        return Ok(None);
    }
    if cap > isize::MAX as usize {
        return Err(GMMVI_INVALID_ARGUMENT);
    }
    // SAFETY: non-null, byte-aligned, `cap <= isize::MAX` writable bytes (caller's contract).
    Ok(Some(unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), cap) }))
}

/// Writes `text` as a NUL-terminated string into `out`, truncated to fit.
pub(super) fn write_text(out: Option<&mut [u8]>, text: &[u8]) {
    if let Some(buf) = out {
        let n = text.len().min(buf.len().saturating_sub(1));
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), text.get(..n)) {
            dst.copy_from_slice(src);
        }
        if let Some(end) = buf.get_mut(n) {
            *end = 0;
        }
    }
}

/// The header cells and the body pointer of the state at `s`, after the null and alignment
/// checks.
///
/// # Safety
/// `s` is NULL or valid for reads (and, through the cells, writes) of `GMMVI_STATE_SIZE` bytes.
unsafe fn header<'a>(s: *const gmmvi_state) -> Result<Header<'a>, gmmvi_status> {
    let st = s.cast::<State>().cast_mut();
    check_in(st)?;
    // SAFETY: `st` is non-null, aligned and points to at least size_of::<State>() bytes (the
    // caller's contract and GMMVI_STATE_SIZE >= size_of::<State>()). The cells of the header
    // are valid for every bit pattern; only raw place projections touch the body.
    unsafe { Ok((&(*st).magic, &(*st).busy, &(*st).detail, UnsafeCell::raw_get(&raw const (*st).body))) }
}

/// The magic, busy flag and message of a state, and a pointer to its body.
type Header<'a> = (&'a Cell<u64>, &'a Cell<u32>, &'a Detail, *mut Body);

/// The message of the last failed call on `s` (see `gmmvi_last_error`).
///
/// # Safety
/// As [`header`].
pub(super) unsafe fn detail<'a>(s: *const gmmvi_state) -> Result<&'a Detail, gmmvi_status> {
    // SAFETY: forwarded contract.
    unsafe { header(s) }.map(|(_, _, d, _)| d)
}

/// Exclusive access to an initialised state; marks it busy until dropped.
pub(super) struct StateMut<'a> {
    busy: &'a Cell<u32>,
    detail: &'a Detail,
    body: &'a mut Body,
}

impl StateMut<'_> {
    pub fn body(&mut self) -> &mut Body {
        self.body
    }

    /// Records why the call failed, for `gmmvi_last_error`, and returns its status.
    pub fn fail(&self, e: impl Into<Fail>) -> gmmvi_status {
        let f: Fail = e.into();
        self.detail.set(f.status, &f.msg);
        f.status
    }
}

impl Drop for StateMut<'_> {
    fn drop(&mut self) {
        self.busy.set(0);
    }
}

/// The body of the initialised, idle state at `s`, held exclusively.
///
/// # Safety
/// As [`header`]; no other thread uses the state.
pub(super) unsafe fn state_mut<'a>(s: *mut gmmvi_state) -> Result<StateMut<'a>, gmmvi_status> {
    // SAFETY: forwarded contract.
    let (magic, busy, detail, body) = unsafe { header(s) }?;
    if magic.get() != MAGIC {
        return Err(GMMVI_NOT_INITIALIZED);
    }
    if busy.get() != 0 {
        return Err(GMMVI_BUSY);
    }
    busy.set(1);
    // SAFETY: the magic says `gmmvi_init` wrote a valid body; the state is not busy, so no
    // reference to the body is live (one thread at a time), and while this one lives every
    // other entry point stops at the busy flag.
    Ok(StateMut { busy, detail, body: unsafe { &mut *body } })
}

/// The body of the initialised, idle state at `s`, shared.
///
/// # Safety
/// As [`header`]; no other thread uses the state.
pub(super) unsafe fn state_ref<'a>(s: *const gmmvi_state) -> Result<&'a Body, gmmvi_status> {
    // SAFETY: forwarded contract.
    let (magic, busy, _, body) = unsafe { header(s) }?;
    if magic.get() != MAGIC {
        return Err(GMMVI_NOT_INITIALIZED);
    }
    if busy.get() != 0 {
        return Err(GMMVI_BUSY);
    }
    // SAFETY: initialised and not held mutably (see `state_mut`); callers return before any
    // other entry point can run.
    Ok(unsafe { &*body })
}

/// `gmmvi_init` after reading the config: validates everything, then writes the optimiser
/// into the state in place.
///
/// # Safety
/// `s` is NULL or valid for reads and writes of `s_size` bytes and used by no other thread;
/// `c.overrides` is NULL or a NUL-terminated string.
pub(super) unsafe fn init(s: *mut gmmvi_state, s_size: usize, c: &gmmvi_config, seed: u64) -> Result<(), gmmvi_status> {
    // Too small a buffer is rejected before anything in it is read.
    if !s.is_null() && s_size < GMMVI_STATE_SIZE {
        return Err(GMMVI_BUFFER_TOO_SMALL);
    }
    // SAFETY: `s_size >= GMMVI_STATE_SIZE` bytes at `s` (caller's contract).
    let (magic, busy, detail, body) = unsafe { header(s) }?;
    if magic.get() == MAGIC && busy.get() != 0 {
        return Err(GMMVI_BUSY);
    }
    // From here on every error leaves the state uninitialised, with its reason recorded.
    magic.set(0);
    busy.set(0);
    detail.clear();
    // SAFETY: forwarded contract; `magic` is 0, so nothing references the body.
    unsafe { init_body(body, c, seed) }.map_err(|f| {
        detail.set(f.status, &f.msg);
        f.status
    })?;
    magic.set(MAGIC);
    Ok(())
}

/// The part of [`init`] that can fail for the configuration: builds the body in place.
///
/// # Safety
/// `body` points to the writable, aligned, unreferenced body of a state;
/// `c.overrides` is NULL or a NUL-terminated string.
unsafe fn init_body(body: *mut Body, c: &gmmvi_config, seed: u64) -> Result<(), Fail> {
    let overrides = if c.overrides.is_null() {
        None
    } else if cfg!(not(feature = "text")) {
        return Err(Fail::config(format_args!("overrides: this build has no text form (GMMVI_HAS_TEXT 0)")));
    } else {
        // SAFETY: non-null, and NUL-terminated by the caller's contract. The body is not
        // referenced while the text is read, so the text may even lie inside the state.
        Some(unsafe { c_str(c.overrides, config::MAX_TEXT) }.map_err(|st| {
            let why = if st == GMMVI_BAD_CONFIG { "longer than 4096 bytes or not UTF-8" } else { "unreadable" };
            Fail { status: st, msg: Msg::of(format_args!("overrides: {why}")) }
        })?)
    };
    let cfg = config::to_config(c, overrides)?;
    let mut model = Gmm::new();
    config::initial_model(c, seed, &mut model)?;
    let prior_var = config::prior_variances(c)?;
    let prior_mean = config::prior_mean(c)?;
    // SAFETY: `body` points to size_of::<Body>() writable bytes of the state, aligned (the
    // state is); nothing references them: the state is marked uninitialised above.
    // `MaybeUninit<T>` has the layout of `T` and accepts any bytes.
    let slot = unsafe { &mut *(&raw mut (*body).opt).cast::<MaybeUninit<FfiOptimizer>>() };
    // Built in place: no state-sized temporary on the caller's stack.
    let opt = FfiOptimizer::new_in(slot, &cfg, &model, seed)?;
    opt.set_prior(&prior_mean, &prior_var)?;
    // SAFETY: fields of the body, as above.
    unsafe {
        (&raw mut (*body).rng).write(Xoshiro256::seed_from_u64(seed ^ SAMPLE_STREAM));
        (&raw mut (*body).last).write(gmmvi_report { elbo: f64::NAN, ..gmmvi_report::default() });
    }
    Ok(())
}

/// The NUL-terminated string at `p`; `GMMVI_BAD_CONFIG` unless it is at most `max` bytes of
/// UTF-8 (all strings of the ABI are configuration).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string.
pub(super) unsafe fn c_str<'a>(p: *const c_char, max: usize) -> Result<&'a str, gmmvi_status> {
    // SAFETY: forwarded contract.
    unsafe { c_str_at(p, max) }.map_err(|(st, _)| st)
}

/// [`c_str`], with the byte offset where the text stops being acceptable on
/// `GMMVI_BAD_CONFIG`: `max` for a longer text, else the first byte that is not UTF-8.
///
/// # Safety
/// As [`c_str`].
pub(super) unsafe fn c_str_at<'a>(p: *const c_char, max: usize) -> Result<&'a str, (gmmvi_status, usize)> {
    if p.is_null() {
        return Err((GMMVI_NULL_POINTER, 0));
    }
    let mut n = 0;
    // SAFETY: the bytes up to and including the NUL are readable; the scan stops at the NUL
    // (or after `max` bytes without reading further).
    while n <= max && unsafe { p.add(n).read() } != 0 {
        n += 1;
    }
    if n > max {
        return Err((GMMVI_BAD_CONFIG, max));
    }
    // SAFETY: `n` readable bytes before the NUL, not written while borrowed (the C caller
    // keeps them for the duration of the call).
    core::str::from_utf8(unsafe { core::slice::from_raw_parts(p.cast::<u8>(), n) })
        .map_err(|e| (GMMVI_BAD_CONFIG, e.valid_up_to()))
}

/// Point `i` of an `n x D` row-major buffer.
///
/// # Safety
/// `x` is aligned and valid for reading `(i + 1)·D` values.
pub(super) unsafe fn read_row(x: *const gmmvi_real, i: usize) -> SVector<gmmvi_real, GMMVI_DIM> {
    let mut v = SVector::<gmmvi_real, GMMVI_DIM>::zeros();
    for (d, e) in v.iter_mut().enumerate() {
        // SAFETY: index `i·D + d < (i + 1)·D`, within the caller's buffer.
        *e = unsafe { x.add(i * GMMVI_DIM + d).read() };
    }
    v
}

/// Writes point `v` as row `i` of an `n x D` row-major buffer.
///
/// # Safety
/// `out` is aligned and valid for writing `(i + 1)·D` values.
pub(super) unsafe fn write_row(out: *mut gmmvi_real, i: usize, v: &SVector<gmmvi_real, GMMVI_DIM>) {
    for (d, e) in v.iter().enumerate() {
        // SAFETY: index `i·D + d < (i + 1)·D`, within the caller's buffer.
        unsafe { out.add(i * GMMVI_DIM + d).write(*e) };
    }
}

/// The C callback as a [`Target`].
pub(super) struct CTarget {
    f: gmmvi_log_density_fn,
    ctx: *mut c_void,
    /// The last nonzero code the callback returned.
    pub failed: c_int,
}

impl CTarget {
    /// The entry points' callers promise that `f` may be called with `ctx` as documented at
    /// `gmmvi_log_density_fn`; a NULL `f` fails every call.
    pub fn new(f: gmmvi_log_density_fn, ctx: *mut c_void) -> Self {
        Self { f, ctx, failed: 0 }
    }

    fn call(
        &mut self,
        x: &[SVector<gmmvi_real, GMMVI_DIM>],
        log_p: &mut [gmmvi_real],
        grad: Option<&mut [SVector<gmmvi_real, GMMVI_DIM>]>,
    ) -> Result<(), TargetError> {
        // Values the callback leaves unwritten reject their samples.
        log_p.fill(gmmvi_real::NAN);
        let mut n = x.len().min(log_p.len());
        let g = match grad {
            Some(g) => {
                g.fill(SVector::repeat(gmmvi_real::NAN));
                n = n.min(g.len());
                g.as_mut_ptr().cast::<gmmvi_real>()
            }
            None => core::ptr::null_mut(),
        };
        let Some(f) = self.f else { return Err(TargetError { code: -1 }) };
        if n == 0 {
            return Ok(());
        }
        // SAFETY: `x` holds n·D contiguous scalars (SVector layout asserted above), `log_p` n
        // and `g` (if not NULL) n·D writable ones, all exclusively ours for the call; the
        // caller of the entry point vouched for `f` and `ctx`.
        let rc = unsafe { f(self.ctx, x.as_ptr().cast::<gmmvi_real>(), n, log_p.as_mut_ptr(), g) };
        if rc == 0 {
            Ok(())
        } else {
            self.failed = rc;
            Err(TargetError { code: rc })
        }
    }
}

impl Target<gmmvi_real, GMMVI_DIM> for CTarget {
    fn log_density(
        &mut self,
        x: &[SVector<gmmvi_real, GMMVI_DIM>],
        log_p: &mut [gmmvi_real],
    ) -> Result<(), TargetError> {
        self.call(x, log_p, None)
    }

    fn log_density_with_grad(
        &mut self,
        x: &[SVector<gmmvi_real, GMMVI_DIM>],
        log_p: &mut [gmmvi_real],
        grad: &mut [SVector<gmmvi_real, GMMVI_DIM>],
    ) -> Result<(), TargetError> {
        self.call(x, log_p, Some(grad))
    }
}

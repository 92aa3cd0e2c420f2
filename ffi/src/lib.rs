//! The C ABI of the `gmmvi` core: the `#[no_mangle]` functions, types and build-time sizes
//! behind `include/gmmvi.h` (generated from this file by `build.rs`), as a Rust library. The
//! package `gmmvi-ffi` (`ffi/staticlib/`) links it into `libgmmvi.a` for C and C++ programs,
//! hosted or bare-metal; the tests and the fuzzer call it from Rust. It never allocates and
//! needs nothing from the C library but `memcpy`, `memset`, `memmove` and `memcmp`.
//!
//! C cannot instantiate const generics, so the ABI exposes one optimiser type whose sizes are
//! fixed at build time ([`GMMVI_DIM`], [`GMMVI_MAX_COMPONENTS`], ... from the `GMMVI_*`
//! environment variables read by `build.rs`). Its state lives in caller-provided storage of
//! [`GMMVI_STATE_SIZE`] bytes (a [`gmmvi_state`], e.g. a C `static`): nothing is allocated.
//!
//! The shape follows rustls-ffi: an opaque state, a status code from every fallible call, no panic
//! across the boundary. Every entry point checks its pointers (null, alignment, overlap with
//! the state), sizes and the state's initialised marker before touching anything, and leaves
//! the state valid whatever happens: a failed step keeps the last valid model. A callback that
//! calls back into the same state gets [`gmmvi_status::GMMVI_BUSY`].
//!
//! With `gmmvi-ffi`'s panic handler, this crate holds all of the project's `unsafe` code (the
//! core forbids it): the entry points here and the state access, pointer checks and callback
//! adapter in `raw.rs`; the configuration handling in `config.rs` is safe code.
#![no_std]
#![deny(missing_docs)]
#![allow(non_camel_case_types)]

mod config;
mod detail;
mod model;
mod raw;

pub use model::*;

use core::ffi::{c_char, c_int, c_void};

use core_gmmvi::error::Error;
use core_gmmvi::optimizer::{StepReport, StopRule};
use core_gmmvi::real::Real;

include!(concat!(env!("OUT_DIR"), "/ffi_sizes.rs"));

/// The optimiser type behind the ABI (`gmmvi::Optimizer7x8<f32>` at the default sizes).
type FfiOptimizer = core_gmmvi::Optimizer<
    gmmvi_real,
    GMMVI_DIM,
    GMMVI_MAX_COMPONENTS,
    GMMVI_STORE_CAPACITY,
    GMMVI_STORED_GAUSSIANS,
    GMMVI_HISTORY,
    false,
    0,
    GMMVI_BG_CACHE_ROWS,
>;

/// Result of every call. `GMMVI_OK` is 0; `gmmvi_status_str` names each code.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum gmmvi_status {
    /// Success.
    GMMVI_OK = 0,
    /// A required pointer is NULL.
    GMMVI_NULL_POINTER = 1,
    /// An argument is out of range or overlaps the state.
    GMMVI_INVALID_ARGUMENT = 2,
    /// The configuration is invalid or does not fit the build's sizes.
    GMMVI_BAD_CONFIG = 3,
    /// The log-density callback returned nonzero (its code: `gmmvi_report.target_error`); the
    /// model is unchanged.
    GMMVI_TARGET_FAILED = 4,
    /// A factorisation failed; the model is unchanged.
    GMMVI_NUMERICAL = 5,
    /// The state buffer is smaller than `GMMVI_STATE_SIZE`.
    GMMVI_BUFFER_TOO_SMALL = 6,
    /// A pointer is not aligned for its type (the state: `GMMVI_STATE_ALIGN`).
    GMMVI_BAD_ALIGNMENT = 7,
    /// A step had no usable sample (every new value non-finite, none stored to reuse); the
    /// model is unchanged.
    GMMVI_NON_FINITE_TARGET = 8,
    /// The state was never initialised by `gmmvi_init` (or its last `gmmvi_init` failed).
    GMMVI_NOT_INITIALIZED = 9,
    /// The state is in use: called from inside a callback of the same state.
    GMMVI_BUSY = 10,
    /// The component index is not below the number of components.
    GMMVI_NO_SUCH_COMPONENT = 11,
    /// Checkpoint or model bytes are truncated, corrupted, of another version or for another
    /// build configuration; the state is unchanged.
    GMMVI_BAD_CHECKPOINT = 12,
    /// The program was compiled against a header of another build of the library (another
    /// version, scalar or size): nothing was read or written. Use the header generated with
    /// the library (`GMMVI_ABI_FINGERPRINT` differs).
    GMMVI_ABI_MISMATCH = 13,
}

use gmmvi_status::*;

impl From<Error> for gmmvi_status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidConfig { .. } => GMMVI_BAD_CONFIG,
            Error::InvalidArgument { .. } | Error::CapacityFull => GMMVI_INVALID_ARGUMENT,
            Error::NoSuchComponent { .. } => GMMVI_NO_SUCH_COMPONENT,
            Error::TargetFailed(_) => GMMVI_TARGET_FAILED,
            Error::NonFiniteTarget => GMMVI_NON_FINITE_TARGET,
            Error::CholeskyFailed { .. } => GMMVI_NUMERICAL,
            Error::BufferTooSmall { .. } => GMMVI_BUFFER_TOO_SMALL,
            Error::BadCheckpoint { .. } => GMMVI_BAD_CHECKPOINT,
        }
    }
}

/// Storage for one optimiser: declare it where it should live (`static gmmvi_state state;`),
/// or use any buffer of `GMMVI_STATE_SIZE` bytes aligned to `GMMVI_STATE_ALIGN`. Only the
/// library reads or writes its contents.
#[repr(C)]
pub struct gmmvi_state {
    opaque: [u64; GMMVI_STATE_WORDS],
}

/// The unnormalised log-density `log p~(x)` to fit, evaluated for a block of points.
///
/// `x` holds `n` points (`n x GMMVI_DIM`, row-major; `n <= 64`). Write `log p~(x_i)` to
/// `log_p[i]` and, when `grad` is not NULL (Stein codewords `S...`), its gradient to
/// `grad[i*GMMVI_DIM .. (i+1)*GMMVI_DIM]`. A value left unwritten or non-finite rejects that
/// sample. Return 0 on success; any other value aborts the step with `GMMVI_TARGET_FAILED`
/// and keeps the model. Do not keep the pointers, throw or `longjmp` out.
pub type gmmvi_log_density_fn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        x: *const gmmvi_real,
        n: usize,
        log_p: *mut gmmvi_real,
        grad: *mut gmmvi_real,
    ) -> c_int,
>;

/// Hyperparameters and initial model. Fill it with `gmmvi_config_default`,
/// `gmmvi_config_from_codeword` or `gmmvi_config_parse`, then change fields; `gmmvi_init`
/// validates everything (`GMMVI_BAD_CONFIG`).
///
/// The initial model has `initial_components` components of weight `1/K0` and covariance
/// `diag(initial_std^2)`, centred at `prior_mean` (one component) or at
/// `prior_mean + prior_std * eps`, `eps ~ N(0, I)` drawn from the seed. `prior_std` also sets
/// the entropy of components added later (between the model's and that of `N(prior_mean,
/// diag(prior_std^2))`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct gmmvi_config {
    /// Design choices as a NUL-terminated 7-letter codeword, e.g. `"SAMTRUX"` (README table);
    /// fields not set below take the codeword's defaults.
    pub codeword: [c_char; 8],
    /// NULL, or further `key=value` settings applied after the fields below (keys of the text
    /// form, e.g. `"thresholds_for_add_heuristic=100;50 min_weight_for_del_heuristic=1e-5"`);
    /// it may start with the codeword, which must then equal `codeword`. Read only during
    /// `gmmvi_init`; at most 4096 bytes. Numbers are integers if `GMMVI_HAS_DECIMAL_TEXT` is 0;
    /// must be NULL if `GMMVI_HAS_TEXT` is 0 (else `GMMVI_BAD_CONFIG`).
    pub overrides: *const c_char,
    /// Temperature of `E_q[log p~] + T H(q)`; 1 for the posterior.
    pub temperature: f64,
    /// Step size of new components (`M`: KL bound of the trust-region update).
    pub component_step: f64,
    /// Step size of the weight update.
    pub weight_step: f64,
    /// Reused stored samples per fresh one: `floor(ratio * n_des) * K` newest rows join each
    /// iteration.
    pub reuse_ratio: f64,
    /// New samples per component and iteration (`n_des`; with `P` codewords: per iteration).
    pub samples_per_component: u32,
    /// Most components the adaptive scheme grows to (at most `GMMVI_MAX_COMPONENTS`).
    pub max_components: u32,
    /// A component is added every this many iterations (adaptive codewords `?A?????`).
    pub add_iters: u32,
    /// Deletion looks back this many iterations; needs `2*(del_iters/3) + del_iters <=
    /// GMMVI_HISTORY`.
    pub del_iters: u32,
    /// Components of the initial model, `1..=GMMVI_MAX_COMPONENTS`.
    pub initial_components: u32,
    /// Draws from the prior (`prior_mean`, `prior_std`) that the add heuristic also considers
    /// as the mean of a new component, besides the stored samples (adaptive codewords
    /// `?A?????`; text key `num_prior_samples`; 0, the default, for none): a mode that every
    /// component has left can be found again. The target is evaluated on them at every add
    /// (they count as evaluations).
    pub num_prior_samples: u32,
    /// Mean of the prior the initial means are drawn from.
    pub prior_mean: [gmmvi_real; GMMVI_DIM],
    /// Standard deviations of that prior (positive).
    pub prior_std: [gmmvi_real; GMMVI_DIM],
    /// Standard deviations of the initial components (positive).
    pub initial_std: [gmmvi_real; GMMVI_DIM],
}

/// Progress of the optimiser: totals, and the details of the last step.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct gmmvi_report {
    /// Completed iterations.
    pub iterations: u64,
    /// Target evaluations so far.
    pub evaluations: u64,
    /// Importance-sampled ELBO estimate of the last step (free, noisy); NaN before the first.
    pub elbo: f64,
    /// Active components.
    pub components: u32,
    /// Target evaluations of the last step.
    pub new_evaluations: u32,
    /// Samples of the last step rejected for a non-finite value or gradient.
    pub rejected_samples: u32,
    /// Component updates of the last step rejected (no valid candidate in the bound).
    pub rejected_updates: u32,
    /// Components added by the last step.
    pub added: u32,
    /// Components deleted by the last step.
    pub deleted: u32,
    /// Nonzero value the callback last returned (0: none yet).
    pub target_error: i32,
    /// 1 if the last step skipped the weight update (non-finite estimates), else 0.
    pub weights_frozen: u32,
}

impl gmmvi_report {
    fn from_step(r: &StepReport<gmmvi_real>, target_error: i32) -> Self {
        let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Self {
            iterations: r.iteration,
            evaluations: r.evaluations,
            elbo: f64::from(r.elbo_estimate),
            components: u(r.components),
            new_evaluations: u(r.new_evaluations),
            rejected_samples: u(r.rejected_samples),
            rejected_updates: u(r.rejected_updates),
            added: u(r.added),
            deleted: u(r.deleted),
            target_error,
            weights_frozen: r.weights_frozen as u32,
        }
    }
}

/// Bytes of a `gmmvi_state` this build uses (at most [`GMMVI_STATE_SIZE`], the bound for the
/// target built). Rust-only: for footprint reports and tests.
pub fn state_bytes_used() -> usize {
    raw::STATE_BYTES
}

/// Collapses an internal result into the status code.
fn status(r: Result<(), gmmvi_status>) -> gmmvi_status {
    r.err().unwrap_or(GMMVI_OK)
}

/// A short, static, NUL-terminated description of a status code (also of unknown codes).
/// `gmmvi_last_error` says more about the last failure of a state.
#[unsafe(no_mangle)]
pub extern "C" fn gmmvi_status_str(status: u32) -> *const c_char {
    detail::status_text(status).as_ptr()
}

/// The library's version, `major << 16 | minor << 8 | patch` (compare with
/// `GMMVI_VERSION_MAJOR`, `GMMVI_VERSION_MINOR` and `GMMVI_VERSION_PATCH` of the header).
#[unsafe(no_mangle)]
pub extern "C" fn gmmvi_version() -> u32 {
    (GMMVI_VERSION_MAJOR << 16) | (GMMVI_VERSION_MINOR << 8) | GMMVI_VERSION_PATCH
}

/// The fingerprint of the library's build (version, ABI revision, scalar, every size): equal
/// to the header's `GMMVI_ABI_FINGERPRINT` exactly when the header belongs to this library.
#[unsafe(no_mangle)]
pub extern "C" fn gmmvi_abi_fingerprint() -> u64 {
    GMMVI_ABI_FINGERPRINT
}

/// `Err(GMMVI_ABI_MISMATCH)` unless the caller's header is this build's.
fn check_abi(abi: u64) -> Result<(), gmmvi_status> {
    if abi == GMMVI_ABI_FINGERPRINT { Ok(()) } else { Err(GMMVI_ABI_MISMATCH) }
}

/// The default configuration: SAMTRUX (Stein, adaptive, component-based samples, trust-region
/// components with improvement-based KL bounds, direct weights) with the defaults of
/// docs/algorithm.md §11, fitted to the build's sizes:
/// `samples_per_component = GMMVI_SAMPLES_PER_COMPONENT`,
/// `reuse_ratio` as large as the store keeps (at most 2; 1 for the default sizes),
/// `del_iters` as large as `GMMVI_HISTORY` allows (at most 100; 10 for the default),
/// `max_components = GMMVI_MAX_COMPONENTS`; one initial component, `N(0, I)` prior,
/// `initial_std` 1.
///
/// C: `gmmvi_config_default(&cfg)` (a macro passing `GMMVI_ABI_FINGERPRINT`).
///
/// # Safety
/// `out` is NULL or valid for writing a `gmmvi_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_config_default_abi(out: *mut gmmvi_config, abi: u64) -> gmmvi_status {
    status((|| {
        check_abi(abi)?;
        raw::check_out(out)?;
        // SAFETY: checked non-null and aligned; the caller guarantees it is writable.
        unsafe { out.write(config::default_config()) };
        Ok(())
    })())
}

/// The default configuration (Rust callers of the C ABI; C calls `gmmvi_config_default_abi`).
pub fn gmmvi_config_default() -> gmmvi_config {
    config::default_config()
}

/// Writes the default configuration of a codeword (options and their defaults, fitted to the
/// build's sizes as in `gmmvi_config_default`) to `out`.
///
/// C: `gmmvi_config_from_codeword(codeword, &cfg)` (a macro passing `GMMVI_ABI_FINGERPRINT`).
///
/// # Safety
/// `codeword` is NULL or a NUL-terminated string; `out` is NULL or valid for writing a
/// `gmmvi_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_config_from_codeword_abi(
    codeword: *const c_char,
    out: *mut gmmvi_config,
    abi: u64,
) -> gmmvi_status {
    status((|| {
        check_abi(abi)?;
        raw::check_out(out)?;
        // SAFETY: the caller passes a NUL-terminated string (or NULL, rejected).
        let cw = unsafe { raw::c_str(codeword, 8) }?;
        let c = config::from_codeword(cw)?;
        // SAFETY: checked non-null and aligned; the caller guarantees it is writable.
        unsafe { out.write(c) };
        Ok(())
    })())
}

/// Parses the text form — an optional codeword (SAMTRUX if absent), then `key=value` settings
/// separated by spaces or commas (README "Choosing the method") — onto the codeword's fitted
/// defaults and writes the result to `out`, with `out->overrides = text` for the settings
/// that have no field: keep `text` alive until `gmmvi_init`. On `GMMVI_BAD_CONFIG`,
/// `*error_offset` (if not NULL) is the byte offset in `text` of the offending key or token,
/// or the text's length when the values are fine but do not fit together, and `message` (if
/// not NULL) receives a NUL-terminated explanation naming the key or field and what it must
/// satisfy, e.g. `del_iters = 50: ... at most 12 in this build` (truncated to
/// `message_cap - 1` bytes; 256 bytes always suffice). On success `message` holds "".
/// If `GMMVI_HAS_DECIMAL_TEXT` is 0, numbers must be integers (`GMMVI_BAD_CONFIG` at a key
/// with a fraction or exponent). If `GMMVI_HAS_TEXT` is 0, every text gives `GMMVI_BAD_CONFIG`
/// (offset 0).
///
/// C: `gmmvi_config_parse(text, &cfg, &offset, msg, sizeof msg)` (a macro passing
/// `GMMVI_ABI_FINGERPRINT`).
///
/// # Safety
/// `text` is NULL or a NUL-terminated string of at most 4096 bytes; `out` is NULL or valid
/// for writing a `gmmvi_config`; `error_offset` is NULL or valid for writing a `size_t`;
/// `message` is NULL or valid for writing `message_cap` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_config_parse_abi(
    text: *const c_char,
    out: *mut gmmvi_config,
    error_offset: *mut usize,
    message: *mut c_char,
    message_cap: usize,
    abi: u64,
) -> gmmvi_status {
    status((|| {
        check_abi(abi)?;
        raw::check_out(out)?;
        if !error_offset.is_null() {
            raw::check_out(error_offset)?;
        }
        // SAFETY: the caller guarantees `message_cap` writable bytes at `message` (or NULL).
        let msg = unsafe { raw::out_text(message, message_cap) }?;
        #[cfg(not(feature = "text"))]
        let parsed: Result<gmmvi_config, (usize, &[u8])> = {
            raw::check_in(text)?;
            Err((0, b"this build has no text form (GMMVI_HAS_TEXT 0): set the fields"))
        };
        // SAFETY: the caller passes a NUL-terminated string (or NULL, rejected).
        #[cfg(feature = "text")]
        let parsed = match unsafe { raw::c_str_at(text, config::MAX_TEXT) } {
            // Too long or not UTF-8: the offset where it stops being acceptable.
            Err((GMMVI_BAD_CONFIG, offset)) => {
                Err((offset, detail::Msg::of(format_args!("byte {offset}: text longer than 4096 bytes or not UTF-8"))))
            }
            Err((st, _)) => return Err(st),
            Ok(t) => config::parse(t),
        };
        match parsed {
            Ok(mut c) => {
                c.overrides = text;
                // SAFETY: checked non-null and aligned; the caller guarantees it is writable.
                unsafe { out.write(c) };
                raw::write_text(msg, &[]);
                Ok(())
            }
            Err((offset, why)) => {
                if !error_offset.is_null() {
                    // SAFETY: checked non-null and aligned above.
                    unsafe { error_offset.write(offset) };
                }
                // A `Msg` with the feature `text`; fixed bytes without it.
                #[cfg_attr(not(feature = "text"), allow(clippy::useless_asref))]
                raw::write_text(msg, why.as_ref());
                Err(GMMVI_BAD_CONFIG)
            }
        }
    })())
}

/// [`gmmvi_config_parse_abi`] with this build's fingerprint (Rust callers of the C ABI).
///
/// # Safety
/// As [`gmmvi_config_parse_abi`].
pub unsafe fn gmmvi_config_parse(
    text: *const c_char,
    out: *mut gmmvi_config,
    error_offset: *mut usize,
    message: *mut c_char,
    message_cap: usize,
) -> gmmvi_status {
    // SAFETY: forwarded contract.
    unsafe { gmmvi_config_parse_abi(text, out, error_offset, message, message_cap, GMMVI_ABI_FINGERPRINT) }
}

/// [`gmmvi_config_from_codeword_abi`] with this build's fingerprint (Rust callers).
///
/// # Safety
/// As [`gmmvi_config_from_codeword_abi`].
pub unsafe fn gmmvi_config_from_codeword(codeword: *const c_char, out: *mut gmmvi_config) -> gmmvi_status {
    // SAFETY: forwarded contract.
    unsafe { gmmvi_config_from_codeword_abi(codeword, out, GMMVI_ABI_FINGERPRINT) }
}

/// Initialises an optimiser in `s` (`s_size` bytes: at least `GMMVI_STATE_SIZE`) from `cfg`;
/// `seed` fixes every random draw (same seed, same bits). `s` may hold anything, including a
/// previous optimiser, which is replaced. After a pointer, size or `GMMVI_BUSY` error `s` is
/// untouched; after any other error it is uninitialised (`GMMVI_NOT_INITIALIZED`).
///
/// Stack: the optimiser is built in `s` (`Optimizer::new_in`: zeroed in place, then filled in
/// field by field), so no state-sized temporary lands on the stack: at the default sizes
/// `gmmvi_init` and `gmmvi_step` each run within 12 KiB on x86-64 (`ffi/tests/ffi_stack.rs`,
/// measured by painting the stack).
///
/// On `GMMVI_BAD_CONFIG` (and every other failure after the state pointer and size checks),
/// `gmmvi_last_error` names the field or key and what it must satisfy (if `GMMVI_HAS_TEXT`
/// is 1).
///
/// C: `gmmvi_init(&state, sizeof state, &cfg, seed)` (a macro passing `GMMVI_ABI_FINGERPRINT`;
/// a header of another build gives `GMMVI_ABI_MISMATCH` and leaves `s` untouched).
///
/// # Safety
/// `s` is NULL or valid for reads and writes of `s_size` bytes, and no other thread uses it;
/// `cfg` is NULL or points to a `gmmvi_config` whose `overrides` is NULL or a NUL-terminated
/// string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_init_abi(
    s: *mut gmmvi_state,
    s_size: usize,
    cfg: *const gmmvi_config,
    seed: u64,
    abi: u64,
) -> gmmvi_status {
    status((|| {
        check_abi(abi)?;
        raw::check_in(cfg)?;
        // SAFETY: checked non-null and aligned; the caller guarantees a readable config.
        // Every field accepts any bit pattern.
        let c = unsafe { cfg.read() };
        // SAFETY: the caller guarantees `s_size` bytes at `s`; `overrides` as documented.
        unsafe { raw::init(s, s_size, &c, seed) }
    })())
}

/// [`gmmvi_init_abi`] with this build's fingerprint (Rust callers of the C ABI).
///
/// # Safety
/// As [`gmmvi_init_abi`].
pub unsafe fn gmmvi_init(s: *mut gmmvi_state, s_size: usize, cfg: *const gmmvi_config, seed: u64) -> gmmvi_status {
    // SAFETY: forwarded contract.
    unsafe { gmmvi_init_abi(s, s_size, cfg, seed, GMMVI_ABI_FINGERPRINT) }
}

/// Writes why the last failed call on `s` failed — which `gmmvi_config` field or `overrides`
/// key is wrong and what it must satisfy after `gmmvi_init`, the callback's code or the
/// numerical failure after `gmmvi_step`/`gmmvi_run`, what is wrong with the bytes after
/// `gmmvi_restore`/`gmmvi_import_model` — as a NUL-terminated string into `buf` (`cap` bytes;
/// truncated to `cap - 1`, 256 always suffice) and its full length to `*written` (if not
/// NULL); if `GMMVI_HAS_TEXT` is 0, the text of the failure's status (`gmmvi_status_str`).
/// "" if no failure was recorded since the last successful `gmmvi_init`. Works on a
/// state whose `gmmvi_init` failed, which is when it matters most; reading functions (those
/// taking a `const gmmvi_state *`) record nothing, except `gmmvi_snapshot`.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init` (successfully or not); `buf` is NULL or valid
/// for writing `cap` bytes; `written` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_last_error(
    s: *const gmmvi_state,
    buf: *mut c_char,
    cap: usize,
    written: *mut usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let d = unsafe { raw::detail(s) }?;
        if !written.is_null() {
            raw::check_out(written)?;
            raw::disjoint(written, 1, s)?;
        }
        raw::disjoint(buf, cap, s)?;
        // SAFETY: the caller guarantees `cap` writable bytes at `buf` (or NULL); outside the
        // state (checked above).
        let out = unsafe { raw::out_text(buf, cap) }?;
        let mut text = [0u8; detail::MSG_MAX];
        let mut n = 0;
        for (dst, b) in text.iter_mut().zip(d.bytes()) {
            *dst = b;
            n += 1;
        }
        raw::write_text(out, text.get(..n).unwrap_or_default());
        if !written.is_null() {
            // SAFETY: checked non-null, aligned and outside the state above.
            unsafe { written.write(n) };
        }
        Ok(())
    })())
}

/// One iteration: draws samples, calls `f` (with `ctx`) on blocks of them, updates the
/// components and weights and adapts their number. Writes the report to `report` unless it is
/// NULL. On `GMMVI_TARGET_FAILED` or `GMMVI_NON_FINITE_TARGET` the model is unchanged; new
/// samples with a non-finite value only are rejected (counted in the report).
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `report` is NULL or writable; `f` is NULL or
/// a function as documented at `gmmvi_log_density_fn`, safe to call with `ctx`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_step(
    s: *mut gmmvi_state,
    f: gmmvi_log_density_fn,
    ctx: *mut c_void,
    report: *mut gmmvi_report,
) -> gmmvi_status {
    // SAFETY: forwarded contract; one iteration is `gmmvi_run` with an iteration bound of 1.
    unsafe { gmmvi_run(s, f, ctx, 1, 0, report) }
}

/// Runs iterations until `max_iterations` of them ran or the total number of target
/// evaluations reached `max_evaluations` (0: no evaluation budget), or a step fails; the model
/// is then the last valid one. Writes the report of the state to `report` unless it is NULL,
/// also after a failed step.
///
/// # Safety
/// As `gmmvi_step`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_run(
    s: *mut gmmvi_state,
    f: gmmvi_log_density_fn,
    ctx: *mut c_void,
    max_iterations: u64,
    max_evaluations: u64,
    report: *mut gmmvi_report,
) -> gmmvi_status {
    status((|| {
        if f.is_none() {
            return Err(GMMVI_NULL_POINTER);
        }
        // SAFETY: the caller passes a state pointer per the contract.
        let mut st = unsafe { raw::state_mut(s) }?;
        if !report.is_null() {
            raw::check_out(report)?;
            raw::disjoint(report, 1, s)?;
        }
        let body = st.body();
        let mut target = raw::CTarget::new(f, ctx);
        let rule = StopRule {
            max_iterations,
            max_evaluations: if max_evaluations == 0 { u64::MAX } else { max_evaluations },
            window: 0,
            tolerance: 0.0,
        };
        let last = &mut body.last;
        let run = body.opt.run(&mut target, &rule, |r| *last = gmmvi_report::from_step(r, last.target_error));
        if target.failed != 0 {
            last.target_error = target.failed;
        }
        let r = body.report();
        if !report.is_null() {
            // SAFETY: checked non-null, aligned and outside the state above.
            unsafe { report.write(r) };
        }
        run.map(|_| ()).map_err(|e| st.fail(e))
    })())
}

/// Draws `n` points from the fitted model into `out` (`n x GMMVI_DIM`, row-major): with bounds
/// (`gmmvi_set_bounds`, or an imported bounded model) the mixture's draws mapped into them, so
/// every point lies strictly inside. Uses a random stream of its own: sampling does not change
/// the optimisation.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `out` is NULL (only with `n == 0`) or valid
/// for writing `n * GMMVI_DIM` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_sample(s: *mut gmmvi_state, out: *mut gmmvi_real, n: usize) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let mut st = unsafe { raw::state_mut(s) }?;
        if n == 0 {
            return Ok(());
        }
        let len = n.checked_mul(GMMVI_DIM).ok_or(GMMVI_INVALID_ARGUMENT)?;
        raw::check_out(out)?;
        raw::disjoint(out, len, s)?;
        let body = st.body();
        let mut buf = [nalgebra::SVector::<gmmvi_real, GMMVI_DIM>::zeros(); core_gmmvi::TARGET_BLOCK];
        for first in (0..n).step_by(core_gmmvi::TARGET_BLOCK) {
            let b = (n - first).min(core_gmmvi::TARGET_BLOCK);
            body.opt.sample(&mut body.rng, &mut buf[..b]);
            for (i, x) in buf[..b].iter().enumerate() {
                // SAFETY: rows `first + i < n` of an `n x D` buffer checked writable, aligned
                // and outside the state.
                unsafe { raw::write_row(out, first + i, x) };
            }
        }
        Ok(())
    })())
}

/// Writes `log q(x_i)` of the fitted model for `n` points `x` (`n x GMMVI_DIM`, row-major)
/// to `log_q[i]`: with bounds the density of the mapped mixture (the change of variables
/// included), `-INFINITY` for a point on or outside the bounds.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `x` and `log_q` are NULL (only with `n == 0`)
/// or valid for reading `n * GMMVI_DIM` and writing `n` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_log_density(
    s: *const gmmvi_state,
    x: *const gmmvi_real,
    n: usize,
    log_q: *mut gmmvi_real,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        if n == 0 {
            return Ok(());
        }
        n.checked_mul(GMMVI_DIM).ok_or(GMMVI_INVALID_ARGUMENT)?;
        raw::check_in(x)?;
        raw::check_out(log_q)?;
        raw::disjoint(log_q, n, s)?;
        let mut xs = [nalgebra::SVector::<gmmvi_real, GMMVI_DIM>::zeros(); core_gmmvi::TARGET_BLOCK];
        let mut lq = [0.0; core_gmmvi::TARGET_BLOCK];
        for first in (0..n).step_by(core_gmmvi::TARGET_BLOCK) {
            let b = (n - first).min(core_gmmvi::TARGET_BLOCK);
            for (i, row) in xs[..b].iter_mut().enumerate() {
                // SAFETY: row `first + i < n` of `x`, which the caller guarantees holds n·D
                // readable values; checked non-null and aligned.
                *row = unsafe { raw::read_row(x, first + i) };
            }
            body.opt.log_density_many(&xs[..b], &mut lq[..b]);
            for (i, v) in lq[..b].iter().enumerate() {
                // SAFETY: index `first + i < n`, checked writable, aligned, outside the state.
                unsafe { log_q.add(first + i).write(*v) };
            }
        }
        Ok(())
    })())
}

/// Writes the report of the state (totals, the last step's details) to `out`.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_stats(s: *const gmmvi_state, out: *mut gmmvi_report) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        raw::check_out(out)?;
        raw::disjoint(out, 1, s)?;
        // SAFETY: checked non-null, aligned and outside the state.
        unsafe { out.write(body.report()) };
        Ok(())
    })())
}

/// Writes component `k` (`k <` components of `gmmvi_stats`): its weight, mean (`GMMVI_DIM`
/// values), covariance and lower Cholesky factor (`GMMVI_DIM x GMMVI_DIM`, row-major). Any
/// output may be NULL to skip it.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; each output is NULL or valid for writing its
/// values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_get_component(
    s: *const gmmvi_state,
    k: usize,
    weight: *mut gmmvi_real,
    mean: *mut gmmvi_real,
    cov: *mut gmmvi_real,
    chol: *mut gmmvi_real,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        let q = body.opt.model();
        let (Some(m), Some(l)) = (q.mean(k), q.chol(k)) else {
            return Err(GMMVI_NO_SUCH_COMPONENT);
        };
        let dd = GMMVI_DIM * GMMVI_DIM;
        for (p, len) in [(weight, 1), (mean, GMMVI_DIM), (cov, dd), (chol, dd)] {
            if !p.is_null() {
                raw::check_out(p)?;
                raw::disjoint(p, len, s)?;
            }
        }
        let sigma = l * l.transpose();
        // SAFETY (all writes below): each pointer is NULL (skipped) or checked aligned and
        // outside the state, and the caller guarantees room for its documented length.
        unsafe {
            if !weight.is_null() {
                let lw = q.log_weights().get(k).map_or(f64::NEG_INFINITY, |w| w.to_f64());
                weight.write(gmmvi_real::of(libm::exp(lw)));
            }
            if !mean.is_null() {
                raw::write_row(mean, 0, m);
            }
            for (p, mat) in [(cov, &sigma), (chol, l)] {
                if !p.is_null() {
                    for (i, row) in mat.row_iter().enumerate() {
                        for (j, v) in row.iter().enumerate() {
                            p.add(i * GMMVI_DIM + j).write(*v);
                        }
                    }
                }
            }
        }
        Ok(())
    })())
}

/// Bytes of the C layer's part of a checkpoint (after the optimiser's own blob): the
/// `gmmvi_sample` stream and the last step's report.
const FFI_TAIL: usize = 8 + 4 * 8 + 8 + 4 + 8;
const FFI_TAIL_MAGIC: &[u8; 8] = b"GMMVIFFI";

fn write_tail(body: &raw::Body, out: &mut [u8]) {
    let mut t = [0u8; FFI_TAIL];
    t[..8].copy_from_slice(FFI_TAIL_MAGIC);
    for (i, w) in body.rng.state().iter().enumerate() {
        t[8 + 8 * i..16 + 8 * i].copy_from_slice(&w.to_le_bytes());
    }
    t[40..48].copy_from_slice(&body.last.elbo.to_bits().to_le_bytes());
    t[48..52].copy_from_slice(&body.last.target_error.to_le_bytes());
    let sum = core_gmmvi::checkpoint::fnv(&t[..52]);
    t[52..].copy_from_slice(&sum.to_le_bytes());
    if let Some(dst) = out.get_mut(..FFI_TAIL) {
        dst.copy_from_slice(&t);
    }
}

/// The sample stream and the report fields of a tail written by `write_tail`.
fn read_tail(t: &[u8]) -> Option<(core_gmmvi::rng::Xoshiro256, f64, i32)> {
    let t: &[u8; FFI_TAIL] = t.try_into().ok()?;
    let word = |i: usize| t.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
    if &t[..8] != FFI_TAIL_MAGIC || word(52)? != core_gmmvi::checkpoint::fnv(&t[..52]) {
        return None;
    }
    let rng = core_gmmvi::rng::Xoshiro256::from_state([word(8)?, word(16)?, word(24)?, word(32)?])?;
    let err = i32::from_le_bytes(t.get(48..52)?.try_into().ok()?);
    Some((rng, f64::from_bits(word(40)?), err))
}

/// Writes the bytes `gmmvi_save` needs for the state now to `*size` (it grows with the stored
/// samples and the number of components).
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `size` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_checkpoint_size(s: *const gmmvi_state, size: *mut usize) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        raw::check_out(size)?;
        raw::disjoint(size, 1, s)?;
        // SAFETY: checked non-null, aligned and outside the state.
        unsafe { size.write(body.opt.checkpoint_size() + FFI_TAIL) };
        Ok(())
    })())
}

/// Writes a checkpoint of the complete state (optimiser, sample store, every random stream,
/// counters, the last report) to `out` (`cap` bytes) and its length to `*written`. A state
/// initialised with the same configuration and `gmmvi_restore`d from these bytes continues
/// bit-identically. The format is versioned and little-endian on every platform. If `cap` is
/// too small: `GMMVI_BUFFER_TOO_SMALL` with the size needed in `*written`.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `out` is NULL or valid for writing `cap`
/// bytes; `written` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_save(
    s: *const gmmvi_state,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        // SAFETY: the caller's buffers per the contract.
        let (buf, len) = unsafe { raw::out_bytes(s, out, cap, written) }?;
        let needed = body.opt.checkpoint_size() + FFI_TAIL;
        *len = needed;
        if cap < needed {
            return Err(GMMVI_BUFFER_TOO_SMALL);
        }
        let n = body.opt.save(buf).map_err(gmmvi_status::from)?;
        write_tail(body, buf.get_mut(n..).unwrap_or_default());
        Ok(())
    })())
}

/// Replaces the state by a checkpoint of `gmmvi_save`. `s` must be initialised (`gmmvi_init`)
/// with the same configuration as the state that was saved, in a build with the same sizes;
/// the bytes are validated completely first, so on any error the state is unchanged.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `bytes` is NULL (only with `len == 0`) or
/// valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_restore(s: *mut gmmvi_state, bytes: *const u8, len: usize) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let mut st = unsafe { raw::state_mut(s) }?;
        // SAFETY: the caller's bytes per the contract.
        let b = unsafe { raw::in_bytes(s, bytes, len) }?;
        let split = len.checked_sub(FFI_TAIL).ok_or(GMMVI_BAD_CHECKPOINT)?;
        let (opt_bytes, tail) = b.split_at(split);
        let (rng, elbo, target_error) = read_tail(tail).ok_or(GMMVI_BAD_CHECKPOINT)?;
        let body = st.body();
        if let Err(e) = body.opt.restore(opt_bytes) {
            return Err(st.fail(e));
        }
        let body = st.body();
        body.rng = rng;
        body.last = gmmvi_report { elbo, target_error, ..gmmvi_report::default() };
        Ok(())
    })())
}

/// Writes the fitted model in the portable model format (scalars as little-endian `f64`
/// whatever `gmmvi_real` is) to `out` (`cap` bytes) and its length to `*written`; a firmware
/// build imports it with `gmmvi_import_model`. Without bounds it is the mixture alone (format
/// version 1); with bounds the mixture over the unconstrained space and the bounds (version 2).
/// If `cap` is too small: `GMMVI_BUFFER_TOO_SMALL` with the size needed in `*written`.
///
/// # Safety
/// As `gmmvi_save`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_export_model(
    s: *const gmmvi_state,
    out: *mut u8,
    cap: usize,
    written: *mut usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        // SAFETY: the caller's buffers per the contract.
        let (buf, len) = unsafe { raw::out_bytes(s, out, cap, written) }?;
        *len = body.opt.export_model_size();
        body.opt.export_model(buf).map(|_| ()).map_err(gmmvi_status::from)
    })())
}

/// Replaces the model of an initialised state by an exported one (from any build with the same
/// `GMMVI_DIM`, `f32` or `f64`, at most `GMMVI_MAX_COMPONENTS` components) and restarts the
/// per-component optimiser state; `gmmvi_sample` and `gmmvi_log_density` then use it, and
/// `gmmvi_step` continues fitting from it. A model exported with bounds also sets the bounds;
/// one without keeps the state's. On error the state is unchanged.
///
/// # Safety
/// As `gmmvi_restore`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_import_model(s: *mut gmmvi_state, bytes: *const u8, len: usize) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let mut st = unsafe { raw::state_mut(s) }?;
        // SAFETY: the caller's bytes per the contract.
        let b = unsafe { raw::in_bytes(s, bytes, len) }?;
        let r = st.body().opt.import_model(b);
        r.map_err(|e| st.fail(e))
    })())
}

// Bounds and retarget: the target's support per coordinate, and a moved goal.

/// Declares the target's support: `lo[i] < x_i < hi[i]` for every coordinate (`dim` values
/// each, `dim == GMMVI_DIM`); `-INFINITY` / `INFINITY` leave that side open, all open is the
/// default (no bounds). The model stays in the unconstrained space (`gmmvi_get_component`
/// reads it there; a two-sided coordinate maps `y = 0` to the middle of the interval); the
/// callback is only called with points strictly inside, and `gmmvi_sample`,
/// `gmmvi_log_density` and `gmmvi_export_model` then work in the bounded space. Forgets the
/// stored samples (their values belong to the old support); everything else is kept.
///
/// `GMMVI_INVALID_ARGUMENT` for `dim != GMMVI_DIM`, a NaN, `lo[i] >= hi[i]` (also `lo[i] =
/// INFINITY` or `hi[i] = -INFINITY`), a width `hi[i] - lo[i]` that overflows or an interval
/// without a finite value strictly inside (also `lo[i]` = the largest finite `gmmvi_real`
/// with `hi[i] = INFINITY`); `gmmvi_last_error` then names the coordinate, and the state is
/// unchanged.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `lo` and `hi` are NULL or valid for reading
/// `dim` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_set_bounds(
    s: *mut gmmvi_state,
    lo: *const gmmvi_real,
    hi: *const gmmvi_real,
    dim: usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let mut st = unsafe { raw::state_mut(s) }?;
        raw::check_in(lo)?;
        raw::check_in(hi)?;
        if dim != GMMVI_DIM {
            let msg = detail::Msg::of(format_args!("dim = {dim}: bounds need GMMVI_DIM = {GMMVI_DIM} values"));
            return Err(st.fail(detail::Fail { status: GMMVI_INVALID_ARGUMENT, msg }));
        }
        raw::disjoint(lo, GMMVI_DIM, s)?;
        raw::disjoint(hi, GMMVI_DIM, s)?;
        let (mut l, mut h) = ([0.0; GMMVI_DIM], [0.0; GMMVI_DIM]);
        for i in 0..GMMVI_DIM {
            // SAFETY: index `i < dim`; checked non-null, aligned and outside the state, and the
            // caller guarantees `dim` readable values.
            unsafe { (l[i], h[i]) = (lo.add(i).read(), hi.add(i).read()) };
        }
        match core_gmmvi::Bounds::new(&l, &h) {
            Ok(b) => {
                let r = st.body().opt.set_bounds(&b);
                r.map_err(|e| st.fail(e))
            }
            Err(e) => Err(st.fail(bounds_fail(&l, &h, e))),
        }
    })())
}

/// The message for rejected bounds: the first coordinate that is invalid on its own (without
/// the feature `text`, no message and no search for it).
fn bounds_fail(l: &[gmmvi_real; GMMVI_DIM], h: &[gmmvi_real; GMMVI_DIM], e: Error) -> detail::Fail {
    if cfg!(not(feature = "text")) {
        return detail::Fail::from(GMMVI_INVALID_ARGUMENT);
    }
    let open = core_gmmvi::Bounds::<gmmvi_real, GMMVI_DIM>::unbounded();
    let bad = (0..GMMVI_DIM).find_map(|i| {
        let (mut lo, mut hi) = (*open.lower(), *open.upper());
        (lo[i], hi[i]) = (l[i], h[i]);
        core_gmmvi::Bounds::<gmmvi_real, GMMVI_DIM>::new(&lo, &hi).err().map(|e| (i, e))
    });
    let msg = match bad {
        Some((i, e)) => {
            let lo_hi = detail::LoHi(l[i], h[i]);
            detail::Msg::of(format_args!("bounds of coordinate {i}{lo_hi}: {e}"))
        }
        None => detail::Msg::of(format_args!("{e}")),
    };
    detail::Fail { status: GMMVI_INVALID_ARGUMENT, msg }
}

/// Writes the bounds in use (`gmmvi_set_bounds`, or those of an imported model) to `lo` and
/// `hi` (`dim == GMMVI_DIM` values each; `-INFINITY` / `INFINITY` for an open side; all open
/// without bounds). `GMMVI_INVALID_ARGUMENT` for another `dim` or overlapping outputs.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `lo` and `hi` are NULL or valid for writing
/// `dim` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_get_bounds(
    s: *const gmmvi_state,
    lo: *mut gmmvi_real,
    hi: *mut gmmvi_real,
    dim: usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        raw::check_out(lo)?;
        raw::check_out(hi)?;
        if dim != GMMVI_DIM {
            return Err(GMMVI_INVALID_ARGUMENT);
        }
        raw::disjoint(lo, GMMVI_DIM, s)?;
        raw::disjoint(hi, GMMVI_DIM, s)?;
        let bytes = GMMVI_DIM * size_of::<gmmvi_real>();
        if lo.addr() < hi.addr().saturating_add(bytes) && hi.addr() < lo.addr().saturating_add(bytes) {
            return Err(GMMVI_INVALID_ARGUMENT);
        }
        let b = body.opt.bounds();
        for (i, (l, h)) in b.lower().iter().zip(b.upper()).enumerate() {
            // SAFETY: index `i < dim`; both checked non-null, aligned, outside the state and
            // apart, and the caller guarantees `dim` writable values each.
            unsafe { (lo.add(i).write(*l), hi.add(i).write(*h)) };
        }
        Ok(())
    })())
}

/// The target changed (e.g. its goal moved; pass the new callback to the next `gmmvi_step`):
/// keeps the model, the bounds, the prior, every random stream and the counters, and forgets
/// what belongs to the old target: the stored samples, the reward and weight histories and
/// every step-size adaptation, so the next step proceeds as from a fresh start at the current
/// model. Deterministic like every other call.
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_retarget(s: *mut gmmvi_state) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let mut st = unsafe { raw::state_mut(s) }?;
        st.body().opt.retarget();
        Ok(())
    })())
}

#[cfg(test)]
mod tests {
    use core::any::TypeId;

    use super::*;

    #[test]
    fn the_default_build_is_the_cores_optimizer7x8() {
        // The defaults of build.rs, which the checked-in header states.
        let sizes = (GMMVI_DIM, GMMVI_MAX_COMPONENTS, GMMVI_STORE_CAPACITY, GMMVI_STORED_GAUSSIANS, GMMVI_HISTORY);
        let defaults = sizes == (7, 8, 320, 24, 16) && GMMVI_REAL_BITS == 32 && GMMVI_BG_CACHE_ROWS == 320;
        let same = TypeId::of::<FfiOptimizer>() == TypeId::of::<core_gmmvi::Optimizer7x8<f32>>();
        assert_eq!(same, defaults);
    }

    #[cfg(not(feature = "text"))]
    #[test]
    fn without_text_overrides_and_parsing_are_refused_and_messages_are_the_status_texts() {
        assert_eq!((GMMVI_HAS_TEXT, GMMVI_HAS_DECIMAL_TEXT), (0, 0));
        // SAFETY: an array of integers: all zeros is a valid value.
        let mut s: gmmvi_state = unsafe { core::mem::zeroed() };
        let last_error_is = |s: &gmmvi_state, expected: &[u8]| {
            let (mut buf, mut n) = ([0 as c_char; 256], usize::MAX);
            // SAFETY: a state given to gmmvi_init, a buffer of its length and a writable length.
            assert_eq!(unsafe { gmmvi_last_error(s, buf.as_mut_ptr(), buf.len(), &mut n) }, GMMVI_OK);
            n == expected.len() && buf.iter().zip(expected).all(|(&b, &e)| b as u8 == e)
        };
        let mut c = gmmvi_config_default();
        c.overrides = c"num_prior_samples=50".as_ptr();
        // SAFETY (every call below): the state's size, a valid config with NUL-terminated texts,
        // and writable outputs of the lengths given.
        assert_eq!(unsafe { gmmvi_init(&mut s, GMMVI_STATE_SIZE, &c, 1) }, GMMVI_BAD_CONFIG);
        assert!(last_error_is(&s, detail::status_text(GMMVI_BAD_CONFIG as u32).to_bytes()));
        let (mut off, mut msg) = (usize::MAX, [1 as c_char; 128]);
        let st = unsafe { gmmvi_config_parse(c"SAMTRUX".as_ptr(), &mut c, &mut off, msg.as_mut_ptr(), msg.len()) };
        assert_eq!((st, off), (GMMVI_BAD_CONFIG, 0));
        // SAFETY: NUL-terminated by gmmvi_config_parse within the buffer.
        let text = unsafe { core::ffi::CStr::from_ptr(msg.as_ptr()) };
        assert!(text.to_bytes().starts_with(b"this build has no text form"));
        // The field instead of the text, and messages of other statuses.
        c.overrides = core::ptr::null();
        c.num_prior_samples = 50;
        assert_eq!(unsafe { gmmvi_init(&mut s, GMMVI_STATE_SIZE, &c, 1) }, GMMVI_OK);
        assert!(last_error_is(&s, b""));
        let (lo, hi) = ([1.0; GMMVI_DIM], [0.0; GMMVI_DIM]);
        let st = unsafe { gmmvi_set_bounds(&mut s, lo.as_ptr(), hi.as_ptr(), GMMVI_DIM) };
        assert_eq!(st, GMMVI_INVALID_ARGUMENT);
        assert!(last_error_is(&s, detail::status_text(GMMVI_INVALID_ARGUMENT as u32).to_bytes()));
    }
}

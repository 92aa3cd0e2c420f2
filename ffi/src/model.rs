//! Fitted mixtures outside the optimiser: `gmmvi_model` (a copy of the state's mixture, read
//! from any number of threads), `gmmvi_submodel` (its marginals and conditionals) and
//! `gmmvi_rng` (a caller's random stream for sampling them).

use core::mem::{align_of, size_of};

use nalgebra::SVector;

use super::detail::Msg;
use super::gmmvi_status::{self, *};
use super::{
    GMMVI_DIM, GMMVI_MAX_COMPONENTS, GMMVI_MODEL_SIZE, GMMVI_MODEL_WORDS, GMMVI_STATE_ALIGN, GMMVI_SUBMODEL_SIZE,
    GMMVI_SUBMODEL_WORDS, gmmvi_real, gmmvi_state, raw, status,
};
use core_gmmvi::model::{Gmm, SubGmm};
use core_gmmvi::rng::Xoshiro256;

type FfiGmm = Gmm<gmmvi_real, GMMVI_DIM, GMMVI_MAX_COMPONENTS>;
type FfiSubGmm = SubGmm<gmmvi_real, GMMVI_DIM, GMMVI_MAX_COMPONENTS>;
type Point = SVector<gmmvi_real, GMMVI_DIM>;

/// Storage for a fitted mixture (`GMMVI_MODEL_SIZE` bytes): prepare it with
/// `gmmvi_model_init`, fill it with `gmmvi_snapshot`. Reading calls
/// (`gmmvi_model_sample`, `gmmvi_model_log_density`, `gmmvi_model_marginal`,
/// `gmmvi_model_conditional`) take it `const` and may run from several threads at once, each
/// with its own `gmmvi_rng`, as long as nothing writes it meanwhile.
#[repr(C)]
pub struct gmmvi_model {
    opaque: [u64; GMMVI_MODEL_WORDS],
}

/// Storage for a mixture over some of the coordinates (`GMMVI_SUBMODEL_SIZE` bytes): a marginal
/// or conditional of a `gmmvi_model`. Filled by `gmmvi_model_marginal` or
/// `gmmvi_model_conditional` (no init call needed); read from several threads like a model.
#[repr(C)]
pub struct gmmvi_submodel {
    opaque: [u64; GMMVI_SUBMODEL_WORDS],
}

/// A random stream of the caller (32 bytes), seeded with `gmmvi_rng_seed`; one per thread that
/// samples. Same seed, same draws.
#[repr(C)]
pub struct gmmvi_rng {
    state: [u64; 4],
}

/// Marks a filled `gmmvi_model` / `gmmvi_submodel` (the rest is valid only after it).
const MODEL_MAGIC: u64 = u64::from_le_bytes(*b"gmmvi\0M\x01");
const SUBMODEL_MAGIC: u64 = u64::from_le_bytes(*b"gmmvi\0S\x01");

#[repr(C)]
struct ModelCell {
    magic: u64,
    gmm: FfiGmm,
}

#[repr(C)]
struct SubCell {
    magic: u64,
    sub: FfiSubGmm,
}

const _: () = {
    assert!(
        size_of::<ModelCell>() <= GMMVI_MODEL_SIZE && size_of::<gmmvi_model>() == GMMVI_MODEL_SIZE,
        "the model outgrew GMMVI_MODEL_SIZE: raise the bound in build.rs (Sizes::gmm_size)"
    );
    assert!(
        size_of::<SubCell>() <= GMMVI_SUBMODEL_SIZE && size_of::<gmmvi_submodel>() == GMMVI_SUBMODEL_SIZE,
        "the submodel outgrew GMMVI_SUBMODEL_SIZE: raise the bound in build.rs (Sizes::submodel_size)"
    );
    assert!(align_of::<ModelCell>() <= GMMVI_STATE_ALIGN && align_of::<SubCell>() <= GMMVI_STATE_ALIGN);
    assert!(align_of::<gmmvi_model>() == 8 && align_of::<gmmvi_submodel>() == 8);
};

/// `Err(GMMVI_INVALID_ARGUMENT)` if `len` values at `p` overlap `bytes` bytes at `base`:
/// outputs are written while the input is borrowed.
fn apart<T, B>(p: *const T, len: usize, base: *const B, bytes: usize) -> Result<(), gmmvi_status> {
    let n = len.checked_mul(size_of::<T>()).filter(|&b| b <= isize::MAX as usize).ok_or(GMMVI_INVALID_ARGUMENT)?;
    let a = p.addr();
    let a_end = a.checked_add(n).ok_or(GMMVI_INVALID_ARGUMENT)?;
    let (b, b_end) = (base.addr(), base.addr().saturating_add(bytes));
    if a < b_end && b < a_end { Err(GMMVI_INVALID_ARGUMENT) } else { Ok(()) }
}

/// The filled mixture at `m`.
///
/// # Safety
/// `m` is NULL or valid for reading `GMMVI_MODEL_SIZE` bytes, not written during the borrow.
unsafe fn model_ref<'a>(m: *const gmmvi_model) -> Result<&'a FfiGmm, gmmvi_status> {
    let cell = m.cast::<ModelCell>();
    raw::check_in(cell)?;
    // SAFETY: non-null, aligned, readable (contract); a u64 accepts any bits.
    if unsafe { (&raw const (*cell).magic).read() } != MODEL_MAGIC {
        return Err(GMMVI_NOT_INITIALIZED);
    }
    // SAFETY: the marker is written only after a valid mixture (`gmmvi_model_init`).
    Ok(unsafe { &(*cell).gmm })
}

/// The filled submixture at `m`.
///
/// # Safety
/// As [`model_ref`], for `GMMVI_SUBMODEL_SIZE` bytes.
unsafe fn sub_ref<'a>(m: *const gmmvi_submodel) -> Result<&'a FfiSubGmm, gmmvi_status> {
    let cell = m.cast::<SubCell>();
    raw::check_in(cell)?;
    // SAFETY: non-null, aligned, readable (contract); a u64 accepts any bits.
    if unsafe { (&raw const (*cell).magic).read() } != SUBMODEL_MAGIC {
        return Err(GMMVI_NOT_INITIALIZED);
    }
    // SAFETY: the marker is written only after a valid submixture.
    Ok(unsafe { &(*cell).sub })
}

/// Prepares `m` to receive mixtures: an empty model (no component). Call it once per storage;
/// it may hold anything before.
///
/// # Safety
/// `m` is NULL or valid for writing `GMMVI_MODEL_SIZE` bytes, used by no other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_model_init(m: *mut gmmvi_model) -> gmmvi_status {
    status((|| {
        let cell = m.cast::<ModelCell>();
        raw::check_out(cell)?;
        // SAFETY: non-null, aligned, writable `GMMVI_MODEL_SIZE >= size_of::<ModelCell>()` bytes.
        unsafe {
            (&raw mut (*cell).gmm).write(Gmm::new());
            (&raw mut (*cell).magic).write(MODEL_MAGIC);
        }
        Ok(())
    })())
}

/// Copies the state's fitted mixture into `out` (prepared by `gmmvi_model_init`), replacing
/// what it held. The copy is independent of the state: keep fitting while other threads read
/// the copy. With bounds on the state the fitted mixture lives in unconstrained coordinates,
/// which a copy cannot express: `GMMVI_INVALID_ARGUMENT`, with the reason for
/// `gmmvi_last_error` (the one reading call that records its failure).
///
/// # Safety
/// `s` is NULL or a state given to `gmmvi_init`; `out` is NULL or a `gmmvi_model` not used by
/// any other thread during the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_snapshot(s: *const gmmvi_state, out: *mut gmmvi_model) -> gmmvi_status {
    status((|| {
        // SAFETY: the caller passes a state pointer per the contract.
        let body = unsafe { raw::state_ref(s) }?;
        let cell = out.cast::<ModelCell>();
        raw::check_out(cell)?;
        raw::disjoint(cell, 1, s)?;
        // SAFETY: checked non-null and aligned; the caller guarantees a model's bytes.
        if unsafe { (&raw const (*cell).magic).read() } != MODEL_MAGIC {
            return Err(GMMVI_NOT_INITIALIZED);
        }
        if !body.opt.bounds().is_unbounded() {
            // SAFETY: as `state_ref` above.
            let d = unsafe { raw::detail(s) }?;
            let why = "gmmvi_snapshot: the state has bounds; its mixture is over unconstrained coordinates";
            d.set(GMMVI_INVALID_ARGUMENT, &Msg::of(format_args!("{why}")));
            return Err(GMMVI_INVALID_ARGUMENT);
        }
        // SAFETY: a filled model outside the state, exclusively ours (contract).
        body.opt.snapshot(unsafe { &mut (*cell).gmm });
        Ok(())
    })())
}

/// Seeds `rng` (any bytes before) from `seed`.
///
/// # Safety
/// `rng` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_rng_seed(rng: *mut gmmvi_rng, seed: u64) -> gmmvi_status {
    status((|| {
        raw::check_out(rng)?;
        // SAFETY: checked non-null and aligned; writable by the contract.
        unsafe { rng.write(gmmvi_rng { state: Xoshiro256::seed_from_u64(seed).state() }) };
        Ok(())
    })())
}

/// The stream in `rng`, `GMMVI_NOT_INITIALIZED` if it was never seeded (all zero).
///
/// # Safety
/// `rng` is NULL or readable.
unsafe fn rng_read(rng: *mut gmmvi_rng) -> Result<Xoshiro256, gmmvi_status> {
    raw::check_out(rng)?;
    // SAFETY: checked non-null and aligned; readable by the contract; any bits are u64s.
    Xoshiro256::from_state(unsafe { rng.read() }.state).ok_or(GMMVI_NOT_INITIALIZED)
}

/// Draws rows through `draw` into `n` rows of `out` (`n x GMMVI_DIM`), reading each row first,
/// in blocks; `rng` advances.
///
/// # Safety
/// `out` is aligned and valid for reading and writing `n * GMMVI_DIM` values; `rng` writable.
unsafe fn sample_rows(
    rng: *mut gmmvi_rng,
    r: &mut Xoshiro256,
    out: *mut gmmvi_real,
    n: usize,
    mut draw: impl FnMut(&mut Xoshiro256, &mut [Point]) -> usize,
) -> Result<(), gmmvi_status> {
    let mut buf = [Point::zeros(); core_gmmvi::TARGET_BLOCK];
    for first in (0..n).step_by(core_gmmvi::TARGET_BLOCK) {
        let b = (n - first).min(core_gmmvi::TARGET_BLOCK);
        for (i, x) in buf[..b].iter_mut().enumerate() {
            // SAFETY: row `first + i < n` of the caller's buffer.
            *x = unsafe { raw::read_row(out, first + i) };
        }
        if draw(r, &mut buf[..b]) != b {
            return Err(GMMVI_INVALID_ARGUMENT);
        }
        for (i, x) in buf[..b].iter().enumerate() {
            // SAFETY: row `first + i < n` of the caller's buffer.
            unsafe { raw::write_row(out, first + i, x) };
        }
    }
    // SAFETY: checked writable by the caller (`rng_read`).
    unsafe { rng.write(gmmvi_rng { state: r.state() }) };
    Ok(())
}

/// Draws `n` points of the model into `out` (`n x GMMVI_DIM`, row-major) from the caller's
/// stream `rng`, which advances. `GMMVI_INVALID_ARGUMENT` for a model without component
/// (nothing snapshot yet), `rng` inside the model or `out` overlapping the model or `rng`;
/// `GMMVI_NOT_INITIALIZED` for an unseeded `rng`.
///
/// # Safety
/// `m` is NULL or a `gmmvi_model` no thread writes during the call; `rng` is NULL or a
/// `gmmvi_rng` of this thread; `out` is NULL (only with `n == 0`) or valid for writing
/// `n * GMMVI_DIM` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_model_sample(
    m: *const gmmvi_model,
    rng: *mut gmmvi_rng,
    out: *mut gmmvi_real,
    n: usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { model_ref(m) }?;
        // The stream is written back: never into the model read meanwhile.
        apart(rng, 1, m, GMMVI_MODEL_SIZE)?;
        // SAFETY: per the contract.
        let mut r = unsafe { rng_read(rng) }?;
        if q.is_empty() {
            return Err(GMMVI_INVALID_ARGUMENT);
        }
        if n == 0 {
            return Ok(());
        }
        let len = n.checked_mul(GMMVI_DIM).ok_or(GMMVI_INVALID_ARGUMENT)?;
        raw::check_out(out)?;
        apart(out, len, m, GMMVI_MODEL_SIZE)?;
        apart(out, len, rng.cast::<u8>(), size_of::<gmmvi_rng>())?;
        // SAFETY: `out` checked aligned, outside the model and the rng; the caller guarantees
        // `n·D` writable values. Rows are read before they are written, so zero them first.
        unsafe { core::ptr::write_bytes(out, 0, len) };
        // SAFETY: as above.
        unsafe { sample_rows(rng, &mut r, out, n, |r, xs| q.sample(r, xs)) }
    })())
}

/// Writes `log q(x_i)` for `n` points `x` (`n x GMMVI_DIM`, row-major) to `out[i]`
/// (`-inf` for a model without component).
///
/// # Safety
/// `m` is NULL or a `gmmvi_model` no thread writes during the call; `x` and `out` are NULL
/// (only with `n == 0`) or valid for reading `n * GMMVI_DIM` and writing `n` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_model_log_density(
    m: *const gmmvi_model,
    x: *const gmmvi_real,
    n: usize,
    out: *mut gmmvi_real,
) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { model_ref(m) }?;
        // SAFETY: per the contract.
        unsafe { densities(m.cast(), GMMVI_MODEL_SIZE, x, n, out, |xs, lq| q.log_density_many(xs, lq)) }
    })())
}

/// Reads `n` rows of `x` in blocks, evaluates them with `eval` and writes the values to `out`.
///
/// # Safety
/// `x` and `out` are NULL (only with `n == 0`) or valid for reading `n·D` and writing `n`
/// values; `base` spans `bytes` bytes that `out` must not overlap.
unsafe fn densities(
    base: *const u8,
    bytes: usize,
    x: *const gmmvi_real,
    n: usize,
    out: *mut gmmvi_real,
    mut eval: impl FnMut(&[Point], &mut [gmmvi_real]),
) -> Result<(), gmmvi_status> {
    if n == 0 {
        return Ok(());
    }
    n.checked_mul(GMMVI_DIM).ok_or(GMMVI_INVALID_ARGUMENT)?;
    raw::check_in(x)?;
    raw::check_out(out)?;
    apart(out, n, base, bytes)?;
    let mut xs = [Point::zeros(); core_gmmvi::TARGET_BLOCK];
    let mut lq = [0.0; core_gmmvi::TARGET_BLOCK];
    for first in (0..n).step_by(core_gmmvi::TARGET_BLOCK) {
        let b = (n - first).min(core_gmmvi::TARGET_BLOCK);
        for (i, row) in xs[..b].iter_mut().enumerate() {
            // SAFETY: row `first + i < n` of `x` (contract), checked aligned.
            *row = unsafe { raw::read_row(x, first + i) };
        }
        eval(&xs[..b], &mut lq[..b]);
        for (i, v) in lq[..b].iter().enumerate() {
            // SAFETY: index `first + i < n`, checked writable, aligned, outside `base`.
            unsafe { out.add(first + i).write(*v) };
        }
    }
    Ok(())
}

/// The `len` indices at `p`, copied (at most `GMMVI_DIM` of them, else
/// `GMMVI_INVALID_ARGUMENT`).
///
/// # Safety
/// `p` is NULL (only with `len == 0`) or valid for reading `len` values.
unsafe fn indices(p: *const usize, len: usize) -> Result<([usize; GMMVI_DIM], usize), gmmvi_status> {
    let mut idx = [0usize; GMMVI_DIM];
    if len > GMMVI_DIM {
        return Err(GMMVI_INVALID_ARGUMENT);
    }
    if len > 0 {
        raw::check_in(p)?;
        for (i, v) in idx[..len].iter_mut().enumerate() {
            // SAFETY: `i < len` values readable (contract), aligned.
            *v = unsafe { p.add(i).read() };
        }
    }
    Ok((idx, len))
}

/// Fills the submodel at `out` with `fill` from the inputs `read` copies; on any failure after
/// the check of `out` it is left empty but valid. The inputs are read before the submodel is
/// borrowed, so caller memory that overlaps it is never read through a live `&mut`.
///
/// # Safety
/// `out` is NULL or valid for writing `GMMVI_SUBMODEL_SIZE` bytes, used by no other thread;
/// `m` spans `GMMVI_MODEL_SIZE` bytes.
unsafe fn fill_sub<I>(
    m: *const gmmvi_model,
    out: *mut gmmvi_submodel,
    read: impl FnOnce() -> Result<I, gmmvi_status>,
    fill: impl FnOnce(I, &mut FfiSubGmm) -> Result<(), gmmvi_status>,
) -> Result<(), gmmvi_status> {
    let cell = out.cast::<SubCell>();
    raw::check_out(cell)?;
    apart(cell, 1, m, GMMVI_MODEL_SIZE)?;
    let inputs = read();
    // SAFETY: non-null, aligned, writable (contract), outside the model read meanwhile; no
    // other reference to it exists (the inputs are copies).
    let sub = unsafe {
        if (&raw const (*cell).magic).read() != SUBMODEL_MAGIC {
            (&raw mut (*cell).sub).write(SubGmm::new());
            (&raw mut (*cell).magic).write(SUBMODEL_MAGIC);
        }
        &mut (*cell).sub
    };
    inputs.and_then(|i| fill(i, sub)).inspect_err(|_| *sub = SubGmm::new())
}

/// Writes the marginal of the model over the `n_keep` coordinates `keep` (distinct, each below
/// `GMMVI_DIM`, in the order the submodel uses) to `out`. `GMMVI_INVALID_ARGUMENT` for an
/// empty, repeated or out-of-range index set or a model without component,
/// `GMMVI_NUMERICAL` if a restricted covariance is singular; after a failure `out` (once it is
/// checked) is an empty submodel.
///
/// # Safety
/// `m` is NULL or a `gmmvi_model` no thread writes during the call; `keep` is NULL or valid
/// for reading `n_keep` values; `out` is NULL or a `gmmvi_submodel`'s storage used by no
/// other thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_model_marginal(
    m: *const gmmvi_model,
    keep: *const usize,
    n_keep: usize,
    out: *mut gmmvi_submodel,
) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { model_ref(m) }?;
        // SAFETY: per the contract.
        unsafe {
            fill_sub(
                m,
                out,
                || indices(keep, n_keep),
                |(idx, len), sub| q.marginal(&idx[..len], sub).map_err(gmmvi_status::from),
            )
        }
    })())
}

/// Writes the conditional of the model given the `n_given` coordinates `given` (distinct,
/// each below `GMMVI_DIM`, not all) at the values `x[given[i]]` (`x`: `GMMVI_DIM` values, the
/// others ignored) to `out`; the submodel is over the remaining coordinates, ascending.
/// Errors as `gmmvi_model_marginal`, and `GMMVI_INVALID_ARGUMENT` for a non-finite given value.
///
/// # Safety
/// As `gmmvi_model_marginal`; `x` is NULL or valid for reading `GMMVI_DIM` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_model_conditional(
    m: *const gmmvi_model,
    given: *const usize,
    n_given: usize,
    x: *const gmmvi_real,
    out: *mut gmmvi_submodel,
) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { model_ref(m) }?;
        // SAFETY: per the contract (`given`: `n_given` values, `x`: `GMMVI_DIM` values).
        unsafe {
            fill_sub(
                m,
                out,
                || {
                    let (idx, len) = indices(given, n_given)?;
                    raw::check_in(x)?;
                    Ok((idx, len, raw::read_row(x, 0)))
                },
                |(idx, len, point), sub| q.conditional(&idx[..len], &point, sub).map_err(gmmvi_status::from),
            )
        }
    })())
}

/// Writes the number of coordinates of the submodel to `*dim` (0 after a failed
/// marginal or conditional).
///
/// # Safety
/// `m` is NULL or a `gmmvi_submodel`; `dim` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_submodel_dim(m: *const gmmvi_submodel, dim: *mut usize) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { sub_ref(m) }?;
        raw::check_out(dim)?;
        apart(dim, 1, m, GMMVI_SUBMODEL_SIZE)?;
        // SAFETY: checked non-null, aligned, outside the submodel.
        unsafe { dim.write(q.dim()) };
        Ok(())
    })())
}

/// Draws `n` points of the submodel into the rows of `x` (`n x GMMVI_DIM`, row-major): writes
/// its coordinates and keeps the others (so rows holding the given values of a conditional
/// come back complete). `rng` advances. `GMMVI_INVALID_ARGUMENT` for an empty submodel,
/// `rng` inside the submodel or `x` overlapping the submodel or `rng`.
///
/// # Safety
/// `m` is NULL or a filled `gmmvi_submodel` no thread writes during the call; `rng` as in
/// `gmmvi_model_sample`; `x` is NULL (only with `n == 0`) or valid for reading and writing
/// `n * GMMVI_DIM` values.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_submodel_sample(
    m: *const gmmvi_submodel,
    rng: *mut gmmvi_rng,
    x: *mut gmmvi_real,
    n: usize,
) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { sub_ref(m) }?;
        apart(rng, 1, m, GMMVI_SUBMODEL_SIZE)?;
        // SAFETY: per the contract.
        let mut r = unsafe { rng_read(rng) }?;
        if q.is_empty() {
            return Err(GMMVI_INVALID_ARGUMENT);
        }
        if n == 0 {
            return Ok(());
        }
        let len = n.checked_mul(GMMVI_DIM).ok_or(GMMVI_INVALID_ARGUMENT)?;
        raw::check_out(x)?;
        apart(x, len, m, GMMVI_SUBMODEL_SIZE)?;
        apart(x, len, rng.cast::<u8>(), size_of::<gmmvi_rng>())?;
        // SAFETY: checked aligned, outside the submodel and the rng; `n·D` values (contract).
        unsafe { sample_rows(rng, &mut r, x, n, |r, xs| q.sample(r, xs)) }
    })())
}

/// Writes `log q(x_a)` of the submodel's coordinates `a` of `n` points `x` (`n x GMMVI_DIM`,
/// row-major; the other coordinates are not read) to `out[i]` (`-inf` if empty).
///
/// # Safety
/// As `gmmvi_model_log_density`, with a `gmmvi_submodel`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gmmvi_submodel_log_density(
    m: *const gmmvi_submodel,
    x: *const gmmvi_real,
    n: usize,
    out: *mut gmmvi_real,
) -> gmmvi_status {
    status((|| {
        // SAFETY: per the contract.
        let q = unsafe { sub_ref(m) }?;
        let eval = |xs: &[Point], lq: &mut [gmmvi_real]| {
            for (v, x) in lq.iter_mut().zip(xs) {
                *v = q.log_density(x);
            }
        };
        // SAFETY: per the contract.
        unsafe { densities(m.cast(), GMMVI_SUBMODEL_SIZE, x, n, out, eval) }
    })())
}

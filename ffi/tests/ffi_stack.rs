//! Stack the C ABI needs, measured the way the firmware measures it: the free stack below the
//! caller is painted with a pattern, the call runs, and the lowest overwritten word gives the
//! depth. (A thread with a small `stack_size` proves nothing: the platform raises it to its
//! minimum, 16 KiB or more.)
use std::ptr::null_mut;

use gmmvi_abi::gmmvi_status::GMMVI_OK;
use gmmvi_abi::*;
use paint::{UNPAINTED, paint, used};

#[path = "../../tests/common/paint.rs"]
mod paint;

/// Bytes painted below the caller: more than any call needs.
const PAINTED: usize = 96 << 10;
/// The measuring thread's stack: its frames and the painted region.
const THREAD_STACK: usize = 1 << 20;
/// The documented bounds (README, `gmmvi_init`'s doc) for the default build on x86-64.
const INIT_BOUND: usize = 12 << 10;
const STEP_BOUND: usize = 12 << 10;
/// Steps measured: enough for component additions and deletions of the default config.
const STEPS: usize = 120;

#[inline(never)]
fn init(s: *mut gmmvi_state) -> gmmvi_status {
    // SAFETY: `s` is a zeroed state of `GMMVI_STATE_SIZE` bytes owned by the caller.
    unsafe { gmmvi_init(s, GMMVI_STATE_SIZE, &gmmvi_config_default(), 1) }
}

#[inline(never)]
fn step(s: *mut gmmvi_state) -> gmmvi_status {
    // SAFETY: an initialised state; `bowl` keeps the callback contract.
    unsafe { gmmvi_step(s, Some(bowl), null_mut(), null_mut()) }
}

#[test]
#[cfg_attr(miri, ignore)]
fn ffi_stack_of_init_and_step() {
    let (init_b, step_b) = std::thread::Builder::new()
        .stack_size(THREAD_STACK)
        .spawn(|| {
            // SAFETY: an array of integers: zeros are valid.
            let mut state: Box<gmmvi_state> = unsafe { Box::new_zeroed().assume_init() };
            let s: *mut gmmvi_state = &mut *state;
            let top = paint::<PAINTED>();
            assert_eq!(init(s), GMMVI_OK);
            let init_b = used::<PAINTED>(top);
            // Several steps: the first ones fill the store, later ones reuse and adapt.
            let mut step_b = 0;
            for _ in 0..STEPS {
                let top = paint::<PAINTED>();
                assert_eq!(step(s), GMMVI_OK);
                step_b = step_b.max(used::<PAINTED>(top));
            }
            (init_b, step_b)
        })
        .expect("spawn")
        .join()
        .expect("join");
    let bytes = gmmvi_abi::state_bytes_used();
    println!("stack: gmmvi_init {init_b} B, gmmvi_step {step_b} B (state {GMMVI_STATE_SIZE} B, {bytes} B used)");
    // The painting saw the calls (a measurement of 0 would mean it looked in the wrong place).
    assert!(init_b > UNPAINTED && step_b > UNPAINTED, "{init_b} {step_b}");
    // No state-sized temporary: the state is built in place.
    assert!(init_b <= INIT_BOUND, "gmmvi_init used {init_b} B of stack");
    assert!(step_b <= STEP_BOUND, "gmmvi_step used {step_b} B of stack");
}

unsafe extern "C" fn bowl(
    _: *mut std::ffi::c_void,
    x: *const gmmvi_real,
    n: usize,
    lp: *mut gmmvi_real,
    g: *mut gmmvi_real,
) -> std::ffi::c_int {
    for i in 0..n * GMMVI_DIM {
        // SAFETY: the callback contract: n·D values at x (and g), n at lp.
        unsafe {
            let v = *x.add(i);
            *lp.add(i / GMMVI_DIM) = if i % GMMVI_DIM == 0 { 0.0 } else { *lp.add(i / GMMVI_DIM) } - 0.5 * v * v;
            if !g.is_null() {
                *g.add(i) = -v;
            }
        }
    }
    0
}

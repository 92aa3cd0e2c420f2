//! Stack the C ABI needs, measured: `gmmvi_init` and `gmmvi_step` run on threads with small
//! stacks in child processes of this test binary (an overflow aborts only the child).
use std::process::Command;
use std::ptr::null_mut;

use gmmvi_abi::gmmvi_status::GMMVI_OK;
use gmmvi_abi::*;

const PROBE: &str = "GMMVI_STACK_PROBE";
const STEPS_KIB: [usize; 12] = [8, 16, 24, 32, 48, 64, 96, 128, 160, 192, 256, 384];

/// Smallest stack (KiB) of `STEPS_KIB` on which `what` succeeds in a child process.
fn needed_kib(what: &str) -> Option<usize> {
    let exe = std::env::current_exe().expect("test binary");
    STEPS_KIB.into_iter().find(|kib| {
        let out = Command::new(&exe)
            .args(["ffi_stack_child", "--exact", "--test-threads=1"])
            .env(PROBE, format!("{what} {kib}"))
            .output()
            .expect("run child");
        out.status.success()
    })
}

#[test]
#[cfg_attr(miri, ignore)]
fn ffi_stack_needs_of_init_and_step() {
    let init = needed_kib("init").expect("gmmvi_init within 384 KiB of stack");
    let step = needed_kib("step").expect("gmmvi_step within 384 KiB of stack");
    let used = gmmvi_abi::state_bytes_used();
    println!(
        "stack needed: gmmvi_init <= {init} KiB, gmmvi_step <= {step} KiB (state {GMMVI_STATE_SIZE} B, {used} B used)"
    );
    // gmmvi_init writes the all-zero Optimizer::BLANK in place (a memset) and fills in the
    // rest field by field: no state-sized temporary (8 KiB measured, 2026-12-06; 96 KiB
    // before). A step keeps only per-block scratch.
    assert!(init <= 16, "{init} KiB");
    assert!(step <= 64, "{step} KiB");
}

/// The child: `GMMVI_STACK_PROBE="init|step KIB"` runs that call on a thread with that stack.
#[test]
fn ffi_stack_child() {
    let Ok(probe) = std::env::var(PROBE) else { return };
    let (what, kib) = probe.split_once(' ').expect("what kib");
    let kib: usize = kib.parse().expect("kib");
    // SAFETY: an array of integers: zeros are valid.
    let mut state: Box<gmmvi_state> = unsafe { Box::new_zeroed().assume_init() };
    let s = &mut *state as *mut gmmvi_state as usize;
    let init = move || unsafe { gmmvi_init(s as *mut gmmvi_state, GMMVI_STATE_SIZE, &gmmvi_config_default(), 1) };
    let step = move || unsafe { gmmvi_step(s as *mut gmmvi_state, Some(bowl), null_mut(), null_mut()) };
    if what == "step" {
        assert_eq!(init(), GMMVI_OK);
    }
    let call: Box<dyn FnOnce() -> gmmvi_abi::gmmvi_status + Send> =
        if what == "init" { Box::new(init) } else { Box::new(step) };
    let st = std::thread::Builder::new().stack_size(kib << 10).spawn(call).expect("spawn").join().expect("join");
    assert_eq!(st, GMMVI_OK);
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

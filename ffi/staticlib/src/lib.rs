//! `libgmmvi.a`: the C ABI of `gmmvi` (the crate `gmmvi-abi` in `ffi/`) as a static library
//! for C and C++ programs, hosted or bare-metal. The symbols come from `gmmvi_abi`; this crate
//! only adds what a final artifact needs and a library must not impose on other Rust users: the
//! panic handler. It never allocates and needs nothing from the C library but `memcpy`, `memset`,
//! `memmove` and `memcmp`.
//!
//! No panic is reachable from the ABI (every entry point validates its input and the core
//! returns errors instead of panicking); the handler is the last line of defence. Build with
//! `--release` (`panic = "abort"`); a debug build (`panic = "unwind"`) links Rust's `std`.
#![no_std]

// Keeps the dependency (and with it every `gmmvi_*` symbol) in the archive.
pub use gmmvi_abi::*;

#[cfg(panic = "unwind")]
extern crate std;

/// Stops the program: `abort()` of the C library on hosted targets.
#[cfg(all(panic = "abort", not(target_os = "none")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        fn abort() -> !;
    }
    // SAFETY: `abort` takes no arguments and never returns; every hosted C library has it.
    unsafe { abort() }
}

/// Stops the program on bare metal: a permanently undefined instruction raises a fault that
/// the firmware's fault handler reports; the loop is only reached if that handler returns.
#[cfg(all(panic = "abort", target_os = "none"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    #[cfg(target_arch = "arm")]
    // SAFETY: `udf` only raises an exception; it touches no memory or register.
    unsafe {
        core::arch::asm!("udf #0", options(nomem, nostack));
    }
    loop {
        core::hint::spin_loop();
    }
}

//! Stack use measured as the firmware measures it: the free stack below the caller is painted
//! with a pattern, the call runs, and the lowest overwritten word gives its depth. Shared by
//! `tests/soak.rs` and `ffi/tests/ffi_stack.rs` (included with `#[path]`). The calling thread
//! needs `PAINTED` bytes of stack below its frames (the tests run on 1 MiB thread stacks).

/// Bytes just below the painting frame left unpainted (its own frame and red zone).
pub const UNPAINTED: usize = 512;
const PAINT: u64 = 0xDEAD_BEEF_5A5A_A5A5;

/// Paints `[top − UNPAINTED − PAINTED, top − UNPAINTED)`, `top` being this frame's address,
/// which is where the frame of the caller's next call begins; returns `top`.
#[inline(never)]
pub fn paint<const PAINTED: usize>() -> usize {
    let marker = 0u64;
    let top = std::hint::black_box(&marker) as *const u64 as usize & !7;
    let mut p = top - UNPAINTED - PAINTED;
    while p < top - UNPAINTED {
        // SAFETY: free stack of this thread below the live frames (the caller's thread stack
        // holds its frames and `PAINTED` more), word aligned; nothing live is there.
        unsafe { std::ptr::write_volatile(p as *mut u64, PAINT) };
        p += 8;
    }
    top
}

/// Bytes below `top` written since `paint::<PAINTED>()` returned it (the lowest word of the
/// painted region that no longer holds the pattern).
#[inline(never)]
pub fn used<const PAINTED: usize>(top: usize) -> usize {
    let mut p = top - UNPAINTED - PAINTED;
    // SAFETY: the region `paint` painted, still free stack of this thread.
    while p < top - UNPAINTED && unsafe { std::ptr::read_volatile(p as *const u64) } == PAINT {
        p += 8;
    }
    top - p
}

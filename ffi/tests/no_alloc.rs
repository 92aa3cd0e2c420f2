//! Proof of no allocation: `libgmmvi.a` built for a Cortex-M4F (`thumbv7em-none-eabihf`, no
//! heap, no `alloc`) references no allocator symbol at all.
mod staticlib;

use std::process::Command;

use staticlib::run;

const TARGET: &str = "thumbv7em-none-eabihf";

#[test]
fn thumb_static_library_has_no_allocator_symbol() {
    let sysroot = run(Command::new("rustc").args(["--print", "sysroot"]));
    if !std::path::Path::new(sysroot.trim()).join("lib/rustlib").join(TARGET).exists() {
        eprintln!("skipped: the {TARGET} target is not installed (rustup target add {TARGET})");
        return;
    }
    let lib = staticlib::build(Some(TARGET)).unwrap_or_else(|e| panic!("building for {TARGET} failed:\n{e}"));
    let symbols = run(Command::new("nm").arg("--without-symbol-versions").arg(&lib));
    let names: Vec<&str> = symbols.lines().filter_map(|l| l.split_whitespace().last()).collect();
    // The archive is what we think it is: the ABI is in it (`gmmvi_init` is a header macro
    // over `gmmvi_init_abi`).
    assert!(names.contains(&"gmmvi_step") && names.contains(&"gmmvi_init_abi"), "{lib:?}");
    // The C allocator by name; Rust's allocator shims by prefix (`__rust_alloc_zeroed`, ...).
    let c_alloc = ["malloc", "calloc", "realloc", "free", "aligned_alloc", "posix_memalign"];
    let rust_alloc = ["__rust_alloc", "__rust_dealloc", "__rust_realloc", "__rg_alloc", "__rdl_alloc"];
    let found: Vec<&&str> =
        names.iter().filter(|n| c_alloc.contains(n) || rust_alloc.iter().any(|p| n.starts_with(p))).collect();
    assert!(found.is_empty(), "allocator symbols in {lib:?}: {found:?}");
}

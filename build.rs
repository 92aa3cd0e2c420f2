//! Build script. The C ABI's build-time sizing (`GMMVI_DIM`, `GMMVI_MAX_COMPONENTS`, ...) and
//! the cbindgen-generated `include/gmmvi.h` are added with the C ABI (issue "C ABI, static
//! library and firmware"); until then the Rust crate needs nothing generated.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}

//! The C++ wrapper `include/gmmvi.hpp`: the header alone compiles with the strictest flags a
//! user may build with, and `ffi/tests/cpp/wrapper_test.cpp` (its checks against the C API) passes
//! as C++17, under ASan and UBSan, as C++20 with the `std::span` overloads and, when Eigen is
//! installed (`/usr/include/eigen3`, Debian/Ubuntu package `libeigen3-dev`), with the Eigen
//! overloads.
mod staticlib;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use staticlib::{root, run};

/// Flags the wrapper promises to build with.
const STRICT: [&str; 6] = ["-Wall", "-Wextra", "-Wpedantic", "-Werror", "-fno-exceptions", "-fno-rtti"];
const EIGEN: &str = "/usr/include/eigen3";

/// The host library, built once per test binary.
fn lib() -> &'static PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| staticlib::build(None).unwrap_or_else(|e| panic!("building libgmmvi.a failed:\n{e}")))
}

fn eigen() -> bool {
    if Path::new(EIGEN).join("Eigen/Core").exists() {
        return true;
    }
    eprintln!("skipped: no Eigen in {EIGEN} (apt-get install libeigen3-dev)");
    false
}

/// Compiles the wrapper test with `flags`, runs it and checks its summary line.
fn wrapper_test(name: &str, flags: &[&str], span: bool, eigen: bool) {
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut cxx = Command::new("c++");
    cxx.current_dir(root()).args(STRICT).args(flags).args(["-Iinclude", "ffi/tests/cpp/wrapper_test.cpp"]).arg(lib());
    run(cxx.arg("-o").arg(&exe));
    let out = run(&mut Command::new(&exe));
    print!("{out}");
    let yn = |b: bool| if b { "yes" } else { "no" };
    let tail = format!(" checks, 0 failed (span: {}, eigen: {})", yn(span), yn(eigen));
    let line = out.lines().find(|l| l.starts_with("wrapper_test: ")).unwrap_or_else(|| panic!("{out}"));
    let checks: usize = line
        .strip_prefix("wrapper_test: ")
        .and_then(|l| l.strip_suffix(tail.as_str()))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("expected `wrapper_test: N{tail}`, got `{line}`"));
    assert!(checks >= 240, "only {checks} checks ran: {line}");
}

#[test]
fn header_alone_compiles_with_strict_flags() {
    let mut variants = vec![vec!["-std=c++17"], vec!["-std=c++20"]];
    if eigen() {
        variants.push(vec!["-std=c++17", "-I", EIGEN]);
        variants.push(vec!["-std=c++20", "-I", EIGEN]);
    }
    for v in variants {
        let mut cxx = Command::new("c++");
        cxx.current_dir(root()).args(STRICT).args(&v).args(["-fsyntax-only", "-Iinclude", "-x", "c++"]);
        run(cxx.arg("include/gmmvi.hpp"));
    }
}

#[test]
fn wrapper_cpp17() {
    wrapper_test("wrapper_cpp17", &["-std=c++17", "-O2"], false, false);
}

#[test]
fn wrapper_cpp17_asan_ubsan() {
    let flags = ["-std=c++17", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
    wrapper_test("wrapper_cpp17_asan", &flags, false, false);
}

#[test]
fn wrapper_cpp20_span() {
    wrapper_test("wrapper_cpp20", &["-std=c++20", "-O2", "-DEXPECT_SPAN"], true, false);
}

#[test]
fn wrapper_eigen() {
    if !eigen() {
        return;
    }
    wrapper_test("wrapper_eigen17", &["-std=c++17", "-O2", "-I", EIGEN, "-DEXPECT_EIGEN"], false, true);
    let flags = ["-std=c++20", "-O2", "-I", EIGEN, "-DEXPECT_EIGEN", "-DEXPECT_SPAN"];
    wrapper_test("wrapper_eigen20", &flags, true, true);
}

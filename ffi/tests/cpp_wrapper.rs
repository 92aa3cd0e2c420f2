//! The C++ wrapper `include/gmmvi.hpp`: the header alone compiles with the strictest flags a
//! user may build with, and `ffi/tests/cpp/wrapper_test.cpp` (its checks against the C API) passes
//! as C++17, under ASan and UBSan, as C++20 with the `std::span` overloads and, when Eigen is
//! installed (`/usr/include/eigen3`, Debian/Ubuntu package `libeigen3-dev`), with the Eigen
//! overloads. Every function that `include/gmmvi.h` declares is called in the wrapper.
mod staticlib;

use std::collections::BTreeSet;
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

/// The names `gmmvi_*` directly followed by `(` in `text`, outside comments and preprocessor
/// lines (in gmmvi.h: the declared functions; in gmmvi.hpp: the calls).
fn called_names(text: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let t = code.trim_start();
        if t.starts_with('*') || t.starts_with("/*") || t.starts_with('#') {
            continue;
        }
        for (at, _) in code.match_indices("gmmvi_") {
            if code[..at].chars().next_back().is_some_and(ident) {
                continue;
            }
            let name: String = code[at..].chars().take_while(|&c| ident(c)).collect();
            if code[at + name.len()..].starts_with('(') {
                names.insert(name);
            }
        }
    }
    names
}

/// The header's claim, "a wrapper over every function of the C API", kept true: each function
/// that gmmvi.h declares is called in gmmvi.hpp (a `*_abi` function through its macro).
#[test]
fn wrapper_calls_every_c_function() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let (c, cpp) = (read("include/gmmvi.h"), read("include/gmmvi.hpp"));
    let declared = called_names(&c);
    for f in ["gmmvi_init_abi", "gmmvi_status_str", "gmmvi_model_conditional", "gmmvi_submodel_log_density"] {
        assert!(declared.contains(f), "{f} not found among the declarations of gmmvi.h: {declared:?}");
    }
    let called = called_names(&cpp);
    let missing: Vec<&String> = declared
        .iter()
        .filter(|f| {
            let macro_name = f.strip_suffix("_abi").filter(|m| c.contains(&format!("#define {m}(")));
            !called.contains(macro_name.unwrap_or(f.as_str()))
        })
        .collect();
    assert!(missing.is_empty(), "gmmvi.hpp does not wrap {missing:?}");
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

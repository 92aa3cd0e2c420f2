//! Shared pieces of the target tests: the benchmark data through `gmmvi_targets::data` (a
//! missing or malformed file fails the test with the message naming it), error measures and a
//! big-stack thread.
#![allow(dead_code)]

use gmmvi_targets::data::{DataDir, Npy};

/// The member `name` of a `.npz` file of the data directory.
pub fn npz_member(rel: &str, name: &str) -> Npy {
    DataDir::default().npz_member(rel, name).unwrap_or_else(|e| panic!("{e}"))
}

/// A `.npy` file of the data directory.
pub fn npy_file(rel: &str) -> Npy {
    DataDir::default().npy(rel).unwrap_or_else(|e| panic!("{e}"))
}

/// A text file of the data directory.
pub fn read_text(rel: &str) -> String {
    DataDir::default().text(rel).unwrap_or_else(|e| panic!("{e}"))
}

/// Relative error `|a − b| / |b|`.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}

/// Asserts a relative error below `tol` and returns it.
#[track_caller]
pub fn assert_rel(what: &str, a: f64, b: f64, tol: f64) -> f64 {
    let r = rel(a, b);
    assert!(r < tol, "{what}: {a} vs {b}: relative error {r:e} ≥ {tol:e}");
    r
}

/// Norm-wise relative error of a central finite-difference gradient of `f` at `x` against
/// `g` (step `h`), `‖fd − g‖ / max(‖g‖, 1)`.
pub fn fd_rel_error(f: &mut dyn FnMut(&[f64]) -> f64, x: &[f64], g: &[f64], h: f64) -> f64 {
    let (mut err2, mut norm2) = (0.0, 0.0);
    let mut p = x.to_vec();
    for k in 0..x.len() {
        p[k] = x[k] + h;
        let fp = f(&p);
        p[k] = x[k] - h;
        let fm = f(&p);
        p[k] = x[k];
        let fd = (fp - fm) / (2.0 * h);
        err2 += (fd - g[k]).powi(2);
        norm2 += g[k] * g[k];
    }
    err2.sqrt() / norm2.sqrt().max(1.0)
}

/// Runs `f` on a thread with a 512 MB stack (the large targets are big values).
pub fn big_stack<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    std::thread::Builder::new().stack_size(512 << 20).spawn(f).expect("spawn").join().expect("join")
}

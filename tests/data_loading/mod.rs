//! Std-side loading of the benchmark data (docs/targets.md §11, data/README.md) for the target tests: `.npy`
//! and `.npz` files through `ndarray-npy`, arrays of `f8`, `f4` or `i4` converted to `f64`.
//!
//! The data directory is `$GMMVI_DATA_DIR`, or the repository's `data/`.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::PathBuf;

use ndarray::ArrayD;
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError, ReadableElement};

/// The data directory: `$GMMVI_DATA_DIR`, else the repository's `data/`.
pub fn data_dir() -> PathBuf {
    match std::env::var_os("GMMVI_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data"),
    }
}

/// Reads a file of the data directory, with a message naming the directory on failure.
pub fn read_data(rel: &str) -> Vec<u8> {
    let p = data_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {} ({e}); set GMMVI_DATA_DIR", p.display()))
}

/// Reads a text file of the data directory.
pub fn read_text(rel: &str) -> String {
    String::from_utf8(read_data(rel)).expect("UTF-8 data file")
}

/// The elements of a NumPy array, converted to `f64`.
#[derive(Clone, Debug)]
pub struct Npy {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Its elements in C order.
    pub data: Vec<f64>,
    /// The stored element type (`f8`, `f4` or `i4`).
    pub dtype: &'static str,
}

impl Npy {
    /// Row `i` of a 2-D array.
    pub fn row(&self, i: usize) -> &[f64] {
        let c = self.shape[1];
        &self.data[i * c..(i + 1) * c]
    }
}

/// Where an array is read from: ndarray-npy reads an array only as its stored element type, so
/// the types are tried in turn.
trait ArraySource {
    fn read<T: ReadableElement>(&mut self) -> Result<ArrayD<T>, ReadNpzError>;
}

impl ArraySource for &[u8] {
    fn read<T: ReadableElement>(&mut self) -> Result<ArrayD<T>, ReadNpzError> {
        Ok(ArrayD::<T>::read_npy(*self)?)
    }
}

impl ArraySource for (&mut NpzReader<Cursor<Vec<u8>>>, &str) {
    fn read<T: ReadableElement>(&mut self) -> Result<ArrayD<T>, ReadNpzError> {
        self.0.by_name(self.1)
    }
}

fn converted<T: Copy + Into<f64>>(a: ArrayD<T>, dtype: &'static str) -> Npy {
    Npy { shape: a.shape().to_vec(), data: a.iter().map(|&v| v.into()).collect(), dtype }
}

/// The array of `src` as `f8`, `f4` or `i4`.
fn read_as_f64(mut src: impl ArraySource) -> Result<Npy, ReadNpzError> {
    let other_dtype = |e: &ReadNpzError| matches!(e, ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_)));
    match src.read::<f64>() {
        Err(e) if other_dtype(&e) => {}
        r => return r.map(|a| converted(a, "f8")),
    }
    match src.read::<f32>() {
        Err(e) if other_dtype(&e) => {}
        r => return r.map(|a| converted(a, "f4")),
    }
    src.read::<i32>().map(|a| converted(a, "i4"))
}

/// The member `name` of a `.npz` file of the data directory.
pub fn npz_member(rel: &str, name: &str) -> Npy {
    let mut npz = NpzReader::new(Cursor::new(read_data(rel))).unwrap_or_else(|e| panic!("{rel}: {e}"));
    read_as_f64((&mut npz, name)).unwrap_or_else(|e| panic!("{rel}, member {name}: {e}"))
}

/// A `.npy` file of the data directory.
pub fn npy_file(rel: &str) -> Npy {
    read_as_f64(&read_data(rel)[..]).unwrap_or_else(|e| panic!("{rel}: {e}"))
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

//! Std-side loading of the benchmark data (spec targets.md §11) for the target tests: a
//! minimal `.npy` reader (format 1.0/2.0/3.0, little-endian `f8`/`f4`/`i4`, C order) and a
//! `.npz` reader for stored (uncompressed) zip members, found through the central directory.
//!
//! The data directory is `$GMMVI_DATA_DIR`, or the repository's `data/`.
#![allow(dead_code)]

use std::path::PathBuf;

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

/// The elements of a `.npy` array, converted to `f64`.
#[derive(Clone, Debug)]
pub struct Npy {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Its elements in C order.
    pub data: Vec<f64>,
    /// The stored dtype (`<f8`, `<f4` or `<i4`).
    pub descr: String,
}

impl Npy {
    /// Row `i` of a 2-D array.
    pub fn row(&self, i: usize) -> &[f64] {
        let c = self.shape[1];
        &self.data[i * c..(i + 1) * c]
    }
}

fn u16_at(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes([b[at], b[at + 1]]) as usize
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// The quoted value of `key` in a NumPy header dict.
fn header_str<'h>(header: &'h str, key: &str) -> &'h str {
    let at = header.find(&format!("'{key}'")).unwrap_or_else(|| panic!("npy header lacks {key}: {header}"));
    let rest = &header[at + key.len() + 2..];
    let q0 = rest.find('\'').expect("quoted value") + 1;
    let q1 = rest[q0..].find('\'').expect("closing quote") + q0;
    &rest[q0..q1]
}

/// Parses one `.npy` file.
pub fn parse_npy(b: &[u8]) -> Npy {
    assert_eq!(&b[..6], b"\x93NUMPY", "not an npy file");
    let (hlen, hstart) = match b[6] {
        1 => (u16_at(b, 8), 10),
        2 | 3 => (u32_at(b, 8), 12),
        v => panic!("npy version {v}"),
    };
    let header = std::str::from_utf8(&b[hstart..hstart + hlen]).expect("ASCII header");
    assert!(header.contains("'fortran_order': False"), "Fortran order unsupported: {header}");
    let descr = header_str(header, "descr").to_string();
    let s0 = header.find("'shape':").expect("shape") + 8;
    let p0 = header[s0..].find('(').expect("(") + s0 + 1;
    let p1 = header[p0..].find(')').expect(")") + p0;
    let shape: Vec<usize> =
        header[p0..p1].split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().expect("dim")).collect();
    let count: usize = shape.iter().product();
    let raw = &b[hstart + hlen..];
    let data: Vec<f64> = match descr.as_str() {
        "<f8" => raw.chunks_exact(8).take(count).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
        "<f4" => raw.chunks_exact(4).take(count).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        "<i4" => raw.chunks_exact(4).take(count).map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64).collect(),
        d => panic!("dtype {d} unsupported"),
    };
    assert_eq!(data.len(), count, "truncated npy data");
    Npy { shape, data, descr }
}

/// Parses every member of a `.npz` archive (stored members only), by member name without
/// the `.npy` suffix.
pub fn parse_npz(b: &[u8]) -> Vec<(String, Npy)> {
    // End of central directory: signature 0x06054b50, searched from the end.
    let eocd = (0..=b.len() - 22).rev().find(|&i| u32_at(b, i) == 0x0605_4b50).expect("zip end record");
    let entries = u16_at(b, eocd + 10);
    let mut at = u32_at(b, eocd + 16);
    let mut out = Vec::new();
    for _ in 0..entries {
        assert_eq!(u32_at(b, at), 0x0201_4b50, "central directory entry");
        let method = u16_at(b, at + 10);
        let csize = u32_at(b, at + 20);
        let usize_ = u32_at(b, at + 24);
        let (nlen, elen, clen) = (u16_at(b, at + 28), u16_at(b, at + 30), u16_at(b, at + 32));
        let local = u32_at(b, at + 42);
        let name = String::from_utf8(b[at + 46..at + 46 + nlen].to_vec()).expect("member name");
        assert_eq!(method, 0, "member {name} is compressed (method {method}); only stored members are supported");
        assert_eq!(csize, usize_);
        assert_eq!(u32_at(b, local), 0x0403_4b50, "local header");
        let start = local + 30 + u16_at(b, local + 26) + u16_at(b, local + 28);
        let npy = parse_npy(&b[start..start + csize]);
        out.push((name.trim_end_matches(".npy").to_string(), npy));
        at += 46 + nlen + elen + clen;
    }
    out
}

/// The member `name` of a `.npz` file of the data directory.
pub fn npz_member(rel: &str, name: &str) -> Npy {
    parse_npz(&read_data(rel))
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{rel} has no member {name}"))
        .1
}

/// A `.npy` file of the data directory.
pub fn npy_file(rel: &str) -> Npy {
    parse_npy(&read_data(rel))
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

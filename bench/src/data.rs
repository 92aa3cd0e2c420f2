//! Loading the benchmark data of targets.md §11 from disk: a small `.npy` reader (format
//! 1.0/2.0/3.0, little-endian `f8`/`f4`/`i4`, C order), a `.npz` reader for stored
//! (uncompressed) zip members, the UCI text files and the ground-truth samples.
//!
//! Every function returns `Err(String)` with the file name instead of panicking.

use std::path::{Path, PathBuf};

use gmmvi::targets::{
    BREAST_CANCER_DIM, BREAST_CANCER_ROWS, GERMAN_CREDIT_DIM, GERMAN_CREDIT_ROWS, WINE_INPUTS, parse_breast_cancer,
    parse_german_credit, preprocess_features,
};
use nalgebra::SVector;

/// The default data directory: `$GMMVI_DATA_DIR`, else the repository's `data/` (this crate
/// lives in `<root>/bench`).
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("GMMVI_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data"),
    }
}

/// A NumPy array converted to `f64`, in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Npy {
    /// The array's shape.
    pub shape: Vec<usize>,
    /// Its elements in C order.
    pub data: Vec<f64>,
}

impl Npy {
    /// The rows of a 2-D array with `D` columns.
    ///
    /// # Errors
    /// If the array is not `n × D`.
    pub fn rows<const D: usize>(&self) -> Result<Vec<SVector<f64, D>>, String> {
        match self.shape[..] {
            [_, c] if c == D => Ok(self.data.chunks_exact(D).map(SVector::<f64, D>::from_column_slice).collect()),
            _ => Err(format!("expected an n×{D} array, found shape {:?}", self.shape)),
        }
    }
}

fn bytes<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], String> {
    b.get(at..at + N).and_then(|s| s.try_into().ok()).ok_or_else(|| "truncated file".to_string())
}

fn u16_at(b: &[u8], at: usize) -> Result<usize, String> {
    Ok(u16::from_le_bytes(bytes(b, at)?) as usize)
}

fn u32_at(b: &[u8], at: usize) -> Result<usize, String> {
    Ok(u32::from_le_bytes(bytes(b, at)?) as usize)
}

/// The text after `'key':` in a NumPy header dict.
fn header_value<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let pat = format!("'{key}':");
    let at = header.find(&pat).ok_or_else(|| format!("npy header lacks {key}"))?;
    Ok(header[at + pat.len()..].trim_start())
}

/// Parses one `.npy` file.
///
/// # Errors
/// For anything but a little-endian `f8`/`f4`/`i4` C-order array of the announced size.
pub fn parse_npy(b: &[u8]) -> Result<Npy, String> {
    if b.get(..6) != Some(b"\x93NUMPY") {
        return Err("not an npy file".into());
    }
    let (hlen, hstart) = match b.get(6) {
        Some(1) => (u16_at(b, 8)?, 10),
        Some(2 | 3) => (u32_at(b, 8)?, 12),
        v => return Err(format!("unsupported npy version {v:?}")),
    };
    let header = b.get(hstart..hstart + hlen).and_then(|h| std::str::from_utf8(h).ok()).ok_or("bad npy header")?;
    if !header_value(header, "fortran_order")?.starts_with("False") {
        return Err("Fortran-order arrays are not supported".into());
    }
    let descr = header_value(header, "descr")?.trim_start_matches('\'').split('\'').next().unwrap_or("");
    let shape_text = header_value(header, "shape")?;
    let inner = shape_text.strip_prefix('(').and_then(|s| s.split(')').next()).ok_or("bad npy shape")?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|e| format!("bad npy shape {inner:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    let raw = &b[hstart + hlen..];
    let data: Vec<f64> = match descr {
        "<f8" => raw.chunks_exact(8).take(count).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect(),
        "<f4" => raw
            .chunks_exact(4)
            .take(count)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        "<i4" => raw
            .chunks_exact(4)
            .take(count)
            .map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        d => return Err(format!("unsupported npy dtype {d:?}")),
    };
    if data.len() != count {
        return Err("truncated npy data".into());
    }
    Ok(Npy { shape, data })
}

/// Parses the members of a `.npz` archive (stored members only), named without `.npy`.
///
/// # Errors
/// For a malformed archive, a compressed member or a bad member.
pub fn parse_npz(b: &[u8]) -> Result<Vec<(String, Npy)>, String> {
    let last = b.len().checked_sub(22).ok_or("not a zip archive")?;
    let eocd = (0..=last).rev().find(|&i| u32_at(b, i) == Ok(0x0605_4b50)).ok_or("no zip end record")?;
    let entries = u16_at(b, eocd + 10)?;
    let mut at = u32_at(b, eocd + 16)?;
    let mut out = Vec::with_capacity(entries);
    for _ in 0..entries {
        if u32_at(b, at)? != 0x0201_4b50 {
            return Err("bad zip central directory".into());
        }
        let method = u16_at(b, at + 10)?;
        let size = u32_at(b, at + 20)?;
        let (nlen, elen, clen) = (u16_at(b, at + 28)?, u16_at(b, at + 30)?, u16_at(b, at + 32)?);
        let local = u32_at(b, at + 42)?;
        let name = b.get(at + 46..at + 46 + nlen).map(String::from_utf8_lossy).ok_or("truncated zip")?.into_owned();
        if method != 0 {
            return Err(format!("member {name} is compressed; only stored members are supported"));
        }
        if u32_at(b, local)? != 0x0403_4b50 {
            return Err("bad zip local header".into());
        }
        let start = local + 30 + u16_at(b, local + 26)? + u16_at(b, local + 28)?;
        let member = b.get(start..start + size).ok_or("truncated zip member")?;
        let npy = parse_npy(member).map_err(|e| format!("member {name}: {e}"))?;
        out.push((name.trim_end_matches(".npy").to_string(), npy));
        at += 46 + nlen + elen + clen;
    }
    Ok(out)
}

/// The data files of one directory.
#[derive(Clone, Debug)]
pub struct DataDir(pub PathBuf);

impl DataDir {
    fn read(&self, rel: &str) -> Result<Vec<u8>, String> {
        let p = self.0.join(rel);
        std::fs::read(&p).map_err(|e| format!("cannot read {}: {e} (set --data-dir or GMMVI_DATA_DIR)", p.display()))
    }

    fn text(&self, rel: &str) -> Result<String, String> {
        String::from_utf8(self.read(rel)?).map_err(|_| format!("{rel} is not UTF-8"))
    }

    /// A `.npy` file.
    ///
    /// # Errors
    /// If it cannot be read or parsed.
    pub fn npy(&self, rel: &str) -> Result<Npy, String> {
        parse_npy(&self.read(rel)?).map_err(|e| format!("{rel}: {e}"))
    }

    /// The member `name` of a `.npz` file.
    ///
    /// # Errors
    /// If it cannot be read or parsed or lacks the member.
    pub fn npz_member(&self, rel: &str, name: &str) -> Result<Npy, String> {
        parse_npz(&self.read(rel)?)
            .map_err(|e| format!("{rel}: {e}"))?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| a)
            .ok_or_else(|| format!("{rel} has no member {name}"))
    }

    /// The preprocessed BreastCancer rows and labels (targets.md §5.1).
    ///
    /// # Errors
    /// If the file is missing or malformed.
    pub fn breast_cancer(&self) -> Result<(Vec<SVector<f64, BREAST_CANCER_DIM>>, Vec<u8>), String> {
        let text = self.text("breast_cancer.data")?;
        let mut raw = vec![0.0; BREAST_CANCER_ROWS * (BREAST_CANCER_DIM - 1)];
        let mut labels = vec![0u8; BREAST_CANCER_ROWS];
        let n = parse_breast_cancer(&text, &mut raw, &mut labels).map_err(|e| format!("breast_cancer.data: {e:?}"))?;
        rows_of(&raw, labels, n)
    }

    /// The preprocessed GermanCredit rows and labels (targets.md §5.1).
    ///
    /// # Errors
    /// If the file is missing or malformed.
    pub fn german_credit(&self) -> Result<(Vec<SVector<f64, GERMAN_CREDIT_DIM>>, Vec<u8>), String> {
        let text = self.text("german.data-numeric")?;
        let mut raw = vec![0.0; GERMAN_CREDIT_ROWS * (GERMAN_CREDIT_DIM - 1)];
        let mut labels = vec![0u8; GERMAN_CREDIT_ROWS];
        let n = parse_german_credit(&text, &mut raw, &mut labels).map_err(|e| format!("german.data-numeric: {e:?}"))?;
        rows_of(&raw, labels, n)
    }

    /// The training split of `wine/wine_seed_{k}.npz` (targets.md §7.1): features and labels.
    ///
    /// # Errors
    /// If the file is missing or malformed.
    pub fn wine_train(&self, k: u64) -> Result<(Vec<[f64; WINE_INPUTS]>, Vec<f64>), String> {
        let rel = format!("wine/wine_seed_{k}.npz");
        let x = self.npz_member(&rel, "features_train")?;
        let y = self.npz_member(&rel, "labels_train")?;
        if x.shape.len() != 2 || x.shape[1] != WINE_INPUTS || y.data.len() != x.shape[0] {
            return Err(format!("{rel}: unexpected shapes {:?} and {:?}", x.shape, y.shape));
        }
        let feats = x.data.chunks_exact(WINE_INPUTS).map(|c| c.try_into().unwrap_or([0.0; WINE_INPUTS])).collect();
        Ok((feats, y.data))
    }
}

fn rows_of<const D: usize>(
    raw: &[f64],
    mut labels: Vec<u8>,
    n: usize,
) -> Result<(Vec<SVector<f64, D>>, Vec<u8>), String> {
    labels.truncate(n);
    let mut rows = vec![SVector::<f64, D>::zeros(); n];
    preprocess_features(&raw[..n * (D - 1)], &mut rows).map_err(|e| format!("preprocessing: {e:?}"))?;
    Ok((rows, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy_bytes(descr: &str, shape: &str, payload: &[u8]) -> Vec<u8> {
        let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn reads_npy_arrays() {
        let payload: Vec<u8> = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = parse_npy(&npy_bytes("<f8", "(2, 3)", &payload)).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        let rows = a.rows::<3>().unwrap();
        assert_eq!(rows[1], SVector::from([4.0, 5.0, 6.0]));
        assert!(a.rows::<2>().is_err());
        let ints: Vec<u8> = [7i32, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse_npy(&npy_bytes("<i4", "(2,)", &ints)).unwrap().data, vec![7.0, -1.0]);
        assert!(parse_npy(&npy_bytes("<f8", "(2, 3)", &payload[..40])).is_err());
        assert!(parse_npy(&npy_bytes("<c16", "(1,)", &payload)).is_err());
        assert!(parse_npy(b"garbage").is_err());
        assert!(parse_npz(b"garbage").is_err());
    }
}

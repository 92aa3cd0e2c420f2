//! Loading the benchmark data of docs/targets.md §11 (data/README.md) from disk (feature `std`):
//! `.npy` and `.npz` files through `ndarray-npy` (arrays of `f8`, `f4` or `i4`, converted to
//! `f64`), the UCI text files and the ground-truth samples. The benchmark runner and the tests
//! read the data through this module.
//!
//! Every function returns `Err(String)` with the file name instead of panicking.

use std::format;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use crate::{
    BREAST_CANCER_DIM, BREAST_CANCER_ROWS, GERMAN_CREDIT_DIM, GERMAN_CREDIT_ROWS, WINE_INPUTS, parse_breast_cancer,
    parse_german_credit, preprocess_features,
};
use nalgebra::SVector;
use ndarray::ArrayD;
use ndarray_npy::{NpzReader, ReadNpyError, ReadNpyExt, ReadNpzError, ReadableElement};

/// The default data directory: `$GMMVI_DATA_DIR`, else the repository's `data/` (this crate
/// lives in `<root>/gmmvi-targets`).
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
    /// The stored element type: `f8`, `f4` or `i4`.
    pub dtype: &'static str,
}

impl Npy {
    /// Row `i` of a 2-D array; `None` for another shape or `i` out of range.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        match self.shape[..] {
            [_, c] => self.data.get(i.checked_mul(c)?..i.checked_add(1)?.checked_mul(c)?),
            _ => None,
        }
    }

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

impl ArraySource for (&mut NpzReader<Cursor<&[u8]>>, &str) {
    fn read<T: ReadableElement>(&mut self) -> Result<ArrayD<T>, ReadNpzError> {
        self.0.by_name(self.1)
    }
}

fn converted<T: Copy + Into<f64>>(a: ArrayD<T>, dtype: &'static str) -> Npy {
    Npy { shape: a.shape().to_vec(), data: a.iter().map(|&v| v.into()).collect(), dtype }
}

/// The array of `src` as `f8`, `f4` or `i4`.
fn read_as_f64(mut src: impl ArraySource) -> Result<Npy, String> {
    let other_dtype = |e: &ReadNpzError| matches!(e, ReadNpzError::Npy(ReadNpyError::WrongDescriptor(_)));
    match src.read::<f64>() {
        Err(e) if other_dtype(&e) => {}
        r => return r.map(|a| converted(a, "f8")).map_err(|e| e.to_string()),
    }
    match src.read::<f32>() {
        Err(e) if other_dtype(&e) => {}
        r => return r.map(|a| converted(a, "f4")).map_err(|e| e.to_string()),
    }
    match src.read::<i32>() {
        Err(ReadNpzError::Npy(ReadNpyError::WrongDescriptor(d))) => {
            Err(format!("unsupported npy dtype {d} (expected f8, f4 or i4)"))
        }
        r => r.map(|a| converted(a, "i4")).map_err(|e| e.to_string()),
    }
}

/// Parses one `.npy` file.
///
/// # Errors
/// For a malformed file or an element type other than `f8`, `f4` and `i4`.
pub fn parse_npy(b: &[u8]) -> Result<Npy, String> {
    read_as_f64(b)
}

/// Parses the member `name` (without `.npy`) of a `.npz` archive.
///
/// # Errors
/// For a malformed archive, a missing member or a member [`parse_npy`] rejects.
pub fn parse_npz_member(b: &[u8], name: &str) -> Result<Npy, String> {
    let mut npz = NpzReader::new(Cursor::new(b)).map_err(|e| e.to_string())?;
    if !npz.names().map_err(|e| e.to_string())?.iter().any(|n| n == name) {
        return Err(format!("no member {name}"));
    }
    read_as_f64((&mut npz, name)).map_err(|e| format!("member {name}: {e}"))
}

/// The data files of one directory.
#[derive(Clone, Debug)]
pub struct DataDir(pub PathBuf);

impl Default for DataDir {
    /// [`default_data_dir`].
    fn default() -> Self {
        Self(default_data_dir())
    }
}

impl DataDir {
    /// The bytes of the file `rel` (a path relative to the directory).
    ///
    /// # Errors
    /// If it cannot be read; the message names the file.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, String> {
        let p = self.0.join(rel);
        std::fs::read(&p)
            .map_err(|e| format!("cannot read {}: {e} (the data directory; default: GMMVI_DATA_DIR)", p.display()))
    }

    /// The text file `rel`.
    ///
    /// # Errors
    /// If it cannot be read or is not UTF-8.
    pub fn text(&self, rel: &str) -> Result<String, String> {
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
        parse_npz_member(&self.read(rel)?, name).map_err(|e| format!("{rel}: {e}"))
    }

    /// The preprocessed BreastCancer rows and labels (docs/targets.md §5.1).
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

    /// The preprocessed GermanCredit rows and labels (docs/targets.md §5.1).
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

    /// The training split of `wine/wine_seed_{k}.npz` (docs/targets.md §7.1): features and labels.
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
    use ndarray::{Array1, Array2};
    use ndarray_npy::{NpzWriter, WriteNpyExt};

    fn npy_bytes(a: &impl WriteNpyExt) -> Vec<u8> {
        let mut b = Vec::new();
        a.write_npy(&mut b).unwrap();
        b
    }

    #[test]
    fn reads_npy_and_npz_arrays() {
        let a = Array2::from_shape_vec((2, 3), vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let p = parse_npy(&npy_bytes(&a)).unwrap();
        assert_eq!((&p.shape[..], p.dtype), (&[2, 3][..], "f8"));
        assert_eq!(p.row(1), Some(&[4.0, 5.0, 6.0][..]));
        assert_eq!(p.row(2), None);
        let rows = p.rows::<3>().unwrap();
        assert_eq!(rows[1], SVector::from([4.0, 5.0, 6.0]));
        assert!(p.rows::<2>().is_err());
        // Fortran order comes back in C order.
        assert_eq!(parse_npy(&npy_bytes(&a.t().to_owned())).unwrap().data, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let ints = parse_npy(&npy_bytes(&Array1::from(vec![7i32, -1]))).unwrap();
        assert_eq!((&ints.data[..], ints.dtype, ints.row(0)), (&[7.0, -1.0][..], "i4", None));
        let floats = parse_npy(&npy_bytes(&Array1::from(vec![0.5f32]))).unwrap();
        assert_eq!((floats.data, floats.dtype), (vec![0.5], "f4"));

        let mut npz = NpzWriter::new(Cursor::new(Vec::new()));
        npz.add_array("x", &a).unwrap();
        npz.add_array("y", &Array1::from(vec![3i32, 4])).unwrap();
        npz.add_array("z", &Array1::from(vec![1u8])).unwrap();
        let npz = npz.finish().unwrap().into_inner();
        assert_eq!(parse_npz_member(&npz, "x").unwrap(), p);
        assert_eq!(parse_npz_member(&npz, "y").unwrap().data, vec![3.0, 4.0]);
        assert!(parse_npz_member(&npz, "w").unwrap_err().contains("no member w"));
        assert!(parse_npz_member(&npz, "z").unwrap_err().contains("unsupported npy dtype"));

        let good = npy_bytes(&a);
        assert!(parse_npy(&good[..good.len() - 8]).is_err());
        assert!(parse_npy(&npy_bytes(&Array1::from(vec![1u8]))).is_err());
        assert!(parse_npy(b"garbage").is_err());
        assert!(parse_npz_member(b"garbage", "x").is_err());
        assert!(parse_npz_member(&npz[..npz.len() / 2], "x").is_err());
    }
}

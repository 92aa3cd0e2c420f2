//! Small in-place dense linear algebra for building large targets without stack temporaries.

use nalgebra::{SMatrix, SVector};

/// Overwrites the symmetric matrix `a` (only its lower triangle is read) with its lower
/// Cholesky factor `L`, `a = L Lᵀ`, and zeroes the strict upper triangle.
///
/// Returns `false` (leaving `a` partly overwritten) if `a` is not positive definite or the
/// factor would not be finite.
pub(crate) fn cholesky_in_place<const D: usize>(a: &mut SMatrix<f64, D, D>) -> bool {
    // Left-looking, column by column; every inner loop runs down contiguous columns.
    let s = a.as_mut_slice();
    for j in 0..D {
        let (left, right) = s.split_at_mut(j * D);
        let Some(col_j) = right.get_mut(j..D) else { return false };
        for col_k in left.chunks_exact(D.max(1)) {
            let Some(col_k) = col_k.get(j..) else { return false };
            let ljk = col_k.first().copied().unwrap_or(0.0);
            if ljk != 0.0 {
                for (x, &l) in col_j.iter_mut().zip(col_k) {
                    *x -= ljk * l;
                }
            }
        }
        let Some((diag, below)) = col_j.split_first_mut() else { return false };
        if !(*diag > 0.0 && diag.is_finite()) {
            return false;
        }
        let d = libm::sqrt(*diag);
        *diag = d;
        for x in below {
            *x /= d;
            if !x.is_finite() {
                return false;
            }
        }
    }
    for (j, col) in s.chunks_exact_mut(D.max(1)).enumerate() {
        for x in col.iter_mut().take(j) {
            *x = 0.0;
        }
    }
    true
}

/// Adds `v vᵀ` to the lower triangle (diagonal included) of `a`, column by column.
pub(crate) fn add_lower_outer<const D: usize>(a: &mut SMatrix<f64, D, D>, v: &SVector<f64, D>) {
    let v = v.as_slice();
    for (j, (col, &vj)) in a.as_mut_slice().chunks_exact_mut(D.max(1)).zip(v).enumerate() {
        let (c, vv) = (col.get_mut(j..).unwrap_or(&mut []), v.get(j..).unwrap_or(&[]));
        for (x, &vi) in c.iter_mut().zip(vv) {
            *x += vi * vj;
        }
    }
}

/// `Σ_i a_i b_i` over the common length, with eight independent partial sums (so the
/// compiler can vectorise it).
#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (a.get(..n).unwrap_or(&[]), b.get(..n).unwrap_or(&[]));
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for ((s, &xi), &yi) in acc.iter_mut().zip(x).zip(y) {
            *s += xi * yi;
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `Σ_j ln L[j,j]` of a lower-triangular factor.
pub(crate) fn log_diag_sum<const D: usize>(l: &SMatrix<f64, D, D>) -> f64 {
    l.diagonal().iter().map(|&d| libm::log(d)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Cholesky, Matrix3};

    #[test]
    fn matches_nalgebra() {
        let a = Matrix3::new(4.0, 1.0, -0.5, 1.0, 3.0, 0.2, -0.5, 0.2, 2.0);
        let want = Cholesky::new(a).unwrap().unpack();
        let mut l = a;
        assert!(cholesky_in_place(&mut l));
        assert!((l - want).norm() < 1e-14);
        assert!((log_diag_sum(&l) - 0.5 * libm::log(a.determinant())).abs() < 1e-14);
    }

    #[test]
    fn dot_matches_naive() {
        let a: [f64; 19] = core::array::from_fn(|i| i as f64 * 0.5 - 3.0);
        let b: [f64; 19] = core::array::from_fn(|i| 1.0 / (i as f64 + 1.0));
        for n in [0, 1, 7, 8, 9, 16, 19] {
            let want: f64 = a[..n].iter().zip(&b[..n]).map(|(x, y)| x * y).sum();
            assert!((dot(&a[..n], &b[..n]) - want).abs() < 1e-13);
        }
        assert!((dot(&a, &b[..5]) - dot(&a[..5], &b[..5])).abs() == 0.0);
    }

    #[test]
    fn outer_product_fills_lower_triangle() {
        let mut m = Matrix3::zeros();
        add_lower_outer(&mut m, &SVector::from([1.0, 2.0, 3.0]));
        assert_eq!(m, Matrix3::new(1.0, 0.0, 0.0, 2.0, 4.0, 0.0, 3.0, 6.0, 9.0));
    }

    #[test]
    fn rejects_indefinite_and_nan() {
        let mut a = Matrix3::new(1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0);
        assert!(!cholesky_in_place(&mut a));
        let mut b = Matrix3::identity() * f64::NAN;
        assert!(!cholesky_in_place(&mut b));
    }
}

//! Inverses and products of triangular factors (docs/algorithm.md §0), the `O(D³)` steps of
//! every component update: `Λ = L⁻ᵀL⁻¹` from a covariance factor, `Σ' = P⁻ᵀP⁻¹` from a
//! precision factor, `Σ = LLᵀ`, a full matrix times a factor, and the dense product of the
//! iBLR update (`ĤΣĤ`).
//!
//! The dense forms (`solve_lower_triangular(&identity)`, `Xᵀ·X`) spend most of their work on
//! entries that are exact zeros. These skip them and keep, for every entry, the same nonzero
//! terms in the same order as the dense forms: the same bits at a third (inverse), a sixth (Gram
//! products) and a half (full times triangular) of the multiply-adds. Loops run down contiguous columns, so they vectorise.
//! The KL of the trust-region search solves `P⁻¹L⁻ᵀ` a block of columns at a time, with the
//! dense solve's operations.

use nalgebra::SMatrix;

use crate::real::Real;

/// `L⁻¹` of a lower-triangular `L` (its upper triangle is not read); `None` if a diagonal
/// entry is zero. Column `j` by forward substitution from row `j` on, as
/// `l.solve_lower_triangular(&SMatrix::identity())` computes it (above row `j` it only adds
/// zeros).
pub(crate) fn lower_inverse<T: Real, const D: usize>(l: &SMatrix<T, D, D>) -> Option<SMatrix<T, D, D>> {
    let mut x = SMatrix::<T, D, D>::zeros();
    for (j, col) in x.as_mut_slice().chunks_exact_mut(D).enumerate() {
        if let Some(v) = col.get_mut(j) {
            *v = T::one();
        }
        for (i, li) in l.as_slice().chunks_exact(D).enumerate().skip(j) {
            let diag = li.get(i).copied().unwrap_or(T::zero());
            if diag == T::zero() {
                return None;
            }
            let (head, below) = col.split_at_mut(i + 1);
            let Some(b) = head.last_mut() else { continue };
            let coeff = *b / diag;
            *b = coeff;
            for (y, &a) in below.iter_mut().zip(li.get(i + 1..).unwrap_or(&[])) {
                *y = -coeff * a + *y;
            }
        }
    }
    Some(x)
}

/// `XᵀX` of a lower-triangular `X` (its upper triangle is taken as zero), symmetric: entry
/// `(i, j)` is `Σ_{k ≥ max(i, j)} X[k,i]·X[k,j]`, summed over ascending `k` as `X.transpose() * X`
/// sums it.
pub(crate) fn gram_of_lower<T: Real, const D: usize>(x: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    gram_of_upper_transpose(&x.transpose())
}

/// [`gram_of_lower`] of `X = Uᵀ`, given the upper-triangular `U` (its lower triangle is taken
/// as zero): `U Uᵀ` without forming `X`. Column k of `U` is row k of `X`, contiguous.
pub(crate) fn gram_of_upper_transpose<T: Real, const D: usize>(xt: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    let mut c = SMatrix::<T, D, D>::zeros();
    for (j, cj) in c.as_mut_slice().chunks_exact_mut(D).enumerate() {
        for (k, xk) in xt.as_slice().chunks_exact(D).enumerate().skip(j) {
            let b = xk.get(j).copied().unwrap_or(T::zero());
            let (cs, xs) = (cj.get_mut(j..=k).unwrap_or(&mut []), xk.get(j..=k).unwrap_or(&[]));
            for (ci, &a) in cs.iter_mut().zip(xs) {
                *ci += a * b;
            }
        }
    }
    for j in 0..D {
        for i in j + 1..D {
            c[(j, i)] = c[(i, j)];
        }
    }
    c
}

/// `LLᵀ` of a lower-triangular `L` (its upper triangle is taken as zero), symmetric: entry
/// `(i, j)` is `Σ_{k ≤ min(i, j)} L[i,k]·L[j,k]`, summed over ascending `k` from the `k = 0`
/// term as `l * l.transpose()` sums it (its remaining terms are zeros).
pub(crate) fn lower_times_transpose<T: Real, const D: usize>(l: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    let mut c = SMatrix::<T, D, D>::zeros();
    let cols = l.as_slice();
    for (j, cj) in c.as_mut_slice().chunks_exact_mut(D).enumerate() {
        for (k, lk) in cols.chunks_exact(D).enumerate().take(j + 1) {
            // c[i, j] (+)= L[i, k]·L[j, k] for i ≥ j.
            let b = lk.get(j).copied().unwrap_or(T::zero());
            let (cs, ls) = (cj.get_mut(j..).unwrap_or(&mut []), lk.get(j..).unwrap_or(&[]));
            if k == 0 {
                for (ci, &a) in cs.iter_mut().zip(ls) {
                    *ci = a * b;
                }
            } else {
                for (ci, &a) in cs.iter_mut().zip(ls) {
                    *ci += a * b;
                }
            }
        }
    }
    for j in 0..D {
        for i in j + 1..D {
            c[(j, i)] = c[(i, j)];
        }
    }
    c
}

/// `A·B` for a lower-triangular `B` (its upper triangle is taken as zero): entry `(i, j)` is
/// `Σ_{k ≥ j} A[i,k]·B[k,j]` over ascending `k`, as `a * b` sums it (its earlier terms are
/// zeros).
pub(crate) fn times_lower<T: Real, const D: usize>(a: &SMatrix<T, D, D>, b: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    let mut c = SMatrix::<T, D, D>::zeros();
    let (acols, bcols) = (a.as_slice(), b.as_slice());
    for ((j, cj), bj) in c.as_mut_slice().chunks_exact_mut(D).enumerate().zip(bcols.chunks_exact(D)) {
        for (k, ak) in acols.chunks_exact(D).enumerate().skip(j) {
            let bkj = bj.get(k).copied().unwrap_or(T::zero());
            if k == j {
                for (ci, &x) in cj.iter_mut().zip(ak) {
                    *ci = x * bkj;
                }
            } else {
                for (ci, &x) in cj.iter_mut().zip(ak) {
                    *ci += x * bkj;
                }
            }
        }
    }
    c
}

/// Rows and columns of the block of [`times`] that stays in registers: 4×4 `f64` are eight
/// SSE2 registers, and each step over `k` loads four entries of `A` for sixteen products (the
/// fastest of 2×6, 2×8, 4×3, 4×4, 4×6, 6×2 and 8×2 at D = 300).
const TIMES_BLOCK: usize = 4;

/// `A·B` with entry `(i, j)` summed over ascending `k` from the `k = 0` term, as `a * b` sums it
/// (the same bits), a [`TIMES_BLOCK`]² block of the product at a time: `a * b` streams all of
/// `A` through the cache once per column of the product, this once per block of columns and
/// keeps the block's sums in registers.
pub(crate) fn times<T: Real, const D: usize>(a: &SMatrix<T, D, D>, b: &SMatrix<T, D, D>) -> SMatrix<T, D, D> {
    const N: usize = TIMES_BLOCK;
    let mut c = SMatrix::<T, D, D>::zeros();
    let (acols, bcols) = (a.as_slice(), b.as_slice());
    let full = D - D % N;
    for (cb, bb) in c.as_mut_slice().chunks_exact_mut(N * D).zip(bcols.chunks_exact(N * D)) {
        for i0 in (0..full).step_by(N) {
            let mut acc = [[T::zero(); N]; N];
            for (k, ak) in acols.chunks_exact(D).enumerate() {
                let Some(ai) = ak.get(i0..i0 + N) else { continue };
                for (accj, bj) in acc.iter_mut().zip(bb.chunks_exact(D)) {
                    let bkj = bj.get(k).copied().unwrap_or(T::zero());
                    if k == 0 {
                        for (s, &x) in accj.iter_mut().zip(ai) {
                            *s = x * bkj;
                        }
                    } else {
                        for (s, &x) in accj.iter_mut().zip(ai) {
                            *s += x * bkj;
                        }
                    }
                }
            }
            for (cj, accj) in cb.chunks_exact_mut(D).zip(&acc) {
                if let Some(dst) = cj.get_mut(i0..i0 + N) {
                    dst.copy_from_slice(accj);
                }
            }
        }
    }
    // The rows and columns left over: one entry at a time, in the same order.
    for (j, (cj, bj)) in c.as_mut_slice().chunks_exact_mut(D).zip(bcols.chunks_exact(D)).enumerate() {
        let rows = if j < full { full..D } else { 0..D };
        for i in rows {
            let mut s = T::zero();
            for (k, (ak, &bkj)) in acols.chunks_exact(D).zip(bj).enumerate() {
                let x = ak.get(i).copied().unwrap_or(T::zero());
                s = if k == 0 { x * bkj } else { s + x * bkj };
            }
            if let Some(dst) = cj.get_mut(i) {
                *dst = s;
            }
        }
    }
    c
}

/// Columns of [`solve_lower_in_place`] solved together: each column of `P` is read once per
/// block and stays in L1 while it serves the block's columns.
const SOLVE_BLOCK: usize = 8;

/// `B ← P⁻¹B` for a lower-triangular `P` (its upper triangle is not read); `false`, with `B`
/// partly solved, if a diagonal entry is zero. Forward substitution with the operations of
/// `solve_lower_triangular_mut`, in the same order for every column (the same bits), on
/// [`SOLVE_BLOCK`] columns at a time.
pub(crate) fn solve_lower_in_place<T: Real, const D: usize>(p: &SMatrix<T, D, D>, b: &mut SMatrix<T, D, D>) -> bool {
    for block in b.as_mut_slice().chunks_mut(D * SOLVE_BLOCK) {
        for (i, pi) in p.as_slice().chunks_exact(D).enumerate() {
            let diag = pi.get(i).copied().unwrap_or(T::zero());
            if diag == T::zero() {
                return false;
            }
            let below_p = pi.get(i + 1..).unwrap_or(&[]);
            for col in block.chunks_exact_mut(D) {
                let (head, below) = col.split_at_mut(i + 1);
                let Some(bi) = head.last_mut() else { continue };
                let coeff = *bi / diag;
                *bi = coeff;
                let neg = -coeff;
                for (y, &x) in below.iter_mut().zip(below_p) {
                    *y = neg * x + *y;
                }
            }
        }
    }
    true
}

/// `Aᵀv` as `a.transpose() * v` sums it (entry `i` adds `A[j,i]·v_j` over ascending `j`,
/// starting from the `j = 0` term), down the contiguous columns of `A` instead of forming `Aᵀ`.
pub(crate) fn transpose_times<T: Real, const D: usize>(
    a: &SMatrix<T, D, D>,
    v: &nalgebra::SVector<T, D>,
) -> nalgebra::SVector<T, D> {
    let mut y = nalgebra::SVector::<T, D>::zeros();
    for (yi, ai) in y.iter_mut().zip(a.as_slice().chunks_exact(D)) {
        let mut acc = T::zero();
        for (j, (&x, &w)) in ai.iter().zip(v.iter()).enumerate() {
            acc = if j == 0 { x * w } else { x * w + acc };
        }
        *yi = acc;
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::SMatrix;

    /// A lower-triangular matrix with a positive diagonal and entries of mixed signs and scales.
    fn lower<const D: usize>(seed: u64) -> SMatrix<f64, D, D> {
        let mut s = seed;
        SMatrix::from_fn(|i, j| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            match i.cmp(&j) {
                core::cmp::Ordering::Less => 0.0,
                core::cmp::Ordering::Equal => 0.1 + 3.0 * u,
                core::cmp::Ordering::Greater => (u - 0.5) * 10f64.powi((i % 5) as i32 - 2),
            }
        })
    }

    fn same_bits<const D: usize>(a: &SMatrix<f64, D, D>, b: &SMatrix<f64, D, D>) -> bool {
        a.iter().zip(b.iter()).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    fn check<const D: usize>() {
        for seed in 0..20 {
            let l = lower::<D>(seed);
            let dense = l.solve_lower_triangular(&SMatrix::identity()).unwrap();
            let inv = lower_inverse(&l).unwrap();
            assert!(same_bits(&inv, &dense), "inverse, D = {D}, seed {seed}");
            assert!(same_bits(&gram_of_lower(&inv), &(dense.transpose() * dense)), "Gram, D = {D}, seed {seed}");
            assert!(same_bits(&lower_times_transpose(&l), &(l * l.transpose())), "LLᵀ, D = {D}, seed {seed}");
            let a = lower::<D>(seed + 100).transpose() + lower::<D>(seed + 200);
            assert!(same_bits(&times_lower(&a, &l), &(a * l)), "A·L, D = {D}, seed {seed}");
            let b = lower::<D>(seed + 400) - lower::<D>(seed + 500).transpose();
            assert!(same_bits(&times(&a, &b), &(a * b)), "A·B, D = {D}, seed {seed}");
            let mut solved = a;
            assert!(solve_lower_in_place(&l, &mut solved));
            assert!(same_bits(&solved, &l.solve_lower_triangular(&a).unwrap()), "P⁻¹B, D = {D}, seed {seed}");
            for m in [a, l.transpose()] {
                let v = lower::<D>(seed + 300).column(0).into_owned() - a.column(D - 1);
                let (mine, dense) = (transpose_times(&m, &v), m.transpose() * v);
                assert!(
                    mine.iter().zip(dense.iter()).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "Aᵀv, D = {D}, seed {seed}"
                );
            }
            // The upper triangle is not read.
            let mut noisy = l;
            noisy.fill_upper_triangle(7.0, 1);
            assert!(same_bits(&lower_inverse(&noisy).unwrap(), &dense));
            // (L⁻¹)ᵀ L⁻¹ L Lᵀ = I (small D: the test factors grow ill-conditioned with D).
            if D <= 7 {
                let prod = gram_of_lower(&inv) * (l * l.transpose());
                assert!((prod - SMatrix::<f64, D, D>::identity()).abs().max() < 1e-6, "D = {D}, seed {seed}");
            }
        }
    }

    #[test]
    fn the_same_bits_as_the_dense_forms() {
        check::<1>();
        check::<2>();
        check::<7>();
        check::<16>();
        check::<33>();
        check::<34>();
    }

    #[test]
    fn a_zero_diagonal_is_refused() {
        let mut l = lower::<4>(3);
        l[(2, 2)] = 0.0;
        assert!(lower_inverse(&l).is_none());
        assert!(!solve_lower_in_place(&l, &mut SMatrix::<f64, 4, 4>::identity()));
        assert!(l.solve_lower_triangular(&SMatrix::<f64, 4, 4>::identity()).is_none());
    }
}

//! Stein natural-gradient estimator, letter `S` (spec algorithm.md §2.1).
//!
//! Per sample `γ_n = ∇log p~(x_n) − ∇log q(x_n)`. For component k with `z_n = L⁻¹(x_n − μ)`,
//! `d_n = Λ(x_n − μ) = L⁻ᵀ z_n` and importance weights `ŵ_n ∝ exp(log N(x_n; μ_k, Σ_k) −
//! log b(x_n))`:
//! `E_grad = Σ ŵ γ`, `M = Σ ŵ γ dᵀ = (Σ ŵ γ zᵀ) L⁻¹`, `Ĥ = −½(M + Mᵀ)`, `ĝ = −E_grad`
//! (Stein/Price: `E_q[∇²f] = E_q[Λ(x − μ)∇fᵀ]`).
//! Self-normalised weights divide by `Σ ŵ`; plain weights by the sample count `N`.
//!
//! The sums are streamed with an online maximum (no K × N matrix); a term whose log weight lies
//! more than [`Real::NEGLIGIBLE_LOG`] below the running maximum is below the scalar's precision
//! and skipped.

use nalgebra::{SMatrix, SVector};

use crate::model::{CHUNK, Chunk, Component, Gmm, block_candidates, chunk_mixture};
use crate::parallel::{Parallel, ROW_TASK};
use crate::real::{OnlineLse, Real};
use crate::store::{RowBlock, SampleStore, clipped, component_softmax};

/// Fills `gamma[r] = ∇log p~ − ∇log q` for the working-set rows, with
/// `∇log q(x) = Σ_k r_k(x)·(−Σ_k⁻¹(x − μ_k))` (spec §0.2) over the non-negligible `r_k`.
pub(crate) fn log_ratio_gradients<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, X>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    par: &X,
) where
    X: Parallel,
{
    let start = store.working_start();
    let (x, grad, blocks) = (&store.x, &store.grad, &store.blocks[..store.bg_len]);
    par.for_each_chunk(&mut store.gamma[start..store.len], ROW_TASK, &|first, out| {
        gradient_rows(model, x, grad, blocks, start + first, out);
    });
}

#[allow(clippy::needless_range_loop)] // rows index the columns of `vals`
fn gradient_rows<T: Real, const D: usize, const K: usize>(
    model: &Gmm<T, D, K>,
    x: &[SVector<T, D>],
    grad: &[SVector<T, D>],
    blocks: &[RowBlock<T, D>],
    r0: usize,
    out: &mut [SVector<T, D>],
) {
    let (comps, lw) = (model.components(), model.log_weights());
    let mut ub = [T::zero(); K];
    let mut idx = [0usize; K];
    let mut vals = [[T::zero(); CHUNK]; K];
    let mut z = SVector::<T, D>::zeros();
    let mut d = SVector::<T, D>::zeros();
    for (blk, a, b) in clipped(blocks, r0, r0 + out.len()) {
        let c = block_candidates(comps, lw, &x[a..b], &blk.lo, &blk.hi, &mut ub, &mut idx);
        for c0 in (a..b).step_by(CHUNK) {
            let ch = Chunk::load(&x[c0..b]);
            let lse = chunk_mixture(comps, lw, &idx[..c], &ch, Some(&mut vals[..]));
            for r in 0..ch.n {
                let row = c0 + r;
                let lq = lse.lse(r);
                let mut g = SVector::<T, D>::zeros();
                for (i, &k) in idx[..c].iter().enumerate() {
                    let a = vals[i][r];
                    if !(a >= lq - T::NEGLIGIBLE_LOG) {
                        continue;
                    }
                    comps[k].log_density(&x[row], &mut z);
                    comps[k].unwhiten_t(&z, &mut d);
                    g -= d * (a - lq).exp();
                }
                out[row - r0] = grad[row] - g;
            }
        }
    }
}

/// Writes `(Ĥ_k, ĝ_k)` into `ng[k]` for every active component, one task per component; the
/// working-set rows must carry `log_b` and `gamma` (see [`log_ratio_gradients`]).
pub(crate) fn estimate<T: Real, const D: usize, const K: usize, const S: usize, const G: usize, X>(
    model: &Gmm<T, D, K>,
    store: &SampleStore<T, D, S, G>,
    self_normalized: bool,
    diag: bool,
    ng: &mut [Option<(SMatrix<T, D, D>, SVector<T, D>)>],
    par: &X,
) where
    X: Parallel,
{
    let kn = model.len().min(ng.len());
    par.for_each_chunk(&mut ng[..kn], 1, &|first, out| {
        for (j, slot) in out.iter_mut().enumerate() {
            if let Some(c) = model.components().get(first + j) {
                *slot = Some(if diag {
                    estimate_one_diag(c, store, self_normalized)
                } else {
                    estimate_one(c, store, self_normalized)
                });
            }
        }
    });
}

/// Normalisation of the streamed sums: `1/Σw` (self-normalised) or `e^max/N` (plain).
fn normalizer<T: Real, const D: usize, const S: usize, const G: usize>(
    store: &SampleStore<T, D, S, G>,
    lse: &OnlineLse<T>,
    self_normalized: bool,
) -> T {
    let n = (store.len - store.working_start()) as f64;
    if self_normalized { T::one() / lse.sum } else { (lse.max - T::of(libm::log(n))).exp() }
}

/// The diagonal model's estimate (spec §2.1): `d_n = (x_n − μ)/L²` and the "Hessian" is the
/// vector `Σ ŵ d ⊙ γ`, returned as a diagonal matrix; O(D) per sample.
fn estimate_one_diag<T: Real, const D: usize, const S: usize, const G: usize>(
    c: &Component<T, D>,
    store: &SampleStore<T, D, S, G>,
    self_normalized: bool,
) -> (SMatrix<T, D, D>, SVector<T, D>) {
    let mut z = SVector::<T, D>::zeros();
    let mut d = SVector::<T, D>::zeros();
    let mut lse = OnlineLse::new();
    let mut eg = SVector::<T, D>::zeros();
    let mut hd = SVector::<T, D>::zeros(); // Σ ŵ d ⊙ γ
    component_softmax(store, c, &mut lse, |row, _, scale, w| {
        c.log_density(&store.x[row], &mut z);
        c.unwhiten_t(&z, &mut d);
        if scale != T::one() {
            eg *= scale;
            hd *= scale;
        }
        let gam = &store.gamma[row];
        eg.axpy(w, gam, T::one());
        hd += d.component_mul(gam) * w;
    });
    let norm = normalizer(store, &lse, self_normalized);
    (SMatrix::from_diagonal(&(hd * (-norm))), eg * (-norm))
}

fn estimate_one<T: Real, const D: usize, const S: usize, const G: usize>(
    c: &Component<T, D>,
    store: &SampleStore<T, D, S, G>,
    self_normalized: bool,
) -> (SMatrix<T, D, D>, SVector<T, D>) {
    let mut z = SVector::<T, D>::zeros();
    let inv_t = &c.inv_t;
    let mut lse = OnlineLse::new();
    let mut eg = SVector::<T, D>::zeros();
    let mut gz = SMatrix::<T, D, D>::zeros(); // Σ ŵ γ zᵀ
    component_softmax(store, c, &mut lse, |row, _, scale, w| {
        c.log_density(&store.x[row], &mut z);
        if scale != T::one() {
            eg *= scale;
            gz *= scale;
        }
        let gam = store.gamma[row];
        eg.axpy(w, &gam, T::one());
        gz.ger(w, &gam, &z, T::one());
    });
    // Plain: (1/N) Σ exp(a_n) v_n = exp(max)/N · Σ exp(a_n − max) v_n.
    let norm = normalizer(store, &lse, self_normalized);
    // M = (Σ ŵ γ zᵀ) L⁻¹, with L⁻¹ = inv_tᵀ.
    let m = gz * inv_t.transpose() * norm;
    // The plain-weight branch of the reference does not symmetrise (spec §2.1).
    let hess = if self_normalized { (m + m.transpose()) * T::of(-0.5) } else { -m };
    (hess, eg * (-norm))
}

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

use crate::model::{Gmm, block_candidates};
use crate::real::{OnlineLse, Real};
use crate::store::SampleStore;

/// Fills `log_q[r]` and `gamma[r] = ∇log p~ − ∇log q` for the working-set rows `start..len`.
pub(crate) fn log_ratio_gradients<T: Real, const D: usize, const K: usize, const S: usize, const G: usize>(
    model: &Gmm<T, D, K>,
    store: &mut SampleStore<T, D, S, G>,
    start: usize,
) {
    let _ = start;
    let mut g = SVector::<T, D>::zeros();
    let mut ub = [T::zero(); K];
    let mut idx = [0usize; K];
    for b in 0..store.working_blocks().len() {
        let blk = store.blocks[b];
        let xs = &store.x[blk.start..blk.end];
        let c = block_candidates(model.components(), model.log_weights(), xs, &blk.lo, &blk.hi, &mut ub, &mut idx);
        for r in blk.start..blk.end {
            let lq = model.log_density_and_grad_sel(Some(&idx[..c]), &store.x[r], &mut g);
            store.log_q[r] = lq;
            store.gamma[r] = store.grad[r] - g;
        }
    }
}

/// Writes `(Ĥ_k, ĝ_k)` for every active component; rows `start..len` must carry `log_b` and
/// `gamma` (see [`log_ratio_gradients`]).
pub(crate) fn estimate<T: Real, const D: usize, const K: usize, const S: usize, const G: usize>(
    model: &Gmm<T, D, K>,
    store: &SampleStore<T, D, S, G>,
    start: usize,
    self_normalized: bool,
    hess: &mut [SMatrix<T, D, D>; K],
    grad: &mut [SVector<T, D>; K],
) {
    let n = (store.len - start) as f64;
    let mut z = SVector::<T, D>::zeros();
    for (k, c) in model.components().iter().enumerate() {
        let inv_t = &c.inv_t;
        let mut lse = OnlineLse::new();
        let mut eg = SVector::<T, D>::zeros();
        let mut gz = SMatrix::<T, D, D>::zeros(); // Σ ŵ γ zᵀ
        for blk in store.working_blocks() {
            // A block whose every row is negligible for this component is skipped in O(D).
            if c.upper_bound_box(&blk.lo, &blk.hi) < lse.max - T::NEGLIGIBLE_LOG + blk.min_log_b {
                continue;
            }
            for r in blk.start..blk.end {
                let (x, log_b) = (&store.x[r], store.log_b[r]);
                let floor = lse.max - T::NEGLIGIBLE_LOG + log_b;
                if c.upper_bound(x) < floor {
                    continue;
                }
                let Some(lc) = c.log_density_above(x, floor, &mut z) else { continue };
                let a = lc - log_b;
                let (scale, w) = lse.push(a);
                if scale != T::one() {
                    eg *= scale;
                    gz *= scale;
                }
                let gam = store.gamma[r];
                eg.axpy(w, &gam, T::one());
                gz.ger(w, &gam, &z, T::one());
            }
        }
        let norm = if self_normalized {
            T::one() / lse.sum
        } else {
            // (1/N) Σ exp(a_n) v_n = exp(max)/N · Σ exp(a_n − max) v_n
            (lse.max - T::of(libm::log(n))).exp()
        };
        // M = (Σ ŵ γ zᵀ) L⁻¹, with L⁻¹ = inv_tᵀ.
        let m = gz * inv_t.transpose() * norm;
        // The plain-weight branch of the reference does not symmetrise (spec §2.1).
        hess[k] = if self_normalized { (m + m.transpose()) * T::of(-0.5) } else { -m };
        grad[k] = eg * (-norm);
    }
}

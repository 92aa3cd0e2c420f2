//! Stein natural-gradient estimator, letter `S` (Arenz et al. 2023, §3.2; docs/algorithm.md §2.1).
//!
//! Per sample `γ_n = ∇log p~(x_n) − ∇log q(x_n)`. For component k with `z_n = L⁻¹(x_n − μ)`,
//! `d_n = Λ(x_n − μ) = L⁻ᵀ z_n` and importance weights `ŵ_n ∝ exp(log N(x_n; μ_k, Σ_k) −
//! log b(x_n))`:
//! `E_grad = Σ ŵ γ`, `M = Σ ŵ γ dᵀ = (Σ ŵ γ zᵀ) L⁻¹`, `Ĥ = −½(M + Mᵀ)`, `ĝ = −E_grad`
//! (Stein/Price: `E_q[∇²f] = E_q[Λ(x − μ)∇fᵀ]`).
//! Self-normalised weights divide by `Σ ŵ`; plain weights by the sample count `N`.
//! With `only_use_own_samples` component k averages over the samples it drew itself, with
//! `log ŵ = 0` (`store::estimate_rows`).
//!
//! The sums are streamed with an online maximum (no K × N matrix); a term whose log weight lies
//! more than [`Real::NEGLIGIBLE_LOG`] below the running maximum is below the scalar's precision
//! and skipped.

use nalgebra::{SMatrix, SVector};

use super::Estimate;
use crate::config::NgEstimationConfig;
use crate::model::{CHUNK, Chunk, Component, Gmm, RowLse, block_candidates, chunk_mixture, times_lower};
use crate::parallel::{Parallel, ROW_TASK};
use crate::real::{OnlineLse, Real};
use crate::store::{Groups, RowBlock, WorkingSet, clipped, estimate_rows, with_groups};

/// Fills `gamma[r] = ∇log p~ − ∇log q` for the working-set rows `r`, with
/// `∇log q(x) = Σ_k r_k(x)·(−Σ_k⁻¹(x − μ_k))` (docs/algorithm.md §0.2) over the non-negligible
/// `r_k`.
#[inline(never)]
pub(crate) fn log_ratio_gradients<T: Real, const D: usize, const K: usize, X>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    gamma: &mut [SVector<T, D>],
    par: &X,
) where
    X: Parallel,
{
    let start = ws.start;
    let (x, grad, blocks) = (ws.x, ws.grad, ws.blocks);
    let Some(out) = gamma.get_mut(start..ws.end()) else { return };
    par.for_each_chunk(out, ROW_TASK, &|first, out| {
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
            if D >= CHUNKED_GRADIENT_DIM {
                let rows = c0 - r0..c0 - r0 + ch.n;
                let xs = c0..c0 + ch.n;
                chunk_gradients(comps, &idx[..c], &vals, &lse, &ch, &x[xs.clone()], &grad[xs], &mut out[rows]);
                continue;
            }
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
                    sub_score(&comps[k], &z, (a - lq).exp(), &mut d, &mut g);
                }
                out[row - r0] = grad[row] - g;
            }
        }
    }
}

/// From this dimension on, [`gradient_rows`] takes the whitened `z` of a component whose
/// responsibility is non-negligible for several rows of a chunk from the chunk kernel (below,
/// the per-row recomputation is cheap, and the chunk's buffers would cost small targets stack).
const CHUNKED_GRADIENT_DIM: usize = 8;

/// The rows `x` (loaded into `ch`) of one chunk of [`gradient_rows`]:
/// `out[r] = grad[r] − Σ_k r_k(x_r)·(−Σ_k⁻¹(x_r − μ_k))` over the candidates `idx` (values
/// `vals`, row sums `lse`) whose responsibility is
/// non-negligible, component by component. Every row adds its terms in the order of `idx`, as
/// the per-row loop does, and the kernel's `z` has the bits of [`Component::log_density`]'s:
/// the same results.
#[allow(clippy::too_many_arguments)]
fn chunk_gradients<T: Real, const D: usize>(
    comps: &[Component<T, D>],
    idx: &[usize],
    vals: &[[T; CHUNK]],
    lse: &RowLse<T>,
    ch: &Chunk<T, D>,
    x: &[SVector<T, D>],
    grad: &[SVector<T, D>],
    out: &mut [SVector<T, D>],
) {
    let n = ch.n.min(out.len()).min(grad.len()).min(x.len());
    let lq: [T; CHUNK] = core::array::from_fn(|r| lse.lse(r));
    let mut g = [SVector::<T, D>::zeros(); CHUNK];
    let mut zt = [[T::zero(); CHUNK]; D];
    let mut val = [T::zero(); CHUNK];
    let (mut z, mut d) = (SVector::<T, D>::zeros(), SVector::<T, D>::zeros());
    for (&k, v) in idx.iter().zip(vals) {
        let Some(c) = comps.get(k) else { continue };
        let live = |r: usize| v[r] >= lq[r] - T::NEGLIGIBLE_LOG;
        let count = (0..n).filter(|&r| live(r)).count();
        // The kernel computes all CHUNK lanes: worth it from a quarter of them on.
        let chunked = 4 * count >= CHUNK;
        if chunked {
            c.chunk_log_density_z(ch, &mut val, &mut zt);
        }
        for (r, gr) in g.iter_mut().enumerate().take(n) {
            if !live(r) {
                continue;
            }
            if chunked {
                for (zd, zr) in z.iter_mut().zip(&zt) {
                    *zd = zr[r];
                }
            } else {
                c.log_density(&x[r], &mut z);
            }
            sub_score(c, &z, (v[r] - lq[r]).exp(), &mut d, gr);
        }
    }
    for ((o, gr), g) in out.iter_mut().zip(grad).zip(&g).take(n) {
        *o = gr - g;
    }
}

/// `g −= w·Σ⁻¹(x − μ)`, one term of `−∇log q`, from the whitened `z = L⁻¹(x − μ)` of `c`
/// (`d` is scratch): the per-row step of both gradient loops.
#[inline(always)]
fn sub_score<T: Real, const D: usize>(
    c: &Component<T, D>,
    z: &SVector<T, D>,
    w: T,
    d: &mut SVector<T, D>,
    g: &mut SVector<T, D>,
) {
    c.unwhiten_t(z, d);
    *g -= *d * w;
}

/// Writes `(Ĥ_k, ĝ_k)` into `ng[k]` for every active component, one task per component (`None`
/// for a component without samples, `only_use_own_samples` only); `gamma` must hold the
/// working-set rows of [`log_ratio_gradients`].
#[inline(never)]
pub(crate) fn estimate<T: Real, const D: usize, const K: usize, const GAUSSIANS: usize, X, const DIAG: bool>(
    model: &Gmm<T, D, K>,
    ws: &WorkingSet<'_, T, D>,
    gamma: &[SVector<T, D>],
    cfg: &NgEstimationConfig<T>,
    ng: &mut [Estimate<T, D>],
    par: &X,
) where
    X: Parallel,
{
    let (self_normalized, own) = (cfg.self_normalized, cfg.only_use_own_samples);
    let kn = model.len().min(ng.len());
    with_groups::<T, D, GAUSSIANS, _>(ws, |groups| {
        let rows = Rows { ws, groups, gamma };
        par.for_each_chunk(&mut ng[..kn], 1, &|first, out| {
            for (j, slot) in out.iter_mut().enumerate() {
                let k = first + j;
                if let Some(c) = model.components().get(k) {
                    *slot = if DIAG {
                        estimate_one_diag(c, k, own, &rows, self_normalized)
                    } else {
                        estimate_one(c, k, own, &rows, self_normalized)
                    };
                }
            }
        });
    });
}

/// The working set with its log-ratio gradients.
struct Rows<'a, T: Real, const D: usize, const BLOCKS: usize> {
    ws: &'a WorkingSet<'a, T, D>,
    groups: Option<&'a Groups<T, D, BLOCKS>>,
    gamma: &'a [SVector<T, D>],
}

/// Normalisation of the streamed sums over `n` rows: `1/Σw` (self-normalised) or `e^max/N`
/// (plain); `None` without rows.
fn normalizer<T: Real>(n: usize, lse: &OnlineLse<T>, self_normalized: bool) -> Option<T> {
    if n == 0 || !(lse.sum > T::zero()) {
        return None;
    }
    Some(if self_normalized { T::one() / lse.sum } else { (lse.max - T::of(n as f64).ln()).exp() })
}

/// The diagonal model's estimate (docs/algorithm.md §2.1): `d_n = (x_n − μ)/L²` and the "Hessian"
/// is the vector `Σ ŵ d ⊙ γ`, returned as a diagonal matrix; O(D) per sample.
fn estimate_one_diag<T: Real, const D: usize, const BLOCKS: usize>(
    c: &Component<T, D>,
    k: usize,
    own: bool,
    rows: &Rows<'_, T, D, BLOCKS>,
    self_normalized: bool,
) -> Estimate<T, D> {
    let mut d = SVector::<T, D>::zeros();
    let mut lse = OnlineLse::new();
    let mut eg = SVector::<T, D>::zeros();
    let mut hd = SVector::<T, D>::zeros(); // Σ ŵ d ⊙ γ
    let n = estimate_rows(rows.ws, rows.groups, c, k, own, &mut lse, |row, _, scale, w, z| {
        c.unwhiten_t(z, &mut d);
        if scale != T::one() {
            eg *= scale;
            hd *= scale;
        }
        let gam = &rows.gamma[row];
        eg.axpy(w, gam, T::one());
        hd += d.component_mul(gam) * w;
    });
    let norm = normalizer(n, &lse, self_normalized)?;
    Some((SMatrix::from_diagonal(&(hd * (-norm))), eg * (-norm)))
}

fn estimate_one<T: Real, const D: usize, const BLOCKS: usize>(
    c: &Component<T, D>,
    k: usize,
    own: bool,
    rows: &Rows<'_, T, D, BLOCKS>,
    self_normalized: bool,
) -> Estimate<T, D> {
    let inv_t = &c.inv_t;
    let mut lse = OnlineLse::new();
    let mut eg = SVector::<T, D>::zeros();
    let mut gz = SMatrix::<T, D, D>::zeros(); // Σ ŵ γ zᵀ
    let n = estimate_rows(rows.ws, rows.groups, c, k, own, &mut lse, |row, _, scale, w, z| {
        if scale != T::one() {
            eg *= scale;
            gz *= scale;
        }
        let gam = rows.gamma[row];
        eg.axpy(w, &gam, T::one());
        gz.ger(w, &gam, z, T::one());
    });
    // Plain: (1/N) Σ exp(a_n) v_n = exp(max)/N · Σ exp(a_n − max) v_n.
    let norm = normalizer(n, &lse, self_normalized)?;
    // M = (Σ ŵ γ zᵀ) L⁻¹, with L⁻¹ = inv_tᵀ.
    let m = times_lower(&gz, &inv_t.transpose()) * norm;
    // The plain-weight branch of the reference does not symmetrise (docs/algorithm.md §2.1).
    let hess = if self_normalized { (m + m.transpose()) * T::of(-0.5) } else { -m };
    Some((hess, eg * (-norm)))
}

#[cfg(test)]
mod tests {
    use nalgebra::{SMatrix, SVector};

    use super::Rows;
    use crate::model::Gmm;
    use crate::parallel::Serial;
    use crate::store::{Background, SampleStore};

    /// `only_use_own_samples` (docs/algorithm.md §2): component k's estimate is the plain average
    /// over the rows it drew in the newest draw, `ĝ = −mean γ`, `Ĥ = −½(M + Mᵀ)` with `M = mean γ
    /// dᵀ`, `d = Σ⁻¹(x − μ)`; rows of other components and of older draws do not enter.
    #[test]
    fn own_samples_are_a_plain_average() {
        let mut q = Gmm::<f64, 2, 2>::new();
        let cov0 = SMatrix::<f64, 2, 2>::new(2.0, 0.3, 0.3, 1.0);
        let cov1 = SMatrix::<f64, 2, 2>::new(0.5, -0.1, -0.1, 0.8);
        q.add_component(0.5, SVector::from([1.0, -1.0]), &cov0).unwrap();
        q.add_component(0.5, SVector::from([-2.0, 0.5]), &cov1).unwrap();
        let comps = *q.components().first_chunk::<2>().unwrap();
        let mut st = SampleStore::<f64, 2, 64, 8>::new();
        let row = |i: usize| SVector::from([(i as f64 * 0.37).sin() * 2.0, (i as f64 * 0.71).cos()]);
        let gam = |i: usize| SVector::from([(i as f64 * 1.3).cos(), -(i as f64 * 0.4).sin() * 3.0]);
        // An older draw of component 1 (3 rows), then the newest draw: 4 rows of 0, 5 of 1.
        let fill = |st: &mut SampleStore<f64, 2, 64, 8>, parts: &[(usize, usize)], base: usize| {
            st.begin_draw();
            let first = st.reserve(parts.iter().map(|p| p.1).sum(), 64);
            let mut r = first;
            for &(k, n) in parts {
                let id = st.push_gaussian(&comps[k], k);
                for _ in 0..n {
                    st.set_row(r, row(base + r), 0.0, id);
                    r += 1;
                }
            }
            st.commit(r - first);
        };
        fill(&mut st, &[(1, 3)], 0);
        fill(&mut st, &[(0, 4), (1, 5)], 100);
        let mut bg = Background::<f64, 2, 64, 8>::BLANK;
        st.select_working_set(12, &mut bg, &mut crate::store::BgSums { rows: [] }, &Serial);
        let gamma: [SVector<f64, 2>; 12] = core::array::from_fn(gam);
        let ws = st.working_set(&bg);
        let rows = Rows::<f64, 2, 0> { ws: &ws, groups: None, gamma: &gamma };
        for (k, own_rows) in [(0usize, 3..7), (1, 7..12)] {
            let c = &comps[k];
            let prec = (if k == 0 { cov0 } else { cov1 }).try_inverse().unwrap();
            let n = own_rows.len() as f64;
            let (mut eg, mut m) = (SVector::<f64, 2>::zeros(), SMatrix::<f64, 2, 2>::zeros());
            for r in own_rows {
                let d = prec * (ws.x[r] - c.mean);
                eg += gamma[r] / n;
                m += gamma[r] * d.transpose() / n;
            }
            for sn in [true, false] {
                let (h, g) = super::estimate_one(c, k, true, &rows, sn).unwrap();
                assert!((g + eg).norm() < 1e-12, "k {k}: {g} vs {eg}");
                assert!((h + (m + m.transpose()) * 0.5).norm() < 1e-12 || !sn, "k {k}: {h}");
                if !sn {
                    assert!((h + m).norm() < 1e-12, "k {k} plain: {h}");
                }
            }
            // Without the option every working-set row enters, importance-weighted.
            let (_, g_all) = super::estimate_one(c, k, false, &rows, true).unwrap();
            assert!((g_all + eg).norm() > 1e-6);
        }
        // A component without rows of its own in the newest draw gets no estimate.
        let mut st2 = SampleStore::<f64, 2, 64, 8>::new();
        fill(&mut st2, &[(0, 4)], 0);
        let mut bg2 = Background::<f64, 2, 64, 8>::BLANK;
        st2.select_working_set(4, &mut bg2, &mut crate::store::BgSums { rows: [] }, &Serial);
        let ws2 = st2.working_set(&bg2);
        let rows2 = Rows::<f64, 2, 0> { ws: &ws2, groups: None, gamma: &gamma };
        assert!(super::estimate_one(&comps[1], 1, true, &rows2, true).is_none());
        assert!(super::estimate_one(&comps[0], 0, true, &rows2, true).is_some());
    }
}

//! Maximum mean discrepancy of docs/targets.md §9 between ground-truth samples `G` (n₁ rows) and
//! model samples `S` (n₂ = 2000 rows):
//!
//! * bandwidth: over all pairs `i ≤ j` (including `i = j`) of the first `m = min(1000, n₁)`
//!   ground-truth rows, `s_d` = the nearest-rank 50th percentile of the squared differences
//!   of coordinate `d`;
//! * kernel `k(a, b) = exp(−(a − b)ᵀ (α·diag(s))⁻¹ (a − b))` (no factor ½);
//! * biased V-statistic `(1/n₁²)Σk(g,g') + (1/n₂²)Σk(s,s') − (2/(n₁n₂))Σk(g,s)`, no square root.
//!
//! [`Mmd`] scales the ground truth once and caches its `G`–`G` term (10⁸ kernel values for
//! 10⁴ rows), so each evaluation costs only the `S`–`S` and `G`–`S` terms.

/// Samples of the model per MMD evaluation (docs/targets.md §9).
pub const MMD_MODEL_SAMPLES: usize = 2000;
/// Ground-truth rows used by the bandwidth rule.
pub const BANDWIDTH_ROWS: usize = 1000;

/// The per-coordinate median heuristic `s_d` of §9 over the first `min(1000, n)` rows.
/// Returns an empty vector for no rows.
pub fn median_bandwidth(rows: &[Vec<f64>]) -> Vec<f64> {
    let m = rows.len().min(BANDWIDTH_ROWS);
    let Some(d) = rows.first().map(Vec::len) else { return Vec::new() };
    let mut vals = Vec::with_capacity(m * (m + 1) / 2);
    (0..d)
        .map(|c| {
            vals.clear();
            for i in 0..m {
                for j in i..m {
                    let diff = rows[i][c] - rows[j][c];
                    vals.push(diff * diff);
                }
            }
            // Nearest rank: the ⌈0.5·N⌉-th smallest value.
            let rank = vals.len().div_ceil(2).max(1);
            let (_, v, _) = vals.select_nth_unstable_by(rank - 1, f64::total_cmp);
            *v
        })
        .collect()
}

/// `Σ_i f(i)` for `i < n`, rows interleaved over the available cores (fixed summation order
/// per thread count).
fn parallel_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(n.max(1));
    if threads <= 1 {
        return (0..n).map(&f).sum();
    }
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..threads).map(|t| s.spawn(move || (t..n).step_by(threads).map(f).sum::<f64>())).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(f64::NAN)).sum()
    })
}

/// `Σ_{i,j} exp(−‖a_i − b_j‖²)` over pre-scaled rows.
fn kernel_sum(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    parallel_sum(a.len(), |i| b.iter().map(|y| (-sq_dist(&a[i], y)).exp()).sum::<f64>())
}

/// `Σ_{i,j} exp(−‖a_i − a_j‖²)` over pre-scaled rows, using the symmetry.
fn kernel_sum_self(a: &[Vec<f64>]) -> f64 {
    let off = parallel_sum(a.len(), |i| a[i + 1..].iter().map(|y| (-sq_dist(&a[i], y)).exp()).sum::<f64>());
    a.len() as f64 + 2.0 * off
}

fn sq_dist(x: &[f64], y: &[f64]) -> f64 {
    x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Rows divided coordinate-wise by `sqrt(scale_d)`, so the kernel becomes `exp(−‖a − b‖²)`.
fn scaled(rows: &[Vec<f64>], scale: &[f64]) -> Vec<Vec<f64>> {
    let inv: Vec<f64> = scale.iter().map(|s| 1.0 / s.sqrt()).collect();
    rows.iter().map(|r| r.iter().zip(&inv).map(|(v, i)| v * i).collect()).collect()
}

/// The biased MMD estimate between `a` and `b` with kernel `exp(−Σ_d (a_d − b_d)²/scale_d)`.
/// NaN if a set is empty or the dimensions differ.
pub fn mmd_with_scale(a: &[Vec<f64>], b: &[Vec<f64>], scale: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|r| r.len() != scale.len()) {
        return f64::NAN;
    }
    let (a, b) = (scaled(a, scale), scaled(b, scale));
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    kernel_sum_self(&a) / (n1 * n1) + kernel_sum_self(&b) / (n2 * n2) - 2.0 * kernel_sum(&a, &b) / (n1 * n2)
}

/// The MMD of §9 against a fixed ground truth, with its `G`–`G` term cached.
#[derive(Clone, Debug)]
pub struct Mmd {
    gt: Vec<Vec<f64>>,
    scale: Vec<f64>,
    gt_term: f64,
}

impl Mmd {
    /// Prepares the MMD against `ground_truth` with bandwidth factor `alpha` (20 for BC/GC,
    /// 6 for the planar robot).
    ///
    /// # Errors
    /// If there are no rows, the rows differ in length, or a bandwidth is not positive.
    pub fn new(ground_truth: Vec<Vec<f64>>, alpha: f64) -> Result<Self, String> {
        let d = ground_truth.first().map(Vec::len).ok_or("empty ground truth")?;
        if ground_truth.iter().any(|r| r.len() != d) {
            return Err("ground-truth rows differ in length".into());
        }
        let scale: Vec<f64> = median_bandwidth(&ground_truth).iter().map(|s| alpha * s).collect();
        if scale.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
            return Err(format!("degenerate MMD bandwidth {scale:?}"));
        }
        let gt = scaled(&ground_truth, &scale);
        let n = gt.len() as f64;
        let gt_term = kernel_sum_self(&gt) / (n * n);
        Ok(Self { gt, scale, gt_term })
    }

    /// The diagonal `α·s` of the kernel's scale matrix.
    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// The MMD between the ground truth and `samples` (NaN for none or a wrong dimension).
    pub fn eval(&self, samples: &[Vec<f64>]) -> f64 {
        if samples.is_empty() || samples.iter().any(|r| r.len() != self.scale.len()) {
            return f64::NAN;
        }
        let s = scaled(samples, &self.scale);
        let (n1, n2) = (self.gt.len() as f64, s.len() as f64);
        self.gt_term + kernel_sum_self(&s) / (n2 * n2) - 2.0 * kernel_sum(&self.gt, &s) / (n1 * n2)
    }
}

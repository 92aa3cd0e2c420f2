//! IWAE bound and its pathwise gradient (`docs/estimators.md` §5, value §1.3).
//!
//! For one group of K reparameterised samples `x_k = r(λ, ε_k)` with log weights `ℓ_k`:
//! value `L̂_K = lse(ℓ) − ln K`, normalised weights `w̃ = softmax(ℓ)` and gradient
//! `ĝ = Σ_k w̃_k ∇_λ ℓ_k`, where `∇_λ ℓ_k` is the *total* derivative of
//! `log p~(r(λ, ε_k)) − log q(r(λ, ε_k); λ)`, supplied by the caller as one P-vector per sample.
//! For the diagonal Gaussian (`λ = (μ, ω)`, `σ = exp ω`): `∇_μ ℓ_k = gp_k`,
//! `∇_ω ℓ_k = gp_k ⊙ σ ⊙ ε_k + 1`. This is the pathwise ELBO gradient with the uniform weights
//! `1/K` replaced by `w̃`; `K = 1` reproduces §3.2 (full Monte Carlo, total derivative) bit for
//! bit. With S groups the caller averages the group estimates.
//!
//! Known issue (documented, not fixed): the signal-to-noise ratio of the gradient of the
//! inference parameters decreases like `1/sqrt(K)` for large K.
//!
//! The weights are recomputed on the fly (`w̃_k = exp(ℓ_k − lse)`), so nothing is stored and
//! K is only bounded by the caller's slices. On any error the gradient buffers are zeroed.

use gmmvi::{Error, Real};

use super::objectives::{NON_FINITE, check_log_weights, iwae_bound};

const LEN: Error = Error::InvalidArgument { what: "gradient length mismatch" };
const NON_FINITE_GRAD: Error = Error::InvalidArgument { what: "non-finite gradient" };

/// Value of the importance-weighted bound for one group, `L̂_K = lse(ℓ) − ln K` (§1.3, §5).
///
/// # Errors
/// `InvalidArgument` if `l` is empty or holds a non-finite value.
pub fn bound<T: Real>(l: &[T]) -> Result<T, Error> {
    iwae_bound(l)
}

/// Writes the normalised importance weights `w̃ = softmax(ℓ)` into `w[..K]` and returns
/// `L̂_K` (§5).
///
/// # Errors
/// `InvalidArgument` for an empty or non-finite `l`; `BufferTooSmall` if `w` is shorter than `l`.
pub fn weights<T: Real>(l: &[T], w: &mut [T]) -> Result<T, Error> {
    check_log_weights(l)?;
    if w.len() < l.len() {
        return Err(Error::BufferTooSmall { needed: l.len() });
    }
    let lse = super::softmax(l, w);
    Ok(lse - T::of(l.len() as f64).ln())
}

/// One group of draws of the diagonal Gaussian `x = μ + σ ⊙ ε`, `σ = exp ω`: the parameters
/// `λ = (μ, ω)` (D-vectors), the noise `eps[k]` and the target gradients
/// `gp[k] = ∇_x log p~(x_k)` (one D-vector per draw).
#[derive(Clone, Copy, Debug)]
pub struct DiagGroup<'a, T, V, W> {
    /// The mean `μ`.
    pub mu: &'a [T],
    /// The log standard deviations `ω`.
    pub omega: &'a [T],
    /// The standard-normal noise `ε_k` of each draw.
    pub eps: &'a [V],
    /// `∇_x log p~(x_k)` of each draw.
    pub gp: &'a [W],
}

/// Pathwise IWAE gradient of one group (§5): `out = Σ_k w̃_k ∇_λ ℓ_k`, `w̃ = softmax(ℓ)`.
///
/// `dl[k]` is the total derivative `∇_λ ℓ_k` (a P-vector, `P = out.len()`). Returns `L̂_K`.
///
/// # Errors
/// `InvalidArgument` for an empty group, a non-finite `ℓ` (`"non-finite log weight"`), a length
/// mismatch or a non-finite result; `out` is then zeroed.
pub fn gradient<T: Real, V: AsRef<[T]>>(l: &[T], dl: &[V], out: &mut [T]) -> Result<T, Error> {
    let r = gradient_inner(l, dl, out);
    if r.is_err() {
        out.fill(T::zero());
    }
    r
}

fn gradient_inner<T: Real, V: AsRef<[T]>>(l: &[T], dl: &[V], out: &mut [T]) -> Result<T, Error> {
    check_log_weights(l)?;
    let lse = gmmvi::real::log_sum_exp(l);
    weighted_sum(l, dl, out, |v| (v - lse).exp())?;
    Ok(lse - T::of(l.len() as f64).ln())
}

/// Pathwise IWAE gradient of one group for the diagonal Gaussian `x = μ + σ ⊙ ε`,
/// `λ = (μ, ω)`, `σ = exp ω` (§5): `out_mu = Σ_k w̃_k gp_k`,
/// `out_omega = Σ_k w̃_k (gp_k ⊙ σ ⊙ ε_k) + 1` (the `+1`, weighted by `Σ w̃ = 1`, is the total
/// derivative of `−log q(x(ε); λ)`), for the draws of `group` (`D = group.mu.len()`).
/// Returns `L̂_K`.
///
/// # Errors
/// As [`gradient`]; both output buffers are zeroed on error.
pub fn gradient_diag_gaussian<T: Real, V: AsRef<[T]>, W: AsRef<[T]>>(
    l: &[T],
    group: &DiagGroup<'_, T, V, W>,
    out_mu: &mut [T],
    out_omega: &mut [T],
) -> Result<T, Error> {
    let r = (|| {
        check_log_weights(l)?;
        let lse = gmmvi::real::log_sum_exp(l);
        weighted_sum_diag(l, group, out_mu, out_omega, |v| (v - lse).exp())?;
        Ok(lse - T::of(l.len() as f64).ln())
    })();
    if r.is_err() {
        out_mu.fill(T::zero());
        out_omega.fill(T::zero());
    }
    r
}

/// `out = Σ_k weight(ℓ_k) dl[k]`, then a finiteness check. Shared with the VR gradient (§8).
/// Does not zero `out` on error: the public wrappers do.
pub(crate) fn weighted_sum<T: Real, V: AsRef<[T]>>(
    l: &[T],
    dl: &[V],
    out: &mut [T],
    weight: impl Fn(T) -> T,
) -> Result<(), Error> {
    if dl.len() != l.len() {
        return Err(LEN);
    }
    if dl.iter().any(|g| g.as_ref().len() != out.len()) {
        return Err(LEN);
    }
    out.fill(T::zero());
    for (&lk, g) in l.iter().zip(dl) {
        if !lk.finite() {
            return Err(NON_FINITE);
        }
        let w = weight(lk);
        for (o, &v) in out.iter_mut().zip(g.as_ref()) {
            *o += w * v;
        }
    }
    if out.iter().all(|v| v.finite()) { Ok(()) } else { Err(NON_FINITE_GRAD) }
}

/// Diagonal-Gaussian form of [`weighted_sum`]:
/// `out_mu = Σ_k w_k gp_k`, `out_omega = Σ_k w_k (gp_k ⊙ σ ⊙ ε_k) + 1`, `w_k = weight(ℓ_k)`
/// (the weights must sum to one). Shared with the VR gradient (§8).
pub(crate) fn weighted_sum_diag<T: Real, V: AsRef<[T]>, W: AsRef<[T]>>(
    l: &[T],
    group: &DiagGroup<'_, T, V, W>,
    out_mu: &mut [T],
    out_omega: &mut [T],
    weight: impl Fn(T) -> T,
) -> Result<(), Error> {
    let DiagGroup { mu, omega, eps, gp } = *group;
    let d = mu.len();
    if omega.len() != d || out_mu.len() != d || out_omega.len() != d {
        return Err(LEN);
    }
    if eps.len() != l.len() || gp.len() != l.len() {
        return Err(LEN);
    }
    if eps.iter().any(|e| e.as_ref().len() != d) || gp.iter().any(|g| g.as_ref().len() != d) {
        return Err(LEN);
    }
    out_mu.fill(T::zero());
    out_omega.fill(T::zero());
    for ((&lk, e), g) in l.iter().zip(eps).zip(gp) {
        if !lk.finite() {
            return Err(NON_FINITE);
        }
        let w = weight(lk);
        for ((((om, oo), &w_om), &ek), &gk) in
            out_mu.iter_mut().zip(out_omega.iter_mut()).zip(omega).zip(e.as_ref()).zip(g.as_ref())
        {
            *om += w * gk;
            *oo += w * (gk * w_om.exp() * ek);
        }
    }
    for oo in out_omega.iter_mut() {
        *oo += T::one();
    }
    if out_mu.iter().chain(out_omega.iter()).all(|v| v.finite()) { Ok(()) } else { Err(NON_FINITE_GRAD) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    extern crate std;

    const LN_2PI: f64 = 1.837_877_066_409_345_5;

    #[test]
    fn iw1_value_weights_and_shift() {
        // §5 IW1.
        let l = [-1.0f64, 0.5, 2.0, -0.3];
        let mut w = [0.0; 4];
        let v = weights(&l, &mut w).unwrap();
        assert!((v - 0.930_831_996_511_094_7).abs() < 1e-14);
        assert_eq!(bound(&l), Ok(v));
        let want = [0.036_256_87, 0.162_492_02, 0.728_238_73, 0.073_012_37];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-8);
        }
        assert!((crate::estimators::objectives::elbo(&l).unwrap() - 0.3).abs() < 1e-15);
        let shifted = l.map(|v| v + 1000.0);
        let mut ws = [0.0; 4];
        let vs = weights(&shifted, &mut ws).unwrap();
        assert!((vs - 1000.0 - v).abs() <= 1e-12, "{:e}", vs - 1000.0 - v);
        for (a, b) in w.iter().zip(ws) {
            assert!((a - b).abs() <= 1e-12);
        }
        // The gradient with unit vectors returns the weights.
        let dl = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
        let mut g = [0.0; 4];
        gradient(&l, &dl, &mut g).unwrap();
        for (a, b) in g.iter().zip(w) {
            assert!((a - b).abs() <= 1e-15);
        }
    }

    /// TP5 group gradient for K samples: ℓ = ε − ½, gp = 1 − ε, μ = ω = 0.
    fn tp5_group(eps: &[f64], l: &mut [f64], e: &mut [[f64; 1]], gp: &mut [[f64; 1]]) {
        for (((&x, lk), ek), gk) in eps.iter().zip(l.iter_mut()).zip(e.iter_mut()).zip(gp.iter_mut()) {
            *lk = x - 0.5;
            *ek = [x];
            *gk = [1.0 - x];
        }
    }

    #[test]
    fn iw2_monotone_in_k_on_tp5() {
        // §5 IW2: S = 10⁵ groups per K. Per K: [value, single-group sd, reference SE] of L_K,
        // ∂L_K/∂μ and ∂L_K/∂ω (SE 0 where exact).
        type Row = (usize, [f64; 3], [f64; 3], [f64; 3]);
        let table: [Row; 5] = [
            (1, [-0.5, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 1.732, 0.0]),
            (2, [-0.290_485_3, 0.753, 0.0], [0.6368, 0.817, 3e-4], [0.3629, 0.988, 3e-4]),
            (5, [-0.1354, 0.512, 2e-4], [0.3325, 0.629, 2e-4], [0.3698, 0.870, 3e-4]),
            (10, [-0.0736, 0.378, 1.2e-4], [0.1946, 0.509, 2e-4], [0.2734, 0.874, 3e-4]),
            (50, [-0.0164, 0.180, 1.3e-4], [0.0486, 0.286, 2e-4], [0.0874, 0.667, 5e-4]),
        ];
        const S: usize = 100_000;
        let sf = (S as f64).sqrt();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(205);
        let mut prev = f64::NEG_INFINITY;
        let mut elbo_est = 0.0;
        for (k, [lk, sd, se], [gmu, sdmu, semu], [gom, sdom, seom]) in table {
            let (mut eps, mut l, mut e, mut gp) = ([0.0; 50], [0.0; 50], [[0.0]; 50], [[0.0]; 50]);
            let (mut sum_v, mut sum_mu, mut sum_om) = (0.0, 0.0, 0.0);
            for _ in 0..S {
                fill_standard_normal(&mut rng, &mut eps[..k]);
                tp5_group(&eps[..k], &mut l[..k], &mut e[..k], &mut gp[..k]);
                let (mut om, mut oo) = ([0.0], [0.0]);
                let v = gradient_diag_gaussian(
                    &l[..k],
                    &DiagGroup { mu: &[0.0], omega: &[0.0], eps: &e[..k], gp: &gp[..k] },
                    &mut om,
                    &mut oo,
                )
                .unwrap();
                sum_v += v;
                sum_mu += om[0];
                sum_om += oo[0];
            }
            let (mv, mmu, mom) = (sum_v / S as f64, sum_mu / S as f64, sum_om / S as f64);
            std::println!("IW2 K={k}: L={mv:.5} (ref {lk}), dmu={mmu:.5} (ref {gmu}), domega={mom:.5} (ref {gom})");
            assert!((mv - lk).abs() <= 5.0 * sd / sf + 3.0 * se, "K={k}: L {mv} vs {lk}");
            assert!((mmu - gmu).abs() <= 5.0 * sdmu / sf + 3.0 * semu, "K={k}: ∂μ {mmu} vs {gmu}");
            assert!((mom - gom).abs() <= 5.0 * sdom / sf + 3.0 * seom, "K={k}: ∂ω {mom} vs {gom}");
            if k == 1 {
                elbo_est = mv;
            }
            assert!(mv > prev, "not increasing at K={k}");
            assert!(mv < 0.0);
            assert!(mv >= elbo_est - 5.0 / sf);
            prev = mv;
        }
        // Large-K check of §5: log Z − (e^{τ²} − 1)/(2K) = −0.01718 at K = 50.
        assert!((-(1f64.exp() - 1.0) / 100.0 + 0.01718).abs() < 1e-5);
    }

    #[test]
    fn k1_reproduces_the_pathwise_elbo_gradient_bit_for_bit() {
        // §5: K = 1 equals §3.2 (average of total derivatives) bit for bit, §3.1 up to rounding.
        // TP1 at μ = 0.3, ω = 0.2 with D = 2 independent coordinates (m = 1, s = 2).
        const S: usize = 1000;
        let mu = [0.3f64, -0.4];
        let omega = [0.2f64, -0.1];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(206);
        let (mut avg_mu, mut avg_om) = ([0.0; 2], [0.0; 2]);
        let (mut plain_mu, mut plain_om, mut path_om) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        let (mut avg_generic, mut plain_generic) = ([0.0; 4], [0.0; 4]);
        for _ in 0..S {
            let mut e = [0.0; 2];
            fill_standard_normal(&mut rng, &mut e);
            let mut gp = [0.0; 2];
            let mut l = 0.0;
            for d in 0..2 {
                let s = omega[d].exp();
                let x = mu[d] + s * e[d];
                gp[d] = -(x - 1.0) / 4.0;
                l += -(x - 1.0) * (x - 1.0) / 8.0 - 2f64.ln() + omega[d] + 0.5 * e[d] * e[d];
            }
            let (mut om, mut oo) = ([0.0; 2], [0.0; 2]);
            gradient_diag_gaussian(&[l], &DiagGroup { mu: &mu, omega: &omega, eps: &[e], gp: &[gp] }, &mut om, &mut oo)
                .unwrap();
            let dl = [gp[0], gp[1], gp[0] * omega[0].exp() * e[0] + 1.0, gp[1] * omega[1].exp() * e[1] + 1.0];
            let mut og = [0.0; 4];
            gradient(&[l], &[dl], &mut og).unwrap();
            for d in 0..2 {
                avg_mu[d] += om[d];
                avg_om[d] += oo[d];
                plain_mu[d] += gp[d];
                plain_om[d] += gp[d] * omega[d].exp() * e[d] + 1.0;
                path_om[d] += gp[d] * omega[d].exp() * e[d];
            }
            for p in 0..4 {
                avg_generic[p] += og[p];
                plain_generic[p] += dl[p];
            }
        }
        for d in 0..2 {
            assert_eq!((avg_mu[d] / S as f64).to_bits(), (plain_mu[d] / S as f64).to_bits());
            assert_eq!((avg_om[d] / S as f64).to_bits(), (plain_om[d] / S as f64).to_bits());
            // §3.1 form mean(gp σ ε) + 1: equal up to the order of additions.
            assert!((avg_om[d] / S as f64 - (path_om[d] / S as f64 + 1.0)).abs() < 1e-12);
        }
        for p in 0..4 {
            assert_eq!(avg_generic[p].to_bits(), plain_generic[p].to_bits());
        }
    }

    #[test]
    fn iw3_exact_at_the_optimum_tp1() {
        // §5 IW3: q = p (TP1 at μ = m = 1, σ = s = 2, log Z = 0.7): L̂_K = log Z to 1e−12 and
        // the gradient is the uniform average of ∇ℓ_k.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(207);
        let omega = 2f64.ln();
        for k in [1usize, 2, 5, 17, 64] {
            for _ in 0..50 {
                let mut eps = [0.0; 64];
                fill_standard_normal(&mut rng, &mut eps[..k]);
                let (mut l, mut e, mut gp) = ([0.0; 64], [[0.0]; 64], [[0.0]; 64]);
                let (mut plain_mu, mut plain_om) = (0.0, 0.0);
                for j in 0..k {
                    let x = 1.0 + 2.0 * eps[j];
                    let lp = 0.7 - 2f64.ln() - 0.5 * LN_2PI - (x - 1.0) * (x - 1.0) / 8.0;
                    let lq = -omega - 0.5 * LN_2PI - 0.5 * eps[j] * eps[j];
                    l[j] = lp - lq;
                    assert!((l[j] - 0.7).abs() <= 1e-12);
                    e[j] = [eps[j]];
                    gp[j] = [-(x - 1.0) / 4.0];
                    plain_mu += gp[j][0] / k as f64;
                    plain_om += (gp[j][0] * 2.0 * eps[j]) / k as f64;
                }
                let (mut om, mut oo) = ([0.0], [0.0]);
                let v = gradient_diag_gaussian(
                    &l[..k],
                    &DiagGroup { mu: &[1.0], omega: &[omega], eps: &e[..k], gp: &gp[..k] },
                    &mut om,
                    &mut oo,
                )
                .unwrap();
                assert!((v - 0.7).abs() <= 1e-12, "K={k}: {v}");
                assert!((om[0] - plain_mu).abs() <= 1e-12);
                assert!((oo[0] - (plain_om + 1.0)).abs() <= 1e-12);
                let mut w = [0.0; 64];
                weights(&l[..k], &mut w).unwrap();
                assert!(w[..k].iter().all(|&wk| (wk - 1.0 / k as f64).abs() <= 1e-12));
            }
        }
    }

    #[test]
    fn tp3_bound_increases_towards_log_z() {
        // §16 TP3: p = 0.3 N(−2, 0.5²) + 0.7 N(1.5, 1), q = N(0, 2²); ELBO −0.6021865758021949.
        let lp = |x: f64| {
            let a = 0.3f64.ln() - 0.5f64.ln() - 0.5 * LN_2PI - 0.5 * ((x + 2.0) / 0.5).powi(2);
            let b = 0.7f64.ln() - 0.5 * LN_2PI - 0.5 * (x - 1.5).powi(2);
            let m = a.max(b);
            m + ((a - m).exp() + (b - m).exp()).ln()
        };
        const S: usize = 100_000;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(208);
        let mut prev = f64::NEG_INFINITY;
        for k in [1usize, 5, 50] {
            let (mut s1, mut s2) = (0.0, 0.0);
            for _ in 0..S {
                let mut eps = [0.0; 50];
                fill_standard_normal(&mut rng, &mut eps[..k]);
                let mut l = [0.0; 50];
                for (lk, &e) in l.iter_mut().zip(&eps[..k]) {
                    let x = 2.0 * e;
                    *lk = lp(x) - (-(2f64.ln()) - 0.5 * LN_2PI - 0.5 * e * e);
                }
                let v = bound(&l[..k]).unwrap();
                s1 += v;
                s2 += v * v;
            }
            let m = s1 / S as f64;
            let se = ((s2 / S as f64 - m * m) / S as f64).sqrt();
            std::println!("TP3 K={k}: L̂ = {m:.5} ± {se:.5}");
            if k == 1 {
                assert!((m + 0.602_186_575_802_194_9).abs() <= 5.0 * se);
            }
            assert!(m > prev + 5.0 * se && m < 0.0);
            prev = m;
        }
    }

    #[test]
    fn errors_zero_the_gradient() {
        let mut out = [9.0; 2];
        let dl = [[1.0, 2.0], [3.0, 4.0]];
        assert_eq!(gradient(&[0.0, f64::NAN], &dl, &mut out), Err(NON_FINITE));
        assert_eq!(out, [0.0; 2]);
        out = [9.0; 2];
        assert!(gradient(&[0.0], &dl, &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
        out = [9.0; 2];
        assert!(gradient(&[0.0, 1.0], &[[1.0, f64::INFINITY], [0.0, 0.0]], &mut out).is_err());
        assert_eq!(out, [0.0; 2]);
        assert!(gradient::<f64, [f64; 2]>(&[], &[], &mut out).is_err());
        let (mut om, mut oo) = ([9.0], [9.0]);
        let r = gradient_diag_gaussian(
            &[f64::INFINITY],
            &DiagGroup { mu: &[0.0], omega: &[0.0], eps: &[[1.0]], gp: &[[1.0]] },
            &mut om,
            &mut oo,
        );
        assert_eq!(r, Err(NON_FINITE));
        assert_eq!((om, oo), ([0.0], [0.0]));
        let (mut om, mut oo) = ([9.0], [9.0]);
        let r = gradient_diag_gaussian(
            &[0.0],
            &DiagGroup { mu: &[0.0], omega: &[0.0, 1.0], eps: &[[1.0]], gp: &[[1.0]] },
            &mut om,
            &mut oo,
        );
        assert!(r.is_err());
        assert_eq!((om, oo), ([0.0], [0.0]));
        let mut w = [0.0; 1];
        assert_eq!(weights(&[0.0, 1.0], &mut w), Err(Error::BufferTooSmall { needed: 2 }));
        // f32 works too.
        let v = bound(&[-1.0f32, 0.5, 2.0, -0.3]).unwrap();
        assert!((v - 0.930_832).abs() < 1e-5);
    }
}

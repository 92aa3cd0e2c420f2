//! Stochastic variational inference (SVI) for conditionally conjugate models
//! (`docs/estimators.md` §9.2).
//!
//! A global variable β has a conjugate prior with natural parameter `α`; the complete
//! conditional of β is in the prior's family, with sufficient statistics `t(y_n, z_n)`
//! contributed by each data point. The natural gradient of the ELBO w.r.t. the global natural
//! parameter λ is `g̃(λ) = α + Σ_n E_{q(z_n)}[t(y_n, z_n)] − λ`. One SVI step with a minibatch
//! `B` of `M` indices:
//! 1. set each local `φ_n`, `n ∈ B`, to its CAVI optimum given λ;
//! 2. `λ̂ = α + (N/M) Σ_{n∈B} E_{φ_n}[t(y_n, z_n)]`;
//! 3. `λ ← (1 − ρ_t) λ + ρ_t λ̂` — a natural-gradient step, since `λ̂ − λ` is unbiased for `g̃`.
//!
//! Step sizes `ρ_t = (t + τ)^{−κ}`, `κ ∈ (0.5, 1]`, `τ ≥ 0` (defaults κ = 0.7, τ = 1) satisfy
//! the Robbins–Monro conditions. With `M = N` and `ρ = 1` a step is one CAVI sweep.
//!
//! Models: [`NormalMeanModel`] (SVI-A / TP4: `β ~ N(0, s0²)`, `y_n | β ~ N(β, 1)`, no locals)
//! and [`MixtureModel`] (the §10 mixture; locals are the assignments). Minibatches have the
//! fixed capacity `B` (a const generic of [`Svi`]) and are drawn by index, without
//! replacement, from the caller's data slice with a seeded RNG.

use gmmvi::real::LN_2PI;
use gmmvi::{Error, Real};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::estimators::cavi::responsibilities;

/// A conditionally conjugate model with a global natural parameter in `R^P` (§9.2).
pub trait ConjugateModel<T: Real, const P: usize> {
    /// Number of data points `N`.
    fn data_len(&self) -> usize;
    /// Prior natural parameter `α`.
    fn prior(&self) -> [T; P];
    /// Adds `E_{φ_n}[t(y_n, z_n)]` to `acc`, with the local factor `φ_n` at its CAVI optimum
    /// given the global parameter `lambda` (the local step).
    ///
    /// # Errors
    /// `InvalidArgument` for an index out of range or a non-finite statistic.
    fn add_local_stats(&self, n: usize, lambda: &[T; P], acc: &mut [T; P]) -> Result<(), Error>;
    /// `true` if `lambda` is a valid natural parameter (finite, in the natural domain).
    fn is_valid(&self, lambda: &[T; P]) -> bool;
}

/// One SVI step (§9.2) with the minibatch `batch` (indices into the model's data, `M =
/// batch.len()`) and step size `rho ∈ (0, 1]`: `λ ← (1 − ρ) λ + ρ (α + (N/M) Σ_{n∈B} E[t_n])`.
///
/// # Errors
/// `InvalidArgument` for an empty batch, an index `≥ N`, `rho ∉ (0, 1]`, or an update that
/// leaves the natural domain; `lambda` is unchanged on error.
pub fn svi_update<T: Real, M: ConjugateModel<T, P>, const P: usize>(
    model: &M,
    lambda: &mut [T; P],
    batch: &[usize],
    rho: T,
) -> Result<(), Error> {
    let n = model.data_len();
    if batch.is_empty() || n == 0 {
        return Err(Error::InvalidArgument { what: "svi: empty batch or data" });
    }
    if !(rho > T::zero() && rho <= T::one()) {
        return Err(Error::InvalidArgument { what: "svi: rho must lie in (0, 1]" });
    }
    if !model.is_valid(lambda) {
        return Err(Error::InvalidArgument { what: "svi: invalid natural parameter" });
    }
    let mut acc = [T::zero(); P];
    for &i in batch {
        if i >= n {
            return Err(Error::InvalidArgument { what: "svi: batch index out of range" });
        }
        model.add_local_stats(i, lambda, &mut acc)?;
    }
    let scale = T::of(n as f64) / T::of(batch.len() as f64);
    let mut new = *lambda;
    for ((l, &a), &s) in new.iter_mut().zip(&model.prior()).zip(&acc) {
        *l = (T::one() - rho) * *l + rho * (a + scale * s);
    }
    if !model.is_valid(&new) {
        return Err(Error::InvalidArgument { what: "svi: update left the natural domain" });
    }
    *lambda = new;
    Ok(())
}

/// Robbins–Monro step sizes `ρ_t = (t + τ)^{−κ}`, `t = 1, 2, …` (§9.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RobbinsMonro<T> {
    tau: T,
    kappa: T,
}

impl<T: Real> RobbinsMonro<T> {
    /// `ρ_t = (t + tau)^{−kappa}`.
    ///
    /// # Errors
    /// `InvalidConfig` unless `kappa ∈ (0.5, 1]` and `tau ≥ 0` (finite).
    pub fn new(tau: T, kappa: T) -> Result<Self, Error> {
        if !(kappa > T::of(0.5) && kappa <= T::one()) {
            return Err(Error::InvalidConfig { field: "kappa" });
        }
        if !(tau >= T::zero() && tau.finite()) {
            return Err(Error::InvalidConfig { field: "tau" });
        }
        Ok(Self { tau, kappa })
    }

    /// The defaults κ = 0.7, τ = 1.
    pub fn default_schedule() -> Self {
        Self { tau: T::one(), kappa: T::of(0.7) }
    }

    /// `ρ_t` for step `t ≥ 1` (`t = 0` is treated as 1); always in `(0, 1]`.
    pub fn rho(&self, t: u64) -> T {
        let base = T::of(t.max(1) as f64) + self.tau;
        base.powf(-self.kappa).min(T::one())
    }
}

/// SVI driver: the global natural parameter, the step counter, the schedule and the RNG that
/// draws minibatches of `B` distinct indices.
#[derive(Clone, Debug)]
pub struct Svi<T, const P: usize, const B: usize> {
    lambda: [T; P],
    t: u64,
    schedule: RobbinsMonro<T>,
    rng: Xoshiro256PlusPlus,
}

impl<T: Real, const P: usize, const B: usize> Svi<T, P, B> {
    /// Starts at `lambda0`, step counter 0, minibatches drawn with a generator seeded by `seed`.
    ///
    /// # Errors
    /// `InvalidArgument` if `lambda0` is not finite.
    pub fn new(lambda0: [T; P], schedule: RobbinsMonro<T>, seed: u64) -> Result<Self, Error> {
        const { assert!(P > 0 && B > 0) }
        if !lambda0.iter().all(|v| v.finite()) {
            return Err(Error::InvalidArgument { what: "svi: non-finite initial lambda" });
        }
        Ok(Self { lambda: lambda0, t: 0, schedule, rng: Xoshiro256PlusPlus::seed_from_u64(seed) })
    }

    /// The current global natural parameter λ.
    pub fn lambda(&self) -> &[T; P] {
        &self.lambda
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// Draws `B` distinct indices uniformly from `0..n` (Floyd's algorithm: `B` draws, no
    /// rejection, O(B²) membership checks).
    ///
    /// # Errors
    /// `InvalidArgument` if `B > n`.
    pub fn draw_batch(&mut self, n: usize) -> Result<[usize; B], Error> {
        if B > n {
            return Err(Error::InvalidArgument { what: "svi: batch capacity exceeds data size" });
        }
        let mut batch = [0usize; B];
        for (filled, j) in (n - B..n).enumerate() {
            let r = below(&mut self.rng, j + 1);
            let pick = if batch.iter().take(filled).any(|&b| b == r) { j } else { r };
            if let Some(slot) = batch.get_mut(filled) {
                *slot = pick;
            }
        }
        Ok(batch)
    }

    /// One step with a minibatch of `B` distinct indices drawn by [`Self::draw_batch`].
    /// Returns the `ρ_t` used.
    ///
    /// # Errors
    /// `InvalidArgument` if `B > N`; otherwise as [`svi_update`] (λ and `t` unchanged).
    pub fn step<M: ConjugateModel<T, P>>(&mut self, model: &M) -> Result<T, Error> {
        let batch = self.draw_batch(model.data_len())?;
        self.step_with_batch(model, &batch)
    }

    /// One step with the caller's minibatch (e.g. cycling through a partition). Returns `ρ_t`.
    ///
    /// # Errors
    /// As [`svi_update`] (λ and `t` unchanged).
    pub fn step_with_batch<M: ConjugateModel<T, P>>(&mut self, model: &M, batch: &[usize; B]) -> Result<T, Error> {
        let rho = self.schedule.rho(self.t + 1);
        svi_update(model, &mut self.lambda, batch, rho)?;
        self.t += 1;
        Ok(rho)
    }
}

/// Uniform integer in `0..n` (`n ≥ 1`) by multiply-shift; bias below `n / 2⁶⁴`.
fn below<R: Rng + ?Sized>(rng: &mut R, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// Natural parameters `(μ/v, −1/(2v))` of a univariate `N(μ, v)`.
///
/// # Errors
/// `InvalidArgument` unless `v > 0` and both are finite.
pub fn gaussian_to_natural<T: Real>(mean: T, var: T) -> Result<[T; 2], Error> {
    if !(var > T::zero() && var.finite() && mean.finite()) {
        return Err(Error::InvalidArgument { what: "svi: variance must be positive" });
    }
    Ok([mean / var, -T::one() / (T::of(2.0) * var)])
}

/// `(mean, var) = (−λ1/(2λ2), −1/(2λ2))` of univariate natural parameters.
///
/// # Errors
/// `InvalidArgument` unless `λ2 < 0` and both are finite.
pub fn natural_to_gaussian<T: Real>(lambda: &[T; 2]) -> Result<(T, T), Error> {
    let [l1, l2] = *lambda;
    if !(l2 < T::zero() && l1.finite() && l2.finite()) {
        return Err(Error::InvalidArgument { what: "svi: natural parameter lambda2 must be < 0" });
    }
    let var = -T::one() / (T::of(2.0) * l2);
    Ok((l1 * var, var))
}

fn gaussian_natural_ok<T: Real>(l1: T, l2: T) -> bool {
    l1.finite() && l2.finite() && l2 < T::zero()
}

/// SVI-A / TP4: `β ~ N(0, s0²)`, `y_n | β ~ N(β, 1)`; `λ = (λ1, λ2)`, `α = (0, −1/(2 s0²))`,
/// `t(y_n) = (y_n, −½)`. No local variables.
#[derive(Clone, Copy, Debug)]
pub struct NormalMeanModel<'a, T> {
    y: &'a [T],
    prior_var: T,
}

impl<'a, T: Real> NormalMeanModel<'a, T> {
    /// The model on the caller's data `y` with prior variance `s0² = prior_var`.
    ///
    /// # Errors
    /// `InvalidArgument` for empty or non-finite data or a non-positive prior variance.
    pub fn new(y: &'a [T], prior_var: T) -> Result<Self, Error> {
        if y.is_empty() || !y.iter().all(|v| v.finite()) {
            return Err(Error::InvalidArgument { what: "svi: data empty or not finite" });
        }
        if !(prior_var > T::zero() && prior_var.finite()) {
            return Err(Error::InvalidArgument { what: "svi: prior variance must be positive" });
        }
        Ok(Self { y, prior_var })
    }

    /// `log p~(β) = log N(β; 0, s0²) + Σ_n log N(y_n; β, 1)` (TP4 as an unnormalised target).
    pub fn log_joint(&self, beta: T) -> T {
        let half = T::of(0.5);
        let mut l = -half * (T::of(LN_2PI) + self.prior_var.ln()) - half * beta * beta / self.prior_var;
        for &yn in self.y {
            l -= half * (T::of(LN_2PI) + (yn - beta) * (yn - beta));
        }
        l
    }

    /// Closed-form ELBO of `q(β) = N(mean, var)`: `E_q[log p~(β)] + ½ ln(2πe var)`; equals
    /// `ln p(y)` at the exact posterior.
    ///
    /// # Errors
    /// `InvalidArgument` unless `var > 0` and both are finite.
    pub fn elbo(&self, mean: T, var: T) -> Result<T, Error> {
        gaussian_to_natural(mean, var)?;
        let half = T::of(0.5);
        // E_q[(y − β)²] = (y − mean)² + var, E_q[β²] = mean² + var.
        let mut e = -half * (T::of(LN_2PI) + self.prior_var.ln()) - half * (mean * mean + var) / self.prior_var;
        for &yn in self.y {
            e -= half * (T::of(LN_2PI) + (yn - mean) * (yn - mean) + var);
        }
        Ok(e + half * (T::of(LN_2PI) + T::one() + var.ln()))
    }
}

impl<T: Real> ConjugateModel<T, 2> for NormalMeanModel<'_, T> {
    fn data_len(&self) -> usize {
        self.y.len()
    }
    fn prior(&self) -> [T; 2] {
        [T::zero(), -T::one() / (T::of(2.0) * self.prior_var)]
    }
    fn add_local_stats(&self, n: usize, _lambda: &[T; 2], acc: &mut [T; 2]) -> Result<(), Error> {
        let yn = *self.y.get(n).ok_or(Error::InvalidArgument { what: "svi: index out of range" })?;
        acc[0] += yn;
        acc[1] -= T::of(0.5);
        Ok(())
    }
    fn is_valid(&self, lambda: &[T; 2]) -> bool {
        gaussian_natural_ok(lambda[0], lambda[1])
    }
}

/// The §10 mixture (`μ_k ~ N(0, σ²)`, `c_n ~ Cat(1/K)`, `y_n ~ N(μ_{c_n}, 1)`) as a
/// conditionally conjugate model: the global parameter holds `(λ1_k, λ2_k)` of each `q(μ_k)` at
/// positions `2k, 2k + 1` (so `P = 2K`, checked at compile time); the locals are the
/// assignments, whose CAVI optimum is [`responsibilities`], and `t(y_n, c_n)` contributes
/// `(φ_nk y_n, −½ φ_nk)` to component k.
#[derive(Clone, Copy, Debug)]
pub struct MixtureModel<'a, T, const K: usize> {
    y: &'a [T],
    prior_var: T,
}

impl<'a, T: Real, const K: usize> MixtureModel<'a, T, K> {
    /// The model on the caller's data with prior variance `σ² = prior_var`.
    ///
    /// # Errors
    /// As [`NormalMeanModel::new`].
    pub fn new(y: &'a [T], prior_var: T) -> Result<Self, Error> {
        const { assert!(K > 0) }
        NormalMeanModel::new(y, prior_var)?;
        Ok(Self { y, prior_var })
    }

    /// Packs the factors `q(μ_k) = N(m_k, s2_k)` into natural parameters (`P = 2K`).
    ///
    /// # Errors
    /// `InvalidArgument` unless every `s2_k > 0` and all values are finite.
    pub fn to_natural<const P: usize>(m: &[T; K], s2: &[T; K]) -> Result<[T; P], Error> {
        const { assert!(P == 2 * K) }
        let mut out = [T::zero(); P];
        for ((pair, &mk), &sk) in out.chunks_exact_mut(2).zip(m).zip(s2) {
            pair.copy_from_slice(&gaussian_to_natural(mk, sk)?);
        }
        Ok(out)
    }

    /// Unpacks natural parameters into `(m, s²)`.
    ///
    /// # Errors
    /// `InvalidArgument` if some `λ2_k ≥ 0` or a value is not finite.
    pub fn from_natural<const P: usize>(lambda: &[T; P]) -> Result<([T; K], [T; K]), Error> {
        const { assert!(P == 2 * K) }
        let (mut m, mut s2) = ([T::zero(); K], [T::one(); K]);
        for ((pair, mk), sk) in lambda.chunks_exact(2).zip(m.iter_mut()).zip(s2.iter_mut()) {
            (*mk, *sk) = natural_to_gaussian(&[pair[0], pair[1]])?;
        }
        Ok((m, s2))
    }
}

impl<T: Real, const K: usize, const P: usize> ConjugateModel<T, P> for MixtureModel<'_, T, K> {
    fn data_len(&self) -> usize {
        self.y.len()
    }
    fn prior(&self) -> [T; P] {
        const { assert!(P == 2 * K) }
        let mut a = [T::zero(); P];
        for pair in a.chunks_exact_mut(2) {
            pair[1] = -T::one() / (T::of(2.0) * self.prior_var);
        }
        a
    }
    fn add_local_stats(&self, n: usize, lambda: &[T; P], acc: &mut [T; P]) -> Result<(), Error> {
        let yn = *self.y.get(n).ok_or(Error::InvalidArgument { what: "svi: index out of range" })?;
        let (m, s2) = Self::from_natural(lambda)?;
        let mut phi = [T::zero(); K];
        responsibilities(&m, &s2, yn, &mut phi)?;
        for (pair, &p) in acc.chunks_exact_mut(2).zip(&phi) {
            pair[0] += p * yn;
            pair[1] -= p * T::of(0.5);
        }
        Ok(())
    }
    fn is_valid(&self, lambda: &[T; P]) -> bool {
        lambda.chunks_exact(2).all(|p| gaussian_natural_ok(p[0], p[1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::cavi::MixtureCavi;

    const Y: [f64; 6] = [1.2, 0.4, 2.1, 1.7, 0.9, 1.5];
    const BATCHES: [[usize; 2]; 3] = [[0, 1], [2, 3], [4, 5]];

    #[test]
    fn svi1_running_mean_is_exact() {
        let model = NormalMeanModel::new(&Y, 4.0).unwrap();
        let sched = RobbinsMonro::new(0.0, 1.0).unwrap(); // ρ_t = 1/t
        let mut svi = Svi::<f64, 2, 2>::new([0.0, -0.5], sched, 0).unwrap();
        let want = [[4.8, -3.125], [8.1, -3.125], [7.8, -3.125]];
        for (b, w) in BATCHES.iter().zip(want) {
            svi.step_with_batch(&model, b).unwrap();
            let l = svi.lambda();
            assert!((l[0] - w[0]).abs() < 1e-12 && (l[1] - w[1]).abs() < 1e-12, "{l:?} vs {w:?}");
        }
        let (mean, var) = natural_to_gaussian(svi.lambda()).unwrap();
        assert!((mean - 1.248).abs() < 1e-12 && (var - 0.16).abs() < 1e-12);
        // The ELBO at the exact posterior is the log evidence (TP4).
        assert!((model.elbo(mean, var).unwrap() + 8.235869111662137).abs() < 1e-12);
        assert!(model.elbo(1.0, 0.3).unwrap() < -8.235869111662137);
    }

    #[test]
    fn svi2_robbins_monro() {
        let model = NormalMeanModel::new(&Y, 4.0).unwrap();
        let mut svi = Svi::<f64, 2, 2>::new([0.0, -0.5], RobbinsMonro::default_schedule(), 0).unwrap();
        for t in 0..300 {
            let rho = svi.step_with_batch(&model, &BATCHES[t % 3]).unwrap();
            assert!((rho - (t as f64 + 2.0).powf(-0.7)).abs() < 1e-15);
        }
        let (mean, _) = natural_to_gaussian(svi.lambda()).unwrap();
        extern crate std;
        std::println!("SVI2: mean {mean}, lambda {:?}", svi.lambda());
        assert!((mean - 1.248).abs() < 0.01, "{mean}");
        assert!((svi.lambda()[1] + 3.125).abs() < 1e-4);
        // Random minibatches (seeded, deterministic) converge as well.
        let mut a = Svi::<f64, 2, 2>::new([0.0, -0.5], RobbinsMonro::default_schedule(), 7).unwrap();
        let mut b = a.clone();
        for _ in 0..300 {
            a.step(&model).unwrap();
            b.step(&model).unwrap();
        }
        assert_eq!(a.lambda(), b.lambda());
        let (mean, _) = natural_to_gaussian(a.lambda()).unwrap();
        assert!((mean - 1.248).abs() < 0.1, "{mean}");
        assert!((a.lambda()[1] + 3.125).abs() < 1e-4);
    }

    #[test]
    fn minibatches_are_distinct_and_in_range() {
        let model = NormalMeanModel::new(&Y, 4.0).unwrap();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut counts = [0usize; 6];
        for _ in 0..6000 {
            let mut svi = Svi::<f64, 2, 4>::new([0.0, -0.5], RobbinsMonro::default_schedule(), rng.next_u64()).unwrap();
            let batch = svi.draw_batch(6).unwrap();
            for (i, a) in batch.iter().enumerate() {
                assert!(*a < 6 && !batch[..i].contains(a));
                counts[*a] += 1;
            }
            svi.step(&model).unwrap();
        }
        // Each index is in a batch with probability 4/6: 4000 ± 5·sqrt(6000·(2/3)(1/3)).
        for c in counts {
            assert!((c as f64 - 4000.0).abs() < 5.0 * (6000.0f64 * 2.0 / 9.0).sqrt(), "{counts:?}");
        }
    }

    #[test]
    fn svi3_full_batch_unit_step_is_a_cavi_sweep() {
        let y = [-3.1, -2.7, -3.4, -2.2, 2.9, 3.3, 2.6, 0.2];
        let (m0, s0) = ([-1.0, 1.0], [1.0, 1.0]);
        let mut cavi = MixtureCavi::new(5.0, m0, s0).unwrap();
        let mut phi = [[0.0; 2]; 8];
        let model = MixtureModel::<f64, 2>::new(&y, 5.0).unwrap();
        let mut lambda: [f64; 4] = MixtureModel::<f64, 2>::to_natural(&m0, &s0).unwrap();
        for _ in 0..5 {
            cavi.sweep(&y, &mut phi).unwrap();
            svi_update(&model, &mut lambda, &[0, 1, 2, 3, 4, 5, 6, 7], 1.0).unwrap();
            let (m, s2) = MixtureModel::<f64, 2>::from_natural(&lambda).unwrap();
            for k in 0..2 {
                assert!((m[k] - cavi.means()[k]).abs() < 1e-12);
                assert!((s2[k] - cavi.variances()[k]).abs() < 1e-12);
            }
        }
        // Also through the driver with B = N and a constant-1 schedule (τ = 0, κ = 1, t = 1).
        let mut svi = Svi::<f64, 4, 8>::new(
            MixtureModel::<f64, 2>::to_natural(&m0, &s0).unwrap(),
            RobbinsMonro::new(0.0, 1.0).unwrap(),
            1,
        )
        .unwrap();
        assert_eq!(svi.step(&model).unwrap(), 1.0);
        let mut c1 = MixtureCavi::new(5.0, m0, s0).unwrap();
        c1.sweep(&y, &mut phi).unwrap();
        let (m, _) = MixtureModel::<f64, 2>::from_natural(svi.lambda()).unwrap();
        assert!((m[0] - c1.means()[0]).abs() < 1e-12 && (m[1] - c1.means()[1]).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_an_error() {
        let model = NormalMeanModel::new(&Y, 4.0).unwrap();
        let mut l = [0.0, -0.5];
        assert!(svi_update(&model, &mut l, &[], 0.5).is_err());
        assert!(svi_update(&model, &mut l, &[6], 0.5).is_err());
        assert!(svi_update(&model, &mut l, &[0], 0.0).is_err());
        assert!(svi_update(&model, &mut l, &[0], 1.5).is_err());
        assert!(svi_update(&model, &mut [0.0, 0.5], &[0], 0.5).is_err());
        assert_eq!(l, [0.0, -0.5]);
        assert!(NormalMeanModel::<f64>::new(&[], 1.0).is_err());
        assert!(NormalMeanModel::new(&[f64::NAN], 1.0).is_err());
        assert!(NormalMeanModel::new(&Y, -1.0).is_err());
        assert!(RobbinsMonro::new(1.0, 0.5).is_err());
        assert!(RobbinsMonro::new(-1.0, 0.7).is_err());
        assert!(RobbinsMonro::new(1.0, f64::NAN).is_err());
        let mut big = Svi::<f64, 2, 7>::new([0.0, -0.5], RobbinsMonro::default_schedule(), 0).unwrap();
        assert!(big.step(&model).is_err());
        assert_eq!(big.steps(), 0);
        assert!(Svi::<f64, 2, 2>::new([f64::NAN, -0.5], RobbinsMonro::default_schedule(), 0).is_err());
        assert!(natural_to_gaussian(&[1.0, 0.0]).is_err());
        assert!(gaussian_to_natural(1.0, 0.0).is_err());
    }
}

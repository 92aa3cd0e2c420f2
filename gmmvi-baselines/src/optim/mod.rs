//! Stochastic optimisers in ascent form (`docs/estimators.md` §11): the parameter-update rules
//! of the gradient baselines behind the [`Optimiser`] trait (the natural-gradient GMM state of
//! the core is [`gmmvi::Optimizer`], an unrelated type).
//!
//! Every optimiser maximises: `λ ← λ + step(g)` with `g` the (estimated) gradient of the
//! objective; a caller minimising must negate its gradient, not the step rule (§0).
//!
//! | optimiser | update |
//! |-----------|--------|
//! | [`Sgd`] | `λ ← λ + α_t g_t`, `α_t = α_0 (t + τ)^{−κ}` ([`RobbinsMonro`]) |
//! | [`Momentum`] | `v ← β v + g_t`; `λ ← λ + α v` |
//! | [`AdaGrad`] | `G ← G + g_t²`; `λ ← λ + α g_t / (√G + ε)` |
//! | [`RmsProp`] | `v ← ρ v + (1−ρ) g_t²`; `λ ← λ + α g_t / (√v + ε)` |
//! | [`Adam`] | `m ← β1 m + (1−β1) g_t`; `v ← β2 v + (1−β2) g_t²`; `λ ← λ + α m̂ / (√v̂ + ε)` |
//!
//! Squares and roots are elementwise, ε is added outside the root, `t` counts from 1, and
//! Adam's `β^t` are running products. The per-parameter state lives in `[T; P]` arrays
//! (`P` = number of parameters, a const generic). A step with a non-finite gradient, or one
//! whose result would be non-finite, is rejected and leaves parameters and state untouched.
//!
//! ```
//! use gmmvi_baselines::optim::{Adam, Optimiser};
//! // Maximise F(λ) = −½(λ − 3)²: ascent on g = 3 − λ.
//! let mut opt = Adam::<f64, 1>::with_step(0.1)?;
//! let mut lam = [0.0];
//! for _ in 0..500 {
//!     let g = [3.0 - lam[0]];
//!     opt.step(&mut lam, &g)?;
//! }
//! assert!((lam[0] - 3.0).abs() < 1e-2);
//! # Ok::<(), gmmvi::Error>(())
//! ```

use gmmvi::{Error, Real};

/// One optimiser over `P` parameters: a step consumes an ascent direction `grad`.
pub trait Optimiser<T> {
    /// Applies one ascent step to `params` with gradient `grad`.
    ///
    /// # Errors
    /// `InvalidArgument` if a slice length differs from `P`, a gradient entry is not finite,
    /// or the step would make a parameter or state entry non-finite; nothing is changed then.
    fn step(&mut self, params: &mut [T], grad: &[T]) -> Result<(), Error>;
    /// Forgets all state (moments, accumulators, step counter).
    fn reset(&mut self);
    /// Number of steps taken so far.
    fn steps(&self) -> u64;
}

/// Length and finiteness checks shared by every optimiser.
fn check_inputs<T: Real, const P: usize>(params: &[T], grad: &[T]) -> Result<(), Error> {
    if params.len() != P {
        return Err(Error::InvalidArgument { what: "params length differs from P" });
    }
    if grad.len() != P {
        return Err(Error::InvalidArgument { what: "gradient length differs from P" });
    }
    if !grad.iter().all(|g| g.finite()) {
        return Err(Error::InvalidArgument { what: "non-finite gradient" });
    }
    Ok(())
}

/// `Ok(x)` if `x` is finite and (when `positive`) `> 0`, else `InvalidConfig { field }`.
fn check_config<T: Real>(x: T, positive: bool, field: &'static str) -> Result<T, Error> {
    if !x.finite() || (positive && !(x > T::zero())) {
        return Err(Error::InvalidConfig { field });
    }
    Ok(x)
}

/// Checks `0 <= x < 1`.
fn check_unit<T: Real>(x: T, field: &'static str) -> Result<T, Error> {
    if !(x >= T::zero() && x < T::one()) {
        return Err(Error::InvalidConfig { field });
    }
    Ok(x)
}

/// Robbins–Monro step-size schedule `α_t = α_0 (t + τ)^{−κ}` (§11).
///
/// Convergence of SGD needs `Σ α_t = ∞`, `Σ α_t² < ∞`, i.e. `κ ∈ (0.5, 1]`; `κ = 0` is
/// allowed and gives the constant step `α_0` (converges only to a noise ball).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RobbinsMonro<T> {
    alpha0: T,
    tau: T,
    kappa: T,
}

impl<T: Real> RobbinsMonro<T> {
    /// Schedule with `α_0 > 0`, `τ ≥ 0`, `κ ∈ [0, 1]`.
    ///
    /// # Errors
    /// `InvalidConfig` naming `alpha0`, `tau` or `kappa` when out of range or non-finite.
    pub fn new(alpha0: T, tau: T, kappa: T) -> Result<Self, Error> {
        check_config(alpha0, true, "alpha0")?;
        if !(tau >= T::zero()) || !tau.finite() {
            return Err(Error::InvalidConfig { field: "tau" });
        }
        if !(kappa >= T::zero() && kappa <= T::one()) {
            return Err(Error::InvalidConfig { field: "kappa" });
        }
        Ok(Self { alpha0, tau, kappa })
    }

    /// The defaults of §11: `α_0 = 1`, `τ = 1`, `κ = 0.7`.
    pub fn default_schedule() -> Self {
        Self { alpha0: T::one(), tau: T::one(), kappa: T::of(0.7) }
    }

    /// A constant step `α` (`κ = 0`).
    ///
    /// # Errors
    /// `InvalidConfig { field: "alpha0" }` unless `α > 0` and finite.
    pub fn constant(alpha: T) -> Result<Self, Error> {
        Self::new(alpha, T::zero(), T::zero())
    }

    /// `α_t` for step `t ≥ 1`.
    pub fn rate(&self, t: u64) -> T {
        if self.kappa == T::zero() {
            return self.alpha0;
        }
        self.alpha0 * (T::of(t as f64) + self.tau).powf(-self.kappa)
    }
}

/// Plain stochastic gradient ascent with a [`RobbinsMonro`] schedule (§11).
#[derive(Clone, Copy, Debug)]
pub struct Sgd<T, const P: usize> {
    schedule: RobbinsMonro<T>,
    t: u64,
}

impl<T: Real, const P: usize> Sgd<T, P> {
    /// SGD with the given schedule.
    pub fn new(schedule: RobbinsMonro<T>) -> Self {
        const { assert!(P > 0) }
        Self { schedule, t: 0 }
    }
}

impl<T: Real, const P: usize> Optimiser<T> for Sgd<T, P> {
    fn step(&mut self, params: &mut [T], grad: &[T]) -> Result<(), Error> {
        check_inputs::<T, P>(params, grad)?;
        let a = self.schedule.rate(self.t + 1);
        if !params.iter().zip(grad).all(|(&p, &g)| (p + a * g).finite()) {
            return Err(Error::InvalidArgument { what: "step would give a non-finite parameter" });
        }
        for (p, &g) in params.iter_mut().zip(grad) {
            *p += a * g;
        }
        self.t += 1;
        Ok(())
    }
    fn reset(&mut self) {
        self.t = 0;
    }
    fn steps(&self) -> u64 {
        self.t
    }
}

/// Heavy-ball momentum: `v ← β v + g`; `λ ← λ + α v`, `v₀ = 0` (§11).
#[derive(Clone, Copy, Debug)]
pub struct Momentum<T, const P: usize> {
    alpha: T,
    beta: T,
    v: [T; P],
    t: u64,
}

impl<T: Real, const P: usize> Momentum<T, P> {
    /// Momentum with step `α > 0` and `β ∈ [0, 1)`.
    ///
    /// # Errors
    /// `InvalidConfig` naming `alpha` or `beta`.
    pub fn new(alpha: T, beta: T) -> Result<Self, Error> {
        const { assert!(P > 0) }
        check_config(alpha, true, "alpha")?;
        check_unit(beta, "beta")?;
        Ok(Self { alpha, beta, v: [T::zero(); P], t: 0 })
    }
    /// Defaults of §11: `α = 1e−2`, `β = 0.9`.
    pub fn with_defaults() -> Self {
        const { assert!(P > 0) }
        Self { alpha: T::of(1e-2), beta: T::of(0.9), v: [T::zero(); P], t: 0 }
    }
}

impl<T: Real, const P: usize> Optimiser<T> for Momentum<T, P> {
    fn step(&mut self, params: &mut [T], grad: &[T]) -> Result<(), Error> {
        check_inputs::<T, P>(params, grad)?;
        let (a, b) = (self.alpha, self.beta);
        let new = |v: T, g: T| b * v + g;
        let ok = params.iter().zip(grad).zip(&self.v).all(|((&p, &g), &v)| {
            let nv = new(v, g);
            nv.finite() && (p + a * nv).finite()
        });
        if !ok {
            return Err(Error::InvalidArgument { what: "step would give a non-finite value" });
        }
        for ((p, &g), v) in params.iter_mut().zip(grad).zip(self.v.iter_mut()) {
            *v = new(*v, g);
            *p += a * *v;
        }
        self.t += 1;
        Ok(())
    }
    fn reset(&mut self) {
        self.v = [T::zero(); P];
        self.t = 0;
    }
    fn steps(&self) -> u64 {
        self.t
    }
}

/// AdaGrad: `G ← G + g²`; `λ ← λ + α g / (√G + ε)`, `G₀ = 0` (§11).
#[derive(Clone, Copy, Debug)]
pub struct AdaGrad<T, const P: usize> {
    alpha: T,
    eps: T,
    g2: [T; P],
    t: u64,
}

impl<T: Real, const P: usize> AdaGrad<T, P> {
    /// AdaGrad with step `α > 0` and `ε > 0`.
    ///
    /// # Errors
    /// `InvalidConfig` naming `alpha` or `eps`.
    pub fn new(alpha: T, eps: T) -> Result<Self, Error> {
        const { assert!(P > 0) }
        check_config(alpha, true, "alpha")?;
        check_config(eps, true, "eps")?;
        Ok(Self { alpha, eps, g2: [T::zero(); P], t: 0 })
    }
    /// Defaults of §11: `α = 1e−2`, `ε = 1e−10`.
    pub fn with_defaults() -> Self {
        const { assert!(P > 0) }
        Self { alpha: T::of(1e-2), eps: T::of(1e-10), g2: [T::zero(); P], t: 0 }
    }
}

impl<T: Real, const P: usize> Optimiser<T> for AdaGrad<T, P> {
    fn step(&mut self, params: &mut [T], grad: &[T]) -> Result<(), Error> {
        check_inputs::<T, P>(params, grad)?;
        let (a, e) = (self.alpha, self.eps);
        let upd = |s: T, g: T| {
            let ns = s + g * g;
            (ns, a * g / (ns.sqrt() + e))
        };
        let ok = params.iter().zip(grad).zip(&self.g2).all(|((&p, &g), &s)| {
            let (ns, d) = upd(s, g);
            ns.finite() && (p + d).finite()
        });
        if !ok {
            return Err(Error::InvalidArgument { what: "step would give a non-finite value" });
        }
        for ((p, &g), s) in params.iter_mut().zip(grad).zip(self.g2.iter_mut()) {
            let (ns, d) = upd(*s, g);
            *s = ns;
            *p += d;
        }
        self.t += 1;
        Ok(())
    }
    fn reset(&mut self) {
        self.g2 = [T::zero(); P];
        self.t = 0;
    }
    fn steps(&self) -> u64 {
        self.t
    }
}

/// RMSProp: `v ← ρ v + (1−ρ) g²`; `λ ← λ + α g / (√v + ε)`, `v₀ = 0` (§11).
#[derive(Clone, Copy, Debug)]
pub struct RmsProp<T, const P: usize> {
    alpha: T,
    rho: T,
    eps: T,
    v: [T; P],
    t: u64,
}

impl<T: Real, const P: usize> RmsProp<T, P> {
    /// RMSProp with step `α > 0`, decay `ρ ∈ [0, 1)` and `ε > 0`.
    ///
    /// # Errors
    /// `InvalidConfig` naming `alpha`, `rho` or `eps`.
    pub fn new(alpha: T, rho: T, eps: T) -> Result<Self, Error> {
        const { assert!(P > 0) }
        check_config(alpha, true, "alpha")?;
        check_unit(rho, "rho")?;
        check_config(eps, true, "eps")?;
        Ok(Self { alpha, rho, eps, v: [T::zero(); P], t: 0 })
    }
    /// Defaults of §11: `α = 1e−3`, `ρ = 0.9`, `ε = 1e−8`.
    pub fn with_defaults() -> Self {
        const { assert!(P > 0) }
        Self { alpha: T::of(1e-3), rho: T::of(0.9), eps: T::of(1e-8), v: [T::zero(); P], t: 0 }
    }
}

impl<T: Real, const P: usize> Optimiser<T> for RmsProp<T, P> {
    fn step(&mut self, params: &mut [T], grad: &[T]) -> Result<(), Error> {
        check_inputs::<T, P>(params, grad)?;
        let (a, r, e) = (self.alpha, self.rho, self.eps);
        let upd = |v: T, g: T| {
            let nv = r * v + (T::one() - r) * g * g;
            (nv, a * g / (nv.sqrt() + e))
        };
        let ok = params.iter().zip(grad).zip(&self.v).all(|((&p, &g), &v)| {
            let (nv, d) = upd(v, g);
            nv.finite() && (p + d).finite()
        });
        if !ok {
            return Err(Error::InvalidArgument { what: "step would give a non-finite value" });
        }
        for ((p, &g), v) in params.iter_mut().zip(grad).zip(self.v.iter_mut()) {
            let (nv, d) = upd(*v, g);
            *v = nv;
            *p += d;
        }
        self.t += 1;
        Ok(())
    }
    fn reset(&mut self) {
        self.v = [T::zero(); P];
        self.t = 0;
    }
    fn steps(&self) -> u64 {
        self.t
    }
}

/// Adam with bias correction (§11); `β1^t`, `β2^t` are running products.
#[derive(Clone, Copy, Debug)]
pub struct Adam<T, const P: usize> {
    alpha: T,
    beta1: T,
    beta2: T,
    eps: T,
    m: [T; P],
    v: [T; P],
    b1t: T,
    b2t: T,
    t: u64,
}

impl<T: Real, const P: usize> Adam<T, P> {
    /// Adam with step `α > 0`, `β1, β2 ∈ [0, 1)`, `ε > 0`.
    ///
    /// # Errors
    /// `InvalidConfig` naming `alpha`, `beta1`, `beta2` or `eps`.
    pub fn new(alpha: T, beta1: T, beta2: T, eps: T) -> Result<Self, Error> {
        const { assert!(P > 0) }
        check_config(alpha, true, "alpha")?;
        check_unit(beta1, "beta1")?;
        check_unit(beta2, "beta2")?;
        check_config(eps, true, "eps")?;
        let z = [T::zero(); P];
        Ok(Self { alpha, beta1, beta2, eps, m: z, v: z, b1t: T::one(), b2t: T::one(), t: 0 })
    }
    /// Defaults of §11: `α = 1e−3`, `β1 = 0.9`, `β2 = 0.999`, `ε = 1e−8`.
    pub fn with_defaults() -> Self {
        const { assert!(P > 0) }
        let z = [T::zero(); P];
        let (alpha, beta1, beta2, eps) = (T::of(1e-3), T::of(0.9), T::of(0.999), T::of(1e-8));
        Self { alpha, beta1, beta2, eps, m: z, v: z, b1t: T::one(), b2t: T::one(), t: 0 }
    }
    /// The §11 defaults with another step size `α`.
    ///
    /// # Errors
    /// `InvalidConfig { field: "alpha" }` unless `α > 0` and finite.
    pub fn with_step(alpha: T) -> Result<Self, Error> {
        Self::new(alpha, T::of(0.9), T::of(0.999), T::of(1e-8))
    }
}

impl<T: Real, const P: usize> Optimiser<T> for Adam<T, P> {
    fn step(&mut self, params: &mut [T], grad: &[T]) -> Result<(), Error> {
        check_inputs::<T, P>(params, grad)?;
        let (a, b1, b2, e) = (self.alpha, self.beta1, self.beta2, self.eps);
        let (b1t, b2t) = (self.b1t * b1, self.b2t * b2);
        let (c1, c2) = (T::one() - b1t, T::one() - b2t);
        let upd = |m: T, v: T, g: T| {
            let nm = b1 * m + (T::one() - b1) * g;
            let nv = b2 * v + (T::one() - b2) * g * g;
            (nm, nv, a * (nm / c1) / ((nv / c2).sqrt() + e))
        };
        let ok = params.iter().zip(grad).zip(self.m.iter().zip(&self.v)).all(|((&p, &g), (&m, &v))| {
            let (nm, nv, d) = upd(m, v, g);
            nm.finite() && nv.finite() && (p + d).finite()
        });
        if !ok {
            return Err(Error::InvalidArgument { what: "step would give a non-finite value" });
        }
        for ((p, &g), (m, v)) in params.iter_mut().zip(grad).zip(self.m.iter_mut().zip(self.v.iter_mut())) {
            let (nm, nv, d) = upd(*m, *v, g);
            *m = nm;
            *v = nv;
            *p += d;
        }
        self.b1t = b1t;
        self.b2t = b2t;
        self.t += 1;
        Ok(())
    }
    fn reset(&mut self) {
        self.m = [T::zero(); P];
        self.v = [T::zero(); P];
        self.b1t = T::one();
        self.b2t = T::one();
        self.t = 0;
    }
    fn steps(&self) -> u64 {
        self.t
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use gmmvi::rng::fill_standard_normal;
    use rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    /// Gradient of `F(λ) = −½(λ₁ − 3)² − 50(λ₂ − 1)²`.
    fn grad(l: &[f64; 2]) -> [f64; 2] {
        [3.0 - l[0], 100.0 * (1.0 - l[1])]
    }

    fn run(opt: &mut impl Optimiser<f64>, want: &[[f64; 2]; 3], tol: f64) {
        let mut l = [0.0f64; 2];
        for w in want {
            let g = grad(&l);
            opt.step(&mut l, &g).unwrap();
            for (a, b) in l.iter().zip(w) {
                assert!((a - b).abs() <= tol, "{l:?} vs {w:?}");
            }
        }
    }

    #[test]
    fn sgd_steps() {
        let mut o = Sgd::<f64, 2>::new(RobbinsMonro::constant(0.005).unwrap());
        run(&mut o, &[[0.015, 0.5], [0.029925, 0.75], [0.044775375, 0.875]], 1e-9);
    }

    #[test]
    fn momentum_steps() {
        let mut o = Momentum::<f64, 2>::new(0.005, 0.9).unwrap();
        run(&mut o, &[[0.015, 0.5], [0.043425, 1.2], [0.083790375, 1.73]], 1e-9);
    }

    #[test]
    fn adagrad_steps() {
        let mut o = AdaGrad::<f64, 2>::new(0.5, 1e-10).unwrap();
        // The §11 values are given to 10 significant digits.
        run(&mut o, &[[0.5, 0.5], [0.8200921998, 0.7236067977], [1.063801128, 0.843601264]], 1e-9);
    }

    #[test]
    fn rmsprop_steps() {
        let mut o = RmsProp::<f64, 2>::new(0.01, 0.9, 1e-8).unwrap();
        run(&mut o, &[[0.0316227763, 0.0316227766], [0.0544488419, 0.0542119753], [0.07350346, 0.0729469022]], 1e-9);
    }

    #[test]
    fn adam_steps() {
        let mut o = Adam::<f64, 2>::with_step(0.1).unwrap();
        run(&mut o, &[[0.0999999997, 0.1], [0.1998972922, 0.1995877723], [0.299618476, 0.2984137286]], 1e-9);
        // First step ≈ α·sign(g) regardless of the gradient's scale.
        for scale in [1e-6, 1.0, 1e6] {
            let mut o = Adam::<f64, 2>::with_step(0.1).unwrap();
            let mut l = [0.0; 2];
            o.step(&mut l, &[scale, -scale]).unwrap();
            assert!((l[0] - 0.1).abs() < 1e-3 && (l[1] + 0.1).abs() < 1e-3);
        }
    }

    #[test]
    fn f32_steps() {
        // The Adam table in f32: agreement to f32 precision (5e−6 on values ≲ 0.3).
        let mut o = Adam::<f32, 2>::with_step(0.1).unwrap();
        let mut l = [0.0f32; 2];
        let want: [[f64; 2]; 3] = [[0.1, 0.1], [0.1998972922, 0.1995877723], [0.299618476, 0.2984137286]];
        for w in want {
            let g = [3.0 - l[0], 100.0 * (1.0 - l[1])];
            o.step(&mut l, &g).unwrap();
            assert!((l[0] as f64 - w[0]).abs() < 5e-6 && (l[1] as f64 - w[1]).abs() < 5e-6, "{l:?}");
        }
    }

    #[test]
    fn rm1_running_mean() {
        let mut o = Sgd::<f64, 1>::new(RobbinsMonro::new(1.0, 0.0, 1.0).unwrap());
        let xi = [0.5, -1.0, 0.25, 2.0];
        let want = [3.5, 2.75, 2.9166666667, 3.4375];
        let mut l = [0.0];
        for (x, w) in xi.iter().zip(want) {
            let g = [3.0 - l[0] + x];
            o.step(&mut l, &g).unwrap();
            assert!((l[0] - w).abs() < 1e-9);
        }
    }

    #[test]
    fn rm2_tp1_pathwise() {
        // TP1: m = 1, s = 2; q = N(μ, e^{2ω}) from (0, 0); pathwise gradients with S = 10.
        let (m, s2) = (1.0f64, 4.0f64);
        let mut o = Sgd::<f64, 2>::new(RobbinsMonro::default_schedule());
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut lam = [0.0f64, 0.0];
        let mut eps = [0.0f64; 10];
        for _ in 0..5000 {
            fill_standard_normal(&mut rng, &mut eps);
            let sigma = lam[1].exp();
            let (mut gm, mut gw) = (0.0, 0.0);
            for &e in &eps {
                let x = lam[0] + sigma * e;
                let gp = -(x - m) / s2;
                gm += gp;
                gw += gp * sigma * e;
            }
            let g = [gm / 10.0, gw / 10.0 + 1.0];
            o.step(&mut lam, &g).unwrap();
        }
        let (mu, sigma) = (lam[0], lam[1].exp());
        std::eprintln!("RM2 mu {mu} sigma {sigma}");
        assert!((mu - 1.0).abs() < 0.08, "mu = {mu}");
        assert!((sigma - 2.0).abs() < 0.15, "sigma = {sigma}");
    }

    #[test]
    fn rejects_bad_config_and_input() {
        assert_eq!(Adam::<f64, 2>::new(0.0, 0.9, 0.999, 1e-8).err(), Some(Error::InvalidConfig { field: "alpha" }));
        assert_eq!(Adam::<f64, 2>::new(0.1, 1.0, 0.999, 1e-8).err(), Some(Error::InvalidConfig { field: "beta1" }));
        assert_eq!(Adam::<f64, 2>::new(0.1, 0.9, f64::NAN, 1e-8).err(), Some(Error::InvalidConfig { field: "beta2" }));
        assert_eq!(Adam::<f64, 2>::new(0.1, 0.9, 0.99, -1.0).err(), Some(Error::InvalidConfig { field: "eps" }));
        assert_eq!(RmsProp::<f64, 2>::new(0.1, -0.1, 1e-8).err(), Some(Error::InvalidConfig { field: "rho" }));
        assert_eq!(Momentum::<f64, 2>::new(f64::INFINITY, 0.5).err(), Some(Error::InvalidConfig { field: "alpha" }));
        assert_eq!(AdaGrad::<f64, 2>::new(0.1, 0.0).err(), Some(Error::InvalidConfig { field: "eps" }));
        assert_eq!(RobbinsMonro::<f64>::new(1.0, -1.0, 0.7).err(), Some(Error::InvalidConfig { field: "tau" }));
        assert_eq!(RobbinsMonro::<f64>::new(1.0, 1.0, 1.5).err(), Some(Error::InvalidConfig { field: "kappa" }));

        let mut o = Adam::<f64, 2>::with_defaults();
        let mut l = [1.0, 2.0];
        o.step(&mut l, &[0.5, 0.5]).unwrap();
        let (before, state) = (l, o);
        assert!(o.step(&mut l, &[f64::NAN, 0.0]).is_err());
        assert!(o.step(&mut l, &[0.0, f64::INFINITY]).is_err());
        assert!(o.step(&mut l, &[0.0]).is_err());
        assert!(o.step(&mut l[..1], &[0.0]).is_err());
        assert_eq!(l, before);
        assert_eq!((o.m, o.v, o.t), (state.m, state.v, state.t));
        let mut s = Sgd::<f64, 1>::new(RobbinsMonro::constant(1.0).unwrap());
        let mut p = [f64::MAX];
        assert!(s.step(&mut p, &[f64::MAX]).is_err());
        assert_eq!((p[0], s.steps()), (f64::MAX, 0));
        let mut a = AdaGrad::<f64, 1>::with_defaults();
        let mut r = RmsProp::<f64, 1>::with_defaults();
        let mut mo = Momentum::<f64, 1>::with_defaults();
        for opt in [&mut a as &mut dyn Optimiser<f64>, &mut r, &mut mo] {
            let mut p = [0.0];
            assert!(opt.step(&mut p, &[f64::NAN]).is_err());
            opt.step(&mut p, &[1.0]).unwrap();
            assert!(p[0] > 0.0 && opt.steps() == 1);
            opt.reset();
            assert_eq!(opt.steps(), 0);
        }
    }
}

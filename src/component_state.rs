//! The optimiser state kept next to each component (docs/algorithm.md §0.6): step size, the
//! trust region's last multiplier η, the number of updates received and the MORE ridge
//! coefficient. It is reset, moved and removed together with its component, in one place each:
//! [`ComponentStates::reset`], [`ComponentStates::remove`].

use crate::checkpoint::{Reader, Writer, bad};
use crate::error::Error;
use crate::ng_estimate::more;
use crate::real::Real;

/// One component's optimiser state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ComponentState<T> {
    /// KL bound of the trust-region update, natural-gradient step size of the others (§6).
    pub stepsize: T,
    /// Multiplier η of the last update if it was an accepted trust-region one (its warm start,
    /// §5.3); `None` starts the next search cold.
    pub last_eta: Option<T>,
    /// Updates received, accepted or not.
    pub n_updates: u64,
    /// Ridge coefficient λ of the MORE regression (§5.4).
    pub l2: T,
}

impl<T: Real> ComponentState<T> {
    /// The state of a new component.
    pub fn new(stepsize: T, l2: T) -> Self {
        Self { stepsize, last_eta: None, n_updates: 0, l2 }
    }

    /// Books one component update: `Some(eta)` if it was applied (`eta` the trust-region
    /// multiplier, if any), `None` if it was rejected.
    pub fn record_update(&mut self, applied: Option<Option<T>>, initial_l2: T) {
        self.last_eta = applied.flatten();
        self.l2 = more::adapt_ridge(self.l2, applied.is_some(), initial_l2);
        self.n_updates += 1;
    }
}

/// The states of up to `COMPONENTS` components, stored field by field: the layout (no padding between a
/// `u64` count and `f32` values) and the order of the checkpoint format.
#[derive(Clone, Debug)]
pub(crate) struct ComponentStates<T, const COMPONENTS: usize> {
    stepsize: [T; COMPONENTS],
    /// Negative: no η (the checkpoint format's −1).
    last_eta: [T; COMPONENTS],
    n_updates: [u64; COMPONENTS],
    l2: [T; COMPONENTS],
}

impl<T: Real, const COMPONENTS: usize> ComponentStates<T, COMPONENTS> {
    /// All zeros (see `Optimizer::BLANK`).
    pub const BLANK: Self = Self {
        stepsize: [T::ZERO_CONST; COMPONENTS],
        last_eta: [T::ZERO_CONST; COMPONENTS],
        n_updates: [0; COMPONENTS],
        l2: [T::ZERO_CONST; COMPONENTS],
    };

    /// Component `k`'s state (`k < K`).
    #[inline]
    pub fn get(&self, k: usize) -> ComponentState<T> {
        let k = k % COMPONENTS;
        let eta = self.last_eta[k];
        ComponentState {
            stepsize: self.stepsize[k],
            last_eta: (eta >= T::zero()).then_some(eta),
            n_updates: self.n_updates[k],
            l2: self.l2[k],
        }
    }

    /// Stores component `k`'s state (`k < K`).
    #[inline]
    pub fn set(&mut self, k: usize, s: &ComponentState<T>) {
        let k = k % COMPONENTS;
        self.stepsize[k] = s.stepsize;
        self.last_eta[k] = s.last_eta.unwrap_or(-T::one());
        self.n_updates[k] = s.n_updates;
        self.l2[k] = s.l2;
    }

    /// Sets component `k`'s step size (`k < K`).
    #[inline]
    pub fn set_stepsize(&mut self, k: usize, stepsize: T) {
        self.stepsize[k % COMPONENTS] = stepsize;
    }

    /// Every slot set to `s` (a new model).
    pub fn reset_all(&mut self, s: &ComponentState<T>) {
        for k in 0..COMPONENTS {
            self.set(k, s);
        }
    }

    /// Slot `k` set to `s` (an added component).
    #[inline]
    pub fn reset(&mut self, k: usize, s: &ComponentState<T>) {
        if k < COMPONENTS {
            self.set(k, s);
        }
    }

    /// Removes slot `k` of `n` active ones, shifting the later ones down (a deleted component).
    pub fn remove(&mut self, k: usize, n: usize) {
        for i in k..n.min(COMPONENTS).saturating_sub(1) {
            self.stepsize[i] = self.stepsize[i + 1];
            self.last_eta[i] = self.last_eta[i + 1];
            self.n_updates[i] = self.n_updates[i + 1];
            self.l2[i] = self.l2[i + 1];
        }
    }

    /// The step sizes of all slots.
    pub fn stepsizes(&self) -> &[T; COMPONENTS] {
        &self.stepsize
    }

    /// Checkpoint form: step sizes, last η (−1 for none), ridge coefficients, update counts.
    pub fn save(&self, w: &mut Writer) {
        w.reals(&self.stepsize);
        w.reals(&self.last_eta);
        w.reals(&self.l2);
        for &n in &self.n_updates {
            w.u64(n);
        }
    }

    /// Reads the checkpoint form, storing it only if `WRITE`.
    pub fn load<const WRITE: bool>(&mut self, r: &mut Reader) -> Result<(), Error> {
        for arr in [&mut self.stepsize, &mut self.last_eta, &mut self.l2] {
            for v in arr.iter_mut() {
                let x: T = r.real()?;
                if !x.finite() {
                    return Err(bad("non-finite step size"));
                }
                if WRITE {
                    *v = x;
                }
            }
        }
        for n in &mut self.n_updates {
            let x = r.u64()?;
            if WRITE {
                *n = x;
            }
        }
        Ok(())
    }
}

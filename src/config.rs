//! Hyperparameters of the optimiser (spec algorithm.md §11), one plain value with the spec's
//! defaults. [`Config::samtrux`] is the paper's recommended method with the library defaults;
//! [`Config::validate`] names the first invalid field.

use heapless::Vec;

use crate::error::Error;
use crate::real::Real;

/// Most entries of the add-heuristic threshold list.
pub const MAX_ADD_THRESHOLDS: usize = 8;

/// Sample selection, letter `M` (component-based, spec §4, §9.2).
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSelectionConfig<T> {
    /// `desired_samples_per_component` (`n_des`), default 100.
    pub desired_samples_per_component: usize,
    /// `ratio_reused_samples_to_desired`; the reuse pass takes the newest
    /// `floor(ratio · n_des) · K` stored samples. Default 2.0.
    pub reuse_ratio: T,
    /// `max_database_size`: the store is thinned (every second row kept) when an insert would
    /// exceed `min(max_database_size, S)`. Default `usize::MAX`, i.e. the capacity `S`.
    pub max_database_size: usize,
}

/// Natural-gradient estimation, letter `S` (Stein, spec §2.1).
#[derive(Clone, Debug, PartialEq)]
pub struct NgEstimationConfig {
    /// Use only the samples a component drew itself in this iteration. Default false; `true`
    /// is rejected by [`Config::validate`] in this version.
    pub only_use_own_samples: bool,
    /// Self-normalised importance weights (default true) or plain ones.
    pub self_normalized: bool,
}

/// Improvement-based component step size, letter `R` (spec §6). For the trust-region update
/// the "step size" is the KL bound ε.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentStepConfig<T> {
    /// Step size of a new component. Default 1.0.
    pub initial: T,
    /// Lower clip. Default 0.001.
    pub min: T,
    /// Upper clip. Default 1.0.
    pub max: T,
    /// Factor after an improvement. Default 1.15.
    pub inc_factor: T,
    /// Factor otherwise. Default 0.85.
    pub dec_factor: T,
}

/// Direct weight update, letter `U` (spec §7.2).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightUpdateConfig {
    /// Self-normalised importance weights for the expected log ratios (default true).
    pub self_normalized: bool,
}

/// Fixed weight step size, letter `X` (spec §8).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightStepConfig<T> {
    /// The step size `β_w`. Default 1.0.
    pub initial: T,
}

/// Adaptive number of components, letter `A` (spec §3, §10).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptConfig<T> {
    /// Delete heuristic runs once `iteration > del_iters`. Default 100.
    pub del_iters: usize,
    /// A component is added when `iteration % add_iters == 0`. Default 30.
    pub add_iters: usize,
    /// No component is added beyond this many (also bounded by the capacity `K`). Default 1000.
    pub max_components: usize,
    /// Thresholds `τ` of the add heuristic, used cyclically starting at index 1.
    /// Default `[5000, 1000, 500, 200, 100, 50]`.
    pub thresholds: Vec<T, MAX_ADD_THRESHOLDS>,
    /// A component whose weight never exceeded this in the window may be deleted. Default 1e-6.
    pub min_weight_for_del: T,
    /// Candidate count drawn from the store by the add heuristic. Default 100 000.
    pub num_database_samples: usize,
    /// Extra candidates drawn from the prior (and evaluated) per add. Default 0; other values
    /// are rejected by [`Config::validate`] in this version.
    pub num_prior_samples: usize,
}

/// All hyperparameters of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config<T> {
    /// Temperature `T` of `max E_q[log p~] + T·H(q)` (spec §0). Default 1.
    pub temperature: T,
    /// Sample selection (§4, §9).
    pub samples: SampleSelectionConfig<T>,
    /// Natural-gradient estimation (§2).
    pub ng: NgEstimationConfig,
    /// Component step size (§6).
    pub component_step: ComponentStepConfig<T>,
    /// Weight update (§7).
    pub weight_update: WeightUpdateConfig,
    /// Weight step size (§8).
    pub weight_step: WeightStepConfig<T>,
    /// Adaptive number of components (§10).
    pub adapt: AdaptConfig<T>,
}

impl<T: Real> Default for Config<T> {
    fn default() -> Self {
        Self::samtrux()
    }
}

impl<T: Real> Config<T> {
    /// SAMTRUX with the library defaults of spec §11.
    pub fn samtrux() -> Self {
        let mut thresholds = Vec::new();
        for t in [5000.0, 1000.0, 500.0, 200.0, 100.0, 50.0] {
            // Capacity 8 > 6 entries: cannot fail.
            let _ = thresholds.push(T::of(t));
        }
        Self {
            temperature: T::one(),
            samples: SampleSelectionConfig {
                desired_samples_per_component: 100,
                reuse_ratio: T::of(2.0),
                max_database_size: usize::MAX,
            },
            ng: NgEstimationConfig { only_use_own_samples: false, self_normalized: true },
            component_step: ComponentStepConfig {
                initial: T::one(),
                min: T::of(0.001),
                max: T::one(),
                inc_factor: T::of(1.15),
                dec_factor: T::of(0.85),
            },
            weight_update: WeightUpdateConfig { self_normalized: true },
            weight_step: WeightStepConfig { initial: T::one() },
            adapt: AdaptConfig {
                del_iters: 100,
                add_iters: 30,
                max_components: 1000,
                thresholds,
                min_weight_for_del: T::of(1e-6),
                num_database_samples: 100_000,
                num_prior_samples: 0,
            },
        }
    }

    /// SAMTRUX with the paper's hyperparameters for planar_robot_4 (spec §12, row
    /// `samtrux.yml | Planar4`): `n_des = 100`, no reuse, `del/add = 10/1`, component KL bound
    /// 0.1 in [0.001, 1], weight step 0.85, store of 2·10⁶ samples (capped by `S`).
    pub fn samtrux_planar_robot_4() -> Self {
        let mut c = Self::samtrux();
        c.samples.desired_samples_per_component = 100;
        c.samples.reuse_ratio = T::zero();
        c.samples.max_database_size = 2_000_000;
        c.adapt.del_iters = 10;
        c.adapt.add_iters = 1;
        c.adapt.max_components = 1000;
        c.component_step.initial = T::of(0.1);
        c.component_step.min = T::of(0.001);
        c.component_step.max = T::one();
        c.weight_step.initial = T::of(0.85);
        c
    }

    /// Number of reward-history entries the deletion heuristic reads:
    /// `2·⌊del_iters/3⌋ + del_iters` (spec §0.6); the history capacity `H` must be at least this.
    pub fn history_needed(&self) -> usize {
        2 * (self.adapt.del_iters / 3) + self.adapt.del_iters
    }

    /// Rows the reuse pass asks for with `k` components: `floor(ratio · n_des) · k`.
    pub fn reuse_rows(&self, k: usize) -> usize {
        let n_re = (self.samples.reuse_ratio * T::of(self.samples.desired_samples_per_component as f64)).floor();
        (n_re.to_f64() as usize).saturating_mul(k)
    }

    /// Checks every value; `Err(InvalidConfig { field })` names the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field| Err(Error::InvalidConfig { field });
        let pos = |v: T| v > T::zero() && v.finite();
        if !pos(self.temperature) {
            return bad("temperature");
        }
        if self.samples.desired_samples_per_component == 0 {
            return bad("samples.desired_samples_per_component");
        }
        if !(self.samples.reuse_ratio >= T::zero()) || !self.samples.reuse_ratio.finite() {
            return bad("samples.reuse_ratio");
        }
        if self.samples.max_database_size == 0 {
            return bad("samples.max_database_size");
        }
        if self.ng.only_use_own_samples {
            return bad("ng.only_use_own_samples (not supported yet)");
        }
        let s = &self.component_step;
        if !pos(s.min) || !pos(s.max) || s.min > s.max {
            return bad("component_step.min/max");
        }
        if !pos(s.initial) {
            return bad("component_step.initial");
        }
        if !pos(s.inc_factor) || !pos(s.dec_factor) {
            return bad("component_step.inc_factor/dec_factor");
        }
        if !(self.weight_step.initial >= T::zero()) || !self.weight_step.initial.finite() {
            return bad("weight_step.initial");
        }
        let a = &self.adapt;
        if a.del_iters == 0 {
            return bad("adapt.del_iters");
        }
        if a.add_iters == 0 {
            return bad("adapt.add_iters");
        }
        if a.max_components == 0 {
            return bad("adapt.max_components");
        }
        if a.thresholds.is_empty() || a.thresholds.iter().any(|t| !pos(*t)) {
            return bad("adapt.thresholds");
        }
        if !(a.min_weight_for_del >= T::zero()) || !a.min_weight_for_del.finite() {
            return bad("adapt.min_weight_for_del");
        }
        if a.num_prior_samples > 0 {
            return bad("adapt.num_prior_samples (prior candidates are not supported yet; use 0)");
        }
        Ok(())
    }
}

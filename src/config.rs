//! Hyperparameters of the optimiser (Arenz et al. 2023, §4, Table 1, and App. H;
//! docs/algorithm.md §11, §12): one plain value holding the seven design choices of the unified
//! framework and every hyperparameter of each, with the reference's defaults. A 7-letter codeword
//! picks one option per choice ([`Config::from_codeword`]); [`Config::validate`] names the first
//! invalid field.
//!
//! | pos | design choice | letters | field |
//! |---|---|---|---|
//! | 1 | natural-gradient estimation (§2) | `Z` MORE, `S` Stein | [`Config::ng`] |
//! | 2 | number of components (§3, §10) | `A` adaptive, `E` fixed | [`Config::adapt`] |
//! | 3 | sample selection (§4, §9) | `M` component-based, `P` mixture-based | [`Config::samples`] |
//! | 4 | component update (§5) | `I` direct, `Y` iBLR, `T` trust region | [`Config::component_update`] |
//! | 5 | component step size (§6) | `F` fixed, `D` decaying, `R` improvement-based | [`Config::component_step`] |
//! | 6 | weight update (§7) | `U` direct, `O` trust region | [`Config::weight_update`] |
//! | 7 | weight step size (§8) | `X` fixed, `G` decaying, `N` improvement-based | [`Config::weight_step`] |
//!
//! ```
//! use gmmvi::Config;
//! let cfg = Config::<f64>::from_codeword("SEPYFUX").unwrap();
//! assert_eq!(cfg.codeword().as_str(), "SEPYFUX");
//! assert_eq!(cfg.component_step.initial, 1e-5); // the `F` default
//! assert!(cfg.validate().is_ok());
//! ```
//!
//! For the C ABI and the benchmark runner, [`Config::parse`] reads a short text form: an
//! optional codeword, then `key=value` overrides with the reference's YAML key names or a few
//! aliases (table at [`Config::set`]). Errors borrow the bad key from the input.
//!
//! ```
//! use gmmvi::{Config, config::ParseError};
//! let cfg = Config::<f64>::parse("SAMTRUX del_iters=10 add_iters=1 n_des=100 reuse=0 beta_w=0.85")?;
//! assert_eq!((cfg.adapt.del_iters, cfg.weight_step.initial), (10, 0.85));
//! let err = Config::<f64>::parse("SAMTRUX max_k=many").unwrap_err();
//! assert_eq!(err.key(), "max_k");
//! assert!(matches!(Config::<f64>::parse("SAMTRUX tempreature=2"), Err(ParseError::UnknownKey { .. })));
//! # Ok::<(), ParseError>(())
//! ```

use heapless::{String, Vec};

use crate::error::Error;
use crate::real::Real;

/// Most entries of the add-heuristic threshold list.
pub const MAX_ADD_THRESHOLDS: usize = 8;

/// Natural-gradient estimator, codeword position 1 (docs/algorithm.md §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NgEstimator {
    /// `Z`: zero-order MORE regression of the log ratio on quadratic features (§2.2).
    More,
    /// `S`: first-order Stein estimate from target gradients (§2.1).
    Stein,
}

/// Adaptation of the number of components, codeword position 2 (docs/algorithm.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentAdaptation {
    /// `A`: VIPS add/delete heuristics (§10).
    Adaptive,
    /// `E`: the number of components stays as initialised.
    Fixed,
}

/// Sample selection, codeword position 3 (docs/algorithm.md §4, §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleSelector {
    /// `M`: every component draws `n_des` samples minus its effective reused samples (§9.2).
    ComponentBased,
    /// `P`: `n_des` samples in total from the mixture minus its effective reused samples (§9.3).
    MixtureBased,
}

/// Natural-gradient-based component update, codeword position 4 (docs/algorithm.md §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComponentUpdater {
    /// `I`: direct step in the natural parameters (§5.1).
    Direct,
    /// `Y`: improved Bayesian learning rule (§5.2).
    Iblr,
    /// `T`: KL-bounded trust-region step (§5.3).
    TrustRegion,
}

/// Step-size schedule (docs/algorithm.md §6 for components, §8 for the weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepSchedule {
    /// `F` (components) / `X` (weights): constant `initial`.
    Fixed,
    /// `D` / `G`: `initial / (1 + n^annealing_exponent)`.
    Decaying,
    /// `R` / `N`: multiplied by `inc_factor` after an improvement, by `dec_factor` otherwise,
    /// clipped to `[min, max]`.
    ImprovementBased,
}

/// Weight update, codeword position 6 (docs/algorithm.md §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightUpdater {
    /// `U`: direct natural-gradient step on the log weights (§7.2).
    Direct,
    /// `O`: KL-bounded step on the categorical weights (§7.3).
    TrustRegion,
}

/// Sample selection (docs/algorithm.md §4, §9).
#[derive(Clone, Debug, PartialEq)]
pub struct SampleSelectionConfig<T> {
    /// `M` or `P`.
    pub selector: SampleSelector,
    /// `desired_samples_per_component` (`n_des`), default 100. For `P` it is the total number
    /// of desired samples per iteration.
    pub desired_samples_per_component: usize,
    /// `ratio_reused_samples_to_desired`; the reuse pass takes the newest
    /// `floor(ratio · n_des) · K` stored samples. Default 2.0 for `M`, 0.0 for `P`.
    pub reuse_ratio: T,
    /// `max_database_size`: the store is thinned (every second row kept) when an insert would
    /// exceed `min(max_database_size, S)`. Default `usize::MAX`, i.e. the capacity `S`.
    pub max_database_size: usize,
    /// `use_sample_database` (docs/algorithm.md §9.1 step 3), default `true`: new samples are
    /// appended to the store. `false`: each iteration's batch replaces the store, so the working
    /// set and the add heuristic's stored candidates are that batch alone (the reuse pass still
    /// weighs the previous batch when choosing how many samples to draw, as the reference does).
    pub use_sample_database: bool,
}

/// Natural-gradient estimation (docs/algorithm.md §2).
#[derive(Clone, Debug, PartialEq)]
pub struct NgEstimationConfig<T> {
    /// `Z` or `S`.
    pub estimator: NgEstimator,
    /// Use only the samples a component drew itself in this iteration, as plain Monte Carlo
    /// over them (docs/algorithm.md §2, "Sample subset per component"; the paper's WINE configs).
    /// Default false: every working-set sample, importance-weighted against its background.
    pub only_use_own_samples: bool,
    /// Self-normalised importance weights (default true) or plain ones.
    pub self_normalized: bool,
    /// MORE only: initial (and smallest) ridge coefficient λ of every component (§5.4).
    /// Default 1e-12.
    pub initial_l2_regularizer: T,
}

/// Component update (docs/algorithm.md §5); the options have no hyperparameters of their own.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentUpdateConfig {
    /// `I`, `Y` or `T`.
    pub updater: ComponentUpdater,
}

/// Component step size (docs/algorithm.md §6). For the trust-region update the "step size" is the
/// KL bound ε, for `I`/`Y` the natural-gradient step size β.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentStepConfig<T> {
    /// `F`, `D` or `R`.
    pub schedule: StepSchedule,
    /// Step size of a new component. Default 1e-5 for `F`, 1.0 for `D` and `R`.
    pub initial: T,
    /// `R`: lower clip. Default 0.001.
    pub min: T,
    /// `R`: upper clip. Default 1.0.
    pub max: T,
    /// `R`: factor after an improvement. Default 1.15.
    pub inc_factor: T,
    /// `R`: factor otherwise. Default 0.85.
    pub dec_factor: T,
    /// `D`: `β_k = initial / (1 + n_k^a)` with `n_k` the component's received updates.
    /// Default 0.55.
    pub annealing_exponent: T,
}

/// Weight update (docs/algorithm.md §7).
#[derive(Clone, Debug, PartialEq)]
pub struct WeightUpdateConfig {
    /// `U` or `O`.
    pub updater: WeightUpdater,
    /// Self-normalised importance weights for the expected log ratios (default true).
    pub self_normalized: bool,
}

/// Weight step size (docs/algorithm.md §8): a step size for `U`, a KL bound for `O`.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightStepConfig<T> {
    /// `X`, `G` or `N`.
    pub schedule: StepSchedule,
    /// The first step size. Default 1.0.
    pub initial: T,
    /// `N`: lower clip. Default 0.0001.
    pub min: T,
    /// `N`: upper clip. Default 1.0.
    pub max: T,
    /// `N`: factor after an improvement. Default 1.15.
    pub inc_factor: T,
    /// `N`: factor otherwise. Default 0.85.
    pub dec_factor: T,
    /// `G`: `β_w = initial / (1 + m^a)` with `m` the previous calls. The reference ships no
    /// default (`TODO` in its config), so `G` needs it set: `None` is rejected by
    /// [`Config::validate`].
    pub annealing_exponent: Option<T>,
}

/// Adaptive number of components (docs/algorithm.md §3, §10).
#[derive(Clone, Debug, PartialEq)]
pub struct AdaptConfig<T> {
    /// `A` or `E` (with `E` the other fields are unused).
    pub mode: ComponentAdaptation,
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
    /// Extra candidates drawn from the prior (and evaluated: they count as evaluations) per add.
    /// Default 0; more needs the prior's mean ([`crate::Optimizer::set_prior`]).
    pub num_prior_samples: usize,
}

/// All hyperparameters of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config<T> {
    /// Temperature `T` of `max E_q[log p~] + T·H(q)` (docs/algorithm.md §0). Default 1.
    pub temperature: T,
    /// Natural-gradient estimation (§2), codeword position 1.
    pub ng: NgEstimationConfig<T>,
    /// Adaptive number of components (§3, §10), position 2.
    pub adapt: AdaptConfig<T>,
    /// Sample selection (§4, §9), position 3.
    pub samples: SampleSelectionConfig<T>,
    /// Component update (§5), position 4.
    pub component_update: ComponentUpdateConfig,
    /// Component step size (§6), position 5.
    pub component_step: ComponentStepConfig<T>,
    /// Weight update (§7), position 6.
    pub weight_update: WeightUpdateConfig,
    /// Weight step size (§8), position 7.
    pub weight_step: WeightStepConfig<T>,
}

impl<T: Real> Default for Config<T> {
    fn default() -> Self {
        Self::samtrux()
    }
}

/// The letters of each codeword position, in the order of the enums' variants.
const LETTERS: [&[u8]; 7] = [b"ZS", b"AE", b"MP", b"IYT", b"FDR", b"UO", b"XGN"];

/// The error field naming a bad letter at each codeword position.
const CODEWORD_FIELDS: [&str; 7] = [
    "codeword position 1 (Z or S)",
    "codeword position 2 (A or E)",
    "codeword position 3 (M or P)",
    "codeword position 4 (I, Y or T)",
    "codeword position 5 (F, D or R)",
    "codeword position 6 (U or O)",
    "codeword position 7 (X, G or N)",
];

/// Why a codeword was rejected: its length, or the first position (0-based) with a bad letter.
#[derive(Clone, Copy)]
enum CodewordError {
    Length,
    Letter(usize),
}

impl CodewordError {
    fn field(self) -> &'static str {
        match self {
            CodewordError::Length => CODEWORD_LENGTH_FIELD,
            CodewordError::Letter(i) => CODEWORD_FIELDS.get(i).copied().unwrap_or(CODEWORD_LENGTH_FIELD),
        }
    }
}

const CODEWORD_LENGTH_FIELD: &str = "codeword (must have 7 letters)";

/// The option index of each position of `code` (index into `LETTERS[i]`).
fn codeword_options(code: &str) -> Result<[usize; 7], CodewordError> {
    let b = code.as_bytes();
    if b.len() != 7 {
        return Err(CodewordError::Length);
    }
    let mut idx = [0usize; 7];
    for (i, ((&c, letters), slot)) in b.iter().zip(LETTERS.iter()).zip(idx.iter_mut()).enumerate() {
        *slot = letters.iter().position(|&l| l == c).ok_or(CodewordError::Letter(i))?;
    }
    Ok(idx)
}

impl<T: Real> Config<T> {
    /// Zeros and first variants: a placeholder (see `Optimizer::BLANK`), not a valid
    /// configuration.
    pub(crate) const BLANK: Self = Self {
        temperature: T::ZERO_CONST,
        ng: NgEstimationConfig {
            estimator: NgEstimator::More,
            only_use_own_samples: false,
            self_normalized: false,
            initial_l2_regularizer: T::ZERO_CONST,
        },
        adapt: AdaptConfig {
            mode: ComponentAdaptation::Adaptive,
            del_iters: 0,
            add_iters: 0,
            max_components: 0,
            thresholds: Vec::new(),
            min_weight_for_del: T::ZERO_CONST,
            num_database_samples: 0,
            num_prior_samples: 0,
        },
        samples: SampleSelectionConfig {
            selector: SampleSelector::ComponentBased,
            desired_samples_per_component: 0,
            reuse_ratio: T::ZERO_CONST,
            max_database_size: 0,
            use_sample_database: false,
        },
        component_update: ComponentUpdateConfig { updater: ComponentUpdater::Direct },
        component_step: ComponentStepConfig {
            schedule: StepSchedule::Fixed,
            initial: T::ZERO_CONST,
            min: T::ZERO_CONST,
            max: T::ZERO_CONST,
            inc_factor: T::ZERO_CONST,
            dec_factor: T::ZERO_CONST,
            annealing_exponent: T::ZERO_CONST,
        },
        weight_update: WeightUpdateConfig { updater: WeightUpdater::Direct, self_normalized: false },
        weight_step: WeightStepConfig {
            schedule: StepSchedule::Fixed,
            initial: T::ZERO_CONST,
            min: T::ZERO_CONST,
            max: T::ZERO_CONST,
            inc_factor: T::ZERO_CONST,
            dec_factor: T::ZERO_CONST,
            annealing_exponent: None,
        },
    };

    /// The configuration of a 7-letter codeword (docs/algorithm.md §11): per position the option
    /// and its default hyperparameters, merged letter by letter.
    ///
    /// # Errors
    /// `InvalidConfig` with `field` `"codeword (must have 7 letters)"`, or
    /// `"codeword position N (…)"` for the first letter not allowed at its position (upper case
    /// only).
    pub fn from_codeword(code: &str) -> Result<Self, Error> {
        codeword_options(code).map(Self::with_options).map_err(|e| Error::InvalidConfig { field: e.field() })
    }

    /// The codeword defaults for option indices `idx` (position i: index into `LETTERS[i]`).
    fn with_options(idx: [usize; 7]) -> Self {
        let mut thresholds = Vec::new();
        for t in [5000.0, 1000.0, 500.0, 200.0, 100.0, 50.0] {
            // Capacity 8 > 6 entries: cannot fail.
            let _ = thresholds.push(T::of(t));
        }
        let mixture = idx[2] == 1;
        Self {
            temperature: T::one(),
            ng: NgEstimationConfig {
                estimator: if idx[0] == 0 { NgEstimator::More } else { NgEstimator::Stein },
                only_use_own_samples: false,
                self_normalized: true,
                initial_l2_regularizer: T::of(1e-12),
            },
            adapt: AdaptConfig {
                mode: if idx[1] == 0 { ComponentAdaptation::Adaptive } else { ComponentAdaptation::Fixed },
                del_iters: 100,
                add_iters: 30,
                max_components: 1000,
                thresholds,
                min_weight_for_del: T::of(1e-6),
                num_database_samples: 100_000,
                num_prior_samples: 0,
            },
            samples: SampleSelectionConfig {
                selector: if mixture { SampleSelector::MixtureBased } else { SampleSelector::ComponentBased },
                desired_samples_per_component: 100,
                reuse_ratio: T::of(if mixture { 0.0 } else { 2.0 }),
                max_database_size: usize::MAX,
                use_sample_database: true,
            },
            component_update: ComponentUpdateConfig {
                updater: match idx[3] {
                    0 => ComponentUpdater::Direct,
                    1 => ComponentUpdater::Iblr,
                    _ => ComponentUpdater::TrustRegion,
                },
            },
            component_step: ComponentStepConfig {
                schedule: schedule_of(idx[4]),
                initial: T::of(if idx[4] == 0 { 1e-5 } else { 1.0 }),
                min: T::of(0.001),
                max: T::one(),
                inc_factor: T::of(1.15),
                dec_factor: T::of(0.85),
                annealing_exponent: T::of(0.55),
            },
            weight_update: WeightUpdateConfig {
                updater: if idx[5] == 0 { WeightUpdater::Direct } else { WeightUpdater::TrustRegion },
                self_normalized: true,
            },
            weight_step: WeightStepConfig {
                schedule: schedule_of(idx[6]),
                initial: T::one(),
                min: T::of(0.0001),
                max: T::one(),
                inc_factor: T::of(1.15),
                dec_factor: T::of(0.85),
                annealing_exponent: None,
            },
        }
    }

    /// The codeword of the chosen options.
    pub fn codeword(&self) -> String<7> {
        let sched = |s: StepSchedule| match s {
            StepSchedule::Fixed => 0,
            StepSchedule::Decaying => 1,
            StepSchedule::ImprovementBased => 2,
        };
        let idx = [
            (self.ng.estimator == NgEstimator::Stein) as usize,
            (self.adapt.mode == ComponentAdaptation::Fixed) as usize,
            (self.samples.selector == SampleSelector::MixtureBased) as usize,
            self.component_update.updater as usize,
            sched(self.component_step.schedule),
            (self.weight_update.updater == WeightUpdater::TrustRegion) as usize,
            sched(self.weight_step.schedule),
        ];
        let mut s = String::new();
        for (letters, &i) in LETTERS.iter().zip(idx.iter()) {
            if let Some(&c) = letters.get(i) {
                // Capacity 7, seven pushes: cannot fail.
                let _ = s.push(c as char);
            }
        }
        s
    }

    /// SAMTRUX with the defaults of docs/algorithm.md §11: Stein, adaptive, component-based
    /// samples, trust-region components with improvement-based KL bounds, direct weights with a
    /// fixed step (the paper's recommended method).
    pub fn samtrux() -> Self {
        Self::with_options([1, 0, 0, 2, 2, 0, 0])
    }

    /// SAMTRON (docs/algorithm.md §11): SAMTRUX with trust-region weights and improvement-based
    /// weight KL bounds.
    pub fn samtron() -> Self {
        Self::with_options([1, 0, 0, 2, 2, 1, 2])
    }

    /// ZAMTRUX (docs/algorithm.md §11), close to VIPS: SAMTRUX with the zero-order MORE estimator.
    pub fn zamtrux() -> Self {
        Self::with_options([0, 0, 0, 2, 2, 0, 0])
    }

    /// SEPIFUX (docs/algorithm.md §11): Stein, fixed components, mixture samples without reuse,
    /// direct component steps of fixed size 1e-5, direct weights with a fixed step.
    pub fn sepifux() -> Self {
        Self::with_options([1, 1, 1, 0, 0, 0, 0])
    }

    /// SEPYFUX (docs/algorithm.md §11), close to iBayes-GMM: SEPIFUX with the iBLR component
    /// update.
    pub fn sepyfux() -> Self {
        Self::with_options([1, 1, 1, 1, 0, 0, 0])
    }

    /// SAMTRUX with the paper's hyperparameters for planar_robot_4 (docs/algorithm.md §12, row
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
    /// `2·⌊del_iters/3⌋ + del_iters` (docs/algorithm.md §0.6) with `A`, 2 with `E`; the history
    /// capacity `H` must be at least this.
    pub fn history_needed(&self) -> usize {
        match self.adapt.mode {
            // Saturating: a huge `del_iters` then needs more than any capacity (no overflow).
            ComponentAdaptation::Adaptive => (2 * (self.adapt.del_iters / 3)).saturating_add(self.adapt.del_iters),
            // Only the step-size rules read the history: its last two entries.
            ComponentAdaptation::Fixed => 2,
        }
    }

    /// Rows the reuse pass asks for with `k` components: `floor(ratio · n_des) · k`.
    pub fn reuse_rows(&self, k: usize) -> usize {
        let n_re = (self.samples.reuse_ratio * T::of(self.samples.desired_samples_per_component as f64)).floor();
        (n_re.to_f64() as usize).saturating_mul(k)
    }

    /// The first option of this configuration that the build leaves out (its cargo feature is
    /// off, see "Cargo features" in the crate docs), as the field to report; `None` if every
    /// chosen option is compiled in. The optimiser's dispatch relies on [`Self::validate`]
    /// having rejected such a configuration.
    fn left_out(&self) -> Option<&'static str> {
        let checks = [
            (
                self.ng.estimator == NgEstimator::More && !cfg!(feature = "ng-more"),
                "ng.estimator (MORE: build with the `ng-more` feature)",
            ),
            (
                self.samples.selector == SampleSelector::MixtureBased && !cfg!(feature = "mixture-selection"),
                "samples.selector (mixture-based: build with the `mixture-selection` feature)",
            ),
            (
                self.component_update.updater == ComponentUpdater::Direct && !cfg!(feature = "direct-update"),
                "component_update.updater (direct: build with the `direct-update` feature)",
            ),
            (
                self.component_update.updater == ComponentUpdater::Iblr && !cfg!(feature = "iblr-update"),
                "component_update.updater (iBLR: build with the `iblr-update` feature)",
            ),
            (
                self.component_step.schedule == StepSchedule::Decaying && !cfg!(feature = "decaying-steps"),
                "component_step.schedule (decaying: build with the `decaying-steps` feature)",
            ),
            (
                self.weight_step.schedule == StepSchedule::Decaying && !cfg!(feature = "decaying-steps"),
                "weight_step.schedule (decaying: build with the `decaying-steps` feature)",
            ),
            (
                self.weight_update.updater == WeightUpdater::TrustRegion && !cfg!(feature = "weight-trust-region"),
                "weight_update.updater (trust region: build with the `weight-trust-region` feature)",
            ),
        ];
        checks.iter().find(|(out, _)| *out).map(|(_, field)| *field)
    }

    /// Checks every value; `Err(InvalidConfig { field })` names the first bad one.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field| Err(Error::InvalidConfig { field });
        if let Some(field) = self.left_out() {
            return bad(field);
        }
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
        let l2 = self.ng.initial_l2_regularizer;
        if !(l2 >= T::zero()) || !l2.finite() {
            return bad("ng.initial_l2_regularizer");
        }
        let s = &self.component_step;
        if !pos(s.initial) {
            return bad("component_step.initial");
        }
        if s.schedule == StepSchedule::ImprovementBased {
            if !pos(s.min) || !pos(s.max) || s.min > s.max {
                return bad("component_step.min/max");
            }
            if !pos(s.inc_factor) || !pos(s.dec_factor) {
                return bad("component_step.inc_factor/dec_factor");
            }
        }
        if s.schedule == StepSchedule::Decaying
            && (!(s.annealing_exponent >= T::zero()) || !s.annealing_exponent.finite())
        {
            return bad("component_step.annealing_exponent");
        }
        let w = &self.weight_step;
        let w_ok = if self.weight_update.updater == WeightUpdater::TrustRegion {
            pos(w.initial)
        } else {
            w.initial >= T::zero() && w.initial.finite()
        };
        if !w_ok {
            return bad("weight_step.initial");
        }
        if w.schedule == StepSchedule::ImprovementBased {
            if !pos(w.min) || !pos(w.max) || w.min > w.max {
                return bad("weight_step.min/max");
            }
            if !pos(w.inc_factor) || !pos(w.dec_factor) {
                return bad("weight_step.inc_factor/dec_factor");
            }
        }
        if w.schedule == StepSchedule::Decaying && !w.annealing_exponent.is_some_and(|a| a >= T::zero() && a.finite()) {
            return bad("weight_step.annealing_exponent (required for G: it has no default)");
        }
        if self.adapt.mode == ComponentAdaptation::Fixed {
            return Ok(());
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
        Ok(())
    }
}

/// Why a `key=value` text could not be turned into a [`Config`] ([`Config::parse`],
/// [`Config::set`]). Borrows the offending slices from the input, so it allocates nothing.
///
/// ```
/// use gmmvi::{Config, Error, config::ParseError};
/// let e = Config::<f64>::parse("SAMTRUX del_iters=abc").unwrap_err();
/// assert_eq!(e, ParseError::BadValue {
///     key: "del_iters",
///     value: "abc",
///     field: "adapt.del_iters",
///     reason: "not a non-negative integer",
/// });
/// assert_eq!(e.to_string(), r#"bad value "abc" for key "del_iters": not a non-negative integer"#);
/// // The C ABI keeps only the static field name.
/// assert_eq!(Error::from(e), Error::InvalidConfig { field: "adapt.del_iters" });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError<'a> {
    /// A token after the first has no `=`.
    NoEquals {
        /// The token as written.
        token: &'a str,
    },
    /// The key names no field (see the table of [`Config::set`]).
    UnknownKey {
        /// The key as written.
        key: &'a str,
        /// Its value as written.
        value: &'a str,
    },
    /// The value cannot be stored in the key's field.
    BadValue {
        /// The key as written (an alias stays an alias; `codeword` for a bare codeword).
        key: &'a str,
        /// The value as written.
        value: &'a str,
        /// The [`Config`] field (path) the key sets, as [`Error::InvalidConfig`] names it.
        field: &'static str,
        /// What is wrong with the value.
        reason: &'static str,
    },
    /// All values parsed but [`Config::validate`] rejected this field.
    Invalid {
        /// The field named by [`Config::validate`].
        field: &'static str,
    },
}

const NO_EQUALS: &str = "token without '=' (expected key=value)";
const UNKNOWN_KEY: &str = "unknown key";
const NOT_REAL: &str = "not a finite non-negative number";
const NOT_INT: &str = "not a non-negative integer";
const NOT_BOOL: &str = "not a boolean (true, false, 1 or 0)";
const NOT_OPTION: &str = "not an option of this design choice";
const TOO_MANY: &str = "too many values (at most 8)";
const CODEWORD_NOT_FIRST: &str = "the codeword must be the first token";
// TOO_MANY spells the capacity out.
const _: () = assert!(MAX_ADD_THRESHOLDS == 8);

impl<'a> ParseError<'a> {
    /// The key (or token, or validated field) the error is about.
    pub fn key(&self) -> &'a str {
        match *self {
            ParseError::NoEquals { token } => token,
            ParseError::UnknownKey { key, .. } | ParseError::BadValue { key, .. } => key,
            ParseError::Invalid { field } => field,
        }
    }

    /// The value as written, when the error is about one.
    pub fn value(&self) -> Option<&'a str> {
        match *self {
            ParseError::UnknownKey { value, .. } | ParseError::BadValue { value, .. } => Some(value),
            ParseError::NoEquals { .. } | ParseError::Invalid { .. } => None,
        }
    }

    /// A fixed description of what went wrong.
    pub fn reason(&self) -> &'static str {
        match *self {
            ParseError::NoEquals { .. } => NO_EQUALS,
            ParseError::UnknownKey { .. } => UNKNOWN_KEY,
            ParseError::BadValue { reason, .. } => reason,
            ParseError::Invalid { .. } => "invalid value",
        }
    }
}

impl core::fmt::Display for ParseError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ParseError::NoEquals { token } => write!(f, "token \"{token}\" is not key=value"),
            ParseError::UnknownKey { key, .. } => write!(f, "unknown key \"{key}\""),
            ParseError::BadValue { key, value, reason, .. } => {
                write!(f, "bad value \"{value}\" for key \"{key}\": {reason}")
            }
            ParseError::Invalid { field } => write!(f, "invalid configuration: {field}"),
        }
    }
}

impl core::error::Error for ParseError<'_> {}

impl From<ParseError<'_>> for Error {
    fn from(e: ParseError<'_>) -> Self {
        let field = match e {
            ParseError::NoEquals { .. } => NO_EQUALS,
            ParseError::UnknownKey { .. } => UNKNOWN_KEY,
            ParseError::BadValue { field, .. } | ParseError::Invalid { field } => field,
        };
        Error::InvalidConfig { field }
    }
}

/// Why each codeword position rejected its letter, by position.
const CODEWORD_REASONS: [&str; 7] = [
    "letter 1 must be Z or S",
    "letter 2 must be A or E",
    "letter 3 must be M or P",
    "letter 4 must be I, Y or T",
    "letter 5 must be F, D or R",
    "letter 6 must be U or O",
    "letter 7 must be X, G or N",
];

impl CodewordError {
    fn reason(self) -> &'static str {
        match self {
            CodewordError::Length => "a codeword has 7 upper-case letters",
            CodewordError::Letter(i) => CODEWORD_REASONS.get(i).copied().unwrap_or("bad letter"),
        }
    }
}

/// Short aliases of [`Config::set`] keys.
const ALIASES: [(&str, &str); 8] = [
    ("n_des", "desired_samples_per_component"),
    ("reuse", "ratio_reused_samples_to_desired"),
    ("max_db", "max_database_size"),
    ("del", "del_iters"),
    ("add", "add_iters"),
    ("max_k", "max_components"),
    ("beta", "component_stepsize.initial_stepsize"),
    ("beta_w", "weight_stepsize.initial_stepsize"),
];

/// Names of the options of each design choice (the reference's type strings), by option index.
const OPTION_NAMES: [&[(&str, usize)]; 7] = [
    &[("MORE", 0), ("Stein", 1)],
    &[("adaptive", 0), ("fixed", 1)],
    &[("component-based", 0), ("mixture-based", 1)],
    &[("direct", 0), ("iBLR", 1), ("trust-region", 2)],
    &[("fixed", 0), ("decaying", 1), ("improvement-based", 2)],
    &[("direct", 0), ("trust-region", 1)],
    // The reference spells N with an underscore; accept both.
    &[("fixed", 0), ("decaying", 1), ("improvement_based", 2), ("improvement-based", 2)],
];

/// The design-choice keys, by codeword position.
const OPTION_KEYS: [&str; 7] = [
    "ng_estimator_type",
    "num_component_adapter_type",
    "sample_selector_type",
    "ng_based_updater_type",
    "component_stepsize_adapter_type",
    "weight_updater_type",
    "weight_stepsize_adapter_type",
];

/// Field paths of the design choices, by codeword position.
const OPTION_FIELDS: [&str; 7] = [
    "ng.estimator",
    "adapt.mode",
    "samples.selector",
    "component_update.updater",
    "component_step.schedule",
    "weight_update.updater",
    "weight_step.schedule",
];

/// Exclusive upper bound of `usize` as `f64` (2^BITS, exact).
const USIZE_LIMIT: f64 = (usize::MAX / 2 + 1) as f64 * 2.0;

fn parse_usize(value: &str) -> Option<usize> {
    if let Ok(n) = value.parse::<usize>() {
        return Some(n);
    }
    // Accept `1e6` and `100.0` when they name an integer exactly.
    let x = value.parse::<f64>().ok()?;
    if !(0.0..USIZE_LIMIT).contains(&x) {
        return None;
    }
    let n = x as usize;
    (n as f64 == x).then_some(n)
}

fn parse_real<T: Real>(value: &str) -> Option<T> {
    let x = value.parse::<f64>().ok()?;
    let t = T::of(x);
    // Checked after the conversion: `1e300` is finite in f64 but not in f32.
    (x >= 0.0 && t.finite()).then_some(t)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" | "True" | "1" => Some(true),
        "false" | "False" | "0" => Some(false),
        _ => None,
    }
}

/// The option index named by `value` at codeword position `pos`: a type string or the letter.
fn parse_option(pos: usize, value: &str) -> Option<usize> {
    let names = OPTION_NAMES.get(pos)?;
    if let Some(&(_, i)) = names.iter().find(|(n, _)| *n == value) {
        return Some(i);
    }
    let letters = LETTERS.get(pos)?;
    match value.as_bytes() {
        [c] => letters.iter().position(|l| l == c),
        _ => None,
    }
}

fn schedule_of(i: usize) -> StepSchedule {
    match i {
        0 => StepSchedule::Fixed,
        1 => StepSchedule::Decaying,
        _ => StepSchedule::ImprovementBased,
    }
}

impl<T: Real> Config<T> {
    /// Every key [`Config::set`] accepts (canonical names, then the short aliases), e.g. for a
    /// help text or a completion list.
    pub const KEYS: [&'static str; 45] = [
        "codeword",
        "temperature",
        "desired_samples_per_component",
        "ratio_reused_samples_to_desired",
        "max_database_size",
        "use_sample_database",
        "only_use_own_samples",
        "use_self_normalized_importance_weights",
        "ng.use_self_normalized_importance_weights",
        "weight_update.use_self_normalized_importance_weights",
        "initial_l2_regularizer",
        "del_iters",
        "add_iters",
        "max_components",
        "thresholds_for_add_heuristic",
        "min_weight_for_del_heuristic",
        "num_database_samples",
        "num_prior_samples",
        "n_des",
        "reuse",
        "max_db",
        "del",
        "add",
        "max_k",
        "beta",
        "beta_w",
        "ng_estimator_type",
        "num_component_adapter_type",
        "sample_selector_type",
        "ng_based_updater_type",
        "component_stepsize_adapter_type",
        "weight_updater_type",
        "weight_stepsize_adapter_type",
        "component_stepsize.initial_stepsize",
        "component_stepsize.min_stepsize",
        "component_stepsize.max_stepsize",
        "component_stepsize.stepsize_inc_factor",
        "component_stepsize.stepsize_dec_factor",
        "component_stepsize.annealing_exponent",
        "weight_stepsize.initial_stepsize",
        "weight_stepsize.min_stepsize",
        "weight_stepsize.max_stepsize",
        "weight_stepsize.stepsize_inc_factor",
        "weight_stepsize.stepsize_dec_factor",
        "weight_stepsize.annealing_exponent",
    ];

    /// Parses the short text form: tokens separated by whitespace or commas, the first one
    /// optionally a codeword (`SAMTRUX` or `codeword=SAMTRUX`, selecting the options and their
    /// per-letter defaults as [`Config::from_codeword`]; without one the start is
    /// [`Config::samtrux`]), every further token `key=value` applied in order by [`Config::set`]
    /// (no spaces around `=`). The result is checked by [`Config::validate`]. Empty text gives
    /// SAMTRUX.
    ///
    /// ```
    /// use gmmvi::Config;
    /// let cfg = Config::<f64>::parse("SAMTRON n_des=250, reuse=0 add_iters=25")?;
    /// assert_eq!(cfg.codeword().as_str(), "SAMTRON");
    /// assert_eq!(cfg.samples.desired_samples_per_component, 250);
    /// assert_eq!(cfg.adapt.add_iters, 25);
    /// # Ok::<(), gmmvi::config::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// The first bad token ([`ParseError::NoEquals`], [`ParseError::UnknownKey`],
    /// [`ParseError::BadValue`]), else [`ParseError::Invalid`] from [`Config::validate`].
    pub fn parse(text: &str) -> Result<Self, ParseError<'_>> {
        let mut cfg = Self::samtrux();
        let tokens = text.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty());
        for (i, token) in tokens.enumerate() {
            let (key, value) = match token.split_once('=') {
                Some(kv) => kv,
                None if i == 0 => ("codeword", token),
                None => return Err(ParseError::NoEquals { token }),
            };
            // A later codeword would silently reset the keys before it.
            if i > 0 && key == "codeword" {
                return Err(ParseError::BadValue { key, value, field: "codeword", reason: CODEWORD_NOT_FIRST });
            }
            cfg.set(key, value)?;
        }
        cfg.validate().map_err(|e| match e {
            Error::InvalidConfig { field } => ParseError::Invalid { field },
            _ => ParseError::Invalid { field: "configuration" },
        })?;
        Ok(cfg)
    }

    /// Sets one field from its text form; on error the configuration is unchanged. Values are
    /// not range-checked beyond their type (that is [`Config::validate`]'s job), except that
    /// numbers must be finite and non-negative and integers exact (`1e6` is accepted).
    ///
    /// | key | alias | field | value |
    /// |---|---|---|---|
    /// | `codeword` | | every field: the codeword's defaults | 7 letters |
    /// | `temperature` | | [`Config::temperature`] | number |
    /// | `desired_samples_per_component` | `n_des` | `samples.desired_samples_per_component` | integer |
    /// | `ratio_reused_samples_to_desired` | `reuse` | `samples.reuse_ratio` | number |
    /// | `max_database_size` | `max_db` | `samples.max_database_size` | integer |
    /// | `use_sample_database` | | `samples.use_sample_database` | bool |
    /// | `only_use_own_samples` | | `ng.only_use_own_samples` | bool |
    /// | `use_self_normalized_importance_weights` | | `ng.self_normalized` and `weight_update.self_normalized` | bool |
    /// | `ng.use_self_normalized_importance_weights` | | `ng.self_normalized` | bool |
    /// | `weight_update.use_self_normalized_importance_weights` | | `weight_update.self_normalized` | bool |
    /// | `initial_l2_regularizer` | | `ng.initial_l2_regularizer` | number |
    /// | `del_iters` | `del` | `adapt.del_iters` | integer |
    /// | `add_iters` | `add` | `adapt.add_iters` | integer |
    /// | `max_components` | `max_k` | `adapt.max_components` | integer |
    /// | `thresholds_for_add_heuristic` | | `adapt.thresholds` | numbers separated by `;` or `/`, at most [`MAX_ADD_THRESHOLDS`] |
    /// | `min_weight_for_del_heuristic` | | `adapt.min_weight_for_del` | number |
    /// | `num_database_samples` | | `adapt.num_database_samples` | integer |
    /// | `num_prior_samples` | | `adapt.num_prior_samples` | integer |
    /// | `component_stepsize.initial_stepsize` | `beta` | `component_step.initial` | number |
    /// | `component_stepsize.min_stepsize` | | `component_step.min` | number |
    /// | `component_stepsize.max_stepsize` | | `component_step.max` | number |
    /// | `component_stepsize.stepsize_inc_factor` | | `component_step.inc_factor` | number |
    /// | `component_stepsize.stepsize_dec_factor` | | `component_step.dec_factor` | number |
    /// | `component_stepsize.annealing_exponent` | | `component_step.annealing_exponent` | number |
    /// | `weight_stepsize.initial_stepsize` | `beta_w` | `weight_step.initial` | number |
    /// | `weight_stepsize.min_stepsize` … `.annealing_exponent` | | `weight_step.…` as above | number (`none` unsets the exponent) |
    /// | `ng_estimator_type` | | `ng.estimator` | `MORE`, `Stein`, `Z`, `S` |
    /// | `num_component_adapter_type` | | `adapt.mode` | `adaptive`, `fixed`, `A`, `E` |
    /// | `sample_selector_type` | | `samples.selector` | `component-based`, `mixture-based`, `M`, `P` |
    /// | `ng_based_updater_type` | | `component_update.updater` | `direct`, `iBLR`, `trust-region`, `I`, `Y`, `T` |
    /// | `component_stepsize_adapter_type` | | `component_step.schedule` | `fixed`, `decaying`, `improvement-based`, `F`, `D`, `R` |
    /// | `weight_updater_type` | | `weight_update.updater` | `direct`, `trust-region`, `U`, `O` |
    /// | `weight_stepsize_adapter_type` | | `weight_step.schedule` | `fixed`, `decaying`, `improvement_based`, `X`, `G`, `N` |
    ///
    /// Booleans are `true`, `false`, `1` or `0`. The `*_type` keys change only the option, not
    /// the hyperparameters (use a codeword for the per-letter defaults).
    ///
    /// ```
    /// use gmmvi::Config;
    /// let mut cfg = Config::<f32>::samtrux();
    /// cfg.set("thresholds_for_add_heuristic", "1000;100")?;
    /// cfg.set("beta_w", "0.5")?;
    /// assert_eq!(cfg.adapt.thresholds.as_slice(), &[1000.0, 100.0]);
    /// assert_eq!(cfg.weight_step.initial, 0.5);
    /// assert!(cfg.set("del_iters", "-3").is_err());
    /// # Ok::<(), gmmvi::config::ParseError>(())
    /// ```
    ///
    /// # Errors
    /// [`ParseError::UnknownKey`] or [`ParseError::BadValue`].
    pub fn set<'a>(&mut self, key: &'a str, value: &'a str) -> Result<(), ParseError<'a>> {
        let canonical = ALIASES.iter().find(|(a, _)| *a == key).map_or(key, |&(_, k)| k);
        let bad = |field: &'static str, reason: &'static str| ParseError::BadValue { key, value, field, reason };
        let real = |field| parse_real::<T>(value).ok_or(bad(field, NOT_REAL));
        let int = |field| parse_usize(value).ok_or(bad(field, NOT_INT));
        let boolean = |field| parse_bool(value).ok_or(bad(field, NOT_BOOL));

        if let Some(pos) = OPTION_KEYS.iter().position(|k| *k == canonical) {
            let field = OPTION_FIELDS.get(pos).copied().unwrap_or("option");
            let i = parse_option(pos, value).ok_or(bad(field, NOT_OPTION))?;
            match pos {
                0 => self.ng.estimator = if i == 0 { NgEstimator::More } else { NgEstimator::Stein },
                1 => self.adapt.mode = if i == 0 { ComponentAdaptation::Adaptive } else { ComponentAdaptation::Fixed },
                2 => {
                    self.samples.selector =
                        if i == 0 { SampleSelector::ComponentBased } else { SampleSelector::MixtureBased }
                }
                3 => {
                    self.component_update.updater = match i {
                        0 => ComponentUpdater::Direct,
                        1 => ComponentUpdater::Iblr,
                        _ => ComponentUpdater::TrustRegion,
                    }
                }
                4 => self.component_step.schedule = schedule_of(i),
                5 => {
                    self.weight_update.updater = if i == 0 { WeightUpdater::Direct } else { WeightUpdater::TrustRegion }
                }
                _ => self.weight_step.schedule = schedule_of(i),
            }
            return Ok(());
        }

        if let Some(sub) = canonical.strip_prefix("component_stepsize.") {
            let s = &mut self.component_step;
            let (slot, field) = match sub {
                "initial_stepsize" => (&mut s.initial, "component_step.initial"),
                "min_stepsize" => (&mut s.min, "component_step.min"),
                "max_stepsize" => (&mut s.max, "component_step.max"),
                "stepsize_inc_factor" => (&mut s.inc_factor, "component_step.inc_factor"),
                "stepsize_dec_factor" => (&mut s.dec_factor, "component_step.dec_factor"),
                "annealing_exponent" => (&mut s.annealing_exponent, "component_step.annealing_exponent"),
                _ => return Err(ParseError::UnknownKey { key, value }),
            };
            *slot = real(field)?;
            return Ok(());
        }

        if let Some(sub) = canonical.strip_prefix("weight_stepsize.") {
            let w = &mut self.weight_step;
            if sub == "annealing_exponent" {
                // `None` is the "no default" state of `G`.
                w.annealing_exponent =
                    if value == "none" { None } else { Some(real("weight_step.annealing_exponent")?) };
                return Ok(());
            }
            let (slot, field) = match sub {
                "initial_stepsize" => (&mut w.initial, "weight_step.initial"),
                "min_stepsize" => (&mut w.min, "weight_step.min"),
                "max_stepsize" => (&mut w.max, "weight_step.max"),
                "stepsize_inc_factor" => (&mut w.inc_factor, "weight_step.inc_factor"),
                "stepsize_dec_factor" => (&mut w.dec_factor, "weight_step.dec_factor"),
                _ => return Err(ParseError::UnknownKey { key, value }),
            };
            *slot = real(field)?;
            return Ok(());
        }

        match canonical {
            "codeword" => {
                *self = codeword_options(value).map(Self::with_options).map_err(|e| ParseError::BadValue {
                    key,
                    value,
                    field: e.field(),
                    reason: e.reason(),
                })?;
            }
            "temperature" => self.temperature = real("temperature")?,
            "desired_samples_per_component" => {
                self.samples.desired_samples_per_component = int("samples.desired_samples_per_component")?
            }
            "ratio_reused_samples_to_desired" => self.samples.reuse_ratio = real("samples.reuse_ratio")?,
            "max_database_size" => self.samples.max_database_size = int("samples.max_database_size")?,
            "use_sample_database" => {
                self.samples.use_sample_database = boolean("samples.use_sample_database")?;
            }
            "only_use_own_samples" => self.ng.only_use_own_samples = boolean("ng.only_use_own_samples")?,
            "use_self_normalized_importance_weights" => {
                let b = boolean("ng.self_normalized")?;
                self.ng.self_normalized = b;
                self.weight_update.self_normalized = b;
            }
            "ng.use_self_normalized_importance_weights" => self.ng.self_normalized = boolean("ng.self_normalized")?,
            "weight_update.use_self_normalized_importance_weights" => {
                self.weight_update.self_normalized = boolean("weight_update.self_normalized")?
            }
            "initial_l2_regularizer" => self.ng.initial_l2_regularizer = real("ng.initial_l2_regularizer")?,
            "del_iters" => self.adapt.del_iters = int("adapt.del_iters")?,
            "add_iters" => self.adapt.add_iters = int("adapt.add_iters")?,
            "max_components" => self.adapt.max_components = int("adapt.max_components")?,
            "thresholds_for_add_heuristic" => {
                let field = "adapt.thresholds";
                let mut t = Vec::new();
                for part in value.split([';', '/']) {
                    let x = parse_real::<T>(part).ok_or(bad(field, NOT_REAL))?;
                    t.push(x).map_err(|_| bad(field, TOO_MANY))?;
                }
                self.adapt.thresholds = t;
            }
            "min_weight_for_del_heuristic" => self.adapt.min_weight_for_del = real("adapt.min_weight_for_del")?,
            "num_database_samples" => self.adapt.num_database_samples = int("adapt.num_database_samples")?,
            "num_prior_samples" => self.adapt.num_prior_samples = int("adapt.num_prior_samples")?,
            _ => return Err(ParseError::UnknownKey { key, value }),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each option behind a cargo feature validates exactly when the feature is on; CI also
    /// runs this with `--no-default-features`, where all of them must be rejected by name.
    #[test]
    fn options_left_out_of_the_build_are_rejected() {
        let cases = [
            ("ZAMTRUX", cfg!(feature = "ng-more"), "ng.estimator"),
            ("SAPTRUX", cfg!(feature = "mixture-selection"), "samples.selector"),
            ("SAMIRUX", cfg!(feature = "direct-update"), "component_update.updater"),
            ("SAMYRUX", cfg!(feature = "iblr-update"), "component_update.updater"),
            ("SAMTDUX", cfg!(feature = "decaying-steps"), "component_step.schedule"),
            ("SAMTRUG", cfg!(feature = "decaying-steps"), "weight_step.schedule"),
            ("SAMTROX", cfg!(feature = "weight-trust-region"), "weight_update.updater"),
        ];
        for (code, built, field) in cases {
            let mut cfg = Config::<f32>::from_codeword(code).unwrap();
            cfg.weight_step.annealing_exponent = Some(0.5);
            match cfg.validate() {
                Ok(()) => assert!(built, "{code} validates without its feature"),
                Err(Error::InvalidConfig { field: f }) => {
                    assert!(!built && f.starts_with(field) && f.contains("feature"), "{code}: {f}");
                }
                Err(e) => panic!("{code}: {e:?}"),
            }
        }
        assert_eq!(Config::<f32>::samtrux().validate(), Ok(()));
    }

    #[test]
    fn config_keys_are_exactly_the_accepted_ones() {
        let value = |k: &str| match k {
            "codeword" => "SAMTRUX",
            "thresholds_for_add_heuristic" => "1000;100",
            k if k.ends_with("_type") => "fixed",
            k if k.contains("use_") => "true",
            _ => "1",
        };
        for k in Config::<f64>::KEYS {
            let v = match k {
                "ng_estimator_type" => "Stein",
                "sample_selector_type" => "component-based",
                "ng_based_updater_type" | "weight_updater_type" => "direct",
                "num_component_adapter_type" => "adaptive",
                _ => value(k),
            };
            let mut cfg = Config::<f64>::samtrux();
            assert_eq!(cfg.set(k, v), Ok(()), "{k}={v}");
        }
        let canonical = Config::<f64>::KEYS.iter().filter(|k| !ALIASES.iter().any(|(a, _)| a == *k)).count();
        assert_eq!(canonical + ALIASES.len(), Config::<f64>::KEYS.len());
        for (a, k) in ALIASES {
            assert!(Config::<f64>::KEYS.contains(&a) && Config::<f64>::KEYS.contains(&k), "{a} -> {k}");
        }
        for k in OPTION_KEYS {
            assert!(Config::<f64>::KEYS.contains(&k), "{k}");
        }
        let mut cfg = Config::<f64>::samtrux();
        assert!(matches!(cfg.set("n_de", "1"), Err(ParseError::UnknownKey { .. })));
    }

    #[test]
    fn config_parse_usize_takes_exact_integers_only() {
        assert_eq!(parse_usize("42"), Some(42));
        assert_eq!(parse_usize("1e6"), Some(1_000_000));
        assert_eq!(parse_usize("3.0"), Some(3));
        for bad in ["3.5", "-1", "inf", "NaN", "", "1e40", "x"] {
            assert_eq!(parse_usize(bad), None, "{bad}");
        }
        assert_eq!(USIZE_LIMIT, 2.0 * (1usize << (usize::BITS - 1)) as f64);
    }

    #[test]
    fn config_parse_real_rejects_negative_and_non_finite() {
        assert_eq!(parse_real::<f64>("0.25"), Some(0.25));
        assert_eq!(parse_real::<f32>("1e-5"), Some(1e-5));
        for bad in ["-0.1", "inf", "-inf", "NaN", "", "1,5"] {
            assert_eq!(parse_real::<f64>(bad), None, "{bad}");
        }
        assert_eq!(parse_real::<f32>("1e39"), None);
    }

    #[test]
    fn config_option_tables_cover_every_letter() {
        for (pos, letters) in LETTERS.iter().enumerate() {
            for (i, &l) in letters.iter().enumerate() {
                let letter = [l];
                let letter = core::str::from_utf8(&letter).unwrap();
                assert_eq!(parse_option(pos, letter), Some(i));
                // Every option has a reference type string.
                assert!(OPTION_NAMES[pos].iter().any(|&(_, j)| j == i), "position {pos} option {i}");
                // The rejection reason lists the letter.
                assert!(CODEWORD_REASONS[pos].contains(letter));
                assert!(CODEWORD_FIELDS[pos].contains(letter));
            }
            assert_eq!(parse_option(pos, "Q"), None);
        }
    }

    #[test]
    fn config_aliases_name_known_keys() {
        for (alias, key) in ALIASES {
            let (mut a, mut k) = (Config::<f64>::samtrux(), Config::<f64>::samtrux());
            a.set(alias, "3").unwrap();
            k.set(key, "3").unwrap();
            assert_eq!(a, k, "{alias}");
            assert_ne!(a, Config::samtrux(), "{alias}");
        }
    }
}

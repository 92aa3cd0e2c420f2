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

/// One design choice of the unified framework (a codeword position): everything the codeword,
/// [`Config::set`] and [`Config::validate`] need to know about it. [`DESIGN_CHOICES`] holds the
/// seven, in codeword order.
struct DesignChoice {
    /// The [`Config::set`] key selecting an option (the reference's YAML key).
    key: &'static str,
    /// The [`Config`] field it sets, as [`Error::InvalidConfig`] names it.
    field: &'static str,
    /// The [`Error::InvalidConfig`] field for a codeword with a wrong letter here.
    codeword_field: &'static str,
    /// Why a codeword with a wrong letter here is rejected ([`ParseError::BadValue`]).
    reason: &'static str,
    /// The options, in the order of the enum's variants.
    options: &'static [DesignOption],
}

/// One option of a design choice.
struct DesignOption {
    /// Its codeword letter.
    letter: u8,
    /// The reference's type strings naming it, accepted by [`Config::set`] besides the letter.
    names: &'static [&'static str],
    /// The cargo feature compiling it in; `None` for the options every build has.
    gate: Option<Gate>,
}

/// The cargo feature that compiles an option in.
struct Gate {
    /// The feature's name.
    #[cfg_attr(not(test), allow(dead_code))] // spelled out in `left_out`; the tests compare
    feature: &'static str,
    /// Whether this build has it.
    built: bool,
    /// What [`Config::validate`] reports for a configuration picking the option without it.
    left_out: &'static str,
}

/// An option every build compiles in.
const fn always(letter: u8, names: &'static [&'static str]) -> DesignOption {
    DesignOption { letter, names, gate: None }
}

/// An option compiled in by `$feature`. Without it [`Config::validate`] reports `$field`, the
/// option's `$label` and the feature.
macro_rules! gated {
    ($letter:literal, $names:expr, $field:literal, $label:literal, $feature:tt) => {
        DesignOption {
            letter: $letter,
            names: $names,
            gate: Some(Gate {
                feature: $feature,
                built: cfg!(feature = $feature),
                left_out: concat!($field, " (", $label, ": build with the `", $feature, "` feature)"),
            }),
        }
    };
}

/// The seven design choices, in codeword order (docs/algorithm.md §11).
const DESIGN_CHOICES: [DesignChoice; 7] = [
    DesignChoice {
        key: "ng_estimator_type",
        field: "ng.estimator",
        codeword_field: "codeword position 1 (Z or S)",
        reason: "letter 1 must be Z or S",
        options: &[gated!(b'Z', &["MORE"], "ng.estimator", "MORE", "ng-more"), always(b'S', &["Stein"])],
    },
    DesignChoice {
        key: "num_component_adapter_type",
        field: "adapt.mode",
        codeword_field: "codeword position 2 (A or E)",
        reason: "letter 2 must be A or E",
        options: &[always(b'A', &["adaptive"]), always(b'E', &["fixed"])],
    },
    DesignChoice {
        key: "sample_selector_type",
        field: "samples.selector",
        codeword_field: "codeword position 3 (M or P)",
        reason: "letter 3 must be M or P",
        options: &[
            always(b'M', &["component-based"]),
            gated!(b'P', &["mixture-based"], "samples.selector", "mixture-based", "mixture-selection"),
        ],
    },
    DesignChoice {
        key: "ng_based_updater_type",
        field: "component_update.updater",
        codeword_field: "codeword position 4 (I, Y or T)",
        reason: "letter 4 must be I, Y or T",
        options: &[
            gated!(b'I', &["direct"], "component_update.updater", "direct", "direct-update"),
            gated!(b'Y', &["iBLR"], "component_update.updater", "iBLR", "iblr-update"),
            always(b'T', &["trust-region"]),
        ],
    },
    DesignChoice {
        key: "component_stepsize_adapter_type",
        field: "component_step.schedule",
        codeword_field: "codeword position 5 (F, D or R)",
        reason: "letter 5 must be F, D or R",
        options: &[
            always(b'F', &["fixed"]),
            gated!(b'D', &["decaying"], "component_step.schedule", "decaying", "decaying-steps"),
            always(b'R', &["improvement-based"]),
        ],
    },
    DesignChoice {
        key: "weight_updater_type",
        field: "weight_update.updater",
        codeword_field: "codeword position 6 (U or O)",
        reason: "letter 6 must be U or O",
        options: &[
            always(b'U', &["direct"]),
            gated!(b'O', &["trust-region"], "weight_update.updater", "trust region", "weight-trust-region"),
        ],
    },
    DesignChoice {
        key: "weight_stepsize_adapter_type",
        field: "weight_step.schedule",
        codeword_field: "codeword position 7 (X, G or N)",
        reason: "letter 7 must be X, G or N",
        options: &[
            always(b'X', &["fixed"]),
            gated!(b'G', &["decaying"], "weight_step.schedule", "decaying", "decaying-steps"),
            // The reference spells N with an underscore; accept both.
            always(b'N', &["improvement_based", "improvement-based"]),
        ],
    },
];

impl DesignChoice {
    /// The option `value` names: one of its type strings or its letter.
    fn option_named(&self, value: &str) -> Option<usize> {
        self.options.iter().position(|o| o.names.contains(&value) || value.as_bytes() == [o.letter])
    }
}

/// The enum of a design choice's options.
trait ChoiceEnum: Copy + 'static {
    /// The variants, in the order of the choice's options.
    const VARIANTS: &'static [Self];

    /// Which option `self` is (its index in `VARIANTS`).
    fn index(self) -> usize;
}

/// Implements [`ChoiceEnum`] for fieldless enums whose variants are declared in option order, so
/// that the discriminant is the index.
macro_rules! choice_enum {
    ($($enum:ident: $($variant:ident),+;)+) => {$(
        impl ChoiceEnum for $enum {
            const VARIANTS: &'static [Self] = &[$(Self::$variant),+];

            #[inline]
            fn index(self) -> usize {
                self as usize
            }
        }
    )+};
}

choice_enum! {
    NgEstimator: More, Stein;
    ComponentAdaptation: Adaptive, Fixed;
    SampleSelector: ComponentBased, MixtureBased;
    ComponentUpdater: Direct, Iblr, TrustRegion;
    StepSchedule: Fixed, Decaying, ImprovementBased;
    WeightUpdater: Direct, TrustRegion;
}

/// Stores option `i` in `slot`; an `i` out of range leaves it unchanged.
#[inline]
fn select_option<E: ChoiceEnum>(slot: &mut E, i: usize) {
    if let Some(&v) = E::VARIANTS.get(i) {
        *slot = v;
    }
}

/// The options behind a cargo feature, in codeword order: (codeword position, option, what
/// [`Config::validate`] reports) if this build leaves it out, `None` if it has it. Derived at
/// compile time so that validation does not link the rest of [`DESIGN_CHOICES`].
const LEFT_OUT: [Option<(u8, u8, &str)>; GATED_OPTIONS] = {
    let mut table = [None; GATED_OPTIONS];
    let mut n = 0;
    let mut pos = 0;
    while pos < DESIGN_CHOICES.len() {
        let options = DESIGN_CHOICES[pos].options;
        let mut i = 0;
        while i < options.len() {
            if let Some(gate) = &options[i].gate {
                if !gate.built {
                    table[n] = Some((pos as u8, i as u8, gate.left_out));
                }
                n += 1;
            }
            i += 1;
        }
        pos += 1;
    }
    table
};

/// Number of options behind a cargo feature.
const GATED_OPTIONS: usize = {
    let mut n = 0;
    let mut pos = 0;
    while pos < DESIGN_CHOICES.len() {
        let options = DESIGN_CHOICES[pos].options;
        let mut i = 0;
        while i < options.len() {
            n += options[i].gate.is_some() as usize;
            i += 1;
        }
        pos += 1;
    }
    n
};

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
            CodewordError::Letter(i) => DESIGN_CHOICES.get(i).map_or(CODEWORD_LENGTH_FIELD, |c| c.codeword_field),
        }
    }

    fn reason(self) -> &'static str {
        match self {
            CodewordError::Length => "a codeword has 7 upper-case letters",
            CodewordError::Letter(i) => DESIGN_CHOICES.get(i).map_or("bad letter", |c| c.reason),
        }
    }
}

const CODEWORD_LENGTH_FIELD: &str = "codeword (must have 7 letters)";

/// The chosen option of each design choice, in codeword order.
type Options = [usize; 7];

/// The options of `code`, one letter per design choice. A `const fn`, so that the presets'
/// codewords are checked at compile time.
const fn codeword_options(code: &str) -> Result<Options, CodewordError> {
    let b = code.as_bytes();
    if b.len() != DESIGN_CHOICES.len() {
        return Err(CodewordError::Length);
    }
    let mut options = [0; 7];
    let mut pos = 0;
    while pos < b.len() {
        let choice = &DESIGN_CHOICES[pos].options;
        let mut i = 0;
        while i < choice.len() && choice[i].letter != b[pos] {
            i += 1;
        }
        if i == choice.len() {
            return Err(CodewordError::Letter(pos));
        }
        options[pos] = i;
        pos += 1;
    }
    Ok(options)
}

/// The options of a preset's codeword (a compile-time error if it is not one).
const fn preset(code: &str) -> Options {
    match codeword_options(code) {
        Ok(options) => options,
        Err(_) => panic!("a preset's codeword is invalid"),
    }
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

    /// The codeword defaults of `options`.
    fn with_options(options: Options) -> Self {
        let mut thresholds = Vec::new();
        for t in [5000.0, 1000.0, 500.0, 200.0, 100.0, 50.0] {
            // Capacity 8 > 6 entries: cannot fail.
            let _ = thresholds.push(T::of(t));
        }
        let mut cfg = Self {
            temperature: T::one(),
            ng: NgEstimationConfig {
                estimator: NgEstimator::More,
                only_use_own_samples: false,
                self_normalized: true,
                initial_l2_regularizer: T::of(1e-12),
            },
            adapt: AdaptConfig {
                mode: ComponentAdaptation::Adaptive,
                del_iters: 100,
                add_iters: 30,
                max_components: 1000,
                thresholds,
                min_weight_for_del: T::of(1e-6),
                num_database_samples: 100_000,
                num_prior_samples: 0,
            },
            samples: SampleSelectionConfig {
                selector: SampleSelector::ComponentBased,
                desired_samples_per_component: 100,
                reuse_ratio: T::of(2.0),
                max_database_size: usize::MAX,
                use_sample_database: true,
            },
            component_update: ComponentUpdateConfig { updater: ComponentUpdater::Direct },
            component_step: ComponentStepConfig {
                schedule: StepSchedule::Fixed,
                initial: T::of(1e-5),
                min: T::of(0.001),
                max: T::one(),
                inc_factor: T::of(1.15),
                dec_factor: T::of(0.85),
                annealing_exponent: T::of(0.55),
            },
            weight_update: WeightUpdateConfig { updater: WeightUpdater::Direct, self_normalized: true },
            weight_step: WeightStepConfig {
                schedule: StepSchedule::Fixed,
                initial: T::one(),
                min: T::of(0.0001),
                max: T::one(),
                inc_factor: T::of(1.15),
                dec_factor: T::of(0.85),
                annealing_exponent: None,
            },
        };
        cfg.select(options);
        // The defaults that depend on the letter: `P` reuses no samples, `D` and `R` start at 1.
        if cfg.samples.selector == SampleSelector::MixtureBased {
            cfg.samples.reuse_ratio = T::of(0.0);
        }
        if cfg.component_step.schedule != StepSchedule::Fixed {
            cfg.component_step.initial = T::of(1.0);
        }
        cfg
    }

    /// The chosen option of each design choice, in codeword order.
    fn options(&self) -> Options {
        [
            self.ng.estimator.index(),
            self.adapt.mode.index(),
            self.samples.selector.index(),
            self.component_update.updater.index(),
            self.component_step.schedule.index(),
            self.weight_update.updater.index(),
            self.weight_step.schedule.index(),
        ]
    }

    /// Picks the `options`, keeping the hyperparameters: the inverse of [`Self::options`].
    fn select(&mut self, options: Options) {
        let [ng, adapt, samples, component_update, component_step, weight_update, weight_step] = options;
        select_option(&mut self.ng.estimator, ng);
        select_option(&mut self.adapt.mode, adapt);
        select_option(&mut self.samples.selector, samples);
        select_option(&mut self.component_update.updater, component_update);
        select_option(&mut self.component_step.schedule, component_step);
        select_option(&mut self.weight_update.updater, weight_update);
        select_option(&mut self.weight_step.schedule, weight_step);
    }

    /// Picks option `i` of the design choice at (0-based) codeword position `pos`.
    fn select_at(&mut self, pos: usize, i: usize) {
        let mut options = self.options();
        if let Some(slot) = options.get_mut(pos) {
            *slot = i;
        }
        self.select(options);
    }

    /// The codeword of the chosen options.
    pub fn codeword(&self) -> String<7> {
        let mut s = String::new();
        for (choice, i) in DESIGN_CHOICES.iter().zip(self.options()) {
            if let Some(option) = choice.options.get(i) {
                // Capacity 7, seven pushes: cannot fail.
                let _ = s.push(option.letter as char);
            }
        }
        s
    }

    /// SAMTRUX with the defaults of docs/algorithm.md §11: Stein, adaptive, component-based
    /// samples, trust-region components with improvement-based KL bounds, direct weights with a
    /// fixed step (the paper's recommended method).
    pub fn samtrux() -> Self {
        Self::with_options(const { preset("SAMTRUX") })
    }

    /// SAMTRON (docs/algorithm.md §11): SAMTRUX with trust-region weights and improvement-based
    /// weight KL bounds.
    pub fn samtron() -> Self {
        Self::with_options(const { preset("SAMTRON") })
    }

    /// ZAMTRUX (docs/algorithm.md §11), close to VIPS: SAMTRUX with the zero-order MORE estimator.
    pub fn zamtrux() -> Self {
        Self::with_options(const { preset("ZAMTRUX") })
    }

    /// SEPIFUX (docs/algorithm.md §11): Stein, fixed components, mixture samples without reuse,
    /// direct component steps of fixed size 1e-5, direct weights with a fixed step.
    pub fn sepifux() -> Self {
        Self::with_options(const { preset("SEPIFUX") })
    }

    /// SEPYFUX (docs/algorithm.md §11), close to iBayes-GMM: SEPIFUX with the iBLR component
    /// update.
    pub fn sepyfux() -> Self {
        Self::with_options(const { preset("SEPYFUX") })
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
        n_re.to_usize().saturating_mul(k)
    }

    /// The first option of this configuration that the build leaves out (its cargo feature is
    /// off, see "Cargo features" in the crate docs), as the field to report; `None` if every
    /// chosen option is compiled in. The optimiser's dispatch relies on [`Self::validate`]
    /// having rejected such a configuration.
    fn left_out(&self) -> Option<&'static str> {
        let options = self.options();
        let chosen = |pos: u8, i: u8| options.get(usize::from(pos)) == Some(&usize::from(i));
        LEFT_OUT.iter().flatten().find(|&&(pos, i, _)| chosen(pos, i)).map(|&(_, _, field)| field)
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
#[cfg(feature = "decimal-text")]
const NOT_REAL: &str = "not a finite non-negative number";
#[cfg(not(feature = "decimal-text"))]
const NOT_REAL: &str =
    "not a non-negative integer (built without the feature `decimal-text`: no fractions or exponents)";
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

/// Exclusive upper bound of `usize` as `f64` (2^BITS, exact).
#[cfg(feature = "decimal-text")]
const USIZE_LIMIT: f64 = (usize::MAX / 2 + 1) as f64 * 2.0;

fn parse_usize(value: &str) -> Option<usize> {
    if let Ok(n) = value.parse::<usize>() {
        return Some(n);
    }
    decimal_usize(value)
}

/// `1e6` and `100.0` when they name an integer exactly.
#[cfg(feature = "decimal-text")]
fn decimal_usize(value: &str) -> Option<usize> {
    let x = value.parse::<f64>().ok()?;
    if !(0.0..USIZE_LIMIT).contains(&x) {
        return None;
    }
    let n = x as usize;
    (n as f64 == x).then_some(n)
}

#[cfg(not(feature = "decimal-text"))]
fn decimal_usize(_: &str) -> Option<usize> {
    None
}

fn parse_real<T: Real>(value: &str) -> Option<T> {
    #[cfg(feature = "decimal-text")]
    let x = value.parse::<f64>().ok()?;
    // Integers only: `u64 as f64` rounds to nearest, as parsing the digits as a decimal would.
    #[cfg(not(feature = "decimal-text"))]
    let x = value.parse::<u64>().ok()? as f64;
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

/// How [`Config::set`] parses a key's value and where it stores it.
enum Store<T> {
    /// A finite non-negative number.
    Real(fn(&mut Config<T>) -> &mut T),
    /// An exact non-negative integer.
    Int(fn(&mut Config<T>) -> &mut usize),
    /// `true`, `false`, `1` or `0`.
    Bool(fn(&mut Config<T>) -> &mut bool),
    /// Parses and stores the value itself, or says why it is bad.
    Other(fn(&mut Config<T>, &str) -> Result<(), &'static str>),
    /// An option of the design choice at this (0-based) codeword position.
    Choice(usize),
    /// A codeword: every field gets its defaults.
    Codeword,
}

/// A key of [`Config::set`].
struct Key<T> {
    /// The reference's name.
    name: &'static str,
    /// A short alias.
    alias: Option<&'static str>,
    /// The [`Config`] field it sets, as [`ParseError::BadValue`] names it.
    field: &'static str,
    store: Store<T>,
}

const fn key<T>(name: &'static str, alias: Option<&'static str>, field: &'static str, store: Store<T>) -> Key<T> {
    Key { name, alias, field, store }
}

/// The key of the design choice at codeword position `pos` (0-based).
const fn choice_key<T>(pos: usize) -> Key<T> {
    let choice = &DESIGN_CHOICES[pos];
    key(choice.key, None, choice.field, Store::Choice(pos))
}

impl<T: Real> Key<T> {
    /// Parses `value` into `cfg`; on error `cfg` is unchanged and the error is (field, reason).
    fn apply(&self, cfg: &mut Config<T>, value: &str) -> Result<(), (&'static str, &'static str)> {
        let bad = |reason| (self.field, reason);
        match self.store {
            Store::Real(slot) => *slot(cfg) = parse_real(value).ok_or(bad(NOT_REAL))?,
            Store::Int(slot) => *slot(cfg) = parse_usize(value).ok_or(bad(NOT_INT))?,
            Store::Bool(slot) => *slot(cfg) = parse_bool(value).ok_or(bad(NOT_BOOL))?,
            Store::Other(store) => store(cfg, value).map_err(bad)?,
            Store::Choice(pos) => {
                let i = DESIGN_CHOICES.get(pos).and_then(|c| c.option_named(value)).ok_or(bad(NOT_OPTION))?;
                cfg.select_at(pos, i);
            }
            Store::Codeword => {
                *cfg = codeword_options(value).map(Config::with_options).map_err(|e| (e.field(), e.reason()))?
            }
        }
        Ok(())
    }
}

/// The names of `keys`, then their aliases; for constants only (there `N` not matching the
/// count is a compile error).
const fn key_names<T, const N: usize>(keys: &[Key<T>]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut n = 0;
    let mut i = 0;
    while i < keys.len() {
        names[n] = keys[i].name;
        n += 1;
        i += 1;
    }
    i = 0;
    while i < keys.len() {
        if let Some(alias) = keys[i].alias {
            names[n] = alias;
            n += 1;
        }
        i += 1;
    }
    assert!(n == N, "N must count every key and alias");
    names
}

impl<T: Real> Config<T> {
    /// Every key of [`Config::set`], in the order of its table.
    const KEY_TABLE: [Key<T>; 37] = [
        key("codeword", None, "codeword", Store::Codeword),
        key("temperature", None, "temperature", Store::Real(|c| &mut c.temperature)),
        key(
            "desired_samples_per_component",
            Some("n_des"),
            "samples.desired_samples_per_component",
            Store::Int(|c| &mut c.samples.desired_samples_per_component),
        ),
        key(
            "ratio_reused_samples_to_desired",
            Some("reuse"),
            "samples.reuse_ratio",
            Store::Real(|c| &mut c.samples.reuse_ratio),
        ),
        key(
            "max_database_size",
            Some("max_db"),
            "samples.max_database_size",
            Store::Int(|c| &mut c.samples.max_database_size),
        ),
        key(
            "use_sample_database",
            None,
            "samples.use_sample_database",
            Store::Bool(|c| &mut c.samples.use_sample_database),
        ),
        key("only_use_own_samples", None, "ng.only_use_own_samples", Store::Bool(|c| &mut c.ng.only_use_own_samples)),
        key(
            "use_self_normalized_importance_weights",
            None,
            "ng.self_normalized",
            Store::Other(|c, v| {
                let b = parse_bool(v).ok_or(NOT_BOOL)?;
                c.ng.self_normalized = b;
                c.weight_update.self_normalized = b;
                Ok(())
            }),
        ),
        key(
            "ng.use_self_normalized_importance_weights",
            None,
            "ng.self_normalized",
            Store::Bool(|c| &mut c.ng.self_normalized),
        ),
        key(
            "weight_update.use_self_normalized_importance_weights",
            None,
            "weight_update.self_normalized",
            Store::Bool(|c| &mut c.weight_update.self_normalized),
        ),
        key(
            "initial_l2_regularizer",
            None,
            "ng.initial_l2_regularizer",
            Store::Real(|c| &mut c.ng.initial_l2_regularizer),
        ),
        key("del_iters", Some("del"), "adapt.del_iters", Store::Int(|c| &mut c.adapt.del_iters)),
        key("add_iters", Some("add"), "adapt.add_iters", Store::Int(|c| &mut c.adapt.add_iters)),
        key("max_components", Some("max_k"), "adapt.max_components", Store::Int(|c| &mut c.adapt.max_components)),
        key(
            "thresholds_for_add_heuristic",
            None,
            "adapt.thresholds",
            Store::Other(|c, v| {
                let mut t = Vec::new();
                for part in v.split([';', '/']) {
                    t.push(parse_real(part).ok_or(NOT_REAL)?).map_err(|_| TOO_MANY)?;
                }
                c.adapt.thresholds = t;
                Ok(())
            }),
        ),
        key(
            "min_weight_for_del_heuristic",
            None,
            "adapt.min_weight_for_del",
            Store::Real(|c| &mut c.adapt.min_weight_for_del),
        ),
        key(
            "num_database_samples",
            None,
            "adapt.num_database_samples",
            Store::Int(|c| &mut c.adapt.num_database_samples),
        ),
        key("num_prior_samples", None, "adapt.num_prior_samples", Store::Int(|c| &mut c.adapt.num_prior_samples)),
        choice_key(0),
        choice_key(1),
        choice_key(2),
        choice_key(3),
        choice_key(4),
        choice_key(5),
        choice_key(6),
        key(
            "component_stepsize.initial_stepsize",
            Some("beta"),
            "component_step.initial",
            Store::Real(|c| &mut c.component_step.initial),
        ),
        key("component_stepsize.min_stepsize", None, "component_step.min", Store::Real(|c| &mut c.component_step.min)),
        key("component_stepsize.max_stepsize", None, "component_step.max", Store::Real(|c| &mut c.component_step.max)),
        key(
            "component_stepsize.stepsize_inc_factor",
            None,
            "component_step.inc_factor",
            Store::Real(|c| &mut c.component_step.inc_factor),
        ),
        key(
            "component_stepsize.stepsize_dec_factor",
            None,
            "component_step.dec_factor",
            Store::Real(|c| &mut c.component_step.dec_factor),
        ),
        key(
            "component_stepsize.annealing_exponent",
            None,
            "component_step.annealing_exponent",
            Store::Real(|c| &mut c.component_step.annealing_exponent),
        ),
        key(
            "weight_stepsize.initial_stepsize",
            Some("beta_w"),
            "weight_step.initial",
            Store::Real(|c| &mut c.weight_step.initial),
        ),
        key("weight_stepsize.min_stepsize", None, "weight_step.min", Store::Real(|c| &mut c.weight_step.min)),
        key("weight_stepsize.max_stepsize", None, "weight_step.max", Store::Real(|c| &mut c.weight_step.max)),
        key(
            "weight_stepsize.stepsize_inc_factor",
            None,
            "weight_step.inc_factor",
            Store::Real(|c| &mut c.weight_step.inc_factor),
        ),
        key(
            "weight_stepsize.stepsize_dec_factor",
            None,
            "weight_step.dec_factor",
            Store::Real(|c| &mut c.weight_step.dec_factor),
        ),
        key(
            "weight_stepsize.annealing_exponent",
            None,
            "weight_step.annealing_exponent",
            // `none` is the "no default" state of `G`.
            Store::Other(|c, v| {
                c.weight_step.annealing_exponent =
                    if v == "none" { None } else { Some(parse_real(v).ok_or(NOT_REAL)?) };
                Ok(())
            }),
        ),
    ];

    /// Every key [`Config::set`] accepts (the reference's names, then the short aliases), e.g.
    /// for a help text or a completion list.
    pub const KEYS: [&'static str; 45] = key_names(&Self::KEY_TABLE);

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
    /// numbers must be finite and non-negative and integers exact (`1e6` is accepted). Without
    /// the cargo feature `decimal-text` every number is written as an integer (no float parsing).
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
        let Some(k) = Self::KEY_TABLE.iter().find(|k| k.name == key || k.alias == Some(key)) else {
            return Err(ParseError::UnknownKey { key, value });
        };
        k.apply(self, value).map_err(|(field, reason)| ParseError::BadValue { key, value, field, reason })
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
        let keys = Config::<f64>::KEYS;
        let aliases = || Config::<f64>::KEY_TABLE.iter().filter_map(|k| Some((k.alias?, k.name)));
        let canonical = keys.iter().filter(|k| !aliases().any(|(a, _)| a == **k)).count();
        assert_eq!(canonical + aliases().count(), keys.len());
        for (a, k) in aliases() {
            assert!(keys.contains(&a) && keys.contains(&k), "{a} -> {k}");
        }
        for c in &DESIGN_CHOICES {
            assert!(keys.contains(&c.key), "{}", c.key);
        }
        for (i, k) in keys.iter().enumerate() {
            assert!(!keys[..i].contains(k), "{k} twice");
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
        for (pos, choice) in DESIGN_CHOICES.iter().enumerate() {
            for (i, option) in choice.options.iter().enumerate() {
                let letter = [option.letter];
                let letter = core::str::from_utf8(&letter).unwrap();
                assert_eq!(choice.option_named(letter), Some(i));
                // Every option has a reference type string.
                assert!(!option.names.is_empty(), "position {pos} option {i}");
                for name in option.names {
                    assert_eq!(choice.option_named(name), Some(i), "{name}");
                }
                // The rejection reason lists the letter.
                assert!(choice.reason.contains(letter));
                assert!(choice.codeword_field.contains(letter));
                // The enum has this option, at the same index.
                let mut cfg = Config::<f64>::samtrux();
                cfg.select_at(pos, i);
                assert_eq!(cfg.options()[pos], i, "position {pos} option {i}");
                if let Some(gate) = &option.gate {
                    assert!(gate.left_out.starts_with(choice.field) && gate.left_out.contains(gate.feature));
                }
            }
            // ... and no more options.
            let mut cfg = Config::<f64>::samtrux();
            cfg.select_at(pos, choice.options.len());
            assert_eq!(cfg, Config::samtrux(), "position {pos}");
            assert_eq!(choice.option_named("Q"), None);
        }
    }

    #[test]
    fn config_aliases_name_known_keys() {
        for (alias, key) in Config::<f64>::KEY_TABLE.iter().filter_map(|k| Some((k.alias?, k.name))) {
            let (mut a, mut k) = (Config::<f64>::samtrux(), Config::<f64>::samtrux());
            a.set(alias, "3").unwrap();
            k.set(key, "3").unwrap();
            assert_eq!(a, k, "{alias}");
            assert_ne!(a, Config::samtrux(), "{alias}");
        }
    }
}

//! The optimiser: one value holding the model, the sample store, the per-component
//! bookkeeping and the RNG; [`Optimizer::step`] runs one bounded iteration of
//! Algorithm 1 (Arenz et al. 2023, §3; docs/algorithm.md §1.2) with the seven design choices of its
//! [`Config`]: sample selection (`M`/`P`) → component step sizes (`F`/`D`/`R`) → natural-gradient
//! estimation (`Z`/`S`) → component update (`I`/`Y`/`T`) → weight step size (`X`/`G`/`N`) →
//! weight update (`U`/`O`) → adaptation of the number of components (`A`/`E`).
//! Each choice's module has one entry point that dispatches its options; the option is an enum
//! matched once per iteration (or once per component), never per sample, so the hot loops are
//! the same monomorphic code for every codeword.

use crate::rng::Xoshiro256;
use core::mem::MaybeUninit;
use nalgebra::SVector;

use crate::adapt::{self, Adaptation, AddSchedule};
use crate::bounds::{Bounds, Unconstrained};
use crate::checkpoint::{self, CHECKPOINT_VERSION, Reader, Writer, bad};
use crate::comp_step;
use crate::comp_update;
use crate::component_state::{ComponentState, ComponentStates};
use crate::config::{ComponentAdaptation, ComponentUpdater, Config, NgEstimator, SampleSelector};
use crate::error::Error;
use crate::history::History;
use crate::model::Gmm;
use crate::ng_estimate::more::{MAX_MORE_FEATURES, MoreWorkspace, num_features};
use crate::ng_estimate::{self, Estimate, Estimation};
use crate::parallel::{Parallel, Pass, Serial};
use crate::real::{LN_2PI, Real};
use crate::sample_select::{self, Sampling};
use crate::store::{BgSums, SampleStore, Scratch};
use crate::target::Target;
use crate::weight_step::WeightStepState;
use crate::weight_update::{self, Weighting, rewards::RewardScratch};

/// Statistics of one iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport<T> {
    /// Completed iterations, this one included.
    pub iteration: u64,
    /// Target evaluations so far (all steps).
    pub evaluations: u64,
    /// Target evaluations of this step.
    pub new_evaluations: usize,
    /// Of those, samples rejected because the target value or gradient was not finite.
    pub rejected_samples: usize,
    /// Rows of the working set (fresh and reused samples).
    pub working_set: usize,
    /// Active components after the step.
    pub components: usize,
    /// Importance-sampled ELBO of the model after the component update, `Σ_k w_k E_k` (free:
    /// no extra target evaluations; noisier than [`Optimizer::estimate_elbo`]).
    pub elbo_estimate: T,
    /// Component updates rejected (no positive-definite candidate within the bound).
    pub rejected_updates: usize,
    /// `true` if the weight update was skipped (non-finite expected log ratios).
    pub weights_frozen: bool,
    /// Components added by the adaptive scheme.
    pub added: usize,
    /// Components deleted by the adaptive scheme.
    pub deleted: usize,
}

/// When [`Optimizer::run`] stops; the first rule met wins.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopRule<T> {
    /// Hard bound on iterations of this call.
    pub max_iterations: u64,
    /// Stop once the total number of target evaluations reaches this.
    pub max_evaluations: u64,
    /// Convergence window in iterations (0 disables): stop when the best
    /// [`StepReport::elbo_estimate`] has not risen by more than `tolerance` for this many
    /// iterations.
    pub window: u64,
    /// Convergence tolerance on the ELBO (nats).
    pub tolerance: T,
}

impl<T: Real> StopRule<T> {
    /// Only an iteration bound.
    pub fn iterations(n: u64) -> Self {
        Self { max_iterations: n, max_evaluations: u64::MAX, window: 0, tolerance: T::zero() }
    }
    /// Only an evaluation budget (bounded by `u32::MAX` iterations).
    pub fn evaluations(n: u64) -> Self {
        Self { max_iterations: u32::MAX as u64, max_evaluations: n, window: 0, tolerance: T::zero() }
    }
}

/// Why [`Optimizer::run`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `max_iterations` reached.
    MaxIterations,
    /// `max_evaluations` reached.
    MaxEvaluations,
    /// No ELBO improvement beyond the tolerance over the window.
    Converged,
}

/// Result of [`Optimizer::run`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunSummary<T> {
    /// Why it stopped.
    pub reason: StopReason,
    /// The last step's report.
    pub last: Option<StepReport<T>>,
}

/// The complete optimiser state, allocation-free and sized by its type:
///
/// * `DIM` the dimension `D`, `COMPONENTS` the component capacity `K`,
/// * `SAMPLES` sample-store rows (≥ `n_des · K`; with reuse, `(⌊ratio·n_des⌋ + n_des)·K` keeps
///   the whole reuse window),
/// * `GAUSSIANS` stored Gaussians (≥ `K`; `K·(⌊ratio·n_des⌋ + 1)` covers any working set),
/// * `HISTORY` reward/weight history columns (≥ `2⌊del_iters/3⌋ + del_iters`),
/// * `DIAG` (default `false`): the diagonal-covariance model (the reference's
///   `use_diagonal_covs`). Every component keeps a diagonal covariance, the Stein estimate keeps
///   only the diagonal of `Ĥ`, and densities, gradients, estimates and the `T`/`Y` updates cost
///   O(D) per sample instead of O(D²). The initial components must be diagonal; `Z` (MORE) and
///   `I` (direct) need full covariances and are rejected. The memory is that of the full model.
/// * `MORE_FEATURES` (default 0): the MORE (`Z`) workspace for `D > 10`, in features `F`: at
///   least `D(D+1)/2 + D + 1` (231 for `D = 20`), `8·(F² + 2F)` bytes. Up to `D = 10` MORE uses
///   a stack array per component task and `MORE_FEATURES` stays 0.
/// * `BG_CACHE` (default `SAMPLES`): rows of the kept background sums, `SAMPLES` or 0. With
///   `SAMPLES` (24 bytes a row) the background density of the reused samples is updated from
///   one iteration to the next with only the Gaussians that enter or leave the working set;
///   with 0 it is summed afresh at every selection, in less memory and more time (a
///   microcontroller build without reuse loses nothing). The results are bit-identical.
///
/// The parameters are positional: `Optimizer<f64, 2, 8, 4096, 64, 256>` is `DIM = 2`,
/// `COMPONENTS = 8`, `SAMPLES = 4096`, `GAUSSIANS = 64`, `HISTORY = 256`.
/// `size_of::<Optimizer<T, DIM, COMPONENTS, SAMPLES, GAUSSIANS, HISTORY>>()` is the whole memory (see the crate docs for the
/// formula); place it in a `static`, on a (large enough) stack or in a `Box`.
#[derive(Clone, Debug)]
pub struct Optimizer<
    T: Real,
    const DIM: usize,
    const COMPONENTS: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const HISTORY: usize,
    const DIAG: bool = false,
    const MORE_FEATURES: usize = 0,
    const BG_CACHE: usize = SAMPLES,
> {
    cfg: Config<T>,
    /// The mixture over the unconstrained space (the constrained space without bounds).
    model: Gmm<T, DIM, COMPONENTS>,
    /// The target's support; the model lives in its unconstrained space.
    bounds: Bounds<T, DIM>,
    store: SampleStore<T, DIM, SAMPLES, GAUSSIANS>,
    /// The working set of the current iteration and the per-row columns of its passes.
    scratch: Scratch<T, DIM, SAMPLES, GAUSSIANS>,
    rh: History<T, COMPONENTS, HISTORY>,
    wh: History<T, COMPONENTS, HISTORY>,
    /// Step size, last η, update count and ridge coefficient of every component.
    states: ComponentStates<T, COMPONENTS>,
    /// Natural-gradient estimates `(Ĥ_k, ĝ_k)` of the current iteration (`None`: failed).
    ng: [Estimate<T, DIM>; COMPONENTS],
    wstep: WeightStepState<T>,
    /// Expected log ratios of the current iteration.
    rewards: RewardScratch<T, COMPONENTS>,
    rng: Xoshiro256,
    eval_rng: Xoshiro256,
    iteration: u64,
    add_calls: usize,
    prior_entropy: Option<T>,
    /// Mean and standard deviations of the prior (for `num_prior_samples`).
    prior: Option<(SVector<T, DIM>, SVector<T, DIM>)>,
    /// MORE normal equations for `D > 10` (scratch; empty for `MORE_FEATURES = 0`).
    more: MoreWorkspace<DIM, MORE_FEATURES>,
    /// The kept per-row background sums (scratch, rebuilt when missing; not checkpointed).
    bg_sums: BgSums<BG_CACHE>,
}

/// Capacities for a small problem on a host, of any dimension `DIM`: up to 8 components, 4096
/// stored samples, 64 stored Gaussians and 256 history columns, which hold the defaults of the
/// presets (`n_des = 100`, `del_iters = 100`). About 380 KB for `f64` at `DIM = 2`: box it.
///
/// ```
/// use gmmvi::{Config, Gmm, SmallOptimizer, StopRule, Target, TargetError};
/// use nalgebra::{SMatrix, SVector};
///
/// /// exp(−|x − 1|²/2): a unit Gaussian at (1, 1, 1) without its normaliser.
/// struct Bowl;
/// impl Target<f64, 3> for Bowl {
///     fn log_density(&mut self, x: &[SVector<f64, 3>], lp: &mut [f64]) -> Result<(), TargetError> {
///         for (xi, l) in x.iter().zip(lp) {
///             *l = -(xi - SVector::repeat(1.0)).norm_squared() / 2.0;
///         }
///         Ok(())
///     }
///     fn log_density_with_grad(
///         &mut self,
///         x: &[SVector<f64, 3>],
///         lp: &mut [f64],
///         grad: &mut [SVector<f64, 3>],
///     ) -> Result<(), TargetError> {
///         for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
///             *g = SVector::repeat(1.0) - xi;
///             *l = -g.norm_squared() / 2.0;
///         }
///         Ok(())
///     }
/// }
///
/// let mut init = Gmm::new();
/// init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * 4.0))?;
/// let mut opt = Box::new(SmallOptimizer::<f64, 3>::new(&Config::samtrux(), init, 7)?);
/// opt.run(&mut Bowl, &StopRule::iterations(60), |_| {})?;
/// let log_z = 1.5 * core::f64::consts::TAU.ln();
/// assert!((opt.estimate_elbo(&mut Bowl, 2000)? - log_z).abs() < 1e-2); // ELBO → log Z
/// # Ok::<(), gmmvi::Error>(())
/// ```
pub type SmallOptimizer<T, const DIM: usize> = Optimizer<T, DIM, 8, 4096, 64, 256>;

/// The sizes of `libgmmvi.a`'s default build (`include/gmmvi.h`), which the Cortex-M4F C
/// firmware runs: dimension 7 (a 7-joint arm), up to 8 components, 320 stored samples,
/// 24 stored Gaussians and 16 history columns; the C library uses it with `f32`. A preset
/// needs fitting to these sizes, as `gmmvi_config_default` does: 20 new samples per component,
/// at most as many reused, and `del_iters ≤ 10`.
///
/// ```
/// use gmmvi::{Config, Error, Gmm, Optimizer7x8, StopRule, Target, TargetError};
/// use nalgebra::{SMatrix, SVector};
///
/// /// A unit Gaussian at the origin without its normaliser.
/// struct Bowl;
/// impl Target<f32, 7> for Bowl {
///     fn log_density(&mut self, x: &[SVector<f32, 7>], lp: &mut [f32]) -> Result<(), TargetError> {
///         for (xi, l) in x.iter().zip(lp) {
///             *l = -xi.norm_squared() / 2.0;
///         }
///         Ok(())
///     }
///     fn log_density_with_grad(
///         &mut self,
///         x: &[SVector<f32, 7>],
///         lp: &mut [f32],
///         grad: &mut [SVector<f32, 7>],
///     ) -> Result<(), TargetError> {
///         for ((xi, l), g) in x.iter().zip(lp).zip(grad) {
///             *l = -xi.norm_squared() / 2.0;
///             *g = -xi;
///         }
///         Ok(())
///     }
/// }
///
/// type Opt = Optimizer7x8<f32>;
/// // Within the C library's state (GMMVI_STATE_SIZE).
/// assert!(size_of::<Opt>() <= 65_856);
/// let mut cfg = Config::samtrux();
/// cfg.samples.desired_samples_per_component = 20;
/// cfg.samples.reuse_ratio = 1.0;
/// cfg.adapt.del_iters = 10;
/// cfg.adapt.max_components = 8;
/// let mut init = Gmm::new();
/// init.add_component(1.0, SVector::repeat(0.5), &SMatrix::identity())?;
/// // The presets' defaults do not fit: their deletion rule reads 166 history columns.
/// let too_big = Opt::new(&Config::samtrux(), init.clone(), 7).map(|_| ());
/// assert!(matches!(too_big, Err(Error::InvalidConfig { .. })));
/// let mut opt = Box::new(Opt::new(&cfg, init, 7)?);
/// opt.run(&mut Bowl, &StopRule::iterations(100), |_| {})?;
/// let log_z = 3.5 * core::f32::consts::TAU.ln();
/// assert!((opt.estimate_elbo(&mut Bowl, 2000)? - log_z).abs() < 5e-2); // ELBO → log Z
/// # Ok::<(), gmmvi::Error>(())
/// ```
pub type Optimizer7x8<T> = Optimizer<T, 7, 8, 320, 24, 16>;

/// Magic of the checkpoint format.
const CHECKPOINT_MAGIC: &[u8; 8] = b"GMMVICKP";

impl<
    T: Real,
    const DIM: usize,
    const COMPONENTS: usize,
    const SAMPLES: usize,
    const GAUSSIANS: usize,
    const HISTORY: usize,
    const DIAG: bool,
    const MORE_FEATURES: usize,
    const BG_CACHE: usize,
> Optimizer<T, DIM, COMPONENTS, SAMPLES, GAUSSIANS, HISTORY, DIAG, MORE_FEATURES, BG_CACHE>
{
    /// A new optimiser for the initial model `init`, deterministic in `seed`.
    ///
    /// # Errors
    /// `InvalidConfig` for an invalid `cfg` or one that does not fit the capacities
    /// (`SAMPLES`, `GAUSSIANS`, `HISTORY`); `InvalidArgument` for an empty `init`.
    pub fn new(cfg: &Config<T>, init: Gmm<T, DIM, COMPONENTS>, seed: u64) -> Result<Self, Error> {
        Self::check(cfg, &init)?;
        let mut s = Self::BLANK;
        s.init_in_place(cfg, &init, seed);
        Ok(s)
    }

    /// [`Self::new`] built directly in caller storage, for a state too large for the stack:
    /// `new` returns the whole state by value, so building it in a `static` costs a stack of
    /// about twice `size_of::<Self>()` (the value plus the copy), while `new_in` zeroes `slot`
    /// in place and fills in the initial values field by field, so its stack is independent of
    /// `SAMPLES` (measured in the Cortex-M4F firmware: 14.5 KiB including the caller's initial model,
    /// against 38 KiB when the state was built whole). `slot` may hold a previous optimiser,
    /// which is replaced (not dropped: the state owns no resources). Nothing is written on
    /// error.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use gmmvi::{Config, Gmm, Optimizer};
    /// use nalgebra::{SMatrix, SVector};
    /// # fn main() -> Result<(), gmmvi::Error> {
    /// let mut init = Gmm::<f64, 2, 4>::new();
    /// init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * 4.0))?;
    /// // E.g. on the heap without a stack copy (or a `static` slot on firmware):
    /// let mut slot: Box<MaybeUninit<Optimizer<f64, 2, 4, 1024, 16, 256>>> = Box::new_uninit();
    /// let opt = Optimizer::new_in(&mut slot, &Config::samtrux(), &init, 7)?;
    /// assert_eq!(opt.model().len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn new_in<'a>(
        slot: &'a mut MaybeUninit<Self>,
        cfg: &Config<T>,
        init: &Gmm<T, DIM, COMPONENTS>,
        seed: u64,
    ) -> Result<&'a mut Self, Error> {
        Self::check(cfg, init)?;
        let s = slot.write(Self::BLANK);
        s.init_in_place(cfg, init, seed);
        Ok(s)
    }

    /// The checks of [`Self::new`].
    fn check(cfg: &Config<T>, init: &Gmm<T, DIM, COMPONENTS>) -> Result<(), Error> {
        const {
            assert!(
                DIM > 0 && COMPONENTS > 0 && SAMPLES > 0 && GAUSSIANS >= COMPONENTS && HISTORY > 1,
                "need DIM, COMPONENTS, SAMPLES > 0, GAUSSIANS >= COMPONENTS, HISTORY > 1"
            )
        };
        const { assert!(BG_CACHE == 0 || BG_CACHE == SAMPLES, "BG_CACHE must be 0 or SAMPLES") };
        cfg.validate()?;
        if HISTORY < cfg.history_needed() {
            return Err(Error::InvalidConfig { field: "adapt.del_iters (history capacity HISTORY too small)" });
        }
        let per_iteration = match cfg.samples.selector {
            SampleSelector::ComponentBased => cfg.samples.desired_samples_per_component.saturating_mul(COMPONENTS),
            SampleSelector::MixtureBased => cfg.samples.desired_samples_per_component,
        };
        if per_iteration > SAMPLES.min(cfg.samples.max_database_size) {
            return Err(Error::InvalidConfig {
                field: "samples.desired_samples_per_component (new samples per iteration exceed the store)",
            });
        }
        if cfg.ng.estimator == NgEstimator::More && num_features(DIM) > MAX_MORE_FEATURES.max(MORE_FEATURES) {
            return Err(Error::InvalidConfig {
                field: "ng.estimator (MORE above 10 dimensions needs MORE_FEATURES >= DIM(DIM+1)/2 + DIM + 1)",
            });
        }
        if DIAG && cfg.ng.estimator == NgEstimator::More {
            return Err(Error::InvalidConfig { field: "ng.estimator (MORE needs full covariances)" });
        }
        if DIAG && cfg.component_update.updater == ComponentUpdater::Direct {
            return Err(Error::InvalidConfig {
                field: "component_update.updater (the direct update needs full covariances)",
            });
        }
        if DIAG && init.components().iter().any(|c| !c.diag) {
            return Err(Error::InvalidArgument { what: "the diagonal model needs diagonal initial covariances" });
        }
        if init.is_empty() {
            return Err(Error::InvalidArgument { what: "initial model has no component" });
        }
        Ok(())
    }

    /// Every field zero or `None`: a valid value but not a usable optimiser until
    /// [`Self::init_in_place`]. Its bytes are all zero (no field has a niche or a nonzero
    /// discriminant there), so writing it into a `static` or a `MaybeUninit` slot compiles to a
    /// `memset` in place instead of a state-sized temporary on the stack.
    const BLANK: Self = Self {
        cfg: Config::BLANK,
        model: Gmm::BLANK,
        bounds: Bounds::BLANK,
        store: SampleStore::BLANK,
        scratch: Scratch::BLANK,
        rh: History::BLANK,
        wh: History::BLANK,
        states: ComponentStates::BLANK,
        ng: [None; COMPONENTS],
        wstep: WeightStepState::BLANK,
        rewards: RewardScratch::BLANK,
        rng: Xoshiro256::BLANK,
        eval_rng: Xoshiro256::BLANK,
        iteration: 0,
        add_calls: 0,
        prior_entropy: None,
        prior: None,
        more: MoreWorkspace::zeroed(),
        bg_sums: BgSums::BLANK,
    };

    /// Turns a [`Self::BLANK`] value into the initial state of a checked configuration, field
    /// by field (each assignment is at most a model-sized copy).
    #[inline(never)]
    fn init_in_place(&mut self, cfg: &Config<T>, init: &Gmm<T, DIM, COMPONENTS>, seed: u64) {
        self.cfg.clone_from(cfg);
        self.model.assign(init);
        self.bounds = Bounds::unbounded();
        self.store.reset();
        self.scratch.bg.clear();
        for h in [&mut self.rh, &mut self.wh] {
            h.fill(T::SENTINEL);
        }
        self.states.reset_all(&Self::new_component_state(cfg));
        self.ng = [None; COMPONENTS];
        self.wstep = WeightStepState::new(&cfg.weight_step);
        self.rewards = RewardScratch::BLANK;
        self.rng = Xoshiro256::seed_from_u64(seed);
        self.eval_rng = Xoshiro256::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
        self.iteration = 0;
        self.add_calls = 0;
        self.prior_entropy = None;
        self.prior = None;
    }

    /// Declares the prior `N(mean, diag(var))` of the initial model (docs/algorithm.md §10.1 step
    /// 5): the add heuristic then draws the entropy of a new component between the model's average
    /// entropy and the prior's.
    ///
    /// This sets the prior's entropy only; `adapt.num_prior_samples > 0` also needs its mean
    /// ([`Self::set_prior`]), and calling this clears a mean set before.
    ///
    /// # Errors
    /// `InvalidArgument` unless every variance is positive and finite.
    pub fn set_prior_variances(&mut self, var: &SVector<T, DIM>) -> Result<(), Error> {
        if var.iter().any(|v| !(*v > T::zero()) || !v.finite()) {
            return Err(Error::InvalidArgument { what: "prior variances must be positive" });
        }
        let mut h = T::of(0.5 * DIM as f64 * (LN_2PI + 1.0));
        for v in var.iter() {
            h += T::of(0.5) * v.ln();
        }
        self.prior_entropy = Some(h);
        self.prior = None;
        Ok(())
    }

    /// Declares the prior `N(mean, diag(var))` (docs/algorithm.md §10.1): its entropy as
    /// [`Self::set_prior_variances`] does, and the distribution that the add heuristic draws
    /// `adapt.num_prior_samples` further candidates from (the target is evaluated on them; they
    /// count as evaluations).
    ///
    /// # Errors
    /// `InvalidArgument` unless the mean is finite and every variance positive and finite.
    pub fn set_prior(&mut self, mean: &SVector<T, DIM>, var: &SVector<T, DIM>) -> Result<(), Error> {
        if mean.iter().any(|v| !v.finite()) {
            return Err(Error::InvalidArgument { what: "prior mean must be finite" });
        }
        self.set_prior_variances(var)?;
        self.prior = Some((*mean, var.map(|v| v.sqrt())));
        Ok(())
    }

    /// The current model. With bounds ([`Self::set_bounds`]) it is the mixture `q_Y` over the
    /// unconstrained space; [`Self::sample`] and [`Self::log_density`] work in the constrained
    /// space.
    pub fn model(&self) -> &Gmm<T, DIM, COMPONENTS> {
        &self.model
    }

    /// Copies the current model into caller storage `out`, field by field (no heap, no
    /// model-sized temporary): a snapshot of the mixture (weights, means, Cholesky factors and
    /// their derived inverse factors) that samples, log densities, marginals and conditionals
    /// need, usable without the optimiser. Valid after any step, also a failed one (the model is
    /// then the one before the step).
    ///
    /// What may run concurrently: a [`Gmm`] is plain data (`Send + Sync`, no interior
    /// mutability), and its reading methods take `&self` and the caller's RNG, so any number of
    /// threads may sample and evaluate one snapshot at the same time. The optimiser needs
    /// `&mut self` to step, so `snapshot` and `step` of one optimiser run on one thread, one
    /// after the other; distinct optimisers and distinct snapshots are independent. To sample at
    /// a fixed rate while a fit runs, publish through a double buffer: two snapshots, each behind
    /// a lock (e.g. `std::sync::Mutex`, or a critical section on a microcontroller), and an
    /// atomic index of the published one. The fitting thread writes the other snapshot under
    /// its lock and then stores its index (release); the sampling thread loads the index
    /// (acquire) and holds that snapshot's lock while it reads. The lock is only ever contended
    /// when the fit laps the sampler, so the sampler never waits for a step.
    ///
    /// The snapshot is the mixture over the unconstrained space: with bounds
    /// ([`Self::set_bounds`]) sample and evaluate it through [`Bounds::sample`] and
    /// [`Bounds::log_density`] with a copy of [`Self::bounds`].
    pub fn snapshot(&self, out: &mut Gmm<T, DIM, COMPONENTS>) {
        out.assign(&self.model);
    }

    /// Declares the support of the target (docs/algorithm.md §15): from now on the model is
    /// fitted over the unconstrained space, the target is only evaluated strictly inside the
    /// bounds, and [`Self::sample`], [`Self::log_density`] and [`Self::estimate_elbo`] refer to
    /// the constrained space. The initial model (and [`Self::set_prior`]) are read in the
    /// unconstrained space: a two-sided coordinate's `y = 0` is the middle of its interval.
    ///
    /// The stored samples are dropped (their values contain the previous bounds'
    /// log-Jacobian); the mixture, step sizes and generators are kept.
    ///
    /// ```
    /// # use gmmvi::{Bounds, Config, Gmm, Optimizer};
    /// # use nalgebra::{SMatrix, SVector};
    /// let mut init = Gmm::<f64, 2, 4>::new();
    /// init.add_component(1.0, SVector::zeros(), &SMatrix::identity())?;
    /// let mut opt = Box::new(Optimizer::<f64, 2, 4, 1024, 16, 256>::new(&Config::samtrux(), init, 1)?);
    /// // x0 in [-1, 2], x1 in [0, ∞).
    /// opt.set_bounds(&Bounds::new(&[-1.0, 0.0], &[2.0, f64::INFINITY])?)?;
    /// let mut xs = [SVector::zeros(); 100];
    /// let mut rng = gmmvi::rng::Xoshiro256::seed_from_u64(3);
    /// opt.sample(&mut rng, &mut xs);
    /// assert!(xs.iter().all(|x| opt.bounds().contains(x) && opt.log_density(x).is_finite()));
    /// assert_eq!(opt.log_density(&SVector::from([2.0, 1.0])), f64::NEG_INFINITY);
    /// # Ok::<(), gmmvi::Error>(())
    /// ```
    ///
    /// # Errors
    /// None at present (the bounds were validated by [`Bounds::new`]); a `Result` so that
    /// future checks against the state need no API change.
    pub fn set_bounds(&mut self, bounds: &Bounds<T, DIM>) -> Result<(), Error> {
        self.bounds = *bounds;
        self.store.clear_rows();
        self.scratch.bg.clear();
        Ok(())
    }

    /// The target's support (unbounded unless [`Self::set_bounds`] was called).
    pub fn bounds(&self) -> &Bounds<T, DIM> {
        &self.bounds
    }

    /// Fills `out` with samples of the model in the constrained space, strictly inside the
    /// bounds, drawn with the caller's `rng` (the optimiser's own streams are not touched);
    /// returns the number written.
    pub fn sample<R: rand_core::Rng + ?Sized>(&self, rng: &mut R, out: &mut [SVector<T, DIM>]) -> usize {
        self.bounds.sample(&self.model, rng, out)
    }

    /// `log q_X(x)`, the model's density in the constrained space: `log q_Y(y(x)) − log|det
    /// dx/dy|`, and `−∞` on or outside the bounds.
    pub fn log_density(&self, x: &SVector<T, DIM>) -> T {
        self.bounds.log_density(&self.model, x)
    }

    /// [`Self::log_density`] of many points with the batched kernel (much faster for clustered
    /// points): `out[i] = log q_X(xs[i])` for `min(xs.len(), out.len())` points.
    pub fn log_density_many(&self, xs: &[SVector<T, DIM>], out: &mut [T]) {
        self.bounds.log_density_many(&self.model, xs, out)
    }

    /// The target changed (e.g. its goal moved): keeps the mixture, the bounds, the prior,
    /// both generators and the counters, and forgets what belongs to the old target
    /// (docs/algorithm.md §15.3): every stored sample (their target values), the reward and
    /// weight histories, every component's step size, update count, trust-region warm start
    /// and ridge coefficient, and the weight step size's state. The next [`Self::step`] then
    /// proceeds as from a fresh start at the current mixture.
    pub fn retarget(&mut self) {
        self.store.clear_rows();
        self.scratch.bg.clear();
        for k in 0..COMPONENTS {
            self.rh.reset_row(k, T::SENTINEL);
            self.wh.reset_row(k, T::SENTINEL);
        }
        self.states.reset_all(&Self::new_component_state(&self.cfg));
        self.wstep = WeightStepState::new(&self.cfg.weight_step);
    }

    /// Writes the model in the portable format: the mixture over the unconstrained space and
    /// the bounds (model format version 2); without bounds exactly [`Gmm::export`]. Returns the
    /// bytes written.
    ///
    /// # Errors
    /// `BufferTooSmall { needed }` if `out` is shorter than [`Self::export_model_size`].
    pub fn export_model(&self, out: &mut [u8]) -> Result<usize, Error> {
        self.model.export_with(out, Some(&self.bounds))
    }

    /// Bytes [`Self::export_model`] writes now.
    pub fn export_model_size(&self) -> usize {
        let extra = if self.bounds.is_unbounded() { 0 } else { 16 * DIM };
        self.model.export_size() + extra
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config<T> {
        &self.cfg
    }

    /// Completed iterations.
    pub fn iterations(&self) -> u64 {
        self.iteration
    }

    /// Target evaluations so far.
    pub fn evaluations(&self) -> u64 {
        self.store.evaluations()
    }

    /// Samples currently in the store.
    pub fn stored_samples(&self) -> usize {
        self.store.len()
    }

    /// Current per-component step sizes (KL bounds for the trust-region update).
    pub fn component_stepsizes(&self) -> &[T] {
        &self.states.stepsizes()[..self.model.len()]
    }

    /// Writes the complete optimiser state (model, step sizes, weight-step state, histories,
    /// sample store, generator states, counters) into `out` in the versioned little-endian
    /// checkpoint format of [`crate::checkpoint`]; returns the bytes written.
    /// [`Self::restore`] on an optimiser of the same type and configuration then continues
    /// bit-identically to an uninterrupted run.
    ///
    /// ```
    /// # use gmmvi::{Config, Gmm, Optimizer};
    /// # use gmmvi_targets::GaussianMixtureTarget;
    /// # use nalgebra::{SMatrix, SVector};
    /// type Opt = Optimizer<f64, 2, 4, 1024, 16, 256>;
    /// let mut init = Gmm::new();
    /// init.add_component(1.0, SVector::zeros(), &(SMatrix::identity() * 4.0))?;
    /// let mut target =
    ///     GaussianMixtureTarget::<f64, 2, 1>::new(&[1.0], &[SVector::from([1.0, 2.0])], &[SMatrix::identity()])?;
    /// let mut a = Box::new(Opt::new(&Config::samtrux(), init.clone(), 7)?);
    /// a.step(&mut target)?;
    /// let mut bytes = vec![0u8; a.checkpoint_size()];
    /// a.save(&mut bytes)?;
    ///
    /// let mut b = Box::new(Opt::new(&Config::samtrux(), init, 0)?);
    /// b.restore(&bytes)?;
    /// a.step(&mut target)?;
    /// b.step(&mut target)?;
    /// assert_eq!(a.model().log_weights(), b.model().log_weights());
    /// # Ok::<(), gmmvi::Error>(())
    /// ```
    ///
    /// # Errors
    /// `BufferTooSmall { needed }` if `out` is shorter than [`Self::checkpoint_size`].
    pub fn save(&self, out: &mut [u8]) -> Result<usize, Error> {
        let mut w = Writer::new(out);
        self.save_all(&mut w);
        w.finish()
    }

    /// Bytes [`Self::save`] needs now (it grows with the stored samples and components).
    pub fn checkpoint_size(&self) -> usize {
        let mut w = Writer::new(&mut []);
        self.save_all(&mut w);
        match w.finish() {
            Ok(n) | Err(Error::BufferTooSmall { needed: n }) => n,
            Err(_) => 0,
        }
    }

    /// Replaces this optimiser's state by a checkpoint of [`Self::save`]. The checkpoint must
    /// come from an optimiser of the same type (`T`, capacities and `DIAG`) and the
    /// same configuration; the whole blob is validated before anything is written, so on error
    /// the optimiser is unchanged.
    ///
    /// # Errors
    /// `BadCheckpoint` for truncated or corrupted bytes (checksum), another format version,
    /// other sizes or scalar type, another configuration, or values out of range.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut r = Reader::new(bytes, CHECKPOINT_MAGIC)?;
        let version = r.u32()?;
        if !(1..=CHECKPOINT_VERSION).contains(&version) {
            return Err(bad("unsupported checkpoint version"));
        }
        let (scalar, diag, _, _) = (r.u8()?, r.u8()?, r.u8()?, r.u8()?);
        let dims = [r.u32()?, r.u32()?, r.u32()?, r.u32()?, r.u32()?];
        if usize::from(scalar) != size_of::<T>() || (diag == 1) != DIAG || dims != Self::dims() {
            return Err(bad(
                "checkpoint of another optimiser type (scalar, DIAG, DIM, COMPONENTS, SAMPLES, GAUSSIANS or HISTORY)",
            ));
        }
        if r.u64()? != checkpoint::fingerprint(&self.cfg) {
            return Err(bad("checkpoint of another configuration"));
        }
        // Version 1 predates bounds: its runs were unbounded.
        let bounds = if version >= 2 {
            let (mut lo, mut hi) = ([T::zero(); DIM], [T::zero(); DIM]);
            r.reals::<T, true>(&mut lo)?;
            r.reals::<T, true>(&mut hi)?;
            Bounds::new(&lo, &hi).map_err(|_| bad("invalid bounds"))?
        } else {
            Bounds::unbounded()
        };
        let body = r.pos();
        self.load_body::<false>(&mut r)?;
        if !r.at_end() {
            return Err(bad("trailing bytes"));
        }
        r.seek(body);
        self.load_body::<true>(&mut r)?;
        self.bounds = bounds;
        Ok(())
    }

    /// Replaces the model by an exported one ([`Gmm::export`] or [`Self::export_model`], any
    /// scalar type) and restarts every per-component state (step sizes, histories, update
    /// counts) as [`Self::new`] does; the generators and counters are kept. A model with bounds
    /// also sets the bounds, and if they differ from the current ones the stored samples are
    /// dropped (as [`Self::set_bounds`]); a mixture alone keeps the current bounds and the sample
    /// store. Nothing changes on error.
    ///
    /// # Errors
    /// As [`Gmm::import`] (bounds are accepted); also `BadCheckpoint` for a full covariance
    /// when `DIAG`.
    pub fn import_model(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if let Some(b) = self.model.import_checked(bytes, DIAG, true)?
            && b != self.bounds
        {
            self.set_bounds(&b)?;
        }
        for k in 0..COMPONENTS {
            self.rh.reset_row(k, T::SENTINEL);
            self.wh.reset_row(k, T::SENTINEL);
        }
        self.states.reset_all(&Self::new_component_state(&self.cfg));
        Ok(())
    }

    /// The optimiser state of a new component.
    fn new_component_state(cfg: &Config<T>) -> ComponentState<T> {
        ComponentState::new(cfg.component_step.initial, cfg.ng.initial_l2_regularizer)
    }

    fn dims() -> [u32; 5] {
        [DIM, COMPONENTS, SAMPLES, GAUSSIANS, HISTORY].map(|v| v as u32)
    }

    fn save_all(&self, w: &mut Writer) {
        w.bytes(CHECKPOINT_MAGIC);
        w.u32(CHECKPOINT_VERSION);
        w.bytes(&[size_of::<T>() as u8, u8::from(DIAG), 0, 0]);
        for v in Self::dims() {
            w.u32(v);
        }
        w.u64(checkpoint::fingerprint(&self.cfg));
        w.reals(self.bounds.lower());
        w.reals(self.bounds.upper());
        w.u64(self.iteration);
        w.count(self.add_calls);
        for s in self.rng.state().into_iter().chain(self.eval_rng.state()) {
            w.u64(s);
        }
        // 0: no prior, 1: its entropy, 2: its entropy, mean and standard deviations.
        w.u8(match (self.prior_entropy, self.prior) {
            (None, _) => 0,
            (Some(_), None) => 1,
            (Some(_), Some(_)) => 2,
        });
        w.real(self.prior_entropy.unwrap_or(T::zero()));
        if let (Some(_), Some((m, sd))) = (self.prior_entropy, &self.prior) {
            w.reals(m.as_slice());
            w.reals(sd.as_slice());
        }
        w.real(self.wstep.beta);
        w.u64(self.wstep.calls);
        w.real(self.wstep.last_elbo);
        self.states.save(w);
        self.model.save_state(w);
        self.rh.save(w);
        self.wh.save(w);
        self.store.save_state(w);
    }

    /// The body of [`Self::save_all`]; stores only if `WRITE` (the dry pass validates).
    fn load_body<const WRITE: bool>(&mut self, r: &mut Reader) -> Result<(), Error> {
        let iteration = r.u64()?;
        let add_calls = r.count(usize::MAX)?;
        let mut st = [0u64; 8];
        for s in &mut st {
            *s = r.u64()?;
        }
        let [a0, a1, a2, a3, b0, b1, b2, b3] = st;
        let rng = Xoshiro256::from_state([a0, a1, a2, a3]).ok_or(bad("zero generator state"))?;
        let eval_rng = Xoshiro256::from_state([b0, b1, b2, b3]).ok_or(bad("zero generator state"))?;
        let prior_kind = r.u8()?;
        let has_prior = prior_kind > 0;
        let prior: T = r.real()?;
        let prior_dist = match prior_kind {
            0 | 1 => None,
            2 => {
                let (mut m, mut sd) = (SVector::<T, DIM>::zeros(), SVector::<T, DIM>::zeros());
                r.reals::<T, true>(m.as_mut_slice())?;
                r.reals::<T, true>(sd.as_mut_slice())?;
                if m.iter().chain(sd.iter()).any(|v| !v.finite()) || sd.iter().any(|v| !(*v > T::zero())) {
                    return Err(bad("invalid prior"));
                }
                Some((m, sd))
            }
            _ => return Err(bad("prior flag")),
        };
        let (beta, calls, last_elbo): (T, u64, T) = (r.real()?, r.u64()?, r.real()?);
        if !beta.finite() || (has_prior && !prior.finite()) {
            return Err(bad("non-finite step size or prior entropy"));
        }
        self.states.load::<WRITE>(r)?;
        self.model.load_state::<WRITE>(r)?;
        self.rh.load::<WRITE>(r)?;
        self.wh.load::<WRITE>(r)?;
        self.store.load_state::<WRITE>(r)?;
        if WRITE {
            self.scratch.bg.clear();
            self.iteration = iteration;
            self.add_calls = add_calls;
            self.rng = rng;
            self.eval_rng = eval_rng;
            self.prior_entropy = has_prior.then_some(prior);
            self.prior = prior_dist;
            self.wstep.beta = beta;
            self.wstep.calls = calls;
            self.wstep.last_elbo = last_elbo;
        }
        Ok(())
    }

    /// Monte-Carlo ELBO of the current model with `n` fresh samples (docs/algorithm.md §1.3), drawn
    /// from a separate random stream so that asking for it does not change the optimisation.
    /// These evaluations are not counted in [`Self::evaluations`].
    /// With bounds, the target is evaluated at the mapped samples and the ELBO is that of the
    /// constrained model (the log-Jacobian cancels).
    pub fn estimate_elbo<P: Target<T, DIM> + ?Sized>(&mut self, target: &mut P, n: usize) -> Result<T, Error> {
        let mut target = Unconstrained { bounds: &self.bounds, target };
        self.model.elbo(&mut target, &mut self.eval_rng, n)
    }

    /// One iteration (docs/algorithm.md §1.2). Work is bounded by the capacities: at most `n_des·K`
    /// target evaluations and `O((SAMPLES + K)·K·D²)` arithmetic.
    ///
    /// # Errors
    /// `TargetFailed` (the target returned `Err`) or `NonFiniteTarget` (no usable sample):
    /// the model is unchanged. Rejected component updates are not errors; they are counted in
    /// the report and leave the component as it was.
    pub fn step<P: Target<T, DIM> + ?Sized>(&mut self, target: &mut P) -> Result<StepReport<T>, Error> {
        self.step_with(target, &Serial)
    }

    /// [`Self::step`] with the hot loops run by `par` (e.g. `Threads` with the `std`
    /// feature). The result is bit-identical to [`Self::step`] for any executor.
    pub fn step_with<P: Target<T, DIM> + ?Sized, X: Parallel>(
        &mut self,
        target: &mut P,
        par: &X,
    ) -> Result<StepReport<T>, Error> {
        let cfg = &self.cfg;
        // The method runs in the unconstrained space (the identity without bounds).
        let target = &mut Unconstrained { bounds: &self.bounds, target };
        if cfg.adapt.mode == ComponentAdaptation::Adaptive && cfg.adapt.num_prior_samples > 0 && self.prior.is_none() {
            return Err(Error::InvalidConfig {
                field: "adapt.num_prior_samples (needs the prior's mean: Optimizer::set_prior)",
            });
        }
        let kn = self.model.len();
        // 1. Sample selection (§4, §9): the working set and its background.
        let sel = sample_select::select(
            &cfg.samples,
            cfg.reuse_rows(kn),
            ng_estimate::needs_gradients(&cfg.ng),
            Sampling {
                model: &self.model,
                store: &mut self.store,
                scratch: &mut self.scratch,
                sums: &mut self.bg_sums,
                rng: &mut self.rng,
                par,
            },
            target,
        )?;
        // 2. Component step sizes (§6) from the reward history.
        comp_step::adapt_all(&cfg.component_step, &self.rh, &mut self.states, kn);
        // 3. Natural-gradient estimates (§2) with the model before this iteration.
        let est = Estimation {
            model: &self.model,
            store: &self.store,
            scratch: &mut self.scratch,
            states: &self.states,
            more: &mut self.more,
        };
        ng_estimate::estimate::<T, DIM, COMPONENTS, SAMPLES, GAUSSIANS, MORE_FEATURES, DIAG, X>(
            &cfg.ng,
            est,
            &mut self.ng[..kn],
            par,
        )?;
        // 4. Component updates (§5).
        let (initial_l2, temperature) = (cfg.ng.initial_l2_regularizer, cfg.temperature);
        let rejected_updates = comp_update::update::<T, DIM, COMPONENTS, DIAG, X>(
            &cfg.component_update,
            temperature,
            initial_l2,
            &mut self.model,
            &self.ng[..kn],
            &mut self.states,
            par,
        );
        par.pass_done(Pass::ComponentUpdate, 0, kn);
        // 5. Weight step size (§8).
        let beta_w = self.wstep.next_after(&cfg.weight_step, self.model.log_weights(), &self.rh);
        // 6. Weight update (§7) with the updated components and the old weights.
        let weighting = Weighting {
            model: &mut self.model,
            ws: self.store.working_set(&self.scratch.bg),
            rewards: &mut self.rh,
            weights: &mut self.wh,
            scratch: &mut self.rewards,
        };
        let elbo = weight_update::update(&cfg.weight_update, temperature, beta_w, weighting, par);
        par.pass_done(Pass::WeightUpdate, self.store.len() - sel.start.min(self.store.len()), self.model.len());
        self.iteration += 1;
        // 7. Adaptation of the number of components (§3, §10).
        let adaptation = Adaptation {
            model: &mut self.model,
            rewards: &mut self.rh,
            weights: &mut self.wh,
            states: &mut self.states,
            store: &mut self.store,
            log_q: &mut self.scratch.log_q,
            rng: &mut self.rng,
            par,
        };
        let schedule = AddSchedule {
            iteration: self.iteration,
            add_calls: &mut self.add_calls,
            prior_entropy: self.prior_entropy,
            prior: self.prior.as_ref(),
            new_state: Self::new_component_state(cfg),
        };
        let adapted = adapt::adapt(&cfg.adapt, adaptation, schedule, target);
        // The add heuristic meets its candidates with the components left after deletion.
        par.pass_done(Pass::Adaptation, adapted.candidates, self.model.len() - adapted.added);
        Ok(StepReport {
            iteration: self.iteration,
            evaluations: self.store.evaluations(),
            new_evaluations: sel.evaluated + adapted.evaluated,
            rejected_samples: sel.rejected,
            working_set: self.store.len() - sel.start.min(self.store.len()),
            components: self.model.len(),
            elbo_estimate: elbo.unwrap_or(T::NAN),
            rejected_updates,
            weights_frozen: elbo.is_none(),
            added: adapted.added,
            deleted: adapted.deleted,
        })
    }

    /// Runs [`Self::step`] until a [`StopRule`] fires, calling `on_step` after every iteration.
    ///
    /// # Errors
    /// The first error of [`Self::step`]; the model is then the last valid one.
    pub fn run<P: Target<T, DIM> + ?Sized, F: FnMut(&StepReport<T>)>(
        &mut self,
        target: &mut P,
        rule: &StopRule<T>,
        on_step: F,
    ) -> Result<RunSummary<T>, Error> {
        self.run_with(target, rule, &Serial, on_step)
    }

    /// [`Self::run`] with the hot loops run by `par` (see [`Self::step_with`]).
    pub fn run_with<P: Target<T, DIM> + ?Sized, X: Parallel, F: FnMut(&StepReport<T>)>(
        &mut self,
        target: &mut P,
        rule: &StopRule<T>,
        par: &X,
        mut on_step: F,
    ) -> Result<RunSummary<T>, Error> {
        let mut best = T::NEG_INF;
        let mut since_best = 0u64;
        let mut last = None;
        for _ in 0..rule.max_iterations {
            if self.evaluations() >= rule.max_evaluations {
                return Ok(RunSummary { reason: StopReason::MaxEvaluations, last });
            }
            let rep = self.step_with(target, par)?;
            on_step(&rep);
            last = Some(rep);
            if rule.window > 0 {
                if rep.elbo_estimate > best + rule.tolerance || best == T::NEG_INF {
                    best = if rep.elbo_estimate.finite() { rep.elbo_estimate } else { best };
                    since_best = 0;
                } else {
                    since_best += 1;
                    best = best.max(rep.elbo_estimate);
                    if since_best >= rule.window {
                        return Ok(RunSummary { reason: StopReason::Converged, last });
                    }
                }
            }
        }
        let reason = if self.evaluations() >= rule.max_evaluations {
            StopReason::MaxEvaluations
        } else {
            StopReason::MaxIterations
        };
        Ok(RunSummary { reason, last })
    }
}

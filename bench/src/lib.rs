//! `gmmvi-bench`: the benchmark runner of the paper's suite over the targets of
//! `gmmvi_targets` — target and initial-model construction (docs/targets.md §0), the paper's
//! per-target hyperparameters (docs/algorithm.md §12), the 2000-sample ELBO, the MMD of
//! docs/targets.md §9, CSV rows and a final JSON line.
//!
//! * [`baselines`]: the gradient-based baselines (`--algo ADVI-MF`, `SVGD`, `FLOW`, …);
//! * [`mmd`]: the MMD with the median-bandwidth rule;
//! * [`passes`]: per-pass timing and FLOP counts of the iterations (`--passes`);
//! * [`presets`]: target names and the rows of docs/algorithm.md §12;
//! * [`runner`]: one run (capacities per target, the optimiser in `f64` or `f32`, the loop, CSV
//!   and JSON);
//! * [`scaling`]: synthetic curved targets and the timing of the default configuration against
//!   the number of components and the reuse ratio (`gmmvi-scaling`);
//! * [`spec`]: command-line settings → a [`runner::RunSpec`].
//!
//! The data files are read with `gmmvi_targets::data`, the baselines come from `gmmvi_baselines`.

pub mod baselines;
pub mod mmd;
pub mod passes;
pub mod presets;
pub mod report;
pub mod runner;
pub mod scaling;
pub mod spec;

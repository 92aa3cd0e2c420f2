//! `gmmvi-bench`: the benchmark runner of the paper's suite over the targets of
//! `gmmvi::targets` — target and initial-model construction (docs/targets.md §0), the paper's
//! per-target hyperparameters (docs/algorithm.md §12), the 2000-sample ELBO, the MMD of
//! docs/targets.md §9, CSV rows and a final JSON line.
//!
//! * [`baselines`]: the gradient-based baselines (`--algo ADVI-MF`, `SVGD`, `FLOW`, …);
//! * [`data`]: `.npy`/`.npz` and UCI data loading;
//! * [`mmd`]: the MMD with the median-bandwidth rule;
//! * [`presets`]: target names and the rows of docs/algorithm.md §12;
//! * [`runner`]: one run (capacities per target, the loop, CSV and JSON);
//! * [`spec`]: command-line settings → a [`runner::RunSpec`].

pub mod baselines;
pub mod data;
pub mod mmd;
pub mod presets;
pub mod report;
pub mod runner;
pub mod spec;

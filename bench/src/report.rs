//! The suite report: reads the results directory written by
//! `bench/run_suite.sh` (`<target>/<algo>_s<seed>.{json,csv,skipped}`), aggregates the final
//! −ELBO, MMD and ms/iteration over seeds (mean ± sample standard deviation), compares them with
//! the published figures ([`PUBLISHED`]) and writes a Markdown
//! table plus one SVG per target (−ELBO against target evaluations, mean over seeds, log axes).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use serde::Deserialize;

use crate::presets::TargetId;

/// A published final −ELBO.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Published {
    /// Target name of the runner.
    pub target: &'static str,
    /// Algorithm of the published run (a codeword, or a baseline such as `VIPS`).
    pub algo: &'static str,
    /// Final −ELBO (mean over the runs).
    pub neg_elbo: f64,
    /// Half-width: ± 3·std/√n over the runs as in the paper's tables; for a single run the rounding of
    /// the published figure.
    pub ci: f64,
    /// Number of runs.
    pub runs: u32,
    /// Target evaluations at the final row (mean over the runs).
    pub evals: f64,
    /// The reference's milliseconds per iteration, where measured.
    pub ms_per_iter: Option<f64>,
    /// Where the figure comes from.
    pub source: &'static str,
}

#[allow(clippy::too_many_arguments)] // one table row
const fn published(
    target: &'static str,
    algo: &'static str,
    neg_elbo: f64,
    ci: f64,
    runs: u32,
    evals: f64,
    ms_per_iter: Option<f64>,
    source: &'static str,
) -> Published {
    Published { target, algo, neg_elbo, ci, runs, evals, ms_per_iter, source }
}

const SPEED: &str = "Python/TensorFlow gmmvi timed on a 2-core machine, paper settings, seed 0";

/// The published figures: the learning curves shipped with the paper's reproducibility package
/// (VIPS and iBayes-GMM baselines, gmmvi SEPYFUX `tf_ours`; mean final −ELBO, evaluations = mean of
/// the final `num_samples`) and single timed runs of the Python/TensorFlow reference on a 2-core
/// machine with the paper's settings (ms/iter).
pub const PUBLISHED: &[Published] = &[
    published("planar_robot_4", "SAMTRUX", 12.35, 0.005, 1, 1_240_700.0, Some(3924.0), SPEED),
    published("planar_robot_4", "SEPYFUX", 27.86, 0.005, 1, 413_700.0, Some(65.0), SPEED),
    published(
        "planar_robot_4",
        "VIPS",
        12.02,
        0.13,
        5,
        8_609_729.0,
        None,
        "Arenz et al. (2023) reproducibility package, evaluations/VIPS_results/planar4",
    ),
    // "≈ 0.00" in the table: the rounding half-width 0.005.
    published("gmm20", "SAMTRUX", 0.0, 0.005, 1, 1_490_800.0, Some(103.0), SPEED),
    published(
        "gmm20",
        "VIPS",
        0.006073,
        0.0028,
        5,
        701_823.0,
        None,
        "Arenz et al. (2023) reproducibility package, evaluations/VIPS_results/gmm20",
    ),
    published("breast_cancer", "SAMTRUX", 78.28, 0.005, 1, 1_785_000.0, Some(176.0), SPEED),
    published(
        "breast_cancer",
        "VIPS",
        78.2,
        0.041,
        5,
        3_778_954.0,
        None,
        "Arenz et al. (2023) reproducibility package, evaluations/VIPS_results/BreastCancer",
    ),
    published(
        "german_credit",
        "VIPS",
        585.1,
        0.0015,
        5,
        1_194_657.0,
        None,
        "Arenz et al. (2023) reproducibility package, evaluations/VIPS_results/germanCredit",
    ),
    published(
        "stm20",
        "SEPYFUX",
        0.4581,
        0.064,
        10,
        4_422_200.0,
        None,
        "Arenz et al. (2023) reproducibility package, STM20 tf_ours (TF gmmvi SEPYFUX, iBayes-GMM-like settings)",
    ),
    published(
        "stm20",
        "iBayes-GMM",
        0.5181,
        0.07,
        10,
        4_500_000.0,
        None,
        "Arenz et al. (2023) reproducibility package, STM20 mat_ours (iBayes-GMM MATLAB)",
    ),
    published(
        "stm300",
        "SEPYFUX",
        26.64,
        0.41,
        10,
        1_600_200.0,
        None,
        "Arenz et al. (2023) reproducibility package, STM300 tf_ours (TF gmmvi SEPYFUX, iBayes-GMM-like settings)",
    ),
    published(
        "stm300",
        "iBayes-GMM",
        27.47,
        0.32,
        10,
        1_600_000.0,
        None,
        "Arenz et al. (2023) reproducibility package, STM300 mat_ours (iBayes-GMM MATLAB)",
    ),
];

/// SAMTRUX on planar_robot_4, (evaluations, −ELBO) of the timed Python/TensorFlow reference run,
/// drawn into that target's plot.
pub const PLANAR4_REFERENCE_CURVE: [(f64, f64); 5] =
    [(3.0e4, 30525.0), (3.3e5, 76.8), (6.4e5, 14.0), (9.3e5, 12.53), (1.24e6, 12.35)];

/// The published figure a (target, algo) row is compared with: the same algorithm's if published,
/// otherwise the lowest published −ELBO of the target.
pub fn published_for(target: &str, algo: &str) -> Option<&'static Published> {
    let of_target = PUBLISHED.iter().filter(|p| p.target == target);
    of_target.clone().find(|p| p.algo == algo).or_else(|| of_target.min_by(|a, b| a.neg_elbo.total_cmp(&b.neg_elbo)))
}

/// One finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    /// Target (the directory name).
    pub target: String,
    /// Algorithm (the file name before `_s<seed>`).
    pub algo: String,
    /// Seed.
    pub seed: u64,
    /// Optimiser iterations.
    pub iterations: Option<f64>,
    /// Target evaluations.
    pub evals: Option<f64>,
    /// Final number of components.
    pub components: Option<f64>,
    /// Final ELBO (`None` if missing or non-finite).
    pub elbo: Option<f64>,
    /// Milliseconds per iteration.
    pub ms_per_iter: Option<f64>,
    /// Final MMD.
    pub mmd: Option<f64>,
    /// Wall seconds of the run.
    pub wall_s: Option<f64>,
    /// Logged (evaluations, ELBO) rows of the CSV file.
    pub curve: Vec<(f64, f64)>,
    /// Logged (evaluations, MMD) rows of the CSV file.
    pub mmd_curve: Vec<(f64, f64)>,
}

/// A run the suite recorded as skipped (rejected by the runner or failed).
#[derive(Clone, Debug, PartialEq)]
pub struct Skipped {
    /// Target.
    pub target: String,
    /// Algorithm.
    pub algo: String,
    /// Seed.
    pub seed: u64,
    /// The first line of the runner's message that names the error (or the file's first line).
    pub reason: String,
}

/// Everything read from a results directory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    /// Finished runs, ordered by target, algorithm, seed.
    pub runs: Vec<Run>,
    /// Skipped runs (without a JSON file), same order.
    pub skipped: Vec<Skipped>,
    /// The contents of `suite_log.txt`, if present.
    pub suite_log: Option<String>,
}

/// Mean and sample standard deviation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stat {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (0 for one value).
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stat {
    /// The statistics of the finite values; `None` if there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Stat> {
        let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std =
            if v.len() > 1 { (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
        Some(Stat { mean, std, n: v.len() })
    }

    /// `3·std/√n`, the half-width the paper's tables use.
    pub fn ci(&self) -> f64 {
        3.0 * self.std / (self.n as f64).sqrt()
    }
}

/// One row of the results table: a (target, algorithm) pair over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Target.
    pub target: String,
    /// Algorithm.
    pub algo: String,
    /// Seeds with a finite final ELBO.
    pub seeds: Vec<u64>,
    /// Target evaluations.
    pub evals: Option<Stat>,
    /// Final −ELBO.
    pub neg_elbo: Option<Stat>,
    /// Final MMD.
    pub mmd: Option<Stat>,
    /// Milliseconds per iteration.
    pub ms_per_iter: Option<Stat>,
    /// Final number of components.
    pub components: Option<Stat>,
    /// The published figure compared with ([`published_for`]).
    pub published: Option<&'static Published>,
    /// `better`, `worse`, `≈` or `n/a`, with the difference and a note on fewer evaluations.
    pub verdict: String,
    /// The reference's ms/iteration divided by ours (same algorithm only).
    pub speedup: Option<f64>,
}

/// The numbers of a runner JSON line that the report uses; a missing key or `null` is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
pub struct JsonLine {
    /// Optimiser iterations.
    pub iterations: Option<f64>,
    /// Target evaluations.
    pub evals: Option<f64>,
    /// Final number of components.
    pub components: Option<f64>,
    /// Final ELBO.
    pub elbo: Option<f64>,
    /// Milliseconds per iteration.
    pub ms_per_iter: Option<f64>,
    /// Final MMD.
    pub mmd: Option<f64>,
    /// Wall seconds of the run.
    pub wall_s: Option<f64>,
    /// The optimiser's scalar (`"scalar"`; absent in older lines: `f64`).
    #[serde(default)]
    pub scalar: Scalar,
}

/// The scalar of a run (`gmmvi-bench --f32`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scalar {
    /// Double precision (the default).
    #[default]
    F64,
    /// Single precision.
    F32,
}

/// Parses a runner JSON line (other keys are ignored).
///
/// # Errors
/// If `line` is not a JSON object or a used key holds something other than a number or `null`.
pub fn parse_json_line(line: &str) -> Result<JsonLine, String> {
    serde_json::from_str(line).map_err(|e| e.to_string())
}

/// (algo, seed) of a file stem `<algo>_s<seed>`.
pub fn parse_stem(stem: &str) -> Option<(String, u64)> {
    let (algo, seed) = stem.rsplit_once("_s")?;
    if algo.is_empty() {
        return None;
    }
    Some((algo.to_string(), seed.parse().ok()?))
}

/// The (evaluations, ELBO) rows of a runner CSV (columns found by their header names); rows with
/// a non-finite value are left out.
pub fn parse_curve(text: &str) -> Vec<(f64, f64)> {
    parse_series(text, "elbo")
}

/// The (evaluations, `column`) rows of a runner CSV; rows with a missing or non-finite value
/// are left out.
pub fn parse_series(text: &str, column: &str) -> Vec<(f64, f64)> {
    let mut r = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let Ok(header) = r.headers() else { return Vec::new() };
    let (Some(ie), Some(iy)) = (header.iter().position(|c| c == "evals"), header.iter().position(|c| c == column))
    else {
        return Vec::new();
    };
    r.records()
        .filter_map(|rec| {
            let rec = rec.ok()?;
            let x = rec.get(ie)?.parse::<f64>().ok()?;
            let y = rec.get(iy)?.parse::<f64>().ok()?;
            (x.is_finite() && y.is_finite()).then_some((x, y))
        })
        .collect()
}

/// Sort key of a target: the runner's order, unknown names after.
fn target_rank(name: &str) -> (usize, String) {
    (TargetId::ALL.iter().position(|t| t.name() == name).unwrap_or(usize::MAX), name.to_string())
}

/// Sort key of an algorithm: the suite's order, unknown names after.
fn algo_rank(name: &str) -> (usize, String) {
    const ORDER: [&str; 10] =
        ["SAMTRUX", "SAMTRON", "ZAMTRUX", "SEPYFUX", "ADVI-MF", "ADVI-FR", "IWAE", "VR", "SVGD", "FLOW"];
    (ORDER.iter().position(|a| *a == name).unwrap_or(usize::MAX), name.to_string())
}

/// Reads a results directory.
///
/// # Errors
/// If `dir` cannot be listed, a JSON/CSV file cannot be read or a JSON file's last `{` line is
/// not a runner JSON line.
pub fn load(dir: &Path) -> Result<Results, String> {
    let read_dir = |d: &Path| std::fs::read_dir(d).map_err(|e| format!("cannot list {}: {e}", d.display()));
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let mut res = Results::default();
    let log = dir.join("suite_log.txt");
    if log.is_file() {
        res.suite_log = Some(read(&log)?);
    }
    let mut target_dirs: Vec<PathBuf> =
        read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
    target_dirs.sort();
    for tdir in target_dirs {
        let Some(target) = tdir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        let mut files: Vec<PathBuf> = read_dir(&tdir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in &files {
            let (Some(stem), Some(ext)) =
                (f.file_stem().and_then(|s| s.to_str()), f.extension().and_then(|s| s.to_str()))
            else {
                continue;
            };
            let Some((algo, seed)) = parse_stem(stem) else { continue };
            match ext {
                "json" => {
                    let text = read(f)?;
                    let line = text.lines().rev().find(|l| l.trim_start().starts_with('{')).unwrap_or("");
                    let j = parse_json_line(line).map_err(|e| format!("{}: {e}", f.display()))?;
                    let csv = f.with_extension("csv");
                    let csv_text = if csv.is_file() { read(&csv)? } else { String::new() };
                    let (curve, mmd_curve) = (parse_curve(&csv_text), parse_series(&csv_text, "mmd"));
                    // Single-precision runs form rows of their own, never pooled with f64 ones.
                    let algo = if j.scalar == Scalar::F32 { format!("{algo} (f32)") } else { algo };
                    res.runs.push(Run {
                        target: target.clone(),
                        algo,
                        seed,
                        iterations: j.iterations,
                        evals: j.evals,
                        components: j.components,
                        elbo: j.elbo,
                        ms_per_iter: j.ms_per_iter,
                        mmd: j.mmd,
                        wall_s: j.wall_s,
                        curve,
                        mmd_curve,
                    });
                }
                "skipped" if !f.with_extension("json").exists() => {
                    let text = read(f)?;
                    let reason = text
                        .lines()
                        .find(|l| l.contains("error"))
                        .or_else(|| text.lines().next())
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    res.skipped.push(Skipped { target: target.clone(), algo, seed, reason });
                }
                _ => {}
            }
        }
    }
    res.runs.sort_by(|a, b| {
        (target_rank(&a.target), algo_rank(&a.algo), a.seed).cmp(&(target_rank(&b.target), algo_rank(&b.algo), b.seed))
    });
    res.skipped.sort_by(|a, b| {
        (target_rank(&a.target), algo_rank(&a.algo), a.seed).cmp(&(target_rank(&b.target), algo_rank(&b.algo), b.seed))
    });
    Ok(res)
}

/// The (target, algo) groups of `runs`, in order.
fn groups(runs: &[Run]) -> Vec<(String, String, Vec<&Run>)> {
    let mut out: Vec<(String, String, Vec<&Run>)> = Vec::new();
    for r in runs {
        match out.last_mut() {
            Some((t, a, v)) if *t == r.target && *a == r.algo => v.push(r),
            _ => out.push((r.target.clone(), r.algo.clone(), vec![r])),
        }
    }
    out
}

/// The verdict of our −ELBO against a published one: a difference beyond both half-widths
/// (ours: 3·std/√n) is `better`/`worse`, otherwise `≈`; fewer evaluations than the published run
/// (below 95 %) are noted.
pub fn verdict(ours: Option<Stat>, evals: Option<Stat>, p: Option<&Published>) -> String {
    let (Some(o), Some(p)) = (ours, p) else { return "n/a".into() };
    let diff = o.mean - p.neg_elbo;
    let tol = p.ci + o.ci();
    let mut s = if diff > tol {
        format!("worse (+{})", sig(diff, 3))
    } else if diff < -tol {
        format!("better ({})", sig(diff, 3))
    } else {
        "≈ (within CI)".to_string()
    };
    if let Some(e) = evals.filter(|e| e.mean < 0.95 * p.evals) {
        let _ = write!(s, "; {:.0} % of its evals", 100.0 * e.mean / p.evals);
    }
    s
}

/// The table rows of `res`.
pub fn summarize(res: &Results) -> Vec<Row> {
    groups(&res.runs)
        .into_iter()
        .map(|(target, algo, runs)| {
            let neg_elbo = Stat::of(runs.iter().filter_map(|r| r.elbo.map(|e| -e)));
            let evals = Stat::of(runs.iter().filter_map(|r| r.evals));
            let ms_per_iter = Stat::of(runs.iter().filter_map(|r| r.ms_per_iter));
            let published = published_for(&target, &algo);
            let speedup = published
                .filter(|p| p.algo == algo)
                .and_then(|p| p.ms_per_iter)
                .zip(ms_per_iter)
                .filter(|(_, m)| m.mean > 0.0)
                .map(|(r, m)| r / m.mean);
            Row {
                seeds: runs.iter().filter(|r| r.elbo.is_some()).map(|r| r.seed).collect(),
                mmd: Stat::of(runs.iter().filter_map(|r| r.mmd)),
                components: Stat::of(runs.iter().filter_map(|r| r.components)),
                verdict: verdict(neg_elbo, evals, published),
                target,
                algo,
                evals,
                neg_elbo,
                ms_per_iter,
                published,
                speedup,
            }
        })
        .collect()
}

/// The algorithm the baselines are compared with at equal evaluations.
pub const REFERENCE_ALGO: &str = "SAMTRUX";

/// One row of the section "Gradient-based baselines vs SAMTRUX at equal evaluations": a
/// (target, baseline) pair over its seeds, and SAMTRUX's logged values at the same evaluations.
#[derive(Clone, Debug, PartialEq)]
pub struct VsReference {
    /// Target.
    pub target: String,
    /// Baseline (`ADVI-MF`, …, `FLOW`).
    pub algo: String,
    /// Seeds that finished (with a finite final ELBO, or, for SVGD, at all).
    pub seeds: Vec<u64>,
    /// Evaluations of the finished runs.
    pub evals: Option<Stat>,
    /// Final −ELBO of the finished runs.
    pub neg_elbo: Option<Stat>,
    /// Final MMD of the finished runs.
    pub mmd: Option<Stat>,
    /// Milliseconds per iteration of the finished runs.
    pub ms_per_iter: Option<Stat>,
    /// Number of SAMTRUX runs of the target.
    pub reference_runs: usize,
    /// SAMTRUX's −ELBO at its last logged row with at most the baseline's (smallest) evaluations,
    /// over the SAMTRUX seeds that have such a row.
    pub reference_neg_elbo: Option<Stat>,
    /// SAMTRUX's evaluations at those rows.
    pub reference_evals: Option<Stat>,
    /// SAMTRUX's MMD at its last logged MMD row with at most the baseline's evaluations.
    pub reference_mmd: Option<Stat>,
    /// SAMTRUX's first logged evaluations (the smallest over its seeds), for a baseline that
    /// stopped before it.
    pub reference_first_evals: Option<f64>,
    /// Runs that failed, were rejected, or finished without a finite ELBO: (seed, reason).
    pub problems: Vec<(u64, String)>,
}

/// The last point of `curve` (sorted by evaluations) at no more than `evals` evaluations.
pub fn at_or_before(curve: &[(f64, f64)], evals: f64) -> Option<(f64, f64)> {
    curve.iter().copied().filter(|(x, _)| *x <= evals).max_by(|a, b| a.0.total_cmp(&b.0))
}

/// The rows of the baselines-vs-SAMTRUX section: every (target, baseline) with a finished or a
/// skipped run, in the runner's order. The comparison point is the smallest evaluation count of
/// the baseline's finished runs; SAMTRUX contributes, per seed, its last CSV row at or below it.
pub fn baselines_vs_reference(res: &Results) -> Vec<VsReference> {
    let is_baseline = |a: &str| crate::baselines::Algo::from_name(a).is_some();
    let mut keys: Vec<(String, String)> = res
        .runs
        .iter()
        .map(|r| (&r.target, &r.algo))
        .chain(res.skipped.iter().map(|k| (&k.target, &k.algo)))
        .filter(|(_, a)| is_baseline(a))
        .map(|(t, a)| (t.clone(), a.clone()))
        .collect();
    keys.sort_by_key(|(t, a)| (target_rank(t), algo_rank(a)));
    keys.dedup();
    keys.into_iter()
        .map(|(target, algo)| {
            let no_density = algo == "SVGD";
            let runs: Vec<&Run> = res.runs.iter().filter(|r| r.target == target && r.algo == algo).collect();
            let mut problems: Vec<(u64, String)> = res
                .skipped
                .iter()
                .filter(|k| k.target == target && k.algo == algo)
                .map(|k| (k.seed, k.reason.clone()))
                .collect();
            let ok: Vec<&Run> = runs.iter().copied().filter(|r| no_density || r.elbo.is_some()).collect();
            for r in runs.iter().filter(|r| !(no_density || r.elbo.is_some())) {
                problems.push((r.seed, "finished without a finite final ELBO".into()));
            }
            problems.sort();
            let evals = Stat::of(ok.iter().filter_map(|r| r.evals));
            let at = ok.iter().filter_map(|r| r.evals).fold(f64::INFINITY, f64::min);
            let reference: Vec<&Run> =
                res.runs.iter().filter(|r| r.target == target && r.algo == REFERENCE_ALGO).collect();
            let (mut ref_elbo, mut ref_evals, mut ref_mmd) = (Vec::new(), Vec::new(), Vec::new());
            if at.is_finite() {
                for r in &reference {
                    if let Some((x, e)) = at_or_before(&r.curve, at) {
                        ref_evals.push(x);
                        ref_elbo.push(-e);
                    }
                    if let Some((_, m)) = at_or_before(&r.mmd_curve, at) {
                        ref_mmd.push(m);
                    }
                }
            }
            VsReference {
                seeds: ok.iter().map(|r| r.seed).collect(),
                evals,
                neg_elbo: Stat::of(ok.iter().filter_map(|r| r.elbo.map(|e| -e))),
                mmd: Stat::of(ok.iter().filter_map(|r| r.mmd)),
                ms_per_iter: Stat::of(ok.iter().filter_map(|r| r.ms_per_iter)),
                reference_runs: reference.len(),
                reference_neg_elbo: Stat::of(ref_elbo),
                reference_evals: Stat::of(ref_evals),
                reference_mmd: Stat::of(ref_mmd),
                reference_first_evals: reference.iter().filter_map(|r| r.curve.first().map(|p| p.0)).reduce(f64::min),
                problems,
                target,
                algo,
            }
        })
        .collect()
}

/// The Markdown section of [`baselines_vs_reference`] (empty without rows).
pub fn vs_reference_markdown(rows: &[VsReference]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut s = String::from("## Gradient-based baselines vs SAMTRUX at equal evaluations\n\n");
    s.push_str(
        "Per target and baseline: the seeds that finished, the target evaluations they used, mean ± sample standard \
         deviation over those seeds of the final −ELBO (2000 samples; SVGD has no density, hence no ELBO) and MMD, \
         and the optimiser's ms/iteration (one baseline iteration is 16 evaluations, SVGD 100). \"SAMTRUX at ≤ \
         evals\": SAMTRUX's −ELBO and MMD read from its CSV files at the last logged row with at most the \
         baseline's evaluations (per SAMTRUX seed; mean ± std over its seeds; the mean evaluations of those rows in \
         brackets). Δ = baseline − SAMTRUX (−ELBO; positive: SAMTRUX is better at the same number of \
         evaluations). \"failed / rejected\": runs without a result, with the runner's reason.\n\n",
    );
    s.push_str(
        "| target | baseline | seeds | evals | −ELBO | SAMTRUX −ELBO at ≤ evals | Δ −ELBO | MMD | SAMTRUX MMD at ≤ evals | ms/iter | failed / rejected |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let seeds = if r.seeds.is_empty() {
            "none".to_string()
        } else {
            r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
        };
        let neg_elbo = match (r.algo.as_str(), r.neg_elbo) {
            (_, Some(e)) => neg_elbo_text(Some(e)),
            ("SVGD", None) if !r.seeds.is_empty() => "n/a (no density)".into(),
            _ if r.seeds.is_empty() => "failed".into(),
            _ => "—".into(),
        };
        let reference = match (r.reference_neg_elbo, r.reference_evals) {
            (Some(e), Some(x)) => format!(
                "{} ({} seed{}, {})",
                neg_elbo_text(Some(e)),
                e.n,
                if e.n == 1 { "" } else { "s" },
                evals_text(x.mean)
            ),
            _ if r.reference_runs == 0 => "— (no SAMTRUX runs)".into(),
            _ if r.evals.is_none() => "—".into(),
            _ => match r.reference_first_evals {
                Some(f) => format!("— (first SAMTRUX row at {})", evals_text(f)),
                None => "— (no SAMTRUX rows)".into(),
            },
        };
        let delta = match (r.neg_elbo, r.reference_neg_elbo) {
            (Some(a), Some(b)) => {
                let d = a.mean - b.mean;
                if d > 0.0 { format!("+{}", sig(d, 3)) } else { sig(d, 3) }
            }
            _ => "—".into(),
        };
        let problems = if r.problems.is_empty() {
            "—".to_string()
        } else {
            r.problems
                .iter()
                .map(|(seed, why)| format!("s{seed}: {}", why.replace('|', "\\|")))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.algo,
            seeds,
            r.evals.map_or("—".into(), |e| evals_text(e.mean)),
            neg_elbo,
            reference,
            delta,
            pm(r.mmd, 3),
            pm(r.reference_mmd, 3),
            pm(r.ms_per_iter, 3),
            problems,
        );
    }
    s.push('\n');
    s
}

/// The notes under the title of an existing report (between the `# ` title and the first `## `
/// section), trimmed; empty if there are none.
pub fn header_of(markdown: &str) -> String {
    let mut lines = markdown.lines().skip_while(|l| !l.starts_with("# "));
    if lines.next().is_none() {
        return String::new();
    }
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("## ")).collect();
    body.join("\n").trim().to_string()
}

/// The text of the `## Notes` section of an existing report (up to the next `## `), trimmed;
/// empty if there is none.
pub fn notes_of(markdown: &str) -> String {
    let mut lines = markdown.lines().skip_while(|l| l.trim_end() != "## Notes");
    if lines.next().is_none() {
        return String::new();
    }
    let body: Vec<&str> = lines.take_while(|l| !l.starts_with("## ")).collect();
    body.join("\n").trim().to_string()
}

/// `x` with `digits` significant digits (no exponent between 1e-4 and 1e7).
pub fn sig(x: f64, digits: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-4..7).contains(&mag) {
        return format!("{:.*e}", digits.saturating_sub(1), x);
    }
    let decimals = (digits as i32 - 1 - mag).max(0) as usize;
    format!("{x:.decimals$}")
}

fn pm(s: Option<Stat>, digits: usize) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{} ± {}", sig(s.mean, digits), sig(s.std, 2)),
        Some(s) => sig(s.mean, digits),
        None => "—".into(),
    }
}

/// A −ELBO: `mean ± std` with the mean to the std's second significant digit, or 6 significant
/// digits for a single value.
pub fn neg_elbo_text(s: Option<Stat>) -> String {
    let Some(s) = s else { return "—".into() };
    if s.n < 2 || s.std.is_nan() || s.std <= 0.0 {
        return sig(s.mean, 6);
    }
    let std = sig(s.std, 2);
    if s.mean.abs() < 1e-4 {
        return format!("{:.1e} ± {std}", s.mean);
    }
    let decimals = (1 - s.std.log10().floor() as i32).clamp(0, 8) as usize;
    format!("{:.decimals$} ± {std}", s.mean)
}

/// A published figure as printed in the table (shortest representation).
fn published_text(p: &Published) -> String {
    if p.neg_elbo == 0.0 {
        return "≈ 0.00".into();
    }
    if p.runs > 1 { format!("{} ± {}", p.neg_elbo, sig(p.ci, 2)) } else { format!("{}", p.neg_elbo) }
}

fn evals_text(x: f64) -> String {
    if x >= 1e6 { format!("{:.2} M", x / 1e6) } else { format!("{:.0} k", x / 1e3) }
}

/// The Markdown report: `header`, the summary table, the published figures, the plots (linked
/// relative to `plot_prefix`), every run, the skipped runs and the suite log.
/// The report: the title and `header` (what was run, how to reproduce it, the machine), the
/// tables, then `notes` (a `## Notes` section), the plots and the per-run tables.
pub fn markdown(res: &Results, rows: &[Row], header: &str, notes: &str, plot_prefix: &str, plots: &[String]) -> String {
    let mut s = String::from("# gmmvi benchmark results\n\n");
    if !header.trim().is_empty() {
        s.push_str(header.trim_end());
        s.push_str("\n\n");
    }
    s.push_str(
        "## Summary\n\nMean ± sample standard deviation over the seeds of the final values. −ELBO: 2000-sample \
         estimate at the end of the run (lower is better); MMD: docs/targets.md §9 (targets with ground truth); ms/iter: \
         optimiser time per iteration without the ELBO/MMD evaluations. \"published\": the same algorithm's \
         published figure where there is one, otherwise the target's best published figure \
         (see \"Published figures\"; ± = 3·std/√n over its runs). \"vs published\": worse/better when the \
         difference exceeds both half-widths (ours: 3·std/√n), and the share of the published run's evaluations \
         we used when below 95 %. \"ref ms/iter\" and \"speed-up\": the TF reference's time per iteration on a 2-core \
         machine (same algorithm only) and its ratio to ours.\n\n",
    );
    s.push_str(
        "| target | algo | seeds | evals | K | −ELBO | MMD | ms/iter | published −ELBO | published by (evals) | vs published | ref ms/iter | speed-up |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let seeds = r.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
        let (pubv, pubby) = match r.published {
            Some(p) => (
                published_text(p),
                format!("{}, {} run{} ({})", p.algo, p.runs, if p.runs == 1 { "" } else { "s" }, evals_text(p.evals)),
            ),
            None => ("—".into(), "—".into()),
        };
        let refms = r.published.filter(|p| p.algo == r.algo).and_then(|p| p.ms_per_iter);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.algo,
            seeds,
            r.evals.map_or("—".into(), |e| evals_text(e.mean)),
            r.components.map_or("—".into(), |k| format!("{:.0}", k.mean)),
            neg_elbo_text(r.neg_elbo),
            pm(r.mmd, 3),
            pm(r.ms_per_iter, 3),
            pubv,
            pubby,
            r.verdict,
            refms.map_or("—".into(), |m| sig(m, 4)),
            r.speedup.map_or("—".into(), |x| format!("{}×", sig(x, 3))),
        );
    }
    let vs = vs_reference_markdown(&baselines_vs_reference(res));
    if !vs.is_empty() {
        s.push('\n');
        s.push_str(vs.trim_end());
        s.push('\n');
    }
    s.push_str("\n## Published figures\n\n");
    s.push_str(
        "| target | algorithm | final −ELBO (± 3·std/√n) | runs | evals | ms/iter | source |\n|---|---|---|---|---|---|---|\n",
    );
    for p in PUBLISHED {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            p.target,
            p.algo,
            published_text(p),
            p.runs,
            evals_text(p.evals),
            p.ms_per_iter.map_or("—".into(), |m| sig(m, 4)),
            p.source
        );
    }
    s.push_str(
        "\nSingle runs: the comparison allows ± 0.005, the rounding of the published figure. SAMTRUX on planar_robot_4 (reference): −ELBO 30 525, \
         76.8, 14.0, 12.53, 12.35 at 3.0·10⁴, 3.3·10⁵, 6.4·10⁵, 9.3·10⁵, 1.24·10⁶ evaluations (drawn in its plot).\n",
    );
    if !notes.trim().is_empty() {
        s.push_str("\n## Notes\n\n");
        s.push_str(notes.trim_end());
        s.push('\n');
    }
    if !plots.is_empty() {
        s.push_str("\n## Plots\n\n−ELBO against target evaluations, mean over seeds (log axes; values below 10⁻⁴ drawn at 10⁻⁴); markers: published figures.\n\n");
        for p in plots {
            let _ = writeln!(s, "![{p}]({plot_prefix}{p}.svg)\n");
        }
    }
    s.push_str("\n## Runs\n\n| target | algo | seed | iterations | evals | K | −ELBO | MMD | ms/iter | wall s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let opt = |x: Option<f64>, d: usize| x.map_or("—".into(), |v| sig(v, d));
    for r in &res.runs {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.algo,
            r.seed,
            r.iterations.map_or("—".into(), |v| format!("{v:.0}")),
            r.evals.map_or("—".into(), |v| format!("{v:.0}")),
            r.components.map_or("—".into(), |v| format!("{v:.0}")),
            opt(r.elbo.map(|e| -e), 5),
            opt(r.mmd, 3),
            opt(r.ms_per_iter, 3),
            opt(r.wall_s, 3),
        );
    }
    if !res.skipped.is_empty() {
        s.push_str("\n## Skipped runs\n\n| target | algo | seed | reason |\n|---|---|---|---|\n");
        for k in &res.skipped {
            let _ = writeln!(s, "| {} | {} | {} | {} |", k.target, k.algo, k.seed, k.reason.replace('|', "\\|"));
        }
    }
    if res.suite_log.is_some() {
        s.push_str(
            "\nEvery invocation of the suite and every run is logged, with the time, the settings and the \
             machine's load, in `results/suite_log.txt`.\n",
        );
    }
    s
}

/// The mean of the runs' curves on a common grid of `points` log-spaced evaluation counts (each run
/// interpolated linearly in log-evaluations within its own range; a grid point averages the runs
/// that cover it). Curves hold (evaluations, value); evaluations ≤ 0 are left out.
pub fn mean_curve(curves: &[Vec<(f64, f64)>], points: usize) -> Vec<(f64, f64)> {
    let curves: Vec<Vec<(f64, f64)>> =
        curves.iter().map(|c| c.iter().copied().filter(|(x, y)| *x > 0.0 && y.is_finite()).collect()).collect();
    let lo = curves.iter().filter_map(|c| c.first()).map(|p| p.0).fold(f64::INFINITY, f64::min);
    let hi = curves.iter().filter_map(|c| c.last()).map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    if !(lo.is_finite() && hi.is_finite()) {
        return Vec::new();
    }
    let n = if hi > lo { points.max(2) } else { 1 };
    (0..n)
        .filter_map(|i| {
            let x = if n == 1 { lo } else { (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp() };
            let vals: Vec<f64> = curves.iter().filter_map(|c| interpolate(c, x)).collect();
            (!vals.is_empty()).then(|| (x, vals.iter().sum::<f64>() / vals.len() as f64))
        })
        .collect()
}

/// `c` (sorted by x > 0) at `x`, linear in `ln x`; `None` outside its range (1e-9 relative slack).
fn interpolate(c: &[(f64, f64)], x: f64) -> Option<f64> {
    let (first, last) = (c.first()?, c.last()?);
    let slack = 1e-9 * x;
    if x < first.0 - slack || x > last.0 + slack {
        return None;
    }
    let j = c.partition_point(|p| p.0 < x);
    if j == 0 {
        return Some(first.1);
    }
    let (a, b) = (c.get(j - 1)?, c.get(j).unwrap_or(last));
    if b.0 <= a.0 {
        return Some(a.1);
    }
    let t = ((x.ln() - a.0.ln()) / (b.0.ln() - a.0.ln())).clamp(0.0, 1.0);
    Some(a.1 + t * (b.1 - a.1))
}

/// Smallest −ELBO drawn on the log axis.
pub const PLOT_FLOOR: f64 = 1e-4;

const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
    RGBColor(188, 189, 34),
    RGBColor(127, 127, 127),
];

/// Writes `<out_dir>/<target>.svg` for every target with a logged curve; returns the targets
/// plotted.
///
/// # Errors
/// If a file cannot be written.
pub fn write_plots(res: &Results, out_dir: &Path) -> Result<Vec<String>, String> {
    let mut by_target: BTreeMap<(usize, String), Vec<Line>> = BTreeMap::new();
    for (target, algo, runs) in groups(&res.runs) {
        let curves: Vec<Vec<(f64, f64)>> =
            runs.iter().map(|r| r.curve.iter().map(|&(x, e)| (x, -e)).collect()).collect();
        let mean = mean_curve(&curves, 80);
        if !mean.is_empty() {
            by_target.entry(target_rank(&target)).or_default().push((algo, mean));
        }
    }
    std::fs::create_dir_all(out_dir).map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mut done = Vec::new();
    for ((_, target), lines) in by_target {
        let path = out_dir.join(format!("{target}.svg"));
        plot_target(&path, &target, &lines).map_err(|e| format!("{}: {e}", path.display()))?;
        done.push(target);
    }
    Ok(done)
}

/// One algorithm's mean curve: (algo, [(evaluations, −ELBO)]).
type Line = (String, Vec<(f64, f64)>);

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn plot_target(path: &Path, target: &str, lines: &[Line]) -> PlotResult {
    let floor = |y: f64| y.max(PLOT_FLOOR);
    let pubs: Vec<&Published> = PUBLISHED.iter().filter(|p| p.target == target).collect();
    let reference: &[(f64, f64)] = if target == "planar_robot_4" { &PLANAR4_REFERENCE_CURVE } else { &[] };
    let xs = lines.iter().flat_map(|(_, c)| c.iter().map(|p| p.0)).chain(reference.iter().map(|p| p.0));
    let ys = lines.iter().flat_map(|(_, c)| c.iter().map(|p| floor(p.1))).chain(reference.iter().map(|p| p.1));
    let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    let (mut y0, mut y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    for p in &pubs {
        y0 = y0.min(floor(p.neg_elbo));
        y1 = y1.max(floor(p.neg_elbo));
        x1 = x1.max(p.evals);
    }
    if !(x0.is_finite() && x1.is_finite() && y0.is_finite() && y1.is_finite()) {
        return Err("nothing to plot".into());
    }
    (x0, x1) = (x0 / 1.2, x1 * 1.2);
    (y0, y1) = (y0 / 1.5, y1 * 1.5);
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{target}: −ELBO against target evaluations (mean over seeds)"), ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("target evaluations")
        .y_desc("−ELBO")
        .x_label_formatter(&|v| format!("{v:.0e}"))
        .y_label_formatter(&|v| if (0.01..1e4).contains(v) { format!("{v}") } else { format!("{v:.0e}") })
        .draw()?;
    for (i, (algo, curve)) in lines.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points = curve.iter().map(|&(x, y)| (x, floor(y)));
        if crate::baselines::Algo::from_name(algo).is_some() {
            // Gradient-based baselines dashed, the GMM methods solid.
            chart
                .draw_series(DashedLineSeries::new(points, 7, 4, color.stroke_width(2)))?
                .label(algo.as_str())
                .legend(move |(x, y)| DashedPathElement::new(vec![(x, y), (x + 20, y)], 5, 3, color.stroke_width(2)));
        } else {
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(algo.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if !reference.is_empty() {
        let c = BLACK.mix(0.6);
        chart.draw_series(LineSeries::new(reference.iter().copied(), c.stroke_width(1)))?;
        chart
            .draw_series(reference.iter().map(|&p| Circle::new(p, 4, c.filled())))?
            .label("reference SAMTRUX (TF, seed 0)")
            .legend(move |(x, y)| Circle::new((x + 10, y), 4, c.filled()));
    }
    for (i, p) in pubs.iter().enumerate() {
        let c = COLORS[(i + 5) % COLORS.len()];
        chart
            .draw_series(std::iter::once(TriangleMarker::new((p.evals, floor(p.neg_elbo)), 7, c.filled())))?
            .label(format!(
                "published {} {} ({} run{})",
                p.algo,
                published_text(p),
                p.runs,
                if p.runs == 1 { "" } else { "s" }
            ))
            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, c.filled()));
    }
    // Lower left: every method starts high at few evaluations, so that corner stays empty.
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Reads `results_dir`, writes the SVGs into it and the Markdown report to `out_md` (plots linked
/// relative to `out_md`'s directory when inside it). Returns the rows and the targets plotted.
///
/// # Errors
/// If reading or writing fails.
pub fn write_report(
    results_dir: &Path,
    out_md: &Path,
    header: &str,
    notes: &str,
) -> Result<(Vec<Row>, Vec<String>), String> {
    let res = load(results_dir)?;
    let rows = summarize(&res);
    let plots = write_plots(&res, results_dir)?;
    let md_dir = out_md.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = match (md_dir.canonicalize(), results_dir.canonicalize()) {
        (Ok(m), Ok(r)) => match r.strip_prefix(&m) {
            Ok(rel) if rel.as_os_str().is_empty() => String::new(),
            Ok(rel) => format!("{}/", rel.display()),
            Err(_) => format!("{}/", r.display()),
        },
        _ => format!("{}/", results_dir.display()),
    };
    let text = markdown(&res, &rows, header, notes, &prefix, &plots);
    std::fs::write(out_md, text).map_err(|e| format!("cannot write {}: {e}", out_md.display()))?;
    Ok((rows, plots))
}

//! `gmmvi-report`: turns the suite's results directory (`bench/run_suite.sh`) into one SVG per
//! target (`<results>/<target>.svg`) and a Markdown table (`bench/RESULTS.md`), see
//! [`gmmvi_bench::report`].
//!
//! ```text
//! gmmvi-report [--results bench/results] [--out bench/RESULTS.md] [--header notes.md | --keep-header]
//! ```
//!
//! `--keep-header` keeps the notes under the title of the existing `--out` file (what was run, on
//! which machine), so regenerating the tables does not lose them.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gmmvi_bench::report::{header_of, write_report};

/// Summary table and plots of the benchmark suite's results.
#[derive(Parser, Debug)]
#[command(name = "gmmvi-report", version, about)]
struct Cli {
    /// Results directory (`<target>/<algo>_s<seed>.{json,csv,skipped}`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    results: PathBuf,
    /// Markdown file to write.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/RESULTS.md"))]
    out: PathBuf,
    /// Markdown put under the title (what was run, on which machine).
    #[arg(long, conflicts_with = "keep_header")]
    header: Option<PathBuf>,
    /// Keep the notes under the title of the existing `--out` file.
    #[arg(long)]
    keep_header: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let header = match &cli.header {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", p.display());
                return ExitCode::FAILURE;
            }
        },
        None if cli.keep_header => match std::fs::read_to_string(&cli.out) {
            Ok(t) => header_of(&t),
            Err(e) => {
                eprintln!("error: --keep-header: cannot read {}: {e}", cli.out.display());
                return ExitCode::FAILURE;
            }
        },
        None => String::new(),
    };
    match write_report(&cli.results, &cli.out, &header) {
        Ok((rows, plots)) => {
            eprintln!("{} rows, {} plots ({}); wrote {}", rows.len(), plots.len(), plots.join(", "), cli.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

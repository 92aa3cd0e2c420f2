//! `gmmvi-report`: turns the suite's results directory (`bench/run_suite.sh`) into one SVG per
//! target (`<results>/<target>.svg`) and a Markdown table (`bench/RESULTS.md`), see
//! [`gmmvi_bench::report`].
//!
//! ```text
//! gmmvi-report [--results bench/results] [--out bench/RESULTS.md]
//!              [--header header.md] [--notes notes.md] [--keep-header]
//! ```
//!
//! `--keep-header` keeps the paragraph under the title (what was run, how to reproduce it, on
//! which machine) and the `## Notes` section of the existing `--out` file, so regenerating the
//! tables does not lose them; `--header`/`--notes` replace either.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gmmvi_bench::report::{header_of, notes_of, write_report};

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
    /// Markdown put under the title (what was run, how to reproduce it, on which machine).
    #[arg(long)]
    header: Option<PathBuf>,
    /// Markdown of the `## Notes` section after the tables.
    #[arg(long)]
    notes: Option<PathBuf>,
    /// Keep the header and the notes of the existing `--out` file (unless given).
    #[arg(long)]
    keep_header: bool,
}

/// The existing report and the function that takes one part of it.
type Keep<'a> = Option<(&'a PathBuf, fn(&str) -> String)>;

/// The text of `path`, or of `keep(existing --out)` with `--keep-header`, or "".
fn part(path: &Option<PathBuf>, keep: Keep<'_>) -> Result<String, String> {
    match (path, keep) {
        (Some(p), _) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display())),
        (None, Some((out, of))) => std::fs::read_to_string(out)
            .map(|t| of(&t))
            .map_err(|e| format!("--keep-header: cannot read {}: {e}", out.display())),
        (None, None) => Ok(String::new()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let keep = |of: fn(&str) -> String| cli.keep_header.then_some((&cli.out, of));
    let parts = part(&cli.header, keep(header_of)).and_then(|h| Ok((h, part(&cli.notes, keep(notes_of))?)));
    let (header, notes) = match parts {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match write_report(&cli.results, &cli.out, &header, &notes) {
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

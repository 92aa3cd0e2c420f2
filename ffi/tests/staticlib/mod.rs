//! Builds `libgmmvi.a` (package `gmmvi-ffi`, release profile) the way the README tells a C
//! developer to, in this build's target directory, and returns its path.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the workspace's, above this package's `ffi/`).
pub fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// `cargo build --release -p gmmvi-ffi [--target T]`; the path of the archive, or the error.
pub fn build(target: Option<&str>) -> Result<PathBuf, String> {
    // CARGO_TARGET_TMPDIR is <target dir>/tmp: build beside the test's own artifacts.
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("target dir");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(root())
        .args(["build", "--release", "-p", "gmmvi-ffi", "--message-format=json-render-diagnostics"])
        .arg("--target-dir")
        .arg(target_dir);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    // The compiler-artifact message of the staticlib names the archive.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let suffix = "libgmmvi.a\"";
    let line = stdout.lines().find(|l| l.contains("compiler-artifact") && l.contains(suffix));
    let path = line.and_then(|l| {
        let end = l.find(suffix)? + suffix.len() - 1;
        let start = l[..end].rfind('"')? + 1;
        Some(PathBuf::from(&l[start..end]))
    });
    path.ok_or_else(|| format!("no libgmmvi.a in cargo's output:\n{stdout}"))
}

/// Runs a command; its stdout, or a panic with everything it printed.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    stdout.into_owned()
}

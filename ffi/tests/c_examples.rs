//! The README's two commands for a C developer: build `libgmmvi.a`, compile
//! `c_examples/planar_arm.c` (and the C++17 `planar_arm.cpp` over `include/gmmvi.hpp`) against
//! the checked-in headers with the system compilers, warnings as errors; run them and check that
//! the fitted mixture reaches both goals with every sampled joint within its limits. The C build
//! also runs under ASan and UBSan. The README's CMake text is checked against what
//! `tests/cmake/run.sh` builds.
mod staticlib;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use staticlib::{root, run};

/// The host library, built once per test binary.
fn lib() -> &'static PathBuf {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| staticlib::build(None).unwrap_or_else(|e| panic!("building libgmmvi.a failed:\n{e}")))
}

/// Compiles `src` with `compiler` and `flags`; the executable's path.
fn compile(compiler: &str, src: &str, flags: &[&str], name: &str) -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let mut cc = Command::new(compiler);
    cc.current_dir(root()).args(flags).args(["-Wall", "-Wextra", "-Werror", "-Iinclude", src]).arg(lib());
    if compiler == "cc" {
        cc.arg("-lm");
    }
    run(cc.arg("-o").arg(&exe));
    exe
}

/// Compiles `src` with `compiler` and `flags`, runs it, returns its output.
fn compile_and_run(compiler: &str, src: &str, flags: &[&str], name: &str) -> String {
    run(&mut Command::new(compile(compiler, src, flags, name)))
}

/// Checks the example's output; returns its joint configurations and summary lines.
fn check_output(out: &str) -> Vec<String> {
    let configs: Vec<&str> = out.lines().filter(|l| l.contains("] -> (")).collect();
    assert_eq!(configs.len(), 10, "{out}");
    // Every printed configuration's end effector is near a goal (these are fitted samples).
    let near = configs
        .iter()
        .filter(|l| {
            let ee = l.rsplit('(').next().unwrap_or("").trim_end_matches(')');
            let v: Vec<f64> = ee.split(',').filter_map(|t| t.trim().parse().ok()).collect();
            v.len() == 2 && (v[0] - 3.0).hypot(v[1].abs() - 3.0) < 0.3
        })
        .count();
    assert!(near >= 8, "{near} of 10 near a goal:\n{out}");
    // Every printed joint angle is within the arm's joint limits (arm.h: 1.5 rad; printed with
    // three decimals, so 1.500 is an angle just inside).
    for l in &configs {
        let joints = l.split('[').nth(1).and_then(|s| s.split(']').next()).unwrap_or("");
        let q: Vec<f64> = joints.split(',').filter_map(|t| t.trim().parse().ok()).collect();
        assert_eq!(q.len(), 7, "{l}");
        assert!(q.iter().all(|v| v.abs() <= 1.5), "joint outside its limits: {l}");
    }
    let summary = out.lines().find(|l| l.starts_with("goals reached:")).unwrap_or_else(|| panic!("{out}"));
    assert!(summary.starts_with("goals reached: 2 of 2"), "{summary}");
    // The example counts every sample it drew (10 printed, 1000 checked) inside the limits.
    let limits = out.lines().find(|l| l.starts_with("joint limits:")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(limits, "joint limits: 1010 of 1010 samples within (-1.5, 1.5) rad");
    configs.iter().chain([&summary, &limits]).map(|s| s.to_string()).collect()
}

fn default_sizes() -> bool {
    if gmmvi_abi::GMMVI_DIM != 7 {
        eprintln!("skipped: the examples need the default GMMVI_DIM = 7");
        return false;
    }
    true
}

#[test]
fn c_and_cpp_examples_reach_both_goals_with_the_same_samples() {
    if !default_sizes() {
        return;
    }
    let c = compile_and_run("cc", "c_examples/planar_arm.c", &["-std=c11", "-O2"], "planar_arm");
    print!("{c}");
    let cpp_flags = ["-std=c++17", "-O2", "-Wpedantic", "-fno-exceptions", "-fno-rtti"];
    let cpp = compile_and_run("c++", "c_examples/planar_arm.cpp", &cpp_flags, "planar_arm_cpp");
    // Same library, same seed, same target: the wrapper changes nothing.
    assert_eq!(check_output(&c), check_output(&cpp));
}

#[test]
fn c_example_is_clean_under_asan_and_ubsan() {
    if !default_sizes() {
        return;
    }
    let flags = ["-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"];
    check_output(&compile_and_run("cc", "c_examples/planar_arm.c", &flags, "planar_arm_asan"));
}

/// The Panda's joint limits (rad), the manufacturer's, as in `gmmvi_targets::PandaIk`.
const PANDA_LOWER: [f64; 7] = [-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973];
const PANDA_UPPER: [f64; 7] = [2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973];

/// The number after `"key":` in a flat JSON line.
fn json_number(line: &str, key: &str) -> f64 {
    let pat = format!("\"{key}\":");
    line.split(pat.as_str())
        .nth(1)
        .and_then(|s| s.split([',', '}']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no number {key} in {line}"))
}

/// `c_examples/panda_ik.cpp`: a 7-joint Franka Panda reaching a full pose, in the default f32
/// build. On each of its five poses at least 90 % of the 2000 solutions are within 10 mm and
/// 2°, at least one branch is found, and every solution is within the joint limits (the
/// example's count and the per-joint ranges it prints, checked here against the limits).
#[test]
fn cpp_panda_example_reaches_every_pose_within_the_limits() {
    if !default_sizes() {
        return;
    }
    let flags = ["-std=c++17", "-O2", "-Wpedantic", "-fno-exceptions", "-fno-rtti"];
    let exe = compile("c++", "c_examples/panda_ik.cpp", &flags, "panda_ik_cpp");
    for pose in 0..5 {
        let out = run(Command::new(&exe).arg(pose.to_string()));
        print!("{out}");
        let json = out.lines().last().filter(|l| l.starts_with('{')).unwrap_or_else(|| panic!("{out}"));
        assert_eq!(json_number(json, "pose"), f64::from(pose), "{json}");
        let in_tolerance = json_number(json, "in_tolerance");
        assert!(in_tolerance >= 0.9, "pose {pose}: {in_tolerance} within tolerance\n{out}");
        assert!(json_number(json, "branches") >= 1.0, "{json}");
        assert_eq!(json_number(json, "outside_limits"), 0.0, "{json}");
        assert_eq!(json_number(json, "iterations"), 100.0, "{json}");
        assert!(json_number(json, "elbo").is_finite() && json_number(json, "components") >= 1.0, "{json}");
        let ranges: Vec<(f64, f64)> = out
            .lines()
            .filter_map(|l| l.strip_prefix("joint ").and_then(|l| l.split_once(": solutions in [")))
            .filter_map(|(_, r)| r.split_once(']'))
            .filter_map(|(r, _)| {
                let (a, b) = r.split_once(", ")?;
                Some((a.parse().ok()?, b.parse().ok()?))
            })
            .collect();
        assert_eq!(ranges.len(), 7, "{out}");
        for (j, &(lo, hi)) in ranges.iter().enumerate() {
            // The bounds are the limits rounded to f32: allow that rounding, no more.
            let slack = 1e-6;
            assert!(lo >= PANDA_LOWER[j] - slack && hi <= PANDA_UPPER[j] + slack && lo < hi, "joint {}: {out}", j + 1);
        }
    }
}

/// The README's CMake text is what `tests/cmake/run.sh` builds: its CMake block is the
/// consumer project that the script builds with `find_package` and `add_subdirectory`, and it
/// names every cache variable of the top-level `CMakeLists.txt`. (Building it needs cmake and a
/// second cargo build: the script does that, CI runs it.)
#[test]
fn readme_cmake_text_is_what_tests_cmake_run_sh_builds() {
    let read = |p: &str| std::fs::read_to_string(root().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    let readme = read("README.md");
    let snippet = readme.split("```cmake\n").nth(1).and_then(|s| s.split("```").next()).expect("a cmake block");
    assert_eq!(snippet, read("tests/cmake/consumer/CMakeLists.txt"));
    let script = read("tests/cmake/run.sh");
    assert!(script.contains("-DCMAKE_PREFIX_PATH=") && script.contains("-DGMMVI_SOURCE_DIR="), "{script}");
    assert!(script.contains("pkg-config --cflags --libs gmmvi"), "{script}");
    let section = readme.split("## C and C++").nth(1).and_then(|s| s.split("\n## ").next()).expect("C and C++ section");
    let cmake = read("CMakeLists.txt");
    let vars: Vec<&str> = cmake
        .lines()
        .filter(|l| (l.starts_with("set(GMMVI_") && l.contains(" CACHE ")) || l.starts_with("option(GMMVI_"))
        .filter_map(|l| l.split(['(', ' ']).nth(1))
        .collect();
    assert!(vars.len() >= 10, "{vars:?}");
    for v in vars {
        assert!(section.contains(v), "README, C and C++: no {v}");
    }
}

/// `c_examples/two_threads.c`: one thread fits and publishes snapshots, another samples the
/// published one meanwhile. Built with ThreadSanitizer (the C side is instrumented, and the
/// library's copies go through the intercepted `memcpy`), it must report no race, draw only
/// finite values and end with a snapshot of the target.
#[test]
fn two_threads_example_is_race_free_under_tsan() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let probe_src = tmp.join("tsan_probe.c");
    std::fs::write(&probe_src, "int main(void) { return 0; }\n").expect("write the probe");
    let probe = Command::new("cc")
        .args(["-fsanitize=thread", "-pthread"])
        .arg(&probe_src)
        .arg("-o")
        .arg(tmp.join("tsan_probe"))
        .output();
    let runs = |o: &std::process::Output| o.status.success();
    if !probe.as_ref().is_ok_and(runs) || !Command::new(tmp.join("tsan_probe")).output().as_ref().is_ok_and(runs) {
        eprintln!("skipped: cc cannot build or run a -fsanitize=thread program here");
        return;
    }
    let exe = tmp.join("two_threads_tsan");
    let flags = ["-std=c11", "-O1", "-g", "-fsanitize=thread", "-pthread", "-Wall", "-Wextra", "-Werror", "-Iinclude"];
    run(Command::new("cc")
        .current_dir(root())
        .args(flags)
        .arg("c_examples/two_threads.c")
        .arg(lib())
        .arg("-lm")
        .arg("-o")
        .arg(&exe));
    let out = Command::new(&exe).output().unwrap_or_else(|e| panic!("cannot run {exe:?}: {e}"));
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    print!("{stdout}");
    assert!(out.status.success(), "two_threads failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(!stderr.contains("WARNING: ThreadSanitizer"), "{stderr}");
    assert!(stdout.lines().any(|l| l == "ok"), "{stdout}");
    let draws: u64 = stdout
        .split("sampler: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(draws > 0, "{stdout}");
}

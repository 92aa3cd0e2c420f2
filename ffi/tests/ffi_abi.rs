//! The C ABI driven from Rust as C would drive it: the fit works, every entry point rejects
//! bad pointers, sizes and states with its status, failures keep the model, re-entrant calls
//! are refused, and the build-time sizes agree with the types.
#![allow(clippy::undocumented_unsafe_blocks)]

use std::ffi::{CStr, c_int, c_void};
use std::ptr::{null, null_mut};

use gmmvi_abi::gmmvi_status::{self, *};
use gmmvi_abi::*;

const D: usize = GMMVI_DIM;

mod common;
use common::{model_bits, stats};

/// Zeroed storage for one state, as a C `static gmmvi_state` would be.
// Tests build with the current toolchain; `rust-version` is the library crates' minimum.
#[allow(clippy::incompatible_msrv)]
fn new_state() -> Box<gmmvi_state> {
    // SAFETY: gmmvi_state is an array of integers: all zeros is a valid value.
    unsafe { Box::<gmmvi_state>::new_zeroed().assume_init() }
}

fn init(s: &mut gmmvi_state, cfg: &gmmvi_config, seed: u64) -> gmmvi_status {
    unsafe { gmmvi_init(s, GMMVI_STATE_SIZE, cfg, seed) }
}

/// Two normalised Gaussians N(±3·e₁, 0.5²·I) with equal weights: log Z = 0.
unsafe extern "C" fn two_modes(
    _: *mut c_void,
    x: *const gmmvi_real,
    n: usize,
    lp: *mut gmmvi_real,
    grad: *mut gmmvi_real,
) -> c_int {
    let (xs, lp) = unsafe { (std::slice::from_raw_parts(x, n * D), std::slice::from_raw_parts_mut(lp, n)) };
    let var = 0.25f64;
    let log_norm = -0.5 * D as f64 * (2.0 * std::f64::consts::PI * var).ln();
    for (i, row) in xs.chunks_exact(D).enumerate() {
        let mut l = [0.0f64; 2];
        for (m, li) in l.iter_mut().enumerate() {
            let c = if m == 0 { 3.0 } else { -3.0 };
            let sq: f64 = row.iter().enumerate().map(|(d, &v)| (v as f64 - if d == 0 { c } else { 0.0 }).powi(2)).sum();
            *li = (0.5f64).ln() + log_norm - 0.5 * sq / var;
        }
        let mx = l[0].max(l[1]);
        let (e0, e1) = ((l[0] - mx).exp(), (l[1] - mx).exp());
        lp[i] = (mx + (e0 + e1).ln()) as gmmvi_real;
        if !grad.is_null() {
            let g = unsafe { std::slice::from_raw_parts_mut(grad.add(i * D), D) };
            for (d, gd) in g.iter_mut().enumerate() {
                let mu = |c: f64| if d == 0 { c } else { 0.0 };
                let v = row[d] as f64;
                *gd = ((e0 * (mu(3.0) - v) + e1 * (mu(-3.0) - v)) / ((e0 + e1) * var)) as gmmvi_real;
            }
        }
    }
    0
}

/// A broad start for `two_modes`: one component N(0, 3²·I).
fn two_modes_config() -> gmmvi_config {
    let mut cfg = gmmvi_config_default();
    cfg.initial_std = [3.0; D];
    cfg.prior_std = [3.0; D];
    cfg
}

#[test]
fn ffi_sizes_of_the_header_match_the_types() {
    assert_eq!(size_of::<gmmvi_state>(), GMMVI_STATE_SIZE);
    assert_eq!(align_of::<gmmvi_state>(), GMMVI_STATE_ALIGN);
    assert_eq!(GMMVI_STATE_WORDS * 8, GMMVI_STATE_SIZE);
    assert_eq!(size_of::<gmmvi_real>() * 8, GMMVI_REAL_BITS);
    // GMMVI_STATE_SIZE is an upper bound for the target built, and a tight one.
    let used = state_bytes_used();
    println!("gmmvi_state: {GMMVI_STATE_SIZE} bytes declared, {used} used on this target");
    assert!(used <= GMMVI_STATE_SIZE && GMMVI_STATE_SIZE - used <= 1024, "{used} of {GMMVI_STATE_SIZE}");
}

#[test]
fn ffi_status_strings_name_every_code() {
    let text = |c: u32| unsafe { CStr::from_ptr(gmmvi_status_str(c)) }.to_str().unwrap().to_string();
    let known: Vec<String> = (0..=13).map(text).collect();
    assert_eq!(known[0], "ok");
    let mut unique = known.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), known.len(), "{known:?}");
    assert!(!known.contains(&"unknown status".to_string()), "{known:?}");
    assert_eq!(text(14), "unknown status");
    assert_eq!(text(u32::MAX), "unknown status");
    assert_eq!(text(GMMVI_BUSY as u32), "state busy (called from its own callback)");
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_fit_finds_both_modes_and_everything_reads_back() {
    let mut s = new_state();
    assert_eq!(init(&mut s, &two_modes_config(), 7), GMMVI_OK);
    let r0 = stats(&s);
    assert_eq!((r0.iterations, r0.evaluations, r0.components), (0, 0, 1));
    assert!(r0.elbo.is_nan());
    let mut rep = gmmvi_report::default();
    assert_eq!(unsafe { gmmvi_run(&mut *s, Some(two_modes), null_mut(), 300, 0, &mut rep) }, GMMVI_OK);
    assert_eq!(rep, stats(&s));
    assert_eq!(rep.iterations, 300);
    assert!(rep.components >= 2 && rep.components as usize <= GMMVI_MAX_COMPONENTS, "{rep:?}");
    // log Z = 0 and ELBO <= log Z; the estimate is noisy, the fit should be close.
    assert!(rep.elbo > -0.3 && rep.elbo < 0.3, "{rep:?}");

    // Samples: half near each mode (4 standard errors of 2000 Bernoulli draws ≈ 0.045).
    let n = 2000;
    let mut xs = vec![0.0 as gmmvi_real; n * D];
    assert_eq!(unsafe { gmmvi_sample(&mut *s, xs.as_mut_ptr(), n) }, GMMVI_OK);
    let right = xs.chunks_exact(D).filter(|x| x[0] > 0.0).count() as f64 / n as f64;
    assert!((right - 0.5).abs() < 0.06, "{right}");
    let near = xs.chunks_exact(D).filter(|x| (x[0].abs() - 3.0).abs() < 1.5).count();
    assert!(near as f64 > 0.95 * n as f64, "{near}");

    // log q of the samples matches a sum over the components read back.
    let mut lq = vec![0.0 as gmmvi_real; n];
    assert_eq!(unsafe { gmmvi_log_density(&*s, xs.as_ptr(), n, lq.as_mut_ptr()) }, GMMVI_OK);
    let mut comps = vec![];
    let mut wsum = 0.0;
    for k in 0..rep.components as usize {
        let (mut w, mut m, mut c, mut l) = (0.0, [0.0; D], [0.0; D * D], [0.0; D * D]);
        let st = unsafe { gmmvi_get_component(&*s, k, &mut w, m.as_mut_ptr(), c.as_mut_ptr(), l.as_mut_ptr()) };
        assert_eq!(st, GMMVI_OK);
        wsum += w as f64;
        // cov = L Lᵀ, L lower triangular.
        for i in 0..D {
            for j in 0..D {
                let llt: f64 = (0..D).map(|t| l[i * D + t] as f64 * l[j * D + t] as f64).sum();
                assert!((llt - c[i * D + j] as f64).abs() <= 1e-4 * (1.0 + llt.abs()), "{llt} {}", c[i * D + j]);
                assert!(j <= i || l[i * D + j] == 0.0);
            }
        }
        comps.push((w as f64, m, l));
    }
    assert!((wsum - 1.0).abs() < 1e-4, "{wsum}");
    for (x, &lq) in xs.chunks_exact(D).zip(&lq).take(200) {
        let mut terms = vec![];
        for (w, m, l) in &comps {
            // z = L⁻¹(x − μ) by forward substitution.
            let mut z = [0.0f64; D];
            let mut logdet = 0.0;
            for i in 0..D {
                let mut v = x[i] as f64 - m[i] as f64;
                for t in 0..i {
                    v -= l[i * D + t] as f64 * z[t];
                }
                z[i] = v / l[i * D + i] as f64;
                logdet += (l[i * D + i] as f64).ln();
            }
            let sq: f64 = z.iter().map(|v| v * v).sum();
            terms.push(w.ln() - 0.5 * sq - logdet - 0.5 * D as f64 * (2.0 * std::f64::consts::PI).ln());
        }
        let mx = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let naive = mx + terms.iter().map(|t| (t - mx).exp()).sum::<f64>().ln();
        assert!((naive - lq as f64).abs() < 1e-3 * (1.0 + naive.abs()), "{naive} vs {lq}");
    }
    // Outputs are optional; the index is checked.
    let k = rep.components as usize;
    assert_eq!(unsafe { gmmvi_get_component(&*s, 0, null_mut(), null_mut(), null_mut(), null_mut()) }, GMMVI_OK);
    let st = unsafe { gmmvi_get_component(&*s, k, null_mut(), null_mut(), null_mut(), null_mut()) };
    assert_eq!(st, GMMVI_NO_SUCH_COMPONENT);
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_same_seed_same_bits_and_sampling_does_not_change_the_fit() {
    let run = |seed: u64, sample_between: bool| {
        let mut s = new_state();
        assert_eq!(init(&mut s, &two_modes_config(), seed), GMMVI_OK);
        let mut xs = [0.0 as gmmvi_real; 5 * D];
        for _ in 0..20 {
            assert_eq!(unsafe { gmmvi_step(&mut *s, Some(two_modes), null_mut(), null_mut()) }, GMMVI_OK);
            if sample_between {
                assert_eq!(unsafe { gmmvi_sample(&mut *s, xs.as_mut_ptr(), 5) }, GMMVI_OK);
            }
        }
        (model_bits(&s), stats(&s))
    };
    let a = run(3, false);
    assert_eq!(a, run(3, false));
    assert_eq!(a, run(3, true));
    assert_ne!(a.0, run(4, false).0);
}

#[test]
fn ffi_every_entry_point_checks_its_pointers() {
    let cfg = gmmvi_config_default();
    let mut s = new_state();
    let sp: *mut gmmvi_state = &mut *s;
    let mut rep = gmmvi_report::default();
    let mut x = [0.0 as gmmvi_real; 4 * D];
    let mut lq = [0.0 as gmmvi_real; 4];
    unsafe {
        // Uninitialised (zeroed) state.
        assert_eq!(gmmvi_step(sp, Some(two_modes), null_mut(), &mut rep), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_run(sp, Some(two_modes), null_mut(), 5, 0, null_mut()), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_sample(sp, x.as_mut_ptr(), 1), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_log_density(sp, x.as_ptr(), 1, lq.as_mut_ptr()), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_stats(sp, &mut rep), GMMVI_NOT_INITIALIZED);
        assert_eq!(gmmvi_get_component(sp, 0, null_mut(), null_mut(), null_mut(), null_mut()), GMMVI_NOT_INITIALIZED);
        // NULL state, config, callback, outputs.
        assert_eq!(gmmvi_init(null_mut(), GMMVI_STATE_SIZE, &cfg, 1), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, null(), 1), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_step(null_mut(), Some(two_modes), null_mut(), null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_stats(null(), &mut rep), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_config_from_codeword(null(), &mut gmmvi_config_default()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_config_from_codeword(c"SAMTRUX".as_ptr(), null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(
            gmmvi_config_parse(null(), &mut gmmvi_config_default(), null_mut(), core::ptr::null_mut(), 0),
            GMMVI_NULL_POINTER
        );
        // Too small a buffer.
        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE - 1, &cfg, 1), GMMVI_BUFFER_TOO_SMALL);
        assert_eq!(gmmvi_init(sp, 0, &cfg, 1), GMMVI_BUFFER_TOO_SMALL);

        assert_eq!(gmmvi_init(sp, GMMVI_STATE_SIZE, &cfg, 1), GMMVI_OK);
        assert_eq!(gmmvi_step(sp, None, null_mut(), &mut rep), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_stats(sp, null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_sample(sp, null_mut(), 1), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_sample(sp, null_mut(), 0), GMMVI_OK);
        assert_eq!(gmmvi_log_density(sp, null(), 1, lq.as_mut_ptr()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_log_density(sp, x.as_ptr(), 1, null_mut()), GMMVI_NULL_POINTER);
        assert_eq!(gmmvi_log_density(sp, null(), 0, null_mut()), GMMVI_OK);
        // Misaligned pointers.
        let mis = |p: *mut gmmvi_real| p.cast::<u8>().add(1).cast::<gmmvi_real>();
        assert_eq!(gmmvi_sample(sp, mis(x.as_mut_ptr()), 1), GMMVI_BAD_ALIGNMENT);
        assert_eq!(gmmvi_log_density(sp, mis(x.as_mut_ptr()), 1, lq.as_mut_ptr()), GMMVI_BAD_ALIGNMENT);
        assert_eq!(gmmvi_stats(sp, (&raw mut rep).cast::<u8>().add(4).cast()), GMMVI_BAD_ALIGNMENT);
        let mut big = vec![0u64; GMMVI_STATE_WORDS + 1];
        let odd = big.as_mut_ptr().cast::<u8>().add(4).cast::<gmmvi_state>();
        assert_eq!(gmmvi_init(odd, GMMVI_STATE_SIZE, &cfg, 1), GMMVI_BAD_ALIGNMENT);
        assert_eq!(gmmvi_stats(odd, &mut rep), GMMVI_BAD_ALIGNMENT);
        // Outputs inside the state, sizes that overflow.
        assert_eq!(gmmvi_sample(sp, sp.cast::<gmmvi_real>().add(64), 1), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_stats(sp, sp.cast()), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_sample(sp, x.as_mut_ptr(), usize::MAX), GMMVI_INVALID_ARGUMENT);
        assert_eq!(gmmvi_log_density(sp, x.as_ptr(), usize::MAX / 2, lq.as_mut_ptr()), GMMVI_INVALID_ARGUMENT);
        let k0 = sp.cast::<gmmvi_real>().add(8);
        assert_eq!(gmmvi_get_component(sp, 0, null_mut(), k0, null_mut(), null_mut()), GMMVI_INVALID_ARGUMENT);
        // None of that disturbed the state.
        assert_eq!(gmmvi_step(sp, Some(two_modes), null_mut(), &mut rep), GMMVI_OK);
        assert_eq!(rep.iterations, 1);
    }
}

#[test]
fn ffi_bad_configs_are_rejected_and_leave_the_state_uninitialised() {
    let mut s = new_state();
    type Spoil = Box<dyn Fn(&mut gmmvi_config)>;
    // What is spoiled, and what gmmvi_last_error must say about it.
    let bad: Vec<(&str, Spoil)> = vec![
        (
            "codeword \"SAMTRUQ\": codeword position 7 (X, G or N)",
            Box::new(|c| c.codeword = b"SAMTRUQ\0".map(|b| b as _)),
        ),
        ("codeword: not NUL-terminated", Box::new(|c| c.codeword = b"SAMTRUXX".map(|b| b as _))),
        ("temperature: must be finite and > 0", Box::new(|c| c.temperature = f64::NAN)),
        ("samples_per_component: must be at least 1", Box::new(|c| c.samples_per_component = 0)),
        (
            "new samples per iteration exceed the store",
            Box::new(|c| c.samples_per_component = (GMMVI_STORE_CAPACITY + 1) as u32),
        ),
        ("del_iters = 16: the deletion test keeps", Box::new(|c| c.del_iters = GMMVI_HISTORY as u32)),
        ("del_iters = 4294967295", Box::new(|c| c.del_iters = u32::MAX)),
        ("del_iters = 4294967295", Box::new(|c| c.overrides = c"del_iters=4294967295".as_ptr())),
        ("initial_components = 0: must be in 1..=GMMVI_MAX_COMPONENTS", Box::new(|c| c.initial_components = 0)),
        ("initial_components = 9", Box::new(|c| c.initial_components = GMMVI_MAX_COMPONENTS as u32 + 1)),
        ("prior_std[0] = 0: must be", Box::new(|c| c.prior_std[0] = 0.0)),
        ("initial_std[6] = inf", Box::new(|c| c.initial_std[D - 1] = gmmvi_real::INFINITY)),
        ("prior_mean[0] = NaN: must be finite", Box::new(|c| c.prior_mean[0] = gmmvi_real::NAN)),
        ("overrides: tempreature=2: unknown key", Box::new(|c| c.overrides = c"tempreature=2".as_ptr())),
        ("the overrides start with SAMTRON", Box::new(|c| c.overrides = c"SAMTRON".as_ptr())),
        ("max_components = 9: at most GMMVI_MAX_COMPONENTS = 8", Box::new(|c| c.max_components = 9)),
        ("max_components = 45: at most GMMVI_MAX_COMPONENTS = 8", Box::new(|c| c.overrides = c"max_k=45".as_ptr())),
    ];
    for (why, f) in &bad {
        assert_eq!(init(&mut s, &two_modes_config(), 1), GMMVI_OK);
        assert_eq!(last_error(&s), "", "a successful init leaves no message");
        let mut c = two_modes_config();
        f(&mut c);
        assert_eq!(init(&mut s, &c, 1), GMMVI_BAD_CONFIG, "{why}");
        assert_eq!(unsafe { gmmvi_stats(&*s, &mut gmmvi_report::default()) }, GMMVI_NOT_INITIALIZED, "{why}");
        let msg = last_error(&s);
        assert!(msg.contains(why), "expected \"{why}\" in \"{msg}\"");
    }
}

/// `gmmvi_last_error` of `s` as a string.
fn last_error(s: &gmmvi_state) -> String {
    let mut buf = [0 as std::ffi::c_char; 256];
    let mut n = usize::MAX;
    assert_eq!(unsafe { gmmvi_last_error(s, buf.as_mut_ptr(), buf.len(), &mut n) }, GMMVI_OK);
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string();
    assert_eq!(text.len(), n);
    text
}

/// Every field that `Config::validate` checks, made invalid the way a C caller would (a
/// `gmmvi_config` field, or an `overrides` key for those without one): `gmmvi_init` refuses it
/// and `gmmvi_last_error` names the field or key; `gmmvi_config_parse` names the same key.
#[test]
fn ffi_every_validated_field_is_named_by_the_error() {
    // (field path of Config::validate, codeword, spoil the C struct, overrides, expected name)
    type Spoil = fn(&mut gmmvi_config);
    let keep: Spoil = |_| {};
    let cases: [(&str, &str, Spoil, &str, &str); 18] = [
        ("temperature", "SAMTRUX", |c| c.temperature = 0.0, "", "temperature"),
        (
            "samples.desired_samples_per_component",
            "SAMTRUX",
            |c| c.samples_per_component = 0,
            "",
            "samples_per_component",
        ),
        ("samples.reuse_ratio", "SAMTRUX", |c| c.reuse_ratio = -1.0, "", "reuse_ratio"),
        ("samples.max_database_size", "SAMTRUX", keep, "max_database_size=0", "max_database_size"),
        ("ng.initial_l2_regularizer", "SAMTRUX", keep, "initial_l2_regularizer=-1", "initial_l2_regularizer"),
        ("component_step.initial", "SAMTRUX", |c| c.component_step = f64::INFINITY, "", "component_step"),
        (
            "component_step.min/max",
            "SAMTRUX",
            keep,
            "component_stepsize.min_stepsize=0.5 component_stepsize.max_stepsize=0.1",
            "component_stepsize.min_stepsize",
        ),
        (
            "component_step.inc_factor/dec_factor",
            "SAMTRUX",
            keep,
            "component_stepsize.stepsize_inc_factor=0",
            "component_stepsize.stepsize_inc_factor",
        ),
        (
            "component_step.annealing_exponent",
            "SAMTDUX",
            keep,
            "component_stepsize.annealing_exponent=-1",
            "component_stepsize.annealing_exponent",
        ),
        ("weight_step.initial", "SAMTRUX", |c| c.weight_step = -1.0, "", "weight_step"),
        (
            "weight_step.min/max",
            "SAMTRUN",
            keep,
            "weight_stepsize.min_stepsize=0.9 weight_stepsize.max_stepsize=0.1",
            "weight_stepsize.min_stepsize",
        ),
        (
            "weight_step.inc_factor/dec_factor",
            "SAMTRUN",
            keep,
            "weight_stepsize.stepsize_dec_factor=0",
            "weight_stepsize.stepsize_dec_factor",
        ),
        ("weight_step.annealing_exponent", "SAMTRUG", keep, "", "weight_stepsize.annealing_exponent"),
        ("adapt.del_iters", "SAMTRUX", |c| c.del_iters = 0, "", "del_iters"),
        ("adapt.add_iters", "SAMTRUX", |c| c.add_iters = 0, "", "add_iters"),
        ("adapt.max_components", "SAMTRUX", |c| c.max_components = 0, "", "max_components"),
        ("adapt.thresholds", "SAMTRUX", keep, "thresholds_for_add_heuristic=0", "thresholds_for_add_heuristic"),
        (
            "adapt.min_weight_for_del",
            "SAMTRUX",
            keep,
            "min_weight_for_del_heuristic=-1",
            "min_weight_for_del_heuristic",
        ),
    ];
    let mut s = new_state();
    let mut paths: Vec<&str> = cases.iter().map(|c| c.0).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), cases.len(), "one case per validated field");
    for (path, codeword, spoil, text, name) in cases {
        let cw = std::ffi::CString::new(codeword).unwrap();
        let mut c = gmmvi_config_default();
        assert_eq!(unsafe { gmmvi_config_from_codeword(cw.as_ptr(), &mut c) }, GMMVI_OK, "{codeword}");
        spoil(&mut c);
        let overrides = std::ffi::CString::new(text).unwrap();
        if !text.is_empty() {
            c.overrides = overrides.as_ptr();
        }
        assert_eq!(init(&mut s, &c, 1), GMMVI_BAD_CONFIG, "{path}");
        let msg = last_error(&s);
        assert!(msg.contains(name), "{path}: expected \"{name}\" in \"{msg}\"");
        println!("{path:40} gmmvi_init: {msg}");
        if !text.is_empty() {
            // The same settings through the text form: the key is named there too.
            let full = std::ffi::CString::new(format!("{codeword} {text}")).unwrap();
            let (mut out, mut off, mut buf) = (gmmvi_config_default(), usize::MAX, [0 as std::ffi::c_char; 256]);
            let st = unsafe { gmmvi_config_parse(full.as_ptr(), &mut out, &mut off, buf.as_mut_ptr(), buf.len()) };
            assert_eq!(st, GMMVI_BAD_CONFIG, "{path}");
            let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap();
            assert!(msg.contains(name), "{path}: expected \"{name}\" in parse's \"{msg}\"");
            println!("{path:40} gmmvi_config_parse at byte {off}: {msg}");
        }
    }
}

/// The text form's message names the key and the build's limit; a short buffer truncates.
#[test]
fn ffi_config_parse_explains_and_truncates() {
    let parse = |text: &CStr, cap: usize| {
        let (mut out, mut off, mut buf) = (gmmvi_config_default(), usize::MAX, [0x55 as std::ffi::c_char; 256]);
        let st = unsafe { gmmvi_config_parse(text.as_ptr(), &mut out, &mut off, buf.as_mut_ptr(), cap) };
        assert!(buf[cap.min(256)..].iter().all(|&b| b == 0x55), "written beyond cap");
        let msg = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap().to_string();
        (st, off, msg)
    };
    let (st, off, msg) = parse(c"SAMTRUX del_iters=abc", 256);
    assert_eq!((st, off), (GMMVI_BAD_CONFIG, 8));
    assert_eq!(msg, "del_iters=abc: not a non-negative integer");
    let (st, _, msg) = parse(c"SAMTRUX del_iters=50", 256);
    assert_eq!(st, GMMVI_BAD_CONFIG);
    assert!(msg.starts_with("del_iters = 50: ") && msg.contains("at most 10 in this build"), "{msg}");
    let (_, _, msg) = parse(c"SAMTRUX del_iters=50", 10);
    assert_eq!(msg, "del_iters");
    let (st, _, msg) = parse(c"SAMTRUX del_iters=5", 256);
    assert_eq!((st, msg.as_str()), (GMMVI_OK, ""));
    // More components than the build holds: refused by the parser, as gmmvi_init would.
    let (st, _, msg) = parse(c"ZAMTRUX,max_k=45", 256);
    assert_eq!(
        (st, msg.as_str()),
        (GMMVI_BAD_CONFIG, "max_components = 45: at most GMMVI_MAX_COMPONENTS = 8 in this build")
    );
}

/// A header of another build: the fingerprint differs and every size-dependent entry point
/// refuses it before touching memory (a C program compiled against such a header is in
/// tests/c_examples.rs).
#[test]
fn ffi_other_fingerprints_are_refused() {
    assert_eq!(gmmvi_abi_fingerprint(), GMMVI_ABI_FINGERPRINT);
    assert_eq!(gmmvi_version(), GMMVI_VERSION_MAJOR << 16 | GMMVI_VERSION_MINOR << 8 | GMMVI_VERSION_PATCH);
    let v: Vec<u32> = env!("CARGO_PKG_VERSION").split('.').map(|p| p.parse().unwrap()).collect();
    assert_eq!(v, [GMMVI_VERSION_MAJOR, GMMVI_VERSION_MINOR, GMMVI_VERSION_PATCH]);
    let other = GMMVI_ABI_FINGERPRINT ^ 1;
    let mut s = new_state();
    let cfg = gmmvi_config_default();
    let mut out = gmmvi_config_default();
    unsafe {
        assert_eq!(gmmvi_init_abi(&mut *s, GMMVI_STATE_SIZE, &cfg, 1, other), GMMVI_ABI_MISMATCH);
        let bytes = std::slice::from_raw_parts((&raw const *s).cast::<u8>(), GMMVI_STATE_SIZE);
        assert!(bytes.iter().all(|&b| b == 0), "the state was touched");
        assert_eq!(gmmvi_config_default_abi(&mut out, other), GMMVI_ABI_MISMATCH);
        assert_eq!(gmmvi_config_from_codeword_abi(c"SAMTRON".as_ptr(), &mut out, other), GMMVI_ABI_MISMATCH);
        let mut off = 0;
        let text = c"SAMTRUX";
        assert_eq!(gmmvi_config_parse_abi(text.as_ptr(), &mut out, &mut off, null_mut(), 0, other), GMMVI_ABI_MISMATCH);
        assert_eq!(gmmvi_init_abi(&mut *s, GMMVI_STATE_SIZE, &cfg, 1, GMMVI_ABI_FINGERPRINT), GMMVI_OK);
    }
}

#[test]
fn ffi_codewords_text_form_and_overrides_reach_the_optimiser() {
    let mut c = gmmvi_config_default();
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"ZEPTRON".as_ptr(), &mut c) }, GMMVI_OK);
    assert_eq!(&c.codeword, b"ZEPTRON\0".map(|b| b as _).as_ref());
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"ZEPTRO".as_ptr(), &mut c) }, GMMVI_BAD_CONFIG);
    assert_eq!(unsafe { gmmvi_config_from_codeword(c"ZEPTRONN".as_ptr(), &mut c) }, GMMVI_BAD_CONFIG);

    // A codeword and a value with a field, then one without a field (kept as the override).
    let text = c"SEMTRUX n_des=5 thresholds_for_add_heuristic=100;50";
    let mut off = usize::MAX;
    assert_eq!(unsafe { gmmvi_config_parse(text.as_ptr(), &mut c, &mut off, core::ptr::null_mut(), 0) }, GMMVI_OK);
    assert_eq!((c.samples_per_component, c.overrides), (5, text.as_ptr()));
    assert_eq!(off, usize::MAX);
    let mut s = new_state();
    let mut rep = gmmvi_report::default();
    c.initial_components = 3;
    assert_eq!(init(&mut s, &c, 1), GMMVI_OK);
    assert_eq!(unsafe { gmmvi_step(&mut *s, Some(two_modes), null_mut(), &mut rep) }, GMMVI_OK);
    // Component-based sampling draws n_des per component (E: three fixed components).
    assert_eq!((rep.new_evaluations, rep.components), (15, 3));

    // Errors point at the culprit.
    let bad = c"SAMTRUX add_iters=3 bogus=1";
    assert_eq!(
        unsafe { gmmvi_config_parse(bad.as_ptr(), &mut c, &mut off, core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    assert_eq!(&bad.to_str().unwrap()[off..], "bogus=1");
    assert_eq!(
        unsafe { gmmvi_config_parse(bad.as_ptr(), &mut c, null_mut(), core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    let long = std::ffi::CString::new("n_des=5 ".repeat(600)).unwrap();
    assert_eq!(
        unsafe { gmmvi_config_parse(long.as_ptr(), &mut c, null_mut(), core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    let not_utf8 = [b'S', 0xff, 0];
    assert_eq!(
        unsafe { gmmvi_config_parse(not_utf8.as_ptr().cast(), &mut c, null_mut(), core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_num_prior_samples_field_acts_as_the_text_key() {
    let mut c = gmmvi_config_default();
    assert_eq!(c.num_prior_samples, 0);
    let text = c"add_iters=2 num_prior_samples=7";
    assert_eq!(unsafe { gmmvi_config_parse(text.as_ptr(), &mut c, null_mut(), null_mut(), 0) }, GMMVI_OK);
    assert_eq!((c.add_iters, c.num_prior_samples), (2, 7));
    let big = c"num_prior_samples=4294967296";
    assert_eq!(unsafe { gmmvi_config_parse(big.as_ptr(), &mut c, null_mut(), null_mut(), 0) }, GMMVI_BAD_CONFIG);
    // The field, the same count as an override, and none: the prior's draws are evaluated at
    // every add, and the field and the key give the same bits.
    let run = |prior: u32, overrides: *const std::ffi::c_char| {
        let mut c = two_modes_config();
        (c.add_iters, c.num_prior_samples, c.overrides) = (2, prior, overrides);
        let mut s = new_state();
        assert_eq!(init(&mut s, &c, 5), GMMVI_OK);
        for _ in 0..6 {
            assert_eq!(unsafe { gmmvi_step(&mut *s, Some(two_modes), null_mut(), null_mut()) }, GMMVI_OK);
        }
        (model_bits(&s), stats(&s))
    };
    let field = run(20, null());
    assert_eq!(field, run(0, c"num_prior_samples=20".as_ptr()));
    let none = run(0, null());
    assert!(field.1.components > 1 && field.1.evaluations >= none.1.evaluations + 20, "{:?} {:?}", field.1, none.1);
}

/// What a misbehaving callback does, chosen through `ctx`.
#[derive(Clone, Copy, PartialEq)]
enum Misbehave {
    Fail(c_int),
    AllNan,
    NothingWritten,
    SomeInf,
}

unsafe extern "C" fn misbehaving(
    ctx: *mut c_void,
    x: *const gmmvi_real,
    n: usize,
    lp: *mut gmmvi_real,
    g: *mut gmmvi_real,
) -> c_int {
    let how = unsafe { *ctx.cast::<Misbehave>() };
    match how {
        Misbehave::Fail(code) => code,
        Misbehave::NothingWritten => 0,
        Misbehave::AllNan => {
            for i in 0..n {
                unsafe { lp.add(i).write(gmmvi_real::NAN) };
            }
            0
        }
        Misbehave::SomeInf => {
            let rc = unsafe { two_modes(null_mut(), x, n, lp, g) };
            for i in (0..n).step_by(4) {
                unsafe { lp.add(i).write(gmmvi_real::INFINITY) };
            }
            rc
        }
    }
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_failing_callbacks_keep_the_model() {
    let mut s = new_state();
    assert_eq!(init(&mut s, &two_modes_config(), 5), GMMVI_OK);
    let sp: *mut gmmvi_state = &mut *s;
    let mut rep = gmmvi_report::default();
    let with = |how: Misbehave, rep: &mut gmmvi_report, iterations: u64| {
        let mut ctx = how;
        let ctx = (&raw mut ctx).cast::<c_void>();
        if iterations == 1 {
            unsafe { gmmvi_step(sp, Some(misbehaving), ctx, rep) }
        } else {
            unsafe { gmmvi_run(sp, Some(misbehaving), ctx, iterations, 0, rep) }
        }
    };
    // Before the first step nothing can be reused: no finite value means no step.
    let fresh = model_bits(&s);
    for how in [Misbehave::AllNan, Misbehave::NothingWritten] {
        assert_eq!(with(how, &mut rep, 1), GMMVI_NON_FINITE_TARGET);
        assert_eq!((model_bits(&s), stats(&s).iterations), (fresh.clone(), 0));
    }
    // Some non-finite values reject only those samples (the first step: one call of n_des).
    assert_eq!(with(Misbehave::SomeInf, &mut rep, 1), GMMVI_OK);
    assert_eq!(rep.new_evaluations as usize, GMMVI_SAMPLES_PER_COMPONENT);
    assert_eq!((rep.rejected_samples, rep.iterations), (rep.new_evaluations.div_ceil(4), 1));
    assert_eq!(unsafe { gmmvi_run(sp, Some(two_modes), null_mut(), 10, 0, &mut rep) }, GMMVI_OK);
    let before = (model_bits(&s), stats(&s));
    for code in [-7, 42] {
        for iterations in [1, 5] {
            assert_eq!(with(Misbehave::Fail(code), &mut rep, iterations), GMMVI_TARGET_FAILED);
            assert_eq!(rep.target_error, code);
            assert_eq!((model_bits(&s), stats(&s).iterations), (before.0.clone(), before.1.iterations));
        }
    }
    // Later, stored samples are reused: a step on them alone, every new sample rejected.
    assert_eq!(with(Misbehave::AllNan, &mut rep, 1), GMMVI_OK);
    assert_eq!((rep.rejected_samples, rep.iterations), (rep.new_evaluations, before.1.iterations + 1));
    // And the state goes on.
    assert_eq!(unsafe { gmmvi_run(sp, Some(two_modes), null_mut(), 5, 0, &mut rep) }, GMMVI_OK);
    assert_eq!(rep.target_error, 42);
}

/// Calls back into the state it is evaluated for; records the statuses.
struct Reentrant {
    s: *mut gmmvi_state,
    seen: Vec<gmmvi_status>,
}

unsafe extern "C" fn reentrant(
    ctx: *mut c_void,
    x: *const gmmvi_real,
    n: usize,
    lp: *mut gmmvi_real,
    g: *mut gmmvi_real,
) -> c_int {
    let r = unsafe { &mut *ctx.cast::<Reentrant>() };
    let cfg = gmmvi_config_default();
    let mut out = [0.0 as gmmvi_real; D];
    let mut rep = gmmvi_report::default();
    unsafe {
        r.seen.push(gmmvi_stats(r.s, &mut rep));
        r.seen.push(gmmvi_sample(r.s, out.as_mut_ptr(), 1));
        r.seen.push(gmmvi_step(r.s, Some(two_modes), null_mut(), null_mut()));
        r.seen.push(gmmvi_init(r.s, GMMVI_STATE_SIZE, &cfg, 1));
        r.seen.push(gmmvi_get_component(r.s, 0, null_mut(), out.as_mut_ptr(), null_mut(), null_mut()));
        two_modes(null_mut(), x, n, lp, g)
    }
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_callbacks_calling_back_into_their_state_get_busy() {
    let mut s = new_state();
    assert_eq!(init(&mut s, &two_modes_config(), 5), GMMVI_OK);
    let sp: *mut gmmvi_state = &mut *s;
    let mut ctx = Reentrant { s: sp, seen: vec![] };
    let mut rep = gmmvi_report::default();
    assert_eq!(unsafe { gmmvi_run(sp, Some(reentrant), (&raw mut ctx).cast(), 3, 0, &mut rep) }, GMMVI_OK);
    assert_eq!(rep.iterations, 3);
    assert!(!ctx.seen.is_empty() && ctx.seen.iter().all(|&st| st == GMMVI_BUSY), "{:?}", ctx.seen);
    // Idle again afterwards.
    assert_eq!(unsafe { gmmvi_stats(sp, &mut rep) }, GMMVI_OK);
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_evaluation_budget_stops_the_run() {
    let mut s = new_state();
    assert_eq!(init(&mut s, &two_modes_config(), 5), GMMVI_OK);
    let mut rep = gmmvi_report::default();
    let st = unsafe { gmmvi_run(&mut *s, Some(two_modes), null_mut(), 1_000_000, 1000, &mut rep) };
    assert_eq!(st, GMMVI_OK);
    // Stops at the first step that reaches the budget: one step's samples at most beyond.
    let per_step = (GMMVI_SAMPLES_PER_COMPONENT * GMMVI_MAX_COMPONENTS) as u64;
    assert!(rep.evaluations >= 1000 && rep.evaluations < 1000 + per_step, "{rep:?}");
    assert_eq!(unsafe { gmmvi_run(&mut *s, Some(two_modes), null_mut(), 0, 0, &mut rep) }, GMMVI_OK);
}

fn sample_bits(s: &mut gmmvi_state) -> Vec<u64> {
    let mut x = [0.0 as gmmvi_real; 8 * D];
    assert_eq!(unsafe { gmmvi_sample(s, x.as_mut_ptr(), 8) }, GMMVI_OK);
    x.iter().map(|v| u64::from(v.to_bits())).collect()
}

fn step(s: &mut gmmvi_state) -> gmmvi_report {
    let mut r = gmmvi_report::default();
    assert_eq!(unsafe { gmmvi_step(s, Some(two_modes), null_mut(), &mut r) }, GMMVI_OK);
    r
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_save_restore_continues_bit_identically() {
    let cfg = two_modes_config();
    let mut a = new_state();
    assert_eq!(init(&mut a, &cfg, 5), GMMVI_OK);
    for _ in 0..6 {
        step(&mut a);
    }
    let _ = sample_bits(&mut a);
    let mut size = 0usize;
    assert_eq!(unsafe { gmmvi_checkpoint_size(&*a, &mut size) }, GMMVI_OK);
    let mut buf = vec![0u8; size];
    let mut written = 0usize;
    // Too small: the size needed is reported.
    assert_eq!(unsafe { gmmvi_save(&*a, buf.as_mut_ptr(), size - 1, &mut written) }, GMMVI_BUFFER_TOO_SMALL);
    assert_eq!(written, size);
    assert_eq!(unsafe { gmmvi_save(&*a, buf.as_mut_ptr(), size, &mut written) }, GMMVI_OK);
    assert_eq!(written, size);

    // Another seed: everything is overwritten by the restore.
    let mut b = new_state();
    assert_eq!(init(&mut b, &cfg, 77), GMMVI_OK);
    let before = model_bits(&b);
    // Bad bytes: truncated, corrupted, the C tail corrupted; the state is unchanged.
    for bad in [&buf[..size - 1], &buf[..10], &[][..]] {
        let st = unsafe { gmmvi_restore(&mut *b, bad.as_ptr(), bad.len()) };
        assert_eq!(st, GMMVI_BAD_CHECKPOINT);
    }
    for i in [0, 100, size / 2, size - 20, size - 1] {
        let mut c = buf.clone();
        c[i] ^= 0x10;
        assert_eq!(unsafe { gmmvi_restore(&mut *b, c.as_ptr(), c.len()) }, GMMVI_BAD_CHECKPOINT, "byte {i}");
    }
    assert_eq!(unsafe { gmmvi_restore(&mut *b, null(), 0) }, GMMVI_NULL_POINTER);
    assert_eq!(model_bits(&b), before);
    // A state of another configuration refuses it.
    let mut other = two_modes_config();
    other.temperature = 0.5;
    let mut c = new_state();
    assert_eq!(init(&mut c, &other, 5), GMMVI_OK);
    assert_eq!(unsafe { gmmvi_restore(&mut *c, buf.as_ptr(), size) }, GMMVI_BAD_CHECKPOINT);

    assert_eq!(unsafe { gmmvi_restore(&mut *b, buf.as_ptr(), size) }, GMMVI_OK);
    assert_eq!(stats(&b).iterations, stats(&a).iterations);
    assert_eq!(stats(&b).elbo.to_bits(), stats(&a).elbo.to_bits());
    for _ in 0..5 {
        let (ra, rb) = (step(&mut a), step(&mut b));
        assert_eq!(ra.evaluations, rb.evaluations);
        assert_eq!(ra.elbo.to_bits(), rb.elbo.to_bits());
        assert_eq!(model_bits(&a), model_bits(&b));
        assert_eq!(sample_bits(&mut a), sample_bits(&mut b));
    }
}

#[test]
#[cfg_attr(miri, ignore = "many optimiser steps: too slow under Miri (tests/ffi_miri.rs covers the same unsafe code)")]
fn ffi_export_import_model() {
    let cfg = two_modes_config();
    let mut a = new_state();
    assert_eq!(init(&mut a, &cfg, 1), GMMVI_OK);
    for _ in 0..20 {
        step(&mut a);
    }
    let mut written = 0usize;
    assert_eq!(unsafe { gmmvi_export_model(&*a, null_mut(), 0, &mut written) }, GMMVI_NULL_POINTER);
    let mut one = [0u8; 1];
    assert_eq!(unsafe { gmmvi_export_model(&*a, one.as_mut_ptr(), 1, &mut written) }, GMMVI_BUFFER_TOO_SMALL);
    let mut buf = vec![0u8; written];
    assert_eq!(unsafe { gmmvi_export_model(&*a, buf.as_mut_ptr(), buf.len(), &mut written) }, GMMVI_OK);

    let mut b = new_state();
    assert_eq!(init(&mut b, &cfg, 9), GMMVI_OK);
    let before = model_bits(&b);
    let mut c = buf.clone();
    c[20] ^= 1;
    assert_eq!(unsafe { gmmvi_import_model(&mut *b, c.as_ptr(), c.len()) }, GMMVI_BAD_CHECKPOINT);
    assert_eq!(unsafe { gmmvi_import_model(&mut *b, buf.as_ptr(), buf.len() - 1) }, GMMVI_BAD_CHECKPOINT);
    assert_eq!(model_bits(&b), before);
    assert_eq!(unsafe { gmmvi_import_model(&mut *b, buf.as_ptr(), buf.len()) }, GMMVI_OK);
    assert_eq!(stats(&b).components, stats(&a).components);
    let mut x = [0.0 as gmmvi_real; 16 * D];
    assert_eq!(unsafe { gmmvi_sample(&mut *a, x.as_mut_ptr(), 16) }, GMMVI_OK);
    let (mut la, mut lb) = ([0.0 as gmmvi_real; 16], [0.0 as gmmvi_real; 16]);
    assert_eq!(unsafe { gmmvi_log_density(&*a, x.as_ptr(), 16, la.as_mut_ptr()) }, GMMVI_OK);
    assert_eq!(unsafe { gmmvi_log_density(&*b, x.as_ptr(), 16, lb.as_mut_ptr()) }, GMMVI_OK);
    for (p, q) in la.iter().zip(&lb) {
        assert!(((p - q) as f64).abs() <= 1e-5 * (1.0 + (*p as f64).abs()), "{p} vs {q}");
    }
    // The imported model keeps fitting.
    step(&mut b);
}

/// Regression (fuzz/ config_text): a text whose design-choice keys change its codeword parsed
/// fine, but `gmmvi_init` refused the config (its overrides start with the old codeword).
#[test]
fn ffi_fuzz_regression_parsed_texts_that_change_the_codeword_initialise() {
    let mut s = new_state();
    for (text, want) in [
        (c"SEPTRON ng_estimator_type=MORE weight_updater_type=trust-region", "ZEPTRON"),
        (c"codeword=SAMTRUX sample_selector_type=mixture-based n_des=20", "SAPTRUX"),
        (c"SAMTRUX ng_estimator_type=MORE", "ZAMTRUX"),
    ] {
        let mut c = gmmvi_config_default();
        let mut off = usize::MAX;
        assert_eq!(
            unsafe { gmmvi_config_parse(text.as_ptr(), &mut c, &mut off, core::ptr::null_mut(), 0) },
            GMMVI_OK,
            "{text:?}"
        );
        assert_eq!(&c.codeword[..7], want.as_bytes().iter().map(|&b| b as _).collect::<Vec<_>>(), "{text:?}");
        assert_eq!(init(&mut s, &c, 1), GMMVI_OK, "{text:?}");
    }
    // The settings must still arrive at the config's codeword.
    let mut c = gmmvi_config_default();
    c.overrides = c"SEPTRON weight_updater_type=direct".as_ptr();
    assert_eq!(init(&mut s, &c, 1), GMMVI_BAD_CONFIG);
}

/// Regression (fuzz/ abi_sequence): on `GMMVI_BAD_CONFIG` for a text that is too long or not
/// UTF-8, `gmmvi_config_parse` wrote no error offset.
#[test]
fn ffi_fuzz_regression_parse_reports_the_offset_of_long_or_non_utf8_text() {
    let mut c = gmmvi_config_default();
    let mut off = usize::MAX;
    let not_utf8 = [b'S', b'A', b' ', 0xc3, 0x28, 0];
    assert_eq!(
        unsafe { gmmvi_config_parse(not_utf8.as_ptr().cast(), &mut c, &mut off, core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    assert_eq!(off, 3);
    let long = std::ffi::CString::new("add=3 ".repeat(1000)).unwrap();
    off = usize::MAX;
    assert_eq!(
        unsafe { gmmvi_config_parse(long.as_ptr(), &mut c, &mut off, core::ptr::null_mut(), 0) },
        GMMVI_BAD_CONFIG
    );
    assert_eq!(off, 4096);
}

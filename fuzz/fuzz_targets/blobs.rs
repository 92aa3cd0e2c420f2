//! Checkpoint and model bytes: a state fitted for a few steps is saved and exported, the bytes
//! are edited by the fuzzer (values, counts, flags, truncation; checksums forged so that the
//! contents are judged) or replaced by raw fuzz bytes, and given to `gmmvi_restore` /
//! `gmmvi_import_model`. A refusal must keep the model; an accepted blob must give a valid
//! state that keeps fitting.
#![no_main]
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;

use std::ffi::c_void;
use std::ptr::null_mut;

use arbitrary::Arbitrary;
use common::*;
use gmmvi_abi::gmmvi_status::*;
use gmmvi_abi::*;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    codeword: Codeword,
    seed: u64,
    /// Steps before saving (0..=2).
    steps: u8,
    script: Vec<u8>,
    import: bool,
    raw: Option<Vec<u8>>,
    edits: Vec<Edit>,
    truncate: Option<u16>,
    fix_checksums: bool,
    /// Step once more after a successful restore / import.
    step_after: bool,
}

fn step(s: *mut gmmvi_state, script: &[u8]) {
    let mut ctx = Script::new(script, s);
    let st = unsafe { gmmvi_step(s, Some(callback), (&raw mut ctx).cast::<c_void>(), null_mut()) };
    check_status(st, &[GMMVI_OK, GMMVI_TARGET_FAILED, GMMVI_NON_FINITE_TARGET, GMMVI_NUMERICAL], "gmmvi_step");
    check_state(s, true);
}

fuzz_target!(|input: Input| {
    let mut cfg = gmmvi_config_default();
    let cw = std::ffi::CString::new(input.codeword.bytes()).expect("no NUL");
    if unsafe { gmmvi_config_from_codeword(cw.as_ptr(), &mut cfg) } != GMMVI_OK {
        cfg = gmmvi_config_default();
    }
    cfg.initial_components = 2;
    let buf = StateBuf::new(0);
    let s = buf.aligned();
    // `G` codewords need their exponent in `overrides` (no default): fall back to SAMTRUX.
    if unsafe { gmmvi_init(s, GMMVI_STATE_SIZE, &cfg, input.seed) } != GMMVI_OK {
        cfg = gmmvi_config_default();
        cfg.initial_components = 2;
        assert_eq!(unsafe { gmmvi_init(s, GMMVI_STATE_SIZE, &cfg, input.seed) }, GMMVI_OK);
    }
    for _ in 0..input.steps % 3 {
        step(s, &input.script);
    }
    let mut bytes = match &input.raw {
        Some(r) => r.clone(),
        None => {
            let mut n = 0usize;
            let mut b = vec![0u8; 1 << 16];
            let st = unsafe {
                if input.import {
                    gmmvi_export_model(s, b.as_mut_ptr(), b.len(), &mut n)
                } else {
                    gmmvi_save(s, b.as_mut_ptr(), b.len(), &mut n)
                }
            };
            assert_eq!(st, GMMVI_OK);
            b.truncate(n);
            b
        }
    };
    let pristine = input.raw.is_none() && input.edits.is_empty() && input.truncate.is_none();
    apply_edits(&mut bytes, &input.edits);
    if let Some(t) = input.truncate {
        bytes.truncate(usize::from(t));
    }
    if input.fix_checksums {
        fix_checksums(&mut bytes);
    }
    let mut before = gmmvi_report::default();
    assert_eq!(unsafe { gmmvi_stats(s, &mut before) }, GMMVI_OK);
    let st = unsafe {
        if input.import {
            gmmvi_import_model(s, bytes.as_ptr(), bytes.len())
        } else {
            gmmvi_restore(s, bytes.as_ptr(), bytes.len())
        }
    };
    check_status(st, &[GMMVI_OK, GMMVI_BAD_CHECKPOINT, GMMVI_NULL_POINTER], "restore / import");
    if pristine {
        assert_eq!(st, GMMVI_OK, "the state's own bytes are refused");
    }
    check_state(s, true);
    if st != GMMVI_OK {
        let mut after = gmmvi_report::default();
        assert_eq!(unsafe { gmmvi_stats(s, &mut after) }, GMMVI_OK);
        assert_eq!(before.iterations, after.iterations);
        assert_eq!(before.components, after.components);
    } else if input.step_after {
        step(s, &input.script);
    }
});

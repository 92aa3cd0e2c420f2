//! The text form and codewords from raw bytes: `gmmvi_config_parse` (with every
//! `error_offset` pointer kind), `gmmvi_config_from_codeword`, and the same text as the
//! `overrides` of a config; every config accepted is initialised, checked and stepped once.
#![no_main]
#![allow(clippy::undocumented_unsafe_blocks)]

mod common;

use std::ffi::CString;
use std::ptr::null_mut;

use common::*;
use gmmvi_abi::gmmvi_status::*;
use gmmvi_abi::*;
use libfuzzer_sys::fuzz_target;

/// Initialises a state with `cfg`, checks it and runs one step with a benign callback.
fn init_and_step(cfg: &gmmvi_config, seed: u64) {
    let buf = StateBuf::new(0);
    let s = buf.aligned();
    let st = unsafe { gmmvi_init(s, GMMVI_STATE_SIZE, cfg, seed) };
    check_status(st, &[GMMVI_OK, GMMVI_BAD_CONFIG], "gmmvi_init");
    check_state(s, st == GMMVI_OK);
    // A refused config is explained; an accepted one leaves no message.
    let mut msg = [0x55 as core::ffi::c_char; 256];
    let mut n = usize::MAX;
    assert_eq!(unsafe { gmmvi_last_error(s, msg.as_mut_ptr(), msg.len(), &mut n) }, GMMVI_OK);
    assert!(n < msg.len() && msg[n] == 0 && msg[..n].iter().all(|&c| c != 0));
    assert_eq!(n == 0, st == GMMVI_OK, "gmmvi_last_error after gmmvi_init returned {st:?}");
    if st == GMMVI_OK {
        let mut ctx = Script::new(&[0, 3, 7], s);
        let st = unsafe { gmmvi_step(s, Some(callback), (&raw mut ctx).cast(), null_mut()) };
        check_status(st, &[GMMVI_OK, GMMVI_NUMERICAL, GMMVI_NON_FINITE_TARGET], "gmmvi_step");
        check_state(s, true);
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the pointers and the seed; the rest is the text (up to a NUL).
    let Some((&mode, rest)) = data.split_first() else { return };
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    let text = CString::new(&rest[..end]).expect("no NUL");
    let len = text.as_bytes().len();

    let mut cfg = gmmvi_config_default();
    let mut off = usize::MAX;
    let mut off_store = [usize::MAX; 2];
    let off_p: *mut usize = match mode % 4 {
        0 => &mut off,
        1 => null_mut(),
        // Misaligned: must be refused before anything is parsed.
        2 => unsafe { off_store.as_mut_ptr().cast::<u8>().add(1).cast() },
        _ => &mut off,
    };
    // The message buffer: full size, tiny (truncation) or none.
    let mut msg = [0x55 as core::ffi::c_char; 256];
    let cap = [256, 1, 7, 0][usize::from(mode >> 2) % 4];
    let st = unsafe { gmmvi_config_parse(text.as_ptr(), &mut cfg, off_p, msg.as_mut_ptr(), cap) };
    check_status(st, &[GMMVI_OK, GMMVI_BAD_CONFIG, GMMVI_BAD_ALIGNMENT], "gmmvi_config_parse");
    assert_eq!(st == GMMVI_BAD_ALIGNMENT, mode % 4 == 2);
    if st == GMMVI_BAD_CONFIG && !off_p.is_null() {
        assert!(off <= len, "error offset {off} beyond the text ({len})");
    }
    if cap > 0 && st != GMMVI_BAD_ALIGNMENT {
        let n = msg.iter().take(cap).position(|&c| c == 0).expect("message NUL-terminated within cap");
        assert!(msg[cap..].iter().all(|&c| c == 0x55), "message written beyond cap");
        assert_eq!(n == 0, st == GMMVI_OK || cap == 1, "a refused text is explained, an accepted one is not");
    }
    if st == GMMVI_OK {
        assert_eq!(cfg.overrides, text.as_ptr());
        // A config the parser accepts fits the build: gmmvi_init must accept it too.
        let buf = StateBuf::new(0);
        let st = unsafe { gmmvi_init(buf.aligned(), GMMVI_STATE_SIZE, &cfg, u64::from(mode)) };
        assert_eq!(st, GMMVI_OK, "gmmvi_config_parse accepted a config gmmvi_init refuses");
        drop(buf);
        init_and_step(&cfg, u64::from(mode));
    }

    let mut c2 = gmmvi_config_default();
    let st = unsafe { gmmvi_config_from_codeword(text.as_ptr(), &mut c2) };
    check_status(st, &[GMMVI_OK, GMMVI_BAD_CONFIG], "gmmvi_config_from_codeword");
    if st == GMMVI_OK {
        assert_eq!(len, 7, "codewords have 7 letters");
        init_and_step(&c2, 1);
    }

    // The same text as overrides of the default config.
    let mut c3 = gmmvi_config_default();
    c3.overrides = text.as_ptr();
    if mode & 4 != 0 {
        c3.initial_components = u32::from(mode >> 4);
    }
    init_and_step(&c3, u64::from(mode));
});

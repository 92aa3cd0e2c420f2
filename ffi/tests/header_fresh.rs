//! The checked-in `include/gmmvi.h` (at the repository's top level) is what `build.rs`
//! generates from the current `src/` (for the default sizes, the ones the checked-in header
//! states).
use gmmvi_abi::*;

#[test]
fn header_in_include_is_fresh() {
    let sizes = (GMMVI_DIM, GMMVI_MAX_COMPONENTS, GMMVI_SAMPLES_PER_COMPONENT, GMMVI_STORE_CAPACITY);
    let more = (GMMVI_STORED_GAUSSIANS, GMMVI_HISTORY, GMMVI_REAL_BITS);
    if sizes != (7, 8, 20, 320) || more != (24, 16, 32) {
        eprintln!("skipped: built with non-default GMMVI_* sizes; the checked-in header states the defaults");
        return;
    }
    let fresh = include_str!(concat!(env!("OUT_DIR"), "/gmmvi.h"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/gmmvi.h");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != fresh {
        let line = committed.lines().zip(fresh.lines()).position(|(a, b)| a != b);
        panic!(
            "include/gmmvi.h is stale (first difference at line {}): regenerate it with\n  \
             GMMVI_HEADER_OUT=$PWD/include/gmmvi.h cargo build -p gmmvi-ffi",
            line.map_or(committed.lines().count().min(fresh.lines().count()), |l| l) + 1
        );
    }
}

#[test]
fn header_states_the_sizes_and_every_entry_point() {
    let h = include_str!(concat!(env!("OUT_DIR"), "/gmmvi.h"));
    for (name, v) in [
        ("GMMVI_DIM", GMMVI_DIM),
        ("GMMVI_MAX_COMPONENTS", GMMVI_MAX_COMPONENTS),
        ("GMMVI_STATE_SIZE", GMMVI_STATE_SIZE),
        ("GMMVI_STATE_ALIGN", GMMVI_STATE_ALIGN),
    ] {
        assert!(h.contains(&format!("#define {name} {v}\n")), "{name}");
    }
    for f in [
        "gmmvi_status_str",
        "gmmvi_config_default",
        "gmmvi_config_from_codeword",
        "gmmvi_config_parse",
        "gmmvi_init",
        "gmmvi_step",
        "gmmvi_run",
        "gmmvi_sample",
        "gmmvi_log_density",
        "gmmvi_stats",
        "gmmvi_get_component",
        "gmmvi_version",
        "gmmvi_abi_fingerprint",
        "gmmvi_last_error",
        "gmmvi_init_abi",
        "gmmvi_config_default_abi",
        "gmmvi_config_from_codeword_abi",
        "gmmvi_config_parse_abi",
        "gmmvi_set_bounds",
        "gmmvi_get_bounds",
        "gmmvi_retarget",
    ] {
        assert!(h.contains(&format!("{f}(")), "{f}");
    }
    // The size-dependent entry points are macros passing this build's fingerprint.
    assert!(h.contains(&format!("#define GMMVI_ABI_FINGERPRINT {GMMVI_ABI_FINGERPRINT}\n")));
    for m in ["gmmvi_init(s, s_size, cfg, seed)", "gmmvi_config_default(out)", "gmmvi_config_parse(text, out"] {
        assert!(h.contains(&format!("#define {m}")), "{m}");
    }
    // Doc comments are carried over.
    assert!(h.contains("The unnormalised log-density"));
}

//! Build script. It fixes the one optimiser type the C ABI exposes (C cannot instantiate const
//! generics) from environment variables, the way embedded C libraries take a config header,
//! writes those sizes as Rust constants for `src/`, and generates the C header `gmmvi.h` with
//! cbindgen.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `GMMVI_DIM` | 7 | dimension `D` (a 7-joint arm) |
//! | `GMMVI_MAX_COMPONENTS` | 8 | component capacity `K` |
//! | `GMMVI_SAMPLES_PER_COMPONENT` | 20 | new samples per component and iteration (`n_des` of the C default config) |
//! | `GMMVI_STORE_CAPACITY` | 320 | sample-store rows `S` (≥ `n_des·K`) |
//! | `GMMVI_STORED_GAUSSIANS` | `3·K` | stored Gaussians `G` (≥ `K`) |
//! | `GMMVI_HISTORY` | 16 | reward-history columns `H` (≥ 2; the default config's `del_iters` is the largest with `2⌊d/3⌋ + d ≤ H`) |
//! | `GMMVI_SCALAR` | `f32` | `f32` or `f64` (`gmmvi_real` in C) |
//! | `GMMVI_BG_CACHE` | 1 | 1: keep the background sums between iterations (`24·S` bytes, faster with reuse); 0: sum afresh (less memory, same results) |
//!
//! The header goes to `$OUT_DIR/gmmvi.h`, and also to `$GMMVI_HEADER_OUT` when that is set (an
//! absolute path; `include/gmmvi.h` is the checked-in copy for the default sizes on a 64-bit
//! target: `GMMVI_STATE_SIZE` is a bound for the target being built, smaller with 32-bit
//! pointers).

use std::env;
use std::fmt::Write as _;
use std::path::PathBuf;

/// The variables read (defaults in the table above).
const VARS: [&str; 8] = [
    "GMMVI_DIM",
    "GMMVI_MAX_COMPONENTS",
    "GMMVI_SAMPLES_PER_COMPONENT",
    "GMMVI_STORE_CAPACITY",
    "GMMVI_STORED_GAUSSIANS",
    "GMMVI_HISTORY",
    "GMMVI_SCALAR",
    "GMMVI_BG_CACHE",
];

/// Alignment the C side must give the state: enough for every field on every target.
const STATE_ALIGN: usize = 8;

/// Revision of the C layout (structs, enums, signatures) within one crate version: raise it
/// with every change to `src/` that a C caller compiled against an older header would
/// misread, so that the fingerprint changes with it.
const ABI_REVISION: u32 = 1;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for name in VARS {
        println!("cargo:rerun-if-env-changed={name}");
    }
    println!("cargo:rerun-if-env-changed=GMMVI_HEADER_OUT");
    println!("cargo:rerun-if-changed=src");
    let sizes = match Sizes::from_env() {
        Ok(s) => s,
        Err(msg) => {
            // A clear message and a failed build instead of a const-evaluation error later.
            eprintln!("error: {msg}");
            println!("cargo:warning={msg}");
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let consts = out.join("ffi_sizes.rs");
    std::fs::write(&consts, sizes.rust_consts()).expect("write ffi_sizes.rs");
    header::generate(&consts, &out.join("gmmvi.h"));
}

/// The validated build-time sizes.
struct Sizes {
    d: usize,
    k: usize,
    n_des: usize,
    s: usize,
    g: usize,
    h: usize,
    f64: bool,
    /// The optimiser keeps the background sums (`BG_CACHE = S`; else 0).
    bg_cache: bool,
    /// The cargo feature `text`: the text form of the configuration and formatted messages.
    text: bool,
    /// The target has 64-bit pointers (`usize`); else 32 or fewer.
    ptr64: bool,
    /// The cargo feature `decimal-text`: decimal numbers in the text form and in messages.
    decimal_text: bool,
}

impl Sizes {
    fn from_env() -> Result<Self, String> {
        let int = |name: &str, default: usize| -> Result<usize, String> {
            match env::var(name) {
                Err(_) => Ok(default),
                Ok(v) => v.trim().parse::<usize>().map_err(|_| format!("{name}={v:?} is not a non-negative integer")),
            }
        };
        let d = int("GMMVI_DIM", 7)?;
        let k = int("GMMVI_MAX_COMPONENTS", 8)?;
        let n_des = int("GMMVI_SAMPLES_PER_COMPONENT", 20)?;
        let s = int("GMMVI_STORE_CAPACITY", 320)?;
        let g = int("GMMVI_STORED_GAUSSIANS", 3 * k)?;
        let h = int("GMMVI_HISTORY", 16)?;
        let bg_cache = match int("GMMVI_BG_CACHE", 1)? {
            0 => false,
            1 => true,
            v => return Err(format!("GMMVI_BG_CACHE={v} must be 0 or 1")),
        };
        let f64 = match env::var("GMMVI_SCALAR").as_deref().map(str::trim) {
            Err(_) | Ok("f32") => false,
            Ok("f64") => true,
            Ok(v) => return Err(format!("GMMVI_SCALAR={v:?} must be f32 or f64")),
        };
        // Bounds that keep every size product far from overflow and the state addressable.
        let check = |ok: bool, msg: &str| if ok { Ok(()) } else { Err(msg.to_string()) };
        check((1..=64).contains(&d), "GMMVI_DIM must be in 1..=64")?;
        check((1..=1 << 16).contains(&k), "GMMVI_MAX_COMPONENTS must be in 1..=65536")?;
        check(n_des >= 1, "GMMVI_SAMPLES_PER_COMPONENT must be at least 1")?;
        check(s <= 1 << 24, "GMMVI_STORE_CAPACITY must be at most 16777216")?;
        check(
            n_des.checked_mul(k).is_some_and(|n| n <= s),
            "GMMVI_STORE_CAPACITY must be at least GMMVI_SAMPLES_PER_COMPONENT * GMMVI_MAX_COMPONENTS",
        )?;
        check((k..=1 << 20).contains(&g), "GMMVI_STORED_GAUSSIANS must be in GMMVI_MAX_COMPONENTS..=1048576")?;
        check((2..=1 << 12).contains(&h), "GMMVI_HISTORY must be in 2..=4096")?;
        let text = env::var_os("CARGO_FEATURE_TEXT").is_some();
        let decimal_text = env::var_os("CARGO_FEATURE_DECIMAL_TEXT").is_some();
        // The target's, not the build machine's (cargo sets it for build scripts); the larger
        // bound if it is missing.
        let ptr64 = !matches!(env::var("CARGO_CFG_TARGET_POINTER_WIDTH").as_deref(), Ok("32" | "16"));
        Ok(Self { d, k, n_des, s, g, h, f64, bg_cache, text, ptr64, decimal_text })
    }

    /// Upper bound of the ABI state's `size_of` on the target being built: the crate's memory
    /// formula (`gmmvi::state_size_formula`, checked against `size_of` by a test), the prior's
    /// and the bounds' vectors (`4·D` scalars), and the rest — the configuration, counters and
    /// generators of the optimiser and the ABI's own fields with the 200 bytes of message text
    /// (none without the feature `text`) — which is smaller with 32-bit pointers; rounded up
    /// to the alignment. `src/` asserts at compile time that the state fits, and a test that
    /// the bound is tight.
    fn state_size(&self) -> usize {
        let (t, d, k, s, g, h) = (if self.f64 { 8 } else { 4 }, self.d, self.k, self.s, self.g, self.h);
        // The formula counts 24 bytes a row for the kept background sums.
        let sums = if self.bg_cache { 0 } else { 24 * s };
        let formula = s * ((3 * d + 3) * t + 32) - sums
            + g * ((2 * d * d + 6 * d + 7) * t + 40)
            + k * ((3 * d * d + 4 * d + 2 * h + 33) * t + 8);
        let rest = if self.ptr64 { 1024 } else { 704 + 32 * t } - if self.text { 0 } else { 200 };
        (formula + 4 * d * t + rest).div_ceil(STATE_ALIGN) * STATE_ALIGN
    }

    /// Upper bound of `size_of::<Gmm<gmmvi_real, D, K>>()` on any target: per component a log
    /// weight, a mean, a factor and the cached inverse factor, mean, diagonal and constants,
    /// with room for padding; `src/model.rs` asserts at compile time that it holds.
    fn gmm_size(&self) -> usize {
        let (t, d, k) = (if self.f64 { 8 } else { 4 }, self.d, self.k);
        k * ((2 * d * d + 3 * d + 4) * t + 16) + 64
    }

    /// Bytes of a `gmmvi_model`: a marker and a mixture, rounded up to 64.
    fn model_size(&self) -> usize {
        (self.gmm_size() + 64).div_ceil(64) * 64
    }

    /// Bytes of a `gmmvi_submodel`: a marker, the coordinates and a mixture, rounded up to 64.
    fn submodel_size(&self) -> usize {
        (self.gmm_size() + 8 * self.d + 128).div_ceil(64) * 64
    }

    fn rust_consts(&self) -> String {
        let size = self.state_size();
        let (scalar, bits) = if self.f64 { ("f64", 64) } else { ("f32", 32) };
        let mut o = String::from("// Generated by build.rs from the GMMVI_* environment variables.\n");
        let mut c = |doc: &str, name: &str, v: usize| {
            let _ = writeln!(o, "/// {doc}\npub const {name}: usize = {v};");
        };
        c("Dimension `D` of the target's domain (`GMMVI_DIM`).", "GMMVI_DIM", self.d);
        c("Most mixture components `K` (`GMMVI_MAX_COMPONENTS`).", "GMMVI_MAX_COMPONENTS", self.k);
        c(
            "New samples per component and iteration of the default config (`GMMVI_SAMPLES_PER_COMPONENT`).",
            "GMMVI_SAMPLES_PER_COMPONENT",
            self.n_des,
        );
        c("Rows `S` of the sample store (`GMMVI_STORE_CAPACITY`).", "GMMVI_STORE_CAPACITY", self.s);
        c("Stored Gaussians `G` of the sample store (`GMMVI_STORED_GAUSSIANS`).", "GMMVI_STORED_GAUSSIANS", self.g);
        c("Reward-history columns `H` (`GMMVI_HISTORY`).", "GMMVI_HISTORY", self.h);
        c(
            "Rows of the kept background sums: `GMMVI_STORE_CAPACITY`, or 0 with `GMMVI_BG_CACHE=0`.",
            "GMMVI_BG_CACHE_ROWS",
            if self.bg_cache { self.s } else { 0 },
        );
        c("Bits of `gmmvi_real` (`GMMVI_SCALAR`: 32 for `f32`, 64 for `f64`).", "GMMVI_REAL_BITS", bits);
        c(
            "Bytes of a `gmmvi_state`, static storage for one optimiser (a bound for the target this header was generated for).",
            "GMMVI_STATE_SIZE",
            size,
        );
        c("Alignment that suffices for a `gmmvi_state` on every target.", "GMMVI_STATE_ALIGN", STATE_ALIGN);
        c("`GMMVI_STATE_SIZE / 8`: the 64-bit words of `gmmvi_state`.", "GMMVI_STATE_WORDS", size / 8);
        let (model, sub) = (self.model_size(), self.submodel_size());
        c("Bytes of a `gmmvi_model` (a bound that holds on every target; aligned to 8).", "GMMVI_MODEL_SIZE", model);
        c("`GMMVI_MODEL_SIZE / 8`: the 64-bit words of `gmmvi_model`.", "GMMVI_MODEL_WORDS", model / 8);
        c(
            "Bytes of a `gmmvi_submodel` (a bound that holds on every target; aligned to 8).",
            "GMMVI_SUBMODEL_SIZE",
            sub,
        );
        c("`GMMVI_SUBMODEL_SIZE / 8`: the 64-bit words of `gmmvi_submodel`.", "GMMVI_SUBMODEL_WORDS", sub / 8);
        let _ = writeln!(
            o,
            "/// 1 if the library has the text form of the configuration (`overrides`,\n\
             /// `gmmvi_config_parse`) and messages that name the field or key and its value\n\
             /// (`gmmvi_last_error`); 0 in a build without the cargo feature `text` (for\n\
             /// microcontrollers: no text parser or formatting linked), where `overrides` must be\n\
             /// NULL, `gmmvi_config_parse` returns `GMMVI_BAD_CONFIG` and `gmmvi_last_error` gives\n\
             /// the text of the failure's status (as `gmmvi_status_str`).\n\
             pub const GMMVI_HAS_TEXT: u32 = {};",
            u32::from(self.text)
        );
        let _ = writeln!(
            o,
            "/// 1 if the text form of the configuration (`overrides`, `gmmvi_config_parse`) reads\n\
             /// decimal fractions and exponents (`beta=0.5`, `1e-5`) and `gmmvi_last_error` quotes real\n\
             /// values; 0 in a build without the cargo feature `decimal-text` (for microcontrollers: no\n\
             /// float parsing or formatting linked), whose text form reads integers only (another\n\
             /// number gives `GMMVI_BAD_CONFIG`) and whose messages name the field or coordinate\n\
             /// without its value.\n\
             pub const GMMVI_HAS_DECIMAL_TEXT: u32 = {};",
            u32::from(self.decimal_text)
        );
        let ver = |name: &str| env::var(name).ok().and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        let (major, minor, patch) =
            (ver("CARGO_PKG_VERSION_MAJOR"), ver("CARGO_PKG_VERSION_MINOR"), ver("CARGO_PKG_VERSION_PATCH"));
        let mut v = |doc: &str, name: &str, value: u32| {
            let _ = writeln!(o, "/// {doc}\npub const {name}: u32 = {value};");
        };
        v("Major version of the library this header belongs to.", "GMMVI_VERSION_MAJOR", major);
        v("Minor version of the library this header belongs to.", "GMMVI_VERSION_MINOR", minor);
        v("Patch version of the library this header belongs to.", "GMMVI_VERSION_PATCH", patch);
        let _ = writeln!(
            o,
            "/// Fingerprint of the build this header was generated for: its version, ABI revision,\n\
             /// scalar and every size. `gmmvi_init` and the `gmmvi_config_*` macros pass it to the\n\
             /// library, which refuses a header of another build with `GMMVI_ABI_MISMATCH`.\n\
             pub const GMMVI_ABI_FINGERPRINT: u64 = {:#018x};",
            self.fingerprint(major, minor, patch)
        );
        let _ = writeln!(
            o,
            "/// The scalar of every point, density and parameter (`GMMVI_SCALAR`).\npub type gmmvi_real = {scalar};"
        );
        o
    }

    /// FNV-1a (64 bit) of a description of everything the C layout depends on; the top bit is
    /// cleared so that the constant is a plain C integer literal everywhere.
    fn fingerprint(&self, major: u32, minor: u32, patch: u32) -> u64 {
        let text = format!(
            "gmmvi {major}.{minor}.{patch} abi {ABI_REVISION} {} D={} K={} N={} S={} G={} H={} bg={} size={} align={STATE_ALIGN}{}",
            if self.f64 { "f64" } else { "f32" },
            self.d,
            self.k,
            self.n_des,
            self.s,
            self.g,
            self.h,
            u8::from(self.bg_cache),
            self.state_size(),
            // A header of the other kind would promise or deny the text form or its decimals wrongly.
            match (self.text, self.decimal_text) {
                (_, true) => "",
                (true, false) => " integer-text",
                (false, false) => " no-text",
            },
        );
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h & (u64::MAX >> 1)
    }
}

mod header {
    use std::path::Path;

    const PREAMBLE: &str = "\
/*
 * gmmvi: Gaussian-mixture variational inference, C API.
 * Generated by cbindgen from ffi/src/ (ffi/build.rs): do not edit.
 *
 * The library is built for one size, fixed at build time (GMMVI_DIM, GMMVI_MAX_COMPONENTS, ...
 * below; see ffi/build.rs). It never allocates: the whole optimiser lives in a gmmvi_state that
 * the caller provides, e.g. `static gmmvi_state state;`.
 *
 *   gmmvi_config cfg;
 *   gmmvi_config_default(&cfg);                      // SAMTRUX fitted to the build's sizes
 *   gmmvi_init(&state, sizeof state, &cfg, seed);    // GMMVI_BAD_CONFIG: see gmmvi_last_error
 *   gmmvi_run(&state, my_log_density, my_ctx, 200, 0, NULL);
 *   gmmvi_sample(&state, xs, n);                     // n x GMMVI_DIM, row-major
 *
 * Every function returns a gmmvi_status (GMMVI_OK = 0) and checks its pointers, sizes and
 * alignment first. A state is not thread-safe: use one from one thread at a time.
 *
 * Versions: the header states the version and a fingerprint of the build it was generated for
 * (GMMVI_VERSION_*, GMMVI_ABI_FINGERPRINT); gmmvi_init and the gmmvi_config_* functions are
 * macros that pass the fingerprint, and the library answers GMMVI_ABI_MISMATCH to a header of
 * another build instead of misreading memory.
 */";

    /// The macros through which C calls the entry points that depend on the build's sizes.
    const MACROS: &str = "
/*
 * The entry points whose memory layout depends on the build's sizes, called with the
 * fingerprint of this header (GMMVI_ABI_MISMATCH if the library is of another build).
 */
#define gmmvi_init(s, s_size, cfg, seed) \\
  gmmvi_init_abi((s), (s_size), (cfg), (seed), GMMVI_ABI_FINGERPRINT)
#define gmmvi_config_default(out) gmmvi_config_default_abi((out), GMMVI_ABI_FINGERPRINT)
#define gmmvi_config_from_codeword(codeword, out) \\
  gmmvi_config_from_codeword_abi((codeword), (out), GMMVI_ABI_FINGERPRINT)
#define gmmvi_config_parse(text, out, error_offset, message, message_cap) \\
  gmmvi_config_parse_abi((text), (out), (error_offset), (message), (message_cap), GMMVI_ABI_FINGERPRINT)";

    pub fn generate(consts: &Path, out: &Path) {
        let mut cfg = cbindgen::Config {
            language: cbindgen::Language::C,
            header: Some(PREAMBLE.into()),
            after_includes: Some(MACROS.into()),
            include_guard: Some("GMMVI_H".into()),
            cpp_compat: true,
            no_includes: true,
            sys_includes: vec!["stddef.h".into(), "stdint.h".into()],
            style: cbindgen::Style::Both,
            usize_is_size_t: true,
            documentation: true,
            documentation_style: cbindgen::DocumentationStyle::Doxy,
            ..Default::default()
        };
        // Constants first (the sizes), then types and functions in source order.
        cfg.sort_by = cbindgen::SortKey::None;
        let bindings = cbindgen::Builder::new()
            .with_config(cfg)
            .with_src(consts)
            .with_src("src/lib.rs")
            .generate()
            .unwrap_or_else(|e| panic!("cbindgen: {e}"));
        bindings.write_to_file(out);
        if let Some(extra) = std::env::var_os("GMMVI_HEADER_OUT") {
            bindings.write_to_file(extra);
        }
    }
}

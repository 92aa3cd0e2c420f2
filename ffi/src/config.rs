//! `gmmvi_config` ↔ [`Config`]: the defaults fitted to the build's sizes, the text form, and
//! the initial model. Safe code: the entry points read the C memory and pass plain values here.
// Errors carry their message in a fixed buffer (no heap to box it in); they are cold.
#![allow(clippy::result_large_err)]

use core::ffi::c_char;

use nalgebra::SVector;

#[cfg(feature = "text")]
use super::detail::Msg;
use super::detail::{self, Fail};
use super::gmmvi_status::{self, *};
use super::{
    GMMVI_DIM, GMMVI_HISTORY, GMMVI_MAX_COMPONENTS, GMMVI_SAMPLES_PER_COMPONENT, GMMVI_STORE_CAPACITY, gmmvi_config,
    gmmvi_real,
};
#[cfg(feature = "text")]
use core_gmmvi::config::ParseError;
use core_gmmvi::config::{Config, SampleSelector};
use core_gmmvi::error::Error;
use core_gmmvi::model::Gmm;
use core_gmmvi::real::Real;
use core_gmmvi::rng::Xoshiro256;

/// Longest `overrides` / `gmmvi_config_parse` text read, in bytes (without the NUL).
#[cfg_attr(not(feature = "text"), allow(dead_code))]
pub(super) const MAX_TEXT: usize = 4096;

/// Seed offset of the initial model's means (the optimiser's own streams use the seed as is).
const INIT_STREAM: u64 = 0xD1B5_4A32_D192_ED03;

type Cfg = Config<gmmvi_real>;

/// The defaults of `codeword` fitted to the build's sizes (see `gmmvi_config_default`).
fn fitted(codeword: &str) -> Result<Cfg, gmmvi_status> {
    Cfg::from_codeword(codeword).map(fit).map_err(|_| GMMVI_BAD_CONFIG)
}

/// `c` with the sizes of the build: `n_des`, the reuse ratio, `del_iters`, `max_components`.
fn fit(mut c: Cfg) -> Cfg {
    let (k, s, n) = (GMMVI_MAX_COMPONENTS, GMMVI_STORE_CAPACITY, GMMVI_SAMPLES_PER_COMPONENT);
    // build.rs guarantees n·k ≤ s.
    let n_des = match c.samples.selector {
        SampleSelector::ComponentBased => n,
        SampleSelector::MixtureBased => n * k,
    };
    c.samples.desired_samples_per_component = n_des;
    // Keep the whole reuse window in the store: reuse rows + new rows ≤ S.
    let room = (s - n * k) / k;
    let reuse = c.reuse_rows(1).min(room);
    // Integers up to 2^24 (build.rs) are exact in either scalar, and one rounded division gives
    // the bits of the f64 quotient rounded to f32: no software f64 on an f32 build.
    c.samples.reuse_ratio = reuse as gmmvi_real / n_des as gmmvi_real;
    let mut del = c.adapt.del_iters;
    while del > 1 && 2 * (del / 3) + del > GMMVI_HISTORY {
        del -= 1;
    }
    c.adapt.del_iters = del;
    c.adapt.max_components = k;
    c
}

/// The C struct holding `c`'s fields, with the default initial model. Counts above `u32::MAX`
/// saturate (`parse` rejects them first).
#[allow(clippy::unnecessary_cast)] // c_char is i8 on x86 and u8 on ARM
fn fields_of(c: &Cfg) -> gmmvi_config {
    let u = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let mut codeword = [0 as c_char; 8];
    for (dst, b) in codeword.iter_mut().zip(c.codeword().as_bytes()) {
        *dst = *b as c_char;
    }
    gmmvi_config {
        codeword,
        overrides: core::ptr::null(),
        temperature: c.temperature.to_f64(),
        component_step: c.component_step.initial.to_f64(),
        weight_step: c.weight_step.initial.to_f64(),
        reuse_ratio: c.samples.reuse_ratio.to_f64(),
        samples_per_component: u(c.samples.desired_samples_per_component),
        max_components: u(c.adapt.max_components),
        add_iters: u(c.adapt.add_iters),
        del_iters: u(c.adapt.del_iters),
        initial_components: 1,
        num_prior_samples: u(c.adapt.num_prior_samples),
        prior_mean: [0.0; GMMVI_DIM],
        prior_std: [1.0; GMMVI_DIM],
        initial_std: [1.0; GMMVI_DIM],
    }
}

pub(super) fn default_config() -> gmmvi_config {
    fields_of(&fit(Cfg::samtrux()))
}

pub(super) fn from_codeword(codeword: &str) -> Result<gmmvi_config, gmmvi_status> {
    fitted(codeword).map(|c| fields_of(&c))
}

/// Tokens of the text form: separated by whitespace or commas.
#[cfg(feature = "text")]
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty())
}

/// Applies the `key=value` tokens of `text` to `c`. A leading codeword (bare or
/// `codeword=...`) must equal `c`'s: changing it would reset the other fields.
#[cfg(feature = "text")]
fn apply_text<'a>(c: &mut Cfg, text: &'a str) -> Result<(), ParseError<'a>> {
    for (i, token) in tokens(text).enumerate() {
        let (key, value) = match token.split_once('=') {
            Some(kv) => kv,
            None if i == 0 => ("codeword", token),
            None => return Err(ParseError::NoEquals { token }),
        };
        if key == "codeword" {
            if i > 0 || value != c.codeword().as_str() {
                let reason = "the codeword must come first and equal gmmvi_config.codeword";
                return Err(ParseError::BadValue { key, value, field: "codeword", reason });
            }
            continue;
        }
        c.set(key, value)?;
    }
    Ok(())
}

/// The codeword a text starts with (bare or as `codeword=...`), if any.
#[cfg(feature = "text")]
fn leading_codeword(text: &str) -> Option<&str> {
    let first = tokens(text).next()?;
    match first.split_once('=') {
        None => Some(first),
        Some(("codeword", value)) => Some(value),
        Some(_) => None,
    }
}

/// What `Optimizer::new` checks against the build's sizes, checked early for the text form.
#[cfg(test)]
fn fits(c: &Cfg) -> bool {
    detail::check_fits(c).is_ok()
}

/// Byte offset of `part` (a slice of `text`) in `text`; `text.len()` if it is not one.
#[cfg(feature = "text")]
fn offset_in(text: &str, part: &str) -> usize {
    let (t, p) = (text.as_ptr().addr(), part.as_ptr().addr());
    if p >= t && p - t <= text.len() { p - t } else { text.len() }
}

/// `gmmvi_config_parse` without the pointers: the config, or the offset of the culprit and
/// what is wrong with it.
#[cfg(feature = "text")]
pub(super) fn parse(text: &str) -> Result<gmmvi_config, (usize, Msg)> {
    let first = tokens(text).next();
    let codeword = match first {
        Some(t) if !t.contains('=') => t,
        Some(t) => t.strip_prefix("codeword=").unwrap_or("SAMTRUX"),
        None => "SAMTRUX",
    };
    let mut c = fitted(codeword).map_err(|_| {
        let at = first.map_or(0, |t| offset_in(text, t));
        (at, Msg::of(format_args!("\"{codeword}\": {}", codeword_problem(codeword))))
    })?;
    apply_text(&mut c, text).map_err(|e| (offset_in(text, e.key()), detail::parse_error(&e)))?;
    let whole = |f: Fail| (text.len(), f.msg);
    c.validate().map_err(|e| whole(Fail::from(e)))?;
    detail::check_fits(&c).map_err(whole)?;
    let counts = [
        ("samples_per_component", c.samples.desired_samples_per_component),
        ("max_components", c.adapt.max_components),
        ("add_iters", c.adapt.add_iters),
        ("del_iters", c.adapt.del_iters),
        ("num_prior_samples", c.adapt.num_prior_samples),
    ];
    if let Some((name, v)) = counts.iter().find(|(_, v)| u32::try_from(*v).is_err()) {
        return Err((text.len(), Msg::of(format_args!("{name} = {v}: above the C field's range (uint32_t)"))));
    }
    Ok(fields_of(&c))
}

/// Why `codeword` is not one (the position and letter it stumbles on).
fn codeword_problem(codeword: &str) -> &'static str {
    match Cfg::from_codeword(codeword) {
        Err(Error::InvalidConfig { field }) => field,
        _ => "must have 7 letters",
    }
}

/// The codeword field as a string: up to the NUL, which must be within the 8 bytes.
#[allow(clippy::unnecessary_cast)] // c_char is i8 on x86 and u8 on ARM
fn codeword_of(c: &gmmvi_config) -> Option<([u8; 8], usize)> {
    let bytes = c.codeword.map(|b| b as u8);
    let n = bytes.iter().position(|&b| b == 0)?;
    Some((bytes, n))
}

/// The optimiser configuration of `c`, with the `overrides` text already read (always `None`
/// without the feature `text`).
pub(super) fn to_config(c: &gmmvi_config, overrides: Option<&str>) -> Result<Cfg, Fail> {
    let (bytes, n) = codeword_of(c).ok_or(Fail::config(format_args!("codeword: not NUL-terminated within 8 bytes")))?;
    let codeword = bytes
        .get(..n)
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or(Fail::config(format_args!("codeword: not ASCII letters")))?;
    // A text of `gmmvi_config_parse` starts with the codeword its settings apply to; its
    // design-choice keys may have turned that into `codeword`. Start from the text's codeword
    // then, and require the settings to arrive at `codeword`.
    #[cfg(feature = "text")]
    let lead = overrides.and_then(leading_codeword).filter(|&l| l != codeword);
    #[cfg(not(feature = "text"))]
    let lead: Option<&str> = overrides.and(None);
    let start = lead.unwrap_or(codeword);
    let mut cfg = Cfg::from_codeword(start)
        .map_err(|_| Fail::config(format_args!("codeword \"{start}\": {}", codeword_problem(start))))?;
    let us = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    cfg.temperature = gmmvi_real::of(c.temperature);
    cfg.component_step.initial = gmmvi_real::of(c.component_step);
    cfg.weight_step.initial = gmmvi_real::of(c.weight_step);
    cfg.samples.reuse_ratio = gmmvi_real::of(c.reuse_ratio);
    cfg.samples.desired_samples_per_component = us(c.samples_per_component);
    cfg.adapt.max_components = us(c.max_components);
    cfg.adapt.add_iters = us(c.add_iters);
    cfg.adapt.del_iters = us(c.del_iters);
    cfg.adapt.num_prior_samples = us(c.num_prior_samples);
    #[cfg(feature = "text")]
    if let Some(text) = overrides {
        apply_text(&mut cfg, text).map_err(|e| {
            let m = detail::parse_error(&e);
            Fail::config(format_args!("overrides: {}", core::str::from_utf8(m.as_bytes()).unwrap_or("?")))
        })?;
    }
    if lead.is_some() && cfg.codeword().as_str() != codeword {
        return Err(Fail::config(format_args!(
            "codeword \"{codeword}\": the overrides start with {start}, and their settings arrive at {}",
            cfg.codeword().as_str()
        )));
    }
    // The validated fields first, then the sizes of the build (`max_components` as the
    // overrides leave it; `del_iters` matters only with adaptive components, and the history
    // need saturates instead of overflowing).
    cfg.validate()?;
    detail::check_fits(&cfg)?;
    Ok(cfg)
}

/// `v` if every entry is finite and, with `positive`, above 0 (and, with `square`, its square
/// too); else the first entry that is not, by the field's `name`.
fn checked(
    name: &str,
    v: &[gmmvi_real; GMMVI_DIM],
    positive: bool,
    square: bool,
) -> Result<SVector<gmmvi_real, GMMVI_DIM>, Fail> {
    let ok = |x: gmmvi_real| x.is_finite() && (!positive || x > 0.0);
    match v.iter().position(|&x| !ok(x) || (square && !ok(x * x))) {
        None => Ok(SVector::from(*v)),
        Some(i) => {
            let need = match (positive, square) {
                (false, _) => "must be finite",
                (true, false) => "must be finite and > 0",
                (true, true) => "must be > 0 with a finite, positive square",
            };
            let value = detail::Value(v.get(i).copied().unwrap_or(0.0));
            Err(Fail::config(format_args!("{name}[{i}]{value}: {need}")))
        }
    }
}

/// The prior's variances `prior_std²` (finite and positive).
pub(super) fn prior_variances(c: &gmmvi_config) -> Result<SVector<gmmvi_real, GMMVI_DIM>, Fail> {
    Ok(checked("prior_std", &c.prior_std, true, true)?.map(|s| s * s))
}

/// The prior's mean (finite).
pub(super) fn prior_mean(c: &gmmvi_config) -> Result<SVector<gmmvi_real, GMMVI_DIM>, Fail> {
    checked("prior_mean", &c.prior_mean, false, false)
}

/// The initial model of the config (see `gmmvi_config`), deterministic in `seed`.
pub(super) fn initial_model(
    c: &gmmvi_config,
    seed: u64,
    model: &mut Gmm<gmmvi_real, GMMVI_DIM, GMMVI_MAX_COMPONENTS>,
) -> Result<(), Fail> {
    let k0 = usize::try_from(c.initial_components).unwrap_or(usize::MAX);
    if !(1..=GMMVI_MAX_COMPONENTS).contains(&k0) {
        return Err(Fail::config(format_args!(
            "initial_components = {k0}: must be in 1..=GMMVI_MAX_COMPONENTS = {GMMVI_MAX_COMPONENTS}"
        )));
    }
    let mean = prior_mean(c)?;
    let std = checked("prior_std", &c.prior_std, true, true)?;
    let var = checked("initial_std", &c.initial_std, true, true)?.map(|s| s * s);
    // The optimiser's xoshiro256++ (the stream of rand_xoshiro's for the same seed).
    let mut rng = Xoshiro256::seed_from_u64(seed ^ INIT_STREAM);
    // In place: a mixture-sized Result would cost a frame of its own (the init stack is tested).
    model.fill_from_prior(k0, &mean, &std, &var, &mut rng).map_err(initial_model_error)
}

#[cold]
#[inline(never)]
fn initial_model_error(e: Error) -> Fail {
    Fail::config(format_args!("initial model (prior_mean, prior_std, initial_std): {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffi_default_config_fits_the_build_and_validates() {
        let c = default_config();
        let cfg = to_config(&c, None).unwrap();
        assert_eq!(cfg.codeword().as_str(), "SAMTRUX");
        assert!(fits(&cfg));
        assert_eq!(cfg.samples.desired_samples_per_component, GMMVI_SAMPLES_PER_COMPONENT);
        // The reuse window and the new rows of K components fill at most the store.
        let rows = cfg.reuse_rows(GMMVI_MAX_COMPONENTS) + GMMVI_SAMPLES_PER_COMPONENT * GMMVI_MAX_COMPONENTS;
        assert!(rows <= GMMVI_STORE_CAPACITY, "{rows}");
        assert!(cfg.history_needed() <= GMMVI_HISTORY);
    }

    #[test]
    fn ffi_every_codeword_gets_fitted_defaults() {
        for cw in ["SAMTRUX", "SAMTRON", "ZAMTRUX", "SEPIFUX", "SEPYFUX", "SEPTRUX", "ZEMIDOX"] {
            let c = from_codeword(cw).unwrap();
            let cfg = to_config(&c, None).unwrap();
            assert_eq!(cfg.codeword().as_str(), cw);
            assert!(fits(&cfg), "{cw}");
        }
        assert_eq!(from_codeword("SAMTRU").err(), Some(GMMVI_BAD_CONFIG));
        assert_eq!(from_codeword("QAMTRUX").err(), Some(GMMVI_BAD_CONFIG));
    }

    #[cfg(feature = "text")]
    #[test]
    fn ffi_text_form_reports_the_offending_token() {
        let c = parse("SAMTRON del_iters=4, add_iters=3").unwrap();
        assert_eq!(c.codeword, b"SAMTRON\0".map(|b| b as c_char));
        assert_eq!((c.del_iters, c.add_iters), (4, 3));
        assert_eq!(parse("SAMTRUX add_iters=3 bogus=1").err().map(|e| e.0), Some(20));
        assert_eq!(parse("SAMTRUX add_iters=x").err().map(|e| e.0), Some(8));
        assert_eq!(parse("XAMTRUX").err().map(|e| e.0), Some(0));
        assert_eq!(parse("  SAMTRUX add_iters=3 SAMTRON").err().map(|e| e.0), Some(22));
        // Values fine one by one, but the history does not fit: the text's length.
        let t = "SAMTRUX del_iters=100";
        assert_eq!(parse(t).err().map(|e| e.0), Some(t.len()));
        // An exponent: too large for the C field, or (integers only) not read.
        let at = if cfg!(feature = "decimal-text") { 22 } else { 8 };
        assert_eq!(parse("SAMTRUX add_iters=1e10").err().map(|e| e.0), Some(at));
        // A later codeword would reset the fields: rejected.
        assert!(parse("SAMTRUX codeword=SAMTRON").is_err());
    }

    #[cfg(all(feature = "text", not(feature = "decimal-text")))]
    #[test]
    fn ffi_without_decimal_text_the_text_form_reads_integers_and_messages_quote_no_reals() {
        let c = parse("SAMTRUX num_prior_samples=50 del_iters=4").unwrap();
        let cfg = to_config(&c, Some("num_prior_samples=50")).unwrap();
        assert_eq!((cfg.adapt.num_prior_samples, cfg.adapt.del_iters), (50, 4));
        let (at, msg) = parse("SAMTRUX num_prior_samples=50 beta=0.5").unwrap_err();
        assert_eq!(at, 29);
        let msg = core::str::from_utf8(msg.as_bytes()).unwrap();
        assert!(msg.starts_with("beta=0.5: ") && msg.contains("`decimal-text`"), "{msg}");
        let c = parse("temperature=2 thresholds_for_add_heuristic=10;5").unwrap();
        assert_eq!(c.temperature, 2.0);
        let e = to_config(&default_config(), Some("temperature=1e-1")).unwrap_err();
        assert_eq!(e.status, GMMVI_BAD_CONFIG);
        let mut c = default_config();
        c.prior_std[2] = -1.0;
        let e = prior_variances(&c).unwrap_err();
        assert_eq!(e.msg.as_bytes(), b"prior_std[2]: must be > 0 with a finite, positive square");
    }
}

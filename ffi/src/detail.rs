//! Messages that name the problem: which `gmmvi_config` field or text key is wrong and what it
//! must satisfy, for `gmmvi_last_error` and `gmmvi_config_parse`. Safe code; fixed-size
//! buffers (no allocation, truncated at a character boundary when too long). Without the
//! feature `text` a message is empty and the status's text stands for it, so that no
//! formatting is linked.
// Errors carry their message in a fixed buffer (no heap to box it in); they are cold.
#![allow(clippy::result_large_err)]

use core::ffi::CStr;
use core::fmt;
#[cfg(feature = "text")]
use core::fmt::Write as _;

use super::gmmvi_status::{self, *};
use super::{GMMVI_HISTORY, GMMVI_MAX_COMPONENTS, GMMVI_STORE_CAPACITY, gmmvi_real};
#[cfg(feature = "text")]
use core_gmmvi::config::ParseError;
use core_gmmvi::config::{Config, SampleSelector};
use core_gmmvi::error::Error;

/// Most bytes of a message, without the NUL (the status texts are shorter).
pub(super) const MSG_MAX: usize = 200;

/// Bytes of a message kept: none without the feature `text`, where the status's text stands
/// for every message.
pub(super) const DETAIL_LEN: usize = if cfg!(feature = "text") { MSG_MAX } else { 0 };

/// A message in a fixed buffer.
#[derive(Clone, Copy)]
pub(super) struct Msg {
    buf: [u8; DETAIL_LEN],
    len: usize,
}

impl Msg {
    pub const EMPTY: Self = Self { buf: [0; DETAIL_LEN], len: 0 };

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// A message from format arguments.
    #[cfg(feature = "text")]
    pub fn of(args: fmt::Arguments<'_>) -> Self {
        let mut m = Self::EMPTY;
        // A full buffer truncates; it is not an error.
        let _ = m.write_fmt(args);
        m
    }

    /// Empty without the feature `text`: inlined, so that the arguments and their formatting
    /// are never built.
    #[cfg(not(feature = "text"))]
    #[inline(always)]
    pub fn of(_: fmt::Arguments<'_>) -> Self {
        Self::EMPTY
    }
}

impl AsRef<[u8]> for Msg {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(core::str::from_utf8(self.as_bytes()).unwrap_or("<not UTF-8>"), f)
    }
}

impl fmt::Write for Msg {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = DETAIL_LEN - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..self.len + n), s.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
            self.len += n;
        }
        Ok(())
    }
}

/// A failed call: its status and the message `gmmvi_last_error` gives for it.
#[derive(Debug)]
pub(super) struct Fail {
    pub status: gmmvi_status,
    pub msg: Msg,
}

impl Fail {
    pub fn config(args: fmt::Arguments<'_>) -> Self {
        Self { status: GMMVI_BAD_CONFIG, msg: Msg::of(args) }
    }
}

impl From<gmmvi_status> for Fail {
    fn from(status: gmmvi_status) -> Self {
        // Recorded as the status's text (see `Detail::bytes`).
        Self { status, msg: Msg::EMPTY }
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidConfig { field } => Self::config(format_args!("{}", Field(field))),
            _ => Self { status: gmmvi_status::from(e), msg: Msg::of(format_args!("{e}")) },
        }
    }
}

/// The text of `gmmvi_status_str` (also of unknown codes).
pub(super) fn status_text(status: u32) -> &'static CStr {
    match status {
        0 => c"ok",
        1 => c"null pointer",
        2 => c"invalid argument",
        #[cfg(feature = "text")]
        3 => c"invalid configuration (gmmvi_last_error names the field)",
        #[cfg(not(feature = "text"))]
        3 => c"invalid configuration (a field is out of range or does not fit the build's sizes)",
        4 => c"the log-density callback failed",
        5 => c"numerical failure (factorisation)",
        6 => c"buffer too small",
        7 => c"pointer not aligned",
        8 => c"the log-density callback returned no finite value",
        9 => c"state not initialised",
        10 => c"state busy (called from its own callback)",
        11 => c"no such component",
        12 => c"bad checkpoint or model bytes (truncated, corrupted, other version or build)",
        13 => c"header and library are of different builds (version or sizes): regenerate the header",
        _ => c"unknown status",
    }
}

/// Where a C caller sets each field that [`Config::validate`] or `Optimizer::new` can name,
/// and what it must satisfy: (field path, `gmmvi_config` field or text key, requirement).
pub(super) const FIELDS: [(&str, &str, &str); 18] = [
    ("temperature", "temperature", "must be finite and > 0"),
    ("samples.desired_samples_per_component", "samples_per_component", "must be at least 1"),
    ("samples.reuse_ratio", "reuse_ratio", "must be finite and >= 0"),
    ("samples.max_database_size", "key max_database_size", "must be at least 1"),
    ("ng.initial_l2_regularizer", "key initial_l2_regularizer", "must be finite and >= 0"),
    ("component_step.initial", "component_step", "must be finite and > 0"),
    (
        "component_step.min/max",
        "keys component_stepsize.min_stepsize, component_stepsize.max_stepsize",
        "must be finite, > 0 and min <= max",
    ),
    (
        "component_step.inc_factor/dec_factor",
        "keys component_stepsize.stepsize_inc_factor, component_stepsize.stepsize_dec_factor",
        "must be finite and > 0",
    ),
    ("component_step.annealing_exponent", "key component_stepsize.annealing_exponent", "must be finite and >= 0"),
    (
        "weight_step.initial",
        "weight_step",
        "must be finite and >= 0 (> 0 with the trust-region weight update, letter O)",
    ),
    (
        "weight_step.min/max",
        "keys weight_stepsize.min_stepsize, weight_stepsize.max_stepsize",
        "must be finite, > 0 and min <= max",
    ),
    (
        "weight_step.inc_factor/dec_factor",
        "keys weight_stepsize.stepsize_inc_factor, weight_stepsize.stepsize_dec_factor",
        "must be finite and > 0",
    ),
    (
        "weight_step.annealing_exponent",
        "key weight_stepsize.annealing_exponent",
        "must be set with letter G (it has no default), finite and >= 0",
    ),
    ("adapt.del_iters", "del_iters", "must be at least 1"),
    ("adapt.add_iters", "add_iters", "must be at least 1"),
    ("adapt.max_components", "max_components", "must be at least 1"),
    ("adapt.thresholds", "key thresholds_for_add_heuristic", "needs 1 to 8 values, each finite and > 0"),
    ("adapt.min_weight_for_del", "key min_weight_for_del_heuristic", "must be finite and >= 0"),
];

/// A field path as [`Error::InvalidConfig`] names it, said in the C caller's terms.
pub(super) struct Field<'a>(pub &'a str);

impl fmt::Display for Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A path may carry its reason in parentheses ("ng.estimator (MORE: build with ...)").
        let path = self.0.split(' ').next().unwrap_or(self.0);
        match FIELDS.iter().find(|(p, ..)| *p == path) {
            Some((_, name, need)) if path == self.0 => write!(f, "{name}: {need}"),
            Some((_, name, _)) => write!(f, "{name}: {}", self.0.get(path.len()..).unwrap_or("").trim()),
            // The design choices are set by the codeword.
            None => write!(f, "codeword: {}", self.0),
        }
    }
}

/// A value quoted in a message as ` = value`; nothing in a build without decimal text, which
/// links no float formatting.
#[cfg_attr(not(feature = "decimal-text"), allow(dead_code))]
pub(super) struct Value(pub gmmvi_real);

impl fmt::Display for Value {
    #[cfg(feature = "decimal-text")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " = {}", self.0)
    }

    #[cfg(not(feature = "decimal-text"))]
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// A coordinate's bounds quoted in a message as ` (lo = l, hi = h)`; nothing in a build without
/// decimal text.
#[cfg_attr(not(feature = "decimal-text"), allow(dead_code))]
pub(super) struct LoHi(pub gmmvi_real, pub gmmvi_real);

impl fmt::Display for LoHi {
    #[cfg(feature = "decimal-text")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " (lo = {}, hi = {})", self.0, self.1)
    }

    #[cfg(not(feature = "decimal-text"))]
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// A text-form error, with the key and value as written.
#[cfg(feature = "text")]
pub(super) fn parse_error(e: &ParseError<'_>) -> Msg {
    match *e {
        ParseError::NoEquals { token } => Msg::of(format_args!("\"{token}\": not key=value")),
        ParseError::UnknownKey { key, value } => Msg::of(format_args!("{key}={value}: unknown key")),
        ParseError::BadValue { key, value, reason, .. } => Msg::of(format_args!("{key}={value}: {reason}")),
        ParseError::Invalid { field } => Msg::of(format_args!("{}", Field(field))),
    }
}

/// The checks of `Optimizer::new` against the build's sizes, with the sizes in the message.
pub(super) fn check_fits<T: core_gmmvi::Real>(c: &Config<T>) -> Result<(), Fail> {
    if c.adapt.max_components > GMMVI_MAX_COMPONENTS {
        return Err(Fail::config(format_args!(
            "max_components = {}: at most GMMVI_MAX_COMPONENTS = {GMMVI_MAX_COMPONENTS} in this build",
            c.adapt.max_components
        )));
    }
    let need = c.history_needed();
    if need > GMMVI_HISTORY {
        // The largest `del_iters` whose history fits (the need grows with it).
        let fits = (1..=GMMVI_HISTORY).rev().find(|&d| 2 * (d / 3) + d <= GMMVI_HISTORY).unwrap_or(1);
        return Err(Fail::config(format_args!(
            "del_iters = {}: the deletion test keeps 2*(del_iters/3) + del_iters columns, more than \
             GMMVI_HISTORY = {GMMVI_HISTORY}: at most {fits} in this build",
            c.adapt.del_iters
        )));
    }
    let n = c.samples.desired_samples_per_component;
    let room = GMMVI_STORE_CAPACITY.min(c.samples.max_database_size);
    match c.samples.selector {
        SampleSelector::ComponentBased if n.saturating_mul(GMMVI_MAX_COMPONENTS) > room => {
            Err(Fail::config(format_args!(
                "samples_per_component = {n}: {n} x GMMVI_MAX_COMPONENTS = {GMMVI_MAX_COMPONENTS} new samples per \
                 iteration exceed the store ({room} rows): at most {} in this build",
                room / GMMVI_MAX_COMPONENTS
            )))
        }
        SampleSelector::MixtureBased if n > room => Err(Fail::config(format_args!(
            "samples_per_component = {n}: new samples per iteration exceed the store ({room} rows)"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "text")]
    #[test]
    fn messages_truncate_at_a_character_boundary() {
        let long = "é".repeat(DETAIL_LEN);
        let m = Msg::of(format_args!("{long}"));
        assert!(m.as_bytes().len() <= DETAIL_LEN && m.as_bytes().len() >= DETAIL_LEN - 1);
        assert!(core::str::from_utf8(m.as_bytes()).is_ok());
    }

    #[test]
    fn every_field_validate_names_has_a_c_name_and_a_requirement() {
        // The `bad("…")` literals of Config::validate, read from the core's source.
        let src = include_str!("../../src/config.rs");
        let body = src.split("pub fn validate(&self)").nth(1).and_then(|s| s.split("\n    }\n").next()).unwrap();
        let mut n = 0;
        for part in body.split("bad(\"").skip(1) {
            let field = part.split('"').next().unwrap();
            let path = field.split(' ').next().unwrap();
            assert!(FIELDS.iter().any(|(p, ..)| *p == path), "{field} has no entry in FIELDS");
            n += 1;
        }
        assert_eq!(n, FIELDS.len(), "FIELDS lists a field that validate does not name");
    }
}

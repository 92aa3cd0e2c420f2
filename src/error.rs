//! Errors: one small `Copy` enum whose variants name the culprit.

use core::fmt;

/// Everything that can go wrong in the library. No function of the crate panics on any
/// input; it returns one of these instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A configuration value is out of range or inconsistent with the const capacities.
    InvalidConfig {
        /// The offending configuration field.
        field: &'static str,
    },
    /// An argument is invalid (wrong length, non-finite, not positive definite, ...).
    InvalidArgument {
        /// What was wrong.
        what: &'static str,
    },
    /// The component capacity `K` is exhausted.
    CapacityFull,
    /// An index does not name an active component.
    NoSuchComponent {
        /// The index given.
        index: usize,
    },
    /// The target returned `Err`; the step was aborted and the model kept.
    TargetFailed(TargetError),
    /// Every new sample of the step had a non-finite target value or gradient; the step
    /// was skipped and the model kept.
    NonFiniteTarget,
    /// A Cholesky factorisation failed for this component.
    CholeskyFailed {
        /// The component (or candidate) index.
        component: usize,
    },
    /// A buffer is too small for the requested operation.
    BufferTooSmall {
        /// Bytes or elements needed.
        needed: usize,
    },
    /// A checkpoint or exported model is truncated, corrupted, of another version or made
    /// for another configuration; nothing was changed.
    BadCheckpoint {
        /// What was wrong.
        what: &'static str,
    },
}

/// The error a [`crate::Target`] returns when it cannot evaluate a block. Its code is passed
/// through unchanged (the C API uses it for the callback's return value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetError {
    /// Target-defined code.
    pub code: i32,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target failed with code {}", self.code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig { field } => write!(f, "invalid configuration: {field}"),
            Error::InvalidArgument { what } => write!(f, "invalid argument: {what}"),
            Error::CapacityFull => write!(f, "component capacity exhausted"),
            Error::NoSuchComponent { index } => write!(f, "no active component {index}"),
            Error::TargetFailed(e) => write!(f, "{e}"),
            Error::NonFiniteTarget => write!(f, "target returned no finite value in this step"),
            Error::CholeskyFailed { component } => {
                write!(f, "Cholesky factorisation failed for component {component}")
            }
            Error::BufferTooSmall { needed } => write!(f, "buffer too small, need {needed}"),
            Error::BadCheckpoint { what } => write!(f, "bad checkpoint or model bytes: {what}"),
        }
    }
}

impl core::error::Error for Error {}
impl core::error::Error for TargetError {}

impl From<TargetError> for Error {
    fn from(e: TargetError) -> Self {
        Error::TargetFailed(e)
    }
}

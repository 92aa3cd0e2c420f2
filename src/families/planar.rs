//! Placeholder (estimators.md).

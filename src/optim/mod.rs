//! Placeholder (estimators.md §11).

#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
// `!(x > 0)` is how these crates reject NaN together with out-of-range values.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

#[cfg(test)]
extern crate std;

pub mod estimators;
pub mod families;
pub mod optim;

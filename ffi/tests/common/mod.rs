//! Helpers shared by the C ABI's integration tests.

use std::ptr::null_mut;

use gmmvi_abi::gmmvi_status::GMMVI_OK;
use gmmvi_abi::*;

const D: usize = GMMVI_DIM;

/// The state's counters (`gmmvi_stats`), asserting success.
pub fn stats(s: &gmmvi_state) -> gmmvi_report {
    let mut r = gmmvi_report::default();
    assert_eq!(unsafe { gmmvi_stats(s, &mut r) }, GMMVI_OK);
    r
}

/// Every component's weight, mean and covariance, bit for bit (the unconstrained model).
pub fn model_bits(s: &gmmvi_state) -> Vec<u64> {
    let mut out = vec![];
    for k in 0..stats(s).components as usize {
        let (mut w, mut m, mut c) = (0.0, [0.0; D], [0.0; D * D]);
        let st = unsafe { gmmvi_get_component(s, k, &mut w, m.as_mut_ptr(), c.as_mut_ptr(), null_mut()) };
        assert_eq!(st, GMMVI_OK);
        out.extend([w].iter().chain(&m).chain(&c).map(|v| v.to_bits() as u64));
    }
    out
}

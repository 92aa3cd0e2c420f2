//! Benchmark targets usable in `no_std` (data passed in as slices).

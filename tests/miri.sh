#!/usr/bin/env bash
# Miri (nightly) on the C ABI: ffi/tests/ffi_miri.rs runs every unsafe block of ffi/src/ with
# the least work (one cheap optimiser step), and ffi/tests/ffi_abi.rs the tests that take at
# most one step (those with many steps are #[cfg_attr(miri, ignore)]). Installs the nightly
# toolchain and the miri component if missing. Extra arguments go to the test binaries, e.g.
# `tests/miri.sh --nocapture`.
#
# MIRIFLAGS (default -Zmiri-tree-borrows; set MIRIFLAGS to override): aliasing is checked with
# Tree Borrows instead of the default Stacked Borrows, because nalgebra's Cholesky on SMatrix
# (used by every step) violates Stacked Borrows inside nalgebra (axcpy on two column views of
# one matrix: dimforge/nalgebra#1520, fix pending in #1587); Tree Borrows accepts it and still
# checks every reference and raw pointer of ffi/src. Isolation stays on (the tests touch no
# files, clock or environment).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  rustup +nightly component add miri rust-src
fi
cargo +nightly miri setup
export MIRIFLAGS="${MIRIFLAGS--Zmiri-tree-borrows}"

tests=(--test ffi_miri --test ffi_abi)
# libm/force-soft-floats: libm's x86 `sqrt` is inline assembly, which Miri cannot run; the
# software `sqrt` is correctly rounded too (same bits). A feature of a dependency, set for this
# run only: the crate's manifest is unchanged.
cargo +nightly miri test -p gmmvi-abi --features libm/force-soft-floats "${tests[@]}" -- "$@"

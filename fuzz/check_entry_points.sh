#!/usr/bin/env bash
# Fails when a function the C ABI exports (`#[unsafe(no_mangle)]` in ffi/src/) is not called
# by name in any fuzz target (fuzz/fuzz_targets/), so that a new entry point cannot ship
# unfuzzed. Run by fuzz/run.sh before it builds.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t names < <(awk '
  /#\[unsafe\(no_mangle\)\]/ { want = 1; next }
  want && match($0, /fn gmmvi_[A-Za-z0-9_]+/) { print substr($0, RSTART + 3, RLENGTH - 3); want = 0 }
' ../ffi/src/*.rs)
if (( ${#names[@]} == 0 )); then
  echo "check_entry_points: no exported function found in ffi/src" >&2
  exit 1
fi
missing=()
for f in "${names[@]}"; do
  grep -rqE "\\b${f}\\(" fuzz_targets || missing+=("$f")
done
if (( ${#missing[@]} > 0 )); then
  echo "check_entry_points: exported but called by no fuzz target: ${missing[*]}" >&2
  exit 1
fi
echo "check_entry_points: all ${#names[@]} exported functions are called by a fuzz target"

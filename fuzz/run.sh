#!/usr/bin/env bash
# Fuzzes every target of fuzz/ with cargo-fuzz (libFuzzer + AddressSanitizer, nightly) for
# [seconds] in total (default 60), split evenly, one target after another (one process: the
# build machine is shared). Seeds: the committed corpus fuzz/corpus/<target>/ (read only);
# inputs the fuzzer finds go to fuzz/work/<target>/ (ignored by git), crashes to
# fuzz/artifacts/<target>/. Prints the executions per target; exits non-zero on a crash.
#
#   fuzz/run.sh          # 60 s (CI)
#   fuzz/run.sh 600      # 10 minutes
#
# FUZZ_SEED (default 1) seeds libFuzzer's mutations, so that a run replays the same input
# sequence (a slower machine runs a prefix of it): CI does not go red at random on unrelated
# commits, and a crash it reports reproduces with the same seed. FUZZ_SEED=0 lets libFuzzer
# pick a seed (explore).
set -euo pipefail
cd "$(dirname "$0")"
total="${1:-60}"
seed="${FUZZ_SEED:-1}"

if ! rustup toolchain list | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
  cargo install cargo-fuzz --locked
fi
# `cargo fuzz` builds in fuzz/target (this crate is its own workspace).
unset CARGO_TARGET_DIR

# Every exported function must be driven by some target.
./check_entry_points.sh
mapfile -t targets < <(cargo +nightly fuzz list)
per=$(( total / ${#targets[@]} ))
(( per >= 1 )) || per=1
# Build first so that the build does not eat into the fuzzing time.
cargo +nightly fuzz build

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "corpus/$t"
  extra=()
  [ -f "dict/$t.dict" ] && extra+=("-dict=dict/$t.dict")
  log="work/$t.log"
  echo "==> $t: ${per} s (seed $seed)"
  # -timeout: one input runs at most 3 optimiser iterations, so 10 s means a hang.
  # -max_len/-len_control: long inputs from the start (op sequences; texts over 4096 bytes).
  if ! cargo +nightly fuzz run "$t" "work/$t" "corpus/$t" -- \
      -max_total_time="$per" -seed="$seed" -max_len=4200 -len_control=0 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" \
      >"$log" 2>&1; then
    status=1
    tail -n 60 "$log"
    echo "!! $t: crash (log: fuzz/$log, input: fuzz/artifacts/$t/)"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  summary+=("$t: ${execs:-?} executions in ${per} s")
done
printf '%s\n' "${summary[@]}"
exit "$status"

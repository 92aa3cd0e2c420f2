#!/usr/bin/env bash
# Builds the release firmware, runs it under qemu (cargo run: the runner in .cargo/config.toml)
# and prints its footprint: flash (.text + .rodata), RAM (.data + .bss) from the ELF, and the
# optimiser state size and painted-stack high-water marks that the firmware prints itself.
# Fails unless the firmware exits with EXIT_SUCCESS (both goals reached).
#
#   firmware/footprint.sh            # CARGO_TARGET_DIR defaults to firmware/target
set -euo pipefail
cd "$(dirname "$0")"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$target_dir"
elf="$target_dir/thumbv7em-none-eabihf/release/gmmvi-firmware"
log="$target_dir/firmware-run.log"

cargo build --release --quiet
start=$(date +%s)
if ! cargo run --release --quiet >"$log" 2>&1; then
  cat "$log"
  echo "firmware failed (see above)" >&2
  exit 1
fi
secs=$(($(date +%s) - start))
grep -q '^goals reached: 2 of 2' "$log" || { cat "$log"; echo "goals not reached" >&2; exit 1; }
grep -v '^footprint:' "$log" | tail -n 4

sec() { size -A "$elf" 2>/dev/null | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }
size() { if command -v arm-none-eabi-size >/dev/null; then arm-none-eabi-size "$@"; else command size "$@"; fi; }
vt=$(sec .vector_table) text=$(sec .text) ro=$(sec .rodata) data=$(sec .data) bss=$(sec .bss) un=$(sec .uninit)
state=$(sed -n 's/^footprint: state \([0-9]*\) B.*/\1/p' "$log")
capacities=$(sed -n 's/^gmmvi firmware: \(.*\)$/\1/p' "$log")
init=$(sed -n 's/^footprint: stack peak init \([0-9]*\) B.*/\1/p' "$log")
fit=$(sed -n 's/^footprint: stack peak init [0-9]* B, fitting \([0-9]*\) B.*/\1/p' "$log")
step=$(sed -n 's/.*inside run\/step \([0-9]*\) B.*/\1/p' "$log")
ram=$((data + bss + un))
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }

echo
echo "firmware footprint ($capacities), qemu run ${secs} s"
printf '| %-44s | %9s | %9s |\n' "what" "bytes" "KiB"
printf '|%s|%s|%s|\n' "----------------------------------------------" "-----------" "-----------"
row() { printf '| %-44s | %9d | %9s |\n' "$1" "$2" "$(kib "$2")"; }
row "flash: .text + .rodata" $((text + ro))
row "flash: + .vector_table + .data image" $((vt + text + ro + data))
row "RAM: .data + .bss" "$ram"
row "  of which optimiser state (size_of)" "$state"
row "stack: one fit (run/step) alone" "$step"
row "stack: peak while fitting (main + run/step)" "$fit"
row "stack: peak while initialising (new_in)" "$init"
row "RAM total: .data + .bss + fitting stack" $((ram + fit))
row "RAM total: .data + .bss + worst stack" $((ram + (init > fit ? init : fit)))
goal_ram=$((32 * 1024)) goal_flash=$((64 * 1024))
echo "goal: RAM <= 32 KiB: $([ $((ram + (init > fit ? init : fit))) -le $goal_ram ] && echo met || echo NOT met);" \
  "flash <= 64 KiB: $([ $((text + ro)) -le $goal_flash ] && echo met || echo NOT met)"

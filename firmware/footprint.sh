#!/usr/bin/env bash
# Builds the release firmware, runs it under qemu (cargo run: the runner in .cargo/config.toml)
# and prints its footprint: flash (.text + .rodata), RAM (.data + .bss) from the ELF, and the
# optimiser state size and painted-stack high-water marks that the firmware prints itself; then
# the time per step() and per sample: qemu runs with -icount shift=0 (the runner), so the
# firmware's SysTick readings count instructions, and cycles are instructions x an assumed CPI.
# Fails unless the firmware exits with EXIT_SUCCESS (both goals reached, every sample inside
# the joint limits) and unless flash and RAM are within 64 KiB and 32 KiB.
#
#   firmware/footprint.sh            # CARGO_TARGET_DIR defaults to firmware/target
set -euo pipefail
cd "$(dirname "$0")"
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export CARGO_TARGET_DIR="$target_dir"
elf="$target_dir/thumbv7em-none-eabihf/release/gmmvi-firmware"
log="$target_dir/firmware-run.log"

# Panic locations name their source files: with the checkout's path mapped to a fixed prefix,
# flash does not depend on where the repository lies.
remap=(--config "target.thumbv7em-none-eabihf.rustflags = [\"--remap-path-prefix=$(cd .. && pwd)=gmmvi\"]")
cargo build --release --quiet "${remap[@]}"
start=$(date +%s)
if ! cargo run --release --quiet "${remap[@]}" >"$log" 2>&1; then
  cat "$log"
  echo "firmware failed (see above)" >&2
  exit 1
fi
secs=$(($(date +%s) - start))
grep -q '^goals reached: 2 of 2' "$log" || { cat "$log"; echo "goals not reached" >&2; exit 1; }
grep -q '^joint limits: 1010 of 1010 samples' "$log" || { cat "$log"; echo "a sample outside the joint limits" >&2; exit 1; }
grep -v -e '^footprint:' -e '^timing:' "$log" | tail -n 4

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
ram_ok=$([ $((ram + (init > fit ? init : fit))) -le $goal_ram ] && echo met || echo NOT met)
flash_ok=$([ $((text + ro)) -le $goal_flash ] && echo met || echo NOT met)
echo "goal: RAM <= 32 KiB: $ram_ok; flash <= 64 KiB: $flash_ok"

# Time. qemu counts instructions, not cycles. On a Cortex-M4F most integer instructions take one
# cycle, loads two, FPU multiply-adds three, divisions and square roots 14, taken branches two
# to four, plus flash wait states behind the prefetch buffer at 168 MHz: CPI 1.5 is assumed for
# the cycle count, the microseconds are given for CPI 1.0 to 2.0 beside it.
cpi=1.5 mhz=168
step_mean=$(sed -n 's/^timing: step mean \([0-9]*\) max.*/\1/p' "$log")
step_max=$(sed -n 's/^timing: step mean [0-9]* max \([0-9]*\) .*/\1/p' "$log")
steps=$(sed -n 's/^timing: step mean .* over \([0-9]*\) steps.*/\1/p' "$log")
sample=$(sed -n 's/^timing: sample \([0-9]*\) instructions.*/\1/p' "$log")
draws=$(sed -n 's/^timing: sample .*(mean of \([0-9]*\);.*/\1/p' "$log")
normals=$(sed -n 's/^timing: sample .* standard normals \([0-9]*\))$/\1/p' "$log")
target=$(sed -n 's/^timing: step mean .* of which target \([0-9]*\))$/\1/p' "$log")
cal=$(sed -n 's/^timing: calibration \(.*\)$/\1/p' "$log")
[ -n "$step_mean" ] && [ -n "$sample" ] || { cat "$log"; echo "no timing lines" >&2; exit 1; }
timing() { # label instructions [extra]
  awk -v l="$1" -v n="$2" -v x="${3:-}" -v cpi="$cpi" -v mhz="$mhz" 'BEGIN {
    printf "%s: %d (%d instructions x CPI %.1f%s; %.1f us at %d MHz, %.1f-%.1f us for CPI 1.0-2.0)\n",
      l, n * cpi, n, cpi, x, n * cpi / mhz, mhz, n / mhz, 2 * n / mhz }'
}
echo
echo "time under qemu -icount shift=0 (timer calibration: $cal)"
timing "cycles per step" "$step_mean" ", mean of $steps steps"
timing "  of which in the target" "$target"
timing "  of which in the library" "$((step_mean - target))"
timing "cycles per step (max)" "$step_max"
timing "cycles per sample" "$sample" ", mean of $draws"
timing "  of which 7 standard normals" "$normals"
echo "goal: step <= 1 ms: $(awk -v n="$step_mean" -v c="$cpi" -v m="$mhz" 'BEGIN { print (n * c / m <= 1000) ? "met" : "NOT met" }');" \
  "sample <= 20 us: $(awk -v n="$sample" -v c="$cpi" -v m="$mhz" 'BEGIN { print (n * c / m <= 20) ? "met" : "NOT met" }')"
# The footprint is a budget: a build that outgrows it fails (the time goals are reported).
[ "$ram_ok" = met ] && [ "$flash_ok" = met ] || { echo "firmware footprint goal missed" >&2; exit 1; }

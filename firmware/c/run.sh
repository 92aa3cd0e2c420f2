#!/usr/bin/env bash
# The C firmware: c_examples/planar_arm.c (static gmmvi_state, no malloc; the arm's joints
# limited with gmmvi_set_bounds), linked with arm-none-eabi-gcc + newlib-nano against a
# thumbv7em-none-eabihf libgmmvi.a built for the Rust firmware's sizes (D = 7, K = 8, n_des = 12,
# S = 96, G = 8, H = 8, f32) without the default features: SAMTRUX only, no text form of the
# configuration and static messages (GMMVI_HAS_TEXT 0: no text parser, core::fmt or float
# formatting), opt-level "s". The arm computes in float (ARM_SINGLE) and prints without
# printf("%f") (ARM_PRINT_FIXED); startup.c starts main without newlib's _start (-nostartfiles).
# Runs it under qemu mps2-an386 with semihosting and prints its footprint: flash
# (.text + .rodata + .ARM.exidx + .data image), RAM (.data + .bss + heap + stack high-water mark,
# measured by startup.c/semihost.c) against the goals of <= 64 KiB flash and <= 32 KiB RAM. Fails
# unless both goals of the arm are reached with every sample inside the joint limits, and unless
# the footprint meets both goals.
#
#   firmware/c/run.sh        # CARGO_TARGET_DIR defaults to the workspace's target/; the library
#                            # is built in its own target dir below it (c-firmware/)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
out="$target_dir/c-firmware"
lib="$out/thumbv7em-none-eabihf/release/libgmmvi.a"
header="$out/include/gmmvi.h"
elf="$out/planar_arm.elf"
log="$out/planar_arm.log"
mkdir -p "$out/include"

# Another size and feature set than the thumb library of the tests: its own target dir, and the
# header of these sizes (ahead of include/ on the include path).
(cd "$root" && CARGO_TARGET_DIR="$out" GMMVI_DIM=7 GMMVI_MAX_COMPONENTS=8 GMMVI_SAMPLES_PER_COMPONENT=12 \
  GMMVI_STORE_CAPACITY=96 GMMVI_STORED_GAUSSIANS=8 GMMVI_HISTORY=8 GMMVI_BG_CACHE=0 GMMVI_SCALAR=f32 GMMVI_HEADER_OUT="$header" \
  CARGO_PROFILE_RELEASE_OPT_LEVEL=s \
  cargo build --quiet -p gmmvi-ffi --release --target thumbv7em-none-eabihf --no-default-features)
[ -f "$header" ] || { echo "no $header: remove $out and run again" >&2; exit 1; }
# ARM_PRINT_FIXED: the example prints its numbers without printf("%f") (newlib-nano's float
# conversion is about 10 KiB of flash and 1 KiB of heap). The library's compiler_builtins brings
# weak, speed-tuned memcpy/memmove/memset and their __aeabi_* entries (about 3 KiB): newlib-nano's
# small ones are linked first instead (-u makes the linker take them from -lc_nano).
mem=()
for s in memcpy memmove memset memcmp __aeabi_memcpy __aeabi_memcpy4 __aeabi_memcpy8 __aeabi_memmove \
  __aeabi_memmove4 __aeabi_memmove8 __aeabi_memset __aeabi_memset4 __aeabi_memset8 __aeabi_memclr \
  __aeabi_memclr4 __aeabi_memclr8; do mem+=("-Wl,-u,$s"); done
arm-none-eabi-gcc -std=c11 -Os -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -DARM_SINGLE -DARM_PRINT_FIXED \
  --specs=nano.specs --specs=nosys.specs -nostartfiles \
  -ffunction-sections -fdata-sections -Wl,--gc-sections -Wl,--no-warn-execstack \
  -Wall -Wextra -I"$out/include" -I"$root/include" -I"$root/c_examples" -T "$here/mps2.ld" \
  "$here/startup.c" "$here/semihost.c" "$here/print.c" "$root/c_examples/planar_arm.c" "${mem[@]}" -lc_nano "$lib" -lm -o "$elf" \
  2> >(grep -v 'is not implemented and will always fail' >&2)
start=$(date +%s)
status=0
timeout 600 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -kernel "$elf" >"$log" 2>&1 || status=$?
grep -v '^footprint:' "$log" | tail -n 4
echo "C firmware: qemu exit status $status, $(($(date +%s) - start)) s"
[ "$status" -eq 0 ] && grep -q '^goals reached: 2 of 2' "$log" \
  && grep -q '^joint limits: 1010 of 1010 samples' "$log" || { cat "$log"; echo "C firmware failed" >&2; exit 1; }

sec() { arm-none-eabi-size -A "$elf" | awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }'; }
text=$(sec .text) ro=$(sec .rodata) exidx=$(sec .ARM.exidx) data=$(sec .data) bss=$(sec .bss)
heap=$(sed -n 's/^footprint: heap \([0-9]*\) B.*/\1/p' "$log")
stack=$(sed -n 's/^footprint: .*stack peak \([0-9]*\) B.*/\1/p' "$log")
state=$(sed -n 's/^#define GMMVI_STATE_SIZE \([0-9]*\).*/\1/p' "$header")
[ -n "$heap" ] && [ -n "$stack" ] || { cat "$log"; echo "no footprint line" >&2; exit 1; }
flash=$((text + ro + exidx + data)) ram=$((data + bss + heap + stack))
kib() { awk -v b="$1" 'BEGIN { printf "%.1f KiB", b / 1024 }'; }
row() { printf '| %-46s | %9d | %9s |\n' "$1" "$2" "$(kib "$2")"; }
echo
echo "C firmware footprint (arm-none-eabi-gcc $(arm-none-eabi-gcc -dumpversion), newlib-nano, print.c for stdio)"
printf '| %-46s | %9s | %9s |\n' "what" "bytes" "KiB"
printf '|%s|%s|%s|\n' "------------------------------------------------" "-----------" "-----------"
row "flash: .text + .rodata" $((text + ro))
row "flash: + .ARM.exidx + .data image" "$flash"
row "RAM: .data + .bss" $((data + bss))
row "  of which gmmvi_state (GMMVI_STATE_SIZE)" "$state"
row "RAM: heap (newlib)" "$heap"
row "RAM: stack high-water mark" "$stack"
row "RAM total: .data + .bss + heap + stack" "$ram"
flash_ok=$([ "$flash" -le $((64 * 1024)) ] && echo met || echo NOT met)
ram_ok=$([ "$ram" -le $((32 * 1024)) ] && echo met || echo NOT met)
echo "goal: flash <= 64 KiB: $flash_ok; RAM <= 32 KiB: $ram_ok"
[ "$flash_ok" = met ] && [ "$ram_ok" = met ] || { echo "C firmware: footprint goal not met" >&2; exit 1; }

#!/usr/bin/env bash
# The C firmware: c_examples/planar_arm.c unchanged (static gmmvi_state, no malloc), linked with
# arm-none-eabi-gcc + newlib against the thumbv7em-none-eabihf libgmmvi.a (default sizes of
# ffi/build.rs), run under qemu mps2-an386 with semihosting. Fails unless both goals are reached.
#
#   firmware/c/run.sh        # CARGO_TARGET_DIR defaults to the workspace's target/, where
#                            # `cargo test` (ffi/tests/no_alloc.rs) already builds the thumb library
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
lib="$target_dir/thumbv7em-none-eabihf/release/libgmmvi.a"
elf="$target_dir/planar_arm_c.elf"
log="$target_dir/planar_arm_c.log"

(cd "$root" && CARGO_TARGET_DIR="$target_dir" cargo build --quiet -p gmmvi-ffi --release --target thumbv7em-none-eabihf)
arm-none-eabi-gcc -std=c11 -O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 \
  --specs=nosys.specs -ffunction-sections -fdata-sections -Wl,--gc-sections -Wl,--no-warn-execstack \
  -Wall -Wextra -I"$root/include" -I"$root/c_examples" -T "$here/mps2.ld" \
  "$here/startup.c" "$here/semihost.c" "$root/c_examples/planar_arm.c" "$lib" -lm -o "$elf" \
  2> >(grep -v 'is not implemented and will always fail' >&2)
start=$(date +%s)
status=0
timeout 600 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
  -semihosting-config enable=on,target=native -kernel "$elf" >"$log" 2>&1 || status=$?
tail -n 4 "$log"
echo "C firmware: qemu exit status $status, $(($(date +%s) - start)) s"
arm-none-eabi-size "$elf"
[ "$status" -eq 0 ] && grep -q '^goals reached: 2 of 2' "$log"

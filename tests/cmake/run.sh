#!/usr/bin/env bash
# Builds libgmmvi.a with the top-level CMakeLists.txt, installs it into a temporary prefix and
# builds the consumer in tests/cmake/consumer/ (a Gaussian fit that checks the fitted mean and
# standard deviations) three ways: find_package against the prefix, add_subdirectory of the
# repository, and a plain cc command with pkg-config; the C++ example c_examples/panda_ik.cpp
# is built with find_package too (tests/cmake/panda_ik/). Then configures other sizes
# (GMMVI_DIM=3) and checks the installed header and the find_package consumer for them.
# One cargo target directory serves every build (GMMVI_CMAKE_CARGO_TARGET_DIR keeps it between
# runs; by default it is temporary). Needs cmake, pkg-config, cc, c++ and cargo.
set -euo pipefail
shopt -s inherit_errexit
repo="$(cd "$(dirname "$0")/../.." && pwd)"
consumer="$repo/tests/cmake/consumer"

tmp="$(mktemp -d)"
trap 'rc=$?; if [ $rc -ne 0 ]; then echo "tests/cmake/run.sh FAILED (exit $rc); files kept in $tmp" >&2; else rm -rf "$tmp"; fi' EXIT
cargo_dir="${GMMVI_CMAKE_CARGO_TARGET_DIR:-$tmp/cargo}"
summary=()

step() { printf '\n--> %s\n' "$*"; }
die() { echo "tests/cmake/run.sh: $*" >&2; exit 1; }
for tool in cmake pkg-config cc c++ cargo; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

# Builds and installs the library for the given -D options into prefix $1.
build_and_install() {
  local name=$1 prefix=$2
  shift 2
  cmake -S "$repo" -B "$tmp/$name" -DGMMVI_CARGO_TARGET_DIR="$cargo_dir" "$@"
  cmake --build "$tmp/$name"
  cmake --install "$tmp/$name" --prefix "$prefix"
}

# Fails unless the consumer's output $2 reports the library variant $1.
expect() { grep -q "^GMMVI_DIM=[0-9]*, $1: " <<<"$2" || die "expected a library with $1, got: $2"; }

# Configures, builds and runs the consumer in build directory $1 with the given -D options.
consumer_cmake() {
  local dir=$1
  shift
  cmake -S "$consumer" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" "$@"
  cmake --build "$dir"
  "$dir/gaussian_fit"
}

step "library: configure, build, install (default sizes)"
start=$SECONDS
prefix="$tmp/prefix"
build_and_install build "$prefix"
for f in lib/libgmmvi.a include/gmmvi.h include/gmmvi.hpp lib/cmake/gmmvi/gmmviConfig.cmake \
  lib/cmake/gmmvi/gmmviConfigVersion.cmake lib/pkgconfig/gmmvi.pc; do
  [ -f "$prefix/$f" ] || die "not installed: $f"
done
# The default sizes give exactly the checked-in header.
cmp "$prefix/include/gmmvi.h" "$repo/include/gmmvi.h" || die "installed gmmvi.h differs from include/gmmvi.h"
summary+=("library:          built and installed in $((SECONDS - start)) s (lib/libgmmvi.a, include/gmmvi.h = include/gmmvi.h, gmmvi.hpp, gmmviConfig*.cmake, gmmvi.pc)")

step "consumer 1: find_package(gmmvi CONFIG REQUIRED)"
out=$(consumer_cmake "$tmp/find_package" -DCMAKE_PREFIX_PATH="$prefix")
echo "$out"
expect "all options" "$out"
summary+=("find_package:     $(tail -n1 <<<"$out")")

step "consumer 1, C++: c_examples/panda_ik.cpp with find_package(gmmvi)"
cmake -S "$repo/tests/cmake/panda_ik" -B "$tmp/panda_ik" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" -DCMAKE_PREFIX_PATH="$prefix"
cmake --build "$tmp/panda_ik"
out=$("$tmp/panda_ik/panda_ik")
echo "$out"
json=$(tail -n1 <<<"$out")
# At least 90 % of the solutions within 10 mm and 2 degrees, none outside the joint limits.
in_tolerance=$(sed -n 's/.*"in_tolerance":\([0-9.]*\).*/\1/p' <<<"$json")
awk -v f="$in_tolerance" 'BEGIN { exit !(f >= 0.9) }' || die "panda_ik: in_tolerance '$in_tolerance' < 0.9: $json"
grep -q '"outside_limits":0,' <<<"$json" || die "panda_ik: solutions outside the limits: $json"
summary+=("find_package C++: panda_ik.cpp: $(grep ' within 10 mm' <<<"$out")")

step "consumer 2: add_subdirectory(<repository>)"
out=$(consumer_cmake "$tmp/add_subdirectory" -DGMMVI_SOURCE_DIR="$repo" -DGMMVI_CARGO_TARGET_DIR="$cargo_dir")
echo "$out"
expect "all options" "$out"
cmp "$tmp/add_subdirectory/gmmvi/include/gmmvi.h" "$repo/include/gmmvi.h" || die "add_subdirectory: gmmvi.h differs"
summary+=("add_subdirectory: $(tail -n1 <<<"$out")")

step "consumer 3: cc \$(pkg-config --cflags --libs gmmvi)"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
version=$(pkg-config --modversion gmmvi)
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n1)
[ "$version" = "$crate_version" ] || die "pkg-config --modversion gmmvi: $version, the crates are $crate_version"
flags=$(pkg-config --cflags --libs gmmvi)
echo "pkg-config --cflags --libs gmmvi: $flags"
# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -O2 -Wall -Wextra -Werror "$consumer/main.c" $flags -lm -o "$tmp/pkg_config_fit"
out=$("$tmp/pkg_config_fit")
echo "$out"
expect "all options" "$out"
# The installed C++ wrapper compiles against the installed header.
# shellcheck disable=SC2086
printf '#include <gmmvi.hpp>\nint main() { return 0; }\n' |
  c++ -std=c++17 -Wall -Wextra -Werror -x c++ - $(pkg-config --cflags gmmvi) -fsyntax-only
summary+=("pkg-config:       $(tail -n1 <<<"$out") (gmmvi.hpp compiles too)")
unset PKG_CONFIG_PATH

step "other sizes, SAMTRUX only: -DGMMVI_DIM=3 -DGMMVI_MAX_COMPONENTS=4 -DGMMVI_ALL_OPTIONS=OFF"
start=$SECONDS
prefix3="$tmp/prefix3"
build_and_install build3 "$prefix3" -DGMMVI_DIM=3 -DGMMVI_MAX_COMPONENTS=4 -DGMMVI_ALL_OPTIONS=OFF
grep -q '^#define GMMVI_DIM 3$' "$prefix3/include/gmmvi.h" || die "installed gmmvi.h lacks #define GMMVI_DIM 3"
grep -q '^#define GMMVI_MAX_COMPONENTS 4$' "$prefix3/include/gmmvi.h" || die "installed gmmvi.h lacks #define GMMVI_MAX_COMPONENTS 4"
out=$(consumer_cmake "$tmp/find_package3" -DCMAKE_PREFIX_PATH="$prefix3")
echo "$out"
expect "SAMTRUX only" "$out"
summary+=("GMMVI_DIM=3:      installed gmmvi.h has '#define GMMVI_DIM 3' (rebuilt in $((SECONDS - start)) s); find_package: $(tail -n1 <<<"$out")")

step "cross target: -DGMMVI_RUST_TARGET=thumbv7em-none-eabihf"
if rustup target list --installed 2>/dev/null | grep -qx thumbv7em-none-eabihf; then
  command -v readelf >/dev/null || die "readelf is not installed"
  start=$SECONDS
  build_and_install build_thumb "$tmp/prefix_thumb" -DGMMVI_RUST_TARGET=thumbv7em-none-eabihf
  machine=$(readelf -h "$tmp/prefix_thumb/lib/libgmmvi.a" | sed -n 's/^ *Machine: *//p' | sort -u)
  [ "$machine" = ARM ] || die "thumbv7em libgmmvi.a: machine '$machine', not ARM"
  summary+=("cross target:     installed thumbv7em-none-eabihf libgmmvi.a, every member for ARM ($((SECONDS - start)) s)")
else
  summary+=("cross target:     skipped (rustup target add thumbv7em-none-eabihf)")
fi

printf '\n'
printf '%s\n' "${summary[@]}"

#!/usr/bin/env bash
# The embedding story end to end: `cmake --install` into a fresh prefix, then
# examples/embed built against that prefix alone with find_package(gantry)
# (C++ and C executables) and with pkg-config, each run on a gantry checkpoint
# and on a PyTorch-named generator; the PNGs must appear, and bad input must
# come back as a clear error, not a crash.
# Usage: embed_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" || { cat "$work/install.log"; fail "install"; }
for f in include/gantry/gantry.hpp include/gantry/gantry.h lib/libgantry.so lib/cmake/gantry/gantryConfig.cmake \
         lib/cmake/gantry/gantryConfigVersion.cmake lib/pkgconfig/gantry.pc bin/gantry; do
  [[ -e $work/prefix/$f ]] || fail "the prefix lacks $f"
done
# Only the API is exported: no engine symbol leaks out of libgantry.so.
exported=$(nm -D --defined-only "$work/prefix/lib/libgantry.so" | awk '{print $3}')
grep -q '^gantry_generator_sample$' <<<"$exported" || fail "gantry_generator_sample is not exported"
if grep -v '^gantry_\|^_ZN6gantry9Generator\|^_ZNK6gantry9Generator' <<<"$exported" | grep -q .; then
  fail "libgantry.so exports more than the API: $(grep -v '^gantry_\|Generator' <<<"$exported" | head -3 | tr '\n' ' ')"
fi

cmake -S "$src/examples/embed" -B "$work/app" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/cfg.log" 2>&1 ||
  { cat "$work/cfg.log"; fail "configure examples/embed against the prefix"; }
cmake --build "$work/app" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build examples/embed"; }
if command -v pkg-config >/dev/null; then
  PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" cc -std=c11 -o "$work/embed_pc" "$src/examples/embed/main.c" \
    -I/usr/include/stb $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs gantry) -lm ||
    fail "build main.c with pkg-config"
fi

# A gantry checkpoint (one step of a small cgan32: conditional, so labels are exercised) and the PyTorch fixture.
mkdir -p "$work/data"
printf '\x00\x00\x08\x03\x00\x00\x00\x10\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$work/data/train-images-idx3-ubyte"
head -c $((16 * 784)) /dev/urandom >>"$work/data/train-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x10' >"$work/data/train-labels-idx1-ubyte"
for i in $(seq 0 15); do printf "\\x0$((i % 10))"; done >>"$work/data/train-labels-idx1-ubyte"
"$work/prefix/bin/gantry" train --model cgan32 --out "$work/run" --data "$work/data" --batch 4 --nz 8 --ngf 8 --ndf 8 \
  --steps 1 >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "train a checkpoint"; }
export LD_LIBRARY_PATH="$work/prefix/lib"
for generator in "$work/run/checkpoint.safetensors" "$src/tests/fixtures/pytorch_dcgan/G.safetensors"; do
  for app in "$work/app/embed_cpp" "$work/app/embed_c" ${work}/embed_pc; do
    [[ -x $app ]] || continue
    rm -f "$work/out.png"
    "$app" "$generator" "$work/out.png" 12 >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "$(basename "$app") on $generator"; }
    [[ $(head -c 8 "$work/out.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$(basename "$app") wrote no PNG"
    # The conditional checkpoint's class names (MNIST's digits) through both APIs.
    [[ $generator != */run/* ]] || grep -q "; classes 0, 1, 2, 3, 4, 5, 6, 7, 8, 9$" "$work/run.log" ||
      { cat "$work/run.log"; fail "$(basename "$app") did not list the class names"; }
  done
done
# fp16 and bf16 storage through both APIs; an unknown precision is refused by name.
fixture=$src/tests/fixtures/pytorch_dcgan/G.safetensors
for app in "$work/app/embed_cpp" "$work/app/embed_c"; do
  name=$(basename "$app")
  for precision in fp16 bf16; do
    rm -f "$work/out16.png"
    "$app" "$fixture" "$work/out16.png" 4 $precision >"$work/run.log" 2>&1 ||
      { cat "$work/run.log"; fail "$name in $precision"; }
    [[ $(head -c 8 "$work/out16.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] ||
      fail "$name $precision wrote no PNG"
  done
  rc=0
  "$app" "$fixture" "$work/out8.png" 4 fp8 >"$work/bad.log" 2>&1 || rc=$?
  [[ $rc -eq 2 ]] && grep -q "unknown precision 'fp8'" "$work/bad.log" || { cat "$work/bad.log"; fail "$name fp8: rc $rc"; }
done
# Bad input through both APIs: a message and a non-zero exit.
for app in "$work/app/embed_cpp" "$work/app/embed_c"; do
  rc=0
  "$app" /dev/null "$work/out.png" >"$work/bad.log" 2>&1 || rc=$?
  [[ $rc -eq 2 ]] && grep -q "/dev/null" "$work/bad.log" || { cat "$work/bad.log"; fail "$(basename "$app") on /dev/null: rc $rc"; }
done
echo "embed_install: installed, built against the prefix (CMake and pkg-config), sampled through the C++ and C APIs"

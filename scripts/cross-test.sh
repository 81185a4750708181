#!/usr/bin/env bash
# Cross-compile gantry for aarch64 (Jetson) with the `jetson` preset and prove
# the result runs, under qemu-aarch64: the two binaries (dynamic gantry with
# Vulkan, glibc <= 2.35; static CPU-only gantry-static), the CPU unit tests and
# golden suite, the CLI end-to-end test, Vulkan op parity on Debian's arm64
# lavapipe, the Jetson bundle (scripts/package-jetson.sh) unpacked into an
# empty folder and its selftest.sh, and the CUDA sources for sm_87 (and sm_72
# where the local nvcc has it). Installs what is missing (Debian 12, arm64
# multiarch); prints a summary and exits non-zero if anything that was checked
# failed. Skips are said as such.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

TRIPLE=aarch64-linux-gnu
BUILD=build/jetson
JOBS=$(nproc)
# Mesa's arm64 lavapipe (Vulkan on the CPU, here emulated), whatever other
# drivers the host has; shader caches in the build folder, so a clean clone
# starts cold.
export VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.aarch64.json
export XDG_CACHE_HOME=$PWD/$BUILD/cache GANTRY_CACHE_DIR=$PWD/$BUILD/cache/gantry
LOG=$BUILD/cross-test.log

summary=()
failed=0
ok()   { summary+=("ok      $*"); }
bad()  { summary+=("FAILED  $*"); failed=1; }
skip() { summary+=("skipped $*"); echo "cross-test: skipped: $*"; }
step() { echo; echo "-- cross-test: $*"; }
finish() {
  echo
  echo "== cross-test summary (aarch64, $((SECONDS / 60))m$((SECONDS % 60))s) =="
  printf '  %s\n' "${summary[@]}"
  exit "$failed"
}

# ---- packages (idempotent: apt runs only when something is missing)
step "packages"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -qx 'install ok installed'; }
SUDO=()
if ((EUID != 0)); then
  command -v sudo >/dev/null || { echo "cross-test: not root and sudo not found" >&2; exit 1; }
  SUDO=(sudo)
fi
# Host tools, then arm64 libraries beside the host's (multiarch). libgtest-dev:arm64
# is Debian's own arm64 build of the same GoogleTest version the native build
# uses; mesa-vulkan-drivers:arm64 brings lavapipe and the arm64 glibc the
# emulated programs run on (toolchains/aarch64-linux-gnu.cmake).
PKGS=(crossbuild-essential-arm64 qemu-user cmake ninja-build file libstb-dev glslang-tools
      libgtest-dev:arm64 libvulkan-dev:arm64 libvulkan1:arm64 mesa-vulkan-drivers:arm64)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${SUDO[@]}" dpkg --add-architecture arm64
fi
missing=()
for p in "${PKGS[@]}"; do installed "$p" || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "cross-test: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update || { echo "cross-test: apt-get update failed" >&2; exit 1; }
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
    { echo "cross-test: apt-get install failed" >&2; exit 1; }
else
  echo "cross-test: packages present"
fi

# ---- configure + build
step "configure + build (preset jetson)"
mkdir -p "$BUILD"
t0=$SECONDS
if ! cmake --preset jetson -DGANTRY_TESTS=ON -DGANTRY_WERROR=ON 2>&1 | tee "$LOG"; then
  bad "configure (see $LOG)"; finish
fi
backends=$(grep -o 'gantry backends: .*' "$LOG" | tail -1)
if ! cmake --build --preset jetson -j "$JOBS" 2>&1 | tee -a "$LOG"; then
  bad "build (see $LOG)"; finish
fi
ok "configure + build in $((SECONDS - t0))s, $TRIPLE-g++ $($TRIPLE-g++ -dumpfullversion), ${backends:-backends ?}"
# The arm64 glibc installed above (multiarch) is what the emulated programs
# run on, as ctest does (toolchains/aarch64-linux-gnu.cmake): plain qemu.
QEMU=(qemu-aarch64)

# ---- the two binaries
step "the binaries"
expect_file() {  # expect_file BINARY WHAT PATTERN...
  local bin=$1 what=$2 desc
  shift 2
  desc=$(file -b "$bin")
  echo "$bin: $desc ($(stat -c %s "$bin") bytes)"
  for p in "$@"; do
    [[ $desc == *"$p"* ]] || { bad "$bin is not $what: $desc"; return; }
  done
  ok "$bin: $what"
}
expect_file "$BUILD/gantry" "a dynamic, stripped aarch64 ELF" "ARM aarch64" "dynamically linked" ", stripped"
expect_file "$BUILD/gantry-static" "a static, stripped aarch64 ELF" "ARM aarch64" "statically linked" ", stripped"
if out=$(scripts/check-glibc.sh "$BUILD/gantry" 2.35 2>&1); then ok "$out"; else bad "$out"; fi
# The check itself must catch a newer symbol: a probe that calls arc4random (glibc 2.36).
probe=$BUILD/glibc-probe
printf '#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n' >"$probe.c"
if $TRIPLE-gcc -o "$probe" "$probe.c" && ! out=$(scripts/check-glibc.sh "$probe" 2.35 2>&1) &&
   [[ $out == *arc4random@GLIBC_2.36* ]]; then
  ok "check-glibc.sh refuses a probe that needs arc4random@GLIBC_2.36 and names it"
else
  bad "check-glibc.sh did not refuse the arc4random probe: $out"
fi
for bin in gantry gantry-static; do
  "${QEMU[@]}" "$BUILD/$bin" info || bad "$bin info under qemu"
done

# ---- CPU unit tests + golden suite under qemu (ctest prefixes CMAKE_CROSSCOMPILING_EMULATOR)
# The jetson test preset leaves out the command-line scripts (cli.train, run
# below through a wrapper; cli.images, cli.model.* and cli.hostile, which run
# the native binary's checks) and the classifier's 400-step training on real digits,
# which takes about 20 minutes emulated on two cores (18 s natively, where the
# ci stage runs it). GANTRY_CROSS_FULL=1 runs every CPU test here.
step "CPU unit tests + golden suite under ${QEMU[*]}"
t0=$SECONDS
if [[ ${GANTRY_CROSS_FULL:-0} == 1 ]]; then
  ctest --test-dir "$BUILD" -L cpu -E '^cli\.(train|images|model\..*|hostile)$' -j "$JOBS" --output-on-failure 2>&1 | tee "$BUILD/ctest-cpu.log"
else
  ctest --preset jetson -L cpu -j "$JOBS" 2>&1 | tee "$BUILD/ctest-cpu.log"
fi
rc=${PIPESTATUS[0]}
line=$(grep -E 'tests passed' "$BUILD/ctest-cpu.log" | tail -1)
if ((rc == 0)) && [[ -n $line ]]; then
  ok "ctest -L cpu under qemu in $((SECONDS - t0))s: $line (NEON GEMM: Gemm.*)"
else
  bad "ctest -L cpu under qemu (rc $rc): ${line:-no summary line}"
fi
if grep -qE 'Test +#[0-9]+: golden\.cpu \.+ +Passed' "$BUILD/ctest-cpu.log"; then
  ok "golden suite (gantry golden --backend cpu tests/golden/conv_transpose2d) passed under qemu"
else
  bad "golden suite did not pass under qemu"
fi
[[ ${GANTRY_CROSS_FULL:-0} == 1 ]] ||
  skip "Classifier.TrainsOnRealDigitsAndSeparatesThemFromNoise under qemu (~20 min emulated, 18 s natively in the ci stage; GANTRY_CROSS_FULL=1 runs it)"

# cli_train.sh runs the binary itself (and sends it signals), so it gets a
# wrapper; exec keeps the pid, and qemu-user passes the signal to the program.
# It runs the static binary: the dynamic one's CPU path is the tests' above.
step "CLI end to end (tests/cli_train.sh) with gantry-static under qemu"
wrapper=$BUILD/gantry-static-qemu
# shellcheck disable=SC2016  # $0 and $@ belong in the wrapper, unexpanded
printf '#!/bin/sh\nexec %s "$(dirname "$0")/gantry-static" "$@"\n' "${QEMU[*]}" >"$wrapper"
chmod +x "$wrapper"
t0=$SECONDS
if tests/cli_train.sh "$wrapper"; then
  ok "cli_train.sh (train, resume, signals, bad input) with gantry-static under qemu in $((SECONDS - t0))s"
else
  bad "cli_train.sh with gantry-static under qemu"
fi

# ---- Vulkan on arm64 lavapipe, emulated, beside the Jetson bundle's self-test
# lavapipe builds each pipeline's machine code with LLVM at its first
# dispatch, and under qemu that costs 5-15 s of CPU per shader variant
# (conv_gemm is specialized per shape), and a narrow dcgan28 step takes ~10 s:
# the whole gpu label is about 20 minutes of CPU here. So this runs a subset:
# the op cases that reduce (the only shader with subgroup operations, whose
# subgroups here are 4 lanes) and the matrix products (one shader,
# conv_gemm.comp, in four modes): conv_transpose2d, whose backward runs the
# conv2d and weight-gradient modes, and one matmul (the conv2d case would run
# the same three modes again: 95 s), with fills, optimizers, NaN propagation,
# host access and the binding windows; not the elementwise and data-movement
# op cases (shaders with nothing that depends on the device's width, run
# natively in the ci and small-GPU stages) nor the step-by-step training
# tracking (the self-test trains and samples on Vulkan instead), nor fp16
# storage: arm64 lavapipe with LLVM 15 cannot compile a 16-bit storage load
# (LLVM aborts: "Cannot select: v4f32 = fp_extend v4i16"), so gantry runs fp16
# in float32 on it (fp16_miscompiles in compute_shaders/vulkan_backend.cpp);
# the _f16 builds run natively in the ci and small-GPU stages, and the half
# conversions' C++ in test_half above.
# lavapipe on arm64 is 128 bits wide: subgroups of 4, as on many phone and
# embedded GPUs. GANTRY_CROSS_FULL=1 runs every gpu-labelled test.
# The tests run two at a time beside the self-test (mostly one compiling
# thread), whose training run is cut to 6 steps here (20 on a board).
step "Vulkan (arm64 lavapipe) under qemu, beside the Jetson bundle's self-test"
t0=$SECONDS
heavy='vulkan_(large_(conv|matmul)|conv2d|conv_transpose2d_|matmul_ta_(0_tb_1|1_)|linear)|TracksCpu|vulkan_dcgan64|^golden\.|^vulkan\.'
elementwise='vulkan_((large_)?(add|sub|mul|div|sqrt|square|exp|relu|sigmoid|tanh|clamp|leaky_relu|slice|gather|concat|reshape|scale|broadcast_to)(_backward|_broadcast)?)( |$)'
heavy="$heavy|$elementwise|vulkan_fp16|Fp16\."
if [[ ${GANTRY_CROSS_FULL:-0} == 1 ]]; then heavy='^$'; fi
ctest --test-dir "$BUILD" -L gpu -E "$heavy" -j 2 --output-on-failure >"$BUILD/ctest-vulkan.log" 2>&1 &
ctest_pid=$!

# The bundle from an empty folder: selftest.sh runs info, the golden suite on
# every backend, a training run and a sample grid on Vulkan. Here the
# golden folder is one case, dcgan28's 7 → 14 layer (~50 s of emulated
# compiling per case on Vulkan; ctest ran all of them on the CPU above), and
# the training run 3 steps: this is the stage's longest path.
if scripts/package-jetson.sh >"$BUILD/package.log" 2>&1; then
  cat "$BUILD/package.log"
  tarball=$(sed -n 's/^package-jetson: \(dist\/[^ ]*\) .*/\1/p' "$BUILD/package.log")
  empty=$(mktemp -d)
  tar -C "$empty" -xzf "$tarball"
  bundle=("$empty"/gantry-*-aarch64-linux)
  subset=$empty/golden-dcgan
  mkdir -p "$subset"
  cp "${bundle[0]}"/golden/conv_transpose2d/case_dcgan28_k4_s2_p1_7_to_14.safetensors "$subset/"
  GANTRY_RUN=${QEMU[*]} SELFTEST_GOLDEN=$subset SELFTEST_OUT=$empty/out SELFTEST_STEPS=3 "${bundle[0]}/selftest.sh" 2>&1 |
    tee "$BUILD/selftest.log"
  if [[ ${PIPESTATUS[0]} == 0 ]] && grep -q '^selftest: PASS' "$BUILD/selftest.log" &&
     grep -q '^ok      train-vulkan' "$BUILD/selftest.log"; then
    ok "bundle $(basename "$tarball") from an empty folder, under qemu in $((SECONDS - t0))s: $(tail -1 "$BUILD/selftest.log")"
  else
    bad "bundle self-test under qemu: $(tail -1 "$BUILD/selftest.log")"
  fi
  rm -rf "$empty"
else
  cat "$BUILD/package.log"
  bad "scripts/package-jetson.sh"
fi

wait "$ctest_pid"
rc=$?
cat "$BUILD/ctest-vulkan.log"
line=$(grep -E 'tests passed' "$BUILD/ctest-vulkan.log" | tail -1)
nskip=$(grep -c 'Skipped' "$BUILD/ctest-vulkan.log")
if ((rc == 0)) && [[ -n $line ]] && ((nskip == 0)); then
  ok "ctest -L gpu (subset) on arm64 lavapipe in $((SECONDS - t0))s: $line"
else
  bad "ctest -L gpu on arm64 lavapipe (rc $rc, $nskip skipped: no Vulkan device is a failure here): ${line:-no summary line}"
fi

# ---- CUDA device code for Xavier (sm_72) and Orin (sm_87)
step "CUDA sources for sm_72 and sm_87"
shopt -s nullglob
cu=(cuda/*.cu)
shopt -u nullglob
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
if ((${#cu[@]} == 0)); then
  skip "CUDA: no CUDA sources yet (cuda/*.cu is empty)"
elif [[ ! -x $NVCC ]]; then
  skip "CUDA: nvcc not found (set NVCC=...)"
else
  have=$("$NVCC" --list-gpu-arch)
  gencode=() unsupported=()
  for a in 72 87; do
    if grep -qx "compute_$a" <<<"$have"; then
      gencode+=(-gencode "arch=compute_$a,code=sm_$a")
    else
      unsupported+=("sm_$a")
    fi
  done
  nvver=$("$NVCC" --version | grep -o 'release [0-9.]*')
  ((${#unsupported[@]})) && skip "CUDA: ${unsupported[*]} not checked: $NVCC ($nvver) does not list it in --list-gpu-arch (sm_72, Xavier, needs CUDA <= 12; sm_87, Orin, CUDA >= 11.4)"
  if ((${#gencode[@]})); then
    tmp=$(mktemp -d)
    cu_ok=1
    for f in "${cu[@]}"; do
      "$NVCC" -std=c++20 -I. "${gencode[@]}" -c "$f" -o "$tmp/$(basename "$f").o" || { cu_ok=0; bad "nvcc ${gencode[*]} $f"; }
    done
    rm -rf "$tmp"
    ((cu_ok)) && ok "CUDA: ${#cu[@]} .cu files compile with ${gencode[*]} ($nvver)"
  fi
fi

finish

#!/usr/bin/env bash
# Cross-compile gantry for aarch64 (Jetson) with the `jetson-cross` preset and
# prove the result runs: the CPU unit tests, the golden suite and the CLI
# end-to-end test under qemu-aarch64, `file` on the static binary, the Vulkan
# tests on arm64 lavapipe and the CUDA sources for sm_72/sm_87 where those exist.
# Installs what is missing (Debian 12, arm64 multiarch); prints a summary and
# exits non-zero if anything that was checked failed. Skips are said as such.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

TRIPLE=aarch64-linux-gnu
BUILD=build/jetson-cross
JOBS=$(nproc)
# Same as the toolchain's CMAKE_CROSSCOMPILING_EMULATOR (it says why LD_LIBRARY_PATH).
QEMU=(qemu-aarch64 -L "/usr/$TRIPLE" -E "LD_LIBRARY_PATH=/usr/$TRIPLE/lib")
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
# is Debian's own arm64 build of the same GoogleTest version the native build uses.
PKGS=(crossbuild-essential-arm64 qemu-user cmake ninja-build file libstb-dev
      libgtest-dev:arm64)
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
step "configure + build (preset jetson-cross)"
mkdir -p "$BUILD"
t0=$SECONDS
if ! cmake --preset jetson-cross -DGANTRY_TESTS=ON -DGANTRY_WERROR=ON 2>&1 | tee "$LOG"; then
  bad "configure (see $LOG)"; finish
fi
backends=$(grep -o 'gantry backends: .*' "$LOG" | tail -1)
if ! cmake --build --preset jetson-cross -j "$JOBS" 2>&1 | tee -a "$LOG"; then
  bad "build (see $LOG)"; finish
fi
ok "configure + build in $((SECONDS - t0))s, $TRIPLE-g++ $($TRIPLE-g++ -dumpfullversion), ${backends:-backends ?}"

# ---- the binary: aarch64, static, stripped
step "file $BUILD/gantry"
desc=$(file -b "$BUILD/gantry")
echo "$desc"
if [[ $desc == *"ARM aarch64"* && $desc == *"statically linked"* && $desc == *", stripped"* ]]; then
  ok "gantry: $desc"
else
  bad "gantry is not a static, stripped aarch64 ELF: $desc"
fi
echo "size: $(stat -c %s "$BUILD/gantry") bytes"
"${QEMU[@]}" "$BUILD/gantry" info || bad "gantry info under qemu"

# ---- CPU unit tests + golden suite under qemu (ctest prefixes CMAKE_CROSSCOMPILING_EMULATOR)
# The jetson-cross test preset leaves out the command-line scripts (cli.train,
# run below through a wrapper; cli.model.* and cli.hostile, which run the
# native binary's checks) and the classifier's 400-step training on real
# digits, which takes about 20 minutes emulated on two cores (18 s natively,
# where the ci stage runs it). GANTRY_CROSS_FULL=1 runs every test here.
step "CPU unit tests + golden suite under ${QEMU[*]}"
t0=$SECONDS
if [[ ${GANTRY_CROSS_FULL:-0} == 1 ]]; then
  ctest --test-dir "$BUILD" -L cpu -E '^cli\.(train|model\..*|hostile)$' -j "$JOBS" --output-on-failure 2>&1 | tee "$BUILD/ctest-cpu.log"
else
  ctest --preset jetson-cross -L cpu -j "$JOBS" 2>&1 | tee "$BUILD/ctest-cpu.log"
fi
rc=${PIPESTATUS[0]}
line=$(grep -E 'tests passed' "$BUILD/ctest-cpu.log" | tail -1)
if ((rc == 0)) && [[ -n $line ]]; then
  ok "ctest -L cpu under qemu in $((SECONDS - t0))s: $line"
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

# cli_train.sh runs the binary itself (and sends it SIGINT), so it gets a
# wrapper; exec keeps the pid, and qemu-user passes the signal to the program.
step "CLI end to end (tests/cli_train.sh) under qemu"
wrapper=$BUILD/gantry-qemu
# shellcheck disable=SC2016  # $0 and $@ belong in the wrapper, unexpanded
printf '#!/bin/sh\nexec %s "$(dirname "$0")/gantry" "$@"\n' "${QEMU[*]}" >"$wrapper"
chmod +x "$wrapper"
t0=$SECONDS
if tests/cli_train.sh "$wrapper"; then
  ok "cli_train.sh (train, resume, SIGINT checkpoint, bad input) under qemu in $((SECONDS - t0))s"
else
  bad "cli_train.sh under qemu"
fi

# ---- Vulkan on arm64: not in the static cross binary
# A static executable cannot dlopen the board's Vulkan loader (it would need
# the board's exact glibc), so jetson-cross is CPU only; on the board, build
# natively with the vulkan preset (README, Deploy on a Jetson).
step "Vulkan on arm64"
skip "Vulkan: jetson-cross is a static CPU-only binary; Vulkan on a Jetson is a native build on the board (the same shaders run natively in the ci stage)"

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

#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine or an existing checkout:
# installs missing system packages (idempotent), configures the `ci` preset
# (every backend found is built, warnings are errors), builds, and runs ctest.
# .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
cmake --preset ci -DGANTRY_TESTS=ON
cmake --build --preset ci -j "$(nproc)"
scripts/fetch-mnist.sh data/mnist  # the classifier and eval tests train on real digits
ctest --preset ci -j "$(nproc)"

echo "== stage: aarch64 cross build + qemu tests =="
# Jetson (aarch64): the jetson-cross preset, its CPU tests and golden suite under
# qemu-aarch64, `file` on the static binary (about 2 minutes on two cores).
scripts/cross-test.sh

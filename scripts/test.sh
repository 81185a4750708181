#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine or an existing checkout:
# installs missing system packages (idempotent), configures the `ci` preset
# (every backend found is built, warnings are errors), builds, and runs ctest;
# the GPU tests again on lavapipe with a small GPU's limits; then the
# aarch64 cross build and the Jetson bundle, the CPU tests under ASan + UBSan (scripts/sanitize.sh)
# and a few minutes of fuzzing (scripts/fuzz.sh).
# ctest includes embed.install: cmake --install into a fresh prefix and
# examples/embed built and run against it. .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
scripts/check-format.sh  # every C++/CUDA file as clang-format makes it
cmake --preset ci -DGANTRY_TESTS=ON
cmake --build --preset ci -j "$(nproc)"
scripts/fetch-mnist.sh data/mnist  # the classifier and eval tests train on real digits
ctest --preset ci -j "$(nproc)"

echo "== stage: lavapipe as a small GPU =="
# The gpu-labelled tests (op parity, training tracking, golden, CLI) again, as
# a small embedded GPU would run them: only the limits every Vulkan 1.1 device
# guarantees (16 KiB shared memory, 128 invocations) and a 16 MiB
# storage-buffer range, so arenas are bound through several windows, on the
# staged memory path of a discrete GPU. (Subgroups of 4 instead of 8: arm64
# lavapipe, 128 bits wide, in the aarch64 stage below.) Left out: the ctest
# entries that set these variables themselves (vulkan.parity.*); vulkan.cli,
# whose command line, pipeline cache and no-driver checks do not depend on the
# device's limits (the kernels it runs are the tracking and golden tests');
# the dcgan64 step, whose largest tensor (32 MiB) is over a 16 MiB binding,
# refused by design (VulkanBinding.TensorLargerThanABindingIsRefused); and the
# dcgan28 tracking at full width (98 s of this stage's 115), whose kernels
# under these limits the narrow cgan32 (batch norm in training mode in G and
# D, BCE, every convolution mode) and wgangp28 (dcgan28's generator) runs
# already take.
start=$SECONDS
GANTRY_VULKAN_LIMITS=min GANTRY_VULKAN_NO_UNIFIED=1 \
  ctest --preset ci -L gpu -E 'vulkan\.parity\.|vulkan\.cli|vulkan_dcgan(64|28)' -j "$(nproc)"
echo "small-GPU stage: $((SECONDS - start)) s"

echo "== stage: aarch64 cross build + qemu tests =="
# Jetson (aarch64): the jetson preset's two binaries, the CPU tests and golden
# suite under qemu-aarch64, Vulkan on arm64 lavapipe, the bundle's self-test
# from an empty folder (scripts/cross-test.sh, about 15 minutes on two cores).
start=$SECONDS
scripts/cross-test.sh
echo "aarch64 stage: $((SECONDS - start)) s"

echo "== stage: sanitizers =="
# The CPU tests and tests/cli_train.sh again, built by clang with ASan + UBSan
# (build/asan); any finding fails the stage.
start=$SECONDS
scripts/sanitize.sh
echo "sanitizers stage: $((SECONDS - start)) s"

echo "== stage: fuzz =="
# Each libFuzzer harness (tests/fuzz) for a fixed time from its seed corpus,
# then every saved regression input (build/fuzz).
start=$SECONDS
scripts/fuzz.sh
echo "fuzz stage: $((SECONDS - start)) s"

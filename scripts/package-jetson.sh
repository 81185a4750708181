#!/usr/bin/env bash
# Build the Jetson bundle: dist/gantry-<version>-aarch64-linux.tar.gz with
# gantry (dynamic, Vulkan, glibc <= 2.35), gantry-static (CPU only), the golden
# cases, a short README and selftest.sh (scripts/jetson/). Builds the `jetson`
# preset's two binaries when needed (the cross toolchain: scripts/cross-test.sh
# installs it), refuses a gantry that needs glibc newer than 2.35, and prints
# the tarball's path and SHA-256. File times come from the last commit and
# entries are sorted, so the tarball changes only when its files do.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=build/jetson
version=$(sed -nE 's/^project\(gantry VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || { echo "package-jetson: no version in CMakeLists.txt" >&2; exit 1; }
name=gantry-$version-aarch64-linux

[[ -f $build/CMakeCache.txt ]] || cmake --preset jetson -DGANTRY_TESTS=OFF
cmake --build "$build" --target gantry gantry-static
scripts/check-glibc.sh "$build/gantry" 2.35
file -b "$build/gantry-static" | grep -q 'statically linked' || { echo "package-jetson: gantry-static is not static" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/golden"
cp "$build/gantry" "$build/gantry-static" scripts/jetson/selftest.sh scripts/jetson/README.md "$stage/$name/"
cp -r tests/golden/conv_transpose2d "$stage/$name/golden/"

mkdir -p dist
tarball=dist/$name.tar.gz
epoch=$(git log -1 --format=%ct 2>/dev/null || echo 0)
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" -cf - "$name" |
  gzip -n -9 >"$tarball.part"
mv "$tarball.part" "$tarball"
echo "package-jetson: $tarball ($(stat -c %s "$tarball") bytes)"
sha256sum "$tarball"

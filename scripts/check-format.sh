#!/usr/bin/env bash
# Fails when a tracked C++ or CUDA file differs from what clang-format makes of
# it (.clang-format at the top). GLSL is left out: clang-format 14 splits an
# interface block from its instance name ("} pc;"). Fix with:
#   git ls-files '*.cpp' '*.h' '*.cu' '*.cuh' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v clang-format >/dev/null || { echo "check-format: clang-format is not installed (scripts/setup-deps.sh)" >&2; exit 1; }
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cpp' '*.h' '*.cu' '*.cuh')
if (( ${#bad[@]} )); then
  echo "check-format: ${#bad[@]} file(s) not clang-formatted: ${bad[*]}" >&2
  exit 1
fi
echo "check-format: every C++/CUDA file is clang-formatted ($(clang-format --version | head -1))"

#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz (clang, ASan + UBSan, in
# build/fuzz) and runs each one for SECONDS_PER_HARNESS seconds (default 15:
# seven harnesses, under 2 minutes) from a copy of its seed corpus
# tests/fuzz/corpus/<target>/, then replays every file in
# tests/fuzz/regressions/<target>/, with tests/fuzz/dict/<target>.dict (the
# format's keywords) where there is one. A crash stops nothing else; the script
# fails at the end, naming the saved input (keep it under
# tests/fuzz/regressions/<target>/ once the reader is fixed).
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] [TARGET...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-15}
shift || true
build=${GANTRY_FUZZ_BUILD:-build/fuzz}
jobs=${GANTRY_JOBS:-$(nproc)}
targets=("$@")
(( ${#targets[@]} )) || targets=(safetensors npy idx_images idx_labels golden generator image)

flags="-O1 -g -fno-omit-frame-pointer"
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="$flags" -DCMAKE_CXX_FLAGS_DEBUG="$flags" \
  -DGANTRY_FUZZ=ON -DGANTRY_TESTS=OFF -DGANTRY_VULKAN=OFF -DGANTRY_CUDA=OFF -DGANTRY_WERROR=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
if command -v llvm-symbolizer >/dev/null; then export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer); fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
artifacts=$build/artifacts
mkdir -p "$artifacts"
failed=()
for t in "${targets[@]}"; do
  exe=$build/tests/fuzz/fuzz_$t
  mkdir -p "$work/$t"
  cp tests/fuzz/corpus/"$t"/* "$work/$t/"
  echo "== fuzz $t: ${secs}s from $(ls tests/fuzz/corpus/"$t" | wc -l) seeds"
  # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: a reader
  # that allocates 2 GB from a file of a few kB is a bug too.
  dict=()
  [[ -f tests/fuzz/dict/$t.dict ]] && dict=(-dict="tests/fuzz/dict/$t.dict")
  if ! "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
       -artifact_prefix="$artifacts/$t-" "$work/$t" >"$work/$t.log" 2>&1; then
    tail -n 60 "$work/$t.log"
    failed+=("$t (input saved as $(ls -t "$artifacts/$t-"* 2>/dev/null | head -1))")
  else
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$work/$t.log" | tr '\n' ' '
    echo
  fi
  regressions=(tests/fuzz/regressions/"$t"/*)
  if [[ -e ${regressions[0]} ]]; then
    echo "== replay $t: ${#regressions[@]} regression inputs"
    if ! "$exe" -runs=1 "${regressions[@]}" >"$work/$t.replay.log" 2>&1; then
      tail -n 60 "$work/$t.replay.log"
      failed+=("$t (a regression input crashes again)")
    fi
  fi
done
if (( ${#failed[@]} )); then
  printf 'fuzz: FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} harnesses ran ${secs}s each without a crash; regressions replayed cleanly"

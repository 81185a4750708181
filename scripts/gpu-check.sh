#!/usr/bin/env bash
# One check of gantry's GPU backends on a machine with an NVIDIA GPU:
#   1. build what is missing (CPU + CUDA + Vulkan, tests on) in $GANTRY_BUILD (build/gpu-check);
#   2. every gpu-labelled test (ctest -L gpu), one row per backend by test name,
#      where a skipped test counts as a failure: on this machine both must run;
#   3. compute-sanitizer memcheck and racecheck over one dcgan28 training step;
#   4. the golden suite on every backend, in fp32 and in fp16 storage (and
#      bf16 on the CPU and CUDA);
#   5. `gantry bench` (fp32 and fp16 mixed precision; bf16 on CUDA) beside
#      bench/pytorch_bench.py for dcgan28, cgan32, dcgan64 and wgangp64 at
#      batch 64 and 128;
# then prints one summary table, and exits non-zero if anything failed.
#
# Usage: scripts/gpu-check.sh [--backends cuda,vulkan] [--no-bench]
#   --backends  which GPU backends to check (default both; `vulkan` alone runs
#               the Vulkan half on any Vulkan device, lavapipe included)
# Logs: $GANTRY_BUILD/gpu-check-logs/<check>.log
#
# Vulkan on a machine without Vulkan packages: the NVIDIA driver ships the ICD
# (nvidia_icd.json) but not always the loader (libvulkan.so.1). Carry the loader
# from any Debian/Ubuntu machine of the same architecture:
#   apt-get download libvulkan1 && dpkg -x libvulkan1_*.deb .vulkan-loader
# and this script finds it in .vulkan-loader/usr/lib/<triplet> (or set
# GANTRY_VULKAN_LOADER to the folder holding libvulkan.so.1).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

backends=cuda,vulkan
bench=1
while (($#)); do
  case $1 in
    --backends) backends=${2:?--backends needs a list}; shift 2 ;;
    --no-bench) bench=0; shift ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
has() { [[ ,$backends, == *,$1,* ]]; }
for b in ${backends//,/ }; do
  [[ $b == cuda || $b == vulkan ]] || { echo "gpu-check: unknown backend '$b' (cuda, vulkan)" >&2; exit 2; }
done

build=${GANTRY_BUILD:-build/gpu-check}
logs=$build/gpu-check-logs
rows=()
failed=0
# record CHECK PASS|FAIL SECONDS DETAIL
record() {
  rows+=("$1|$2|$3|$4")
  [[ $2 == PASS ]] || failed=1
}
# check NAME COMMAND...: runs the command with its output in NAME's log.
check() {
  local name=$1 t0=$SECONDS
  shift
  if "$@" >"$logs/$name.log" 2>&1; then
    record "$name" PASS $((SECONDS - t0)) ""
  else
    record "$name" FAIL $((SECONDS - t0)) "exit $?; $(tail -n 1 "$logs/$name.log" | cut -c1-70)"
  fi
}
summary() {
  echo
  echo "== gpu-check summary ($(date -u +%FT%TZ), $(uname -m)) =="
  printf '%-34s %-6s %7s  %s\n' check result seconds detail
  for r in "${rows[@]}"; do
    IFS='|' read -r name result secs detail <<<"$r"
    printf '%-34s %-6s %7s  %s\n' "$name" "$result" "$secs" "$detail"
  done
  echo "logs: $logs"
  if ((failed)); then echo "gpu-check: FAIL"; else echo "gpu-check: PASS"; fi
}

if has cuda; then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu-check: no NVIDIA GPU here (nvidia-smi lists none); --backends vulkan checks Vulkan alone" >&2
    exit 77
  fi
  nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader
fi

# The Vulkan loader: installed, or carried (see above).
if has vulkan && ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  for d in "${GANTRY_VULKAN_LOADER:-}" .vulkan-loader/usr/lib/"$(uname -m)"-linux-gnu; do
    if [[ -n $d && -e $d/libvulkan.so.1 ]]; then
      export LD_LIBRARY_PATH=$(cd "$d" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
      break
    fi
  done
fi
# The NVIDIA ICD where the loader does not look by default (containers mount it elsewhere).
if has vulkan && has cuda && [[ -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]] &&
  ! ls /usr/share/vulkan/icd.d/nvidia_icd*.json /etc/vulkan/icd.d/nvidia_icd*.json >/dev/null 2>&1; then
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json /usr/lib/x86_64-linux-gnu/nvidia/nvidia_icd.json; do
    [[ -e $f ]] && { export VK_DRIVER_FILES=$f; break; }
  done
fi

mkdir -p "$build" && mkdir -p "$logs"

# 1. Build: configure once (a backend asked for must be found), then build what is stale.
t0=$SECONDS
{
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGANTRY_TESTS=ON \
      -DGANTRY_CUDA="$(has cuda && echo ON || echo OFF)" -DGANTRY_VULKAN="$(has vulkan && echo ON || echo OFF)"
  fi && cmake --build "$build" -j "$(nproc)"
} >"$logs/build.log" 2>&1 && record build PASS $((SECONDS - t0)) "$build" ||
  { record build FAIL $((SECONDS - t0)) "see $logs/build.log"; summary; exit 1; }
gantry=$build/gantry
"$gantry" info | tee "$logs/info.log"

# 2. The gpu-labelled tests, one row per backend (tests whose name holds it,
# lower case or capitalized); a skip is a failure here.
for b in ${backends//,/ }; do
  name=gpu-tests.$b
  t0=$SECONDS
  ctest --test-dir "$build" -L gpu -R "$b|${b^}" -j "$(nproc)" --output-on-failure >"$logs/$name.log" 2>&1
  rc=$?
  total=$(grep -c ' Test *#[0-9]*: ' "$logs/$name.log")
  skipped=$(grep -c '\*\*\*Skipped\| Not Run' "$logs/$name.log")
  if ((rc != 0 || skipped > 0 || total == 0)); then
    record "$name" FAIL $((SECONDS - t0)) "ctest exit $rc, $total tests, $skipped skipped"
  else
    record "$name" PASS $((SECONDS - t0)) "$total tests"
  fi
done

# 3. One training step under compute-sanitizer's memcheck and racecheck.
if has cuda; then
  if command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck; do
      check "compute-sanitizer.$tool" compute-sanitizer --tool "$tool" --error-exitcode 1 \
        "$gantry" bench --model dcgan28 --backend cuda --batch 8 --steps 1 --warmup 0
    done
  else
    record compute-sanitizer FAIL 0 "compute-sanitizer not found (it ships with the CUDA Toolkit)"
  fi
fi

# 4. The golden suite on the CPU and every GPU backend checked, in each precision it has.
for p in fp32 fp16 bf16; do
  for b in cpu ${backends//,/ }; do
    [[ $p == bf16 && $b == vulkan ]] && continue  # not built for Vulkan
    check "golden.$b.$p" "$gantry" golden --backend "$b" --precision "$p" tests/golden
  done
done

# 5. gantry beside PyTorch, same networks and steps, in one run.
if ((bench)); then
  models=dcgan28,cgan32,dcgan64,wgangp64
  bench_gantry() {
    "$gantry" bench --model "$models" --backend "$backends" --precision fp32,fp16 --batch 64,128 --steps 20 --warmup 3 &&
      if has cuda; then
        "$gantry" bench --model "$models" --backend cuda --precision bf16 --batch 64,128 --steps 20 --warmup 3
      fi
  }
  check bench.gantry bench_gantry
  if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    check bench.pytorch python3 bench/pytorch_bench.py --models "$models" --batch 64,128 --steps 20 --warmup 3
  else
    record bench.pytorch FAIL 0 "PyTorch with CUDA is not importable here"
  fi
  python3 - "$logs/bench.gantry.log" "$logs/bench.pytorch.log" <<'EOF' || true
import json, sys
runs = {}
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "median_ms_per_step" in r:
            backend = r["backend"] + ("-" + r["precision"] if r.get("precision", "fp32") != "fp32" else "")
            runs[(r["model"], r["batch"], backend)] = r["median_ms_per_step"]
backends = sorted({k[2] for k in runs})
if runs:
    print("\nmedian ms per training step (" + ", ".join(backends) + "; ratio = gantry / pytorch)")
    print(f"{'model':10} {'batch':>5} " + " ".join(f"{b:>10}" for b in backends) + "  ratios")
    for model, batch in sorted({k[:2] for k in runs}):
        ms = {b: runs.get((model, batch, b)) for b in backends}
        cells = " ".join(f"{ms[b]:10.2f}" if ms[b] else f"{'-':>10}" for b in backends)
        ref = ms.get("pytorch")
        ratios = "  ".join(f"{b} {ms[b] / ref:.2f}x" for b in backends if b != "pytorch" and ms[b] and ref)
        print(f"{model:10} {batch:5} {cells}  {ratios}")
EOF
fi

summary
exit "$failed"

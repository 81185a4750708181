#!/usr/bin/env bash
# A gantry with the CUDA backend built in needs no CUDA library until that
# backend is asked for (cuda/cublas_loader.h):
#  1. `ldd gantry` names no libcuda, libcudart or libcublas;
#  2. `gantry help` and `gantry golden --backend cpu` look for no libcu* at all
#     (LD_DEBUG=libs logs every library the dynamic linker searches for, at
#     start-up and through dlopen, found or not; strace, where it works, every
#     open); `gantry info` must look for libcuda.so.1, which shows the log
#     sees the CUDA runtime's own dlopen of the driver;
#  3. with every CUDA library on this machine hidden (an empty file mounted
#     over each, in a private mount namespace: `unshare -rm`), help, info and
#     golden on the CPU succeed and golden on CUDA exits 77 (no device); with
#     only cuBLAS hidden on a machine with a CUDA device, the backend is
#     refused with "cuBLAS not available" (exit 77).
# Step 3 is reported as not run where user namespaces are not permitted.
# usage: cuda_lazy.sh GANTRY GOLDEN_DIR [CUDA_LIBRARY_DIR]
set -euo pipefail
fail() { echo "FAIL: $*" >&2; exit 1; }
libcu='lib(cuda|cudart|cublas|cublasLt)\.so'

# Inside the private mount namespace (step 3): --hidden GANTRY GOLDEN EMPTY FILES...
if [[ ${1:-} == --hidden ]]; then
  gantry=$2 golden=$3 empty=$4
  shift 4
  for f in "$@"; do
    mount --bind "$empty" "$f" || fail "cannot mount over $f"
    [[ ! -s $f ]] || fail "$f is still readable"
  done
  LD_LIBRARY_PATH=$(mktemp -d)  # an empty folder first in the search
  export LD_LIBRARY_PATH
  out=$(mktemp)
  "$gantry" help >"$out" 2>&1 || { cat "$out"; fail "gantry help without the CUDA libraries"; }
  "$gantry" info >"$out" 2>&1 || { cat "$out"; fail "gantry info without the CUDA libraries"; }
  grep -q '^  cuda: ' "$out" || { cat "$out"; fail "gantry info does not say why cuda is unavailable"; }
  info=$(cat "$out")
  "$gantry" golden --backend cpu "$golden" >"$out" 2>&1 || { cat "$out"; fail "golden on cpu without the CUDA libraries"; }
  for precision in fp32 fp16; do
    rc=0
    "$gantry" golden --backend cuda --precision $precision "$golden" >"$out" 2>&1 || rc=$?
    [[ $rc == 77 ]] || { cat "$out"; fail "golden on cuda ($precision) without the CUDA libraries exited $rc, not 77"; }
  done
  echo "$info" | grep '^  cuda: '
  rm -f "$out"
  exit 0
fi

gantry=$1
golden=$2
cuda_lib_dir=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Link dependencies.
ldd "$gantry" >"$work/ldd" || fail "ldd $gantry"
if grep -E "$libcu" "$work/ldd"; then fail "gantry links the CUDA libraries above; they must be loaded on first use"; fi
echo "ldd: no CUDA library"

# 2. What each command looks for.
traced() {  # traced NAME ARGS...: runs gantry ARGS under LD_DEBUG=libs into $work/NAME.ld
  local name=$1
  shift
  LD_DEBUG=libs LD_DEBUG_OUTPUT=$work/$name.ld "$gantry" "$@" >"$work/$name.out" 2>&1 ||
    { cat "$work/$name.out"; fail "gantry $*"; }
  cat "$work/$name".ld.* >"$work/$name.ld"
}
traced help help
traced golden golden --backend cpu "$golden"
traced info info
for name in help golden; do
  if grep -E "$libcu" "$work/$name.ld"; then fail "gantry $name looked for the CUDA libraries above"; fi
done
grep -q 'libcuda\.so' "$work/info.ld" || fail "gantry info did not probe for libcuda.so.1: the LD_DEBUG log misses dlopen"
if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
  strace -f -e trace=open,openat -o "$work/help.strace" "$gantry" help >/dev/null
  strace -f -e trace=open,openat -o "$work/golden.strace" "$gantry" golden --backend cpu "$golden" >/dev/null
  if grep -E "$libcu" "$work/help.strace" "$work/golden.strace"; then fail "gantry opened the CUDA files above"; fi
  echo "help, golden --backend cpu: no libcu* looked for (LD_DEBUG, strace)"
else
  echo "help, golden --backend cpu: no libcu* looked for (LD_DEBUG; strace not usable here)"
fi

# 3. No CUDA library on the machine.
if ! unshare -rm true 2>/dev/null; then
  echo "hidden-library run not done: unshare -rm (user namespaces) is not permitted here"
  exit 0
fi
: >"$work/empty.so"
# Every CUDA library the dynamic linker could find: the ld.so cache, the
# toolkit's folder, LD_LIBRARY_PATH (a mount over a link covers its target).
{
  ldconfig -p | sed -n 's/.* => //p'
  for d in $cuda_lib_dir ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }}; do ls "$d"/lib* 2>/dev/null || true; done
} | grep -E "/$libcu" | xargs -r realpath -e 2>/dev/null | sort -u >"$work/cuda_files" || true
mapfile -t files <"$work/cuda_files"
echo "hiding ${#files[@]} CUDA library files"
unshare -rm "$0" --hidden "$gantry" "$golden" "$work/empty.so" "${files[@]}" ||
  fail "with the CUDA libraries hidden (see above)"

# Only cuBLAS hidden: meaningful where a device answers.
mapfile -t blas < <(grep -E '/libcublas' "$work/cuda_files" || true)
if grep -q '^backends:.* cuda' "$work/info.out" && ((${#blas[@]})); then
  unshare -rm bash -c 'for f in "${@:3}"; do mount --bind "$2" "$f"; done; "$1" info' _ "$gantry" "$work/empty.so" \
    "${blas[@]}" >"$work/noblas.out" 2>&1 || { cat "$work/noblas.out"; fail "gantry info without cuBLAS"; }
  grep -q '^  cuda: cuBLAS not available' "$work/noblas.out" || { cat "$work/noblas.out"; fail "no cuBLAS message"; }
  grep '^  cuda: ' "$work/noblas.out"
else
  echo "cuBLAS-only check not done: no CUDA device here"
fi
echo "PASS"

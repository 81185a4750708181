#!/usr/bin/env bash
# gantry bundle self-test: run it on the board from the unpacked folder.
#   ./selftest.sh [MNIST_DIR]
# 1. picks the binary: ./gantry (Vulkan; needs glibc 2.35, JetPack 6) or, where
#    it cannot start, ./gantry-static (CPU only; any glibc, e.g. JetPack 5);
# 2. gantry info;
# 3. the golden suite (golden/conv_transpose2d) on every backend the board has;
# 4. a 20-step (SELFTEST_STEPS) training run of a narrow dcgan28 (16 feature
#    maps, batch 8: every kernel of the model, little arithmetic) on the first GPU backend
#    (else the CPU), on MNIST_DIR when given, else on 256 random images made
#    here (a check of the training path, not a model worth sampling);
# 5. a sample grid from its checkpoint;
# and ends with one line: "selftest: PASS ..." (exit 0) or "selftest: FAIL ..."
# (exit 1). Outputs stay in $SELFTEST_OUT (default ./selftest-out): logs, the
# run and samples.png. SELFTEST_GOLDEN names another folder of golden cases.
# GANTRY_RUN is a command prefix for the binaries, for running this bundle on
# another machine through an emulator (CI: GANTRY_RUN=qemu-aarch64); leave it
# unset on the board.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${SELFTEST_OUT:-$here/selftest-out}
steps=${SELFTEST_STEPS:-20}
golden=${SELFTEST_GOLDEN:-$here/golden/conv_transpose2d}
data=${1:-}
read -r -a run <<<"${GANTRY_RUN:-}"
rm -rf "$out" && mkdir -p "$out" || { echo "selftest: FAIL (cannot create $out)"; exit 1; }

checks=0
failed=()
check() {  # check NAME COMMAND...: runs it with its output in $out/NAME.log
  local name=$1
  shift
  checks=$((checks + 1))
  local t0=$SECONDS
  if "$@" >"$out/$name.log" 2>&1; then
    echo "ok      $name ($((SECONDS - t0)) s)"
  else
    local rc=$?
    echo "FAILED  $name (exit $rc, $((SECONDS - t0)) s; last lines of $out/$name.log:)"
    tail -n 5 "$out/$name.log" | sed 's/^/          /'
    failed+=("$name")
  fi
}
finish() {
  if ((${#failed[@]})); then
    echo "selftest: FAIL (${#failed[@]} of $checks checks failed: ${failed[*]}; logs in $out)"
    exit 1
  fi
  echo "selftest: PASS ($checks checks with $(basename "$gantry") on ${backends// /, }; grid: $out/samples.png)"
  exit 0
}

# 1. Which binary: the dynamic one unless this board's glibc (or loader) refuses it.
gantry=$here/gantry
if ! "${run[@]}" "$gantry" info >"$out/info-dynamic.log" 2>&1; then
  echo "note    ./gantry cannot start here (JetPack 5's glibc is older than 2.35?): $(head -n 1 "$out/info-dynamic.log")"
  echo "note    using ./gantry-static (CPU backend only)"
  gantry=$here/gantry-static
fi
g() { "${run[@]}" "$gantry" "$@"; }

# 2. What it sees.
check info g info
cat "$out/info.log"
backends=$(sed -n 's/^backends: //p' "$out/info.log")
[[ -n $backends ]] || { failed+=("backends (gantry info lists none)"); finish; }

# 3. Every kernel check on every backend.
for b in $backends; do
  check "golden-$b" g golden --backend "$b" "$golden"
done

# 4. Training on the board's GPU where there is one.
backend=cpu
for b in $backends; do [[ $b != cpu ]] && { backend=$b; break; }; done
if [[ -z $data ]]; then
  data=$out/random-digits
  mkdir -p "$data"
  # IDX files (LeCun's MNIST format): magic, count 256, 28 x 28; labels 0-9.
  { printf '\x00\x00\x08\x03\x00\x00\x01\x00\x00\x00\x00\x1c\x00\x00\x00\x1c'
    head -c $((256 * 784)) /dev/urandom; } >"$data/train-images-idx3-ubyte"
  { printf '\x00\x00\x08\x01\x00\x00\x01\x00'
    for i in $(seq 0 255); do printf "\\x0$((i % 10))"; done; } >"$data/train-labels-idx1-ubyte"
fi
check "train-$backend" g train --model dcgan28 --ngf 16 --ndf 16 --nz 16 --batch 8 --data "$data" --out "$out/run" \
  --steps "$steps" --sample-every "$steps" --log-every 5 --backend "$backend"

# 5. A sample grid from that checkpoint.
check "sample-$backend" g sample --checkpoint "$out/run/checkpoint.safetensors" --n 64 --grid "$out/samples.png" \
  --backend "$backend"
[[ -s $out/samples.png ]] || failed+=("samples.png was not written")
finish

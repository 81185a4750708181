#!/usr/bin/env bash
# The Vulkan backend from the command line: the golden suite runs on it; the
# first start writes the pipeline cache to $GANTRY_CACHE_DIR and a second start
# reads it (both run times are printed, not asserted); training and
# sampling run with --backend vulkan; and with no driver at all the backend is
# refused with a message that says so and lists what is available (exit 77).
# Exits 77 (ctest: skipped) when this machine has no Vulkan device.
set -euo pipefail
gantry=$1
golden=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! "$gantry" info | grep -q '^backends:.* vulkan'; then
  "$gantry" info
  echo "no Vulkan device here: skipped"
  exit 77
fi

export GANTRY_CACHE_DIR=$work/cache
start=$(date +%s%N)
"$gantry" golden --backend vulkan "$golden" >"$work/g1" || { cat "$work/g1"; fail "golden on vulkan"; }
t1=$(( ($(date +%s%N) - start) / 1000000 ))
cache=$(ls "$GANTRY_CACHE_DIR"/vulkan-pipelines-*.bin 2>/dev/null | head -1)
# At least the 32-byte header (VkPipelineCacheHeaderVersionOne); drivers decide
# what else they keep (lavapipe keeps nothing more, NVIDIA keeps the binaries).
[[ -n $cache && $(stat -c %s "$cache") -ge 32 ]] || fail "no pipeline cache written to $GANTRY_CACHE_DIR"
start=$(date +%s%N)
"$gantry" golden --backend vulkan "$golden" >"$work/g2" || fail "golden on vulkan, second start"
t2=$(( ($(date +%s%N) - start) / 1000000 ))
tail -1 "$work/g1"
echo "golden suite on vulkan: ${t1} ms with an empty pipeline cache, ${t2} ms with the cache ($(stat -c %s "$cache") bytes)"

# Train a few small steps and sample from the checkpoint, all on Vulkan.
mkdir -p "$work/data"
printf '\x00\x00\x08\x03\x00\x00\x00\x20\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$work/data/train-images-idx3-ubyte"
head -c $((32 * 784)) /dev/urandom >>"$work/data/train-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x20' >"$work/data/train-labels-idx1-ubyte"
for i in $(seq 0 31); do printf "\\x0$((i % 10))"; done >>"$work/data/train-labels-idx1-ubyte"
"$gantry" train --model dcgan28 --backend vulkan --out "$work/run" --steps 4 --data "$work/data" --batch 8 \
  --nz 8 --ngf 8 --ndf 8 --log-every 2 --sample-every 4 --checkpoint-every 4 >"$work/log" 2>&1 ||
  { cat "$work/log"; fail "train --backend vulkan"; }
[[ -s $work/run/checkpoint.safetensors && -s $work/run/samples/latest.png ]] || fail "train --backend vulkan wrote no checkpoint or grid"
"$gantry" sample --checkpoint "$work/run/checkpoint.safetensors" --backend vulkan --n 8 --grid "$work/s.png" >"$work/log" 2>&1 ||
  { cat "$work/log"; fail "sample --backend vulkan"; }
[[ -s $work/s.png ]] || fail "sample --backend vulkan wrote no grid"
# fp16 storage: sampled on Vulkan, and `gantry info` says whether the device has it.
"$gantry" sample --checkpoint "$work/run/checkpoint.safetensors" --backend vulkan --precision fp16 --n 8 \
  --grid "$work/s16.png" >"$work/log" 2>&1 || { cat "$work/log"; fail "sample --backend vulkan --precision fp16"; }
[[ -s $work/s16.png ]] || fail "sample --precision fp16 on vulkan wrote no grid"
"$gantry" info >"$work/info" 2>&1 || { cat "$work/info"; fail "gantry info"; }
grep -q "fp16 storage: yes" "$work/info" || { cat "$work/info"; fail "gantry info: no fp16 storage line"; }
GANTRY_VULKAN_NO_FP16=1 "$gantry" info >"$work/info" 2>&1 || { cat "$work/info"; fail "gantry info"; }
grep -q "fp16 storage: no (--precision fp16 runs in float32 here)" "$work/info" ||
  { cat "$work/info"; fail "gantry info without 16-bit storage"; }

# No driver: an ICD list that names nothing.
rc=0
VK_ICD_FILENAMES=$work/none.json "$gantry" golden --backend vulkan "$golden" >"$work/out" 2>&1 || rc=$?
[[ $rc == 77 ]] || { cat "$work/out"; fail "without a driver: exit $rc, expected 77"; }
grep -q "not available on this machine: .*(available: cpu" "$work/out" || { cat "$work/out"; fail "without a driver: message"; }
echo "without a driver: $(cat "$work/out")"
echo "vulkan_cli: ok"

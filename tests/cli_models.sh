#!/usr/bin/env bash
# One model of the model table through the command line with its default
# settings (batch, widths, optimizer, sample grid): one training step, which
# writes the run's first sample grid and checkpoint, then `gantry sample` and,
# for unconditional generators, `gantry export` + sampling the exported file.
# Usage: cli_models.sh GANTRY MODEL DATA_DIR
set -euo pipefail
gantry=$1 model=$2 data=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL ($model): $*" >&2; exit 1; }
[[ -s $data/train-images-idx3-ubyte ]] || fail "no digits in $data (scripts/fetch-mnist.sh $data)"

"$gantry" train --model "$model" --out "$work/run" --data "$data" --limit 256 --steps 1 >"$work/log" 2>&1 ||
  { cat "$work/log"; fail "train exited non-zero"; }
for f in samples/step_000001.png samples/latest.png metrics.csv loss.png checkpoint.safetensors; do
  [[ -s $work/run/$f ]] || { cat "$work/log"; fail "missing $f"; }
done
"$gantry" sample --checkpoint "$work/run/checkpoint.safetensors" --n 8 --grid "$work/grid.png" --raw-out "$work/s.npy" \
  >"$work/log2" 2>&1 || { cat "$work/log2"; fail "sample exited non-zero"; }
[[ -s $work/grid.png && -s $work/s.npy ]] || fail "sample wrote no grid or npy"
if [[ $model != cgan32 ]]; then
  "$gantry" export --checkpoint "$work/run/checkpoint.safetensors" --out "$work/G.safetensors" >"$work/log3" 2>&1 ||
    { cat "$work/log3"; fail "export exited non-zero"; }
  "$gantry" sample --weights "$work/G.safetensors" --n 4 --raw-out "$work/w.npy" >"$work/log4" 2>&1 ||
    { cat "$work/log4"; fail "sampling the exported generator exited non-zero"; }
fi
echo "cli_models: $model trained, sampled and exported"

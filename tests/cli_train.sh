#!/usr/bin/env bash
# End-to-end `gantry train` on 64 random 28×28 "digits": outputs appear
# (sample grids, metrics.csv, loss.png, checkpoint), --resume continues to the
# new step count, Ctrl-C (SIGINT) writes a checkpoint and exits 130, and bad
# input (missing data dir, unknown model) exits non-zero naming the problem.
set -euo pipefail
gantry=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# IDX files: magic, count, rows, cols (big-endian), then bytes.
mkdir -p "$work/data"
printf '\x00\x00\x08\x03\x00\x00\x00\x40\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$work/data/train-images-idx3-ubyte"
head -c $((64 * 784)) /dev/urandom >>"$work/data/train-images-idx3-ubyte"
printf '\x00\x00\x08\x01\x00\x00\x00\x40' >"$work/data/train-labels-idx1-ubyte"
for i in $(seq 0 63); do printf "\\x0$((i % 10))"; done >>"$work/data/train-labels-idx1-ubyte"

small=(--data "$work/data" --batch 8 --nz 8 --ngf 8 --ndf 8 --threads 2 --log-every 2)
"$gantry" train --model dcgan28 --out "$work/run" --steps 6 --sample-every 3 --checkpoint-every 3 "${small[@]}" >"$work/log" 2>&1 ||
  { cat "$work/log"; fail "train exited non-zero"; }
for f in samples/step_000003.png samples/step_000006.png samples/latest.png metrics.csv loss.png checkpoint.safetensors; do
  [[ -s $work/run/$f ]] || fail "missing $f"
done
[[ $(wc -l <"$work/run/metrics.csv") -eq 4 ]] || fail "metrics.csv should have a header and 3 rows"
head -1 "$work/run/metrics.csv" | grep -q '^step,loss_D,loss_G,D_x,D_G_z,steps_per_s$' || fail "metrics.csv header"

"$gantry" train --resume "$work/run" --steps 10 --data "$work/data" --threads 2 --log-every 2 >"$work/log2" 2>&1 ||
  { cat "$work/log2"; fail "resume exited non-zero"; }
grep -q "steps 6 -> 10" "$work/log2" || { cat "$work/log2"; fail "resume did not start at step 6"; }
[[ $(tail -1 "$work/run/metrics.csv" | cut -d, -f1) == 10 ]] || fail "metrics.csv does not reach step 10"

# Ctrl-C: a checkpoint is written before exiting with 130.
"$gantry" train --model wgangp28 --out "$work/int" --steps 1000000 "${small[@]}" >"$work/log3" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "^step" "$work/log3" && break; sleep 0.2; done
kill -INT $pid
rc=0
wait $pid || rc=$?
[[ $rc -eq 130 ]] || { cat "$work/log3"; fail "SIGINT exit status $rc, expected 130"; }
grep -q "interrupted at step" "$work/log3" || fail "no interruption message"
[[ -s $work/int/checkpoint.safetensors ]] || fail "no checkpoint after SIGINT"

# Bad input: a clear message and a non-zero exit.
if "$gantry" train --model dcgan28 --out "$work/x" --data "$work/nowhere" >"$work/log4" 2>&1; then fail "missing data accepted"; fi
grep -q "nowhere" "$work/log4" || { cat "$work/log4"; fail "message does not name the data directory"; }
if "$gantry" train --model stylegan --out "$work/x" --data "$work/data" >"$work/log5" 2>&1; then fail "unknown model accepted"; fi
grep -q "stylegan" "$work/log5" || { cat "$work/log5"; fail "message does not name the model"; }
echo "cli_train: all checks passed"

#!/usr/bin/env bash
# End-to-end `gantry train` on 64 random 28×28 "digits": outputs appear
# (sample grids, metrics.csv, loss.png, checkpoint), --resume continues to the
# new step count, SIGINT/SIGTERM/SIGHUP write a checkpoint and exit 128+n, a
# run directory is locked and never overwritten by accident, stale temporary
# files are cleaned up, resume flags are applied or refused, and bad input
# (missing data dir, unknown model) exits non-zero naming the problem.
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

# A signal in the middle: a checkpoint is written before exiting with 128+n
# (SIGINT: Ctrl-C; SIGTERM: a service manager; SIGHUP: a dropped SSH session).
# While the run is alive, a second training of its directory is refused.
# Each run logs to its own file: waiting on a reused log could see the previous
# run's step lines and signal the new process before it is running.
for sig in INT TERM HUP; do
  log=$work/log_$sig
  "$gantry" train --model wgangp28 --out "$work/$sig" --steps 1000000 --sample-every 1 "${small[@]}" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -qs "^step" "$log" && break; sleep 0.2; done
  grep -qs "^step" "$log" || { cat "$log"; fail "SIG$sig: the run printed no step within 20 s"; }
  if [[ $sig == INT ]]; then
    rc=0
    "$gantry" train --model dcgan28 --out "$work/$sig" --overwrite --steps 5 "${small[@]}" >"$work/log_lock" 2>&1 || rc=$?
    [[ $rc -eq 2 ]] && grep -q "another gantry train is using" "$work/log_lock" ||
      { cat "$work/log_lock"; fail "a concurrent training of one run directory was not refused (rc $rc)"; }
  fi
  kill -$sig $pid
  rc=0
  wait $pid || rc=$?
  expected=$((128 + $(kill -l $sig)))
  [[ $rc -eq $expected ]] || { cat "$log"; fail "SIG$sig exit status $rc, expected $expected"; }
  grep -q "interrupted by SIG$sig at step" "$log" || { cat "$log"; fail "no SIG$sig message"; }
  [[ -s $work/$sig/checkpoint.safetensors ]] || fail "no checkpoint after SIG$sig"
  # The interrupted step checkpoints without spending time on its sample grid.
  at=$(grep -o "interrupted by SIG$sig at step [0-9]*" "$log" | grep -o "[0-9]*$")
  [[ ! -e $work/$sig/samples/$(printf 'step_%06d.png' "$at") ]] || fail "SIG$sig: the interrupted step wrote a sample grid"
done
# The checkpoint a signal left is whole: the run resumes from it.
touch "$work/HUP/checkpoint.safetensors.tmp-999999" "$work/HUP/samples/latest.png.tmp-999999"
step=$(grep -o "interrupted by SIGHUP at step [0-9]*" "$work/log_HUP" | grep -o "[0-9]*$")
"$gantry" train --resume "$work/HUP" --steps $((step + 1)) --data "$work/data" >"$work/log6" 2>&1 ||
  { cat "$work/log6"; fail "resume after SIGHUP exited non-zero"; }
grep -q "removed 2 temporary files" "$work/log6" || { cat "$work/log6"; fail "stale temporary files not reported"; }
[[ -z $(find "$work/HUP" -name '*.tmp-*') ]] || fail "stale temporary files left behind"

# A finished run's directory: a new run is refused without --overwrite.
rc=0
"$gantry" train --model dcgan28 --out "$work/run" --steps 2 "${small[@]}" >"$work/log7" 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "already holds a run" "$work/log7" || { cat "$work/log7"; fail "existing run overwritten (rc $rc)"; }
[[ -s $work/run/samples/step_000003.png ]] || fail "the refused run touched the old one"
"$gantry" train --model dcgan28 --out "$work/run" --steps 2 --overwrite "${small[@]}" >"$work/log8" 2>&1 ||
  { cat "$work/log8"; fail "--overwrite exited non-zero"; }
[[ ! -e $work/run/samples/step_000003.png ]] || fail "--overwrite left the old run's samples"

# Resume: optimizer flags apply (and say so); flags that shape the graph or the data order must match.
"$gantry" train --resume "$work/run" --steps 3 --lr 1e-4 --data "$work/data" >"$work/log9" 2>&1 ||
  { cat "$work/log9"; fail "resume with --lr exited non-zero"; }
grep -q "resume: --lr 0.0001 replaces the checkpoint's 0.0002" "$work/log9" || { cat "$work/log9"; fail "--lr on resume not announced"; }
"$gantry" train --resume "$work/run" --steps 4 --limit 40 --data "$work/data" >"$work/log11" 2>&1 ||
  { cat "$work/log11"; fail "resume with --limit exited non-zero"; }
grep -q "resume: 40 images in .* where the run had 64; the minibatch order changes" "$work/log11" ||
  { cat "$work/log11"; fail "a changed data set on resume was not announced"; }
for bad in "--batch 4" "--nz 16" "--n-critic 3" "--seed 9"; do
  rc=0
  "$gantry" train --resume "$work/run" --steps 5 $bad --data "$work/data" >"$work/log10" 2>&1 || rc=$?
  [[ $rc -eq 2 ]] && grep -q "differs from the checkpoint" "$work/log10" ||
    { cat "$work/log10"; fail "resume with $bad not refused (rc $rc)"; }
done

# Bad input: a clear message and a non-zero exit.
if "$gantry" train --model dcgan28 --out "$work/x" --data "$work/nowhere" >"$work/log4" 2>&1; then fail "missing data accepted"; fi
grep -q "nowhere" "$work/log4" || { cat "$work/log4"; fail "message does not name the data directory"; }
if "$gantry" train --model stylegan --out "$work/x" --data "$work/data" >"$work/log5" 2>&1; then fail "unknown model accepted"; fi
grep -q "stylegan" "$work/log5" || { cat "$work/log5"; fail "message does not name the model"; }
echo "cli_train: all checks passed"

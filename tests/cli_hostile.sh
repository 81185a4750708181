#!/usr/bin/env bash
# The command line against hostile input: every subcommand rejects unknown
# flags, out-of-range and malformed numbers with exit 2 and a message naming
# the flag and its range; --help exits 0; outputs never replace a device, a
# directory or their own input; sizes past the memory limit are refused before
# anything is allocated. Each probe states the exit status and a piece of the
# message it expects.
set -uo pipefail
gantry=$1 data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0 probes=0
# expect STATUS PATTERN -- COMMAND...: the command exits STATUS and its stderr+stdout match PATTERN (grep -E).
expect() {
  local want=$1 pattern=$2
  shift 3
  probes=$((probes + 1))
  local out rc=0
  out=$(timeout 120 "$@" 2>&1) || rc=$?
  if [[ $rc -ne $want ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $rc (expected $want), output:" >&2
    head -5 <<<"$out" >&2
    failures=$((failures + 1))
  fi
}

# A small trained run to read from.
"$gantry" train --model dcgan28 --out "$work/run" --data "$data" --limit 64 --batch 8 --nz 8 --ngf 8 --ndf 8 \
  --steps 1 >"$work/log" 2>&1 || { cat "$work/log"; echo "FAIL: setup run" >&2; exit 1; }
ckpt=$work/run/checkpoint.safetensors
sum=$(cksum <"$ckpt")

# --help everywhere, unknown flags everywhere.
for cmd in train sample export eval bench golden info "classifier train"; do
  expect 0 "usage" -- "$gantry" $cmd --help
  expect 2 "unknown flag --frob|unexpected argument '--frob'" -- "$gantry" $cmd --frob 1
done

# Numbers: range, sign, trailing characters, non-finite, missing values.
train=("$gantry" train --model dcgan28 --out "$work/new" --data "$data")
expect 2 "--beta1 2 is out of range \[0, 0.9999\]" -- "${train[@]}" --beta1 2
expect 2 "--beta2 1 is out of range" -- "${train[@]}" --beta2 1
expect 2 "--threads -5 is out of range \[0, 1024\]" -- "${train[@]}" --threads -5
expect 2 "--threads 100000 is out of range" -- "${train[@]}" --threads 100000
expect 2 "--seed takes a number, not '-1'" -- "${train[@]}" --seed -1
expect 2 "--lr -0.001 is out of range" -- "${train[@]}" --lr -0.001
expect 2 "--lr takes a number, not 'nan'" -- "${train[@]}" --lr nan
expect 2 "--lambda takes a number, not 'inf'" -- "${train[@]}" --lambda inf
expect 2 "--n-critic 2000000000 is out of range \[1, 100\]" -- "${train[@]}" --n-critic 2000000000
expect 2 "--batch 100000000 is out of range" -- "${train[@]}" --batch 100000000
expect 2 "--ngf 200000 is out of range" -- "${train[@]}" --ngf 200000
expect 2 "--steps takes a number, not '12x'" -- "${train[@]}" --steps 12x
expect 2 "--steps 0 is out of range" -- "${train[@]}" --steps 0
expect 2 "--steps 99999999999999999999 is out of range" -- "${train[@]}" --steps 99999999999999999999
expect 2 "--clip 0 is out of range" -- "${train[@]}" --clip 0
expect 2 "--limit -1 is out of range" -- "${train[@]}" --limit -1
expect 2 "--steps needs a value" -- "${train[@]}" --steps
expect 2 "--steps is given twice" -- "${train[@]}" --steps 1 --steps 2
expect 2 "unknown model 'stylegan'" -- "$gantry" train --model stylegan --out "$work/new" --data "$data"
expect 2 "--max-memory takes a size" -- "${train[@]}" --max-memory lots
expect 2 "unknown precision 'bf8'" -- "${train[@]}" --precision bf8
expect 2 "backend vulkan: bf16 storage is not built for it" -- "${train[@]}" --precision bf16 --backend vulkan
expect 2 "arena needs .* over the memory limit of 64.0 MiB" -- "${train[@]}" --steps 1 --ngf 256 --max-memory 64M
[[ ! -e $work/new/checkpoint.safetensors ]] || { echo "FAIL: a refused run wrote a checkpoint" >&2; failures=$((failures + 1)); }

sample=("$gantry" sample --checkpoint "$ckpt")
expect 2 "--n 0 is out of range" -- "${sample[@]}" --n 0
expect 2 "--n 4611686018427387904 is out of range" -- "${sample[@]}" --n 4611686018427387904
expect 2 "samples of \[8\] need .* over the memory limit" -- "${sample[@]}" --n 1000000000000
expect 2 "samples of \[1,28,28\] need .* over the memory limit" -- "${sample[@]}" --n 100000 --max-memory 64M --raw-out "$work/x.npy"
expect 2 "--frames 1000000000 is out of range" -- "${sample[@]}" --interpolate 0,1 --frames 1000000000
expect 2 "--interpolate A,B takes two latent indices below 64" -- "${sample[@]}" --interpolate 0,64
expect 2 "--truncation -1 is out of range" -- "${sample[@]}" --truncation -1
expect 2 "--truncation must be 0 \(off\) or at least 0.05" -- "${sample[@]}" --truncation 0.001
expect 2 "--upscale 0 is out of range" -- "${sample[@]}" --upscale 0
expect 2 "--class/--classes need a conditional generator" -- "${sample[@]}" --class 3
expect 2 "give exactly one of --checkpoint and --weights" -- "$gantry" sample --checkpoint "$ckpt" --weights "$ckpt"
expect 2 "--backend.*unknown backend 'gpu'|unknown backend 'gpu'" -- "${sample[@]}" --backend gpu
expect 2 "unknown precision 'half'" -- "${sample[@]}" --precision half
expect 2 "--precision needs a value" -- "${sample[@]}" --precision
expect 2 "unknown precision 'FP16'" -- "$gantry" golden --precision FP16 "$work"
expect 2 "--precision needs a value" -- "$gantry" golden --precision
expect 2 "backend vulkan: bf16 storage is not built for it" -- "${sample[@]}" --precision bf16 --backend vulkan
expect 2 "backend vulkan: bf16 storage is not built for it" -- "$gantry" golden --precision bf16 --backend vulkan "$work"

# Outputs: never a device, a directory, or the input being read.
expect 2 "'/dev/null' is a device" -- "${sample[@]}" --grid /dev/null
expect 2 "is a directory" -- "${sample[@]}" --raw-out "$work"
expect 2 "is the input" -- "${sample[@]}" --grid "$ckpt"
expect 2 "is the input" -- "$gantry" export --checkpoint "$ckpt" --out "$ckpt"
ln -s "$ckpt" "$work/alias.safetensors"
expect 2 "is the input" -- "$gantry" export --checkpoint "$ckpt" --out "$work/alias.safetensors"
expect 2 "'/dev/null' is a device" -- "$gantry" classifier train --data "$data" --out /dev/null
[[ $(cksum <"$ckpt") == "$sum" ]] || { echo "FAIL: the checkpoint changed" >&2; failures=$((failures + 1)); }
mkfifo "$work/fifo"
expect 2 "FIFO" -- "${sample[@]}" --grid "$work/fifo"
expect 2 "gantry reads regular files only|not a regular file" -- "${sample[@]}" --z "$work/fifo"
expect 2 "not a regular file|regular files only" -- "$gantry" sample --weights /dev/zero

# eval: samples with a NaN are named, not averaged into a metric.
"$gantry" classifier train --data "$data" --steps 5 --holdout 10 --out "$work/cls.safetensors" >"$work/log" 2>&1 ||
  { cat "$work/log"; echo "FAIL: classifier setup" >&2; exit 1; }
header="{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 2), }"
{ printf '\x93NUMPY\x01\x00\x76\x00%s%*s\n' "$header" $((117 - ${#header})) ''
  printf '\x00\x00\x00\x00%.0s' 1 2 3 4 5 6; printf '\x00\x00\xc0\x7f\x00\x00\x00\x00'; } >"$work/nan.npy"
expect 2 "nan.npy: sample 1 holds a non-finite value at element 2" -- \
  "$gantry" eval --classifier "$work/cls.safetensors" --samples "$work/nan.npy" --data "$data" --n-real 20

head -c 128 "$work/nan.npy" >"$work/zeros.npy" && head -c 32 /dev/zero >>"$work/zeros.npy"
expect 2 "--n-real 100000 is more than the" -- \
  "$gantry" eval --classifier "$work/cls.safetensors" --samples "$work/zeros.npy" --data "$data" --n-real 100000
# Latents from a file: zero rows or the wrong width are refused before sampling.
header="{'descr': '<f4', 'fortran_order': False, 'shape': (0, 8), }"
printf '\x93NUMPY\x01\x00\x76\x00%s%*s\n' "$header" $((117 - ${#header})) '' >"$work/z0.npy"
expect 2 "z0.npy has shape \[0,8\]; the generator needs \[N, 8\]" -- "${sample[@]}" --z "$work/z0.npy"
expect 2 "--z gives the latents \(and their number\); drop --n" -- "${sample[@]}" --z "$work/z0.npy" --n 3

# Other commands' numbers.
expect 2 "--n 1 is out of range" -- "$gantry" eval --classifier x --checkpoint "$ckpt" --n 1
expect 2 "--batch takes a number, not '12x'" -- "$gantry" bench --batch 12x
expect 2 "--batch 0 is out of range" -- "$gantry" bench --batch 64,0
expect 2 "--steps 0 is out of range" -- "$gantry" bench --steps 0
expect 2 "--precision: unknown precision 'half'" -- "$gantry" bench --precision fp32,half
expect 2 "--precision takes a non-empty value" -- "$gantry" bench --precision ""
expect 2 "--precision: unknown precision '' \(fp32, fp16, bf16\)" -- "$gantry" bench --precision ,
expect 2 "--ema 2 is out of range" -- "$gantry" classifier train --data "$data" --ema 2
expect 2 "the action must be 'train'" -- "$gantry" classifier fit

echo "$((probes - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]

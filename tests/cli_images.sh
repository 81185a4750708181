#!/usr/bin/env bash
# `gantry train`, `sample` and `bench` on image folders the test writes itself
# (tests/make_image_folder.cpp): a 20-step wgangp64 run on RGB images of many
# sizes in PNG/JPEG/BMP/TGA with corrupt files among them (each named on
# stderr, counted in the summary, the run going on), a conditional cgan32 run
# with classes from sub-folders and sampling by class name, a run resumed
# mid-epoch that ends byte-identical to the one that went straight through,
# the decoded cache (in $GANTRY_CACHE_DIR, reused by a second run), and bad
# folders refused before training with a message naming the problem.
set -euo pipefail
gantry=$1
make_folder=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run() {  # run NAME ARGS...: expects success, keeps the log in $work/NAME.log
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>"$work/$name.err" || { cat "$work/$name.log" "$work/$name.err"; fail "$name exited non-zero"; }
}
refused() {  # refused NAME PATTERN ARGS...: expects exit 2 and PATTERN on stderr
  local name=$1 pattern=$2 rc=0
  shift 2
  "$@" >"$work/$name.log" 2>"$work/$name.err" || rc=$?
  [[ $rc -eq 2 ]] && grep -q -- "$pattern" "$work/$name.err" ||
    { cat "$work/$name.log" "$work/$name.err"; fail "$name: rc $rc, expected 2 and '$pattern'"; }
}

# RGB, flat (no classes), three corrupt files.
"$make_folder" "$work/faces" --classes "" --per-class 60 --min 30 --max 120 --corrupt 3 >"$work/corrupt.txt"
[[ $(wc -l <"$work/corrupt.txt") -eq 3 ]] || fail "make_image_folder wrote no corrupt files"
small=(--batch 8 --nz 8 --ngf 4 --ndf 4 --threads 2 --log-every 5 --sample-every 10)
export GANTRY_CACHE_DIR=$work/cache
run wgangp64 "$gantry" train --model wgangp64 --data "$work/faces" --out "$work/rgb" --steps 20 --batch 4 "${small[@]:2}"
grep -q "images (RGB) from $work/faces" "$work/wgangp64.log" || { cat "$work/wgangp64.log"; fail "no image-folder header"; }
grep -q "^data cache: $work/cache/gantry-data-" "$work/wgangp64.log" || fail "no cache line"
while read -r bad; do
  grep -qF "skipped image '$bad': " "$work/wgangp64.err" || { cat "$work/wgangp64.err"; fail "$bad not named"; }
done <"$work/corrupt.txt"
grep -q "skipped 3 unreadable images" "$work/wgangp64.log" || { cat "$work/wgangp64.log"; fail "no skip count"; }
python_free_png_check() {  # an RGB PNG: colour type 2 at byte 25
  [[ $(od -An -tu1 -j25 -N1 "$1" | tr -d ' ') == 2 ]]
}
python_free_png_check "$work/rgb/samples/latest.png" || fail "the wgangp64 sample grid is not RGB"
ls "$work/cache"/gantry-data-*.u8 >/dev/null || fail "no complete cache after 400 rows of 62"

# A resumed run ends where a straight one does (the straight run builds the
# 28x28 cache, the others read it).
run straight "$gantry" train --model dcgan28 --data "$work/faces" --out "$work/straight" --steps 12 "${small[@]}"
run half "$gantry" train --model dcgan28 --data "$work/faces" --out "$work/resumed" --steps 5 "${small[@]}"
grep -q "(reading)" "$work/half.log" || { cat "$work/half.log"; fail "the cache was not reused"; }
run resume "$gantry" train --resume "$work/resumed" --data "$work/faces" --steps 12 --threads 2 --log-every 5 --sample-every 10
cmp "$work/straight/checkpoint.safetensors" "$work/resumed/checkpoint.safetensors" ||
  fail "a run resumed mid-epoch (step 5: position 40 of epochs of 62 rows) differs from the straight run"

# Conditional: classes from sub-folders, gray by default for gray files.
"$make_folder" "$work/shapes" --classes "disc,square,bar" --per-class 20 --gray --min 16 --max 48 >/dev/null
run cgan32 "$gantry" train --model cgan32 --data "$work/shapes" --out "$work/cond" --steps 6 --no-cache "${small[@]}"
grep -q "images (gray) from $work/shapes, 3 classes" "$work/cgan32.log" || { cat "$work/cgan32.log"; fail "no class count"; }
run by_name "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --class square --n 4 --raw-out "$work/sq.npy" --grid "$work/sq.png"
run by_index "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --class 2 --n 4 --grid "$work/bar.png"
refused bad_class "neither a class name nor an index 0..2 (classes: bar, disc, square)" \
  "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --class circle
run all_classes "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --n 3 --grid "$work/all.png"
# fp16 storage (the CPU reference), a class by name; an unknown precision is refused by name.
run half "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --class bar --n 4 --precision fp16 \
  --raw-out "$work/half.npy"
run half_bf16 "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --class bar --n 4 --precision bf16 \
  --raw-out "$work/bf16.npy"
refused bad_precision "unknown precision 'fp8' (fp32, fp16, bf16)" \
  "$gantry" sample --checkpoint "$work/cond/checkpoint.safetensors" --precision fp8
# Resuming on a folder with other classes would change what a label means.
"$make_folder" "$work/other" --classes "disc,square" --per-class 10 --gray >/dev/null
refused other_classes "are not the ones" "$gantry" train --resume "$work/cond" --data "$work/other" --steps 8
# RGB images as gray, on request.
run gray "$gantry" train --model dcgan28 --data "$work/faces" --out "$work/gray" --steps 2 --channels 1 "${small[@]}"
grep -q "images (gray)" "$work/gray.log" || fail "--channels 1 ignored"

# Bench with --data: the first epoch's rate and the overhead beside random data.
run bench "$gantry" bench --model dcgan28 --batch 8 --steps 3 --warmup 1 --threads 2 --data "$work/shapes"
grep -q '"first_epoch_images_per_s":[0-9]' "$work/bench.log" && grep -q '"data_overhead":' "$work/bench.log" ||
  { cat "$work/bench.log"; fail "bench --data figures missing"; }

# Folders refused before training.
mkdir -p "$work/empty" "$work/junk"
echo "not an image" >"$work/junk/notes.txt"
head -c 500 /dev/urandom >"$work/junk/noise.png"
refused empty "holds no image files" "$gantry" train --model dcgan28 --data "$work/empty" --out "$work/r1" --steps 1
refused junk "no usable image" "$gantry" train --model dcgan28 --data "$work/junk" --out "$work/r2" --steps 1
refused missing "does not exist" "$gantry" train --model dcgan28 --data "$work/nope" --out "$work/r3" --steps 1
"$make_folder" "$work/tiny" --classes "" --per-class 4 --min 8 --max 12 >/dev/null
refused tiny "under the minimum of 16 pixels" "$gantry" train --model dcgan64 --data "$work/tiny" --out "$work/r4" --steps 1
refused flat_cgan "every image goes in a class sub-folder" "$gantry" train --model cgan32 --data "$work/faces" --out "$work/r5" --steps 1
refused channels "--channels takes 1 (gray) or 3 (RGB)" \
  "$gantry" train --model dcgan28 --data "$work/faces" --out "$work/r6" --steps 1 --channels 2
for d in r1 r2 r3 r4 r5 r6; do [[ ! -e $work/$d/checkpoint.safetensors ]] || fail "$d wrote a checkpoint"; done
echo "cli_images: PASS"

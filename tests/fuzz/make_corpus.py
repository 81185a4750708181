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

# image: tiny PNG, JPEG, BMP and TGA files for decode_image, one per variant
# stb_image takes a different path for: PNG gray / gray+alpha / RGB / RGBA /
# palette with tRNS / 1-bit / 16-bit / Adam7-interlaced / every row filter;
# baseline JPEG gray, 4:2:0 colour and 4:4:4 with restart markers (encoded
# below with fixed-length Huffman codes, which T.81 allows); BMP 24-bit
# bottom-up, 8-bit palette top-down, 1-bit and 32-bit with an alpha mask
# (BITMAPV4HEADER); TGA RGB, RLE RGBA, gray and colour-mapped.
import math
import zlib


def pixel(x, y, k):
    """A small pattern: gradients, a diagonal edge, a per-channel offset."""
    return (x * 37 + y * 23 + k * 80 + (120 if x > y else 0)) % 256


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_filter(kind, row, prev, bpp):
    """PNG row filters 0-4 (PNG specification, section 9)."""
    out = bytearray()
    for i, v in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 0:
            pred = 0
        elif kind == 1:
            pred = a
        elif kind == 2:
            pred = b
        elif kind == 3:
            pred = (a + b) // 2
        else:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
        out.append((v - pred) % 256)
    return bytes([kind]) + bytes(out)


def png(w, h, colour_type, depth, rows, extra=b"", interlace=False, filters=(0,)):
    """rows(x0, y0, dx, dy) -> the raw (unfiltered) scanlines of that sub-image."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour_type]
    bpp = max(1, channels * depth // 8)
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in (passes if interlace else [(0, 0, 1, 1)]):
        lines = rows(x0, y0, dx, dy)
        prev = bytes(len(lines[0])) if lines else b""
        for i, line in enumerate(lines):
            raw += png_filter(filters[i % len(filters)], line, prev, bpp)
            prev = line
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour_type, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra + png_chunk(b"IDAT", zlib.compress(raw, 9)) +
            png_chunk(b"IEND", b""))


def rows8(w, h, channels):
    """8-bit scanlines of pixel() for any sub-image (x0, y0, dx, dy)."""
    def rows(x0, y0, dx, dy):
        return [bytes(pixel(x, y, k) for x in range(x0, w, dx) for k in range(channels)) for y in range(y0, h, dy)
                if x0 < w]
    return rows


put("image", "gray.png", png(5, 4, 0, 8, rows8(5, 4, 1)))
put("image", "gray_alpha.png", png(4, 2, 4, 8, rows8(4, 2, 2)))
put("image", "rgb_filters.png", png(6, 5, 2, 8, rows8(6, 5, 3), filters=(0, 1, 2, 3, 4)))
put("image", "rgba.png", png(3, 3, 6, 8, rows8(3, 3, 4)))
put("image", "palette_trns.png", png(4, 4, 3, 8, lambda x0, y0, dx, dy: [bytes((x + y) % 3 for x in range(4))
                                                                      for y in range(4)],
                                     png_chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255])) +
                                     png_chunk(b"tRNS", bytes([255, 128]))))
put("image", "bits1.png", png(10, 2, 0, 1, lambda x0, y0, dx, dy: [bytes([0b10110011, 0b01000000]),
                                                                   bytes([0b01001100, 0b10000000])]))
put("image", "rgb16.png", png(2, 2, 2, 16, lambda x0, y0, dx, dy: [
    b"".join(struct.pack(">H", pixel(x, y, k) * 257) for x in range(2) for k in range(3)) for y in range(2)]))
put("image", "adam7.png", png(9, 9, 2, 8, rows8(9, 9, 3), interlace=True))


# ---- baseline JPEG (ITU-T T.81): DCT, one quantization table, and Huffman
# tables whose codes all have one length (DC: 12 categories in 4 bits; AC: the
# 162 run/size symbols in 8 bits), so no table needs spelling out.

ZIGZAG = sorted(((u, v) for u in range(8) for v in range(8)),
                key=lambda p: (p[0] + p[1], p[0] if (p[0] + p[1]) % 2 else p[1]))
DC_SYMBOLS = list(range(12))
AC_SYMBOLS = [0x00, 0xF0] + [r << 4 | s for r in range(16) for s in range(1, 11)]
QUANT = 4


class Bits:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = self.acc << 1 | (value >> i & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)  # byte stuffing
                self.acc, self.n = 0, 0

    def flush(self):
        while self.n:
            self.put(1, 1)  # pad with 1-bits


def category(v):
    return abs(v).bit_length()


def amplitude(v):
    return v if v >= 0 else v + (1 << category(v)) - 1


def encode_block(bits, block, pred):
    """block: 8x8 samples (level-shifted); returns the new DC predictor."""
    coef = {}
    for u in range(8):
        for v in range(8):
            s = sum(block[y][x] * math.cos((2 * x + 1) * v * math.pi / 16) * math.cos((2 * y + 1) * u * math.pi / 16)
                    for y in range(8) for x in range(8))
            cu, cv = (1 / math.sqrt(2) if u == 0 else 1), (1 / math.sqrt(2) if v == 0 else 1)
            coef[u, v] = int(round(0.25 * cu * cv * s / QUANT))
    zz = [coef[p] for p in ZIGZAG]
    diff = zz[0] - pred
    bits.put(DC_SYMBOLS.index(category(diff)), 4)
    bits.put(amplitude(diff), category(diff))
    run = 0
    for v in zz[1:]:
        if v == 0:
            run += 1
            continue
        while run >= 16:
            bits.put(AC_SYMBOLS.index(0xF0), 8)
            run -= 16
        bits.put(AC_SYMBOLS.index(run << 4 | category(v)), 8)
        bits.put(amplitude(v), category(v))
        run = 0
    if run:
        bits.put(AC_SYMBOLS.index(0x00), 8)
    return zz[0]


def segment(marker, data):
    return bytes([0xFF, marker]) + struct.pack(">H", len(data) + 2) + data


def jpeg(w, h, planes, sampling, restart=0):
    """planes: one function (x, y) -> 0..255 per component; sampling: (H, V) each."""
    hmax, vmax = max(s[0] for s in sampling), max(s[1] for s in sampling)
    mcux, mcuy = -(-w // (8 * hmax)), -(-h // (8 * vmax))
    out = b"\xFF\xD8" + segment(0xDB, bytes([0]) + bytes([QUANT] * 64))
    out += segment(0xC0, struct.pack(">BHHB", 8, h, w, len(planes)) +
                   b"".join(bytes([i + 1, hs << 4 | vs, 0]) for i, (hs, vs) in enumerate(sampling)))
    dc_bits, ac_bits = [0] * 16, [0] * 16
    dc_bits[3], ac_bits[7] = len(DC_SYMBOLS), len(AC_SYMBOLS)
    out += segment(0xC4, bytes([0x00] + dc_bits + DC_SYMBOLS) + bytes([0x10] + ac_bits + AC_SYMBOLS))
    if restart:
        out += segment(0xDD, struct.pack(">H", restart))
    out += segment(0xDA, bytes([len(planes)]) + b"".join(bytes([i + 1, 0x00]) for i in range(len(planes))) +
                   bytes([0, 63, 0]))
    bits, preds, done = Bits(), [0] * len(planes), 0
    for my in range(mcuy):
        for mx in range(mcux):
            if restart and done and done % restart == 0:
                bits.flush()
                bits.out += bytes([0xFF, 0xD0 + (done // restart - 1) % 8])
                preds = [0] * len(planes)
            for c, (plane, (hs, vs)) in enumerate(zip(planes, sampling)):
                for by in range(vs):
                    for bx in range(hs):
                        def sample(x, y):
                            # Block pixel -> image pixel: subsampled planes average hmax/hs x vmax/vs pixels,
                            # and pixels past the edge repeat the last one.
                            fx, fy = hmax // hs, vmax // vs
                            xs = [min(w - 1, ((mx * hs + bx) * 8 + x) * fx + i) for i in range(fx)]
                            ys = [min(h - 1, ((my * vs + by) * 8 + y) * fy + j) for j in range(fy)]
                            return sum(plane(px, py) for px in xs for py in ys) / (fx * fy)
                        block = [[sample(x, y) - 128 for x in range(8)] for y in range(8)]
                        preds[c] = encode_block(bits, block, preds[c])
            done += 1
    bits.flush()
    return out + bytes(bits.out) + b"\xFF\xD9"


def ycbcr(x, y):
    r, g, b = (pixel(x, y, k) for k in range(3))
    return (0.299 * r + 0.587 * g + 0.114 * b, 128 - 0.168736 * r - 0.331264 * g + 0.5 * b,
            128 + 0.5 * r - 0.418688 * g - 0.081312 * b)


colour = [lambda x, y, k=k: ycbcr(x, y)[k] for k in range(3)]
put("image", "gray.jpg", jpeg(8, 8, [lambda x, y: pixel(x, y, 0)], [(1, 1)]))
put("image", "ycbcr420.jpg", jpeg(24, 16, colour, [(2, 2), (1, 1), (1, 1)]))
put("image", "ycbcr444_restart.jpg", jpeg(16, 8, colour, [(1, 1), (1, 1), (1, 1)], restart=1))


def bmp(w, h, bpp, rows, palette=b"", top_down=False, v4_alpha=False):
    """rows: the pixel rows top first, each unpadded; stored bottom-up unless top_down."""
    stride = (w * bpp + 31) // 32 * 4
    data = b"".join(r + bytes(stride - len(r)) for r in (rows if top_down else rows[::-1]))
    header_size = 108 if v4_alpha else 40
    offset = 14 + header_size + len(palette)
    info = struct.pack("<IiiHHIIiiII", header_size, w, -h if top_down else h, 1, bpp, 3 if v4_alpha else 0,
                       len(data), 2835, 2835, len(palette) // 4, 0)
    if v4_alpha:  # R, G, B, A masks, the colour space "sRGB", endpoints and gamma left zero
        info += struct.pack("<IIII", 0x00FF0000, 0x0000FF00, 0x000000FF, 0xFF000000) + b"BGRs" + bytes(48)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


put("image", "rgb24.bmp", bmp(3, 2, 24, [bytes(pixel(x, y, 2 - k) for x in range(3) for k in range(3))
                                         for y in range(2)]))
put("image", "palette8_topdown.bmp", bmp(5, 3, 8, [bytes((x * y) % 4 for x in range(5)) for y in range(3)],
                                         palette=bytes([0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0, 0, 90, 90, 90, 0]),
                                         top_down=True))
put("image", "bits1.bmp", bmp(9, 2, 1, [bytes([0b10101010, 0b10000000]), bytes([0b01010101, 0b00000000])],
                              palette=bytes([0, 0, 0, 0, 255, 255, 255, 0])))
put("image", "bgra32_v4.bmp", bmp(2, 2, 32, [bytes(pixel(x, y, k) for x in range(2) for k in (2, 1, 0, 3))
                                             for y in range(2)], v4_alpha=True))


def tga(kind, w, h, bpp, data, colour_map=b"", map_bits=0, descriptor=0x20):
    """descriptor 0x20: rows stored top first."""
    entries = len(colour_map) * 8 // map_bits if map_bits else 0
    return struct.pack("<BBBHHBHHHHBB", 0, 1 if colour_map else 0, kind, 0, entries, map_bits, 0, 0, w, h, bpp,
                       descriptor) + colour_map + data


def rle(pixels):
    """TGA run-length packets: a run of 2 equal pixels, then raw packets of 1."""
    out, i = b"", 0
    while i < len(pixels):
        if i + 1 < len(pixels) and pixels[i] == pixels[i + 1]:
            out += bytes([0x81]) + pixels[i]
            i += 2
        else:
            out += bytes([0x00]) + pixels[i]
            i += 1
    return out


put("image", "rgb.tga", tga(2, 3, 2, 24, bytes(pixel(x, y, 2 - k) for y in range(2) for x in range(3)
                                                for k in range(3))))
put("image", "rle_rgba.tga", tga(10, 4, 2, 32, rle([bytes([x // 2 * 60, y * 90, 30, 255]) for y in range(2)
                                                     for x in range(4)]), descriptor=0x28))
put("image", "gray.tga", tga(3, 2, 2, 8, bytes([0, 85, 170, 255]), descriptor=0))
put("image", "mapped.tga", tga(1, 3, 3, 8, bytes((x + y) % 3 for y in range(3) for x in range(3)),
                               colour_map=bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]), map_bits=24))

#!/usr/bin/env python3
"""Generates the conv_transpose2d golden cases in this directory.

An independent float64 reference in plain Python (no NumPy, no PyTorch, no code
shared with gantry's C++ kernels): the output is the scatter form of a
transposed convolution (every input pixel adds a kernel-weighted copy of
itself into the output; output sizes as in Dumoulin & Visin 2016, "A guide to
convolution arithmetic for deep learning", arXiv:1603.07285), and the gradients are the
derivatives of that same sum. Inputs are rounded to float32 first, so the
reference is exact for the stored inputs; results are stored as float32.
A worked example of transposed-convolution output sizes, with outputs worked
out by hand, is asserted before anything is written.

Format (see the README, "Golden files"): one .safetensors per case with float32
tensors input (N,C,H,W), weight (C_in, C_out/groups, kH, kW), optional bias,
output, and optional grad_output, grad_input, grad_weight, grad_bias;
__metadata__ holds op, stride, padding, output_padding, dilation ("h,w") and groups.

Run: python3 make_cases.py   (rewrites every case_*.safetensors here)
"""
import json
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def f32(v):
    return struct.unpack("<f", struct.pack("<f", v))[0]


def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def idx4(shape, a, b, c, d):
    return ((a * shape[1] + b) * shape[2] + c) * shape[3] + d


def out_size(n, k, s, p, d, op):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose2d(x, xs, w, ws, b, s, p, op, d, groups):
    """Scatter form: y[n, g*Og+co, ih*s-p+i*d, iw*s-p+j*d] += x[n,ci,ih,iw] * w[ci,co,i,j]."""
    N, Cin, H, W = xs
    Og, kh, kw = ws[1], ws[2], ws[3]
    Cg = Cin // groups
    Ho = out_size(H, kh, s[0], p[0], d[0], op[0])
    Wo = out_size(W, kw, s[1], p[1], d[1], op[1])
    ys = (N, Og * groups, Ho, Wo)
    y = [0.0] * numel(ys)
    for n in range(N):
        for ci in range(Cin):
            g = ci // Cg
            for ih in range(H):
                for iw in range(W):
                    xv = x[idx4(xs, n, ci, ih, iw)]
                    if xv == 0.0:
                        continue
                    for co in range(Og):
                        for i in range(kh):
                            oh = ih * s[0] - p[0] + i * d[0]
                            if oh < 0 or oh >= Ho:
                                continue
                            for j in range(kw):
                                ow = iw * s[1] - p[1] + j * d[1]
                                if 0 <= ow < Wo:
                                    y[idx4(ys, n, g * Og + co, oh, ow)] += xv * w[idx4(ws, ci, co, i, j)]
    if b is not None:
        for e in range(len(y)):
            y[e] += b[(e // (Ho * Wo)) % ys[1]]
    return y, ys


def gradients(x, xs, w, ws, gy, ys, s, p, d, groups, with_bias):
    """Derivatives of sum(gy * y) for the scatter sum above."""
    N, Cin, H, W = xs
    Og, kh, kw = ws[1], ws[2], ws[3]
    Cg = Cin // groups
    Ho, Wo = ys[2], ys[3]
    gx = [0.0] * numel(xs)
    gw = [0.0] * numel(ws)
    for n in range(N):
        for ci in range(Cin):
            g = ci // Cg
            for ih in range(H):
                for iw in range(W):
                    xv = x[idx4(xs, n, ci, ih, iw)]
                    acc = 0.0
                    for co in range(Og):
                        for i in range(kh):
                            oh = ih * s[0] - p[0] + i * d[0]
                            if oh < 0 or oh >= Ho:
                                continue
                            for j in range(kw):
                                ow = iw * s[1] - p[1] + j * d[1]
                                if 0 <= ow < Wo:
                                    gv = gy[idx4(ys, n, g * Og + co, oh, ow)]
                                    acc += gv * w[idx4(ws, ci, co, i, j)]
                                    gw[idx4(ws, ci, co, i, j)] += xv * gv
                    gx[idx4(xs, n, ci, ih, iw)] = acc
    gb = None
    if with_bias:
        gb = [0.0] * ys[1]
        for e, v in enumerate(gy):
            gb[(e // (Ho * Wo)) % ys[1]] += v
    return gx, gw, gb


def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, shape, values). Header per the safetensors spec, padded to 8 bytes."""
    header = {"__metadata__": metadata}
    blob = bytearray()
    for name, shape, values in tensors:
        data = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + bytes(blob))


def pair(v):
    return "%d,%d" % (v[0], v[1])


def make_case(name, xs, ws, s=(1, 1), p=(0, 0), op=(0, 0), d=(1, 1), groups=1, bias=False, grads=True,
              x=None, w=None, seed=0):
    rng = random.Random(name if seed == 0 else seed)
    u = lambda n: [f32(rng.uniform(-1, 1)) for _ in range(n)]
    x = x if x is not None else u(numel(xs))
    w = w if w is not None else u(numel(ws))
    b = u(ws[1] * groups) if bias else None
    y, ys = conv_transpose2d(x, xs, w, ws, b, s, p, op, d, groups)
    tensors = [("input", xs, x), ("weight", ws, w)]
    if bias:
        tensors.append(("bias", (ws[1] * groups,), b))
    tensors.append(("output", ys, y))
    if grads:
        gy = u(numel(ys))
        gx, gw, gb = gradients(x, xs, w, ws, gy, ys, s, p, d, groups, bias)
        tensors += [("grad_output", ys, gy), ("grad_input", xs, gx), ("grad_weight", ws, gw)]
        if bias:
            tensors.append(("grad_bias", (ws[1] * groups,), gb))
    meta = {"op": "conv_transpose2d", "stride": pair(s), "padding": pair(p), "output_padding": pair(op),
            "dilation": pair(d), "groups": str(groups)}
    write_safetensors(os.path.join(HERE, "case_%s.safetensors" % name), tensors, meta)
    return y, ys


def seed_exercise():
    # A worked example of transposed-convolution output sizes (Dumoulin & Visin
    # 2016): two input channels, one output channel, 3×3 kernels, padding 0/1 and
    # stride 1/2; the expected outputs below were worked out by hand.
    x = [1, 2, 0, 0, 0, 0, 0, 3]
    w = [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1]
    answers = {
        (0, 1): [[0, 0, 0, 0], [1, 6, 3, 2], [0, 0, 3, 0], [0, 0, 0, 3]],
        (1, 1): [[6, 3], [0, 3]],
        (0, 2): [[0, 0, 0, 0, 0], [1, 1, 3, 2, 2], [0, 0, 3, 0, 0], [0, 0, 0, 3, 0], [0, 0, 0, 0, 3]],
        (1, 2): [[1, 3, 2], [0, 3, 0], [0, 0, 3]],
    }
    for (p, s), expect in answers.items():
        y, ys = make_case("seed_12_3_p%d_s%d" % (p, s), (1, 2, 2, 2), (2, 1, 3, 3), s=(s, s), p=(p, p),
                          x=[float(v) for v in x], w=[float(v) for v in w])
        got = [[y[r * ys[3] + c] for c in range(ys[3])] for r in range(ys[2])]
        assert got == expect, "worked example p=%d s=%d: %s != %s" % (p, s, got, expect)


def main():
    seed_exercise()
    # DCGAN layers: from 1×1 (k4 s1 p0), and the k4 s2 p1 doubling; dcgan28's k7 from 1×1.
    make_case("dcgan_first_k4_s1_p0", (2, 16, 1, 1), (16, 8, 4, 4))
    make_case("dcgan_k4_s2_p1", (2, 8, 4, 4), (8, 4, 4, 4), s=(2, 2), p=(1, 1))
    make_case("dcgan_k4_s2_p1_to_rgb", (2, 8, 8, 8), (8, 3, 4, 4), s=(2, 2), p=(1, 1))
    make_case("dcgan28_first_k7", (2, 32, 1, 1), (32, 16, 7, 7))
    make_case("dcgan28_k4_s2_p1_7_to_14", (2, 16, 7, 7), (16, 8, 4, 4), s=(2, 2), p=(1, 1), bias=True)
    # odd sizes
    make_case("odd_5x7_bias", (1, 3, 5, 7), (3, 2, 4, 4), s=(2, 2), p=(1, 1), bias=True)
    make_case("odd_3x5_k3_s2_op1", (2, 2, 3, 5), (2, 3, 3, 3), s=(2, 2), p=(1, 1), op=(1, 1))
    # rectangular kernels, strides, paddings
    make_case("rect_kernel_3x5", (1, 2, 4, 4), (2, 3, 3, 5), s=(2, 1), p=(1, 2))
    make_case("rect_stride_1x3", (2, 3, 3, 4), (3, 2, 2, 3), s=(1, 3), p=(0, 1), op=(0, 2))
    make_case("rect_padding_2x0", (1, 2, 5, 3), (2, 2, 5, 3), s=(2, 2), p=(2, 0), bias=True)
    # output_padding
    make_case("output_padding_1_1", (1, 4, 3, 3), (4, 2, 3, 3), s=(2, 2), p=(1, 1), op=(1, 1))
    make_case("k5_s2_p2_op1_upsample", (2, 3, 4, 4), (3, 2, 5, 5), s=(2, 2), p=(2, 2), op=(1, 1), bias=True)
    # dilation
    make_case("dilation_2", (1, 2, 4, 4), (2, 3, 3, 3), d=(2, 2))
    make_case("dilation_2x3_stride_2", (1, 2, 3, 4), (2, 2, 3, 2), s=(2, 2), p=(1, 1), d=(2, 3))
    make_case("dilation_over_stride_op1", (1, 2, 3, 3), (2, 2, 3, 3), p=(0, 1), d=(2, 2), op=(1, 1))
    # groups and depthwise
    make_case("groups_2", (2, 4, 3, 3), (4, 3, 3, 3), s=(2, 2), p=(1, 1), groups=2)
    make_case("groups_3_bias", (1, 6, 4, 3), (6, 2, 2, 2), s=(2, 2), groups=3, bias=True)
    make_case("depthwise", (2, 4, 5, 5), (4, 1, 3, 3), p=(1, 1), groups=4)
    make_case("depthwise_multiplier_2", (1, 4, 4, 4), (4, 2, 4, 4), s=(2, 2), p=(1, 1), groups=4, bias=True)
    # batches, 1×1 kernels, longer accumulation, larger kernels
    make_case("batch_3", (3, 3, 4, 4), (3, 2, 3, 3), s=(2, 2), p=(1, 1))
    make_case("batch_4_bias", (4, 2, 3, 3), (2, 4, 4, 4), s=(2, 2), p=(1, 1), bias=True)
    make_case("kernel_1x1", (2, 5, 3, 4), (5, 3, 1, 1))
    make_case("kernel_1x1_s2_op1", (1, 3, 3, 3), (3, 2, 1, 1), s=(2, 2), op=(1, 1), bias=True)
    make_case("wide_32_to_16", (2, 32, 8, 8), (32, 16, 4, 4), s=(2, 2), p=(1, 1))
    make_case("kernel_6_s3_p2", (1, 2, 3, 3), (2, 2, 6, 6), s=(3, 3), p=(2, 2))
    make_case("kernel_2_s2_no_overlap", (2, 3, 4, 4), (3, 2, 2, 2), s=(2, 2))
    make_case("forward_only", (2, 3, 4, 4), (3, 4, 4, 4), s=(2, 2), p=(1, 1), bias=True, grads=False)
    print("wrote", len([f for f in os.listdir(HERE) if f.endswith(".safetensors")]), "cases to", HERE)


if __name__ == "__main__":
    main()

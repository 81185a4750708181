// Vulkan encoders for the convolution family (conv2d, conv_transpose2d,
// conv2d_grad_weight, matmul): each node becomes one conv_gemm.comp dispatch,
// plus a conv_splitk.comp pass when K is split. The GEMM view of each op and
// the spec-constant order are documented in conv_gemm.comp; the semantics are
// engine/ops_conv.cpp's, and tests/test_backend_parity.cpp holds the two equal.
#include <algorithm>
#include <numeric>

#include "compute_shaders/shader_codes.h"
#include "compute_shaders/vk_kernels.h"

namespace gantry::vk {
namespace {

constexpr int64_t kChunk = 16;  // conv_gemm.comp's BK: split slices start on a chunk
// Split K only while the grid is smaller than this (about two workgroups per
// SM of an H100, 132 SMs) and each slice keeps ≥ kMinSlice of K:
// the DCGAN weight gradients have M·N of a few tiles and K = batch·H·W.
constexpr int64_t kTargetGroups = 264;
constexpr int64_t kMinSlice = 256;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// conv_gemm.comp's C tiles: 4×4 outputs per invocation, so bm·bn/16
// invocations, and As[BK][bm + 1], Bs[BK][bn + 1] floats of shared memory.
struct Tile {
  uint32_t bm, bn;
  uint32_t invocations() const { return bm * bn / 16; }
  uint32_t shared_bytes() const { return uint32_t(4 * kChunk * (bm + 1 + bn + 1)); }
};
// Fastest first; the last of each list (128 invocations, at most 9.1 KiB)
// fits every Vulkan device. 16-row tiles serve M ≤ 16 (a generator's RGB
// layer has M = 3), where a 64-row one would compute 61 of its 64 rows for
// nothing; 16×256 needs 17.1 KiB, over the 16 KiB Vulkan guarantees.
constexpr Tile kTiles[] = {{64, 64}, {32, 64}};
constexpr Tile kFlatTiles[] = {{16, 256}, {16, 128}};

template <size_t n>
Tile first_fitting(const Tile (&tiles)[n], const DeviceCaps& caps) {
  for (const Tile& t : tiles)
    if (caps.fits(t.invocations(), t.shared_bytes())) return t;
  return tiles[n - 1];  // only a device below Vulkan's minimums gets here, and check_limits refuses it
}

// One node as conv_gemm.comp sees it: its specialization constants, in
// constant_id order, and the output size.
struct Gemm {
  ConvCode mode = ConvCode::conv2d;
  uint32_t M = 1, N = 1, K = 1, Z = 1, splits = 1, k_split = 1;
  uint32_t batch = 1, c_in = 1, h_in = 1, w_in = 1, c_out = 1, h_out = 1, w_out = 1;
  uint32_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  uint32_t step_h = 1, step_w = 1, has_bias = 0, trans_a = 0, trans_b = 0;
  Tile tile{64, 64};
  int64_t out_elems = 0;

  std::vector<uint32_t> spec() const {
    const uint32_t mode_code = spec_code(mode);
    return {mode_code, M,     N,      K,      Z,      splits,   k_split, batch,   c_in,    h_in,
            w_in,      c_out, h_out,  w_out,  kh,     kw,       sh,      sw,      ph,      pw,
            dh,        dw,    groups, step_h, step_w, has_bias, trans_a, trans_b, tile.bm, tile.bn};
  }
};

// s0, s1: the node's first two input shapes; y: its output shape.
Gemm plan(const Node& n, const Shape& s0, const Shape& s1, bool bias, const DeviceCaps& caps) {
  Gemm p;
  const ConvOptions& o = n.attrs.conv;
  const Shape& y = n.shape;
  p.has_bias = bias;
  p.out_elems = y.numel();
  if (n.op != Op::matmul) {
    p.batch = uint32_t(s0[0]), p.c_in = uint32_t(s0[1]), p.h_in = uint32_t(s0[2]), p.w_in = uint32_t(s0[3]);
    p.sh = o.stride[0], p.sw = o.stride[1], p.ph = o.padding[0], p.pw = o.padding[1];
    p.dh = o.dilation[0], p.dw = o.dilation[1], p.groups = o.groups;
  }
  const uint32_t cg = p.c_in / p.groups;
  switch (n.op) {
    case Op::conv2d:  // x: s0, w: s1 [C_out, Cg, kH, kW]
      p.mode = ConvCode::conv2d;
      p.c_out = uint32_t(y[1]), p.h_out = uint32_t(y[2]), p.w_out = uint32_t(y[3]);
      p.kh = uint32_t(s1[2]), p.kw = uint32_t(s1[3]);
      p.M = p.c_out / p.groups, p.N = p.batch * p.h_out * p.w_out, p.K = cg * p.kh * p.kw, p.Z = p.groups;
      break;
    case Op::conv_transpose2d:  // x: s0, w: s1 [C_in, C_out/G, kH, kW]
      p.c_out = uint32_t(y[1]), p.h_out = uint32_t(y[2]), p.w_out = uint32_t(y[3]);
      p.kh = uint32_t(s1[2]), p.kw = uint32_t(s1[3]);
      if (p.groups == 1 && p.h_in == 1 && p.w_in == 1 && p.ph == 0 && p.pw == 0 && p.h_out == p.kh && p.w_out == p.kw) {
        // A 1×1 input fans out to exactly the kernel's window (the DCGAN stem):
        // y[B, C_out·kH·kW] = x[B, C_in] · w[C_in, C_out·kH·kW]. The gather form
        // would spend (kH·kW − 1)/(kH·kW) of its K on taps that miss.
        p.mode = ConvCode::matmul;
        p.M = p.batch, p.N = p.c_out * p.kh * p.kw, p.K = p.c_in, p.Z = 1;
      } else {
        p.mode = ConvCode::conv_transpose2d;
        p.step_h = p.sh / std::gcd(p.sh, p.dh), p.step_w = p.sw / std::gcd(p.sw, p.dw);
        const uint32_t nth = (p.kh + p.step_h - 1) / p.step_h, ntw = (p.kw + p.step_w - 1) / p.step_w;
        p.M = uint32_t(s1[1]);
        p.N = p.batch * ((p.h_out + p.sh - 1) / p.sh) * ((p.w_out + p.sw - 1) / p.sw);
        p.K = cg * nth * ntw;
        p.Z = p.groups * p.sh * p.sw;
      }
      break;
    case Op::conv2d_grad_weight:  // x: s0, dy: s1 [B, C_out, Hd, Wd]; dw: y [C_out, Cg, kH, kW]
      p.mode = ConvCode::grad_weight;
      p.c_out = uint32_t(s1[1]), p.h_out = uint32_t(s1[2]), p.w_out = uint32_t(s1[3]);
      p.kh = uint32_t(y[2]), p.kw = uint32_t(y[3]);
      p.M = p.c_out / p.groups, p.N = cg * p.kh * p.kw, p.K = p.batch * p.h_out * p.w_out, p.Z = p.groups;
      break;
    default:  // matmul: a: s0 [M, K] or [K, M], b: s1 [K, N] or [N, K]
      p.mode = ConvCode::matmul;
      p.trans_a = n.attrs.trans_a, p.trans_b = n.attrs.trans_b;
      p.M = uint32_t(y[0]), p.N = uint32_t(y[1]), p.K = uint32_t(n.attrs.trans_a ? s0[0] : s0[1]);
      break;
  }
  p.tile = p.M <= 16 ? first_fitting(kFlatTiles, caps) : first_fitting(kTiles, caps);
  // Split K when the grid alone would leave most of the GPU idle.
  const int64_t K = std::max<int64_t>(p.K, 1);
  const int64_t tiles = ceil_div(p.M, p.tile.bm) * ceil_div(p.N, p.tile.bn) * p.Z;
  int64_t splits = 1;
  if (tiles < kTargetGroups && K >= 2 * kMinSlice) splits = std::min(ceil_div(kTargetGroups, tiles), K / kMinSlice);
  const int64_t k_split = ceil_div(ceil_div(K, splits), kChunk) * kChunk;
  p.k_split = uint32_t(k_split);
  p.splits = uint32_t(ceil_div(K, k_split));
  return p;
}

// Split K keeps every slice's partial output: [splits, output elements].
int64_t conv_scratch_elems(const Graph& g, const Node& n, const DeviceCaps& caps) {
  const Gemm p = plan(n, g.node(n.inputs[0]).shape, g.node(n.inputs[1]).shape, n.inputs.size() > 2, caps);
  return p.splits > 1 ? int64_t(p.splits) * p.out_elems : 0;
}

void encode_conv(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Gemm p = plan(*a.node, *a.in_shape[0], *a.in_shape[1], a.n_in > 2, a.caps);
  const uint32_t bias = a.n_in > 2 ? a.in[2] : 0;
  const bool split = p.splits > 1;
  Dispatch d;
  d.shader = "conv_gemm";
  d.slots = {input(0), input(1), a.n_in > 2 ? input(2) : Operand::none, split ? Operand::scratch : Operand::out};
  d.spec = p.spec();
  // push: in0, in1, bias, dst, out_split (conv_gemm.comp's Push block)
  d.push[0] = a.in[0];
  d.push[1] = a.in[1];
  d.push[2] = bias;
  d.push[3] = split ? a.scratch : a.out;
  d.push[4] = split ? uint32_t(p.out_elems) : 0;
  d.local = p.tile.invocations();
  d.shared_bytes = p.tile.shared_bytes();
  d.groups[0] = clamp_groups(ceil_div(p.N, p.tile.bn), a.caps, 0);
  d.groups[1] = clamp_groups(ceil_div(p.M, p.tile.bm), a.caps, 1);
  d.groups[2] = clamp_groups(int64_t(p.Z) * p.splits, a.caps, 2);
  out.push_back(d);
  if (split) {
    // push: part, dst, bias, total (conv_splitk.comp)
    Dispatch r = dispatch_1d("conv_splitk", p.out_elems, {Operand::scratch, Operand::out, d.slots[2]},
                             {a.scratch, a.out, bias, uint32_t(p.out_elems)}, a.caps);
    r.spec = {p.splits, p.has_bias, p.h_out * p.w_out, p.c_out};
    out.push_back(r);
  }
}

}  // namespace

GANTRY_VK_OP(conv2d, encode_conv, conv_scratch_elems);
GANTRY_VK_OP(conv_transpose2d, encode_conv, conv_scratch_elems);
GANTRY_VK_OP(conv2d_grad_weight, encode_conv, conv_scratch_elems);
GANTRY_VK_OP(matmul, encode_conv, conv_scratch_elems);

}  // namespace gantry::vk

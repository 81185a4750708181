// Vulkan encoders for the reductions (reduce_sum, normalize, rstd,
// normalize_backward, log_softmax → reduce_axes.comp) and the layout ops
// (broadcast_to, reshape, concat, slice, slice_backward → layout_copy.comp).
// The push structs below mirror the shaders' push-constant blocks word for
// word. Checked against the CPU references by tests/test_backend_parity.cpp.
//
// Reductions: one workgroup per tile of outputs, and when there are few
// outputs but long groups (batch norm over N·H·W, a full sum) also per chunk of
// the group: PHASE 1 writes per-chunk statistics to scratch, PHASE 2 combines
// them and finishes. Both chunking and tiling depend only on the shape and the
// device's workgroup size, so the scratch size (asked before encoding) and the
// encoding agree.
#include <algorithm>

#include "compute_shaders/shader_codes.h"
#include "compute_shaders/vk_kernels.h"
#include "engine/kernel_util.h"

namespace gantry::vk {
namespace {

constexpr int64_t kTargetGroups = 1024;  // enough workgroups to fill a large GPU (H100: 132 SMs × 8)
constexpr int64_t kMinPerLane = 16;      // elements each lane sums before a chunk is worth its own workgroup
constexpr int64_t kMaxChunks = 1024;     // bounds the scratch; PHASE 2 combines chunks R_LANES at a time

uint32_t pow2_ceil(int64_t n) {
  uint32_t p = 1;
  while (p < n && p < (1u << 30)) p <<= 1;
  return p;
}

// ---- reduce_axes.comp

struct ReducePush {
  uint32_t x_off, xhat_off, rstd_off, out_off, scratch_off;
  uint32_t outer, inner, chunks, chunk_len;
  uint32_t eps_bits;
  uint32_t rd[3], rs[3];  // reduced segments, outermost first: dims, strides
  uint32_t kd[3], ks[3];  // kept segments
};
static_assert(sizeof(ReducePush) <= kPushWords * 4, "reduce_axes push constants exceed 128 bytes");

struct ReducePlan {
  ReducePush push{};     // shape part only: outer, inner, chunks, chunk_len, segments
  uint32_t local = 256;  // LOCAL: 256 lanes, or as many as the device allows
  uint32_t tile = 1;     // OUT_TILE
  int64_t tiles = 1;
};

// x: any shape of rank ≤ 5; mask: the reduced axes. Adjacent axes of the same
// kind merge (size-1 axes are skipped), so kept and reduced segments alternate:
// at most 3 of each for rank 5.
ReducePlan plan_reduce(const Shape& x, uint32_t mask, bool may_chunk, const DeviceCaps& caps) {
  struct Seg {
    bool red;
    int64_t dim, stride;
  } seg[kMaxRank];
  int n = 0;
  const auto st = strides_of(x);
  for (int i = 0; i < x.rank; ++i) {
    if (x[i] == 1) continue;
    const bool red = mask >> i & 1u;
    if (n > 0 && seg[n - 1].red == red) {
      seg[n - 1].dim *= x[i];
      seg[n - 1].stride = st[i];
    } else {
      seg[n++] = {red, x[i], st[i]};
    }
  }
  ReducePlan p;
  p.local = caps.local_up_to(256);
  const uint32_t local = p.local;
  ReducePush& q = p.push;
  for (int i = 0; i < 3; ++i) q.rd[i] = q.kd[i] = 1, q.rs[i] = q.ks[i] = 0;
  int r = 3, k = 3;
  int64_t outer = 1, inner = 1;
  for (int i = n - 1; i >= 0; --i) {
    if (seg[i].red) {
      --r;
      q.rd[r] = uint32_t(seg[i].dim), q.rs[r] = uint32_t(seg[i].stride);
      inner *= seg[i].dim;
    } else {
      --k;
      q.kd[k] = uint32_t(seg[i].dim), q.ks[k] = uint32_t(seg[i].stride);
      outer *= seg[i].dim;
    }
  }
  q.outer = uint32_t(outer), q.inner = uint32_t(inner);

  // Tile: several outputs per workgroup when the innermost axis is kept
  // (neighbouring outputs are neighbouring addresses) or the groups are short.
  uint32_t tile = n > 0 && !seg[n - 1].red ? std::min<uint32_t>(64, pow2_ceil(seg[n - 1].dim)) : 1;
  tile = std::max(tile, local / std::min(local, pow2_ceil(inner)));
  tile = std::max<uint32_t>(1, std::min(tile, pow2_ceil(outer)));
  p.tile = tile;
  p.tiles = (outer + tile - 1) / tile;

  int64_t chunks = 1;
  if (may_chunk && p.tiles < kTargetGroups) {
    const int64_t want = (kTargetGroups + p.tiles - 1) / p.tiles;
    const int64_t most = inner / (int64_t(local / tile) * kMinPerLane);
    chunks = std::max<int64_t>(1, std::min({want, most, kMaxChunks}));
  }
  const int64_t len = (inner + chunks - 1) / chunks;
  q.chunk_len = uint32_t(std::max<int64_t>(1, len));
  q.chunks = uint32_t(len > 0 ? (inner + len - 1) / len : 1);  // no empty chunk
  return p;
}

// Chunked: [outer][chunks][2] statistics, and for normalize_backward a copy of
// rstd [outer] after them (PHASE 2 binds the scratch in rstd's slot).
int64_t reduction_scratch(const Graph& g, const Node& n, const DeviceCaps& caps) {
  const ReducePlan p = plan_reduce(g.node(n.inputs[0]).shape, n.attrs.axes, true, caps);
  if (p.push.chunks == 1) return 0;
  const int64_t stats = int64_t(p.push.outer) * p.push.chunks * 2;
  return n.op == Op::normalize_backward ? stats + p.push.outer : stats;
}

// in0: x (dy for normalize_backward); in1: x̂; in2: rstd (normalize_backward only).
void encode_reduction(const NodeArgs& a, ReduceCode op, uint32_t mask, bool may_chunk, std::vector<Dispatch>& out) {
  const Shape& x = *a.in_shape[0];
  if (x.numel() == 0) return;
  const ReducePlan p = plan_reduce(x, mask, may_chunk, a.caps);
  ReducePush push = p.push;
  push.x_off = a.in[0];
  push.xhat_off = a.n_in > 1 ? a.in[1] : 0;
  push.rstd_off = a.n_in > 2 ? a.in[2] : 0;
  push.out_off = a.out;
  push.scratch_off = a.scratch;
  push.eps_bits = f2u(a.node->attrs.eps);
  // The subgroup variant pays off only when each output's local / tile lanes
  // make whole subgroups. The reported size is only a hint: the shader checks
  // gl_SubgroupSize at run time and falls back to the tree, so no subgroup
  // size is assumed.
  const bool subgroup = a.caps.subgroup_arithmetic && a.caps.subgroup_size <= p.local / p.tile;
  // Slots as reduce_axes.comp lists them: x, x̂, rstd, out; the scratch
  // replaces out in PHASE 1 and rstd in PHASE 2.
  const Operand xhat = a.n_in > 1 ? input(1) : Operand::none, rstd = a.n_in > 2 ? input(2) : Operand::none;
  auto add = [&](uint32_t phase, int64_t work) {
    Dispatch d;
    d.shader = subgroup ? "reduce_axes_subgroup" : "reduce_axes";
    d.slots = {input(0), xhat, phase == 2 ? Operand::scratch : rstd, phase == 1 ? Operand::scratch : Operand::out};
    d.spec = {p.tile, spec_code(op), phase};
    std::memcpy(d.push.data(), &push, sizeof push);
    d.local = p.local;
    d.shared_bytes = (subgroup ? 2 : 1) * 8 * p.local;  // red[LOCAL] (and part[LOCAL]): vec2
    d.groups[0] = clamp_groups(work, a.caps);
    out.push_back(d);
  };
  if (push.chunks == 1) {
    add(0, p.tiles);
  } else {
    add(1, p.tiles * push.chunks);
    // PHASE 2 reads rstd through the scratch's slot: the copy PHASE 1 left after the statistics.
    if (op == ReduceCode::normalize_backward) push.rstd_off = a.scratch + push.outer * push.chunks * 2;
    // sum and rstd finish once per output, the others once per chunk
    add(2, op == ReduceCode::sum || op == ReduceCode::rstd ? p.tiles : p.tiles * push.chunks);
  }
}

void encode_reduce_sum(const NodeArgs& a, std::vector<Dispatch>& out) {
  encode_reduction(a, ReduceCode::sum, a.node->attrs.axes, true, out);
}
void encode_normalize(const NodeArgs& a, std::vector<Dispatch>& out) {
  encode_reduction(a, ReduceCode::normalize, a.node->attrs.axes, true, out);
}
void encode_rstd(const NodeArgs& a, std::vector<Dispatch>& out) {
  encode_reduction(a, ReduceCode::rstd, a.node->attrs.axes, true, out);
}
void encode_normalize_backward(const NodeArgs& a, std::vector<Dispatch>& out) {
  encode_reduction(a, ReduceCode::normalize_backward, a.node->attrs.axes, true, out);
}
// Softmax rows are short (classes) and many; they are never chunked.
void encode_log_softmax(const NodeArgs& a, std::vector<Dispatch>& out) {
  encode_reduction(a, ReduceCode::log_softmax, 1u << a.node->attrs.axis, false, out);
}

// ---- layout_copy.comp

struct CopyPush {
  uint32_t src_off, dst_off, n, rank;
  uint32_t d[5], s[5], t[5];  // walked dims, source and destination strides, right-aligned
  uint32_t win_lo, win_hi;
};
static_assert(sizeof(CopyPush) <= kPushWords * 4, "layout_copy push constants exceed 128 bytes");

// src: the operand the copy reads (slot 0); it writes the output (slot 1).
Dispatch copy_dispatch(Operand src, const CopyPush& push, uint32_t pad, const DeviceCaps& caps) {
  Dispatch d = dispatch_1d("layout_copy", push.n, {src, Operand::out}, {}, caps);
  d.spec = {pad};
  std::memcpy(d.push.data(), &push, sizeof push);
  return d;
}

// dst[walk] = src[walk] over `dim` (rank r, outermost first) with source
// strides ss and destination strides ts; src lies in operand src_op, dst in
// the output. Size-1 axes are dropped and axes contiguous in both tensors
// merged, so a reshape walks one dim.
void encode_copy(Operand src_op, uint32_t src, uint32_t dst, int r, const int64_t* dim, const int64_t* ss,
                 const int64_t* ts, const DeviceCaps& caps, std::vector<Dispatch>& out) {
  int64_t d[kMaxRank], s[kMaxRank], t[kMaxRank], n = 1;
  int m = 0;
  for (int i = 0; i < r; ++i) {
    n *= dim[i];
    if (dim[i] == 1) continue;
    if (m > 0 && s[m - 1] == ss[i] * dim[i] && t[m - 1] == ts[i] * dim[i]) {
      d[m - 1] *= dim[i];
      s[m - 1] = ss[i], t[m - 1] = ts[i];
    } else {
      d[m] = dim[i], s[m] = ss[i], t[m] = ts[i];
      ++m;
    }
  }
  if (n == 0) return;
  CopyPush push{};
  push.src_off = src, push.dst_off = dst, push.n = uint32_t(n), push.rank = uint32_t(m);
  for (int i = 0; i < 5; ++i) push.d[i] = 1;
  for (int i = 0; i < m; ++i) {
    const int slot = 5 - m + i;
    push.d[slot] = uint32_t(d[i]), push.s[slot] = uint32_t(s[i]), push.t[slot] = uint32_t(t[i]);
  }
  out.push_back(copy_dispatch(src_op, push, 0, caps));
}

// A tensor seen as [outer, shape[axis], inner] around `axis`.
void split_at(const Shape& s, int axis, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.rank; ++i) inner *= s[i];
}

void encode_broadcast_to(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Shape& y = a.node->shape;
  const auto ss = broadcast_strides(*a.in_shape[0], y), ts = strides_of(y);
  encode_copy(input(0), a.in[0], a.out, y.rank, y.d.data(), ss.data(), ts.data(), a.caps, out);
}

void encode_reshape(const NodeArgs& a, std::vector<Dispatch>& out) {
  const int64_t n = a.node->shape.numel(), one = 1;
  encode_copy(input(0), a.in[0], a.out, 1, &n, &one, &one, a.caps, out);
}

// One dispatch per input, each into its window of the output.
void encode_concat(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Shape& y = a.node->shape;
  const int ax = a.node->attrs.axis;
  int64_t outer, inner, at = 0;
  split_at(y, ax, outer, inner);
  for (int k = 0; k < a.n_in; ++k) {
    const int64_t len = (*a.in_shape[k])[ax];
    const int64_t dim[2] = {outer, len * inner}, ss[2] = {len * inner, 1}, ts[2] = {y[ax] * inner, 1};
    encode_copy(input(k), a.in[k], a.out + uint32_t(at * inner), 2, dim, ss, ts, a.caps, out);
    at += len;
  }
}

void encode_slice(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Shape& x = *a.in_shape[0];
  const Attrs& at = a.node->attrs;
  int64_t outer, inner;
  split_at(x, at.axis, outer, inner);
  const int64_t dim[2] = {outer, at.count * inner}, ss[2] = {x[at.axis] * inner, 1}, ts[2] = {at.count * inner, 1};
  encode_copy(input(0), a.in[0] + uint32_t(at.start * inner), a.out, 2, dim, ss, ts, a.caps, out);
}

// Writes the whole output in one pass (zeros outside the window), so it needs
// no separate clear and no barrier.
void encode_slice_backward(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Shape& y = a.node->shape;
  const Attrs& at = a.node->attrs;
  const int64_t full = y[at.axis], count = (*a.in_shape[0])[at.axis];
  int64_t outer, inner;
  split_at(y, at.axis, outer, inner);
  if (y.numel() == 0) return;
  CopyPush push{};
  push.src_off = a.in[0], push.dst_off = a.out, push.n = uint32_t(y.numel()), push.rank = 3;
  const uint32_t d[5] = {1, 1, uint32_t(outer), uint32_t(full), uint32_t(inner)};
  const uint32_t s[5] = {0, 0, uint32_t(count * inner), uint32_t(inner), 1};
  const uint32_t t[5] = {0, 0, uint32_t(full * inner), uint32_t(inner), 1};
  for (int i = 0; i < 5; ++i) push.d[i] = d[i], push.s[i] = s[i], push.t[i] = t[i];
  push.win_lo = uint32_t(at.start), push.win_hi = uint32_t(at.start + count);
  out.push_back(copy_dispatch(input(0), push, 1, a.caps));
}

}  // namespace

GANTRY_VK_OP(reduce_sum, encode_reduce_sum, reduction_scratch);
GANTRY_VK_OP(normalize, encode_normalize, reduction_scratch);
GANTRY_VK_OP(rstd, encode_rstd, reduction_scratch);
GANTRY_VK_OP(normalize_backward, encode_normalize_backward, reduction_scratch);
GANTRY_VK_OP(log_softmax, encode_log_softmax, nullptr);
GANTRY_VK_OP(broadcast_to, encode_broadcast_to, nullptr);
GANTRY_VK_OP(reshape, encode_reshape, nullptr);
GANTRY_VK_OP(concat, encode_concat, nullptr);
GANTRY_VK_OP(slice, encode_slice, nullptr);
GANTRY_VK_OP(slice_backward, encode_slice_backward, nullptr);

}  // namespace gantry::vk

// Vulkan encoders for the sources and data movement of engine/ops_data.cpp:
// fill, Philox normal/uniform (data_fill, the kind as specialization
// constant 0), gather, its deterministic scatter-add gather_backward (a zero
// fill, then one invocation per column walking the batch in order) and
// one_hot. Compared with the CPU kernels by tests/test_backend_parity.cpp.
#include "compute_shaders/shader_codes.h"
#include "compute_shaders/vk_kernels.h"

namespace gantry::vk {
namespace {

uint32_t u32(int64_t v) { return uint32_t(v); }

// data_fill push: n, y, stream, alpha, beta; one invocation per 4-element Philox block.
Dispatch fill(FillCode kind, int64_t n, uint32_t y, const Attrs& at, const DeviceCaps& caps) {
  Dispatch d =
      dispatch_1d("data_fill", (n + 3) / 4, {Operand::out}, {u32(n), y, at.stream, f2u(at.alpha), f2u(at.beta)}, caps);
  d.spec = {spec_code(kind)};
  return d;
}

template <FillCode kKind>
void encode_fill(const NodeArgs& a, std::vector<Dispatch>& out) {
  out.push_back(fill(kKind, a.node->shape.numel(), a.out, a.node->attrs, a.caps));
}

// gather(data [R, width], index [B]) → [B, width].
void encode_gather(const NodeArgs& a, std::vector<Dispatch>& out) {
  const int64_t rows = (*a.in_shape[0])[0], width = rows ? a.in_shape[0]->numel() / rows : 0;
  const int64_t n = a.node->shape.numel();
  out.push_back(dispatch_1d("data_gather", n, {input(0), input(1), Operand::out},
                            {u32(n), a.in[0], a.in[1], a.out, u32(width), u32(rows)}, a.caps));
}

// gather_backward(dy [B, width], index [B]) → [rows, width].
void encode_gather_backward(const NodeArgs& a, std::vector<Dispatch>& out) {
  const int64_t rows = a.node->shape[0], width = a.node->shape.numel() / rows, batch = (*a.in_shape[1])[0];
  out.push_back(fill(FillCode::constant, rows * width, a.out, Attrs{}, a.caps));  // Attrs{}: alpha = 0
  out.push_back(dispatch_1d("data_gather_backward", width, {input(0), input(1), Operand::out},
                            {u32(width), a.in[0], a.in[1], a.out, u32(batch), u32(rows)}, a.caps));
}

// one_hot(labels [B]) → [B, classes].
void encode_one_hot(const NodeArgs& a, std::vector<Dispatch>& out) {
  const int64_t n = a.node->shape.numel();
  out.push_back(dispatch_1d("data_one_hot", n, {input(0), Operand::out},
                            {u32(n), a.in[0], a.out, u32(a.node->shape[1])}, a.caps));
}

}  // namespace

GANTRY_VK_OP(fill, encode_fill<FillCode::constant>, nullptr);
GANTRY_VK_OP(normal, encode_fill<FillCode::normal>, nullptr);
GANTRY_VK_OP(uniform, encode_fill<FillCode::uniform>, nullptr);
GANTRY_VK_OP(gather, encode_gather, nullptr);
GANTRY_VK_OP(gather_backward, encode_gather_backward, nullptr);
GANTRY_VK_OP(one_hot, encode_one_hot, nullptr);

}  // namespace gantry::vk

// Vulkan encoders for the per-element ops: the broadcasting arithmetic,
// activations, clamp and bce_with_logits of engine/ops_elementwise.cpp, and
// the in-place updates of engine/ops_optim.cpp (adam, rmsprop, assign). Each
// op is one dispatch of elementwise_binary / elementwise_unary (the op as
// specialization constant 0) or optim_adam / optim_rmsprop; the backend parity
// tests (tests/test_backend_parity.cpp) compare every one with the CPU kernel.
#include <cmath>

#include "compute_shaders/shader_codes.h"
#include "compute_shaders/vk_kernels.h"
#include "engine/kernel_util.h"

namespace gantry::vk {
namespace {

uint32_t u32(int64_t v) { return uint32_t(v); }

// elementwise_binary push: n, a, b, y, alpha, beta, dim[5], sa[5], sb[5].
template <BinaryCode kOp>
void encode_binary(const NodeArgs& a, std::vector<Dispatch>& out) {
  static_assert(kMaxRank == 5, "elementwise_binary.comp indexes 5 axes");
  const Shape& y = a.node->shape;
  const Shape &sa = *a.in_shape[0], &sb = *a.in_shape[1];
  const Attrs& at = a.node->attrs;
  Dispatch d = dispatch_1d("elementwise_binary", y.numel(), {input(0), input(1), Operand::out},
                           {u32(y.numel()), a.in[0], a.in[1], a.out, f2u(at.alpha), f2u(at.beta)}, a.caps);
  const bool broadcast = sa != y || sb != y;
  if (broadcast) {
    // y's axes right-aligned in 5 slots; missing leading axes are 1 with stride 0.
    const auto ta = broadcast_strides(sa, y), tb = broadcast_strides(sb, y);
    for (int k = 0, axis = y.rank - kMaxRank; k < kMaxRank; ++k, ++axis) {
      d.push[6 + k] = axis >= 0 ? u32(y[axis]) : 1;
      d.push[11 + k] = axis >= 0 ? u32(ta[axis]) : 0;
      d.push[16 + k] = axis >= 0 ? u32(tb[axis]) : 0;
    }
  }
  d.spec = {spec_code(kOp), broadcast ? 1u : 0u};
  out.push_back(std::move(d));
}

// elementwise_unary push: n, x, y, alpha, beta; x is operand xo, y operand yo.
Dispatch unary(UnaryCode op, int64_t n, Operand xo, uint32_t x, Operand yo, uint32_t y, const Attrs& at,
               const DeviceCaps& caps) {
  Dispatch d = dispatch_1d("elementwise_unary", n, {xo, yo}, {u32(n), x, y, f2u(at.alpha), f2u(at.beta)}, caps);
  d.spec = {spec_code(op)};
  return d;
}

template <UnaryCode kOp>
void encode_unary(const NodeArgs& a, std::vector<Dispatch>& out) {
  out.push_back(unary(kOp, a.node->shape.numel(), input(0), a.in[0], Operand::out, a.out, a.node->attrs, a.caps));
}

// assign(dst, src): an effect, so it writes its first input.
void encode_assign(const NodeArgs& a, std::vector<Dispatch>& out) {
  out.push_back(
      unary(UnaryCode::copy, a.in_shape[0]->numel(), input(1), a.in[1], input(0), a.in[0], a.node->attrs, a.caps));
}

// adam(param, grad, m, v). ln β is taken in double here so that the shader's
// 1 − β^t = −expm1(t·ln β) starts from a correctly rounded exponent.
void encode_adam(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.in_shape[0]->numel();
  out.push_back(
      dispatch_1d("optim_adam", n, {input(0), input(1), input(2), input(3)},
                  {u32(n), a.in[0], a.in[1], a.in[2], a.in[3], f2u(at.lr), f2u(at.beta1), f2u(at.beta2), f2u(at.eps),
                   f2u(float(std::log(double(at.beta1)))), f2u(float(std::log(double(at.beta2)))),
                   f2u(float(at.t_per_step)), f2u(float(at.t_offset + 1)), u32(at.skip_nonfinite)},
                  a.caps));
}

// rmsprop(param, grad, sq); its decay travels in attrs.beta1.
void encode_rmsprop(const NodeArgs& a, std::vector<Dispatch>& out) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.in_shape[0]->numel();
  out.push_back(dispatch_1d(
      "optim_rmsprop", n, {input(0), input(1), input(2)},
      {u32(n), a.in[0], a.in[1], a.in[2], f2u(at.beta1), f2u(at.lr), f2u(at.eps), u32(at.skip_nonfinite)}, a.caps));
}

}  // namespace

GANTRY_VK_OP(add, encode_binary<BinaryCode::add>, nullptr);
GANTRY_VK_OP(sub, encode_binary<BinaryCode::sub>, nullptr);
GANTRY_VK_OP(mul, encode_binary<BinaryCode::mul>, nullptr);
GANTRY_VK_OP(div, encode_binary<BinaryCode::div>, nullptr);
GANTRY_VK_OP(leaky_relu_backward, encode_binary<BinaryCode::leaky_relu_backward>, nullptr);
GANTRY_VK_OP(clamp_backward, encode_binary<BinaryCode::clamp_backward>, nullptr);
GANTRY_VK_OP(bce_with_logits, encode_binary<BinaryCode::bce_with_logits>, nullptr);
GANTRY_VK_OP(scale, encode_unary<UnaryCode::scale>, nullptr);
GANTRY_VK_OP(square, encode_unary<UnaryCode::square>, nullptr);
GANTRY_VK_OP(sqrt, encode_unary<UnaryCode::sqrt>, nullptr);
GANTRY_VK_OP(exp, encode_unary<UnaryCode::exp>, nullptr);
GANTRY_VK_OP(tanh, encode_unary<UnaryCode::tanh>, nullptr);
GANTRY_VK_OP(sigmoid, encode_unary<UnaryCode::sigmoid>, nullptr);
GANTRY_VK_OP(leaky_relu, encode_unary<UnaryCode::leaky_relu>, nullptr);
GANTRY_VK_OP(clamp, encode_unary<UnaryCode::clamp>, nullptr);
GANTRY_VK_OP(assign, encode_assign, nullptr);
GANTRY_VK_OP(adam, encode_adam, nullptr);
GANTRY_VK_OP(rmsprop, encode_rmsprop, nullptr);

}  // namespace gantry::vk

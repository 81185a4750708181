// Elementwise ops: broadcasting arithmetic, activations, clamp and the
// per-element binary cross-entropy on logits. Backward rules are written with
// these same ops, so every one of them can be differentiated again.
#include <cmath>

#include "engine/kernel_util.h"
#include "engine/ops.h"

namespace gantry {

std::string broadcast_shape(const Shape& a, const Shape& b, Shape& out) {
  out = Shape{};
  out.rank = std::max(a.rank, b.rank);
  for (int i = 0; i < out.rank; ++i) {
    const int ia = a.rank - out.rank + i, ib = b.rank - out.rank + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return "shapes " + a.str() + " and " + b.str() + " do not broadcast (axis " + std::to_string(i) + ")";
    out[i] = da == 1 ? db : da;
  }
  return "";
}

namespace {

std::string binary_shape(const Graph& g, const Node& n, Shape& out) {
  return broadcast_shape(g.node(n.inputs[0]).shape, g.node(n.inputs[1]).shape, out);
}
std::string unary_shape(const Graph& g, const Node& n, Shape& out) {
  out = g.node(n.inputs[0]).shape;
  return "";
}
// (dy, x) → same shape as both.
std::string grad_pair_shape(const Graph& g, const Node& n, Shape& out) {
  out = g.node(n.inputs[0]).shape;
  if (out != g.node(n.inputs[1]).shape) return "gradient and input shapes differ";
  return "";
}

// ---- add, sub, mul, div
auto add_shape = binary_shape;
void add_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  if (need[0]) dx[0] = sum_to(g, dy, input_shape(g, n, 0));
  if (need[1]) dx[1] = sum_to(g, dy, input_shape(g, n, 1));
}
template <class T>
void add_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_binary(pool, *a.in_shape[0], a.in[0], *a.in_shape[1], a.in[1], a.node->shape, a.out,
             [](T x, T y) { return x + y; });
}

auto sub_shape = binary_shape;
void sub_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  if (need[0]) dx[0] = sum_to(g, dy, input_shape(g, n, 0));
  if (need[1]) dx[1] = sum_to(g, scale(g, dy, -1), input_shape(g, n, 1));
}
template <class T>
void sub_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_binary(pool, *a.in_shape[0], a.in[0], *a.in_shape[1], a.in[1], a.node->shape, a.out,
             [](T x, T y) { return x - y; });
}

auto mul_shape = binary_shape;
void mul_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  if (need[0]) dx[0] = sum_to(g, mul(g, dy, input_of(n, 1)), input_shape(g, n, 0));
  if (need[1]) dx[1] = sum_to(g, mul(g, dy, input_of(n, 0)), input_shape(g, n, 1));
}
template <class T>
void mul_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_binary(pool, *a.in_shape[0], a.in[0], *a.in_shape[1], a.in[1], a.node->shape, a.out,
             [](T x, T y) { return x * y; });
}

auto div_shape = binary_shape;
void div_vjp(Graph& g, const Node& n, Value self, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  if (need[0]) dx[0] = sum_to(g, div(g, dy, input_of(n, 1)), input_shape(g, n, 0));
  // d(a/b)/db = −(a/b)/b
  if (need[1]) dx[1] = sum_to(g, scale(g, div(g, mul(g, dy, self), input_of(n, 1)), -1), input_shape(g, n, 1));
}
template <class T>
void div_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_binary(pool, *a.in_shape[0], a.in[0], *a.in_shape[1], a.in[1], a.node->shape, a.out,
             [](T x, T y) { return x / y; });
}

// ---- unary
auto scale_shape = unary_shape;
void scale_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = scale(g, dy, n.attrs.alpha);
}
template <class T>
void scale_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const T alpha = a.node->attrs.alpha, beta = a.node->attrs.beta;
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [=](T x) { return alpha * x + beta; });
}

auto square_shape = unary_shape;
void square_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = mul(g, dy, scale(g, input_of(n, 0), 2));
}
template <class T>
void square_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [](T x) { return x * x; });
}

auto sqrt_shape = unary_shape;
void sqrt_vjp(Graph& g, const Node&, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = div(g, scale(g, dy, 0.5f), self);
}
template <class T>
void sqrt_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [](T x) { return std::sqrt(x); });
}

auto exp_shape = unary_shape;
void exp_vjp(Graph& g, const Node&, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = mul(g, dy, self);  // d exp(x) = exp(x) dx: the output is its own derivative
}
template <class T>
void exp_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [](T x) { return std::exp(x); });
}

auto tanh_shape = unary_shape;
void tanh_vjp(Graph& g, const Node&, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = mul(g, dy, scale(g, square(g, self), -1, 1));  // 1 − y²
}
template <class T>
void tanh_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [](T x) { return std::tanh(x); });
}

auto sigmoid_shape = unary_shape;
void sigmoid_vjp(Graph& g, const Node&, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = mul(g, dy, mul(g, self, scale(g, self, -1, 1)));  // y (1 − y)
}
template <class T>
T stable_sigmoid(T x) {
  // exp of a non-positive number only: no overflow for large |x|.
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}
template <class T>
void sigmoid_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [](T x) { return stable_sigmoid(x); });
}

// ---- piecewise-linear ops; their backward ops take (dy, x). Kinks (x = 0 for
// leaky_relu, x = lo or hi for clamp) follow PyTorch: slope of the right side
// at 0 is not used, leaky_relu passes alpha·dy at x ≤ 0; clamp passes dy on [lo, hi].
auto leaky_relu_shape = unary_shape;
void leaky_relu_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = leaky_relu_backward(g, dy, input_of(n, 0), n.attrs.alpha);
}
template <class T>
void leaky_relu_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const T alpha = a.node->attrs.alpha;
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [=](T x) {
    const T ax = alpha * x;  // computed on both sides: the loop is a vector select
    return x > 0 ? x : ax;
  });
}

auto leaky_relu_backward_shape = grad_pair_shape;
// Linear in dy; piecewise constant in x (its x-gradient is zero almost everywhere).
void leaky_relu_backward_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need,
                             std::vector<Value>& dx) {
  if (need[0]) dx[0] = leaky_relu_backward(g, dy, input_of(n, 1), n.attrs.alpha);
}
template <class T>
void leaky_relu_backward_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const T alpha = a.node->attrs.alpha;
  map_binary(pool, a.node->shape, a.in[0], a.node->shape, a.in[1], a.node->shape, a.out, [=](T dy, T x) {
    const T ady = alpha * dy;
    return x > 0 ? dy : ady;
  });
}

std::string clamp_shape(const Graph& g, const Node& n, Shape& out) {
  if (!(n.attrs.alpha <= n.attrs.beta))
    return "lo " + std::to_string(n.attrs.alpha) + " > hi " + std::to_string(n.attrs.beta);
  return unary_shape(g, n, out);
}
void clamp_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = clamp_backward(g, dy, input_of(n, 0), n.attrs.alpha, n.attrs.beta);
}
template <class T>
void clamp_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const T lo = a.node->attrs.alpha, hi = a.node->attrs.beta;
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [=](T x) { return x < lo ? lo : (x > hi ? hi : x); });
}

auto clamp_backward_shape = grad_pair_shape;
void clamp_backward_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need,
                        std::vector<Value>& dx) {
  if (need[0]) dx[0] = clamp_backward(g, dy, input_of(n, 1), n.attrs.alpha, n.attrs.beta);
}
template <class T>
void clamp_backward_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const T lo = a.node->attrs.alpha, hi = a.node->attrs.beta;
  map_binary(pool, a.node->shape, a.in[0], a.node->shape, a.in[1], a.node->shape, a.out,
             [=](T dy, T x) { return x >= lo && x <= hi ? dy : T(0); });
}

// ---- bce_with_logits(x, t) = max(x, 0) − x·t + log(1 + exp(−|x|))
std::string bce_with_logits_shape(const Graph& g, const Node& n, Shape& out) {
  out = input_shape(g, n, 0);
  if (out != input_shape(g, n, 1)) return "logits and targets must have the same shape";
  return "";
}
void bce_with_logits_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need,
                         std::vector<Value>& dx) {
  if (need[0]) dx[0] = mul(g, dy, sub(g, sigmoid(g, input_of(n, 0)), input_of(n, 1)));
  if (need[1]) dx[1] = mul(g, dy, scale(g, input_of(n, 0), -1));
}
template <class T>
void bce_with_logits_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_binary(pool, a.node->shape, a.in[0], a.node->shape, a.in[1], a.node->shape, a.out,
             [](T x, T t) { return (x > 0 ? x : T(0)) - x * t + std::log1p(std::exp(-std::abs(x))); });
}

}  // namespace

GANTRY_DEFINE_OP(add, add_vjp, nullptr);
GANTRY_DEFINE_OP(sub, sub_vjp, nullptr);
GANTRY_DEFINE_OP(mul, mul_vjp, nullptr);
GANTRY_DEFINE_OP(div, div_vjp, nullptr);
GANTRY_DEFINE_OP(scale, scale_vjp, nullptr);
GANTRY_DEFINE_OP(square, square_vjp, nullptr);
GANTRY_DEFINE_OP(sqrt, sqrt_vjp, nullptr);
GANTRY_DEFINE_OP(exp, exp_vjp, nullptr);
GANTRY_DEFINE_OP(tanh, tanh_vjp, nullptr);
GANTRY_DEFINE_OP(sigmoid, sigmoid_vjp, nullptr);
GANTRY_DEFINE_OP(leaky_relu, leaky_relu_vjp, nullptr);
GANTRY_DEFINE_OP(leaky_relu_backward, leaky_relu_backward_vjp, nullptr);
GANTRY_DEFINE_OP(clamp, clamp_vjp, nullptr);
GANTRY_DEFINE_OP(clamp_backward, clamp_backward_vjp, nullptr);
GANTRY_DEFINE_OP(bce_with_logits, bce_with_logits_vjp, nullptr);

Value add(Graph& g, Value a, Value b) { return g.add(Op::add, {a, b}); }
Value sub(Graph& g, Value a, Value b) { return g.add(Op::sub, {a, b}); }
Value mul(Graph& g, Value a, Value b) { return g.add(Op::mul, {a, b}); }
Value div(Graph& g, Value a, Value b) { return g.add(Op::div, {a, b}); }
Value scale(Graph& g, Value x, float alpha, float beta) {
  Attrs at;
  at.alpha = alpha;
  at.beta = beta;
  return g.add(Op::scale, {x}, at);
}
Value square(Graph& g, Value x) { return g.add(Op::square, {x}); }
Value sqrt(Graph& g, Value x) { return g.add(Op::sqrt, {x}); }
Value exp(Graph& g, Value x) { return g.add(Op::exp, {x}); }
Value tanh(Graph& g, Value x) { return g.add(Op::tanh, {x}); }
Value sigmoid(Graph& g, Value x) { return g.add(Op::sigmoid, {x}); }
Value relu(Graph& g, Value x) { return leaky_relu(g, x, 0); }
Value leaky_relu(Graph& g, Value x, float alpha) {
  Attrs at;
  at.alpha = alpha;
  return g.add(Op::leaky_relu, {x}, at);
}
Value leaky_relu_backward(Graph& g, Value dy, Value x, float alpha) {
  Attrs at;
  at.alpha = alpha;
  return g.add(Op::leaky_relu_backward, {dy, x}, at);
}
Value clamp(Graph& g, Value x, float lo, float hi) {
  Attrs at;
  at.alpha = lo;
  at.beta = hi;
  return g.add(Op::clamp, {x}, at);
}
Value clamp_backward(Graph& g, Value dy, Value x, float lo, float hi) {
  Attrs at;
  at.alpha = lo;
  at.beta = hi;
  return g.add(Op::clamp_backward, {dy, x}, at);
}
Value bce_with_logits(Graph& g, Value logits, Value targets) { return g.add(Op::bce_with_logits, {logits, targets}); }

}  // namespace gantry

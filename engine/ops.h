// Op builders: the public way to add nodes to a Graph. Each checks shapes and
// attributes at build time; on error it records a message naming the op and
// the shapes and returns a poisoned Value (see graph.h). An invalid Value
// passed as an optional input (a conv bias, say) means "absent".
//
// Layouts follow PyTorch: x: [N, C, H, W]; conv2d w: [C_out, C_in/groups, kH, kW];
// conv_transpose2d w: [C_in, C_out/groups, kH, kW]; linear w: [out, in].
#pragma once

#include <initializer_list>
#include <vector>

#include "engine/graph.h"

namespace gantry {

// Bit mask of axes for reductions and normalization: axes({0, 2, 3}).
uint32_t axes(std::initializer_list<int> list);
// Every axis of `s` (0 for a scalar): a reduction to one value.
inline uint32_t all_axes(const Shape& s) { return s.rank ? (1u << s.rank) - 1 : 0; }

// ---- sources (ops_data.cpp)
Value fill(Graph& g, const Shape& shape, float value);
// Philox streams: the same (seed, step, stream) gives the same numbers on
// every backend. Use a distinct stream per random tensor in a step.
Value normal(Graph& g, const Shape& shape, uint32_t stream, float mean = 0, float std = 1);
Value uniform(Graph& g, const Shape& shape, uint32_t stream, float lo = 0, float hi = 1);

// ---- convolution and matrix products (ops_conv.cpp)
Value conv2d(Graph& g, Value x, Value w, Value bias, const ConvOptions& o = {});
Value conv_transpose2d(Graph& g, Value x, Value w, Value bias, const ConvOptions& o = {});
// Gradient of a conv2d weight of spatial size kernel_hw from the conv's
// input x and output gradient dy (dy may be smaller than the conv output).
Value conv2d_grad_weight(Graph& g, Value x, Value dy, int kernel_h, int kernel_w, const ConvOptions& o);
Value matmul(Graph& g, Value a, Value b, bool trans_a = false, bool trans_b = false);
// x: [B, in], w: [out, in], bias: [out] or absent → [B, out]
Value linear(Graph& g, Value x, Value w, Value bias);

// ---- elementwise (ops_elementwise.cpp); binary ops broadcast like NumPy
Value add(Graph& g, Value a, Value b);
Value sub(Graph& g, Value a, Value b);
Value mul(Graph& g, Value a, Value b);
Value div(Graph& g, Value a, Value b);
Value scale(Graph& g, Value x, float alpha, float beta = 0);  // alpha·x + beta
Value square(Graph& g, Value x);
Value sqrt(Graph& g, Value x);
Value exp(Graph& g, Value x);
Value tanh(Graph& g, Value x);
Value sigmoid(Graph& g, Value x);
Value relu(Graph& g, Value x);
Value leaky_relu(Graph& g, Value x, float alpha);
Value leaky_relu_backward(Graph& g, Value dy, Value x, float alpha);
Value clamp(Graph& g, Value x, float lo, float hi);
Value clamp_backward(Graph& g, Value dy, Value x, float lo, float hi);
// max(x, 0) − x·t + log(1 + exp(−|x|)) per element: stable for any logit.
Value bce_with_logits(Graph& g, Value logits, Value targets);

// ---- softmax (ops_softmax.cpp)
// x − log Σ exp(x) along `axis` (negative counts from the end), computed
// with the maximum subtracted first so no exp overflows.
Value log_softmax(Graph& g, Value x, int axis);

// ---- reductions and layout (ops_reduce.cpp)
Value reduce_sum(Graph& g, Value x, uint32_t axes, bool keepdim = false);
Value mean(Graph& g, Value x, uint32_t axes, bool keepdim = false);
Value broadcast_to(Graph& g, Value x, const Shape& shape);
Value reshape(Graph& g, Value x, const Shape& shape);  // one dimension may be -1
Value concat(Graph& g, const std::vector<Value>& xs, int axis);
Value slice(Graph& g, Value x, int axis, int64_t start, int64_t end);
Value slice_backward(Graph& g, Value dy, const Shape& full, int axis, int64_t start);

// ---- normalization (ops_norm.cpp)
Value normalize(Graph& g, Value x, uint32_t axes, float eps);
Value rstd(Graph& g, Value x, uint32_t axes, float eps);
Value normalize_backward(Graph& g, Value dy, Value xhat, Value rstd, uint32_t axes);
// x: [N, C, ...]; gamma, beta: [C]; running_mean, running_var: [C] state.
// training: batch statistics, and the running statistics are updated in
// place with `momentum` (unbiased variance, as PyTorch); eval: running ones.
Value batch_norm(Graph& g, Value x, Value gamma, Value beta, Value running_mean, Value running_var, bool training,
                 float momentum = 0.1f, float eps = 1e-5f);
// x: [N, C, H, W]; gamma, beta: [C] (affine).
Value instance_norm(Graph& g, Value x, Value gamma, Value beta, float eps = 1e-5f);
// Normalizes over the last `normalized_rank` axes; gamma, beta have their shape.
Value layer_norm(Graph& g, Value x, int normalized_rank, Value gamma, Value beta, float eps = 1e-5f);

// ---- data (ops_data.cpp); indices and labels are float32 holding integers
Value gather(Graph& g, Value data, Value index);  // data: [R, ...], index: [B] → [B, ...]
Value gather_backward(Graph& g, Value dy, Value index, int64_t rows);
Value one_hot(Graph& g, Value labels, int64_t classes);  // [B] → [B, classes]

// ---- in-place updates (ops_optim.cpp); effects, run in build order
struct AdamOptions {
  float lr = 1e-4f, beta1 = 0.5f, beta2 = 0.999f, eps = 1e-8f;
  // Update count t = step·updates_per_step + update_offset + 1 (bias correction).
  int64_t updates_per_step = 1, update_offset = 0;
  // Leave param, m and v as they are where the gradient is Inf or NaN (mixed
  // precision's skipped steps: the trainer makes every gradient NaN on overflow).
  bool skip_nonfinite = false;
};
Value adam(Graph& g, Value param, Value grad, Value m, Value v, const AdamOptions& o);
struct RmspropOptions {
  float lr = 5e-5f, alpha = 0.99f, eps = 1e-8f;
  bool skip_nonfinite = false;  // as AdamOptions::skip_nonfinite
};
Value rmsprop(Graph& g, Value param, Value grad, Value sq, const RmspropOptions& o);
Value assign(Graph& g, Value dst, Value src);  // dst: a parameter or state

}  // namespace gantry

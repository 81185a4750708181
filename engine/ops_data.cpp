// Sources and data movement: constant fill, Philox normal/uniform fills keyed
// by (seed, step, stream), gather of dataset rows by index (and its scatter-add
// adjoint), one-hot labels. Indices and labels are float32 holding integers.
#include <cmath>
#include <limits>

#include "engine/kernel_util.h"
#include "engine/ops.h"
#include "platform/philox.h"

namespace gantry {
namespace {

std::string source_shape(const Graph&, const Node& n, Shape& out) {
  out = n.attrs.shape;
  for (int i = 0; i < out.rank; ++i)
    if (out[i] <= 0) return "non-positive dimension in " + out.str();
  if (out.numel() > int64_t(std::numeric_limits<uint32_t>::max()))
    return "more elements than the Philox counter covers";
  return "";
}

// ---- fill
auto fill_shape = source_shape;
template <class T>
void fill_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool&) {
  std::fill(a.out, a.out + a.node->shape.numel(), T(a.node->attrs.alpha));
}

// ---- normal(mean = alpha, std = beta), uniform [lo = alpha, hi = beta)
auto normal_shape = source_shape;
template <class T>
void normal_cpu(const CpuArgs<T>& a, const StepUniforms& u, ThreadPool& pool) {
  const Attrs& at = a.node->attrs;
  pool.parallel_for(a.node->shape.numel(), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      a.out[i] = T(at.alpha + at.beta * philox_normal(u.seed, u.step, at.stream, uint32_t(i)));
  });
}
auto uniform_shape = source_shape;
template <class T>
void uniform_cpu(const CpuArgs<T>& a, const StepUniforms& u, ThreadPool& pool) {
  const Attrs& at = a.node->attrs;
  pool.parallel_for(a.node->shape.numel(), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      a.out[i] = T(at.alpha + (at.beta - at.alpha) * philox_uniform(u.seed, u.step, at.stream, uint32_t(i)));
  });
}

// ---- gather(data [R, ...], index [B]) → [B, ...]
std::string gather_shape(const Graph& g, const Node& n, Shape& out) {
  const Shape& d = input_shape(g, n, 0);
  const Shape& idx = input_shape(g, n, 1);
  if (d.rank < 1) return "data must have rank ≥ 1";
  if (idx.rank != 1) return "index must be a vector [B]";
  if (d[0] > (int64_t(1) << 24)) return "more than 2^24 rows cannot be indexed exactly by float32 indices";
  out = d;
  out[0] = idx[0];
  return "";
}
void gather_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  if (need[0]) dx[0] = gather_backward(g, dy, input_of(n, 1), input_shape(g, n, 0)[0]);
}
template <class T>
void gather_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const int64_t rows = (*a.in_shape[0])[0], width = a.in_shape[0]->numel() / rows;
  const int64_t B = (*a.in_shape[1])[0];
  pool.parallel_for(B, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T r = a.in[1][i];
      T* dst = a.out + i * width;
      if (!(r >= 0 && r < T(rows)))  // a bad index poisons its row; the trainers' NaN guard names it
        std::fill(dst, dst + width, std::numeric_limits<T>::quiet_NaN());
      else
        std::copy(a.in[0] + int64_t(r) * width, a.in[0] + (int64_t(r) + 1) * width, dst);
    }
  });
}

// ---- gather_backward(dy [B, ...], index [B]) → [rows, ...], summing repeated indices
std::string gather_backward_shape(const Graph& g, const Node& n, Shape& out) {
  const Shape& dy = input_shape(g, n, 0);
  const Shape& idx = input_shape(g, n, 1);
  if (idx.rank != 1 || dy.rank < 1 || dy[0] != idx[0]) return "index must be [B] with B the rows of dy";
  if (n.attrs.count <= 0) return "rows must be positive";
  out = dy;
  out[0] = n.attrs.count;
  return "";
}
void gather_backward_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need,
                         std::vector<Value>& dx) {
  if (need[0]) dx[0] = gather(g, dy, input_of(n, 1));
}
template <class T>
void gather_backward_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const int64_t rows = a.node->shape[0], width = a.node->shape.numel() / rows;
  const int64_t B = (*a.in_shape[1])[0];
  std::fill(a.out, a.out + rows * width, T(0));
  // Split by column so every output element is summed by one thread, in batch order.
  pool.parallel_for(width, 256, [&](int64_t c0, int64_t c1) {
    for (int64_t i = 0; i < B; ++i) {
      const T r = a.in[1][i];
      if (!(r >= 0 && r < T(rows))) continue;
      for (int64_t c = c0; c < c1; ++c) a.out[int64_t(r) * width + c] += a.in[0][i * width + c];
    }
  });
}

// ---- one_hot(labels [B]) → [B, classes]; a label outside [0, classes) gives a zero row
std::string one_hot_shape(const Graph& g, const Node& n, Shape& out) {
  const Shape& l = input_shape(g, n, 0);
  if (l.rank != 1) return "labels must be a vector [B]";
  if (n.attrs.count <= 0) return "classes must be positive";
  out = Shape{l[0], n.attrs.count};
  return "";
}
template <class T>
void one_hot_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool&) {
  const int64_t B = a.node->shape[0], C = a.node->shape[1];
  std::fill(a.out, a.out + B * C, T(0));
  for (int64_t i = 0; i < B; ++i) {
    const T l = a.in[0][i];
    if (l >= 0 && l < T(C)) a.out[i * C + int64_t(l)] = T(1);
  }
}

}  // namespace

GANTRY_DEFINE_OP(fill, nullptr, nullptr);
GANTRY_DEFINE_OP(normal, nullptr, nullptr);
GANTRY_DEFINE_OP(uniform, nullptr, nullptr);
GANTRY_DEFINE_OP(gather, gather_vjp, nullptr);
GANTRY_DEFINE_OP(gather_backward, gather_backward_vjp, nullptr);
GANTRY_DEFINE_OP(one_hot, nullptr, nullptr);

Value fill(Graph& g, const Shape& shape, float value) {
  Attrs at;
  at.shape = shape;
  at.alpha = value;
  return g.add(Op::fill, {}, at);
}
Value normal(Graph& g, const Shape& shape, uint32_t stream, float mean, float std) {
  Attrs at;
  at.shape = shape;
  at.stream = stream;
  at.alpha = mean;
  at.beta = std;
  return g.add(Op::normal, {}, at);
}
Value uniform(Graph& g, const Shape& shape, uint32_t stream, float lo, float hi) {
  Attrs at;
  at.shape = shape;
  at.stream = stream;
  at.alpha = lo;
  at.beta = hi;
  return g.add(Op::uniform, {}, at);
}
Value gather(Graph& g, Value data, Value index) { return g.add(Op::gather, {data, index}); }
Value gather_backward(Graph& g, Value dy, Value index, int64_t rows) {
  Attrs at;
  at.count = rows;
  return g.add(Op::gather_backward, {dy, index}, at);
}
Value one_hot(Graph& g, Value labels, int64_t classes) {
  Attrs at;
  at.count = classes;
  return g.add(Op::one_hot, {labels}, at);
}

}  // namespace gantry

// Softmax family: log_softmax along one axis, the classifier's cross-entropy
// building block (loss = −Σ one_hot ⊙ log_softmax(logits)). The backward rule
// dx = dy − exp(y)·Σ_axis dy is written with exp, mul, sub and reduce_sum, so
// it can be differentiated again; tests/test_gradcheck.cpp checks both orders.
#include <cmath>
#include <limits>

#include "engine/kernel_util.h"
#include "engine/ops.h"

namespace gantry {
namespace {

// ---- log_softmax(x, axis) = x − max − log Σ exp(x − max)
std::string log_softmax_shape(const Graph& g, const Node& n, Shape& out) {
  out = input_shape(g, n, 0);
  if (out.rank < 1) return "needs a tensor of rank ≥ 1, got a scalar";
  if (n.attrs.axis < 0 || n.attrs.axis >= out.rank)
    return "axis " + std::to_string(n.attrs.axis) + " out of range for rank " + std::to_string(out.rank);
  return "";
}
void log_softmax_vjp(Graph& g, const Node& n, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  // exp(y) is the softmax itself; Σ dy keeps its axis so mul broadcasts it back.
  const Value sum_dy = reduce_sum(g, dy, 1u << n.attrs.axis, true);
  dx[0] = sub(g, dy, mul(g, exp(g, self), sum_dy));
}
template <class T>
void log_softmax_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const ReduceIndex r(a.node->shape, 1u << a.node->attrs.axis);
  const T* x = a.in[0];
  T* y = a.out;
  pool.parallel_for(r.outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, r.inner)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t base = r.base(o);
      T max = -std::numeric_limits<T>::infinity();
      r.for_each(base, [&](int64_t off) { max = std::max(max, x[off]); });
      // Every exp argument is ≤ 0 after the shift, and the largest term is 1,
      // so the sum is in [1, K]: no overflow, and its log is well defined.
      double sum = 0;  // double, like reduce_sum: the yardstick for the GPU backends
      r.for_each(base, [&](int64_t off) { sum += std::exp(double(x[off] - max)); });
      // (x − max) − log Σ rather than x − (max + log Σ): the latter rounds
      // log Σ to the spacing of max, 6e-5 for logits near 1000.
      const T log_sum = T(std::log(sum));
      r.for_each(base, [&](int64_t off) { y[off] = (x[off] - max) - log_sum; });
    }
  });
}

}  // namespace

GANTRY_DEFINE_OP(log_softmax, log_softmax_vjp, nullptr);

Value log_softmax(Graph& g, Value x, int axis) {
  if (!x.valid()) return x;
  const int rank = g.shape(x).rank;
  Attrs at;
  at.axis = axis < 0 ? axis + rank : axis;
  return g.add(Op::log_softmax, {x}, at);
}

}  // namespace gantry

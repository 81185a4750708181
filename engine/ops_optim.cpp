// In-place updates of persistent tensors: Adam (Kingma & Ba 2015, Alg. 1, as
// torch.optim.Adam computes it), RMSProp (as torch.optim.RMSprop, no momentum)
// and assign (running statistics, weight clipping). They are effects: empty
// output, kept by the compiler, run in build order.
#include <cmath>

#include "engine/kernel_util.h"
#include "engine/ops.h"

namespace gantry {
namespace {

std::string check_persistent(const Graph& g, const Node& n, int i, const char* what) {
  const Node& t = g.node(n.inputs[i]);
  if (t.op != Op::leaf || (t.role != Role::param && t.role != Role::state))
    return std::string(what) + " must be a parameter or state tensor";
  return "";
}

std::string same_shapes(const Graph& g, const Node& n) {
  const Shape& s = g.node(n.inputs[0]).shape;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (g.node(n.inputs[i]).shape != s) return "all inputs must have the shape " + s.str();
  return "";
}

std::string adam_shape(const Graph& g, const Node& n, Shape& out) {
  out = Shape{0};
  for (auto e : {check_persistent(g, n, 0, "param"), check_persistent(g, n, 2, "m"), check_persistent(g, n, 3, "v"),
                 same_shapes(g, n)})
    if (!e.empty()) return e;
  return "";
}
template <class T>
void adam_cpu(const CpuArgs<T>& a, const StepUniforms& u, ThreadPool& pool) {
  const Attrs& at = a.node->attrs;
  const double t = double(u.step * at.t_per_step + at.t_offset + 1);
  const double bc1 = 1 - std::pow(double(at.beta1), t), bc2 = 1 - std::pow(double(at.beta2), t);
  const T step_size = T(at.lr / bc1), rbc2 = T(1 / std::sqrt(bc2));
  const T b1 = at.beta1, b2 = at.beta2, eps = at.eps;
  T *p = a.in[0], *m = a.in[2], *v = a.in[3];
  const T* gr = a.in[1];
  const bool skip = at.skip_nonfinite;
  pool.parallel_for(a.in_shape[0]->numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (skip && !std::isfinite(gr[i])) continue;
      m[i] = b1 * m[i] + (1 - b1) * gr[i];
      v[i] = b2 * v[i] + (1 - b2) * gr[i] * gr[i];
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) * rbc2 + eps);
    }
  });
}

std::string rmsprop_shape(const Graph& g, const Node& n, Shape& out) {
  out = Shape{0};
  for (auto e : {check_persistent(g, n, 0, "param"), check_persistent(g, n, 2, "sq"), same_shapes(g, n)})
    if (!e.empty()) return e;
  return "";
}
template <class T>
void rmsprop_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Attrs& at = a.node->attrs;
  const T alpha = at.beta1, lr = at.lr, eps = at.eps;
  T *p = a.in[0], *sq = a.in[2];
  const T* gr = a.in[1];
  const bool skip = at.skip_nonfinite;
  pool.parallel_for(a.in_shape[0]->numel(), 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      if (skip && !std::isfinite(gr[i])) continue;
      sq[i] = alpha * sq[i] + (1 - alpha) * gr[i] * gr[i];
      p[i] -= lr * gr[i] / (std::sqrt(sq[i]) + eps);
    }
  });
}

std::string assign_shape(const Graph& g, const Node& n, Shape& out) {
  out = Shape{0};
  for (auto e : {check_persistent(g, n, 0, "dst"), same_shapes(g, n)})
    if (!e.empty()) return e;
  return "";
}
template <class T>
void assign_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.in_shape[0]->numel(), a.in[1], a.in[0], [](T x) { return x; });
}

}  // namespace

GANTRY_DEFINE_OP(adam, nullptr, nullptr);
GANTRY_DEFINE_OP(rmsprop, nullptr, nullptr);
GANTRY_DEFINE_OP(assign, nullptr, nullptr);

Value adam(Graph& g, Value param, Value grad, Value m, Value v, const AdamOptions& o) {
  Attrs at;
  at.lr = o.lr;
  at.beta1 = o.beta1;
  at.beta2 = o.beta2;
  at.eps = o.eps;
  at.t_per_step = o.updates_per_step;
  at.t_offset = o.update_offset;
  at.skip_nonfinite = o.skip_nonfinite;
  return g.add(Op::adam, {param, grad, m, v}, at);
}
Value rmsprop(Graph& g, Value param, Value grad, Value sq, const RmspropOptions& o) {
  Attrs at;
  at.lr = o.lr;
  at.beta1 = o.alpha;
  at.eps = o.eps;
  at.skip_nonfinite = o.skip_nonfinite;
  return g.add(Op::rmsprop, {param, grad, sq}, at);
}
Value assign(Graph& g, Value dst, Value src) { return g.add(Op::assign, {dst, src}); }

}  // namespace gantry

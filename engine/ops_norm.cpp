// Normalization. Three ops carry all of batch, instance and layer norm:
//   normalize(x)            x̂ = (x − mean) · rstd over an axis set
//   rstd(x)                 1 / sqrt(var + eps), reduced axes kept as 1
//   normalize_backward      dx = rstd · (dy − mean(dy) − x̂ · mean(dy · x̂))
// (the standard batch-norm gradient, e.g. Ioffe & Szegedy 2015, §3). The
// affine scale/shift and running statistics are ordinary broadcasting ops.
// normalize_backward's own backward rule is written in graph ops, which is
// what lets WGAN-GP differentiate an instance-norm critic twice.
#include <cmath>

#include "engine/kernel_util.h"
#include "engine/ops.h"

namespace gantry {
namespace {

int64_t group_size(const Shape& s, uint32_t mask) { return ReduceIndex(s, mask).inner; }

std::string check_norm_axes(const Shape& x, uint32_t mask) {
  if (mask == 0) return "no axes to normalize over";
  if (mask >> x.rank)
    return "axes mask " + std::to_string(mask) + " names an axis beyond rank " + std::to_string(x.rank);
  return "";
}

// Mean and rstd of reduction group o (two passes, in double).
template <class T>
void group_moments(const ReduceIndex& r, const T* x, int64_t o, double eps, double& mean, double& rstd) {
  const int64_t base = r.base(o);
  mean = r.sum(base, [&](int64_t off) { return double(x[off]); }) / double(r.inner);
  const double ss = r.sum(base, [&](int64_t off) { return (x[off] - mean) * (x[off] - mean); });
  rstd = 1.0 / std::sqrt(ss / double(r.inner) + eps);
}

// ---- normalize
std::string normalize_shape(const Graph& g, const Node& n, Shape& out) {
  out = input_shape(g, n, 0);
  return check_norm_axes(out, n.attrs.axes);
}
void normalize_vjp(Graph& g, const Node& n, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = normalize_backward(g, dy, self, rstd(g, input_of(n, 0), n.attrs.axes, n.attrs.eps), n.attrs.axes);
}
template <class T>
void normalize_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const ReduceIndex r(*a.in_shape[0], a.node->attrs.axes);
  pool.parallel_for(r.outer, grain_for(r.inner), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      double mean, rs;
      group_moments(r, a.in[0], o, a.node->attrs.eps, mean, rs);
      r.for_each(r.base(o), [&](int64_t off) { a.out[off] = T((a.in[0][off] - mean) * rs); });
    }
  });
}

// ---- rstd; d rstd / dx = −rstd³ (x − mean) / n = −rstd² · x̂ / n
std::string rstd_shape(const Graph& g, const Node& n, Shape& out) {
  const Shape& x = input_shape(g, n, 0);
  out = reduced_shape(x, n.attrs.axes, true);
  return check_norm_axes(x, n.attrs.axes);
}
void rstd_vjp(Graph& g, const Node& n, Value self, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  const Value xhat = normalize(g, input_of(n, 0), n.attrs.axes, n.attrs.eps);
  const float inv_n = 1.0f / float(group_size(input_shape(g, n, 0), n.attrs.axes));
  // dy·rstd·(−1/n) first, then ·rstd: rstd² alone (up to 1/eps) would overflow binary16 storage.
  dx[0] = mul(g, mul(g, scale(g, mul(g, dy, self), -inv_n), self), xhat);
}
template <class T>
void rstd_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const ReduceIndex r(*a.in_shape[0], a.node->attrs.axes);
  pool.parallel_for(r.outer, grain_for(r.inner), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      double mean, rs;
      group_moments(r, a.in[0], o, a.node->attrs.eps, mean, rs);
      a.out[o] = T(rs);
    }
  });
}

// ---- normalize_backward(dy, x̂, rstd)
std::string normalize_backward_shape(const Graph& g, const Node& n, Shape& out) {
  out = input_shape(g, n, 0);
  if (auto e = check_norm_axes(out, n.attrs.axes); !e.empty()) return e;
  if (input_shape(g, n, 1) != out) return "dy and x̂ shapes differ";
  if (input_shape(g, n, 2) != reduced_shape(out, n.attrs.axes, true))
    return "rstd must have shape " + reduced_shape(out, n.attrs.axes, true).str();
  return "";
}
// With m2 = mean(dy·x̂) and out = rstd·(dy − mean(dy) − x̂·m2), for an output gradient G:
//   ∂/∂dy = normalize_backward(G, x̂, rstd)          (the map dy → out is self-adjoint)
//   ∂/∂x̂  = −rstd · (G·m2 + dy·mean(G·x̂))
//   ∂/∂rstd = sum(G·out) / rstd
void normalize_backward_vjp(Graph& g, const Node& n, Value self, Value G, const std::vector<bool>& need,
                            std::vector<Value>& dx) {
  const uint32_t ax = n.attrs.axes;
  const Value dy = input_of(n, 0), xhat = input_of(n, 1), r = input_of(n, 2);
  if (need[0]) dx[0] = normalize_backward(g, G, xhat, r, ax);
  if (need[1]) {
    const Value m2 = mean(g, mul(g, dy, xhat), ax, true);
    const Value m3 = mean(g, mul(g, G, xhat), ax, true);
    dx[1] = mul(g, scale(g, r, -1), add(g, mul(g, G, m2), mul(g, dy, m3)));
  }
  if (need[2]) dx[2] = div(g, reduce_sum(g, mul(g, G, self), ax, true), r);
}
template <class T>
void normalize_backward_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const ReduceIndex r(*a.in_shape[0], a.node->attrs.axes);
  const T *dy = a.in[0], *xh = a.in[1], *rs = a.in[2];
  pool.parallel_for(r.outer, grain_for(r.inner), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t base = r.base(o);
      const double s1 = r.sum(base, [&](int64_t off) { return double(dy[off]); });
      const double s2 = r.sum(base, [&](int64_t off) { return double(dy[off]) * xh[off]; });
      const double m1 = s1 / double(r.inner), m2 = s2 / double(r.inner), rv = rs[o];
      r.for_each(base, [&](int64_t off) { a.out[off] = T(rv * (dy[off] - m1 - xh[off] * m2)); });
    }
  });
}

// [C] → [C, 1, ..., 1] so that it broadcasts against [N, C, ...].
Value per_channel(Graph& g, Value v, int rank) {
  if (!v.valid() || rank <= 2) return v;
  Shape s{g.shape(v)[0]};
  while (s.rank < rank - 1) s[s.rank++] = 1;
  return reshape(g, v, s);
}

Value affine(Graph& g, Value y, Value gamma, Value beta, int rank) {
  if (gamma.valid()) y = mul(g, y, per_channel(g, gamma, rank));
  if (beta.valid()) y = add(g, y, per_channel(g, beta, rank));
  return y;
}

bool is_channel_vector(const Graph& g, Value v, int64_t c) {
  return !v.valid() || (g.shape(v).rank == 1 && g.shape(v)[0] == c);
}

}  // namespace

GANTRY_DEFINE_OP(normalize, normalize_vjp, nullptr);
GANTRY_DEFINE_OP(rstd, rstd_vjp, nullptr);
GANTRY_DEFINE_OP(normalize_backward, normalize_backward_vjp, nullptr);

Value normalize(Graph& g, Value x, uint32_t mask, float eps) {
  Attrs at;
  at.axes = mask;
  at.eps = eps;
  return g.add(Op::normalize, {x}, at);
}
Value rstd(Graph& g, Value x, uint32_t mask, float eps) {
  Attrs at;
  at.axes = mask;
  at.eps = eps;
  return g.add(Op::rstd, {x}, at);
}
Value normalize_backward(Graph& g, Value dy, Value xhat, Value r, uint32_t mask) {
  Attrs at;
  at.axes = mask;
  return g.add(Op::normalize_backward, {dy, xhat, r}, at);
}

Value batch_norm(Graph& g, Value x, Value gamma, Value beta, Value running_mean, Value running_var, bool training,
                 float momentum, float eps) {
  if (!x.valid() || !running_mean.valid() || !running_var.valid())
    return g.fail(g.ok() ? "batch_norm: missing input" : "");
  const Shape s = g.shape(x);
  if (s.rank < 2) return g.fail("batch_norm: input " + s.str() + " must be [N, C, ...]");
  const int64_t c = s[1];
  for (Value v : {gamma, beta, running_mean, running_var})
    if (!is_channel_vector(g, v, c))
      return g.fail("batch_norm: parameter " + g.shape(v).str() + " does not match " + std::to_string(c) +
                    " channels of " + s.str());
  uint32_t mask = 0;
  for (int i = 0; i < s.rank; ++i)
    if (i != 1) mask |= 1u << i;
  const int rank = s.rank;
  if (!training) {
    // y = (x − μ_run) · γ / sqrt(σ²_run + eps) + β
    Value inv = div(g, gamma.valid() ? gamma : fill(g, Shape{c}, 1), sqrt(g, scale(g, running_var, 1, eps)));
    Value y = mul(g, sub(g, x, per_channel(g, running_mean, rank)), per_channel(g, inv, rank));
    return beta.valid() ? add(g, y, per_channel(g, beta, rank)) : y;
  }
  // Running statistics as PyTorch keeps them: biased variance normalizes,
  // the unbiased one (n/(n−1)) goes into running_var.
  const int64_t n = group_size(s, mask);
  const Value mu = mean(g, x, mask, true);
  const Value var = mean(g, square(g, sub(g, x, mu)), mask, false);
  const Value mu_c = reshape(g, mu, Shape{c});
  assign(g, running_mean, add(g, scale(g, running_mean, 1 - momentum), scale(g, mu_c, momentum)));
  const float unbias = n > 1 ? float(n) / float(n - 1) : 1.0f;
  assign(g, running_var, add(g, scale(g, running_var, 1 - momentum), scale(g, var, momentum * unbias)));
  return affine(g, normalize(g, x, mask, eps), gamma, beta, rank);
}

Value instance_norm(Graph& g, Value x, Value gamma, Value beta, float eps) {
  if (!x.valid()) return x;
  const Shape s = g.shape(x);
  if (s.rank < 3) return g.fail("instance_norm: input " + s.str() + " must be [N, C, H, ...]");
  for (Value v : {gamma, beta})
    if (!is_channel_vector(g, v, s[1]))
      return g.fail("instance_norm: parameter " + g.shape(v).str() + " does not match " + std::to_string(s[1]) +
                    " channels of " + s.str());
  uint32_t mask = 0;
  for (int i = 2; i < s.rank; ++i) mask |= 1u << i;
  return affine(g, normalize(g, x, mask, eps), gamma, beta, s.rank);
}

Value layer_norm(Graph& g, Value x, int normalized_rank, Value gamma, Value beta, float eps) {
  if (!x.valid()) return x;
  const Shape s = g.shape(x);
  if (normalized_rank < 1 || normalized_rank > s.rank)
    return g.fail("layer_norm: cannot normalize the last " + std::to_string(normalized_rank) + " axes of " + s.str());
  uint32_t mask = 0;
  Shape tail;
  for (int i = s.rank - normalized_rank; i < s.rank; ++i) {
    mask |= 1u << i;
    tail[tail.rank++] = s[i];
  }
  for (Value v : {gamma, beta})
    if (v.valid() && g.shape(v) != tail)
      return g.fail("layer_norm: parameter " + g.shape(v).str() + " must have shape " + tail.str());
  Value y = normalize(g, x, mask, eps);
  if (gamma.valid()) y = mul(g, y, gamma);
  if (beta.valid()) y = add(g, y, beta);
  return y;
}

}  // namespace gantry

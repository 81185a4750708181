// Reductions and layout ops: reduce_sum over an axis set, broadcast_to (its
// adjoint), reshape, concat, slice and slice_backward (slice's adjoint).
#include "engine/kernel_util.h"
#include "engine/ops.h"

namespace gantry {

uint32_t axes(std::initializer_list<int> list) {
  uint32_t m = 0;
  for (int a : list) m |= 1u << a;
  return m;
}

Shape reduced_shape(const Shape& x, uint32_t mask, bool keepdim) {
  Shape out;
  for (int i = 0; i < x.rank; ++i) {
    if (!(mask >> i & 1u))
      out[out.rank++] = x[i];
    else if (keepdim)
      out[out.rank++] = 1;
  }
  return out;
}

Value sum_to(Graph& g, Value v, const Shape& target) {
  if (!v.valid()) return v;
  const Shape s = g.shape(v);
  if (s == target) return v;
  const int lead = s.rank - target.rank;
  uint32_t mask = 0;
  for (int i = 0; i < s.rank; ++i)
    if (i < lead || (target[i - lead] == 1 && s[i] != 1)) mask |= 1u << i;
  Value r = mask ? reduce_sum(g, v, mask, true) : v;
  return g.shape(r) == target ? r : reshape(g, r, target);
}

namespace {

std::string check_axes(const Shape& s, uint32_t mask) {
  if (mask >> s.rank)
    return "axes mask " + std::to_string(mask) + " names an axis beyond rank " + std::to_string(s.rank);
  return "";
}

// ---- reduce_sum
std::string reduce_sum_shape(const Graph& g, const Node& n, Shape& out) {
  const Shape& x = input_shape(g, n, 0);
  if (auto e = check_axes(x, n.attrs.axes); !e.empty()) return e;
  out = reduced_shape(x, n.attrs.axes, n.attrs.keepdim);
  return "";
}
void reduce_sum_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  const Shape x = input_shape(g, n, 0);
  const Shape kept = reduced_shape(x, n.attrs.axes, true);
  dx[0] = broadcast_to(g, g.shape(dy) == kept ? dy : reshape(g, dy, kept), x);
}
template <class T>
void reduce_sum_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const ReduceIndex r(*a.in_shape[0], a.node->attrs.axes);
  const T* x = a.in[0];
  pool.parallel_for(r.outer, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, r.inner)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      // The reference accumulates in double: it is the yardstick for the GPU backends.
      a.out[o] = T(r.sum(r.base(o), [&](int64_t off) { return double(x[off]); }));
    }
  });
}

// ---- broadcast_to
std::string broadcast_to_shape(const Graph& g, const Node& n, Shape& out) {
  Shape b;
  if (auto e = broadcast_shape(input_shape(g, n, 0), n.attrs.shape, b); !e.empty()) return e;
  if (b != n.attrs.shape) return "cannot broadcast to " + n.attrs.shape.str();
  out = b;
  return "";
}
void broadcast_to_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = sum_to(g, dy, input_shape(g, n, 0));
}
template <class T>
void broadcast_to_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape& out = a.node->shape;
  const auto st = broadcast_strides(*a.in_shape[0], out);
  const std::array<int64_t, kMaxRank> none{};
  pool.parallel_for(out.numel(), 16384, [&](int64_t b, int64_t e) {
    for_each_broadcast(out, st, none, b, e, [&](int64_t i, int64_t ix, int64_t) { a.out[i] = a.in[0][ix]; });
  });
}

// ---- reshape (a copy: tensors never alias, which keeps the planner simple)
std::string reshape_shape(const Graph& g, const Node& n, Shape& out) {
  const Shape& x = input_shape(g, n, 0);
  out = n.attrs.shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < out.rank; ++i) {
    if (out[i] == -1 && infer < 0)
      infer = i;
    else if (out[i] <= 0)
      return "bad target shape " + out.str();
    else
      known *= out[i];
  }
  if (infer >= 0) {
    if (x.numel() % known) return "cannot infer -1 in " + out.str();
    out[infer] = x.numel() / known;
  }
  if (out.numel() != x.numel()) return "cannot reshape " + std::to_string(x.numel()) + " elements to " + out.str();
  return "";
}
void reshape_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = reshape(g, dy, input_shape(g, n, 0));
}
template <class T>
void reshape_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  map_unary(pool, a.node->shape.numel(), a.in[0], a.out, [](T x) { return x; });
}

// ---- concat along one axis
std::string concat_shape(const Graph& g, const Node& n, Shape& out) {
  out = input_shape(g, n, 0);
  const int ax = n.attrs.axis;
  if (ax < 0 || ax >= out.rank)
    return "axis " + std::to_string(ax) + " out of range for rank " + std::to_string(out.rank);
  for (size_t k = 1; k < n.inputs.size(); ++k) {
    const Shape& s = input_shape(g, n, int(k));
    bool same = s.rank == out.rank;
    for (int i = 0; same && i < s.rank; ++i) same = i == ax || s[i] == out[i];
    if (!same) return "input " + std::to_string(k) + " differs from input 0 outside axis " + std::to_string(ax);
    out[ax] += s[ax];
  }
  return "";
}
void concat_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  int64_t at = 0;
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const int64_t len = input_shape(g, n, int(k))[n.attrs.axis];
    if (need[k]) dx[k] = slice(g, dy, n.attrs.axis, at, at + len);
    at += len;
  }
}
template <class T>
void concat_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape& out = a.node->shape;
  const int ax = a.node->attrs.axis;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= out[i];
  for (int i = ax + 1; i < out.rank; ++i) inner *= out[i];
  pool.parallel_for(outer, 1, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      T* dst = a.out + o * out[ax] * inner;
      for (int k = 0; k < a.n_in; ++k) {
        const int64_t len = (*a.in_shape[k])[ax] * inner;
        std::copy(a.in[k] + o * len, a.in[k] + (o + 1) * len, dst);
        dst += len;
      }
    }
  });
}

// ---- slice [start, start+count) along an axis, and its zero-padded adjoint
std::string slice_shape(const Graph& g, const Node& n, Shape& out) {
  out = input_shape(g, n, 0);
  const int ax = n.attrs.axis;
  if (ax < 0 || ax >= out.rank)
    return "axis " + std::to_string(ax) + " out of range for rank " + std::to_string(out.rank);
  if (n.attrs.start < 0 || n.attrs.count <= 0 || n.attrs.start + n.attrs.count > out[ax])
    return "range [" + std::to_string(n.attrs.start) + ", " + std::to_string(n.attrs.start + n.attrs.count) +
           ") outside axis " + std::to_string(ax) + " of size " + std::to_string(out[ax]);
  out[ax] = n.attrs.count;
  return "";
}
void slice_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = slice_backward(g, dy, input_shape(g, n, 0), n.attrs.axis, n.attrs.start);
}
// Copies rows between a full tensor and its slice; `to_slice` picks the direction.
template <class T>
void copy_slice(const Shape& full, int ax, int64_t start, int64_t count, T* full_p, T* slice_p, bool to_slice,
                ThreadPool& pool) {
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= full[i];
  for (int i = ax + 1; i < full.rank; ++i) inner *= full[i];
  pool.parallel_for(outer, 1, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      T* f = full_p + (o * full[ax] + start) * inner;
      T* s = slice_p + o * count * inner;
      if (to_slice)
        std::copy(f, f + count * inner, s);
      else
        std::copy(s, s + count * inner, f);
    }
  });
}
template <class T>
void slice_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Attrs& at = a.node->attrs;
  copy_slice(*a.in_shape[0], at.axis, at.start, at.count, a.in[0], a.out, true, pool);
}

std::string slice_backward_shape(const Graph& g, const Node& n, Shape& out) {
  out = n.attrs.shape;
  const Shape& dy = input_shape(g, n, 0);
  if (dy.rank != out.rank) return "gradient rank differs from full shape " + out.str();
  const int ax = n.attrs.axis;
  if (ax < 0 || ax >= out.rank || n.attrs.start < 0 || n.attrs.start + dy[ax] > out[ax])
    return "slice at " + std::to_string(n.attrs.start) + " on axis " + std::to_string(ax) + " does not fit " +
           out.str();
  for (int i = 0; i < out.rank; ++i)
    if (i != ax && dy[i] != out[i]) return "gradient does not match full shape " + out.str() + " outside the axis";
  return "";
}
void slice_backward_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>&, std::vector<Value>& dx) {
  dx[0] = slice(g, dy, n.attrs.axis, n.attrs.start, n.attrs.start + input_shape(g, n, 0)[n.attrs.axis]);
}
template <class T>
void slice_backward_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Attrs& at = a.node->attrs;
  std::fill(a.out, a.out + a.node->shape.numel(), T(0));
  copy_slice(a.node->shape, at.axis, at.start, (*a.in_shape[0])[at.axis], a.out, a.in[0], false, pool);
}

}  // namespace

GANTRY_DEFINE_OP(reduce_sum, reduce_sum_vjp, nullptr);
GANTRY_DEFINE_OP(broadcast_to, broadcast_to_vjp, nullptr);
GANTRY_DEFINE_OP(reshape, reshape_vjp, nullptr);
GANTRY_DEFINE_OP(concat, concat_vjp, nullptr);
GANTRY_DEFINE_OP(slice, slice_vjp, nullptr);
GANTRY_DEFINE_OP(slice_backward, slice_backward_vjp, nullptr);

Value reduce_sum(Graph& g, Value x, uint32_t mask, bool keepdim) {
  Attrs at;
  at.axes = mask;
  at.keepdim = keepdim;
  return g.add(Op::reduce_sum, {x}, at);
}
Value mean(Graph& g, Value x, uint32_t mask, bool keepdim) {
  if (!x.valid()) return x;
  const Shape s = g.shape(x);
  int64_t count = 1;
  for (int i = 0; i < s.rank; ++i)
    if (mask >> i & 1u) count *= s[i];
  return scale(g, reduce_sum(g, x, mask, keepdim), 1.0f / float(count));
}
Value broadcast_to(Graph& g, Value x, const Shape& shape) {
  Attrs at;
  at.shape = shape;
  return g.add(Op::broadcast_to, {x}, at);
}
Value reshape(Graph& g, Value x, const Shape& shape) {
  Attrs at;
  at.shape = shape;
  return g.add(Op::reshape, {x}, at);
}
Value concat(Graph& g, const std::vector<Value>& xs, int axis) {
  if (xs.empty()) return g.fail("concat: no inputs");
  Attrs at;
  at.axis = axis;
  return g.add(Op::concat, xs, at);
}
Value slice(Graph& g, Value x, int axis, int64_t start, int64_t end) {
  Attrs at;
  at.axis = axis;
  at.start = start;
  at.count = end - start;
  return g.add(Op::slice, {x}, at);
}
Value slice_backward(Graph& g, Value dy, const Shape& full, int axis, int64_t start) {
  Attrs at;
  at.axis = axis;
  at.start = start;
  at.shape = full;
  return g.add(Op::slice_backward, {dy}, at);
}

}  // namespace gantry

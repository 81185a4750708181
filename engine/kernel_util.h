// Index helpers shared by the CPU reference kernels: NumPy broadcasting and
// reductions over an arbitrary axis set of a rank ≤ 5 tensor. Every output
// element is computed by one thread in a fixed order, so results do not depend
// on the thread count.
#pragma once

#include <string>

#include "engine/op_table.h"
#include "platform/thread_pool.h"

namespace gantry {

// Shape of a ⊕ b under NumPy broadcasting, or an error message.
std::string broadcast_shape(const Shape& a, const Shape& b, Shape& out);

// Strides of `in` seen as a tensor of shape `out` (right-aligned; 0 on broadcast axes).
inline std::array<int64_t, kMaxRank> broadcast_strides(const Shape& in, const Shape& out) {
  std::array<int64_t, kMaxRank> st{};
  const auto s = strides_of(in);
  const int shift = out.rank - in.rank;
  for (int i = 0; i < in.rank; ++i) st[i + shift] = in[i] == 1 ? 0 : s[i];
  return st;
}

// Walks output elements [begin, end) of `out`, tracking the offsets of two
// broadcast inputs with strides sa, sb; calls f(i, offset_a, offset_b).
template <class F>
void for_each_broadcast(const Shape& out, const std::array<int64_t, kMaxRank>& sa,
                        const std::array<int64_t, kMaxRank>& sb, int64_t begin, int64_t end, F f) {
  int64_t coord[kMaxRank] = {};
  int64_t rem = begin, oa = 0, ob = 0;
  for (int k = out.rank - 1; k >= 0; --k) {
    coord[k] = rem % out[k];
    rem /= out[k];
    oa += coord[k] * sa[k];
    ob += coord[k] * sb[k];
  }
  for (int64_t i = begin; i < end; ++i) {
    f(i, oa, ob);
    for (int k = out.rank - 1; k >= 0; --k) {  // odometer step
      oa += sa[k];
      ob += sb[k];
      if (++coord[k] < out[k]) break;
      oa -= sa[k] * out[k];
      ob -= sb[k] * out[k];
      coord[k] = 0;
    }
  }
}

// Splits a shape into kept axes (outer, one output element each) and reduced
// axes (inner, iterated in row-major order) for a reduction over `mask`.
struct ReduceIndex {
  int n_kept = 0, n_red = 0;
  int64_t kept_dim[kMaxRank] = {}, kept_stride[kMaxRank] = {};
  int64_t red_dim[kMaxRank] = {}, red_stride[kMaxRank] = {};
  int64_t outer = 1, inner = 1;  // number of kept / reduced elements

  ReduceIndex(const Shape& s, uint32_t mask) {
    const auto st = strides_of(s);
    for (int i = 0; i < s.rank; ++i) {
      if (mask >> i & 1u) {
        red_dim[n_red] = s[i];
        red_stride[n_red++] = st[i];
        inner *= s[i];
      } else {
        kept_dim[n_kept] = s[i];
        kept_stride[n_kept++] = st[i];
        outer *= s[i];
      }
    }
  }
  // Offset of the first element of reduction group o (o in row-major order of the kept axes).
  int64_t base(int64_t o) const {
    int64_t off = 0;
    for (int k = n_kept - 1; k >= 0; --k) {
      off += (o % kept_dim[k]) * kept_stride[k];
      o /= kept_dim[k];
    }
    return off;
  }
  // Calls f(offset) for every element of the group starting at `base`.
  template <class F>
  void for_each(int64_t base_off, F f) const {
    int64_t coord[kMaxRank] = {};
    int64_t off = base_off;
    for (int64_t j = 0; j < inner; ++j) {
      f(off);
      for (int k = n_red - 1; k >= 0; --k) {
        off += red_stride[k];
        if (++coord[k] < red_dim[k]) break;
        off -= red_stride[k] * red_dim[k];
        coord[k] = 0;
      }
    }
  }
};

// Shape of x reduced over `mask`, with reduced axes kept as 1 or dropped.
Shape reduced_shape(const Shape& x, uint32_t mask, bool keepdim);

// Unary map over all elements.
template <class T, class F>
void map_unary(ThreadPool& pool, int64_t n, const T* x, T* y, F f) {
  pool.parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

// Binary map with broadcasting of a and b to `out`.
template <class T, class F>
void map_binary(ThreadPool& pool, const Shape& sa, const T* a, const Shape& sb, const T* b, const Shape& out, T* y,
                F f) {
  const int64_t n = out.numel();
  if (sa == out && sb == out) {
    pool.parallel_for(n, 16384, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) y[i] = f(a[i], b[i]);
    });
    return;
  }
  const auto ta = broadcast_strides(sa, out), tb = broadcast_strides(sb, out);
  pool.parallel_for(n, 16384, [&](int64_t lo, int64_t hi) {
    for_each_broadcast(out, ta, tb, lo, hi, [&](int64_t i, int64_t ia, int64_t ib) { y[i] = f(a[ia], b[ib]); });
  });
}

}  // namespace gantry

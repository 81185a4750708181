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

  // Adjacent axes of the same kind are merged (row-major: the pair is one
  // axis with the inner one's stride), so [N, C, H, W] over {0, 2, 3} walks
  // N runs of H·W contiguous elements.
  ReduceIndex(const Shape& s, uint32_t mask) {
    const auto st = strides_of(s);
    for (int i = 0; i < s.rank; ++i) {
      const bool red = mask >> i & 1u, merge = i > 0 && red == bool(mask >> (i - 1) & 1u);
      int64_t* dim = red ? red_dim : kept_dim;
      int64_t* stride = red ? red_stride : kept_stride;
      int& n = red ? n_red : n_kept;
      if (merge) {
        dim[n - 1] *= s[i];
      } else {
        dim[n++] = s[i];
      }
      stride[n - 1] = st[i];
      (red ? inner : outer) *= s[i];
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
  // Calls f(offset, length) for each contiguous run of the group starting at
  // `base`, in row-major order of the reduced axes.
  template <class F>
  void for_each_run(int64_t base_off, F f) const {
    const bool contiguous = n_red > 0 && red_stride[n_red - 1] == 1;
    const int64_t len = contiguous ? red_dim[n_red - 1] : 1;
    int64_t coord[kMaxRank] = {};
    int64_t off = base_off;
    for (int64_t j = 0; j < inner; j += len) {
      f(off, len);
      for (int k = n_red - 1 - int(contiguous); k >= 0; --k) {
        off += red_stride[k];
        if (++coord[k] < red_dim[k]) break;
        off -= red_stride[k] * red_dim[k];
        coord[k] = 0;
      }
    }
  }
  // Calls f(offset) for every element of the group starting at `base`.
  template <class F>
  void for_each(int64_t base_off, F f) const {
    for_each_run(base_off, [&](int64_t off, int64_t len) {
      for (int64_t i = 0; i < len; ++i) f(off + i);
    });
  }
  // Σ g(offset) over the group in double, run by run (sum_run's order).
  template <class G>
  double sum(int64_t base_off, G g) const;
};

// Σ g(i) for i in [0, n) in double: four interleaved partial sums, added in a
// fixed order at the end, so the loop vectorizes and the result does not
// depend on the thread count.
template <class G>
double sum_run(int64_t n, G g) {
  double s[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int k = 0; k < 4; ++k) s[k] += g(i + k);
  for (int k = 0; i < n; ++i, ++k) s[k] += g(i);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

template <class G>
double ReduceIndex::sum(int64_t base_off, G g) const {
  double total = 0;
  for_each_run(base_off,
               [&](int64_t off, int64_t len) { total += sum_run(len, [&](int64_t i) { return g(off + i); }); });
  return total;
}

// Tasks per chunk so that a chunk holds about `work` units when one task
// holds `per_task`: small tensors (a batch of one) then run on the calling
// thread instead of paying a wake-up of the pool for microseconds of work.
// Chunks only group tasks, so results do not depend on it.
inline int64_t grain_for(int64_t per_task, int64_t work = 32768) {
  return std::max<int64_t>(1, work / std::max<int64_t>(1, per_task));
}

// Shape of x reduced over `mask`, with reduced axes kept as 1 or dropped.
Shape reduced_shape(const Shape& x, uint32_t mask, bool keepdim);

// Unary map over all elements.
template <class T, class F>
void map_unary(ThreadPool& pool, int64_t n, const T* x, T* y, F f) {
  pool.parallel_for(n, 16384, [&](int64_t b, int64_t e) {
    // Local copies: stores through out cannot alias them, so the loop vectorizes.
    const F g = f;
    const T* in = x;
    T* out = y;
    for (int64_t i = b; i < e; ++i) out[i] = g(in[i]);
  });
}

// Binary map with broadcasting of a and b to `out`.
template <class T, class F>
void map_binary(ThreadPool& pool, const Shape& sa, const T* a, const Shape& sb, const T* b, const Shape& out, T* y,
                F f) {
  const int64_t n = out.numel();
  if (sa == out && sb == out) {
    pool.parallel_for(n, 16384, [&](int64_t lo, int64_t hi) {
      const F g = f;  // as in map_unary
      const T *pa = a, *pb = b;
      T* out = y;
      for (int64_t i = lo; i < hi; ++i) out[i] = g(pa[i], pb[i]);
    });
    return;
  }
  const auto ta = broadcast_strides(sa, out), tb = broadcast_strides(sb, out);
  // The trailing axes over which each input is either contiguous or constant
  // make a run (a per-channel scale over [N, C, H, W]: runs of H·W with the
  // scale fixed), walked by a loop the compiler vectorizes.
  int64_t run = 1;
  bool a_step = true, b_step = true, a_fixed = true, b_fixed = true;
  int axis = out.rank - 1;
  for (; axis >= 0; --axis) {
    if (out[axis] == 1) continue;
    const bool as = a_step && ta[axis] == run, af = a_fixed && ta[axis] == 0;
    const bool bs = b_step && tb[axis] == run, bf = b_fixed && tb[axis] == 0;
    if (!(as || af) || !(bs || bf)) break;
    a_step = as, a_fixed = af, b_step = bs, b_fixed = bf;
    run *= out[axis];
  }
  if (run < 8) {
    pool.parallel_for(n, 16384, [&](int64_t lo, int64_t hi) {
      for_each_broadcast(out, ta, tb, lo, hi, [&](int64_t i, int64_t ia, int64_t ib) { y[i] = f(a[ia], b[ib]); });
    });
    return;
  }
  const int64_t da = a_step ? 1 : 0, db = b_step ? 1 : 0;
  pool.parallel_for(n / run, std::max<int64_t>(1, 16384 / run), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t ia = 0, ib = 0, rem = r;
      for (int k = axis; k >= 0; --k) {
        ia += rem % out[k] * ta[k];
        ib += rem % out[k] * tb[k];
        rem /= out[k];
      }
      T* yr = y + r * run;
      const T *ar = a + ia, *br = b + ib;
      const F g = f;  // as in map_unary
      if (da && db) {
        for (int64_t i = 0; i < run; ++i) yr[i] = g(ar[i], br[i]);
      } else if (da) {
        for (int64_t i = 0; i < run; ++i) yr[i] = g(ar[i], *br);
      } else if (db) {
        for (int64_t i = 0; i < run; ++i) yr[i] = g(*ar, br[i]);
      } else {
        for (int64_t i = 0; i < run; ++i) yr[i] = g(*ar, *br);
      }
    }
  });
}

}  // namespace gantry

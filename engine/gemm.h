// Cache-blocked matrix products for the CPU backend, written here (no external
// BLAS). product() multiplies matrices that are seen through index maps, so a
// convolution runs as one product straight from its input (an implicit GEMM:
// no column matrix) and writes its output in place; gemm() is the plain
// row-major case. Blocks of C are split across the pool; each element is
// summed over K in a fixed order, so results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>

namespace gantry {

class ThreadPool;

// How one dimension of a product is laid out in a matrix: index
// i = (d0·n1 + d1)·n2 + d2 (the sizes n[] belong to the dimension) lies at
// offset d0·s[0] + d1·s[1] + d2·s[2] from the matrix's base. Both are written
// innermost digit last and filled from the right: a row-major [M, K] matrix
// has rows Extent{M} at Layout{lda} and columns Extent{K} at Layout{1}; a
// convolution's pixels (oh, ow, image) in a [H, W, C, N] copy of its input:
// Extent{Ho, Wo, N} at Layout{s·W·C·N, s·C·N, 1}. Strides may be negative.
struct Extent {
  int64_t n[3] = {1, 1, 1};
  Extent() = default;
  Extent(std::initializer_list<int64_t> d) { std::copy(d.begin(), d.end(), n + 3 - d.size()); }
  int64_t size() const { return n[0] * n[1] * n[2]; }
};
struct Layout {
  int64_t s[3] = {0, 0, 0};
  Layout() = default;
  Layout(std::initializer_list<int64_t> d) { std::copy(d.begin(), d.end(), s + 3 - d.size()); }
};

// C[m, n] = Σ_k A[m, k]·B[k, n], or C[m, n] + that sum when accumulating.
template <class T>
struct Product {
  Extent m, n, k;
  const T* a;
  Layout a_m, a_k;
  const T* b;
  Layout b_k, b_n;
  T* c;
  Layout c_m, c_n;
  bool accumulate = false;
  // product_workspace(M, K) elements, or null. With it, A is packed once for
  // all column blocks instead of once per block (a convolution's weights:
  // gathered values, packed once per call rather than once per 128 pixels).
  T* workspace = nullptr;
  // Whether A is packed into the workspace: when more than one column block
  // would pack it; always, to be kept for later calls; or it is already there.
  enum class PackA : uint8_t { when_shared, keep, kept };
  PackA pack_a = PackA::when_shared;
};

template <class T>
void product(ThreadPool& pool, const Product<T>& p);
// Independent products run as one: A of all of them packed in one pass and
// all their tiles spread over the pool together (a transposed convolution's
// stride² phases: two waits for the threads instead of two per phase, and a
// batch of one cut into phases rather than into slivers of columns). Each
// needs its own workspace, if any. count ≤ kMaxProducts.
constexpr int64_t kMaxProducts = 16;
template <class T>
void products(ThreadPool& pool, const Product<T>* p, int64_t count);
int64_t product_workspace(int64_t M, int64_t K);

// C[M,N] = op(A)[M,K] · op(B)[K,N] (+ C when accumulating), row-major with
// leading dimensions, op(X) = X or Xᵀ.
template <class T>
void gemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,  //
          const T* A, int64_t lda,                                                        // A: [M, K] or [K, M]
          const T* B, int64_t ldb,                                                        // B: [K, N] or [N, K]
          T* C, int64_t ldc, bool accumulate);                                            // C: [M, N]

// The float micro-kernel this binary runs on this CPU, for `gantry info` and
// the benchmarks: chosen at build time on aarch64 (NEON), at load time on x86-64.
const char* gemm_kernel();

}  // namespace gantry

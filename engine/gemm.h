// Cache-blocked matrix product for the CPU backend, written here (no external
// BLAS): C[M,N] = op(A)[M,K] · op(B)[K,N] (+ C when accumulating), row-major
// with leading dimensions, op(X) = X or Xᵀ. Blocks of C are split across the
// pool; each element is summed over K in a fixed order, so the result does not
// depend on the number of threads.
#pragma once

#include <cstdint>

namespace gantry {

class ThreadPool;

template <class T>
void gemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K,  //
          const T* A, int64_t lda,                                                        // A: [M, K] or [K, M]
          const T* B, int64_t ldb,                                                        // B: [K, N] or [N, K]
          T* C, int64_t ldc, bool accumulate);                                            // C: [M, N]

// The float micro-kernel this binary runs on this CPU, for `gantry info` and
// the benchmarks: chosen at build time on aarch64 (NEON), at load time on x86-64.
const char* gemm_kernel();

}  // namespace gantry

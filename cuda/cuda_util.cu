// Helpers of the CUDA kernel families (cuda_util.cuh, cuda_ops.h): error
// strings, the row-major GEMM over cuBLAS, index-map construction and the
// row copy used by the layout ops. cuBLAS is called through the table of
// cublas_loader.h (loaded when a CUDA program is compiled).
#include <algorithm>
#include <climits>

#include "cuda/cublas_loader.h"
#include "cuda/cuda_util.cuh"
#include "engine/kernel_util.h"

namespace gantry {

CudaResult cuda_check(cudaError_t e, const char* call) {
  if (e == cudaSuccess) return {};
  return CudaResult{call, cudaGetErrorString(e)};
}

CudaResult cublas_check(cublasStatus_t s, const char* call) {
  if (s == CUBLAS_STATUS_SUCCESS) return {};
  // A status comes from a call through the table, so cuBLAS is loaded.
  return CudaResult{call, cuda::status_string(s)};
}

CudaResult launched(const char* kernel) { return cuda_check(cudaGetLastError(), kernel); }

CudaResult gemm_row_major(cublasHandle_t h, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                          Operand A, int64_t lda, int64_t stride_a, Operand B, int64_t ldb, int64_t stride_b,
                          float beta, Operand C, int64_t ldc, int64_t stride_c, int64_t batch) {
  for (int64_t v : {M, N, K, lda, ldb, ldc, batch})
    if (v > INT_MAX) return CudaResult{"cublasGemmEx", "a matrix dimension exceeds 2^31 - 1"};
  // Internal errors: the launchers widen what cuBLAS cannot take as it is.
  if (A.type != B.type) return CudaResult{"cublasGemmEx", "operands of different storage types"};
  if (C.type != Storage::f32 && C.type != A.type)
    return CudaResult{"cublasGemmEx", "a 16-bit product of operands of another type"};
  if (M == 0 || N == 0 || batch == 0) return {};
  // K = 0 leaves C = beta·C, which cuBLAS does, but it refuses a leading
  // dimension below 1, and an empty [M, 0] operand has lda = 0.
  lda = std::max<int64_t>(lda, 1);
  ldb = std::max<int64_t>(ldb, 1);
  auto data_type = [](Storage s) {
    return s == Storage::f16 ? CUDA_R_16F : s == Storage::bf16 ? CUDA_R_16BF : CUDA_R_32F;
  };
  const cudaDataType ab = data_type(A.type), c = data_type(C.type);
  // Row-major X[r][c] is column-major Xᵀ, so C = op(A)·op(B) is computed as Cᵀ = op(B)ᵀ·op(A)ᵀ.
  const cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (batch == 1)
    return cublas_check(
        cuda::cublas().gemm_ex(h, ob, oa, int(N), int(M), int(K), &alpha, B.p, ab, int(ldb), A.p, ab, int(lda), &beta,
                               C.p, c, int(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
        "cublasGemmEx");
  return cublas_check(
      cuda::cublas().gemm_strided_batched_ex(h, ob, oa, int(N), int(M), int(K), &alpha, B.p, ab, int(ldb), stride_b,
                                             A.p, ab, int(lda), stride_a, &beta, C.p, c, int(ldc), stride_c, int(batch),
                                             CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      "cublasGemmStridedBatchedEx");
}

namespace cuda {

BroadcastIndex make_broadcast_index(const Shape& out, const Shape& a, const Shape& b) {
  const auto ta = broadcast_strides(a, out), tb = broadcast_strides(b, out);
  BroadcastIndex r;
  // Walk from the innermost axis outwards, merging into the current (outermost kept) entry.
  int64_t dim[kMaxRank], sa[kMaxRank], sb[kMaxRank];
  int n = 0;
  for (int k = out.rank - 1; k >= 0; --k) {
    if (out[k] == 1) continue;
    if (n > 0 && ta[k] == sa[n - 1] * dim[n - 1] && tb[k] == sb[n - 1] * dim[n - 1]) {
      dim[n - 1] *= out[k];
      continue;
    }
    dim[n] = out[k];
    sa[n] = ta[k];
    sb[n] = tb[k];
    ++n;
  }
  r.rank = n;
  for (int i = 0; i < n; ++i) {  // back to outermost-first
    r.dim[i] = dim[n - 1 - i];
    r.sa[i] = sa[n - 1 - i];
    r.sb[i] = sb[n - 1 - i];
  }
  return r;
}

GroupIndex make_group_index(const Shape& s, uint32_t mask) {
  GroupIndex g;
  const auto st = strides_of(s);
  int prev = -1;  // class of the previous non-trivial axis: 0 kept, 1 reduced
  for (int i = 0; i < s.rank; ++i) {
    if (s[i] == 1) continue;  // contributes nothing either way
    const int cls = (mask >> i & 1u) ? 1 : 0;
    int64_t* dim = cls ? g.red_dim : g.kept_dim;
    int64_t* stride = cls ? g.red_stride : g.kept_stride;
    int& n = cls ? g.n_red : g.n_kept;
    if (cls == prev) {  // adjacent axes of one class in a contiguous tensor merge
      dim[n - 1] *= s[i];
      stride[n - 1] = st[i];
    } else {
      dim[n] = s[i];
      stride[n] = st[i];
      ++n;
    }
    (cls ? g.inner : g.outer) *= s[i];
    prev = cls;
  }
  return g;
}

namespace {

template <class I>
__global__ void copy_rows_kernel(Operand src, I src_pitch, Operand dst, I dst_pitch, I n, I width) {
  GANTRY_GRID_STRIDE_T(I, i, n) {
    const I o = i / width, c = i - o * width;
    dst.store(o * dst_pitch + c, src[o * src_pitch + c]);
  }
}

}  // namespace

CudaResult copy_rows(Operand src, int64_t src_pitch, Operand dst, int64_t dst_pitch, int64_t rows, int64_t width,
                     cudaStream_t stream) {
  if (rows * width == 0) return {};
  if (src.type == dst.type && (rows == 1 || (src_pitch == width && dst_pitch == width)))
    return cuda_check(
        cudaMemcpyAsync(dst.p, src.p, size_t(rows * width * src.elem_size()), cudaMemcpyDeviceToDevice, stream),
        "cudaMemcpyAsync");
  const int64_t n = rows * width;
  // The last element read or written is at (rows − 1)·pitch + width − 1.
  return with_index_type(std::max({n, rows * src_pitch, rows * dst_pitch}), [&](auto index) {
    using I = decltype(index);
    copy_rows_kernel<I><<<blocks_for(n), kThreads, 0, stream>>>(src, I(src_pitch), dst, I(dst_pitch), I(n), I(width));
    return launched("copy_rows_kernel");
  });
}

}  // namespace cuda
}  // namespace gantry

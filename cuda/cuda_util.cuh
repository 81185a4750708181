// Device helpers shared by the CUDA kernel families: launch sizes,
// deterministic block reductions (warp shuffles, then one warp over the
// per-warp partials; fixed order for a fixed block size, no atomics), and the
// index maps of broadcasting and axis-set reductions with adjacent axes merged
// on the host so the device decodes as few dimensions as possible.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/cuda_ops.h"
#include "platform/shape.h"

namespace gantry::cuda {

constexpr int kThreads = 256;  // elementwise block size

// Blocks for a grid-stride loop over n elements (kernels loop when capped).
inline unsigned blocks_for(int64_t n, int threads = kThreads) {
  return unsigned(std::clamp<int64_t>((n + threads - 1) / threads, 1, int64_t(1) << 20));
}

// Threads for one block reducing a group of `inner` elements: a power of two
// from 32 to 1024 (larger groups get more threads; the result depends only on
// the shape, so it is the same on every run).
inline int group_threads(int64_t inner) {
  const int cap = inner >= 65536 ? 1024 : 256;
  int t = 32;
  while (t < cap && t < inner) t *= 2;
  return t;
}

#define GANTRY_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

// The same loop with index type I: kernels that decode an index into several
// coordinates are instantiated for int32_t (when every index fits) as well as
// int64_t, because 64-bit division costs several times more on the GPU.
#define GANTRY_GRID_STRIDE_T(I, i, n) \
  for (I i = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); i < I(n); i += I(gridDim.x) * I(blockDim.x))

// Whether indices below n (plus one grid stride of headroom) fit in int32_t.
inline bool fits_int32(int64_t n) { return n < (int64_t(1) << 30); }

// Sum over the block of one value per thread; every thread gets the total.
// blockDim.x must be a multiple of 32; `shared` holds 32 values.
template <class T>
__device__ inline T block_sum(T v, T* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? shared[lane] : T(0);
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

__device__ inline float block_max(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? shared[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, o));
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

// Output element i of `dim` (row-major) → offsets into two broadcast inputs.
struct BroadcastIndex {
  int rank = 0;
  int64_t dim[kMaxRank] = {}, sa[kMaxRank] = {}, sb[kMaxRank] = {};

  template <class I>
  __device__ void offsets(I i, I& oa, I& ob) const {
    oa = ob = 0;
    for (int k = rank - 1; k >= 0; --k) {
      const I c = i % I(dim[k]);
      i /= I(dim[k]);
      oa += c * I(sa[k]);
      ob += c * I(sb[k]);
    }
  }
};

// From the output shape and the strides of a and b seen as that shape
// (0 on broadcast axes): drops size-1 axes and merges adjacent axes that are
// contiguous for both inputs, e.g. [N,C,H,W] ⊕ [C,1,1] becomes [N,C,H·W].
BroadcastIndex make_broadcast_index(const Shape& out, const Shape& a, const Shape& b);

// A reduction over an axis set (engine/kernel_util.h's ReduceIndex, merged):
// group o (row-major over the kept axes) starts at base(o); its j-th element
// (row-major over the reduced axes) is at base(o) + offset(j).
struct GroupIndex {
  int n_kept = 0, n_red = 0;
  int64_t kept_dim[kMaxRank] = {}, kept_stride[kMaxRank] = {};
  int64_t red_dim[kMaxRank] = {}, red_stride[kMaxRank] = {};
  int64_t outer = 1, inner = 1;

  __device__ int64_t base(int64_t o) const {
    int64_t off = 0;
    for (int k = n_kept - 1; k >= 0; --k) {
      off += (o % kept_dim[k]) * kept_stride[k];
      o /= kept_dim[k];
    }
    return off;
  }
  __device__ int64_t offset(int64_t j) const {
    if (n_red == 1) return j * red_stride[0];
    int64_t off = 0;
    for (int k = n_red - 1; k >= 0; --k) {
      off += (j % red_dim[k]) * red_stride[k];
      j /= red_dim[k];
    }
    return off;
  }
};

GroupIndex make_group_index(const Shape& s, uint32_t mask);

// dst[o·dst_pitch + i] = src[o·src_pitch + i] for o < rows, i < width (elements):
// the copy behind reshape, concat, slice and slice_backward.
CudaResult copy_rows(const float* src, int64_t src_pitch, float* dst, int64_t dst_pitch, int64_t rows, int64_t width,
                     cudaStream_t stream);

}  // namespace gantry::cuda

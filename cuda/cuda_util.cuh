// Device helpers shared by the CUDA kernel families: launch sizes,
// deterministic block reductions (warp shuffles, then one warp over the
// per-warp partials; fixed order for a fixed block size, no atomics), and the
// index maps of broadcasting and axis-set reductions with adjacent axes merged
// on the host so the device decodes as few dimensions as possible.
//
// Empty tensors: every launcher returns before launching when its element or
// group count is 0 (a zero-sized grid is a launch error, and nothing divides
// by a count that may be 0). Index types: kernels that decode an element index
// into coordinates are instantiated for int32_t and int64_t and launched
// through with_index_type(), so the per-element division is 32-bit wherever
// the tensor allows (64-bit division is a long software sequence on the GPU).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "cuda/cuda_ops.h"
#include "platform/accumulate.h"
#include "platform/shape.h"

namespace gantry::cuda {

constexpr int kThreads = 256;  // elementwise block size

// Blocks for a grid-stride loop over n > 0 elements (kernels loop when capped).
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

// Returns launch(I{}) with I = int32_t when every index below n fits in it,
// else int64_t; `launch` instantiates and launches its kernel for I.
template <class Launch>
CudaResult with_index_type(int64_t n, Launch launch) {
  return fits_int32(n) ? launch(int32_t{}) : launch(int64_t{});
}

__device__ inline float shfl_down(float v, int offset) { return __shfl_down_sync(0xffffffffu, v, offset); }
__device__ inline CompensatedSum shfl_down(const CompensatedSum& v, int offset) {
  return CompensatedSum{shfl_down(v.sum, offset), shfl_down(v.comp, offset)};
}

// Combines the block's values, one per thread, with `op` (a fixed tree:
// shuffles within each warp, then warp 0 over the per-warp results); every
// thread gets the result. blockDim.x must be a multiple of 32; `shared` holds
// 32 values; `identity` fills the lanes of warp 0 beyond the warp count.
template <class T, class Op>
__device__ inline T block_reduce(T v, T identity, T* shared, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, shfl_down(v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < int(blockDim.x >> 5) ? shared[lane] : identity;
    for (int o = 16; o > 0; o >>= 1) v = op(v, shfl_down(v, o));
    if (lane == 0) shared[0] = v;
  }
  __syncthreads();
  return shared[0];
}

struct MergeSums {
  __device__ CompensatedSum operator()(CompensatedSum a, const CompensatedSum& b) const {
    a.merge(b);
    return a;
  }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// The block's compensated sum (platform/accumulate.h), as a float.
__device__ inline float block_sum(const CompensatedSum& v, CompensatedSum* shared) {
  return block_reduce(v, CompensatedSum{}, shared, MergeSums{}).value();
}
__device__ inline float block_max(float v, float* shared) { return block_reduce(v, -INFINITY, shared, Max{}); }

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
// (row-major over the reduced axes) is at base(o) + offset(j). I is the index
// type the kernel was instantiated for (int32_t when outer·inner fits).
struct GroupIndex {
  int n_kept = 0, n_red = 0;
  int64_t kept_dim[kMaxRank] = {}, kept_stride[kMaxRank] = {};
  int64_t red_dim[kMaxRank] = {}, red_stride[kMaxRank] = {};
  int64_t outer = 1, inner = 1;

  template <class I>
  __device__ I base(I o) const {
    I off = 0;
    for (int k = n_kept - 1; k >= 0; --k) {
      off += (o % I(kept_dim[k])) * I(kept_stride[k]);
      o /= I(kept_dim[k]);
    }
    return off;
  }
  template <class I>
  __device__ I offset(I j) const {
    if (n_red == 1) return j * I(red_stride[0]);
    I off = 0;
    for (int k = n_red - 1; k >= 0; --k) {
      off += (j % I(red_dim[k])) * I(red_stride[k]);
      j /= I(red_dim[k]);
    }
    return off;
  }
};

GroupIndex make_group_index(const Shape& s, uint32_t mask);

// dst[o·dst_pitch + i] = src[o·src_pitch + i] for o < rows, i < width (elements):
// the copy behind reshape, concat, slice and slice_backward, and the widening
// (exact) or narrowing (rounded) of a tensor between float32 and binary16.
CudaResult copy_rows(Operand src, int64_t src_pitch, Operand dst, int64_t dst_pitch, int64_t rows, int64_t width,
                     cudaStream_t stream);

}  // namespace gantry::cuda

// Reductions and layout ops on CUDA: reduce_sum over an axis set,
// broadcast_to, reshape, concat, slice and slice_backward. Same functions as
// engine/ops_reduce.cpp. reduce_sum is deterministic: each output element is
// summed by one block (shared-memory tree) or, when the kept axes are the
// contiguous innermost ones, by one thread in index order; never with atomics.
// Sums are fp32 CompensatedSums (platform/accumulate.h: TwoSum error
// collection, Ogita-Rump-Oishi Sum2), about as accurate as the CPU
// reference's double without FP64 arithmetic on the device.
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::blocks_for;
using cuda::GroupIndex;
using cuda::kThreads;

// One block per group: y[o] = Σ_j x[base(o) + offset(j)]; per-thread
// compensated sums, merged by a fixed tree.
template <class I>
__global__ void reduce_groups_kernel(GroupIndex g, Operand x, Operand y) {
  __shared__ CompensatedSum partial[32];
  const I base = g.base(I(blockIdx.x)), inner = I(g.inner);
  CompensatedSum acc{};
  for (I j = threadIdx.x; j < inner; j += blockDim.x) acc.add(x[base + g.offset(j)]);
  const float sum = cuda::block_sum(acc, partial);
  if (threadIdx.x == 0) y.store(blockIdx.x, sum);
}

// One thread per output when the kept axes are one contiguous run at the end
// (e.g. [B, C] summed over B): neighbouring threads read neighbouring floats.
template <class I>
__global__ void reduce_columns_kernel(GroupIndex g, Operand x, Operand y) {
  const I inner = I(g.inner);
  GANTRY_GRID_STRIDE_T(I, o, g.outer) {
    CompensatedSum acc{};
    for (I j = 0; j < inner; ++j) acc.add(x[g.offset(j) + o]);
    y.store(o, acc.value());
  }
}

CudaResult reduce_sum_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  if (g.outer == 0) return {};
  if (g.inner == 1) return cuda::copy_rows(a.in[0], 0, a.out, 0, 1, g.outer, s);
  return cuda::with_index_type(g.outer * g.inner, [&](auto index) {
    using I = decltype(index);
    if (g.n_kept == 1 && g.kept_stride[0] == 1 && g.outer >= 1024 && g.inner <= 4096) {
      reduce_columns_kernel<I><<<blocks_for(g.outer), kThreads, 0, s>>>(g, a.in[0], a.out);
      return launched("reduce_columns_kernel");
    }
    if (g.outer > int64_t(INT32_MAX)) return CudaResult{"reduce_sum", "more than 2^31 - 1 output elements"};
    reduce_groups_kernel<I><<<unsigned(g.outer), cuda::group_threads(g.inner), 0, s>>>(g, a.in[0], a.out);
    return launched("reduce_groups_kernel");
  });
}

// ---- broadcast_to: y[i] = x[broadcast offset of i]
template <class I>
__global__ void broadcast_kernel(I n, cuda::BroadcastIndex idx, Operand x, Operand y) {
  GANTRY_GRID_STRIDE_T(I, i, n) {
    I ix, unused;
    idx.offsets(i, ix, unused);
    y.store(i, x[ix]);
  }
}

CudaResult broadcast_to_cuda(const CudaArgs& a, cudaStream_t s) {
  const Shape& out = a.node->shape;
  const int64_t n = out.numel();
  if (n == 0) return {};
  const cuda::BroadcastIndex idx = cuda::make_broadcast_index(out, *a.in_shape[0], out);
  return cuda::with_index_type(n, [&](auto index) {
    using I = decltype(index);
    broadcast_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(I(n), idx, a.in[0], a.out);
    return launched("broadcast_kernel");
  });
}

// ---- reshape: a copy (tensors never alias, as on the CPU)
CudaResult reshape_cuda(const CudaArgs& a, cudaStream_t s) {
  return cuda::copy_rows(a.in[0], 0, a.out, 0, 1, a.node->shape.numel(), s);
}

// outer = product of the axes before `ax`, inner = after it.
void split_at(const Shape& s, int ax, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int i = 0; i < ax; ++i) outer *= s[i];
  for (int i = ax + 1; i < s.rank; ++i) inner *= s[i];
}

// ---- concat along one axis: each input is a run of rows in the output
CudaResult concat_cuda(const CudaArgs& a, cudaStream_t s) {
  const Shape& out = a.node->shape;
  const int ax = a.node->attrs.axis;
  int64_t outer, inner;
  split_at(out, ax, outer, inner);
  int64_t at = 0;
  for (int k = 0; k < a.n_in; ++k) {
    const int64_t len = (*a.in_shape[k])[ax] * inner;
    GANTRY_CUDA_TRY(cuda::copy_rows(a.in[k], len, a.out.at(at), out[ax] * inner, outer, len, s));
    at += len;
  }
  return {};
}

// ---- slice [start, start+count) along an axis, and its zero-padded adjoint
CudaResult slice_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const Shape& full = *a.in_shape[0];
  int64_t outer, inner;
  split_at(full, at.axis, outer, inner);
  return cuda::copy_rows(a.in[0].at(at.start * inner), full[at.axis] * inner, a.out, at.count * inner, outer,
                         at.count * inner, s);
}

CudaResult slice_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const Shape& full = a.node->shape;
  const int64_t count = (*a.in_shape[0])[at.axis];
  int64_t outer, inner;
  split_at(full, at.axis, outer, inner);
  GANTRY_CUDA_TRY(
      cuda_check(cudaMemsetAsync(a.out.p, 0, size_t(full.numel() * a.out.elem_size()), s), "cudaMemsetAsync"));
  return cuda::copy_rows(a.in[0], count * inner, a.out.at(at.start * inner), full[at.axis] * inner, outer,
                         count * inner, s);
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(reduce_sum, nullptr);
GANTRY_DEFINE_CUDA_OP(broadcast_to, nullptr);
GANTRY_DEFINE_CUDA_OP(reshape, nullptr);
GANTRY_DEFINE_CUDA_OP(concat, nullptr);
GANTRY_DEFINE_CUDA_OP(slice, nullptr);
GANTRY_DEFINE_CUDA_OP(slice_backward, nullptr);

}  // namespace gantry

// Sources and data movement on CUDA: constant fill, Philox normal/uniform
// fills (platform/philox.h itself, compiled for the device, so every element
// matches the CPU's stream word for word; only the final log/sin/cos may
// differ by an ulp), gather of dataset rows by index, its scatter-add adjoint
// and one-hot labels. Same functions as engine/ops_data.cpp. The seed and
// step are read from device memory, so a captured graph replays with new ones.
#include <algorithm>

#include "cuda/cuda_util.cuh"
#include "platform/philox.h"

namespace gantry {
namespace {

using cuda::blocks_for;
using cuda::kThreads;

__global__ void fill_kernel(int64_t n, float value, Operand y) { GANTRY_GRID_STRIDE(i, n) y.store(i, value); }

CudaResult fill_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.node->attrs.alpha, a.out);
  return launched("fill_kernel");
}

// normal(mean = alpha, std = beta)
__global__ void normal_kernel(int64_t n, const StepUniforms* __restrict__ u, uint32_t stream, float mean, float std,
                              Operand y) {
  const uint64_t seed = u->seed, step = u->step;
  GANTRY_GRID_STRIDE(i, n) y.store(i, mean + std * philox_normal(seed, step, stream, uint32_t(i)));
}

// uniform [lo = alpha, hi = beta)
__global__ void uniform_kernel(int64_t n, const StepUniforms* __restrict__ u, uint32_t stream, float lo, float hi,
                               Operand y) {
  const uint64_t seed = u->seed, step = u->step;
  GANTRY_GRID_STRIDE(i, n) y.store(i, lo + (hi - lo) * philox_uniform(seed, step, stream, uint32_t(i)));
}

CudaResult normal_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  normal_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.uniforms, at.stream, at.alpha, at.beta, a.out);
  return launched("normal_kernel");
}

CudaResult uniform_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  uniform_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.uniforms, at.stream, at.alpha, at.beta, a.out);
  return launched("uniform_kernel");
}

// ---- gather(data [R, W...], index [B]) → [B, W...]; a bad index gives a NaN row
// I indexes both the output and the data (the larger of the two fits in it).
template <class I>
__global__ void gather_kernel(I n, I width, I rows, Operand data, Operand index, Operand y) {
  GANTRY_GRID_STRIDE_T(I, i, n) {
    const I b = i / width, c = i - b * width;
    const float r = index[b];
    y.store(i, (r >= 0 && r < float(rows)) ? data[I(r) * width + c] : __int_as_float(0x7fc00000));
  }
}

// Sizes from the output [B, W...] (B > 0 when it is not empty), so an empty
// data set (R = 0) divides by nothing and gives NaN rows, as on the CPU.
CudaResult gather_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  const int64_t rows = (*a.in_shape[0])[0], width = n / a.node->shape[0];
  return cuda::with_index_type(std::max(n, a.in_shape[0]->numel()), [&](auto index) {
    using I = decltype(index);
    gather_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(I(n), I(width), I(rows), a.in[0], a.in[1], a.out);
    return launched("gather_kernel");
  });
}

// ---- gather_backward(dy [B, W...], index [B]) → [rows, W...]: one thread per
// column adds the batch's rows in batch order, so repeated indices sum in the
// CPU's order and no two threads touch one element (no atomics). The sums
// are float32: a 16-bit result is accumulated in the workspace and rounded
// once at the end, as the CPU's fp16 emulation rounds each node's output.
__global__ void gather_backward_kernel(int64_t B, int64_t width, int64_t rows, Operand dy, Operand index,
                                       float* __restrict__ y) {
  GANTRY_GRID_STRIDE(c, width) {
    for (int64_t b = 0; b < B; ++b) {
      const float r = index[b];
      if (r >= 0 && r < float(rows)) y[int64_t(r) * width + c] += dy[b * width + c];
    }
  }
}

int64_t gather_backward_workspace(const CudaArgs& a) {
  return a.out.type != Storage::f32 ? a.node->shape.numel() * int64_t(sizeof(float)) : 0;
}

CudaResult gather_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  const int64_t rows = a.node->shape[0], width = n / rows, B = (*a.in_shape[1])[0];
  const bool narrow = a.out.type != Storage::f32;
  float* sums = static_cast<float*>(narrow ? a.workspace : a.out.p);
  GANTRY_CUDA_TRY(cuda_check(cudaMemsetAsync(sums, 0, size_t(n) * sizeof(float), s), "cudaMemsetAsync"));
  gather_backward_kernel<<<blocks_for(width), kThreads, 0, s>>>(B, width, rows, a.in[0], a.in[1], sums);
  GANTRY_CUDA_TRY(launched("gather_backward_kernel"));
  return narrow ? cuda::copy_rows(Operand{sums}, 0, a.out, 0, 1, n, s) : CudaResult{};
}

// ---- one_hot(labels [B]) → [B, classes]; a label outside [0, classes) gives a zero row
template <class I>
__global__ void one_hot_kernel(I n, I C, Operand labels, Operand y) {
  GANTRY_GRID_STRIDE_T(I, i, n) {
    const I b = i / C;
    const float l = labels[b];
    y.store(i, (l >= 0 && l < float(C) && I(l) == i - b * C) ? 1.0f : 0.0f);
  }
}

CudaResult one_hot_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  return cuda::with_index_type(n, [&](auto index) {
    using I = decltype(index);
    one_hot_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(I(n), I(a.node->shape[1]), a.in[0], a.out);
    return launched("one_hot_kernel");
  });
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(fill, nullptr);
GANTRY_DEFINE_CUDA_OP(normal, nullptr);
GANTRY_DEFINE_CUDA_OP(uniform, nullptr);
GANTRY_DEFINE_CUDA_OP(gather, nullptr);
GANTRY_DEFINE_CUDA_OP(gather_backward, gather_backward_workspace);
GANTRY_DEFINE_CUDA_OP(one_hot, nullptr);

}  // namespace gantry

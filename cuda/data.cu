// Sources and data movement on CUDA: constant fill, Philox normal/uniform
// fills (platform/philox.h itself, compiled for the device, so every element
// matches the CPU's stream word for word; only the final log/sin/cos may
// differ by an ulp), gather of dataset rows by index, its scatter-add adjoint
// and one-hot labels. Same functions as engine/ops_data.cpp. The seed and
// step are read from device memory, so a captured graph replays with new ones.
#include "cuda/cuda_util.cuh"
#include "platform/philox.h"

namespace gantry {
namespace {

using cuda::blocks_for;
using cuda::kThreads;

__global__ void fill_kernel(int64_t n, float value, float* __restrict__ y) { GANTRY_GRID_STRIDE(i, n) y[i] = value; }

CudaResult fill_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t n = a.node->shape.numel();
  fill_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.node->attrs.alpha, a.out);
  return launched("fill_kernel");
}

// normal(mean = alpha, std = beta)
__global__ void normal_kernel(int64_t n, const StepUniforms* __restrict__ u, uint32_t stream, float mean, float std,
                              float* __restrict__ y) {
  const uint64_t seed = u->seed, step = u->step;
  GANTRY_GRID_STRIDE(i, n) y[i] = mean + std * philox_normal(seed, step, stream, uint32_t(i));
}

// uniform [lo = alpha, hi = beta)
__global__ void uniform_kernel(int64_t n, const StepUniforms* __restrict__ u, uint32_t stream, float lo, float hi,
                               float* __restrict__ y) {
  const uint64_t seed = u->seed, step = u->step;
  GANTRY_GRID_STRIDE(i, n) y[i] = lo + (hi - lo) * philox_uniform(seed, step, stream, uint32_t(i));
}

CudaResult normal_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.node->shape.numel();
  normal_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.uniforms, at.stream, at.alpha, at.beta, a.out);
  return launched("normal_kernel");
}

CudaResult uniform_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.node->shape.numel();
  uniform_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.uniforms, at.stream, at.alpha, at.beta, a.out);
  return launched("uniform_kernel");
}

// ---- gather(data [R, W...], index [B]) → [B, W...]; a bad index gives a NaN row
__global__ void gather_kernel(int64_t B, int64_t width, int64_t rows, const float* __restrict__ data,
                              const float* __restrict__ index, float* __restrict__ y) {
  GANTRY_GRID_STRIDE(i, B * width) {
    const int64_t b = i / width, c = i % width;
    const float r = index[b];
    y[i] = (r >= 0 && r < float(rows)) ? data[int64_t(r) * width + c] : __int_as_float(0x7fc00000);
  }
}

CudaResult gather_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t rows = (*a.in_shape[0])[0], width = a.in_shape[0]->numel() / rows, B = (*a.in_shape[1])[0];
  gather_kernel<<<blocks_for(B * width), kThreads, 0, s>>>(B, width, rows, a.in[0], a.in[1], a.out);
  return launched("gather_kernel");
}

// ---- gather_backward(dy [B, W...], index [B]) → [rows, W...]: one thread per
// column adds the batch's rows in batch order, so repeated indices sum in the
// CPU's order and no two threads touch one element (no atomics).
__global__ void gather_backward_kernel(int64_t B, int64_t width, int64_t rows, const float* __restrict__ dy,
                                       const float* __restrict__ index, float* __restrict__ y) {
  GANTRY_GRID_STRIDE(c, width) {
    for (int64_t b = 0; b < B; ++b) {
      const float r = index[b];
      if (r >= 0 && r < float(rows)) y[int64_t(r) * width + c] += dy[b * width + c];
    }
  }
}

CudaResult gather_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t rows = a.node->shape[0], width = a.node->shape.numel() / rows, B = (*a.in_shape[1])[0];
  GANTRY_CUDA_TRY(cuda_check(cudaMemsetAsync(a.out, 0, size_t(rows * width) * sizeof(float), s), "cudaMemsetAsync"));
  gather_backward_kernel<<<blocks_for(width), kThreads, 0, s>>>(B, width, rows, a.in[0], a.in[1], a.out);
  return launched("gather_backward_kernel");
}

// ---- one_hot(labels [B]) → [B, classes]; a label outside [0, classes) gives a zero row
__global__ void one_hot_kernel(int64_t B, int64_t C, const float* __restrict__ labels, float* __restrict__ y) {
  GANTRY_GRID_STRIDE(i, B * C) {
    const float l = labels[i / C];
    y[i] = (l >= 0 && l < float(C) && int64_t(l) == i % C) ? 1.0f : 0.0f;
  }
}

CudaResult one_hot_cuda(const CudaArgs& a, cudaStream_t s) {
  const int64_t B = a.node->shape[0], C = a.node->shape[1];
  one_hot_kernel<<<blocks_for(B * C), kThreads, 0, s>>>(B, C, a.in[0], a.out);
  return launched("one_hot_kernel");
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(fill, nullptr);
GANTRY_DEFINE_CUDA_OP(normal, nullptr);
GANTRY_DEFINE_CUDA_OP(uniform, nullptr);
GANTRY_DEFINE_CUDA_OP(gather, nullptr);
GANTRY_DEFINE_CUDA_OP(gather_backward, nullptr);
GANTRY_DEFINE_CUDA_OP(one_hot, nullptr);

}  // namespace gantry

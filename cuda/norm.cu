// Normalization on CUDA: normalize, rstd and normalize_backward over an axis
// set (batch, instance and layer norm are built from them). One block per
// reduction group, statistics accumulated in double with a deterministic
// shared-memory tree and computed in two passes (mean, then squared
// deviations) exactly as engine/ops_norm.cpp does, so the GPU result differs
// from the CPU's only by summation order.
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::GroupIndex;

// Mean and rstd of the group starting at `base`; every thread gets both.
__device__ void group_moments(const GroupIndex& g, const float* __restrict__ x, int64_t base, double eps,
                              double* partial, double& mean, double& rstd) {
  double s = 0;
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) s += x[base + g.offset(j)];
  mean = cuda::block_sum(s, partial) / double(g.inner);
  double ss = 0;
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) {
    const double d = x[base + g.offset(j)] - mean;
    ss += d * d;
  }
  rstd = 1.0 / sqrt(cuda::block_sum(ss, partial) / double(g.inner) + eps);
}

// x̂ = (x − mean) · rstd
__global__ void normalize_kernel(GroupIndex g, double eps, const float* __restrict__ x, float* __restrict__ y) {
  __shared__ double partial[32];
  const int64_t base = g.base(blockIdx.x);
  double mean, rstd;
  group_moments(g, x, base, eps, partial, mean, rstd);
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) {
    const int64_t off = base + g.offset(j);
    y[off] = float((x[off] - mean) * rstd);
  }
}

// rstd per group, reduced axes kept as 1: output element o is group o.
__global__ void rstd_kernel(GroupIndex g, double eps, const float* __restrict__ x, float* __restrict__ y) {
  __shared__ double partial[32];
  double mean, rstd;
  group_moments(g, x, g.base(blockIdx.x), eps, partial, mean, rstd);
  if (threadIdx.x == 0) y[blockIdx.x] = float(rstd);
}

// dx = rstd · (dy − mean(dy) − x̂ · mean(dy · x̂))
__global__ void normalize_backward_kernel(GroupIndex g, const float* __restrict__ dy, const float* __restrict__ xh,
                                          const float* __restrict__ rs, float* __restrict__ dx) {
  __shared__ double partial[32];
  const int64_t base = g.base(blockIdx.x);
  double s1 = 0, s2 = 0;
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) {
    const int64_t off = base + g.offset(j);
    s1 += dy[off];
    s2 += double(dy[off]) * xh[off];
  }
  const double m1 = cuda::block_sum(s1, partial) / double(g.inner);
  const double m2 = cuda::block_sum(s2, partial) / double(g.inner);
  const double r = rs[blockIdx.x];
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) {
    const int64_t off = base + g.offset(j);
    dx[off] = float(r * (dy[off] - m1 - xh[off] * m2));
  }
}

CudaResult check_groups(const GroupIndex& g, const char* op) {
  if (g.outer > int64_t(INT32_MAX)) return CudaResult{op, "more than 2^31 - 1 normalization groups"};
  return {};
}

CudaResult normalize_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  GANTRY_CUDA_TRY(check_groups(g, "normalize"));
  normalize_kernel<<<unsigned(g.outer), cuda::group_threads(g.inner), 0, s>>>(g, a.node->attrs.eps, a.in[0], a.out);
  return launched("normalize_kernel");
}

CudaResult rstd_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  GANTRY_CUDA_TRY(check_groups(g, "rstd"));
  rstd_kernel<<<unsigned(g.outer), cuda::group_threads(g.inner), 0, s>>>(g, a.node->attrs.eps, a.in[0], a.out);
  return launched("rstd_kernel");
}

CudaResult normalize_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  GANTRY_CUDA_TRY(check_groups(g, "normalize_backward"));
  normalize_backward_kernel<<<unsigned(g.outer), cuda::group_threads(g.inner), 0, s>>>(g, a.in[0], a.in[1], a.in[2],
                                                                                       a.out);
  return launched("normalize_backward_kernel");
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(normalize, nullptr);
GANTRY_DEFINE_CUDA_OP(rstd, nullptr);
GANTRY_DEFINE_CUDA_OP(normalize_backward, nullptr);

}  // namespace gantry

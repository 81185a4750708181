// log_softmax along one axis on CUDA, one block per row: the max, then
// Σ exp(x − max) in double (as engine/ops_softmax.cpp), then
// y = (x − max) − log Σ. Deterministic block reductions, no atomics.
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::GroupIndex;

__global__ void log_softmax_kernel(GroupIndex g, const float* __restrict__ x, float* __restrict__ y) {
  __shared__ float fpartial[32];
  __shared__ double dpartial[32];
  const int64_t base = g.base(blockIdx.x);
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) m = fmaxf(m, x[base + g.offset(j)]);
  m = cuda::block_max(m, fpartial);
  // Every exp argument is ≤ 0 and the largest term is 1: no overflow, log defined.
  double sum = 0;
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) sum += exp(double(x[base + g.offset(j)] - m));
  const float log_sum = float(log(cuda::block_sum(sum, dpartial)));
  for (int64_t j = threadIdx.x; j < g.inner; j += blockDim.x) {
    const int64_t off = base + g.offset(j);
    y[off] = (x[off] - m) - log_sum;
  }
}

CudaResult log_softmax_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(a.node->shape, 1u << a.node->attrs.axis);
  if (g.outer > int64_t(INT32_MAX)) return CudaResult{"log_softmax", "more than 2^31 - 1 rows"};
  log_softmax_kernel<<<unsigned(g.outer), cuda::group_threads(g.inner), 0, s>>>(g, a.in[0], a.out);
  return launched("log_softmax_kernel");
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(log_softmax, nullptr);

}  // namespace gantry

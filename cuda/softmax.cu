// log_softmax along one axis on CUDA, one block per row: the max, then
// Σ exp(x − max), then y = (x − max) − log Σ. Deterministic block reductions,
// no atomics. The sum is an fp32 CompensatedSum (platform/accumulate.h;
// Ogita, Rump & Oishi 2005) where engine/ops_softmax.cpp uses double: its
// terms lie in (0, 1] with the largest exactly 1, so nothing cancels and the
// compensated float sum is within about one rounding of the double one.
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::GroupIndex;

template <class I>
__global__ void log_softmax_kernel(GroupIndex g, Operand x, Operand y) {
  __shared__ float fpartial[32];
  __shared__ CompensatedSum spartial[32];
  const I base = g.base(I(blockIdx.x)), inner = I(g.inner);
  float m = -INFINITY;
  for (I j = threadIdx.x; j < inner; j += blockDim.x) m = fmaxf(m, x[base + g.offset(j)]);
  m = cuda::block_max(m, fpartial);
  // Every exp argument is ≤ 0 and the largest term is 1: no overflow, log defined.
  CompensatedSum sum{};
  for (I j = threadIdx.x; j < inner; j += blockDim.x) sum.add(expf(x[base + g.offset(j)] - m));
  const float log_sum = logf(cuda::block_sum(sum, spartial));
  for (I j = threadIdx.x; j < inner; j += blockDim.x) {
    const I off = base + g.offset(j);
    y.store(off, (x[off] - m) - log_sum);
  }
}

CudaResult log_softmax_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(a.node->shape, 1u << a.node->attrs.axis);
  if (g.outer == 0 || g.inner == 0) return {};
  if (g.outer > int64_t(INT32_MAX)) return CudaResult{"log_softmax", "more than 2^31 - 1 rows"};
  return cuda::with_index_type(g.outer * g.inner, [&](auto index) {
    log_softmax_kernel<decltype(index)><<<unsigned(g.outer), cuda::group_threads(g.inner), 0, s>>>(g, a.in[0], a.out);
    return launched("log_softmax_kernel");
  });
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(log_softmax, nullptr);

}  // namespace gantry

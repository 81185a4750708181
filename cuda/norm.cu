// Normalization on CUDA: normalize, rstd and normalize_backward over an axis
// set (batch, instance and layer norm are built from them). One block per
// reduction group with a deterministic shared-memory tree, no atomics. The
// statistics are fp32 without FP64: the corrected two-pass algorithm (mean,
// then Σd² − (Σd)²/n over d = x − mean; Chan, Golub & LeVeque 1983) with every
// sum a CompensatedSum (platform/accumulate.h; Ogita, Rump & Oishi 2005), so a
// large common offset or 10^6-element groups cost no accuracy against
// engine/ops_norm.cpp's double two-pass (tests/test_accumulate.cpp bounds it).
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::GroupIndex;

// Mean and rstd of the group starting at `base`; every thread gets both.
template <class I>
__device__ void group_moments(const GroupIndex& g, const Operand& x, I base, float eps, CompensatedSum* partial,
                              float& mean, float& rstd) {
  const I inner = I(g.inner);
  CompensatedSum s{};
  for (I j = threadIdx.x; j < inner; j += blockDim.x) s.add(x[base + g.offset(j)]);
  mean = cuda::block_sum(s, partial) / float(g.inner);
  CompensatedSum sd{}, sd2{};
  for (I j = threadIdx.x; j < inner; j += blockDim.x) {
    const float d = x[base + g.offset(j)] - mean;
    sd.add(d);
    sd2.add_product(d, d);
  }
  const float sum_d = cuda::block_sum(sd, partial), sum_d2 = cuda::block_sum(sd2, partial);
  rstd = 1.0f / sqrtf(corrected_sum_sq(sum_d, sum_d2, float(g.inner)) / float(g.inner) + eps);
}

// x̂ = (x − mean) · rstd
template <class I>
__global__ void normalize_kernel(GroupIndex g, float eps, Operand x, Operand y) {
  __shared__ CompensatedSum partial[32];
  const I base = g.base(I(blockIdx.x)), inner = I(g.inner);
  float mean, rstd;
  group_moments(g, x, base, eps, partial, mean, rstd);
  for (I j = threadIdx.x; j < inner; j += blockDim.x) {
    const I off = base + g.offset(j);
    y.store(off, (x[off] - mean) * rstd);
  }
}

// rstd per group, reduced axes kept as 1: output element o is group o.
template <class I>
__global__ void rstd_kernel(GroupIndex g, float eps, Operand x, Operand y) {
  __shared__ CompensatedSum partial[32];
  float mean, rstd;
  group_moments(g, x, g.base(I(blockIdx.x)), eps, partial, mean, rstd);
  if (threadIdx.x == 0) y.store(blockIdx.x, rstd);
}

// dx = rstd · (dy − mean(dy) − x̂ · mean(dy · x̂))
template <class I>
__global__ void normalize_backward_kernel(GroupIndex g, Operand dy, Operand xh, Operand rs, Operand dx) {
  __shared__ CompensatedSum partial[32];
  const I base = g.base(I(blockIdx.x)), inner = I(g.inner);
  CompensatedSum s1{}, s2{};
  for (I j = threadIdx.x; j < inner; j += blockDim.x) {
    const I off = base + g.offset(j);
    s1.add(dy[off]);
    s2.add_product(dy[off], xh[off]);
  }
  const float m1 = cuda::block_sum(s1, partial) / float(g.inner);
  const float m2 = cuda::block_sum(s2, partial) / float(g.inner);
  const float r = rs[blockIdx.x];
  for (I j = threadIdx.x; j < inner; j += blockDim.x) {
    const I off = base + g.offset(j);
    dx.store(off, r * (dy[off] - m1 - xh[off] * m2));
  }
}

// The launch for every op here: one block per group, none when there are no
// groups or they are empty (graphs hold no empty tensors; the check keeps a
// direct call from launching an empty grid or dividing by a zero count).
template <class Launch>
CudaResult launch_groups(const GroupIndex& g, const char* op, Launch launch) {
  if (g.outer == 0 || g.inner == 0) return {};
  if (g.outer > int64_t(INT32_MAX)) return CudaResult{op, "more than 2^31 - 1 normalization groups"};
  const dim3 grid(unsigned(g.outer)), block(unsigned(cuda::group_threads(g.inner)));
  return cuda::with_index_type(g.outer * g.inner, [&](auto index) { return launch(index, grid, block); });
}

CudaResult normalize_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  return launch_groups(g, "normalize", [&](auto index, dim3 grid, dim3 block) {
    normalize_kernel<decltype(index)><<<grid, block, 0, s>>>(g, a.node->attrs.eps, a.in[0], a.out);
    return launched("normalize_kernel");
  });
}

CudaResult rstd_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  return launch_groups(g, "rstd", [&](auto index, dim3 grid, dim3 block) {
    rstd_kernel<decltype(index)><<<grid, block, 0, s>>>(g, a.node->attrs.eps, a.in[0], a.out);
    return launched("rstd_kernel");
  });
}

CudaResult normalize_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  const GroupIndex g = cuda::make_group_index(*a.in_shape[0], a.node->attrs.axes);
  return launch_groups(g, "normalize_backward", [&](auto index, dim3 grid, dim3 block) {
    normalize_backward_kernel<decltype(index)><<<grid, block, 0, s>>>(g, a.in[0], a.in[1], a.in[2], a.out);
    return launched("normalize_backward_kernel");
  });
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(normalize, nullptr);
GANTRY_DEFINE_CUDA_OP(rstd, nullptr);
GANTRY_DEFINE_CUDA_OP(normalize_backward, nullptr);

}  // namespace gantry

// In-place optimizer updates on CUDA: Adam (torch.optim.Adam's arithmetic),
// RMSProp (no momentum) and assign, as engine/ops_optim.cpp. Adam's update
// count t = step·t_per_step + t_offset + 1 comes from the step uniforms in
// device memory, so the captured graph stays valid for every step; the bias
// corrections 1 − βᵗ are computed as −expm1f(t·log β), which has no
// cancellation when βᵗ is close to 1 (t small, β₂ = 0.999): a relative error
// δ in t·log β gives at most δ in 1 − βᵗ, so float is within a few ulp of the
// CPU's double and no FP64 is needed.
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::blocks_for;
using cuda::kThreads;

// p, m, v, g: [n], updated in place.
// skip: an element whose gradient is Inf or NaN is left as it is (AdamOptions::skip_nonfinite).
__global__ void adam_kernel(int64_t n, const StepUniforms* __restrict__ u, int64_t t_per_step, int64_t t_offset,
                            float lr, float b1, float b2, float eps, bool skip, Operand p, Operand g, Operand m,
                            Operand v) {
  // Once per block: step size lr / (1 − β₁ᵗ) and 1 / sqrt(1 − β₂ᵗ).
  __shared__ float coeff[2];
  if (threadIdx.x == 0) {
    const float t = float(u->step * uint64_t(t_per_step) + uint64_t(t_offset) + 1);
    const float bc1 = -expm1f(t * logf(b1)), bc2 = -expm1f(t * logf(b2));
    coeff[0] = lr / bc1;
    coeff[1] = 1.0f / sqrtf(bc2);
  }
  __syncthreads();
  const float step_size = coeff[0], rbc2 = coeff[1];
  GANTRY_GRID_STRIDE(i, n) {
    const float gi = g[i];
    if (skip && !isfinite(gi)) continue;
    const float mi = b1 * m[i] + (1 - b1) * gi;
    const float vi = b2 * v[i] + (1 - b2) * gi * gi;
    m.store(i, mi);
    v.store(i, vi);
    p.store(i, p[i] - step_size * mi / (sqrtf(vi) * rbc2 + eps));
  }
}

CudaResult adam_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.in_shape[0]->numel();
  if (n == 0) return {};
  adam_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.uniforms, at.t_per_step, at.t_offset, at.lr, at.beta1, at.beta2,
                                                 at.eps, at.skip_nonfinite, a.in[0], a.in[1], a.in[2], a.in[3]);
  return launched("adam_kernel");
}

// p, g, sq: [n]; alpha is the squared-gradient decay (attrs.beta1).
__global__ void rmsprop_kernel(int64_t n, float lr, float alpha, float eps, bool skip, Operand p, Operand g,
                               Operand sq) {
  GANTRY_GRID_STRIDE(i, n) {
    const float gi = g[i];
    if (skip && !isfinite(gi)) continue;
    const float si = alpha * sq[i] + (1 - alpha) * gi * gi;
    sq.store(i, si);
    p.store(i, p[i] - lr * gi / (sqrtf(si) + eps));
  }
}

CudaResult rmsprop_cuda(const CudaArgs& a, cudaStream_t s) {
  const Attrs& at = a.node->attrs;
  const int64_t n = a.in_shape[0]->numel();
  if (n == 0) return {};
  rmsprop_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, at.lr, at.beta1, at.eps, at.skip_nonfinite, a.in[0], a.in[1],
                                                    a.in[2]);
  return launched("rmsprop_kernel");
}

// dst ← src
CudaResult assign_cuda(const CudaArgs& a, cudaStream_t s) {
  return cuda::copy_rows(a.in[1], 0, a.in[0], 0, 1, a.in_shape[0]->numel(), s);
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(adam, nullptr);
GANTRY_DEFINE_CUDA_OP(rmsprop, nullptr);
GANTRY_DEFINE_CUDA_OP(assign, nullptr);

}  // namespace gantry

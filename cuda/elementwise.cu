// Elementwise ops on CUDA: broadcasting arithmetic, activations, clamp and
// binary cross-entropy on logits, one thread per output element (grid-stride).
// Same functions as engine/ops_elementwise.cpp; the GPU's expf/tanhf/log1pf
// may differ from the host's libm by an ulp or two, which the parity
// tolerances (tests/test_backend_parity.cpp) allow.
#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::blocks_for;
using cuda::kThreads;

// ---- unary maps: y[i] = f(x[i])
template <class F>
__global__ void unary_kernel(int64_t n, Operand x, Operand y, F f) {
  GANTRY_GRID_STRIDE(i, n) y.store(i, f(x[i]));
}

template <class F>
CudaResult unary(const CudaArgs& a, cudaStream_t s, F f, const char* name) {
  const int64_t n = a.node->shape.numel();
  if (n == 0) return {};
  unary_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.in[0], a.out, f);
  return launched(name);
}

// ---- binary maps with broadcasting: y[i] = f(a[ia], b[ib])
template <class F>
__global__ void binary_same_kernel(int64_t n, Operand a, Operand b, Operand y, F f) {
  GANTRY_GRID_STRIDE(i, n) y.store(i, f(a[i], b[i]));
}

template <class I, class F>
__global__ void binary_broadcast_kernel(I n, cuda::BroadcastIndex idx, Operand a, Operand b, Operand y, F f) {
  GANTRY_GRID_STRIDE_T(I, i, n) {
    I ia, ib;
    idx.offsets(i, ia, ib);
    y.store(i, f(a[ia], b[ib]));
  }
}

template <class F>
CudaResult binary(const CudaArgs& a, cudaStream_t s, F f, const char* name) {
  const Shape& out = a.node->shape;
  const int64_t n = out.numel();
  if (n == 0) return {};
  if (*a.in_shape[0] == out && *a.in_shape[1] == out) {
    binary_same_kernel<<<blocks_for(n), kThreads, 0, s>>>(n, a.in[0], a.in[1], a.out, f);
    return launched(name);
  }
  const cuda::BroadcastIndex idx = cuda::make_broadcast_index(out, *a.in_shape[0], *a.in_shape[1]);
  // Inputs broadcast to the output, so they are no larger: n bounds every index.
  return cuda::with_index_type(n, [&](auto index) {
    using I = decltype(index);
    binary_broadcast_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(I(n), idx, a.in[0], a.in[1], a.out, f);
    return launched(name);
  });
}

struct Add {
  __device__ float operator()(float x, float y) const { return x + y; }
};
struct Sub {
  __device__ float operator()(float x, float y) const { return x - y; }
};
struct Mul {
  __device__ float operator()(float x, float y) const { return x * y; }
};
struct Div {
  __device__ float operator()(float x, float y) const { return x / y; }
};
struct Scale {
  float alpha, beta;
  __device__ float operator()(float x) const { return alpha * x + beta; }
};
struct Square {
  __device__ float operator()(float x) const { return x * x; }
};
struct Sqrt {
  __device__ float operator()(float x) const { return sqrtf(x); }
};
struct Exp {
  __device__ float operator()(float x) const { return expf(x); }
};
struct Tanh {
  __device__ float operator()(float x) const { return tanhf(x); }
};
struct Sigmoid {
  // exp of a non-positive number only: no overflow for large |x| (as the CPU kernel).
  __device__ float operator()(float x) const {
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    const float e = expf(x);
    return e / (1.0f + e);
  }
};
struct LeakyRelu {
  float alpha;
  __device__ float operator()(float x) const { return x > 0 ? x : alpha * x; }
};
// Kinks as PyTorch (and the CPU kernels): alpha·dy at x ≤ 0; clamp passes dy on [lo, hi].
struct LeakyReluBackward {
  float alpha;
  __device__ float operator()(float dy, float x) const { return x > 0 ? dy : alpha * dy; }
};
struct Clamp {
  float lo, hi;
  __device__ float operator()(float x) const { return x < lo ? lo : (x > hi ? hi : x); }
};
struct ClampBackward {
  float lo, hi;
  __device__ float operator()(float dy, float x) const { return x >= lo && x <= hi ? dy : 0.0f; }
};
// max(x, 0) − x·t + log(1 + exp(−|x|))
struct BceWithLogits {
  __device__ float operator()(float x, float t) const { return (x > 0 ? x : 0.0f) - x * t + log1pf(expf(-fabsf(x))); }
};

CudaResult add_cuda(const CudaArgs& a, cudaStream_t s) { return binary(a, s, Add{}, "add"); }
CudaResult sub_cuda(const CudaArgs& a, cudaStream_t s) { return binary(a, s, Sub{}, "sub"); }
CudaResult mul_cuda(const CudaArgs& a, cudaStream_t s) { return binary(a, s, Mul{}, "mul"); }
CudaResult div_cuda(const CudaArgs& a, cudaStream_t s) { return binary(a, s, Div{}, "div"); }
CudaResult scale_cuda(const CudaArgs& a, cudaStream_t s) {
  return unary(a, s, Scale{a.node->attrs.alpha, a.node->attrs.beta}, "scale");
}
CudaResult square_cuda(const CudaArgs& a, cudaStream_t s) { return unary(a, s, Square{}, "square"); }
CudaResult sqrt_cuda(const CudaArgs& a, cudaStream_t s) { return unary(a, s, Sqrt{}, "sqrt"); }
CudaResult exp_cuda(const CudaArgs& a, cudaStream_t s) { return unary(a, s, Exp{}, "exp"); }
CudaResult tanh_cuda(const CudaArgs& a, cudaStream_t s) { return unary(a, s, Tanh{}, "tanh"); }
CudaResult sigmoid_cuda(const CudaArgs& a, cudaStream_t s) { return unary(a, s, Sigmoid{}, "sigmoid"); }
CudaResult leaky_relu_cuda(const CudaArgs& a, cudaStream_t s) {
  return unary(a, s, LeakyRelu{a.node->attrs.alpha}, "leaky_relu");
}
CudaResult leaky_relu_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  return binary(a, s, LeakyReluBackward{a.node->attrs.alpha}, "leaky_relu_backward");
}
CudaResult clamp_cuda(const CudaArgs& a, cudaStream_t s) {
  return unary(a, s, Clamp{a.node->attrs.alpha, a.node->attrs.beta}, "clamp");
}
CudaResult clamp_backward_cuda(const CudaArgs& a, cudaStream_t s) {
  return binary(a, s, ClampBackward{a.node->attrs.alpha, a.node->attrs.beta}, "clamp_backward");
}
CudaResult bce_with_logits_cuda(const CudaArgs& a, cudaStream_t s) {
  return binary(a, s, BceWithLogits{}, "bce_with_logits");
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(add, nullptr);
GANTRY_DEFINE_CUDA_OP(sub, nullptr);
GANTRY_DEFINE_CUDA_OP(mul, nullptr);
GANTRY_DEFINE_CUDA_OP(div, nullptr);
GANTRY_DEFINE_CUDA_OP(scale, nullptr);
GANTRY_DEFINE_CUDA_OP(square, nullptr);
GANTRY_DEFINE_CUDA_OP(sqrt, nullptr);
GANTRY_DEFINE_CUDA_OP(exp, nullptr);
GANTRY_DEFINE_CUDA_OP(tanh, nullptr);
GANTRY_DEFINE_CUDA_OP(sigmoid, nullptr);
GANTRY_DEFINE_CUDA_OP(leaky_relu, nullptr);
GANTRY_DEFINE_CUDA_OP(leaky_relu_backward, nullptr);
GANTRY_DEFINE_CUDA_OP(clamp, nullptr);
GANTRY_DEFINE_CUDA_OP(clamp_backward, nullptr);
GANTRY_DEFINE_CUDA_OP(bce_with_logits, nullptr);

}  // namespace gantry

// The CUDA op table: for every op in ops.def, a launcher that enqueues its
// kernels (and cuBLAS calls) on a stream, and the size of the shared
// workspace it needs. Each family file (conv.cu, data.cu, elementwise.cu,
// norm.cu, optim.cu, reduce.cu, softmax.cu) defines `cuda_op_<name>` for its
// ops; cuda_op_table.cpp gathers them in ops.def order, so a missing kernel is
// a link error, and a null launcher is a compile_cuda() error naming the op.
// Every launcher computes the same function as the op's CPU reference kernel
// (engine/ops_<family>.cpp); tests/test_backend_parity.cpp checks that.
#pragma once

// cuBLAS for its types only: calls go through cuda/cublas_loader.h.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#ifdef __CUDACC__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif

#include <cstdint>

#include "engine/op_table.h"
#include "platform/host_device.h"

namespace gantry {

// How a tensor is stored: float32, IEEE binary16 or bfloat16 (16-bit
// storage, engine/backend.h: Precision, half_storage()).
enum class Storage : uint8_t { f32, f16, bf16 };
inline int64_t storage_bytes(Storage s) { return s == Storage::f32 ? 4 : 2; }

// A tensor in device memory. Kernels read it as float (`t[i]`, exact) and
// write through `t.store(i, v)`, which rounds to nearest even and overflows
// to ±infinity as platform/half.h does on the host; all arithmetic between
// the two stays float32. The storage is a kernel argument, the same for every
// thread, so the branch costs no divergence.
struct Operand {
  void* p = nullptr;  // null: absent (an optional bias)
  Storage type = Storage::f32;

  int64_t elem_size() const { return storage_bytes(type); }
  // The operand k elements on (host side: the start of an image, a group).
  Operand at(int64_t k) const { return {static_cast<char*>(p) + k * elem_size(), type}; }
  GANTRY_HD explicit operator bool() const { return p != nullptr; }
#ifdef __CUDACC__
  template <class I>
  __device__ float operator[](I i) const {
    switch (type) {
      case Storage::f16:
        return __half2float(static_cast<const __half*>(p)[i]);
      case Storage::bf16:
        return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
      default:
        return static_cast<const float*>(p)[i];
    }
  }
  template <class I>
  __device__ void store(I i, float v) const {
    switch (type) {
      case Storage::f16:
        static_cast<__half*>(p)[i] = __float2half_rn(v);
        break;
      case Storage::bf16:
        static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
        break;
      default:
        static_cast<float*>(p)[i] = v;
    }
  }
#endif
};

// What a launcher sees; built once per scheduled node when the program is
// compiled, so the same arguments are captured into the CUDA graph.
struct CudaArgs {
  const Node* node = nullptr;
  int n_in = 0;
  Operand in[kMaxInputs] = {};  // in the arena; effects update in[0..] in place
  const Shape* in_shape[kMaxInputs] = {};
  Operand out;
  // Shared workspace, workspace_bytes(node) bytes, valid during this node only
  // (nodes run one after another on one stream, so all of them share it).
  void* workspace = nullptr;
  bool bf16_gemm = false;                  // cuBLAS multiplies bfloat16 here (compute capability 8.0 and later)
  const StepUniforms* uniforms = nullptr;  // device memory, written by the host before each replay
  cublasHandle_t cublas = nullptr;         // bound to the program's stream, with its own workspace
};

// The outcome of a launch: ok, or the call that failed and its error string
// (both static strings, so a failing launch allocates nothing).
struct CudaResult {
  const char* call = nullptr;
  const char* error = nullptr;
  bool ok() const { return call == nullptr; }
};

using CudaLaunch = CudaResult (*)(const CudaArgs& a, cudaStream_t stream);

struct CudaOpDef {
  CudaLaunch launch;                            // null: no CUDA kernel (leaf)
  int64_t (*workspace_bytes)(const CudaArgs&);  // null: none (from node, shapes and storage types)
};

const CudaOpDef& cuda_op_def(Op op);
// Whether op has a launcher (false for leaf, which is never scheduled). Needs
// no CUDA header, so tests/test_op_coverage.cpp declares it itself.
bool cuda_has_kernel(Op op);

// Helpers shared by the family files (cuda_util.cu).
CudaResult cuda_check(cudaError_t e, const char* call);
CudaResult cublas_check(cublasStatus_t s, const char* call);
// The error of the last kernel launch, if any.
CudaResult launched(const char* kernel);

// Row-major GEMM through cuBLAS (column-major) by computing Cᵀ = op(B)ᵀ·op(A)ᵀ:
//   C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C, `batch` times with
// the given element strides between batch entries (stride 0: the same matrix).
//   A: [M, K] (or [K, M] when trans_a) with leading dimension lda, likewise B, C.
// cublasGemmEx with float32 accumulation (CUBLAS_COMPUTE_32F) in every case:
// A and B of one storage type, float32 or 16-bit (tensor cores where the GPU
// has them; products of 16-bit values are exact in float32; bfloat16 from
// compute capability 8.0 on); C float32 or A's and B's type (the
// combinations cuBLAS offers).
CudaResult gemm_row_major(cublasHandle_t h, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                          Operand A, int64_t lda, int64_t stride_a, Operand B, int64_t ldb, int64_t stride_b,
                          float beta, Operand C, int64_t ldc, int64_t stride_c, int64_t batch);

}  // namespace gantry

// Returns from the enclosing launcher when `expr` (a CudaResult) failed.
#define GANTRY_CUDA_TRY(expr)               \
  do {                                      \
    const ::gantry::CudaResult r_ = (expr); \
    if (!r_.ok()) return r_;                \
  } while (0)

// Defines cuda_op_<name> from <name>_cuda and a workspace size function (or nullptr).
#define GANTRY_DEFINE_CUDA_OP(name, workspace)     \
  extern const ::gantry::CudaOpDef cuda_op_##name; \
  const ::gantry::CudaOpDef cuda_op_##name { name##_cuda, workspace }

// cuBLAS, loaded on first use of the CUDA backend. gantry does not link
// libcublas: a binary built with CUDA starts, and runs every CPU and Vulkan
// command, on a machine without the CUDA libraries, and `gantry help` does not
// map cuBLAS's ~600 MB (with cublasLt). The few cuBLAS entry points the backend
// calls are a table of function pointers, filled by dlopen + dlsym of the
// SONAME of the cuBLAS major version these headers declare (libcublas.so.13
// for CUDA 13) when cublas_load() first runs. The CUDA runtime needs no such
// care: it is linked statically and initializes itself, opening the driver,
// on its first call (CUDA C++ Programming Guide, "CUDA Runtime" >
// "Initialization"); entry points and handles are those of the cuBLAS
// Library documentation ("Using the cuBLAS API", the v2 API of cublas_v2.h).
#pragma once

#include <cublas_v2.h>

#include "platform/status.h"

// cublasGetStatusString came with cuBLAS 11.6 (CUDA 11.4 update 2); JetPack
// 5's CUDA 11.4 has it, a CUDA 11.4.0 or 11.4.1 toolkit does not.
#define GANTRY_CUBLAS_HAS_STATUS_STRING (CUBLAS_VERSION >= 11600)

namespace gantry::cuda {

// The signatures come from the headers the build compiled against, so a call
// through the table is type-checked like a direct call. The exported names
// are the "_v2" ones (cublas_v2.h maps cublasCreate to cublasCreate_v2 etc.).
struct CublasApi {
  decltype(&::cublasCreate_v2) create = nullptr;
  decltype(&::cublasDestroy_v2) destroy = nullptr;
  decltype(&::cublasSetStream_v2) set_stream = nullptr;
  decltype(&::cublasSetWorkspace_v2) set_workspace = nullptr;
  decltype(&::cublasSetMathMode) set_math_mode = nullptr;
#if GANTRY_CUBLAS_HAS_STATUS_STRING
  decltype(&::cublasGetStatusString) get_status_string = nullptr;
#endif
  // Spelled out: C++ sees a second, inline cublasGemmEx (cudaDataType computeType) in cuBLAS 11 and later.
  cublasStatus_t (*gemm_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int, const void*,
                            const void*, cudaDataType, int, const void*, cudaDataType, int, const void*, void*,
                            cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
  cublasStatus_t (*gemm_strided_batched_ex)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int, int,
                                            const void*, const void*, cudaDataType, int, long long, const void*,
                                            cudaDataType, int, long long, const void*, void*, cudaDataType, int,
                                            long long, int, cublasComputeType_t, cublasGemmAlgo_t) = nullptr;
};

// Loads cuBLAS once per process (thread-safe); ok, or what was tried and why
// it failed. Later calls return the first answer.
Status cublas_load();

// The table; every entry is set once cublas_load() has returned ok.
const CublasApi& cublas();

// What a failed status means (a static string), for error messages.
const char* status_string(cublasStatus_t s);

}  // namespace gantry::cuda

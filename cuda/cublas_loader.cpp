// cuBLAS through dlopen on first use (cublas_loader.h). The library is
// opened by its SONAME, as the dynamic linker would have (LD_LIBRARY_PATH, the
// ld.so cache, the system folders), and never closed: programs still hold
// cuBLAS handles while the process exits.
//
// Only the SONAME of the major version in these headers is tried: cuBLAS keeps
// its ABI within a major version (its SONAME carries only the major), so a
// library of another major, or the unversioned libcublas.so development link,
// could disagree with the signatures the table was compiled with.
#include "cuda/cublas_loader.h"

#include <dlfcn.h>

#include <string>
#include <type_traits>

namespace gantry::cuda {
namespace {

#define GANTRY_STR2(x) #x
#define GANTRY_STR(x) GANTRY_STR2(x)
constexpr const char* kCublasSoname = "libcublas.so." GANTRY_STR(CUBLAS_VER_MAJOR);

CublasApi g_api;

// The GEMM entry points' types are spelled out in CublasApi; choosing the
// overload by them fails to compile if they are not the library's own. Inside
// sizeof, unevaluated: no reference to a cuBLAS symbol reaches the object
// file, even unoptimized (gantry does not link cuBLAS).
static_assert(sizeof(static_cast<decltype(CublasApi::gemm_ex)>(&::cublasGemmEx)) > 0);
static_assert(sizeof(static_cast<decltype(CublasApi::gemm_strided_batched_ex)>(&::cublasGemmStridedBatchedEx)) > 0);

Status load() {
  // RTLD_LOCAL: cuBLAS's symbols stay out of the global namespace (nothing
  // else in the process should bind to them); RTLD_NOW: a library missing one
  // of its own dependencies (libcublasLt) fails here, not at the first GEMM.
  void* lib = dlopen(kCublasSoname, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* why = dlerror();
    return Status::error(std::string("cuBLAS not available: dlopen(\"") + kCublasSoname + "\") failed: " +
                         (why ? why : "?") + " (the CUDA backend needs cuBLAS " GANTRY_STR(CUBLAS_VER_MAJOR) ".x: "
                         "install it with the CUDA " GANTRY_STR(CUBLAS_VER_MAJOR) " toolkit or runtime, or add the "
                         "folder that holds " + kCublasSoname + " to LD_LIBRARY_PATH)");
  }
  CublasApi api;
  // The exported names, written out: cublas_v2.h makes cublasCreate etc.
  // macros for cublasCreate_v2 etc., so stringizing them would miss.
  auto bind = [&](auto& fn, const char* name) -> Status {
    dlerror();
    void* sym = dlsym(lib, name);
    if (!sym) {
      const char* why = dlerror();
      return Status::error(std::string("cuBLAS not available: ") + kCublasSoname + " has no symbol " + name + ": " +
                           (why ? why : "null"));
    }
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
    return {};
  };
  for (Status st : {bind(api.create, "cublasCreate_v2"), bind(api.destroy, "cublasDestroy_v2"),
                    bind(api.set_stream, "cublasSetStream_v2"), bind(api.set_workspace, "cublasSetWorkspace_v2"),
                    bind(api.set_math_mode, "cublasSetMathMode"), bind(api.gemm_ex, "cublasGemmEx"),
                    bind(api.gemm_strided_batched_ex, "cublasGemmStridedBatchedEx")})
    if (!st.ok()) return st;
#if GANTRY_CUBLAS_HAS_STATUS_STRING
  GANTRY_TRY(bind(api.get_status_string, "cublasGetStatusString"));
#endif
  g_api = api;
  return {};
}

}  // namespace

Status cublas_load() {
  // A function-local static: initialized once, by the first caller, even
  // when several threads compile CUDA programs at once.
  static const Status loaded = load();
  return loaded;
}

const CublasApi& cublas() { return g_api; }

const char* status_string(cublasStatus_t s) {
#if GANTRY_CUBLAS_HAS_STATUS_STRING
  if (g_api.get_status_string) return g_api.get_status_string(s);
#endif
  (void)s;
  return "cuBLAS error (this build's cuBLAS headers predate cublasGetStatusString)";
}

}  // namespace gantry::cuda

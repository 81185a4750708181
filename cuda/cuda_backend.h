// The CUDA backend: the planned arena in one cudaMalloc, the whole step
// captured once as a CUDA graph and relaunched each step.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace gantry {

// Ok when a CUDA device can be used here; otherwise what is missing.
Status cuda_probe();
// After a failed cuda_probe(): whether a device is present that this binary
// has no kernels for (a failure for test harnesses, not a skip).
bool cuda_rejects_device();
Result<std::unique_ptr<Program>> compile_cuda(const Graph& g, const CompileOptions& options);

}  // namespace gantry

// The Vulkan compute backend: the planned arena in one device allocation, bound
// operand by operand through windows (plus one host-visible buffer for the
// step uniforms and the inputs, copied into device memory or, on unified
// memory, read in place), the whole step recorded once into one command buffer
// and resubmitted each step. The loader is opened at run time, so a binary
// built with Vulkan still runs (on the other backends) where no loader or
// driver is installed.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace gantry {

// Ok when a Vulkan compute device can be used here; otherwise what is missing.
Status vulkan_probe();
Result<std::unique_ptr<Program>> compile_vulkan(const Graph& g, const CompileOptions& options);

}  // namespace gantry

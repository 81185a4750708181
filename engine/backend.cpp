// Backend selection. Vulkan and CUDA programs are added by their own issues;
// until then asking for them is an error that lists what is available.
#include "engine/backend.h"

#include "engine/cpu_backend.h"

namespace gantry {

const char* backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::cpu: return "cpu";
    case BackendKind::vulkan: return "vulkan";
    case BackendKind::cuda: return "cuda";
  }
  return "?";
}

std::vector<BackendKind> available_backends() { return {BackendKind::cpu}; }

static std::string available_list() {
  std::string s;
  for (BackendKind k : available_backends()) s += (s.empty() ? "" : ", ") + std::string(backend_name(k));
  return s;
}

Result<BackendKind> parse_backend(const std::string& name) {
  for (BackendKind k : {BackendKind::cpu, BackendKind::vulkan, BackendKind::cuda})
    if (name == backend_name(k)) return k;
  return Status::error("unknown backend '" + name + "' (available: " + available_list() + ")");
}

Result<std::unique_ptr<Program>> compile(const Graph& g, const CompileOptions& options) {
  if (options.backend == BackendKind::cpu) {
    auto p = CpuProgram<float>::compile(g, options.outputs, CpuOptions{options.threads, false, options.profile});
    if (!p.ok()) return p.status();
    return std::unique_ptr<Program>(std::move(*p));
  }
  return Status::error(std::string("backend ") + backend_name(options.backend) +
                       " is not available in this build (available: " + available_list() + ")");
}

}  // namespace gantry

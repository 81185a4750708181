// Backend selection: the CPU reference always; Vulkan and CUDA when they were
// built in and a device answers. Asking for one that is not usable is an
// error that says why and lists what is available.
#include "engine/backend.h"

#include <algorithm>

#include "engine/cpu_backend.h"
#if GANTRY_HAVE_VULKAN
#include "compute_shaders/vulkan_backend.h"
#endif
#if GANTRY_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace gantry {

const char* backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::cpu: return "cpu";
    case BackendKind::vulkan: return "vulkan";
    case BackendKind::cuda: return "cuda";
  }
  return "?";
}

Status backend_status(BackendKind kind) {
  switch (kind) {
    case BackendKind::cpu: return {};
    case BackendKind::vulkan:
#if GANTRY_HAVE_VULKAN
      return vulkan_probe();
#else
      return Status::error("not built into this binary (configure with -DGANTRY_VULKAN=ON)");
#endif
    case BackendKind::cuda:
#if GANTRY_HAVE_CUDA
      return cuda_probe();
#else
      return Status::error("not built into this binary (configure with -DGANTRY_CUDA=ON)");
#endif
  }
  return Status::error("unknown backend");
}

std::vector<BackendKind> available_backends() {
  std::vector<BackendKind> out;
  for (BackendKind k : {BackendKind::cpu, BackendKind::vulkan, BackendKind::cuda})
    if (backend_status(k).ok()) out.push_back(k);
  return out;
}

std::string available_backend_list() {
  std::string s;
  for (BackendKind k : available_backends()) s += (s.empty() ? "" : ", ") + std::string(backend_name(k));
  return s;
}

Result<BackendKind> parse_backend(const std::string& name) {
  for (BackendKind k : {BackendKind::cpu, BackendKind::vulkan, BackendKind::cuda})
    if (name == backend_name(k)) return k;
  return Status::error("unknown backend '" + name + "' (available: " + available_backend_list() + ")");
}

PlannedProgram::PlannedProgram(const Graph& g, Plan plan, const std::vector<Value>& outputs)
    : graph_(g), plan_(std::move(plan)), readable_(size_t(g.size()), 0) {
  for (Value v : outputs) readable_[v.id] = 1;
  for (int32_t i = 0; i < g.size(); ++i)
    if (g.node(i).op == Op::leaf) readable_[i] = 1;
}

Status PlannedProgram::check_access(Value v, int64_t count) const {
  if (!v.valid() || v.id >= graph_.size()) return Status::error("tensor access: not a node of this program");
  const Node& n = graph_.node(v);
  auto what = [&] { return n.name.empty() ? std::string(op_name(n.op)) + " node " + std::to_string(v.id) : "'" + n.name + "'"; };
  if (!readable_[v.id] || plan_.offset[v.id] < 0)
    return Status::error("tensor " + what() + " is neither a leaf nor an output of this program");
  if (count != n.shape.numel())
    return Status::error("tensor " + what() + " has shape " + n.shape.str() + " (" + std::to_string(n.shape.numel()) +
                         " elements), not " + std::to_string(count));
  return {};
}

std::vector<std::pair<std::string, double>> PlannedProgram::by_op(const std::vector<double>& seconds_per_op) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < seconds_per_op.size(); ++i)
    if (seconds_per_op[i] > 0) out.emplace_back(op_name(Op(i)), seconds_per_op[i]);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

Result<std::unique_ptr<Program>> compile(const Graph& g, const CompileOptions& options) {
  if (options.backend == BackendKind::cpu) {
    auto p = CpuProgram<float>::compile(g, options.outputs, CpuOptions{options.threads, false, options.profile});
    if (!p.ok()) return p.status();
    return std::unique_ptr<Program>(std::move(*p));
  }
  if (Status s = backend_status(options.backend); !s.ok())
    return Status::error(std::string("backend ") + backend_name(options.backend) + " is not available: " + s.message() +
                         " (available: " + available_backend_list() + ")");
#if GANTRY_HAVE_VULKAN
  if (options.backend == BackendKind::vulkan) return compile_vulkan(g, options);
#endif
#if GANTRY_HAVE_CUDA
  if (options.backend == BackendKind::cuda) return compile_cuda(g, options);
#endif
  return Status::error(std::string("backend ") + backend_name(options.backend) + " is not available");
}

}  // namespace gantry

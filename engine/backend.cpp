// Backend selection: the CPU reference always; Vulkan and CUDA when their
// targets registered themselves (they were built in) and a device answers.
// Asking for one that is not usable is an error that says why and lists what
// is available.
#include "engine/backend.h"

#include <algorithm>
#include <mutex>

#include "engine/cpu_backend.h"
#include "platform/half.h"

namespace gantry {
namespace {

// Filled before main() by the backends' registrations; read-only afterwards.
std::vector<BackendEntry>& registry() {
  static std::vector<BackendEntry> entries;  // plain data: safe to destroy at exit
  return entries;
}

const BackendEntry* registered(BackendKind kind) {
  for (const BackendEntry& e : registry())
    if (e.kind == kind) return &e;
  return nullptr;
}

}  // namespace

bool register_backend(const BackendEntry& entry) {
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  if (!registered(entry.kind)) registry().push_back(entry);
  return true;
}

const char* backend_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::cpu:
      return "cpu";
    case BackendKind::vulkan:
      return "vulkan";
    case BackendKind::cuda:
      return "cuda";
  }
  return "?";
}

Status backend_status(BackendKind kind) {
  if (kind == BackendKind::cpu) return {};
  if (const BackendEntry* e = registered(kind)) return e->probe();
  return Status::error(std::string("not built into this binary (configure with -DGANTRY_") +
                       (kind == BackendKind::vulkan ? "VULKAN" : "CUDA") + "=ON)");
}

std::string backend_description(BackendKind kind) {
  const BackendEntry* e = registered(kind);
  return e && e->describe && e->probe().ok() ? e->describe() : std::string();
}

bool backend_rejects_device(BackendKind kind) {
  const BackendEntry* e = registered(kind);
  return e && e->rejects_device && !e->probe().ok() && e->rejects_device();
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
  auto what = [&] {
    return n.name.empty() ? std::string(op_name(n.op)) + " node " + std::to_string(v.id) : "'" + n.name + "'";
  };
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

Result<Precision> parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::fp32;
  if (name == "fp16") return Precision::fp16;
  if (name == "bf16") return Precision::bf16;
  return Status::error("unknown precision '" + name + "' (fp32, fp16, bf16)");
}

const char* precision_name(Precision p) {
  switch (p) {
    case Precision::fp16:
      return "fp16";
    case Precision::bf16:
      return "bf16";
    case Precision::fp32:
      break;
  }
  return "fp32";
}

double storage_unit_roundoff(Precision p) {
  switch (p) {
    case Precision::fp16:
      return kHalfUnitRoundoff;
    case Precision::bf16:
      return kBfloat16UnitRoundoff;
    case Precision::fp32:
      break;
  }
  return 0;
}

Status precision_built(BackendKind backend, Precision p) {
  if (p == Precision::bf16 && backend == BackendKind::vulkan)
    return Status::error(
        "backend vulkan: bf16 storage is not built for it (core Vulkan has no bfloat16 buffers; "
        "--precision fp16 runs there, bf16 on cuda and cpu)");
  return {};
}

std::vector<char> half_storage(const Graph& g) {
  const int32_t n = g.size();
  bool effects = false;
  std::vector<char> single(size_t(n), 0);  // float32
  for (int32_t i = 0; i < n; ++i)
    if (g.node(i).effect) {
      effects = true;
      for (int32_t in : g.node(i).inputs) single[size_t(in)] = 1;
    }
  // Operands that hold integers (class labels, row indices) stay float32:
  // binary16 holds every integer only up to 2048, bfloat16 up to 256.
  for (int32_t i = 0; i < n; ++i) {
    const Node& node = g.node(i);
    if (node.op == Op::one_hot) single[size_t(node.inputs[0])] = 1;
    if (node.op == Op::gather || node.op == Op::gather_backward) single[size_t(node.inputs[1])] = 1;
  }
  std::vector<char> half(size_t(n), 0);
  for (int32_t i = 0; i < n; ++i) {
    const Node& node = g.node(i);
    if (!effects) {
      half[size_t(i)] = !single[size_t(i)];
      continue;
    }
    bool from_single = node.op == Op::leaf;
    if (!from_single && (node.op == Op::scale || node.op == Op::add || node.op == Op::sub || node.op == Op::mul ||
                         node.op == Op::clamp)) {
      from_single = true;
      for (int32_t in : node.inputs) from_single = from_single && !half[size_t(in)];
    }
    half[size_t(i)] = !from_single && !single[size_t(i)];
  }
  return half;
}

Result<std::unique_ptr<Program>> compile(const Graph& g, const CompileOptions& options) {
  if (options.backend == BackendKind::cpu) {
    auto p = CpuProgram<float>::compile(g, options.outputs,
                                        CpuOptions{options.threads, false, options.profile, options.precision});
    if (!p.ok()) return p.status();
    return std::unique_ptr<Program>(std::move(*p));
  }
  GANTRY_TRY(precision_built(options.backend, options.precision));
  if (Status s = backend_status(options.backend); !s.ok())
    return Status::error(std::string("backend ") + backend_name(options.backend) + " is not available: " + s.message() +
                         " (available: " + available_backend_list() + ")");
  return registered(options.backend)->compile(g, options);  // backend_status() found it
}

}  // namespace gantry

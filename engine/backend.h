// The backend interface. compile() turns a graph into a Program for one
// backend: the arena is planned (planner.h) and allocated once, and step()
// replays the whole node list with no allocation. A backend that lacks a
// kernel for an op fails compile() with the op's name; nothing falls back.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/graph.h"
#include "engine/op_table.h"
#include "engine/planner.h"

namespace gantry {

enum class BackendKind { cpu, vulkan, cuda };
const char* backend_name(BackendKind kind);
Result<BackendKind> parse_backend(const std::string& name);
// The backends compiled into this build and usable on this machine.
std::vector<BackendKind> available_backends();
// The same as "cpu, vulkan" for messages.
std::string available_backend_list();
// Ok when `kind` is built in and has a device here; otherwise why not.
Status backend_status(BackendKind kind);
// What a usable backend found, for `gantry info`: its device and the limits it
// plans with (empty for a backend without a description or without a device).
std::string backend_description(BackendKind kind);
// Whether backend_status()'s failure is a device that IS present but that this
// build cannot run on (CUDA: no kernel image for its compute capability).
// Harnesses report that as a failure; "no device" (or no driver) is a skip.
bool backend_rejects_device(BackendKind kind);

class Program {
 public:
  virtual ~Program() = default;
  // Runs the step once; the host sets the seed and step number.
  virtual Status step(const StepUniforms& u) = 0;
  // Copies a leaf (any role) or an output in or out; count must be its numel.
  virtual Status write(Value v, const float* src, int64_t count) = 0;
  virtual Status read(Value v, float* dst, int64_t count) const = 0;
  virtual const ArenaBytes& arena() const = 0;
  // What runs it, for reports: "cpu (2 threads)", the GPU's name.
  virtual std::string device() const = 0;
  // With CompileOptions::profile: seconds spent per op over all steps so far,
  // largest first (where the time goes); empty otherwise.
  virtual std::vector<std::pair<std::string, double>> op_seconds() const = 0;
};

// What every backend's program shares: its own copy of the graph (nodes carry
// the kernels' attributes), the arena plan, and the check that a host access
// names a leaf or an output with the right element count.
class PlannedProgram : public Program {
 public:
  const ArenaBytes& arena() const override { return plan_.bytes; }

 protected:
  PlannedProgram(const Graph& g, Plan plan, const std::vector<Value>& outputs);
  Status check_access(Value v, int64_t count) const;
  // Fills the fields every backend's kernel arguments share (node, n_in,
  // in[], in_shape[], out) for scheduled node `id`; `at(offset, node)` maps the
  // arena byte offset of a node's value to what the backend's kernels take (a
  // pointer, an element index).
  template <class Args, class At>
  void fill_args(int32_t id, Args& a, At at) const {
    const Node& n = graph_.node(id);
    a.node = &n;
    a.n_in = int(n.inputs.size());
    for (int k = 0; k < a.n_in; ++k) {
      a.in[k] = at(plan_.offset[n.inputs[k]], n.inputs[k]);
      a.in_shape[k] = &graph_.node(n.inputs[k]).shape;
    }
    a.out = at(plan_.offset[id], id);
  }
  // Seconds indexed by Op → op_seconds() (nonzero ones, largest first).
  static std::vector<std::pair<std::string, double>> by_op(const std::vector<double>& seconds_per_op);

  Graph graph_;
  Plan plan_;
  std::vector<char> readable_;  // per node: leaf or output
};

// How tensors are stored between ops. fp16: every value the host writes and
// every output a node writes is rounded to IEEE half (platform/half.h), while
// arithmetic and accumulation stay float32 — what a GPU with 16-bit storage
// does. The CPU backend emulates it as the reference for drift (no faster than
// fp32); Vulkan stores binary16 where the device has 16-bit storage buffers
// (and runs float32 where it has not, saying so in Program::device()); CUDA
// stores binary16 on every GPU it builds for. bf16: the same with bfloat16
// (float32's range, 8 bits of precision instead of 11), on the CPU (emulated)
// and CUDA; Vulkan refuses it (core Vulkan has no bfloat16 storage). Which
// values are 16-bit: half_storage().
enum class Precision : uint8_t { fp32, fp16, bf16 };
Result<Precision> parse_precision(const std::string& name);  // "fp32", "fp16" or "bf16"
const char* precision_name(Precision p);
// The unit roundoff of the 16-bit format (2⁻¹¹, 2⁻⁸), 0 for fp32.
double storage_unit_roundoff(Precision p);
// Whether `backend` is built to store in `p` (compile() refuses it otherwise,
// and the commands ask before loading anything): all but bf16 on Vulkan.
Status precision_built(BackendKind backend, Precision p);

// Per node of g: whether 16-bit storage keeps its value in 16 bits. Operands
// that hold integers (one_hot's labels, gather's indices) never: binary16
// holds every integer only up to 2048, bfloat16 up to 256. A program
// without effects (a sampler) stores every other value so, weights too. A program
// that updates its own tensors (a trainer: mixed precision) keeps in float32
// its leaves (master weights, optimizer state, data, inputs), every value an
// effect reads (the unscaled gradients an optimizer takes, what assign
// writes), and the elementwise arithmetic (scale, add, sub, mul, clamp) on
// float32 values only (running statistics' decay, weight clipping): rounding
// those would lose what the float32 masters keep. The rest — activations and
// their gradients — is 16-bit.
std::vector<char> half_storage(const Graph& g);

struct CompileOptions {
  BackendKind backend = BackendKind::cpu;
  std::vector<Value> outputs;  // values readable after step()
  int threads = 0;             // CPU: worker threads, 0 = one per hardware thread
  bool profile = false;        // time every op (adds a clock read per node)
  Precision precision = Precision::fp32;
};

Result<std::unique_ptr<Program>> compile(const Graph& g, const CompileOptions& options);

// The GPU backends register themselves (compute_shaders/, cuda/): the engine
// knows no backend header. A backend built in but without a device here is
// registered too; its probe says why it cannot run.
struct BackendEntry {
  BackendKind kind;
  Status (*probe)();  // ok when a usable device is present
  Result<std::unique_ptr<Program>> (*compile)(const Graph& g, const CompileOptions& options);
  std::string (*describe)() = nullptr;  // the device and the limits the backend plans with
  // After a failed probe: true when a device is there but this build cannot
  // use it (null: the backend never tells the two apart).
  bool (*rejects_device)() = nullptr;
};
// Returns true so that a backend can register from a namespace-scope initializer.
bool register_backend(const BackendEntry& entry);

}  // namespace gantry

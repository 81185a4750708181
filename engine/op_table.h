// The op table: for every op in ops.def, its shape rule, its backward rule
// (written with graph ops, so grad() can be applied to its own output), its
// scratch size and its CPU reference kernels. Each family file (ops_*.cpp)
// defines `extern const OpDef op_def_<name>` for its ops; op_table.cpp
// gathers them in ops.def order.
#pragma once

#include <string>
#include <vector>

#include "engine/graph.h"

namespace gantry {

class ThreadPool;

constexpr int kMaxInputs = 8;

// Per-step values the host writes before each replay.
struct StepUniforms {
  uint64_t seed = 0;
  uint64_t step = 0;
};

// What a CPU kernel sees; built once per node when the program is compiled.
template <class T>
struct CpuArgs {
  const Node* node = nullptr;
  int n_in = 0;
  T* in[kMaxInputs] = {};  // effects write their first inputs in place
  const Shape* in_shape[kMaxInputs] = {};
  T* out = nullptr;
  T* scratch = nullptr;  // scratch_elems(node) elements, live during this node only
  // kept_elems(node) elements that outlive the step, or null; kept_valid: they
  // still hold what this node left there, and no leaf input was written since.
  T* kept = nullptr;
  bool kept_valid = false;
};

template <class T>
using CpuKernel = void (*)(const CpuArgs<T>&, const StepUniforms&, ThreadPool&);

struct OpDef {
  // Sets `out` from the node's inputs and attributes, or returns what is
  // wrong (Graph::add prefixes the op name and input shapes).
  std::string (*shape)(const Graph& g, const Node& n, Shape& out);
  // Appends nodes computing the gradient of each input that needs one
  // (need[i]) from dy, the gradient of n's output. null: not differentiable.
  void (*backward)(Graph& g, const Node& n, Value self, Value dy, const std::vector<bool>& need,
                   std::vector<Value>& dx);
  int64_t (*scratch_elems)(const Graph& g, const Node& n);  // null: none
  CpuKernel<float> cpu_f32;
  CpuKernel<double> cpu_f64;
  // Elements the CPU kernel keeps from one step to the next: what it derives
  // from leaf inputs alone (a convolution's packed weights), computed again
  // only after one of them is written. Planned only for programs without
  // effects (a sampler: its weights change only through Program::write).
  // null, or 0 for a node: none.
  int64_t (*kept_elems)(const Graph& g, const Node& n) = nullptr;
};

const OpDef& op_def(Op op);

// Helpers shared by the rules of several families.
inline Value input_of(const Node& n, int i) { return Value{n.inputs[i]}; }
inline Shape input_shape(const Graph& g, const Node& n, int i) { return g.node(n.inputs[i]).shape; }
Value sum_to(Graph& g, Value v, const Shape& target);  // reduces broadcast axes
std::string check_rank(const Graph& g, const Node& n, int input, int rank_lo, int rank_hi);

}  // namespace gantry

// Defines op_def_<name> in a family file from <name>_shape, <name>_cpu<T>
// and the given backward rule ("vjp", vector-Jacobian product) and scratch
// size functions (either may be nullptr).
#define GANTRY_DEFINE_OP(name, vjp, scratch)  \
  extern const ::gantry::OpDef op_def_##name; \
  const ::gantry::OpDef op_def_##name { name##_shape, vjp, scratch, name##_cpu<float>, name##_cpu<double> }
// The same for an op whose CPU kernel keeps kept(g, n) elements between steps.
#define GANTRY_DEFINE_OP_KEEPING(name, vjp, scratch, kept) \
  extern const ::gantry::OpDef op_def_##name;              \
  const ::gantry::OpDef op_def_##name { name##_shape, vjp, scratch, name##_cpu<float>, name##_cpu<double>, kept }

// Graph building: every node is shape-checked by its op's rule when added.
#include "engine/graph.h"

#include "engine/op_table.h"

namespace gantry {

Value Graph::fail(std::string message) {
  if (status_.ok()) status_ = Status::error(std::move(message));
  return Value{};
}

Value Graph::leaf(Role role, const Shape& shape, std::string name) {
  for (int i = 0; i < shape.rank; ++i)
    if (shape[i] <= 0) return fail("leaf '" + name + "': shape " + shape.str() + " has a non-positive dimension");
  if (shape.checked_numel() < 0)
    return fail("leaf '" + name + "': shape " + shape.str() + " has more than 2^40 elements");
  Node n;
  n.role = role;
  n.shape = shape;
  n.name = std::move(name);
  nodes_.push_back(std::move(n));
  return Value{size() - 1};
}

Value Graph::add(Op op, std::vector<Value> inputs, const Attrs& attrs) {
  Node n;
  n.op = op;
  n.attrs = attrs;
  for (Value v : inputs) {
    if (!v.valid()) return Value{};  // poisoned: the first error is already recorded
    if (v.id >= size()) return fail(std::string(op_name(op)) + ": input from another graph");
    n.inputs.push_back(v.id);
  }
  if (n.inputs.size() > size_t(kMaxInputs))
    return fail(std::string(op_name(op)) + ": more than " + std::to_string(kMaxInputs) + " inputs");
  const std::string err = op_def(op).shape(*this, n, n.shape);
  if (!err.empty()) {
    std::string shapes;
    for (int32_t id : n.inputs) shapes += (shapes.empty() ? "" : ", ") + nodes_[id].shape.str();
    return fail(std::string(op_name(op)) + ": " + err + " (inputs " + shapes + ")");
  }
  n.effect = op == Op::adam || op == Op::rmsprop || op == Op::assign;
  // Only effects (which write into their inputs) have empty outputs; an empty
  // or astronomically large activation is a model that cannot run.
  const int64_t numel = n.shape.checked_numel();
  if (numel < 0 || (numel == 0 && !n.effect))
    return fail(std::string(op_name(op)) + ": output shape " + n.shape.str() +
                (numel == 0 ? " is empty" : " has more than 2^40 elements"));
  nodes_.push_back(std::move(n));
  return Value{size() - 1};
}

std::string check_rank(const Graph& g, const Node& n, int input, int rank_lo, int rank_hi) {
  if (int(n.inputs.size()) <= input) return "missing input " + std::to_string(input);
  const int r = g.node(n.inputs[input]).shape.rank;
  if (r < rank_lo || r > rank_hi)
    return "input " + std::to_string(input) + " must have rank " + std::to_string(rank_lo) +
           (rank_hi != rank_lo ? ".." + std::to_string(rank_hi) : "") + ", got " + std::to_string(r);
  return "";
}

// Leaves are storage only: no shape rule beyond the one in Graph::leaf, no kernel.
static std::string leaf_shape(const Graph&, const Node&, Shape&) {
  return "leaves are made by Graph::parameter/state/data/input";
}
template <class T>
static void leaf_cpu(const CpuArgs<T>&, const StepUniforms&, ThreadPool&) {}
GANTRY_DEFINE_OP(leaf, nullptr, nullptr);

}  // namespace gantry

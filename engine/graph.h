// The static graph: a list of typed nodes in build (= execution) order, each
// with one float32 output whose shape is inferred when the node is added. A
// bad shape or attribute is recorded as the graph's error, naming the op and
// the shapes, and poisons every node built from it; compile() reports it.
// Ops that update persistent tensors in place (adam, rmsprop, assign) are
// "effects": they have an empty output and run in build order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/shape.h"
#include "platform/status.h"

namespace gantry {

enum class Op : uint8_t {
#define GANTRY_OP(name, file) name,
#include "engine/ops.def"
#undef GANTRY_OP
};

constexpr int kOpCount = 0
#define GANTRY_OP(name, file) +1
#include "engine/ops.def"
#undef GANTRY_OP
    ;

const char* op_name(Op op);

// Where a leaf lives. Everything that is not a leaf is transient.
enum class Role : uint8_t {
  transient,
  param,  // trained weights
  state,  // optimizer moments, running statistics
  data,   // resident dataset, written once
  input,  // written by the host before a step (batch indices, labels)
};

// A handle to a node's output. id < 0 means "poisoned by an earlier error".
struct Value {
  int32_t id = -1;
  bool valid() const { return id >= 0; }
};

// Convolution settings, (h, w) pairs, PyTorch semantics.
struct ConvOptions {
  int stride[2] = {1, 1};
  int padding[2] = {0, 0};
  int output_padding[2] = {0, 0};  // conv_transpose2d only
  int dilation[2] = {1, 1};
  int groups = 1;
};

// Attributes; each op reads the fields its builder documents.
struct Attrs {
  ConvOptions conv;                       // conv2d, conv_transpose2d, conv2d_grad_weight
  int kernel[2] = {0, 0};                 // conv2d_grad_weight: kH, kW of the weight it returns
  bool trans_a = false, trans_b = false;  // matmul
  uint32_t axes = 0;                      // bit i set: axis i (reduce_sum, normalize, rstd)
  bool keepdim = false;                   // reduce_sum
  int axis = 0;                           // concat, slice, slice_backward
  int64_t start = 0, count = 0;           // slice: [start, start+count); one_hot classes; gather_backward rows
  Shape shape;                            // broadcast_to, reshape, slice_backward, fill, normal, uniform: output shape
  uint32_t stream = 0;                    // normal, uniform: Philox stream
  float alpha = 0, beta = 0;              // scale, leaky_relu, fill, normal, uniform, clamp
  float eps = 0;                          // normalize, rstd, adam, rmsprop
  // adam / rmsprop: lr, beta1 (adam) / rmsprop decay, beta2, and the update
  // count t = step·t_per_step + t_offset + 1 used for Adam's bias correction.
  float lr = 0, beta1 = 0, beta2 = 0;
  int64_t t_per_step = 1, t_offset = 0;
  bool skip_nonfinite = false;  // adam / rmsprop: an element whose gradient is not finite is left as it is
};

struct Node {
  Op op = Op::leaf;
  Role role = Role::transient;
  bool effect = false;   // updates a persistent input in place; never pruned
  bool no_grad = false;  // treated as a constant by grad()
  std::vector<int32_t> inputs;
  Shape shape;
  Attrs attrs;
  std::string name;  // leaves: the tensor name used in errors and checkpoints
};

class Graph {
 public:
  // Leaves.
  Value parameter(const Shape& shape, std::string name) { return leaf(Role::param, shape, std::move(name)); }
  Value state(const Shape& shape, std::string name) { return leaf(Role::state, shape, std::move(name)); }
  Value data(const Shape& shape, std::string name) { return leaf(Role::data, shape, std::move(name)); }
  Value input(const Shape& shape, std::string name) { return leaf(Role::input, shape, std::move(name)); }

  // Adds a node after checking its shape rule; the way every op builder ends.
  Value add(Op op, std::vector<Value> inputs, const Attrs& attrs = {});

  const Node& node(Value v) const { return nodes_[v.id]; }
  const Node& node(int32_t id) const { return nodes_[id]; }
  Node& node_mut(int32_t id) { return nodes_[id]; }
  // By value: a reference would dangle once the next node is added.
  Shape shape(Value v) const { return nodes_[v.id].shape; }
  int32_t size() const { return int32_t(nodes_.size()); }
  const std::vector<Node>& nodes() const { return nodes_; }

  // The first build error, if any.
  const Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }
  // Records `message` (first one wins) and returns a poisoned Value.
  Value fail(std::string message);

 private:
  Value leaf(Role role, const Shape& shape, std::string name);
  std::vector<Node> nodes_;
  Status status_;
};

}  // namespace gantry

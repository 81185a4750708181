// Graph-to-graph reverse-mode autodiff. grad() appends backward nodes made of
// ordinary table ops, so its results can be differentiated again (double
// backward: WGAN-GP's ∇_w (‖∇_x D(x)‖₂ − 1)²).
#pragma once

#include <vector>

#include "engine/graph.h"

namespace gantry {

struct GradOptions {
  // false: the appended backward nodes are constants to any later grad() call
  // (like PyTorch's create_graph=False); true: they can be differentiated.
  bool create_graph = false;
};

// Gradients of the scalar `loss` (one element) with respect to each of `wrt`
// (any nodes: parameters, inputs or intermediate values). A value `loss` does
// not depend on gets zeros. Errors (non-scalar loss, a non-differentiable op
// on the path) are recorded in the graph like any build error.
std::vector<Value> grad(Graph& g, Value loss, const std::vector<Value>& wrt, const GradOptions& options = {});

}  // namespace gantry

// Reverse accumulation over the node list (nodes are in topological order by
// construction): seed d loss = 1, walk back from the loss, let each op's
// backward rule append nodes for its inputs' gradients, sum fan-in with add.
#include "engine/autodiff.h"

#include "engine/op_table.h"
#include "engine/ops.h"

namespace gantry {

std::vector<Value> grad(Graph& g, Value loss, const std::vector<Value>& wrt, const GradOptions& options) {
  std::vector<Value> result(wrt.size());
  if (!loss.valid()) return result;
  for (Value w : wrt)
    if (!w.valid()) return result;
  if (g.shape(loss).numel() != 1) {
    g.fail("grad: loss must have one element, got shape " + g.shape(loss).str());
    return result;
  }
  const int32_t first_new = g.size();

  // Nodes on a path from some wrt to the loss need a gradient. Nodes marked
  // no_grad (backward nodes of an earlier grad without create_graph) are constants.
  std::vector<char> depends(size_t(loss.id) + 1, 0);
  for (Value w : wrt)
    if (w.id <= loss.id) depends[w.id] = 1;
  for (int32_t i = 0; i <= loss.id; ++i) {
    const Node& n = g.node(i);
    if (depends[i] || n.no_grad) continue;
    for (int32_t in : n.inputs)
      if (depends[in]) {
        depends[i] = 1;
        break;
      }
  }

  std::vector<Value> adj(size_t(loss.id) + 1);
  adj[loss.id] = fill(g, g.shape(loss), 1.0f);
  for (int32_t i = loss.id; i >= 0 && g.ok(); --i) {
    if (!adj[i].valid() || !depends[i]) continue;
    const Node n = g.node(i);  // a copy: the rule appends nodes and may move the node list
    if (n.inputs.empty()) continue;
    std::vector<bool> need(n.inputs.size());
    bool any = false;
    for (size_t k = 0; k < n.inputs.size(); ++k) any |= (need[k] = depends[n.inputs[k]] != 0);
    if (!any) continue;
    const OpDef& def = op_def(n.op);
    if (!def.backward) {
      g.fail(std::string("grad: op ") + op_name(n.op) + " (node " + std::to_string(i) + ", shape " + n.shape.str() +
             ") is not differentiable but lies between the loss and a requested input");
      break;
    }
    std::vector<Value> dx(n.inputs.size());
    def.backward(g, n, Value{i}, adj[i], need, dx);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      if (!need[k] || !dx[k].valid()) continue;  // invalid: zero gradient (e.g. a piecewise-constant input)
      Value& a = adj[n.inputs[k]];
      a = a.valid() ? add(g, a, dx[k]) : dx[k];
    }
  }

  for (size_t k = 0; k < wrt.size(); ++k) {
    const Value w = wrt[k];
    result[k] = w.id <= loss.id && adj[w.id].valid() ? adj[w.id] : fill(g, g.shape(w), 0.0f);
  }
  if (!options.create_graph)
    for (int32_t i = first_new; i < g.size(); ++i) g.node_mut(i).no_grad = true;
  return result;
}

}  // namespace gantry

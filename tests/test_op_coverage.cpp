// Every op of engine/ops.def is complete: it has a name and a CPU kernel in
// the engine's table, a kernel on each GPU backend built into this binary, and
// cases in tests/op_cases.cpp (the list test_gradcheck and test_backend_parity
// run), unless it is one of the exceptions below, each with its reason. A
// failure names the op and what it lacks.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "engine/graph.h"
#include "engine/op_table.h"
#include "tests/op_cases.h"

#if GANTRY_HAVE_VULKAN
#include "compute_shaders/vk_kernels.h"
#endif

#if GANTRY_HAVE_CUDA
namespace gantry {
// cuda/cuda_op_table.cpp (declared in cuda/cuda_ops.h, which needs the CUDA headers).
bool cuda_has_kernel(Op op);
}  // namespace gantry
#endif

namespace gantry::testing {
namespace {

std::vector<Op> all_ops() {
  std::vector<Op> ops;
  for (int i = 0; i < kOpCount; ++i) ops.push_back(Op(i));
  return ops;
}

// Leaves are storage (parameters, state, inputs, data): the planner never
// schedules one (engine/planner.cpp), so no backend has a kernel for it and
// its CPU kernel is a no-op kept only to fill the table's slot.
bool is_leaf(Op op) { return op == Op::leaf; }

// Ops without a case in tests/op_cases.cpp, and why. None may be
// differentiable: op_cases is the gradient check's list.
const std::map<std::string, std::string>& case_exceptions() {
  static const std::map<std::string, std::string> m = {
      {"leaf", "storage, not computed: every case's inputs are leaves"},
      {"fill", "a source with no inputs: SourceParity (test_backend_parity) and test_ops_forward"},
      {"normal", "a Philox source: SourceParity checks it element for element against the CPU"},
      {"uniform", "a Philox source: SourceParity checks it element for element against the CPU"},
      {"one_hot", "integer labels in, not differentiable: SourceParity and test_ops_forward"},
      {"adam", "an in-place optimizer update: SourceParity over three steps, test_train"},
      {"rmsprop", "an in-place optimizer update: SourceParity over three steps, test_train"},
  };
  return m;
}

// The ops each case of op_cases() builds (its forward graph, inputs aside).
std::map<Op, std::vector<std::string>> ops_in_cases() {
  std::map<Op, std::vector<std::string>> found;
  for (const GradCase& c : op_cases()) {
    Graph g;
    std::vector<Value> xs;
    for (size_t i = 0; i < c.inputs.size(); ++i) xs.push_back(g.input(c.inputs[i].shape, "x" + std::to_string(i)));
    c.build(g, xs);
    EXPECT_TRUE(g.ok()) << "case '" << c.name << "' does not build: " << g.status().message();
    for (int32_t id = 0; id < g.size(); ++id) {
      auto& names = found[g.node(id).op];
      if (names.empty() || names.back() != c.name) names.push_back(c.name);
    }
  }
  return found;
}

TEST(OpCoverage, EveryOpHasANameAndACpuKernel) {
  std::set<std::string> names;
  for (Op op : all_ops()) {
    const char* name = op_name(op);
    ASSERT_NE(name, nullptr) << "op " << int(op) << " has no name";
    EXPECT_NE(std::string(name), "") << "op " << int(op) << " has an empty name";
    EXPECT_TRUE(names.insert(name).second) << "op name '" << name << "' appears twice";
    const OpDef& def = op_def(op);
    EXPECT_NE(def.shape, nullptr) << "op " << name << " has no shape rule";
    if (is_leaf(op)) continue;  // never scheduled: its kernel slot is a no-op
    EXPECT_NE(def.cpu_f32, nullptr) << "op " << name << " has no float CPU kernel";
    EXPECT_NE(def.cpu_f64, nullptr) << "op " << name << " has no double CPU kernel";
  }
  EXPECT_EQ(int(names.size()), kOpCount);
}

#if GANTRY_HAVE_VULKAN
TEST(OpCoverage, EveryOpHasAVulkanEncoder) {
  for (Op op : all_ops())
    EXPECT_EQ(vk::vulkan_has_kernel(op), !is_leaf(op))
        << "op " << op_name(op) << (is_leaf(op) ? " (a leaf) has a Vulkan encoder" : " has no Vulkan encoder");
}
#endif

#if GANTRY_HAVE_CUDA
TEST(OpCoverage, EveryOpHasACudaKernel) {
  for (Op op : all_ops())
    EXPECT_EQ(cuda_has_kernel(op), !is_leaf(op))
        << "op " << op_name(op) << (is_leaf(op) ? " (a leaf) has a CUDA launcher" : " has no CUDA launcher");
}
#endif

TEST(OpCoverage, EveryOpHasCasesInOpCases) {
  const auto found = ops_in_cases();
  const auto& except = case_exceptions();
  for (Op op : all_ops()) {
    const std::string name = op_name(op);
    const bool covered = found.count(op) > 0;  // always true for leaf: inputs are leaves
    const auto e = except.find(name);
    if (e == except.end()) {
      EXPECT_TRUE(covered) << "op " << name << " has no case in tests/op_cases.cpp (add one there, or an exception "
                           << "with its reason in tests/test_op_coverage.cpp if it cannot have one)";
      continue;
    }
    // An exception must not hide a differentiable op (the gradient check
    // would never see its backward rule), nor outlive the reason for it.
    EXPECT_EQ(op_def(op).backward, nullptr)
        << "op " << name << " is differentiable, so it needs a case in tests/op_cases.cpp, not an exception ("
        << e->second << ")";
    if (!is_leaf(op)) {
      EXPECT_FALSE(covered) << "op " << name << " now has a case in tests/op_cases.cpp ('" << found.at(op).front()
                            << "'): drop its exception in tests/test_op_coverage.cpp";
    }
  }
  for (const auto& [name, reason] : except) {
    bool known = false;
    for (Op op : all_ops()) known = known || name == op_name(op);
    EXPECT_TRUE(known) << "exception for '" << name << "', which is not an op of engine/ops.def";
  }
}

}  // namespace
}  // namespace gantry::testing

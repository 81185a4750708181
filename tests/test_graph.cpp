// Build-time errors: a bad shape or attribute is reported with the op's name
// and the shapes involved, poisons what is built from it, and compile()
// refuses the graph. Nothing aborts.
#include <gtest/gtest.h>

#include "engine/autodiff.h"
#include "engine/backend.h"
#include "engine/ops.h"

using namespace gantry;

namespace {

void expect_error(const Graph& g, std::initializer_list<const char*> parts) {
  ASSERT_FALSE(g.ok());
  for (const char* p : parts) EXPECT_NE(g.status().message().find(p), std::string::npos) << g.status().message();
}

TEST(GraphErrors, ConvChannelMismatchNamesOpAndShapes) {
  Graph g;
  const Value x = g.input(Shape{2, 3, 8, 8}, "x");
  const Value w = g.parameter(Shape{4, 2, 3, 3}, "w");
  const Value y = conv2d(g, x, w, Value{});
  EXPECT_FALSE(y.valid());
  expect_error(g, {"conv2d", "[2,3,8,8]", "[4,2,3,3]", "input channels"});
}

TEST(GraphErrors, FirstErrorWinsAndPoisonsDownstream) {
  Graph g;
  const Value a = g.input(Shape{2, 3}, "a"), b = g.input(Shape{4, 5}, "b");
  const Value bad = add(g, a, b);
  const Value after = relu(g, matmul(g, bad, a));
  EXPECT_FALSE(after.valid());
  expect_error(g, {"add", "[2,3]", "[4,5]", "broadcast"});
  auto p = compile(g, {});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.message().find("add"), std::string::npos);
}

TEST(GraphErrors, AttributeErrors) {
  {
    Graph g;
    ConvOptions o;
    o.stride[0] = 2;
    o.output_padding[0] = 2;  // must be < max(stride, dilation)
    conv_transpose2d(g, g.input(Shape{1, 2, 4, 4}, "x"), g.parameter(Shape{2, 2, 3, 3}, "w"), Value{}, o);
    expect_error(g, {"conv_transpose2d", "output_padding"});
  }
  {
    Graph g;
    conv2d(g, g.input(Shape{1, 2, 2, 2}, "x"), g.parameter(Shape{1, 2, 5, 5}, "w"), Value{});
    expect_error(g, {"conv2d", "empty"});
  }
  {
    Graph g;
    slice(g, g.input(Shape{2, 3}, "x"), 1, 2, 5);
    expect_error(g, {"slice", "outside axis 1"});
  }
  {
    Graph g;
    reshape(g, g.input(Shape{2, 3}, "x"), Shape{4, 2});
    expect_error(g, {"reshape", "6 elements"});
  }
  {
    Graph g;
    const Value x = g.input(Shape{2, 3, 4, 4}, "x");
    batch_norm(g, x, g.parameter(Shape{4}, "gamma"), Value{}, g.state(Shape{3}, "rm"), g.state(Shape{3}, "rv"), true);
    expect_error(g, {"batch_norm", "[4]", "3 channels"});
  }
  {
    Graph g;
    adam(g, g.input(Shape{3}, "p"), g.input(Shape{3}, "g"), g.state(Shape{3}, "m"), g.state(Shape{3}, "v"), {});
    expect_error(g, {"adam", "parameter or state"});
  }
  {
    Graph g;
    g.parameter(Shape{3, 0}, "w");
    expect_error(g, {"'w'", "[3,0]"});
  }
}

TEST(GraphErrors, GradOfNonScalarAndThroughNonDifferentiableOp) {
  {
    Graph g;
    const Value x = g.input(Shape{3}, "x");
    grad(g, square(g, x), {x});
    expect_error(g, {"grad", "one element", "[3]"});
  }
  {
    Graph g;
    const Value l = g.input(Shape{3}, "labels");
    grad(g, reduce_sum(g, one_hot(g, l, 4), axes({0, 1})), {l});
    expect_error(g, {"one_hot", "not differentiable"});
  }
}

TEST(GraphErrors, UnavailableBackendListsTheAvailableOnes) {
  Graph g;
  const Value y = square(g, g.input(Shape{2}, "x"));
  CompileOptions o;
  o.backend = BackendKind::cuda;
  o.outputs = {y};
  auto built = compile(g, o);
  if (built.ok()) GTEST_SKIP() << "this build has a CUDA backend";
  EXPECT_NE(built.message().find("cuda"), std::string::npos) << built.message();
  EXPECT_NE(built.message().find("available: cpu"), std::string::npos) << built.message();
  EXPECT_FALSE(parse_backend("metal").ok());
}

}  // namespace

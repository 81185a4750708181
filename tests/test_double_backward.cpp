// The WGAN-GP penalty through double backward: for a small critic
//   D = conv2d → leaky_relu → instance_norm → conv2d → linear
// P(w) = mean_b (‖∇_x D(x)_b‖₂ − 1)², and ∇_w P (grad of a grad) must match
// central finite differences of P in every parameter.
#include <gtest/gtest.h>

#include "engine/autodiff.h"
#include "engine/ops.h"
#include "tests/gradcheck.h"

using namespace gantry;
using namespace gantry::testing;

namespace {

Value critic(Graph& g, Value x, const std::vector<Value>& w) {
  ConvOptions s2;
  s2.stride[0] = s2.stride[1] = 2;
  s2.padding[0] = s2.padding[1] = 1;
  Value h = conv2d(g, x, w[0], w[1], s2);  // [B, 3, 3, 3]
  h = leaky_relu(g, h, 0.2f);
  h = instance_norm(g, h, w[2], w[3]);
  h = conv2d(g, h, w[4], w[5], s2);             // [B, 4, 2, 2]
  h = reshape(g, h, Shape{g.shape(h)[0], -1});  // [B, 16]
  return linear(g, h, w[6], w[7]);              // [B, 1]
}

TEST(DoubleBackward, GradientPenaltyMatchesFiniteDifferences) {
  const int B = 3;
  GradCase c;
  c.name = "WGAN-GP penalty";
  c.inputs = {
      InputSpec{{B, 2, 5, 5}, -1, 1, false, false},  // x̂ (fixed)
      InputSpec{{3, 2, 3, 3}},
      InputSpec{{3}},  // conv1
      InputSpec{{3}, 0.5, 1.5},
      InputSpec{{3}},  // instance norm affine
      InputSpec{{4, 3, 3, 3}},
      InputSpec{{4}},  // conv2
      InputSpec{{1, 16}},
      InputSpec{{1}},  // linear
  };
  c.build = [](Graph& g, const std::vector<Value>& in) {
    const Value x = in[0];
    const std::vector<Value> w(in.begin() + 1, in.end());
    const Value d = critic(g, x, w);
    const Value dx = grad(g, reduce_sum(g, d, axes({0, 1})), {x}, GradOptions{true})[0];            // [B, 2, 5, 5]
    const Value norm = sqrt(g, reduce_sum(g, square(g, reshape(g, dx, Shape{B, -1})), axes({1})));  // [B]
    return mean(g, square(g, scale(g, norm, 1, -1)), axes({0}));                                    // scalar
  };
  check_first_order(c, 7);
}

TEST(DoubleBackward, WithoutCreateGraphBackwardNodesAreConstants) {
  Graph g;
  const Value x = g.input(Shape{3}, "x");
  const Value y = reduce_sum(g, square(g, square(g, x)), axes({0}));  // Σ x⁴
  const Value dx = grad(g, y, {x})[0];                                // 4x³, constant for grad()
  const Value h = reduce_sum(g, dx, axes({0}));
  const Value ddx = grad(g, h, {x})[0];
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g.node(ddx).op, Op::fill) << "a gradient taken without create_graph must not be differentiated again";
}

}  // namespace

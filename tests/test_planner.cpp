// The memory planner: (1) statically, no two tensors whose lifetimes overlap
// share a byte; (2) dynamically, a full training step with every dead tensor
// overwritten by NaN the moment it dies gives bit-identical results; (3) the
// transient region is reused, well below the sum of all transient tensors.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/autodiff.h"
#include "engine/cpu_backend.h"
#include "engine/ops.h"

using namespace gantry;

namespace {

// A small DCGAN-style step: G(z) → D, BCE losses, grads, Adam; BN with running stats.
struct Step {
  Graph g;
  std::vector<Value> params, outputs;
  Value real;
};

Step build_step() {
  Step s;
  Graph& g = s.g;
  const int B = 4;
  ConvOptions up;
  up.stride[0] = up.stride[1] = 2;
  up.padding[0] = up.padding[1] = 1;
  const Value w1 = g.parameter(Shape{8, 6, 4, 4}, "g.w1"), w2 = g.parameter(Shape{6, 1, 4, 4}, "g.w2");
  const Value gam = g.parameter(Shape{6}, "g.bn.weight"), bet = g.parameter(Shape{6}, "g.bn.bias");
  const Value rm = g.state(Shape{6}, "g.bn.running_mean"), rv = g.state(Shape{6}, "g.bn.running_var");
  const Value d1 = g.parameter(Shape{4, 1, 4, 4}, "d.w1"), d2 = g.parameter(Shape{1, 4, 8, 8}, "d.w2");
  s.params = {w1, w2, gam, bet, d1, d2};
  s.real = g.input(Shape{B, 1, 16, 16}, "real");

  const Value z = normal(g, Shape{B, 8, 1, 1}, 0);
  Value h = conv_transpose2d(g, z, w1, Value{}, ConvOptions{});  // [B, 6, 4, 4]
  h = relu(g, batch_norm(g, h, gam, bet, rm, rv, true));
  h = conv_transpose2d(g, h, w2, Value{}, ConvOptions{});  // [B, 1, 7, 7]
  const Value fake =
      tanh(g, conv_transpose2d(g, h, g.parameter(Shape{1, 1, 4, 4}, "g.w3"), Value{}, up));  // [B,1,14,14]
  const Value fake16 = concat(g, {fake, fill(g, Shape{B, 1, 2, 14}, 0)}, 2);                 // [B, 1, 16, 14]
  const Value fake_img = concat(g, {fake16, fill(g, Shape{B, 1, 16, 2}, 0)}, 3);

  auto D = [&](Value x) {
    Value y = leaky_relu(g, conv2d(g, x, d1, Value{}, up), 0.2f);  // [B, 4, 8, 8]
    return reshape(g, conv2d(g, y, d2, Value{}, ConvOptions{}), Shape{B, 1});
  };
  const Value ones = fill(g, Shape{B, 1}, 1), zeros = fill(g, Shape{B, 1}, 0);
  const Value loss_d = add(g, mean(g, bce_with_logits(g, D(s.real), ones), axes({0, 1})),
                           mean(g, bce_with_logits(g, D(fake_img), zeros), axes({0, 1})));
  const auto gd = grad(g, loss_d, {d1, d2});
  const Value loss_g = mean(g, bce_with_logits(g, D(fake_img), ones), axes({0, 1}));
  const auto gg = grad(g, loss_g, {w1, w2, gam, bet});
  AdamOptions o;
  o.lr = 1e-2f;
  const std::vector<Value> dparams{d1, d2}, gparams{w1, w2, gam, bet};
  for (size_t i = 0; i < dparams.size(); ++i) {
    const Shape sh = g.shape(dparams[i]);
    adam(g, dparams[i], gd[i], g.state(sh, "m"), g.state(sh, "v"), o);
  }
  for (size_t i = 0; i < gparams.size(); ++i) {
    const Shape sh = g.shape(gparams[i]);
    adam(g, gparams[i], gg[i], g.state(sh, "m"), g.state(sh, "v"), o);
  }
  s.outputs = {loss_d, loss_g, fake};
  return s;
}

void init(Step& s, Program& p) {
  for (int32_t i = 0; i < s.g.size(); ++i) {
    const Node& n = s.g.node(i);
    if (n.op != Op::leaf) continue;
    std::vector<float> v(size_t(n.shape.numel()));
    for (size_t e = 0; e < v.size(); ++e)
      v[e] = n.role == Role::state ? (n.name.find("running_var") != std::string::npos ? 1.0f : 0.0f)
                                   : 0.1f * float(int((e * 7919 + size_t(i) * 104729) % 21) - 10) / 10.0f;
    ASSERT_TRUE(p.write(Value{i}, v.data(), int64_t(v.size())).ok());
  }
}

TEST(Planner, LiveTensorsNeverShareBytes) {
  Step s = build_step();
  ASSERT_TRUE(s.g.ok()) << s.g.status().message();
  auto plan = plan_arena(s.g, s.outputs, 4, {});
  ASSERT_TRUE(plan.ok()) << plan.message();
  struct Range {
    int64_t lo, hi, first, last;
    int32_t id;
  };
  std::vector<Range> r;
  int64_t sum = 0;
  for (size_t k = 0; k < plan->schedule.size(); ++k) {
    const int32_t id = plan->schedule[k];
    const int64_t bytes = s.g.node(id).shape.numel() * 4;
    if (bytes) r.push_back({plan->offset[id], plan->offset[id] + bytes, int64_t(k), plan->last_use[id], id});
    if (plan->scratch[id] >= 0)
      r.push_back({plan->scratch[id], plan->scratch[id] + plan->scratch_elems[id] * 4, int64_t(k), int64_t(k), -id});
    sum += bytes + plan->scratch_elems[id] * 4;
  }
  const int64_t base = plan->bytes.total() - plan->bytes.transient;
  for (size_t a = 0; a < r.size(); ++a) {
    EXPECT_GE(r[a].lo, base);
    EXPECT_LE(r[a].hi, plan->bytes.total());
    EXPECT_EQ(r[a].lo % kArenaAlign, 0);
    for (size_t b = a + 1; b < r.size(); ++b) {
      const bool alive_together = r[a].first <= r[b].last && r[b].first <= r[a].last;
      const bool overlap = r[a].lo < r[b].hi && r[b].lo < r[a].hi;
      EXPECT_FALSE(alive_together && overlap)
          << "nodes " << r[a].id << " and " << r[b].id << " share bytes while both live";
    }
  }
  // Reuse: the transient region is much smaller than all transient tensors laid end to end.
  EXPECT_LT(plan->bytes.transient, sum / 2) << "transient " << plan->bytes.transient << " of " << sum;
  EXPECT_GT(plan->bytes.params, 0);
  EXPECT_GT(plan->bytes.state, 0);
  EXPECT_GT(plan->bytes.inputs, 0);
}

TEST(Planner, PoisoningDeadTensorsChangesNothing) {
  std::vector<float> results[2];
  for (int poison = 0; poison < 2; ++poison) {
    Step s = build_step();
    auto p = CpuProgram<float>::compile(s.g, s.outputs, CpuOptions{2, poison == 1});
    ASSERT_TRUE(p.ok()) << p.message();
    init(s, **p);
    for (uint64_t step = 0; step < 3; ++step) {
      ASSERT_TRUE((*p)->step(StepUniforms{11, step}).ok());
      for (Value v : s.outputs) {
        std::vector<float> out(size_t(s.g.shape(v).numel()));
        ASSERT_TRUE((*p)->read(v, out.data(), int64_t(out.size())).ok());
        results[poison].insert(results[poison].end(), out.begin(), out.end());
      }
      for (Value v : s.params) {
        std::vector<float> out(size_t(s.g.shape(v).numel()));
        ASSERT_TRUE((*p)->read(v, out.data(), int64_t(out.size())).ok());
        results[poison].insert(results[poison].end(), out.begin(), out.end());
      }
    }
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (float v : results[1]) ASSERT_FALSE(std::isnan(v)) << "a poisoned (dead) range was read";
  EXPECT_EQ(results[0], results[1]);
}

TEST(Planner, ReadingATransientThatIsNotAnOutputIsAnError) {
  Graph g;
  const Value x = g.input(Shape{2}, "x");
  const Value y = square(g, x), z = scale(g, y, 2);
  auto p = CpuProgram<float>::compile(g, {z});
  ASSERT_TRUE(p.ok());
  float buf[2];
  const Status st = (*p)->read(y, buf, 2);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("neither a leaf nor an output"), std::string::npos) << st.message();
  const Status wrong = (*p)->read(z, buf, 1);
  EXPECT_NE(wrong.message().find("[2]"), std::string::npos) << wrong.message();
}

}  // namespace

// Forward semantics that finite differences cannot check: Philox fills equal
// the reference functions, one_hot, gather of a bad index, stable BCE, batch
// norm running statistics (PyTorch's momentum and unbiased variance), and the
// optimizer updates against their formulas (torch.optim.Adam / RMSprop).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/cpu_backend.h"
#include "engine/ops.h"
#include "platform/philox.h"

using namespace gantry;

namespace {

std::unique_ptr<CpuProgram<float>> build(const Graph& g, const std::vector<Value>& outputs) {
  auto p = CpuProgram<float>::compile(g, outputs, CpuOptions{2, false});
  EXPECT_TRUE(p.ok()) << p.message();
  return p.ok() ? std::move(*p) : nullptr;
}
std::vector<float> get(Program& p, const Graph& g, Value v) {
  std::vector<float> out(size_t(g.shape(v).numel()));
  EXPECT_TRUE(p.read(v, out.data(), int64_t(out.size())).ok());
  return out;
}
void set(Program& p, Value v, const std::vector<float>& data) {
  ASSERT_TRUE(p.write(v, data.data(), int64_t(data.size())).ok());
}

TEST(OpsForward, PhiloxFillsMatchReferenceFunctions) {
  Graph g;
  const Value n = normal(g, Shape{3, 5}, 4, 0.5f, 2.0f), u = uniform(g, Shape{7}, 9, -1.0f, 3.0f);
  auto p = build(g, {n, u});
  ASSERT_TRUE(p->step(StepUniforms{77, 12}).ok());
  const auto nv = get(*p, g, n), uv = get(*p, g, u);
  for (uint32_t i = 0; i < nv.size(); ++i) EXPECT_EQ(nv[i], 0.5f + 2.0f * philox_normal(77, 12, 4, i));
  for (uint32_t i = 0; i < uv.size(); ++i) EXPECT_EQ(uv[i], -1.0f + 4.0f * philox_uniform(77, 12, 9, i));
  ASSERT_TRUE(p->step(StepUniforms{77, 13}).ok());
  EXPECT_NE(get(*p, g, n), nv) << "a new step must draw new numbers";
}

TEST(OpsForward, OneHotAndGather) {
  Graph g;
  const Value labels = g.input(Shape{4}, "labels"), data = g.data(Shape{3, 2}, "data");
  const Value oh = one_hot(g, labels, 3), rows = gather(g, data, labels);
  auto p = build(g, {oh, rows});
  set(*p, labels, {2, 0, 1, 5});  // 5 is out of range
  set(*p, data, {10, 11, 20, 21, 30, 31});
  ASSERT_TRUE(p->step({}).ok());
  EXPECT_EQ(get(*p, g, oh), (std::vector<float>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0}));
  const auto r = get(*p, g, rows);
  EXPECT_EQ(std::vector<float>(r.begin(), r.begin() + 6), (std::vector<float>{30, 31, 10, 11, 20, 21}));
  EXPECT_TRUE(std::isnan(r[6]) && std::isnan(r[7])) << "a bad index must poison its row, not read out of bounds";
}

TEST(OpsForward, BceWithLogitsIsStableForLargeLogits) {
  Graph g;
  const Value x = g.input(Shape{4}, "x"), t = g.input(Shape{4}, "t");
  const Value l = bce_with_logits(g, x, t);
  auto p = build(g, {l});
  set(*p, x, {100, -100, 100, 0});
  set(*p, t, {1, 0, 0, 1});
  ASSERT_TRUE(p->step({}).ok());
  const auto v = get(*p, g, l);
  EXPECT_NEAR(v[0], 0, 1e-30);
  EXPECT_NEAR(v[1], 0, 1e-30);
  EXPECT_FLOAT_EQ(v[2], 100);
  EXPECT_FLOAT_EQ(v[3], std::log(2.0f));
}

TEST(OpsForward, BatchNormUpdatesRunningStatistics) {
  Graph g;
  const Value x = g.input(Shape{2, 1, 1, 2}, "x");
  const Value rm = g.state(Shape{1}, "rm"), rv = g.state(Shape{1}, "rv");
  const Value y = batch_norm(g, x, Value{}, Value{}, rm, rv, true, 0.1f, 1e-5f);
  auto p = build(g, {y});
  set(*p, x, {1, 2, 3, 6});  // mean 3, biased var 3.5, unbiased var 14/3
  set(*p, rv, {1});
  ASSERT_TRUE(p->step({}).ok());
  EXPECT_FLOAT_EQ(get(*p, g, rm)[0], 0.1f * 3);
  EXPECT_FLOAT_EQ(get(*p, g, rv)[0], 0.9f + 0.1f * 14.0f / 3.0f);
  EXPECT_FLOAT_EQ(get(*p, g, y)[0], float((1 - 3) / std::sqrt(3.5 + 1e-5)));
}

TEST(OpsForward, AdamFollowsTorchOptimAdam) {
  Graph g;
  const Value w = g.parameter(Shape{2}, "w"), gr = g.input(Shape{2}, "grad");
  const Value m = g.state(Shape{2}, "m"), v = g.state(Shape{2}, "v");
  AdamOptions o;
  o.lr = 0.1f, o.beta1 = 0.5f, o.beta2 = 0.999f, o.eps = 1e-8f;
  adam(g, w, gr, m, v, o);
  auto p = build(g, {});
  set(*p, w, {1, -2});
  double wr[2] = {1, -2}, mr[2] = {0, 0}, vr[2] = {0, 0};
  const float grads[3][2] = {{0.5f, -1}, {0.25f, 2}, {-1, 0.125f}};
  for (uint64_t step = 0; step < 3; ++step) {
    set(*p, gr, {grads[step][0], grads[step][1]});
    ASSERT_TRUE(p->step(StepUniforms{0, step}).ok());
    const double t = double(step + 1);
    for (int i = 0; i < 2; ++i) {
      mr[i] = 0.5 * mr[i] + 0.5 * grads[step][i];
      vr[i] = 0.999 * vr[i] + 0.001 * grads[step][i] * grads[step][i];
      wr[i] -= 0.1 / (1 - std::pow(0.5, t)) * mr[i] / (std::sqrt(vr[i]) / std::sqrt(1 - std::pow(0.999, t)) + 1e-8);
    }
  }
  const auto wv = get(*p, g, w);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(wv[i], wr[i], 1e-6) << "element " << i;
}

TEST(OpsForward, RmspropAndClipping) {
  Graph g;
  const Value w = g.parameter(Shape{3}, "w"), gr = g.input(Shape{3}, "grad"), sq = g.state(Shape{3}, "sq");
  RmspropOptions o;
  o.lr = 0.01f, o.alpha = 0.9f;
  rmsprop(g, w, gr, sq, o);
  assign(g, w, clamp(g, w, -0.01f, 0.01f));  // WGAN weight clipping after the update
  auto p = build(g, {});
  set(*p, w, {0.005f, 0.0f, -0.5f});
  set(*p, gr, {1, -0.001f, 0});
  ASSERT_TRUE(p->step({}).ok());
  const auto wv = get(*p, g, w);
  // w0: 0.005 − 0.01·1/sqrt(0.1) → below −0.01, clipped; w1: 0 + 0.01·0.001/sqrt(1e-7) ≈ 0.0316 → clipped to 0.01.
  EXPECT_FLOAT_EQ(wv[0], -0.01f);
  EXPECT_FLOAT_EQ(wv[1], 0.01f);
  EXPECT_FLOAT_EQ(wv[2], -0.01f);
  EXPECT_FLOAT_EQ(get(*p, g, sq)[0], 0.1f);
}

}  // namespace

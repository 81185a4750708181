// fp16 storage (CompileOptions::precision, engine/backend.h) on the CPU
// reference: every value the host writes and every node's output is a half,
// and the result is exactly what float32 arithmetic on rounded operands gives,
// each node's output rounded before the next node reads it; in a program
// with effects (mixed precision) the float32 masters and what updates them
// stay float32. (The GPU backends' fp16 storage against this reference:
// tests/test_backend_precision.cpp and the fp16 cases of test_backend_parity.) A sampled
// generator drifts from its float32 samples by no more than half-precision
// rounding carried through its layers, and not by nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "engine/autodiff.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "nets/nets.h"
#include "platform/half.h"
#include "tests/synthetic_data.h"
#include "train/generator.h"
#include "train/sampler.h"
#include "train/trainer.h"

using namespace gantry;
using gantry::testing::synthetic_digits;

namespace {

std::vector<float> random_values(size_t n, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

std::vector<float> rounded(std::vector<float> v, Precision p) {
  for (float& e : v) e = p == Precision::bf16 ? round_to_bfloat16(e) : round_to_half(e);
  return v;
}

// Runs y = f(inputs) once on the CPU; the inputs are written as given.
std::vector<float> run(const Graph& g, Value y, const std::vector<std::pair<Value, std::vector<float>>>& inputs,
                       Precision precision) {
  auto p = compile(g, CompileOptions{BackendKind::cpu, {y}, 2, false, precision});
  EXPECT_TRUE(p.ok()) << p.status().message();
  if (!p.ok()) return {};
  for (const auto& [v, data] : inputs) EXPECT_TRUE((*p)->write(v, data.data(), int64_t(data.size())).ok());
  EXPECT_TRUE((*p)->step({}).ok());
  std::vector<float> out(size_t(g.shape(y).numel()));
  EXPECT_TRUE((*p)->read(y, out.data(), int64_t(out.size())).ok());
  return out;
}

class Storage16 : public ::testing::TestWithParam<Precision> {};

TEST_P(Storage16, RoundsWhatTheHostWritesAndEveryNodeOutput) {
  const Precision p = GetParam();
  std::mt19937 rng(3);
  ConvOptions o;
  o.stride[0] = o.stride[1] = 2;
  o.padding[0] = o.padding[1] = 1;
  // Two nodes: the transposed convolution's output is rounded before tanh reads it.
  Graph g;
  const Value x = g.input(Shape{2, 8, 5, 5}, "x"), w = g.input(Shape{8, 4, 4, 4}, "w");
  const Value y = tanh(g, conv_transpose2d(g, x, w, Value{}, o));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const auto xv = random_values(size_t(g.shape(x).numel()), rng, 3),
             wv = random_values(size_t(g.shape(w).numel()), rng, 0.2f);
  const auto half = run(g, y, {{x, xv}, {w, wv}}, p);

  // The same in float32, one node at a time, rounding by hand.
  Graph g1;
  const Value x1 = g1.input(g.shape(x), "x"), w1 = g1.input(g.shape(w), "w");
  const Value c1 = conv_transpose2d(g1, x1, w1, Value{}, o);
  const auto conv = rounded(run(g1, c1, {{x1, rounded(xv, p)}, {w1, rounded(wv, p)}}, Precision::fp32), p);
  Graph g2;
  const Value c2 = g2.input(g1.shape(c1), "c");
  const auto expect = rounded(run(g2, tanh(g2, c2), {{c2, conv}}, Precision::fp32), p);
  ASSERT_EQ(half.size(), expect.size());
  EXPECT_EQ(half, expect);

  const auto single = run(g, y, {{x, xv}, {w, wv}}, Precision::fp32);
  EXPECT_NE(half, single) << precision_name(p) << " storage changed nothing";
  // Each format rounds its own way: fp16 keeps 3 more fraction bits than bf16.
  const auto other = run(g, y, {{x, xv}, {w, wv}}, p == Precision::fp16 ? Precision::bf16 : Precision::fp16);
  EXPECT_NE(half, other);
}

// bf16 has no Vulkan build (core Vulkan has no bfloat16 buffers): refused by
// name before any device is looked for.
TEST(Precision, Bf16IsRefusedOnVulkan) {
  Graph g;
  const Value y = scale(g, g.parameter(Shape{4}, "w"), 2.0f);
  auto p = compile(g, CompileOptions{BackendKind::vulkan, {y}, 1, false, Precision::bf16});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("backend vulkan: bf16 storage is not built for it"), std::string::npos)
      << p.status().message();
  EXPECT_TRUE(parse_precision("bf16").ok());
  EXPECT_FALSE(parse_precision("BF16").ok());
}

// Mixed precision (a program with effects): leaves, what effects read and
// elementwise arithmetic on float32 values stay float32; the rest is binary16.
TEST(Precision, TrainingKeepsMastersAndWhatUpdatesThemInFloat32) {
  Graph g;
  const Value x = g.input(Shape{3, 5}, "x"), w = g.parameter(Shape{5, 4}, "w");
  const Value m = g.state(Shape{5, 4}, "m"), v = g.state(Shape{5, 4}, "v");
  const Value h = matmul(g, x, w), y = tanh(g, h);
  const Value loss = reduce_sum(g, y, all_axes(g.shape(y)));
  const Value dw = grad(g, loss, {w})[0];
  const Value unscaled = scale(g, dw, 0.5f);  // read by adam
  adam(g, w, unscaled, m, v, AdamOptions{});
  const Value decayed = scale(g, w, 0.9f), clipped = clamp(g, add(g, decayed, dw), -1, 1);
  assign(g, w, clamp(g, w, -0.5f, 0.5f));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const std::vector<char> half = half_storage(g);
  for (Value leaf : {x, w, m, v}) EXPECT_FALSE(half[size_t(leaf.id)]) << g.node(leaf).name;
  for (Value act : {h, y, loss, dw, clipped}) EXPECT_TRUE(half[size_t(act.id)]) << op_name(g.node(act).op);
  EXPECT_FALSE(half[size_t(unscaled.id)]) << "an optimizer's gradient";
  EXPECT_FALSE(half[size_t(decayed.id)]) << "arithmetic on a float32 leaf";

  // Without effects (a sampler) every value is binary16, leaves too.
  Graph s;
  const Value sx = s.input(Shape{2}, "x"), sy = scale(s, s.parameter(Shape{2}, "w"), 2.0f);
  for (char h16 : half_storage(s)) EXPECT_TRUE(h16);
  (void)sx;
  (void)sy;

  // The CPU emulation: the update lands on float32 weights (not rounded to half).
  auto p = compile(g, CompileOptions{BackendKind::cpu, {loss}, 1, false, Precision::fp16});
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::mt19937 rng(5);
  const auto xv = random_values(15, rng, 1), wv = random_values(20, rng, 0.4f);
  ASSERT_TRUE((*p)->write(x, xv.data(), 15).ok());
  ASSERT_TRUE((*p)->write(w, wv.data(), 20).ok());
  std::vector<float> w0(20), w1(20);
  ASSERT_TRUE((*p)->read(w, w0.data(), 20).ok());
  EXPECT_EQ(w0, wv) << "a float32 leaf is written as given";
  ASSERT_TRUE((*p)->step({}).ok());
  ASSERT_TRUE((*p)->read(w, w1.data(), 20).ok());
  int unrounded = 0;
  for (float e : w1) unrounded += round_to_half(e) != e;
  EXPECT_GT(unrounded, 10) << "weights after an update are float32";
}

// 16-bit storage moves each pixel (tanh, in [−1, 1]) by the roundings on its
// way — about one per op, u relative each (2⁻¹¹ fp16, 2⁻⁸ bf16) — times
// whatever the layers after amplify them by (batch norm divides by running
// standard deviations). The bound: 32 units of u — for fp16 two of a PNG's
// 255 grey levels (2·2/255), for bf16 sixteen. Measured (fp16): dcgan28 from
// its initial weights 0.1 units (16 samples), the imported PyTorch fixture
// 2.9 (5 samples), dcgan28 after 800 training steps 13.6 (2,000 samples;
// README "Half precision"); bf16 in the README beside them.
double drift_bound(Precision p) { return 32 * storage_unit_roundoff(p); }

TEST_P(Storage16, SamplesDriftByRoundingOnly) {
  const nets::Widths widths{100, 64, 64, 1};
  std::vector<std::vector<float>> out;
  for (Precision p : {Precision::fp32, GetParam()}) {
    auto s = Sampler::create(nets::generator_builder("dcgan28", widths), 100, 16, BackendKind::cpu, 2, p);
    ASSERT_TRUE(s.ok()) << s.status().message();
    ASSERT_TRUE((*s)->init_weights(7).ok());
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::vector<float> z(16 * 100);
    for (float& e : z) e = normal(rng);
    out.emplace_back(size_t(16 * (*s)->image().numel()));
    ASSERT_TRUE((*s)->run(z.data(), nullptr, 16, out.back().data()).ok());
  }
  double worst = 0;
  for (size_t i = 0; i < out[0].size(); ++i) worst = std::max(worst, double(std::abs(out[0][i] - out[1][i])));
  const char* name = precision_name(GetParam());
  EXPECT_GT(worst, 0.0);
  EXPECT_LE(worst, drift_bound(GetParam())) << "largest pixel difference " << name << " − fp32";
  std::printf("dcgan28, initial weights, 16 samples: largest |%s − fp32| %.3g = %.1f units of u\n", name, worst,
              worst / storage_unit_roundoff(GetParam()));
}

TEST_P(Storage16, ImportedGeneratorDriftsByRoundingOnly) {
  const std::string dir = std::string(GANTRY_SOURCE_DIR) + "/tests/fixtures/pytorch_dcgan/";
  auto gen = load_generator(dir + "G.safetensors");
  ASSERT_TRUE(gen.ok()) << gen.status().message();
  auto z = read_npy(dir + "z.npy");
  ASSERT_TRUE(z.ok()) << z.status().message();
  auto single = generate(*gen, z->data, {}, BackendKind::cpu, 1, Precision::fp32);
  auto half = generate(*gen, z->data, {}, BackendKind::cpu, 1, GetParam());
  ASSERT_TRUE(single.ok() && half.ok());
  double worst = 0;
  for (size_t i = 0; i < single->size(); ++i) worst = std::max(worst, double(std::abs((*single)[i] - (*half)[i])));
  EXPECT_GT(worst, 0.0);
  EXPECT_LE(worst, drift_bound(GetParam()));
  std::printf("imported fixture, 5 samples: largest |%s − fp32| %.3g = %.1f units of u\n", precision_name(GetParam()),
              worst, worst / storage_unit_roundoff(GetParam()));
}

// Mixed precision's skipped updates: an element whose gradient is Inf or NaN
// keeps its weight and optimizer state; the others update as without the flag.
TEST(Precision, OptimizersSkipNonFiniteGradientsWhenAsked) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> grads{0.5f, nan, inf, -0.25f}, start{1, 2, 3, 4}, moments{0.1f, 0.2f, 0.3f, 0.4f};
  for (bool skip : {false, true}) {
    Graph g;
    const Value p = g.parameter(Shape{4}, "p"), m = g.state(Shape{4}, "m"), v = g.state(Shape{4}, "v");
    const Value q = g.parameter(Shape{4}, "q"), sq = g.state(Shape{4}, "sq");
    const Value gr = g.input(Shape{4}, "grad");
    AdamOptions ao;
    ao.skip_nonfinite = skip;
    adam(g, p, gr, m, v, ao);
    RmspropOptions ro;
    ro.skip_nonfinite = skip;
    rmsprop(g, q, gr, sq, ro);
    auto prog = compile(g, CompileOptions{BackendKind::cpu, {}, 1});
    ASSERT_TRUE(prog.ok()) << prog.status().message();
    for (Value x : {p, q}) ASSERT_TRUE((*prog)->write(x, start.data(), 4).ok());
    for (Value x : {m, v, sq}) ASSERT_TRUE((*prog)->write(x, moments.data(), 4).ok());
    ASSERT_TRUE((*prog)->write(gr, grads.data(), 4).ok());
    ASSERT_TRUE((*prog)->step({}).ok());
    for (Value x : {p, m, v, q, sq}) {
      std::vector<float> out(4);
      ASSERT_TRUE((*prog)->read(x, out.data(), 4).ok());
      const std::vector<float>& before = (x.id == p.id || x.id == q.id) ? start : moments;
      for (size_t i : {size_t(0), size_t(3)}) EXPECT_NE(out[i], before[i]) << g.node(x).name << "[" << i << "]";
      for (size_t i : {size_t(1), size_t(2)}) {
        if (skip)
          EXPECT_EQ(out[i], before[i]) << g.node(x).name << "[" << i << "] with skip_nonfinite";
        else
          EXPECT_FALSE(std::isfinite(out[i])) << g.node(x).name << "[" << i << "] without skip_nonfinite";
      }
    }
  }
}

TrainConfig small_config(const std::string& model, Precision precision) {
  TrainConfig c;
  c.model = model;
  c.batch = 16;
  c.seed = 3;
  c.threads = 2;
  c.n_critic = 2;
  c.widths = nets::Widths{16, 16, 16, 1};
  c.precision = precision;
  return c;
}

// After one step every optimizer moment (exp_avg, exp_avg_sq, square_avg:
// functions of the unscaled gradients) agrees with float32's norm-wise within
// `bound` (fp16: 20 %) — binary16 rounding of activations and gradients
// (2^-11 each), amplified by batch norm's backward cancelling dy against its
// mean; measured 4.4 % (dcgan28), 3.7 % (wgangp28), 9.8 % (cgan32: batch norm
// in G and D); bf16 10.5 / 9.1 / 15.4 % (bound 40 %). Moments of a gradient that is zero in
// exact arithmetic (a bias in front of batch norm: float32 leaves it at
// rounding noise, 1e-4 of the largest moment or less) are left out. Gradients
// left multiplied by the loss scale S (1024) fail by a factor of 1000.
void expect_same_moments(const Trainer& single, const Trainer& mixed, const std::string& model, double bound) {
  SafeTensorsFile f[2];
  for (int i = 0; i < 2; ++i) {
    const std::string path = ::testing::TempDir() + "/moments_" + std::to_string(i) + ".safetensors";
    ASSERT_TRUE((i ? mixed : single).save(path).ok());
    auto read = read_safetensors(path);
    std::remove(path.c_str());
    ASSERT_TRUE(read.ok()) << read.message();
    f[i] = std::move(*read);
  }
  auto norm = [](const std::vector<float>& a, const std::vector<float>* b = nullptr) {
    double s = 0;
    for (size_t k = 0; k < a.size(); ++k) {
      const double d = b ? double(a[k]) - (*b)[k] : a[k];
      s += d * d;
    }
    return std::sqrt(s);
  };
  double largest = 0;
  for (const SafeTensor& ref : f[0].tensors)
    if (ref.name.find("_avg") != std::string::npos) largest = std::max(largest, norm(ref.data));
  int checked = 0;
  double worst = 0;
  for (const SafeTensor& ref : f[0].tensors) {
    if (ref.name.find("_avg") == std::string::npos || norm(ref.data) <= 1e-4 * largest) continue;
    const SafeTensor* got = f[1].find(ref.name);
    ASSERT_NE(got, nullptr) << ref.name;
    const double rel = norm(got->data, &ref.data) / norm(ref.data);
    ++checked;
    worst = std::max(worst, rel);
    EXPECT_LE(rel, bound) << model << " " << ref.name << " after one step: ‖16-bit − fp32‖ / ‖fp32‖";
  }
  EXPECT_GT(checked, 8) << model;
  std::printf("%s: %d optimizer moments after one step, largest ‖16-bit − fp32‖ / ‖fp32‖ %.4f\n", model.c_str(),
              checked, worst);
}

// Mixed precision tracks float32 step by step: same weights, minibatches and
// noise, the losses differing by 16-bit rounding carried through training.
// Stated bound: every metric within 2 % (+0.02 absolute) of float32's over
// 20 steps of dcgan28 and 6 of wgangp28 (the penalty's double backward) and
// cgan32 — measured at most 0.5 % (wgangp28; dcgan28 0.1 %); no step skipped
// at the initial loss scale. bf16 (8 times coarser): metrics within 5 %,
// measured 1.1 % (wgangp28), moments within 40 %, measured 15 % (cgan32).
TEST_P(Storage16, MixedPrecisionTrainingTracksFloat32) {
  const Precision p = GetParam();
  const double metric_bound = p == Precision::fp16 ? 0.02 : 0.05, moment_bound = p == Precision::fp16 ? 0.2 : 0.4;
  for (const auto& [model, steps] : {std::pair<std::string, int>{"dcgan28", 20}, {"wgangp28", 6}, {"cgan32", 6}}) {
    const Dataset data = synthetic_digits((*nets::model_spec(model))->image_size, 64);
    std::unique_ptr<Trainer> t[2];
    for (int i = 0; i < 2; ++i) {
      auto made = Trainer::create(small_config(model, i ? p : Precision::fp32), data);
      ASSERT_TRUE(made.ok()) << model << ": " << made.message();
      t[i] = std::move(*made);
      ASSERT_TRUE(t[i]->init_weights().ok());
    }
    double worst = 0;
    for (int s = 0; s < steps; ++s) {
      for (auto& tr : t) ASSERT_TRUE(tr->step().ok()) << model << " step " << s;
      if (s == 0) expect_same_moments(*t[0], *t[1], model, moment_bound);
      for (size_t m = 0; m < t[0]->metrics().size(); ++m) {
        const double ref = t[0]->metrics()[m].value, got = t[1]->metrics()[m].value;
        const double tol = metric_bound * (1 + std::abs(ref));
        worst = std::max(worst, std::abs(got - ref) / (1 + std::abs(ref)));
        EXPECT_NEAR(got, ref, tol) << model << " step " << s << " " << t[0]->metrics()[m].name;
      }
    }
    EXPECT_EQ(t[1]->skipped_steps(), 0) << model;
    EXPECT_EQ(t[1]->loss_scale(), Trainer::kInitialLossScale) << model;
    std::printf("%s %s, %d steps: largest |16-bit − fp32| / (1 + |fp32|) over the metrics %.4f\n", model.c_str(),
                precision_name(p), steps, worst);
  }
}

// A loss scale that overflows binary16 (S = 2^24 is itself past 65504): the
// step's updates are skipped — every weight and optimizer moment as it was —
// the scale halves and the step counts as skipped; later steps go on.
TEST(Precision, LossScaleOverflowSkipsTheUpdateAndHalves) {
  auto made = Trainer::create(small_config("dcgan28", Precision::fp16), synthetic_digits(28, 64));
  ASSERT_TRUE(made.ok()) << made.message();
  Trainer& t = **made;
  ASSERT_TRUE(t.init_weights().ok());
  ASSERT_TRUE(t.step().ok());
  auto weights = [&] {
    std::vector<float> all;
    for (const std::string name :
         {"G.main.0.weight", "D.main.0.weight", "G.main.0.weight.exp_avg", "D.main.0.weight.exp_avg_sq"}) {
      const std::string path = ::testing::TempDir() + "/overflow.safetensors";
      EXPECT_TRUE(t.save(path).ok());
      auto f = read_safetensors(path);
      EXPECT_TRUE(f.ok());
      const SafeTensor* st = f.ok() ? f->find(name) : nullptr;
      EXPECT_NE(st, nullptr) << name;
      if (st) all.insert(all.end(), st->data.begin(), st->data.end());
    }
    return all;
  };
  const std::vector<float> before = weights();
  t.set_loss_scale(16777216.0f);
  ASSERT_TRUE(t.step().ok());
  EXPECT_EQ(t.skipped_steps(), 1);
  EXPECT_EQ(t.loss_scale(), 8388608.0f);
  EXPECT_EQ(weights(), before) << "a skipped step changed weights or optimizer state";
  // Down to a scale binary16 holds (2^15 after 9 halvings), then updates again.
  for (int s = 0; s < 12; ++s) ASSERT_TRUE(t.step().ok());
  EXPECT_GE(t.skipped_steps(), 9);
  EXPECT_LE(t.loss_scale(), Trainer::kMaxLossScale);
  EXPECT_NE(weights(), before);
}

INSTANTIATE_TEST_SUITE_P(Precisions, Storage16, ::testing::Values(Precision::fp16, Precision::bf16),
                         [](const auto& info) { return std::string(precision_name(info.param)); });

}  // namespace

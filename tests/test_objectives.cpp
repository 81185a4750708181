// The training objectives against an independent float64 PyTorch reference
// (tests/fixtures/objectives/make_fixture.py, written from the papers): for
// dcgan28 (non-saturating GAN, Adam), cgan32 (conditional GAN), wgangp28
// (WGAN-GP, Adam) and wgan-clip28 (RMSProp, weight clipping), from the same
// initial weights, minibatches, z and ε, every logged metric of three
// generator iterations and every parameter and running statistic after them
// must match. Also identities between the trainer's own metrics (the critic
// loss is −W + λ·GP; Jensen bounds) and the clipping invariant.
//
// The kernel tests cannot see a wrong objective (a halved λ, ‖g‖² for
// (‖g‖ − 1)², a saturating generator loss, ...): the graph is still
// differentiated correctly, just of the wrong function. These tests can.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "io/safetensors.h"
#include "tests/synthetic_data.h"
#include "train/trainer.h"

using namespace gantry;

namespace {

const std::string kFixtures = std::string(GANTRY_SOURCE_DIR) + "/tests/fixtures/objectives/";

bool is_optimizer_state(const std::string& name) {
  for (const char* suffix : {".exp_avg", ".exp_avg_sq", ".square_avg"})
    if (name.size() > std::string(suffix).size() && name.ends_with(suffix)) return true;
  return false;
}

struct Reference {
  SafeTensorsFile file;
  TrainConfig config;
  int64_t rows = 0, steps = 0;

  std::string meta(const char* key) const {
    const std::string* v = file.meta(key);
    return v ? *v : std::string();
  }
};

// The fixture's metadata is the configuration the reference trained with.
// The optimizer settings are the objectives' documented defaults (README), so
// they are left to the trainer and compared after Trainer::create; n_critic is
// 2 rather than 5 to keep the fixtures small.
Reference read_reference(const std::string& model) {
  Reference r;
  auto f = read_safetensors(kFixtures + model + ".safetensors");
  EXPECT_TRUE(f.ok()) << f.message() << " (regenerate with tests/fixtures/objectives/make_fixture.py)";
  if (!f.ok()) return r;
  r.file = std::move(*f);
  TrainConfig& c = r.config;
  c.model = r.meta("model");
  c.batch = std::stoll(r.meta("batch"));
  c.seed = std::stoull(r.meta("seed"));
  c.threads = 2;
  c.widths = nets::Widths{std::stoi(r.meta("nz")), std::stoi(r.meta("ngf")), std::stoi(r.meta("ndf")), 1};
  c.n_critic = std::stoi(r.meta("n_critic"));
  c.lambda = std::stof(r.meta("lambda"));
  c.clip = std::stof(r.meta("clip"));
  r.rows = std::stoll(r.meta("rows"));
  r.steps = std::stoll(r.meta("steps"));
  EXPECT_EQ(c.model, model);
  return r;
}

// Every checkpointed tensor by name, read back through Trainer::save.
std::map<std::string, SafeTensor> checkpoint_of(const Trainer& t, const std::string& path) {
  std::map<std::string, SafeTensor> out;
  const Status s = t.save(path);
  EXPECT_TRUE(s.ok()) << s.message();
  auto f = read_safetensors(path);
  EXPECT_TRUE(f.ok()) << f.message();
  if (f.ok())
    for (SafeTensor& x : f->tensors) out[x.name] = std::move(x);
  return out;
}

// Starts the trainer from the reference's initial weights: a checkpoint as
// Trainer::save writes it (optimizer moments zero from init_weights), with
// every parameter and running statistic replaced by the fixture's "init." one.
void load_initial(Trainer& t, const Reference& r, const std::string& path) {
  ASSERT_TRUE(t.init_weights().ok());
  ASSERT_TRUE(t.save(path).ok());
  auto f = read_safetensors(path);
  ASSERT_TRUE(f.ok()) << f.message();
  for (SafeTensor& x : f->tensors) {
    if (is_optimizer_state(x.name)) continue;
    const SafeTensor* init = r.file.find("init." + x.name);
    ASSERT_TRUE(init) << "the fixture has no initial value for " << x.name;
    ASSERT_EQ(init->shape, x.shape) << x.name;
    x.data = init->data;
  }
  ASSERT_TRUE(write_safetensors(path, *f).ok());
  const Status loaded = t.load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.message();
  ASSERT_EQ(t.steps_done(), 0);
}

float metric(const Trainer& t, const std::string& name) {
  for (const Metric& m : t.metrics())
    if (m.name == name) return m.value;
  ADD_FAILURE() << "the trainer logs no metric " << name;
  return NAN;
}

// Tolerances. The engine runs in float32; the reference in float64 on the
// same float32 inputs, so what differs is float32 rounding, amplified by a few
// layers and three iterations. Each test prints its worst errors.
//   Metrics: losses, D outputs, W, the penalty and ‖∇‖ are O(1) sums in
//   float32 → 2e-5 relative to max(1, |value|) (measured ≲ 1e-7). The clipped
//   critic's outputs are ~1e-2 and its W a ~1e-6 difference of two of them, so
//   there the bound is absolute: 3e-8, about 30 float32 ulps of 0.01
//   (measured ≲ 1e-9).
//   Weights: an optimizer step is lr·m̂/(√v̂ + ε) for Adam — about ±lr·sign(g)
//   at first, whatever |g| — and lr·g/(√s + ε) for RMSProp, whose first step
//   (s = 0.01·g², no bias correction) is ±10·lr. So an element's error is
//   measured in optimizer steps, not relative to the weight: 2% of one step per
//   update the parameter received (measured ≲ 0.2%).
//   A conv bias feeding a batch/instance norm has a gradient that is zero in
//   exact arithmetic (the norm subtracts the channel mean); in float32 it is
//   rounding noise, which the optimizer's normalization turns into a full step
//   of random sign (measured: up to 0.96 of a step per update). For those, and
//   the running mean of the norm they feed (it carries the bias), only a bound
//   of 1.5 steps per update is possible (Adam's normalized step can exceed 1 a
//   little when the gradient's sign changes); nothing downstream of them
//   depends on them, and all of that is checked tightly.
//   Running statistics otherwise: momentum averages of batch moments, 1e-5
//   relative.
constexpr double kMetricRel = 2e-5, kClipMetricAbs = 3e-8, kStepFraction = 0.02, kNoiseSteps = 1.5, kStatRel = 1e-5;

// {conv bias, the norm module it feeds} where the bias's gradient is analytically zero.
const std::vector<std::pair<std::string, std::string>>& biases_before_norms(const std::string& model) {
  static const std::map<std::string, std::vector<std::pair<std::string, std::string>>> kByModel = {
      {"dcgan28", {{"G.main.0.bias", "G.main.1"}, {"G.main.3.bias", "G.main.4"}, {"D.main.2.bias", "D.main.3"}}},
      {"wgangp28", {{"G.main.0.bias", "G.main.1"}, {"G.main.3.bias", "G.main.4"}, {"D.main.2.bias", "D.main.3"}}},
      {"wgan-clip28", {{"G.main.0.bias", "G.main.1"}, {"G.main.3.bias", "G.main.4"}, {"D.main.2.bias", "D.main.3"}}},
      {"cgan32",
       {{"G.deconv1_1.bias", "G.deconv1_1_bn"},
        {"G.deconv1_2.bias", "G.deconv1_2_bn"},
        {"G.deconv2.bias", "G.deconv2_bn"},
        {"G.deconv3.bias", "G.deconv3_bn"},
        {"D.conv2.bias", "D.conv2_bn"},
        {"D.conv3.bias", "D.conv3_bn"}}},
  };
  return kByModel.at(model);
}

bool carries_zero_gradient_bias(const std::string& model, const std::string& name) {
  for (const auto& [bias, norm] : biases_before_norms(model))
    if (name == bias || name == norm + ".running_mean") return true;
  return false;
}

class Objectives : public ::testing::TestWithParam<std::string> {};

TEST_P(Objectives, MatchFloat64Reference) {
  const std::string model = GetParam();
  const Reference r = read_reference(model);
  ASSERT_FALSE(r.file.tensors.empty());
  const TrainConfig& c = r.config;  // lr, β₁, β₂ unset: the trainer's defaults
  auto created = Trainer::create(c, gantry::testing::synthetic_digits((*nets::model_spec(model))->image_size, r.rows));
  ASSERT_TRUE(created.ok()) << created.message();
  Trainer& t = **created;
  EXPECT_FLOAT_EQ(t.config().lr, std::stof(r.meta("lr"))) << "the default learning rate of " << model;
  EXPECT_FLOAT_EQ(t.config().beta1, std::stof(r.meta("beta1"))) << "the default β₁ of " << model;
  EXPECT_FLOAT_EQ(t.config().beta2, std::stof(r.meta("beta2"))) << "the default β₂ of " << model;
  EXPECT_FLOAT_EQ(TrainConfig{}.lambda, c.lambda) << "the default λ";
  EXPECT_FLOAT_EQ(TrainConfig{}.clip, c.clip) << "the default c";
  const std::string path = ::testing::TempDir() + "/objectives_" + model + ".safetensors";
  load_initial(t, r, path);
  if (::testing::Test::HasFatalFailure()) return;

  const bool clip = model.starts_with("wgan-clip"), gp = model.starts_with("wgangp");
  const double metric_abs = clip ? kClipMetricAbs : 0, metric_rel = clip ? 0 : kMetricRel;
  double worst_metric = 0;  // error / tolerance, for the report below
  for (int64_t step = 0; step < r.steps; ++step) {
    const Status s = t.step();
    ASSERT_TRUE(s.ok()) << s.message();
    for (const Metric& m : t.metrics()) {
      const SafeTensor* want = r.file.find("metric." + m.name);
      ASSERT_TRUE(want) << "the reference has no " << m.name;
      ASSERT_EQ(want->data.size(), size_t(r.steps));
      const double ref = want->data[size_t(step)];
      const double bound = metric_abs + metric_rel * std::max(1.0, std::abs(ref));
      worst_metric = std::max(worst_metric, std::abs(m.value - ref) / bound);
      EXPECT_NEAR(m.value, ref, bound) << model << " iteration " << step + 1 << ": " << m.name;
    }

    // Identities of the trainer's own metrics, which hold whatever the weights.
    if (gp) {
      // Gulrajani et al. Alg. 1: L = −(E f(x) − E f(x̃)) + λ·E(‖∇x̂ f‖ − 1)², the last critic step's terms.
      const float w = metric(t, "wasserstein"), pen = metric(t, "grad_penalty"), norm = metric(t, "grad_norm");
      const double sum = -double(w) + double(c.lambda) * pen;
      EXPECT_NEAR(metric(t, "loss_D"), sum, 1e-6 * (std::abs(w) + c.lambda * pen + 1))
          << "iteration " << step + 1 << ": loss_D ≠ −wasserstein + λ·grad_penalty";
      // Jensen: the mean of (‖∇‖ − 1)² is at least the square of (mean ‖∇‖ − 1).
      EXPECT_GE(pen * (1 + 1e-5f) + 1e-7f, (norm - 1) * (norm - 1)) << "iteration " << step + 1;
      EXPECT_GT(norm, 0);
    } else if (clip) {
      EXPECT_NEAR(metric(t, "loss_D"), -metric(t, "wasserstein"), 1e-12) << "iteration " << step + 1;
      // Every critic parameter was clipped after its last update.
      for (const auto& [name, x] : checkpoint_of(t, path)) {
        if (!name.starts_with("D.") || is_optimizer_state(name)) continue;
        for (size_t i = 0; i < x.data.size(); ++i)
          ASSERT_LE(std::abs(x.data[i]), c.clip) << name << "[" << i << "] after iteration " << step + 1;
      }
    } else {
      // Jensen on −log p (convex): loss_D = E −log D(x) + E −log(1 − D(G(z))) ≥ −log D_x − log(1 − D_G_z).
      const double dx = metric(t, "D_x"), dgz = metric(t, "D_G_z");
      EXPECT_GT(dx, 0);
      EXPECT_LT(dx, 1);
      EXPECT_GT(dgz, 0);
      EXPECT_LT(dgz, 1);
      EXPECT_GE(metric(t, "loss_D") + 1e-5, -std::log(dx) - std::log(1 - dgz)) << "iteration " << step + 1;
    }
  }

  // Parameters and running statistics after the last iteration. The critic's
  // parameters received n_critic updates per iteration, the generator's one.
  const double step_size = (clip ? 10 : 1) * double(t.config().lr);  // RMSProp's first step is 10·lr (above)
  double worst_weight = 0, worst_zero_grad = 0, worst_stat = 0;
  int compared = 0;
  for (const auto& [name, x] : checkpoint_of(t, path)) {
    if (is_optimizer_state(name)) continue;
    const SafeTensor* want = r.file.find("final." + name);
    ASSERT_TRUE(want) << "the reference has no final value for " << name;
    ASSERT_EQ(want->shape, x.shape) << name;
    const double updates = double(r.steps) * (name.starts_with("D.") && (clip || gp) ? c.n_critic : 1);
    const bool stat = name.ends_with(".running_mean") || name.ends_with(".running_var");
    const bool zero_grad = carries_zero_gradient_bias(model, name);
    for (size_t i = 0; i < x.data.size(); ++i) {
      const double got = x.data[i], ref = want->data[i], err = std::abs(got - ref);
      double bound;
      if (zero_grad) {
        bound = kNoiseSteps * step_size * updates + kStatRel;
        worst_zero_grad = std::max(worst_zero_grad, err / (step_size * updates));
      } else if (stat) {
        bound = kStatRel * std::max(1.0, std::abs(ref));
        worst_stat = std::max(worst_stat, err / std::max(1.0, std::abs(ref)));
      } else {
        bound = kStepFraction * step_size * updates;
        worst_weight = std::max(worst_weight, err / (step_size * updates));
      }
      ++compared;
      ASSERT_LE(err, bound) << model << ": " << name << "[" << i << "] is " << got << ", the reference " << ref
                            << " (after " << r.steps << " iterations)";
    }
  }
  EXPECT_GT(compared, 0);
  std::printf(
      "[ measured ] %s: %d values; metrics ≤ %.3g of their bound; weights ≤ %.3g of a step per update; "
      "zero-gradient biases ≤ %.3g of a step per update; running statistics ≤ %.3g relative\n",
      model.c_str(), compared, worst_metric, worst_weight, worst_zero_grad, worst_stat);
}

INSTANTIATE_TEST_SUITE_P(All, Objectives, ::testing::Values("dcgan28", "cgan32", "wgangp28", "wgan-clip28"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace

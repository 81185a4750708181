// Trainers on a tiny synthetic subset with small widths: every objective runs,
// its losses are finite and move, and its parameters change; a run is
// bit-reproducible; N steps equal N/2 + checkpoint + resume + N/2 bit for bit;
// a NaN stops training with the step and the metric named; and the gradient
// penalty's ‖∇x̂ D(x̂)‖ matches central finite differences on a small critic.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "engine/autodiff.h"
#include "engine/cpu_backend.h"
#include "engine/ops.h"
#include "io/safetensors.h"
#include "platform/philox.h"
#include "tests/synthetic_data.h"
#include "train/trainer.h"

using namespace gantry;

namespace {

TrainConfig tiny_config(const std::string& model) {
  TrainConfig c;
  c.model = model;
  c.batch = 4;
  c.seed = 3;
  c.threads = 2;
  c.widths = nets::Widths{8, 8, 8, 1};
  c.n_critic = 2;
  return c;
}

std::unique_ptr<Trainer> make(const TrainConfig& c) {
  auto t = Trainer::create(c, gantry::testing::synthetic_digits((*nets::model_spec(c.model))->image_size));
  EXPECT_TRUE(t.ok()) << c.model << ": " << t.message();
  if (!t.ok()) return nullptr;
  EXPECT_TRUE((*t)->init_weights().ok());
  return std::move(*t);
}

// Every checkpointed tensor, concatenated, through a checkpoint file.
std::vector<float> snapshot(const Trainer& t, const std::string& path) {
  const Status saved = t.save(path);
  EXPECT_TRUE(saved.ok()) << saved.message();
  auto f = read_safetensors(path);
  EXPECT_TRUE(f.ok()) << f.message();
  std::vector<float> all;
  for (const SafeTensor& x : f->tensors) all.insert(all.end(), x.data.begin(), x.data.end());
  return all;
}

class EachModel : public ::testing::TestWithParam<std::string> {};

TEST_P(EachModel, RunsAndLearnsSomething) {
  auto t = make(tiny_config(GetParam()));
  ASSERT_TRUE(t);
  const std::string path = ::testing::TempDir() + "/each_" + GetParam() + ".safetensors";
  const auto before = snapshot(*t, path);
  std::vector<std::vector<float>> seen;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(t->step().ok()) << GetParam() << " step " << i;
    std::vector<float> values;
    for (const Metric& m : t->metrics()) {
      EXPECT_TRUE(std::isfinite(m.value)) << GetParam() << " " << m.name;
      values.push_back(m.value);
    }
    seen.push_back(values);
  }
  EXPECT_NE(seen[0], seen[2]) << GetParam() << ": losses did not move";
  EXPECT_NE(before, snapshot(*t, path)) << GetParam() << ": parameters did not change";
  std::vector<float> z(size_t(2 * 8), 0.5f), labels{1, 7}, images;
  ASSERT_TRUE(t->sample(z, labels, images).ok());
  const int s = t->image_size();
  ASSERT_EQ(images.size(), size_t(2 * s * s));
  for (float v : images) ASSERT_TRUE(v >= -1 && v <= 1) << "tanh output";
}

INSTANTIATE_TEST_SUITE_P(Trainers, EachModel,
                         ::testing::Values("dcgan28", "cgan32", "wgangp28", "wgan-clip28", "dcgan64"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& ch : s) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           return s;
                         });

TEST(Trainer, SameSeedSameLossesBitForBit) {
  for (const char* model : {"dcgan28", "wgangp28"}) {
    auto a = make(tiny_config(model)), b = make(tiny_config(model));
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(a->step().ok() && b->step().ok());
      for (size_t k = 0; k < a->metrics().size(); ++k)
        EXPECT_EQ(a->metrics()[k].value, b->metrics()[k].value)
            << model << " step " << i << " " << a->metrics()[k].name;
    }
  }
}

TEST(Trainer, ResumeContinuesBitExactly) {
  for (const char* model : {"dcgan28", "wgangp28", "wgan-clip28"}) {
    const std::string dir = ::testing::TempDir() + "/resume_" + model;
    auto straight = make(tiny_config(model));
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(straight->step().ok());

    auto first = make(tiny_config(model));
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(first->step().ok());
    ASSERT_TRUE(first->save(dir + "_half.safetensors").ok());
    first.reset();
    auto resumed = make(tiny_config(model));
    ASSERT_TRUE(resumed->load(dir + "_half.safetensors").ok());
    EXPECT_EQ(resumed->steps_done(), 2);
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(resumed->step().ok());
    for (size_t k = 0; k < straight->metrics().size(); ++k)
      EXPECT_EQ(straight->metrics()[k].value, resumed->metrics()[k].value)
          << model << " " << straight->metrics()[k].name;
    EXPECT_EQ(snapshot(*straight, dir + "_a.safetensors"), snapshot(*resumed, dir + "_b.safetensors")) << model;
  }
}

TEST(Trainer, NanStopsWithStepAndMetricNamed) {
  TrainConfig c = tiny_config("dcgan28");
  Dataset d = gantry::testing::synthetic_digits(28);
  std::fill(d.pixels.begin(), d.pixels.end(), std::nanf(""));
  auto t = Trainer::create(c, d);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->init_weights().ok());
  const Status s = (*t)->step();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("step 1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("loss_D is NaN"), std::string::npos) << s.message();
  EXPECT_EQ((*t)->steps_done(), 0);
}

TEST(Trainer, BadCheckpointAndBadConfigAreErrors) {
  auto t = make(tiny_config("dcgan28"));
  const std::string other = ::testing::TempDir() + "/other_model.safetensors";
  ASSERT_TRUE(make(tiny_config("wgangp28"))->save(other).ok());
  const Status s = t->load(other);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(other), std::string::npos) << s.message();
  TrainConfig big = tiny_config("dcgan28");
  big.batch = 1000;
  auto bad = Trainer::create(big, gantry::testing::synthetic_digits(28));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("batch 1000"), std::string::npos) << bad.message();
  EXPECT_FALSE(Trainer::create(tiny_config("dcgan28"), gantry::testing::synthetic_digits(32)).ok())
      << "image size must match the model";
  EXPECT_FALSE(nets::model_spec("stylegan").ok());
}

// The penalty's inner gradient ∇x̂ D(x̂) from autodiff vs central differences of D,
// on the wgan28 critic in double precision.
TEST(Trainer, GradientPenaltyNormMatchesFiniteDifferences) {
  Graph g;
  const nets::Widths w{8, 8, 4, 1};
  nets::Network critic = nets::wgan28_critic(g, w);
  const int B = 2;
  const Value x = g.input(Shape{B, 1, 28, 28}, "xhat");
  const Value d = critic.forward(g, x, Value{}, true);
  const Value dsum = reduce_sum(g, d, axes({0, 1}));
  const Value dx = grad(g, dsum, {x}, GradOptions{true})[0];
  const Value norm = sqrt(g, reduce_sum(g, square(g, reshape(g, dx, Shape{B, -1})), axes({1})));
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto p = CpuProgram<double>::compile(g, {d, norm});
  ASSERT_TRUE(p.ok());
  for (const auto& nt : critic.params) {
    auto v = (*p)->view(nt.value);
    const auto init = nets::initial_values(nt, g.shape(nt.value), 9, uint32_t(nt.value.id));
    std::copy(init.begin(), init.end(), v->begin());
  }
  auto xs = *(*p)->view(x);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = 2 * philox_uniform(2, 0, 3, uint32_t(i)) - 1;
  ASSERT_TRUE((*p)->step({}).ok());
  const std::vector<double> norm_ad((*(*p)->view(norm)).begin(), (*(*p)->view(norm)).end());
  // D applies instance norm per sample, so ∂D_b/∂x_c = 0 for c ≠ b: per-sample FD.
  std::vector<double> sq(B, 0.0);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x0 = xs[i], h = 1e-6;
    xs[i] = x0 + h;
    (void)(*p)->step({});
    const double up = (*(*p)->view(d))[i / (28 * 28)];
    xs[i] = x0 - h;
    (void)(*p)->step({});
    const double down = (*(*p)->view(d))[i / (28 * 28)];
    xs[i] = x0;
    const double fd = (up - down) / (2 * h);
    sq[i / (28 * 28)] += fd * fd;
  }
  for (int b = 0; b < B; ++b)
    EXPECT_NEAR(norm_ad[size_t(b)], std::sqrt(sq[size_t(b)]), 1e-6 * (1 + norm_ad[size_t(b)]));
}

}  // namespace

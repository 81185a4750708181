// Training on each GPU backend built in tracks the CPU step by step: both
// start from the same weights and see the same minibatches and Philox noise,
// so their losses differ at first only by float32 rounding (sums in another
// order). Training amplifies that: Adam's early updates are ±lr·sign(g) for
// every parameter, so a gradient within rounding of zero (conv biases in front
// of batch norm have a true gradient of exactly zero) moves the two runs apart
// by 2·lr. Measured on lavapipe (dcgan28, 20 steps): 2e-7 at step 0, 4e-5 at
// step 2, 1e-3 at step 8, then 1–3e-2. The stated tolerance for every metric
// at step s: |gpu − cpu| ≤ min(1e-5·3^s, 5e-2)·(1 + |cpu|) — tight where it
// checks the kernels, geometric growth after (the cap from step 8 on, so
// dcgan28's 12 steps check four at it); the test prints every step's largest
// difference and how much of the tolerance was used.
// The fp16 runs: mixed-precision training (TrainConfig::precision) on the
// backend against the CPU's emulation of it (kFirstTolFp16).
// wgangp28 exercises the gradient penalty's double backward on the backend;
// cgan32 the conditional path; dcgan64 (one step at batch 2, whose arena is
// over 128 MiB) a program larger than one storage-buffer binding on lavapipe
// and many mobile GPUs (maxStorageBufferRange 128 MiB), which Vulkan binds in
// windows. For dcgan64 every checkpointed tensor is compared after the step
// instead of eval-mode samples (the sampler runs 64 rows: minutes of dcgan64
// on lavapipe). Its second step would differ by 1.3e-4 (measured), over that
// step's tolerance: Adam's first update is ±lr for every weight, and with a
// batch of 2 that moves the losses further than dcgan28's batch of 16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "io/safetensors.h"
#include "platform/philox.h"
#include "tests/backends.h"
#include "tests/synthetic_data.h"
#include "train/trainer.h"

using namespace gantry;
using namespace gantry::testing;

namespace {

// Mixed precision (Vulkan fp16 against the CPU's fp16 emulation) starts from
// 5e-3 instead of 1e-5: both round every activation to binary16, and Adam's
// first update (±lr per weight) turns each near-zero gradient whose sign a
// binary16 rounding flips into a 2·lr step — many more of them than in
// float32. Measured: dcgan28 identical over 6 steps (its losses are binary16
// values), wgangp28 1.7e-3 relative at step 0 (one critic update in), 5e-4
// at step 1.
constexpr double kFirstTolFp16 = 5e-3;

struct Run {
  std::string model;
  int steps;
  int64_t batch;
  bool small;                             // widths 16 instead of the model's default widths
  int64_t min_arena = 0;                  // the arena must be larger than this many bytes
  bool weights = false;                   // compare the checkpoint after one step, not eval-mode samples
  Precision precision = Precision::fp32;  // fp16: mixed precision on both (where the backend has it)
};

void PrintTo(const Run& r, std::ostream* os) { *os << r.model << (r.precision == Precision::fp16 ? " fp16" : ""); }

// After one step: Adam's first update is lr·g / (|g| + eps), at most lr either
// way, so weights agree within 2·lr even where rounding flips the sign of a
// near-zero gradient; moments and running statistics are within that plus
// rounding of their tensor's scale. A tensor bound through a wrong window
// (garbage, zeros, or another tensor's values) fails.
void compare_checkpoints(const Trainer& cpu, const Trainer& gpu, const std::string& model) {
  SafeTensorsFile f[2];
  for (int i = 0; i < 2; ++i) {
    const std::string path = ::testing::TempDir() + "/tracks_" + model + "_" + std::to_string(i) + ".safetensors";
    ASSERT_TRUE((i ? gpu : cpu).save(path).ok());
    auto read = read_safetensors(path);
    std::remove(path.c_str());
    ASSERT_TRUE(read.ok()) << read.message();
    f[i] = std::move(*read);
  }
  ASSERT_EQ(f[0].tensors.size(), f[1].tensors.size());
  const double lr = cpu.config().lr;
  for (const SafeTensor& ref : f[0].tensors) {
    const SafeTensor* got = f[1].find(ref.name);
    ASSERT_NE(got, nullptr) << ref.name;
    double scale = 1;
    for (float v : ref.data) scale = std::max(scale, double(std::abs(v)));
    const double tol = 2 * lr + 1e-4 * scale;
    int reported = 0;
    for (size_t k = 0; k < ref.data.size(); ++k)
      if (!(std::abs(double(got->data[k]) - ref.data[k]) <= tol) && reported++ < 3)
        ADD_FAILURE() << model << " " << ref.name << "[" << k << "]: " << got->data[k] << ", CPU " << ref.data[k]
                      << " (tolerance " << tol << ")";
  }
}

class TracksCpu : public ::testing::TestWithParam<std::tuple<BackendKind, Run>> {};

TEST_P(TracksCpu, LossesStepByStep) {
  const auto& [kind, run] = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  TrainConfig c;
  c.model = run.model;
  c.batch = run.batch;
  c.seed = 7;
  c.threads = 2;
  c.n_critic = 2;
  c.widths = run.small ? nets::Widths{16, 16, 16, 1} : (*nets::model_spec(run.model))->widths;
  c.precision = run.precision;
  const Dataset data = synthetic_digits((*nets::model_spec(run.model))->image_size, 4 * run.batch);
  std::unique_ptr<Trainer> t[2];
  for (int i = 0; i < 2; ++i) {
    TrainConfig ci = c;
    ci.backend = i ? kind : BackendKind::cpu;
    auto made = Trainer::create(ci, data);
    ASSERT_TRUE(made.ok()) << backend_name(ci.backend) << ": " << made.message();
    t[i] = std::move(*made);
    ASSERT_TRUE(t[i]->init_weights().ok());
    // fp16: a loss scale low enough that no update overflows (wgangp28's
    // first critic update does at 1024 here): an overflow that one backend
    // hits and the other misses by a rounding would skip different updates.
    if (run.precision == Precision::fp16) t[i]->set_loss_scale(128);
  }
  ASSERT_GT(t[1]->arena().total(), run.min_arena) << "the run no longer covers what it is for";
  std::printf("%s on %s: arena %.1f MiB\n", run.model.c_str(), t[1]->program().device().c_str(),
              double(t[1]->arena().total()) / (1 << 20));
  double worst = 0;  // largest |Δ| / tolerance seen
  const double first_tol = run.precision == Precision::fp16 ? kFirstTolFp16 : 1e-5;
  for (int s = 0; s < run.steps; ++s) {
    for (auto& tr : t) {
      const Status st = tr->step();
      ASSERT_TRUE(st.ok()) << st.message();
    }
    const auto &ref = t[0]->metrics(), &got = t[1]->metrics();
    ASSERT_EQ(ref.size(), got.size());
    double step_max = 0;
    for (size_t m = 0; m < ref.size(); ++m)
      step_max = std::max(step_max, std::abs(double(got[m].value) - ref[m].value));
    std::printf("%s step %d: largest |loss difference| %.2e\n", run.model.c_str(), s, step_max);
    for (size_t m = 0; m < ref.size(); ++m) {
      const double tol = std::min(first_tol * std::pow(3.0, s), 5e-2) * (1 + std::abs(ref[m].value));
      worst = std::max(worst, std::abs(double(got[m].value) - ref[m].value) / tol);
      EXPECT_NEAR(got[m].value, ref[m].value, tol) << run.model << " step " << s << " metric " << ref[m].name;
    }
  }
  std::printf("%s on %s: largest loss difference %.3f of the tolerance over %d steps\n", run.model.c_str(),
              backend_name(kind), worst, run.steps);
  for (const auto& tr : t) EXPECT_EQ(tr->skipped_steps(), 0) << run.model;
  if (run.weights) {
    compare_checkpoints(*t[0], *t[1], run.model);
    return;
  }
  // Eval-mode samples from the trained weights agree too.
  const int64_t n = 3;
  std::vector<float> z(size_t(n * c.widths.nz)), labels{2, 5, 9}, img[2];
  for (size_t i = 0; i < z.size(); ++i) z[i] = philox_normal(1, 0, 0, uint32_t(i));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(t[i]->sample(z, labels, img[i]).ok());
  for (size_t i = 0; i < img[0].size(); ++i) ASSERT_NEAR(img[1][i], img[0][i], 1e-2) << "sample pixel " << i;
}

std::string run_name(const ::testing::TestParamInfo<std::tuple<BackendKind, Run>>& info) {
  const Run& r = std::get<1>(info.param);
  std::string s = std::string(backend_name(std::get<0>(info.param))) + "_" + r.model +
                  (r.precision == Precision::fp16 ? "_fp16" : "");
  for (char& ch : s) ch = std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Models, TracksCpu,
                         ::testing::Combine(::testing::ValuesIn(gpu_backends()),
                                            ::testing::Values(Run{"dcgan28", 12, 16, false},
                                                              Run{"wgangp28", 4, 8, true}, Run{"cgan32", 4, 8, true},
                                                              Run{"dcgan64", 1, 2, false, int64_t(128) << 20, true},
                                                              Run{"dcgan28", 6, 16, true, 0, false, Precision::fp16},
                                                              Run{"wgangp28", 3, 8, true, 0, false, Precision::fp16})),
                         run_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TracksCpu);

}  // namespace

// Checkpoints, PyTorch generators, classifiers and configs built to be wrong:
// each is refused with a message naming the file, the tensor or field and
// what is wrong (first bad index, the range), before anything is sized from
// it, and a refused load leaves a trainer's weights as they were. The files
// are written with the library's own safetensors writer from a real
// checkpoint, then one thing is broken.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/planner.h"
#include "eval/classifier.h"
#include "io/safetensors.h"
#include "synthetic_data.h"
#include "train/generator.h"
#include "train/trainer.h"

namespace gantry {
namespace {

TrainConfig tiny(const std::string& model) {
  TrainConfig c;
  c.model = model;
  c.batch = 4;
  c.threads = 1;
  c.widths = nets::Widths{4, 4, 4, 1};
  c.n_critic = 2;
  return c;
}

std::unique_ptr<Trainer> trained(const std::string& model) {
  auto t = Trainer::create(tiny(model), testing::synthetic_digits((*nets::model_spec(model))->image_size, 8));
  EXPECT_TRUE(t.ok()) << t.message();
  EXPECT_TRUE((*t)->init_weights().ok());
  EXPECT_TRUE((*t)->step().ok());
  return std::move(*t);
}

struct Broken {
  std::string path;
  SafeTensorsFile file;
};

// A real checkpoint of `model`, read back for breaking.
Broken checkpoint(const std::string& model, const std::string& name) {
  Broken b{::testing::TempDir() + "/" + name + ".safetensors", {}};
  EXPECT_TRUE(trained(model)->save(b.path).ok());
  auto f = read_safetensors(b.path);
  EXPECT_TRUE(f.ok()) << f.message();
  b.file = *f;
  return b;
}

void set_meta(SafeTensorsFile& f, const std::string& key, const std::string& value) {
  for (auto& [k, v] : f.metadata)
    if (k == key) v = value;
}

SafeTensor& tensor(SafeTensorsFile& f, const std::string& name) {
  for (SafeTensor& t : f.tensors)
    if (t.name == name) return t;
  ADD_FAILURE() << "no tensor " << name;
  return f.tensors.front();
}

std::string load_error(const Broken& b) {
  EXPECT_TRUE(write_safetensors(b.path, b.file).ok());
  auto g = load_generator(b.path);
  return g.ok() ? "" : g.message();
}

#define EXPECT_MENTIONS(message, text) \
  EXPECT_NE((message).find(text), std::string::npos) << "message: " << (message) << "\nexpected to mention: " << (text)

TEST(HostileFiles, CheckpointStepMustBeAWholeNumberInRange) {
  for (const char* step : {"abc", "-5", "12x", "", "99999999999999999999", "1e3"}) {
    Broken b = checkpoint("dcgan28", "step");
    set_meta(b.file, "step", step);
    const std::string e = load_error(b);
    EXPECT_MENTIONS(e, "step \"" + std::string(step) + "\" is not a whole number");
    EXPECT_MENTIONS(e, b.path);
    // The trainer refuses it too, and keeps its weights.
    auto t = trained("dcgan28");
    const std::string keep = ::testing::TempDir() + "/keep.safetensors";
    ASSERT_TRUE(t->save(keep).ok());
    const int64_t before = t->steps_done();
    EXPECT_FALSE(t->load(b.path).ok());
    EXPECT_EQ(t->steps_done(), before);
  }
}

TEST(HostileFiles, NonFiniteWeightsAndNegativeVarianceNameTensorAndIndex) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  struct Case {
    const char* tensor;
    size_t index;
    float value;
    const char* why;
  } cases[] = {{"G.main.0.weight", 5, nan, "must be finite"},
               {"G.main.3.weight", 0, inf, "must be finite"},
               {"G.main.1.running_var", 2, -0.5f, "variance must be ≥ 0"},
               {"G.main.1.running_mean", 1, -inf, "must be finite"}};
  for (const Case& c : cases) {
    Broken b = checkpoint("dcgan28", "values");
    tensor(b.file, c.tensor).data[c.index] = c.value;
    const std::string e = load_error(b);
    const std::string name = std::string(c.tensor);
    EXPECT_MENTIONS(e, "'" + name + "'");
    EXPECT_MENTIONS(e, "at index " + std::to_string(c.index));
    EXPECT_MENTIONS(e, c.why);
    auto t = trained("dcgan28");
    const Status s = t->load(b.path);
    EXPECT_FALSE(s.ok());
    EXPECT_MENTIONS(s.message(), name);
  }
  // A PyTorch generator (exported names) gets the same checks.
  Broken b = checkpoint("dcgan28", "export_src");
  auto gen = load_generator(b.path);
  ASSERT_TRUE(gen.ok()) << gen.message();
  const std::string exported = ::testing::TempDir() + "/exported.safetensors";
  ASSERT_TRUE(export_generator(*gen, exported).ok());
  auto f = read_safetensors(exported);
  ASSERT_TRUE(f.ok());
  tensor(*f, "main.1.running_var").data[0] = -1;
  ASSERT_TRUE(write_safetensors(exported, *f).ok());
  auto bad = load_generator(exported);
  ASSERT_FALSE(bad.ok());
  EXPECT_MENTIONS(bad.message(), "'main.1.running_var'");
}

TEST(HostileFiles, ConfigFieldsAreRangeChecked) {
  for (const char* config : {"model=dcgan28;ngf=200000", "model=dcgan28;n_critic=2000000000", "model=dcgan28;batch=64x",
                             "model=dcgan28;seed=-1", "model=dcgan28;lr=nan", "model=dcgan28;beta1=1",
                             "model=dcgan28;batch=0", "model=nope", "model=dcgan28;nz=99999999999"}) {
    auto c = TrainConfig::parse(config);
    EXPECT_FALSE(c.ok()) << config;
    Broken b = checkpoint("dcgan28", "config");
    set_meta(b.file, "config", config);
    EXPECT_FALSE(load_error(b).empty()) << config;
  }
  EXPECT_TRUE(TrainConfig::parse(tiny("wgangp28").serialize()).ok());
}

// A few kilobytes that ask for an image of 4·2^29 pixels a side: the graph
// refuses it by element count, and 12 layers (8192² images) are refused by the
// memory limit before any arena exists.
TEST(HostileFiles, DeepGeneratorsAreRefusedBySizeNotByACrash) {
  for (int layers : {30, 12}) {
    SafeTensorsFile f;
    for (int i = 0; i < layers; ++i) {
      const int64_t out = i + 1 == layers ? 1 : 2;
      f.tensors.push_back(
          {"main." + std::to_string(3 * i) + ".weight", Shape{2, out, 4, 4}, std::vector<float>(32 * out, 0.01f)});
      if (i + 1 == layers) break;
      for (const char* field : {"weight", "bias", "running_mean", "running_var"})
        f.tensors.push_back({"main." + std::to_string(3 * i + 1) + "." + field, Shape{2}, {1, 1}});
    }
    const std::string path = ::testing::TempDir() + "/deep.safetensors";
    ASSERT_TRUE(write_safetensors(path, f).ok());
    const int64_t limit = memory_limit();
    set_memory_limit(int64_t(256) << 20);
    auto g = load_generator(path);
    std::string e = g.ok() ? "" : g.message();
    if (g.ok()) {
      auto images = generate(*g, std::vector<float>(2, 0.5f), {}, BackendKind::cpu, 1);
      e = images.ok() ? "" : images.message();
    }
    set_memory_limit(limit);
    ASSERT_FALSE(e.empty()) << layers << " layers were accepted";
    EXPECT_TRUE(e.find("2^40") != std::string::npos || e.find("memory limit") != std::string::npos) << e;
  }
}

TEST(HostileFiles, LatentsMustBeFinite) {
  Broken b = checkpoint("dcgan28", "latents");
  auto g = load_generator(b.path);
  ASSERT_TRUE(g.ok());
  std::vector<float> z(size_t(3 * g->nz), 0.1f);
  z[size_t(g->nz + 2)] = std::numeric_limits<float>::quiet_NaN();
  auto images = generate(*g, z, {}, BackendKind::cpu, 1);
  ASSERT_FALSE(images.ok());
  EXPECT_MENTIONS(images.message(), "latent 1");
  EXPECT_MENTIONS(images.message(), "component 2");
}

// Sampling runs in chunks of kGenerateBatch: 150 samples equal the same
// latents sampled a few at a time (eval-mode batch norm: rows are independent).
TEST(HostileFiles, ChunkedSamplingMatchesSmallBatches) {
  Broken b = checkpoint("cgan32", "chunks");
  auto g = load_generator(b.path);
  ASSERT_TRUE(g.ok());
  const int64_t n = 150, per = g->image.numel();
  std::vector<float> z(static_cast<size_t>(n * g->nz)), labels(static_cast<size_t>(n));
  for (size_t i = 0; i < z.size(); ++i) z[i] = std::sin(float(i));
  for (int64_t i = 0; i < n; ++i) labels[size_t(i)] = float(i % 10);
  auto all = generate(*g, z, labels, BackendKind::cpu, 1);
  ASSERT_TRUE(all.ok()) << all.message();
  for (int64_t first : {int64_t(0), int64_t(63), int64_t(64), int64_t(149)}) {
    std::vector<float> z1(z.begin() + first * g->nz, z.begin() + (first + 1) * g->nz), l1{labels[size_t(first)]};
    auto one = generate(*g, z1, l1, BackendKind::cpu, 1);
    ASSERT_TRUE(one.ok());
    for (int64_t k = 0; k < per; ++k)
      ASSERT_NEAR((*one)[size_t(k)], (*all)[size_t(first * per + k)], 1e-5) << "sample " << first << " element " << k;
  }
  // The trainer's own sampler (its grid for cgan32 is 100 images) chunks the same way.
  auto t = trained("cgan32");
  std::vector<float> images;
  const Status s = t->sample(std::vector<float>(z.begin(), z.begin() + 100 * g->nz),
                             std::vector<float>(labels.begin(), labels.begin() + 100), images);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(int64_t(images.size()), 100 * per);
}

TEST(HostileFiles, ClassifierMetadataCannotSizeAnythingTheFileLacks) {
  SafeTensorsFile f;
  f.metadata = {{"format", "gantry-classifier-1"}, {"conv_channels", "4096,4096,4096"}, {"features", "4096"}};
  const std::string path = ::testing::TempDir() + "/wide_classifier.safetensors";
  ASSERT_TRUE(write_safetensors(path, f).ok());
  auto c = Classifier::load(path, 1);
  ASSERT_FALSE(c.ok());
  EXPECT_MENTIONS(c.message(), "no tensor");
  set_meta(f, "conv_channels", "8,8,99999");
  ASSERT_TRUE(write_safetensors(path, f).ok());
  c = Classifier::load(path, 1);
  ASSERT_FALSE(c.ok());
  EXPECT_MENTIONS(c.message(), "1..4096");
}

TEST(HostileFiles, ArenaOverTheLimitNamesItsRegions) {
  const int64_t limit = memory_limit();
  set_memory_limit(int64_t(1) << 20);
  TrainConfig c = tiny("dcgan28");
  c.widths = (*nets::model_spec("dcgan28"))->widths;  // a few MiB of weights alone
  auto t = Trainer::create(c, testing::synthetic_digits(28, 8));
  set_memory_limit(limit);
  ASSERT_FALSE(t.ok());
  for (const char* part : {"the arena needs", "params", "transient", "over the memory limit of 1.0 MiB"})
    EXPECT_MENTIONS(t.message(), part);
}

}  // namespace
}  // namespace gantry

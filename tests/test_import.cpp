// Generators for sampling: a PyTorch-named DCGAN fixture (tests/fixtures/
// pytorch_dcgan, expected outputs from an independent float64 reference)
// reproduced within float32 tolerance; export → import gives identical
// samples; a sample does not depend on the rest of its batch (eval-mode batch
// norm); state_dicts that are not DCGAN generators are rejected by name.
#include <gtest/gtest.h>

#include <cmath>

#include "io/npy.h"
#include "io/safetensors.h"
#include "platform/philox.h"
#include "train/generator.h"
#include "train/trainer.h"

using namespace gantry;

namespace {

const std::string kFixture = std::string(GANTRY_SOURCE_DIR) + "/tests/fixtures/pytorch_dcgan/";

TEST(Import, PytorchFixtureMatchesIndependentReference) {
  auto gen = load_generator(kFixture + "G.safetensors");
  ASSERT_TRUE(gen.ok()) << gen.message();
  EXPECT_EQ(gen->nz, 8);
  EXPECT_EQ(gen->image, (Shape{3, 16, 16}));
  EXPECT_EQ(gen->batches_tracked, 1234) << "num_batches_tracked is stored as I64";
  auto z = read_npy(kFixture + "z.npy");
  auto expected = read_npy(kFixture + "expected.npy");
  ASSERT_TRUE(z.ok() && expected.ok());
  auto out = generate(*gen, z->data, {}, BackendKind::cpu);
  ASSERT_TRUE(out.ok()) << out.message();
  ASSERT_EQ(out->size(), expected->data.size());
  // Three float32 layers, ≤ 16·C_in products each, then BN and tanh: a few ulps of 1.
  for (size_t i = 0; i < out->size(); ++i) ASSERT_NEAR((*out)[i], expected->data[i], 2e-6) << "element " << i;
}

std::vector<float> latents(int64_t n, int64_t nz, uint32_t stream) {
  std::vector<float> z(size_t(n * nz));
  for (size_t i = 0; i < z.size(); ++i) z[i] = philox_normal(4, 0, stream, uint32_t(i));
  return z;
}

TEST(Import, ExportThenImportGivesIdenticalSamples) {
  for (const char* model : {"dcgan28", "cgan32"}) {
    TrainConfig c;
    c.model = model;
    c.batch = 4;
    c.widths = nets::Widths{8, 8, 8, 1};
    Dataset d;
    const int s = (*nets::model_spec(model))->image_size;
    d.images = Shape{8, 1, s, s};
    d.pixels.assign(size_t(d.images.numel()), 0.1f);
    d.labels.assign(8, 3.0f);
    for (int k = 0; k < 10; ++k) d.class_names.push_back(std::to_string(k));
    auto t = Trainer::create(c, d);
    ASSERT_TRUE(t.ok()) << t.message();
    ASSERT_TRUE((*t)->init_weights().ok());
    ASSERT_TRUE((*t)->step().ok());  // running statistics move away from 0/1
    const std::string ckpt = ::testing::TempDir() + "/import_" + model + ".safetensors";
    const std::string exported = ::testing::TempDir() + "/export_" + model + ".safetensors";
    ASSERT_TRUE((*t)->save(ckpt).ok());
    auto from_ckpt = load_generator(ckpt);
    ASSERT_TRUE(from_ckpt.ok()) << from_ckpt.message();
    ASSERT_TRUE(export_generator(*from_ckpt, exported).ok());
    auto file = read_safetensors(exported);
    ASSERT_TRUE(file.ok());
    EXPECT_TRUE(file->find(std::string(model) == "cgan32" ? "deconv1_1.weight" : "main.0.weight"));
    const auto z = latents(3, 8, 1);
    const std::vector<float> labels{0, 5, 9};
    auto a = generate(*from_ckpt, z, labels, BackendKind::cpu);
    ASSERT_TRUE(a.ok()) << a.message();
    if (std::string(model) == "dcgan28") {  // a plain nn.Sequential generator re-imports as PyTorch weights
      auto from_export = load_generator(exported);
      ASSERT_TRUE(from_export.ok()) << from_export.message();
      auto b = generate(*from_export, z, labels, BackendKind::cpu);
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(*a, *b);
    }
    // The trainer's own eval-mode sampler agrees with the loaded generator.
    std::vector<float> c_out;
    ASSERT_TRUE((*t)->sample(z, labels, c_out).ok());
    EXPECT_EQ(*a, c_out) << model;
  }
}

TEST(Import, SampleDoesNotDependOnItsBatch) {
  auto gen = load_generator(kFixture + "G.safetensors");
  ASSERT_TRUE(gen.ok());
  const auto z = latents(4, 8, 2);
  auto batch = generate(*gen, z, {}, BackendKind::cpu);
  auto alone = generate(*gen, std::vector<float>(z.begin() + 8, z.begin() + 16), {}, BackendKind::cpu);
  ASSERT_TRUE(batch.ok() && alone.ok());
  const size_t per = 3 * 16 * 16;
  EXPECT_EQ(std::vector<float>(batch->begin() + per, batch->begin() + 2 * per), *alone);
}

void expect_rejected(SafeTensorsFile f, const char* problem) {
  const std::string path = ::testing::TempDir() + "/bad_generator.safetensors";
  ASSERT_TRUE(write_safetensors(path, f).ok());
  auto g = load_generator(path);
  ASSERT_FALSE(g.ok()) << problem;
  EXPECT_NE(g.message().find(path), std::string::npos) << g.message();
  EXPECT_NE(g.message().find(problem), std::string::npos) << g.message();
}

TEST(Import, DataParallelAndBareSequentialNamesAreAccepted) {
  auto fixture = read_safetensors(kFixture + "G.safetensors");
  ASSERT_TRUE(fixture.ok());
  for (const char* prefix : {"module.main.", ""}) {
    SafeTensorsFile f = *fixture;
    for (SafeTensor& t : f.tensors) t.name = prefix + t.name.substr(5);  // drop "main."
    const std::string path = ::testing::TempDir() + "/renamed_generator.safetensors";
    ASSERT_TRUE(write_safetensors(path, f).ok());
    auto g = load_generator(path);
    ASSERT_TRUE(g.ok()) << prefix << ": " << g.message();
    EXPECT_EQ(g->nz, 8);
  }
}

TEST(Import, NonGeneratorsAreRejectedNamingTheTensor) {
  auto fixture = read_safetensors(kFixture + "G.safetensors");
  ASSERT_TRUE(fixture.ok());
  SafeTensorsFile f = *fixture;
  f.tensors.push_back({"encoder.fc.weight", Shape{2, 2}, {1, 2, 3, 4}});
  expect_rejected(f, "encoder.fc.weight");
  f = *fixture;
  for (SafeTensor& t : f.tensors)
    if (t.name == "main.3.weight") t.shape = Shape{16, 8, 3, 3}, t.data.resize(16 * 8 * 9);
  expect_rejected(f, "3×3 kernel");
  f = *fixture;
  for (SafeTensor& t : f.tensors)
    if (t.name == "main.6.weight") t.shape = Shape{9, 3, 4, 4}, t.data.resize(9 * 3 * 16);
  expect_rejected(f, "takes 9 channels");
  f = *fixture;
  std::erase_if(f.tensors, [](const SafeTensor& t) { return t.name == "main.4.running_var"; });
  expect_rejected(f, "no running_var");
  f = SafeTensorsFile{};
  f.tensors.push_back({"fc.weight", Shape{2}, {1, 2}});
  expect_rejected(f, "fc.weight");
}

}  // namespace

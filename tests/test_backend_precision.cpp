// fp16 storage on the GPU backends (Vulkan, CUDA) against the CPU's
// fp16 emulation (engine/backend.h, Precision), on whole generators: the
// imported PyTorch DCGAN fixture and dcgan28 and cgan32 from their initial
// weights. Both round every stored value to binary16 and compute in float32,
// so they differ only where float32 sums taken in another order land on
// either side of a rounding point; that difference is then carried through
// the layers after it, as fp16's own drift from float32 is. Bound: the drift
// bound of tests/test_precision.cpp (two grey levels of 255), and most pixels
// bit for bit the CPU's. A Vulkan device without 16-bit storage buffers
// (GANTRY_VULKAN_NO_FP16=1 pretends so; ctest vulkan.fp16.fallback) runs the
// program in float32 and says so; every GPU CUDA builds for has them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "engine/ops.h"
#include "io/npy.h"
#include "nets/nets.h"
#include "platform/half.h"
#include "tests/backends.h"
#include "train/generator.h"
#include "train/sampler.h"

using namespace gantry;
using namespace gantry::testing;

namespace {

constexpr double kDriftBound = 2 * 2.0 / 255;
constexpr double kMinSame = 0.9;  // measured: 98.6 % of the pixels identical or more

bool fp16_withheld(BackendKind kind) {
  const char* e = std::getenv("GANTRY_VULKAN_NO_FP16");
  return kind == BackendKind::vulkan && e && std::string(e) != "0";
}

// n samples of a generator from its initial weights (seed 7), on `kind` in `precision`.
std::vector<float> sample(const std::string& model, BackendKind kind, Precision precision,
                          std::string* device = nullptr) {
  const int64_t n = 8, nz = 100;
  auto s = Sampler::create(nets::generator_builder(model, nets::Widths{int(nz), 32, 32, 1}), nz, n, kind, 2, precision);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return {};
  EXPECT_TRUE((*s)->init_weights(7).ok());
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> z(size_t(n * nz)), labels(static_cast<size_t>(n));
  for (float& e : z) e = normal(rng);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = float(i % 10);
  std::vector<float> out(size_t(n * (*s)->image().numel()));
  const Status st = (*s)->run(z.data(), labels.data(), n, out.data());
  EXPECT_TRUE(st.ok()) << st.message();
  if (device) *device = (*s)->program().device();
  return out;
}

void expect_like_reference(const std::vector<float>& got, const std::vector<float>& ref, const std::string& what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  ASSERT_FALSE(ref.empty()) << what;
  double worst = 0;
  size_t same = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    worst = std::max(worst, double(std::abs(got[i] - ref[i])));
    same += got[i] == ref[i];
  }
  EXPECT_LE(worst, kDriftBound) << what << ": largest |device − cpu| in fp16";
  EXPECT_GE(double(same), kMinSame * double(ref.size())) << what << ": pixels identical to the CPU's";
  std::printf("%s: largest |device − cpu| %.3g = %.1f units of 2^-11; %.1f %% identical\n", what.c_str(), worst,
              worst / kHalfUnitRoundoff, 100.0 * double(same) / double(ref.size()));
}

class Fp16 : public ::testing::TestWithParam<BackendKind> {};

TEST_P(Fp16, GeneratorsMatchTheCpuReference) {
  const BackendKind kind = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  if (fp16_withheld(kind)) GTEST_SKIP() << "GANTRY_VULKAN_NO_FP16 is set: the device runs fp16 programs in float32";
  for (const std::string model : {"dcgan28", "cgan32"}) {
    std::string device;
    const auto got = sample(model, kind, Precision::fp16, &device);
    EXPECT_NE(device.find("(fp16 storage)"), std::string::npos) << device;
    expect_like_reference(got, sample(model, BackendKind::cpu, Precision::fp16), model);
  }
  const std::string dir = std::string(GANTRY_SOURCE_DIR) + "/tests/fixtures/pytorch_dcgan/";
  auto gen = load_generator(dir + "G.safetensors");
  ASSERT_TRUE(gen.ok()) << gen.status().message();
  auto z = read_npy(dir + "z.npy");
  ASSERT_TRUE(z.ok()) << z.status().message();
  auto got = generate(*gen, z->data, {}, kind, 0, Precision::fp16);
  auto ref = generate(*gen, z->data, {}, BackendKind::cpu, 1, Precision::fp16);
  ASSERT_TRUE(got.ok() && ref.ok()) << got.status().message() << ref.status().message();
  expect_like_reference(*got, *ref, "imported PyTorch DCGAN");
}

// With the feature withheld the program is float32 (identical to an fp32
// program on the same device) and device() says why; with it, fp16 changes
// the result.
TEST_P(Fp16, WithoutSixteenBitStorageRunsFloat32AndSaysSo) {
  const BackendKind kind = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  std::string device;
  const auto half = sample("dcgan28", kind, Precision::fp16, &device);
  const auto single = sample("dcgan28", kind, Precision::fp32);
  if (fp16_withheld(kind)) {
    EXPECT_NE(device.find("no usable 16-bit storage buffers here: float32"), std::string::npos) << device;
    EXPECT_EQ(half, single);
  } else {
    EXPECT_NE(device.find("(fp16 storage)"), std::string::npos) << device;
    EXPECT_NE(half, single);
  }
}

// Class labels and row indices stay exact under 16-bit storage (half_storage
// keeps them float32): 257 and 2049 are the first integers bfloat16 and
// binary16 cannot hold, 4095 rounds to 4096 (past the last class) in both.
// Rounded, one_hot would light the wrong class or none, gather the wrong row.
class IndexStorage : public ::testing::TestWithParam<std::pair<BackendKind, Precision>> {};

TEST_P(IndexStorage, LabelsAndIndicesStayExact) {
  const auto [kind, precision] = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  constexpr int64_t kClasses = 4096;
  const std::vector<float> labels{257, 2049, 4095};
  Graph g;
  const Value l = g.input(Shape{3}, "labels"), rows = g.input(Shape{kClasses, 1}, "rows");
  const Value oh = one_hot(g, l, kClasses), picked = gather(g, rows, l);
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto p = compile(g, CompileOptions{kind, {oh, picked}, 2, false, precision});
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<float> row_values(kClasses);
  for (int64_t r = 0; r < kClasses; ++r) row_values[size_t(r)] = float(r % 64);  // exact in 16 bits, tells rows apart
  ASSERT_TRUE((*p)->write(l, labels.data(), 3).ok());
  ASSERT_TRUE((*p)->write(rows, row_values.data(), kClasses).ok());
  ASSERT_TRUE((*p)->step({}).ok());
  std::vector<float> got(size_t(3 * kClasses)), got_rows(3);
  ASSERT_TRUE((*p)->read(oh, got.data(), int64_t(got.size())).ok());
  ASSERT_TRUE((*p)->read(picked, got_rows.data(), 3).ok());
  for (size_t b = 0; b < labels.size(); ++b) {
    const int64_t label = int64_t(labels[b]);
    EXPECT_EQ(got[b * kClasses + size_t(label)], 1.0f) << "label " << label;
    float sum = 0;
    for (int64_t c = 0; c < kClasses; ++c) sum += got[b * kClasses + size_t(c)];
    EXPECT_EQ(sum, 1.0f) << "label " << label;
    EXPECT_EQ(got_rows[b], float(label % 64)) << "row " << label;
  }
}

std::vector<std::pair<BackendKind, Precision>> index_params() {
  std::vector<std::pair<BackendKind, Precision>> out;
  for (BackendKind kind : gpu_backends()) out.emplace_back(kind, Precision::fp16);
  out.emplace_back(BackendKind::cpu, Precision::fp16);
  out.emplace_back(BackendKind::cpu, Precision::bf16);
  for (BackendKind kind : gpu_backends())
    if (precision_built(kind, Precision::bf16).ok()) out.emplace_back(kind, Precision::bf16);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, IndexStorage, ::testing::ValuesIn(index_params()), [](const auto& info) {
  return std::string(backend_name(info.param.first)) + "_" + precision_name(info.param.second);
});

INSTANTIATE_TEST_SUITE_P(Backends, Fp16, ::testing::ValuesIn(gpu_backends()),
                         [](const auto& info) { return std::string(backend_name(info.param)); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fp16);

}  // namespace

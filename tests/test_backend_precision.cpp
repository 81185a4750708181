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

INSTANTIATE_TEST_SUITE_P(Backends, Fp16, ::testing::ValuesIn(gpu_backends()),
                         [](const auto& info) { return std::string(backend_name(info.param)); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Fp16);

}  // namespace

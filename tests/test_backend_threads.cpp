// Programs share one device per backend: two programs stepping on two threads
// at once give the results each gives alone (the shared queue is used under a
// lock), and a device torn down with the last program that used it opens again
// for the next one (programs own the device; nothing is left to static
// destructors at exit).
#include <gtest/gtest.h>

#include <thread>

#include "engine/backend.h"
#include "engine/ops.h"
#include "tests/backends.h"

namespace gantry {
namespace {

using testing::gpu_backends;

// y = sum over rows of (w * x): [4, 64] parameters times a [64] input.
struct Model {
  Graph g;
  Value w, x, y;
  Model() {
    w = g.parameter(Shape{4, 64}, "w");
    x = g.input(Shape{64}, "x");
    y = reduce_sum(g, mul(g, w, x), axes({1}));
  }
};

std::vector<float> expected(float scale) {
  std::vector<float> y(4);
  for (int r = 0; r < 4; ++r) {
    float s = 0;
    for (int c = 0; c < 64; ++c) s += float(r + 1) * (scale * float(c % 7));
    y[size_t(r)] = s;
  }
  return y;
}

// Writes w and x = scale·(c mod 7), steps `steps` times and checks y after each step.
void run(BackendKind kind, float scale, int steps, std::string* failure) {
  Model m;
  auto prog = compile(m.g, CompileOptions{kind, {m.y}});
  if (!prog.ok()) return void(*failure = prog.message());
  std::vector<float> w(4 * 64), x(64), y(4);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i / 64 + 1);
  for (size_t c = 0; c < x.size(); ++c) x[c] = scale * float(c % 7);
  Program& p = **prog;
  if (Status s = p.write(m.w, w.data(), int64_t(w.size())); !s.ok()) return void(*failure = s.message());
  if (Status s = p.write(m.x, x.data(), int64_t(x.size())); !s.ok()) return void(*failure = s.message());
  const std::vector<float> want = expected(scale);
  for (int i = 0; i < steps; ++i) {
    if (Status s = p.step(StepUniforms{1, uint64_t(i)}); !s.ok()) return void(*failure = s.message());
    if (Status s = p.read(m.y, y.data(), 4); !s.ok()) return void(*failure = s.message());
    if (y != want)
      return void(*failure = "step " + std::to_string(i) + ": wrong sum at scale " + std::to_string(scale));
  }
}

class SharedDevice : public ::testing::TestWithParam<BackendKind> {};

TEST_P(SharedDevice, ProgramsOnTwoThreadsAndReopenAfterTeardown) {
  const BackendKind kind = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  std::string fail_a, fail_b;
  std::thread a(run, kind, 1.0f, 40, &fail_a), b(run, kind, 0.5f, 40, &fail_b);
  a.join();
  b.join();
  EXPECT_EQ(fail_a, "");
  EXPECT_EQ(fail_b, "");
  // Every program is gone, and with it the device: the next program opens it again.
  std::string again;
  run(kind, 2.0f, 2, &again);
  EXPECT_EQ(again, "");
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedDevice, ::testing::ValuesIn(gpu_backends()),
                         [](const auto& info) { return std::string(backend_name(info.param)); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SharedDevice);

}  // namespace
}  // namespace gantry

// A GPU backend whose probe finds a device that the build cannot run on (a
// CUDA binary without kernels for the device's compute capability) must fail
// the GPU tests, not skip them. Without such a GPU here, a stand-in backend is
// registered under a kind this binary was built without, and the engine's
// answer and the tests' skip macro (tests/backends.h) are checked against it.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "tests/backends.h"

namespace gantry {
namespace {

// The kind of the stand-in: one not built into this binary, if any.
constexpr bool kHaveFreeKind = !GANTRY_HAVE_CUDA || !GANTRY_HAVE_VULKAN;
constexpr BackendKind kStandIn = GANTRY_HAVE_CUDA ? BackendKind::vulkan : BackendKind::cuda;

Status rejecting_probe() { return Status::error("device 0 (compute capability 7.0) has no kernel image here"); }
bool rejects() { return true; }
Result<std::unique_ptr<Program>> no_compile(const Graph&, const CompileOptions&) {
  return Status::error("the stand-in compiles nothing");
}

[[maybe_unused]] const bool kRegistered =
    kHaveFreeKind &&
    register_backend({.kind = kStandIn, .probe = rejecting_probe, .compile = no_compile, .rejects_device = rejects});

void skip_unless_usable() { GANTRY_SKIP_UNLESS_USABLE(kStandIn); }

TEST(BackendRejects, DeviceTheBuildCannotRunOnIsNotAvailable) {
  if (!kHaveFreeKind) GTEST_SKIP() << "every GPU backend is built in: no kind left for a stand-in";
  EXPECT_FALSE(backend_status(kStandIn).ok());
  EXPECT_TRUE(backend_rejects_device(kStandIn));
  for (BackendKind k : available_backends()) EXPECT_NE(k, kStandIn);
  EXPECT_FALSE(backend_rejects_device(BackendKind::cpu));
}

TEST(BackendRejects, GpuTestsFailInsteadOfSkipping) {
  if (!kHaveFreeKind) GTEST_SKIP() << "every GPU backend is built in: no kind left for a stand-in";
  EXPECT_FATAL_FAILURE(skip_unless_usable(), "cannot run on this device: device 0 (compute capability 7.0)");
}

// The same decision on a probe's answer alone, in every build (the stand-in
// above needs a backend kind this binary lacks).
void decide_rejected() { GANTRY_SKIP_OR_FAIL("stand-in", rejecting_probe(), true); }
void decide_usable() { GANTRY_SKIP_OR_FAIL("stand-in", Status(), true); }

TEST(BackendRejects, RejectedProbeFailsAndUsableOneRuns) {
  EXPECT_FATAL_FAILURE(decide_rejected(), "backend stand-in cannot run on this device: device 0");
  decide_usable();
  EXPECT_FALSE(::testing::Test::IsSkipped());
}

}  // namespace
}  // namespace gantry

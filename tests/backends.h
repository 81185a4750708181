// The GPU backends built into this test binary, and the skip for a backend
// that is built in but has no device here (the message says what is missing).
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "engine/backend.h"

namespace gantry::testing {

inline std::vector<BackendKind> gpu_backends() {
  std::vector<BackendKind> out;
#if GANTRY_HAVE_VULKAN
  out.push_back(BackendKind::vulkan);
#endif
#if GANTRY_HAVE_CUDA
  out.push_back(BackendKind::cuda);
#endif
  return out;
}

}  // namespace gantry::testing

// A device the build cannot run on (backend_rejects_device) fails the test:
// a skip would read as "no GPU here" when the GPU is there and the build is wrong for it.
#define GANTRY_SKIP_UNLESS_USABLE(kind)                                                                         \
  do {                                                                                                          \
    if (const ::gantry::Status s_ = ::gantry::backend_status(kind); !s_.ok()) {                                 \
      if (::gantry::backend_rejects_device(kind))                                                               \
        FAIL() << "backend " << ::gantry::backend_name(kind) << " cannot run on this device: " << s_.message(); \
      GTEST_SKIP() << "backend " << ::gantry::backend_name(kind) << " has no device here: " << s_.message();    \
    }                                                                                                           \
  } while (0)

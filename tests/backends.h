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
#define GANTRY_SKIP_UNLESS_USABLE(kind)                                             \
  GANTRY_SKIP_OR_FAIL(::gantry::backend_name(kind), ::gantry::backend_status(kind), \
                      ::gantry::backend_rejects_device(kind))
// The decision itself, on a backend's name, probe status and rejected flag.
#define GANTRY_SKIP_OR_FAIL(name, status, rejected)                                                   \
  do {                                                                                                \
    if (const ::gantry::Status s_ = (status); !s_.ok()) {                                             \
      if (rejected) FAIL() << "backend " << (name) << " cannot run on this device: " << s_.message(); \
      GTEST_SKIP() << "backend " << (name) << " has no device here: " << s_.message();                \
    }                                                                                                 \
  } while (0)

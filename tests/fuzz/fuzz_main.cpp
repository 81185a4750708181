// libFuzzer entry point for one target of targets.h; tests/fuzz/CMakeLists.txt
// builds this file once per target with GANTRY_FUZZ_TARGET set to its name.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/targets.h"

#ifndef GANTRY_FUZZ_TARGET
#error "GANTRY_FUZZ_TARGET must name a target of tests/fuzz/targets.h"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)gantry::fuzz::feed(GANTRY_FUZZ_TARGET, {reinterpret_cast<const std::byte*>(data), size});
  return 0;
}

// The fuzz targets, shared by the libFuzzer harnesses (fuzz_main.cpp, one
// executable per target) and by the regression replay in the ordinary test
// suite (test_fuzz_regressions.cpp). Each target feeds bytes to one reader
// and checks what the reader promises about a file it accepts; a broken
// promise aborts (a crash for libFuzzer, a failed test for ctest), while a
// clean error is the expected answer to most inputs.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/status.h"

namespace gantry::fuzz {

// Target names, which are also the folder names under tests/fuzz/corpus and
// tests/fuzz/regressions.
const std::vector<std::string>& target_names();

// Runs target `name` on `bytes`: the reader's own Status (ok or its error
// message). Aborts, naming the target and the broken promise, when the reader
// accepted the input but returned something inconsistent. Unknown names are
// an error.
Status feed(std::string_view name, std::span<const std::byte> bytes);

}  // namespace gantry::fuzz

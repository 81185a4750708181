// Replays every input under tests/fuzz/regressions/<target>/ (inputs that once
// crashed a reader, kept after the fix) and tests/fuzz/corpus/<target>/ (the
// seed files) through the fuzz targets in the ordinary build, so the normal
// test suite guards the fixes without clang or libFuzzer. A regression must
// end in a clean answer: an error message or an accepted file whose promises
// hold (a broken promise aborts the test binary).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

const fs::path kFuzzDir = fs::path(GANTRY_SOURCE_DIR) / "tests" / "fuzz";

std::vector<std::byte> slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) bytes[i] = std::byte(chars[i]);
  return bytes;
}

struct Replayed {
  size_t files = 0, accepted = 0;
};

// Every regular file in `dir`/<target>, fed to <target>.
Replayed replay(const fs::path& dir, const std::string& target) {
  const fs::path folder = dir / target;
  Replayed r;
  if (!fs::is_directory(folder)) return r;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (!entry.is_regular_file() || entry.path().filename().string().starts_with(".")) continue;
    SCOPED_TRACE(entry.path().string());
    const gantry::Status s = gantry::fuzz::feed(target, slurp(entry.path()));
    // A rejection must say why; an acceptance has had its promises checked by feed().
    EXPECT_TRUE(s.ok() || !s.message().empty()) << "rejected without a message";
    ++r.files;
    r.accepted += s.ok();
  }
  return r;
}

class FuzzRegressions : public ::testing::TestWithParam<std::string> {};

// Reaching the end without an abort (or, under scripts/sanitize.sh, a
// sanitizer report) is the test.
TEST_P(FuzzRegressions, CrashInputsReplayCleanly) {
  const Replayed r = replay(kFuzzDir / "regressions", GetParam());
  std::printf("%zu regression inputs for %s, %zu accepted\n", r.files, GetParam().c_str(), r.accepted);
}

// The seeds are valid files: a reader that rejects all of them has regressed
// (and the fuzzer would start from nothing).
TEST_P(FuzzRegressions, SeedCorpusIsAccepted) {
  const Replayed r = replay(kFuzzDir / "corpus", GetParam());
  EXPECT_GT(r.files, 0u) << "no seed files in tests/fuzz/corpus/" << GetParam();
  EXPECT_GT(r.accepted, 0u) << "no seed file in tests/fuzz/corpus/" << GetParam() << " is accepted";
}

INSTANTIATE_TEST_SUITE_P(Fuzz, FuzzRegressions, ::testing::ValuesIn(gantry::fuzz::target_names()),
                         [](const auto& info) { return info.param; });

TEST(FuzzTargets, UnknownTargetIsAnError) { EXPECT_FALSE(gantry::fuzz::feed("nope", {}).ok()); }

}  // namespace

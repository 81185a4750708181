// The golden-case loader rejects malformed files with a message naming the
// file and the problem, and the runner fails a case whose stored output is
// wrong (so a passing golden suite means something). `gantry golden` itself
// is run for its exit statuses: 0 pass, 1 a failing check, 2 bad input, 77 no
// device.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "io/golden.h"
#include "io/safetensors.h"

using namespace gantry;

namespace {

// A valid 1-channel case: 1×1 input, 2×2 kernel, stride 1 → 2×2 output = x·w.
SafeTensorsFile valid_case() {
  SafeTensorsFile f;
  f.tensors = {{"input", Shape{1, 1, 1, 1}, {2}},
               {"weight", Shape{1, 1, 2, 2}, {1, 2, 3, 4}},
               {"output", Shape{1, 1, 2, 2}, {2, 4, 6, 8}}};
  f.metadata = {{"op", "conv_transpose2d"}, {"stride", "1,1"},   {"padding", "0,0"},
                {"output_padding", "0,0"},  {"dilation", "1,1"}, {"groups", "1"}};
  return f;
}

std::string write(const std::string& name, const SafeTensorsFile& f) {
  const std::string path = ::testing::TempDir() + "/" + name + ".safetensors";
  EXPECT_TRUE(write_safetensors(path, f).ok());
  return path;
}

void expect_rejected(const std::string& name, SafeTensorsFile f, const char* problem) {
  const std::string path = write(name, f);
  auto c = load_golden_case(path);
  ASSERT_FALSE(c.ok()) << name;
  EXPECT_NE(c.message().find(path), std::string::npos) << c.message();
  EXPECT_NE(c.message().find(problem), std::string::npos) << c.message();
}

TEST(Golden, ValidCasePassesAndWrongOutputFails) {
  auto c = load_golden_case(write("valid", valid_case()));
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_TRUE(run_golden_case(*c, BackendKind::cpu).pass());
  SafeTensorsFile bad = valid_case();
  bad.tensors[2].data[3] = 8.001f;
  auto w = load_golden_case(write("wrong_output", bad));
  ASSERT_TRUE(w.ok());
  const GoldenResult r = run_golden_case(*w, BackendKind::cpu);
  EXPECT_FALSE(r.pass());
  ASSERT_EQ(r.checks.size(), 1u);
  EXPECT_NEAR(r.checks[0].max_abs, 0.001, 1e-5);
}

TEST(Golden, MalformedFilesAreRejectedByName) {
  SafeTensorsFile f = valid_case();
  f.metadata[0].second = "conv2d";
  expect_rejected("wrong_op", f, "\"conv2d\" is not supported");
  f = valid_case();
  f.metadata[1].second = "2";
  expect_rejected("bad_stride", f, "stride \"2\"");
  f = valid_case();
  f.metadata[5].second = "zero";
  expect_rejected("bad_groups", f, "groups \"zero\"");
  f = valid_case();
  f.metadata.pop_back();
  expect_rejected("no_groups", f, "no \"groups\"");
  f = valid_case();
  f.tensors.erase(f.tensors.begin() + 1);
  expect_rejected("no_weight", f, "missing tensor \"weight\"");
  f = valid_case();
  f.tensors[2].shape = Shape{1, 1, 3, 3};
  f.tensors[2].data.assign(9, 0);
  expect_rejected("wrong_output_shape", f, "gives [1,1,2,2]");
  f = valid_case();
  f.tensors.push_back({"grad_input", Shape{1, 1, 1, 1}, {0}});
  expect_rejected("grad_without_grad_output", f, "without \"grad_output\"");
  f = valid_case();
  f.tensors.push_back({"extra", Shape{1}, {0}});
  expect_rejected("extra_tensor", f, "unexpected tensor \"extra\"");
  f = valid_case();
  f.metadata[3].second = "1,1";  // output_padding 1 with stride 1, dilation 1
  expect_rejected("output_padding_too_big", f, "output_padding");
}

TEST(Golden, EmptyTensorsAreRejected) {
  // Valid safetensors (the spec allows empty tensors), but a case that compares nothing.
  SafeTensorsFile f = valid_case();
  f.tensors[0] = {"input", Shape{0, 1, 1, 1}, {}};
  expect_rejected("empty_input", f, "tensor \"input\" has shape [0,1,1,1] and holds no values");
  f = valid_case();
  f.tensors.push_back({"bias", Shape{0}, {}});
  expect_rejected("empty_bias", f, "tensor \"bias\" has shape [0] and holds no values");
}

TEST(Golden, ParsesFromMemoryLikeFromAFile) {
  auto bytes = serialize_safetensors(valid_case());
  ASSERT_TRUE(bytes.ok()) << bytes.message();
  auto c = parse_golden_case(bytes.value(), "in-memory case");
  ASSERT_TRUE(c.ok()) << c.message();
  EXPECT_EQ(c->file, "in-memory case");
  EXPECT_TRUE(run_golden_case(*c, BackendKind::cpu).pass());
  std::vector<std::byte> cut = bytes.value();
  cut.resize(cut.size() - 1);
  auto bad = parse_golden_case(cut, "in-memory case");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("in-memory case"), std::string::npos) << bad.message();
}

// `gantry golden ARGS`, with its exit status and what it printed (stdout then stderr).
struct CliRun {
  int status = -1;
  std::string output;
};

CliRun gantry_golden(const std::string& args) {
  const std::string out = ::testing::TempDir() + "/gantry_golden_cli.txt";
  const std::string cmd =
      std::string(GANTRY_EMULATOR) + " '" + GANTRY_EXE + "' golden " + args + " >'" + out + "' 2>&1";
  const int raw = std::system(cmd.c_str());
  CliRun r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  r.output = ss.str();
  return r;
}

TEST(GoldenCli, ExitStatusSaysWhatWentWrong) {
  const std::string good = write("cli_good", valid_case());
  SafeTensorsFile wrong = valid_case();
  wrong.tensors[2].data[0] = 3;
  const std::string failing = write("cli_failing", wrong);
  const std::string corrupt = ::testing::TempDir() + "/cli_corrupt.safetensors";
  std::ofstream(corrupt) << "not a safetensors file";

  CliRun r = gantry_golden("'" + good + "'");
  EXPECT_EQ(r.status, 0) << r.output;
  r = gantry_golden("'" + failing + "'");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos) << r.output;

  // Bad input is status 2, with a message naming the file.
  r = gantry_golden("");
  EXPECT_EQ(r.status, 2) << r.output;
  r = gantry_golden("--no-such-flag '" + good + "'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("unknown flag --no-such-flag"), std::string::npos) << r.output;
  r = gantry_golden("'" + good + "' --backend");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--backend needs a value"), std::string::npos) << r.output;
  r = gantry_golden("--help");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("usage: gantry golden"), std::string::npos) << r.output;
  r = gantry_golden("'" + corrupt + "'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find(corrupt), std::string::npos) << r.output;
  r = gantry_golden("/dev/zero");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("/dev/zero"), std::string::npos) << r.output;
  r = gantry_golden("/nonexistent/case.safetensors");
  EXPECT_EQ(r.status, 2) << r.output;

  // One corrupt file among good ones: the others still run and are
  // reported, and the status is 2 (bad input outranks a failing check).
  r = gantry_golden("'" + good + "' '" + corrupt + "' '" + failing + "'");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("cli_good"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos)
      << "the failing case after the corrupt one did not run: " << r.output;
  EXPECT_NE(r.output.find("1 of 3 case files could not be read"), std::string::npos) << r.output;

#if !GANTRY_HAVE_CUDA
  r = gantry_golden("--backend cuda '" + good + "'");
  EXPECT_EQ(r.status, 77) << r.output;
#endif
}

TEST(Golden, CollectsDirectoriesAndReportsMissingPaths) {
  EXPECT_FALSE(collect_golden_files({"/nonexistent/golden"}).ok());
  auto files = collect_golden_files({std::string(GANTRY_SOURCE_DIR) + "/tests/golden/conv_transpose2d"});
  ASSERT_TRUE(files.ok()) << files.message();
  EXPECT_GE(files->size(), 25u);
}

}  // namespace

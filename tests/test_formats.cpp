// File formats: safetensors, .npy, IDX (MNIST) and the atomic writer beneath
// them. Expected bytes are spelled out here from each format's specification
// (safetensors README, numpy/lib/format.py, LeCun's IDX description), never
// produced by the serializers under test. Every rejected file is checked to
// produce a message that names the file and the specific problem.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <future>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <ostream>

#include "io/idx.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "platform/atomic_file.h"

using namespace gantry;
namespace fs = std::filesystem;

namespace {

std::vector<std::byte> bytes_of(std::string_view s) {
  std::vector<std::byte> b(s.size());
  if (!s.empty()) std::memcpy(b.data(), s.data(), s.size());
  return b;
}

std::vector<std::byte> bytes_of(std::initializer_list<int> v) {
  std::vector<std::byte> b;
  for (int x : v) b.push_back(std::byte(x));
  return b;
}

void append(std::vector<std::byte>& out, const std::vector<std::byte>& more) {
  out.insert(out.end(), more.begin(), more.end());
}

void append_u64_le(std::vector<std::byte>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(std::byte(v >> (8 * i)));
}

void append_u32_be(std::vector<std::byte>& out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(std::byte(v >> (8 * i)));
}

void append_f32_le(std::vector<std::byte>& out, std::initializer_list<float> values) {
  for (float f : values)
    for (int i = 0; i < 4; ++i) out.push_back(std::byte(std::bit_cast<uint32_t>(f) >> (8 * i)));
}

// Every test gets a fresh directory of its own, so files never collide.
class Formats : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    std::replace(name.begin(), name.end(), '/', '_');  // parameterised tests: "Case/param"
    dir_ = fs::path(::testing::TempDir()) / ("gantry_formats_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string put(const std::string& name, const std::vector<std::byte>& bytes) const {
    const std::string p = path(name);
    EXPECT_TRUE(write_file_atomic(p, bytes).ok());
    return p;
  }

  fs::path dir_;
};

// A safetensors file: 8-byte little-endian length, the header as given, the buffer.
std::vector<std::byte> safetensors_bytes(std::string_view header, const std::vector<std::byte>& buffer) {
  std::vector<std::byte> out;
  append_u64_le(out, header.size());
  append(out, bytes_of(header));
  append(out, buffer);
  return out;
}

template <class R>
void expect_error(const R& r, const std::string& file, const std::vector<std::string>& parts) {
  ASSERT_FALSE(r.ok()) << "expected an error naming " << file;
  EXPECT_NE(r.message().find(file), std::string::npos) << "message does not name the file: " << r.message();
  for (const std::string& p : parts)
    EXPECT_NE(r.message().find(p), std::string::npos) << "missing '" << p << "' in: " << r.message();
}

void expect_same(const SafeTensorsFile& a, const SafeTensorsFile& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    SCOPED_TRACE(a.tensors[i].name);
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].shape, b.tensors[i].shape);
    EXPECT_EQ(a.tensors[i].data, b.tensors[i].data);
  }
}

// ---- atomic file

TEST_F(Formats, AtomicWriteReplacesFileAndLeavesNoTemporary) {
  const std::string p = path("out.bin");
  ASSERT_TRUE(write_file_atomic(p, bytes_of("first, longer content")).ok());
  ASSERT_TRUE(write_file_atomic(p, bytes_of("second")).ok());
  Result<std::vector<std::byte>> r = read_file(p);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r.value(), bytes_of("second"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << "a temporary file was left behind";
  ASSERT_TRUE(write_file_atomic(p, {}).ok());
  EXPECT_TRUE(read_file(p).value().empty());
}

// A killed writer leaves "<file>.tmp-<pid>": the next write of that file
// removes it, but never a temporary whose writer is alive, nor another file's.
TEST_F(Formats, AtomicWriteRemovesStaleTemporariesOfDeadWriters) {
  const std::string p = path("grid.png");
  pid_t dead = fork();  // a pid that surely belongs to no running process once reaped
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  int status = 0;
  ASSERT_EQ(waitpid(dead, &status, 0), dead);
  const std::string stale = p + ".tmp-" + std::to_string(dead), live = p + ".tmp-" + std::to_string(getppid()),
                    other = path("other.png.tmp-") + std::to_string(dead);
  for (const std::string& f : {stale, live, other}) ASSERT_TRUE(write_file_atomic(f, bytes_of("x")).ok());
  ASSERT_TRUE(write_file_atomic(p, bytes_of("new")).ok());
  EXPECT_FALSE(fs::exists(stale)) << "the dead writer's temporary was left";
  EXPECT_TRUE(fs::exists(live)) << "a live writer's temporary was removed";
  EXPECT_TRUE(fs::exists(other)) << "another file's temporary was removed";
  EXPECT_EQ(remove_stale_temporaries(dir_, ""), 1);  // a whole directory: `other` goes too
  EXPECT_TRUE(fs::exists(live));
}

TEST_F(Formats, ReadFileErrorsNameFileAndReason) {
  expect_error(read_file(path("absent.bin")), "absent.bin", {"cannot open", "No such file or directory"});
  expect_error(read_file(dir_.string()), dir_.string(), {"Is a directory"});
  const Status s = write_file_atomic(path("no/such/dir/out.bin"), bytes_of("x"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("no/such/dir/out.bin"), std::string::npos) << s.message();
}

TEST_F(Formats, ReadFileRefusesDevicesThatNeverEnd) {
  // Before the type check this grew a buffer until memory ran out.
  expect_error(read_file("/dev/zero"), "/dev/zero", {"character device", "regular files only"});
}

TEST_F(Formats, ReadFileRefusesFifoWithoutBlocking) {
  const std::string p = path("pipe");
  ASSERT_EQ(::mkfifo(p.c_str(), 0600), 0) << std::strerror(errno);
  // Hold the FIFO open for writing ourselves, so that even a reader that
  // blocks (open waits for a writer, read for data or end of file) is released
  // when we close it below: the test can fail but cannot hang.
  const int keep = ::open(p.c_str(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(keep, 0) << std::strerror(errno);
  auto pending = std::async(std::launch::async, [&] { return read_file(p); });
  const bool finished = pending.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  ::close(keep);
  EXPECT_TRUE(finished) << "read_file blocked on a FIFO";
  expect_error(pending.get(), p, {"FIFO", "regular files only"});
}

TEST_F(Formats, ReadFileEnforcesItsSizeLimit) {
  const std::string p = put("hundred.bin", std::vector<std::byte>(100, std::byte{1}));
  expect_error(read_file(p, 99), "hundred.bin", {"100 bytes", "limit of 99 bytes"});
  Result<std::vector<std::byte>> exact = read_file(p, 100);
  ASSERT_TRUE(exact.ok()) << exact.message();
  EXPECT_EQ(exact->size(), 100u);
  EXPECT_GE(kReadFileMaxBytes, uint64_t(1) << 32) << "the default limit must allow any real checkpoint";
}

// ---- safetensors

TEST_F(Formats, SafetensorsRoundTripWithMetadataAndRanks0To4) {
  SafeTensorsFile f;
  f.metadata = {{"format", "pt"}, {"note", "quote \" backslash \\ newline \n tab \t bell \x07 é"}};
  f.tensors.push_back({"step", Shape{}, {42.5f}});
  f.tensors.push_back({"g.w1", Shape{2, 1, 3, 2}, {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6.25f}});
  f.tensors.push_back({"g.bias", Shape{3}, {0.1f, std::numeric_limits<float>::infinity(), -0.0f}});
  f.tensors.push_back({"empty", Shape{0, 4}, {}});
  const std::string p = path("model.safetensors");
  ASSERT_TRUE(write_safetensors(p, f).ok());
  Result<SafeTensorsFile> r = read_safetensors(p);
  ASSERT_TRUE(r.ok()) << r.message();
  expect_same(f, r.value());
  ASSERT_NE(r->find("g.bias"), nullptr);
  EXPECT_EQ(r->find("missing"), nullptr);
  ASSERT_NE(r->meta("format"), nullptr);
  EXPECT_EQ(*r->meta("format"), "pt");
  EXPECT_EQ(r->meta("absent"), nullptr);
  // The header is padded to 8 bytes so the data buffer is aligned in the file.
  EXPECT_EQ(uint64_t(read_file(p).value()[0]) % 8, 0u);
}

TEST_F(Formats, SafetensorsSerializerMatchesSpecByteForByte) {
  // Compact JSON, "__metadata__" first, each tensor's fields in the order
  // dtype, shape, data_offsets, offsets relative to the buffer; 132 header
  // bytes padded with 4 spaces to 136 = 0x88.
  std::vector<std::byte> want = bytes_of({0x88, 0, 0, 0, 0, 0, 0, 0});
  append(want, bytes_of("{\"__metadata__\":{\"k\":\"v\"},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[8,12]}}    "));
  append(want, bytes_of({0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0}));  // 1.0f, -2.0f
  append(want, bytes_of({0x00, 0x00, 0x00, 0x3f}));                          // 0.5f
  SafeTensorsFile f;
  f.metadata = {{"k", "v"}};
  f.tensors = {{"a", Shape{2}, {1.0f, -2.0f}}, {"b", Shape{}, {0.5f}}};
  Result<std::vector<std::byte>> got = serialize_safetensors(f);
  ASSERT_TRUE(got.ok()) << got.message();
  EXPECT_EQ(got.value(), want);
  Result<SafeTensorsFile> back = parse_safetensors(want, "spec");
  ASSERT_TRUE(back.ok()) << back.message();
  expect_same(f, back.value());
  // No metadata and no tensors: "{}" and six spaces.
  EXPECT_EQ(serialize_safetensors(SafeTensorsFile{}).value(), safetensors_bytes("{}      ", {}));
}

TEST_F(Formats, SafetensorsReadsPrettyHeaderWithEscapesAndAnyKeyOrder) {
  std::vector<std::byte> buf;
  append_f32_le(buf, {3.0f, 4.0f});
  const std::string header =
      "{\n  \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\/\" : {\n    \"data_offsets\" : [ 0 , 8 ],\n"
      "    \"shape\": [1, 2], \"dtype\": \"F32\"\n  },\n  \"__metadata__\": {\"tab\": \"a\\tb\"}\n}\n";
  const std::string p = put("pretty.safetensors", safetensors_bytes(header, buf));
  Result<SafeTensorsFile> r = read_safetensors(p);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(r->tensors.size(), 1u);
  EXPECT_EQ(r->tensors[0].name, "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" /");
  EXPECT_EQ(r->tensors[0].shape, (Shape{1, 2}));
  EXPECT_EQ(r->tensors[0].data, (std::vector<float>{3.0f, 4.0f}));
  ASSERT_NE(r->meta("tab"), nullptr);
  EXPECT_EQ(*r->meta("tab"), "a\tb");
}

TEST_F(Formats, SafetensorsDecodesF16BF16AndF64Exactly) {
  // F16: 1.0, -2.0, +inf, the smallest subnormal 2^-24, 0x3555 = 1365/4096.
  // BF16: 1.0, -5.0. F64: 0.1 (rounded to float), -3.5.
  std::vector<std::byte> buf = bytes_of({0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c, 0x01, 0x00, 0x55, 0x35,  // F16
                                         0x80, 0x3f, 0xa0, 0xc0});                                    // BF16
  for (double d : {0.1, -3.5})
    for (int i = 0; i < 8; ++i) buf.push_back(std::byte(std::bit_cast<uint64_t>(d) >> (8 * i)));
  const std::string header =
      "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[10,14]},"
      "\"d\":{\"dtype\":\"F64\",\"shape\":[2,1],\"data_offsets\":[14,30]}}";
  Result<SafeTensorsFile> r = parse_safetensors(safetensors_bytes(header, buf), "halves");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->find("h")->data, (std::vector<float>{1.0f, -2.0f, std::numeric_limits<float>::infinity(),
                                                    std::ldexp(1.0f, -24), 1365.0f / 4096.0f}));
  EXPECT_EQ(r->find("b")->data, (std::vector<float>{1.0f, -5.0f}));
  EXPECT_EQ(r->find("d")->data, (std::vector<float>{float(0.1), -3.5f}));
  EXPECT_EQ(r->find("d")->shape, (Shape{2, 1}));
}

// A file cut short anywhere is an error, never a crash or a silent partial read.
TEST_F(Formats, SafetensorsEveryTruncationIsAnError) {
  SafeTensorsFile f;
  f.metadata = {{"k", "v"}};
  f.tensors = {{"a", Shape{2}, {1.0f, -2.0f}}, {"b", Shape{}, {0.5f}}};
  const std::vector<std::byte> whole = serialize_safetensors(f).value();
  for (size_t n = 0; n < whole.size(); ++n)
    EXPECT_FALSE(parse_safetensors(std::span(whole).first(n), "cut").ok()) << "accepted the first " << n << " bytes";
}

TEST_F(Formats, SafetensorsWriterRejectsBadInput) {
  SafeTensorsFile f;
  f.tensors = {{"w", Shape{2, 3}, {1, 2, 3}}};
  expect_error(serialize_safetensors(f), "'w'", {"[2,3]", "3 values"});
  f.tensors = {{"w", Shape{1}, {1}}, {"w", Shape{1}, {2}}};
  const Status s = write_safetensors(path("dup_out.safetensors"), f);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("duplicate tensor name 'w'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("dup_out.safetensors"), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(path("dup_out.safetensors")));
}

// ---- npy

// "\x93NUMPY", version, little-endian header length, header, then data.
std::vector<std::byte> npy_bytes(int major, std::string_view header, const std::vector<std::byte>& data) {
  std::vector<std::byte> out = bytes_of(std::string_view("\x93NUMPY", 6));
  out.push_back(std::byte(major));
  out.push_back(std::byte{0});
  for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out.push_back(std::byte(header.size() >> (8 * i)));
  append(out, bytes_of(header));
  append(out, data);
  return out;
}

TEST_F(Formats, NpyWriterMatchesFormatSpec) {
  // 10 prefix bytes + 57 dict bytes + padding + '\n' = 128: the data starts
  // at the second multiple of 64, so the header length is 118 = 0x76.
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }";
  std::vector<std::byte> want = npy_bytes(1, dict + std::string(118 - dict.size() - 1, ' ') + "\n", {});
  append_f32_le(want, {1, 2, 3, 4, -0.5f});
  const std::vector<float> data{1, 2, 3, 4, -0.5f};
  EXPECT_EQ(serialize_npy(Shape{5}, data).value(), want);
  // 0-d: "()" and one value; 10 + 55 + 1 = 66 > 64, so again 128 bytes.
  const std::string dict0 = "{'descr': '<f4', 'fortran_order': False, 'shape': (), }";
  std::vector<std::byte> want0 = npy_bytes(1, dict0 + std::string(118 - dict0.size() - 1, ' ') + "\n", {});
  append_f32_le(want0, {7.0f});
  EXPECT_EQ(serialize_npy(Shape{}, std::vector<float>{7.0f}).value(), want0);
  const std::vector<std::byte> two = serialize_npy(Shape{2, 3}, std::vector<float>(6)).value();
  const std::string text(reinterpret_cast<const char*>(two.data()) + 10, 118);
  EXPECT_EQ(text.substr(0, 59), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }");
}

TEST_F(Formats, NpyRoundTrip1d0d4d) {
  const std::vector<std::pair<Shape, std::vector<float>>> cases = {
      {Shape{3}, {1.5f, -2.0f, 3.25f}},
      {Shape{}, {42.0f}},
      {Shape{2, 1, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, -12}},
      {Shape{0}, {}},
  };
  for (const auto& [shape, data] : cases) {
    SCOPED_TRACE(shape.str());
    const std::string p = path("a.npy");
    ASSERT_TRUE(write_npy(p, shape, data).ok());
    Result<NpyArray> r = read_npy(p);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->shape, shape);
    EXPECT_EQ(r->data, data);
    EXPECT_EQ((fs::file_size(p) - 4 * data.size()) % 64, 0u);
  }
}

TEST_F(Formats, NpyEveryTruncationIsAnError) {
  const std::vector<std::byte> whole = serialize_npy(Shape{2, 2}, std::vector<float>{1, 2, 3, 4}).value();
  for (size_t n = 0; n < whole.size(); ++n)
    EXPECT_FALSE(parse_npy(std::span(whole).first(n), "cut").ok()) << "accepted the first " << n << " bytes";
}

TEST_F(Formats, NpyReadsVersion2F64DoubleQuotesAndPython2Longs) {
  std::vector<std::byte> data;
  for (double d : {0.25, -1e300})
    for (int i = 0; i < 8; ++i) data.push_back(std::byte(std::bit_cast<uint64_t>(d) >> (8 * i)));
  const std::string p =
      put("v2.npy", npy_bytes(2, "{\"shape\": (1L, 2L), \"fortran_order\": False, \"descr\": \"<f8\"}\n", data));
  Result<NpyArray> r = read_npy(p);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(r->shape, (Shape{1, 2}));
  EXPECT_EQ(r->data, (std::vector<float>{0.25f, -std::numeric_limits<float>::infinity()}));
}

// ---- IDX / MNIST

std::vector<std::byte> idx_images(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, size_t pixel_bytes) {
  std::vector<std::byte> out;
  for (uint32_t v : {magic, n, rows, cols}) append_u32_be(out, v);
  for (size_t i = 0; i < pixel_bytes; ++i) out.push_back(std::byte(i * 7));
  return out;
}

std::vector<std::byte> idx_labels(std::initializer_list<int> labels) {
  std::vector<std::byte> out;
  append_u32_be(out, kIdxLabelsMagic);
  append_u32_be(out, uint32_t(labels.size()));
  for (int l : labels) out.push_back(std::byte(l));
  return out;
}

TEST_F(Formats, IdxReadsImagesAndLabels) {
  Result<IdxImages> im = read_idx_images(put("img", idx_images(kIdxImagesMagic, 3, 2, 4, 24)));
  ASSERT_TRUE(im.ok()) << im.message();
  EXPECT_EQ(im->count, 3);
  EXPECT_EQ(im->rows, 2);
  EXPECT_EQ(im->cols, 4);
  ASSERT_EQ(im->pixels.size(), 24u);
  EXPECT_EQ(im->pixels[23], uint8_t(23 * 7));
  Result<std::vector<uint8_t>> lb = read_idx_labels(put("lbl", idx_labels({7, 0, 9})));
  ASSERT_TRUE(lb.ok()) << lb.message();
  EXPECT_EQ(lb.value(), (std::vector<uint8_t>{7, 0, 9}));
}

TEST_F(Formats, EmptyTensorsAreValidSafetensorsAndNpy) {
  // The safetensors spec allows zero-element tensors (and so does NumPy);
  // whoever consumes one (golden cases, images) decides whether it may be empty.
  Result<SafeTensorsFile> st = read_safetensors(
      put("empty.safetensors",
          safetensors_bytes("{\"z\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[0,0]}}", {})));
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(st->tensors.size(), 1u);
  EXPECT_EQ(st->tensors[0].shape, (Shape{3, 0}));
  EXPECT_TRUE(st->tensors[0].data.empty());
  Result<NpyArray> np =
      read_npy(put("empty.npy", npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }\n", {})));
  ASSERT_TRUE(np.ok()) << np.message();
  EXPECT_EQ(np->shape, (Shape{0, 5}));
  EXPECT_TRUE(np->data.empty());
}

TEST_F(Formats, IdxParsesFromMemoryWithTheSameChecks) {
  const std::vector<std::byte> bytes = idx_images(kIdxImagesMagic, 1, 2, 2, 4);
  Result<IdxImages> im = parse_idx_images(bytes, "in-memory");
  ASSERT_TRUE(im.ok()) << im.message();
  EXPECT_EQ(im->pixels.size(), 4u);
  expect_error(parse_idx_images(idx_images(kIdxImagesMagic, 0, 2, 2, 0), "in-memory"), "in-memory",
               {"holds no images"});
  expect_error(parse_idx_labels(bytes, "in-memory"), "in-memory", {"wrong magic number"});
}

// ---- rejected files: one case each, listed in ctest by file name. Each
// message must name the file and the specific problem.

enum class Reader { safetensors, npy, idx_images, idx_labels };

struct BadFile {
  std::string file;
  Reader reader;
  std::vector<std::byte> bytes;
  std::vector<std::string> expect;  // substrings of the message, besides the file name
};

void PrintTo(const BadFile& c, std::ostream* os) {
  *os << c.file << " (" << c.bytes.size() << " bytes), expecting";
  for (const std::string& e : c.expect) *os << " '" << e << "'";
}

template <class T>
Status status_of(const Result<T>& r) {
  return r.ok() ? Status() : r.status();
}

Status read_with(Reader reader, const std::string& path) {
  switch (reader) {
    case Reader::safetensors:
      return status_of(read_safetensors(path));
    case Reader::npy:
      return status_of(read_npy(path));
    case Reader::idx_images:
      return status_of(read_idx_images(path));
    case Reader::idx_labels:
      return status_of(read_idx_labels(path));
  }
  return Status::error("unknown reader");
}

std::vector<BadFile> bad_files() {
  auto st = [](const char* header, size_t buffer_bytes) {
    return safetensors_bytes(header, std::vector<std::byte>(buffer_bytes));
  };
  auto length_only = [](uint64_t n) {
    std::vector<std::byte> b;
    append_u64_le(b, n);
    append(b, bytes_of("{}"));
    return b;
  };
  auto npy = [](int major, const char* descr, const char* fortran, const char* shape) {
    return npy_bytes(
        major, std::string("{'descr': '") + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n",
        std::vector<std::byte>(4));
  };
  std::vector<std::byte> header_only = idx_images(kIdxImagesMagic, 2, 2, 2, 0);
  header_only.resize(10);
  std::vector<std::byte> cut_labels = idx_labels({1, 2, 3});
  cut_labels.pop_back();
  const auto S = Reader::safetensors, N = Reader::npy;
  return {
      {"short.safetensors", S, bytes_of({5, 0, 0}), {"3 bytes", "shorter than the 8-byte"}},
      {"past_end.safetensors", S, length_only(100), {"header length 100", "past the end"}},
      {"huge_header.safetensors", S, length_only(uint64_t(1) << 40), {"header length 1099511627776", "limit"}},
      {"bad_json.safetensors",
       S,
       st("{\"a\":{\"dtype\" \"F32\"}}", 0),
       {"invalid JSON", "header byte 14", "expected ':'"}},
      {"trailing_json.safetensors", S, st("{} x", 0), {"invalid JSON", "header byte 3"}},
      {"lone_surrogate.safetensors", S, st("{\"\\ud800\":1}", 0), {"invalid JSON", "surrogate"}},
      {"not_object.safetensors", S, st("[]", 0), {"expected an object"}},
      {"no_dtype.safetensors",
       S,
       st("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
       {"tensor 't'", "missing 'dtype'"}},
      {"no_shape.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4),
       {"tensor 't'", "missing 'shape'"}},
      {"no_offsets.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4),
       {"tensor 't'", "missing 'data_offsets'"}},
      {"c64.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8),
       {"tensor 't'", "dtype 'C64'", "F32, F64, F16, BF16"}},
      {"rank6.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4),
       {"tensor 't'", "rank 6", "0 to 5"}},
      {"size_mismatch.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4),
       {"tensor 't'", "needs 8 bytes", "span 4"}},
      {"out_of_buffer.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4),
       {"tensor 't'", "[0, 8]", "past the end of the 4-byte data buffer"}},
      // One byte past the buffer, behind a tensor that fills it: the bound
      // check must name the tensor, not leave it to the coverage walk.
      {"one_past_end.safetensors",
       S,
       st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"U8\",\"shape\":[1],"
          "\"data_offsets\":[4,5]}}",
          4),
       {"tensor 'b'", "[4, 5]", "past the end of the 4-byte data buffer"}},
      {"empty_past_end.safetensors",
       S,
       st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"e\":{\"dtype\":\"F32\",\"shape\":[0],"
          "\"data_offsets\":[5,5]}}",
          4),
       {"tensor 'e'", "[5, 5]", "past the end of the 4-byte data buffer"}},
      // 2^32 · 2^32 overflows int64 even though the zero makes the count 0.
      {"numel_overflow.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F32\",\"shape\":[0,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0),
       {"tensor 't'", "[0,4294967296,4294967296]", "overflows a 64-bit integer"}},
      {"bytes_overflow.safetensors",
       S,
       st("{\"t\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8),
       {"tensor 't'", "more bytes than fit in 64 bits"}},
      {"overlap.safetensors",
       S,
       st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
          "\"data_offsets\":[4,12]}}",
          12),
       {"'a' [0, 8]", "'b' [4, 12]", "overlap"}},
      {"hole.safetensors",
       S,
       st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
          "\"data_offsets\":[8,12]}}",
          12),
       {"[4, 8]", "belong to no tensor", "before 'b'"}},
      {"uncovered_tail.safetensors",
       S,
       st("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12),
       {"last 4 bytes", "belong to no tensor"}},
      {"duplicate.safetensors",
       S,
       st("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
          "\"data_offsets\":[4,8]}}",
          8),
       {"duplicate tensor name 'a'"}},
      {"int_metadata.safetensors",
       S,
       st("{\"__metadata__\":{\"epoch\":3}}", 0),
       {"metadata value for key 'epoch'", "must be strings"}},

      {"magic.npy", N, bytes_of("PK\x03\x04 not npy"), {"bad magic"}},
      {"version3.npy", N, npy(3, "<f4", "False", "(1,)"), {"unsupported format version 3.0"}},
      {"int64.npy", N, npy(1, "<i8", "False", "(1,)"), {"dtype '<i8'", "'<f4' and '<f8'"}},
      {"big_endian.npy", N, npy(1, ">f4", "False", "(1,)"), {"big-endian", "'>f4'"}},
      {"fortran.npy", N, npy(1, "<f4", "True", "(1,)"), {"fortran_order is True"}},
      {"short_data.npy", N, npy(1, "<f4", "False", "(2, 3)"), {"truncated data", "needs 24 bytes", "4 follow"}},
      {"rank6.npy", N, npy(1, "<f4", "False", "(1, 1, 1, 1, 1, 1)"), {"rank 6"}},
      {"numel_overflow.npy", N, npy(1, "<f4", "False", "(4294967296, 4294967296, 0)"), {"more elements than"}},
      {"bytes_overflow.npy", N, npy(1, "<f8", "False", "(4611686018427387904,)"), {"truncated data", "more than 2^64"}},
      {"missing_key.npy", N, npy_bytes(1, "{'descr': '<f4'}", {}), {"missing 'fortran_order'"}},

      {"labels_as_images",
       Reader::idx_images,
       idx_labels({1}),
       {"wrong magic number 0x00000801", "expected 0x00000803", "label file"}},
      {"short_images",
       Reader::idx_images,
       idx_images(kIdxImagesMagic, 2, 2, 2, 5),
       {"truncated", "2 x 2 x 2 = 8 bytes", "only 5 bytes"}},
      {"short_image_header", Reader::idx_images, header_only, {"truncated", "shorter than the 16-byte header"}},
      {"short_labels", Reader::idx_labels, cut_labels, {"truncated", "3 bytes of data", "only 2 bytes"}},
      {"gzipped_labels", Reader::idx_labels, bytes_of({0x1f, 0x8b, 8, 0}), {"gzip", "gunzip it first"}},
      // Empty dimensions used to pass here and crash the trainer's resize later.
      {"no_images", Reader::idx_images, idx_images(kIdxImagesMagic, 0, 28, 28, 0), {"holds no images", "0 x 28 x 28"}},
      {"zero_rows", Reader::idx_images, idx_images(kIdxImagesMagic, 2, 0, 28, 0), {"has 0 rows"}},
      {"zero_cols", Reader::idx_images, idx_images(kIdxImagesMagic, 2, 28, 0, 0), {"has 0 columns"}},
      {"no_labels", Reader::idx_labels, idx_labels({}), {"holds no labels"}},
  };
}

class BadFiles : public Formats, public ::testing::WithParamInterface<BadFile> {};

TEST_P(BadFiles, AreRejectedNamingFileAndProblem) {
  const BadFile& c = GetParam();
  expect_error(read_with(c.reader, put(c.file, c.bytes)), c.file, c.expect);
}

INSTANTIATE_TEST_SUITE_P(Formats, BadFiles, ::testing::ValuesIn(bad_files()), [](const auto& info) {
  std::string name = info.param.file;
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(uint8_t(c)); }, '_');
  return name;
});

TEST_F(Formats, MnistFindsEachSpellingAndPrefersTrain) {
  put("t10k-images-idx3-ubyte", idx_images(kIdxImagesMagic, 1, 2, 2, 4));
  put("t10k-labels-idx1-ubyte", idx_labels({4}));
  Result<MnistSet> t = load_mnist(dir_.string());
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->labels, (std::vector<uint8_t>{4}));
  EXPECT_NE(t->images_path.find("t10k-images-idx3-ubyte"), std::string::npos);

  put("train-images.idx3-ubyte", idx_images(kIdxImagesMagic, 2, 2, 2, 8));
  put("train-labels.idx1-ubyte", idx_labels({1, 2}));
  Result<MnistSet> dotted = load_mnist(dir_.string());
  ASSERT_TRUE(dotted.ok()) << dotted.message();
  EXPECT_NE(dotted->images_path.find("train-images.idx3-ubyte"), std::string::npos);

  put("train-images-idx3-ubyte", idx_images(kIdxImagesMagic, 3, 2, 2, 12));
  put("train-labels-idx1-ubyte", idx_labels({9, 8, 7}));
  Result<MnistSet> train = load_mnist(dir_.string());
  ASSERT_TRUE(train.ok()) << train.message();
  EXPECT_EQ(train->images.count, 3);
  EXPECT_EQ(train->labels, (std::vector<uint8_t>{9, 8, 7}));
  EXPECT_NE(train->labels_path.find("train-labels-idx1-ubyte"), std::string::npos);
}

TEST_F(Formats, MnistRejectsCountMismatchAndNonDigitLabels) {
  put("train-images-idx3-ubyte", idx_images(kIdxImagesMagic, 3, 2, 2, 12));
  put("train-labels-idx1-ubyte", idx_labels({1, 2}));
  expect_error(load_mnist(dir_.string()), "train-labels-idx1-ubyte", {"3 images", "2 labels"});
  put("train-labels-idx1-ubyte", idx_labels({1, 12, 3}));
  expect_error(load_mnist(dir_.string()), "train-labels-idx1-ubyte", {"label 12 at index 1", "not a digit"});
}

TEST_F(Formats, MnistExplainsMissingAndGzippedFiles) {
  expect_error(load_mnist(dir_.string()), dir_.string(),
               {"no MNIST files", "train-images-idx3-ubyte", "train-labels.idx1-ubyte", "t10k-labels-idx1-ubyte"});
  put("train-images-idx3-ubyte.gz", bytes_of({0x1f, 0x8b}));
  put("train-labels-idx1-ubyte.gz", bytes_of({0x1f, 0x8b}));
  expect_error(load_mnist(dir_.string()), dir_.string(), {"train-images-idx3-ubyte.gz", "gunzip them first"});
  put("train-images-idx3-ubyte", idx_images(kIdxImagesMagic, 1, 1, 1, 1));
  expect_error(load_mnist(dir_.string()), dir_.string(),
               {"train-images-idx3-ubyte", "not its partner 'train-labels-idx1-ubyte'"});
  expect_error(load_mnist(path("nope")), "nope", {"does not exist"});
}

}  // namespace

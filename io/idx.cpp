// IDX (MNIST) reader and the MNIST directory lookup; see idx.h. Every size in
// the header is checked against the file before any byte is read, empty
// dimensions are refused, and every message names the file. Checked by tests/test_formats.cpp.
#include "io/idx.h"

#include <cstdio>
#include <filesystem>

#include "io/format_bytes.h"
#include "platform/atomic_file.h"

namespace gantry {
namespace {

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

struct IdxPayload {
  std::vector<uint64_t> dims;
  std::vector<uint8_t> data;
};

// `bytes` (from `path`), checked to have `magic`, whose low byte is the number
// of big-endian uint32 dimensions that follow; returns them and the data.
// `dim_names` name the dimensions for the message about an empty one.
Result<IdxPayload> parse_idx(std::span<const std::byte> bytes, const std::string& path, uint32_t magic,
                             const char* kind, const char* const* dim_names) {
  auto fail = [&](const std::string& what) {
    return Status::error(std::string("IDX ") + kind + " file '" + path + "': " + what);
  };

  if (bytes.size() >= 2 && bytes[0] == std::byte{0x1f} && bytes[1] == std::byte{0x8b})
    return fail("is gzip-compressed, which gantry does not read; gunzip it first");
  const size_t ndims = magic & 0xff, header = 4 + 4 * ndims;
  if (bytes.size() < 4)
    return fail("truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the magic number");
  const uint32_t found = uint32_t(format_bytes::load_be(bytes.data(), 4));
  if (found != magic) {
    std::string hint;
    if (found == kIdxImagesMagic) hint = " (that is an IDX image file)";
    if (found == kIdxLabelsMagic) hint = " (that is an IDX label file)";
    return fail("wrong magic number " + hex32(found) + ", expected " + hex32(magic) + hint);
  }
  if (bytes.size() < header)
    return fail("truncated: " + std::to_string(bytes.size()) + " bytes, shorter than the " + std::to_string(header) +
                "-byte header");

  IdxPayload p;
  uint64_t want = 1;
  bool fits = true;
  std::string dims_text;
  for (size_t i = 0; i < ndims; ++i) {
    p.dims.push_back(format_bytes::load_be(bytes.data() + 4 + 4 * i, 4));
    fits = fits && format_bytes::mul_fits(want, p.dims.back(), &want);
    dims_text += (i ? " x " : "") + std::to_string(p.dims.back());
  }
  // A zero dimension means no data at all; reject it here rather than let a
  // trainer divide by the image count or index an empty row.
  for (size_t i = 0; i < ndims; ++i)
    if (p.dims[i] == 0)
      return fail(i == 0 ? std::string("holds no ") + dim_names[0] + " (the header says " + dims_text + ")"
                         : std::string("has 0 ") + dim_names[i] + " (the header says " + dims_text + ")");
  const uint64_t have = bytes.size() - header;
  if (!fits || want > have)
    return fail("truncated: the header says " + dims_text + " = " +
                (fits ? std::to_string(want) : std::string("over 2^64")) + " bytes of data, but only " +
                std::to_string(have) + " bytes follow the " + std::to_string(header) + "-byte header");
  if (want < have)
    return fail(std::to_string(have - want) + " bytes more than the " + dims_text + " = " + std::to_string(want) +
                " bytes its header declares");
  p.data.resize(want);
  for (size_t i = 0; i < want; ++i) p.data[i] = uint8_t(bytes[header + i]);
  return p;
}

}  // namespace

Result<IdxImages> parse_idx_images(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  static const char* const kDims[] = {"images", "rows", "columns"};
  Result<IdxPayload> p = parse_idx(bytes, name_for_errors, kIdxImagesMagic, "image", kDims);
  if (!p.ok()) return p.status();
  IdxImages im;
  im.count = int64_t(p->dims[0]);
  im.rows = int64_t(p->dims[1]);
  im.cols = int64_t(p->dims[2]);
  im.pixels = std::move(p->data);
  return im;
}

Result<std::vector<uint8_t>> parse_idx_labels(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  static const char* const kDims[] = {"labels"};
  Result<IdxPayload> p = parse_idx(bytes, name_for_errors, kIdxLabelsMagic, "label", kDims);
  if (!p.ok()) return p.status();
  return std::move(p->data);
}

Result<IdxImages> read_idx_images(const std::string& path) { return format_bytes::parse_file(path, parse_idx_images); }

Result<std::vector<uint8_t>> read_idx_labels(const std::string& path) {
  return format_bytes::parse_file(path, parse_idx_labels);
}

namespace {
// In order of preference: the training split first, then the test split;
// the dashed names are LeCun's, the dotted ones are Kaggle's re-upload.
const char* const kMnistPairs[][2] = {
    {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
    {"train-images.idx3-ubyte", "train-labels.idx1-ubyte"},
    {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
    {"t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"},
};
}  // namespace

bool mnist_files_present(const std::string& dir) {
  std::error_code ec;
  for (const auto& pair : kMnistPairs)
    for (const char* name : pair)
      for (const char* ext : {"", ".gz"})
        if (std::filesystem::exists(std::filesystem::path(dir) / (std::string(name) + ext), ec)) return true;
  return false;
}

Result<MnistSet> load_mnist(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return Status::error("MNIST directory '" + dir + "' " +
                         (fs::exists(dir, ec) ? "is not a directory" : "does not exist"));
  const fs::path base(dir);
  auto present = [&](const std::string& name) { return fs::is_regular_file(base / name, ec); };
  std::string looked_for, gzipped;
  for (const auto& pair : kMnistPairs) {
    const bool images = present(pair[0]), labels = present(pair[1]);
    if (images != labels)
      return Status::error("MNIST directory '" + dir + "' has '" + (images ? pair[0] : pair[1]) +
                           "' but not its partner '" + (images ? pair[1] : pair[0]) + "'");
    if (!images) {
      for (const char* name : pair) {
        looked_for += std::string(looked_for.empty() ? "" : ", ") + name;
        if (present(std::string(name) + ".gz")) gzipped += std::string(gzipped.empty() ? "" : ", ") + name + ".gz";
      }
      continue;
    }
    MnistSet set;
    set.images_path = (base / pair[0]).string();
    set.labels_path = (base / pair[1]).string();
    Result<IdxImages> im = read_idx_images(set.images_path);
    if (!im.ok()) return im.status();
    Result<std::vector<uint8_t>> lb = read_idx_labels(set.labels_path);
    if (!lb.ok()) return lb.status();
    set.images = std::move(im.value());
    set.labels = std::move(lb.value());
    if (int64_t(set.labels.size()) != set.images.count)
      return Status::error("MNIST: '" + set.images_path + "' holds " + std::to_string(set.images.count) +
                           " images but '" + set.labels_path + "' holds " + std::to_string(set.labels.size()) +
                           " labels");
    for (size_t i = 0; i < set.labels.size(); ++i)
      if (set.labels[i] > 9)
        return Status::error("MNIST: label " + std::to_string(set.labels[i]) + " at index " + std::to_string(i) +
                             " in '" + set.labels_path + "' is not a digit 0-9");
    return set;
  }
  if (!gzipped.empty())
    return Status::error("MNIST directory '" + dir + "' holds only gzip-compressed files (" + gzipped +
                         "); gantry does not read gzip: gunzip them first (gunzip " + dir + "/*.gz)");
  return Status::error("no MNIST files in '" + dir + "': looked for " + looked_for + " (scripts/fetch-mnist.sh " + dir +
                       " downloads them)");
}

}  // namespace gantry

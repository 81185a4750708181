// Reads MNIST-style IDX files (yann.lecun.com/exdb/mnist): a big-endian magic
// 0x00000803 (unsigned bytes, 3 dimensions: count, rows, cols) for images or
// 0x00000801 (1 dimension: count) for labels, big-endian uint32 dimensions,
// then the bytes. load_mnist finds an image/label pair in a directory.
// gzip is not read: the messages say to gunzip first.
// Checked by tests/test_formats.cpp on small files built byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "platform/status.h"

namespace gantry {

constexpr uint32_t kIdxImagesMagic = 0x00000803;
constexpr uint32_t kIdxLabelsMagic = 0x00000801;

struct IdxImages {
  int64_t count = 0, rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // [count, rows, cols], row-major, 0 = background
};

// Files with no images, no labels, zero rows or zero columns are refused:
// nothing downstream can train on them.
Result<IdxImages> read_idx_images(const std::string& path);
Result<std::vector<uint8_t>> read_idx_labels(const std::string& path);

// The same checks on bytes already in memory; `name_for_errors` (usually the
// path) is named in every message.
Result<IdxImages> parse_idx_images(std::span<const std::byte> bytes, const std::string& name_for_errors);
Result<std::vector<uint8_t>> parse_idx_labels(std::span<const std::byte> bytes, const std::string& name_for_errors);

struct MnistSet {
  IdxImages images;
  std::vector<uint8_t> labels;  // one digit 0..9 per image
  std::string images_path, labels_path;
};

// Looks in `dir` for, in this order, train-images-idx3-ubyte +
// train-labels-idx1-ubyte, the dotted spelling train-images.idx3-ubyte +
// train-labels.idx1-ubyte, then the same two for t10k-*. Fails when none is
// complete, when only .gz files are there, when image and label counts differ
// or when a label is not a digit.
Result<MnistSet> load_mnist(const std::string& dir);

// True when `dir` holds any of those files, or one of them gzipped: the folder
// is meant as MNIST (and load_mnist says what is missing), not as images.
bool mnist_files_present(const std::string& dir);

}  // namespace gantry

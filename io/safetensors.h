// Reads and writes the safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON header mapping each tensor
// name to {dtype, shape, data_offsets} plus an optional "__metadata__" object
// of strings, then the data buffer, which the tensors must cover exactly.
// Reading accepts F32, F64, F16 and BF16 (converted to float); writing is F32.
// Checked by tests/test_formats.cpp against byte strings built from the spec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "platform/shape.h"
#include "platform/status.h"

namespace gantry {

// The reference implementation refuses headers above this size too; a
// larger length field almost always means the file is not safetensors at all.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

struct SafeTensor {
  std::string name;
  Shape shape;
  std::vector<float> data;  // shape.numel() values, row-major
};

struct SafeTensorsFile {
  std::vector<SafeTensor> tensors;                            // read: header order; written in this order
  std::vector<std::pair<std::string, std::string>> metadata;  // "__metadata__", in order

  // nullptr when absent.
  const SafeTensor* find(std::string_view name) const;
  const std::string* meta(std::string_view key) const;
};

Result<SafeTensorsFile> read_safetensors(const std::string& path);

// `name_for_errors` (usually the path) starts every error message.
Result<SafeTensorsFile> parse_safetensors(std::span<const std::byte> bytes, const std::string& name_for_errors);

// F32, tensors in the given order and packed without gaps, compact JSON with
// "__metadata__" first (omitted when empty), header padded with spaces to a
// multiple of 8 bytes as the reference writer does. Fails on duplicate names,
// the reserved name "__metadata__", or data that does not match its shape.
Result<std::vector<std::byte>> serialize_safetensors(const SafeTensorsFile& file);

// serialize_safetensors, then write_file_atomic.
Status write_safetensors(const std::string& path, const SafeTensorsFile& file);

}  // namespace gantry

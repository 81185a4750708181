// Reads and writes NumPy .npy files (numpy/lib/format.py, format versions 1.0
// and 2.0): the magic "\x93NUMPY", a version, a little-endian header length,
// a Python dict literal {'descr', 'fortran_order', 'shape'} and the raw data.
// gantry reads little-endian float32 ('<f4') and float64 ('<f8', converted),
// C order, rank 0..5, and writes version 1.0 '<f4' with the data 64-byte aligned.
// Checked by tests/test_formats.cpp against header bytes spelled out by hand.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "platform/shape.h"
#include "platform/status.h"

namespace gantry {

struct NpyArray {
  Shape shape;
  std::vector<float> data;  // shape.numel() values, row-major
};

Result<NpyArray> read_npy(const std::string& path);

// `name_for_errors` (usually the path) is named in every error message.
Result<NpyArray> parse_npy(std::span<const std::byte> bytes, const std::string& name_for_errors);

// Version 1.0, '<f4', C order. Fails when data.size() != shape.numel().
Result<std::vector<std::byte>> serialize_npy(const Shape& shape, std::span<const float> data);

// serialize_npy, then write_file_atomic.
Status write_npy(const std::string& path, const Shape& shape, std::span<const float> data);

}  // namespace gantry

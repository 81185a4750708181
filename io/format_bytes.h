// Helpers shared by the file-format readers and writers (safetensors, npy,
// IDX): fixed-endian integer loads and stores that work on any host,
// half-precision decoding, overflow-checked size arithmetic (so that a hostile
// header can never turn into an out-of-bounds read), and the read-then-parse
// and shape-versus-data checks every format repeats.
// Checked by tests/test_formats.cpp (known F16/BF16 bit patterns, round trips).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/atomic_file.h"
#include "platform/shape.h"
#include "platform/status.h"

namespace gantry::format_bytes {

inline uint64_t load_le(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | uint64_t(p[i]);
  return v;
}

inline uint64_t load_be(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v = (v << 8) | uint64_t(p[i]);
  return v;
}

inline void append_le(std::vector<std::byte>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(std::byte((v >> (8 * i)) & 0xff));
}

inline void append_text(std::vector<std::byte>& out, std::string_view s) {
  for (char c : s) out.push_back(std::byte(uint8_t(c)));
}

// Little-endian float32 values, whatever the host's byte order.
inline void append_f32_le(std::vector<std::byte>& out, std::span<const float> values) {
  for (float v : values) append_le(out, std::bit_cast<uint32_t>(v), 4);
}

inline float f32_from_le(const std::byte* p) { return std::bit_cast<float>(uint32_t(load_le(p, 4))); }

// F64 values outside float's range become ±inf, as PyTorch's .float() does.
inline float f64_from_le(const std::byte* p) { return float(std::bit_cast<double>(load_le(p, 8))); }

// bfloat16 is the top half of a float32, so widening is exact.
inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

// IEEE binary16 → binary32, exact for every input including subnormals,
// infinities and NaN payloads.
inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  int exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  if (exp == 0) {
    if (mant == 0) return std::bit_cast<float>(sign);
    // Subnormal: shift the mantissa up until its leading 1 is implicit.
    exp = 1;
    while (!(mant & 0x400)) {
      mant <<= 1;
      --exp;
    }
    mant &= 0x3ff;
  }
  return std::bit_cast<float>(sign | (uint32_t(exp + 127 - 15) << 23) | (mant << 13));
}

// a * b, false when it does not fit in uint64_t.
inline bool mul_fits(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }

// Empty when `values` floats fill `shape` exactly, else what does not fit.
// A bad rank is reported before Shape::str() could read past its dims.
inline std::string shape_problem(const Shape& shape, size_t values) {
  if (shape.rank < 0 || shape.rank > kMaxRank)
    return "rank " + std::to_string(shape.rank) + " is outside 0.." + std::to_string(kMaxRank);
  for (int i = 0; i < shape.rank; ++i)
    if (shape.d[i] < 0) return "shape " + shape.str() + " has a negative dimension";
  if (shape.numel() != int64_t(values))
    return "shape " + shape.str() + " does not match " + std::to_string(values) + " values";
  return "";
}

// read_file(path), then parse(bytes, path) so that parse errors name the file.
template <class T>
Result<T> parse_file(const std::string& path, Result<T> (*parse)(std::span<const std::byte>, const std::string&)) {
  Result<std::vector<std::byte>> bytes = read_file(path);
  if (!bytes.ok()) return bytes.status();
  return parse(bytes.value(), path);
}

}  // namespace gantry::format_bytes

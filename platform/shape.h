// Tensor shapes: float32 tensors of rank 0..5, row-major (C order), as in
// PyTorch. Dimension letters used across gantry: N batch, C channels, H/W
// spatial, K reduction length, B minibatch rows.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace gantry {

constexpr int kMaxRank = 5;
// The largest tensor gantry builds: 2^40 elements (4 TiB of float32) is far
// beyond any arena it can allocate, and keeps every byte offset and product of
// two such counts' factors inside int64.
constexpr int64_t kMaxElements = int64_t(1) << 40;

struct Shape {
  int rank = 0;
  std::array<int64_t, kMaxRank> d{};

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) {
    for (int64_t v : dims) d[rank++] = v;
  }

  int64_t operator[](int i) const { return d[i]; }
  int64_t& operator[](int i) { return d[i]; }
  int64_t numel() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= d[i];
    return n;
  }
  // numel() when every dimension is ≥ 0 and the product stays within
  // kMaxElements; −1 otherwise. Shapes from files and flags go through this
  // before anything is sized from them.
  int64_t checked_numel() const;
  bool operator==(const Shape& o) const {
    if (rank != o.rank) return false;
    for (int i = 0; i < rank; ++i)
      if (d[i] != o.d[i]) return false;
    return true;
  }
  bool operator!=(const Shape& o) const { return !(*this == o); }

  // "[2,3,8,8]"
  std::string str() const {
    std::string s = "[";
    for (int i = 0; i < rank; ++i) s += (i ? "," : "") + std::to_string(d[i]);
    return s + "]";
  }
};

inline int64_t Shape::checked_numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    if (d[i] < 0 || (d[i] > 0 && n > kMaxElements / d[i])) return -1;
    n *= d[i];
  }
  return n;
}

// Row-major strides of `s`, in elements.
inline std::array<int64_t, kMaxRank> strides_of(const Shape& s) {
  std::array<int64_t, kMaxRank> st{};
  int64_t acc = 1;
  for (int i = s.rank - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s.d[i];
  }
  return st;
}

}  // namespace gantry

// See dataset.h.
#include "train/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "io/idx.h"
#include "platform/philox.h"

namespace gantry {

namespace {
constexpr uint32_t kShuffleStream = 0x5eed;  // a Philox stream of its own, away from the trainers' streams
}

void resize_bilinear(const float* src, int src_h, int src_w, float* dst, int dst_h, int dst_w) {
  // Output pixel centres mapped back: x_src = (x_dst + 0.5)·(src/dst) − 0.5, clamped at the borders.
  auto coord = [](int i, int in, int out, int& lo, int& hi, float& t) {
    const float c = std::max(0.0f, (float(i) + 0.5f) * float(in) / float(out) - 0.5f);
    lo = std::min(int(c), in - 1);
    hi = std::min(lo + 1, in - 1);
    t = c - float(lo);
  };
  for (int y = 0; y < dst_h; ++y) {
    int y0, y1;
    float ty;
    coord(y, src_h, dst_h, y0, y1, ty);
    for (int x = 0; x < dst_w; ++x) {
      int x0, x1;
      float tx;
      coord(x, src_w, dst_w, x0, x1, tx);
      const float top = src[y0 * src_w + x0] * (1 - tx) + src[y0 * src_w + x1] * tx;
      const float bottom = src[y1 * src_w + x0] * (1 - tx) + src[y1 * src_w + x1] * tx;
      dst[y * dst_w + x] = top * (1 - ty) + bottom * ty;
    }
  }
}

Result<Dataset> load_dataset(const std::string& dir, int size, int64_t limit) {
  auto set = load_mnist(dir);
  if (!set.ok()) return set.status();
  const IdxImages& im = set->images;
  const int64_t n = limit > 0 ? std::min<int64_t>(limit, im.count) : im.count;
  Dataset d;
  d.source = dir;
  d.images = Shape{n, 1, size, size};
  d.pixels.resize(size_t(n) * size * size);
  d.labels.resize(size_t(n));
  std::vector<float> src(size_t(im.rows) * im.cols);
  for (int64_t i = 0; i < n; ++i) {
    for (size_t p = 0; p < src.size(); ++p) src[p] = float(im.pixels[size_t(i) * src.size() + p]) / 127.5f - 1.0f;
    float* dst = d.pixels.data() + size_t(i) * size * size;
    if (im.rows == size && im.cols == size)
      std::copy(src.begin(), src.end(), dst);
    else
      resize_bilinear(src.data(), int(im.rows), int(im.cols), dst, size, size);
    d.labels[size_t(i)] = float(set->labels[size_t(i)]);
  }
  return d;
}

EpochOrder::EpochOrder(int64_t rows, uint64_t seed) : perm_(size_t(rows)), seed_(seed) {}

void EpochOrder::shuffle(int64_t epoch) {
  // Fisher–Yates with Philox uniforms keyed by (seed, epoch): no state carried between epochs.
  std::iota(perm_.begin(), perm_.end(), int64_t(0));
  for (int64_t i = int64_t(perm_.size()) - 1; i > 0; --i) {
    const double u = philox_uniform(seed_, uint64_t(epoch), kShuffleStream, uint32_t(i));
    std::swap(perm_[size_t(i)], perm_[size_t(std::min<int64_t>(i, int64_t(u * double(i + 1))))]);
  }
  epoch_ = epoch;
}

int64_t EpochOrder::row(int64_t position) {
  const int64_t n = int64_t(perm_.size()), epoch = position / n;
  if (epoch != epoch_) shuffle(epoch);
  return perm_[size_t(position % n)];
}

}  // namespace gantry

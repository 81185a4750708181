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

// Digit `i` of `im` as floats in [−1, 1], resized to size×size; src holds rows·cols floats.
void mnist_digit(const IdxImages& im, int64_t i, int size, float* src, float* dst) {
  const size_t n = size_t(im.rows * im.cols);
  for (size_t p = 0; p < n; ++p) src[p] = float(im.pixels[size_t(i) * n + p]) / 127.5f - 1.0f;
  if (im.rows == size && im.cols == size)
    std::copy_n(src, n, dst);
  else
    resize_bilinear(src, int(im.rows), int(im.cols), dst, size, size);
}

std::vector<std::string> digit_names() {
  std::vector<std::string> names;
  for (int d = 0; d < 10; ++d) names.push_back(std::to_string(d));
  return names;
}

}  // namespace

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
    mnist_digit(im, i, size, src.data(), d.pixels.data() + size_t(i) * size * size);
    d.labels[size_t(i)] = float(set->labels[size_t(i)]);
  }
  d.class_names = digit_names();
  return d;
}

namespace {

class MemorySource final : public DataSource {
 public:
  explicit MemorySource(Dataset d) : d_(std::move(d)) {
    rows_ = d_.images[0];
    image_ = Shape{d_.images[1], d_.images[2], d_.images[3]};
    class_names_ = d_.class_names;
    description_ = std::to_string(rows_) + " images from " + d_.source;
  }
  Status read(int64_t row, float* pixels, float* label) override {
    const int64_t per = image_.numel();
    std::copy_n(d_.pixels.data() + row * per, per, pixels);
    *label = row < int64_t(d_.labels.size()) ? d_.labels[size_t(row)] : 0.0f;
    return {};
  }

 private:
  Dataset d_;
};

// The digits stay bytes (47 MB for all 60,000); each is resized when read, as
// load_dataset resizes it, so both give the same floats.
class MnistSource final : public DataSource {
 public:
  MnistSource(MnistSet set, const std::string& dir, int size, int channels, int64_t limit)
      : set_(std::move(set)), size_(size), src_(size_t(set_.images.rows * set_.images.cols)) {
    rows_ = limit > 0 ? std::min<int64_t>(limit, set_.images.count) : set_.images.count;
    image_ = Shape{channels, size, size};
    class_names_ = digit_names();
    description_ = std::to_string(rows_) + " MNIST digits from " + dir;
  }
  Status read(int64_t row, float* pixels, float* label) override {
    mnist_digit(set_.images, row, size_, src_.data(), pixels);
    const int64_t plane = int64_t(size_) * size_;
    for (int64_t c = 1; c < image_[0]; ++c) std::copy_n(pixels, plane, pixels + c * plane);  // gray as RGB
    *label = float(set_.labels[size_t(row)]);
    return {};
  }

 private:
  MnistSet set_;
  int size_;
  std::vector<float> src_;  // one digit in [−1, 1] at 28×28
};

}  // namespace

std::unique_ptr<DataSource> memory_source(Dataset data) { return std::make_unique<MemorySource>(std::move(data)); }

Result<std::unique_ptr<DataSource>> open_data(const std::string& path, const DataOptions& o) {
  if (o.channels != 0 && o.channels != 1 && o.channels != 3)
    return Status::error("channels must be 1 (gray) or 3 (RGB), not " + std::to_string(o.channels));
  if (!mnist_files_present(path)) return open_image_folder(path, o);
  auto set = load_mnist(path);
  if (!set.ok()) return set.status();
  return std::unique_ptr<DataSource>(
      new MnistSource(std::move(*set), path, o.size, o.channels ? o.channels : 1, o.limit));
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

// Training data: MNIST digits from IDX files, resized (bilinear) to the
// model's image size and scaled to [−1, 1], plus the minibatch order — a
// Philox-shuffled permutation per epoch, a pure function of (seed, epoch), so a
// resumed run sees exactly the batches the uninterrupted one would have.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "platform/shape.h"
#include "platform/status.h"

namespace gantry {

struct Dataset {
  Shape images;               // [N, 1, S, S]
  std::vector<float> pixels;  // N·S·S values in [−1, 1]
  std::vector<float> labels;  // N class ids 0..9, as float32
  std::string source;         // the directory it came from
};

// Loads the IDX pair in `dir`, keeps the first `limit` digits (0: all) and
// resizes them to size×size.
Result<Dataset> load_dataset(const std::string& dir, int size, int64_t limit = 0);

// Bilinear resize of one channel, PyTorch's align_corners=False convention.
void resize_bilinear(const float* src, int src_h, int src_w, float* dst, int dst_h, int dst_w);

// Dataset row for minibatch position `position` (= batch number · B + row):
// epoch e = position / N visits a permutation of 0..N−1 drawn from (seed, e).
class EpochOrder {
 public:
  EpochOrder(int64_t rows, uint64_t seed);
  int64_t row(int64_t position);

 private:
  void shuffle(int64_t epoch);
  std::vector<int64_t> perm_;
  uint64_t seed_;
  int64_t epoch_ = -1;
};

}  // namespace gantry

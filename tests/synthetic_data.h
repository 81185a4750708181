// A dataset of uniform-noise "digits" in [−1, 1) with labels 0..9 in turn,
// from a fixed Philox stream: training tests need no files.
#pragma once

#include "platform/philox.h"
#include "train/dataset.h"

namespace gantry::testing {

inline Dataset synthetic_digits(int size, int64_t rows = 32) {
  Dataset d;
  d.source = "synthetic";
  d.images = Shape{rows, 1, size, size};
  d.pixels.resize(size_t(d.images.numel()));
  for (size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] = 2 * philox_uniform(5, 0, 1, uint32_t(i)) - 1;
  for (int64_t i = 0; i < rows; ++i) d.labels.push_back(float(i % 10));
  for (int c = 0; c < 10; ++c) d.class_names.push_back(std::to_string(c));
  return d;
}

}  // namespace gantry::testing

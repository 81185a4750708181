// Training data. A DataSource hands out one image (and its class) at a time,
// at the model's size and channels, scaled to [−1, 1]; the trainer never holds
// the data set, only the batches a Loader (train/loader.h) streams to it. The
// sources:
//   MNIST      IDX files (io/idx.h), the digits kept as bytes, each resized
//              (bilinear) to the model's size when read
//   an image   PNG/JPEG/BMP/TGA files under a folder (io/image_folder.h:
//   folder     Resize + CenterCrop + channels), decoded when read, classes
//              from sub-folders; an optional cache of the decoded bytes
//              makes every epoch after the first cost no decoding
//   memory     a Dataset already in memory (tests, gantry bench, the classifier)
// and the minibatch order: a Philox-shuffled permutation per epoch, a pure
// function of (seed, epoch), so a resumed run sees exactly the batches the
// uninterrupted one would have.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "platform/shape.h"
#include "platform/status.h"

namespace gantry {

// A data set small enough to hold in memory as floats.
struct Dataset {
  Shape images;                          // [N, C, S, S]
  std::vector<float> pixels;             // N·C·S·S values in [−1, 1]
  std::vector<float> labels;             // N class ids, as float32
  std::vector<std::string> class_names;  // what the ids mean (none: no classes)
  std::string source;                    // where it came from
};

// Loads the MNIST IDX pair in `dir`, keeps the first `limit` digits (0: all)
// and resizes them to size×size (the classifier and `gantry eval` use it).
Result<Dataset> load_dataset(const std::string& dir, int size, int64_t limit = 0);

// Bilinear resize of one channel, PyTorch's align_corners=False convention.
void resize_bilinear(const float* src, int src_h, int src_w, float* dst, int dst_h, int dst_w);

class DataSource {
 public:
  virtual ~DataSource() = default;
  int64_t rows() const { return rows_; }
  const Shape& image() const { return image_; }  // [C, S, S]
  // Class names, in label order; empty for a data set without classes.
  const std::vector<std::string>& class_names() const { return class_names_; }
  // One line for the progress header: "60000 MNIST digits from data/mnist", ...
  const std::string& description() const { return description_; }
  // Files left out when the source was opened (an image folder's files with
  // unreadable headers), one line each, naming the file and why.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // One line on the decoded cache, for sources that keep one; empty otherwise.
  virtual std::string cache_status() const { return {}; }

  // Writes row `row`'s image ([C, S, S], in [−1, 1]) and its class. Called
  // from one thread at a time (the loader's). An error names the file and
  // why it cannot be read; the loader skips that row (train/loader.h).
  virtual Status read(int64_t row, float* pixels, float* label) = 0;

 protected:
  int64_t rows_ = 0;
  Shape image_;
  std::vector<std::string> class_names_;
  std::string description_;
  std::vector<std::string> warnings_;
};

std::unique_ptr<DataSource> memory_source(Dataset data);

struct DataOptions {
  int size = 28;          // the model's image size
  int channels = 0;       // 1 or 3; 0: MNIST 1, an image folder 3 unless its first image is gray
  bool classes = false;   // labels wanted (a conditional model): an image folder needs class sub-folders
  int64_t limit = 0;      // keep the first `limit` images (0: all)
  std::string cache_dir;  // where an image folder's decoded cache lives; empty: no cache
};

// The data at `path`: MNIST when the folder holds MNIST's IDX files (or their
// .gz), else an image folder. Errors name the folder and what is wrong with it.
Result<std::unique_ptr<DataSource>> open_data(const std::string& path, const DataOptions& options);

// open_data's image-folder half (train/image_source.cpp).
Result<std::unique_ptr<DataSource>> open_image_folder(const std::string& path, const DataOptions& options);

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

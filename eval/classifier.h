// gantry's own MNIST classifier, the yardstick of `gantry eval`: a small CNN
// (strided convs, no pooling op needed) whose penultimate layer gives the
// features for the Fréchet distance and whose logits give class coverage,
// confidence and the Inception Score. Trained with Adam on cross-entropy
// (log_softmax) as one compiled step graph replayed per minibatch, like the
// GAN trainers; saved as safetensors with format "gantry-classifier-1".
// Checked by tests/test_classifier.cpp (trains one on the real digits).
//
// Dimension letters: N images, B minibatch rows, F feature units, K classes (10).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "train/dataset.h"

namespace gantry {

constexpr int kClassifierImageSize = 28;
constexpr int kClassifierClasses = 10;

// x [N,1,28,28] → conv1 (k5 s2 p2) → 14×14 → conv2 (k5 s2 p2) → 7×7 →
// conv3 (k3 s2 p1) → 4×4 → flatten → features (F units) → head (K logits).
// LeakyReLU(0.1) after each conv and after the feature layer: the features are
// those post-activation values. The default widths reach ≈ 99% held-out
// accuracy on the 10k digits in 2000 steps (≈ 1.1M multiply-adds per image).
// The npm set's last 1000 digits (the default held-out set) hold no 5.
struct ClassifierWidths {
  int conv1 = 16, conv2 = 32, conv3 = 64, features = 128;
  std::string str() const;  // "16,32,64,128"
};

struct ClassifierConfig {
  ClassifierWidths widths;
  int64_t batch = 64;
  int64_t holdout = 1000;  // the last `holdout` digits are never trained on
  uint64_t seed = 1;
  float lr = 1e-3f;  // Adam, β₁ 0.9, β₂ 0.999
  // Weights evaluated and saved are an exponential moving average of the
  // trained ones with this decay (0: the raw weights); it stands in for a
  // learning-rate decay, which a replayed graph with a fixed Adam lr lacks.
  float ema = 0.999f;
  int max_shift = 2;  // augmentation: random translation by up to ± pixels (0: none)
  int threads = 0;
};

// An eval-mode classifier: its weights and a forward graph compiled once for a
// fixed batch; predict() runs any number of images through it in chunks.
class Classifier {
 public:
  // Zero weights; set them with set_weights(), or get a trained one from load() or a ClassifierTrainer.
  static Result<std::unique_ptr<Classifier>> create(const ClassifierWidths& widths, int threads = 0);
  // A file written by save(): format, widths and every tensor's shape are checked.
  static Result<std::unique_ptr<Classifier>> load(const std::string& path, int threads = 0);
  // Weights and metadata ("format", widths, "holdout_accuracy", ...), written atomically.
  Status save(const std::string& path) const;

  // images: [N,1,28,28] in [−1,1], N·784 values → probs [N,K] (softmax),
  // features [N,F]. Either output may be null. Not thread-safe: it replays
  // one compiled program.
  Status predict(std::span<const float> images, std::vector<float>* probs, std::vector<float>* features) const;

  const ClassifierWidths& widths() const { return widths_; }
  int feature_dim() const { return widths_.features; }
  // Weights by name in file order ("conv1.weight", ..., "head.bias").
  const std::vector<std::pair<std::string, Shape>>& tensor_shapes() const { return shapes_; }
  Status set_weights(const std::vector<std::vector<float>>& weights);  // one per tensor_shapes() entry

  // Held-out accuracy recorded when it was trained (−1 when unknown), and the
  // free-form metadata saved alongside (steps, seed, holdout size, ...).
  float holdout_accuracy = -1;
  std::vector<std::pair<std::string, std::string>> info;

 private:
  Classifier() = default;
  ClassifierWidths widths_;
  std::vector<std::pair<std::string, Shape>> shapes_;
  std::vector<std::vector<float>> weights_;  // host copy, for save()
  Graph graph_;
  std::unique_ptr<Program> program_;  // mutable through the pointer: predict() replays it
  std::vector<Value> params_;
  Value input_, probs_, features_;
  int64_t batch_ = 0;
};

// Fraction of `labels` (class ids as float) that the classifier's arg-max matches.
Result<float> classifier_accuracy(const Classifier& c, std::span<const float> images, std::span<const float> labels);

// The training step graph: minibatch rows from the resident training digits
// (shifted by the host-drawn offsets), cross-entropy, Adam, and the weight EMA.
class ClassifierTrainer {
 public:
  // Trains on data rows [0, N − holdout); the rest is the held-out set.
  static Result<std::unique_ptr<ClassifierTrainer>> create(const ClassifierConfig& config, const Dataset& data);
  Status step();  // one Adam step; a NaN loss is an error naming the step
  int64_t steps_done() const { return step_; }
  float loss() const { return loss_; }  // cross-entropy of the last step's minibatch
  // The current (EMA) weights in an eval-mode classifier, with its held-out
  // accuracy measured and recorded.
  Result<std::unique_ptr<Classifier>> classifier() const;
  const ClassifierConfig& config() const { return config_; }

 private:
  ClassifierTrainer() = default;
  ClassifierConfig config_;
  int64_t train_rows_ = 0, step_ = 0;
  float loss_ = 0;
  Graph graph_;
  std::unique_ptr<Program> program_;
  std::vector<Value> params_, averages_;  // averages_: the EMA weights (the params when ema = 0)
  Value index_, shift_, ema_rate_, loss_value_;
  std::vector<float> index_host_, shift_host_;
  std::unique_ptr<EpochOrder> order_;
  std::vector<float> holdout_images_, holdout_labels_;
};

// Trains for `steps` steps and returns the classifier with its held-out
// accuracy. progress(step, trainer) is called after every step when set.
Result<std::unique_ptr<Classifier>> train_classifier(
    const ClassifierConfig& config, const Dataset& data, int64_t steps,
    const std::function<void(const ClassifierTrainer&)>& progress = {});

}  // namespace gantry

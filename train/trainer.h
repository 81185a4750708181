// GAN trainers. One generator iteration — every discriminator/critic pass,
// the gradient penalty, all gradients and optimizer updates, and the
// generator's own step — is built once as a static graph, compiled for a
// backend and replayed per step; the host only writes the step's minibatches
// (streamed by train/loader.h) and the step number. Objectives:
//   gan        non-saturating GAN loss on logits (BCE-with-logits), Adam
//              (Goodfellow et al. 2014; DCGAN settings, Radford et al. 2016)
//   wgan-gp    Gulrajani et al. 2017, Algorithm 1: n_critic critic steps with
//              λ(‖∇x̂ D(x̂)‖₂ − 1)², Adam (gantry's default βs differ from theirs: TrainConfig)
//   wgan-clip  Arjovsky et al. 2017, Algorithm 1: n_critic RMSProp critic steps
//              with weight clipping
// docs/DESIGN.md, "Models", states each objective and its defaults.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend.h"
#include "nets/nets.h"
#include "train/dataset.h"
#include "train/loader.h"
#include "train/sampler.h"

namespace gantry {

// Upper bounds on every count a run takes, from the command line or a
// checkpoint: past them a graph takes forever to build or an index overflows
// long before any arena could be allocated (which memory_limit() bounds too).
constexpr int64_t kMaxBatch = 1 << 16;
constexpr int kMaxCritic = 100;
constexpr int kMaxWidth = 1 << 14;  // nz, ngf, ndf
constexpr int64_t kMaxSteps = int64_t(1) << 32;
constexpr int kMaxThreads = 1024;
constexpr int kMaxClasses = 1 << 12;

struct TrainConfig {
  std::string model = "dcgan28";  // a name in the model table (nets::model_spec)
  int64_t batch = 64;
  uint64_t seed = 1;
  BackendKind backend = BackendKind::cpu;
  // fp16: mixed precision — activations and their gradients in binary16,
  // master weights, optimizer state and updates in float32 (half_storage()),
  // with dynamic loss scaling (Trainer::step). Like backend, not checkpointed.
  Precision precision = Precision::fp32;
  int threads = 0;
  bool profile = false;  // time every op (gantry bench --profile)
  nets::Widths widths;   // the model's default widths (ModelSpec::widths) unless changed; nc and classes the data's
  // Optimizer: negative means the objective's default (gan: Adam 2e-4, β₁ 0.5,
  // β₂ 0.999; wgan-gp: Adam 1e-4, β₁ 0.5, β₂ 0.999, where Gulrajani et al. 2017
  // use β₁ 0, β₂ 0.9; wgan-clip: RMSProp 5e-5).
  float lr = -1, beta1 = -1, beta2 = -1;
  int n_critic = 5;    // wgan-gp, wgan-clip
  float lambda = 10;   // wgan-gp penalty weight
  float clip = 0.01f;  // wgan-clip weight bound c

  // "key=value;..." of everything above, stored in checkpoints. parse()
  // accepts only what check() accepts.
  std::string serialize() const;
  static Result<TrainConfig> parse(const std::string& text);
  // Every field in its range (the bounds above; lr > 0, β in [0, 1), λ ≥ 0,
  // c > 0; negative lr/β mean the objective's default); errors name the field.
  Status check() const;
};

// A checkpoint's "class_names" metadata (conditional models): the names, one per line.
std::string join_class_names(const std::vector<std::string>& names);
std::vector<std::string> split_class_names(const std::string& text);

// A checkpoint's "step" metadata: a whole number in [0, kMaxSteps]; errors name `path`.
Result<int64_t> parse_checkpoint_step(const std::string& path, const std::string& text);

struct Metric {
  std::string name;
  float value = 0;
};

class Trainer {
 public:
  // Builds and compiles the step graph and the eval-mode sampling graph.
  // Each step's minibatches stream from `data` through a Loader into the
  // arena's input region; the data set itself never enters the arena. Its
  // images must be [widths.nc, S, S]; a conditional model needs one class
  // per widths.classes. Weights start from init_weights() or load().
  static Result<std::unique_ptr<Trainer>> create(const TrainConfig& config, std::unique_ptr<DataSource> data);
  static Result<std::unique_ptr<Trainer>> create(const TrainConfig& config, Dataset data) {
    return create(config, memory_source(std::move(data)));
  }

  Status init_weights();  // DCGAN's initialization (nets::Init), from config.seed
  // One generator iteration. A NaN or Inf in any metric is an error naming
  // the step and the metric; the caller keeps its last checkpoint.
  // Mixed precision (config.precision fp16): the losses are multiplied by the
  // loss scale S before the backward pass and each update divides its
  // gradients by S; when any gradient of an update is Inf or NaN (binary16
  // overflow) that update is skipped (its weights and optimizer state stay as
  // they were), S halves and the step counts as skipped; after
  // kLossScaleInterval steps without overflow S doubles, up to kMaxLossScale
  // (Micikevicius et al. 2018, "Mixed Precision Training", §3.2).
  Status step();
  static constexpr float kInitialLossScale = 1024, kMaxLossScale = 32768, kMinLossScale = 1.0f / 1024;
  static constexpr int64_t kLossScaleInterval = 100;
  float loss_scale() const { return loss_scale_; }    // S for the next step (1 in float32)
  void set_loss_scale(float s) { loss_scale_ = s; }   // mixed precision: S for the next step (> 0, finite)
  int64_t skipped_steps() const { return skipped_; }  // steps with an update skipped for overflow
  int64_t steps_done() const { return step_; }
  const std::vector<Metric>& metrics() const { return metrics_; }  // after the last step()

  // Checkpoint: every parameter, buffer and optimizer moment by name, the step,
  // and the config; written atomically. load() needs the same model and widths.
  Status save(const std::string& path) const;
  Status load(const std::string& path);

  // Generator in eval mode (running statistics): z [n, nz] → images [n, 1, S, S].
  // labels: n class ids for conditional models, ignored otherwise.
  Status sample(const std::vector<float>& z, const std::vector<float>& labels, std::vector<float>& images);

  const TrainConfig& config() const { return config_; }
  int image_size() const { return size_; }
  bool conditional() const { return conditional_; }
  const ArenaBytes& arena() const { return program_->arena(); }
  const Program& program() const { return *program_; }
  const DataSource& data() const { return *data_; }
  // Rows skipped as unreadable since the last call (one message per file).
  std::vector<std::string> take_data_warnings() { return loader_->take_warnings(); }
  int64_t rows_skipped() const { return loader_->skipped(); }

 private:
  Trainer() = default;
  Status write_batch();

  TrainConfig config_;
  nets::Objective objective_ = nets::Objective::gan;
  int size_ = 28;
  bool conditional_ = false;
  int64_t rows_ = 0, step_ = 0;

  Graph graph_;
  std::unique_ptr<Program> program_;
  nets::Pair nets_;
  std::vector<std::pair<std::string, Value>> persistent_;  // checkpointed leaves by name
  std::unique_ptr<DataSource> data_;
  std::unique_ptr<Loader> loader_;
  Value images_, labels_;  // inputs: [batches, B, C, S, S] and [batches, B] (conditional)
  std::vector<std::pair<std::string, Value>> metric_values_;
  std::vector<Metric> metrics_;

  // Mixed precision: inputs S and 1/S; per update, 1/S plus 0·Σ its gradients (NaN on overflow).
  Value scale_in_, unscale_in_;
  std::vector<Value> unscale_checks_;
  float loss_scale_ = 1;
  int64_t clean_steps_ = 0, skipped_ = 0;

  // Sampling: the generator alone, eval mode, kSampleBatch rows at a time.
  static constexpr int64_t kSampleBatch = 64;
  std::unique_ptr<Sampler> sampler_;
};

}  // namespace gantry

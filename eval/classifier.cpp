// See classifier.h. The network is built twice from one description: once in
// the training step graph (minibatch from the resident digits, shifted by a
// grouped conv with one-hot kernels) and once in the eval graph (an input
// leaf). Philox streams: weight initialization uses kInitStream + tensor index.
#include "eval/classifier.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/autodiff.h"
#include "engine/ops.h"
#include "io/safetensors.h"
#include "nets/nets.h"
#include "platform/philox.h"

namespace gantry {
namespace {

constexpr const char* kFormat = "gantry-classifier-1";
constexpr uint32_t kInitStream = 1u << 21;
constexpr uint32_t kShiftStream = 0x51f7;  // host-drawn translations
constexpr float kLeakySlope = 0.1f;
constexpr int64_t kEvalBatch = 250;

// The layers: one conv per entry of kConvs, then the feature and head layers.
struct ConvSpec {
  int kernel, stride, padding;
};
constexpr ConvSpec kConvs[3] = {{5, 2, 2}, {5, 2, 2}, {3, 2, 1}};  // 28 → 14 → 7 → 4
constexpr int64_t conv_out(int64_t in, const ConvSpec& c) { return (in + 2 * c.padding - c.kernel) / c.stride + 1; }
constexpr int64_t kLastSide = conv_out(conv_out(conv_out(kClassifierImageSize, kConvs[0]), kConvs[1]), kConvs[2]);
static_assert(kLastSide == 4, "the layer comments and the feature layer's fan-in assume 4×4");

// Weight shapes in file order, named like a PyTorch state_dict.
std::vector<std::pair<std::string, Shape>> layer_shapes(const ClassifierWidths& w) {
  const int64_t ch[4] = {1, w.conv1, w.conv2, w.conv3};
  std::vector<std::pair<std::string, Shape>> s;
  for (int i = 0; i < 3; ++i) {
    const std::string name = "conv" + std::to_string(i + 1);
    s.emplace_back(name + ".weight", Shape{ch[i + 1], ch[i], kConvs[i].kernel, kConvs[i].kernel});
    s.emplace_back(name + ".bias", Shape{ch[i + 1]});
  }
  s.emplace_back("features.weight", Shape{w.features, w.conv3 * kLastSide * kLastSide});
  s.emplace_back("features.bias", Shape{w.features});
  s.emplace_back("head.weight", Shape{kClassifierClasses, w.features});
  s.emplace_back("head.bias", Shape{kClassifierClasses});
  return s;
}

Status check_widths(const ClassifierWidths& w) {
  for (int v : {w.conv1, w.conv2, w.conv3, w.features})
    if (v < 1 || v > 4096) return Status::error("classifier widths " + w.str() + ": each must be in 1..4096");
  return {};
}

struct Outputs {
  Value logits, features;  // [B, K], [B, F]
};

// x: [B,1,28,28]; p: the leaves of layer_shapes() in order.
Outputs forward(Graph& g, const std::vector<Value>& p, Value x) {
  for (int i = 0; i < 3; ++i) {
    ConvOptions o;
    o.stride[0] = o.stride[1] = kConvs[i].stride;
    o.padding[0] = o.padding[1] = kConvs[i].padding;
    x = leaky_relu(g, conv2d(g, x, p[2 * i], p[2 * i + 1], o), kLeakySlope);
  }
  const int64_t B = g.shape(x)[0];
  const Value f = leaky_relu(g, linear(g, reshape(g, x, Shape{B, -1}), p[6], p[7]), kLeakySlope);
  return {linear(g, f, p[8], p[9]), f};
}

// He initialization for the leaky ReLUs (std √(2/fan_in)); the head, which
// feeds the softmax, √(1/fan_in). Biases start at 0.
std::vector<float> initial_weights(const Shape& s, bool head, uint64_t seed, uint32_t stream) {
  std::vector<float> v(size_t(s.numel()), 0.0f);
  if (s.rank == 1) return v;
  const double fan_in = double(s.numel() / s[0]);
  const float std = float(std::sqrt((head ? 1.0 : 2.0) / fan_in));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std * philox_normal(seed, 0, stream, uint32_t(i));
  return v;
}

Result<int> parse_int(const std::string& path, const std::string& key, const std::string& text) {
  try {
    size_t used = 0;
    const int v = std::stoi(text, &used);
    if (used == text.size()) return v;
  } catch (...) {
  }
  return Status::error(path + ": metadata \"" + key + "\" = \"" + text + "\" is not an integer");
}

}  // namespace

std::string ClassifierWidths::str() const {
  return std::to_string(conv1) + "," + std::to_string(conv2) + "," + std::to_string(conv3) + "," +
         std::to_string(features);
}

// ---- Classifier

Result<std::unique_ptr<Classifier>> Classifier::create(const ClassifierWidths& widths, int threads) {
  GANTRY_TRY(check_widths(widths));
  std::unique_ptr<Classifier> c(new Classifier());
  c->widths_ = widths;
  c->shapes_ = layer_shapes(widths);
  c->batch_ = kEvalBatch;
  Graph& g = c->graph_;
  for (const auto& [name, shape] : c->shapes_) {
    c->params_.push_back(g.parameter(shape, name));
    c->weights_.emplace_back(size_t(shape.numel()), 0.0f);
  }
  c->input_ = g.input(Shape{c->batch_, 1, kClassifierImageSize, kClassifierImageSize}, "images");
  const Outputs out = forward(g, c->params_, c->input_);
  c->features_ = out.features;
  c->probs_ = exp(g, log_softmax(g, out.logits, 1));
  if (!g.ok()) return Status::error("building the classifier " + widths.str() + ": " + g.status().message());
  auto program = compile(g, CompileOptions{BackendKind::cpu, {c->probs_, c->features_}, threads});
  if (!program.ok()) return program.status();
  c->program_ = std::move(*program);
  GANTRY_TRY(c->set_weights(c->weights_));
  return c;
}

Status Classifier::set_weights(const std::vector<std::vector<float>>& weights) {
  if (weights.size() != shapes_.size())
    return Status::error("classifier: " + std::to_string(weights.size()) + " weight tensors given, " +
                         std::to_string(shapes_.size()) + " needed");
  for (size_t i = 0; i < shapes_.size(); ++i) {
    if (int64_t(weights[i].size()) != shapes_[i].second.numel())
      return Status::error("classifier: tensor \"" + shapes_[i].first + "\" needs " +
                           std::to_string(shapes_[i].second.numel()) + " values, got " +
                           std::to_string(weights[i].size()));
    GANTRY_TRY(program_->write(params_[i], weights[i].data(), int64_t(weights[i].size())));
  }
  if (&weights != &weights_) weights_ = weights;
  return {};
}

Status Classifier::predict(std::span<const float> images, std::vector<float>* probs,
                           std::vector<float>* features) const {
  constexpr int64_t per = int64_t(kClassifierImageSize) * kClassifierImageSize;
  if (images.size() % per)
    return Status::error("classifier: " + std::to_string(images.size()) +
                         " pixels is not a whole number of 28×28 images");
  const int64_t n = int64_t(images.size()) / per, F = widths_.features, K = kClassifierClasses;
  if (probs) probs->assign(size_t(n * K), 0.0f);
  if (features) features->assign(size_t(n * F), 0.0f);
  std::vector<float> chunk(size_t(batch_ * per)), p(size_t(batch_ * K)), f(size_t(batch_ * F));
  for (int64_t at = 0; at < n; at += batch_) {
    // The last chunk is padded with background (−1); its extra rows are dropped.
    const int64_t rows = std::min(batch_, n - at);
    std::fill(chunk.begin(), chunk.end(), -1.0f);
    std::copy(images.begin() + at * per, images.begin() + (at + rows) * per, chunk.begin());
    GANTRY_TRY(program_->write(input_, chunk.data(), int64_t(chunk.size())));
    GANTRY_TRY(program_->step(StepUniforms{}));
    if (probs) {
      GANTRY_TRY(program_->read(probs_, p.data(), int64_t(p.size())));
      std::copy(p.begin(), p.begin() + rows * K, probs->begin() + at * K);
    }
    if (features) {
      GANTRY_TRY(program_->read(features_, f.data(), int64_t(f.size())));
      std::copy(f.begin(), f.begin() + rows * F, features->begin() + at * F);
    }
  }
  return {};
}

Status Classifier::save(const std::string& path) const {
  SafeTensorsFile f;
  for (size_t i = 0; i < shapes_.size(); ++i)
    f.tensors.push_back(SafeTensor{shapes_[i].first, shapes_[i].second, weights_[i]});
  char acc[32];
  std::snprintf(acc, sizeof acc, "%.4f", double(holdout_accuracy));
  f.metadata = {{"format", kFormat},
                {"conv_channels", std::to_string(widths_.conv1) + "," + std::to_string(widths_.conv2) + "," +
                                      std::to_string(widths_.conv3)},
                {"features", std::to_string(widths_.features)},
                {"image_size", std::to_string(kClassifierImageSize)},
                {"classes", std::to_string(kClassifierClasses)},
                {"holdout_accuracy", acc}};
  for (const auto& kv : info)
    if (!f.meta(kv.first)) f.metadata.push_back(kv);
  return write_safetensors(path, f);
}

Result<std::unique_ptr<Classifier>> Classifier::load(const std::string& path, int threads) {
  auto file = read_safetensors(path);
  if (!file.ok()) return file.status();
  const std::string* format = file->meta("format");
  if (!format || *format != kFormat)
    return Status::error(path + ": not a gantry classifier (metadata \"format\" must be \"" + kFormat + "\")");
  const std::string *channels = file->meta("conv_channels"), *features = file->meta("features");
  if (!channels || !features) return Status::error(path + ": metadata lacks \"conv_channels\" or \"features\"");
  ClassifierWidths w;
  std::vector<int> ch;
  std::istringstream in(*channels);
  for (std::string item; std::getline(in, item, ',');) {
    auto v = parse_int(path, "conv_channels", item);
    if (!v.ok()) return v.status();
    ch.push_back(*v);
  }
  if (ch.size() != 3)
    return Status::error(path + ": metadata \"conv_channels\" = \"" + *channels + "\" needs 3 widths");
  auto fw = parse_int(path, "features", *features);
  if (!fw.ok()) return fw.status();
  w.conv1 = ch[0], w.conv2 = ch[1], w.conv3 = ch[2], w.features = *fw;
  if (Status s = check_widths(w); !s.ok()) return Status::error(path + ": " + s.message());
  // The file must hold every weight before anything is sized from its metadata.
  std::vector<std::vector<float>> weights;
  for (const auto& [name, shape] : layer_shapes(w)) {
    const SafeTensor* t = file->find(name);
    if (!t) return Status::error(path + ": no tensor \"" + name + "\" (classifier " + w.str() + ")");
    if (t->shape != shape)
      return Status::error(path + ": tensor \"" + name + "\" has shape " + t->shape.str() + ", the classifier " +
                           w.str() + " needs " + shape.str());
    GANTRY_TRY(nets::check_loaded_values(path, name, t->data));
    weights.push_back(t->data);
  }
  auto c = create(w, threads);
  if (!c.ok()) return Status::error(path + ": " + c.message());
  if (Status s = (*c)->set_weights(weights); !s.ok()) return Status::error(path + ": " + s.message());
  if (const std::string* acc = file->meta("holdout_accuracy"))
    (*c)->holdout_accuracy = std::strtof(acc->c_str(), nullptr);
  for (const auto& kv : file->metadata)
    if (kv.first != "format" && kv.first != "conv_channels" && kv.first != "features" && kv.first != "image_size" &&
        kv.first != "classes" && kv.first != "holdout_accuracy")
      (*c)->info.push_back(kv);
  return c;
}

Result<float> classifier_accuracy(const Classifier& c, std::span<const float> images, std::span<const float> labels) {
  std::vector<float> probs;
  GANTRY_TRY(c.predict(images, &probs, nullptr));
  const size_t K = kClassifierClasses, n = probs.size() / K;
  if (labels.size() != n)
    return Status::error("classifier accuracy: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) +
                         " images");
  if (n == 0) return Status::error("classifier accuracy: no images");
  size_t correct = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* p = probs.data() + i * K;
    correct += size_t(std::max_element(p, p + K) - p) == size_t(labels[i]);
  }
  return float(double(correct) / double(n));
}

// ---- ClassifierTrainer

Result<std::unique_ptr<ClassifierTrainer>> ClassifierTrainer::create(const ClassifierConfig& config,
                                                                     const Dataset& data) {
  std::unique_ptr<ClassifierTrainer> t(new ClassifierTrainer());
  t->config_ = config;
  const ClassifierConfig& c = t->config_;
  GANTRY_TRY(check_widths(c.widths));
  constexpr int S = kClassifierImageSize;
  if (data.images.rank != 4 || data.images[1] != 1 || data.images[2] != S || data.images[3] != S)
    return Status::error("dataset " + data.source + " has images " + data.images.str() +
                         ", the classifier needs [N,1,28,28]");
  const int64_t N = data.images[0];
  if (c.holdout < 0 || c.holdout >= N)
    return Status::error("holdout " + std::to_string(c.holdout) + " must leave training digits among the " +
                         std::to_string(N) + " in " + data.source);
  t->train_rows_ = N - c.holdout;
  if (c.batch < 1 || c.batch > t->train_rows_)
    return Status::error("batch " + std::to_string(c.batch) + " must be between 1 and the " +
                         std::to_string(t->train_rows_) + " training digits");
  if (c.max_shift < 0 || c.max_shift > 4)
    return Status::error("max_shift " + std::to_string(c.max_shift) + " must be in 0..4");
  if (!(c.ema >= 0 && c.ema < 1)) return Status::error("ema decay must be in [0, 1)");

  // Training digits padded by max_shift with background (−1), so a shifted
  // 28×28 window never leaves the image: x_pad [N_train, 1, P, P].
  const int64_t pad = c.max_shift, P = S + 2 * pad, B = c.batch, taps = (2 * pad + 1) * (2 * pad + 1);
  std::vector<float> padded(size_t(t->train_rows_ * P * P), -1.0f);
  for (int64_t i = 0; i < t->train_rows_; ++i)
    for (int64_t y = 0; y < S; ++y)
      std::copy_n(data.pixels.begin() + (i * S + y) * S, S, padded.begin() + (i * P + y + pad) * P + pad);
  t->holdout_images_.assign(data.pixels.begin() + t->train_rows_ * S * S, data.pixels.end());
  t->holdout_labels_.assign(data.labels.begin() + t->train_rows_, data.labels.end());

  Graph& g = t->graph_;
  const Value images = g.data(Shape{t->train_rows_, 1, P, P}, "data.images");
  const Value labels = g.data(Shape{t->train_rows_}, "data.labels");
  t->index_ = g.input(Shape{B}, "batch_index");
  t->shift_ = g.input(Shape{B}, "batch_shift");  // per row: which of the taps is 1
  const Value ema_rate = g.input(Shape{1}, "ema_rate");
  for (const auto& [name, shape] : layer_shapes(c.widths)) t->params_.push_back(g.parameter(shape, name));

  Value x = gather(g, images, t->index_);  // [B, 1, P, P]
  if (pad > 0) {
    // Translation as a depthwise conv: batch rows become channels, and row b's
    // kernel is one-hot at its offset, so out[b] = x_pad[b] shifted. Exact, and
    // no op beyond conv2d is needed.
    const Value kernels = reshape(g, one_hot(g, t->shift_, taps), Shape{B, 1, 2 * pad + 1, 2 * pad + 1});
    ConvOptions o;
    o.groups = int(B);
    x = reshape(g, conv2d(g, reshape(g, x, Shape{1, B, P, P}), kernels, Value{}, o), Shape{B, 1, S, S});
  }
  const Outputs out = forward(g, t->params_, x);
  // Cross-entropy: −mean_b log p(y_b | x_b).
  const Value picked =
      mul(g, log_softmax(g, out.logits, 1), one_hot(g, gather(g, labels, t->index_), kClassifierClasses));
  t->loss_value_ = scale(g, reduce_sum(g, picked, axes({0, 1})), -1.0f / float(B));
  const std::vector<Value> grads = grad(g, t->loss_value_, t->params_);
  for (size_t i = 0; i < t->params_.size(); ++i) {
    const Value p = t->params_[i];
    const std::string& name = g.node(p).name;
    AdamOptions o;
    o.lr = c.lr, o.beta1 = 0.9f, o.beta2 = 0.999f;
    adam(g, p, grads[i], g.state(g.shape(p), name + ".exp_avg"), g.state(g.shape(p), name + ".exp_avg_sq"), o);
    if (c.ema > 0) {
      // avg += rate·(p − avg), p already updated (effects run in build order).
      const Value avg = g.state(g.shape(p), name + ".ema");
      assign(g, avg, add(g, avg, mul(g, ema_rate, sub(g, p, avg))));
      t->averages_.push_back(avg);
    } else {
      t->averages_.push_back(p);
    }
  }
  if (!g.ok()) return Status::error("building the classifier training step: " + g.status().message());
  auto program = compile(g, CompileOptions{BackendKind::cpu, {t->loss_value_}, c.threads});
  if (!program.ok()) return program.status();
  t->program_ = std::move(*program);
  Program& pr = *t->program_;
  GANTRY_TRY(pr.write(images, padded.data(), int64_t(padded.size())));
  GANTRY_TRY(pr.write(labels, data.labels.data(), t->train_rows_));

  // Initial weights; Adam moments at zero; the average starts at the weights.
  const auto shapes = layer_shapes(c.widths);
  for (int32_t id = 0; id < g.size(); ++id)
    if (g.node(id).op == Op::leaf && g.node(id).role == Role::state) {
      const std::vector<float> zeros(size_t(g.node(id).shape.numel()), 0.0f);
      GANTRY_TRY(pr.write(Value{id}, zeros.data(), int64_t(zeros.size())));
    }
  for (size_t i = 0; i < shapes.size(); ++i) {
    const bool head = shapes[i].first.rfind("head.", 0) == 0;
    const std::vector<float> w = initial_weights(shapes[i].second, head, c.seed, kInitStream + uint32_t(i));
    GANTRY_TRY(pr.write(t->params_[i], w.data(), int64_t(w.size())));
    if (c.ema > 0) GANTRY_TRY(pr.write(t->averages_[i], w.data(), int64_t(w.size())));
  }
  float rate = 0;
  GANTRY_TRY(pr.write(ema_rate, &rate, 1));
  t->ema_rate_ = ema_rate;
  t->index_host_.resize(size_t(B));
  t->shift_host_.assign(size_t(B), float(taps / 2));  // the centre tap: no shift
  t->order_ = std::make_unique<EpochOrder>(t->train_rows_, c.seed);
  return t;
}

Status ClassifierTrainer::step() {
  const int64_t B = config_.batch, side = 2 * config_.max_shift + 1;
  for (int64_t i = 0; i < B; ++i) {
    index_host_[size_t(i)] = float(order_->row(step_ * B + i));
    if (config_.max_shift > 0) {
      const float u = philox_uniform(config_.seed, uint64_t(step_), kShiftStream, uint32_t(i));
      shift_host_[size_t(i)] = float(std::min<int64_t>(side * side - 1, int64_t(u * float(side * side))));
    }
  }
  // EMA with a warm-up, decay min(ema, (1 + t)/(10 + t)), so that a short run
  // is not dominated by the initial weights.
  const double t = double(step_);
  const float rate = float(1.0 - std::min(double(config_.ema), (1 + t) / (10 + t)));
  Program& p = *program_;
  GANTRY_TRY(p.write(index_, index_host_.data(), B));
  GANTRY_TRY(p.write(shift_, shift_host_.data(), B));
  GANTRY_TRY(p.write(ema_rate_, &rate, 1));
  GANTRY_TRY(p.step(StepUniforms{config_.seed, uint64_t(step_)}));
  GANTRY_TRY(p.read(loss_value_, &loss_, 1));
  if (!std::isfinite(loss_))
    return Status::error("classifier step " + std::to_string(step_ + 1) + ": the loss is " +
                         (std::isnan(loss_) ? "NaN" : "Inf") + "; lower the learning rate");
  ++step_;
  return {};
}

Result<std::unique_ptr<Classifier>> ClassifierTrainer::classifier() const {
  auto c = Classifier::create(config_.widths, config_.threads);
  if (!c.ok()) return c.status();
  std::vector<std::vector<float>> weights;
  for (const Value v : averages_) {
    weights.emplace_back(size_t(graph_.shape(v).numel()));
    GANTRY_TRY(program_->read(v, weights.back().data(), int64_t(weights.back().size())));
  }
  GANTRY_TRY((*c)->set_weights(weights));
  if (!holdout_labels_.empty()) {
    auto acc = classifier_accuracy(**c, holdout_images_, holdout_labels_);
    if (!acc.ok()) return acc.status();
    (*c)->holdout_accuracy = *acc;
  }
  (*c)->info = {{"steps", std::to_string(step_)},
                {"batch", std::to_string(config_.batch)},
                {"seed", std::to_string(config_.seed)},
                {"train_digits", std::to_string(train_rows_)},
                {"holdout_digits", std::to_string(holdout_labels_.size())}};
  return c;
}

Result<std::unique_ptr<Classifier>> train_classifier(const ClassifierConfig& config, const Dataset& data, int64_t steps,
                                                     const std::function<void(const ClassifierTrainer&)>& progress) {
  auto t = ClassifierTrainer::create(config, data);
  if (!t.ok()) return t.status();
  for (int64_t i = 0; i < steps; ++i) {
    GANTRY_TRY((*t)->step());
    if (progress) progress(**t);
  }
  return (*t)->classifier();
}

}  // namespace gantry

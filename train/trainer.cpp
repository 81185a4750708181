// See trainer.h. Philox streams: the step's noise uses streams 0, 1, 2, ...
// in build order; weight initialization uses streams from kInitStream up.
#include "train/trainer.h"

#include <cmath>
#include <map>
#include <sstream>

#include "engine/autodiff.h"
#include "engine/ops.h"
#include "io/safetensors.h"

namespace gantry {
namespace {

constexpr uint32_t kInitStream = 1u << 20;
constexpr const char* kCheckpointFormat = "gantry-checkpoint-1";

Value batch_mean(Graph& g, Value v) {  // [B, 1] → scalar
  return mean(g, v, axes({0, 1}));
}

}  // namespace

std::string join_class_names(const std::vector<std::string>& names) {
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "" : "\n") + n;
  return s;
}

std::vector<std::string> split_class_names(const std::string& text) {
  std::vector<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) names.push_back(line);
  return names;
}

Result<int64_t> parse_checkpoint_step(const std::string& path, const std::string& text) {
  std::istringstream in(text);
  int64_t step = -1;
  in >> step;
  if (text.empty() || !in || !in.eof() || step < 0 || step > kMaxSteps)
    return Status::error(path + ": step \"" + text + "\" is not a whole number in [0, " + std::to_string(kMaxSteps) +
                         "]");
  return step;
}

std::string TrainConfig::serialize() const {
  std::ostringstream s;
  s << "model=" << model << ";batch=" << batch << ";seed=" << seed << ";nz=" << widths.nz << ";ngf=" << widths.ngf
    << ";ndf=" << widths.ndf << ";nc=" << widths.nc << ";classes=" << widths.classes << ";lr=" << lr
    << ";beta1=" << beta1 << ";beta2=" << beta2 << ";n_critic=" << n_critic << ";lambda=" << lambda << ";clip=" << clip;
  return s.str();
}

Result<TrainConfig> TrainConfig::parse(const std::string& text) {
  TrainConfig c;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ';')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return Status::error("config entry '" + item + "' is not key=value");
    const std::string k = item.substr(0, eq), v = item.substr(eq + 1);
    // Whole-value reads: "64x" or "1e99" must not become 64 or inf.
    auto whole = [&](auto& dst) {
      std::istringstream num(v);
      num >> dst;
      return !v.empty() && num && num.eof() ? Status()
                                            : Status::error("config value '" + v + "' of '" + k + "' is not a number");
    };
    Status s;
    if (k == "model")
      c.model = v;
    else if (k == "batch")
      s = whole(c.batch);
    else if (k == "seed")
      s = v.find('-') == std::string::npos ? whole(c.seed) : Status::error("config seed '" + v + "' is negative");
    else if (k == "nz")
      s = whole(c.widths.nz);
    else if (k == "ngf")
      s = whole(c.widths.ngf);
    else if (k == "ndf")
      s = whole(c.widths.ndf);
    else if (k == "nc")
      s = whole(c.widths.nc);
    else if (k == "classes")  // absent from checkpoints before image folders: MNIST's 10
      s = whole(c.widths.classes);
    else if (k == "lr")
      s = whole(c.lr);
    else if (k == "beta1")
      s = whole(c.beta1);
    else if (k == "beta2")
      s = whole(c.beta2);
    else if (k == "n_critic")
      s = whole(c.n_critic);
    else if (k == "lambda")
      s = whole(c.lambda);
    else if (k == "clip")
      s = whole(c.clip);
    else
      return Status::error("unknown config key '" + k + "'");
    if (!s.ok()) return s;
  }
  GANTRY_TRY(c.check());
  return c;
}

Status TrainConfig::check() const {
  if (auto m = nets::model_spec(model); !m.ok()) return m.status();
  auto range = [](const char* name, double v, double lo, double hi) {
    if (v >= lo && v <= hi) return Status();
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %g is out of range [%g, %g]", name, v, lo, hi);
    return Status::error(buf);
  };
  for (Status s :
       {range("batch", double(batch), 1, double(kMaxBatch)), range("nz", widths.nz, 1, kMaxWidth),
        range("ngf", widths.ngf, 1, kMaxWidth), range("ndf", widths.ndf, 1, kMaxWidth), range("nc", widths.nc, 1, 4),
        range("classes", widths.classes, 1, kMaxClasses), range("threads", threads, 0, kMaxThreads),
        range("n_critic", n_critic, 1, kMaxCritic), range("lambda", lambda, 0, 1e6), range("clip", clip, 1e-9, 1e3)})
    if (!s.ok()) return s;
  // Negative lr/β: the objective's default. β = 1 would divide by zero in
  // Adam's bias correction; NaN fails every comparison, so it is caught too.
  if (!(lr < 0 || (lr >= 1e-12f && lr <= 10))) return range("lr", lr, 1e-12, 10);
  if (!(beta1 < 1)) return range("beta1", beta1, 0, 0.9999);
  if (!(beta2 < 1)) return range("beta2", beta2, 0, 0.9999);
  return {};
}

Result<std::unique_ptr<Trainer>> Trainer::create(const TrainConfig& config, std::unique_ptr<DataSource> data) {
  std::unique_ptr<Trainer> t(new Trainer());
  t->config_ = config;
  TrainConfig& c = t->config_;
  auto spec = nets::model_spec(c.model);
  if (!spec.ok()) return spec.status();
  const nets::ModelSpec& m = **spec;
  t->objective_ = m.objective;
  t->size_ = m.image_size;
  t->conditional_ = m.conditional;
  GANTRY_TRY(c.check());
  const Shape image{c.widths.nc, m.image_size, m.image_size};
  if (data->image() != image)
    return Status::error("data: " + data->description() + " has images " + data->image().str() + ", model " + c.model +
                         " with nc " + std::to_string(c.widths.nc) + " needs " + image.str());
  if (c.batch > data->rows())
    return Status::error("batch " + std::to_string(c.batch) + " is larger than the data set: " + data->description());
  if (t->conditional_ && int64_t(data->class_names().size()) != c.widths.classes)
    return Status::error("data: " + data->description() + " has " + std::to_string(data->class_names().size()) +
                         " classes, model " + c.model + " was built for " + std::to_string(c.widths.classes));
  const bool gan = t->objective_ == nets::Objective::gan, gp = t->objective_ == nets::Objective::wgan_gp;
  if (c.lr < 0) c.lr = gan ? 2e-4f : gp ? 1e-4f : 5e-5f;
  if (c.beta1 < 0) c.beta1 = 0.5f;
  if (c.beta2 < 0) c.beta2 = 0.999f;

  Graph& g = t->graph_;
  auto pair = nets::build_pair(g, c.model, c.widths);
  if (!pair.ok()) return pair.status();
  t->nets_ = std::move(*pair);
  const nets::Network &G = t->nets_.generator, &D = t->nets_.discriminator;
  for (const auto* net : {&G, &D}) {
    const std::string prefix = net == &G ? "G." : "D.";
    for (const auto& list : {&net->params, &net->buffers})
      for (const nets::NamedTensor& nt : *list) t->persistent_.emplace_back(prefix + nt.name, nt.value);
  }

  const int64_t B = c.batch, batches = gan ? 1 : c.n_critic;
  t->rows_ = data->rows();
  const Shape batch_image{B, image[0], image[1], image[2]};
  t->images_ = g.input(Shape{batches, B, image[0], image[1], image[2]}, "batch.images");
  t->labels_ = t->conditional_ ? g.input(Shape{batches, B}, "batch.labels") : Value{};
  uint32_t stream = 0;
  auto batch_images = [&](int64_t k) { return reshape(g, slice(g, t->images_, 0, k, k + 1), batch_image); };
  auto batch_labels = [&](int64_t k) { return reshape(g, slice(g, t->labels_, 0, k, k + 1), Shape{B}); };
  auto noise = [&] { return normal(g, Shape{B, c.widths.nz, 1, 1}, stream++); };

  // Optimizer updates with per-parameter state named after PyTorch's optimizer
  // state, created on a network's first update and shared by the n_critic updates.
  std::map<int32_t, std::vector<Value>> moments;  // param id → its optimizer state leaves
  auto state_for = [&](Value p, const std::string& name, std::initializer_list<const char*> suffixes) {
    std::vector<Value>& st = moments[p.id];
    if (st.empty())
      for (const char* suffix : suffixes) {
        st.push_back(g.state(g.shape(p), name + suffix));
        t->persistent_.emplace_back(name + suffix, st.back());
      }
    return st;
  };
  // Gradients of `loss`; in mixed precision those of S·loss, each multiplied
  // back by 1/S in float32 (the optimizer's input, half_storage()) — or by
  // NaN when any of them overflowed binary16, which the optimizers skip.
  // bf16 takes the same schedule: with float32's range it hardly ever
  // overflows, so S climbs to its cap and stays (a power of two: exact).
  const bool mixed = c.precision != Precision::fp32;
  if (mixed) {
    t->loss_scale_ = kInitialLossScale;
    t->scale_in_ = g.input(Shape{1}, "loss_scale");
    t->unscale_in_ = g.input(Shape{1}, "loss_unscale");
  }
  auto gradients = [&](Value loss, const std::vector<Value>& wrt) {
    if (!mixed) return grad(g, loss, wrt);
    std::vector<Value> grads = grad(g, mul(g, loss, t->scale_in_), wrt);
    Value k = t->unscale_in_;
    for (const Value d : grads) k = add(g, k, reduce_sum(g, scale(g, d, 0), all_axes(g.shape(d))));
    t->unscale_checks_.push_back(k);
    for (Value& d : grads) d = mul(g, d, k);
    return grads;
  };
  auto update = [&](const nets::Network& net, const std::string& prefix, const std::vector<Value>& grads,
                    int64_t per_step, int64_t offset) {
    for (size_t i = 0; i < net.params.size(); ++i) {
      const Value p = net.params[i].value;
      const std::string name = prefix + net.params[i].name;
      if (t->objective_ == nets::Objective::wgan_clip) {
        RmspropOptions o;
        o.lr = c.lr;
        o.skip_nonfinite = mixed;
        rmsprop(g, p, grads[i], state_for(p, name, {".square_avg"})[0], o);
      } else {
        const std::vector<Value> mv = state_for(p, name, {".exp_avg", ".exp_avg_sq"});
        AdamOptions o;
        o.lr = c.lr, o.beta1 = c.beta1, o.beta2 = c.beta2, o.updates_per_step = per_step, o.update_offset = offset;
        o.skip_nonfinite = mixed;
        adam(g, p, grads[i], mv[0], mv[1], o);
      }
    }
  };
  auto params_of = [](const nets::Network& net) {
    std::vector<Value> v;
    for (const auto& nt : net.params) v.push_back(nt.value);
    return v;
  };
  const std::vector<Value> d_params = params_of(D), g_params = params_of(G);
  auto metric = [&](const char* name, Value v) { t->metric_values_.emplace_back(name, v); };

  if (gan) {
    const Value x = batch_images(0);
    const Value y = t->conditional_ ? batch_labels(0) : Value{};
    const Value fake = G.forward(g, noise(), y, true);
    const Value ones = fill(g, Shape{B, 1}, 1), zeros = fill(g, Shape{B, 1}, 0);
    const Value d_real = D.forward(g, x, y, true), d_fake = D.forward(g, fake, y, true);
    const Value loss_d =
        add(g, batch_mean(g, bce_with_logits(g, d_real, ones)), batch_mean(g, bce_with_logits(g, d_fake, zeros)));
    update(D, "D.", gradients(loss_d, d_params), 1, 0);
    // The generator step sees the updated discriminator, as in Goodfellow et al.'s
    // alternating updates and pytorch/examples' dcgan/main.py.
    const Value loss_g = batch_mean(g, bce_with_logits(g, D.forward(g, fake, y, true), ones));
    update(G, "G.", gradients(loss_g, g_params), 1, 0);
    metric("loss_D", loss_d);
    metric("loss_G", loss_g);
    metric("D_x", batch_mean(g, sigmoid(g, d_real)));
    metric("D_G_z", batch_mean(g, sigmoid(g, d_fake)));
  } else {
    Value loss_d, wdist, penalty, gnorm;
    for (int64_t k = 0; k < batches; ++k) {
      const Value x = batch_images(k);
      const Value fake = G.forward(g, noise(), Value{}, true);
      const Value d_real = batch_mean(g, D.forward(g, x, Value{}, true));
      const Value d_fake = batch_mean(g, D.forward(g, fake, Value{}, true));
      wdist = sub(g, d_real, d_fake);
      loss_d = scale(g, wdist, -1);
      if (gp) {
        // x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] per sample; the penalty differentiates D twice.
        const Value eps = uniform(g, Shape{B, 1, 1, 1}, stream++);
        const Value xhat = add(g, mul(g, eps, x), mul(g, scale(g, eps, -1, 1), fake));
        const Value dx =
            grad(g, reduce_sum(g, D.forward(g, xhat, Value{}, true), axes({0, 1})), {xhat}, GradOptions{true})[0];
        // 1e-12 keeps the norm differentiable at 0 (a zero gradient would give ∞·0).
        const Value norm =
            sqrt(g, scale(g, reduce_sum(g, square(g, reshape(g, dx, Shape{B, -1})), axes({1})), 1, 1e-12f));
        penalty = mean(g, square(g, scale(g, norm, 1, -1)), axes({0}));
        gnorm = mean(g, norm, axes({0}));
        loss_d = add(g, loss_d, scale(g, penalty, c.lambda));
      }
      update(D, "D.", gradients(loss_d, d_params), batches, k);
      if (!gp)
        for (const Value p : d_params) assign(g, p, clamp(g, p, -c.clip, c.clip));
    }
    const Value loss_g = scale(g, batch_mean(g, D.forward(g, G.forward(g, noise(), Value{}, true), Value{}, true)), -1);
    update(G, "G.", gradients(loss_g, g_params), 1, 0);
    metric("loss_D", loss_d);
    metric("loss_G", loss_g);
    metric("wasserstein", wdist);
    if (gp) {
      metric("grad_penalty", penalty);
      metric("grad_norm", gnorm);
    }
  }
  if (!g.ok()) return Status::error("building the " + c.model + " training step: " + g.status().message());

  std::vector<Value> outputs = t->unscale_checks_;
  for (const auto& [name, v] : t->metric_values_) outputs.push_back(v);
  auto program = compile(g, CompileOptions{c.backend, outputs, c.threads, c.profile, c.precision});
  if (!program.ok()) return program.status();
  t->program_ = std::move(*program);
  t->data_ = std::move(data);
  t->loader_ = std::make_unique<Loader>(*t->data_, c.seed, batches * B);
  t->metrics_.resize(t->metric_values_.size());
  for (size_t i = 0; i < t->metrics_.size(); ++i) t->metrics_[i].name = t->metric_values_[i].first;

  // The sampler: the same generator, eval mode.
  auto sampler =
      Sampler::create(nets::generator_builder(c.model, c.widths), c.widths.nz, kSampleBatch, c.backend, c.threads);
  if (!sampler.ok()) return sampler.status();
  t->sampler_ = std::move(*sampler);
  return t;
}

Status Trainer::init_weights() {
  step_ = 0;
  const nets::Network &G = nets_.generator, &D = nets_.discriminator;
  GANTRY_TRY(nets::initialize(*program_, graph_, G, config_.seed, kInitStream));
  const uint32_t d_stream = kInitStream + uint32_t(G.params.size() + G.buffers.size());
  GANTRY_TRY(nets::initialize(*program_, graph_, D, config_.seed, d_stream));
  // Optimizer moments start at zero.
  std::vector<float> zeros;
  for (const auto& [name, v] : persistent_) {
    if (name.find(".exp_avg") == std::string::npos && name.find(".square_avg") == std::string::npos) continue;
    zeros.assign(size_t(graph_.shape(v).numel()), 0.0f);
    GANTRY_TRY(program_->write(v, zeros.data(), int64_t(zeros.size())));
  }
  return {};
}

Status Trainer::write_batch() {
  const Loader::Batch& b = loader_->batch(step_);
  GANTRY_TRY(b.status);
  GANTRY_TRY(program_->write(images_, b.pixels.data(), int64_t(b.pixels.size())));
  return labels_.valid() ? program_->write(labels_, b.labels.data(), int64_t(b.labels.size())) : Status();
}

Status Trainer::step() {
  const bool mixed = config_.precision != Precision::fp32;
  GANTRY_TRY(write_batch());
  if (mixed) {
    const float unscale = 1 / loss_scale_;
    GANTRY_TRY(program_->write(scale_in_, &loss_scale_, 1));
    GANTRY_TRY(program_->write(unscale_in_, &unscale, 1));
  }
  GANTRY_TRY(program_->step(StepUniforms{config_.seed, uint64_t(step_)}));
  for (size_t i = 0; i < metrics_.size(); ++i)
    GANTRY_TRY(program_->read(metric_values_[i].second, &metrics_[i].value, 1));
  for (const Metric& m : metrics_)
    if (!std::isfinite(m.value))
      return Status::error("step " + std::to_string(step_ + 1) + ": " + m.name + " is " +
                           (std::isnan(m.value) ? "NaN" : "Inf") + "; the weights are no longer usable" +
                           (config_.precision == Precision::fp16
                                ? " (binary16 holds at most 65504: try --precision bf16 or fp32)"
                            : config_.precision == Precision::bf16 ? " (try --precision fp32)"
                                                                   : ""));
  ++step_;
  if (!mixed) return {};
  bool overflow = false;
  for (const Value k : unscale_checks_) {
    float v = 0;
    GANTRY_TRY(program_->read(k, &v, 1));
    overflow = overflow || !std::isfinite(v);
  }
  if (!overflow) {
    if (++clean_steps_ >= kLossScaleInterval) loss_scale_ = std::min(2 * loss_scale_, kMaxLossScale), clean_steps_ = 0;
    return {};
  }
  ++skipped_;
  clean_steps_ = 0;
  loss_scale_ /= 2;
  if (loss_scale_ < kMinLossScale)
    return Status::error("step " + std::to_string(step_) + ": the gradients overflow " +
                         precision_name(config_.precision) + " even with the loss scaled by " +
                         std::to_string(2 * loss_scale_) + "; try --precision fp32");
  return {};
}

Status Trainer::save(const std::string& path) const {
  SafeTensorsFile f;
  for (const auto& [name, v] : persistent_) {
    SafeTensor t{name, graph_.shape(v), std::vector<float>(size_t(graph_.shape(v).numel()))};
    GANTRY_TRY(program_->read(v, t.data.data(), int64_t(t.data.size())));
    f.tensors.push_back(std::move(t));
  }
  // data_rows: the minibatch order is a function of the data set's size, so a
  // resume can say when it changed.
  f.metadata = {{"format", kCheckpointFormat},
                {"step", std::to_string(step_)},
                {"config", config_.serialize()},
                {"data_rows", std::to_string(rows_)}};
  // The class names, so that `gantry sample --class NAME` can find a label.
  if (conditional_) f.metadata.emplace_back("class_names", join_class_names(data_->class_names()));
  return write_safetensors(path, f);
}

Status Trainer::load(const std::string& path) {
  auto f = read_safetensors(path);
  if (!f.ok()) return f.status();
  const std::string* format = f->meta("format");
  const std::string* step = f->meta("step");
  if (!format || *format != kCheckpointFormat || !step)
    return Status::error(path + ": not a gantry checkpoint (metadata \"format\" must be " + kCheckpointFormat + ")");
  for (const auto& [name, v] : persistent_) {
    const SafeTensor* t = f->find(name);
    if (!t) return Status::error(path + ": checkpoint has no tensor \"" + name + "\" (model " + config_.model + ")");
    if (t->shape != graph_.shape(v))
      return Status::error(path + ": tensor \"" + name + "\" has shape " + t->shape.str() + ", the model needs " +
                           graph_.shape(v).str());
    GANTRY_TRY(nets::check_loaded_values(path, name, t->data));
  }
  // Checked whole before any tensor is written, so a bad file leaves the weights as they were.
  auto steps = parse_checkpoint_step(path, *step);
  if (!steps.ok()) return steps.status();
  for (const auto& [name, v] : persistent_) {
    const SafeTensor* t = f->find(name);
    GANTRY_TRY(program_->write(v, t->data.data(), int64_t(t->data.size())));
  }
  step_ = *steps;
  return {};
}

Status Trainer::sample(const std::vector<float>& z, const std::vector<float>& labels, std::vector<float>& images) {
  const int64_t nz = config_.widths.nz, n = int64_t(z.size()) / nz;
  if (n < 1 || int64_t(z.size()) != n * nz)
    return Status::error("sample: z must hold a whole number of rows of " + std::to_string(nz));
  if (conditional_ && int64_t(labels.size()) != n) return Status::error("sample: need one label per z row");
  // Copy the current generator weights and running statistics into the sampler.
  const nets::Network& G = nets_.generator;
  std::vector<float> buf;
  size_t k = 0;
  for (const auto* list : {&G.params, &G.buffers})
    for (const nets::NamedTensor& t : *list) {
      buf.resize(size_t(graph_.shape(t.value).numel()));
      GANTRY_TRY(program_->read(t.value, buf.data(), int64_t(buf.size())));
      GANTRY_TRY(sampler_->set_weight(k++, buf.data(), int64_t(buf.size())));
    }
  // The sampler holds kSampleBatch rows: larger requests run in chunks.
  const int64_t per = sampler_->image().numel();
  images.resize(size_t(n * per));
  for (int64_t first = 0; first < n; first += kSampleBatch)
    GANTRY_TRY(sampler_->run(z.data() + first * nz, conditional_ ? labels.data() + first : nullptr,
                             std::min(kSampleBatch, n - first), images.data() + first * per));
  return {};
}

}  // namespace gantry

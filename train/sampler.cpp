// See sampler.h.
#include "train/sampler.h"

#include <algorithm>

namespace gantry {

Result<std::unique_ptr<Sampler>> Sampler::create(const std::function<nets::Network(Graph&)>& build, int64_t nz,
                                                 int64_t batch, BackendKind backend, int threads, Precision precision) {
  std::unique_ptr<Sampler> s(new Sampler());
  Graph& g = s->graph_;
  s->net_ = build(g);
  s->nz_ = nz;
  s->batch_ = batch;
  s->z_ = g.input(Shape{batch, nz, 1, 1}, "z");
  s->labels_ = s->net_.classes ? g.input(Shape{batch}, "labels") : Value{};
  if (s->net_.forward) s->out_ = s->net_.forward(g, s->z_, s->labels_, false);
  if (!g.ok() || !s->net_.forward) return Status::error("building the sampler: " + g.status().message());
  auto p = compile(g, CompileOptions{backend, {s->out_}, threads, false, precision});
  if (!p.ok()) return p.status();
  s->program_ = std::move(*p);
  s->z_in_.resize(size_t(batch * nz));
  s->labels_in_.resize(size_t(batch));
  s->out_all_.resize(size_t(g.shape(s->out_).numel()));
  return s;
}

Status Sampler::set_weight(size_t k, const float* values, int64_t count) {
  const size_t n_params = net_.params.size();
  if (k >= n_params + net_.buffers.size()) return Status::error("sampler: no weight " + std::to_string(k));
  const nets::NamedTensor& t = k < n_params ? net_.params[k] : net_.buffers[k - n_params];
  return program_->write(t.value, values, count);
}

Status Sampler::init_weights(uint64_t seed) { return nets::initialize(*program_, graph_, net_, seed, 0); }

Status Sampler::run(const float* z, const float* labels, int64_t n, float* out) {
  if (n < 1 || n > batch_)
    return Status::error("sampler: " + std::to_string(n) + " rows asked of a sampler compiled for 1.." +
                         std::to_string(batch_));
  std::copy_n(z, n * nz_, z_in_.begin());
  std::fill(z_in_.begin() + n * nz_, z_in_.end(), 0.0f);
  GANTRY_TRY(program_->write(z_, z_in_.data(), int64_t(z_in_.size())));
  if (labels_.valid()) {
    std::copy_n(labels, n, labels_in_.begin());
    std::fill(labels_in_.begin() + n, labels_in_.end(), 0.0f);
    GANTRY_TRY(program_->write(labels_, labels_in_.data(), int64_t(labels_in_.size())));
  }
  GANTRY_TRY(program_->step(StepUniforms{}));
  GANTRY_TRY(program_->read(out_, out_all_.data(), int64_t(out_all_.size())));
  std::copy_n(out_all_.begin(), n * image().numel(), out);
  return {};
}

}  // namespace gantry

// The one sampling path: a generator graph in eval mode compiled once for a
// fixed batch, its weights written once (or again after training steps), and
// run() any number of times into the caller's buffer with no allocation.
// gantry sample/eval (through generate()), the trainer's sample grids, gantry
// bench and the public API (include/gantry/gantry.hpp) all use it.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "nets/nets.h"

namespace gantry {

class Sampler {
 public:
  // build: adds the generator's leaves and returns it (nets::build_generator,
  // a loaded PyTorch layer list, ...). batch: rows per run.
  static Result<std::unique_ptr<Sampler>> create(const std::function<nets::Network(Graph&)>& build, int64_t nz,
                                                 int64_t batch, BackendKind backend, int threads,
                                                 Precision precision = Precision::fp32);

  // The generator's params then buffers, in nets::Network order.
  const nets::Network& network() const { return net_; }
  const Graph& graph() const { return graph_; }
  // Writes weight k (params, then buffers); count must be its numel.
  Status set_weight(size_t k, const float* values, int64_t count);
  // Every weight from DCGAN's initialization (nets::initialize, streams from 0)
  // with `seed`: a generator to time or to compare backends on without a checkpoint.
  Status init_weights(uint64_t seed);

  // z: n·nz values; labels: n class ids (conditional generators; ignored
  // otherwise); out: n·C·H·W values. 1 ≤ n ≤ batch(). Rows past n run on zero
  // latents and are not returned.
  Status run(const float* z, const float* labels, int64_t n, float* out);

  int64_t batch() const { return batch_; }
  int64_t nz() const { return nz_; }
  const Shape& image() const { return net_.output_shape; }  // [C, H, W]
  const Program& program() const { return *program_; }

 private:
  Sampler() = default;
  Graph graph_;
  nets::Network net_;
  Value z_, labels_, out_;
  std::unique_ptr<Program> program_;
  int64_t nz_ = 0, batch_ = 0;
  std::vector<float> z_in_, labels_in_, out_all_;  // one batch each, reused by run()
};

}  // namespace gantry

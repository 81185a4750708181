// Generators for sampling: loaded from a gantry checkpoint (the "G." tensors
// and the config in its metadata) or from a PyTorch DCGAN generator's
// state_dict saved with safetensors (nn.Sequential "main": main.0.weight,
// main.1.running_mean, ...), whose depth, widths, output channels and bias
// use are inferred from the tensor shapes. Sampling runs the generator in eval
// mode: batch norm uses running statistics, so a sample never depends on the
// rest of its batch.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "io/safetensors.h"
#include "nets/nets.h"
#include "train/sampler.h"

namespace gantry {

struct LoadedGenerator {
  std::string source;       // the file
  std::string description;  // one line for the user
  int64_t nz = 0;
  int classes = 0;                       // conditional generators: number of classes
  std::vector<std::string> class_names;  // and their names (a checkpoint's, else "0", "1", ...)
  Shape image;                           // [C, H, W]
  std::function<nets::Network(Graph&)> build;
  std::vector<SafeTensor> tensors;  // PyTorch names, in the network's params-then-buffers order
  int64_t batches_tracked = 0;      // written back as BatchNorm's num_batches_tracked by export
};

Result<LoadedGenerator> load_generator(const std::string& path);

// Samples are generated in chunks of at most kGenerateBatch (fewer when the
// arena would pass memory_limit()), so n is bounded only by the output itself.
constexpr int64_t kGenerateBatch = 64;

// z: n·nz values ([n, nz] row-major); labels: n class ids for conditional
// generators (ignored otherwise). Returns n·C·H·W values in [−1, 1]. Errors on
// non-finite latents or samples.
Result<std::vector<float>> generate(const LoadedGenerator& gen, const std::vector<float>& z,
                                    const std::vector<float>& labels, BackendKind backend, int threads = 0,
                                    Precision precision = Precision::fp32);

// The generator compiled once for `batch` rows with its weights written.
Result<std::unique_ptr<Sampler>> make_sampler(const LoadedGenerator& gen, int64_t batch, BackendKind backend,
                                              int threads = 0, Precision precision = Precision::fp32);

// Ok when n images of shape `image` (float32) fit memory_limit(); the error gives both figures.
Status check_output_bytes(int64_t n, const Shape& image);

// Writes the generator's tensors with their PyTorch names (plus
// num_batches_tracked for each BatchNorm, so load_state_dict(strict=True) works).
Status export_generator(const LoadedGenerator& gen, const std::string& path);

}  // namespace gantry

// Network builders: DCGAN (Radford et al. 2016) at 64×64, an edge-sized
// 28×28 DCGAN, a conditional DCGAN (Mirza & Osindero 2014) at 32×32 and the
// WGAN critics (the 64×64 and 28×28 D layouts with instance norm, no sigmoid);
// docs/DESIGN.md, "Models", lists every layer. Every leaf carries the name
// PyTorch gives it in the equivalent nn.Module (nn.Sequential "main.N" as in
// pytorch/examples' dcgan/main.py; named attributes for cgan32), so a state_dict
// maps 1:1 onto params + buffers. Checked by tests/test_nets.cpp: shapes,
// parameter counts worked out by hand from the layer lists, names, gradients.
//
// Dimension letters: B batch, C channels, H/W spatial; nz (latent size), ngf/ndf
// (G/D base widths), nc (image channels) as in pytorch/examples' DCGAN.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/graph.h"

namespace gantry::nets {

// Initial values, as DCGAN's initialization (Radford et al. 2016; weights_init in
// pytorch/examples' dcgan/main.py): conv weights N(0, 0.02);
// batch-norm scale N(1, 0.02), shift 0. Conv biases are 0 and instance-norm
// scales 1 (weights_init leaves those at PyTorch's defaults; 0 replaces the
// default uniform bias so that runs are reproducible from the seed alone).
enum class Init { normal_0_02, normal_1_0_02, zeros, ones };

struct NamedTensor {
  Value value;
  std::string name;  // PyTorch state_dict key, e.g. "main.0.weight"
  Init init;
};

// A network: its parameters and buffers as graph leaves, and a forward function
// that may be applied several times in one graph with the same leaves (D sees
// real, fake and interpolated batches).
struct Network {
  std::string kind;                  // "dcgan28.G", "wgan64.critic", ...
  std::vector<NamedTensor> params;   // Role::param leaves, in PyTorch parameters() order
  std::vector<NamedTensor> buffers;  // Role::state leaves: BN running_mean, running_var
                                     // (num_batches_tracked is not kept: momentum is fixed)
  Shape input_shape;                 // per sample: G [nz]; D [C, H, W]
  Shape output_shape;                // per sample: G [C, H, W]; D [1] (a logit)
  int classes = 0;                   // conditional nets: one-hot size of the label
  // x: [B, ...input_shape] (G also takes z as [B, nz, 1, 1]); labels: [B] float
  // class ids for conditional nets, ignored (pass Value{}) otherwise.
  // training: batch-norm batch statistics and running-stat updates (in place,
  // once per application); eval: running statistics. Returns [B, ...output_shape];
  // a bad input is recorded in the graph (Graph::status) and poisons the result.
  std::function<Value(Graph& g, Value x, Value labels, bool training)> forward;
};

struct Widths {
  int nz = 100, ngf = 64, ndf = 64, nc = 1;
  int classes = 10;  // conditional nets: the one-hot size of a label (MNIST's 10 digits by default)
};

// DCGAN, 64×64: ConvT(nz→16ngf, k4 s1 p0) → 4×4, then four ConvT k4 s2 p1 halving the
// channels (…→2ngf→nc) up to 64×64; BN+ReLU between, Tanh at the end. [B,nz] → [B,nc,64,64].
Network dcgan64_generator(Graph& g, const Widths& w);
// DCGAN D, 64×64: Conv(nc→2ndf, k4 s2 p1) LReLU, three Conv k4 s2 p1 (→4ndf→8ndf→16ndf)
// with BN+LReLU, Conv(16ndf→1, k4 s1 p0). [B,nc,64,64] → [B,1] logits.
Network dcgan64_discriminator(Graph& g, const Widths& w);
// Edge-sized, for 28×28 MNIST: ConvT(nz→2ngf, k7) → 7×7, ConvT k4 s2 p1 → 14 (ngf),
// ConvT k4 s2 p1 → 28 (nc); BN+ReLU between, Tanh. [B,nz] → [B,nc,28,28].
Network dcgan28_generator(Graph& g, const Widths& w);
// Mirrored: Conv(nc→ndf, k4 s2 p1) LReLU → 14, Conv(→2ndf) BN LReLU → 7, Conv(→1, k7). [B,1] logits.
Network dcgan28_discriminator(Graph& g, const Widths& w);
// Conditional DCGAN (32×32, w.classes classes; 256/512/256/128 channels at ngf 128):
// z and the one-hot label go through
// separate first layers that are concatenated. [B,nz] + labels [B] → [B,nc,32,32].
Network cgan32_generator(Graph& g, const Widths& w);
// Its D: image and classes×32×32 one-hot label maps through separate first
// convs, concatenated. [B,nc,32,32] + labels [B] → [B,1] logits. ndf must be even.
Network cgan32_discriminator(Graph& g, const Widths& w);
// The 64×64 WGAN critic, InstanceNorm2d(affine) where a DCGAN D has BN: Conv(nc→ndf) IN LReLU, …
// (→2ndf→4ndf→8ndf, k4 s2 p1 each), Conv(8ndf→1, k4 s1 p0). [B,nc,64,64] → [B,1].
Network wgan64_critic(Graph& g, const Widths& w);
// dcgan28_discriminator with InstanceNorm2d(affine) for BN. [B,nc,28,28] → [B,1].
Network wgan28_critic(Graph& g, const Widths& w);
// WGAN generators are dcgan64_generator / dcgan28_generator.

// An nn.Sequential("main") DCGAN generator of any depth, as pytorch/examples'
// dcgan/main.py writes it: ConvTranspose2d layers with BatchNorm2d + ReLU between
// them and Tanh at the end (main.0 ConvT, main.1 BN, main.2 ReLU, main.3 ConvT, ...).
struct GeneratorLayer {
  int64_t in, out;  // channels
  int kernel, stride, padding;
  bool bias;
};
Network sequential_generator(Graph& g, const std::string& kind, const std::vector<GeneratorLayer>& layers);

struct Pair {
  Network generator, discriminator;
};

// The objective a model trains with (train/trainer.h implements them).
enum class Objective { gan, wgan_gp, wgan_clip };

// One row of the model table: everything gantry knows about a model name,
// read by the trainer, the command line and the sampler alike.
struct ModelSpec {
  const char* name;
  Objective objective;
  int image_size;    // square images, this many pixels a side
  bool conditional;  // takes a class label (Widths::classes of them)
  Widths widths;     // its default widths (docs/DESIGN.md, "Models")
  Network (*generator)(Graph&, const Widths&);
  Network (*discriminator)(Graph&, const Widths&);
};
// The row for `model`, or an error listing the known names.
Result<const ModelSpec*> model_spec(const std::string& model);
// "dcgan28", "dcgan64", "cgan32", "wgangp28" / "wgan-clip28" (dcgan28 G +
// wgan28 critic), "wgangp64" / "wgan-clip64" (dcgan64 G + wgan64 critic).
// An unknown name or bad widths is an error naming them.
Result<Pair> build_pair(Graph& g, const std::string& model, const Widths& w);
// The generator of `model` alone (sampling needs no discriminator).
Result<Network> build_generator(Graph& g, const std::string& model, const Widths& w);
// The same as a function of the graph alone, as the sampler takes it: an
// unknown model or bad widths fail the graph and give an empty Network.
std::function<Network(Graph&)> generator_builder(const std::string& model, const Widths& w);
std::vector<std::string> model_names();

// Loaded weights are checked before use: every value finite and every
// BatchNorm running_var ≥ 0 (a negative variance gives NaN through its square
// root). Errors name `source` (the file), the tensor and the first bad index.
Status check_loaded_values(const std::string& source, const std::string& name, std::span<const float> values);

// Host-side initial values of one tensor of `shape`: deterministic from
// (seed, stream) through Philox (step 0), so every backend starts alike.
std::vector<float> initial_values(const NamedTensor& t, const Shape& shape, uint64_t seed, uint32_t stream);
// Writes initial values into every param and buffer of `net`: params[i] uses
// stream first_stream + i, buffers[j] first_stream + params.size() + j. So a
// second network initialized from the same seed starts at
// first_stream + params.size() + buffers.size().
Status initialize(Program& program, const Graph& g, const Network& net, uint64_t seed, uint32_t first_stream);

}  // namespace gantry::nets

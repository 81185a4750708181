// The network builders of nets.h. Each network is a list of layers built once
// (leaves named as PyTorch names them) and a forward function that replays
// the list on the graph, so D can be applied to several batches with the same
// leaves. docs/DESIGN.md, "Models", describes every layer list;
// tests/test_nets.cpp checks shapes, counts, names and gradients.
#include "nets/nets.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "engine/ops.h"
#include "platform/philox.h"

namespace gantry::nets {
namespace {

// LeakyReLU(0.2) in the discriminators, DCGAN's slope (Radford et al. 2016);
// the WGAN critics use the same.
constexpr float kLeakySlope = 0.2f;

enum class LayerKind { conv, conv_transpose, batch_norm, instance_norm, relu, leaky_relu, tanh };

struct Layer {
  LayerKind kind = LayerKind::relu;
  Value weight, bias;               // conv: w, b; norms: γ, β
  Value running_mean, running_var;  // batch_norm only
  ConvOptions conv;
};
using Layers = std::vector<Layer>;

// Appends layers to a list and their leaves to `net` under PyTorch names. A
// module is called `name` when one is given (an attribute of a custom
// nn.Module, as in cgan32's networks), else "<prefix>.<index>" with
// every layer, activations included, counted as nn.Sequential counts them.
// Every conv has a bias (bias=True in the nn.Sequential nets, PyTorch's default
// in cgan32's), and a state_dict import needs the same keys.
class LayerBuilder {
 public:
  LayerBuilder(Graph& g, Network& net, std::string prefix) : g_(g), net_(net), prefix_(std::move(prefix)) {}

  // w: [C_out, C_in, k, k]
  LayerBuilder& conv(int64_t cin, int64_t cout, int k, int stride, int pad, const std::string& name = {}) {
    return add_conv(LayerKind::conv, Shape{cout, cin, k, k}, cout, stride, pad, name);
  }
  // w: [C_in, C_out, k, k] (PyTorch's ConvTranspose2d layout)
  LayerBuilder& conv_transpose(int64_t cin, int64_t cout, int k, int stride, int pad, const std::string& name = {},
                               bool bias = true) {
    return add_conv(LayerKind::conv_transpose, Shape{cin, cout, k, k}, cout, stride, pad, name, bias);
  }
  LayerBuilder& batch_norm(int64_t c, const std::string& name = {}) {
    const std::string m = module(name);
    Layer l = norm_layer(LayerKind::batch_norm, m, c, Init::normal_1_0_02);
    l.running_mean = buffer(m + ".running_mean", Shape{c}, Init::zeros);
    l.running_var = buffer(m + ".running_var", Shape{c}, Init::ones);
    return push(l);
  }
  // InstanceNorm2d(affine=True): γ, β and no running statistics (PyTorch's
  // default track_running_stats=False). γ starts at 1: weights_init only
  // matches "BatchNorm", so PyTorch's default stays.
  LayerBuilder& instance_norm(int64_t c, const std::string& name = {}) {
    return push(norm_layer(LayerKind::instance_norm, module(name), c, Init::ones));
  }
  LayerBuilder& relu() { return activation(LayerKind::relu); }
  LayerBuilder& leaky_relu() { return activation(LayerKind::leaky_relu); }
  LayerBuilder& tanh() { return activation(LayerKind::tanh); }

  Layers take() { return std::move(layers_); }

 private:
  std::string module(const std::string& name) const {
    return name.empty() ? prefix_ + "." + std::to_string(index_) : name;
  }
  Value param(const std::string& name, const Shape& shape, Init init) {
    net_.params.push_back(NamedTensor{g_.parameter(shape, name), name, init});
    return net_.params.back().value;
  }
  Value buffer(const std::string& name, const Shape& shape, Init init) {
    net_.buffers.push_back(NamedTensor{g_.state(shape, name), name, init});
    return net_.buffers.back().value;
  }
  LayerBuilder& add_conv(LayerKind kind, const Shape& w, int64_t cout, int stride, int pad, const std::string& name,
                         bool bias = true) {
    const std::string m = module(name);
    Layer l;
    l.kind = kind;
    l.weight = param(m + ".weight", w, Init::normal_0_02);
    if (bias) l.bias = param(m + ".bias", Shape{cout}, Init::zeros);
    l.conv.stride[0] = l.conv.stride[1] = stride;
    l.conv.padding[0] = l.conv.padding[1] = pad;
    return push(l);
  }
  Layer norm_layer(LayerKind kind, const std::string& m, int64_t c, Init scale_init) {
    Layer l;
    l.kind = kind;
    l.weight = param(m + ".weight", Shape{c}, scale_init);
    l.bias = param(m + ".bias", Shape{c}, Init::zeros);
    return l;
  }
  LayerBuilder& activation(LayerKind kind) {
    Layer l;
    l.kind = kind;
    return push(l);
  }
  LayerBuilder& push(const Layer& l) {
    layers_.push_back(l);
    ++index_;
    return *this;
  }

  Graph& g_;
  Network& net_;
  std::string prefix_;
  int index_ = 0;
  Layers layers_;
};

// x: [B, C, H, W] → the layers applied in order.
Value run(Graph& g, const Layers& layers, Value x, bool training) {
  for (const Layer& l : layers) {
    switch (l.kind) {
      case LayerKind::conv:
        x = conv2d(g, x, l.weight, l.bias, l.conv);
        break;
      case LayerKind::conv_transpose:
        x = conv_transpose2d(g, x, l.weight, l.bias, l.conv);
        break;
      case LayerKind::batch_norm:
        x = gantry::batch_norm(g, x, l.weight, l.bias, l.running_mean, l.running_var, training);
        break;
      case LayerKind::instance_norm:
        x = gantry::instance_norm(g, x, l.weight, l.bias);
        break;
      case LayerKind::relu:
        x = gantry::relu(g, x);
        break;
      case LayerKind::leaky_relu:
        x = gantry::leaky_relu(g, x, kLeakySlope);
        break;
      case LayerKind::tanh:
        x = gantry::tanh(g, x);
        break;
    }
  }
  return x;
}

Shape with_batch(int64_t batch, const Shape& per_sample) {
  Shape s;
  s[s.rank++] = batch;
  for (int i = 0; i < per_sample.rank; ++i) s[s.rank++] = per_sample[i];
  return s;
}

// Checks x: [B, ...per_sample] and returns it as [B, C, H, W]: a vector
// per_sample [n] (a generator's z) may come as [B, n] or [B, n, 1, 1].
Value image_batch(Graph& g, const std::string& kind, Value x, const Shape& per_sample) {
  if (!x.valid()) return g.fail(g.ok() ? kind + ": input x is missing" : "");
  const Shape s = g.shape(x);
  const int64_t batch = s.rank ? s[0] : 0;
  const bool vector = per_sample.rank == 1;
  const Shape as_image = vector ? Shape{batch, per_sample[0], 1, 1} : with_batch(batch, per_sample);
  if (batch < 1 || (s != with_batch(batch, per_sample) && s != as_image))
    return g.fail(kind + ": input " + s.str() + " is not " + with_batch(-1, per_sample).str() + " with a batch B" +
                  (vector ? " (or [B," + std::to_string(per_sample[0]) + ",1,1])" : ""));
  return s == as_image ? x : reshape(g, x, as_image);
}

// labels: [B] float class ids → one-hot maps [B, classes, h, w], constant over h, w.
Value one_hot_maps(Graph& g, const std::string& kind, Value labels, int64_t batch, int classes, int64_t h, int64_t w) {
  if (!labels.valid()) return g.fail(g.ok() ? kind + ": class labels [B] are required" : "");
  if (g.shape(labels) != Shape{batch})
    return g.fail(kind + ": labels " + g.shape(labels).str() + " do not match the batch: want [" +
                  std::to_string(batch) + "]");
  const Value c = reshape(g, one_hot(g, labels, classes), Shape{batch, classes, 1, 1});
  return h == 1 && w == 1 ? c : broadcast_to(g, c, Shape{batch, classes, h, w});
}

// Records an error (and returns false) unless every width is positive and,
// where a layer splits a width in two, even.
bool check_widths(Graph& g, const std::string& kind, const Widths& w, bool even_ndf = false) {
  const std::string all = "nz=" + std::to_string(w.nz) + " ngf=" + std::to_string(w.ngf) +
                          " ndf=" + std::to_string(w.ndf) + " nc=" + std::to_string(w.nc) +
                          " classes=" + std::to_string(w.classes);
  if (w.nz < 1 || w.ngf < 1 || w.ndf < 1 || w.nc < 1 || w.classes < 1) {
    g.fail(kind + ": widths " + all + " must be positive");
    return false;
  }
  if (even_ndf && w.ndf % 2) {
    g.fail(kind + ": ndf must be even (two ndf/2 branches), got " + all);
    return false;
  }
  return true;
}

// A network with no layers yet; until its forward is set (it is not when the
// widths are bad) applying it records an error and returns a poisoned Value.
Network start(std::string kind, const Shape& in, const Shape& out, int classes = 0) {
  Network net;
  net.kind = std::move(kind);
  net.input_shape = in;
  net.output_shape = out;
  net.classes = classes;
  net.forward = [kind = net.kind](Graph& g, Value, Value, bool) { return g.fail(kind + ": not built (bad widths)"); };
  return net;
}

// Unconditional G: z [B, nz] or [B, nz, 1, 1] → main → [B, ...output_shape].
void set_generator_forward(Network& net, Layers main) {
  net.forward = [kind = net.kind, in = net.input_shape, main = std::move(main)](Graph& g, Value z, Value,
                                                                                bool training) {
    return run(g, main, image_batch(g, kind, z, in), training);
  };
}

// Unconditional D / critic: x [B, C, H, W] → main → [B, 1, 1, 1] → logits [B, 1].
void set_critic_forward(Network& net, Layers main) {
  net.forward = [kind = net.kind, in = net.input_shape, main = std::move(main)](Graph& g, Value x, Value,
                                                                                bool training) {
    x = image_batch(g, kind, x, in);
    if (!x.valid()) return x;
    return reshape(g, run(g, main, x, training), Shape{g.shape(x)[0], 1});
  };
}

// The 64×64 DCGAN D, or (instance_norm) the matching WGAN critic. A DCGAN D
// usually ends with nn.Sigmoid() (pytorch/examples' does); gantry leaves it out and returns logits,
// because its loss is BCE-with-logits (stable where sigmoid saturates). The
// Sigmoid has no parameters, so the state_dict keys are unchanged.
Network critic64(Graph& g, const Widths& w, std::string kind, bool instance_norm) {
  Network net = start(std::move(kind), Shape{w.nc, 64, 64}, Shape{1});
  if (!check_widths(g, net.kind, w)) return net;
  LayerBuilder b(g, net, "main");
  // DCGAN D: 2ndf → 4 → 8 → 16ndf, no norm on the first conv. The WGAN
  // critic: ndf → 2 → 4 → 8ndf, a norm after every conv but the last.
  const int64_t first = instance_norm ? w.ndf : 2 * w.ndf;
  b.conv(w.nc, first, 4, 2, 1);  // → 32×32
  if (instance_norm) b.instance_norm(first);
  b.leaky_relu();
  int64_t c = first;
  for (int i = 0; i < 3; ++i, c *= 2) {  // → 16, 8, 4
    b.conv(c, 2 * c, 4, 2, 1);
    if (instance_norm) {
      b.instance_norm(2 * c);
    } else {
      b.batch_norm(2 * c);
    }
    b.leaky_relu();
  }
  b.conv(c, 1, 4, 1, 0);  // → 1×1
  set_critic_forward(net, b.take());
  return net;
}

Network critic28(Graph& g, const Widths& w, std::string kind, bool instance_norm) {
  Network net = start(std::move(kind), Shape{w.nc, 28, 28}, Shape{1});
  if (!check_widths(g, net.kind, w)) return net;
  LayerBuilder b(g, net, "main");
  b.conv(w.nc, w.ndf, 4, 2, 1).leaky_relu();  // → 14×14
  b.conv(w.ndf, 2 * w.ndf, 4, 2, 1);          // → 7×7
  if (instance_norm) {
    b.instance_norm(2 * w.ndf);
  } else {
    b.batch_norm(2 * w.ndf);
  }
  b.leaky_relu().conv(2 * w.ndf, 1, 7, 1, 0);  // → 1×1 logits
  set_critic_forward(net, b.take());
  return net;
}

// The default widths: dcgan64 and the 28×28 nets nz 100, ngf = ndf = 64, nc 1
// (MNIST); cgan32 ngf = ndf = 128 (G channels 256/512/256/128); wgan*64
// d = 64, nc 3 (RGB faces such as CelebA; gantry train and bench use nc 1).
const ModelSpec kModels[] = {
    {"dcgan28", Objective::gan, 28, false, Widths{100, 64, 64, 1}, dcgan28_generator, dcgan28_discriminator},
    {"dcgan64", Objective::gan, 64, false, Widths{100, 64, 64, 1}, dcgan64_generator,
     dcgan64_discriminator},  // DCGAN: MNIST resized to 64×64
    {"cgan32", Objective::gan, 32, true, Widths{100, 128, 128, 1}, cgan32_generator,
     cgan32_discriminator},  // conditional DCGAN
    {"wgangp28", Objective::wgan_gp, 28, false, Widths{100, 64, 64, 1}, dcgan28_generator, wgan28_critic},
    {"wgan-clip28", Objective::wgan_clip, 28, false, Widths{100, 64, 64, 1}, dcgan28_generator, wgan28_critic},
    {"wgangp64", Objective::wgan_gp, 64, false, Widths{100, 64, 64, 3}, dcgan64_generator,
     wgan64_critic},  // WGAN-GP critic at 64×64, d = 64
    {"wgan-clip64", Objective::wgan_clip, 64, false, Widths{100, 64, 64, 3}, dcgan64_generator, wgan64_critic},
};

}  // namespace

Network sequential_generator(Graph& g, const std::string& kind, const std::vector<GeneratorLayer>& layers) {
  if (layers.empty()) {
    g.fail(kind + ": a generator needs at least one layer");
    return start(kind, Shape{1}, Shape{1});
  }
  int64_t h = 1;  // z enters as [B, nz, 1, 1]
  for (const GeneratorLayer& l : layers) h = (h - 1) * l.stride - 2 * l.padding + l.kernel;
  Network net = start(kind, Shape{layers.front().in}, Shape{layers.back().out, h, h});
  LayerBuilder b(g, net, "main");
  for (size_t i = 0; i < layers.size(); ++i) {
    const GeneratorLayer& l = layers[i];
    b.conv_transpose(l.in, l.out, l.kernel, l.stride, l.padding, {}, l.bias);
    if (i + 1 < layers.size()) b.batch_norm(l.out).relu();
  }
  b.tanh();
  set_generator_forward(net, b.take());
  return net;
}

Network dcgan64_generator(Graph& g, const Widths& w) {
  if (!check_widths(g, "dcgan64.G", w)) return start("dcgan64.G", Shape{w.nz}, Shape{w.nc, 64, 64});
  // Starts at 16·ngf (1024 for ngf = 64, as in Radford et al.'s generator figure), not
  // pytorch/examples' 8·ngf: → 4, 8, 16, 32, 64.
  const int64_t c = 16 * w.ngf;
  return sequential_generator(g, "dcgan64.G",
                              {{w.nz, c, 4, 1, 0, true},
                               {c, c / 2, 4, 2, 1, true},
                               {c / 2, c / 4, 4, 2, 1, true},
                               {c / 4, c / 8, 4, 2, 1, true},
                               {c / 8, w.nc, 4, 2, 1, true}});
}

Network dcgan64_discriminator(Graph& g, const Widths& w) { return critic64(g, w, "dcgan64.D", false); }

Network dcgan28_generator(Graph& g, const Widths& w) {
  if (!check_widths(g, "dcgan28.G", w)) return start("dcgan28.G", Shape{w.nz}, Shape{w.nc, 28, 28});
  // → 7×7 (k7 from 1×1), 14×14, 28×28
  return sequential_generator(
      g, "dcgan28.G",
      {{w.nz, 2 * w.ngf, 7, 1, 0, true}, {2 * w.ngf, w.ngf, 4, 2, 1, true}, {w.ngf, w.nc, 4, 2, 1, true}});
}

Network dcgan28_discriminator(Graph& g, const Widths& w) { return critic28(g, w, "dcgan28.D", false); }

// Conditional DCGAN G (label conditioning as in Mirza & Osindero 2014), with
// named modules, whose state_dict keys are "deconv1_1.weight", "deconv1_1_bn.running_mean", ...:
//   z [nz,1,1]   → deconv1_1 T.conv(2ngf, f4 s1 p0), deconv1_1_bn, ReLU   [2ngf,4,4]
//   c [10,1,1]   → deconv1_2 T.conv(2ngf, f4 s1 p0), deconv1_2_bn, ReLU   [2ngf,4,4]
//   concatenated (z first)                                                [4ngf,4,4]
//   → deconv2 (2ngf, f4 s2 p1) deconv2_bn ReLU → deconv3 (ngf) deconv3_bn ReLU
//   → deconv4 (nc) Tanh                                                   [nc,32,32]
// With ngf = 128 (the model table's default widths) the channels are 256/512/256/128.
// Conv biases are on (PyTorch's default).
Network cgan32_generator(Graph& g, const Widths& w) {
  Network net = start("cgan32.G", Shape{w.nz}, Shape{w.nc, 32, 32}, w.classes);
  if (!check_widths(g, net.kind, w)) return net;
  const int64_t ngf = w.ngf;
  LayerBuilder z_branch(g, net, ""), label_branch(g, net, ""), trunk(g, net, "");
  z_branch.conv_transpose(w.nz, 2 * ngf, 4, 1, 0, "deconv1_1").batch_norm(2 * ngf, "deconv1_1_bn").relu();
  label_branch.conv_transpose(w.classes, 2 * ngf, 4, 1, 0, "deconv1_2").batch_norm(2 * ngf, "deconv1_2_bn").relu();
  trunk.conv_transpose(4 * ngf, 2 * ngf, 4, 2, 1, "deconv2").batch_norm(2 * ngf, "deconv2_bn").relu();  // → 8×8
  trunk.conv_transpose(2 * ngf, ngf, 4, 2, 1, "deconv3").batch_norm(ngf, "deconv3_bn").relu();          // → 16×16
  trunk.conv_transpose(ngf, w.nc, 4, 2, 1, "deconv4").tanh();                                           // → 32×32
  net.forward = [kind = net.kind, in = net.input_shape, classes = w.classes, z_layers = z_branch.take(),
                 label_layers = label_branch.take(),
                 trunk_layers = trunk.take()](Graph& g, Value z, Value labels, bool training) {
    z = image_batch(g, kind, z, in);  // [B, nz, 1, 1]
    if (!z.valid()) return z;
    const Value c = one_hot_maps(g, kind, labels, g.shape(z)[0], classes, 1, 1);  // [B, classes, 1, 1]
    const Value h = concat(g, {run(g, z_layers, z, training), run(g, label_layers, c, training)}, 1);
    return run(g, trunk_layers, h, training);
  };
  return net;
}

// The conditional DCGAN D, with named modules:
//   x [nc,32,32]  → conv1_1 Conv(ndf/2, f4 s2 p1), LeakyReLU(0.2)  [ndf/2,16,16]
//   c [10,32,32]  → conv1_2 Conv(ndf/2, f4 s2 p1), LeakyReLU(0.2)  [ndf/2,16,16]
//   concatenated (image first)                                    [ndf,16,16]
//   → conv2 (2ndf, f4 s2 p1) conv2_bn LReLU → conv3 (4ndf) conv3_bn LReLU
//   → conv4 (1, f4 s1 p0)                                          logits [1]
// Both first convs are followed by leaky_relu(0.2); the slope is 0.2
// throughout; conv biases are on. The Sigmoid is left out (logits; see critic64).
Network cgan32_discriminator(Graph& g, const Widths& w) {
  Network net = start("cgan32.D", Shape{w.nc, 32, 32}, Shape{1}, w.classes);
  if (!check_widths(g, net.kind, w, true)) return net;
  const int64_t ndf = w.ndf;
  LayerBuilder image_branch(g, net, ""), label_branch(g, net, ""), trunk(g, net, "");
  image_branch.conv(w.nc, ndf / 2, 4, 2, 1, "conv1_1").leaky_relu();
  label_branch.conv(w.classes, ndf / 2, 4, 2, 1, "conv1_2").leaky_relu();
  trunk.conv(ndf, 2 * ndf, 4, 2, 1, "conv2").batch_norm(2 * ndf, "conv2_bn").leaky_relu();      // → 8×8
  trunk.conv(2 * ndf, 4 * ndf, 4, 2, 1, "conv3").batch_norm(4 * ndf, "conv3_bn").leaky_relu();  // → 4×4
  trunk.conv(4 * ndf, 1, 4, 1, 0, "conv4");                                                     // → 1×1
  net.forward = [kind = net.kind, in = net.input_shape, classes = w.classes, image_layers = image_branch.take(),
                 label_layers = label_branch.take(),
                 trunk_layers = trunk.take()](Graph& g, Value x, Value labels, bool training) {
    x = image_batch(g, kind, x, in);
    if (!x.valid()) return x;
    const int64_t batch = g.shape(x)[0];
    const Value c = one_hot_maps(g, kind, labels, batch, classes, in[1], in[2]);  // [B, classes, 32, 32]
    const Value h = concat(g, {run(g, image_layers, x, training), run(g, label_layers, c, training)}, 1);
    return reshape(g, run(g, trunk_layers, h, training), Shape{batch, 1});
  };
  return net;
}

Network wgan64_critic(Graph& g, const Widths& w) { return critic64(g, w, "wgan64.critic", true); }

Network wgan28_critic(Graph& g, const Widths& w) { return critic28(g, w, "wgan28.critic", true); }

Result<const ModelSpec*> model_spec(const std::string& model) {
  std::string known;
  for (const ModelSpec& m : kModels) {
    if (model == m.name) return &m;
    known += std::string(known.empty() ? "" : ", ") + m.name;
  }
  return Status::error("unknown model '" + model + "' (models: " + known + ")");
}

Result<Pair> build_pair(Graph& g, const std::string& model, const Widths& w) {
  auto m = model_spec(model);
  if (!m.ok()) return m.status();
  Pair pair{(*m)->generator(g, w), (*m)->discriminator(g, w)};
  if (!g.ok()) return Status::error("model '" + model + "': " + g.status().message());
  return pair;
}

Result<Network> build_generator(Graph& g, const std::string& model, const Widths& w) {
  auto m = model_spec(model);
  if (!m.ok()) return m.status();
  Network net = (*m)->generator(g, w);
  if (!g.ok()) return Status::error("model '" + model + "': " + g.status().message());
  return net;
}

std::function<Network(Graph&)> generator_builder(const std::string& model, const Widths& w) {
  return [model, w](Graph& g) {
    auto net = build_generator(g, model, w);
    if (!net.ok()) g.fail(net.message());
    return net.ok() ? std::move(*net) : Network{};
  };
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelSpec& m : kModels) names.push_back(m.name);
  return names;
}

std::vector<float> initial_values(const NamedTensor& t, const Shape& shape, uint64_t seed, uint32_t stream) {
  std::vector<float> v(size_t(shape.numel()), t.init == Init::ones ? 1.0f : 0.0f);
  if (t.init == Init::normal_0_02 || t.init == Init::normal_1_0_02) {
    const float mean = t.init == Init::normal_1_0_02 ? 1.0f : 0.0f;
    for (size_t i = 0; i < v.size(); ++i) v[i] = mean + 0.02f * philox_normal(seed, 0, stream, uint32_t(i));
  }
  return v;
}

Status initialize(Program& program, const Graph& g, const Network& net, uint64_t seed, uint32_t first_stream) {
  uint32_t stream = first_stream;
  for (const std::vector<NamedTensor>* list : {&net.params, &net.buffers}) {
    for (const NamedTensor& t : *list) {
      if (!t.value.valid() || t.value.id >= g.size())
        return Status::error(net.kind + ": tensor '" + t.name + "' is not a node of this graph");
      const std::vector<float> v = initial_values(t, g.shape(t.value), seed, stream++);
      if (Status s = program.write(t.value, v.data(), int64_t(v.size())); !s.ok())
        return Status::error(net.kind + ": initializing '" + t.name + "': " + s.message());
    }
  }
  return {};
}

Status check_loaded_values(const std::string& source, const std::string& name, std::span<const float> values) {
  const bool variance = name.size() >= 11 && name.compare(name.size() - 11, 11, "running_var") == 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (std::isfinite(v) && !(variance && v < 0)) continue;
    char value[32];
    std::snprintf(value, sizeof value, "%g", double(v));
    return Status::error(source + ": tensor '" + name + "' holds " + value + " at index " + std::to_string(i) +
                         (variance && std::isfinite(v) ? " (a variance must be ≥ 0)" : " (weights must be finite)"));
  }
  return {};
}

}  // namespace gantry::nets

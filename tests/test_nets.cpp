// The network builders (nets/): per network the output shape, the parameter
// count PyTorch reports for the equivalent nn.Module (worked out by hand below), the
// state_dict names in PyTorch order, and a forward + backward run on the CPU
// backend at small widths. Also: D and the critics return logits (no
// sigmoid), an eval-mode G treats samples independently, a critic can be
// differentiated twice (WGAN-GP), and initial values are reproducible.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "engine/autodiff.h"
#include "engine/cpu_backend.h"
#include "engine/ops.h"
#include "nets/nets.h"
#include "platform/philox.h"

using namespace gantry;
using namespace gantry::nets;

namespace {

using Builder = Network (*)(Graph&, const Widths&);

// "<m>.weight", "<m>.bias" per module m: every module here (conv with bias, BN, IN affine) has both.
std::vector<std::string> weight_bias(const std::vector<std::string>& modules) {
  std::vector<std::string> out;
  for (const std::string& m : modules) out.insert(out.end(), {m + ".weight", m + ".bias"});
  return out;
}
std::vector<std::string> running_stats(const std::vector<std::string>& modules) {
  std::vector<std::string> out;
  for (const std::string& m : modules) out.insert(out.end(), {m + ".running_mean", m + ".running_var"});
  return out;
}
std::vector<std::string> main_(std::initializer_list<int> indices) {
  std::vector<std::string> out;
  for (int i : indices) out.push_back("main." + std::to_string(i));
  return out;
}

struct NetCase {
  const char* kind;
  Builder build;
  Widths small;   // nz, ngf, ndf, nc: small, so that each CPU run takes milliseconds
  Shape in, out;  // per sample, at `small`
  std::vector<std::string> modules, batch_norm_modules;  // PyTorch order
  bool generator;
};

const std::vector<NetCase>& net_cases() {
  // One network per two lines reads better than one field per line.
  // clang-format off
  static const std::vector<NetCase> cases = {
      {"dcgan64.G", dcgan64_generator, {16, 4, 4, 3}, Shape{16}, Shape{3, 64, 64},
       main_({0, 1, 3, 4, 6, 7, 9, 10, 12}), main_({1, 4, 7, 10}), true},
      {"dcgan64.D", dcgan64_discriminator, {16, 4, 4, 3}, Shape{3, 64, 64}, Shape{1},
       main_({0, 2, 3, 5, 6, 8, 9, 11}), main_({3, 6, 9}), false},
      {"dcgan28.G", dcgan28_generator, {16, 8, 8, 1}, Shape{16}, Shape{1, 28, 28},
       main_({0, 1, 3, 4, 6}), main_({1, 4}), true},
      {"dcgan28.D", dcgan28_discriminator, {16, 8, 8, 1}, Shape{1, 28, 28}, Shape{1},
       main_({0, 2, 3, 5}), main_({3}), false},
      {"cgan32.G", cgan32_generator, {16, 8, 8, 1}, Shape{16}, Shape{1, 32, 32},
       {"deconv1_1", "deconv1_1_bn", "deconv1_2", "deconv1_2_bn", "deconv2", "deconv2_bn", "deconv3", "deconv3_bn",
        "deconv4"},
       {"deconv1_1_bn", "deconv1_2_bn", "deconv2_bn", "deconv3_bn"}, true},
      {"cgan32.D", cgan32_discriminator, {16, 8, 8, 1}, Shape{1, 32, 32}, Shape{1},
       {"conv1_1", "conv1_2", "conv2", "conv2_bn", "conv3", "conv3_bn", "conv4"}, {"conv2_bn", "conv3_bn"}, false},
      {"wgan64.critic", wgan64_critic, {16, 8, 4, 3}, Shape{3, 64, 64}, Shape{1},
       main_({0, 1, 3, 4, 6, 7, 9, 10, 12}), {}, false},
      {"wgan28.critic", wgan28_critic, {16, 8, 8, 1}, Shape{1, 28, 28}, Shape{1}, main_({0, 2, 3, 5}), {}, false},
  };
  // clang-format on
  return cases;
}

const NetCase& net_case(const std::string& kind) {
  for (const NetCase& c : net_cases())
    if (kind == c.kind) return c;
  ADD_FAILURE() << "no case " << kind;
  return net_cases()[0];
}

Shape with_batch(int64_t batch, const Shape& per_sample) {
  Shape s{batch};
  for (int i = 0; i < per_sample.rank; ++i) s[s.rank++] = per_sample[i];
  return s;
}

int64_t count(const Graph& g, const std::vector<NamedTensor>& ts) {
  int64_t n = 0;
  for (const NamedTensor& t : ts) n += g.shape(t.value).numel();
  return n;
}

std::vector<std::string> names(const std::vector<NamedTensor>& ts) {
  std::vector<std::string> out;
  for (const NamedTensor& t : ts) out.push_back(t.name);
  return out;
}

int leaf_count(const Graph& g) {
  return int(std::count_if(g.nodes().begin(), g.nodes().end(), [](const Node& n) { return n.op == Op::leaf; }));
}

// Deterministic inputs: z ~ N(0, 1) for a generator, images in (−1, 1) for a
// discriminator, labels cycling through the classes.
std::vector<float> input_values(const Shape& s, bool generator, uint32_t stream) {
  std::vector<float> v(size_t(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    const float n = philox_normal(3, 0, stream, uint32_t(i));
    v[i] = generator ? n : std::tanh(n);
  }
  return v;
}

std::vector<float> read(const Program& p, const Graph& g, Value v) {
  std::vector<float> out(size_t(g.shape(v).numel()));
  const Status s = p.read(v, out.data(), int64_t(out.size()));
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// A network applied once to input leaves x (and labels), compiled for the CPU.
struct NetRun {
  Graph g;
  Network net;
  Value x, labels, y;
  std::vector<Value> outputs;
};

void apply(NetRun& r, const NetCase& c, int64_t batch, bool training) {
  r.net = c.build(r.g, c.small);
  r.x = r.g.input(with_batch(batch, r.net.input_shape), "x");
  r.labels = r.net.classes ? r.g.input(Shape{batch}, "labels") : Value{};
  r.y = r.net.forward(r.g, r.x, r.labels, training);
  r.outputs = {r.y};
}

std::unique_ptr<CpuProgram<float>> compile_and_init(NetRun& r) {
  EXPECT_TRUE(r.g.ok()) << r.g.status().message();
  auto p = CpuProgram<float>::compile(r.g, r.outputs, CpuOptions{2});
  EXPECT_TRUE(p.ok()) << p.message();
  if (!p.ok()) return nullptr;
  const Status s = initialize(**p, r.g, r.net, 5, 0);
  EXPECT_TRUE(s.ok()) << s.message();
  return std::move(*p);
}

void write_inputs(Program& p, const NetRun& r, bool generator, uint32_t stream) {
  const std::vector<float> x = input_values(r.g.shape(r.x), generator, stream);
  ASSERT_TRUE(p.write(r.x, x.data(), int64_t(x.size())).ok());
  if (!r.labels.valid()) return;
  std::vector<float> labels;
  for (int64_t i = 0; i < r.g.shape(r.labels)[0]; ++i) labels.push_back(float((3 * i + 1) % r.net.classes));
  ASSERT_TRUE(p.write(r.labels, labels.data(), int64_t(labels.size())).ok());
}

// Gradients of every parameter: finite, and non-zero somewhere — except the
// bias of a conv that feeds a normalization (a per-channel constant the norm
// subtracts again: PyTorch computes ~0 for it too); that one must be ~0 next
// to its conv weight's gradient, which also proves the norm is in place.
void expect_param_gradients(const Program& p, const NetRun& r, const std::vector<Value>& grads) {
  const std::vector<NamedTensor>& params = r.net.params;
  std::vector<float> max_grad(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const std::vector<float> gi = read(p, r.g, grads[i]);
    EXPECT_TRUE(all_finite(gi)) << params[i].name;
    max_grad[i] = max_abs(gi);
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const bool feeds_norm = i % 2 == 1 && i + 1 < params.size() && r.g.shape(params[i - 1].value).rank == 4 &&
                            r.g.shape(params[i + 1].value).rank == 1;
    if (feeds_norm) {
      EXPECT_LT(max_grad[i], 1e-3f * max_grad[i - 1])
          << params[i].name << " feeds a norm; weight grad " << max_grad[i - 1];
    } else {
      EXPECT_GT(max_grad[i], 0.0f) << params[i].name << " gets no gradient";
    }
  }
}

TEST(Nets, OutputShapesForBatch3) {
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.kind);
    for (bool training : {true, false}) {
      NetRun r;
      apply(r, c, 3, training);
      ASSERT_TRUE(r.g.ok()) << r.g.status().message();
      EXPECT_EQ(r.net.kind, c.kind);
      EXPECT_EQ(r.net.input_shape, c.in) << r.net.input_shape.str();
      EXPECT_EQ(r.net.output_shape, c.out) << r.net.output_shape.str();
      EXPECT_EQ(r.g.shape(r.y), with_batch(3, c.out)) << r.g.shape(r.y).str();
      EXPECT_EQ(r.net.classes, std::string(c.kind).starts_with("cgan") ? 10 : 0);
    }
  }
}

// Leaves are named as the equivalent PyTorch modules name them, in state_dict
// order, so that a state_dict maps 1:1 (nn.Sequential counts activations too).
TEST(Nets, NamesArePyTorchStateDictKeysInOrder) {
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.kind);
    Graph g;
    const Network net = c.build(g, c.small);
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(names(net.params), weight_bias(c.modules));
    EXPECT_EQ(names(net.buffers), running_stats(c.batch_norm_modules));
    std::set<std::string> unique;
    for (const NamedTensor& t : net.params) {
      unique.insert(t.name);
      EXPECT_EQ(g.node(t.value).role, Role::param) << t.name;
      EXPECT_EQ(g.node(t.value).name, t.name);
    }
    for (const NamedTensor& t : net.buffers) {
      unique.insert(t.name);
      EXPECT_EQ(g.node(t.value).role, Role::state) << t.name;
      EXPECT_EQ(g.node(t.value).name, t.name);
    }
    EXPECT_EQ(unique.size(), net.params.size() + net.buffers.size());
    EXPECT_EQ(leaf_count(g), int(unique.size()));
  }
}

void expect_counts(Builder build, const Widths& w, int64_t params, int64_t buffers) {
  Graph g;
  const Network net = build(g, w);
  ASSERT_TRUE(g.ok()) << g.status().message();
  SCOPED_TRACE(net.kind);
  EXPECT_EQ(count(g, net.params), params);
  EXPECT_EQ(count(g, net.buffers), buffers);
}

// sum(p.numel() for p in module.parameters()) at the model table's default widths, by hand.
// Conv / ConvT: C_in·C_out·k² weights + C_out biases; BatchNorm2d and affine
// InstanceNorm2d: 2·C (γ, β); BN buffers: 2·C (running mean and variance).
TEST(Nets, ParameterCountsMatchPyTorch) {
  // dcgan64.G, nz 100, ngf 64, nc 1 (DCGAN, Radford et al. 2016): ConvT 100→1024→512→256→128→1, BN on the four hidden.
  expect_counts(dcgan64_generator, Widths{100, 64, 64, 1},
                100 * 1024 * 16 + 1024 + 2 * 1024 +    // main.0, main.1
                    1024 * 512 * 16 + 512 + 2 * 512 +  // main.3, main.4
                    512 * 256 * 16 + 256 + 2 * 256 +   // main.6, main.7
                    256 * 128 * 16 + 128 + 2 * 128 +   // main.9, main.10
                    128 * 1 * 16 + 1,                  // main.12          = 12,656,257
                2 * (1024 + 512 + 256 + 128));         //                  = 3,840
  // dcgan64.D, ndf 64: Conv 1→128→256→512→1024→1, BN on 256, 512, 1024.
  expect_counts(dcgan64_discriminator, Widths{100, 64, 64, 1},
                1 * 128 * 16 + 128 +                     // main.0
                    128 * 256 * 16 + 256 + 2 * 256 +     // main.2, main.3
                    256 * 512 * 16 + 512 + 2 * 512 +     // main.5, main.6
                    512 * 1024 * 16 + 1024 + 2 * 1024 +  // main.8, main.9
                    1024 * 1 * 16 + 1,                   // main.11          = 11,033,985
                2 * (256 + 512 + 1024));                 //                  = 3,584
  // dcgan28.G, nz 100, ngf 64: ConvT k7 100→128, k4 128→64, k4 64→1.
  expect_counts(dcgan28_generator, Widths{100, 64, 64, 1},
                100 * 128 * 49 + 128 + 2 * 128 +   // main.0, main.1
                    128 * 64 * 16 + 64 + 2 * 64 +  // main.3, main.4
                    64 * 1 * 16 + 1,               // main.6           = 759,873
                2 * (128 + 64));                   //                  = 384
  // dcgan28.D, ndf 64: Conv k4 1→64, k4 64→128 + BN, k7 128→1.
  expect_counts(dcgan28_discriminator, Widths{100, 64, 64, 1},
                1 * 64 * 16 + 64 +                   // main.0
                    64 * 128 * 16 + 128 + 2 * 128 +  // main.2, main.3
                    128 * 1 * 49 + 1,                // main.5           = 138,817
                2 * 128);                            //                  = 256
  // wgan28.critic: the same layers with affine InstanceNorm2d (2·C, no buffers).
  expect_counts(wgan28_critic, Widths{100, 64, 64, 1}, 138817, 0);
  // cgan32.G, nz 100, ngf 128 (conditional DCGAN): ConvT 100→256 and 10→256 (+BN each), 512→256, 256→128, 128→1.
  expect_counts(cgan32_generator, Widths{100, 128, 128, 1},
                100 * 256 * 16 + 256 + 2 * 256 +      // deconv1_1, deconv1_1_bn
                    10 * 256 * 16 + 256 + 2 * 256 +   // deconv1_2, deconv1_2_bn
                    512 * 256 * 16 + 256 + 2 * 256 +  // deconv2, deconv2_bn
                    256 * 128 * 16 + 128 + 2 * 128 +  // deconv3, deconv3_bn
                    128 * 1 * 16 + 1,                 // deconv4          = 3,076,737
                2 * (256 + 256 + 256 + 128));         //                  = 1,792
  // cgan32.D, ndf 128: Conv 1→64 and 10→64, 128→256 + BN, 256→512 + BN, 512→1.
  expect_counts(cgan32_discriminator, Widths{100, 128, 128, 1},
                1 * 64 * 16 + 64 +                    // conv1_1
                    10 * 64 * 16 + 64 +               // conv1_2
                    128 * 256 * 16 + 256 + 2 * 256 +  // conv2, conv2_bn
                    256 * 512 * 16 + 512 + 2 * 512 +  // conv3, conv3_bn
                    512 * 1 * 16 + 1,                 // conv4            = 2,643,329
                2 * (256 + 512));                     //                  = 1,536
  // wgan64.critic, d = ndf 64, nc 3 (WGAN-GP critic): Conv 3→64→128→256→512 each + IN, Conv 512→1.
  expect_counts(wgan64_critic, Widths{100, 64, 64, 3},
                3 * 64 * 16 + 64 + 2 * 64 +           // main.0, main.1
                    64 * 128 * 16 + 128 + 2 * 128 +   // main.3, main.4
                    128 * 256 * 16 + 256 + 2 * 256 +  // main.6, main.7
                    256 * 512 * 16 + 512 + 2 * 512 +  // main.9, main.10
                    512 * 1 * 16 + 1,                 // main.12          = 2,766,657
                0);
}

// The model table's default widths (ModelSpec::seed) for cgan32 give the
// conditional DCGAN's channel counts: G 256+256 → 512 → 256 → 128 → 1,
// D 64+64 → 128 → 256 → 512 → 1.
TEST(Nets, Cgan32AtSeedWidthsHasTable12_1Channels) {
  auto spec = model_spec("cgan32");
  ASSERT_TRUE(spec.ok()) << spec.message();
  Graph g;
  auto pair = build_pair(g, "cgan32", (*spec)->widths);
  ASSERT_TRUE(pair.ok()) << pair.message();
  auto shape_of = [&](const Network& net, const std::string& name) {
    for (const NamedTensor& t : net.params)
      if (t.name == name) return g.shape(t.value);
    ADD_FAILURE() << "no parameter " << name;
    return Shape{};
  };
  const Network& G = pair->generator;
  const Network& D = pair->discriminator;
  EXPECT_EQ(shape_of(G, "deconv1_1.weight"), (Shape{100, 256, 4, 4}));  // z: T.conv(c=256, f4 s1 p0)
  EXPECT_EQ(shape_of(G, "deconv1_2.weight"), (Shape{10, 256, 4, 4}));   // C: T.conv(c=256, f4 s1 p0)
  EXPECT_EQ(shape_of(G, "deconv2.weight"), (Shape{512, 256, 4, 4}));    // [512,4,4] → 256
  EXPECT_EQ(shape_of(G, "deconv3.weight"), (Shape{256, 128, 4, 4}));
  EXPECT_EQ(shape_of(G, "deconv4.weight"), (Shape{128, 1, 4, 4}));
  EXPECT_EQ(shape_of(D, "conv1_1.weight"), (Shape{64, 1, 4, 4}));   // x: Conv(c=64)
  EXPECT_EQ(shape_of(D, "conv1_2.weight"), (Shape{64, 10, 4, 4}));  // C [10,32,32]: Conv(c=64)
  EXPECT_EQ(shape_of(D, "conv2.weight"), (Shape{256, 128, 4, 4}));  // [128,16,16] → 256
  EXPECT_EQ(shape_of(D, "conv3.weight"), (Shape{512, 256, 4, 4}));
  EXPECT_EQ(shape_of(D, "conv4.weight"), (Shape{1, 512, 4, 4}));
}

// Training-mode forward, a random projection of the output as the loss (so
// every output element gets a gradient), gradients of every parameter.
TEST(Nets, ForwardBackwardOnCpu) {
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.kind);
    NetRun r;
    apply(r, c, 3, true);
    const Shape ys = r.g.shape(r.y);
    const Value loss = mean(r.g, mul(r.g, r.y, normal(r.g, ys, 77)), all_axes(ys));
    std::vector<Value> wrt;
    for (const NamedTensor& t : r.net.params) wrt.push_back(t.value);
    const std::vector<Value> grads = grad(r.g, loss, wrt);
    r.outputs.insert(r.outputs.end(), grads.begin(), grads.end());
    auto p = compile_and_init(r);
    ASSERT_TRUE(p);
    write_inputs(*p, r, c.generator, 1);
    ASSERT_TRUE(p->step(StepUniforms{1, 0}).ok());
    const std::vector<float> y = read(*p, r.g, r.y);
    EXPECT_TRUE(all_finite(y));
    EXPECT_GT(max_abs(y), 0.0f);
    expect_param_gradients(*p, r, grads);
    // Training mode updated every running mean away from its initial 0.
    for (const NamedTensor& t : r.net.buffers)
      if (t.name.ends_with("running_mean")) {
        EXPECT_GT(max_abs(read(*p, r.g, t.value)), 0.0f) << t.name;
      }
  }
}

// A DCGAN D usually ends in nn.Sigmoid(); gantry's return logits. Moving the last
// conv's bias moves every output by exactly as much, past 1.
TEST(Nets, DiscriminatorsReturnUnboundedLogits) {
  for (const NetCase& c : net_cases()) {
    if (c.generator) continue;
    SCOPED_TRACE(c.kind);
    NetRun r;
    apply(r, c, 3, false);
    auto p = compile_and_init(r);
    ASSERT_TRUE(p);
    write_inputs(*p, r, false, 2);
    ASSERT_TRUE(p->step(StepUniforms{1, 0}).ok());
    const std::vector<float> y0 = read(*p, r.g, r.y);
    const NamedTensor& last_bias = r.net.params.back();
    ASSERT_TRUE(last_bias.name.ends_with(".bias"));
    ASSERT_EQ(r.g.shape(last_bias.value), Shape{1});
    const float shift = 5;
    ASSERT_TRUE(p->write(last_bias.value, &shift, 1).ok());
    ASSERT_TRUE(p->step(StepUniforms{1, 0}).ok());
    const std::vector<float> y1 = read(*p, r.g, r.y);
    for (size_t i = 0; i < y0.size(); ++i) {
      EXPECT_NEAR(y1[i] - y0[i], shift, 1e-5f) << "sample " << i;
      EXPECT_GT(y1[i], 1.0f) << "sample " << i;
    }
  }
}

// Runs a batch of 2 twice, changing only sample 1 (its input and label), and
// says whether sample 0's output changed.
bool sample0_depends_on_sample1(const NetCase& c, bool training) {
  NetRun r;
  apply(r, c, 2, training);
  auto p = compile_and_init(r);
  if (!p) return false;
  const int64_t per_sample = r.net.input_shape.numel();
  std::vector<float> x = input_values(r.g.shape(r.x), c.generator, 3);
  std::vector<std::vector<float>> sample0;
  for (int run = 0; run < 2; ++run) {
    if (run == 1)
      for (int64_t i = per_sample; i < 2 * per_sample; ++i) x[size_t(i)] = 0.25f - x[size_t(i)];
    EXPECT_TRUE(p->write(r.x, x.data(), int64_t(x.size())).ok());
    if (r.labels.valid()) {
      const float labels[2] = {3, run == 0 ? 7.0f : 2.0f};
      EXPECT_TRUE(p->write(r.labels, labels, 2).ok());
    }
    EXPECT_TRUE(p->step(StepUniforms{1, 0}).ok());
    const std::vector<float> y = read(*p, r.g, r.y);
    sample0.emplace_back(y.begin(), y.begin() + int64_t(y.size() / 2));
  }
  return sample0[0] != sample0[1];
}

// Eval mode uses BN's running statistics: sample 0's image does not depend on
// sample 1. Training mode normalizes over the batch, so there it does — which
// shows the test can see a dependence.
TEST(Nets, EvalGeneratorTreatsSamplesIndependently) {
  for (const NetCase& c : net_cases()) {
    if (!c.generator) continue;
    SCOPED_TRACE(c.kind);
    EXPECT_FALSE(sample0_depends_on_sample1(c, false));
    EXPECT_TRUE(sample0_depends_on_sample1(c, true));
  }
}

// WGAN-GP penalizes ∇_x̂ D per sample, which is why the critics use instance
// norm: even in training mode no sample sees another (the BN D's do).
TEST(Nets, CriticsTreatSamplesIndependentlyInTraining) {
  for (const NetCase& c : net_cases()) {
    if (c.generator) continue;
    SCOPED_TRACE(c.kind);
    EXPECT_EQ(sample0_depends_on_sample1(c, true), c.batch_norm_modules.size() > 0);
  }
}

// D sees real, fake and interpolated batches: applying forward again reuses the leaves.
TEST(Nets, ForwardAppliedTwiceSharesLeaves) {
  for (const NetCase& c : net_cases()) {
    SCOPED_TRACE(c.kind);
    NetRun r;
    apply(r, c, 3, true);
    const int leaves = leaf_count(r.g);
    const Value x2 = r.g.input(with_batch(5, r.net.input_shape), "x2");
    const Value labels2 = r.net.classes ? r.g.input(Shape{5}, "labels2") : Value{};
    const Value y2 = r.net.forward(r.g, x2, labels2, true);
    ASSERT_TRUE(r.g.ok()) << r.g.status().message();
    EXPECT_EQ(leaf_count(r.g), leaves + (r.net.classes ? 2 : 1));
    EXPECT_EQ(r.g.shape(y2), with_batch(5, c.out));
  }
}

// WGAN-GP: ∇_w (‖∇_x̂ D(x̂)‖₂ − 1)² through the instance-norm critics.
TEST(Nets, CriticsDifferentiateTwice) {
  for (const char* kind : {"wgan28.critic", "wgan64.critic"}) {
    SCOPED_TRACE(kind);
    const NetCase& c = net_case(kind);
    NetRun r;
    apply(r, c, 2, true);
    Graph& g = r.g;
    const Value dx = grad(g, reduce_sum(g, r.y, all_axes(g.shape(r.y))), {r.x}, GradOptions{true})[0];
    const Value norm = sqrt(g, reduce_sum(g, square(g, dx), axes({1, 2, 3})));  // [B]
    const Value penalty = mean(g, square(g, scale(g, norm, 1, -1)), axes({0}));
    std::vector<Value> wrt;
    for (const NamedTensor& t : r.net.params) wrt.push_back(t.value);
    const std::vector<Value> grads = grad(g, penalty, wrt);
    r.outputs = grads;
    r.outputs.push_back(penalty);
    auto p = compile_and_init(r);
    ASSERT_TRUE(p);
    write_inputs(*p, r, false, 4);
    ASSERT_TRUE(p->step(StepUniforms{1, 0}).ok());
    EXPECT_TRUE(all_finite(read(*p, g, penalty)));
    for (size_t i = 0; i < grads.size(); ++i) {
      const std::vector<float> gi = read(*p, g, grads[i]);
      EXPECT_TRUE(all_finite(gi)) << r.net.params[i].name;
      // Weights and norm scales shape ‖∇_x̂ D‖; the biases in front of a norm and
      // the last bias do not, so only the weights must see the penalty.
      if (r.net.params[i].name.ends_with(".weight")) {
        EXPECT_GT(max_abs(gi), 0.0f) << r.net.params[i].name;
      }
    }
  }
}

TEST(Nets, BuildPairByModelName) {
  struct Expect {
    const char* model;
    const char *generator, *discriminator;
  };
  const Expect expected[] = {
      {"dcgan28", "dcgan28.G", "dcgan28.D"},
      {"dcgan64", "dcgan64.G", "dcgan64.D"},
      {"cgan32", "cgan32.G", "cgan32.D"},
      {"wgangp28", "dcgan28.G", "wgan28.critic"},
      {"wgan-clip28", "dcgan28.G", "wgan28.critic"},
      {"wgangp64", "dcgan64.G", "wgan64.critic"},
      {"wgan-clip64", "dcgan64.G", "wgan64.critic"},
  };
  std::vector<std::string> listed;
  for (const Expect& e : expected) {
    SCOPED_TRACE(e.model);
    listed.push_back(e.model);
    Graph g;
    auto pair = build_pair(g, e.model, Widths{16, 4, 4, 1});
    ASSERT_TRUE(pair.ok()) << pair.message();
    EXPECT_EQ(pair->generator.kind, e.generator);
    EXPECT_EQ(pair->discriminator.kind, e.discriminator);
    // G's output is D's input.
    EXPECT_EQ(pair->generator.output_shape, pair->discriminator.input_shape);
    EXPECT_EQ(pair->generator.classes, pair->discriminator.classes);
    // The table's facts agree with the networks it builds.
    auto spec = model_spec(e.model);
    ASSERT_TRUE(spec.ok());
    EXPECT_EQ(pair->generator.output_shape[1], (*spec)->image_size);
    EXPECT_EQ(pair->generator.output_shape[2], (*spec)->image_size);
    EXPECT_EQ(pair->generator.classes > 0, (*spec)->conditional);
  }
  EXPECT_EQ(model_names(), listed);
}

TEST(Nets, ErrorsNameTheModelAndTheProblem) {
  {
    Graph g;
    auto pair = build_pair(g, "dcgan32", Widths{});
    ASSERT_FALSE(pair.ok());
    EXPECT_NE(pair.message().find("'dcgan32'"), std::string::npos) << pair.message();
    EXPECT_NE(pair.message().find("dcgan28"), std::string::npos) << pair.message();  // lists the known names
    EXPECT_FALSE(model_spec("dcgan32").ok());
  }
  {
    Graph g;
    auto pair = build_pair(g, "cgan32", Widths{16, 8, 7, 1});
    ASSERT_FALSE(pair.ok());
    EXPECT_NE(pair.message().find("ndf must be even"), std::string::npos) << pair.message();
  }
  {
    Graph g;
    auto pair = build_pair(g, "dcgan28", Widths{16, 0, 8, 1});
    ASSERT_FALSE(pair.ok());
    EXPECT_NE(pair.message().find("dcgan28.G: widths"), std::string::npos) << pair.message();
  }
  {  // A wrong image size names the network and the shape.
    Graph g;
    const Network d = dcgan28_discriminator(g, Widths{16, 8, 8, 1});
    const Value y = d.forward(g, g.input(Shape{3, 1, 32, 32}, "x"), Value{}, true);
    EXPECT_FALSE(y.valid());
    EXPECT_NE(g.status().message().find("dcgan28.D: input [3,1,32,32]"), std::string::npos) << g.status().message();
  }
  {  // A conditional net without labels.
    Graph g;
    const Network gen = cgan32_generator(g, Widths{16, 8, 8, 1});
    EXPECT_FALSE(gen.forward(g, g.input(Shape{3, 16}, "z"), Value{}, true).valid());
    EXPECT_NE(g.status().message().find("cgan32.G: class labels"), std::string::npos) << g.status().message();
  }
  {  // z may also come as [B, nz, 1, 1].
    Graph g;
    const Network gen = dcgan28_generator(g, Widths{16, 8, 8, 1});
    const Value y = gen.forward(g, g.input(Shape{3, 16, 1, 1}, "z"), Value{}, false);
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(g.shape(y), (Shape{3, 1, 28, 28}));
  }
}

TEST(Nets, InitialValuesFollowTheSeedsWeightsInit) {
  const Shape big{64, 32, 4, 4};  // 32768 samples: the std is within ±2% with margin
  auto stats = [](const std::vector<float>& v, double& mean, double& std) {
    double s = 0, ss = 0;
    for (float x : v) s += x;
    mean = s / double(v.size());
    for (float x : v) ss += (x - mean) * (x - mean);
    std = std::sqrt(ss / double(v.size()));
  };
  double m, s;
  const std::vector<float> w = initial_values(NamedTensor{Value{}, "w", Init::normal_0_02}, big, 9, 4);
  stats(w, m, s);
  EXPECT_NEAR(m, 0.0, 1e-3);
  EXPECT_NEAR(s, 0.02, 0.02 * 0.02);
  stats(initial_values(NamedTensor{Value{}, "g", Init::normal_1_0_02}, big, 9, 5), m, s);
  EXPECT_NEAR(m, 1.0, 1e-3);
  EXPECT_NEAR(s, 0.02, 0.02 * 0.02);
  EXPECT_EQ(w, initial_values(NamedTensor{Value{}, "w", Init::normal_0_02}, big, 9, 4));   // reproducible
  EXPECT_NE(w, initial_values(NamedTensor{Value{}, "w", Init::normal_0_02}, big, 9, 6));   // per stream
  EXPECT_NE(w, initial_values(NamedTensor{Value{}, "w", Init::normal_0_02}, big, 10, 4));  // per seed
  EXPECT_EQ(initial_values(NamedTensor{Value{}, "b", Init::zeros}, Shape{3}, 9, 4), (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(initial_values(NamedTensor{Value{}, "v", Init::ones}, Shape{2}, 9, 4), (std::vector<float>{1, 1}));

  // initialize(): params[i] from stream first + i, buffers after them; BN as weights_init.
  NetRun r;
  apply(r, net_case("dcgan28.G"), 2, true);
  auto p = compile_and_init(r);  // seed 5, first stream 0
  ASSERT_TRUE(p);
  uint32_t stream = 0;
  for (const auto* list : {&r.net.params, &r.net.buffers})
    for (const NamedTensor& t : *list) {
      EXPECT_EQ(read(*p, r.g, t.value), initial_values(t, r.g.shape(t.value), 5, stream++)) << t.name;
      const Init want = t.name.ends_with("running_var") ? Init::ones
                        : r.g.shape(t.value).rank == 4  ? Init::normal_0_02
                        : t.name.ends_with(".weight")   ? Init::normal_1_0_02  // BN scale
                                                        : Init::zeros;           // biases, running means
      EXPECT_EQ(t.init, want) << t.name;
    }
  for (const NamedTensor& t : net_case("wgan28.critic").build(r.g, Widths{16, 8, 8, 1}).params) {
    if (r.g.shape(t.value).rank == 1 && t.name.ends_with(".weight")) {
      EXPECT_EQ(t.init, Init::ones) << t.name;  // IN scale
    }
  }
}

}  // namespace

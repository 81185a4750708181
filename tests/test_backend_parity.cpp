// Backend parity: every op, forward and backward, on each GPU backend built
// into this binary against the CPU reference in float32, with the same inputs.
// A backend that is built in but has no device here reports the tests as
// skipped, naming what is missing.
//
// Tolerance: |got − ref| ≤ atol·scale + rtol·|ref| with scale = max(1, max|ref|)
// over the tensor; atol = 2e-5 covers reordered float32 sums of the sizes
// below (K ≤ 2048 terms, error ~ √K·2⁻²⁴), rtol = 1e-4 covers the GPU's
// exp/log/sin/cos/sqrt, which the Vulkan and CUDA specs allow a few ulp off.
//
// fp16 storage (Vulkan's _f16 shader builds, CUDA's half operands) is checked
// against the CPU's fp16 emulation with the same inputs: both round every
// value to binary16, so they differ where float32 sums taken in another order
// land on either side of a rounding point — one unit of 2⁻¹⁰ relative in that
// value, carried by what reads it (a backward graph reads each forward value
// again). atol = rtol = 2u with u = 2⁻¹¹ (one such flip at the tensor's
// largest value; measured worst 1·2⁻¹¹ on Vulkan), and at least 80 % of each
// tensor's values must be the CPU's bit for bit (measured ≥ 90 %, ≥ 99.8 % on
// the large cases): float32 results read back, or values rounded differently,
// fail that. bf16 storage (CUDA) the same way with u = 2⁻⁸.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>

#include "engine/autodiff.h"
#include "engine/backend.h"
#include "engine/ops.h"
#include "tests/backends.h"
#include "tests/op_cases.h"

using namespace gantry;
using namespace gantry::testing;

namespace {

constexpr double kAtol = 2e-5, kRtol = 1e-4;
constexpr double kHalfUlps = 2, kHalfSame = 0.8;

std::vector<float> read(const Program& p, const Graph& g, Value v) {
  std::vector<float> out(size_t(g.shape(v).numel()));
  const Status s = p.read(v, out.data(), int64_t(out.size()));
  EXPECT_TRUE(s.ok()) << s.message();
  return out;
}

// min_same: the fraction of values that must be bit for bit the CPU's.
void expect_close(const std::vector<float>& got, const std::vector<float>& ref, const std::string& what,
                  double atol = kAtol, double rtol = kRtol, double min_same = 0) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  double scale = 1;
  for (float r : ref) scale = std::max(scale, double(std::abs(r)));
  int reported = 0;
  size_t same = 0;
  for (size_t i = 0; i < ref.size(); ++i) same += got[i] == ref[i] || (std::isnan(got[i]) && std::isnan(ref[i]));
  EXPECT_GE(double(same), min_same * double(ref.size())) << what << ": values identical to the CPU's";
  for (size_t i = 0; i < ref.size(); ++i) {
    const double tol = atol * scale + rtol * std::abs(ref[i]);
    // Non-finite values must match exactly (NaN for NaN, an infinity of the same sign).
    const bool ok = std::isfinite(ref[i]) ? std::abs(double(got[i]) - ref[i]) <= tol
                                          : got[i] == ref[i] || (std::isnan(got[i]) && std::isnan(ref[i]));
    if (!ok && reported++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", CPU " << ref[i] << " (tolerance " << tol << ")";
  }
}

// Runs the graph once on the CPU and once on `kind` with the same leaf values
// and step uniforms, then compares `compare` (outputs) and every leaf (effects).
void run_both(BackendKind kind, const Graph& g, const std::vector<Value>& compare,
              const std::vector<std::pair<Value, std::vector<float>>>& leaves, const StepUniforms& u,
              const std::string& name, int steps = 1, Precision precision = Precision::fp32) {
  auto cpu = compile(g, CompileOptions{BackendKind::cpu, compare, 2, false, precision});
  ASSERT_TRUE(cpu.ok()) << name << ": " << cpu.message();
  auto dev = compile(g, CompileOptions{kind, compare, 0, false, precision});
  ASSERT_TRUE(dev.ok()) << name << ": " << dev.message();
  const bool narrow = precision != Precision::fp32;
  if (narrow) {
    const std::string storage = std::string("(") + precision_name(precision) + " storage)";
    ASSERT_NE((*dev)->device().find(storage), std::string::npos) << (*dev)->device();
  }
  const double atol = narrow ? kHalfUlps * storage_unit_roundoff(precision) : kAtol;
  const double rtol = narrow ? kHalfUlps * storage_unit_roundoff(precision) : kRtol;
  const double min_same = narrow ? kHalfSame : 0;
  for (auto* p : {cpu->get(), dev->get()})
    for (const auto& [v, data] : leaves) ASSERT_TRUE(p->write(v, data.data(), int64_t(data.size())).ok());
  for (int s = 0; s < steps; ++s) {
    StepUniforms us = u;
    us.step += uint64_t(s);
    ASSERT_TRUE((*cpu)->step(us).ok());
    const Status st = (*dev)->step(us);
    ASSERT_TRUE(st.ok()) << name << ": " << st.message();
  }
  for (size_t i = 0; i < compare.size(); ++i)
    expect_close(read(**dev, g, compare[i]), read(**cpu, g, compare[i]), name + " output " + std::to_string(i), atol,
                 rtol, min_same);
  for (const auto& [v, data] : leaves)
    expect_close(read(**dev, g, v), read(**cpu, g, v), name + " leaf '" + g.node(v).name + "'", atol, rtol, min_same);
}

// loss = Σ build(x) ⊙ r and its gradients, as the gradient checks build it.
void check_case(BackendKind kind, Precision precision, const GradCase& c) {
  Graph g;
  std::vector<Value> xs;
  for (size_t i = 0; i < c.inputs.size(); ++i) xs.push_back(g.input(c.inputs[i].shape, "x" + std::to_string(i)));
  const Value y = c.build(g, xs);
  ASSERT_TRUE(g.ok()) << c.name << ": " << g.status().message();
  const Value r = g.input(g.shape(y), "r");
  const Value loss = reduce_sum(g, mul(g, y, r), all_axes(g.shape(y)));
  std::vector<Value> wrt;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (c.inputs[i].check) wrt.push_back(xs[i]);
  std::vector<Value> compare{y, loss};
  for (Value d : grad(g, loss, wrt)) compare.push_back(d);
  ASSERT_TRUE(g.ok()) << c.name << ": " << g.status().message();

  std::mt19937 rng(11);
  std::vector<std::pair<Value, std::vector<float>>> leaves;
  for (size_t i = 0; i <= c.inputs.size(); ++i) {
    const InputSpec spec = i < c.inputs.size() ? c.inputs[i] : InputSpec{g.shape(r)};
    std::vector<float> data(size_t(spec.shape.numel()));
    for (float& v : data) v = float(draw(spec, rng));
    leaves.emplace_back(i < c.inputs.size() ? xs[i] : r, std::move(data));
  }
  run_both(kind, g, compare, leaves, StepUniforms{5, 3}, c.name, 1, precision);
}

ConvOptions strided(int s, int p) {
  ConvOptions o;
  o.stride[0] = o.stride[1] = s;
  o.padding[0] = o.padding[1] = p;
  return o;
}

// Sizes that cross the GPU kernels' tile and workgroup boundaries.
std::vector<GradCase> large_cases() {
  using V = const std::vector<Value>&;
  std::vector<GradCase> c;
  c.push_back({"large conv_transpose2d DCGAN block",
               {InputSpec{{4, 64, 8, 8}}, InputSpec{{64, 33, 4, 4}, -0.1, 0.1}},
               [](Graph& g, V x) { return conv_transpose2d(g, x[0], x[1], Value{}, strided(2, 1)); }});
  c.push_back({"large conv_transpose2d from 1x1",
               {InputSpec{{5, 100, 1, 1}}, InputSpec{{100, 70, 4, 4}, -0.1, 0.1}},
               [](Graph& g, V x) { return conv_transpose2d(g, x[0], x[1], Value{}, strided(1, 0)); }});
  c.push_back({"large conv2d strided",
               {InputSpec{{4, 33, 16, 16}}, InputSpec{{65, 33, 4, 4}, -0.1, 0.1}, InputSpec{{65}}},
               [](Graph& g, V x) { return conv2d(g, x[0], x[1], x[2], strided(2, 1)); }});
  c.push_back({"large matmul", {InputSpec{{70, 130}}, InputSpec{{33, 130}}}, [](Graph& g, V x) {
                 return matmul(g, x[0], x[1], false, true);
               }});
  c.push_back({"large batch_norm", {InputSpec{{16, 40, 9, 9}}, InputSpec{{40}}, InputSpec{{40}}}, [](Graph& g, V x) {
                 const Value rm = g.state(Shape{40}, "rm"), rv = g.state(Shape{40}, "rv");
                 return batch_norm(g, x[0], x[1], x[2], rm, rv, true);
               }});
  // 8·32·32 values per channel: long enough that reduce_axes splits each
  // channel into chunks (two phases; normalize_backward's second reads rstd
  // from the scratch, its slot being taken).
  c.push_back(
      {"large batch_norm chunked", {InputSpec{{8, 3, 32, 32}}, InputSpec{{3}}, InputSpec{{3}}}, [](Graph& g, V x) {
         const Value rm = g.state(Shape{3}, "rm"), rv = g.state(Shape{3}, "rv");
         return batch_norm(g, x[0], x[1], x[2], rm, rv, true);
       }});
  c.push_back({"large instance_norm",
               {InputSpec{{3, 20, 30, 30}}, InputSpec{{20}}, InputSpec{{20}}},
               [](Graph& g, V x) { return instance_norm(g, x[0], x[1], x[2]); }});
  c.push_back({"large reduce_sum", {InputSpec{{3, 5000, 2}}}, [](Graph& g, V x) {
                 return reduce_sum(g, x[0], axes({0, 1}));
               }});
  c.push_back(
      {"large log_softmax", {InputSpec{{300, 10}, -5, 5}}, [](Graph& g, V x) { return log_softmax(g, x[0], 1); }});
  c.push_back({"large add broadcast", {InputSpec{{7, 300, 50}}, InputSpec{{300, 1}}}, [](Graph& g, V x) {
                 return add(g, x[0], x[1]);
               }});
  return c;
}

std::vector<GradCase> all_cases() {
  std::vector<GradCase> c = op_cases();
  for (GradCase& l : large_cases()) c.push_back(std::move(l));
  return c;
}

using OpParam = std::tuple<BackendKind, Precision, GradCase>;

// Backends with the precisions they store: every GPU backend in float32 and
// fp16, CUDA in bf16 too.
std::vector<std::pair<BackendKind, Precision>> backend_precisions() {
  std::vector<std::pair<BackendKind, Precision>> out;
  for (BackendKind kind : gpu_backends()) {
    out.emplace_back(kind, Precision::fp32);
    out.emplace_back(kind, Precision::fp16);
    if (kind == BackendKind::cuda) out.emplace_back(kind, Precision::bf16);
  }
  return out;
}

std::string precision_suffix(Precision p) { return p == Precision::fp32 ? "" : std::string("_") + precision_name(p); }

std::vector<OpParam> op_params() {
  std::vector<OpParam> out;
  for (const auto& [kind, p] : backend_precisions())
    for (GradCase& c : all_cases()) out.emplace_back(kind, p, std::move(c));
  return out;
}

class OpParity : public ::testing::TestWithParam<OpParam> {};

TEST_P(OpParity, ForwardAndBackwardMatchCpu) {
  const auto& [kind, precision, c] = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  check_case(kind, precision, c);
}

std::string case_name(const ::testing::TestParamInfo<OpParam>& info) {
  std::string s = std::string(backend_name(std::get<0>(info.param))) + precision_suffix(std::get<1>(info.param)) + "_";
  for (char ch : std::get<2>(info.param).name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Ops, OpParity, ::testing::ValuesIn(op_params()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(OpParity);

class SourceParity : public ::testing::TestWithParam<std::pair<BackendKind, Precision>> {};

// The ops without gradients: fills (Philox streams must agree element for
// element), one_hot, and the in-place updates over three steps (in fp16:
// float32 masters and state, as mixed-precision training keeps them).
TEST_P(SourceParity, FillsOneHotAndOptimizersMatchCpu) {
  const auto [kind, precision] = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  Graph g;
  const Value f = fill(g, Shape{3, 70}, 0.75f);
  const Value n = normal(g, Shape{2, 1001}, 7, 0.5f, 2.0f);
  const Value u = uniform(g, Shape{999}, 3, -1.0f, 3.0f);
  const Value labels = g.input(Shape{6}, "labels");
  const Value oh = one_hot(g, labels, 10);
  const Shape ps{4, 300};
  const Value p = g.parameter(ps, "p"), m = g.state(ps, "m"), v = g.state(ps, "v");
  const Value q = g.parameter(ps, "q"), sq = g.state(ps, "sq"), c = g.parameter(ps, "c");
  const Value gr = g.input(ps, "grad");
  AdamOptions ao;
  ao.lr = 1e-2f;
  ao.updates_per_step = 5;
  ao.update_offset = 2;
  adam(g, p, gr, m, v, ao);
  rmsprop(g, q, gr, sq, RmspropOptions{1e-2f});
  // Mixed precision's skipped updates: a gradient with Inf and NaN elements,
  // which these updates leave as they are (the CPU checks that, test_precision).
  const Value p2 = g.parameter(ps, "p2"), m2 = g.state(ps, "m2"), v2 = g.state(ps, "v2");
  const Value q2 = g.parameter(ps, "q2"), sq2 = g.state(ps, "sq2"), gr2 = g.input(ps, "grad2");
  AdamOptions skip_adam = ao;
  skip_adam.skip_nonfinite = true;
  adam(g, p2, gr2, m2, v2, skip_adam);
  RmspropOptions skip_rms{1e-2f};
  skip_rms.skip_nonfinite = true;
  rmsprop(g, q2, gr2, sq2, skip_rms);
  assign(g, c, clamp(g, add(g, c, gr), -0.3f, 0.3f));
  ASSERT_TRUE(g.ok()) << g.status().message();

  std::mt19937 rng(3);
  auto values = [&](const Shape& s, double lo, double hi) {
    std::vector<float> d(size_t(s.numel()));
    for (float& x : d) x = float(std::uniform_real_distribution<double>(lo, hi)(rng));
    return d;
  };
  std::vector<float> bad = values(ps, -1, 1);
  for (size_t i = 0; i < bad.size(); i += 7)
    bad[i] = i % 2 ? std::numeric_limits<float>::quiet_NaN() : -std::numeric_limits<float>::infinity();
  std::vector<float> lab(6);
  for (size_t i = 0; i < lab.size(); ++i) lab[i] = float((i * 7) % 10);
  run_both(kind, g, {f, n, u, oh},
           {{labels, lab},
            {p, values(ps, -1, 1)},
            {m, values(ps, -0.1, 0.1)},
            {v, values(ps, 0, 0.1)},
            {q, values(ps, -1, 1)},
            {sq, values(ps, 0, 0.1)},
            {c, values(ps, -0.3, 0.3)},
            {gr, values(ps, -1, 1)},
            {p2, values(ps, -1, 1)},
            {m2, values(ps, -0.1, 0.1)},
            {v2, values(ps, 0, 0.1)},
            {q2, values(ps, -1, 1)},
            {sq2, values(ps, 0, 0.1)},
            {gr2, bad}},
           StepUniforms{0x123456789abcdefull, 41}, "sources and effects", 3, precision);
}

INSTANTIATE_TEST_SUITE_P(Backends, SourceParity, ::testing::ValuesIn(backend_precisions()), [](const auto& info) {
  return std::string(backend_name(info.param.first)) + precision_suffix(info.param.second);
});
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(SourceParity);

class NanParity : public ::testing::TestWithParam<BackendKind> {};

// A NaN in an input reaches the output exactly where it does on the CPU, so
// the trainers' non-finite loss guard sees NaNs made on the GPU: every op that
// compares, selects or calls a transcendental function gets NaN in each
// operand (the Vulkan spec lets a compiler assume floats are not NaN; see
// compute_shaders/elementwise_math.glsl). Where the CPU is finite the values
// must agree as in the other parity tests.
TEST_P(NanParity, NanPropagatesAsOnCpu) {
  const BackendKind kind = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  Graph g;
  const Shape s{4, 6};
  const Value x = g.input(s, "x"), t = g.input(s, "t"), idx = g.input(Shape{3}, "idx");
  const std::vector<Value> outs{relu(g, x),
                                leaky_relu(g, x, 0.2f),
                                clamp(g, x, -0.5f, 0.5f),
                                tanh(g, x),
                                sigmoid(g, x),
                                sqrt(g, x),
                                exp(g, x),
                                scale(g, x, 0.0f, 1.0f),
                                add(g, x, t),
                                mul(g, t, x),
                                div(g, t, x),
                                leaky_relu_backward(g, x, t, 0.2f),
                                leaky_relu_backward(g, t, x, 0.2f),
                                clamp_backward(g, x, t, -0.5f, 0.5f),
                                clamp_backward(g, t, x, -0.5f, 0.5f),
                                bce_with_logits(g, x, t),
                                bce_with_logits(g, t, x),
                                log_softmax(g, x, 1),
                                reduce_sum(g, x, axes({1})),
                                normalize(g, x, axes({1}), 1e-5f),
                                rstd(g, x, axes({0}), 1e-5f),
                                gather(g, t, idx)};
  ASSERT_TRUE(g.ok()) << g.status().message();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> xs(size_t(s.numel())), ts(size_t(s.numel()));
  for (size_t i = 0; i < xs.size(); ++i) {
    xs[i] = -1.5f + 0.13f * float(i);  // both sides of 0 and of the clamp window
    ts[i] = 0.7f - 0.09f * float(i);
  }
  // NaN in x at rows 0 and 2, in t at rows 1 and 2 (so row 2 has both), and
  // one NaN row index.
  xs[1] = xs[14] = nan;
  ts[8] = ts[15] = nan;
  const std::vector<float> index{1.0f, nan, 2.0f};

  auto cpu = compile(g, CompileOptions{BackendKind::cpu, outs});
  ASSERT_TRUE(cpu.ok()) << cpu.message();
  auto dev = compile(g, CompileOptions{kind, outs});
  ASSERT_TRUE(dev.ok()) << dev.message();
  for (auto* p : {cpu->get(), dev->get()}) {
    ASSERT_TRUE(p->write(x, xs.data(), int64_t(xs.size())).ok());
    ASSERT_TRUE(p->write(t, ts.data(), int64_t(ts.size())).ok());
    ASSERT_TRUE(p->write(idx, index.data(), int64_t(index.size())).ok());
    ASSERT_TRUE(p->step(StepUniforms{}).ok());
  }
  for (size_t k = 0; k < outs.size(); ++k) {
    const std::string what = "output " + std::to_string(k) + " (" + op_name(g.node(outs[k]).op) + ")";
    std::vector<float> ref = read(**cpu, g, outs[k]), got = read(**dev, g, outs[k]);
    ASSERT_EQ(got.size(), ref.size()) << what;
    bool any_nan = false;
    for (size_t i = 0; i < ref.size(); ++i) {
      EXPECT_EQ(std::isnan(got[i]), std::isnan(ref[i]))
          << what << "[" << i << "]: got " << got[i] << ", CPU " << ref[i];
      any_nan |= std::isnan(ref[i]);
      if (std::isnan(ref[i])) got[i] = ref[i] = 0;  // compared above; the rest as usual
    }
    EXPECT_TRUE(any_nan || g.node(outs[k]).op == Op::clamp_backward || g.node(outs[k]).op == Op::leaky_relu_backward)
        << what << ": the CPU has no NaN, so the test injects none here";
    expect_close(got, ref, what);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, NanParity, ::testing::ValuesIn(gpu_backends()),
                         [](const auto& info) { return std::string(backend_name(info.param)); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(NanParity);

class HostAccess : public ::testing::TestWithParam<BackendKind> {};

// write()/read() round trips for every leaf role, before and after a step
// (inputs live in a host-visible mirror on Vulkan), and the errors for a wrong
// element count and for a transient that is not an output.
TEST_P(HostAccess, RoundTripsAndErrors) {
  const BackendKind kind = GetParam();
  GANTRY_SKIP_UNLESS_USABLE(kind);
  Graph g;
  const Value p = g.parameter(Shape{3, 5}, "p"), st = g.state(Shape{7}, "st"), d = g.data(Shape{2, 4}, "d");
  const Value in = g.input(Shape{5}, "in");
  const Value hidden = mul(g, p, in);  // [3, 5], not an output
  const Value y = reduce_sum(g, hidden, axes({0}));
  ASSERT_TRUE(g.ok());
  auto prog = compile(g, CompileOptions{kind, {y}});
  ASSERT_TRUE(prog.ok()) << prog.message();
  Program& pr = **prog;
  auto values = [](size_t n, float base) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = base + float(i);
    return v;
  };
  const std::vector<std::pair<Value, std::vector<float>>> leaves{
      {p, values(15, 1)}, {st, values(7, 100)}, {d, values(8, -5)}, {in, values(5, 0.5f)}};
  for (const auto& [v, data] : leaves) ASSERT_TRUE(pr.write(v, data.data(), int64_t(data.size())).ok());
  for (int stepped = 0; stepped < 2; ++stepped) {
    for (const auto& [v, data] : leaves)
      EXPECT_EQ(read(pr, g, v), data) << g.node(v).name << " after " << stepped << " steps";
    ASSERT_TRUE(pr.step(StepUniforms{}).ok());
  }
  std::vector<float> sum(5);
  for (int c = 0; c < 5; ++c) sum[size_t(c)] = (1 + c + 6 + c + 11 + c) * (0.5f + float(c));
  EXPECT_EQ(read(pr, g, y), sum);
  // A new input is seen by the next step.
  const std::vector<float> ones(5, 1.0f);
  ASSERT_TRUE(pr.write(in, ones.data(), 5).ok());
  ASSERT_TRUE(pr.step(StepUniforms{}).ok());
  for (int c = 0; c < 5; ++c) sum[size_t(c)] = float(1 + c + 6 + c + 11 + c);
  EXPECT_EQ(read(pr, g, y), sum);

  std::vector<float> buf(16);
  const Status wrong = pr.write(p, buf.data(), 16);
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("'p' has shape [3,5] (15 elements), not 16"), std::string::npos) << wrong.message();
  const Status transient = pr.read(hidden, buf.data(), 15);
  EXPECT_FALSE(transient.ok());
  EXPECT_NE(transient.message().find("neither a leaf nor an output"), std::string::npos) << transient.message();
}

INSTANTIATE_TEST_SUITE_P(Backends, HostAccess, ::testing::ValuesIn(gpu_backends()),
                         [](const auto& info) { return std::string(backend_name(info.param)); });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(HostAccess);

#if GANTRY_HAVE_VULKAN
// Vulkan's binding of operands (compute_shaders/vulkan_backend.cpp). These run
// in the ctest entries that change the Vulkan limits and memory path too.

// A tensor over any storage-buffer binding (maxStorageBufferRange is a uint32
// of bytes) is refused when compiling, naming it, its size and the limit; the
// check comes before anything is allocated.
TEST(VulkanBinding, TensorLargerThanABindingIsRefused) {
  GANTRY_SKIP_UNLESS_USABLE(BackendKind::vulkan);
  const int64_t saved = memory_limit();
  set_memory_limit(int64_t(1) << 40);  // the plan only: nothing of this size is allocated
  Graph g;
  const Value x = g.input(Shape{(int64_t(1) << 30) + 16}, "huge");
  const Value y = scale(g, x, 2.0f, 0.0f);
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto p = compile(g, CompileOptions{BackendKind::vulkan, {y}});
  set_memory_limit(saved);
  ASSERT_FALSE(p.ok());
  for (const char* part : {"scale node", "input 0 'huge'", "4294967360 bytes", "maxStorageBufferRange"})
    EXPECT_NE(p.message().find(part), std::string::npos) << part << " missing from: " << p.message();
}

// The program takes the memory path asked for: staged with
// GANTRY_VULKAN_NO_UNIFIED=1, and unified on lavapipe otherwise (its memory
// is device-local and host-visible), so the ctest entries cover both.
TEST(VulkanBinding, MemoryPathIsTheOneAskedFor) {
  GANTRY_SKIP_UNLESS_USABLE(BackendKind::vulkan);
  Graph g;
  const Value y = scale(g, g.input(Shape{4}, "x"), 2.0f, 0.0f);
  auto p = compile(g, CompileOptions{BackendKind::vulkan, {y}});
  ASSERT_TRUE(p.ok()) << p.message();
  const std::string device = (*p)->device();
  const bool unified = device.find("(unified memory)") != std::string::npos;
  const char* off = std::getenv("GANTRY_VULKAN_NO_UNIFIED");
  if (off && std::strcmp(off, "0") != 0) {
    EXPECT_FALSE(unified) << device;
  } else if (device.find("llvmpipe") != std::string::npos) {
    EXPECT_TRUE(unified) << device;
  }
}
#endif

}  // namespace

// conv2d, conv_transpose2d and conv2d_grad_weight (implicit-GEMM kernels,
// float32) against direct definitions written here in double: the gather form
// for conv2d, the scatter form for the transposed convolution (each input
// pixel spreads a kernel-weighted copy into the output) and the sum over
// images and pixels for the weight gradient. The cases reach every path of
// the CPU kernels: images innermost (batches of 16 and more, and not a
// multiple of 16) and pixels innermost (K < M), one output channel (B read in
// place), transposed convolutions by phase — with phases no tap reaches
// (stride > kernel, dilation sharing a factor with the stride) — and through
// columns (1×1 and 2×2 inputs), a kernel over its whole input, channel counts across the GEMM's blocks.
// The weight gradient runs both ways: with dy as A (wide layers) and with
// the input copy as A (one input channel, one output channel).
// Transients start as NaN (CpuOptions::poison_dead), so an output element a
// kernel never writes fails the comparison. Also: results are bit-identical
// run to run and across thread counts, and the packed weights a sampler keeps
// between steps follow every write of them.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/cpu_backend.h"
#include "engine/ops.h"

using namespace gantry;

namespace {

struct ConvCase {
  int N, Cin, H, W, Cout, kh, kw, sh, sw, ph, pw, dh, dw, groups, oph, opw;
  bool bias;
};

std::string describe(const ConvCase& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "N%d Cin%d %dx%d Cout%d k%dx%d s%d,%d p%d,%d d%d,%d g%d op%d,%d bias%d", c.N, c.Cin,
                c.H, c.W, c.Cout, c.kh, c.kw, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.groups, c.oph, c.opw, int(c.bias));
  return buf;
}

ConvOptions options(const ConvCase& c) {
  ConvOptions o;
  o.stride[0] = c.sh, o.stride[1] = c.sw, o.padding[0] = c.ph, o.padding[1] = c.pw;
  o.dilation[0] = c.dh, o.dilation[1] = c.dw, o.groups = c.groups;
  o.output_padding[0] = c.oph, o.output_padding[1] = c.opw;
  return o;
}

const ConvCase kCases[] = {
    {2, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, true},    {1, 2, 9, 7, 6, 4, 4, 2, 2, 1, 1, 1, 1, 2, 1, 0, false},
    {3, 4, 5, 6, 4, 3, 2, 2, 3, 0, 1, 2, 1, 4, 1, 2, true},     // depthwise-like groups
    {1, 1, 1, 1, 8, 4, 4, 1, 1, 0, 0, 1, 1, 1, 0, 0, true},     // DCGAN's first layer from 1×1
    {2, 8, 4, 4, 4, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, true},     // DCGAN's k4 s2 p1
    {2, 5, 11, 13, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, false},  // 1×1 kernel, off tile sizes
    {1, 2, 3, 3, 2, 3, 3, 1, 1, 0, 1, 2, 2, 1, 1, 1, false},    // dilation > stride allows output_padding 1
    {17, 3, 6, 5, 5, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, true},    // 17 images: a panel across two pixels
    {48, 16, 5, 6, 9, 3, 3, 1, 2, 1, 1, 1, 1, 1, 0, 1, false},  // 48 images; dw with dy as A
    {32, 1, 8, 8, 7, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, true},    // one input channel: K < M, pixels innermost
    {6, 1, 9, 8, 20, 3, 3, 2, 1, 1, 0, 1, 1, 1, 0, 0, true},    // conv2d K < M: from framed planes
    {4, 2, 6, 7, 24, 2, 2, 1, 1, 1, 1, 2, 1, 2, 0, 0, false},   // the same in two groups, dilated
    {20, 6, 5, 5, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, true},    // one output channel
    {3, 4, 4, 5, 6, 2, 2, 3, 3, 0, 1, 1, 1, 2, 2, 1, false},    // stride 3 > k 2: outputs no tap reaches
    {2, 4, 5, 5, 4, 3, 3, 2, 2, 2, 1, 2, 2, 1, 1, 1, true},     // dilation 2 with stride 2
    {16, 10, 2, 2, 6, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 0, true},   // 2×2 → 6×6 through columns
    {4, 9, 3, 3, 140, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, false},  // 140 channels: two row blocks
    {5, 6, 4, 3, 2, 4, 3, 2, 1, 0, 0, 1, 1, 1, 0, 0, true},     // kernel over the whole input: a plain product
};

// out[n][co][oh][ow] = b[co] + Σ x[n][ci][oh·s − p + i·d][ow·s − p + j·d] · w[co][ci − g·Cg][i][j]
std::vector<double> conv2d_direct(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                                  const std::vector<float>& b, int Ho, int Wo) {
  const int Cg = c.Cin / c.groups, Og = c.Cout / c.groups;
  std::vector<double> y(size_t(c.N) * c.Cout * Ho * Wo, 0.0);
  for (int n = 0; n < c.N; ++n)
    for (int co = 0; co < c.Cout; ++co)
      for (int oh = 0; oh < Ho; ++oh)
        for (int ow = 0; ow < Wo; ++ow) {
          double acc = c.bias ? b[co] : 0.0;
          const int gr = co / Og;
          for (int ci = 0; ci < Cg; ++ci)
            for (int i = 0; i < c.kh; ++i)
              for (int j = 0; j < c.kw; ++j) {
                const int ih = oh * c.sh - c.ph + i * c.dh, iw = ow * c.sw - c.pw + j * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                acc += double(x[((size_t(n) * c.Cin + gr * Cg + ci) * c.H + ih) * c.W + iw]) *
                       w[((size_t(co) * Cg + ci) * c.kh + i) * c.kw + j];
              }
          y[((size_t(n) * c.Cout + co) * Ho + oh) * Wo + ow] = acc;
        }
  return y;
}

// Scatter form: y[n][g·Og + co][ih·s − p + i·d][iw·s − p + j·d] += x[n][ci][ih][iw] · w[ci][co][i][j]
std::vector<double> conv_transpose2d_direct(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& w,
                                            const std::vector<float>& b, int Ho, int Wo) {
  const int Cg = c.Cin / c.groups, Og = c.Cout / c.groups;
  std::vector<double> y(size_t(c.N) * c.Cout * Ho * Wo, 0.0);
  for (int n = 0; n < c.N; ++n)
    for (int ci = 0; ci < c.Cin; ++ci)
      for (int ih = 0; ih < c.H; ++ih)
        for (int iw = 0; iw < c.W; ++iw)
          for (int co = 0; co < Og; ++co)
            for (int i = 0; i < c.kh; ++i)
              for (int j = 0; j < c.kw; ++j) {
                const int oh = ih * c.sh - c.ph + i * c.dh, ow = iw * c.sw - c.pw + j * c.dw;
                if (oh < 0 || oh >= Ho || ow < 0 || ow >= Wo) continue;
                y[((size_t(n) * c.Cout + (ci / Cg) * Og + co) * Ho + oh) * Wo + ow] +=
                    double(x[((size_t(n) * c.Cin + ci) * c.H + ih) * c.W + iw]) *
                    w[((size_t(ci) * Og + co) * c.kh + i) * c.kw + j];
              }
  if (c.bias)
    for (size_t e = 0; e < y.size(); ++e) y[e] += b[(e / (size_t(Ho) * Wo)) % c.Cout];
  return y;
}

std::vector<float> random_values(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(n);
  for (float& e : v) e = u(rng);
  return v;
}

// Runs one conv on the float CPU backend with `threads` threads.
std::vector<float> run(const ConvCase& c, bool transposed, const std::vector<float>& xv, const std::vector<float>& wv,
                       const std::vector<float>& bv, int threads, Shape& out_shape) {
  Graph g;
  const Value x = g.input(Shape{c.N, c.Cin, c.H, c.W}, "x");
  const Value w = transposed ? g.input(Shape{c.Cin, c.Cout / c.groups, c.kh, c.kw}, "w")
                             : g.input(Shape{c.Cout, c.Cin / c.groups, c.kh, c.kw}, "w");
  const Value b = c.bias ? g.input(Shape{c.Cout}, "b") : Value{};
  const Value y = transposed ? conv_transpose2d(g, x, w, b, options(c)) : conv2d(g, x, w, b, options(c));
  EXPECT_TRUE(g.ok()) << describe(c) << ": " << g.status().message();
  if (!g.ok()) return {};
  auto p = CpuProgram<float>::compile(g, {y}, CpuOptions{threads, true});
  EXPECT_TRUE(p.ok());
  EXPECT_TRUE((*p)->write(x, xv.data(), int64_t(xv.size())).ok());
  EXPECT_TRUE((*p)->write(w, wv.data(), int64_t(wv.size())).ok());
  if (c.bias) {
    EXPECT_TRUE((*p)->write(b, bv.data(), int64_t(bv.size())).ok());
  }
  EXPECT_TRUE((*p)->step({}).ok());
  out_shape = g.shape(y);
  std::vector<float> out(size_t(out_shape.numel()));
  EXPECT_TRUE((*p)->read(y, out.data(), int64_t(out.size())).ok());
  return out;
}

void check(bool transposed) {
  std::mt19937 rng(5);
  for (const ConvCase& c : kCases) {
    const bool conv_defined = c.H + 2 * c.ph >= c.dh * (c.kh - 1) + 1 && c.W + 2 * c.pw >= c.dw * (c.kw - 1) + 1;
    if (!transposed && !conv_defined) continue;  // e.g. DCGAN's 1×1 input: a transposed-convolution case only
    const size_t wn = size_t(c.Cout) * (c.Cin / c.groups) * c.kh * c.kw;
    const auto xv = random_values(size_t(c.N) * c.Cin * c.H * c.W, rng), wv = random_values(wn, rng),
               bv = random_values(size_t(c.Cout), rng);
    Shape s1, s2;
    const auto y1 = run(c, transposed, xv, wv, bv, 1, s1);
    const auto y2 = run(c, transposed, xv, wv, bv, 2, s2);
    const auto y1b = run(c, transposed, xv, wv, bv, 1, s1);
    ASSERT_EQ(y1.size(), size_t(s1.numel()));
    EXPECT_EQ(y1, y1b) << describe(c) << ": two runs differ";
    EXPECT_EQ(y1, y2) << describe(c) << ": 1 and 2 threads differ";
    const auto ref = transposed ? conv_transpose2d_direct(c, xv, wv, bv, int(s1[2]), int(s1[3]))
                                : conv2d_direct(c, xv, wv, bv, int(s1[2]), int(s1[3]));
    // float32 accumulation over K = C_in/groups·kH·kW terms of size ≤ 1: error ≲ K·2⁻²⁴ per term.
    const double K = double(c.Cin / c.groups) * c.kh * c.kw;
    for (size_t e = 0; e < ref.size(); ++e)
      ASSERT_NEAR(y1[e], ref[e], 1e-6 * (K + 1) + 1e-6 * std::abs(ref[e]))
          << describe(c) << (transposed ? " transposed" : "") << " at element " << e << " of " << s1.str();
  }
}

// dw[co][ci][i][j] = Σ_(n,oh,ow) x[n][g·Cg + ci][oh·s − p + i·d][ow·s − p + j·d] · dy[n][co][oh][ow]
std::vector<double> grad_weight_direct(const ConvCase& c, const std::vector<float>& x, const std::vector<float>& dy,
                                       int Ho, int Wo) {
  const int Cg = c.Cin / c.groups, Og = c.Cout / c.groups;
  std::vector<double> dw(size_t(c.Cout) * Cg * c.kh * c.kw, 0.0);
  for (int co = 0; co < c.Cout; ++co)
    for (int ci = 0; ci < Cg; ++ci)
      for (int i = 0; i < c.kh; ++i)
        for (int j = 0; j < c.kw; ++j) {
          double acc = 0;
          for (int n = 0; n < c.N; ++n)
            for (int oh = 0; oh < Ho; ++oh)
              for (int ow = 0; ow < Wo; ++ow) {
                const int ih = oh * c.sh - c.ph + i * c.dh, iw = ow * c.sw - c.pw + j * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W) continue;
                acc += double(x[((size_t(n) * c.Cin + (co / Og) * Cg + ci) * c.H + ih) * c.W + iw]) *
                       dy[((size_t(n) * c.Cout + co) * Ho + oh) * Wo + ow];
              }
          dw[((size_t(co) * Cg + ci) * c.kh + i) * c.kw + j] = acc;
        }
  return dw;
}

std::vector<float> run_grad_weight(const ConvCase& c, const std::vector<float>& xv, const std::vector<float>& dyv,
                                   int Ho, int Wo, int threads) {
  Graph g;
  const Value x = g.input(Shape{c.N, c.Cin, c.H, c.W}, "x"), dy = g.input(Shape{c.N, c.Cout, Ho, Wo}, "dy");
  const Value dw = conv2d_grad_weight(g, x, dy, c.kh, c.kw, options(c));
  EXPECT_TRUE(g.ok()) << describe(c) << ": " << g.status().message();
  if (!g.ok()) return {};
  auto p = CpuProgram<float>::compile(g, {dw}, CpuOptions{threads, true});
  EXPECT_TRUE(p.ok());
  EXPECT_TRUE((*p)->write(x, xv.data(), int64_t(xv.size())).ok());
  EXPECT_TRUE((*p)->write(dy, dyv.data(), int64_t(dyv.size())).ok());
  EXPECT_TRUE((*p)->step({}).ok());
  std::vector<float> out(size_t(g.shape(dw).numel()));
  EXPECT_TRUE((*p)->read(dw, out.data(), int64_t(out.size())).ok());
  return out;
}

TEST(Conv, Conv2dMatchesDirectDefinition) { check(false); }
TEST(Conv, Conv2dGradWeightMatchesDirectDefinition) {
  std::mt19937 rng(9);
  for (const ConvCase& c : kCases) {
    const int Ho = (c.H + 2 * c.ph - c.dh * (c.kh - 1) - 1) / c.sh + 1,
              Wo = (c.W + 2 * c.pw - c.dw * (c.kw - 1) - 1) / c.sw + 1;
    if (Ho < 1 || Wo < 1) continue;
    const auto xv = random_values(size_t(c.N) * c.Cin * c.H * c.W, rng),
               dyv = random_values(size_t(c.N) * c.Cout * Ho * Wo, rng);
    const auto dw1 = run_grad_weight(c, xv, dyv, Ho, Wo, 1), dw2 = run_grad_weight(c, xv, dyv, Ho, Wo, 2);
    EXPECT_EQ(dw1, dw2) << describe(c) << ": 1 and 2 threads differ";
    const auto ref = grad_weight_direct(c, xv, dyv, Ho, Wo);
    ASSERT_EQ(dw1.size(), ref.size());
    const double K = double(c.N) * Ho * Wo;  // terms per output
    for (size_t e = 0; e < ref.size(); ++e)
      ASSERT_NEAR(dw1[e], ref[e], 1e-6 * (K + 1) + 1e-6 * std::abs(ref[e])) << describe(c) << " at element " << e;
  }
}
TEST(Conv, ConvTranspose2dMatchesScatterDefinition) { check(true); }

// A program without effects keeps a transposed convolution's packed weights
// between steps (OpDef::kept_elems). They must follow the weights: after a
// write of the weights, of the input alone, and after a write through view(),
// each step gives what a fresh program gives. The depthwise case has more
// phases × groups (2·2·6) than run together at once.
TEST(Conv, TransposedKeptWeightsFollowEveryWrite) {
  for (const ConvCase& c : {ConvCase{1, 8, 5, 5, 4, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 0, false},
                            ConvCase{2, 6, 4, 3, 12, 3, 3, 2, 2, 1, 1, 1, 1, 6, 0, 0, true}}) {
    std::mt19937 rng(5);
    Graph g;
    const Value x = g.input(Shape{c.N, c.Cin, c.H, c.W}, "x");
    const Value w = g.parameter(Shape{c.Cin, c.Cout / c.groups, c.kh, c.kw}, "w");
    const Value b = c.bias ? g.parameter(Shape{c.Cout}, "b") : Value{};
    const Value y = conv_transpose2d(g, x, w, b, options(c));
    ASSERT_TRUE(g.ok()) << g.status().message();
    auto p = CpuProgram<float>::compile(g, {y}, CpuOptions{2, true});
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_GT((*p)->arena().kept, 0) << describe(c);
    const size_t wn = size_t(g.shape(w).numel());
    auto xv = random_values(size_t(g.shape(x).numel()), rng), wv = random_values(wn, rng);
    const auto bv = random_values(size_t(c.Cout), rng);
    ASSERT_TRUE((*p)->write(x, xv.data(), int64_t(xv.size())).ok());
    ASSERT_TRUE((*p)->write(w, wv.data(), int64_t(wn)).ok());
    if (c.bias) {
      ASSERT_TRUE((*p)->write(b, bv.data(), c.Cout).ok());
    }
    const auto stepped = [&] {
      EXPECT_TRUE((*p)->step({}).ok());
      std::vector<float> out(size_t(g.shape(y).numel()));
      EXPECT_TRUE((*p)->read(y, out.data(), int64_t(out.size())).ok());
      return out;
    };
    const auto fresh = [&] {
      Shape s;
      return run(c, true, xv, wv, bv, 2, s);
    };
    EXPECT_EQ(stepped(), fresh()) << describe(c) << ": first step";
    EXPECT_EQ(stepped(), fresh()) << describe(c) << ": second step, nothing written";
    wv = random_values(wn, rng);
    ASSERT_TRUE((*p)->write(w, wv.data(), int64_t(wn)).ok());
    EXPECT_EQ(stepped(), fresh()) << describe(c) << ": after writing the weights";
    xv = random_values(xv.size(), rng);
    ASSERT_TRUE((*p)->write(x, xv.data(), int64_t(xv.size())).ok());
    EXPECT_EQ(stepped(), fresh()) << describe(c) << ": after writing the input";
    auto view = (*p)->view(w);
    ASSERT_TRUE(view.ok());
    for (size_t i = 0; i < wn; ++i) (*view)[i] = wv[i] = -wv[i];
    EXPECT_EQ(stepped(), fresh()) << describe(c) << ": after writing the weights through a view";
  }
}

// A program that updates its weights (an effect) keeps nothing: it would pack them again every step.
TEST(Conv, ProgramsWithEffectsKeepNothing) {
  Graph g;
  const Value x = g.input(Shape{1, 8, 5, 5}, "x");
  const Value w = g.parameter(Shape{8, 4, 4, 4}, "w");
  ConvOptions o;
  o.stride[0] = o.stride[1] = 2;
  const Value y = conv_transpose2d(g, x, w, Value{}, o);
  assign(g, w, g.input(Shape{8, 4, 4, 4}, "w_new"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto p = CpuProgram<float>::compile(g, {y}, CpuOptions{2, true});
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ((*p)->arena().kept, 0);
}

}  // namespace

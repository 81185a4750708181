// Convolution family, PyTorch semantics (torch.nn.functional.conv2d and
// conv_transpose2d: stride, padding, output_padding, dilation, groups, bias).
// CPU kernels are implicit GEMMs (engine/gemm.h) read straight from a copy
// of the input (below); conv_transpose2d runs by output phase. The three ops
// are closed under differentiation: each one's gradients are made of the
// other two.
//   x: [N, C_in, H, W]   conv2d w: [C_out, C_in/G, kH, kW]
//   conv_transpose2d w: [C_in, C_out/G, kH, kW]   bias: [C_out]
#include <algorithm>
#include <numeric>
#include <utility>

#include "engine/gemm.h"
#include "engine/kernel_util.h"
#include "engine/ops.h"

namespace gantry {
namespace {

bool has_bias(const Node& n) { return n.inputs.size() > 2; }

// Output size of a convolution along one axis (may be ≤ 0 for a bad setting).
int64_t conv_out(int64_t in, int k, int s, int p, int d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }
int64_t conv_t_out(int64_t in, int k, int s, int p, int d, int op) {
  return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

std::string check_conv_attrs(const Attrs& a) {
  for (int i = 0; i < 2; ++i) {
    if (a.conv.stride[i] < 1 || a.conv.dilation[i] < 1) return "stride and dilation must be ≥ 1";
    if (a.conv.padding[i] < 0 || a.conv.output_padding[i] < 0) return "padding and output_padding must be ≥ 0";
  }
  if (a.conv.groups < 1) return "groups must be ≥ 1";
  return "";
}

std::string check_bias(const Graph& g, const Node& n, int64_t c_out) {
  if (has_bias(n) && input_shape(g, n, 2) != Shape{c_out}) return "bias must be [" + std::to_string(c_out) + "]";
  return "";
}

Attrs conv_attrs(const ConvOptions& o) {
  Attrs at;
  at.conv = o;
  return at;
}

// conv_transpose2d without PyTorch's output_padding < max(stride, dilation)
// rule: gradients need larger output paddings when dy is cropped.
Value conv_transpose2d_any(Graph& g, Value x, Value w, const Attrs& at) {
  return g.add(Op::conv_transpose2d, {x, w}, at);
}

// Crops the spatial axes of v to h×w (gradients of convolutions whose output
// rows beyond h were never used).
Value crop(Graph& g, Value v, int64_t h, int64_t w) {
  if (!v.valid()) return v;
  if (g.shape(v)[2] != h) v = slice(g, v, 2, 0, h);
  if (g.shape(v)[3] != w) v = slice(g, v, 3, 0, w);
  return v;
}

// Output padding that makes conv_transpose2d(dy) come back to x's size.
Attrs back_to(const Attrs& at, const Shape& x, const Shape& dy, int kh, int kw) {
  Attrs b = at;
  const int k[2] = {kh, kw};
  for (int i = 0; i < 2; ++i)
    b.conv.output_padding[i] =
        int(x[2 + i] - conv_t_out(dy[2 + i], k[i], at.conv.stride[i], at.conv.padding[i], at.conv.dilation[i], 0));
  return b;
}

// The CPU kernels run every convolution as matrix products read straight
// from a copy of the input with channels and images last, [Hp, Wp, C, N],
// framed by the zero padding the taps reach (an implicit GEMM: gemm.h). A
// packing panel is then NR images at one pixel, adjacent in memory, and the
// K rows of one tap are consecutive channels, N floats apart: the column
// matrix is never built and its panels are copied from a few streams, not
// gathered. One pass over the input for the copy, against kH·kW/stride²
// passes for im2col.
struct Frame {
  int64_t lo[2] = {0, 0}, size[2] = {0, 0};  // padding before, framed size: rows, columns
};

// Floats from one pixel to the next in a copy with `inner` floats a pixel.
// One cache line more than that when it is large: C·N is often a power of
// two (64 channels × 64 images = 16 KiB), and pixels a power of two apart
// would share a handful of cache sets, evicting each other while the copy is
// written and while the products read it.
int64_t pixel_pitch(int64_t inner) { return inner >= 256 ? inner + 16 : inner; }

// xs[lo₀ + h][lo₁ + w][c][n] = x[n][c][h][w] (pixels `pitch` floats apart),
// zero elsewhere in the frame. Each task takes one channel of 16 images and
// reads their planes one after the other (streams the prefetcher follows);
// the 16 floats it writes per pixel fill one cache line, which stays in L1
// until the 16th image completes it.
template <class T>
void channels_images_last(ThreadPool& pool, const T* x, const Shape& s, const Frame& f, T* xs) {
  constexpr int64_t B = 16;
  const int64_t N = s[0], C = s[1], H = s[2], W = s[3], Hp = f.size[0], Wp = f.size[1], blocks = (N + B - 1) / B;
  const int64_t pitch = pixel_pitch(C * N);
  pool.parallel_for(C * blocks, grain_for(Hp * Wp * B), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t c = t / blocks, n0 = t % blocks * B, nb = std::min(B, N - n0);
      T* base = xs + c * N + n0;
      for (int64_t hp = 0; hp < Hp; ++hp)
        for (int64_t wp = 0; wp < Wp; ++wp) {
          const int64_t h = hp - f.lo[0], w = wp - f.lo[1];
          if (h < 0 || h >= H || w < 0 || w >= W) std::fill_n(base + (hp * Wp + wp) * pitch, nb, T(0));
        }
      for (int64_t n = 0; n < nb; ++n) {
        const T* src = x + ((n0 + n) * C + c) * H * W;
        for (int64_t h = 0; h < H; ++h) {
          T* dst = base + ((h + f.lo[0]) * Wp + f.lo[1]) * pitch + n;
          for (int64_t w = 0; w < W; ++w) dst[w * pitch] = src[h * W + w];
        }
      }
    }
  });
}

// xs[n][c][lo₀ + h][lo₁ + w] = x[n][c][h][w], zero elsewhere in the frame:
// the input as it lies, framed, for convolutions whose product takes its
// pixels innermost (a panel is 16 output pixels along a row: adjacent at
// stride 1, two cache lines at stride 2).
template <class T>
void padded_planes(ThreadPool& pool, const T* x, const Shape& s, const Frame& f, T* xs) {
  const int64_t H = s[2], W = s[3], Hp = f.size[0], Wp = f.size[1];
  pool.parallel_for(s[0] * s[1], grain_for(Hp * Wp), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      T* dst = xs + t * Hp * Wp;
      const T* src = x + t * H * W;
      std::fill_n(dst, f.lo[0] * Wp, T(0));
      for (int64_t h = 0; h < H; ++h) {
        T* r = dst + (f.lo[0] + h) * Wp;
        std::fill_n(r, f.lo[1], T(0));
        std::copy_n(src + h * W, W, r + f.lo[1]);
        std::fill(r + f.lo[1] + W, r + Wp, T(0));
      }
      std::fill(dst + (f.lo[0] + H) * Wp, dst + Hp * Wp, T(0));
    }
  });
}

// The frame a convolution's taps reach: rows oh·s − p + i·d for oh < out, i < k.
Frame conv_frame(const Shape& x, const Shape& y, int kh, int kw, const ConvOptions& o) {
  Frame f;
  const int k[2] = {kh, kw};
  for (int i = 0; i < 2; ++i) {
    const int64_t last = (y[2 + i] - 1) * o.stride[i] - o.padding[i] + (k[i] - 1) * int64_t(o.dilation[i]);
    f.lo[i] = o.padding[i];
    f.size[i] = o.padding[i] + std::max(x[2 + i], last + 1);
  }
  return f;
}

// The columns of a convolution's product are its output pixels (rows, cols)
// of every image: input strides in[] and output strides out[] per (row, col,
// image). Images innermost makes a B panel NR images at one pixel, adjacent
// in the input copy (copied, not gathered), but C's columns then land an
// image apart; with few terms per output (K < M: a first layer on one
// channel) the stores cost more than the packing, so pixels go innermost.
template <class T>
void pixel_columns(Product<T>& p, int64_t rows, int64_t cols, int64_t images, const int64_t (&in)[3],
                   const int64_t (&out)[3]) {
  if (p.k.size() >= p.m.size()) {
    p.n = Extent{rows, cols, images};
    p.b_n = Layout{in[0], in[1], in[2]};
    p.c_n = Layout{out[0], out[1], out[2]};
  } else {
    p.n = Extent{images, rows, cols};
    p.b_n = Layout{in[2], in[0], in[1]};
    p.c_n = Layout{out[2], out[0], out[1]};
  }
}

// A transposed convolution by output phase: along one axis the outputs
// oh ≡ first (mod s) take the taps i = tap0 + t·tap_step (those with
// i·d ≡ oh + p, mod s) from input rows ih = (oh + p − i·d)/s = q + e0 − t·e_step,
// oh = first + q·s. Each phase pair is a small dense convolution: no
// scattered adds and no taps that only hit zeros between input pixels.
struct Phase {
  int64_t first = 0, count = 0;              // outputs first + q·s, q < count
  int64_t tap0 = 0, tap_step = 1, taps = 0;  // kernel rows
  int64_t e0 = 0, e_step = 0;                // input rows
};

Phase phase_of(int r, int64_t out, int k, int s, int p, int d) {
  Phase ph;
  ph.first = ((r - p) % s + s) % s;
  ph.count = ph.first < out ? (out - ph.first + s - 1) / s : 0;
  ph.tap_step = s / std::gcd(s, d);
  while (ph.tap0 < ph.tap_step && (ph.tap0 * d - r) % s != 0) ++ph.tap0;
  if (ph.tap0 < ph.tap_step && ph.tap0 < k) ph.taps = (k - 1 - ph.tap0) / ph.tap_step + 1;
  ph.e0 = (ph.first + p - ph.tap0 * d) / s;  // exact: first + p ≡ tap0·d (mod s)
  ph.e_step = ph.tap_step * d / s;
  return ph;
}

template <class T>
void add_bias(ThreadPool& pool, const T* bias, int64_t N, int64_t C, int64_t P, T* y) {
  pool.parallel_for(N * C, grain_for(P), [&](int64_t b, int64_t e) {
    for (int64_t nc = b; nc < e; ++nc)
      for (int64_t p = 0; p < P; ++p) y[nc * P + p] += bias[nc % C];
  });
}

// ---- conv2d
std::string conv2d_shape(const Graph& g, const Node& n, Shape& out) {
  for (int i : {0, 1})
    if (auto e = check_rank(g, n, i, 4, 4); !e.empty()) return e;
  if (auto e = check_conv_attrs(n.attrs); !e.empty()) return e;
  const Shape &x = input_shape(g, n, 0), &w = input_shape(g, n, 1);
  const Attrs& a = n.attrs;
  if (x[1] % a.conv.groups || w[0] % a.conv.groups)
    return "channels not divisible by groups=" + std::to_string(a.conv.groups);
  if (w[1] * a.conv.groups != x[1])
    return "weight expects " + std::to_string(w[1] * a.conv.groups) + " input channels, input has " +
           std::to_string(x[1]);
  out = Shape{x[0], w[0], conv_out(x[2], int(w[2]), a.conv.stride[0], a.conv.padding[0], a.conv.dilation[0]),
              conv_out(x[3], int(w[3]), a.conv.stride[1], a.conv.padding[1], a.conv.dilation[1])};
  if (out[2] < 1 || out[3] < 1) return "output size " + out.str() + " is empty: kernel larger than padded input";
  return check_bias(g, n, w[0]);
}
void conv2d_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  const Shape x = input_shape(g, n, 0), w = input_shape(g, n, 1);
  if (need[0])
    dx[0] = conv_transpose2d_any(g, dy, input_of(n, 1), back_to(n.attrs, x, g.shape(dy), int(w[2]), int(w[3])));
  if (need[1]) dx[1] = conv2d_grad_weight(g, input_of(n, 0), dy, int(w[2]), int(w[3]), n.attrs.conv);
  if (has_bias(n) && need[2]) dx[2] = reduce_sum(g, dy, axes({0, 2, 3}));
}
// A kernel that covers its whole input, unpadded (a critic's last layer, to
// a 1×1 output): the convolution is a plain matrix product over (c, i, j) in
// memory order, x[N, K]·wᵀ, read as they lie.
bool whole_input(const Shape& x, int64_t kh, int64_t kw, const ConvOptions& o) {
  return x[2] == kh && x[3] == kw && o.padding[0] == 0 && o.padding[1] == 0 && o.dilation[0] == 1 &&
         o.dilation[1] == 1 && o.groups == 1;
}

int64_t conv2d_scratch(const Graph& g, const Node& n) {
  const Shape &x = input_shape(g, n, 0), &w = input_shape(g, n, 1);
  if (whole_input(x, w[2], w[3], n.attrs.conv)) return 0;
  const Frame f = conv_frame(x, n.shape, int(w[2]), int(w[3]), n.attrs.conv);
  const int64_t K = w[1] * w[2] * w[3], Og = w[0] / n.attrs.conv.groups;
  return (K < Og ? x[0] * x[1] : pixel_pitch(x[0] * x[1])) * f.size[0] * f.size[1] + product_workspace(Og, K);
}
// y[n][o][oh][ow] = Σ_(i,j,c) w[o][c][i][j] · xs[oh·s + i·d][ow·s + j·d][c][n], per group.
template <class T>
void conv2d_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const ConvOptions& o = a.node->attrs.conv;
  const int64_t N = x[0], G = o.groups, Cg = x[1] / G, Og = w[0] / G, K = Cg * w[2] * w[3], P = y[2] * y[3];
  if (whole_input(x, w[2], w[3], o)) {
    Product<T> p;  // yᵀ[O, N] = w[O, K]·xᵀ: the output channels are the rows (one, for a critic)
    p.m = Extent{Og}, p.n = Extent{N}, p.k = Extent{K};
    p.a = a.in[1], p.a_m = Layout{K}, p.a_k = Layout{1};
    p.b = a.in[0], p.b_k = Layout{1}, p.b_n = Layout{K};
    p.c = a.out, p.c_m = Layout{1}, p.c_n = Layout{Og};
    product(pool, p);
    if (a.n_in > 2) add_bias(pool, a.in[2], N, Og, int64_t(1), a.out);
    return;
  }
  // Few terms per output (K < M: a first layer on one channel): pixels innermost, from the framed
  // planes; else images innermost, from the channels-and-images-last copy (pixel_columns).
  const Frame f = conv_frame(x, y, int(w[2]), int(w[3]), o);
  const bool planes = K < Og;
  const int64_t Hp = f.size[0], Wp = f.size[1], pixel = pixel_pitch(x[1] * N), row = Wp * pixel;
  if (planes) {
    padded_planes(pool, a.in[0], x, f, a.scratch);
  } else {
    channels_images_last(pool, a.in[0], x, f, a.scratch);
  }
  for (int64_t gr = 0; gr < G; ++gr) {
    Product<T> p;
    p.m = Extent{Og};
    p.k = Extent{w[2], w[3], Cg};
    p.a = a.in[1] + gr * Og * K;
    p.a_m = Layout{K};
    p.a_k = Layout{w[3], 1, w[2] * w[3]};
    p.c = a.out + gr * Og * P;
    p.c_m = Layout{P};
    if (planes) {
      p.b = a.scratch + gr * Cg * Hp * Wp;
      p.b_k = Layout{o.dilation[0] * Wp, o.dilation[1], Hp * Wp};
      p.n = Extent{N, y[2], y[3]};
      p.b_n = Layout{x[1] * Hp * Wp, o.stride[0] * Wp, o.stride[1]};
      p.c_n = Layout{y[1] * P, y[3], 1};
    } else {
      p.b = a.scratch + gr * Cg * N;
      p.b_k = Layout{o.dilation[0] * row, o.dilation[1] * pixel, N};
      pixel_columns(p, y[2], y[3], N, {o.stride[0] * row, o.stride[1] * pixel, 1}, {y[3], 1, y[1] * P});
    }
    p.workspace = a.scratch + (planes ? N * x[1] : pixel) * Hp * Wp;
    product(pool, p);
  }
  if (a.n_in > 2) add_bias(pool, a.in[2], y[0], y[1], P, a.out);
}

// ---- conv_transpose2d
std::string conv_transpose2d_shape(const Graph& g, const Node& n, Shape& out) {
  for (int i : {0, 1})
    if (auto e = check_rank(g, n, i, 4, 4); !e.empty()) return e;
  if (auto e = check_conv_attrs(n.attrs); !e.empty()) return e;
  const Shape &x = input_shape(g, n, 0), &w = input_shape(g, n, 1);
  const Attrs& a = n.attrs;
  if (w[0] != x[1])
    return "weight expects " + std::to_string(w[0]) + " input channels, input has " + std::to_string(x[1]);
  if (x[1] % a.conv.groups) return "input channels not divisible by groups=" + std::to_string(a.conv.groups);
  out = Shape{
      x[0], w[1] * a.conv.groups,
      conv_t_out(x[2], int(w[2]), a.conv.stride[0], a.conv.padding[0], a.conv.dilation[0], a.conv.output_padding[0]),
      conv_t_out(x[3], int(w[3]), a.conv.stride[1], a.conv.padding[1], a.conv.dilation[1], a.conv.output_padding[1])};
  if (out[2] < 1 || out[3] < 1) return "output size " + out.str() + " is empty: padding too large";
  return check_bias(g, n, out[1]);
}
void conv_transpose2d_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need,
                          std::vector<Value>& dx) {
  const Shape x = input_shape(g, n, 0), w = input_shape(g, n, 1);
  ConvOptions o = n.attrs.conv;
  o.output_padding[0] = o.output_padding[1] = 0;
  if (need[0]) dx[0] = crop(g, conv2d(g, dy, input_of(n, 1), Value{}, o), x[2], x[3]);
  if (need[1]) dx[1] = conv2d_grad_weight(g, dy, input_of(n, 0), int(w[2]), int(w[3]), o);
  if (has_bias(n) && need[2]) dx[2] = reduce_sum(g, dy, axes({0, 2, 3}));
}
// How the CPU runs a transposed convolution: by phase, from an input copy in
// `frame`; or as one product into columns [C_out/G·kH·kW, N·H·W], read
// straight from the input (a channel's pixels are adjacent), and a col2im,
// when the phases would mostly multiply the zeros around a small input (a
// generator's 1×1 → k×k first layer: k² taps per output, one of them real) or
// when the output has few channels: phases read kH·kW·C_in/G input values per
// output pixel and channel block, columns read each input value once and move
// C_out/G·kH·kW values per input pixel, twice (a last layer to one channel: 16
// against 1024 per pixel). The choice depends on the layer, not on the batch:
// the two sum in different orders, and a sample must not depend on the batch
// it was drawn in (tests/test_import.cpp).
struct TransposedPlan {
  bool by_phase = true;
  // Columns: with fewer pixels × images than C_out/G·kH·kW (a generator's
  // 1×1 input) the weights' columns are the product's columns, read row by row
  // (streams), and the few input rows are its rows; otherwise the reverse.
  bool by_weights = false;
  // By weights from a 1×1 input with no padding, dilation or groups, the
  // columns are the output itself (pixel n's values (o, i, j) are y[n][o][i][j]):
  // the product writes y and there is no col2im.
  bool in_place = false;
  Frame frame;
  // Elements: the input copy (by phase), a phase's product workspace (by
  // phase, one for each product run together), the scratch in all, and the
  // workspaces of all phases and groups (by phase, kept with leaf weights).
  int64_t copy = 0, workspace = 0, scratch = 0, kept = 0;
};
TransposedPlan plan_transposed(const Shape& x, const Shape& w, const Shape& y, const ConvOptions& o) {
  TransposedPlan t;
  int64_t phase_taps[2] = {0, 0}, taps[2] = {0, 0};  // Σ count·taps and Σ taps over the phases with both
  for (int i = 0; i < 2; ++i) {
    int64_t lo = 0, top = x[2 + i] - 1;
    for (int r = 0; r < o.stride[i]; ++r) {
      const Phase ph = phase_of(r, y[2 + i], int(w[2 + i]), o.stride[i], o.padding[i], o.dilation[i]);
      if (ph.count == 0 || ph.taps == 0) continue;
      phase_taps[i] += ph.count * ph.taps;
      taps[i] += ph.taps;
      lo = std::max(lo, (ph.taps - 1) * ph.e_step - ph.e0);
      top = std::max(top, ph.count - 1 + ph.e0);
    }
    t.frame.lo[i] = lo;
    t.frame.size[i] = lo + top + 1;
  }
  t.by_phase = phase_taps[0] * phase_taps[1] <= 2 * x[2] * w[2] * x[3] * w[3] && 2 * w[1] >= w[0] / o.groups;
  if (t.by_phase) t.copy = pixel_pitch(x[0] * x[1]) * t.frame.size[0] * t.frame.size[1];
  const int64_t R = w[1] * w[2] * w[3], pixels = x[0] * x[2] * x[3];
  t.by_weights = !t.by_phase && pixels < R;
  t.in_place = t.by_weights && x[2] == 1 && x[3] == 1 && o.groups == 1 && y[2] == w[2] && y[3] == w[3] &&
               o.padding[0] == 0 && o.padding[1] == 0 && o.dilation[0] == 1 && o.dilation[1] == 1;
  if (t.by_phase) {
    t.workspace = product_workspace(w[1], w[0] / o.groups * w[2] * w[3]);
    t.scratch = t.copy + std::min<int64_t>(o.groups * o.stride[0] * o.stride[1], kMaxProducts) * t.workspace;
    t.kept = o.groups * product_workspace(w[1], w[0] / o.groups * taps[0] * taps[1]);
  } else {
    t.scratch = product_workspace(t.by_weights ? pixels : R, w[0] / o.groups) + (t.in_place ? 0 : R * pixels);
  }
  return t;
}
int64_t conv_transpose2d_scratch(const Graph& g, const Node& n) {
  return plan_transposed(input_shape(g, n, 0), input_shape(g, n, 1), n.shape, n.attrs.conv).scratch;
}
// By phase with weights that are a leaf (a sampler's generator), every
// phase's packed weights are kept: packing gathers them value by value, a
// quarter of a batch of one's time.
int64_t conv_transpose2d_kept(const Graph& g, const Node& n) {
  const TransposedPlan t = plan_transposed(input_shape(g, n, 0), input_shape(g, n, 1), n.shape, n.attrs.conv);
  return t.by_phase && g.node(n.inputs[1]).op == Op::leaf ? t.kept : 0;
}
template <class T>
void conv_transpose2d_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const ConvOptions& o = a.node->attrs.conv;
  const TransposedPlan plan = plan_transposed(x, w, y, o);
  const int64_t N = x[0], G = o.groups, Cg = x[1] / G, Og = w[1], kh = w[2], kw = w[3], Pout = y[2] * y[3];
  const int64_t pixel = pixel_pitch(x[1] * N), row = plan.frame.size[1] * pixel;
  if (plan.by_phase) {
    channels_images_last(pool, a.in[0], x, plan.frame, a.scratch);
    // The phases' products run together, kMaxProducts at a time, each with its
    // own workspace: in the scratch, or the phase's place in what is kept.
    Product<T> queue[kMaxProducts];
    int64_t queued = 0;
    T* kept = a.kept;
    for (int rh = 0; rh < o.stride[0]; ++rh)
      for (int rw = 0; rw < o.stride[1]; ++rw) {
        const Phase ph = phase_of(rh, y[2], int(kh), o.stride[0], o.padding[0], o.dilation[0]);
        const Phase pw = phase_of(rw, y[3], int(kw), o.stride[1], o.padding[1], o.dilation[1]);
        if (ph.count == 0 || pw.count == 0) continue;
        if (ph.taps == 0 || pw.taps == 0) {  // outputs no tap reaches
          for (int64_t nc = 0; nc < N * y[1]; ++nc)
            for (int64_t q = 0; q < ph.count; ++q)
              for (int64_t v = 0; v < pw.count; ++v)
                a.out[nc * Pout + (ph.first + q * o.stride[0]) * y[3] + pw.first + v * o.stride[1]] = T(0);
          continue;
        }
        // y[n][o][first + q·s][…] = Σ_(t,u,c) w[c][o][tap0 + t·step][…] · xs[lo + q + e0 − t·e_step][…][c][n]
        for (int64_t gr = 0; gr < G; ++gr) {
          Product<T>& p = queue[queued];
          p = Product<T>{};
          p.m = Extent{Og};
          p.k = Extent{ph.taps, pw.taps, Cg};
          p.a = a.in[1] + gr * Cg * Og * kh * kw + ph.tap0 * kw + pw.tap0;
          p.a_m = Layout{kh * kw};
          p.a_k = Layout{ph.tap_step * kw, pw.tap_step, Og * kh * kw};
          p.b = a.scratch + gr * Cg * N + (plan.frame.lo[0] + ph.e0) * row + (plan.frame.lo[1] + pw.e0) * pixel;
          p.b_k = Layout{-ph.e_step * row, -pw.e_step * pixel, N};
          p.c = a.out + gr * Og * Pout + ph.first * y[3] + pw.first;
          p.c_m = Layout{Pout};
          pixel_columns(p, ph.count, pw.count, N, {row, pixel, 1}, {o.stride[0] * y[3], o.stride[1], y[1] * Pout});
          if (a.kept) {
            p.workspace = std::exchange(kept, kept + product_workspace(Og, p.k.size()));
            p.pack_a = a.kept_valid ? Product<T>::PackA::kept : Product<T>::PackA::keep;
          } else {
            p.workspace = a.scratch + plan.copy + queued * plan.workspace;
          }
          if (++queued == kMaxProducts) products(pool, queue, std::exchange(queued, 0));
        }
      }
    products(pool, queue, queued);
  } else {
    const int64_t R = Og * kh * kw, Pin = x[2] * x[3];
    T* col = plan.in_place ? a.out : a.scratch + plan.copy + product_workspace(plan.by_weights ? Pin * N : R, Cg);
    for (int64_t gr = 0; gr < G; ++gr) {
      // col[(o·kH + i)·kW + j][n·Pin + pin] = Σ_c w[c][o][i][j] · x[n][c][pin], laid out as below
      Product<T> p;
      p.k = Extent{Cg};
      const Extent rows{R}, pixels{N, Pin};                               // an image's pixels adjacent in x and in col
      const Layout w_rows{1}, w_k{R}, x_k{Pin}, x_pixels{x[1] * Pin, 1};  // x as it lies: [N, C, H, W]
      // col[r][n·Pin + pin] at col + r·sr + (n·Pin + pin)·sp: by weights, a
      // pixel's R values are adjacent (the product's columns), else a weight
      // column's pixels are; C is stored in runs either way.
      const int64_t sr = plan.by_weights ? 1 : Pin * N, sp = plan.by_weights ? R : 1;
      const Layout col_rows{sr}, col_pixels{Pin * sp, sp};
      const T* wg = a.in[1] + gr * Cg * R;
      const T* xg = a.in[0] + gr * Cg * Pin;
      if (plan.by_weights) {  // colᵀ = xᵀ·w
        p.m = pixels, p.n = rows;
        p.a = xg, p.a_m = x_pixels, p.a_k = x_k;
        p.b = wg, p.b_k = w_k, p.b_n = w_rows;
        p.c = col, p.c_m = col_pixels, p.c_n = col_rows;
      } else {  // col = wᵀ·x
        p.m = rows, p.n = pixels;
        p.a = wg, p.a_m = w_rows, p.a_k = w_k;
        p.b = xg, p.b_k = x_k, p.b_n = x_pixels;
        p.c = col, p.c_m = col_rows, p.c_n = col_pixels;
      }
      p.workspace = a.scratch + plan.copy;
      product(pool, p);
      if (plan.in_place) continue;
      // col2im: y[n][o][ih·s − p + i·d][iw·s − p + j·d] += col[…]; one thread per output plane, fixed order.
      pool.parallel_for(Og * N, grain_for(kh * kw * Pin), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t n = t / Og, co = t % Og;  // planes in memory order
          T* yc = a.out + (n * y[1] + gr * Og + co) * Pout;
          std::fill(yc, yc + Pout, T(0));
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const T* cr = col + ((co * kh + i) * kw + j) * sr + n * Pin * sp;
              for (int64_t ih = 0; ih < x[2]; ++ih) {
                const int64_t oh = ih * o.stride[0] - o.padding[0] + i * o.dilation[0];
                if (oh < 0 || oh >= y[2]) continue;
                for (int64_t iw = 0; iw < x[3]; ++iw) {
                  const int64_t ow = iw * o.stride[1] - o.padding[1] + j * o.dilation[1];
                  if (ow >= 0 && ow < y[3]) yc[oh * y[3] + ow] += cr[(ih * x[3] + iw) * sp];
                }
              }
            }
        }
      });
    }
  }
  if (a.n_in > 2) add_bias(pool, a.in[2], y[0], y[1], Pout, a.out);
}

// ---- conv2d_grad_weight(x, dy) → dw [C_out, C_in/G, kH, kW]
std::string conv2d_grad_weight_shape(const Graph& g, const Node& n, Shape& out) {
  for (int i : {0, 1})
    if (auto e = check_rank(g, n, i, 4, 4); !e.empty()) return e;
  if (auto e = check_conv_attrs(n.attrs); !e.empty()) return e;
  const Shape &x = input_shape(g, n, 0), &dy = input_shape(g, n, 1);
  const Attrs& a = n.attrs;
  if (x[0] != dy[0]) return "batch sizes differ";
  if (x[1] % a.conv.groups || dy[1] % a.conv.groups)
    return "channels not divisible by groups=" + std::to_string(a.conv.groups);
  if (a.kernel[0] < 1 || a.kernel[1] < 1) return "kernel size must be ≥ 1";
  for (int i = 0; i < 2; ++i)
    if (dy[2 + i] > conv_out(x[2 + i], a.kernel[i], a.conv.stride[i], a.conv.padding[i], a.conv.dilation[i]) ||
        dy[2 + i] < 1)
      return "dy is larger than the convolution's output";
  out = Shape{dy[1], x[1] / a.conv.groups, a.kernel[0], a.kernel[1]};
  return "";
}
void conv2d_grad_weight_vjp(Graph& g, const Node& n, Value, Value G, const std::vector<bool>& need,
                            std::vector<Value>& dx) {
  const Shape x = input_shape(g, n, 0), dy = input_shape(g, n, 1);
  Attrs at = n.attrs;
  at.kernel[0] = at.kernel[1] = 0;
  // dw is bilinear in (x, dy): ∂/∂x = conv_transpose2d(dy, G), ∂/∂dy = conv2d(x, G) on dy's rows.
  if (need[0])
    dx[0] = conv_transpose2d_any(g, input_of(n, 1), G, back_to(at, x, dy, n.attrs.kernel[0], n.attrs.kernel[1]));
  if (need[1]) dx[1] = crop(g, conv2d(g, input_of(n, 0), G, Value{}, at.conv), dy[2], dy[3]);
}
int64_t conv2d_grad_weight_scratch(const Graph& g, const Node& n) {
  const Shape &x = input_shape(g, n, 0), &dy = input_shape(g, n, 1);
  if (whole_input(x, n.attrs.kernel[0], n.attrs.kernel[1], n.attrs.conv)) return 0;
  const Frame f = conv_frame(x, dy, n.attrs.kernel[0], n.attrs.kernel[1], n.attrs.conv);
  return pixel_pitch(x[0] * x[1]) * f.size[0] * f.size[1] + pixel_pitch(dy[0] * dy[1]) * dy[2] * dy[3] +
         product_workspace(dy[1] / n.attrs.conv.groups, dy[0] * dy[2] * dy[3]);
}
// dw[o][c][i][j] = Σ_(oh,ow,n) dy[n][o][oh][ow] · xs[oh·s + i·d][ow·s + j·d][c][n], per group: one
// product over all pixels of all images, with dy copied channels last. As dw[o, (i,j,c)], dy is A:
// its panels are runs of adjacent channels, packed once into the workspace, and each value of the
// input copy (B) is gathered once; as dwᵀ[(i,j,c), o] the input copy is gathered into A and dy is
// packed again for every block of rows.
template <class T>
void conv2d_grad_weight_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &x = *a.in_shape[0], &dy = *a.in_shape[1], &w = a.node->shape;
  const ConvOptions& o = a.node->attrs.conv;
  const int64_t N = x[0], G = o.groups, Cg = x[1] / G, Og = w[0] / G, K = Cg * w[2] * w[3], C = dy[1];
  if (whole_input(x, w[2], w[3], o)) {  // dw[O, K] = dyᵀ[O, N]·x[N, K]
    gemm(pool, true, false, Og, K, N, a.in[1], Og, a.in[0], K, a.out, K, false);
    return;
  }
  const Frame f = conv_frame(x, dy, int(w[2]), int(w[3]), o);
  const int64_t pixel = pixel_pitch(x[1] * N), row = f.size[1] * pixel, P = dy[2] * dy[3];
  const int64_t dy_pitch = pixel_pitch(N * C);
  T* xs = a.scratch;
  T* dyt = xs + f.size[0] * row;
  channels_images_last(pool, a.in[0], x, f, xs);
  // dyt[pixel][n][o] = dy[n][o][pixel] (pixels dy_pitch apart): as the input copy, 16 channels of one image a task.
  const int64_t blocks = (C + 15) / 16;
  pool.parallel_for(N * blocks, grain_for(16 * P), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / blocks, c0 = t % blocks * 16, cb = std::min<int64_t>(16, C - c0);
      const T* src = a.in[1] + (n * C + c0) * P;
      for (int64_t px = 0; px < P; ++px)
        for (int64_t c = 0; c < cb; ++c) dyt[px * dy_pitch + n * C + c0 + c] = src[c * P + px];
    }
  });
  // dy as A when both sides are wide; with few columns (one input channel: 16)
  // or one output channel the tiles would gather the input copy once per row block.
  const bool dy_rows = K >= 128 && Og >= 8;
  for (int64_t gr = 0; gr < G; ++gr) {
    Product<T> p;
    const Extent taps{w[2], w[3], Cg}, outs{Og};
    const Layout x_taps{o.dilation[0] * row, o.dilation[1] * pixel, N}, dy_outs{1}, w_taps{w[3], 1, w[2] * w[3]},
        w_outs{K};
    p.k = Extent{dy[2], dy[3], N};
    p.c = a.out + gr * Og * K;
    const T* x_base = xs + gr * Cg * N;
    const T* dy_base = dyt + gr * Og;
    const Layout x_k{o.stride[0] * row, o.stride[1] * pixel, 1}, dy_k{dy[3] * dy_pitch, dy_pitch, C};
    if (dy_rows) {  // dw[o, (i,j,c)]
      p.m = outs, p.n = taps;
      p.a = dy_base, p.a_m = dy_outs, p.a_k = dy_k;
      p.b = x_base, p.b_k = x_k, p.b_n = x_taps;
      p.c_m = w_outs, p.c_n = w_taps;
      p.workspace = dyt + dy[2] * dy[3] * dy_pitch;
    } else {  // dwᵀ[(i,j,c), o]
      p.m = taps, p.n = outs;
      p.a = x_base, p.a_m = x_taps, p.a_k = x_k;
      p.b = dy_base, p.b_k = dy_k, p.b_n = dy_outs;
      p.c_m = w_taps, p.c_n = w_outs;
    }
    product(pool, p);
  }
}

// ---- matmul: op(a)[M, K] · op(b)[K, N]
std::string matmul_shape(const Graph& g, const Node& n, Shape& out) {
  for (int i : {0, 1})
    if (auto e = check_rank(g, n, i, 2, 2); !e.empty()) return e;
  const Shape &a = input_shape(g, n, 0), &b = input_shape(g, n, 1);
  const int64_t M = n.attrs.trans_a ? a[1] : a[0], Ka = n.attrs.trans_a ? a[0] : a[1];
  const int64_t Kb = n.attrs.trans_b ? b[1] : b[0], N = n.attrs.trans_b ? b[0] : b[1];
  if (Ka != Kb) return "inner dimensions differ (" + std::to_string(Ka) + " vs " + std::to_string(Kb) + ")";
  out = Shape{M, N};
  return "";
}
void matmul_vjp(Graph& g, const Node& n, Value, Value dy, const std::vector<bool>& need, std::vector<Value>& dx) {
  const Value a = input_of(n, 0), b = input_of(n, 1);
  const bool ta = n.attrs.trans_a, tb = n.attrs.trans_b;
  // C = op(A)·op(B): dA = dC·op(B)ᵀ (transposed back if A was), dB = op(A)ᵀ·dC (likewise).
  if (need[0]) dx[0] = ta ? matmul(g, b, dy, tb, true) : matmul(g, dy, b, false, !tb);
  if (need[1]) dx[1] = tb ? matmul(g, dy, a, true, ta) : matmul(g, a, dy, !ta, false);
}
template <class T>
void matmul_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &sa = *a.in_shape[0], &sb = *a.in_shape[1], &y = a.node->shape;
  const int64_t K = a.node->attrs.trans_a ? sa[0] : sa[1];
  gemm(pool, a.node->attrs.trans_a, a.node->attrs.trans_b, y[0], y[1], K, a.in[0], sa[1], a.in[1], sb[1], a.out, y[1],
       false);
}

}  // namespace

GANTRY_DEFINE_OP(conv2d, conv2d_vjp, conv2d_scratch);
GANTRY_DEFINE_OP_KEEPING(conv_transpose2d, conv_transpose2d_vjp, conv_transpose2d_scratch, conv_transpose2d_kept);
GANTRY_DEFINE_OP(conv2d_grad_weight, conv2d_grad_weight_vjp, conv2d_grad_weight_scratch);
GANTRY_DEFINE_OP(matmul, matmul_vjp, nullptr);

Value conv2d(Graph& g, Value x, Value w, Value bias, const ConvOptions& o) {
  std::vector<Value> ins{x, w};
  if (bias.valid()) ins.push_back(bias);
  Attrs at = conv_attrs(o);
  at.conv.output_padding[0] = at.conv.output_padding[1] = 0;
  return g.add(Op::conv2d, ins, at);
}

Value conv_transpose2d(Graph& g, Value x, Value w, Value bias, const ConvOptions& o) {
  for (int i = 0; i < 2; ++i)
    if (o.output_padding[i] >= std::max(o.stride[i], o.dilation[i]))
      return g.fail("conv_transpose2d: output_padding " + std::to_string(o.output_padding[i]) +
                    " must be smaller than stride or dilation (PyTorch's rule)");
  std::vector<Value> ins{x, w};
  if (bias.valid()) ins.push_back(bias);
  return g.add(Op::conv_transpose2d, ins, conv_attrs(o));
}

Value conv2d_grad_weight(Graph& g, Value x, Value dy, int kernel_h, int kernel_w, const ConvOptions& o) {
  Attrs at = conv_attrs(o);
  at.conv.output_padding[0] = at.conv.output_padding[1] = 0;
  at.kernel[0] = kernel_h;
  at.kernel[1] = kernel_w;
  return g.add(Op::conv2d_grad_weight, {x, dy}, at);
}

Value matmul(Graph& g, Value a, Value b, bool trans_a, bool trans_b) {
  Attrs at;
  at.trans_a = trans_a;
  at.trans_b = trans_b;
  return g.add(Op::matmul, {a, b}, at);
}

Value linear(Graph& g, Value x, Value w, Value bias) {
  Value y = matmul(g, x, w, false, true);
  return bias.valid() ? add(g, y, bias) : y;
}

}  // namespace gantry

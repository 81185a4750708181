// Convolution family, PyTorch semantics (torch.nn.functional.conv2d and
// conv_transpose2d: stride, padding, output_padding, dilation, groups, bias).
// CPU kernels are GEMM-based: conv2d = im2col + GEMM; conv_transpose2d =
// GEMM (Wᵀ·x) + col2im, the scatter form of a transposed convolution;
// conv2d_grad_weight = im2col + GEMM with dy. The three ops are closed under
// differentiation: each one's gradients are made of the other two.
//   x: [N, C_in, H, W]   conv2d w: [C_out, C_in/G, kH, kW]
//   conv_transpose2d w: [C_in, C_out/G, kH, kW]   bias: [C_out]
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

// col[(c·kH + i)·kW + j][oh·Wo + ow] = x[c][oh·s − p + i·d][ow·s − p + j·d] (0 outside)
template <class T>
void im2col(ThreadPool& pool, const T* x, int64_t C, int64_t H, int64_t W, int kh, int kw, const Attrs& a, int64_t Ho,
            int64_t Wo, T* col) {
  pool.parallel_for(C * kh * kw, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t c = r / (kh * kw), i = r / kw % kh, j = r % kw;
      T* dst = col + r * Ho * Wo;
      for (int64_t oh = 0; oh < Ho; ++oh) {
        const int64_t ih = oh * a.conv.stride[0] - a.conv.padding[0] + i * a.conv.dilation[0];
        for (int64_t ow = 0; ow < Wo; ++ow) {
          const int64_t iw = ow * a.conv.stride[1] - a.conv.padding[1] + j * a.conv.dilation[1];
          *dst++ = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[(c * H + ih) * W + iw] : T(0);
        }
      }
    }
  });
}

template <class T>
void add_bias(ThreadPool& pool, const T* bias, int64_t N, int64_t C, int64_t P, T* y) {
  pool.parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
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
int64_t conv2d_scratch(const Graph& g, const Node& n) {
  const Shape& w = input_shape(g, n, 1);
  return w[1] * w[2] * w[3] * n.shape[2] * n.shape[3];
}
template <class T>
void conv2d_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const Attrs& at = a.node->attrs;
  const int64_t G = at.conv.groups, Cg = x[1] / G, Og = w[0] / G, K = Cg * w[2] * w[3], P = y[2] * y[3];
  for (int64_t n = 0; n < x[0]; ++n)
    for (int64_t gr = 0; gr < G; ++gr) {
      im2col(pool, a.in[0] + (n * x[1] + gr * Cg) * x[2] * x[3], Cg, x[2], x[3], int(w[2]), int(w[3]), at, y[2], y[3],
             a.scratch);
      gemm(pool, false, false, Og, P, K, a.in[1] + gr * Og * K, K, a.scratch, P, a.out + (n * y[1] + gr * Og) * P, P,
           false);
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
int64_t conv_transpose2d_scratch(const Graph& g, const Node& n) {
  const Shape &x = input_shape(g, n, 0), &w = input_shape(g, n, 1);
  return w[1] * w[2] * w[3] * x[2] * x[3];
}
template <class T>
void conv_transpose2d_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const Attrs& at = a.node->attrs;
  const int64_t G = at.conv.groups, Cg = x[1] / G, Og = w[1], kh = w[2], kw = w[3];
  const int64_t R = Og * kh * kw, Pin = x[2] * x[3], Pout = y[2] * y[3];
  for (int64_t n = 0; n < x[0]; ++n)
    for (int64_t gr = 0; gr < G; ++gr) {
      // col[(co·kH + i)·kW + j][pin] = Σ_ci w[ci][co][i][j] · x[ci][pin]
      gemm(pool, true, false, R, Pin, Cg, a.in[1] + gr * Cg * R, R, a.in[0] + (n * x[1] + gr * Cg) * Pin, Pin,
           a.scratch, Pin, false);
      // col2im: y[co][ih·s − p + i·d][iw·s − p + j·d] += col[...][ih·W + iw]; one thread per output channel.
      T* yg = a.out + (n * y[1] + gr * Og) * Pout;
      pool.parallel_for(Og, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t co = c0; co < c1; ++co) {
          T* yc = yg + co * Pout;
          std::fill(yc, yc + Pout, T(0));
          for (int64_t i = 0; i < kh; ++i)
            for (int64_t j = 0; j < kw; ++j) {
              const T* col = a.scratch + ((co * kh + i) * kw + j) * Pin;
              for (int64_t ih = 0; ih < x[2]; ++ih) {
                const int64_t oh = ih * at.conv.stride[0] - at.conv.padding[0] + i * at.conv.dilation[0];
                if (oh < 0 || oh >= y[2]) continue;
                for (int64_t iw = 0; iw < x[3]; ++iw) {
                  const int64_t ow = iw * at.conv.stride[1] - at.conv.padding[1] + j * at.conv.dilation[1];
                  if (ow >= 0 && ow < y[3]) yc[oh * y[3] + ow] += col[ih * x[3] + iw];
                }
              }
            }
        }
      });
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
  const Shape& dy = input_shape(g, n, 1);
  return n.shape[1] * n.shape[2] * n.shape[3] * dy[2] * dy[3];
}
template <class T>
void conv2d_grad_weight_cpu(const CpuArgs<T>& a, const StepUniforms&, ThreadPool& pool) {
  const Shape &x = *a.in_shape[0], &dy = *a.in_shape[1], &w = a.node->shape;
  const Attrs& at = a.node->attrs;
  const int64_t G = at.conv.groups, Cg = x[1] / G, Og = w[0] / G, K = Cg * w[2] * w[3], P = dy[2] * dy[3];
  for (int64_t n = 0; n < x[0]; ++n)
    for (int64_t gr = 0; gr < G; ++gr) {
      im2col(pool, a.in[0] + (n * x[1] + gr * Cg) * x[2] * x[3], Cg, x[2], x[3], int(w[2]), int(w[3]), at, dy[2], dy[3],
             a.scratch);
      // dw_g[Og, K] (+)= dy_g[Og, P] · colᵀ[P, K], images summed in order.
      gemm(pool, false, true, Og, K, P, a.in[1] + (n * dy[1] + gr * Og) * P, P, a.scratch, P, a.out + gr * Og * K, K,
           n > 0);
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
GANTRY_DEFINE_OP(conv_transpose2d, conv_transpose2d_vjp, conv_transpose2d_scratch);
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

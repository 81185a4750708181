// Convolution family on CUDA, PyTorch semantics (stride, padding,
// output_padding, dilation, groups, bias), as engine/ops_conv.cpp, with the
// GEMMs in cuBLAS (fp32 accumulation; TF32 stays off unless
// GANTRY_CUDA_TF32=1; 16-bit operands under 16-bit storage, see below) and
// no cuDNN. The batch is processed in chunks of nb images whose columns fit
// the shared workspace (about kChunkBytes), and within a chunk every image's
// pixels form one GEMM dimension, so each chunk and group is ONE large GEMM
// even where a layer has few pixels (4×4, or 1×1 at the ends of D and G).
// Chunk tensors are channel-major, [rows][nb][P]:
//   conv2d              im2col → col [K][nb·P];  yT[Og][nb·P] = W_g · col;
//                       yT scattered back to y [N, C_out, P] with the bias
//   conv_transpose2d    x gathered to xT [Cg][nb·Pin];  col[R][nb·Pin] = W_gᵀ · xT;
//                       col2im in gather form: one thread per output pixel sums
//                       its taps in the CPU's (i, j) order, then adds the bias
//   conv2d_grad_weight  im2col → col [K][nb·P], dy gathered to dyT [Og][nb·P];
//                       dw_g (+)= dyT · colᵀ, chunks accumulated in order
// No atomics anywhere: results are the same on every run.
//   x: [N, C_in, H, W]   conv2d w: [C_out, C_in/G, kH, kW]
//   conv_transpose2d w: [C_in, C_out/G, kH, kW]   bias: [C_out]
//   K = C_in/G·kH·kW, R = C_out/G·kH·kW, P = output pixels, Pin = input pixels
#include <algorithm>

#include "cuda/cuda_util.cuh"

namespace gantry {
namespace {

using cuda::blocks_for;
using cuda::kThreads;

// Target size of one chunk's columns: big enough for GEMMs that fill an H100,
// small enough for a Jetson's shared memory.
constexpr int64_t kChunkBytes = int64_t(64) << 20;

// Images per chunk: at least one, at most N (0 for an empty batch, which the
// launchers' loops then skip).
int64_t chunk_images(int64_t N, int64_t bytes_per_image) {
  if (N == 0) return 0;
  return std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(1, bytes_per_image), 1, N);
}

// Lays buffers out one after another in the shared workspace, each 256-byte
// aligned (cuBLAS's preference). With a null base it only counts, so a
// launcher and its workspace size come from the same code.
class Carve {
 public:
  explicit Carve(void* base) : base_(static_cast<char*>(base)) {}
  Operand take(int64_t elems, Storage type) {
    const Operand o{base_ ? base_ + used_ : nullptr, type};
    used_ += (elems * o.elem_size() + 255) / 256 * 256;
    return o;
  }
  int64_t used() const { return used_; }

 private:
  char* base_;
  int64_t used_ = 0;
};

// The storage a GEMM of x and y runs in: theirs when both are of one 16-bit
// type cuBLAS multiplies on this GPU, else float32.
Storage gemm_storage(const CudaArgs& a, Operand x, Operand y) {
  if (x.type != y.type || (x.type == Storage::bf16 && !a.bf16_gemm)) return Storage::f32;
  return x.type;
}

// A GEMM operand as the GEMM takes it: itself, or a float32 copy in the
// workspace when it is 16-bit and the GEMM runs in float32 (cuBLAS needs both
// operands of one type; widening is exact).
Operand gemm_operand(Operand w, int64_t numel, Storage gemm, Carve& c) {
  return w.type == gemm ? w : c.take(numel, Storage::f32);
}

// Widens `w` into `as` when gemm_operand() gave a copy.
CudaResult widen_operand(Operand w, Operand as, int64_t numel, cudaStream_t s) {
  return as.p == w.p ? CudaResult{} : cuda::copy_rows(w, 0, as, 0, 1, numel, s);
}

struct Window {  // one spatial axis pair of a convolution
  int kh, kw, sh, sw, ph, pw, dh, dw;
};

Window window_of(const Attrs& at, int64_t kh, int64_t kw) {
  return Window{int(kh),
                int(kw),
                at.conv.stride[0],
                at.conv.stride[1],
                at.conv.padding[0],
                at.conv.padding[1],
                at.conv.dilation[0],
                at.conv.dilation[1]};
}

// col[(r·nb + j)·P + p] = x[j][c0 + c][oh·s − p + i·d][ow·s − p + jj·d] (0 outside),
// r = (c·kH + i)·kW + jj over Cg channels, p = oh·Wo + ow, j < nb images.
//   x: [nb, C, H, W] (the chunk's first image)   col: [K, nb, P]
template <class I>
__global__ void im2col_kernel(Operand x, Operand col, I nb, I C, I c0, I Cg, I H, I W, Window k, I Ho, I Wo) {
  const I P = Ho * Wo, K = Cg * k.kh * k.kw;
  GANTRY_GRID_STRIDE_T(I, idx, K * nb * P) {
    const I p = idx % P, j = idx / P % nb, r = idx / (P * nb);
    const I ow = p % Wo, oh = p / Wo;
    const I jj = r % k.kw, i = (r / k.kw) % k.kh, c = r / (I(k.kw) * k.kh);
    const I ih = oh * k.sh - k.ph + i * k.dh, iw = ow * k.sw - k.pw + jj * k.dw;
    col.store(idx, (ih >= 0 && ih < H && iw >= 0 && iw < W) ? x[((j * C + c0 + c) * H + ih) * W + iw] : 0.0f);
  }
}

CudaResult im2col(cudaStream_t s, Operand x, Operand col, int64_t nb, int64_t C, int64_t c0, int64_t Cg, int64_t H,
                  int64_t W, const Window& k, int64_t Ho, int64_t Wo) {
  const int64_t n = Cg * k.kh * k.kw * nb * Ho * Wo;
  if (n == 0) return {};
  return cuda::with_index_type(std::max(n, nb * C * H * W), [&](auto index) {
    using I = decltype(index);
    im2col_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(x, col, I(nb), I(C), I(c0), I(Cg), I(H), I(W), k, I(Ho), I(Wo));
    return launched("im2col_kernel");
  });
}

// y[j][o0 + co][oh][ow] = Σ_{i, jj} col[(co·kH + i)·kW + jj][j][ih·W + iw] (+ bias), over the
// taps with oh = ih·s − p + i·d (likewise w) inside the input: the gather form of col2im.
//   col: [Og·kH·kW, nb, H·W] (float32)   y: [nb, O, Ho, Wo] (the chunk's first image)
template <class I>
__global__ void col2im_kernel(const float* __restrict__ col, Operand bias, Operand y, I nb, I O, I o0, I Og, I H, I W,
                              I Ho, I Wo, Window k) {
  const I Pin = H * W;
  GANTRY_GRID_STRIDE_T(I, idx, nb * Og * Ho * Wo) {
    const I ow = idx % Wo, oh = idx / Wo % Ho, co = idx / (Wo * Ho) % Og, j = idx / (Wo * Ho * Og);
    float sum = 0;
    for (int i = 0; i < k.kh; ++i) {
      const I th = oh + k.ph - I(i) * k.dh;
      if (th < 0 || th % k.sh) continue;
      const I ih = th / k.sh;
      if (ih >= H) continue;
      for (int jj = 0; jj < k.kw; ++jj) {
        const I tw = ow + k.pw - I(jj) * k.dw;
        if (tw < 0 || tw % k.sw) continue;
        const I iw = tw / k.sw;
        if (iw >= W) continue;
        sum += col[(((co * k.kh + i) * k.kw + jj) * nb + j) * Pin + ih * W + iw];
      }
    }
    if (bias) sum += bias[o0 + co];
    y.store(((j * O + o0 + co) * Ho + oh) * Wo + ow, sum);
  }
}

CudaResult col2im(cudaStream_t s, const float* col, Operand bias, Operand y, int64_t nb, int64_t O, int64_t o0,
                  int64_t Og, int64_t H, int64_t W, int64_t Ho, int64_t Wo, const Window& k) {
  const int64_t n = nb * Og * Ho * Wo;
  if (n == 0) return {};
  return cuda::with_index_type(std::max({n, nb * O * Ho * Wo, Og * k.kh * k.kw * nb * H * W}), [&](auto index) {
    using I = decltype(index);
    col2im_kernel<I>
        <<<blocks_for(n), kThreads, 0, s>>>(col, bias, y, I(nb), I(O), I(o0), I(Og), I(H), I(W), I(Ho), I(Wo), k);
    return launched("col2im_kernel");
  });
}

// dst[c][j][p] = src[j][c0 + c][p]   src: [nb, C, P] (the chunk's first image), dst: [Cg, nb, P]
template <class I>
__global__ void to_channel_major_kernel(Operand src, Operand dst, I nb, I C, I c0, I Cg, I P) {
  GANTRY_GRID_STRIDE_T(I, idx, Cg * nb * P) {
    const I p = idx % P, j = idx / P % nb, c = idx / (P * nb);
    dst.store(idx, src[(j * C + c0 + c) * P + p]);
  }
}

CudaResult to_channel_major(cudaStream_t s, Operand src, Operand dst, int64_t nb, int64_t C, int64_t c0, int64_t Cg,
                            int64_t P) {
  const int64_t n = Cg * nb * P;
  if (n == 0) return {};
  return cuda::with_index_type(nb * C * P, [&](auto index) {
    using I = decltype(index);
    to_channel_major_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(src, dst, I(nb), I(C), I(c0), I(Cg), I(P));
    return launched("to_channel_major_kernel");
  });
}

// y[j][c0 + c][p] = src[c][j][p] (+ bias[c0 + c])   src: [Cg, nb, P] (float32), y: [nb, C, P] (the chunk's first image)
template <class I>
__global__ void from_channel_major_kernel(const float* __restrict__ src, Operand bias, Operand y, I nb, I C, I c0, I Cg,
                                          I P) {
  GANTRY_GRID_STRIDE_T(I, idx, nb * Cg * P) {
    const I p = idx % P, c = idx / P % Cg, j = idx / (P * Cg);
    const float v = src[(c * nb + j) * P + p];
    y.store((j * C + c0 + c) * P + p, bias ? v + bias[c0 + c] : v);
  }
}

CudaResult from_channel_major(cudaStream_t s, const float* src, Operand bias, Operand y, int64_t nb, int64_t C,
                              int64_t c0, int64_t Cg, int64_t P) {
  const int64_t n = nb * Cg * P;
  if (n == 0) return {};
  return cuda::with_index_type(nb * C * P, [&](auto index) {
    using I = decltype(index);
    from_channel_major_kernel<I><<<blocks_for(n), kThreads, 0, s>>>(src, bias, y, I(nb), I(C), I(c0), I(Cg), I(P));
    return launched("from_channel_major_kernel");
  });
}

// Each op's workspace: its buffers for chunks of nb images, laid out by one
// function that both the launcher and the workspace size use. A GEMM runs in
// 16 bits (float32 accumulation) when the tensors it reads are both stored so
// (gemm_storage); otherwise in float32, the chunk buffers float32 and a 16-bit
// weight widened. Products and sums land in float32 buffers, rounded once
// when the result is stored, as the CPU's 16-bit emulation does.

// The workspace of conv2d and conv_transpose2d: the weight as the GEMM takes
// it, then for a chunk of nb images the GEMM's input (`per_image_in`
// elements an image, in the GEMM's storage) and its float32 product
// (`per_image_product`).
struct WeightGemmBuffers {
  int64_t nb;
  Operand w, in, product;
  int64_t bytes;
};

WeightGemmBuffers weight_gemm_buffers(const CudaArgs& a, void* workspace, int64_t per_image_in,
                                      int64_t per_image_product) {
  const Storage gemm = gemm_storage(a, a.in[0], a.in[1]);
  Carve c(workspace);
  const Operand w = gemm_operand(a.in[1], a.in_shape[1]->numel(), gemm, c);
  const int64_t nb = chunk_images((*a.in_shape[0])[0], per_image_in * storage_bytes(gemm) + per_image_product * 4);
  const Operand in = c.take(nb * per_image_in, gemm), product = c.take(nb * per_image_product, Storage::f32);
  return {nb, w, in, product, c.used()};
}

// ---- conv2d(x, w[, b]) → y [N, C_out, Ho, Wo]
// GEMM input: col [K, nb·P]; product: yT [Og, nb·P].
WeightGemmBuffers conv2d_buffers(const CudaArgs& a, void* workspace) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const int64_t G = a.node->attrs.conv.groups, P = y[2] * y[3];
  return weight_gemm_buffers(a, workspace, (x[1] / G) * w[2] * w[3] * P, y[1] / G * P);
}

int64_t conv2d_workspace(const CudaArgs& a) { return conv2d_buffers(a, nullptr).bytes; }

CudaResult conv2d_cuda(const CudaArgs& a, cudaStream_t s) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const Window k = window_of(a.node->attrs, w[2], w[3]);
  const int64_t N = x[0], C = x[1], G = a.node->attrs.conv.groups, Cg = C / G, O = y[1], Og = O / G;
  const int64_t K = Cg * w[2] * w[3], P = y[2] * y[3];
  const WeightGemmBuffers buf = conv2d_buffers(a, a.workspace);
  const Operand bias = a.n_in > 2 ? a.in[2] : Operand{};
  GANTRY_CUDA_TRY(widen_operand(a.in[1], buf.w, w.numel(), s));
  for (int64_t n0 = 0; n0 < N; n0 += buf.nb) {
    const int64_t b = std::min(buf.nb, N - n0);
    for (int64_t gr = 0; gr < G; ++gr) {
      GANTRY_CUDA_TRY(
          im2col(s, a.in[0].at(n0 * C * x[2] * x[3]), buf.in, b, C, gr * Cg, Cg, x[2], x[3], k, y[2], y[3]));
      // yT[Og, b·P] = w_g[Og, K] · col[K, b·P]
      GANTRY_CUDA_TRY(gemm_row_major(a.cublas, false, false, Og, b * P, K, 1, buf.w.at(gr * Og * K), K, 0, buf.in,
                                     b * P, 0, 0, buf.product, b * P, 0, 1));
      GANTRY_CUDA_TRY(from_channel_major(s, static_cast<const float*>(buf.product.p), bias, a.out.at(n0 * O * P), b, O,
                                         gr * Og, Og, P));
    }
  }
  return {};
}

// ---- conv_transpose2d(x, w[, b]) → y [N, C_out, Ho, Wo]
// GEMM input: xT [Cg, nb·Pin]; product: col [R, nb·Pin].
WeightGemmBuffers conv_transpose2d_buffers(const CudaArgs& a, void* workspace) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1];
  const int64_t Pin = x[2] * x[3];
  return weight_gemm_buffers(a, workspace, x[1] / a.node->attrs.conv.groups * Pin, w[1] * w[2] * w[3] * Pin);
}

int64_t conv_transpose2d_workspace(const CudaArgs& a) { return conv_transpose2d_buffers(a, nullptr).bytes; }

CudaResult conv_transpose2d_cuda(const CudaArgs& a, cudaStream_t s) {
  const Shape &x = *a.in_shape[0], &w = *a.in_shape[1], &y = a.node->shape;
  const Window k = window_of(a.node->attrs, w[2], w[3]);
  const int64_t N = x[0], Ci = x[1], G = a.node->attrs.conv.groups, Cg = Ci / G, Og = w[1], O = y[1];
  const int64_t R = Og * w[2] * w[3], Pin = x[2] * x[3];
  const WeightGemmBuffers buf = conv_transpose2d_buffers(a, a.workspace);
  const Operand bias = a.n_in > 2 ? a.in[2] : Operand{};
  GANTRY_CUDA_TRY(widen_operand(a.in[1], buf.w, w.numel(), s));
  for (int64_t n0 = 0; n0 < N; n0 += buf.nb) {
    const int64_t b = std::min(buf.nb, N - n0);
    for (int64_t gr = 0; gr < G; ++gr) {
      GANTRY_CUDA_TRY(to_channel_major(s, a.in[0].at(n0 * Ci * Pin), buf.in, b, Ci, gr * Cg, Cg, Pin));
      // col[R, b·Pin] = w_gᵀ[R, Cg] · xT[Cg, b·Pin]   (w_g: [Cg, R])
      GANTRY_CUDA_TRY(gemm_row_major(a.cublas, true, false, R, b * Pin, Cg, 1, buf.w.at(gr * Cg * R), R, 0, buf.in,
                                     b * Pin, 0, 0, buf.product, b * Pin, 0, 1));
      GANTRY_CUDA_TRY(col2im(s, static_cast<const float*>(buf.product.p), bias, a.out.at(n0 * O * y[2] * y[3]), b, O,
                             gr * Og, Og, x[2], x[3], y[2], y[3], k));
    }
  }
  return {};
}

// ---- conv2d_grad_weight(x, dy) → dw [C_out, C_in/G, kH, kW]
struct GradWeightBuffers {
  int64_t nb;
  Operand dw, col, dyT;  // dw: the output, or a float32 sum rounded at the end; col: [K, nb·P]; dyT: [Og, nb·P]
  int64_t bytes;
};

GradWeightBuffers grad_weight_buffers(const CudaArgs& a, void* workspace) {
  const Shape &x = *a.in_shape[0], &dy = *a.in_shape[1], &dw = a.node->shape;
  const int64_t G = a.node->attrs.conv.groups, K = (x[1] / G) * dw[2] * dw[3], P = dy[2] * dy[3], Og = dy[1] / G;
  const Storage gemm = gemm_storage(a, a.in[0], a.in[1]);
  Carve c(workspace);
  // Chunks add into dw (beta = 1): the sum stays float32 until the last one.
  const Operand sum = a.out.type == Storage::f32 ? a.out : c.take(dw.numel(), Storage::f32);
  const int64_t nb = chunk_images(x[0], (K + Og) * P * storage_bytes(gemm));
  const Operand col = c.take(nb * K * P, gemm), dyT = c.take(nb * Og * P, gemm);
  return {nb, sum, col, dyT, c.used()};
}

int64_t conv2d_grad_weight_workspace(const CudaArgs& a) { return grad_weight_buffers(a, nullptr).bytes; }

CudaResult conv2d_grad_weight_cuda(const CudaArgs& a, cudaStream_t s) {
  const Shape &x = *a.in_shape[0], &dy = *a.in_shape[1], &dw = a.node->shape;
  const Window k = window_of(a.node->attrs, dw[2], dw[3]);
  const int64_t N = x[0], C = x[1], G = a.node->attrs.conv.groups, Cg = C / G, O = dy[1], Og = O / G;
  const int64_t K = Cg * dw[2] * dw[3], P = dy[2] * dy[3];
  const GradWeightBuffers buf = grad_weight_buffers(a, a.workspace);
  for (int64_t n0 = 0; n0 < N; n0 += buf.nb) {
    const int64_t b = std::min(buf.nb, N - n0);
    for (int64_t gr = 0; gr < G; ++gr) {
      GANTRY_CUDA_TRY(
          im2col(s, a.in[0].at(n0 * C * x[2] * x[3]), buf.col, b, C, gr * Cg, Cg, x[2], x[3], k, dy[2], dy[3]));
      GANTRY_CUDA_TRY(to_channel_major(s, a.in[1].at(n0 * O * P), buf.dyT, b, O, gr * Og, Og, P));
      // dw_g[Og, K] (+)= dyT[Og, b·P] · colᵀ[b·P, K]: the inner dimension runs over the chunk's pixels.
      GANTRY_CUDA_TRY(gemm_row_major(a.cublas, false, true, Og, K, b * P, 1, buf.dyT, b * P, 0, buf.col, b * P, 0,
                                     n0 > 0 ? 1.0f : 0.0f, buf.dw.at(gr * Og * K), K, 0, 1));
    }
  }
  return buf.dw.p == a.out.p ? CudaResult{} : cuda::copy_rows(buf.dw, 0, a.out, 0, 1, dw.numel(), s);
}

// ---- matmul: op(a)[M, K] · op(b)[K, N]
struct MatmulBuffers {
  Operand a, b, y;  // the operands as the GEMM takes them (widened copies where needed)
  int64_t bytes;
};

MatmulBuffers matmul_buffers(const CudaArgs& a, void* workspace) {
  const Storage gemm = gemm_storage(a, a.in[0], a.in[1]);
  Carve c(workspace);
  const Operand A = gemm_operand(a.in[0], a.in_shape[0]->numel(), gemm, c);
  const Operand B = gemm_operand(a.in[1], a.in_shape[1]->numel(), gemm, c);
  // cuBLAS writes a 16-bit type only from operands of that type.
  const Operand Y =
      a.out.type == Storage::f32 || a.out.type == gemm ? a.out : c.take(a.node->shape.numel(), Storage::f32);
  return {A, B, Y, c.used()};
}

int64_t matmul_workspace(const CudaArgs& a) { return matmul_buffers(a, nullptr).bytes; }

CudaResult matmul_cuda(const CudaArgs& a, cudaStream_t s) {
  const Shape &sa = *a.in_shape[0], &sb = *a.in_shape[1], &y = a.node->shape;
  const bool ta = a.node->attrs.trans_a, tb = a.node->attrs.trans_b;
  const int64_t K = ta ? sa[0] : sa[1];
  const MatmulBuffers buf = matmul_buffers(a, a.workspace);
  GANTRY_CUDA_TRY(widen_operand(a.in[0], buf.a, sa.numel(), s));
  GANTRY_CUDA_TRY(widen_operand(a.in[1], buf.b, sb.numel(), s));
  GANTRY_CUDA_TRY(
      gemm_row_major(a.cublas, ta, tb, y[0], y[1], K, 1, buf.a, sa[1], 0, buf.b, sb[1], 0, 0, buf.y, y[1], 0, 1));
  return buf.y.p == a.out.p ? CudaResult{} : cuda::copy_rows(buf.y, 0, a.out, 0, 1, y.numel(), s);
}

}  // namespace

GANTRY_DEFINE_CUDA_OP(conv2d, conv2d_workspace);
GANTRY_DEFINE_CUDA_OP(conv_transpose2d, conv_transpose2d_workspace);
GANTRY_DEFINE_CUDA_OP(conv2d_grad_weight, conv2d_grad_weight_workspace);
GANTRY_DEFINE_CUDA_OP(matmul, matmul_workspace);

}  // namespace gantry

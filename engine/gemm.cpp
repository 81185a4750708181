// Blocked matrix product after the GotoBLAS layout (Goto & van de Geijn,
// "Anatomy of High-Performance Matrix Multiplication", TOMS 2008): pack an
// MC×KC block of A in MR-row panels and a KC×NC block of B in NR-column
// panels, then an MR×NR register tile runs down KC. Packing reads A and B
// through their index maps (gemm.h), which is what lets a convolution be one
// product straight from its input: its column matrix exists a block at a time,
// in the pack buffer. Plain C++ that compilers vectorize, and a NEON tile on
// aarch64. This file is compiled with -ffp-contract=fast (CMakeLists.txt), so
// the tile's multiply-adds are fused wherever the target has FMA.
#include "engine/gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "platform/thread_pool.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace gantry {
namespace {

// Register tile MR×NR: 6×16 on x86-64 (12 accumulators of the 16 AVX2
// registers, as BLIS's Haswell kernel), 4×16 on aarch64 (the NEON tile below).
// Blocks: A 132×256 and B 256×128 floats sit together in a 512 KiB L2; a
// B panel (16 KiB) and an A panel in L1. MC covers 128 channels in one block.
#if defined(__aarch64__)
constexpr int64_t MR = 4;
#else
constexpr int64_t MR = 6;
#endif
constexpr int64_t NR = 16;
constexpr int64_t MC = 132, NC = 128, KC = 256;
static_assert(MC % MR == 0 && NC % NR == 0, "blocks are whole tiles");

// Offsets of indices [i0, i0 + count) of a dimension laid out as `l`.
void offsets(const Extent& e, const Layout& l, int64_t i0, int64_t count, int64_t* off) {
  int64_t d2 = i0 % e.n[2], d1 = i0 / e.n[2] % e.n[1], d0 = i0 / e.n[2] / e.n[1];
  int64_t at = d0 * l.s[0] + d1 * l.s[1] + d2 * l.s[2];
  for (int64_t i = 0; i < count; ++i) {
    off[i] = at;
    at += l.s[2];
    if (++d2 < e.n[2]) continue;  // odometer step
    d2 = 0;
    at += l.s[1] - e.n[2] * l.s[2];
    if (++d1 < e.n[1]) continue;
    d1 = 0;
    at += l.s[0] - e.n[1] * l.s[1];
  }
}

// Ap[panel][k][r] = A[row p + r][k], zero beyond mc.
// The stride between a panel's rows when it has MR rows evenly spaced (a
// convolution's weights: a kernel apart), else 0.
inline int64_t row_stride(const int64_t* rows, int64_t mr) {
  if (mr < MR) return 0;
  const int64_t s = rows[1] - rows[0];
  for (int64_t r = 2; r < MR; ++r)
    if (rows[r] - rows[r - 1] != s) return 0;
  return s;
}

// One k of a panel: dst[r] = A[row r][k] at src + rows[r], zero beyond mr;
// with evenly spaced rows the addresses are src + rows[0] + r·stride, no table.
template <class T>
__attribute__((always_inline)) inline void pack_a_column(const T* src, const int64_t* rows, int64_t stride, int64_t mr,
                                                         T* dst) {
  if (stride != 0) {
    src += rows[0];
    for (int64_t r = 0; r < MR; ++r) dst[r] = src[r * stride];
  } else {
    for (int64_t r = 0; r < MR; ++r) dst[r] = r < mr ? src[rows[r]] : T(0);
  }
}

template <class T>
__attribute__((always_inline)) inline void pack_a(const T* a, const int64_t* rows, const int64_t* ks, int64_t mc,
                                                  int64_t kc, T* Ap) {
  for (int64_t p = 0; p < mc; p += MR) {
    const int64_t mr = std::min(MR, mc - p), stride = row_stride(rows + p, mr);
    for (int64_t k = 0; k < kc; ++k, Ap += MR) pack_a_column(a + ks[k], rows + p, stride, mr, Ap);
  }
}

// Whether B's columns cols[0, NR) are adjacent in memory (a convolution's
// images side by side in its input copy, or a row-major B).
inline bool adjacent(const int64_t* cols, int64_t nr) {
  bool yes = nr == NR;
  for (int64_t c = 1; yes && c < NR; ++c) yes = cols[c] == cols[0] + c;
  return yes;
}

// Bp[panel][k][c] = B[k][column panel·NR + c], zero beyond nc. Row by row
// (k outer): each of B's rows is read along its length, so the reads are a
// few sequential streams, not kc of them at once; the panels of adjacent
// columns (images side by side, a row-major B) are copied NR at a time.
template <class T>
__attribute__((always_inline)) inline void pack_b(const T* b, const int64_t* ks, const int64_t* cols, int64_t kc,
                                                  int64_t nc, T* Bp) {
  bool adj[NC / NR];
  for (int64_t j = 0; j < nc; j += NR) adj[j / NR] = adjacent(cols + j, std::min(NR, nc - j));
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t row = ks[k];  // an offset: with negative strides b + ks[k] alone may lie outside B
    for (int64_t j = 0; j < nc; j += NR) {
      T* dst = Bp + j * kc + k * NR;
      if (adj[j / NR]) {
        std::copy_n(b + (row + cols[j]), NR, dst);
      } else {
        for (int64_t c = 0; c < NR; ++c) dst[c] = j + c < nc ? b[row + cols[j + c]] : T(0);
      }
    }
  }
}

// The MR×NR tile in vector registers (GCC/Clang vector extensions: 32-byte
// vectors become one AVX register, two SSE or NEON registers), a broadcast of
// each A value times the NR-wide row of B per k; the sum over this K block
// then goes to ct (row stride NC), stored on the first block, added after.
// The first k initializes the accumulators (a·b rounds as 0 + a·b does).
template <class T>
__attribute__((always_inline)) inline void micro_kernel(int64_t kc, const T* __restrict__ a, const T* __restrict__ b,
                                                        T* __restrict__ ct, bool first) {
  typedef T vec __attribute__((vector_size(32)));
  constexpr int64_t L = 32 / sizeof(T), V = NR / L;
  vec acc[MR][V], bv[V];
  for (int64_t j = 0; j < V; ++j) std::memcpy(&bv[j], b + j * L, sizeof(vec));
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t j = 0; j < V; ++j) acc[r][j] = (a[r] - vec{}) * bv[j];  // x − 0 is x, also for −0; 0 + x is not
  for (int64_t k = 1; k < kc; ++k) {
    a += MR, b += NR;
    for (int64_t j = 0; j < V; ++j) std::memcpy(&bv[j], b + j * L, sizeof(vec));
    for (int64_t r = 0; r < MR; ++r) {
      const vec av = a[r] - vec{};  // a broadcast
      for (int64_t j = 0; j < V; ++j) acc[r][j] += av * bv[j];
    }
  }
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t j = 0; j < V; ++j) {
      T* dst = ct + r * NC + j * L;
      if (!first) {
        vec old;
        std::memcpy(&old, dst, sizeof(vec));
        acc[r][j] += old;
      }
      std::memcpy(dst, &acc[r][j], sizeof(vec));
    }
}

#if defined(__aarch64__)
// AArch64 (Jetson's Carmel and Cortex-A78AE cores): the float tile with NEON
// fused multiply-adds (Arm's ACLE intrinsics). The 4×16 tile is 16 of the 32
// vector registers; per k, one load of the 4 packed A values (one register,
// since MR = 4), four loads of B and 16 FMAs, each taking its A value from a
// lane (FMLA by element), so no broadcast instruction: 21 instructions for 64
// multiply-adds. Same order of summation per output as the generic kernel.
template <>
__attribute__((always_inline)) inline void micro_kernel<float>(int64_t kc, const float* __restrict__ a,
                                                               const float* __restrict__ b, float* __restrict__ ct,
                                                               bool first) {
  static_assert(MR == 4 && NR == 16, "the NEON tile is 4 rows (one register of A) by 16 columns (4 registers)");
  float32x4_t acc[MR][4];
  for (auto& row : acc)
    for (auto& v : row) v = vdupq_n_f32(0.0f);
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    const float32x4_t av = vld1q_f32(a);
    const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8), b3 = vld1q_f32(b + 12);
#define GANTRY_NEON_ROW(r)                           \
  acc[r][0] = vfmaq_laneq_f32(acc[r][0], b0, av, r); \
  acc[r][1] = vfmaq_laneq_f32(acc[r][1], b1, av, r); \
  acc[r][2] = vfmaq_laneq_f32(acc[r][2], b2, av, r); \
  acc[r][3] = vfmaq_laneq_f32(acc[r][3], b3, av, r);
    GANTRY_NEON_ROW(0) GANTRY_NEON_ROW(1) GANTRY_NEON_ROW(2) GANTRY_NEON_ROW(3)
#undef GANTRY_NEON_ROW
  }
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t j = 0; j < 4; ++j) {
      float* dst = ct + r * NC + 4 * j;
      vst1q_f32(dst, first ? acc[r][j] : vaddq_f32(vld1q_f32(dst), acc[r][j]));
    }
}
#endif

// A product with at most MR rows (a convolution to one channel) would pack
// each B panel for a single use; instead B is read once in place, one row
// (k) at a time across the tile — a few streams the prefetcher follows, where
// the tile's k rows at once are hundreds. Each K block is summed as the
// tile's accumulators sum it (from the first product, by k in order, then
// added to Ct), so a product gives the same bits whichever path its tiles
// take: the path depends on the tile's rows, which depend on the batch when
// a convolution's pixels are the rows.
template <class T>
__attribute__((always_inline)) inline void rank_updates(const T* b, const int64_t* ks, const int64_t* cols, const T* Ap,
                                                        int64_t mc, int64_t kc, int64_t nc, bool first, T* Ct) {
  T row[NC], acc[MR][NC];
  bool adj[NC / NR];
  for (int64_t j = 0; j < nc; j += NR) adj[j / NR] = adjacent(cols + j, std::min(NR, nc - j));
  constexpr int64_t ahead = 4;  // rows: each is a short run (a few cache lines), too short for the prefetcher
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t bk = ks[k];  // an offset, as in pack_b
    if (k + ahead < kc)
      for (int64_t j = 0; j < nc; j += NR) __builtin_prefetch(b + (ks[k + ahead] + cols[j]));
    for (int64_t j = 0; j < nc; j += NR)
      if (adj[j / NR]) {
        std::copy_n(b + (bk + cols[j]), NR, row + j);
      } else {
        for (int64_t c = j; c < std::min(nc, j + NR); ++c) row[c] = b[bk + cols[c]];
      }
    for (int64_t r = 0; r < mc; ++r) {
      const T a = Ap[k * MR + r];
      T* acc_r = acc[r];
      if (k == 0) {
        for (int64_t j = 0; j < nc; ++j) acc_r[j] = a * row[j];
      } else {
        for (int64_t j = 0; j < nc; ++j) acc_r[j] += a * row[j];
      }
    }
  }
  for (int64_t r = 0; r < mc; ++r) {
    T* ct = Ct + r * NC;
    if (first) {
      std::copy_n(acc[r], nc, ct);
    } else {
      for (int64_t j = 0; j < nc; ++j) ct[j] += acc[r][j];
    }
  }
}

// How C is cut into tiles of mb×nb (at most MC×NC, no larger than C rounded
// up to whole register tiles). A product of fewer than two tiles per thread
// is cut finer — columns first, in whole register tiles — so that small
// layers (a 1×1 output over a batch, a batch of one) still spread over the
// threads; no finer, since every row tile packs its B block again. Tiles
// never split K, so an output's sum, and its bits, do not depend on the
// tiling (tests/test_gemm.cpp).
struct Tiling {
  int64_t mb = MC, nb = NC, tiles_m = 0, tiles_n = 0;
  bool packed_a = false;  // A is in the workspace, packed once by product()
};
int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }
Tiling tiling(int64_t M, int64_t N, int64_t min_tiles) {
  Tiling g;
  g.mb = std::min(MC, round_up(M, MR));
  g.nb = std::min(NC, round_up(N, NR));
  for (;;) {
    g.tiles_m = (M + g.mb - 1) / g.mb;
    g.tiles_n = (N + g.nb - 1) / g.nb;
    if (g.tiles_m * g.tiles_n >= min_tiles) break;
    if (g.nb > NR) {
      g.nb = round_up(g.nb / 2, NR);
    } else if (g.mb > MR) {
      g.mb = round_up(g.mb / 2, MR);
    } else {
      break;
    }
  }
  return g;
}

// One mb×nb tile of C over all of K, summed in a tile buffer and written once.
// On x86-64 it is compiled twice — for the baseline and for x86-64-v3 (AVX2,
// FMA) — and the loader picks the version the CPU supports (GCC function
// multiversioning); the rest of gantry stays baseline, so one binary runs on
// any x86-64 machine. ARM's NEON is baseline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GANTRY_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GANTRY_MULTIVERSION
#endif

template <class T>
__attribute__((always_inline)) inline void tile_body(const Product<T>& p, const Tiling& g, int64_t t) {
  alignas(64) T Ap[MC * KC];
  alignas(64) T Bp[KC * NC];
  alignas(64) T Ct[MC * NC];
  int64_t a_rows[MC], c_rows[MC], b_cols[NC], c_cols[NC], a_ks[KC], b_ks[KC];
  const int64_t M = p.m.size(), N = p.n.size(), K = p.k.size();
  const int64_t i0 = (t / g.tiles_n) * g.mb, j0 = (t % g.tiles_n) * g.nb;
  const int64_t mc = std::min(g.mb, M - i0), nc = std::min(g.nb, N - j0);
  offsets(p.m, p.a_m, i0, mc, a_rows);
  offsets(p.m, p.c_m, i0, mc, c_rows);
  offsets(p.n, p.b_n, j0, nc, b_cols);
  offsets(p.n, p.c_n, j0, nc, c_cols);
  if (K == 0)
    for (int64_t r = 0; r < mc; ++r) std::fill(Ct + r * NC, Ct + r * NC + nc, T(0));
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    const int64_t kc = std::min(KC, K - k0);
    offsets(p.k, p.b_k, k0, kc, b_ks);
    const T* A = Ap;  // panel q of this K block at A + q·a_step
    int64_t a_step = kc * MR;
    if (g.packed_a) {
      A = p.workspace + i0 * K + k0 * MR;
      a_step = K * MR;
    } else {
      offsets(p.k, p.a_k, k0, kc, a_ks);
      pack_a(p.a, a_rows, a_ks, mc, kc, Ap);
    }
    if (mc <= MR) {  // one panel of A: B read once, row by row, in place
      rank_updates(p.b, b_ks, b_cols, A, mc, kc, nc, k0 == 0, Ct);
      continue;
    }
    pack_b(p.b, b_ks, b_cols, kc, nc, Bp);
    for (int64_t ip = 0; ip < mc; ip += MR)
      for (int64_t jp = 0; jp < nc; jp += NR)
        micro_kernel(kc, A + ip / MR * a_step, Bp + jp * kc, Ct + ip * NC + jp, k0 == 0);
  }
  // C's columns in runs of adjacent addresses (pixels innermost: an image's
  // plane; a row-major C: the whole row), each stored by a vectorized loop.
  int64_t runs[NC + 1], n_runs = 0;
  for (int64_t j = 0; j < nc; ++j)
    if (j == 0 || c_cols[j] != c_cols[j - 1] + 1) runs[n_runs++] = j;
  runs[n_runs] = nc;
  for (int64_t r = 0; r < mc; ++r) {
    T* crow = p.c + c_rows[r];
    const T* ct = Ct + r * NC;
    for (int64_t q = 0; q < n_runs; ++q) {
      T* dst = crow + c_cols[runs[q]];
      const T* src = ct + runs[q];
      const int64_t len = runs[q + 1] - runs[q];
      if (p.accumulate) {
        for (int64_t j = 0; j < len; ++j) dst[j] += src[j];
      } else if (len == 1) {  // images innermost: one column a run (no call to memmove)
        *dst = *src;
      } else {
        std::copy_n(src, len, dst);
      }
    }
  }
}

GANTRY_MULTIVERSION void product_tile(const Product<float>& p, const Tiling& g, int64_t t) { tile_body(p, g, t); }
GANTRY_MULTIVERSION void product_tile(const Product<double>& p, const Tiling& g, int64_t t) { tile_body(p, g, t); }

}  // namespace

const char* gemm_kernel() {
#if defined(__aarch64__)
  return "aarch64 NEON FMA, 4x16 tile";
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  return __builtin_cpu_supports("x86-64-v3") ? "x86-64-v3 (AVX2, FMA), 6x16 tile" : "x86-64 baseline (SSE2), 6x16 tile";
#else
  return "generic vector code, 6x16 tile";
#endif
}

int64_t product_workspace(int64_t M, int64_t K) { return round_up(M, MR) * K; }

// Packs panel q of A (MR rows) into the workspace, at q·MR·K, value k of
// row r at k·MR + r — pack_a's layout for every K block, back to back. K's
// digits are walked by falling stride, so the reads go through memory in
// order: a convolution's weights [C_out][C_in][kh][kw] seen with k = (tap,
// C_in) would otherwise be read a tap per kernel at a time, each kernel's
// cache line fetched again for every tap (batch 1: a quarter of the time).
template <class T>
void pack_a_panel(const Product<T>& p, int64_t q) {
  const int64_t M = p.m.size(), K = p.k.size();
  int outer = 0, middle = 1, inner = 2;  // digits of K, largest |stride| first
  const auto larger = [&](int i, int j) { return std::abs(p.a_k.s[i]) > std::abs(p.a_k.s[j]); };
  if (larger(middle, outer)) std::swap(outer, middle);
  if (larger(inner, middle)) std::swap(middle, inner);
  if (larger(middle, outer)) std::swap(outer, middle);
  const int64_t(&n)[3] = p.k.n;
  const int64_t(&s)[3] = p.a_k.s;
  const int64_t weight[3] = {n[1] * n[2], n[2], 1};  // k = Σ digit·weight
  int64_t rows[MR];
  const int64_t mr = std::min(MR, M - q * MR);
  offsets(p.m, p.a_m, q * MR, mr, rows);
  const int64_t stride = row_stride(rows, mr);
  T* panel = p.workspace + q * MR * K;
  for (int64_t a = 0; a < n[outer]; ++a)
    for (int64_t b = 0; b < n[middle]; ++b)
      for (int64_t c = 0; c < n[inner]; ++c) {
        const int64_t k = a * weight[outer] + b * weight[middle] + c * weight[inner];
        const T* src = p.a + (a * s[outer] + b * s[middle] + c * s[inner]);
        pack_a_column(src, rows, stride, mr, panel + k * MR);
      }
}

template <class T>
void products(ThreadPool& pool, const Product<T>* p, int64_t count) {
  if (count == 0) return;
  // Two tiles per thread in all; tile t of the whole is tile t − first[i] of product i.
  Tiling g[kMaxProducts];
  int64_t first[kMaxProducts + 1] = {0}, panels[kMaxProducts + 1] = {0}, work = 0, k_max = 1;
  const int64_t per_product = (2 * pool.size() + count - 1) / count;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t M = p[i].m.size(), N = p[i].n.size(), K = p[i].k.size();
    g[i] = tiling(M, N, per_product);
    if (M == 0 || N == 0) g[i].tiles_m = g[i].tiles_n = 0;
    using PackA = typename Product<T>::PackA;
    g[i].packed_a = p[i].workspace && K > 0 && (g[i].tiles_n > 1 || p[i].pack_a != PackA::when_shared);
    first[i + 1] = first[i] + g[i].tiles_m * g[i].tiles_n;
    panels[i + 1] = panels[i] + (g[i].packed_a && p[i].pack_a != PackA::kept ? (M + MR - 1) / MR : 0);
    work = std::max(work, g[i].mb * g[i].nb * std::max<int64_t>(K, 1));
    k_max = std::max(k_max, K);
  }
  const auto owner = [&](const int64_t* starts, int64_t at) {
    return int64_t(std::upper_bound(starts + 1, starts + count + 1, at) - (starts + 1));
  };
  if (panels[count] > 0)
    pool.parallel_for(panels[count], std::max<int64_t>(1, 32768 / (MR * k_max)), [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t i = owner(panels, q);
        pack_a_panel(p[i], q - panels[i]);
      }
    });
  // Chunks of tiles of about 2¹⁸ multiply-adds: a tiny product (a batch of
  // one) stays on the calling thread. Chunks only group tiles.
  pool.parallel_for(first[count], std::max<int64_t>(1, (int64_t(1) << 18) / work), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t i = owner(first, t);
      product_tile(p[i], g[i], t - first[i]);
    }
  });
}

template <class T>
void product(ThreadPool& pool, const Product<T>& p) {
  products(pool, &p, 1);
}

template <class T>
void gemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda,
          const T* B, int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  Product<T> p;
  p.m = Extent{M};
  p.n = Extent{N};
  p.k = Extent{K};
  p.a = A;
  p.a_m = Layout{trans_a ? 1 : lda};
  p.a_k = Layout{trans_a ? lda : 1};
  p.b = B;
  p.b_k = Layout{trans_b ? 1 : ldb};
  p.b_n = Layout{trans_b ? ldb : 1};
  p.c = C;
  p.c_m = Layout{ldc};
  p.c_n = Layout{1};
  p.accumulate = accumulate;
  product(pool, p);
}

template void product<float>(ThreadPool&, const Product<float>&);
template void product<double>(ThreadPool&, const Product<double>&);
template void products<float>(ThreadPool&, const Product<float>*, int64_t);
template void products<double>(ThreadPool&, const Product<double>*, int64_t);
template void gemm<float>(ThreadPool&, bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*,
                          int64_t, float*, int64_t, bool);
template void gemm<double>(ThreadPool&, bool, bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                           int64_t, double*, int64_t, bool);

}  // namespace gantry

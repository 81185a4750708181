// Blocked GEMM after the GotoBLAS layout (Goto & van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication", TOMS 2008): pack an MC×KC block of
// A in MR-row panels and a KC×NC block of B in NR-column panels, then an
// MR×NR register tile runs down KC. Plain C++ that compilers vectorize.
#include "engine/gemm.h"

#include <algorithm>
#include <cstring>

#include "platform/thread_pool.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace gantry {
namespace {

constexpr int64_t MR = 4, NR = 16;  // register tile: 4 rows × 16 columns, two 8-float vectors per row
constexpr int64_t MC = 64, NC = 256, KC = 128;

template <class T>
__attribute__((always_inline)) inline void pack_a(bool trans, const T* A, int64_t lda, int64_t i0, int64_t mc,
                                                  int64_t k0, int64_t kc, T* Ap) {
  // Ap[panel][k][r] = op(A)[i0 + panel·MR + r][k0 + k], zero beyond mc.
  for (int64_t p = 0; p < mc; p += MR)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t r = 0; r < MR; ++r) {
        const int64_t i = i0 + p + r, kk = k0 + k;
        *Ap++ = p + r < mc ? (trans ? A[kk * lda + i] : A[i * lda + kk]) : T(0);
      }
}

template <class T>
__attribute__((always_inline)) inline void pack_b(bool trans, const T* B, int64_t ldb, int64_t j0, int64_t nc,
                                                  int64_t k0, int64_t kc, T* Bp) {
  // Bp[panel][k][c] = op(B)[k0 + k][j0 + panel·NR + c], zero beyond nc.
  for (int64_t p = 0; p < nc; p += NR)
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t c = 0; c < NR; ++c) {
        const int64_t j = j0 + p + c, kk = k0 + k;
        *Bp++ = p + c < nc ? (trans ? B[j * ldb + kk] : B[kk * ldb + j]) : T(0);
      }
}

// The MR×NR tile in vector registers (GCC/Clang vector extensions: 32-byte
// vectors become one AVX register, two SSE or NEON registers), a broadcast of
// each A value times the NR-wide row of B per k.
template <class T>
__attribute__((always_inline)) inline void micro_kernel(int64_t kc, const T* __restrict__ a, const T* __restrict__ b,
                                                        T (&c)[MR][NR]) {
  typedef T vec __attribute__((vector_size(32)));
  constexpr int64_t L = 32 / sizeof(T), V = NR / L;
  vec acc[MR][V] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    vec bv[V];
    for (int64_t j = 0; j < V; ++j) std::memcpy(&bv[j], b + j * L, sizeof(vec));
    for (int64_t r = 0; r < MR; ++r) {
      const vec av = vec{} + a[r];
      for (int64_t j = 0; j < V; ++j) acc[r][j] += av * bv[j];
    }
  }
  for (int64_t r = 0; r < MR; ++r) std::memcpy(c[r], acc[r], sizeof(acc[r]));
}

#if defined(__aarch64__)
// AArch64 (Jetson's Carmel and Cortex-A78AE cores): the float tile with NEON
// fused multiply-adds (Arm's ACLE intrinsics). The 4×16 tile is 16 of the 32
// vector registers; per k, one load of the 4 packed A values (one register,
// since MR = 4), four loads of B and 16 FMAs, each taking its A value from a
// lane (FMLA by element), so no broadcast instruction: 21 instructions for 64
// multiply-adds, against 4 broadcasts + 32 FMUL/FADD in the generic kernel.
// Same order of summation per output as the generic kernel, one rounding per
// step instead of two.
template <>
__attribute__((always_inline)) inline void micro_kernel<float>(int64_t kc, const float* __restrict__ a,
                                                               const float* __restrict__ b, float (&c)[MR][NR]) {
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
    for (int64_t j = 0; j < 4; ++j) vst1q_f32(c[r] + 4 * j, acc[r][j]);
}
#endif

// One MC×NC tile of C over all of K. On x86-64 it is compiled twice — for the
// baseline and for x86-64-v3 (AVX2, FMA) — and the loader picks the version
// the CPU supports (GCC function multiversioning); the rest of gantry stays
// baseline, so one binary runs on any x86-64 machine. ARM's NEON is baseline.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GANTRY_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define GANTRY_MULTIVERSION
#endif

template <class T>
struct GemmArgs {
  bool trans_a, trans_b, accumulate;
  int64_t M, N, K, lda, ldb, ldc, tiles_n;
  const T *A, *B;
  T* C;
};

template <class T>
__attribute__((always_inline)) inline void gemm_tile_body(const GemmArgs<T>& g, int64_t t) {
  alignas(64) T Ap[MC * KC];
  alignas(64) T Bp[KC * NC];
  const int64_t i0 = (t / g.tiles_n) * MC, j0 = (t % g.tiles_n) * NC;
  const int64_t mc = std::min(MC, g.M - i0), nc = std::min(NC, g.N - j0);
  if (g.K == 0 && !g.accumulate)
    for (int64_t i = 0; i < mc; ++i) std::fill(g.C + (i0 + i) * g.ldc + j0, g.C + (i0 + i) * g.ldc + j0 + nc, T(0));
  for (int64_t k0 = 0; k0 < g.K; k0 += KC) {
    const int64_t kc = std::min(KC, g.K - k0);
    pack_a(g.trans_a, g.A, g.lda, i0, mc, k0, kc, Ap);
    pack_b(g.trans_b, g.B, g.ldb, j0, nc, k0, kc, Bp);
    const bool overwrite = k0 == 0 && !g.accumulate;
    for (int64_t ip = 0; ip < mc; ip += MR)
      for (int64_t jp = 0; jp < nc; jp += NR) {
        T c[MR][NR];
        micro_kernel(kc, Ap + ip * kc, Bp + jp * kc, c);
        const int64_t mr = std::min(MR, mc - ip), nr = std::min(NR, nc - jp);
        for (int64_t r = 0; r < mr; ++r) {
          T* crow = g.C + (i0 + ip + r) * g.ldc + j0 + jp;
          for (int64_t j = 0; j < nr; ++j) crow[j] = overwrite ? c[r][j] : crow[j] + c[r][j];
        }
      }
  }
}

GANTRY_MULTIVERSION void gemm_tile(const GemmArgs<float>& g, int64_t t) { gemm_tile_body(g, t); }
GANTRY_MULTIVERSION void gemm_tile(const GemmArgs<double>& g, int64_t t) { gemm_tile_body(g, t); }

}  // namespace

const char* gemm_kernel() {
#if defined(__aarch64__)
  return "aarch64 NEON FMA, 4x16 tile";
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  return __builtin_cpu_supports("x86-64-v3") ? "x86-64-v3 (AVX2), 4x16 tile" : "x86-64 baseline (SSE2), 4x16 tile";
#else
  return "generic vector code, 4x16 tile";
#endif
}

template <class T>
void gemm(ThreadPool& pool, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, int64_t lda,
          const T* B, int64_t ldb, T* C, int64_t ldc, bool accumulate) {
  const int64_t tiles_m = (M + MC - 1) / MC, tiles_n = (N + NC - 1) / NC;
  const GemmArgs<T> g{trans_a, trans_b, accumulate, M, N, K, lda, ldb, ldc, tiles_n, A, B, C};
  pool.parallel_for(tiles_m * tiles_n, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) gemm_tile(g, t);
  });
}

template void gemm<float>(ThreadPool&, bool, bool, int64_t, int64_t, int64_t, const float*, int64_t, const float*,
                          int64_t, float*, int64_t, bool);
template void gemm<double>(ThreadPool&, bool, bool, int64_t, int64_t, int64_t, const double*, int64_t, const double*,
                           int64_t, double*, int64_t, bool);

}  // namespace gantry

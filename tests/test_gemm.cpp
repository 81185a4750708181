// The CPU GEMM (engine/gemm.cpp) against a float64 product, for shapes that
// cross its MC/NC/KC blocks and MR/NR tiles with ragged edges, every
// transposition and both overwrite and accumulate; and bit-identical results
// for 1, 2 and 3 threads (each output summed by one thread in a fixed order),
// whatever else is in the product (how many rows, which operand is which).
// On aarch64 the NEON micro-kernel must be the one compiled in (the cross
// stage runs this under qemu-aarch64).
//
// Bound: a sum of K products in float with at most K+1 roundings per output
// (one per product and addition, or one per fused multiply-add) is within
// γ(K+1)·Σ|a·b| of the exact value, γ(n) = n·u/(1 − n·u), u = 2⁻²⁴
// (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/gemm.h"
#include "platform/thread_pool.h"

namespace gantry {
namespace {

struct Case {
  int64_t M, N, K;
};

// The blocks are MC=132, NC=128, KC=256 and the tile 6×16 (4×16 on aarch64):
// one element, one partial tile, several blocks in every dimension with partial
// edges, and K = 0.
const Case kCases[] = {{1, 1, 1}, {3, 17, 5}, {4, 16, 128}, {67, 259, 131}, {130, 517, 300}, {9, 33, 0}};

std::vector<float> random_matrix(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& e : v) e = u(rng);
  return v;
}

TEST(Gemm, MatchesFloat64ProductWithinTheRoundingBound) {
  std::mt19937 rng(7);
  ThreadPool pool(2);
  const double u = std::ldexp(1.0, -24);
  for (const Case& c : kCases)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int acc = 0; acc < 2; ++acc) {
          const std::string what = "M" + std::to_string(c.M) + " N" + std::to_string(c.N) + " K" + std::to_string(c.K) +
                                   (ta ? " Aᵀ" : "") + (tb ? " Bᵀ" : "") + (acc ? " accumulate" : "");
          const int64_t lda = (ta ? c.M : c.K) + 3, ldb = (tb ? c.K : c.N) + 2, ldc = c.N + 1;  // padded rows
          const auto A = random_matrix((ta ? c.K : c.M) * lda, rng), B = random_matrix((tb ? c.N : c.K) * ldb, rng);
          const auto C0 = random_matrix(c.M * ldc, rng);
          auto C = C0;
          gemm<float>(pool, ta, tb, c.M, c.N, c.K, A.data(), lda, B.data(), ldb, C.data(), ldc, acc);
          const double gamma = double(c.K + 1) * u / (1 - double(c.K + 1) * u);
          for (int64_t i = 0; i < c.M; ++i) {
            for (int64_t j = 0; j < c.N; ++j) {
              double exact = acc ? double(C0[size_t(i * ldc + j)]) : 0, magnitude = std::abs(exact);
              for (int64_t k = 0; k < c.K; ++k) {
                const double p = double(A[size_t(ta ? k * lda + i : i * lda + k)]) *
                                 double(B[size_t(tb ? j * ldb + k : k * ldb + j)]);
                exact += p, magnitude += std::abs(p);
              }
              ASSERT_LE(std::abs(C[size_t(i * ldc + j)] - exact), gamma * magnitude + 1e-30)
                  << what << " at (" << i << ", " << j << ")";
            }
            // The padding between rows of C is never written.
            for (int64_t j = c.N; j < ldc; ++j) ASSERT_EQ(C[size_t(i * ldc + j)], C0[size_t(i * ldc + j)]) << what;
          }
        }
}

TEST(Gemm, BitIdenticalAcrossThreadCounts) {
  std::mt19937 rng(8);
  const Case c{130, 517, 300};
  const auto A = random_matrix(c.M * c.K, rng), B = random_matrix(c.K * c.N, rng);
  std::vector<float> first;
  for (int threads : {1, 2, 3, 1}) {
    ThreadPool pool(threads);
    std::vector<float> C(size_t(c.M * c.N));
    gemm<float>(pool, false, false, c.M, c.N, c.K, A.data(), c.K, B.data(), c.N, C.data(), c.N, false);
    if (first.empty()) {
      first = C;
    } else {
      ASSERT_EQ(std::memcmp(C.data(), first.data(), C.size() * sizeof(float)), 0)
          << threads << " threads differ from 1 thread";
    }
  }
}

// An output's bits depend on its row of A, its column of B and K only: not
// on how many rows or columns the product has (which decides its tiles and
// whether a tile of at most MR rows reads B in place), nor on which operand is
// which (Cᵀ = Bᵀ·Aᵀ). A convolution's pixels × images are one side of its
// product, so this is what keeps a sample independent of its batch. K spans
// three K blocks.
TEST(Gemm, AnOutputDoesNotDependOnTheRestOfTheProduct) {
  std::mt19937 rng(9);
  const int64_t M = 40, N = 50, K = 700;
  const auto A = random_matrix(M * K, rng), B = random_matrix(K * N, rng);
  ThreadPool pool(2);
  std::vector<float> full(size_t(M * N));
  gemm<float>(pool, false, false, M, N, K, A.data(), K, B.data(), N, full.data(), N, false);
  for (int64_t m : {1, 3, 4, 6, 7, 13}) {
    std::vector<float> part(size_t(m * N));
    gemm<float>(pool, false, false, m, N, K, A.data(), K, B.data(), N, part.data(), N, false);
    EXPECT_EQ(std::memcmp(part.data(), full.data(), part.size() * sizeof(float)), 0) << "the first " << m << " rows";
  }
  for (int64_t n : {1, 5, 16, 17}) {
    std::vector<float> part(size_t(M * n));
    gemm<float>(pool, false, false, M, n, K, A.data(), K, B.data(), N, part.data(), n, false);
    for (int64_t i = 0; i < M; ++i)
      EXPECT_EQ(std::memcmp(&part[size_t(i * n)], &full[size_t(i * N)], size_t(n) * sizeof(float)), 0)
          << "the first " << n << " columns, row " << i;
  }
  std::vector<float> t(size_t(N * M));  // Cᵀ[N, M] = Bᵀ·Aᵀ
  gemm<float>(pool, true, true, N, M, K, B.data(), N, A.data(), K, t.data(), M, false);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      ASSERT_EQ(std::memcmp(&t[size_t(j * M + i)], &full[size_t(i * N + j)], sizeof(float)), 0)
          << "Cᵀ = Bᵀ·Aᵀ at " << i << ", " << j;
}

// products() runs several at once (a transposed convolution's phases): each
// gives the bits it gives alone, whether A is packed per tile, packed into
// the workspace to be kept, or read back from it; and kept means read back
// (a changed workspace changes the result). A is seen through a gather, as
// a convolution's weights are (rows 3 apart, K in two digits).
TEST(Gemm, ProductsRunTogetherAsEachAlone) {
  std::mt19937 rng(11);
  ThreadPool pool(2);
  const Case shapes[] = {{7, 49, 40}, {64, 300, 260}, {1, 5, 4}};
  std::vector<std::vector<float>> a, b, alone, together, ws;
  Product<float> p[3];
  for (int i = 0; i < 3; ++i) {
    const auto [M, N, K] = shapes[i];
    a.push_back(random_matrix(M * 3 * K, rng));
    b.push_back(random_matrix(K * N, rng));
    alone.emplace_back(size_t(M * N));
    together.emplace_back(size_t(M * N));
    ws.emplace_back(size_t(product_workspace(M, K)));
    p[i].m = Extent{M};
    p[i].k = Extent{K / 4, 4};  // k = 4·k1 + k2 lies at 3M·k1 + 3M·(K/4)·k2: K in two digits
    p[i].a = a[i].data();
    p[i].a_m = Layout{3};
    p[i].a_k = Layout{3 * M, (K / 4) * 3 * M};
    p[i].n = Extent{N};
    p[i].b = b[i].data();
    p[i].b_k = Layout{N};
    p[i].b_n = Layout{1};
    p[i].c_m = Layout{N};
    p[i].c_n = Layout{1};
    p[i].c = alone[i].data();
    product(pool, p[i]);
    p[i].c = together[i].data();
    p[i].workspace = ws[i].data();
  }
  using PackA = Product<float>::PackA;
  for (PackA pack : {PackA::when_shared, PackA::keep, PackA::kept}) {
    for (auto& t : together) std::fill(t.begin(), t.end(), NAN);
    for (auto& q : p) q.pack_a = pack;
    products(pool, p, 3);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(std::memcmp(alone[i].data(), together[i].data(), alone[i].size() * sizeof(float)), 0)
          << "product " << i << ", pack mode " << int(pack);
  }
  std::fill(ws[1].begin(), ws[1].end(), 0.0f);
  products(pool, p, 3);
  EXPECT_EQ(std::count(together[1].begin(), together[1].end(), 0.0f), std::ptrdiff_t(together[1].size()))
      << "kept: A is read from the workspace";
}

#if defined(__aarch64__)
TEST(Gemm, NeonKernelCompiledIn) {
  const std::string kernel = gemm_kernel();
  EXPECT_NE(kernel.find("NEON"), std::string::npos) << kernel;
}
#endif

}  // namespace
}  // namespace gantry

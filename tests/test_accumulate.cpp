// The fp32 accumulation of the CUDA reductions, normalizations and softmax
// (platform/accumulate.h), run on the CPU: the same header the kernels
// compile, summed in the order a CUDA block sums (threads stride over the
// elements, then the block_reduce tree of cuda/cuda_util.cuh), on inputs where
// a plain float sum fails — 2^21 terms with a large common offset, and sums
// that cancel to a tiny fraction of their terms — against exact references.
//
// The stated bound is the one of Ogita, Rump & Oishi's Sum2 (see the header):
//   |sum − S| ≤ eps·|S| + γ(L)²·Σ|x_i|,  eps = 2⁻²⁴, γ(L) = L·eps / (1 − L·eps),
// with L the longest chain of additions: terms per thread + tree depth. Its
// second term is a worst case far above what these sums reach, so each test
// also holds the result to 4·eps·|S| (float's own rounding of S, with room),
// which a plain float sum misses by orders of magnitude.
//
// References are exact: every term is a multiple of 2⁻²⁴ and each total stays
// below 2⁵³ such units, so the double sums below make no rounding error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "platform/accumulate.h"

namespace gantry {
namespace {

constexpr double kEps = 1.0 / (1 << 24);  // unit roundoff of float
constexpr int kThreads = 1024;            // the largest block group_threads() picks
constexpr int64_t kN = int64_t(1) << 21;

// The sum of x as one CUDA block of `threads` threads computes it: thread t
// adds x[t], x[t + threads], … then warps combine lanes l and l + o for
// o = 16, 8, 4, 2, 1, and warp 0 does the same over the per-warp results.
CompensatedSum block_order_sum(const std::vector<float>& x, int threads, bool products_of_pairs = false) {
  std::vector<CompensatedSum> part(size_t(threads), CompensatedSum{});
  const size_t step = products_of_pairs ? 2 : 1;
  for (size_t i = 0, k = 0; i < x.size(); i += step, ++k) {
    CompensatedSum& p = part[k % size_t(threads)];
    if (products_of_pairs)
      p.add_product(x[i], x[i + 1]);
    else
      p.add(x[i]);
  }
  auto warp_reduce = [](CompensatedSum* lane) {
    for (int o = 16; o > 0; o >>= 1)
      for (int l = 0; l < o; ++l) lane[l].merge(lane[l + o]);
    return lane[0];
  };
  std::vector<CompensatedSum> warps(32, CompensatedSum{});
  for (int w = 0; w < threads / 32; ++w) warps[size_t(w)] = warp_reduce(&part[size_t(w) * 32]);
  return warp_reduce(warps.data());
}

// The stated bound for n terms over `threads` threads with Σ|x_i| = abs_sum.
double sum2_bound(double exact, double abs_sum, int64_t n, int threads) {
  const double chain = double((n + threads - 1) / threads) + 10;  // terms per thread + log2(1024)
  const double gamma = chain * kEps / (1 - chain * kEps);
  return kEps * std::fabs(exact) + gamma * gamma * abs_sum;
}

// A float that is a multiple of 2⁻²⁴ in [0, 1).
float unit(std::mt19937& rng) { return float(rng() >> 8) * float(kEps); }

TEST(Accumulate, TwoSumIsExact) {
  std::mt19937 rng(1);
  // Exponents at most 24 apart, so that a + b is exact in double.
  std::uniform_int_distribution<int> mag(-12, 12);
  for (int i = 0; i < 100000; ++i) {
    const float a = std::ldexp(unit(rng) - 0.5f, mag(rng)), b = std::ldexp(unit(rng) - 0.5f, mag(rng));
    float s, e;
    two_sum(a, b, s, e);
    ASSERT_EQ(double(s) + double(e), double(a) + double(b)) << a << " + " << b;
  }
}

// 2^21 terms near 10^4 (as a batch-norm input with a large mean): the total,
// 2·10^10, has an ulp of 2048, so a plain running float sum loses the sum of
// the small parts entirely.
TEST(Accumulate, LargeOffsetMillionsOfTerms) {
  std::mt19937 rng(2);
  std::vector<float> x(static_cast<size_t>(kN));
  double exact = 0, abs_sum = 0;
  for (float& v : x) {
    v = 10000.0f + (unit(rng) - 0.5f);  // a multiple of 2⁻¹⁰: exact below
    exact += v;
    abs_sum += std::fabs(v);
  }
  const double got = block_order_sum(x, kThreads).value();
  const double bound = sum2_bound(exact, abs_sum, kN, kThreads);
  EXPECT_LE(std::fabs(got - exact), bound) << "sum " << got << " exact " << exact;
  EXPECT_LE(std::fabs(got - exact), 4 * kEps * std::fabs(exact));
  // What the bound works out to here: about 1e-7 relative, float's own rounding.
  EXPECT_LE(bound / std::fabs(exact), 1e-7);

  float naive = 0;
  for (float v : x) naive += v;
  EXPECT_GT(std::fabs(double(naive) - exact), 100 * bound) << "the input is not hard for a plain float sum";
}

// Terms of ±10^7 that cancel in pairs, plus small terms: the sum is about
// 10^-7 of Σ|x|, so every bit a plain sum loses shows.
TEST(Accumulate, CancellationToSmallFraction) {
  std::mt19937 rng(3);
  std::vector<float> x;
  x.reserve(size_t(kN));
  double exact = 0, abs_sum = 0;
  while (int64_t(x.size()) < kN) {
    const float big = std::ldexp(float(rng() >> 8), -1);  // up to 2^23: ±big exact, multiples of 2⁻¹
    const float small = unit(rng);
    for (float v : {big, -big, small}) {
      x.push_back(v);
      abs_sum += std::fabs(v);
    }
    exact += small;  // the pairs cancel exactly
  }
  std::shuffle(x.begin(), x.end(), rng);
  const double got = block_order_sum(x, kThreads).value();
  EXPECT_LE(std::fabs(got - exact), sum2_bound(exact, abs_sum, int64_t(x.size()), kThreads))
      << "sum " << got << " exact " << exact << " Σ|x| " << abs_sum;
  EXPECT_LE(std::fabs(got - exact), 4 * kEps * std::fabs(exact)) << "sum " << got << " exact " << exact;
}

// Σ a·b with add_product (normalize_backward's Σ dy·x̂): products that cancel
// in pairs plus small ones, each product rounded in float but its error kept.
TEST(Accumulate, DotProductWithCancellation) {
  std::mt19937 rng(4);
  std::vector<float> ab;  // a0, b0, a1, b1, …
  double exact = 0, abs_sum = 0;
  while (int64_t(ab.size()) < 2 * kN) {
    const float a = 1 + unit(rng), b = 1000 * (1 + unit(rng)), small = unit(rng);
    for (float v : {a, b, a, -b, small, 1.0f}) ab.push_back(v);
    abs_sum += 2 * double(a) * double(b) + small;
    exact += small;  // a·b − a·b cancels exactly, in double as in the exact sum
  }
  const double got = block_order_sum(ab, kThreads, /*products_of_pairs=*/true).value();
  EXPECT_LE(std::fabs(got - exact), sum2_bound(exact, abs_sum, int64_t(ab.size() / 2), kThreads))
      << "dot " << got << " exact " << exact;
  EXPECT_LE(std::fabs(got - exact), 4 * kEps * std::fabs(exact)) << "dot " << got << " exact " << exact;
}

// The normalization statistics as norm.cu computes them: the mean, then the
// corrected two-pass Σd² − (Σd)²/n over d = x − mean, on 2^21 values of
// variance 1/12 around 10^4 (where E[x²] − E[x]² in float returns noise).
// Against a double two-pass, the variance is within 2·10^-6 relative: the
// mean is one rounding off (≈ 6·10^-4 here), every d is exact (x and the mean
// are within a factor of 2), and the sums are Sum2-accurate.
TEST(Accumulate, VarianceWithLargeOffset) {
  std::mt19937 rng(5);
  std::vector<float> x(static_cast<size_t>(kN));
  for (float& v : x) v = 10000.0f + (unit(rng) - 0.5f);
  double mean_ref = 0;
  for (float v : x) mean_ref += v;
  mean_ref /= double(kN);
  double var_ref = 0;
  for (float v : x) var_ref += (v - mean_ref) * (v - mean_ref);
  var_ref /= double(kN);

  const float n = float(kN);
  const float mean = block_order_sum(x, kThreads).value() / n;
  std::vector<float> d(x.size()), dd(2 * x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    d[i] = x[i] - mean;
    dd[2 * i] = dd[2 * i + 1] = d[i];
  }
  const float sum_d = block_order_sum(d, kThreads).value();
  const float sum_d2 = block_order_sum(dd, kThreads, /*products_of_pairs=*/true).value();
  const double var = corrected_sum_sq(sum_d, sum_d2, n) / n;
  EXPECT_NEAR(var, var_ref, 2e-6 * var_ref) << "mean " << mean << " vs " << mean_ref;
  EXPECT_NEAR(var, 1.0 / 12, 1e-2);  // the data are what the test says
}

}  // namespace
}  // namespace gantry

// Float32 sums that stay accurate where a plain float loop does not (10^6
// terms, a large common offset, cancellation), so the CUDA reductions,
// normalizations and softmax need no double: FP64 runs at 1/32 to 1/64 of the
// FP32 rate on GeForce and Jetson parts. Compiled for host and device
// (GANTRY_HD) so tests/test_accumulate.cpp checks this very code on the CPU.
//
// CompensatedSum is a float sum plus a float collecting the rounding error of
// every addition, each error found exactly by TwoSum (Knuth, TAOCP vol. 2,
// §4.2.2; Møller 1965): s = fl(a + b) and e with s + e = a + b exactly, in
// round-to-nearest with no reassociation (nvcc and GCC in ISO C++ mode keep
// these additions as written; nothing here may be built with fast-math).
// value() adds the collected errors back once: Sum2 of Ogita, Rump & Oishi,
// "Accurate sum and dot product", SIAM J. Sci. Comput. 26(6), 2005, whose
// bound for n terms x_i with sum S is
//   |value() − S| ≤ eps·|S| + γ(n−1)²·Σ|x_i|,  eps = 2⁻²⁴, γ(k) = k·eps / (1 − k·eps),
// i.e. as if summed in twice the precision and rounded once. merge() combines
// two partial sums the same way (TwoSum on the sums, errors added), so a tree
// of partial sums — one per CUDA thread, then a block reduction — keeps the
// bound with n − 1 replaced by the longest chain of additions (terms per
// thread + tree depth). add_product() adds a·b with its rounding error too
// (TwoProduct via one FMA, the paper's Dot2), for sums of products.
//
// Variance: the kernels use the corrected two-pass algorithm (Chan, Golub &
// LeVeque, "Algorithms for computing the sample variance: analysis and
// recommendations", The American Statistician 37(3), 1983, eq. 1.7): mean m
// first, then with d = x − m, Σ(x − mean)² = Σd² − (Σd)²/n, the second term
// removing the error of m; both passes are CompensatedSums.
#pragma once

#include <cmath>

#include "platform/host_device.h"

namespace gantry {

// s = fl(a + b) and the exact error e = (a + b) − s (branch-free TwoSum).
GANTRY_HD inline void two_sum(float a, float b, float& s, float& e) {
  s = a + b;
  const float bv = s - a;
  e = (a - (s - bv)) + (b - bv);
}

// An aggregate with no initializers so that it may live in CUDA __shared__
// memory; start from CompensatedSum{} (both fields zero).
struct CompensatedSum {
  float sum, comp;

  GANTRY_HD void add(float x) {
    float e;
    two_sum(sum, x, sum, e);
    comp += e;
  }
  GANTRY_HD void add_product(float a, float b) {
#if defined(__CUDA_ARCH__)
    const float p = __fmul_rn(a, b);  // never contracted into a later addition
    const float e = fmaf(a, b, -p);   // a·b − p exactly
#else
    const float p = a * b;
    const float e = std::fma(a, b, -p);
#endif
    add(p);
    comp += e;
  }
  GANTRY_HD void merge(const CompensatedSum& o) {
    float e;
    two_sum(sum, o.sum, sum, e);
    comp += e + o.comp;
  }
  GANTRY_HD float value() const { return sum + comp; }
};

// Σ(x − mean)² over n elements from the corrected two-pass sums of d = x − m,
// where m is the mean of the first pass: Σd² − (Σd)²/n (never negative).
GANTRY_HD inline float corrected_sum_sq(float sum_d, float sum_d2, float n) {
  const float ss = sum_d2 - sum_d * sum_d / n;
  return ss > 0 ? ss : 0.0f;
}

}  // namespace gantry

// Sample-quality metrics against gantry's MNIST classifier (classifier.h):
// class coverage, mean confidence, the classifier Inception Score, the
// Fréchet distance between classifier features of samples and of real digits
// (FID's formula on this classifier's feature layer, so the numbers are
// comparable between gantry runs, not with published FIDs), and, for
// conditional models, the accuracy of the requested class. The linear algebra
// (covariances, a Jacobi eigen-solver) is in double on the host.
// Checked by tests/test_classifier.cpp (known matrices, closed forms, real digits vs noise).
//
// Dimension letters: N images, F feature units, K classes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "eval/classifier.h"
#include "platform/shape.h"
#include "platform/status.h"

namespace gantry {

// ---- linear algebra (row-major n×n matrices in double)

// Eigen-decomposition of a symmetric matrix by the cyclic Jacobi method
// (Golub & Van Loan, Matrix Computations, 4th ed., §8.5, Algorithms 8.5.2–8.5.3):
// plane rotations zero the off-diagonal entries one by one until their norm is
// below tol·‖A‖_F. a = V·diag(values)·Vᵀ; vectors holds V row-major (column j
// is the eigenvector of values[j]); values ascend. Fails on a non-square size,
// a non-symmetric or non-finite input, or no convergence within max_sweeps.
struct SymmetricEigen {
  std::vector<double> values;   // [n]
  std::vector<double> vectors;  // [n, n]
  int sweeps = 0;               // sweeps it took
};
Result<SymmetricEigen> jacobi_eigen(std::span<const double> a, int n, double tol = 1e-13, int max_sweeps = 60);

// Mean and unbiased (n − 1) covariance of N rows of F features.
struct FeatureStats {
  int dim = 0;
  int64_t count = 0;
  std::vector<double> mean;  // [F]
  std::vector<double> cov;   // [F, F]
};
// features: [N, F] row-major, N ≥ 2.
Result<FeatureStats> feature_stats(std::span<const float> features, int dim);

// ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^{1/2}), with Tr((Σ₁Σ₂)^{1/2}) the sum of the
// square roots of the eigenvalues of Σ₁^{1/2} Σ₂ Σ₁^{1/2} (symmetric, unlike
// Σ₁Σ₂, and with the same eigenvalues). Eigenvalues that rounding leaves
// slightly negative are clamped to 0.
Result<double> frechet_distance(const FeatureStats& a, const FeatureStats& b);

// exp(E_x KL(p(y|x) ‖ p(y))), p(y) the mean of the rows; probs: [N, K], N ≥ 1.
// Between 1 (every row the same) and K (confident, classes used equally).
Result<double> inception_score(std::span<const float> probs, int classes);

// ---- images

// A non-owning view of a batch of single-channel images in [−1, 1].
struct ImageView {
  Shape shape;                    // [N, 1, H, W]
  std::span<const float> pixels;  // N·H·W values
};
// The images as the classifier's input [N, 1, 28, 28] (bilinear resize when
// H×W differs). Fails, naming `what` and the shape, on anything but [N,1,H,W].
Result<std::vector<float>> classifier_input(const ImageView& images, const std::string& what);

// ---- the report

struct MetricOptions {
  double coverage_share = 0.02;  // a class counts as covered with at least this share of the samples
};

struct SampleReport {
  int64_t samples = 0, real = 0;
  std::array<double, kClassifierClasses> class_share{};  // share of samples predicted as each class
  int classes_covered = 0;                               // classes with share ≥ coverage_share
  double coverage_share = 0;                             // the threshold used
  double mean_confidence = 0;                            // mean over samples of max_y p(y|x)
  double inception_score = 0;
  double frechet_distance = 0;           // samples vs real digits, classifier features
  std::optional<double> label_accuracy;  // share whose arg-max is the requested class (labels given)
};

// samples, real: [N,1,H,W] in [−1, 1] (resized to 28×28 when needed).
// labels: the class requested for each sample (conditional models), or none.
// real needs ≥ 2 images and so do the samples (for a covariance).
Result<SampleReport> evaluate_samples(const Classifier& classifier, const ImageView& samples,
                                      std::optional<std::span<const float>> labels, const ImageView& real,
                                      const MetricOptions& options = {});

// A human-readable table, and one JSON object on one line.
std::string format_table(const SampleReport& r);
std::string to_json(const SampleReport& r);

}  // namespace gantry

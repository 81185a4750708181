// See sample_metrics.h. Everything here runs on the host in double: the
// matrices are F×F with F ≈ 128, a few milliseconds of work, and the Fréchet
// distance subtracts traces of similar size, so float32 would lose digits.
#include "eval/sample_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "train/dataset.h"

namespace gantry {
namespace {

// Σ_{i≠j} a_ij², the quantity Jacobi drives to zero (GVL's off(A)²).
double off_diagonal_sq(const std::vector<double>& a, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) s += a[size_t(i) * n + j] * a[size_t(i) * n + j];
  return s;
}

// (x, y) ← (c·x − s·y, s·x + c·y) for x = m[i + k·step], y = m[j + k·step],
// k < n: one plane rotation applied to two rows or two columns.
void rotate_pairs(std::vector<double>& m, size_t i, size_t j, size_t step, int n, double c, double s) {
  for (int k = 0; k < n; ++k, i += step, j += step) {
    const double x = m[i], y = m[j];
    m[i] = c * x - s * y;
    m[j] = s * x + c * y;
  }
}

// C = A·B for row-major n×n matrices.
std::vector<double> matmul_sq(const std::vector<double>& a, const std::vector<double>& b, int n) {
  std::vector<double> c(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < n; ++k) {
      const double aik = a[size_t(i) * n + k];
      for (int j = 0; j < n; ++j) c[size_t(i) * n + j] += aik * b[size_t(k) * n + j];
    }
  return c;
}

double trace(const std::vector<double>& a, int n) {
  double t = 0;
  for (int i = 0; i < n; ++i) t += a[size_t(i) * n + i];
  return t;
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

Result<SymmetricEigen> jacobi_eigen(std::span<const double> a_in, int n, double tol, int max_sweeps) {
  if (n < 1 || a_in.size() != size_t(n) * size_t(n))
    return Status::error("jacobi_eigen: " + std::to_string(a_in.size()) + " values is not a " + std::to_string(n) +
                         "×" + std::to_string(n) + " matrix");
  std::vector<double> a(a_in.begin(), a_in.end());
  double frob = 0;
  for (double v : a) {
    if (!std::isfinite(v)) return Status::error("jacobi_eigen: the matrix has a NaN or Inf entry");
    frob += v * v;
  }
  frob = std::sqrt(frob);
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (std::abs(a[size_t(i) * n + j] - a[size_t(j) * n + i]) > 1e-12 * std::max(1.0, frob))
        return Status::error("jacobi_eigen: the matrix is not symmetric at (" + std::to_string(i) + ", " +
                             std::to_string(j) + ")");
  SymmetricEigen e;
  e.vectors.assign(size_t(n) * n, 0.0);
  for (int i = 0; i < n; ++i) e.vectors[size_t(i) * n + i] = 1;
  std::vector<double>& v = e.vectors;
  const double target = tol * frob;
  // Cyclic-by-row Jacobi (GVL Algorithm 8.5.3): one sweep visits every (p, q), p < q.
  while (std::sqrt(off_diagonal_sq(a, n)) > target) {
    if (e.sweeps == max_sweeps)
      return Status::error("jacobi_eigen: no convergence in " + std::to_string(max_sweeps) +
                           " sweeps (n = " + std::to_string(n) + ")");
    ++e.sweeps;
    for (int p = 0; p < n - 1; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[size_t(p) * n + q];
        if (apq == 0) continue;
        // GVL Algorithm 8.5.1 (symSchur2): the rotation that zeroes a_pq, taking
        // the smaller root t = tan θ (|θ| ≤ π/4) so the rotation is stable.
        const double tau = (a[size_t(q) * n + q] - a[size_t(p) * n + p]) / (2 * apq);
        const double t = tau >= 0 ? 1 / (tau + std::sqrt(1 + tau * tau)) : -1 / (-tau + std::sqrt(1 + tau * tau));
        const double c = 1 / std::sqrt(1 + t * t), s = t * c;
        // A ← Jᵀ A J with J = identity but J_pp = J_qq = c, J_pq = s, J_qp = −s; V ← V J.
        const size_t row = size_t(n), P = size_t(p), Q = size_t(q);
        rotate_pairs(a, P, Q, row, n, c, s);            // columns p, q of A J
        rotate_pairs(a, P * row, Q * row, 1, n, c, s);  // rows p, q of Jᵀ (A J)
        a[P * row + Q] = a[Q * row + P] = 0;            // zero by construction; drop the rounding residue
        rotate_pairs(v, P, Q, row, n, c, s);
      }
  }
  // Ascending eigenvalues, columns of V permuted alike.
  std::vector<int> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int i, int j) { return a[size_t(i) * n + i] < a[size_t(j) * n + j]; });
  e.values.resize(size_t(n));
  std::vector<double> sorted(size_t(n) * n);
  for (int j = 0; j < n; ++j) {
    e.values[size_t(j)] = a[size_t(order[size_t(j)]) * n + order[size_t(j)]];
    for (int i = 0; i < n; ++i) sorted[size_t(i) * n + j] = v[size_t(i) * n + order[size_t(j)]];
  }
  e.vectors = std::move(sorted);
  return e;
}

Result<FeatureStats> feature_stats(std::span<const float> features, int dim) {
  if (dim < 1 || features.size() % size_t(dim))
    return Status::error("feature_stats: " + std::to_string(features.size()) + " values are not rows of " +
                         std::to_string(dim) + " features");
  const int64_t n = int64_t(features.size()) / dim;
  if (n < 2) return Status::error("feature_stats: a covariance needs at least 2 rows, got " + std::to_string(n));
  FeatureStats st;
  st.dim = dim;
  st.count = n;
  st.mean.assign(size_t(dim), 0.0);
  st.cov.assign(size_t(dim) * dim, 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int i = 0; i < dim; ++i) st.mean[size_t(i)] += features[size_t(r * dim + i)];
  for (double& m : st.mean) m /= double(n);
  std::vector<double> d(static_cast<size_t>(dim));
  for (int64_t r = 0; r < n; ++r) {
    for (int i = 0; i < dim; ++i) d[size_t(i)] = features[size_t(r * dim + i)] - st.mean[size_t(i)];
    for (int i = 0; i < dim; ++i)
      for (int j = i; j < dim; ++j) st.cov[size_t(i) * dim + j] += d[size_t(i)] * d[size_t(j)];
  }
  // Unbiased, as numpy.cov and the reference FID code; mirrored so it is exactly symmetric.
  for (int i = 0; i < dim; ++i)
    for (int j = i; j < dim; ++j) {
      const double c = st.cov[size_t(i) * dim + j] / double(n - 1);
      st.cov[size_t(i) * dim + j] = st.cov[size_t(j) * dim + i] = c;
    }
  return st;
}

Result<double> frechet_distance(const FeatureStats& a, const FeatureStats& b) {
  const int n = a.dim;
  if (n < 1 || b.dim != n || a.mean.size() != size_t(n) || b.mean.size() != size_t(n) ||
      a.cov.size() != size_t(n) * n || b.cov.size() != size_t(n) * n)
    return Status::error("frechet_distance: statistics of " + std::to_string(a.dim) + " and " + std::to_string(b.dim) +
                         " features do not match");
  double mean_sq = 0;
  for (int i = 0; i < n; ++i)
    mean_sq += (a.mean[size_t(i)] - b.mean[size_t(i)]) * (a.mean[size_t(i)] - b.mean[size_t(i)]);
  // Σ₁^{1/2} = V diag(√λ) Vᵀ; a covariance is positive semi-definite, so a
  // negative λ is rounding and is clamped.
  auto e1 = jacobi_eigen(a.cov, n);
  if (!e1.ok()) return Status::error("frechet_distance: Σ₁: " + e1.message());
  std::vector<double> root(size_t(n) * n, 0.0);
  for (int k = 0; k < n; ++k) {
    const double s = std::sqrt(std::max(0.0, e1->values[size_t(k)]));
    for (int i = 0; i < n; ++i) {
      const double vik = e1->vectors[size_t(i) * n + k] * s;
      for (int j = 0; j < n; ++j) root[size_t(i) * n + j] += vik * e1->vectors[size_t(j) * n + k];
    }
  }
  std::vector<double> m = matmul_sq(matmul_sq(root, b.cov, n), root, n);
  for (int i = 0; i < n; ++i)  // symmetric in exact arithmetic; make it so in floating point
    for (int j = i + 1; j < n; ++j) {
      const double s = 0.5 * (m[size_t(i) * n + j] + m[size_t(j) * n + i]);
      m[size_t(i) * n + j] = m[size_t(j) * n + i] = s;
    }
  auto e2 = jacobi_eigen(m, n);
  if (!e2.ok()) return Status::error("frechet_distance: Σ₁^{1/2} Σ₂ Σ₁^{1/2}: " + e2.message());
  double tr_sqrt = 0;
  for (double l : e2->values) tr_sqrt += std::sqrt(std::max(0.0, l));
  const double d = mean_sq + trace(a.cov, n) + trace(b.cov, n) - 2 * tr_sqrt;
  return std::max(0.0, d);  // ≥ 0 in exact arithmetic; identical statistics may round to −1e-15
}

Result<double> inception_score(std::span<const float> probs, int classes) {
  if (classes < 1 || probs.empty() || probs.size() % size_t(classes))
    return Status::error("inception_score: " + std::to_string(probs.size()) + " values are not rows of " +
                         std::to_string(classes) + " class probabilities");
  const size_t n = probs.size() / size_t(classes), K = size_t(classes);
  std::vector<double> marginal(K, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < K; ++k) marginal[k] += probs[i * K + k];
  for (double& m : marginal) m /= double(n);
  double kl = 0;
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < K; ++k) {
      const double p = probs[i * K + k];
      if (p > 0) kl += p * (std::log(p) - std::log(marginal[k]));  // 0·log 0 = 0; p > 0 implies marginal > 0
    }
  return std::exp(kl / double(n));
}

Result<std::vector<float>> classifier_input(const ImageView& images, const std::string& what) {
  const Shape& s = images.shape;
  if (s.rank != 4 || s[0] < 1 || s[1] != 1 || s[2] < 1 || s[3] < 1)
    return Status::error(what + ": images " + s.str() + " must be [N,1,H,W] (single-channel digits, N ≥ 1)");
  if (int64_t(images.pixels.size()) != s.numel())
    return Status::error(what + ": " + std::to_string(images.pixels.size()) + " pixels for shape " + s.str());
  constexpr int S = kClassifierImageSize;
  const int64_t n = s[0], h = s[2], w = s[3];
  if (h == S && w == S) return std::vector<float>(images.pixels.begin(), images.pixels.end());
  std::vector<float> out(size_t(n) * S * S);
  for (int64_t i = 0; i < n; ++i)
    resize_bilinear(images.pixels.data() + i * h * w, int(h), int(w), out.data() + i * S * S, S, S);
  return out;
}

Result<SampleReport> evaluate_samples(const Classifier& classifier, const ImageView& samples,
                                      std::optional<std::span<const float>> labels, const ImageView& real,
                                      const MetricOptions& options) {
  auto xs = classifier_input(samples, "samples");
  if (!xs.ok()) return xs.status();
  auto xr = classifier_input(real, "real digits");
  if (!xr.ok()) return xr.status();
  const int64_t n = samples.shape[0];
  if (n < 2 || real.shape[0] < 2)
    return Status::error("evaluate_samples: the Fréchet distance needs ≥ 2 samples and ≥ 2 real digits, got " +
                         std::to_string(n) + " and " + std::to_string(real.shape[0]));
  if (labels && int64_t(labels->size()) != n)
    return Status::error("evaluate_samples: " + std::to_string(labels->size()) + " labels for " + std::to_string(n) +
                         " samples");
  std::vector<float> probs, fs, fr;
  GANTRY_TRY(classifier.predict(*xs, &probs, &fs));
  GANTRY_TRY(classifier.predict(*xr, nullptr, &fr));

  SampleReport r;
  r.samples = n;
  r.real = real.shape[0];
  r.coverage_share = options.coverage_share;
  constexpr int K = kClassifierClasses;
  int64_t matched = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs.data() + i * K;
    const int64_t top = std::max_element(p, p + K) - p;
    r.class_share[size_t(top)] += 1.0 / double(n);
    r.mean_confidence += double(p[top]) / double(n);
    if (labels) matched += top == int64_t((*labels)[size_t(i)]);
  }
  for (double share : r.class_share) r.classes_covered += share >= options.coverage_share;
  if (labels) r.label_accuracy = double(matched) / double(n);
  auto is = inception_score(probs, K);
  if (!is.ok()) return is.status();
  r.inception_score = *is;
  auto ss = feature_stats(fs, classifier.feature_dim());
  if (!ss.ok()) return ss.status();
  auto sr = feature_stats(fr, classifier.feature_dim());
  if (!sr.ok()) return sr.status();
  auto fd = frechet_distance(*ss, *sr);
  if (!fd.ok()) return fd.status();
  r.frechet_distance = *fd;
  return r;
}

std::string format_table(const SampleReport& r) {
  std::string s;
  s += "samples            " + std::to_string(r.samples) +
       " (real digits for the Fréchet distance: " + std::to_string(r.real) + ")\n";
  s += "classes covered    " + std::to_string(r.classes_covered) + " of " + std::to_string(kClassifierClasses) +
       " (share ≥ " + fixed(100 * r.coverage_share, 1) + "%)\n";
  s += "class share        ";
  for (int k = 0; k < kClassifierClasses; ++k)
    s += std::to_string(k) + ": " + fixed(100 * r.class_share[size_t(k)], 1) + "%" +
         (k + 1 < kClassifierClasses ? "  " : "\n");
  s += "mean confidence    " + fixed(r.mean_confidence, 4) + "\n";
  s += "inception score    " + fixed(r.inception_score, 3) + " (of " + std::to_string(kClassifierClasses) + ")\n";
  s += "Fréchet distance   " + fixed(r.frechet_distance, 3) + "\n";
  if (r.label_accuracy) s += "label accuracy     " + fixed(*r.label_accuracy, 4) + "\n";
  return s;
}

std::string to_json(const SampleReport& r) {
  std::string s = "{\"samples\":" + std::to_string(r.samples) + ",\"real\":" + std::to_string(r.real) +
                  ",\"classes_covered\":" + std::to_string(r.classes_covered) +
                  ",\"coverage_share\":" + fixed(r.coverage_share, 4) + ",\"class_share\":[";
  for (int k = 0; k < kClassifierClasses; ++k) s += (k ? "," : "") + fixed(r.class_share[size_t(k)], 4);
  s += "],\"mean_confidence\":" + fixed(r.mean_confidence, 6) + ",\"inception_score\":" + fixed(r.inception_score, 6) +
       ",\"frechet_distance\":" + fixed(r.frechet_distance, 6) +
       ",\"label_accuracy\":" + (r.label_accuracy ? fixed(*r.label_accuracy, 6) : std::string("null")) + "}";
  return s;
}

}  // namespace gantry

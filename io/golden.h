// Golden-output cases for transposed convolution: load a case file (format in
// the README, "Golden files"), run it on a backend — forward and, when the file
// has them, the three gradients through autodiff — and compare with the stored
// tensors under tolerances that scale with each result's accumulation length.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/ops.h"

namespace gantry {

struct GoldenCase {
  std::string file;
  ConvOptions options;
  struct Tensor {
    Shape shape;
    std::vector<float> data;
    bool present = false;
  };
  Tensor input, weight, bias, output, grad_output, grad_input, grad_weight, grad_bias;
};

// One compared tensor. The tolerance is atol + rtol·|expected| per element,
// atol = 2 · K · 2⁻²⁴ · scale, where K is the number of products summed into
// each element and scale the largest |a|·|b| of a product (fp32 dot products
// err by about K·u·Σ|aᵢbᵢ| at worst, √K·u typically), rtol = 10⁻⁵.
// With 16-bit storage (u = 2⁻¹¹ fp16, 2⁻⁸ bf16) each operand is rounded once before the
// product, so each term is off by at most 2u·|aᵢbᵢ| ≤ 2u·scale, and the output
// is rounded once more: atol adds λ·√K·2u·scale, λ = 7 — a sum of K
// independent errors each within ±2u·scale exceeds it with probability under
// 2·e^(−λ²/2) ≈ 5·10⁻¹¹ per element (Hoeffding's inequality; Higham & Mary,
// "A New Approach to Probabilistic Rounding Error Analysis", SIAM J. Sci.
// Comput. 41(5), 2019) — and rtol adds u.
struct GoldenCheck {
  std::string tensor;
  int64_t accumulation = 0;  // K
  double atol = 0, rtol = 0;
  double max_abs = 0, max_rel = 0;
  bool pass = false;
};

struct GoldenResult {
  std::string file;
  BackendKind backend = BackendKind::cpu;
  std::string error;  // set when the case could not run on this backend
  std::vector<GoldenCheck> checks;
  bool pass() const;
};

// Reads and validates a case; errors name the file and what is wrong. Every
// tensor of a case must hold at least one value: an empty one checks nothing.
Result<GoldenCase> load_golden_case(const std::string& path);
// The same for the bytes of a case file; `name_for_errors` (usually the path)
// starts every message and becomes GoldenCase::file.
Result<GoldenCase> parse_golden_case(std::span<const std::byte> bytes, const std::string& name_for_errors);
GoldenResult run_golden_case(const GoldenCase& c, BackendKind backend, Precision precision = Precision::fp32);
// Files and directories (searched recursively for *.safetensors) → sorted case files.
Result<std::vector<std::string>> collect_golden_files(const std::vector<std::string>& paths);

}  // namespace gantry

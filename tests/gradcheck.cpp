// See gradcheck.h.
#include "tests/gradcheck.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/autodiff.h"
#include "engine/cpu_backend.h"
#include "engine/ops.h"

namespace gantry::testing {
namespace {

// A span over a tensor of the program (copied out of the Result before it goes away).
std::span<double> view(CpuProgram<double>& p, Value v) {
  auto r = p.view(v);
  GANTRY_CHECK(r.ok());
  return *r;
}

}  // namespace

double draw(const InputSpec& spec, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(spec.lo, spec.hi);
  for (;;) {
    double v = spec.integers ? std::floor(u(rng) + 0.5) : u(rng);
    bool near_kink = false;
    for (double k : spec.kinks) near_kink |= std::abs(v - k) < 0.02;
    if (!near_kink) return v;
  }
}

namespace {

// Builds Σ build(x) ⊙ R and checks the gradients of the inputs with check = true.
void run_check(const std::string& name, const std::vector<InputSpec>& specs, const Builder& build, uint32_t seed) {
  Graph g;
  std::vector<Value> xs;
  for (size_t i = 0; i < specs.size(); ++i) xs.push_back(g.input(specs[i].shape, "x" + std::to_string(i)));
  const Value y = build(g, xs);
  ASSERT_TRUE(g.ok()) << name << ": " << g.status().message();
  const Value r = g.input(g.shape(y), "r");
  const Value loss = reduce_sum(g, mul(g, y, r), all_axes(g.shape(y)));
  std::vector<Value> wrt;
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].check) wrt.push_back(xs[i]);
  const std::vector<Value> grads = grad(g, loss, wrt);
  ASSERT_TRUE(g.ok()) << name << ": " << g.status().message();

  std::vector<Value> outputs{loss};
  outputs.insert(outputs.end(), grads.begin(), grads.end());
  auto prog = CpuProgram<double>::compile(g, outputs, CpuOptions{2, false});
  ASSERT_TRUE(prog.ok()) << name << ": " << prog.message();
  CpuProgram<double>& p = **prog;

  std::mt19937 rng(seed);
  for (size_t i = 0; i < specs.size(); ++i)
    for (double& v : view(p, xs[i])) v = draw(specs[i], rng);
  for (double& v : view(p, r)) v = draw(InputSpec{}, rng);

  const StepUniforms u{};
  ASSERT_TRUE(p.step(u).ok());
  std::vector<std::vector<double>> analytic;
  for (Value gv : grads) {
    auto s = view(p, gv);
    analytic.emplace_back(s.begin(), s.end());
  }
  auto loss_at = [&] {
    (void)p.step(u);
    return (view(p, loss))[0];
  };

  size_t k = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!specs[i].check) continue;
    auto x = view(p, xs[i]);
    for (size_t e = 0; e < x.size(); ++e) {
      const double x0 = x[e], h = 1e-6 * std::max(1.0, std::abs(x0));
      x[e] = x0 + h;
      const double lp = loss_at();
      x[e] = x0 - h;
      const double lm = loss_at();
      x[e] = x0;
      const double fd = (lp - lm) / (2 * h), an = analytic[k][e];
      // Central differences in double: truncation O(h²) and rounding O(ε·|loss|/h) ≈ 1e-9.
      const double tol = 1e-6 + 1e-5 * std::abs(fd);
      EXPECT_NEAR(an, fd, tol) << name << ": d loss / d x" << i << "[" << e << "] of shape " << specs[i].shape.str()
                               << ", x = " << x0 << ", analytic " << an << ", finite difference " << fd;
    }
    ++k;
  }
}

}  // namespace

void check_first_order(const GradCase& c, uint32_t seed) { run_check(c.name, c.inputs, c.build, seed); }

void check_second_order(const GradCase& c, uint32_t seed) {
  // Extra inputs V_i, one per checked input, weight the first gradients.
  std::vector<InputSpec> specs = c.inputs;
  std::vector<size_t> checked;
  for (size_t i = 0; i < c.inputs.size(); ++i)
    if (c.inputs[i].check) {
      checked.push_back(i);
      InputSpec v;
      v.shape = c.inputs[i].shape;
      v.check = false;
      specs.push_back(v);
    }
  const size_t n_orig = c.inputs.size();
  const Builder second = [&](Graph& g, const std::vector<Value>& xs) {
    const std::vector<Value> orig(xs.begin(), xs.begin() + long(n_orig));
    const Value y = c.build(g, orig);
    const Value r = normal(g, g.shape(y), 99);  // fixed random weights (a constant would null normalize)
    const Value loss = reduce_sum(g, mul(g, y, r), all_axes(g.shape(y)));
    std::vector<Value> wrt;
    for (size_t i : checked) wrt.push_back(orig[i]);
    const std::vector<Value> gs = grad(g, loss, wrt, GradOptions{true});
    Value h;
    for (size_t k = 0; k < gs.size(); ++k) {
      const Value term = reduce_sum(g, mul(g, gs[k], xs[n_orig + k]), all_axes(g.shape(gs[k])));
      h = h.valid() ? add(g, h, term) : term;
    }
    return h;
  };
  run_check(c.name + " (second order)", specs, second, seed);
}

}  // namespace gantry::testing

// Finite-difference checks of backward rules in double precision. The graph
// under test runs on the CPU backend instantiated for double, so the analytic
// gradient (autodiff) and the central difference (two forward runs per
// element) come from the same kernels and agree to ~1e-8.
#pragma once

#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace gantry::testing {

struct InputSpec {
  Shape shape;
  double lo = -1, hi = 1;
  bool integers = false;      // values are whole numbers in [lo, hi]
  bool check = true;          // compare this input's gradient
  std::vector<double> kinks;  // points where the op is not differentiable: inputs keep a margin from them

  InputSpec(Shape s = {}, double lo_ = -1, double hi_ = 1, bool integers_ = false, bool check_ = true,
            std::vector<double> kinks_ = {})
      : shape(s), lo(lo_), hi(hi_), integers(integers_), check(check_), kinks(std::move(kinks_)) {}
};

using Builder = std::function<Value(Graph&, const std::vector<Value>&)>;

struct GradCase {
  std::string name;
  std::vector<InputSpec> inputs;
  Builder build;
};
// GoogleTest prints a failing case by its name.
inline void PrintTo(const GradCase& c, std::ostream* os) { *os << c.name; }

// A value for an input drawn from its spec (range, integers, kink margin).
double draw(const InputSpec& spec, std::mt19937& rng);

// loss = Σ build(x) ⊙ R for a fixed random R; checks ∂loss/∂x_i against
// central differences for every input with check = true.
void check_first_order(const GradCase& c, uint32_t seed = 1);

// The same check applied to h(x) = Σ_i ⟨∂loss/∂x_i, V_i⟩, where the first
// gradients come from grad(create_graph = true): a double-backward check.
void check_second_order(const GradCase& c, uint32_t seed = 2);

}  // namespace gantry::testing

// The op case list: every differentiable op in the table (and the backward
// ops, which are ops too) with input shapes and value ranges. The gradient
// checks (test_gradcheck.cpp) and the backend parity tests
// (test_backend_parity.cpp) run the same list.
#pragma once

#include <vector>

#include "tests/gradcheck.h"

namespace gantry::testing {

std::vector<GradCase> op_cases();

}  // namespace gantry::testing

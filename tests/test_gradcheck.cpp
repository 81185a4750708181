// Every differentiable op in the table: backward vs central finite
// differences (first order) and the backward of its backward (second order),
// in double precision. Backward ops (conv2d_grad_weight, normalize_backward,
// leaky_relu_backward, ...) are ops too and have cases of their own.
// The cases are in op_cases.cpp.
#include <gtest/gtest.h>

#include "tests/op_cases.h"

using namespace gantry;
using namespace gantry::testing;

namespace {

class GradCheck : public ::testing::TestWithParam<GradCase> {};

TEST_P(GradCheck, FirstOrder) { check_first_order(GetParam()); }
TEST_P(GradCheck, SecondOrder) { check_second_order(GetParam()); }

std::string case_name(const ::testing::TestParamInfo<GradCase>& info) {
  std::string s;
  for (char ch : info.param.name) s += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Ops, GradCheck, ::testing::ValuesIn(op_cases()), case_name);

}  // namespace

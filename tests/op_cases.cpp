// See op_cases.h.
#include "tests/op_cases.h"

#include "engine/ops.h"

namespace gantry::testing {
namespace {

InputSpec in(Shape s, double lo = -1, double hi = 1) { return InputSpec{s, lo, hi}; }
InputSpec fixed(Shape s, double lo = -1, double hi = 1) { return InputSpec{s, lo, hi, false, false}; }
InputSpec kinked(Shape s, std::vector<double> kinks) { return InputSpec{s, -1, 1, false, true, std::move(kinks)}; }
InputSpec indices(Shape s, double hi) { return InputSpec{s, 0, hi, true, false}; }

ConvOptions conv_opts(int sh, int sw, int ph, int pw, int dh = 1, int dw = 1, int groups = 1, int oph = 0,
                      int opw = 0) {
  ConvOptions o;
  o.stride[0] = sh, o.stride[1] = sw, o.padding[0] = ph, o.padding[1] = pw;
  o.dilation[0] = dh, o.dilation[1] = dw, o.groups = groups;
  o.output_padding[0] = oph, o.output_padding[1] = opw;
  return o;
}

}  // namespace

std::vector<GradCase> op_cases() {
  using V = const std::vector<Value>&;
  std::vector<GradCase> c;
  // elementwise, with broadcasting on both sides
  c.push_back({"add", {in({2, 3, 4}), in({3, 1})}, [](Graph& g, V x) { return add(g, x[0], x[1]); }});
  c.push_back({"sub", {in({2, 1, 4}), in({2, 3, 1})}, [](Graph& g, V x) { return sub(g, x[0], x[1]); }});
  c.push_back({"mul", {in({4}), in({3, 4})}, [](Graph& g, V x) { return mul(g, x[0], x[1]); }});
  c.push_back({"div", {in({2, 3}), in({2, 1}, 0.5, 2)}, [](Graph& g, V x) { return div(g, x[0], x[1]); }});
  c.push_back({"scale", {in({5})}, [](Graph& g, V x) { return scale(g, x[0], -1.5f, 0.25f); }});
  c.push_back({"square", {in({2, 5})}, [](Graph& g, V x) { return square(g, x[0]); }});
  c.push_back({"sqrt", {in({2, 5}, 0.5, 2)}, [](Graph& g, V x) { return sqrt(g, x[0]); }});
  c.push_back({"tanh", {in({2, 5}, -2, 2)}, [](Graph& g, V x) { return tanh(g, x[0]); }});
  c.push_back({"sigmoid", {in({2, 5}, -3, 3)}, [](Graph& g, V x) { return sigmoid(g, x[0]); }});
  c.push_back({"relu", {kinked({2, 6}, {0})}, [](Graph& g, V x) { return relu(g, x[0]); }});
  c.push_back({"leaky_relu", {kinked({2, 6}, {0})}, [](Graph& g, V x) { return leaky_relu(g, x[0], 0.2f); }});
  c.push_back({"leaky_relu_backward", {in({2, 6}), kinked({2, 6}, {0})}, [](Graph& g, V x) {
                 return leaky_relu_backward(g, x[0], x[1], 0.2f);
               }});
  c.push_back({"clamp", {kinked({3, 4}, {-0.5, 0.5})}, [](Graph& g, V x) { return clamp(g, x[0], -0.5f, 0.5f); }});
  c.push_back({"clamp_backward", {in({3, 4}), kinked({3, 4}, {-0.5, 0.5})}, [](Graph& g, V x) {
                 return clamp_backward(g, x[0], x[1], -0.5f, 0.5f);
               }});
  c.push_back({"bce_with_logits", {in({2, 5}, -4, 4), in({2, 5}, 0, 1)}, [](Graph& g, V x) {
                 return bce_with_logits(g, x[0], x[1]);
               }});
  // reductions and layout
  c.push_back({"reduce_sum", {in({2, 3, 4})}, [](Graph& g, V x) { return reduce_sum(g, x[0], axes({0, 2})); }});
  c.push_back(
      {"reduce_sum keepdim", {in({2, 3, 4})}, [](Graph& g, V x) { return reduce_sum(g, x[0], axes({1}), true); }});
  c.push_back({"mean", {in({2, 3, 4})}, [](Graph& g, V x) { return mean(g, x[0], axes({2}), false); }});
  c.push_back({"broadcast_to", {in({3, 1})}, [](Graph& g, V x) { return broadcast_to(g, x[0], Shape{2, 3, 4}); }});
  c.push_back({"reshape", {in({2, 6})}, [](Graph& g, V x) { return reshape(g, x[0], Shape{3, -1}); }});
  c.push_back({"concat", {in({2, 1, 3}), in({2, 2, 3}), in({2, 3, 3})}, [](Graph& g, V x) {
                 return concat(g, {x[0], x[1], x[2]}, 1);
               }});
  c.push_back({"slice", {in({2, 5, 3})}, [](Graph& g, V x) { return slice(g, x[0], 1, 1, 4); }});
  c.push_back({"slice_backward", {in({2, 2, 3})}, [](Graph& g, V x) {
                 return slice_backward(g, x[0], Shape{2, 5, 3}, 1, 2);
               }});
  // normalization
  c.push_back({"normalize batch axes", {in({3, 2, 2, 3})}, [](Graph& g, V x) {
                 return normalize(g, x[0], axes({0, 2, 3}), 1e-5f);
               }});
  c.push_back({"normalize instance axes", {in({2, 2, 3, 3})}, [](Graph& g, V x) {
                 return normalize(g, x[0], axes({2, 3}), 1e-5f);
               }});
  c.push_back({"rstd", {in({2, 3, 4})}, [](Graph& g, V x) { return rstd(g, x[0], axes({2}), 1e-3f); }});
  c.push_back({"normalize_backward", {in({2, 3, 4}), in({2, 3, 4}), in({1, 3, 1}, 0.5, 2)}, [](Graph& g, V x) {
                 return normalize_backward(g, x[0], x[1], x[2], axes({0, 2}));
               }});
  c.push_back({"batch_norm training", {in({4, 3, 2, 2}), in({3}), in({3})}, [](Graph& g, V x) {
                 const Value rm = g.state(Shape{3}, "rm"), rv = g.state(Shape{3}, "rv");
                 return batch_norm(g, x[0], x[1], x[2], rm, rv, true);
               }});
  c.push_back({"batch_norm eval",
               {in({4, 3, 2, 2}), in({3}), in({3}), fixed({3}), fixed({3}, 0.5, 2)},
               [](Graph& g, V x) { return batch_norm(g, x[0], x[1], x[2], x[3], x[4], false); }});
  c.push_back({"batch_norm on [N, C]", {in({5, 3}), in({3}), in({3})}, [](Graph& g, V x) {
                 const Value rm = g.state(Shape{3}, "rm"), rv = g.state(Shape{3}, "rv");
                 return batch_norm(g, x[0], x[1], x[2], rm, rv, true);
               }});
  c.push_back({"instance_norm", {in({2, 3, 3, 2}), in({3}), in({3})}, [](Graph& g, V x) {
                 return instance_norm(g, x[0], x[1], x[2]);
               }});
  c.push_back({"layer_norm", {in({3, 2, 4}), in({2, 4}), in({2, 4})}, [](Graph& g, V x) {
                 return layer_norm(g, x[0], 2, x[1], x[2]);
               }});
  // convolutions and products
  c.push_back({"conv2d", {in({2, 3, 5, 5}), in({4, 3, 3, 3}), in({4})}, [](Graph& g, V x) {
                 return conv2d(g, x[0], x[1], x[2], conv_opts(1, 1, 1, 1));
               }});
  c.push_back({"conv2d stride 2 rectangular", {in({1, 2, 7, 6}), in({3, 2, 3, 2})}, [](Graph& g, V x) {
                 return conv2d(g, x[0], x[1], Value{}, conv_opts(2, 1, 1, 0));
               }});
  c.push_back({"conv2d dilation groups", {in({2, 4, 7, 7}), in({6, 2, 2, 3}), in({6})}, [](Graph& g, V x) {
                 return conv2d(g, x[0], x[1], x[2], conv_opts(2, 1, 1, 2, 2, 1, 2));
               }});
  c.push_back({"conv_transpose2d", {in({2, 3, 3, 3}), in({3, 2, 4, 4}), in({2})}, [](Graph& g, V x) {
                 return conv_transpose2d(g, x[0], x[1], x[2], conv_opts(2, 2, 1, 1));
               }});
  c.push_back({"conv_transpose2d output_padding groups", {in({1, 4, 3, 4}), in({4, 1, 3, 2})}, [](Graph& g, V x) {
                 return conv_transpose2d(g, x[0], x[1], Value{}, conv_opts(2, 3, 1, 0, 1, 1, 2, 1, 2));
               }});
  c.push_back(
      {"conv_transpose2d dilation > stride, output_padding 1", {in({1, 2, 3, 3}), in({2, 2, 3, 3})}, [](Graph& g, V x) {
         return conv_transpose2d(g, x[0], x[1], Value{}, conv_opts(1, 1, 0, 1, 2, 2, 1, 1, 1));
       }});
  c.push_back({"conv2d_grad_weight", {in({2, 2, 5, 5}), in({2, 3, 3, 3})}, [](Graph& g, V x) {
                 return conv2d_grad_weight(g, x[0], x[1], 2, 2, conv_opts(2, 2, 1, 1));
               }});
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const Shape a = ta ? Shape{4, 3} : Shape{3, 4}, b = tb ? Shape{5, 4} : Shape{4, 5};
      c.push_back({"matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
                   {in(a), in(b)},
                   [ta, tb](Graph& g, V x) { return matmul(g, x[0], x[1], ta, tb); }});
    }
  c.push_back({"linear", {in({3, 4}), in({2, 4}), in({2})}, [](Graph& g, V x) { return linear(g, x[0], x[1], x[2]); }});
  // data
  c.push_back({"gather", {in({5, 2, 3}), indices({7}, 4)}, [](Graph& g, V x) { return gather(g, x[0], x[1]); }});
  c.push_back({"gather_backward", {in({6, 3}), indices({6}, 3)}, [](Graph& g, V x) {
                 return gather_backward(g, x[0], x[1], 4);
               }});
  // exp and softmax
  c.push_back({"exp", {in({2, 5}, -2, 2)}, [](Graph& g, V x) { return exp(g, x[0]); }});
  c.push_back({"log_softmax last axis", {in({3, 5}, -3, 3)}, [](Graph& g, V x) { return log_softmax(g, x[0], -1); }});
  c.push_back(
      {"log_softmax middle axis", {in({2, 4, 3}, -3, 3)}, [](Graph& g, V x) { return log_softmax(g, x[0], 1); }});
  c.push_back(
      {"log_softmax large logits", {in({2, 4}, 40, 60)}, [](Graph& g, V x) { return log_softmax(g, x[0], 1); }});
  return c;
}

}  // namespace gantry::testing

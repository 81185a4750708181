// The Vulkan encoders against device limits, without a device: every op case
// (forward and gradients) is encoded for the smallest device Vulkan allows and
// for lavapipe's limits, and every dispatch must fit them (check_limits, the
// test the backend applies before recording). On lavapipe the fast
// configurations must still be chosen.
#include <gtest/gtest.h>

#include <set>

#include "compute_shaders/vk_kernels.h"
#include "engine/autodiff.h"
#include "engine/ops.h"
#include "tests/op_cases.h"

using namespace gantry;
using namespace gantry::testing;

namespace {

// llvmpipe (Mesa lavapipe, 256-bit vectors) as vulkaninfo reports it.
vk::DeviceCaps lavapipe() {
  vk::DeviceCaps c;
  c.subgroup_size = 8;
  c.subgroup_arithmetic = true;
  c.max_invocations = 1024;
  c.max_local_x = 1024;
  c.max_shared_bytes = 32768;
  return c;
}

// Every node of `g` but the leaves, encoded for `caps`.
std::vector<vk::Dispatch> encode_all(const Graph& g, const vk::DeviceCaps& caps) {
  std::vector<vk::Dispatch> out;
  for (int32_t id = 0; id < g.size(); ++id) {
    const Node& n = g.node(id);
    if (n.op == Op::leaf) continue;
    const vk::VkOpDef& def = vk::vk_op_def(n.op);
    EXPECT_TRUE(def.encode) << op_name(n.op);
    if (!def.encode) continue;
    if (def.scratch_elems) {
      EXPECT_GE(def.scratch_elems(g, n, caps), 0) << op_name(n.op);
    }
    vk::NodeArgs a;
    a.node = &n;
    a.n_in = int(n.inputs.size());
    for (int k = 0; k < a.n_in; ++k) a.in_shape[k] = &g.node(n.inputs[size_t(k)]).shape;
    a.caps = caps;
    def.encode(a, out);
  }
  return out;
}

// The op cases as the parity tests build them (loss = Σ y ⊙ r and its
// gradients), plus convolutions of DCGAN size.
std::vector<Graph> case_graphs() {
  std::vector<Graph> graphs;
  for (const GradCase& c : op_cases()) {
    Graph g;
    std::vector<Value> xs;
    for (size_t i = 0; i < c.inputs.size(); ++i) xs.push_back(g.input(c.inputs[i].shape, "x" + std::to_string(i)));
    const Value y = c.build(g, xs);
    const Value loss = reduce_sum(g, mul(g, y, g.input(g.shape(y), "r")), all_axes(g.shape(y)));
    std::vector<Value> wrt;
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (c.inputs[i].check) wrt.push_back(xs[i]);
    grad(g, loss, wrt);
    EXPECT_TRUE(g.ok()) << c.name << ": " << g.status().message();
    graphs.push_back(std::move(g));
  }
  ConvOptions s2;
  s2.stride[0] = s2.stride[1] = 2;
  s2.padding[0] = s2.padding[1] = 1;
  Graph g;  // dcgan28's generator tail and discriminator head at batch 64, with gradients
  const Value h = g.input(Shape{64, 64, 14, 14}, "h"), w = g.input(Shape{64, 1, 4, 4}, "w");
  const Value img = conv_transpose2d(g, h, w, Value{}, s2);  // M = 1: the 16-row tiles
  const Value w2 = g.input(Shape{128, 1, 4, 4}, "w2");
  const Value d = conv2d(g, img, w2, Value{}, s2);
  grad(g, reduce_sum(g, d, all_axes(g.shape(d))), {h, w, w2});
  EXPECT_TRUE(g.ok()) << g.status().message();
  graphs.push_back(std::move(g));
  Graph src;  // the ops without gradients: sources and optimizer updates
  one_hot(src, src.input(Shape{6}, "labels"), 10);
  normal(src, Shape{3, 999}, 7, 0.0f, 1.0f);
  const Value p = src.parameter(Shape{300}, "p"), gr = src.input(Shape{300}, "grad");
  adam(src, p, gr, src.state(Shape{300}, "m"), src.state(Shape{300}, "v"), AdamOptions{});
  rmsprop(src, p, gr, src.state(Shape{300}, "sq"), RmspropOptions{});
  EXPECT_TRUE(src.ok()) << src.status().message();
  graphs.push_back(std::move(src));
  return graphs;
}

TEST(VulkanLimits, EveryDispatchFitsTheSmallestDeviceAndLavapipe) {
  for (const auto& [name, caps] : {std::pair{"Vulkan 1.1 minimums", vk::DeviceCaps{}}, {"lavapipe", lavapipe()}}) {
    std::set<std::string> shaders;
    for (const Graph& g : case_graphs())
      for (const vk::Dispatch& d : encode_all(g, caps)) {
        shaders.insert(d.shader);
        const Status s = vk::check_limits(d, caps);
        EXPECT_TRUE(s.ok()) << name << ": " << s.message();
      }
    // Every shader of the build took part (the subgroup variant only where the device has it).
    for (const char* s :
         {"conv_gemm", "conv_splitk", "data_fill", "data_gather", "data_gather_backward", "data_one_hot",
          "elementwise_binary", "elementwise_unary", "layout_copy", "optim_adam", "optim_rmsprop", "reduce_axes"})
      if (std::string(s) != "reduce_axes" || !caps.subgroup_arithmetic) {
        EXPECT_TRUE(shaders.count(s)) << name << ": no case encodes " << s;
      }
  }
}

TEST(VulkanLimits, FastConfigurationsKeptWhereTheDeviceAllows) {
  for (const Graph& g : case_graphs())
    for (const vk::Dispatch& d : encode_all(g, lavapipe())) EXPECT_EQ(d.local, 256u) << d.shader;
  size_t small = 0;
  for (const Graph& g : case_graphs())
    for (const vk::Dispatch& d : encode_all(g, vk::DeviceCaps{})) {
      EXPECT_EQ(d.local, 128u) << d.shader;
      small += std::string(d.shader) == "conv_gemm";
    }
  EXPECT_GT(small, 0u);
}

TEST(VulkanLimits, OversizedDispatchIsRefusedNamingShaderAndNumbers) {
  vk::Dispatch d;
  d.shader = "conv_gemm";
  d.local = 256;
  d.shared_bytes = 17536;
  d.groups[2] = 70000;
  const Status s = vk::check_limits(d, vk::DeviceCaps{});
  ASSERT_FALSE(s.ok());
  for (const char* part :
       {"conv_gemm", "256 invocations per workgroup > maxComputeWorkGroupInvocations 128",
        "17536 bytes of shared memory > maxComputeSharedMemorySize 16384", "70000 workgroups along axis 2"})
    EXPECT_NE(s.message().find(part), std::string::npos) << s.message();
  d.local = 0;
  d.shared_bytes = 0;
  d.groups[2] = 1;
  EXPECT_FALSE(vk::check_limits(d, lavapipe()).ok()) << "a dispatch without a workgroup size";
}

}  // namespace

// The Vulkan encoder table, generated from ops.def like the CPU one: an op
// without its vk_op_<name> is a link error; one whose encoder is null fails
// tests/test_op_coverage.cpp (and compile_vulkan(), naming the op).
#include "compute_shaders/vk_kernels.h"

namespace gantry::vk {

#define GANTRY_OP(name, file) extern const VkOpDef vk_op_##name;
#include "engine/ops.def"
#undef GANTRY_OP

// Leaves are storage, never scheduled.
const VkOpDef vk_op_leaf{nullptr, nullptr};

namespace {
const VkOpDef* const kDefs[] = {
#define GANTRY_OP(name, file) &vk_op_##name,
#include "engine/ops.def"
#undef GANTRY_OP
};
}  // namespace

const VkOpDef& vk_op_def(Op op) { return *kDefs[int(op)]; }

bool vulkan_has_kernel(Op op) { return vk_op_def(op).encode != nullptr; }

}  // namespace gantry::vk

// The Vulkan encoder table, generated from ops.def like the CPU one.
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
static_assert(sizeof(kDefs) / sizeof(kDefs[0]) == kOpCount, "Vulkan op table out of step with ops.def");
}  // namespace

const VkOpDef& vk_op_def(Op op) { return *kDefs[int(op)]; }

}  // namespace gantry::vk

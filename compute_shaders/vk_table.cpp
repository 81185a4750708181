// The Vulkan encoder table, generated from ops.def like the CPU one.
#include "compute_shaders/vk_kernels.h"

namespace gantry::vk {

#define GANTRY_OP(name, file) extern const VkOpDef vk_op_##name __attribute__((weak));
#include "engine/ops.def"
#undef GANTRY_OP

namespace {
const VkOpDef* const kDefs[] = {
#define GANTRY_OP(name, file) &vk_op_##name,
#include "engine/ops.def"
#undef GANTRY_OP
};
static_assert(sizeof(kDefs) / sizeof(kDefs[0]) == kOpCount, "Vulkan op table out of step with ops.def");
const VkOpDef kMissing{nullptr, nullptr};
}  // namespace

const VkOpDef& vk_op_def(Op op) { return kDefs[int(op)] ? *kDefs[int(op)] : kMissing; }

}  // namespace gantry::vk

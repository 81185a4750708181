// How an op becomes Vulkan compute dispatches. For every op in ops.def a
// family file (encode_*.cpp) defines `extern const VkOpDef vk_op_<name>`: an
// encoder that turns one node (its shapes, attributes and arena positions) into
// one or more dispatches of the shaders in this folder, and the scratch it
// needs. Encoding is plain C++ run once at compile time; the backend
// (vulkan_backend.cpp) records the dispatches into one command buffer with a
// memory barrier between consecutive dispatches.
//
// Shader conventions (common.glsl):
//   set 0, bindings 0..3: four storage-buffer slots, `float slot0[]` ..
//     `slot3[]` (read and written through load0(i), store0(i, v), ...: under
//     fp16 storage a slot may hold binary16, kHalfSlotsId); the encoder names in Dispatch::slots which node operand
//     each slot is bound to, and the shader reads and writes an operand through its slot only. The backend binds each
//     slot as a window of the buffer that holds its operand (the arena; inputs on unified memory: the host buffer),
//     starting at or just before the operand (vulkan_backend.cpp), so an arena larger than one binding still works;
//   set 0, binding 4: the step uniforms {seed lo, seed hi, step lo, step hi}, a
//     uniform buffer;
//   push constants: at most kPushWords 32-bit words, laid out by the shader's
//     `layout(push_constant)` block in declaration order; tensor positions are
//     element indices from the start of the operand's slot (NodeArgs), in the
//     operand's own elements (binary16 or float; scratch is always float);
//     floats travel as their bit patterns;
//   specialization constants: constant_id 0, 1, ... = Dispatch::spec[0], [1], ...;
//     constant_id kLocalSizeId = Dispatch::local, the workgroup size (LOCAL);
//   workgroups are 1-D: LOCAL invocations along x.
// Every dispatch states what it needs of the device (invocations, shared
// memory, workgroup counts); the backend refuses one over the device's limits
// (check_limits), so a configuration that does not fit is an error naming the
// shader, not undefined behaviour in the driver.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/op_table.h"
#include "platform/status.h"

namespace gantry::vk {

constexpr int kPushWords = 32;  // 128 bytes: the smallest maxPushConstantsSize Vulkan allows
// The specialization constant id of LOCAL in common.glsl (local_size_x_id).
constexpr uint32_t kLocalSizeId = 100;
// The specialization constant id of HALF_SLOTS in common.glsl's _f16 builds:
// bit k set when slot k holds binary16. The backend sets it from the operands
// the slots are bound to (a program's values under fp16 storage; never
// scratch, which is float32), so encoders never see it.
constexpr uint32_t kHalfSlotsId = 101;

// Storage-buffer slots per dispatch: the 4 storage buffers per shader stage
// that every Vulkan device allows (maxPerStageDescriptorStorageBuffers).
constexpr int kSlots = 4;

// The node operand a slot is bound to. `none` (the zero value, so unnamed
// trailing slots are unbound) leaves the slot at the arena's start, unused.
enum class Operand : uint8_t { none, out, scratch, in0 };
// Input k.
constexpr Operand input(int k) { return Operand(int(Operand::in0) + k); }
using Slots = std::array<Operand, kSlots>;

struct Dispatch {
  const char* shader = nullptr;             // compute_shaders/<shader>.comp
  Slots slots{};                            // the operand bound to slot0 .. slot3
  std::vector<uint32_t> spec;               // specialization constants 0, 1, ...
  std::array<uint32_t, kPushWords> push{};  // push constant words
  uint32_t groups[3] = {1, 1, 1};
  uint32_t local = 0;         // invocations per workgroup (LOCAL); 0 is refused, so every encoder sets it
  uint32_t shared_bytes = 0;  // shared memory the shader declares for this dispatch's constants
};

// What the device offers, as gantry believes it (Device::props.limits, after
// GANTRY_VULKAN_LIMITS): encoders pick each shader's configuration and group
// counts from it. The defaults are the smallest limits a Vulkan 1.1 device may
// have (Vulkan spec, "Required Limits"), so DeviceCaps{} is the smallest device.
struct DeviceCaps {
  uint32_t subgroup_size = 0;                      // invocations per subgroup
  bool subgroup_arithmetic = false;                // subgroupAdd/Max in compute shaders: the <shader>_subgroup variants
  uint32_t max_invocations = 128;                  // maxComputeWorkGroupInvocations
  uint32_t max_local_x = 128;                      // maxComputeWorkGroupSize[0]
  uint32_t max_shared_bytes = 16384;               // maxComputeSharedMemorySize
  uint32_t max_groups[3] = {65535, 65535, 65535};  // maxComputeWorkGroupCount

  // Whether a workgroup of `local` invocations with `shared` bytes fits.
  bool fits(uint32_t local, uint32_t shared) const {
    return local >= 1 && local <= max_invocations && local <= max_local_x && shared <= max_shared_bytes;
  }
  // The largest power-of-two workgroup of at most `want` invocations that fits
  // (at least 128, which every device allows).
  uint32_t local_up_to(uint32_t want) const {
    uint32_t l = want;
    while (l > 128 && !fits(l, 0)) l /= 2;
    return l;
  }
};

// OK, or an error naming the shader, what the dispatch needs and the limits it exceeds.
Status check_limits(const Dispatch& d, const DeviceCaps& caps);

// One node as an encoder sees it. Positions are in elements from the start of
// the window their operand's slot is bound to (not from the arena's start), so
// a sub-block of an operand is its position plus the sub-block's offset.
struct NodeArgs {
  const Node* node = nullptr;
  int n_in = 0;
  uint32_t in[kMaxInputs] = {};
  const Shape* in_shape[kMaxInputs] = {};
  uint32_t out = 0;
  uint32_t scratch = 0;  // when the op's scratch_elems > 0
  DeviceCaps caps;
};

using Encoder = void (*)(const NodeArgs&, std::vector<Dispatch>&);

struct VkOpDef {
  Encoder encode;
  // null: none. Takes the caps because the split the encoder picks depends on its tile sizes.
  int64_t (*scratch_elems)(const Graph& g, const Node& n, const DeviceCaps& caps);
};

// The encoder table, gathered from ops.def (vk_table.cpp).
const VkOpDef& vk_op_def(Op op);
// Whether op has an encoder (false for leaf, which is never scheduled).
bool vulkan_has_kernel(Op op);

// Helpers for encoders.
inline uint32_t f2u(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
// Workgroups along axis `axis` for `want` of them, within the device's count
// (the shaders loop over what one launch does not cover).
inline uint32_t clamp_groups(int64_t want, const DeviceCaps& caps, int axis = 0) {
  return uint32_t(want < 1 ? 1 : want > caps.max_groups[axis] ? caps.max_groups[axis] : want);
}
// Workgroups for a 1-D grid-stride loop over n items, `local` invocations per group.
inline uint32_t groups_for(int64_t n, uint32_t local, const DeviceCaps& caps) {
  return clamp_groups((n + local - 1) / local, caps);
}
// A 1-D grid-stride dispatch of `shader` over n items with its slots' operands
// and the push words given, in workgroups of 256 invocations or as many as the
// device allows.
inline Dispatch dispatch_1d(const char* shader, int64_t n, Slots slots, std::initializer_list<uint32_t> push,
                            const DeviceCaps& caps) {
  Dispatch d;
  d.shader = shader;
  d.slots = slots;
  size_t i = 0;
  for (uint32_t w : push) d.push[i++] = w;
  d.local = caps.local_up_to(256);
  d.groups[0] = groups_for(n, d.local, caps);
  return d;
}

}  // namespace gantry::vk

// Defines vk_op_<name> in an encoder file (inside namespace gantry::vk) from
// its encoder and scratch size function (or nullptr).
#define GANTRY_VK_OP(name, encoder, scratch) \
  extern const VkOpDef vk_op_##name;         \
  const VkOpDef vk_op_##name { encoder, scratch }

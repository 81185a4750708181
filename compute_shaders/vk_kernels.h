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
//     `slot3[]`; the encoder names in Dispatch::slots which node operand each
//     slot is bound to, and the shader reads and writes an operand through its
//     slot only. The backend binds each slot as a window of the buffer that
//     holds its operand (the arena; inputs on unified memory: the host
//     buffer), starting at or just before the operand (vulkan_backend.cpp),
//     so an arena larger than one binding still works;
//   set 0, binding 4: the step uniforms {seed lo, seed hi, step lo, step hi}, a
//     uniform buffer;
//   push constants: at most kPushWords 32-bit words, laid out by the shader's
//     `layout(push_constant)` block in declaration order; tensor positions are
//     element (float) indices from the start of the operand's slot (NodeArgs);
//     floats travel as their bit patterns;
//   specialization constants: constant_id 0, 1, ... = Dispatch::spec[0], [1], ...
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/op_table.h"

namespace gantry::vk {

constexpr int kPushWords = 32;          // 128 bytes: the smallest maxPushConstantsSize Vulkan allows
constexpr uint32_t kMaxGroups = 65535;  // the smallest maxComputeWorkGroupCount Vulkan allows

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
};

// Optional device features an encoder may choose a faster shader variant for;
// the plain variant needs only core Vulkan 1.1.
struct DeviceCaps {
  uint32_t subgroup_size = 0;        // invocations per subgroup
  bool subgroup_arithmetic = false;  // subgroupAdd/Max in compute shaders: the <shader>_subgroup variants
};

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
  int64_t (*scratch_elems)(const Graph& g, const Node& n);  // null: none
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
// Workgroups for a 1-D grid-stride loop over n items, `local` invocations per group.
inline uint32_t groups_for(int64_t n, uint32_t local) {
  const int64_t g = (n + local - 1) / local;
  return uint32_t(g < 1 ? 1 : g > kMaxGroups ? kMaxGroups : g);
}
// A 1-D dispatch of `shader` over n items with its slots' operands and the push words given.
inline Dispatch dispatch_1d(const char* shader, int64_t n, Slots slots, std::initializer_list<uint32_t> push,
                            uint32_t local = 256) {
  Dispatch d;
  d.shader = shader;
  d.slots = slots;
  size_t i = 0;
  for (uint32_t w : push) d.push[i++] = w;
  d.groups[0] = groups_for(n, local);
  return d;
}

}  // namespace gantry::vk

// Defines vk_op_<name> in an encoder file (inside namespace gantry::vk) from
// its encoder and scratch size function (or nullptr).
#define GANTRY_VK_OP(name, encoder, scratch) \
  extern const VkOpDef vk_op_##name;         \
  const VkOpDef vk_op_##name { encoder, scratch }

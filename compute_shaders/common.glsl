// Shared by every gantry compute shader: the operand and step-uniform bindings,
// the grid-stride loop and Philox4x32-10 (word for word the arithmetic of
// platform/philox.h: counter {element/4, stream, step lo, step hi}, key {seed lo, seed hi}).
// Include after `#version 450` and `#extension GL_GOOGLE_include_directive : require`.

// Four storage-buffer slots (Vulkan's guaranteed minimum per stage), each a
// window of the arena bound by the backend at one node operand; every access
// names the slot its operand is bound to (the encoder's Dispatch::slots), and
// positions are elements from that slot's start (vk_kernels.h). Shaders read
// and write a slot only through loadK(i) and storeK(i, v): values are float
// inside a shader whatever the slot holds.
layout(std430, set = 0, binding = 0) buffer Slot0 { float slot0[]; };
layout(std430, set = 0, binding = 1) buffer Slot1 { float slot1[]; };
layout(std430, set = 0, binding = 2) buffer Slot2 { float slot2[]; };
layout(std430, set = 0, binding = 3) buffer Slot3 { float slot3[]; };

#ifdef GANTRY_F16
// The build <shader>_f16 (vulkan.cmake), used where the device has
// storageBuffer16BitAccess and a program stores values in IEEE binary16: each
// slot is also seen as float16_t (the same binding, aliased: Vulkan 1.1 spec,
// "Shader Resource Interface"), and bit k of HALF_SLOTS, set by the backend
// from what slot k is bound to, says which view an access takes (a
// specialization constant: the other branch compiles away). Loads widen to
// float and stores round to half (to nearest even where the device's
// conversions do, as lavapipe's; the spec allows toward zero), so arithmetic
// and every sum stay float32; scratch (split-K slices, reduction chunks) is
// bound as float.
#extension GL_EXT_shader_16bit_storage : require
layout(std430, set = 0, binding = 0) buffer Slot0h { float16_t slot0h[]; };
layout(std430, set = 0, binding = 1) buffer Slot1h { float16_t slot1h[]; };
layout(std430, set = 0, binding = 2) buffer Slot2h { float16_t slot2h[]; };
layout(std430, set = 0, binding = 3) buffer Slot3h { float16_t slot3h[]; };
layout(constant_id = 101) const uint HALF_SLOTS = 0;
#define GANTRY_SLOT(k)                                                                                   \
  float load##k(uint i) { return (HALF_SLOTS & (1u << k)) != 0u ? float(slot##k##h[i]) : slot##k[i]; } \
  void store##k(uint i, float v) {                                                                       \
    if ((HALF_SLOTS & (1u << k)) != 0u)                                                                  \
      slot##k##h[i] = float16_t(v);                                                                      \
    else                                                                                                 \
      slot##k[i] = v;                                                                                    \
  }
#else
#define GANTRY_SLOT(k)                          \
  float load##k(uint i) { return slot##k[i]; } \
  void store##k(uint i, float v) { slot##k[i] = v; }
#endif
GANTRY_SLOT(0)
GANTRY_SLOT(1)
GANTRY_SLOT(2)
GANTRY_SLOT(3)
#undef GANTRY_SLOT
layout(std140, set = 0, binding = 4) uniform StepUniforms {
  uint seed_lo, seed_hi, step_lo, step_hi;
} step_u;

// The workgroup: LOCAL invocations along x, a specialization constant
// (Dispatch::local, constant id kLocalSizeId of vk_kernels.h) so that each
// encoder sizes it to the device's maxComputeWorkGroupInvocations and
// maxComputeWorkGroupSize[0]; shared arrays sized by it follow.
layout(constant_id = 100) const uint LOCAL = 256;
layout(local_size_x_id = 100) in;

// for (uint i = first; i < n; i += total invocations)
#define GRID_STRIDE(i, n) \
  for (uint i = gl_GlobalInvocationID.x; i < (n); i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)

uvec4 philox4x32_10(uvec4 ctr, uint k0, uint k1) {
  for (int round = 0; round < 10; ++round) {
    uint hi0, lo0, hi1, lo1;
    umulExtended(0xD2511F53u, ctr.x, hi0, lo0);
    umulExtended(0xCD9E8D57u, ctr.z, hi1, lo1);
    ctr = uvec4(hi1 ^ ctr.y ^ k0, lo1, hi0 ^ ctr.w ^ k1, lo0);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

uvec4 philox_block(uint stream, uint block) {
  return philox4x32_10(uvec4(block, stream, step_u.step_lo, step_u.step_hi), step_u.seed_lo, step_u.seed_hi);
}

// 24 high bits → [0, 1).
float philox_uniform01(uint w) { return float(w >> 8) * (1.0 / 16777216.0); }

// The codes the Vulkan encoders pass to the shaders in specialization
// constants (which function elementwise_binary computes, which kind data_fill
// draws, ...), each family written once, here, for both sides.
//
// Each family is an X-macro, GANTRY_SHADER_CODES_<FAMILY>(X), that calls
// X(name) once per code; a code's value is its position in the list (0, 1, ...).
//  - C++ (the encoders) include this header: below, every family becomes
//    `enum class <Family>Code : uint32_t { name, ... }` in gantry::vk.
//  - GLSL (the shaders) include "shader_codes.glsl", which vulkan.cmake writes
//    into the build tree from this file when it configures (the build reruns
//    the configure step when this file changes): for every family and code,
//    `const uint <FAMILY>_<NAME> = <position>u;`, e.g. BINARY_ADD = 0u.
//    The shaders' build depends on it, so a change here rebuilds them.
// Both sides number the same list, so adding, removing or reordering codes
// changes the encoders and the shaders together. vulkan.cmake reads the lists
// with a regular expression: keep the macro names GANTRY_SHADER_CODES_<FAMILY>
// (upper case), the parameter X, and the codes X(lower_case_name).
#pragma once

#include <cstdint>

// elementwise_binary.comp: y = f(a, b), with broadcasting.
#define GANTRY_SHADER_CODES_BINARY(X) \
  X(add)                              \
  X(sub)                              \
  X(mul)                              \
  X(div)                              \
  X(leaky_relu_backward)              \
  X(clamp_backward)                   \
  X(bce_with_logits)

// elementwise_unary.comp: y = f(x); copy is assign's.
#define GANTRY_SHADER_CODES_UNARY(X) \
  X(scale)                           \
  X(square)                          \
  X(sqrt)                            \
  X(exp)                             \
  X(tanh)                            \
  X(sigmoid)                         \
  X(leaky_relu)                      \
  X(clamp)                           \
  X(copy)

// conv_gemm.comp: the GEMM view of a node (matmul also serves the 1×1-input
// conv_transpose2d stem).
#define GANTRY_SHADER_CODES_CONV(X) \
  X(conv2d)                         \
  X(conv_transpose2d)               \
  X(grad_weight)                    \
  X(matmul)

// data_fill.comp: a constant, or Philox normal / uniform values.
#define GANTRY_SHADER_CODES_FILL(X) \
  X(constant)                       \
  X(normal)                         \
  X(uniform)

// reduce_axes.comp: the reduction and the op that finishes it.
#define GANTRY_SHADER_CODES_REDUCE(X) \
  X(sum)                              \
  X(normalize)                        \
  X(rstd)                             \
  X(normalize_backward)               \
  X(log_softmax)

namespace gantry::vk {

#define GANTRY_SHADER_CODE_ENUMERATOR(name) name,
enum class BinaryCode : uint32_t { GANTRY_SHADER_CODES_BINARY(GANTRY_SHADER_CODE_ENUMERATOR) };
enum class UnaryCode : uint32_t { GANTRY_SHADER_CODES_UNARY(GANTRY_SHADER_CODE_ENUMERATOR) };
enum class ConvCode : uint32_t { GANTRY_SHADER_CODES_CONV(GANTRY_SHADER_CODE_ENUMERATOR) };
enum class FillCode : uint32_t { GANTRY_SHADER_CODES_FILL(GANTRY_SHADER_CODE_ENUMERATOR) };
enum class ReduceCode : uint32_t { GANTRY_SHADER_CODES_REDUCE(GANTRY_SHADER_CODE_ENUMERATOR) };
#undef GANTRY_SHADER_CODE_ENUMERATOR

// The value a shader's specialization constant takes for a code.
template <class Code>
constexpr uint32_t spec_code(Code c) {
  return static_cast<uint32_t>(c);
}

}  // namespace gantry::vk

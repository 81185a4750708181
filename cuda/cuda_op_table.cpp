// The CUDA op table, generated from ops.def like engine/op_table.cpp: one
// `cuda_op_<name>` per op, defined in the family files; an op without one is
// a link error, so the table cannot silently fall behind the op list; a null
// launcher fails tests/test_op_coverage.cpp (and compile_cuda(), naming the op).
#include "cuda/cuda_ops.h"

namespace gantry {

// Leaves are storage only: never scheduled, nothing to launch.
extern const CudaOpDef cuda_op_leaf;
const CudaOpDef cuda_op_leaf{nullptr, nullptr};

#define GANTRY_OP(name, file) extern const CudaOpDef cuda_op_##name;
#include "engine/ops.def"
#undef GANTRY_OP

namespace {
const CudaOpDef* const kCudaDefs[] = {
#define GANTRY_OP(name, file) &cuda_op_##name,
#include "engine/ops.def"
#undef GANTRY_OP
};
}  // namespace

const CudaOpDef& cuda_op_def(Op op) { return *kCudaDefs[int(op)]; }

bool cuda_has_kernel(Op op) { return cuda_op_def(op).launch != nullptr; }

}  // namespace gantry

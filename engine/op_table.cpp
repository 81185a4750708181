// The op table, generated from ops.def: one entry per op by construction (an
// op without its op_def_<name> is a link error). That every op has a name, a
// CPU kernel, a kernel on each GPU backend and test cases is checked by
// tests/test_op_coverage.cpp.
#include "engine/op_table.h"

namespace gantry {

#define GANTRY_OP(name, file) extern const OpDef op_def_##name;
#include "engine/ops.def"
#undef GANTRY_OP

namespace {
constexpr const char* kNames[] = {
#define GANTRY_OP(name, file) #name,
#include "engine/ops.def"
#undef GANTRY_OP
};
const OpDef* const kDefs[] = {
#define GANTRY_OP(name, file) &op_def_##name,
#include "engine/ops.def"
#undef GANTRY_OP
};
}  // namespace

const char* op_name(Op op) { return kNames[int(op)]; }
const OpDef& op_def(Op op) { return *kDefs[int(op)]; }

}  // namespace gantry

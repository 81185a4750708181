// The op table, generated from ops.def.
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
static_assert(sizeof(kNames) / sizeof(kNames[0]) == kOpCount, "op names out of step with ops.def");
static_assert(sizeof(kDefs) / sizeof(kDefs[0]) == kOpCount, "op table out of step with ops.def");
}  // namespace

const char* op_name(Op op) { return kNames[int(op)]; }
const OpDef& op_def(Op op) { return *kDefs[int(op)]; }

}  // namespace gantry

// The memory planner: one arena per program, laid out before the first step.
//   [ params | state | data | inputs | kept | transient ]   each region 64-byte aligned
// Persistent regions hold every leaf, contiguous per role in build order (so an
// optimizer pass or a checkpoint is one loop or one copy). Transient tensors
// (activations, gradients, per-node scratch) get offsets from their lifetimes
// — first definition to last use in the schedule — packed greedily, largest
// first, at the lowest offset that no overlapping-lifetime tensor occupies.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/graph.h"

namespace gantry {

// kept: what kernels keep between steps (OpDef::kept_elems), one slot per node.
struct ArenaBytes {
  int64_t params = 0, state = 0, data = 0, inputs = 0, kept = 0, transient = 0;
  int64_t total() const { return params + state + data + inputs + kept + transient; }
};

struct Plan {
  std::vector<int32_t> schedule;       // nodes to run, in order: live non-leaf nodes by id
  std::vector<int64_t> offset;         // per node: byte offset of its output, −1 when pruned
  std::vector<int64_t> scratch;        // per node: byte offset of its scratch, −1 when none
  std::vector<int64_t> scratch_elems;  // per node
  std::vector<int64_t> kept;           // per node: byte offset of what its kernel keeps, −1 when none
  std::vector<int32_t> last_use;       // per node: schedule index after which it is dead
                                       // (schedule.size() for outputs and leaves)
  std::vector<uint8_t> value_size;     // per node: bytes per element of its value (2: binary16)
  int64_t work_size = 4;               // bytes per element of scratch and of what is kept
  int64_t value_bytes(int32_t id, const Graph& g) const { return g.node(id).shape.numel() * value_size[size_t(id)]; }
  ArenaBytes bytes;
};

constexpr int64_t kArenaAlign = 64;

// A node's scratch in elements, as a backend's kernels need it.
using ScratchFn = int64_t (*)(const Graph& g, const Node& n);
// The CPU kernels' scratch and kept elements (OpDef::scratch_elems, kept_elems).
int64_t cpu_scratch_elems(const Graph& g, const Node& n);
int64_t cpu_kept_elems(const Graph& g, const Node& n);

// The largest arena plan_arena() lays out, in bytes: by default three
// quarters of the machine's physical memory (a plan beyond it would only end
// in an allocation failure or the OOM killer); `gantry ... --max-memory`
// changes it for the process. Applies to every backend's arena.
int64_t memory_limit();
void set_memory_limit(int64_t bytes);

// Plans `g` with elements of `elem_size` bytes (the kernels' working type),
// except the values `half` marks (per node; empty: none), 2-byte binary16
// (half_storage()): scratch and what is kept stay elem_size. `outputs` stay
// readable after a step. `kept` (null: none) is planned only when no effect is live: a program
// that updates its own weights would compute what is kept again every step.
// An arena over memory_limit() is an error naming every region's size.
Result<Plan> plan_arena(const Graph& g, const std::vector<Value>& outputs, int64_t elem_size,
                        const std::vector<char>& half, ScratchFn scratch = cpu_scratch_elems,
                        ScratchFn kept = cpu_kept_elems);

}  // namespace gantry

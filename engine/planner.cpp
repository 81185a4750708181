// Liveness-based arena planning; see planner.h. Checked by tests/test_planner.cpp,
// which poisons dead ranges during a step and checks that no two live tensors overlap.
#include "engine/planner.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "engine/op_table.h"

namespace gantry {
namespace {

int64_t align_up(int64_t v) { return (v + kArenaAlign - 1) / kArenaAlign * kArenaAlign; }

struct Item {
  int64_t bytes, first, last;  // lifetime in schedule indices, inclusive
  int64_t* offset;             // where to write the placement
};

// Greedy first fit, largest first: for each item, the lowest offset at which
// it overlaps (in bytes) none of the placed items that are alive at the same time.
int64_t place(std::vector<Item>& items) {
  std::sort(items.begin(), items.end(),
            [](const Item& a, const Item& b) { return a.bytes != b.bytes ? a.bytes > b.bytes : a.first < b.first; });
  std::vector<const Item*> placed;
  std::vector<std::pair<int64_t, int64_t>> busy;
  int64_t high = 0;
  for (Item& it : items) {
    busy.clear();
    for (const Item* p : placed)
      if (p->first <= it.last && it.first <= p->last) busy.emplace_back(*p->offset, *p->offset + p->bytes);
    std::sort(busy.begin(), busy.end());
    int64_t at = 0;
    for (const auto& [lo, hi] : busy) {
      if (at + it.bytes <= lo) break;
      at = std::max(at, align_up(hi));
    }
    *it.offset = at;
    high = std::max(high, at + it.bytes);
    placed.push_back(&it);
  }
  return align_up(high);
}

int64_t physical_memory() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? int64_t(pages) * page : int64_t(1) << 32;
}

std::atomic<int64_t> g_memory_limit{physical_memory() / 4 * 3};

std::string mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / 1048576.0);
  return buf;
}

}  // namespace

int64_t memory_limit() { return g_memory_limit.load(); }
void set_memory_limit(int64_t bytes) { g_memory_limit = bytes; }

int64_t cpu_scratch_elems(const Graph& g, const Node& n) {
  auto fn = op_def(n.op).scratch_elems;
  return fn ? fn(g, n) : 0;
}
int64_t cpu_kept_elems(const Graph& g, const Node& n) {
  auto fn = op_def(n.op).kept_elems;
  return fn ? fn(g, n) : 0;
}

Result<Plan> plan_arena(const Graph& g, const std::vector<Value>& outputs, int64_t elem_size,
                        const std::vector<char>& half, ScratchFn scratch, ScratchFn kept) {
  if (!g.ok()) return g.status();
  const int32_t n = g.size();
  Plan plan;
  plan.value_size.assign(size_t(n), uint8_t(elem_size));
  for (size_t i = 0; i < half.size() && i < size_t(n); ++i)
    if (half[i]) plan.value_size[i] = 2;
  plan.work_size = elem_size;
  plan.offset.assign(n, -1);
  plan.scratch.assign(n, -1);
  plan.scratch_elems.assign(n, 0);
  plan.kept.assign(n, -1);
  plan.last_use.assign(n, -1);

  // Dead-code elimination: keep what outputs and effects need.
  std::vector<char> live(n, 0), is_output(n, 0);
  for (Value v : outputs) {
    if (!v.valid() || v.id >= n) return Status::error("compile: an output is not a node of this graph");
    live[v.id] = is_output[v.id] = 1;
  }
  bool effects = false;
  for (int32_t i = 0; i < n; ++i)
    if (g.node(i).effect) {
      live[i] = 1;
      effects = true;
    }
  for (int32_t i = n - 1; i >= 0; --i)
    if (live[i])
      for (int32_t in : g.node(i).inputs) live[in] = 1;

  // Persistent regions: every leaf, grouped by role in build order.
  int64_t cursor = 0;
  for (Role role : {Role::param, Role::state, Role::data, Role::input}) {
    const int64_t begin = cursor;
    for (int32_t i = 0; i < n; ++i) {
      const Node& node = g.node(i);
      if (node.op != Op::leaf || node.role != role) continue;
      plan.offset[i] = cursor;
      cursor = align_up(cursor + plan.value_bytes(i, g));
    }
    int64_t& region = role == Role::param   ? plan.bytes.params
                      : role == Role::state ? plan.bytes.state
                      : role == Role::data  ? plan.bytes.data
                                            : plan.bytes.inputs;
    region = cursor - begin;
  }

  for (int32_t i = 0; i < n; ++i)
    if (live[i] && g.node(i).op != Op::leaf) plan.schedule.push_back(i);
  if (kept && !effects) {
    const int64_t begin = cursor;
    for (int32_t id : plan.schedule) {
      const int64_t elems = kept(g, g.node(id));
      if (elems <= 0) continue;
      if (elems > kMaxElements)
        return Status::error(std::string(op_name(g.node(id).op)) + ": keeps " + std::to_string(elems) +
                             " elements between steps, more than 2^40");
      plan.kept[id] = cursor;
      cursor = align_up(cursor + elems * elem_size);
    }
    plan.bytes.kept = cursor - begin;
  }
  const int64_t end = int64_t(plan.schedule.size());
  std::vector<int64_t> first(n, -1);
  for (int64_t s = 0; s < end; ++s) {
    const int32_t id = plan.schedule[s];
    first[id] = s;
    for (int32_t in : g.node(id).inputs) plan.last_use[in] = int32_t(s);
  }

  std::vector<Item> items;
  for (int64_t s = 0; s < end; ++s) {
    const int32_t id = plan.schedule[s];
    const Node& node = g.node(id);
    const int64_t last = is_output[id] ? end : std::max<int64_t>(plan.last_use[id], s);
    plan.last_use[id] = int32_t(last);
    if (const int64_t bytes = plan.value_bytes(id, g); bytes > 0)
      items.push_back({bytes, s, last, &plan.offset[id]});
    else
      plan.offset[id] = cursor;  // empty outputs (effects) point anywhere valid
    plan.scratch_elems[id] = scratch(g, node);
    if (plan.scratch_elems[id] > kMaxElements)
      return Status::error(std::string(op_name(node.op)) + ": output " + node.shape.str() + " needs " +
                           std::to_string(plan.scratch_elems[id]) + " elements of scratch, more than 2^40");
    if (plan.scratch_elems[id] > 0) items.push_back({plan.scratch_elems[id] * elem_size, s, s, &plan.scratch[id]});
  }
  for (int32_t i = 0; i < n; ++i)
    if (g.node(i).op == Op::leaf) plan.last_use[i] = int32_t(end);
  plan.bytes.transient = place(items);
  for (Item& it : items) *it.offset += cursor;
  // Every tensor is under kMaxElements (Graph::add), so these sums cannot overflow.
  const ArenaBytes& b = plan.bytes;
  if (b.total() > memory_limit())
    return Status::error("the arena needs " + mib(b.total()) + " (params " + mib(b.params) + ", state " + mib(b.state) +
                         ", data " + mib(b.data) + ", inputs " + mib(b.inputs) + ", kept " + mib(b.kept) +
                         ", transient " + mib(b.transient) + "), over the memory limit of " + mib(memory_limit()) +
                         " (--max-memory; default three quarters of physical memory): use a smaller batch, "
                         "narrower layers or fewer samples at once");
  return plan;
}

}  // namespace gantry

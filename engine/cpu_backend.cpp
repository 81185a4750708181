// CPU backend: compile (plan + one allocation + per-node kernel arguments) and replay.
#include "engine/cpu_backend.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "platform/half.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace gantry {

template <class T>
CpuProgram<T>::CpuProgram(const Graph& g, Plan plan, Arena arena, const std::vector<Value>& outputs,
                          const CpuOptions& options)
    : PlannedProgram(g, std::move(plan), outputs),
      arena_(std::move(arena)),
      pool_(options.threads),
      poison_dead_(options.poison_dead),
      profile_(options.profile),
      precision_(options.precision),
      half_(options.precision != Precision::fp32 ? half_storage(g) : std::vector<char>{}) {
  if (profile_) seconds_per_op_.assign(size_t(kOpCount), 0.0);

  auto at = [&](int64_t byte_offset, int32_t = -1) { return arena_.get() + byte_offset / int64_t(sizeof(T)); };
  for (int32_t id : plan_.schedule) {
    CpuArgs<T> a;
    fill_args(id, a, at);
    a.scratch = plan_.scratch[id] >= 0 ? at(plan_.scratch[id]) : nullptr;
    a.kept = plan_.kept[id] >= 0 ? at(plan_.kept[id]) : nullptr;
    args_.push_back(a);
  }
  written_at_.assign(size_t(g.size()), 0);
  kept_at_.assign(args_.size(), 0);
  if (poison_dead_) {
    // Every transient starts as NaN too, so an output element a kernel never writes shows.
    for (int32_t i = 0; i < g.size(); ++i)
      if (g.node(i).op != Op::leaf && plan_.offset[i] >= 0)
        std::fill(at(plan_.offset[i]), at(plan_.offset[i]) + g.node(i).shape.numel(),
                  std::numeric_limits<T>::quiet_NaN());
    dies_after_.resize(plan_.schedule.size());
    for (int32_t i = 0; i < g.size(); ++i)
      if (g.node(i).op != Op::leaf && plan_.offset[i] >= 0 && size_t(plan_.last_use[i]) < plan_.schedule.size())
        dies_after_[plan_.last_use[i]].push_back(i);
  }
}

template <class T>
Result<std::unique_ptr<CpuProgram<T>>> CpuProgram<T>::compile(const Graph& g, const std::vector<Value>& outputs,
                                                              const CpuOptions& options) {
  auto plan = plan_arena(g, outputs, int64_t(sizeof(T)), {});
  if (!plan.ok()) return plan.status();
  // The one allocation: the whole planned arena, zeroed (fresh optimizer moments are zero).
  // From 2 MiB up it is aligned to 2 MiB and asked for huge pages (Linux's transparent huge
  // pages, `madvise` mode; a hint, ignored where not offered): the convolution kernels' input
  // copies hold one pixel per 16 KiB, and on 4 KiB pages a pass over them misses the TLB on
  // most accesses.
  constexpr int64_t kHugePage = int64_t(2) << 20;
  const int64_t align = plan->bytes.total() >= kHugePage ? kHugePage : kArenaAlign;
  const int64_t total = std::max<int64_t>((plan->bytes.total() + align - 1) / align * align, align);
  Arena arena(static_cast<T*>(std::aligned_alloc(size_t(align), size_t(total))));
  if (!arena)
    return Status::error("cannot allocate the CPU arena of " + std::to_string(total) + " bytes: out of memory");
#if defined(__linux__)
  if (align == kHugePage) madvise(arena.get(), size_t(total), MADV_HUGEPAGE);
#endif
  std::memset(arena.get(), 0, size_t(total));
  return std::unique_ptr<CpuProgram<T>>(new CpuProgram<T>(g, std::move(*plan), std::move(arena), outputs, options));
}

template <class T>
Status CpuProgram<T>::step(const StepUniforms& u) {
  for (size_t s = 0; s < args_.size(); ++s) {
    CpuArgs<T>& a = args_[s];
    if (a.kept) {
      a.kept_valid = kept_at_[s] > 0 && !viewed_;
      for (int32_t in : a.node->inputs) a.kept_valid = a.kept_valid && written_at_[size_t(in)] <= kept_at_[s];
      kept_at_[s] = std::max<uint64_t>(writes_, 1);
    }
    const auto t0 = profile_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    if constexpr (std::is_same_v<T, float>)
      op_def(a.node->op).cpu_f32(a, u, pool_);
    else
      op_def(a.node->op).cpu_f64(a, u, pool_);
    if (!half_.empty() && half_[size_t(plan_.schedule[s])]) round_to_storage(a.out, a.node->shape.numel());
    if (profile_)
      seconds_per_op_[size_t(a.node->op)] +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (poison_dead_) {
      const T nan = std::numeric_limits<T>::quiet_NaN();
      if (a.scratch) std::fill(a.scratch, a.scratch + plan_.scratch_elems[plan_.schedule[s]], nan);
      for (int32_t id : dies_after_[s]) {
        T* p = arena_.get() + plan_.offset[id] / int64_t(sizeof(T));
        std::fill(p, p + graph_.node(id).shape.numel(), nan);
      }
    }
  }
  return {};
}

template <class T>
std::vector<std::pair<std::string, double>> CpuProgram<T>::op_seconds() const {
  return by_op(seconds_per_op_);
}

template <class T>
Result<std::span<T>> CpuProgram<T>::view(Value v) {
  const int64_t count = v.valid() && v.id < graph_.size() ? graph_.node(v).shape.numel() : 0;
  GANTRY_TRY(check_access(v, count));
  viewed_ = true;
  return std::span<T>(arena_.get() + plan_.offset[v.id] / int64_t(sizeof(T)), size_t(count));
}

template <class T>
void CpuProgram<T>::round_to_storage(T* v, int64_t n) {
  float (*round)(float) = precision_ == Precision::bf16 ? round_to_bfloat16 : round_to_half;
  pool_.parallel_for(n, 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) v[i] = T(round(float(v[i])));
  });
}

template <class T>
Status CpuProgram<T>::write(Value v, const float* src, int64_t count) {
  GANTRY_TRY(check_access(v, count));
  T* dst = arena_.get() + plan_.offset[v.id] / int64_t(sizeof(T));
  for (int64_t i = 0; i < count; ++i) dst[i] = T(src[i]);
  if (!half_.empty() && half_[size_t(v.id)]) round_to_storage(dst, count);
  written_at_[size_t(v.id)] = ++writes_;
  return {};
}

template <class T>
Status CpuProgram<T>::read(Value v, float* dst, int64_t count) const {
  GANTRY_TRY(check_access(v, count));
  const T* src = arena_.get() + plan_.offset[v.id] / int64_t(sizeof(T));
  for (int64_t i = 0; i < count; ++i) dst[i] = float(src[i]);
  return {};
}

template class CpuProgram<float>;
template class CpuProgram<double>;

}  // namespace gantry

// The CPU reference backend: the planned arena in one aligned allocation, the
// schedule replayed node by node, each kernel parallel over a fixed thread
// pool. Templated on the element type so tests can run the very same kernels
// in double precision for finite-difference checks.
#pragma once

#include <memory>
#include <span>

#include "engine/backend.h"
#include "platform/thread_pool.h"

namespace gantry {

struct CpuOptions {
  int threads = 0;
  // Test aid: transients start as NaN (a kernel must write every output
  // element) and, after each node, tensors that just died are filled with NaN,
  // to prove that the planner never lets a live tensor share bytes with a dead one.
  bool poison_dead = false;
  bool profile = false;                   // see CompileOptions::profile
  Precision precision = Precision::fp32;  // fp16/bf16: the values half_storage() marks rounded so
};

template <class T>
class CpuProgram final : public PlannedProgram {
 public:
  static Result<std::unique_ptr<CpuProgram>> compile(const Graph& g, const std::vector<Value>& outputs,
                                                     const CpuOptions& options = {});

  Status step(const StepUniforms& u) override;
  Status write(Value v, const float* src, int64_t count) override;
  Status read(Value v, float* dst, int64_t count) const override;
  std::vector<std::pair<std::string, double>> op_seconds() const override;
  std::string device() const override { return "cpu (" + std::to_string(pool_.size()) + " threads)"; }

  // A view of a leaf or output in the arena, in the program's element type.
  Result<std::span<T>> view(Value v);

 private:
  struct FreeAligned {
    void operator()(T* p) const { std::free(p); }
  };
  using Arena = std::unique_ptr<T[], FreeAligned>;
  CpuProgram(const Graph& g, Plan plan, Arena arena, const std::vector<Value>& outputs, const CpuOptions& options);
  // Rounds v[0, n) as 16-bit storage (precision_) holds them, on the pool.
  void round_to_storage(T* v, int64_t n);
  Arena arena_;
  std::vector<CpuArgs<T>> args_;                  // per scheduled node
  std::vector<std::vector<int32_t>> dies_after_;  // per schedule index, for poison_dead
  ThreadPool pool_;
  // What kernels keep (CpuArgs::kept) is valid while no leaf it derives from
  // was written since: writes are numbered, per leaf the last one's number,
  // per scheduled node the number current when it last ran. A view() hands out
  // the arena's memory, whose writes nobody counts: from then on nothing kept
  // is trusted.
  uint64_t writes_ = 0;
  std::vector<uint64_t> written_at_;  // per node (leaves)
  std::vector<uint64_t> kept_at_;     // per schedule index; 0: never kept
  bool viewed_ = false;
  bool poison_dead_, profile_;
  Precision precision_;
  std::vector<char> half_;              // 16-bit storage: per node, whether its value is rounded so (half_storage)
  std::vector<double> seconds_per_op_;  // indexed by Op, sized at compile time
};

extern template class CpuProgram<float>;
extern template class CpuProgram<double>;

}  // namespace gantry

// A fixed pool of worker threads for the CPU backend. parallel_for hands out
// index chunks through one atomic counter; the calling thread works too.
// Between jobs a worker spins for up to 100 µs before it sleeps, so the ops
// of a replayed step, microseconds apart, do not each pay a thread's wake-up.
// Nothing here allocates after construction, so a replayed training step stays
// allocation-free (tests/test_alloc.cpp). Results never depend on the order in
// which chunks run, because kernels give every output element to one chunk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace gantry {

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Calls f(begin, end) over [0, n) in chunks of at least `grain` indices.
  template <class F>
  void parallel_for(int64_t n, int64_t grain, F&& f) {
    if (n <= 0) return;
    if (workers_.empty() || n <= grain) {
      f(int64_t(0), n);
      return;
    }
    run(
        n, grain, [](void* ctx, int64_t b, int64_t e) { (*static_cast<F*>(ctx))(b, e); }, &f);
  }

 private:
  using Fn = void (*)(void*, int64_t, int64_t);
  void run(int64_t n, int64_t grain, Fn fn, void* ctx);
  void work();
  void worker_loop();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> busy_{0};  // workers not yet done with the job in flight
  std::atomic<bool> stop_{false};
  int sleeping_ = 0;  // workers waiting on wake_ (under mu_)

  // The job in flight.
  Fn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, chunk_ = 0;
  std::atomic<int64_t> next_{0};
};

}  // namespace gantry

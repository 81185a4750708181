// Fixed worker pool; see thread_pool.h.
#include "platform/thread_pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace gantry {
namespace {

// A short busy-wait for `ready`, then false: a worker done with one op finds
// the next op of a replayed step within microseconds, where a sleeping thread
// takes tens of microseconds to wake (on a virtual machine more). The pause
// hint lets a sibling hyper-thread run; sched_yield every so often gives the
// core away when other threads wait for it (more threads than cores).
template <class Ready>
bool spin_until(Ready ready) {
  constexpr auto kSpin = std::chrono::microseconds(100);
  const auto end = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (ready()) return true;
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
    if (i % 64 == 0) {
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::yield();
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work() {
  for (;;) {
    const int64_t b = next_.fetch_add(chunk_, std::memory_order_relaxed);
    if (b >= n_) return;
    fn_(ctx_, b, std::min(n_, b + chunk_));
  }
}

void ThreadPool::run(int64_t n, int64_t grain, Fn fn, void* ctx) {
  bool sleepers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fn_ = fn;
    ctx_ = ctx;
    n_ = n;
    // About four chunks per thread balances uneven chunks without much contention.
    chunk_ = std::max(grain, (n + 4 * size() - 1) / (4 * size()));
    next_.store(0, std::memory_order_relaxed);
    busy_.store(int(workers_.size()), std::memory_order_relaxed);
    generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    sleepers = sleeping_ > 0;
  }
  if (sleepers) wake_.notify_all();
  work();
  const auto idle = [this] { return busy_.load(std::memory_order_acquire) == 0; };
  if (spin_until(idle)) return;
  std::unique_lock<std::mutex> lock(mu_);
  done_.wait(lock, idle);
}

// The job's fields are written before generation_ is released and stay put
// until every worker has counted itself out of busy_, so a worker that sees
// a new generation reads them without the lock.
void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  const auto ready = [&] {
    return generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed);
  };
  for (;;) {
    if (!spin_until(ready)) {
      std::unique_lock<std::mutex> lock(mu_);
      ++sleeping_;
      wake_.wait(lock, ready);
      --sleeping_;
    }
    if (stop_.load(std::memory_order_relaxed)) return;
    seen = generation_.load(std::memory_order_acquire);
    work();
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // the caller may be between its check and its wait
      done_.notify_one();
    }
  }
}

}  // namespace gantry

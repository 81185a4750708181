// See loader.h. The ring has slots + 1 batches: the one the trainer holds and
// the ones the thread may fill ahead, steps consumer+1 … consumer+slots, each
// in slot step mod (slots + 1), so the thread never writes the batch in use.
#include "train/loader.h"

#include <algorithm>

namespace gantry {

Loader::Loader(DataSource& source, uint64_t seed, int64_t rows_per_step, int slots)
    : source_(source),
      order_(source.rows(), seed),
      rows_per_step_(rows_per_step),
      slots_(size_t(std::max(slots, 1) + 1)),
      bad_(size_t(source.rows()), 0) {
  for (Batch& b : slots_) {
    b.pixels.resize(size_t(rows_per_step * source.image().numel()));
    b.labels.resize(size_t(rows_per_step));
  }
}

Loader::~Loader() { stop(); }

void Loader::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Loader::start(int64_t step) {
  stop();
  quit_ = false;
  for (Batch& b : slots_) b.step = -1;
  consumer_ = step - 1;
  next_fill_ = step;
  thread_ = std::thread([this] { run(); });
}

void Loader::run() {
  const int64_t ahead = int64_t(slots_.size()) - 1;
  for (;;) {
    int64_t step;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return quit_ || next_fill_ <= consumer_ + ahead; });
      if (quit_) return;
      step = next_fill_;
    }
    Batch& b = slots_[size_t(step % int64_t(slots_.size()))];
    fill(b, step);
    {
      std::lock_guard<std::mutex> lock(mu_);
      b.step = step;
      ++next_fill_;
    }
    cv_.notify_all();
  }
}

void Loader::fill(Batch& b, int64_t step) {
  const int64_t n = source_.rows(), per = source_.image().numel();
  b.status = {};
  for (int64_t i = 0; i < rows_per_step_; ++i) {
    int64_t row = order_.row(step * rows_per_step_ + i);
    for (int64_t tries = 0;; ++tries, row = (row + 1) % n) {
      if (tries == n) {
        b.status = Status::error("no image in " + source_.description() + " could be read");
        return;
      }
      if (bad_[size_t(row)]) continue;
      const Status s = source_.read(row, b.pixels.data() + i * per, &b.labels[size_t(i)]);
      if (s.ok()) break;
      bad_[size_t(row)] = 1;
      std::lock_guard<std::mutex> lock(mu_);
      warnings_.push_back("skipped " + s.message());
      ++skipped_;
    }
  }
}

const Loader::Batch& Loader::batch(int64_t step) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!thread_.joinable() || step != consumer_ + 1) {
    lock.unlock();
    start(step);
    lock.lock();
  }
  Batch& b = slots_[size_t(step % int64_t(slots_.size()))];
  cv_.wait(lock, [&] { return b.step == step; });
  consumer_ = step;
  lock.unlock();
  cv_.notify_all();
  return b;
}

std::vector<std::string> Loader::take_warnings() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(warnings_, {});
}

int64_t Loader::skipped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return skipped_;
}

}  // namespace gantry

// Streams a DataSource to the trainer: a thread of its own reads (decodes)
// the rows of the next steps into a fixed ring of pre-allocated batches while
// the current step computes, so memory stays flat for any data-set size and a
// steady-state step allocates nothing. Step s takes the rows at positions
// s·R … s·R + R − 1 of the EpochOrder (R rows per step), so a batch is a pure
// function of (seed, step) and a resumed run reads what the uninterrupted one
// read.
//
// A row the source cannot read (a corrupt image) is skipped: the next row,
// cyclically, stands in for it — a function of the files alone, so still
// deterministic. Each skipped file is reported once through take_warnings();
// a data set with no readable row is an error.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "train/dataset.h"

namespace gantry {

class Loader {
 public:
  struct Batch {
    int64_t step = -1;
    std::vector<float> pixels;  // [R, C, S, S]
    std::vector<float> labels;  // [R]
    Status status;              // an error: the data set has no readable row
  };

  // rows_per_step: R; slots: batches prefetched ahead of the one in use.
  Loader(DataSource& source, uint64_t seed, int64_t rows_per_step, int slots = 2);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The batch of `step`, waiting for it if the thread has not read it yet.
  // It stays valid until the next call. Consecutive steps are prefetched; any
  // other step (a resume, a restart) restarts the thread there.
  const Batch& batch(int64_t step);

  // Messages about rows skipped since the last call (one per file).
  std::vector<std::string> take_warnings();
  int64_t skipped() const;  // distinct rows skipped so far

 private:
  void start(int64_t step);
  void stop();
  void run();
  void fill(Batch& b, int64_t step);

  DataSource& source_;
  EpochOrder order_;
  int64_t rows_per_step_;
  std::vector<Batch> slots_;
  std::vector<uint8_t> bad_;  // per row: 1 once it failed to read (thread-only)

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  bool quit_ = false;
  int64_t next_fill_ = 0;  // the step the thread reads next
  int64_t consumer_ = -1;  // the step handed out last (its slot is in use)
  std::vector<std::string> warnings_;
  int64_t skipped_ = 0;
};

}  // namespace gantry

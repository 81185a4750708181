// Errors as values at the API boundary: a Status carries a message that names
// the file, op, tensor or shape at fault; Result<T> is a value or that message.
// Library code never aborts on user input; GANTRY_CHECK guards internal
// invariants only and prints file:line before aborting.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace gantry {

class Status {
 public:
  Status() = default;
  static Status error(std::string message) { return Status(std::move(message)); }

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : message_(std::move(message)), failed_(true) {}
  std::string message_;
  bool failed_ = false;
};

template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {
    if (std::get<Status>(v_).ok()) v_ = Status::error("internal: Result from an ok Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const { return std::get<Status>(v_); }
  const std::string& message() const { return status().message(); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }

 private:
  std::variant<T, Status> v_;
};

[[noreturn]] inline void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "gantry: internal invariant failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace gantry

// Returns the Status of `expr` from the enclosing function (which returns a
// Status or a Result) when it failed; the one spelling of error propagation.
#define GANTRY_TRY(expr)                                                              \
  do {                                                                                \
    if (::gantry::Status gantry_try_ = (expr); !gantry_try_.ok()) return gantry_try_; \
  } while (0)

#define GANTRY_CHECK(cond) ((cond) ? (void)0 : ::gantry::check_failed(#cond, __FILE__, __LINE__))

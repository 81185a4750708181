// Subcommands of the gantry command line, one file each (cmd_*.cpp), and the
// flag parser they share. Each subcommand returns the process exit status:
//   0   success
//   1   a check or run failed (a golden comparison, NaN in training, a write)
//   2   bad usage or input, with a message naming the flag, file, op or shape
//   77  the backend asked for has no device on this machine (the message says
//       what is missing; test harnesses report it as skipped)
//   129/130/143  training stopped by SIGHUP/SIGINT/SIGTERM after its checkpoint
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "platform/status.h"

namespace gantry::cli {

using Args = std::vector<std::string>;  // the arguments after the subcommand name

constexpr int kExitNoDevice = 77;

int golden(const Args& args);
int train(const Args& args);
int bench(const Args& args);
int classifier(const Args& args);
int eval(const Args& args);
int sample(const Args& args);
int export_weights(const Args& args);

// Every flag of a subcommand is declared once, with where its value goes and,
// for numbers, the accepted closed range. parse() rejects unknown flags,
// missing values, numbers with trailing characters ("12x"), non-finite
// numbers and values out of range, naming the flag and the range; --help or
// -h anywhere sets help() and skips every other check.
class Flags {
 public:
  Flags& text(const std::string& name, std::string& dst);
  Flags& toggle(const std::string& name, bool& dst);  // takes no value
  template <class T>
  Flags& number(const std::string& name, T& dst, T lo, T hi);
  // --max-memory SIZE (bytes, or with a K/M/G/T suffix, powers of 1024): the
  // largest arena the command may plan (engine memory_limit()).
  Flags& max_memory();

  Status parse(const Args& args);
  bool help() const { return help_; }
  bool given(const std::string& name) const;

 private:
  struct Flag {
    std::string name;
    bool takes_value = true;
    std::function<Status(const std::string&)> set;
    bool given = false;
  };
  Flags& add(const std::string& name, bool takes_value, std::function<Status(const std::string&)> set);
  std::vector<Flag> flags_;
  bool help_ = false;
};

// One number, read whole; errors name the flag and the range.
template <class T>
Status parse_number(const std::string& flag, const std::string& text, T lo, T hi, T& out);

template <class T>
Flags& Flags::number(const std::string& name, T& dst, T lo, T hi) {
  return add(name, true, [&dst, name, lo, hi](const std::string& v) { return parse_number(name, v, lo, hi, dst); });
}

// Refuses to write `out` where that would destroy something: a path that is
// not a regular file (a device, a FIFO, a directory) or one of `inputs` (the
// same file under any name). Writers replace files atomically, so these are
// the only ways an output can lose data.
Status check_output_path(const std::string& flag, const std::string& out, const std::vector<std::string>& inputs = {});

}  // namespace gantry::cli

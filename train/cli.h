// Subcommands of the gantry command line, one file each (cmd_*.cpp). Each
// returns the process exit status: 0 success, 1 a check or run failed,
// 2 bad usage or input (with a message naming the file, op or shape),
// 77 the backend asked for has no device on this machine (the message says
// what is missing; test harnesses report it as skipped).
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "engine/status.h"

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

// A flag's value read whole as a number ("12x" is an error naming the flag).
template <class T>
Status parse_number(const std::string& flag, const std::string& value, T& out) {
  std::istringstream in(value);
  in >> out;
  if (!in || !in.eof()) return Status::error("flag " + flag + ": '" + value + "' is not a number");
  return {};
}

}  // namespace gantry::cli

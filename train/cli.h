// Subcommands of the gantry command line, one file each (cmd_*.cpp). Each
// returns the process exit status: 0 success, 1 a check or run failed,
// 2 bad usage or input (with a message naming the file, op or shape).
#pragma once

#include <string>
#include <vector>

namespace gantry::cli {

using Args = std::vector<std::string>;  // the arguments after the subcommand name

int golden(const Args& args);
int train(const Args& args);
int bench(const Args& args);

}  // namespace gantry::cli

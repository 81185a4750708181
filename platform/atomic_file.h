// Whole-file reads and crash-safe whole-file writes (POSIX). A write goes to
// "<path>.tmp-<pid>" in the same directory, is flushed and fsync'ed, then
// renamed over <path>, so a crash leaves either the old file or the new one,
// never half of either (DESIGN.md, "Errors"). Messages name the file and the
// errno text. Checked by tests/test_formats.cpp.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "engine/status.h"

namespace gantry {

// Replaces `path` with exactly `bytes`; on failure `path` is left untouched
// and the temporary file is removed.
Status write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

// The whole content of `path`.
Result<std::vector<std::byte>> read_file(const std::string& path);

}  // namespace gantry

// Whole-file reads and crash-safe whole-file writes (POSIX). A write goes to
// "<path>.tmp-<pid>" in the same directory, is flushed and fsync'ed, then
// renamed over <path>, so a crash leaves either the old file or the new one,
// never half of either (DESIGN.md, "Errors"). Messages name the file and the
// errno text. Checked by tests/test_formats.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "platform/status.h"

namespace gantry {

// Replaces `path` with exactly `bytes`; on failure `path` is left untouched
// and the temporary file is removed, and so are stale ones of the same path.
Status write_file_atomic(const std::string& path, std::span<const std::byte> bytes);

// Removes the temporary files ("<name>.tmp-<pid>") in `dir` whose names start
// with `prefix` and whose writer is no longer running: what a killed writer
// left behind. write_file_atomic calls it for its own path; a caller that owns
// a whole directory (a locked run directory) passes "". Returns how many.
int remove_stale_temporaries(const std::string& dir, const std::string& prefix);

// Ok when `path` does not exist or is a regular file: write_file_atomic never
// replaces a device node, FIFO, socket or directory (renaming over /dev/sda's
// name would lose the device, not write to it). Callers check early with it.
Status check_replaceable(const std::string& path);

// The largest file read_file accepts unless told otherwise. gantry's largest
// inputs (MNIST's 47 MB of images, a DCGAN64 checkpoint of a few hundred MB)
// are far below it; the cap exists so that a wrong path can never grow a
// buffer until the machine runs out of memory.
constexpr uint64_t kReadFileMaxBytes = uint64_t(4) << 30;

// The whole content of the regular file `path`, at most `max_bytes` long.
// Anything else is refused with a message naming the file: directories,
// devices (/dev/zero never ends), FIFOs and sockets (a read could block
// forever), and files over the limit (the message gives size and limit).
Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_bytes = kReadFileMaxBytes);

}  // namespace gantry

// write_file_atomic and read_file; see atomic_file.h. The temporary file lives
// beside the target because rename(2) is only atomic within one file system.
// Checked by tests/test_formats.cpp (round trips, no leftover temporary file,
// error messages for missing files and directories).
#include "platform/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace gantry {
namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Makes the rename itself durable: without it a power cut after rename() can
// still bring back the old directory entry. Best effort, as some file systems
// refuse fsync on directories.
void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

}  // namespace

Status write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Status::error("cannot create '" + tmp + "' to write '" + path + "': " + errno_text(errno));
  auto fail = [&](const char* what, int err) {
    if (f) std::fclose(f);
    std::remove(tmp.c_str());
    return Status::error(std::string("cannot ") + what + " '" + path + "' (via '" + tmp + "'): " + errno_text(err));
  };
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) return fail("write", errno);
  if (std::fflush(f) != 0) return fail("flush", errno);
  // fflush only reaches the kernel; fsync reaches the disk before the rename
  // makes the new content visible under the real name.
  if (::fsync(::fileno(f)) != 0) return fail("fsync", errno);
  const int close_rc = std::fclose(f);
  f = nullptr;
  if (close_rc != 0) return fail("close", errno);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename into place", errno);
  sync_dir(parent_dir(path));
  return Status();
}

Result<std::vector<std::byte>> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::error("cannot open '" + path + "': " + errno_text(errno));
  // Read until end of file rather than trusting st_size: pipes and /proc
  // files report 0, and a file may change while it is read. The size hint
  // (+1, to see end of file without growing) saves copies for regular files.
  struct stat st {};
  const size_t hint = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? size_t(st.st_size) : 0;
  std::vector<std::byte> bytes(hint + 1 > (size_t(1) << 16) ? hint + 1 : (size_t(1) << 16));
  size_t used = 0;
  for (;;) {
    if (used == bytes.size()) bytes.resize(bytes.size() * 2);
    const ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::error("cannot read '" + path + "': " + errno_text(err));
    }
    used += size_t(n);
  }
  bytes.resize(used);
  ::close(fd);
  return bytes;
}

}  // namespace gantry

// write_file_atomic and read_file; see atomic_file.h. The temporary file lives
// beside the target because rename(2) is only atomic within one file system.
// Checked by tests/test_formats.cpp (round trips, no leftover temporary file,
// error messages for missing files, directories, devices, FIFOs and files over
// the size limit).
#include "platform/atomic_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

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

int remove_stale_temporaries(const std::string& dir, const std::string& prefix) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> stale;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    const size_t tmp = name.rfind(".tmp-");
    if (tmp == std::string::npos || name.compare(0, prefix.size(), prefix) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + tmp + 5, &end, 10);
    // A pid that exists (kill succeeds or is merely not permitted) may still be writing.
    if (*end || pid <= 0 || pid == ::getpid() || ::kill(pid_t(pid), 0) == 0 || errno != ESRCH) continue;
    stale.push_back(dir + "/" + name);
  }
  ::closedir(d);
  int removed = 0;
  for (const std::string& path : stale) removed += ::unlink(path.c_str()) == 0 ? 1 : 0;
  return removed;
}

Status check_replaceable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return errno == ENOENT ? Status() : Status::error("cannot inspect '" + path + "': " + errno_text(errno));
  if (S_ISREG(st.st_mode)) return {};
  const char* what = S_ISDIR(st.st_mode)                          ? "a directory"
                     : S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device"
                     : S_ISFIFO(st.st_mode)                       ? "a FIFO"
                                                                  : "not a regular file";
  return Status::error("'" + path + "' is " + what + "; gantry writes only regular files and will not replace it");
}

Status write_file_atomic(const std::string& path, std::span<const std::byte> bytes) {
  GANTRY_TRY(check_replaceable(path));
  const size_t slash = path.find_last_of('/');
  remove_stale_temporaries(parent_dir(path), (slash == std::string::npos ? path : path.substr(slash + 1)) + ".tmp-");
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

Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_bytes) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer,
  // possibly forever, before fstat could tell us what it is.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return Status::error("cannot open '" + path + "': " + errno_text(errno));
  auto fail = [&](const std::string& what) {
    ::close(fd);
    return Status::error("cannot read '" + path + "': " + what);
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return fail(errno_text(errno));
  // Only regular files: /dev/zero and /dev/urandom never end, a FIFO or
  // socket can block forever, and none of them is a file gantry writes.
  if (S_ISDIR(st.st_mode)) return fail(errno_text(EISDIR));
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISCHR(st.st_mode)    ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    return fail(std::string("it is ") + kind + "; gantry reads regular files only");
  }
  const auto over_limit = [&](const std::string& size) {
    return fail("the file is " + size + " bytes, over the limit of " + std::to_string(max_bytes) + " bytes");
  };
  if (uint64_t(st.st_size) > max_bytes) return over_limit(std::to_string(st.st_size));
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);

  // Read until end of file rather than trusting st_size, as the file may
  // change while it is read; the +1 sees end of file without growing. A file
  // that grows past the limit meanwhile is refused like one that started there.
  const size_t cap = size_t(std::min<uint64_t>(max_bytes, SIZE_MAX - 1)) + 1;
  std::vector<std::byte> bytes;
  size_t used = 0;
  try {
    bytes.resize(std::min(cap, std::max(size_t(st.st_size) + 1, size_t(1) << 16)));
    for (;;) {
      if (used == bytes.size()) {
        if (used >= cap) return over_limit("more than " + std::to_string(max_bytes));
        bytes.resize(std::min(cap, bytes.size() * 2));
      }
      const ssize_t n = ::read(fd, bytes.data() + used, bytes.size() - used);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        return fail(errno_text(errno));
      }
      used += size_t(n);
    }
  } catch (const std::bad_alloc&) {
    return fail("out of memory for a file of " + std::to_string(st.st_size) + " bytes");
  }
  if (used > max_bytes) return over_limit(std::to_string(used));
  bytes.resize(used);
  ::close(fd);
  return bytes;
}

}  // namespace gantry

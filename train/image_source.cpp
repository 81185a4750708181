// open_image_folder (dataset.h): an image folder as a DataSource, and its
// decoded cache. Every image is decoded with io/image_folder.h's pipeline to
// C·S·S bytes; with a cache directory those bytes are also written, as they
// are decoded, into one file per (folder contents, size, channels):
//   "gantry-data-<key>.u8": "GNTRYDC1", key, rows (u64), channels, size (u32),
//                           one status byte per row (1 decoded, 2 unreadable),
//                           then rows × C·S·S pixel bytes
// The key hashes (FNV-1a, 64 bits) every file's path, class, size and
// modification time with S and C, so a changed folder gets a new cache. The
// file is built as "<name>.tmp-<pid>" and renamed into place once every row
// has been read (the end of the first epoch), so a cache on disk is always
// whole; a run killed earlier leaves a temporary that the next run removes.
// Reads use pread, not a mapping: the kernel's page cache keeps the file warm
// either way, and a mapping would count every touched page in the process's
// resident set. A cache that cannot be written (a full disk) is dropped, and
// the run goes on decoding; status() says so.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "io/image_folder.h"
#include "train/dataset.h"

namespace gantry {
namespace {

constexpr char kMagic[8] = {'G', 'N', 'T', 'R', 'Y', 'D', 'C', '1'};
constexpr int64_t kHeaderBytes = 32;
constexpr uint8_t kDecoded = 1, kUnreadable = 2;

struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void add(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 1099511628211ull;
  }
  template <class T>
  void add(const T& v) {
    add(&v, sizeof v);
  }
  void add(const std::string& s) { add(s.data(), s.size() + 1); }
};

bool write_all(int fd, const void* p, size_t n, int64_t offset) {
  const char* c = static_cast<const char*>(p);
  while (n) {
    const ssize_t k = ::pwrite(fd, c, n, offset);
    if (k <= 0) return false;
    c += k, n -= size_t(k), offset += k;
  }
  return true;
}

bool read_all(int fd, void* p, size_t n, int64_t offset) {
  char* c = static_cast<char*>(p);
  while (n) {
    const ssize_t k = ::pread(fd, c, n, offset);
    if (k <= 0) return false;
    c += k, n -= size_t(k), offset += k;
  }
  return true;
}

class ImageFolderSource final : public DataSource {
 public:
  ImageFolderSource(ImageFolder folder, int size, int channels, int64_t limit)
      : folder_(std::move(folder)), size_(size), bytes_(size_t(channels) * size * size) {
    if (limit > 0 && limit < int64_t(folder_.files.size())) folder_.files.resize(size_t(limit));
    rows_ = int64_t(folder_.files.size());
    image_ = Shape{channels, size, size};
    class_names_ = folder_.class_names;
    description_ = std::to_string(rows_) + " images (" + (channels == 1 ? "gray" : "RGB") + ") from " + folder_.root;
    if (!class_names_.empty()) description_ += ", " + std::to_string(class_names_.size()) + " classes";
    for (const SkippedFile& f : folder_.skipped) warnings_.push_back("skipped image '" + f.path + "': " + f.reason);
  }
  ~ImageFolderSource() override {
    if (fd_ >= 0) ::close(fd_);
    if (!tmp_.empty()) ::unlink(tmp_.c_str());
  }

  void open_cache(const std::string& dir);
  std::string cache_status() const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!writing_) return cache_;
    const double bytes = double(offset(rows_));
    char size[32];
    std::snprintf(size, sizeof size, bytes < 1e6 ? "%.0f kB" : "%.1f MB", bytes < 1e6 ? bytes / 1e3 : bytes / 1e6);
    return "cache: " + path_ + " (" + size + ", writing: " + std::to_string(known_.load()) + " of " +
           std::to_string(rows_) + " images read; kept once all are)";
  }
  Status read(int64_t row, float* pixels, float* label) override;

 private:
  Status decode(int64_t row);
  void drop_cache(const std::string& why);
  void finish_cache();
  int64_t offset(int64_t row) const { return kHeaderBytes + rows_ + row * int64_t(bytes_.size()); }

  ImageFolder folder_;
  int size_;
  std::vector<uint8_t> bytes_;  // one decoded image, [C, S, S]
  // The cache: fd_ ≥ 0 while one is open; complete_ once it holds every row.
  int fd_ = -1;
  bool complete_ = false;
  uint64_t key_ = 0;
  std::string path_, tmp_;
  std::vector<uint8_t> status_;  // per row: 0 not read yet, kDecoded, kUnreadable
  std::atomic<int64_t> known_{0};
  mutable std::mutex mu_;  // guards writing_ and cache_, which the main thread reads
  bool writing_ = false;
  std::string cache_;  // when not writing: the cache's state; empty without one
};

void ImageFolderSource::open_cache(const std::string& dir) {
  namespace fs = std::filesystem;
  Fnv key;
  key.add(std::string("gantry-data-cache-1"));
  key.add(int32_t(size_)), key.add(int32_t(image_[0]));
  for (const ImageFile& f : folder_.files) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0) return drop_cache("cannot stat " + f.path);
    key.add(f.path), key.add(f.label), key.add(int64_t(st.st_size)), key.add(int64_t(st.st_mtim.tv_sec)),
        key.add(int64_t(st.st_mtim.tv_nsec));
  }
  key_ = key.h;
  char name[64];
  std::snprintf(name, sizeof name, "gantry-data-%016llx.u8", static_cast<unsigned long long>(key_));
  path_ = (fs::path(dir) / name).string();
  std::error_code ec;
  fs::create_directories(dir, ec);
  // Temporaries of this cache whose writer is gone: a run killed in its first epoch.
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string(), prefix = std::string(name) + ".tmp-";
    if (n.rfind(prefix, 0) != 0) continue;
    const long pid = std::strtol(n.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove(it->path(), ec);
  }
  status_.assign(size_t(rows_), 0);
  const int64_t total = offset(rows_);
  if (const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC); fd >= 0) {
    char header[kHeaderBytes] = {};
    uint64_t k = 0, rows = 0;
    uint32_t c = 0, s = 0;
    struct stat st {};
    const bool ok = read_all(fd, header, sizeof header, 0) && ::fstat(fd, &st) == 0 && st.st_size == total &&
                    read_all(fd, status_.data(), status_.size(), kHeaderBytes);
    std::memcpy(&k, header + 8, 8), std::memcpy(&rows, header + 16, 8), std::memcpy(&c, header + 24, 4),
        std::memcpy(&s, header + 28, 4);
    bool statuses = ok;
    for (uint8_t b : status_) statuses = statuses && (b == kDecoded || b == kUnreadable);
    if (statuses && std::memcmp(header, kMagic, 8) == 0 && k == key.h && int64_t(rows) == rows_ &&
        int(c) == image_[0] && int(s) == size_) {
      fd_ = fd, complete_ = true, known_ = rows_;
      cache_ = "cache: " + path_ + " (reading)";
      return;
    }
    ::close(fd);
    fs::remove(path_, ec);  // not this folder's, or damaged: rebuilt below
    status_.assign(size_t(rows_), 0);
  }
  tmp_ = path_ + ".tmp-" + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0 || ::ftruncate(fd_, total) != 0) return drop_cache("cannot create " + tmp_ + ": " + std::strerror(errno));
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = true;
}

void ImageFolderSource::drop_cache(const std::string& why) {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  fd_ = -1, complete_ = false, tmp_.clear();
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  cache_ = "cache: off (" + why + ")";
}

void ImageFolderSource::finish_cache() {
  char header[kHeaderBytes] = {};
  const uint64_t rows = uint64_t(rows_);
  const uint32_t c = uint32_t(image_[0]), s = uint32_t(size_);
  std::memcpy(header, kMagic, 8), std::memcpy(header + 16, &rows, 8), std::memcpy(header + 24, &c, 4),
      std::memcpy(header + 28, &s, 4);
  std::memcpy(header + 8, &key_, 8);
  if (!write_all(fd_, status_.data(), status_.size(), kHeaderBytes) || !write_all(fd_, header, sizeof header, 0) ||
      ::fsync(fd_) != 0 || ::rename(tmp_.c_str(), path_.c_str()) != 0)
    return drop_cache("writing " + tmp_ + ": " + std::strerror(errno));
  tmp_.clear();
  complete_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  writing_ = false;
  cache_ = "cache: " + path_ + " (complete)";
}

Status ImageFolderSource::decode(int64_t row) {
  const std::string& path = folder_.files[size_t(row)].path;
  if (complete_) {
    if (status_[size_t(row)] == kUnreadable) return Status::error(path + ": unreadable (as when the cache was made)");
    if (read_all(fd_, bytes_.data(), bytes_.size(), offset(row))) return {};
    drop_cache("reading " + path_ + ": " + std::strerror(errno));
  }
  const Status s = decode_image(path, size_, int(image_[0]), bytes_.data());
  if (fd_ >= 0 && status_[size_t(row)] == 0) {
    status_[size_t(row)] = s.ok() ? kDecoded : kUnreadable;
    if (s.ok() && !write_all(fd_, bytes_.data(), bytes_.size(), offset(row)))
      drop_cache("writing " + tmp_ + ": " + std::strerror(errno));
    else if (++known_ == rows_)
      finish_cache();
  }
  return s;
}

Status ImageFolderSource::read(int64_t row, float* pixels, float* label) {
  GANTRY_TRY(decode(row));
  for (size_t i = 0; i < bytes_.size(); ++i) pixels[i] = float(bytes_[i]) / 127.5f - 1.0f;
  *label = float(folder_.files[size_t(row)].label);
  return {};
}

}  // namespace

Result<std::unique_ptr<DataSource>> open_image_folder(const std::string& path, const DataOptions& o) {
  // Images at least a quarter of the model's size a side: more than 4×
  // upscaling makes pictures a GAN should not learn from.
  const int min_side = std::max(1, o.size / 4);
  auto folder = scan_image_folder(path, o.classes, min_side);
  if (!folder.ok()) return folder.status();
  int channels = o.channels;
  if (!channels) {
    channels = 1;
    for (const ImageFile& f : folder->files) channels = f.channels >= 3 ? 3 : channels;
  }
  auto source = std::make_unique<ImageFolderSource>(std::move(*folder), o.size, channels, o.limit);
  if (!o.cache_dir.empty()) source->open_cache(o.cache_dir);
  return std::unique_ptr<DataSource>(std::move(source));
}

}  // namespace gantry

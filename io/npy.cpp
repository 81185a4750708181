// .npy reader and writer; see npy.h. The header is a Python literal, parsed
// here by a tiny parser that knows only what NumPy writes into it: a dict with
// quoted keys, a quoted dtype, True/False and a tuple of integers (the 1-tuple
// spelled "(5,)", the 0-d shape "()", Python 2's "5L" accepted). Errors name
// the file. Checked by tests/test_formats.cpp.
#include "io/npy.h"

#include <algorithm>
#include <string_view>

#include "io/format_bytes.h"
#include "platform/atomic_file.h"

namespace gantry {
namespace {

using format_bytes::load_le;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;
// NumPy aligns the data to 64 bytes so that it can be memory-mapped and read
// with aligned vector loads; we write it the same way.
constexpr size_t kDataAlign = 64;

struct Header {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
};

class HeaderParser {
 public:
  explicit HeaderParser(std::string_view s) : s_(s) {}

  // Empty string on success, else what is wrong and where.
  std::string parse(Header* h) {
    bool seen[3] = {false, false, false};
    if (!eat('{')) return where("expected '{'");
    while (!eat('}')) {
      std::string key;
      if (!quoted(&key)) return where("expected a quoted key or '}'");
      if (!eat(':')) return where("expected ':' after '" + key + "'");
      const int k = key == "descr" ? 0 : key == "fortran_order" ? 1 : key == "shape" ? 2 : -1;
      if (k < 0) return where("unexpected key '" + key + "' (expected descr, fortran_order, shape)");
      if (seen[k]) return where("key '" + key + "' appears twice");
      seen[k] = true;
      if (k == 0 && !quoted(&h->descr))
        return where("descr must be a dtype string such as '<f4' (structured dtypes are not supported)");
      if (k == 1 && !boolean(&h->fortran_order)) return where("fortran_order must be True or False");
      if (k == 2 && !tuple(&h->shape)) return where("shape must be a tuple of non-negative integers");
      if (!eat(',') && !peek_is('}')) return where("expected ',' or '}'");
    }
    skip_ws();
    if (pos_ != s_.size()) return where("unexpected text after the dict");
    if (!seen[0] || !seen[1] || !seen[2])
      return std::string("header is missing '") + (!seen[0] ? "descr" : !seen[1] ? "fortran_order" : "shape") + "'";
    return "";
  }

 private:
  std::string where(const std::string& what) const {
    return what + " at header byte " + std::to_string(pos_) + " in \"" + std::string(s_.substr(0, 120)) + "\"";
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\t' || s_[pos_] == '\r')) ++pos_;
  }
  bool peek_is(char c) {
    skip_ws();
    return pos_ < s_.size() && s_[pos_] == c;
  }
  bool eat(char c) {
    if (!peek_is(c)) return false;
    ++pos_;
    return true;
  }
  bool eat_word(std::string_view w) {
    skip_ws();
    if (!s_.substr(pos_).starts_with(w)) return false;
    pos_ += w.size();
    return true;
  }
  bool quoted(std::string* out) {
    skip_ws();
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) return false;
    const size_t close = s_.find(s_[pos_], pos_ + 1);
    if (close == std::string_view::npos) return false;
    out->assign(s_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    return true;
  }
  bool boolean(bool* out) {
    if (eat_word("True")) return *out = true, true;
    if (eat_word("False")) return *out = false, true;
    return false;
  }
  bool tuple(std::vector<int64_t>* out) {
    if (!eat('(')) return false;
    while (!eat(')')) {
      skip_ws();
      int64_t v = 0;
      const size_t start = pos_;
      for (; pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9'; ++pos_)
        if (__builtin_mul_overflow(v, int64_t(10), &v) || __builtin_add_overflow(v, int64_t(s_[pos_] - '0'), &v))
          return false;
      if (pos_ == start) return false;
      eat_word("L");
      out->push_back(v);
      if (!eat(',') && !peek_is(')')) return false;
    }
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<NpyArray> parse_npy(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  auto fail = [&](const std::string& what) { return Status::error("npy file '" + name_for_errors + "': " + what); };
  const size_t head = std::min(bytes.size(), kMagicBytes);
  if (std::string_view(reinterpret_cast<const char*>(bytes.data()), head) != std::string_view(kMagic, head))
    return fail("bad magic: a .npy file starts with \"\\x93NUMPY\"");
  if (bytes.size() < kMagicBytes + 2)
    return fail("truncated: the file is only " + std::to_string(bytes.size()) + " bytes");
  const int major = int(bytes[6]), minor = int(bytes[7]);
  // Version 2.0 only widens the header length to 4 bytes (for huge structured
  // dtypes); 3.0 adds UTF-8 field names, which a float array never has.
  const size_t len_bytes = major == 1 && minor == 0 ? 2 : major == 2 && minor == 0 ? 4 : 0;
  if (len_bytes == 0)
    return fail("unsupported format version " + std::to_string(major) + "." + std::to_string(minor) +
                " (gantry reads 1.0 and 2.0)");
  const size_t prefix = kMagicBytes + 2 + len_bytes;
  if (bytes.size() < prefix) return fail("truncated: the file ends inside the header length");
  const uint64_t header_bytes = load_le(bytes.data() + kMagicBytes + 2, int(len_bytes));
  if (header_bytes > bytes.size() - prefix)
    return fail("header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                std::to_string(bytes.size()) + " bytes)");

  Header h;
  const std::string err = HeaderParser({reinterpret_cast<const char*>(bytes.data()) + prefix, header_bytes}).parse(&h);
  if (!err.empty()) return fail("bad header: " + err);
  size_t item_bytes = 0;
  if (h.descr == "<f4")
    item_bytes = 4;
  else if (h.descr == "<f8")
    item_bytes = 8;
  else if (h.descr == ">f4" || h.descr == ">f8")
    return fail("big-endian data ('" + h.descr + "') is not supported; save it as '<f4' (e.g. a.astype('<f4'))");
  else
    return fail("dtype '" + h.descr + "' is not supported (gantry reads '<f4' and '<f8')");
  if (h.fortran_order)
    return fail("fortran_order is True; gantry reads C-order arrays only (save np.ascontiguousarray(a))");
  if (h.shape.size() > size_t(kMaxRank))
    return fail("rank " + std::to_string(h.shape.size()) + " is more than gantry's maximum of " +
                std::to_string(kMaxRank));

  NpyArray a;
  for (int64_t d : h.shape) a.shape.d[a.shape.rank++] = d;
  // Shape::numel() and strides multiply in int64 in any order, and a zero
  // dimension does not keep the partial products small: the non-zero
  // dimensions alone must multiply without overflow.
  int64_t nonzero = 1;
  for (int64_t d : h.shape)
    if (d != 0 && __builtin_mul_overflow(nonzero, d, &nonzero))
      return fail("shape " + a.shape.str() + " has more elements than a 64-bit integer holds");
  uint64_t want = 0;
  const bool fits = format_bytes::mul_fits(item_bytes, uint64_t(a.shape.numel()), &want);
  const uint64_t have = bytes.size() - prefix - header_bytes;
  if (!fits || want > have)
    return fail("truncated data: shape " + a.shape.str() + " of '" + h.descr + "' needs " +
                (fits ? std::to_string(want) : std::string("more than 2^64")) + " bytes but " + std::to_string(have) +
                " follow the header");
  if (want < have)
    return fail(std::to_string(have - want) + " unexpected bytes after the " + std::to_string(want) +
                " bytes of shape " + a.shape.str());

  a.data.resize(size_t(a.shape.numel()));
  const std::byte* p = bytes.data() + prefix + header_bytes;
  for (float& x : a.data) {
    x = item_bytes == 4 ? format_bytes::f32_from_le(p) : format_bytes::f64_from_le(p);
    p += item_bytes;
  }
  return a;
}

Result<NpyArray> read_npy(const std::string& path) { return format_bytes::parse_file(path, parse_npy); }

Result<std::vector<std::byte>> serialize_npy(const Shape& shape, std::span<const float> data) {
  if (const std::string problem = format_bytes::shape_problem(shape, data.size()); !problem.empty())
    return Status::error("npy: " + problem);
  // repr() of the shape tuple: "()", "(5,)", "(2, 3)".
  std::string dims = "(";
  for (int i = 0; i < shape.rank; ++i) dims += (i ? ", " : "") + std::to_string(shape.d[i]);
  dims += shape.rank == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + dims + ", }";
  // Pad with spaces and end with '\n' so that the data starts at a multiple of 64.
  const size_t prefix = kMagicBytes + 2 + 2;
  header.append((kDataAlign - (prefix + header.size() + 1) % kDataAlign) % kDataAlign, ' ');
  header += '\n';

  std::vector<std::byte> out;
  out.reserve(prefix + header.size() + 4 * data.size());
  format_bytes::append_text(out, std::string_view(kMagic, kMagicBytes));
  out.push_back(std::byte{1});
  out.push_back(std::byte{0});
  format_bytes::append_le(out, header.size(), 2);
  format_bytes::append_text(out, header);
  format_bytes::append_f32_le(out, data);
  return out;
}

Status write_npy(const std::string& path, const Shape& shape, std::span<const float> data) {
  Result<std::vector<std::byte>> bytes = serialize_npy(shape, data);
  if (!bytes.ok()) return Status::error(bytes.message() + " (writing '" + path + "')");
  return write_file_atomic(path, bytes.value());
}

}  // namespace gantry

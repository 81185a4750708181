// Image folders; see image_folder.h. The scan reads only headers (the first
// 64 KiB of a file, the whole file when a JPEG's frame header lies beyond
// that); decoding is stb_image's, behind this file's own checks, all made
// before any pixel is decoded: the size limits, and truncation, which
// stb_image fills in silently for JPEG, BMP and TGA (a PNG's chunks must
// reach IEND, a JPEG needs its end-of-image marker after the first scan, a
// BMP or uncompressed TGA needs the bytes its header promises). The channel
// conversions work in place in stb_image's buffer, and the Resize +
// CenterCrop filter is computed for the cropped window only, one source row
// at a time into a ring of filtered rows, so memory beyond the decoded image
// stays small. Checked by tests/test_image_folder.cpp.
#include "io/image_folder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <string_view>

#include "platform/atomic_file.h"

// STATIC keeps stb's symbols private to this file (as io/image.cpp does for
// stb_image_write); only the four formats gantry reads are compiled in, and
// files are read here, not by stb (NO_STDIO). The header comes from a SYSTEM
// include directory, which keeps its warnings out of -Werror builds.
// STBI_MAX_DIMENSIONS is stb's own ceiling (PNG and JPEG headers over it fail
// to read, "too large"); kMaxSide below is checked on every header that does
// read, BMP and TGA included, before anything is decoded.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 16384
// Every buffer stb_image allocates starts zeroed: where a damaged file leaves
// part of a buffer unwritten (stb_image 2.27 ends a JPEG scan early, without
// an error, when a restart marker is missing, and keeps the rest of the
// image's planes as allocated), the picture has zeros there rather than
// whatever the heap held, and decoding one file always gives the same result
// (tests/fuzz found two decodes of one file differing).
#define STBI_MALLOC(size) std::calloc(1, size)
#define STBI_REALLOC(p, size) std::realloc(p, size)
#define STBI_FREE(p) std::free(p)
#include "stb_image.h"

namespace gantry {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxSide = STBI_MAX_DIMENSIONS;
constexpr int64_t kMaxPixels = int64_t(1) << 26;         // 256 MiB decoded as RGBA
constexpr uint64_t kMaxFileBytes = uint64_t(256) << 20;  // also keeps sizes within stb's int
constexpr size_t kHeaderPrefix = size_t(64) << 10;

enum class Format { kPng, kJpeg, kBmp, kTga };

const char* format_name(Format f) {
  switch (f) {
    case Format::kPng:
      return "PNG";
    case Format::kJpeg:
      return "JPEG";
    case Format::kBmp:
      return "BMP";
    case Format::kTga:
      return "TGA";
  }
  return "?";
}

uint32_t be16(const uint8_t* p) { return uint32_t(p[0]) << 8 | p[1]; }
uint32_t be32(const uint8_t* p) { return be16(p) << 16 | be16(p + 2); }
uint32_t le16(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
uint32_t le32(const uint8_t* p) { return le16(p) | le16(p + 2) << 16; }

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// The format its signature names. TGA has none, so bytes without a PNG, JPEG
// or BMP signature count as TGA only when the name does not promise another
// format: random bytes called x.png are "not an image", not a guessed TGA.
bool sniff(std::span<const uint8_t> b, const std::string& name, Format* f) {
  static const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 8 && std::memcmp(b.data(), kPngSignature, 8) == 0) return *f = Format::kPng, true;
  if (b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return *f = Format::kJpeg, true;
  if (b.size() >= 2 && b[0] == 'B' && b[1] == 'M') return *f = Format::kBmp, true;
  const std::string ext = lower_extension(name);
  if (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp") return false;
  return *f = Format::kTga, true;
}

std::string size_text(int64_t w, int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

struct Header {
  Format format = Format::kPng;
  int width = 0, height = 0, channels = 0;
};

// ---- checks on the data: truncation, which stb_image does not report for
// JPEG, BMP and TGA, and what stb_image 2.27 cannot read safely

std::string chunk_name(const uint8_t* p) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += std::isalpha(p[i]) ? char(p[i]) : '?';
  return s;
}

// Every chunk (length, type, data, CRC) must lie within the file, up to IEND.
std::string png_truncation(std::span<const uint8_t> b) {
  size_t at = 8;
  for (;;) {
    if (at + 8 > b.size()) return "truncated: the PNG ends before its IEND chunk";
    const uint64_t length = be32(&b[at]);
    const std::string type = chunk_name(&b[at + 4]);
    if (at + 12 + length > b.size())
      return "truncated: the PNG ends inside its " + type + " chunk (" + std::to_string(length) + " bytes declared, " +
             std::to_string(b.size() - std::min(b.size(), at + 8)) + " left)";
    if (type == "IEND") return "";
    at += 12 + length;
  }
}

// stb_image 2.27 (Debian 12's libstb-dev) writes the code lengths of a
// Huffman table (DHT) into an array of 257 whatever the table's code count,
// up to 16 · 255; tests/fuzz found it, and stb_image 2.28 refuses such a
// table. stb_image reads the 17 bytes of a table's header even past the end
// of its segment (and zeros past the end of the file), so this does too.
std::string huffman_table_problem(std::span<const uint8_t> b, size_t at, int64_t left) {
  auto byte = [&](size_t i) { return i < b.size() ? b[i] : uint8_t(0); };
  while (left > 0) {
    const uint8_t q = byte(at);
    if (q >> 4 > 1 || (q & 15) > 3) return "";  // stb_image refuses it: "bad DHT header"
    int codes = 0;
    for (size_t i = 1; i <= 16; ++i) codes += byte(at + i);
    if (codes > 256)
      return "corrupt JPEG: a Huffman table of " + std::to_string(codes) + " codes, over the 256 one can hold";
    left -= 17 + codes;
    at += 17 + size_t(codes);
  }
  return "";
}

// Walks a JPEG as stb_image reads it (ITU-T T.81, B.1.1): marker segments by
// their lengths, and after an SOS the entropy-coded data, where FF is always
// followed by 00 (a stuffed FF), D0-D7 (a restart marker) or more FF (fill),
// so that the first other FF xx is the next marker. Every Huffman table must
// be one stb_image can hold (without `whole`, those before the first scan,
// which stbi_info reads); with `whole`, the walk must also reach the EOI
// marker (FF D9) after a scan, which a file cut short does not: stb_image
// itself fills a truncated scan in without an error. Segments being skipped
// by their lengths, an EXIF thumbnail (a whole JPEG inside APP1) cannot stand
// in for the image's own scan or EOI. Markers stb_image refuses end the walk:
// its message is the better one.
std::string jpeg_problem(std::span<const uint8_t> b, bool whole) {
  const size_t n = b.size();
  const std::string no_scan = "truncated: the JPEG ends before its first scan";
  size_t at = 2;
  bool in_scan = false, scanned = false;
  for (;;) {
    while (at + 1 < n) {
      const uint8_t next = b[at + 1];
      if (b[at] == 0xff && next != 0xff && !(in_scan && (next == 0x00 || (next >= 0xd0 && next <= 0xd7)))) break;
      ++at;  // scan data, stuffing, fill, or bytes between segments (stb_image skips them)
    }
    if (at + 1 >= n) {
      if (!whole) return "";
      return scanned ? "truncated: no JPEG end-of-image marker after the scan" : no_scan;
    }
    const uint8_t m = b[at + 1];
    if (m == 0xd9) return scanned || !whole ? "" : no_scan;
    const bool segment = (m >= 0xc0 && m <= 0xc2) || m == 0xc4 || (m >= 0xda && m <= 0xdd) ||
                         (m >= 0xe0 && m <= 0xef) || m == 0xfe;  // SOF0-2, DHT, SOS, DQT, DNL, DRI, APPn, COM
    if (!segment) return "";
    if (at + 4 > n) return whole ? "truncated: the JPEG ends inside a marker" : "";
    const size_t length = be16(&b[at + 2]);
    if (m == 0xc4)
      if (std::string why = huffman_table_problem(b, at + 4, int64_t(length) - 2); !why.empty()) return why;
    if (length < 2) return "";  // stb_image refuses it
    at += 2 + length;
    in_scan = m == 0xda;
    scanned = scanned || in_scan;
    if (scanned && !whole) return "";  // the frame header and its tables come before
  }
}

// Uncompressed rows are at the header's offset, each padded to 4 bytes (the
// last one's padding may be missing: stb_image does not read it). Row y here
// is the y-th stored, bottom-up or not.
std::string bmp_problem(std::span<const uint8_t> b, const Header& h) {
  if (b.size() < 30) return "";
  const uint64_t offset = le32(&b[10]), header_size = le32(&b[14]);
  uint64_t bpp = 0, compression = 0;
  if (header_size == 12) {
    bpp = le16(&b[24]);
  } else {
    if (b.size() < 34) return "";
    bpp = le16(&b[28]);
    compression = le32(&b[30]);
  }
  if (compression == 1 || compression == 2) return "";  // stb_image refuses RLE; other values read as raw
  const uint64_t row = (uint64_t(h.width) * bpp + 7) / 8, stride = (uint64_t(h.width) * bpp + 31) / 32 * 4;
  const uint64_t need = offset + (uint64_t(h.height) - 1) * stride + row;
  if (need > b.size())
    return "truncated: its " + size_text(h.width, h.height) + " BMP needs " + std::to_string(need) +
           " bytes, the file has " + std::to_string(b.size());
  if (bpp != 1 && bpp != 4 && bpp != 8) return "";
  // stb_image 2.27 keeps the palette in an uninitialized array of 256 and
  // reads whatever an index past the palette finds there (tests/fuzz saw
  // two decodes of one file differ), so every index must be in the palette,
  // whose size stb_image derives from the pixel data's offset.
  const int64_t palette =
      header_size == 12 ? (int64_t(offset) - 38) / 3 : (int64_t(offset) - 14 - int64_t(header_size)) / 4;
  if (palette > 256) return "";  // stb_image refuses it
  // stb_image refuses 0 but not fewer, and then reads no palette at all.
  if (palette < 1)
    return "corrupt BMP: its pixel data offset " + std::to_string(offset) + " leaves no room for a palette";
  for (uint64_t y = 0; y < uint64_t(h.height); ++y) {
    const uint8_t* line = &b[offset + y * stride];
    for (uint64_t x = 0; x < uint64_t(h.width); ++x) {
      const int index = bpp == 8   ? line[x]
                        : bpp == 4 ? line[x / 2] >> (x % 2 ? 0 : 4) & 15
                                   : line[x / 8] >> (7 - x % 8) & 1;
      if (index >= palette)
        return "corrupt BMP: pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") has colour " +
               std::to_string(index) + ", past its palette of " + std::to_string(palette);
    }
  }
  return "";
}

// An uncompressed TGA (types 1, 2, 3) needs at least the 18-byte header, the
// image ID and width·height pixels after them; the run-length coded types
// cannot be checked without decoding.
std::string tga_truncation(std::span<const uint8_t> b, const Header& h) {
  if (b.size() < 18 || b[2] < 1 || b[2] > 3) return "";
  const uint64_t need = 18 + uint64_t(b[0]) + uint64_t(h.width) * uint64_t(h.height) * ((uint64_t(b[16]) + 7) / 8);
  if (need <= b.size()) return "";
  return "truncated: its " + size_text(h.width, h.height) + " TGA needs at least " + std::to_string(need) +
         " bytes, the file has " + std::to_string(b.size());
}

// stb_image 2.27 keeps a PNG's palette in an uninitialized array of 256
// entries and gives a pixel whose index lies past the file's palette whatever
// that entry holds (tests/fuzz saw two decodes of one file differ). So a
// palette image is decoded from a copy whose first PLTE chunk is extended to
// 256 entries, the new ones black: such pixels are black, every time. (A
// later PLTE only overwrites entries; stb_image checks no CRC, so the copy
// keeps the old one.) Empty when the file needs no copy.
std::vector<uint8_t> png_with_full_palette(std::span<const uint8_t> b) {
  constexpr size_t kFull = 256 * 3;
  if (b.size() < 33 || b[25] != 3) return {};  // IHDR's colour type: 3 is a palette
  for (size_t at = 8; at + 12 <= b.size();) {
    const size_t length = be32(&b[at]);
    const std::string type = chunk_name(&b[at + 4]);
    if (type == "IDAT" || type == "IEND") return {};
    if (type == "PLTE") {
      if (length >= kFull || length % 3 != 0) return {};  // full, or refused by stb_image
      std::vector<uint8_t> out(b.begin(), b.begin() + long(at));
      out.insert(out.end(), {0, 0, kFull >> 8, kFull & 0xff, 'P', 'L', 'T', 'E'});
      out.insert(out.end(), b.begin() + long(at + 8), b.begin() + long(at + 8 + length));
      out.resize(out.size() + kFull - length, 0);
      out.insert(out.end(), b.begin() + long(at + 8 + length), b.end());  // the CRC, then the rest
      return out;
    }
    at += 12 + length;
  }
  return {};
}

std::string data_problem(std::span<const uint8_t> b, const Header& h) {
  switch (h.format) {
    case Format::kPng:
      return png_truncation(b);
    case Format::kJpeg:
      return jpeg_problem(b, true);
    case Format::kBmp:
      return bmp_problem(b, h);
    case Format::kTga:
      return tga_truncation(b, h);
  }
  return "";
}

// stbi_info for the one format `f`. stbi_info_from_memory would try every
// format in turn and leave the last one's failure ("unknown image type") as
// the reason; asking the format's own reader (stb_image's internal function,
// compiled into this file) keeps its reason ("too large", "bad IHDR len").
bool header_info(Format f, std::span<const uint8_t> bytes, int* w, int* h, int* comp) {
  stbi__context s;
  stbi__start_mem(&s, bytes.data(), int(bytes.size()));
  stbi__g_failure_reason = nullptr;  // thread-local: no stale reason from an earlier file
  switch (f) {
    case Format::kPng:
      return stbi__png_info(&s, w, h, comp);
    case Format::kJpeg:
      return stbi__jpeg_info(&s, w, h, comp);
    case Format::kBmp:
      // A negative height means rows stored top first; stb_image's loader
      // takes its absolute value, its info function does not.
      if (!stbi__bmp_info(&s, w, h, comp)) return false;
      if (*h == std::numeric_limits<int>::min()) {
        stbi__err("bad height", "Corrupt BMP");
        return false;
      }
      *h = std::abs(*h);
      return true;
    case Format::kTga:
      return stbi__tga_info(&s, w, h, comp);
  }
  return false;
}

// Why the header in `bytes` is unusable, or "" with `h` filled in.
std::string header_problem(std::span<const uint8_t> bytes, const std::string& name, Header* h) {
  if (bytes.empty()) return "empty file";
  if (bytes.size() > kMaxFileBytes)
    return std::to_string(bytes.size()) + " bytes, over the " + std::to_string(kMaxFileBytes >> 20) +
           " MiB gantry reads as one image";
  if (!sniff(bytes, name, &h->format)) return "not a PNG, JPEG, BMP or TGA image";
  // The Huffman tables before the frame header are read with it.
  if (h->format == Format::kJpeg)
    if (std::string why = jpeg_problem(bytes, false); !why.empty()) return why;
  if (!header_info(h->format, bytes, &h->width, &h->height, &h->channels)) {
    if (h->format == Format::kTga) return "not a PNG, JPEG, BMP or TGA image";
    const char* reason = stbi_failure_reason();
    const std::string why = reason ? reason : "unknown error";
    if (why == "too large")
      return std::string("its ") + format_name(h->format) + " header claims over " + std::to_string(kMaxSide) +
             " pixels a side (stb_image: too large)";
    return std::string("corrupt ") + format_name(h->format) + " header (stb_image: " + why + ")";
  }
  if (h->width < 1 || h->height < 1) return "no pixels: its header says " + size_text(h->width, h->height);
  if (h->width > kMaxSide || h->height > kMaxSide || int64_t(h->width) * h->height > kMaxPixels)
    return size_text(h->width, h->height) + " pixels, over the " + std::to_string(kMaxSide) +
           " a side and 2^26 in all that gantry decodes";
  return "";
}

// ---- channels, in place in the decoded buffer [pixels, comp]

// ITU-R BT.601 luma, rounded to the nearest integer (PIL's convert("L") uses
// the same weights in fixed point).
uint8_t luma(const uint8_t* p) { return uint8_t((299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000); }

// Keeps the first `keep` of every `comp` bytes: gray from gray + alpha, RGB
// from RGBA. Moving forward never overwrites a byte not yet read.
void keep_channels(uint8_t* px, size_t pixels, int comp, int keep) {
  for (size_t i = 0; i < pixels; ++i)
    for (int c = 0; c < keep; ++c) px[i * size_t(keep) + size_t(c)] = px[i * size_t(comp) + size_t(c)];
}

void to_luma(uint8_t* px, size_t pixels, int comp) {
  for (size_t i = 0; i < pixels; ++i) px[i] = luma(px + i * size_t(comp));
}

// ---- Resize + CenterCrop

// Python's round(d / 2.0) for an integer d >= 0, as torchvision's CenterCrop
// computes its offsets: a half goes to the even neighbour (round(0.5) == 0,
// round(1.5) == 2).
int64_t half_rounded_to_even(int64_t d) {
  const int64_t q = d / 2;
  return d % 2 == 1 && q % 2 == 1 ? q + 1 : q;
}

// The taps of outputs [begin, begin + n) of one dimension resized from `in`
// to `out` pixels: output o's centre maps to c = (o + 0.5) · in / out in
// source coordinates, and source pixel x (centre x + 0.5) weighs
// max(0, 1 − |x + 0.5 − c| / support), support = max(in / out, 1): a
// triangle, widened when shrinking so that every source pixel counts. Taps
// outside [0, in) are left out and the rest normalized to sum 1, which
// clamps the image at its borders.
struct Taps {
  std::vector<int> first;   // [n] the first source pixel of each output
  std::vector<int> offset;  // [n + 1] each output's weights are weight[offset[i] .. offset[i + 1])
  std::vector<float> weight;
  int count(int i) const { return offset[size_t(i) + 1] - offset[size_t(i)]; }
  const float* weights(int i) const { return &weight[size_t(offset[size_t(i)])]; }
};

Taps triangle_taps(int in, int64_t out, int64_t begin, int n) {
  const double scale = double(in) / double(out), support = std::max(scale, 1.0);
  Taps t;
  t.first.resize(size_t(n));
  t.offset.assign(1, 0);
  std::vector<double> w;
  for (int i = 0; i < n; ++i) {
    const double c = (double(begin + i) + 0.5) * scale;
    const int lo = std::max(0, int(std::floor(c - support - 0.5)));
    const int hi = std::min(in - 1, int(std::ceil(c + support - 0.5)));
    w.clear();
    int first = -1;
    double sum = 0;
    for (int x = lo; x <= hi; ++x) {
      const double v = std::max(0.0, 1.0 - std::fabs(double(x) + 0.5 - c) / support);
      if (v <= 0 && first < 0) continue;  // leading zero weights
      if (first < 0) first = x;
      w.push_back(v);
      sum += v;
    }
    while (!w.empty() && w.back() <= 0) w.pop_back();  // trailing ones
    GANTRY_CHECK(first >= 0 && sum > 0);               // the pixel under c always weighs over 0.5
    t.first[size_t(i)] = first;
    for (double v : w) t.weight.push_back(float(v / sum));
    t.offset.push_back(int(t.weight.size()));
  }
  return t;
}

// Round half up, once, at the very end.
uint8_t to_byte(float v) { return uint8_t(std::clamp(std::floor(v + 0.5f), 0.0f, 255.0f)); }

}  // namespace

bool is_image_file(const std::string& path) {
  const std::string ext = lower_extension(path);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" || ext == ".tga";
}

void resize_center_crop(const uint8_t* src, int h, int w, int channels, int size, uint8_t* out) {
  GANTRY_CHECK(h >= 1 && w >= 1 && size >= 1 && channels >= 1 && channels <= 4);
  // torchvision Resize(size) with one int: the shorter side becomes size, the
  // longer int(size · long / short) (Python's true division, truncated).
  int64_t new_h = size, new_w = size;
  if (h <= w)
    new_w = int64_t(double(int64_t(size) * w) / double(h));
  else
    new_h = int64_t(double(int64_t(size) * h) / double(w));
  // CenterCrop(size) of that: only these rows and columns are computed.
  const Taps ty = triangle_taps(h, new_h, half_rounded_to_even(new_h - size), size);
  const Taps tx = triangle_taps(w, new_w, half_rounded_to_even(new_w - size), size);

  // Horizontal pass into a ring of filtered source rows, [ring, size, C]
  // floats: output row i needs source rows [first, first + count); the ring
  // holds the last `ring` rows filtered, enough for every output row (both
  // ends of the range only move forward, but the size does not rely on it).
  int ring = 1, end = 0;
  for (int i = 0; i < size; ++i) {
    end = std::max(end, ty.first[size_t(i)] + ty.count(i));
    ring = std::max(ring, end - ty.first[size_t(i)]);
  }
  const size_t row_floats = size_t(size) * size_t(channels);
  std::vector<float> rows(size_t(ring) * row_floats);
  int filtered = ty.first[0];  // the next source row to filter
  const size_t plane = size_t(size) * size_t(size);
  for (int i = 0; i < size; ++i) {
    const int first = ty.first[size_t(i)], count = ty.count(i);
    for (filtered = std::max(filtered, first); filtered < first + count; ++filtered) {
      const uint8_t* line = src + size_t(filtered) * size_t(w) * size_t(channels);
      float* dst = &rows[size_t(filtered % ring) * row_floats];
      for (int j = 0; j < size; ++j) {
        const uint8_t* p = line + size_t(tx.first[size_t(j)]) * size_t(channels);
        const float* wx = tx.weights(j);
        for (int c = 0; c < channels; ++c) {
          float acc = 0;
          for (int k = 0; k < tx.count(j); ++k) acc += wx[k] * float(p[size_t(k) * size_t(channels) + size_t(c)]);
          dst[size_t(j) * size_t(channels) + size_t(c)] = acc;
        }
      }
    }
    // Vertical pass for output row i, written planar.
    const float* wy = ty.weights(i);
    for (int j = 0; j < size; ++j)
      for (int c = 0; c < channels; ++c) {
        float acc = 0;
        for (int k = 0; k < count; ++k)
          acc += wy[k] * rows[size_t((first + k) % ring) * row_floats + size_t(j) * size_t(channels) + size_t(c)];
        out[size_t(c) * plane + size_t(i) * size_t(size) + size_t(j)] = to_byte(acc);
      }
  }
}

Status decode_image(std::span<const uint8_t> bytes, const std::string& name, int size, int channels, uint8_t* out) {
  auto fail = [&](const std::string& why) { return Status::error("image '" + name + "': " + why); };
  if (channels != 1 && channels != 3)
    return fail("channels is " + std::to_string(channels) + "; expected 1 (gray) or 3 (RGB)");
  if (size < 1 || size > kMaxSide)
    return fail("size is " + std::to_string(size) + "; expected 1.." + std::to_string(kMaxSide));
  Header h;
  if (std::string why = header_problem(bytes, name, &h); !why.empty()) return fail(why);
  if (std::string why = data_problem(bytes, h); !why.empty()) return fail(why);

  const std::vector<uint8_t> patched = h.format == Format::kPng ? png_with_full_palette(bytes) : std::vector<uint8_t>();
  const std::span<const uint8_t> data = patched.empty() ? bytes : std::span<const uint8_t>(patched);
  int w = 0, ht = 0, comp = 0;
  stbi__g_failure_reason = nullptr;
  std::unique_ptr<uint8_t, void (*)(void*)> px(stbi_load_from_memory(data.data(), int(data.size()), &w, &ht, &comp, 0),
                                               stbi_image_free);
  if (!px) {
    const char* reason = stbi_failure_reason();
    return fail(std::string("corrupt ") + format_name(h.format) + ": " + (reason ? reason : "unknown error"));
  }
  // The decoder walks the same header as stbi_info; a disagreement would
  // void the size checks made on it.
  if (w != h.width || ht != h.height || comp < 1 || comp > 4)
    return fail("decoded as " + size_text(w, ht) + " with " + std::to_string(comp) + " channels, but its header says " +
                size_text(h.width, h.height));

  const size_t pixels = size_t(w) * size_t(ht);
  if (comp <= 2) {  // gray: resize one plane, then repeat it for RGB
    if (comp == 2) keep_channels(px.get(), pixels, 2, 1);
    resize_center_crop(px.get(), ht, w, 1, size, out);
    const size_t plane = size_t(size) * size_t(size);
    for (int c = 1; c < channels; ++c) std::memcpy(out + size_t(c) * plane, out, plane);
  } else if (channels == 1) {
    to_luma(px.get(), pixels, comp);
    resize_center_crop(px.get(), ht, w, 1, size, out);
  } else {
    if (comp == 4) keep_channels(px.get(), pixels, 4, 3);
    resize_center_crop(px.get(), ht, w, 3, size, out);
  }
  return Status();
}

Status decode_image(const std::string& path, int size, int channels, uint8_t* out) {
  Result<std::vector<std::byte>> bytes = read_file(path, kMaxFileBytes);
  if (!bytes.ok()) return Status::error("image '" + path + "': " + bytes.message());
  const auto* data = reinterpret_cast<const uint8_t*>(bytes->data());
  return decode_image(std::span<const uint8_t>(data, bytes->size()), path, size, channels, out);
}

// ---- the scan

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Reads up to `n` bytes from the start of `fd` into `buf`; false on an error (errno set).
bool read_prefix(int fd, size_t n, std::vector<uint8_t>& buf) {
  buf.resize(n);
  size_t used = 0;
  while (used < n) {
    const ssize_t got = ::pread(fd, buf.data() + used, n - used, off_t(used));
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    used += size_t(got);
  }
  buf.resize(used);
  return true;
}

// Why `path` cannot be used, or "" with `h` filled in. `buf` is reused from
// file to file, so a scan of many files allocates almost nothing.
std::string probe(const std::string& path, std::vector<uint8_t>& buf, Header* h) {
  Fd f;
  // O_NONBLOCK: a FIFO named x.png must not block the scan.
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return std::string("cannot read: ") + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  const uint64_t bytes = uint64_t(st.st_size);
  if (bytes == 0) return "empty file";
  if (bytes > kMaxFileBytes)
    return std::to_string(bytes) + " bytes, over the " + std::to_string(kMaxFileBytes >> 20) +
           " MiB gantry reads as one image";
  if (!read_prefix(f.fd, size_t(std::min<uint64_t>(bytes, kHeaderPrefix)), buf))
    return std::string("cannot read: ") + std::strerror(errno);
  std::string why = header_problem(buf, path, h);
  // A JPEG's frame header can follow EXIF data longer than the prefix.
  if (!why.empty() && buf.size() < bytes) {
    if (!read_prefix(f.fd, size_t(bytes), buf)) return std::string("cannot read: ") + std::strerror(errno);
    why = header_problem(buf, path, h);
  }
  return why;
}

bool hidden(const fs::path& p) { return p.filename().string().starts_with('.'); }

// The image files under `dir`, recursively, sorted byte-wise; hidden entries
// are left out and directory symlinks are not followed.
Result<std::vector<std::string>> find_images(const fs::path& dir) {
  std::vector<std::string> paths;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    std::error_code ignored;
    if (hidden(e.path())) {
      if (e.is_directory(ignored)) it.disable_recursion_pending();
      continue;
    }
    // is_regular_file follows a symlink to a file; a dangling one is skipped.
    if (is_image_file(e.path().string()) && e.is_regular_file(ignored)) paths.push_back(e.path().string());
  }
  if (ec) return Status::error("cannot list '" + dir.string() + "': " + ec.message());
  std::sort(paths.begin(), paths.end());  // std::string compares bytes as unsigned char
  return paths;
}

std::string skipped_text(const std::vector<SkippedFile>& skipped, size_t from) {
  const size_t n = skipped.size() - from;
  if (n == 0) return "";
  return "; " + std::to_string(n) + (n == 1 ? " image file was" : " image files were") + " skipped, the first '" +
         skipped[from].path + "': " + skipped[from].reason;
}

// Adds the usable images under `dir` to `folder` with `label`, the others to
// its skipped list; returns how many were usable.
Result<size_t> add_images(ImageFolder& folder, const fs::path& dir, int32_t label, std::vector<uint8_t>& buf) {
  Result<std::vector<std::string>> paths = find_images(dir);
  if (!paths.ok()) return paths.status();
  size_t added = 0;
  for (const std::string& p : *paths) {
    Header h;
    if (std::string why = probe(p, buf, &h); !why.empty()) {
      folder.skipped.push_back({p, why});
      continue;
    }
    folder.files.push_back({p, label, h.width, h.height, h.channels});
    ++added;
  }
  return added;
}

// by_class: the class sub-folders of `root`, sorted; an image directly in
// `root` is an error.
Result<std::vector<std::string>> class_folders(const std::string& root) {
  std::vector<std::string> names;
  std::vector<std::string> stray;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    if (hidden(e.path())) continue;
    std::error_code ignored;
    // symlink_status: a directory symlink is not followed, here as below.
    if (fs::is_directory(e.symlink_status(ignored))) {
      names.push_back(e.path().filename().string());
    } else if (is_image_file(e.path().string()) && e.is_regular_file(ignored)) {
      stray.push_back(e.path().string());
    }
  }
  if (ec) return Status::error("cannot list image folder '" + root + "': " + ec.message());
  std::sort(names.begin(), names.end());
  std::sort(stray.begin(), stray.end());
  if (!stray.empty())
    return Status::error("image '" + stray[0] + "' lies directly in the image folder '" + root + "'" +
                         (stray.size() > 1 ? " (and " + std::to_string(stray.size() - 1) + " more)" : "") +
                         "; with classes, every image goes in a class sub-folder, " + root + "/<class>/...");
  for (const std::string& n : names)
    if (n.find('\n') != std::string::npos)
      return Status::error("class folder '" + (fs::path(root) / n).string() +
                           "' has a line break in its name, which class lists cannot hold; rename it");
  if (names.empty())
    return Status::error("image folder '" + root + "' has no class sub-folders; with classes, images go in " + root +
                         "/<class>/...");
  return names;
}

}  // namespace

Result<ImageFolder> scan_image_folder(const std::string& root, bool by_class, int min_side) {
  std::error_code ec;
  const fs::file_status st = fs::status(root, ec);
  if (!fs::exists(st)) return Status::error("image folder '" + root + "' does not exist");
  if (!fs::is_directory(st)) return Status::error("image folder '" + root + "' is not a directory");

  ImageFolder folder;
  folder.root = root;
  std::vector<uint8_t> buf;
  buf.reserve(kHeaderPrefix);
  if (by_class) {
    Result<std::vector<std::string>> names = class_folders(root);
    if (!names.ok()) return names.status();
    folder.class_names = std::move(*names);
    for (size_t c = 0; c < folder.class_names.size(); ++c) {
      const fs::path dir = fs::path(root) / folder.class_names[c];
      const size_t skipped_before = folder.skipped.size();
      Result<size_t> added = add_images(folder, dir, int32_t(c), buf);
      if (!added.ok()) return added.status();
      if (*added == 0)
        return Status::error("class folder '" + dir.string() + "' holds no usable image" +
                             skipped_text(folder.skipped, skipped_before));
    }
  } else {
    Result<size_t> added = add_images(folder, root, 0, buf);
    if (!added.ok()) return added.status();
  }
  if (folder.files.empty()) {
    if (folder.skipped.empty())
      return Status::error("image folder '" + root + "' holds no image files (.png .jpg .jpeg .bmp .tga)");
    return Status::error("image folder '" + root + "' holds no usable image" + skipped_text(folder.skipped, 0));
  }

  const ImageFile* first_small = nullptr;
  size_t small = 0;
  for (const ImageFile& f : folder.files) {
    if (std::min(f.width, f.height) >= min_side) continue;
    if (!first_small) first_small = &f;
    ++small;
  }
  if (first_small)
    return Status::error("image '" + first_small->path + "' is " + size_text(first_small->width, first_small->height) +
                         ", its shorter side under the minimum of " + std::to_string(min_side) + " pixels" +
                         (small > 1 ? " (" + std::to_string(small - 1) + " more are too small)" : "") +
                         "; remove the small images or train at a smaller size");
  return folder;
}

}  // namespace gantry

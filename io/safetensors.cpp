// safetensors reader and writer; see safetensors.h. The header is parsed by a
// small JSON parser of our own (objects, arrays, strings with every escape,
// numbers, literals), then checked the way the reference implementation
// checks it: known dtype, byte size = numel × dtype size, and tensors that
// tile the data buffer with no overlap and no hole. Every message starts with
// the file name. Checked by tests/test_formats.cpp.
#include "io/safetensors.h"

#include <algorithm>
#include <iterator>
#include <unordered_set>

#include "io/format_bytes.h"
#include "platform/atomic_file.h"

namespace gantry {
namespace {

using format_bytes::load_le;
using format_bytes::mul_fits;

// ---- JSON

struct Json {
  enum class Kind : uint8_t { object, array, string, integer, number, literal };
  Kind kind = Kind::literal;
  size_t pos = 0;                 // header byte where the value starts, for messages
  std::string text;               // string: its value; number/literal: its spelling
  int64_t integer = 0;            // integer: its value
  std::vector<std::string> keys;  // object: member names, parallel to items
  std::vector<Json> items;        // object: member values; array: elements
};

// For messages, in the order of Json::Kind.
const char* kind_name(Json::Kind k) {
  static const char* const names[] = {
      "an object", "an array", "a string", "an integer", "a non-integer number", "true, false or null"};
  static_assert(std::size(names) == size_t(Json::Kind::literal) + 1);
  return names[size_t(k)];
}

// JSON's two-character escapes: {letter after the backslash, character}.
// '/' may be escaped but never needs to be, so the writer leaves it alone.
constexpr char kShortEscapes[][2] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
                                     {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};

char unescape(char letter) {
  for (const auto& e : kShortEscapes)
    if (e[0] == letter) return e[1];
  return 0;
}

char escape_letter(char c) {
  for (const auto& e : kShortEscapes)
    if (e[1] == c && c != '/') return e[0];
  return 0;
}

// RFC 8259 grammar. Numbers that are integers fitting int64 become integers;
// others keep their spelling, so that a shape of [2.5] is reported as "not an
// integer" rather than as a syntax error.
class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  bool parse_document(Json* out) {
    skip_ws();
    if (!value(out, 0)) return false;
    skip_ws();
    // The reference writer pads the header with spaces, which skip_ws() ate.
    if (pos_ != s_.size()) return fail("unexpected text after the top-level value");
    return true;
  }

  const std::string& error() const { return error_; }
  size_t error_pos() const { return error_pos_; }

 private:
  // Deep nesting has no use in a header; the limit keeps recursion bounded.
  static constexpr int kMaxDepth = 32;

  bool fail(std::string message) {
    error_ = std::move(message);
    error_pos_ = pos_;
    return false;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }
  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool expect(char c) {
    skip_ws();
    if (at_end() || peek() != c) return fail(std::string("expected '") + c + "'");
    ++pos_;
    return true;
  }

  bool value(Json* out, int depth) {
    if (depth > kMaxDepth) return fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    skip_ws();
    if (at_end()) return fail("unexpected end of header, expected a value");
    out->pos = pos_;
    const char c = peek();
    if (c == '{' || c == '[') return container(out, depth);
    if (c == '"') {
      out->kind = Json::Kind::string;
      return string(&out->text);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return number(out);
    for (const char* lit : {"true", "false", "null"}) {
      if (s_.substr(pos_).starts_with(lit)) {
        out->kind = Json::Kind::literal;
        out->text = lit;
        pos_ += out->text.size();
        return true;
      }
    }
    return fail(std::string("unexpected character '") + c + "'");
  }

  // Objects and arrays alike: an opener, members separated by ',', the closer;
  // an object's members are "key": value.
  bool container(Json* out, int depth) {
    const bool is_object = peek() == '{';
    const char close = is_object ? '}' : ']';
    out->kind = is_object ? Json::Kind::object : Json::Kind::array;
    ++pos_;
    skip_ws();
    if (!at_end() && peek() == close) return ++pos_, true;
    for (;;) {
      if (is_object) {
        skip_ws();
        if (at_end() || peek() != '"') return fail("expected a string key");
        out->keys.emplace_back();
        if (!string(&out->keys.back()) || !expect(':')) return false;
      }
      out->items.emplace_back();
      if (!value(&out->items.back(), depth + 1)) return false;
      skip_ws();
      if (at_end()) return fail(std::string("unexpected end of header inside ") + kind_name(out->kind));
      if (peek() == close) return ++pos_, true;
      if (peek() != ',') return fail(std::string("expected ',' or '") + close + "'");
      ++pos_;
    }
  }

  bool number(Json* out) {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ > from;
    };
    if (peek() == '-') ++pos_;
    const size_t int_start = pos_;
    if (!digits()) return fail("expected a digit");
    if (s_[int_start] == '0' && pos_ - int_start > 1) return pos_ = int_start, fail("leading zero in a number");
    bool integral = true;
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digits()) return fail("expected a digit after '.'");
      integral = false;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digits()) return fail("expected a digit in the exponent");
      integral = false;
    }
    out->text.assign(s_.substr(start, pos_ - start));
    out->kind = Json::Kind::number;
    if (!integral) return true;
    // Accumulate negatively so that INT64_MIN parses; too long stays a number.
    int64_t v = 0;
    for (size_t i = int_start; i < pos_; ++i) {
      if (__builtin_mul_overflow(v, int64_t(10), &v) || __builtin_sub_overflow(v, int64_t(s_[i] - '0'), &v))
        return true;
    }
    if (s_[start] != '-' && __builtin_mul_overflow(v, int64_t(-1), &v)) return true;
    out->kind = Json::Kind::integer;
    out->integer = v;
    return true;
  }

  bool hex4(uint32_t* out) {
    if (s_.size() - pos_ < 4) return fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      const char c = peek();
      const int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
      if (d < 0) return fail("bad hex digit in a \\u escape");
      v = v * 16 + uint32_t(d);
    }
    *out = v;
    return true;
  }

  static void append_utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      *s += char(cp);
    } else if (cp < 0x800) {
      *s += char(0xc0 | (cp >> 6));
      *s += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *s += char(0xe0 | (cp >> 12));
      *s += char(0x80 | ((cp >> 6) & 0x3f));
      *s += char(0x80 | (cp & 0x3f));
    } else {
      *s += char(0xf0 | (cp >> 18));
      *s += char(0x80 | ((cp >> 12) & 0x3f));
      *s += char(0x80 | ((cp >> 6) & 0x3f));
      *s += char(0x80 | (cp & 0x3f));
    }
  }

  // One UTF-8 sequence copied as is. The header must be UTF-8 (the reference
  // rejects anything else), and names go back into files we write.
  bool utf8_sequence(std::string* out) {
    const auto b = [&](size_t i) { return uint8_t(s_[pos_ + i]); };
    const uint8_t lead = b(0);
    int len = 0;
    uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (lead >= 0xc2 && lead <= 0xdf)
      len = 2;
    else if (lead >= 0xe0 && lead <= 0xef)
      len = 3, lo = lead == 0xe0 ? 0xa0 : 0x80, hi = lead == 0xed ? 0x9f : 0xbf;
    else if (lead >= 0xf0 && lead <= 0xf4)
      len = 4, lo = lead == 0xf0 ? 0x90 : 0x80, hi = lead == 0xf4 ? 0x8f : 0xbf;
    if (len == 0 || s_.size() - pos_ < size_t(len) || b(1) < lo || b(1) > hi) return fail("invalid UTF-8");
    for (int i = 2; i < len; ++i)
      if (b(i) < 0x80 || b(i) > 0xbf) return fail("invalid UTF-8");
    out->append(s_.substr(pos_, len));
    pos_ += len;
    return true;
  }

  bool string(std::string* out) {
    ++pos_;  // opening quote
    for (;;) {
      if (at_end()) return fail("unterminated string");
      const char c = peek();
      if (c == '"') return ++pos_, true;
      if (uint8_t(c) < 0x20) return fail("control character inside a string");
      if (uint8_t(c) >= 0x80) {
        if (!utf8_sequence(out)) return false;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (at_end()) return fail("unterminated escape");
      const char e = peek();
      ++pos_;
      if (const char c2 = unescape(e)) {
        *out += c2;
        continue;
      }
      if (e != 'u') return pos_ -= 1, fail(std::string("unknown escape '\\") + e + "'");
      uint32_t cp = 0;
      if (!hex4(&cp)) return false;
      // Outside the basic plane JSON spells a code point as a UTF-16
      // surrogate pair: \uD83D\uDE00.
      if (cp >= 0xdc00 && cp <= 0xdfff) return fail("lone low surrogate in a \\u escape");
      if (cp >= 0xd800 && cp <= 0xdbff) {
        uint32_t low = 0;
        if (!s_.substr(pos_).starts_with("\\u")) return fail("high surrogate not followed by a \\u escape");
        pos_ += 2;
        if (!hex4(&low)) return false;
        if (low < 0xdc00 || low > 0xdfff) return fail("high surrogate not followed by a low surrogate");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      }
      append_utf8(out, cp);
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string error_;
  size_t error_pos_ = 0;
};

// JSON string literal as serde_json writes it: short escapes where JSON has
// them, \u00XX for other control characters, everything else (UTF-8) as is.
void append_json_string(std::string* out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  *out += '"';
  for (char c : s) {
    if (const char e = escape_letter(c)) {
      *out += '\\';
      *out += e;
    } else if (uint8_t(c) < 0x20) {
      *out += "\\u00";
      *out += hex[uint8_t(c) >> 4];
      *out += hex[uint8_t(c) & 0xf];
    } else {
      *out += c;
    }
  }
  *out += '"';
}

// ---- tensors

struct Dtype {
  const char* name;
  uint64_t bytes;
  float (*decode)(const std::byte*);
};

const Dtype kDtypes[] = {
    {"F32", 4, format_bytes::f32_from_le},
    {"F64", 8, format_bytes::f64_from_le},
    {"F16", 2, [](const std::byte* p) { return format_bytes::f16_to_f32(uint16_t(load_le(p, 2))); }},
    {"BF16", 2, [](const std::byte* p) { return format_bytes::bf16_to_f32(uint16_t(load_le(p, 2))); }},
    // Integers appear in PyTorch state_dicts (BatchNorm's num_batches_tracked is I64).
    {"I64", 8, [](const std::byte* p) { return float(int64_t(load_le(p, 8))); }},
    {"I32", 4, [](const std::byte* p) { return float(int32_t(uint32_t(load_le(p, 4)))); }},
    {"I16", 2, [](const std::byte* p) { return float(int16_t(uint16_t(load_le(p, 2)))); }},
    {"I8", 1, [](const std::byte* p) { return float(int8_t(uint8_t(load_le(p, 1)))); }},
    {"U8", 1, [](const std::byte* p) { return float(uint8_t(load_le(p, 1))); }},
    {"BOOL", 1, [](const std::byte* p) { return load_le(p, 1) ? 1.0f : 0.0f; }},
};

const Dtype* find_dtype(std::string_view name) {
  for (const Dtype& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

// A tensor entry of the header, checked against the buffer but not decoded.
struct Entry {
  std::string name;
  const Dtype* dtype = nullptr;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// True when the product of the non-zero dimensions fits int64_t.
bool numel_fits_int64(const Shape& s) {
  int64_t n = 1;
  for (int i = 0; i < s.rank; ++i)
    if (s.d[i] != 0 && __builtin_mul_overflow(n, s.d[i], &n)) return false;
  return true;
}

std::string range_str(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// Checks one "name": {"dtype", "shape", "data_offsets"} member; `fail` wraps
// the message with the file name.
template <class Fail>
Result<Entry> read_entry(const std::string& name, const Json& v, uint64_t buffer_bytes, Fail fail) {
  const std::string who = "tensor '" + name + "'";
  if (v.kind != Json::Kind::object) return fail(who + " is " + kind_name(v.kind) + ", expected an object");
  const Json *dtype = nullptr, *shape = nullptr, *offsets = nullptr;
  for (size_t i = 0; i < v.keys.size(); ++i) {
    const Json** slot = v.keys[i] == "dtype"          ? &dtype
                        : v.keys[i] == "shape"        ? &shape
                        : v.keys[i] == "data_offsets" ? &offsets
                                                      : nullptr;
    if (!slot) return fail(who + " has an unknown field '" + v.keys[i] + "' (expected dtype, shape, data_offsets)");
    if (*slot) return fail(who + " has field '" + v.keys[i] + "' twice");
    *slot = &v.items[i];
  }
  const std::pair<const char*, const Json*> fields[] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", offsets}};
  for (const auto& [field, p] : fields)
    if (!p) return fail(who + " is missing '" + field + "'");

  Entry e;
  e.name = name;
  if (dtype->kind != Json::Kind::string)
    return fail(who + ": dtype is " + kind_name(dtype->kind) + ", expected a string");
  e.dtype = find_dtype(dtype->text);
  if (!e.dtype)
    return fail(who + " has dtype '" + dtype->text +
                "', which gantry does not read (it reads F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)");

  auto non_negative_ints = [](const Json& a) {
    return a.kind == Json::Kind::array && std::all_of(a.items.begin(), a.items.end(), [](const Json& x) {
             return x.kind == Json::Kind::integer && x.integer >= 0;
           });
  };
  if (!non_negative_ints(*shape)) return fail(who + ": shape must be a list of non-negative integers");
  if (shape->items.size() > size_t(kMaxRank))
    return fail(who + " has rank " + std::to_string(shape->items.size()) + "; gantry tensors have rank 0 to " +
                std::to_string(kMaxRank));
  for (const Json& d : shape->items) e.shape.d[e.shape.rank++] = d.integer;
  // Shape::numel() and strides multiply in int64 in any order; a zero
  // dimension makes the product 0 but not the partial products, so the
  // non-zero dimensions alone must multiply without overflow.
  if (!numel_fits_int64(e.shape))
    return fail(who + " has shape " + e.shape.str() + ", whose element count overflows a 64-bit integer");
  uint64_t bytes = 0;
  const bool fits = mul_fits(e.dtype->bytes, uint64_t(e.shape.numel()), &bytes);

  if (!non_negative_ints(*offsets) || offsets->items.size() != 2)
    return fail(who + ": data_offsets must be two non-negative integers [begin, end]");
  e.begin = uint64_t(offsets->items[0].integer);
  e.end = uint64_t(offsets->items[1].integer);
  const std::string offs = "data_offsets " + range_str(e.begin, e.end);
  if (e.begin > e.end) return fail(who + ": " + offs + " end before they begin");
  // Both ends against the buffer, before anything subtracts or sorts by them.
  if (e.end > buffer_bytes || e.begin > buffer_bytes)
    return fail(who + ": " + offs + " run past the end of the " + std::to_string(buffer_bytes) + "-byte data buffer");
  if (!fits || bytes != e.end - e.begin)
    return fail(who + " (" + e.dtype->name + ", shape " + e.shape.str() + ") needs " +
                (fits ? std::to_string(bytes) + " bytes" : std::string("more bytes than fit in 64 bits")) + " but " +
                offs + " span " + std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

const SafeTensor* SafeTensorsFile::find(std::string_view name) const {
  for (const SafeTensor& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

const std::string* SafeTensorsFile::meta(std::string_view key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return &v;
  return nullptr;
}

Result<SafeTensorsFile> parse_safetensors(std::span<const std::byte> bytes, const std::string& name_for_errors) {
  auto fail = [&](const std::string& what) {
    return Status::error("safetensors file '" + name_for_errors + "': " + what);
  };
  if (bytes.size() < 8)
    return fail("the file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length field");
  const uint64_t header_bytes = load_le(bytes.data(), 8);
  if (header_bytes > kSafetensorsMaxHeaderBytes)
    return fail("header length " + std::to_string(header_bytes) + " is larger than the " +
                std::to_string(kSafetensorsMaxHeaderBytes) + "-byte limit (is this a safetensors file?)");
  if (header_bytes > bytes.size() - 8)
    return fail("header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
                std::to_string(bytes.size() - 8) + " bytes follow the length field)");

  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + 8, header_bytes);
  Json root;
  JsonParser parser(header);
  if (!parser.parse_document(&root))
    return fail("invalid JSON header at header byte " + std::to_string(parser.error_pos()) + " (file offset " +
                std::to_string(parser.error_pos() + 8) + "): " + parser.error());
  if (root.kind != Json::Kind::object)
    return fail(std::string("the header is ") + kind_name(root.kind) + ", expected an object");
  const std::span<const std::byte> buffer = bytes.subspan(8 + header_bytes);

  SafeTensorsFile file;
  std::vector<Entry> entries;
  std::unordered_set<std::string_view> names;
  bool seen_metadata = false;
  for (size_t i = 0; i < root.keys.size(); ++i) {
    const std::string& key = root.keys[i];
    const Json& v = root.items[i];
    if (key == "__metadata__") {
      if (seen_metadata) return fail("\"__metadata__\" appears twice");
      seen_metadata = true;
      if (v.kind != Json::Kind::object)
        return fail(std::string("\"__metadata__\" is ") + kind_name(v.kind) + ", expected an object of strings");
      std::unordered_set<std::string_view> meta_keys;
      for (size_t j = 0; j < v.keys.size(); ++j) {
        if (v.items[j].kind != Json::Kind::string)
          return fail("metadata value for key '" + v.keys[j] + "' is " + kind_name(v.items[j].kind) +
                      "; safetensors metadata values must be strings");
        if (!meta_keys.insert(v.keys[j]).second) return fail("duplicate metadata key '" + v.keys[j] + "'");
        file.metadata.emplace_back(v.keys[j], v.items[j].text);
      }
      continue;
    }
    if (!names.insert(key).second) return fail("duplicate tensor name '" + key + "'");
    Result<Entry> e = read_entry(key, v, buffer.size(), fail);
    if (!e.ok()) return e.status();
    entries.push_back(std::move(e.value()));
  }

  // The spec requires the tensors to tile the buffer exactly: walking them in
  // offset order, each starts where the previous ended and the last one ends
  // at the end of the file. (Empty tensors sort before others at the same offset.)
  std::vector<const Entry*> by_offset;
  for (const Entry& e : entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const Entry* prev = nullptr;
  for (const Entry* e : by_offset) {
    if (e->begin < covered)
      return fail("tensors '" + prev->name + "' " + range_str(prev->begin, prev->end) + " and '" + e->name + "' " +
                  range_str(e->begin, e->end) + " overlap in the data buffer");
    if (e->begin > covered)
      return fail("data buffer bytes " + range_str(covered, e->begin) + " belong to no tensor (a hole before '" +
                  e->name + "')");
    covered = e->end;
    prev = e;
  }
  if (covered != buffer.size())
    return fail("the last " + std::to_string(buffer.size() - covered) + " bytes of the " +
                std::to_string(buffer.size()) + "-byte data buffer belong to no tensor");

  for (const Entry& e : entries) {
    SafeTensor t{e.name, e.shape, std::vector<float>(size_t(e.shape.numel()))};
    const std::byte* p = buffer.data() + e.begin;
    for (float& x : t.data) {
      x = e.dtype->decode(p);
      p += e.dtype->bytes;
    }
    file.tensors.push_back(std::move(t));
  }
  return file;
}

Result<SafeTensorsFile> read_safetensors(const std::string& path) {
  return format_bytes::parse_file(path, parse_safetensors);
}

Result<std::vector<std::byte>> serialize_safetensors(const SafeTensorsFile& file) {
  std::string header = "{";
  if (!file.metadata.empty()) {
    std::unordered_set<std::string_view> keys;
    append_json_string(&header, "__metadata__");
    header += ":{";
    for (const auto& [k, v] : file.metadata) {
      if (!keys.insert(k).second) return Status::error("safetensors: duplicate metadata key '" + k + "'");
      if (header.back() != '{') header += ',';
      append_json_string(&header, k);
      header += ':';
      append_json_string(&header, v);
    }
    header += '}';
  }
  std::unordered_set<std::string_view> names;
  uint64_t offset = 0;
  for (const SafeTensor& t : file.tensors) {
    if (t.name == "__metadata__")
      return Status::error("safetensors: \"__metadata__\" is reserved and cannot name a tensor");
    if (!names.insert(t.name).second) return Status::error("safetensors: duplicate tensor name '" + t.name + "'");
    if (const std::string problem = format_bytes::shape_problem(t.shape, t.data.size()); !problem.empty())
      return Status::error("safetensors: tensor '" + t.name + "': " + problem);
    if (header.size() > 1) header += ',';
    append_json_string(&header, t.name);
    header += ":{\"dtype\":\"F32\",\"shape\":[";
    for (int i = 0; i < t.shape.rank; ++i) header += (i ? "," : "") + std::to_string(t.shape.d[i]);
    const uint64_t end = offset + 4 * t.data.size();
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(end) + "]}";
    offset = end;
  }
  header += '}';
  // Spaces keep the data buffer 8-byte aligned in the file, and JSON ignores them.
  header.append((8 - header.size() % 8) % 8, ' ');

  std::vector<std::byte> out;
  out.reserve(8 + header.size() + offset);
  format_bytes::append_le(out, header.size(), 8);
  format_bytes::append_text(out, header);
  for (const SafeTensor& t : file.tensors) format_bytes::append_f32_le(out, t.data);
  return out;
}

Status write_safetensors(const std::string& path, const SafeTensorsFile& file) {
  Result<std::vector<std::byte>> bytes = serialize_safetensors(file);
  if (!bytes.ok()) return Status::error(bytes.message() + " (writing '" + path + "')");
  return write_file_atomic(path, bytes.value());
}

}  // namespace gantry

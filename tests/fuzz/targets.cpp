// The fuzz targets; see targets.h. Besides "no crash", each target checks the
// promises a caller relies on when a reader accepts a file: data sizes match
// shapes, no empty images, and for the two formats gantry also writes, that
// writing what was read and reading it back gives the same tensors bit for bit;
// an image decodes the same way twice, in gray as in RGB, within its output.
#include "tests/fuzz/targets.h"

#include <unistd.h>

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "io/golden.h"
#include "io/idx.h"
#include "io/image_folder.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "train/generator.h"

namespace gantry::fuzz {
namespace {

[[noreturn]] void broken(std::string_view target, const std::string& what) {
  std::fprintf(stderr, "fuzz target %.*s: broken promise: %s\n", int(target.size()), target.data(), what.c_str());
  std::abort();
}

template <class T>
Status status_of(const Result<T>& r) {
  return r.ok() ? Status() : r.status();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

void check_tensor(std::string_view target, const std::string& name, const Shape& shape, size_t values) {
  if (shape.rank < 0 || shape.rank > kMaxRank) broken(target, name + ": rank " + std::to_string(shape.rank));
  for (int i = 0; i < shape.rank; ++i)
    if (shape.d[i] < 0) broken(target, name + ": negative dimension in " + shape.str());
  if (shape.numel() != int64_t(values))
    broken(target, name + ": shape " + shape.str() + " but " + std::to_string(values) + " values");
  // Consumers take row-major strides of what a reader accepts; UBSan reports
  // an int64 overflow here, which a zero dimension does not prevent.
  (void)strides_of(shape);
}

Status safetensors(std::span<const std::byte> bytes) {
  auto f = parse_safetensors(bytes, "fuzz.safetensors");
  if (!f.ok()) return f.status();
  for (const SafeTensor& t : f->tensors) check_tensor("safetensors", t.name, t.shape, t.data.size());
  auto again = serialize_safetensors(*f);
  if (!again.ok()) broken("safetensors", "an accepted file does not serialize: " + again.message());
  auto back = parse_safetensors(again.value(), "fuzz-roundtrip.safetensors");
  if (!back.ok()) broken("safetensors", "the serialized file does not parse: " + back.message());
  if (back->metadata != f->metadata) broken("safetensors", "metadata differs after a round trip");
  if (back->tensors.size() != f->tensors.size()) broken("safetensors", "tensor count differs after a round trip");
  for (size_t i = 0; i < f->tensors.size(); ++i) {
    const SafeTensor &a = f->tensors[i], &b = back->tensors[i];
    if (a.name != b.name || a.shape != b.shape || !same_bits(a.data, b.data))
      broken("safetensors", "tensor '" + a.name + "' differs after a round trip");
  }
  return Status();
}

Status npy(std::span<const std::byte> bytes) {
  auto a = parse_npy(bytes, "fuzz.npy");
  if (!a.ok()) return a.status();
  check_tensor("npy", "array", a->shape, a->data.size());
  auto again = serialize_npy(a->shape, a->data);
  if (!again.ok()) broken("npy", "an accepted array does not serialize: " + again.message());
  auto back = parse_npy(again.value(), "fuzz-roundtrip.npy");
  if (!back.ok()) broken("npy", "the serialized array does not parse: " + back.message());
  if (back->shape != a->shape || !same_bits(back->data, a->data)) broken("npy", "array differs after a round trip");
  return Status();
}

Status idx_images(std::span<const std::byte> bytes) {
  auto im = parse_idx_images(bytes, "fuzz-images-idx3-ubyte");
  if (!im.ok()) return im.status();
  if (im->count < 1 || im->rows < 1 || im->cols < 1)
    broken("idx_images", "accepted " + std::to_string(im->count) + " images of " + std::to_string(im->rows) + "x" +
                             std::to_string(im->cols));
  if (uint64_t(im->count) * uint64_t(im->rows) * uint64_t(im->cols) != im->pixels.size())
    broken("idx_images", "pixel count does not match the dimensions");
  return Status();
}

Status idx_labels(std::span<const std::byte> bytes) {
  auto lb = parse_idx_labels(bytes, "fuzz-labels-idx1-ubyte");
  if (!lb.ok()) return lb.status();
  if (lb->empty()) broken("idx_labels", "accepted a file with no labels");
  return Status();
}

Status golden(std::span<const std::byte> bytes) {
  auto c = parse_golden_case(bytes, "fuzz-golden.safetensors");
  if (!c.ok()) return c.status();
  const std::pair<const char*, const GoldenCase::Tensor*> tensors[] = {{"input", &c->input},
                                                                       {"weight", &c->weight},
                                                                       {"bias", &c->bias},
                                                                       {"output", &c->output},
                                                                       {"grad_output", &c->grad_output},
                                                                       {"grad_input", &c->grad_input},
                                                                       {"grad_weight", &c->grad_weight},
                                                                       {"grad_bias", &c->grad_bias}};
  for (const auto& [name, t] : tensors) {
    if (!t->present) continue;
    check_tensor("golden", name, t->shape, t->data.size());
    if (t->data.empty()) broken("golden", std::string("accepted an empty tensor '") + name + "'");
  }
  if (!c->input.present || !c->weight.present || !c->output.present) broken("golden", "a required tensor is missing");
  if (c->options.groups < 1) broken("golden", "groups < 1");
  return Status();
}

// load_generator reads a path (train/generator.h has no bytes entry point),
// so the bytes go through a file of this process's own under /tmp. No fsync:
// the file is rewritten for every input and never needs to survive a crash.
Status generator(std::span<const std::byte> bytes) {
  static const std::string path = "/tmp/gantry_fuzz_generator_" + std::to_string(::getpid()) + ".safetensors";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) broken("generator", "cannot write " + path);
  const bool written = bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !written) broken("generator", "cannot write " + path);
  // An exception escaping load_generator is a finding like any crash.
  Result<LoadedGenerator> g = load_generator(path);
  if (!g.ok()) return g.status();
  if (g->nz < 1) broken("generator", "accepted nz " + std::to_string(g->nz));
  for (const SafeTensor& t : g->tensors) check_tensor("generator", t.name, t.shape, t.data.size());
  return Status();
}

// The pixels an image's header claims, read without stb_image (whose own
// header readers are among the things fuzzed): PNG's IHDR, a JPEG's first
// frame header (SOFn, found by stepping over marker segments), a BMP's or a
// TGA's size fields. 0 when there is none to read.
uint64_t claimed_pixels(std::span<const uint8_t> b) {
  auto be = [&](size_t at) { return at + 2 <= b.size() ? uint64_t(b[at]) << 8 | b[at + 1] : 0; };
  auto le = [&](size_t at) { return at + 2 <= b.size() ? uint64_t(b[at + 1]) << 8 | b[at] : 0; };
  auto area = [](uint64_t w, uint64_t h) { return w * h; };
  if (b.size() >= 24 && b[0] == 0x89 && b[1] == 'P') return area(be(16) << 16 | be(18), be(20) << 16 | be(22));
  if (b.size() >= 4 && b[0] == 0xff && b[1] == 0xd8) {
    for (size_t at = 2; at + 9 <= b.size();) {
      const uint8_t m = b[at + 1];
      if (b[at] != 0xff || m == 0xff) {
        ++at;
      } else if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
        return area(be(at + 7), be(at + 5));
      } else if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
        at += 2;
      } else {
        at += 2 + be(at + 2);
      }
    }
    return 0;
  }
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    if (le(14) == 12) return area(le(18), le(20));
    const auto s32 = [&](size_t at) { return int64_t(int32_t(uint32_t(le(at + 2)) << 16 | uint32_t(le(at)))); };
    return area(uint64_t(std::abs(s32(18))), uint64_t(std::abs(s32(22))));
  }
  return b.size() >= 16 ? area(le(12), le(14)) : 0;
}

// decode_image into 16x16 RGB, with guard bytes after the output. An image
// accepted once must decode to the same bytes again and also decode as gray
// (the same checks, another conversion); neither may write past its C·S·S
// bytes, and a rejection must name the file. Images over 2^20 pixels are left
// out: decode_image takes up to 2^26, which under ASan and coverage takes
// longer than the fuzzer's 10-s timeout, in the same code as a small image.
Status image(std::span<const std::byte> bytes) {
  constexpr int kSize = 16;
  constexpr size_t kPlane = size_t(kSize) * kSize, kGuard = 64;
  constexpr uint8_t kFill = 0xa5;
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  auto decode = [&](int channels, std::vector<uint8_t>& out) {
    out.assign(channels * kPlane + kGuard, kFill);
    const Status s = decode_image(data, "fuzz-image", kSize, channels, out.data());
    for (size_t i = channels * kPlane; i < out.size(); ++i)
      if (out[i] != kFill) broken("image", "wrote past its " + std::to_string(channels) + "x16x16 output");
    if (!s.ok() && s.message().find("'fuzz-image'") == std::string::npos)
      broken("image", "an error that does not name the file: " + s.message());
    return s;
  };
  if (claimed_pixels(data) > (uint64_t(1) << 20))
    return Status::error("image 'fuzz-image': over 2^20 pixels, left out by the fuzz target");
  std::vector<uint8_t> rgb, again, gray;
  const Status s = decode(3, rgb);
  if (!s.ok()) return s;
  const Status s2 = decode(3, again);
  if (!s2.ok()) broken("image", "accepted once, then refused: " + s2.message());
  if (again != rgb) broken("image", "two decodes of the same bytes differ");
  const Status s3 = decode(1, gray);
  if (!s3.ok()) broken("image", "accepted as RGB but refused as gray: " + s3.message());
  return Status();
}

}  // namespace

const std::vector<std::string>& target_names() {
  static const std::vector<std::string> names = {"safetensors", "npy",       "idx_images", "idx_labels",
                                                 "golden",      "generator", "image"};
  return names;
}

Status feed(std::string_view name, std::span<const std::byte> bytes) {
  if (name == "safetensors") return safetensors(bytes);
  if (name == "npy") return npy(bytes);
  if (name == "idx_images") return idx_images(bytes);
  if (name == "idx_labels") return idx_labels(bytes);
  if (name == "golden") return golden(bytes);
  if (name == "generator") return generator(bytes);
  if (name == "image") return image(bytes);
  return Status::error("unknown fuzz target '" + std::string(name) + "'");
}

}  // namespace gantry::fuzz

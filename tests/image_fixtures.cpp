// See image_fixtures.h.
#include "tests/image_fixtures.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "platform/philox.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

namespace gantry::testing {
namespace {

struct Writer {
  std::vector<unsigned char> bytes;
  static void append(void* self, void* data, int n) {
    auto* w = static_cast<Writer*>(self);
    w->bytes.insert(w->bytes.end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + n);
  }
};

void save(const std::string& path, const std::vector<unsigned char>& bytes, size_t n) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(n));
}

// Image k of class c: [h, w, channels] bytes.
std::vector<unsigned char> draw(int c, int k, int w, int h, int channels, uint64_t seed) {
  auto u = [&](uint32_t i) { return philox_uniform(seed, uint64_t(c), 0x1a6e, uint32_t(k) * 16 + i); };
  const unsigned char colour[3] = {static_cast<unsigned char>(60 + 190 * ((c * 5 + 1) % 7) / 6),
                                   static_cast<unsigned char>(60 + 190 * ((c * 3 + 2) % 5) / 4),
                                   static_cast<unsigned char>(60 + 190 * ((c * 2 + 1) % 3) / 2)};
  const double cx = w * (0.3 + 0.4 * u(0)), cy = h * (0.3 + 0.4 * u(1)), r = std::min(w, h) * (0.2 + 0.15 * u(2));
  std::vector<unsigned char> px(size_t(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      bool in = false;
      switch (c % 4) {
        case 0:
          in = dx * dx + dy * dy < r * r;
          break;
        case 1:
          in = std::abs(dx) < r && std::abs(dy) < r;
          break;
        case 2:
          in = std::abs(dy) < r / 3;
          break;
        default:
          in = std::abs(dx - dy) < r / 2;
          break;
      }
      for (int ch = 0; ch < channels; ++ch) {
        const unsigned char fg = channels == 1 ? static_cast<unsigned char>(70 + 185 * (c % 3) / 2) : colour[ch];
        px[(size_t(y) * w + x) * channels + ch] = in ? fg : static_cast<unsigned char>(20 + 10 * ch);
      }
    }
  return px;
}

}  // namespace

std::vector<std::string> write_image_folder(const std::string& dir, const ImageFolderSpec& spec) {
  namespace fs = std::filesystem;
  const char* ext[] = {".png", ".jpg", ".bmp", ".tga"};
  const int channels = spec.gray ? 1 : 3;
  std::vector<std::string> corrupt;
  for (size_t c = 0; c < spec.classes.size(); ++c) {
    const fs::path folder = fs::path(dir) / spec.classes[c];
    fs::create_directories(folder);
    for (int k = 0; k < spec.per_class; ++k) {
      auto side = [&](uint32_t i) {
        const double u = philox_uniform(spec.seed, c, 0x51de, uint32_t(k) * 2 + i);
        return spec.min_side + int(u * (spec.max_side - spec.min_side + 1) * 0.999999);
      };
      // stb_image_write's JPEG and BMP are always colour: gray folders are PNG and TGA.
      const int w = side(0), h = side(1), format = spec.gray ? 3 * (k % 2) : k % 4;
      const std::vector<unsigned char> px = draw(int(c), k, w, h, channels, spec.seed);
      Writer out;
      switch (format) {
        case 0:
          stbi_write_png_to_func(Writer::append, &out, w, h, channels, px.data(), w * channels);
          break;
        case 1:
          stbi_write_jpg_to_func(Writer::append, &out, w, h, channels, px.data(), 95);
          break;
        case 2:
          stbi_write_bmp_to_func(Writer::append, &out, w, h, channels, px.data());
          break;
        default:
          stbi_write_tga_to_func(Writer::append, &out, w, h, channels, px.data());
          break;
      }
      char name[32];
      std::snprintf(name, sizeof name, "img_%05d%s", k, ext[format]);
      save((folder / name).string(), out.bytes, out.bytes.size());
    }
  }
  const fs::path first = fs::path(dir) / spec.classes.front();
  for (int k = 0; k < spec.corrupt; ++k) {
    Writer out;
    const std::vector<unsigned char> px = draw(0, k, 48, 40, channels, spec.seed);
    const std::string path = (first / ("corrupt_" + std::to_string(k) + (k % 3 == 1 ? ".jpg" : ".png"))).string();
    if (k % 3 == 0) {  // a PNG cut short: the IDAT stream ends early
      stbi_write_png_to_func(Writer::append, &out, 48, 40, channels, px.data(), 48 * channels);
      save(path, out.bytes, out.bytes.size() * 2 / 3);
    } else if (k % 3 == 1) {  // a JPEG cut inside its scan: no end-of-image marker
      stbi_write_jpg_to_func(Writer::append, &out, 48, 40, channels, px.data(), 95);
      save(path, out.bytes, out.bytes.size() - 40);
    } else {  // not an image at all
      std::vector<unsigned char> noise(300);
      for (size_t i = 0; i < noise.size(); ++i)
        noise[i] = static_cast<unsigned char>(256 * philox_uniform(spec.seed, 9, 9, uint32_t(i)));
      save(path, noise, noise.size());
    }
    corrupt.push_back(path);
  }
  return corrupt;
}

}  // namespace gantry::testing

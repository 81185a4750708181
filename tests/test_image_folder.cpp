// Image folders (io/image_folder.h), on images this test writes itself with
// stb_image_write into a fresh temporary folder: the Resize + CenterCrop
// filter against a direct two-dimensional evaluation in double of the same
// triangle filter (the weight of a source pixel is the product of the two
// one-dimensional triangles, normalized over the whole image, computed on the
// whole resized image and then cropped), within rounding; exact results for
// the identity size, crop offsets and constant images; channel conversions
// and the planar layout; every format (PNG gray / RGB / RGBA, JPEG, BMP, TGA)
// through decode_image; truncated and hostile files failing with messages
// that name them; the scan's recursion, order, hidden entries, classes,
// skipped files and errors, and a directory symlink loop.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <tuple>

#include "io/image_folder.h"

// STATIC: private copies for this test; the decoder gives the reference
// pixels of lossy JPEGs, the encoder writes every test image.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include "stb_image.h"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

using namespace gantry;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

struct Image {
  int w = 0, h = 0, c = 0;
  Bytes px;  // [h, w, c]
  uint8_t at(int x, int y, int ch) const { return px[(size_t(y) * size_t(w) + size_t(x)) * size_t(c) + size_t(ch)]; }
};

// Simple shapes with some noise: a gradient background, a disc and a bar in
// other colours, and a fixed LCG's noise on top; channel k differs from the
// others, alpha varies from 0 to 255.
Image shapes(int w, int h, int c, uint32_t seed = 1) {
  Image im{w, h, c, Bytes(size_t(w) * size_t(h) * size_t(c))};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k) {
        seed = seed * 1664525u + 1013904223u;
        const double dx = x - w * 0.6, dy = y - h * 0.4, r = std::min(w, h) * 0.3;
        int v = (x * 160 / std::max(1, w - 1) + y * 90 / std::max(1, h - 1) + 40 * k) % 256;
        if (dx * dx + dy * dy < r * r) v = 230 - 70 * k;
        if (x >= w / 5 && x < w / 5 + std::max(1, w / 8)) v = 20 + 50 * k;
        v += int(seed >> 28) - 8;
        if (k == 3) v = (x * 37 + y * 11) % 256;  // alpha
        im.px[(size_t(y) * size_t(w) + size_t(x)) * size_t(c) + size_t(k)] = uint8_t(std::clamp(v, 0, 255));
      }
  return im;
}

Image constant(int w, int h, std::vector<uint8_t> colour) {
  Image im{w, h, int(colour.size()), {}};
  for (int i = 0; i < w * h; ++i) im.px.insert(im.px.end(), colour.begin(), colour.end());
  return im;
}

// ---- the independent reference

// Python's round(): halves to even, as nearbyint does in the default mode.
int64_t py_round(double v) { return int64_t(std::nearbyint(v)); }

double triangle(int64_t o, int x, int in, int64_t out) {
  const double scale = double(in) / double(out), support = std::max(scale, 1.0), c = (double(o) + 0.5) * scale;
  return std::max(0.0, 1.0 - std::fabs(x + 0.5 - c) / support);
}

// torchvision Resize(size) + CenterCrop(size) of `im`, every output pixel a
// direct sum over the whole source image: [c, size, size] in double.
std::vector<double> reference(const Image& im, int size) {
  // int(size * long / short) == floor for these sizes.
  const int64_t nh = im.h <= im.w ? size : int64_t(size) * im.h / im.w;
  const int64_t nw = im.h <= im.w ? int64_t(size) * im.w / im.h : size;
  const int64_t top = py_round((nh - size) / 2.0), left = py_round((nw - size) / 2.0);
  std::vector<double> out(size_t(im.c) * size_t(size) * size_t(size));
  for (int i = 0; i < size; ++i)
    for (int j = 0; j < size; ++j) {
      std::vector<double> num(size_t(im.c), 0.0);
      double den = 0;
      for (int y = 0; y < im.h; ++y) {
        const double wy = triangle(top + i, y, im.h, nh);
        for (int x = 0; x < im.w; ++x) {
          const double wxy = wy * triangle(left + j, x, im.w, nw);
          den += wxy;
          for (int k = 0; k < im.c; ++k) num[size_t(k)] += wxy * im.at(x, y, k);
        }
      }
      for (int k = 0; k < im.c; ++k)
        out[(size_t(k) * size_t(size) + size_t(i)) * size_t(size) + size_t(j)] = num[size_t(k)] / den;
    }
  return out;
}

// Every output within rounding of the reference (float sums in the code
// under test, so a value at .5 may go either way).
void expect_near_reference(const Bytes& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (std::fabs(got[i] - want[i]) > 0.5 + 1e-3 && bad++ < 5)
      ADD_FAILURE() << what << ": output " << i << " is " << int(got[i]) << ", the 2-D filter gives " << want[i];
  EXPECT_EQ(bad, 0) << what;
}

// Channel conversion as the interface states it, done here on the pixels.
Image convert(const Image& im, int channels) {
  Image out{im.w, im.h, channels, {}};
  for (int y = 0; y < im.h; ++y)
    for (int x = 0; x < im.w; ++x) {
      const bool gray = im.c <= 2;
      const int r = im.at(x, y, 0), g = gray ? r : im.at(x, y, 1), b = gray ? r : im.at(x, y, 2);
      if (channels == 1)
        out.px.push_back(uint8_t(gray ? r : (299 * r + 587 * g + 114 * b + 500) / 1000));
      else
        out.px.insert(out.px.end(), {uint8_t(r), uint8_t(g), uint8_t(b)});
    }
  return out;
}

// ---- writing test files

void append(void* context, void* data, int size) {
  auto* out = static_cast<Bytes*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

// fmt: png, jpg (quality 95), bmp, tga (run-length coded) or tga-raw.
Bytes encode(const Image& im, const std::string& fmt) {
  Bytes out;
  int ok = 0;
  if (fmt == "png") ok = stbi_write_png_to_func(append, &out, im.w, im.h, im.c, im.px.data(), im.w * im.c);
  if (fmt == "jpg") ok = stbi_write_jpg_to_func(append, &out, im.w, im.h, im.c, im.px.data(), 95);
  if (fmt == "bmp") ok = stbi_write_bmp_to_func(append, &out, im.w, im.h, im.c, im.px.data());
  if (fmt == "tga" || fmt == "tga-raw") {
    stbi_write_tga_with_rle = fmt == "tga";
    ok = stbi_write_tga_to_func(append, &out, im.w, im.h, im.c, im.px.data());
    stbi_write_tga_with_rle = 1;
  }
  EXPECT_TRUE(ok) << "cannot encode " << fmt;
  return out;
}

// What stb_image makes of `bytes` (the reference pixels of a JPEG).
Image stb_decode(const Bytes& bytes) {
  Image im;
  uint8_t* p = stbi_load_from_memory(bytes.data(), int(bytes.size()), &im.w, &im.h, &im.c, 0);
  if (!p) {
    ADD_FAILURE() << "stb_image cannot decode: " << stbi_failure_reason();
    return im;
  }
  im.px.assign(p, p + size_t(im.w) * size_t(im.h) * size_t(im.c));
  stbi_image_free(p);
  return im;
}

void write_file(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes random_bytes(size_t n, uint32_t seed) {
  Bytes b(n);
  for (uint8_t& v : b) v = uint8_t((seed = seed * 1664525u + 1013904223u) >> 24);
  return b;
}

void put_be32(Bytes& b, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(v >> s));
}
void put_le(Bytes& b, uint32_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(uint8_t(v >> (8 * i)));
}

// A PNG whose IHDR claims w x h RGB (no image data follows).
Bytes png_header(uint32_t w, uint32_t h) {
  Bytes b = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  put_be32(b, 13);
  b.insert(b.end(), {'I', 'H', 'D', 'R'});
  put_be32(b, w);
  put_be32(b, h);
  b.insert(b.end(), {8, 2, 0, 0, 0, 0, 0, 0, 0});  // depth 8, RGB, then the CRC
  return b;
}

// A 24-bit BMP header claiming w x h, followed by `pixel_bytes` zeros.
Bytes bmp_header(int32_t w, int32_t h, size_t pixel_bytes) {
  Bytes b = {'B', 'M'};
  put_le(b, uint32_t(54 + pixel_bytes), 4);
  put_le(b, 0, 4);
  put_le(b, 54, 4);  // pixel data offset
  put_le(b, 40, 4);  // BITMAPINFOHEADER
  put_le(b, uint32_t(w), 4);
  put_le(b, uint32_t(h), 4);
  put_le(b, 1, 2);   // planes
  put_le(b, 24, 2);  // bits per pixel
  for (int i = 0; i < 6; ++i) put_le(b, 0, 4);
  b.resize(b.size() + pixel_bytes);
  return b;
}

// The offset of the first SOS marker of a JPEG stb_image_write made (three
// components: FF DA 00 0C 03).
size_t jpeg_sos(const Bytes& b) {
  static const uint8_t kSos[] = {0xff, 0xda, 0x00, 0x0c, 0x03};
  const auto it = std::search(b.begin(), b.end(), std::begin(kSos), std::end(kSos));
  EXPECT_NE(it, b.end());
  return size_t(it - b.begin());
}

// `jpeg` with two 40000-byte APP segments after SOI, the first an EXIF-like
// block holding a whole thumbnail JPEG (its own SOS and EOI): the frame
// header now lies past the first 64 KiB, and the first FF DA / last FF D9 in
// the file may be the thumbnail's.
Bytes with_exif_thumbnail(const Bytes& jpeg, const Bytes& thumbnail) {
  Bytes b(jpeg.begin(), jpeg.begin() + 2);
  for (int app = 0; app < 2; ++app) {
    b.insert(b.end(), {0xff, uint8_t(0xe1 + app), uint8_t(40000 >> 8), uint8_t(40000 & 0xff)});
    Bytes payload = text("Exif");
    payload.insert(payload.end(), {0, 0});
    if (app == 0) payload.insert(payload.end(), thumbnail.begin(), thumbnail.end());
    payload.resize(40000 - 2);
    b.insert(b.end(), payload.begin(), payload.end());
  }
  b.insert(b.end(), jpeg.begin() + 2, jpeg.end());
  return b;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

class ImageFolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("gantry_test_image_folder_" + std::to_string(::getpid())) /
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_.parent_path()); }

  std::string write(const std::string& rel, const Bytes& bytes) {
    write_file(dir_ / rel, bytes);
    return (dir_ / rel).string();
  }

  // decode_image on `path`, which must succeed and write exactly C·S·S bytes.
  Bytes decode(const std::string& path, int size, int channels) {
    Bytes out(size_t(channels) * size_t(size) * size_t(size) + 16, 0x5a);
    const Status s = decode_image(path, size, channels, out.data());
    EXPECT_TRUE(s.ok()) << s.message();
    for (size_t i = out.size() - 16; i < out.size(); ++i) EXPECT_EQ(out[i], 0x5a) << "wrote past the output";
    out.resize(out.size() - 16);
    return out;
  }

  fs::path dir_;
};

// ---- the filter

struct Case {
  int w, h, c, size;
};

TEST(ResizeCenterCrop, MatchesTheDirect2dFilter) {
  const Case cases[] = {
      {48, 64, 3, 16},  // portrait, shrinking
      {50, 30, 3, 16},  // landscape, shrinking
      {40, 40, 1, 16},  // square
      {5, 7, 3, 16},    // portrait, growing
      {9, 5, 1, 16},    // landscape, growing
      {17, 33, 3, 8},   // odd sizes
      {31, 50, 4, 12},  // non-integer scale, four channels
      {13, 9, 3, 1},    // one output pixel
      {200, 3, 1, 4},   // a long strip: shrink one way, grow the other
      {23, 37, 2, 23},  // the shorter side already the size
      {40, 24, 3, 20},  // an odd crop
  };
  for (const Case& k : cases) {
    const std::string what =
        std::to_string(k.w) + "x" + std::to_string(k.h) + "x" + std::to_string(k.c) + " -> " + std::to_string(k.size);
    const Image im = shapes(k.w, k.h, k.c, uint32_t(k.w * 131 + k.h));
    Bytes out(size_t(k.c) * size_t(k.size) * size_t(k.size));
    resize_center_crop(im.px.data(), k.h, k.w, k.c, k.size, out.data());
    expect_near_reference(out, reference(im, k.size), what);
  }
}

TEST(ResizeCenterCrop, IdentitySizeIsAnExactPlanarCropAtPythonsRound) {
  // h x w with w = 16 = size: no resizing, only the crop, whose top is
  // Python's round((h - 16) / 2): 19 rows -> round(1.5) = 2, 21 -> round(2.5) = 2.
  const std::pair<int, int> cases[] = {{16, 0}, {17, 0}, {19, 2}, {21, 2}, {23, 4}};
  for (const auto& [h, top] : cases) {
    for (const bool transpose : {false, true}) {
      const int H = transpose ? 16 : h, W = transpose ? h : 16;
      const Image im = shapes(W, H, 3, uint32_t(h));
      Bytes out(3 * 16 * 16);
      resize_center_crop(im.px.data(), H, W, 3, 16, out.data());
      EXPECT_EQ(py_round((h - 16) / 2.0), top);
      for (int c = 0; c < 3; ++c)
        for (int y = 0; y < 16; ++y)
          for (int x = 0; x < 16; ++x) {
            const int sy = transpose ? y : y + top, sx = transpose ? x + top : x;
            ASSERT_EQ(out[size_t(c * 256 + y * 16 + x)], im.at(sx, sy, c))
                << W << "x" << H << " channel " << c << " at " << x << "," << y;
          }
    }
  }
}

TEST(ResizeCenterCrop, ConstantImagesStayExactlyConstant) {
  const Case cases[] = {{37, 23, 3, 16}, {5, 3, 3, 16}, {64, 64, 3, 7}, {16, 16, 3, 16}, {1, 1, 3, 5}, {300, 2, 3, 9}};
  for (const Case& k : cases)
    for (const std::vector<uint8_t>& colour :
         std::vector<std::vector<uint8_t>>{{0, 1, 2}, {127, 128, 254}, {255, 255, 255}}) {
      const Image im = constant(k.w, k.h, colour);
      Bytes out(3 * size_t(k.size) * size_t(k.size));
      resize_center_crop(im.px.data(), k.h, k.w, 3, k.size, out.data());
      for (size_t i = 0; i < out.size(); ++i)
        ASSERT_EQ(out[i], colour[i / (size_t(k.size) * size_t(k.size))]) << k.w << "x" << k.h << " -> " << k.size;
    }
}

// ---- decoding

TEST_F(ImageFolderTest, EveryFormatDecodesToTheReference) {
  struct FileCase {
    const char* fmt;
    int w, h, c, size;
  };
  const FileCase cases[] = {{"png", 30, 20, 1, 12}, {"png", 20, 31, 3, 16},   {"png", 7, 9, 4, 16},
                            {"png", 25, 25, 2, 10}, {"jpg", 40, 28, 3, 16},   {"jpg", 9, 14, 3, 16},
                            {"bmp", 21, 34, 3, 16}, {"bmp", 16, 12, 4, 20},   {"tga", 33, 22, 3, 16},
                            {"tga", 6, 6, 1, 8},    {"tga-raw", 19, 27, 4, 8}};
  for (const FileCase& k : cases) {
    const Image im = shapes(k.w, k.h, k.c, uint32_t(k.w + 7 * k.h));
    const Bytes bytes = encode(im, k.fmt);
    const std::string ext = std::string(k.fmt) == "tga-raw" ? "tga" : k.fmt;
    const std::string path = write(std::string(k.fmt) + "_" + std::to_string(k.c) + "." + ext, bytes);
    // JPEG is lossy: the reference starts from what stb_image decodes.
    const Image source = std::string(k.fmt) == "jpg" ? stb_decode(bytes) : im;
    for (int channels : {1, 3}) {
      const std::string what = path + " as " + std::to_string(channels) + " channels";
      expect_near_reference(decode(path, k.size, channels), reference(convert(source, channels), k.size), what);
    }
  }
}

TEST_F(ImageFolderTest, ChannelConversionsAndPlanarLayout) {
  const int S = 12;
  const Image rgba = shapes(S, S, 4, 5), rgb = shapes(S, S, 3, 6), gray = shapes(S, S, 1, 7),
              gray_alpha = shapes(S, S, 2, 8);
  const std::string rgba_path = write("rgba.png", encode(rgba, "png")), rgb_path = write("rgb.png", encode(rgb, "png"));
  const std::string gray_path = write("gray.png", encode(gray, "png"));
  const std::string ga_path = write("gray_alpha.png", encode(gray_alpha, "png"));
  auto at = [&](const Bytes& planes, int c, int x, int y) { return planes[size_t(c * S * S + y * S + x)]; };

  const Bytes from_rgba = decode(rgba_path, S, 3), rgba_gray = decode(rgba_path, S, 1);
  const Bytes from_rgb = decode(rgb_path, S, 3), rgb_gray = decode(rgb_path, S, 1);
  const Bytes gray_rgb = decode(gray_path, S, 3), gray_gray = decode(gray_path, S, 1);
  const Bytes ga_rgb = decode(ga_path, S, 3), ga_gray = decode(ga_path, S, 1);
  int alpha_values = 0;
  for (int y = 0; y < S; ++y)
    for (int x = 0; x < S; ++x) {
      alpha_values += rgba.at(x, y, 3) < 128;
      for (int c = 0; c < 3; ++c) {
        // Planar: plane c holds channel c, rows top first; alpha dropped, not blended.
        EXPECT_EQ(at(from_rgba, c, x, y), rgba.at(x, y, c)) << "RGBA at " << x << "," << y;
        EXPECT_EQ(at(from_rgb, c, x, y), rgb.at(x, y, c)) << "RGB at " << x << "," << y;
        // Gray to RGB repeats the gray.
        EXPECT_EQ(at(gray_rgb, c, x, y), gray.at(x, y, 0)) << "gray at " << x << "," << y;
        EXPECT_EQ(at(ga_rgb, c, x, y), gray_alpha.at(x, y, 0)) << "gray+alpha at " << x << "," << y;
      }
      // RGB to gray: ITU-R BT.601 luma, rounded.
      const int luma = (299 * rgb.at(x, y, 0) + 587 * rgb.at(x, y, 1) + 114 * rgb.at(x, y, 2) + 500) / 1000;
      EXPECT_EQ(at(rgb_gray, 0, x, y), luma) << "luma at " << x << "," << y;
      const int luma_a = (299 * rgba.at(x, y, 0) + 587 * rgba.at(x, y, 1) + 114 * rgba.at(x, y, 2) + 500) / 1000;
      EXPECT_EQ(at(rgba_gray, 0, x, y), luma_a) << "RGBA luma at " << x << "," << y;
      EXPECT_EQ(at(gray_gray, 0, x, y), gray.at(x, y, 0));
      EXPECT_EQ(at(ga_gray, 0, x, y), gray_alpha.at(x, y, 0));
    }
  EXPECT_GT(alpha_values, 10) << "the alpha channel should vary, so that blending would show";

  // Resized, gray -> RGB still gives three equal planes, each the gray result.
  const std::string big_gray = write("gray_big.png", encode(shapes(30, 21, 1, 9), "png"));
  const Bytes planes = decode(big_gray, 10, 3), one = decode(big_gray, 10, 1);
  for (int c = 0; c < 3; ++c)
    EXPECT_TRUE(std::equal(one.begin(), one.end(), planes.begin() + c * 100)) << "plane " << c;
}

TEST_F(ImageFolderTest, TopDownBmpIsReadTopFirst) {
  // A negative height in the BMP header: the same rows, stored top first, so
  // the picture is the original upside down.
  const Image im = shapes(10, 14, 3, 12);
  Bytes bmp = encode(im, "bmp");
  ASSERT_EQ(bmp[22] | bmp[23] << 8, 14) << "the height field of a BITMAPINFOHEADER";
  const uint32_t minus_14 = uint32_t(-14);
  for (int i = 0; i < 4; ++i) bmp[size_t(22 + i)] = uint8_t(minus_14 >> (8 * i));
  Image flipped = im;
  for (int y = 0; y < im.h; ++y) std::copy_n(&im.px[size_t(im.h - 1 - y) * 30], 30, &flipped.px[size_t(y) * 30]);
  const Bytes out = decode(write("top_down.bmp", bmp), 10, 3);
  expect_near_reference(out, reference(flipped, 10), "top-down BMP");
  std::vector<ImageFile> files = scan_image_folder(dir_.string(), false, 1).value().files;
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].height, 14) << "the scan reports the height, not its sign";
}

TEST_F(ImageFolderTest, PngOfTheModelSizeIsReproducedExactly) {
  for (int c : {1, 3}) {
    const Image im = shapes(24, 24, c, uint32_t(c));
    const Bytes out = decode(write("exact_" + std::to_string(c) + ".png", encode(im, "png")), 24, c);
    for (int k = 0; k < c; ++k)
      for (int y = 0; y < 24; ++y)
        for (int x = 0; x < 24; ++x) ASSERT_EQ(out[size_t(k * 576 + y * 24 + x)], im.at(x, y, k));
  }
}

// Fails decode_image on `path` and checks the message names it and says `why`.
void expect_decode_error(const std::string& path, const std::string& why) {
  Bytes out(3 * 16 * 16);
  const Status s = decode_image(path, 16, 3, out.data());
  ASSERT_FALSE(s.ok()) << path << " decoded, but should fail with '" << why << "'";
  EXPECT_TRUE(contains(s.message(), path)) << s.message();
  EXPECT_TRUE(contains(s.message(), why)) << s.message();
}

TEST_F(ImageFolderTest, TruncatedFilesFailNamingTheFile) {
  const Image im = shapes(64, 48, 3, 3);
  const Bytes png = encode(im, "png"), jpg = encode(im, "jpg"), bmp = encode(im, "bmp"), tga = encode(im, "tga-raw");
  const Bytes exif = with_exif_thumbnail(jpg, encode(shapes(8, 8, 3, 4), "jpg"));
  // The intact files decode: the checks below are not simply refusing everything.
  for (const auto& [name, bytes] : std::vector<std::pair<std::string, Bytes>>{
           {"ok.png", png}, {"ok.jpg", jpg}, {"ok.bmp", bmp}, {"ok.tga", tga}, {"exif.jpg", exif}})
    decode(write(name, bytes), 16, 3);

  const size_t sos = jpeg_sos(jpg), exif_sos = exif.size() - jpg.size() + sos;
  ASSERT_LT(sos + 100, jpg.size());
  const std::pair<std::string, Bytes> cut[] = {
      {"mid_idat.png", Bytes(png.begin(), png.begin() + long(png.size() / 2))},
      {"no_iend.png", Bytes(png.begin(), png.end() - 12)},
      {"mid_scan.jpg", Bytes(jpg.begin(), jpg.begin() + long((sos + jpg.size()) / 2))},
      {"exif_mid_scan.jpg", Bytes(exif.begin(), exif.begin() + long((exif_sos + exif.size()) / 2))},
      {"short.bmp", Bytes(bmp.begin(), bmp.end() - 200)},
      {"short.tga", Bytes(tga.begin(), tga.end() - 200)},
  };
  for (const auto& [name, bytes] : cut) expect_decode_error(write(name, bytes), "truncated");
  expect_decode_error(write("mid_scan2.jpg", Bytes(jpg.begin(), jpg.begin() + long((sos + jpg.size()) / 2))),
                      "no JPEG end-of-image marker after the scan");
}

TEST_F(ImageFolderTest, CorruptAndHostileFilesFailWithTheirReason) {
  expect_decode_error(write("zero.png", {}), "empty file");
  expect_decode_error(write("random.png", random_bytes(3000, 11)), "not a PNG, JPEG, BMP or TGA image");
  expect_decode_error(write("text.jpg", text("this is not a JPEG\n")), "not a PNG, JPEG, BMP or TGA image");
  expect_decode_error(write("huge.bmp", bmp_header(100000, 100000, 64)), "100000x100000");
  expect_decode_error(write("huge.png", png_header(100000, 100000)), "16384");
  expect_decode_error(write("wide.bmp", bmp_header(16385, 1, 64)), "16384");
  expect_decode_error(write("many.bmp", bmp_header(16384, 8192, 64)), "2^26");
  expect_decode_error(write("bad_ihdr.png", png_header(0, 5)), "corrupt PNG");
  expect_decode_error((dir_ / "missing.png").string(), "No such file");
  // A file over 256 MiB (sparse: no disk used) is refused before it is read.
  const fs::path big = dir_ / "big.png";
  write_file(big, png_header(10, 10));
  fs::resize_file(big, (uint64_t(256) << 20) + 1);
  expect_decode_error(big.string(), "over the limit of 268435456 bytes");

  const std::string ok = write("ok.png", encode(shapes(8, 8, 3), "png"));
  Bytes out(3 * 16 * 16);
  EXPECT_TRUE(contains(decode_image(ok, 16, 2, out.data()).message(), "channels is 2"));
  EXPECT_TRUE(contains(decode_image(ok, 0, 3, out.data()).message(), "size is 0"));
}

TEST_F(ImageFolderTest, OversizedJpegHuffmanTableIsRefusedBeforeStbImageReadsIt) {
  // A DHT segment after SOI whose 16 code counts sum to 16 · 255 = 4080:
  // stb_image 2.27 would write their code lengths past its 257-entry array.
  const Bytes jpg = encode(shapes(16, 16, 3), "jpg");
  Bytes dht = {0xff, 0xc4, uint8_t((2 + 17 + 4080) >> 8), uint8_t((2 + 17 + 4080) & 0xff), 0x00};
  dht.resize(dht.size() + 16, 255);
  dht.resize(dht.size() + 4080, 0);
  Bytes bad(jpg.begin(), jpg.begin() + 2);
  bad.insert(bad.end(), dht.begin(), dht.end());
  bad.insert(bad.end(), jpg.begin() + 2, jpg.end());
  const std::string path = write("big_table.jpg", bad);
  expect_decode_error(path, "Huffman table of 4080 codes");
  write("ok.png", encode(shapes(16, 16, 3), "png"));
  const Result<ImageFolder> f = scan_image_folder(dir_.string(), false, 1);
  ASSERT_TRUE(f.ok()) << f.message();
  ASSERT_EQ(f.value().skipped.size(), 1u);
  EXPECT_TRUE(contains(f.value().skipped[0].reason, "Huffman table")) << f.value().skipped[0].reason;
}

// An 8-bit BMP of w x h palette indices (rows top first, stored bottom-up)
// with a palette of the given BGR colours.
Bytes bmp8(int w, int h, const std::vector<std::array<uint8_t, 3>>& palette, const Bytes& indices) {
  const size_t stride = (size_t(w) + 3) / 4 * 4, offset = 54 + 4 * palette.size();
  Bytes b = bmp_header(w, h, 0);
  b[10] = uint8_t(offset), b[11] = uint8_t(offset >> 8);
  b[28] = 8;  // bits per pixel
  for (const auto& c : palette) b.insert(b.end(), {c[0], c[1], c[2], 0});
  for (int y = h - 1; y >= 0; --y) {
    b.insert(b.end(), indices.begin() + y * w, indices.begin() + (y + 1) * w);
    b.resize(b.size() + stride - size_t(w));
  }
  return b;
}

TEST_F(ImageFolderTest, BmpPaletteIndicesMustBeInThePalette) {
  // stb_image 2.27 would read an index past the palette from uninitialized memory.
  const std::vector<std::array<uint8_t, 3>> palette = {{255, 0, 0}, {10, 200, 30}};  // BGR
  const Bytes ok_indices = {0, 1, 1, 0, 1, 0}, bad_indices = {0, 1, 1, 0, 7, 0};
  Image rgb{3, 2, 3, {}};
  for (uint8_t i : ok_indices) rgb.px.insert(rgb.px.end(), {palette[i][2], palette[i][1], palette[i][0]});
  expect_near_reference(decode(write("ok.bmp", bmp8(3, 2, palette, ok_indices)), 3, 3), reference(rgb, 3),
                        "an 8-bit BMP");
  expect_decode_error(write("bad.bmp", bmp8(3, 2, palette, bad_indices)), "past its palette of 2");
}

// A palette PNG (colour type 3, 8 bits) of w x h indices, rows top first;
// the CRCs are left zero, as stb_image reads none.
Bytes palette_png(int w, int h, const std::vector<std::array<uint8_t, 3>>& palette, const Bytes& indices) {
  Bytes raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(0);  // filter: none
    raw.insert(raw.end(), indices.begin() + y * w, indices.begin() + (y + 1) * w);
  }
  int n = 0;
  unsigned char* z = stbi_zlib_compress(raw.data(), int(raw.size()), &n, 8);
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  auto chunk = [&](const std::string& type, const Bytes& data) {
    put_be32(png, uint32_t(data.size()));
    png.insert(png.end(), type.begin(), type.end());
    png.insert(png.end(), data.begin(), data.end());
    put_be32(png, 0);
  };
  Bytes ihdr, plte;
  put_be32(ihdr, uint32_t(w));
  put_be32(ihdr, uint32_t(h));
  ihdr.insert(ihdr.end(), {8, 3, 0, 0, 0});
  for (const auto& c : palette) plte.insert(plte.end(), c.begin(), c.end());
  chunk("IHDR", ihdr);
  chunk("PLTE", plte);
  chunk("IDAT", Bytes(z, z + n));
  chunk("IEND", {});
  std::free(z);
  return png;
}

// Leaves 64 KiB of the stack below the caller's frame holding 0xA5, so that a
// decoder reading stack memory it never wrote finds something other than the
// zeros of a fresh stack.
[[gnu::noinline]] void dirty_stack() {
  volatile uint8_t junk[1 << 16];
  for (auto& b : junk) b = 0xa5;
}

TEST_F(ImageFolderTest, PngPaletteIndicesPastThePaletteAreBlack) {
  // stb_image 2.27 would give such a pixel whatever its palette array held.
  const std::vector<std::array<uint8_t, 3>> palette = {{200, 10, 20}, {5, 100, 250}};
  const Bytes indices = {0, 1, 9, 1, 1, 200, 0, 0, 2, 0, 1, 255, 1, 1, 0, 3};
  const std::string path = write("palette.png", palette_png(4, 4, palette, indices));
  dirty_stack();
  const Bytes out = decode(path, 4, 3);
  for (int i = 0; i < 16; ++i)
    for (int c = 0; c < 3; ++c)
      EXPECT_EQ(out[size_t(c * 16 + i)], indices[size_t(i)] < 2 ? palette[indices[size_t(i)]][size_t(c)] : 0)
          << "pixel " << i << " (index " << int(indices[size_t(i)]) << ") channel " << c;
}

TEST(DecodeImage, TgaIsTriedOnlyWhenTheNameAllowsIt) {
  // TGA has no signature: the same bytes are a TGA called x.tga (or a name
  // without an image extension) but not an image called x.png.
  const Bytes tga = encode(shapes(5, 4, 3), "tga");
  Bytes out(3 * 4 * 4);
  EXPECT_TRUE(decode_image(tga, "x.tga", 4, 3, out.data()).ok());
  EXPECT_TRUE(decode_image(tga, "fuzz-image", 4, 3, out.data()).ok());
  const Status s = decode_image(tga, "x.png", 4, 3, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "'x.png'")) << s.message();
  // A PNG named .jpg is still a PNG: the content decides.
  EXPECT_TRUE(decode_image(encode(shapes(5, 4, 3), "png"), "x.jpg", 4, 3, out.data()).ok());
}

// ---- the scan

struct Expected {
  std::string path;
  int32_t label;
  int w, h;
};

TEST_F(ImageFolderTest, ScanIsRecursiveSortedAndSkipsHiddenAndBrokenFiles) {
  std::vector<Expected> want;
  auto image = [&](const std::string& rel, int w, int h, const char* fmt) {
    write(rel, encode(shapes(w, h, 3), fmt));
    want.push_back({(dir_ / rel).string(), 0, w, h});
  };
  image("b.png", 20, 30, "png");
  image("a/z.jpg", 33, 17, "jpg");
  image("a/deeper/still/m.bmp", 18, 18, "bmp");
  image("a-b.TGA", 25, 19, "tga");  // '-' sorts before '/': a-b.TGA before a/...
  image("c/e.jpeg", 40, 22, "jpg");
  write("c/exif.jpg", with_exif_thumbnail(encode(shapes(31, 29, 3), "jpg"), encode(shapes(8, 8, 3), "jpg")));
  want.push_back({(dir_ / "c/exif.jpg").string(), 0, 31, 29});  // frame header past the first 64 KiB
  write(".hidden.png", encode(shapes(20, 20, 3), "png"));
  write(".git/objects/x.png", encode(shapes(20, 20, 3), "png"));
  write("a/.cache/y.png", encode(shapes(20, 20, 3), "png"));
  write("notes.txt", text("not an image"));
  write("a/README", text("not an image"));
  write("bad/zero.png", {});
  write("bad/random.png", random_bytes(500, 3));
  write("bad/text.jpg", text("hello"));
  write("bad/huge.bmp", bmp_header(100000, 100000, 16));
  // A symlink loop (a/loop -> the folder itself) and a link to a file.
  fs::create_directory_symlink(dir_, dir_ / "a/loop");
  fs::create_symlink(dir_ / "b.png", dir_ / "c/link.png");
  want.push_back({(dir_ / "c/link.png").string(), 0, 20, 30});
  std::sort(want.begin(), want.end(), [](const Expected& x, const Expected& y) { return x.path < y.path; });

  const auto start = std::chrono::steady_clock::now();
  const Result<ImageFolder> f = scan_image_folder(dir_.string(), false, 16);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2)) << "the loop was followed?";
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f.value().root, dir_.string());
  EXPECT_TRUE(f.value().class_names.empty());
  ASSERT_EQ(f.value().files.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const ImageFile& got = f.value().files[i];
    EXPECT_EQ(got.path, want[i].path);
    EXPECT_EQ(got.label, 0);
    EXPECT_EQ(got.width, want[i].w) << got.path;
    EXPECT_EQ(got.height, want[i].h) << got.path;
  }
  // The broken ones, in path order, with reasons.
  const std::vector<std::pair<std::string, std::string>> skipped = {
      {"bad/huge.bmp", "100000x100000"},
      {"bad/random.png", "not a PNG, JPEG, BMP or TGA image"},
      {"bad/text.jpg", "not a PNG, JPEG, BMP or TGA image"},
      {"bad/zero.png", "empty file"}};
  ASSERT_EQ(f.value().skipped.size(), skipped.size());
  for (size_t i = 0; i < skipped.size(); ++i) {
    EXPECT_EQ(f.value().skipped[i].path, (dir_ / skipped[i].first).string());
    EXPECT_TRUE(contains(f.value().skipped[i].reason, skipped[i].second)) << f.value().skipped[i].reason;
  }
  // Every file the scan lists decodes.
  for (const ImageFile& file : f.value().files) decode(file.path, 16, 3);
}

TEST_F(ImageFolderTest, ScanByClassLabelsSubFoldersInSortedOrder) {
  std::vector<Expected> want;
  // Written out of order; classes sort as bytes ("Zebra" < "ant" < "bird").
  const std::vector<std::pair<std::string, std::vector<std::string>>> classes = {
      {"bird", {"b2.png", "nest/b1.jpg", "a.bmp"}}, {"ant", {"x.tga"}}, {"Zebra", {"deep/er/z.png", "y.png"}}};
  for (const auto& [cls, files] : classes)
    for (const std::string& file : files) {
      const int w = 17 + int(want.size()) * 3, h = 40 - int(want.size());
      write(cls + "/" + file, encode(shapes(w, h, 3), file.substr(file.find('.') + 1)));
      want.push_back({(dir_ / cls / file).string(), 0, w, h});
    }
  write("ant/broken.png", text("no"));
  write(".hidden_class/h.png", encode(shapes(20, 20, 3), "png"));
  write("README.txt", text("not an image, so allowed at the top"));
  std::vector<std::string> names;
  for (const auto& [cls, files] : classes) names.push_back(cls);
  std::sort(names.begin(), names.end());
  for (Expected& e : want) {
    const std::string cls = fs::path(e.path).lexically_relative(dir_).begin()->string();
    e.label = int32_t(std::find(names.begin(), names.end(), cls) - names.begin());
  }
  std::sort(want.begin(), want.end(),
            [](const Expected& x, const Expected& y) { return std::tie(x.label, x.path) < std::tie(y.label, y.path); });

  const Result<ImageFolder> f = scan_image_folder(dir_.string(), true, 16);
  ASSERT_TRUE(f.ok()) << f.message();
  EXPECT_EQ(f.value().class_names, names);
  ASSERT_EQ(f.value().files.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(f.value().files[i].path, want[i].path);
    EXPECT_EQ(f.value().files[i].label, want[i].label) << want[i].path;
    EXPECT_EQ(f.value().files[i].width, want[i].w) << want[i].path;
    EXPECT_EQ(f.value().files[i].height, want[i].h) << want[i].path;
  }
  ASSERT_EQ(f.value().skipped.size(), 1u);
  EXPECT_EQ(f.value().skipped[0].path, (dir_ / "ant/broken.png").string());
}

// scan_image_folder on `root` must fail with a message holding every part.
void expect_scan_error(const fs::path& root, bool by_class, int min_side, const std::vector<std::string>& parts) {
  const Result<ImageFolder> f = scan_image_folder(root.string(), by_class, min_side);
  ASSERT_FALSE(f.ok()) << root << " scanned without an error";
  for (const std::string& part : parts) EXPECT_TRUE(contains(f.message(), part)) << f.message();
}

TEST_F(ImageFolderTest, ScanErrorsNameTheirCause) {
  expect_scan_error(dir_ / "nope", false, 1, {(dir_ / "nope").string(), "does not exist"});
  const std::string file = write("file.png", encode(shapes(20, 20, 3), "png"));
  expect_scan_error(file, false, 1, {file, "not a directory"});

  fs::create_directories(dir_ / "empty/sub");
  write("empty/sub/notes.txt", text("x"));
  expect_scan_error(dir_ / "empty", false, 1, {(dir_ / "empty").string(), "no image files"});
  expect_scan_error(dir_ / "empty", true, 1, {(dir_ / "empty/sub").string(), "no usable image"});

  write("corrupt/a.png", {});
  write("corrupt/b.jpg", text("not a jpeg"));
  write("corrupt/c/d.png", random_bytes(100, 5));
  expect_scan_error(dir_ / "corrupt", false, 1,
                    {"no usable image", "3 image files were skipped", "a.png", "empty file"});

  write("toplevel/cls/a.png", encode(shapes(20, 20, 3), "png"));
  write("toplevel/stray.png", encode(shapes(20, 20, 3), "png"));
  expect_scan_error(dir_ / "toplevel", true, 1, {(dir_ / "toplevel/stray.png").string(), "directly"});
  EXPECT_TRUE(scan_image_folder((dir_ / "toplevel").string(), false, 1).ok()) << "without classes it is fine";

  write("noimage_class/good/a.png", encode(shapes(20, 20, 3), "png"));
  write("noimage_class/bad/a.png", {});
  expect_scan_error(dir_ / "noimage_class", true, 1, {(dir_ / "noimage_class/bad").string(), "empty file"});

  write("newline/a\nb/a.png", encode(shapes(20, 20, 3), "png"));
  expect_scan_error(dir_ / "newline", true, 1, {"line break"});

  write("small/a.png", encode(shapes(40, 40, 3), "png"));
  write("small/b.png", encode(shapes(31, 50, 3), "png"));
  write("small/c/d.png", encode(shapes(64, 20, 3), "png"));
  write("small/e.png", encode(shapes(12, 12, 3), "png"));
  expect_scan_error(dir_ / "small", false, 32,
                    {(dir_ / "small/b.png").string(), "31x50", "minimum of 32", "(2 more are too small)"});
  EXPECT_TRUE(scan_image_folder((dir_ / "small").string(), false, 12).ok());
}

}  // namespace

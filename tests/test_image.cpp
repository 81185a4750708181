// PNG output (io/image.h): every file written here is decoded back with
// stb_image and checked pixel by pixel: tile values and borders of a sample
// grid, grid sizes for columns / upscale / padding, NaN drawn magenta, a line
// plot's size, series colours, gaps and title; bad arguments give errors that
// name the file.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "io/image.h"

// STATIC: the decoder is private to this test; only PNG is needed.
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#include "stb_image.h"

using namespace gantry;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

struct Decoded {
  int w = 0, h = 0, c = 0;
  std::vector<uint8_t> px;  // [h, w, c]
  const uint8_t* at(int x, int y) const { return &px[(size_t(y) * size_t(w) + size_t(x)) * size_t(c)]; }
  bool is(int x, int y, Rgb colour) const {
    const uint8_t* p = at(x, y);
    return p[0] == colour.r && p[1] == colour.g && p[2] == colour.b;
  }
  int count(Rgb colour) const {
    int n = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) n += is(x, y, colour);
    return n;
  }
};

Decoded decode(const std::string& path) {
  Decoded d;
  unsigned char* data = stbi_load(path.c_str(), &d.w, &d.h, &d.c, 0);
  if (!data) {
    ADD_FAILURE() << "cannot decode " << path << ": " << stbi_failure_reason();
    return d;
  }
  d.px.assign(data, data + size_t(d.w) * size_t(d.h) * size_t(d.c));
  stbi_image_free(data);
  return d;
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "gantry_test_image_" + name; }

// Three 1x2x2 images ([N, C, H, W] = [3, 1, 2, 2]) and the bytes they map to:
// round((v + 1) / 2 * 255), clamped; 0 -> 127.5 rounds up to 128.
const std::vector<float> kThree = {-1.0f, 1.0f,   0.0f,   0.5f,      // 0, 255, 128, 191
                                   -0.5f, 2.0f,   -3.0f,  1.0f,      // 64, 255 (clamped), 0 (clamped), 255
                                   0.25f, -0.25f, 0.999f, -0.999f};  // 159, 96, 255, 0
const uint8_t kThreeBytes[3][2][2] = {{{0, 255}, {128, 191}}, {{64, 255}, {0, 255}}, {{159, 96}, {255, 0}}};

TEST(ImageGrid, TilesAndBordersHaveExactValues) {
  const std::string path = temp_path("grid.png");
  ASSERT_TRUE(write_image_grid(path, kThree, 3, 1, 2, 2, /*columns=*/2).ok());
  const Decoded d = decode(path);
  ASSERT_EQ(d.c, 1) << "a grey grid is a grey PNG";
  // Two columns, two rows, 2 pixels of grey (128) around and between tiles;
  // the fourth cell is empty and grey too.
  const uint8_t G = 128;
  // One line per pixel row.
  // clang-format off
  const uint8_t expected[10][10] = {
      {G, G, G,   G,   G, G, G,   G,   G, G},
      {G, G, G,   G,   G, G, G,   G,   G, G},
      {G, G, 0,   255, G, G, 64,  255, G, G},
      {G, G, 128, 191, G, G, 0,   255, G, G},
      {G, G, G,   G,   G, G, G,   G,   G, G},
      {G, G, G,   G,   G, G, G,   G,   G, G},
      {G, G, 159, 96,  G, G, G,   G,   G, G},
      {G, G, 255, 0,   G, G, G,   G,   G, G},
      {G, G, G,   G,   G, G, G,   G,   G, G},
      {G, G, G,   G,   G, G, G,   G,   G, G},
  };
  // clang-format on
  ASSERT_EQ(d.w, 10);
  ASSERT_EQ(d.h, 10);
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 10; ++x) EXPECT_EQ(*d.at(x, y), expected[y][x]) << "at x=" << x << " y=" << y;
}

struct GridCase {
  int columns, upscale, padding, w, h;
};

TEST(ImageGrid, SizeAndPlacementFollowColumnsUpscaleAndPadding) {
  const GridCase cases[] = {
      {2, 1, 2, 10, 10},  // the layout above
      {3, 1, 0, 6, 2},    // one row, no border
      {5, 1, 0, 6, 2},    // more columns than images: as many as images
      {1, 3, 1, 8, 22},   // one column: 1 * (2*3 + 1) + 1 wide, 3 * (2*3 + 1) + 1 high
      {2, 2, 0, 8, 8},
  };
  for (const GridCase& gc : cases) {
    SCOPED_TRACE("columns=" + std::to_string(gc.columns) + " upscale=" + std::to_string(gc.upscale) +
                 " padding=" + std::to_string(gc.padding));
    const std::string path = temp_path("grid_size.png");
    ASSERT_TRUE(write_image_grid(path, kThree, 3, 1, 2, 2, gc.columns, gc.upscale, gc.padding).ok());
    const Decoded d = decode(path);
    ASSERT_EQ(d.w, gc.w);
    ASSERT_EQ(d.h, gc.h);
    // Nearest neighbour: every output pixel of a tile is its source pixel.
    const int cols = std::min(gc.columns, 3), tile = 2 * gc.upscale;
    for (int i = 0; i < 3; ++i) {
      const int x0 = gc.padding + (i % cols) * (tile + gc.padding), y0 = gc.padding + (i / cols) * (tile + gc.padding);
      for (int y = 0; y < tile; ++y)
        for (int x = 0; x < tile; ++x)
          ASSERT_EQ(*d.at(x0 + x, y0 + y), kThreeBytes[i][y / gc.upscale][x / gc.upscale])
              << "image " << i << " at x=" << x << " y=" << y;
    }
  }
}

TEST(ImageGrid, RgbPlanesBecomeInterleavedPixels) {
  // [N, C, H, W] = [1, 3, 1, 2]: planes R, G, B.
  const std::vector<float> image = {1, -1, /*G*/ -1, 1, /*B*/ 0, 0};
  const std::string path = temp_path("grid_rgb.png");
  ASSERT_TRUE(write_image_grid(path, image, 1, 3, 1, 2, 1, 1, 0).ok());
  const Decoded d = decode(path);
  ASSERT_EQ(d.c, 3);
  ASSERT_EQ(d.w, 2);
  EXPECT_TRUE(d.is(0, 0, {255, 0, 128}));
  EXPECT_TRUE(d.is(1, 0, {0, 255, 128}));
}

TEST(ImageGrid, NanPixelsAreMagentaAndForceRgb) {
  const Rgb magenta{255, 0, 255}, grey{128, 128, 128};
  // Grey [2, 1, 1, 2] with one NaN: the whole grid becomes RGB.
  const std::vector<float> grey_images = {kNaN, 1, -1, 0};
  const std::string path = temp_path("grid_nan.png");
  ASSERT_TRUE(write_image_grid(path, grey_images, 2, 1, 1, 2, 2, 1, 1).ok());
  Decoded d = decode(path);
  ASSERT_EQ(d.c, 3);
  ASSERT_EQ(d.w, 7);
  ASSERT_EQ(d.h, 3);
  EXPECT_TRUE(d.is(0, 0, grey));
  EXPECT_TRUE(d.is(1, 1, magenta));
  EXPECT_TRUE(d.is(2, 1, {255, 255, 255}));
  EXPECT_TRUE(d.is(3, 1, grey));
  EXPECT_TRUE(d.is(4, 1, {0, 0, 0}));
  EXPECT_TRUE(d.is(5, 1, {128, 128, 128}));

  // RGB: a NaN in one channel makes the whole pixel magenta.
  const std::vector<float> rgb = {0, 0, /*G*/ kNaN, 0, /*B*/ 0, 0};
  ASSERT_TRUE(write_image_grid(path, rgb, 1, 3, 1, 2, 1, 1, 0).ok());
  d = decode(path);
  EXPECT_TRUE(d.is(0, 0, magenta));
  EXPECT_TRUE(d.is(1, 0, grey));
}

TEST(ImageGrid, BadArgumentsAreErrorsNamingTheFile) {
  const std::string path = temp_path("grid_bad.png");
  struct Bad {
    const char* why;
    Status status;
    const char* says;
  };
  const std::vector<float> big(size_t(20000) * 2, 0.0f);
  const Bad cases[] = {
      {"no images", write_image_grid(path, kThree, 0, 1, 2, 2, 2), "n is 0"},
      {"two channels", write_image_grid(path, kThree, 3, 2, 2, 2, 2), "channels is 2"},
      {"zero height", write_image_grid(path, kThree, 3, 1, 0, 2, 2), "HxW 0x2"},
      {"span too short", write_image_grid(path, std::span(kThree).first(11), 3, 1, 2, 2, 2), "hold 11 floats"},
      {"span too long", write_image_grid(path, kThree, 2, 1, 2, 2, 2), "hold 12 floats"},
      {"zero columns", write_image_grid(path, kThree, 3, 1, 2, 2, 0), "columns is 0"},
      {"zero upscale", write_image_grid(path, kThree, 3, 1, 2, 2, 2, 0), "upscale is 0"},
      {"negative padding", write_image_grid(path, kThree, 3, 1, 2, 2, 2, 1, -1), "padding is -1"},
      {"grid too wide", write_image_grid(path, big, 20000, 1, 1, 2, 20000), "over 32768 a side"},
      {"missing folder", write_image_grid(temp_path("no/such/dir.png"), kThree, 3, 1, 2, 2, 2), "no/such/dir.png"},
  };
  for (const Bad& b : cases) {
    EXPECT_FALSE(b.status.ok()) << b.why;
    EXPECT_NE(b.status.message().find(b.says), std::string::npos) << b.why << ": " << b.status.message();
    EXPECT_NE(b.status.message().find("gantry_test_image_"), std::string::npos) << b.why << ": " << b.status.message();
  }
}

TEST(PngAtomic, RoundTripsAndLeavesNoTemporaryFile) {
  const std::filesystem::path dir = temp_path("png_dir");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "rgba.png").string();
  std::vector<uint8_t> pixels(3 * 2 * 4);  // [H, W, C] = [2, 3, 4]
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 11);
  ASSERT_TRUE(write_png_atomic(path, 3, 2, 4, pixels).ok());
  const Decoded d = decode(path);
  EXPECT_EQ(d.w, 3);
  EXPECT_EQ(d.h, 2);
  EXPECT_EQ(d.c, 4);
  EXPECT_EQ(d.px, pixels);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir), {}), 1) << "a temporary file was left behind";

  const Status wrong = write_png_atomic(path, 3, 3, 4, pixels);
  EXPECT_FALSE(wrong.ok());
  EXPECT_NE(wrong.message().find("rgba.png"), std::string::npos) << wrong.message();
  EXPECT_FALSE(write_png_atomic(path, 3, 2, 5, pixels).ok());
  EXPECT_FALSE(write_png_atomic(path, 0, 2, 4, {}).ok());
}

// A noisy decaying curve over 200 steps, as a GAN loss log looks.
Series noisy_loss(const std::string& name, double start, double end, uint32_t seed) {
  Series s{name, {}, {}};
  for (int step = 0; step < 200; ++step) {
    seed = seed * 1664525u + 1013904223u;  // LCG: fixed, platform-independent noise
    const double noise = (double(seed >> 8) / double(1u << 24) - 0.5) * 0.3;
    s.x.push_back(step);
    s.y.push_back(end + (start - end) * std::exp(-step / 40.0) + noise);
  }
  return s;
}

bool dark(const uint8_t* p) { return p[0] < 80 && p[1] < 80 && p[2] < 80; }

TEST(LinePlot, HasSizeSeriesColoursAndADarkTitle) {
  const std::string path = temp_path("loss.png");
  const std::vector<Series> series = {noisy_loss("loss_D", 1.4, 0.6, 1), noisy_loss("loss_G", 0.7, 2.2, 2)};
  ASSERT_TRUE(write_line_plot(path, series, "DCGAN on MNIST: losses", 640, 400).ok());
  const Decoded d = decode(path);
  ASSERT_EQ(d.w, 640);
  ASSERT_EQ(d.h, 400);
  ASSERT_EQ(d.c, 3);
  EXPECT_GT(d.count({255, 255, 255}), d.w * d.h / 2) << "a white background";
  // Lines over 200 steps cover at least the plot's width in pixels.
  EXPECT_GT(d.count(plot_series_colour(0)), 300);
  EXPECT_GT(d.count(plot_series_colour(1)), 300);
  EXPECT_NE(plot_series_colour(0), plot_series_colour(1));
  // The title: dark pixels in the top band, centred.
  int title_pixels = 0;
  int64_t x_sum = 0;
  for (int y = 0; y < 24; ++y)
    for (int x = 0; x < d.w; ++x)
      if (dark(d.at(x, y))) ++title_pixels, x_sum += x;
  ASSERT_GT(title_pixels, 100);
  EXPECT_NEAR(double(x_sum) / title_pixels, d.w / 2.0, d.w * 0.05);
}

TEST(LinePlot, NonFiniteValuesBreakTheLine) {
  // y = 0 on x = 0..10 with a NaN at x = 5: the segments 0..4 and 6..10 must
  // not be joined across x = 5.
  Series s{"flat", {}, {}};
  for (int i = 0; i <= 10; ++i) s.x.push_back(i), s.y.push_back(i == 5 ? std::nan("") : 0.0);
  const std::string path = temp_path("gap.png");
  ASSERT_TRUE(write_line_plot(path, {s}, "gap", 640, 400).ok());
  const Decoded d = decode(path);
  const Rgb colour = plot_series_colour(0);
  int left = d.w, right = -1, row = -1;
  for (int y = 0; y < d.h; ++y)
    for (int x = 0; x < d.w; ++x)
      if (d.is(x, y, colour) && y > 40) left = std::min(left, x), right = std::max(right, x), row = y;
  ASSERT_LT(left, right);
  const int middle = (left + right) / 2;
  EXPECT_FALSE(d.is(middle, row, colour)) << "x=5 is NaN, but the line runs through it";
  EXPECT_TRUE(d.is((left + middle) / 2, row, colour));
}

TEST(LinePlot, EdgeCasesStillProduceAPlot) {
  const std::vector<std::pair<const char*, std::vector<Series>>> cases = {
      {"no series", {}},
      {"empty series", {{"empty", {}, {}}, {"one", {3}, {0.5}}}},
      {"one point", {{"one", {3}, {0.5}}}},
      {"all equal", {{"flat", {0, 1, 2}, {2, 2, 2}}}},
      {"all zero", {{"zero", {0, 1, 2}, {0, 0, 0}}}},
      {"inf and nan", {{"bad", {0, 1, 2, 3, 4}, {1, kInf, 2, std::nan(""), -kInf}}}},
      {"all nan", {{"nan", {0, 1}, {std::nan(""), std::nan("")}}}},
      {"tiny values", {{"tiny", {0, 1, 2}, {1e-7, 3e-7, 2e-7}}}},
      {"huge values", {{"huge", {0, 1e9, 2e9}, {-4e8, 3e8, 1e9}}}},
      {"equal to 15 digits", {{"near", {0, 1}, {1.0, 1.0 + 1e-15}}}},
      {"subnormal range", {{"sub", {0, 5e-324}, {0, 5e-324}}}},
  };
  for (const auto& [why, series] : cases) {
    const std::string path = temp_path("edge.png");
    const Status st = write_line_plot(path, series, why);
    ASSERT_TRUE(st.ok()) << why << ": " << st.message();
    const Decoded d = decode(path);
    EXPECT_EQ(d.w, 800) << why;
    EXPECT_EQ(d.h, 480) << why;
  }
  // A lone point is drawn as a dot, so it is visible; an empty series before
  // it keeps its colour slot.
  const std::string path = temp_path("point.png");
  ASSERT_TRUE(write_line_plot(path, {{"empty", {}, {}}, {"one", {3}, {0.5}}}, "").ok());
  EXPECT_GT(decode(path).count(plot_series_colour(1)), 4);
}

TEST(LinePlot, BadArgumentsAreErrorsNamingTheFile) {
  const std::string path = temp_path("plot_bad.png");
  const Status mismatch = write_line_plot(path, {{"loss_D", {0, 1}, {1}}}, "t");
  EXPECT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.message().find("'loss_D' has 2 x values but 1 y values"), std::string::npos) << mismatch.message();
  EXPECT_NE(mismatch.message().find("plot_bad.png"), std::string::npos) << mismatch.message();
  EXPECT_FALSE(write_line_plot(path, {}, "t", 100, 100).ok());
  EXPECT_FALSE(write_line_plot(path, {{"wide", {0, 1}, {-1e308, 1e308}}}, "t").ok());
}

}  // namespace

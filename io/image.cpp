// write_png_atomic, write_image_grid and write_line_plot; see image.h.
// A PNG is encoded in memory and then replaces its file in one rename, so a
// viewer or a crash never sees half an image. The plot is drawn on an RGB
// canvas with integer pixel operations and a 5x7 bitmap font designed for
// this file. Checked by tests/test_image.cpp.
#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <string_view>

#include "platform/atomic_file.h"

// STATIC keeps stb's symbols private to this file, so a program that links
// another copy of stb_image_write does not clash with this one. The header
// comes from a SYSTEM include directory, which keeps its warnings out of
// -Werror builds.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

namespace gantry {
namespace {

// stb_image_write indexes with int; 2^15 a side keeps every size well inside.
constexpr int kMaxSide = 1 << 15;

Status image_error(const char* function, const std::string& path, const std::string& what) {
  return Status::error(std::string(function) + " '" + path + "': " + what);
}

std::string size_text(int64_t w, int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

// ---- sample grid

constexpr uint8_t kBorderGrey = 128;
constexpr Rgb kNanColour{255, 0, 255};

// [-1, 1] -> [0, 255]; (v + 1) * 127.5 equals (v + 1) / 2 * 255 exactly,
// because halving is exact in binary floating point.
uint8_t to_byte(float v) { return uint8_t(std::lround((double(std::clamp(v, -1.0f, 1.0f)) + 1.0) * 127.5)); }

// ---- plot canvas and font

struct Canvas {
  int w, h;
  std::vector<uint8_t> rgb;  // [h, w, 3]

  Canvas(int width, int height) : w(width), h(height), rgb(size_t(width) * size_t(height) * 3, 255) {}

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    uint8_t* p = &rgb[(size_t(y) * size_t(w) + size_t(x)) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  // Half-open: [x0, x1) x [y0, y1).
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) set(x, y, c);
  }
};

constexpr int kGlyphW = 5, kGlyphH = 7, kAdvance = 6;  // font cell, in font pixels

// One row of 5 bits per line of the glyph, top first; bit 4 is the leftmost column.
struct Glyph {
  char c;
  uint8_t rows[kGlyphH];
};

constexpr Glyph kFont[] = {
    {' ', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000}},
    {'0', {0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110}},
    {'1', {0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'2', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111}},
    {'3', {0b01110, 0b10001, 0b00001, 0b00110, 0b00001, 0b10001, 0b01110}},
    {'4', {0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010}},
    {'5', {0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110}},
    {'6', {0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110}},
    {'7', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000}},
    {'8', {0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110}},
    {'9', {0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100}},
    {'.', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b01100}},
    {',', {0b00000, 0b00000, 0b00000, 0b00000, 0b01100, 0b00100, 0b01000}},
    {'-', {0b00000, 0b00000, 0b00000, 0b01110, 0b00000, 0b00000, 0b00000}},
    {'+', {0b00000, 0b00100, 0b00100, 0b11111, 0b00100, 0b00100, 0b00000}},
    {'=', {0b00000, 0b00000, 0b11111, 0b00000, 0b11111, 0b00000, 0b00000}},
    {':', {0b00000, 0b01100, 0b01100, 0b00000, 0b01100, 0b01100, 0b00000}},
    {'/', {0b00001, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b10000}},
    {'(', {0b00010, 0b00100, 0b01000, 0b01000, 0b01000, 0b00100, 0b00010}},
    {')', {0b01000, 0b00100, 0b00010, 0b00010, 0b00010, 0b00100, 0b01000}},
    {'_', {0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b00000, 0b11111}},
    {'%', {0b11000, 0b11001, 0b00010, 0b00100, 0b01000, 0b10011, 0b00011}},
    {'?', {0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b00000, 0b00100}},
    {'!', {0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00000, 0b00100}},
    {'A', {0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001}},
    {'B', {0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110}},
    {'C', {0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110}},
    {'D', {0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110}},
    {'E', {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111}},
    {'F', {0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000}},
    {'G', {0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111}},
    {'H', {0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001}},
    {'I', {0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110}},
    {'J', {0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100}},
    {'K', {0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001}},
    {'L', {0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111}},
    {'M', {0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001}},
    {'N', {0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001}},
    {'O', {0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'P', {0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000}},
    {'Q', {0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101}},
    {'R', {0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001}},
    {'S', {0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110}},
    {'T', {0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100}},
    {'U', {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110}},
    {'V', {0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100}},
    {'W', {0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010}},
    {'X', {0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001}},
    {'Y', {0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100, 0b00100}},
    {'Z', {0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111}},
};

const Glyph& glyph(char c) {
  if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  for (const Glyph& g : kFont)
    if (g.c == c) return g;
  return glyph('?');
}

// Pixel width of `text` drawn at `scale` (no trailing gap).
int text_width(std::string_view text, int scale) {
  return text.empty() ? 0 : (int(text.size()) * kAdvance - (kAdvance - kGlyphW)) * scale;
}

// `text`, cut short and ended with ".." where it would be wider than `max_width`.
std::string fit_text(const std::string& text, int max_width, int scale) {
  if (text_width(text, scale) <= max_width) return text;
  const int chars = std::max(0, (max_width / scale + (kAdvance - kGlyphW)) / kAdvance - 2);
  return text.substr(0, size_t(chars)) + "..";
}

// (x, y): top-left corner of the first glyph.
void draw_text(Canvas& canvas, int x, int y, std::string_view text, int scale, Rgb colour) {
  for (char c : text) {
    const Glyph& g = glyph(c);
    for (int row = 0; row < kGlyphH; ++row)
      for (int col = 0; col < kGlyphW; ++col)
        if (g.rows[row] >> (kGlyphW - 1 - col) & 1)
          canvas.fill(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, colour);
    x += kAdvance * scale;
  }
}

// ---- axes

// Ticks at lo + i * step for i in [0, count); lo and hi are multiples of step.
struct Axis {
  double lo, hi, step;
  int count;
};

// The smallest 1-2-5 step giving at most about `ticks` intervals, and the
// range widened outward to multiples of it.
Axis nice_axis(double lo, double hi, int ticks) {
  const double raw = (hi - lo) / std::max(1, ticks);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  const double step = magnitude * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
  // The 1e-9 slack keeps a bound that is a multiple of step up to rounding
  // (0.30000000000000004 / 0.1) from gaining an extra, empty interval.
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  return {first * step, last * step, step, int(last - first) + 1};
}

std::string tick_label(const Axis& axis, int i) {
  double v = axis.lo + i * axis.step;
  if (std::fabs(v) < axis.step * 1e-6) v = 0;  // not "-0.0" or "1e-17" where the tick is zero
  const double magnitude = std::max(std::fabs(axis.lo), std::fabs(axis.hi));
  const int step_exponent = int(std::floor(std::log10(axis.step) + 1e-9));
  char text[48];
  if (magnitude >= 1e6 || magnitude < 1e-3) {
    if (v == 0) return "0";  // not "0.0e+00"
    // Enough mantissa digits to tell neighbouring ticks apart.
    const int digits = std::clamp(int(std::floor(std::log10(magnitude))) - step_exponent, 0, 6);
    std::snprintf(text, sizeof text, "%.*e", digits, v);
  } else {
    std::snprintf(text, sizeof text, "%.*f", std::clamp(-step_exponent, 0, 9), v);
  }
  return text;
}

// The densest nice axis over `length` pixels whose tick labels keep
// `min_spacing` pixels apart; along x a label's own width counts as well.
Axis choose_axis(double lo, double hi, int length, int min_spacing, bool label_width_counts, int scale) {
  Axis axis{};
  for (int ticks = std::max(1, length / min_spacing); ticks >= 1; --ticks) {
    axis = nice_axis(lo, hi, ticks);
    int widest = 0;
    if (label_width_counts)
      for (int i = 0; i < axis.count; ++i) widest = std::max(widest, text_width(tick_label(axis, i), scale));
    if (length / (axis.count - 1) >= std::max(min_spacing, widest + 4 * kAdvance * scale)) break;
  }
  return axis;
}

// A single value, or values equal to 9 digits, get a visible range around
// them: ticks closer than that could not be labelled apart, and a range of a
// few subnormals would give a tick step of 0.
void widen_if_flat(double& lo, double& hi) {
  const double size = std::max(std::fabs(lo), std::fabs(hi));
  if (hi - lo > size * 1e-9 && hi - lo > 1e-250) return;
  const double mid = lo + (hi - lo) / 2, pad = size < 1e-250 ? 1.0 : size * 0.1;
  lo = mid - pad, hi = mid + pad;
}

struct Rect {
  int x0, y0, x1, y1;  // half-open
};

// A size x size square centred on (x, y), clipped to `clip`.
void dot(Canvas& canvas, int x, int y, int size, const Rect& clip, Rgb colour) {
  const int x0 = x - (size - 1) / 2, y0 = y - (size - 1) / 2;
  canvas.fill(std::max(clip.x0, x0), std::max(clip.y0, y0), std::min(clip.x1, x0 + size), std::min(clip.y1, y0 + size),
              colour);
}

// Bresenham's line, each point a `thick` x `thick` square, clipped to `clip`.
void line(Canvas& canvas, int x0, int y0, int x1, int y1, int thick, const Rect& clip, Rgb colour) {
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  for (int err = dx + dy;;) {
    dot(canvas, x0, y0, thick, clip, colour);
    if (x0 == x1 && y0 == y1) return;
    const int e2 = 2 * err;
    if (e2 >= dy) err += dy, x0 += sx;
    if (e2 <= dx) err += dx, y0 += sy;
  }
}

constexpr Rgb kInk{25, 25, 25};
constexpr Rgb kGrid{225, 225, 225};

}  // namespace

Status write_png_atomic(const std::string& path, int width, int height, int channels, std::span<const uint8_t> pixels) {
  auto fail = [&](const std::string& what) { return image_error("write_png_atomic", path, what); };
  if (width < 1 || height < 1 || width > kMaxSide || height > kMaxSide)
    return fail("image size " + size_text(width, height) + " is not in 1.." + std::to_string(kMaxSide) + " a side");
  if (channels < 1 || channels > 4)
    return fail("channels is " + std::to_string(channels) + "; expected 1 (grey), 2 (grey+alpha), 3 (RGB) or 4 (RGBA)");
  const size_t row_bytes = size_t(width) * size_t(channels);
  if (pixels.size() != row_bytes * size_t(height))
    return fail("pixels hold " + std::to_string(pixels.size()) + " bytes; a " + size_text(width, height) + "x" +
                std::to_string(channels) + " image needs " + std::to_string(row_bytes * size_t(height)));
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &png, width, height, channels, pixels.data(), int(row_bytes)))
    return fail("PNG encoding failed (out of memory?)");
  return write_file_atomic(path, std::as_bytes(std::span<const uint8_t>(png)));
}

Status write_image_grid(const std::string& path, std::span<const float> images, int n, int channels, int height,
                        int width, int columns, int upscale, int padding) {
  auto fail = [&](const std::string& what) { return image_error("write_image_grid", path, what); };
  if (n < 1) return fail("n is " + std::to_string(n) + "; expected at least 1 image");
  if (channels != 1 && channels != 3)
    return fail("channels is " + std::to_string(channels) + "; expected 1 (grey) or 3 (RGB)");
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide)
    return fail("image size HxW " + size_text(height, width) + " is not in 1.." + std::to_string(kMaxSide) + " a side");
  if (columns < 1) return fail("columns is " + std::to_string(columns) + "; expected at least 1");
  if (upscale < 1 || upscale > kMaxSide) return fail("upscale is " + std::to_string(upscale) + "; expected at least 1");
  if (padding < 0 || padding > kMaxSide) return fail("padding is " + std::to_string(padding) + "; expected 0 or more");
  // Sizes in int64: each factor is below 2^31 and every product below 2^62.
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  const int64_t tile_w = int64_t(width) * upscale, tile_h = int64_t(height) * upscale;
  const int64_t out_w = cols * (tile_w + padding) + padding, out_h = rows * (tile_h + padding) + padding;
  if (out_w > kMaxSide || out_h > kMaxSide)
    return fail("the grid would be " + size_text(out_w, out_h) + " pixels, over " + std::to_string(kMaxSide) +
                " a side; lower upscale, padding or columns, or write fewer images");
  // Every image fits inside the grid, so n * C * H * W < 3 * 2^30.
  const size_t plane = size_t(height) * size_t(width);
  if (images.size() != size_t(n) * size_t(channels) * plane)
    return fail("images hold " + std::to_string(images.size()) + " floats; N x C x H x W = " + std::to_string(n) + "x" +
                std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width) + " needs " +
                std::to_string(size_t(n) * size_t(channels) * plane));

  const bool any_nan = std::any_of(images.begin(), images.end(), [](float v) { return std::isnan(v); });
  const int out_c = channels == 3 || any_nan ? 3 : 1;
  std::vector<uint8_t> out(size_t(out_w) * size_t(out_h) * size_t(out_c), kBorderGrey);
  for (int i = 0; i < n; ++i) {
    const float* image = images.data() + size_t(i) * size_t(channels) * plane;  // [C, H, W]
    const int64_t x0 = padding + (i % cols) * (tile_w + padding), y0 = padding + (i / cols) * (tile_h + padding);
    for (int64_t y = 0; y < tile_h; ++y) {
      for (int64_t x = 0; x < tile_w; ++x) {
        const size_t src = size_t(y / upscale) * size_t(width) + size_t(x / upscale);
        uint8_t* dst = &out[(size_t(y0 + y) * size_t(out_w) + size_t(x0 + x)) * size_t(out_c)];
        bool nan = false;
        uint8_t value[3];
        for (int c = 0; c < channels; ++c) {
          const float v = image[size_t(c) * plane + src];
          nan = nan || std::isnan(v);
          value[c] = to_byte(v);
        }
        if (nan) {
          dst[0] = kNanColour.r, dst[1] = kNanColour.g, dst[2] = kNanColour.b;
        } else {
          // A grey image written as RGB (because of a NaN elsewhere) repeats its one channel.
          for (int o = 0; o < out_c; ++o) dst[o] = value[channels == out_c ? o : 0];
        }
      }
    }
  }
  return write_png_atomic(path, int(out_w), int(out_h), out_c, out);
}

Rgb plot_series_colour(size_t index) {
  // Ten hues far apart in lightness and hue (the "tab10" palette of matplotlib).
  static constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14},  {44, 160, 44},   {214, 39, 40},  {148, 103, 189},
                                     {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return kPalette[index % std::size(kPalette)];
}

Status write_line_plot(const std::string& path, const std::vector<Series>& series, const std::string& title, int width,
                       int height) {
  auto fail = [&](const std::string& what) { return image_error("write_line_plot", path, what); };
  if (width < 160 || height < 120 || width > kMaxSide || height > kMaxSide)
    return fail("plot size " + size_text(width, height) + " is outside 160x120.." + size_text(kMaxSide, kMaxSide));
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const Series& s : series) {
    if (s.x.size() != s.y.size())
      return fail("series '" + s.name + "' has " + std::to_string(s.x.size()) + " x values but " +
                  std::to_string(s.y.size()) + " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]), x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]), y_hi = std::max(y_hi, s.y[i]);
    }
  }
  if (x_lo > x_hi) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // no finite point: empty axes
  widen_if_flat(x_lo, x_hi);
  widen_if_flat(y_lo, y_hi);
  // A little room above and below, so extreme values do not run along the
  // frame; none below zero for data that never goes below it (most losses).
  const double y_pad = (y_hi - y_lo) * 0.04;
  y_lo = y_lo >= 0 ? std::max(0.0, y_lo - y_pad) : y_lo - y_pad, y_hi += y_pad;
  if (!std::isfinite(x_hi - x_lo) || !std::isfinite(y_hi - y_lo))
    return fail("the data span more than a double can hold; nothing sensible to plot");

  // Layout, top to bottom: title, legend rows, plot area, x tick labels.
  // Everything scales with the image so an 800x480 plot reads at 100% zoom.
  const int s = std::max(1, std::min(width / 400, height / 240));
  const int title_scale = s + 1, margin = 6 * s, tick = 3 * s, text_h = kGlyphH * s;
  Canvas canvas(width, height);
  int y = margin;
  if (!title.empty()) {
    // A long title drops to the label size, then is cut short.
    const int scale = text_width(title, title_scale) <= width - 2 * margin ? title_scale : s;
    const std::string shown = fit_text(title, width - 2 * margin, scale);
    draw_text(canvas, (width - text_width(shown, scale)) / 2, y, shown, scale, kInk);
    y += kGlyphH * scale + margin;
  }
  // Legend entries (swatch, gap, name) flow into centred rows.
  const int swatch = text_h, entry_gap = 4 * kAdvance * s;
  std::vector<std::string> names;
  for (const Series& sr : series) names.push_back(fit_text(sr.name, width - 2 * margin - swatch - kAdvance * s, s));
  std::vector<size_t> row_items;
  auto entry_width = [&](size_t i) { return swatch + kAdvance * s + text_width(names[i], s); };
  auto flush_legend_row = [&] {
    if (row_items.empty()) return;
    int row_w = -entry_gap;
    for (size_t i : row_items) row_w += entry_width(i) + entry_gap;
    int x = (width - row_w) / 2;
    for (size_t i : row_items) {
      canvas.fill(x, y, x + swatch, y + swatch, plot_series_colour(i));
      draw_text(canvas, x + swatch + kAdvance * s, y, names[i], s, kInk);
      x += entry_width(i) + entry_gap;
    }
    row_items.clear();
    y += text_h + 2 * s;
  };
  int row_w = 0;
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].x.empty()) continue;
    if (!row_items.empty() && row_w + entry_gap + entry_width(i) > width - 2 * margin) flush_legend_row();
    row_w = row_items.empty() ? entry_width(i) : row_w + entry_gap + entry_width(i);
    row_items.push_back(i);
  }
  flush_legend_row();

  // Half a label of room above the top y tick, whose label is centred on it.
  const int plot_top = y + margin / 2 + text_h / 2;
  const int plot_bottom = height - margin - text_h - 2 * tick;  // exclusive
  const Axis y_axis = choose_axis(y_lo, y_hi, plot_bottom - plot_top, 4 * text_h, false, s);
  int label_w = 0;
  for (int i = 0; i < y_axis.count; ++i) label_w = std::max(label_w, text_width(tick_label(y_axis, i), s));
  const int plot_left = margin + label_w + 2 * tick;
  // The last x label is centred on the right edge: leave half of it as margin.
  Axis x_axis = choose_axis(x_lo, x_hi, width - margin - plot_left, 8 * kAdvance * s, true, s);
  const int plot_right = width - margin - text_width(tick_label(x_axis, x_axis.count - 1), s) / 2;
  x_axis = choose_axis(x_lo, x_hi, plot_right - plot_left, 8 * kAdvance * s, true, s);
  if (plot_right - plot_left < 32 || plot_bottom - plot_top < 32)
    return fail("plot size " + size_text(width, height) + " leaves no room for the data beside the title (" +
                std::to_string(title.size()) + " characters), legend and labels");
  if (!std::isfinite(x_axis.lo) || !std::isfinite(x_axis.hi) || !std::isfinite(y_axis.lo) || !std::isfinite(y_axis.hi))
    return fail("the data span more than a double can hold; nothing sensible to plot");

  const Rect area{plot_left, plot_top, plot_right, plot_bottom};
  auto px = [&](double x) {
    return area.x0 + int(std::lround((x - x_axis.lo) / (x_axis.hi - x_axis.lo) * (area.x1 - area.x0 - 1)));
  };
  auto py = [&](double v) {
    return area.y1 - 1 - int(std::lround((v - y_axis.lo) / (y_axis.hi - y_axis.lo) * (area.y1 - area.y0 - 1)));
  };
  // Grid lines and ticks first, so the data draws over them.
  for (int i = 0; i < x_axis.count; ++i) {
    const int x = px(x_axis.lo + i * x_axis.step);
    const std::string label = tick_label(x_axis, i);
    canvas.fill(x, area.y0, x + 1, area.y1, kGrid);
    canvas.fill(x, area.y1, x + std::max(1, s / 2), area.y1 + tick, kInk);
    draw_text(canvas, x - text_width(label, s) / 2, area.y1 + 2 * tick, label, s, kInk);
  }
  for (int i = 0; i < y_axis.count; ++i) {
    const int v = py(y_axis.lo + i * y_axis.step);
    const std::string label = tick_label(y_axis, i);
    canvas.fill(area.x0, v, area.x1, v + 1, kGrid);
    canvas.fill(area.x0 - tick, v, area.x0, v + std::max(1, s / 2), kInk);
    draw_text(canvas, area.x0 - 2 * tick - text_width(label, s), v - text_h / 2, label, s, kInk);
  }
  // The frame sits just outside the data area, so no curve hides it.
  canvas.fill(area.x0 - 1, area.y0 - 1, area.x1 + 1, area.y0, kInk);
  canvas.fill(area.x0 - 1, area.y1, area.x1 + 1, area.y1 + 1, kInk);
  canvas.fill(area.x0 - 1, area.y0, area.x0, area.y1, kInk);
  canvas.fill(area.x1, area.y0, area.x1 + 1, area.y1, kInk);

  const int thick = std::max(1, s / 2);
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& sr = series[k];
    const Rgb colour = plot_series_colour(k);
    auto finite = [&](size_t i) { return i < sr.x.size() && std::isfinite(sr.x[i]) && std::isfinite(sr.y[i]); };
    for (size_t i = 0; i < sr.x.size(); ++i) {
      if (!finite(i)) continue;
      const bool joined_before = i > 0 && finite(i - 1);
      if (joined_before) line(canvas, px(sr.x[i - 1]), py(sr.y[i - 1]), px(sr.x[i]), py(sr.y[i]), thick, area, colour);
      // A point with no finite neighbour would be invisible without a dot.
      if (!joined_before && !finite(i + 1)) dot(canvas, px(sr.x[i]), py(sr.y[i]), thick + 2 * s, area, colour);
    }
  }
  return write_png_atomic(path, width, height, 3, canvas.rgb);
}

}  // namespace gantry

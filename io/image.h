// PNG output a user can open: sample grids of generator output and loss-curve
// plots. Encoding is stb_image_write's (libstb-dev); the file replaces its
// target atomically (platform/atomic_file.h). Plot text comes from a 5x7 bitmap
// font embedded in image.cpp. Checked by tests/test_image.cpp, which decodes
// every PNG it writes with stb_image and compares pixels.
//
// Dimension letters: N images, C channels, H height, W width (of one image).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "platform/status.h"

namespace gantry {

// Encodes `pixels` as a PNG and replaces `path` with it.
// pixels: [height, width, channels] bytes, interleaved; channels 1 (grey),
// 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
Status write_png_atomic(const std::string& path, int width, int height, int channels, std::span<const uint8_t> pixels);

// Writes `n` images as one PNG grid: `columns` tiles per row (at most n),
// ceil(n / columns) rows, `padding` pixels of mid-grey (128) around and
// between tiles and in empty cells, each image pixel drawn as an
// upscale x upscale block. Values in [-1, 1] (tanh output) map to
// round((v + 1) / 2 * 255), clamped to [0, 255]. C = 1 gives a grey PNG and
// C = 3 an RGB one, except that any NaN makes the PNG RGB and paints the NaN
// pixel magenta (255, 0, 255), so broken samples stand out.
// images: [N, C, H, W]
Status write_image_grid(const std::string& path, std::span<const float> images, int n, int channels, int height,
                        int width, int columns, int upscale = 1, int padding = 2);

// One curve of a line plot: y[i] at x[i], joined in order. A non-finite x or y
// leaves a gap in the line; an isolated point is drawn as a dot.
struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct Rgb {
  uint8_t r, g, b;
  bool operator==(const Rgb&) const = default;
};

// The colour write_line_plot gives series[index] (a fixed palette of 10 that
// repeats), so callers and tests can find a curve in the image.
Rgb plot_series_colour(size_t index);

// Writes a width x height RGB PNG (at least 160x120): white background,
// title at the top, a legend (colour swatch + name, empty series left out),
// axes with ticks, numeric tick labels and light grid lines, then every series
// as raw points joined by thin lines (1 pixel below 1600x960). Axis ranges
// cover the finite data, y with 4% room (none below 0 for data >= 0), widened
// to round tick values; flat data is padded so it sits mid-height. Text scales
// with the image and is upper case (letters, digits, space and
// . - + : / ( ) _ = , % ? !; other characters draw as '?'); a title or name
// too wide for the image is cut short with "..".
Status write_line_plot(const std::string& path, const std::vector<Series>& series, const std::string& title,
                       int width = 800, int height = 480);

}  // namespace gantry

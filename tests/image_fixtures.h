// Image folders the tests make themselves: simple shapes, one kind per class
// (a disc, a square, a bar, a diagonal band, ...), in a colour per class on a
// plain background, at sizes and positions drawn from Philox, written as PNG,
// JPEG, BMP and TGA in turn (gray ones as PNG and TGA, which store gray as
// gray); optionally a few corrupt files beside them.
// Used by tests/test_data.cpp and, through tests/make_image_folder.cpp, by
// tests/cli_images.sh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gantry::testing {

struct ImageFolderSpec {
  std::vector<std::string> classes{"a"};  // sub-folder names; {""}: images straight in the folder
  int per_class = 10;
  int min_side = 20, max_side = 90;  // each image's width and height, drawn in [min, max]
  bool gray = false;
  // Corrupt files added to the first class: a truncated PNG, a truncated JPEG
  // (cut inside its scan), random bytes named .png, in turn.
  int corrupt = 0;
  uint64_t seed = 1;
};

// Writes the folder (creating it); returns the paths of the corrupt files.
std::vector<std::string> write_image_folder(const std::string& dir, const ImageFolderSpec& spec);

}  // namespace gantry::testing

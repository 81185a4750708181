// Image folders as training data: finding the images (PNG, JPEG, BMP, TGA,
// searched recursively, class labels from sub-folders as torchvision's
// ImageFolder names them) and turning one file into a model-sized picture the
// way the GAN tutorials' torchvision pipeline does:
//   Resize(S)      the shorter side to S (the longer to floor(S·long/short)),
//                  a triangle (bilinear) filter widened by the scale factor
//                  when shrinking, so every source pixel counts (area-like)
//   CenterCrop(S)  top = round((h − S) / 2), left = round((w − S) / 2)
//   channels       gray → RGB repeats the gray; RGB → gray is ITU-R BT.601
//                  luma L = (299 R + 587 G + 114 B) / 1000; alpha is dropped
// then rounded to uint8 (as PIL's resize returns uint8); the trainer scales
// v / 127.5 − 1 into [−1, 1] (ToTensor + Normalize(0.5, 0.5)). Decoding is
// stb_image's (libstb-dev); the resize is this file's own.
// Checked by tests/test_image_folder.cpp against a direct two-dimensional
// evaluation of the same filter on images the test writes itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "platform/status.h"

namespace gantry {

// Extensions read (case-insensitive): .png .jpg .jpeg .bmp .tga.
bool is_image_file(const std::string& path);

struct ImageFile {
  std::string path;   // as found under the folder (root/…)
  int32_t label = 0;  // index into ImageFolder::class_names; 0 without classes
  int width = 0, height = 0;
};

struct SkippedFile {
  std::string path, reason;
};

struct ImageFolder {
  std::string root;
  std::vector<ImageFile> files;          // sorted by class, then path
  std::vector<std::string> class_names;  // by_class: the sub-folder names, sorted; else empty
  std::vector<SkippedFile> skipped;      // image files whose header could not be read
};

// Finds every image under `root`, recursively (hidden entries, those whose
// name starts with '.', are left out; directory symlinks are not followed, so
// a loop cannot hang the scan), and reads each header (stbi_info: no
// decoding). A file whose header is unreadable goes to `skipped` with the
// reason. by_class: the ImageFolder convention, one sub-folder of `root` per
// class (sorted by name, byte order), each searched recursively; an image
// directly in `root` is an error naming it, as is a class folder with no
// image. Errors before any training: no usable image, or an image whose
// shorter side is below `min_side` (the message names the file, its size and
// the minimum, and how many others are too small).
Result<ImageFolder> scan_image_folder(const std::string& root, bool by_class, int min_side);

// Decodes one image file and writes `channels` (1 or 3) planes of size×size
// uint8 to `out` ([C, S, S], planar): channel conversion, Resize(size),
// CenterCrop(size) as above. Errors name the file and the reason: unreadable,
// not a PNG/JPEG/BMP/TGA, truncated (a JPEG with no end-of-image marker after
// its scan; a PNG whose data ends early), a side over 16384 pixels.
Status decode_image(const std::string& path, int size, int channels, uint8_t* out);
// The same on bytes in memory; `name` is used in messages.
Status decode_image(std::span<const uint8_t> bytes, const std::string& name, int size, int channels, uint8_t* out);

// The resize + crop step alone, exposed for the tests: src [h, w, channels]
// interleaved uint8 → out [channels, size, size] planar uint8.
void resize_center_crop(const uint8_t* src, int h, int w, int channels, int size, uint8_t* out);

}  // namespace gantry

// Image folders as training data: finding the images (PNG, JPEG, BMP, TGA,
// searched recursively, class labels from sub-folders as torchvision's
// ImageFolder names them) and turning one file into a model-sized picture the
// way the GAN tutorials' torchvision pipeline does:
//   Resize(S)      the shorter side to S (the longer to floor(S·long/short)),
//                  a triangle (bilinear) filter widened by the scale factor
//                  when shrinking, so every source pixel counts (area-like,
//                  as PIL's BILINEAR resize): output pixel o of a side
//                  resized in → out is centred on c = (o + 0.5)·in/out, and
//                  source pixel x weighs max(0, 1 − |x + 0.5 − c| / support),
//                  support = max(in/out, 1); the taps inside the image are
//                  normalized to sum 1 (the border is clamped)
//   CenterCrop(S)  top = round((h − S) / 2), left = round((w − S) / 2), with
//                  Python's round (a half goes to the even neighbour)
//   channels       gray → RGB repeats the gray; RGB → gray is ITU-R BT.601
//                  luma L = (299 R + 587 G + 114 B + 500) / 1000 (integer
//                  division: rounded); alpha is dropped
// all done on the decoded pixels before the resize, which is computed in
// float in two passes (along rows, then along columns) and rounded to uint8
// once, half up (as PIL's resize returns uint8); the trainer scales
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
  int channels = 0;  // the file's own: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA
};

struct SkippedFile {
  std::string path, reason;
};

struct ImageFolder {
  std::string root;
  std::vector<ImageFile> files;          // sorted by class, then path
  std::vector<std::string> class_names;  // by_class: the sub-folder names, sorted; else empty
  std::vector<SkippedFile> skipped;      // image files whose header is unreadable or too large
};

// Finds every image under `root`, recursively (hidden entries, those whose
// name starts with '.', are left out; directory symlinks are not followed, so
// a loop cannot hang the scan; files are sorted by path, byte order), and
// reads each header (stbi_info on the first 64 KiB, or the whole file when a
// JPEG's frame header lies beyond: no decoding). A file whose header is
// unreadable, or whose size decode_image refuses, goes to `skipped` with the
// reason (only headers are read: data truncated after the header is
// decode_image's to find). by_class: the ImageFolder convention, one sub-folder of `root` per
// class (sorted by name, byte order), each searched recursively; an image
// directly in `root` is an error naming it, as is a class folder with no
// usable image or with a line break in its name. Errors before any training:
// `root` missing or not a directory, no usable image (naming the first file
// skipped and why), or an image whose shorter side is below `min_side` (the
// message names the file, its size and the minimum, and how many others are
// too small).
Result<ImageFolder> scan_image_folder(const std::string& root, bool by_class, int min_side);

// Decodes one image file and writes `channels` (1 or 3) planes of size×size
// uint8 to `out` ([C, S, S], planar): channel conversion, Resize(size),
// CenterCrop(size) as above. Errors name the file and the reason: unreadable
// or over 256 MiB, not a PNG/JPEG/BMP/TGA, truncated (a JPEG with no
// end-of-image marker after its scan; a PNG whose chunks end before IEND; a
// BMP or uncompressed TGA shorter than its header's pixels), a side over
// 16384 pixels or over 2^26 pixels in all (checked on the header, before
// decoding), corrupt data (stb_image's reason, or what stb_image 2.27 cannot
// read safely: a JPEG Huffman table of over 256 codes, a BMP palette index
// past its palette). Memory: the file, the decoded image and a few filtered
// rows, all freed on return.
Status decode_image(const std::string& path, int size, int channels, uint8_t* out);
// The same on bytes in memory; `name` is used in messages, and its extension
// decides one thing: TGA has no signature, so bytes without a PNG, JPEG or
// BMP signature are tried as TGA only when `name` does not end in .png, .jpg,
// .jpeg or .bmp (random bytes called x.png are "not an image").
Status decode_image(std::span<const uint8_t> bytes, const std::string& name, int size, int channels, uint8_t* out);

// The resize + crop step alone, exposed for the tests: src [h, w, channels]
// interleaved uint8 → out [channels, size, size] planar uint8; h, w, size >= 1
// and channels 1..4 (an internal invariant: anything else aborts).
void resize_center_crop(const uint8_t* src, int h, int w, int channels, int size, uint8_t* out);

}  // namespace gantry

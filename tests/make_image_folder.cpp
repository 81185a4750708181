// make_image_folder DIR [--classes a,b,c] [--per-class N] [--min S] [--max S]
//                       [--gray] [--corrupt K] [--seed S]
// Writes a test image folder (tests/image_fixtures.h) for tests/cli_images.sh;
// prints the corrupt files' paths, one per line. --classes "" puts the
// images straight in DIR.
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

#include "tests/image_fixtures.h"

int main(int argc, char** argv) {
  if (argc < 2) return std::fprintf(stderr, "usage: make_image_folder DIR [options]\n"), 2;
  gantry::testing::ImageFolderSpec spec;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--gray") {
      spec.gray = true;
      continue;
    }
    ++i;
    if (a == "--classes") {
      spec.classes.clear();
      std::istringstream in(v);
      for (std::string c; std::getline(in, c, ',');) spec.classes.push_back(c);
      if (spec.classes.empty()) spec.classes.push_back("");
    } else if (a == "--per-class") {
      spec.per_class = std::atoi(v);
    } else if (a == "--min") {
      spec.min_side = std::atoi(v);
    } else if (a == "--max") {
      spec.max_side = std::atoi(v);
    } else if (a == "--corrupt") {
      spec.corrupt = std::atoi(v);
    } else if (a == "--seed") {
      spec.seed = std::strtoull(v, nullptr, 10);
    } else {
      return std::fprintf(stderr, "make_image_folder: unknown option %s\n", a.c_str()), 2;
    }
  }
  for (const std::string& path : gantry::testing::write_image_folder(argv[1], spec)) std::printf("%s\n", path.c_str());
  return 0;
}

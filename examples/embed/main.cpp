// embed_cpp GENERATOR.safetensors OUT.png [N [PRECISION]]: N samples (default
// 16) of a gantry checkpoint or PyTorch DCGAN generator, side by side, as a
// PNG; PRECISION fp32 (default), fp16 or bf16.
#include <gantry/gantry.hpp>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 3) return std::fprintf(stderr, "usage: embed_cpp GENERATOR.safetensors OUT.png [N [PRECISION]]\n"), 2;
  const int n = argc > 3 ? std::atoi(argv[3]) : 16;
  gantry::GeneratorOptions options;
  options.max_batch = n;
  if (argc > 4) options.precision = argv[4];
  gantry::Error error;
  auto g = gantry::Generator::load(argv[1], options, &error);  // loads and compiles once
  if (!g) return std::fprintf(stderr, "embed_cpp: %s\n", error.message.c_str()), 2;

  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  std::vector<float> z(size_t(g->nz()) * n), images(size_t(g->image_floats()) * n);
  std::vector<int32_t> labels(n);
  for (float& v : z) v = normal(rng);
  for (int i = 0; i < n; ++i) labels[i] = g->classes() ? i % g->classes() : 0;
  if (!g->sample(z.data(), g->classes() ? labels.data() : nullptr, n, images.data(), &error))
    return std::fprintf(stderr, "embed_cpp: %s\n", error.message.c_str()), 1;

  // One row of n images, first channel, [−1, 1] → 0..255.
  const int h = g->height(), w = g->width(), plane = h * w;
  std::vector<unsigned char> png(size_t(n) * plane);
  for (int i = 0; i < n; ++i)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const float v = images[size_t(i) * g->image_floats() + size_t(y) * w + x];
        png[size_t(y) * w * n + size_t(i) * w + x] = (unsigned char)(v < -1 ? 0 : v > 1 ? 255 : (v + 1) * 127.5f);
      }
  if (!stbi_write_png(argv[2], w * n, h, 1, png.data(), w * n))
    return std::fprintf(stderr, "cannot write %s\n", argv[2]), 1;
  std::printf("%s: %d samples of %s on %s", argv[2], n, g->description().c_str(), g->device().c_str());
  for (int k = 0; k < g->classes(); ++k) std::printf("%s%s", k ? ", " : "; classes ", g->class_name(k).c_str());
  std::printf("\n");
  return 0;
}

/* embed_c GENERATOR.safetensors OUT.png [N [fp32|fp16|bf16]]: the same as embed_cpp through the C API. */
#include <gantry/gantry.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <math.h>
#include <stb_image_write.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc < 3) return fprintf(stderr, "usage: embed_c GENERATOR.safetensors OUT.png [N [fp32|fp16|bf16]]\n"), 2;
  const int n = argc > 3 ? atoi(argv[3]) : 16;
  gantry_generator* g = NULL;
  if (gantry_generator_load_precision(argv[1], "cpu", argc > 4 ? argv[4] : NULL, n, 0, &g) != GANTRY_OK)
    return fprintf(stderr, "embed_c: %s\n", gantry_last_error()), 2;
  int c, h, w;
  gantry_generator_image_shape(g, &c, &h, &w);
  const int64_t nz = gantry_generator_nz(g);
  const int classes = gantry_generator_classes(g);
  float* z = malloc(sizeof(float) * (size_t)(nz * n));
  float* images = malloc(sizeof(float) * (size_t)c * h * w * n);
  int32_t* labels = malloc(sizeof(int32_t) * (size_t)n);
  srand(1);
  for (int64_t i = 0; i < nz * n; ++i) { /* Box–Muller */
    const double u1 = (rand() + 1.0) / (RAND_MAX + 2.0), u2 = rand() / (RAND_MAX + 1.0);
    z[i] = (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
  }
  for (int i = 0; i < n; ++i) labels[i] = classes ? i % classes : 0;
  if (gantry_generator_sample(g, z, classes ? labels : NULL, n, images) != GANTRY_OK)
    return fprintf(stderr, "embed_c: %s\n", gantry_last_error()), 1;
  unsigned char* png = malloc((size_t)n * h * w);
  for (int i = 0; i < n; ++i)
    for (int p = 0; p < h * w; ++p) {
      const float v = images[(size_t)i * c * h * w + p];
      png[(size_t)(p / w) * w * n + (size_t)i * w + p % w] = (unsigned char)(v < -1  ? 0
                                                                             : v > 1 ? 255
                                                                                     : (v + 1) * 127.5f);
    }
  const int ok = stbi_write_png(argv[2], w * n, h, 1, png, w * n);
  printf("%s: %d samples, %dx%dx%d, nz %lld, on %s", argv[2], n, c, h, w, (long long)nz, gantry_generator_device(g));
  for (int k = 0; k < classes; ++k) printf("%s%s", k ? ", " : "; classes ", gantry_generator_class_name(g, k));
  printf("\n");
  gantry_generator_free(g);
  free(z), free(images), free(labels), free(png);
  return ok ? 0 : 1;
}

/* gantry's C API: the C++ API of gantry/gantry.hpp behind opaque handles and
 * status codes, for C programs and foreign-function interfaces (Python
 * ctypes, Rust). Every function that can fail returns a gantry_status; the
 * message of the calling thread's last failure is gantry_last_error(). */
#ifndef GANTRY_GANTRY_H
#define GANTRY_GANTRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gantry_status {
  GANTRY_OK = 0,
  GANTRY_ERROR_ARGUMENT = 1, /* a null pointer, n out of range, a label out of range */
  GANTRY_ERROR_LOAD = 2,     /* the file is missing, corrupt or not a generator */
  GANTRY_ERROR_BACKEND = 3   /* the backend is unavailable or failed while running */
} gantry_status;

typedef struct gantry_generator gantry_generator;

/* backend: "cpu", "vulkan" or "cuda" (NULL: "cpu"); max_batch ≥ 1; threads 0 = all. */
gantry_status gantry_generator_load(const char* path, const char* backend, int max_batch, int threads,
                                    gantry_generator** out);
/* The same, with the precision values are stored in between layers: "fp32" (NULL), "fp16" (IEEE half,
 * float32 arithmetic; every backend) or "bf16" (bfloat16; cpu and cuda). gantry_generator_device says what
 * runs it. */
gantry_status gantry_generator_load_precision(const char* path, const char* backend, const char* precision,
                                              int max_batch, int threads, gantry_generator** out);
/* What runs the generator, as its backend names it: the device, and whether fp16 is stored as such (a Vulkan
 * device without 16-bit storage buffers runs fp16 in float32 and says so). */
const char* gantry_generator_device(const gantry_generator* g);
void gantry_generator_free(gantry_generator* g);

int64_t gantry_generator_nz(const gantry_generator* g);
int gantry_generator_classes(const gantry_generator* g); /* 0: unconditional */
/* The name of class k (a training folder's sub-folder, "0".."9" for MNIST); NULL when k is out of range. */
const char* gantry_generator_class_name(const gantry_generator* g, int k);
/* Image layout [channels, height, width], float32 values in [-1, 1]. */
void gantry_generator_image_shape(const gantry_generator* g, int* channels, int* height, int* width);
int gantry_generator_max_batch(const gantry_generator* g);

/* z: n*nz floats; labels: n class ids or NULL for unconditional generators;
 * out: n*channels*height*width floats. 1 <= n <= max_batch. No allocation. */
gantry_status gantry_generator_sample(gantry_generator* g, const float* z, const int32_t* labels, int n, float* out);

/* The calling thread's last error message ("" if none); valid until its next gantry call. */
const char* gantry_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* GANTRY_GANTRY_H */

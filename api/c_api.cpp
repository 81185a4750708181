// The C API (include/gantry/gantry.h) over gantry::Generator. Errors are
// kept per thread, so concurrent callers on different generators do not see
// each other's messages; no C++ exception crosses the C boundary.
#include <new>
#include <string>

#include "gantry/gantry.h"
#include "gantry/gantry.hpp"

struct gantry_generator {
  std::unique_ptr<gantry::Generator> g;
};

namespace {

thread_local std::string g_last_error;

gantry_status fail(gantry_status status, std::string message) {
  g_last_error = std::move(message);
  return status;
}

gantry_status code(const gantry::Error& e) {
  switch (e.kind) {
    case gantry::Error::Kind::none:
      return GANTRY_OK;
    case gantry::Error::Kind::argument:
      return GANTRY_ERROR_ARGUMENT;
    case gantry::Error::Kind::load:
      return GANTRY_ERROR_LOAD;
    case gantry::Error::Kind::backend:
      return GANTRY_ERROR_BACKEND;
  }
  return GANTRY_ERROR_BACKEND;
}

}  // namespace

extern "C" {

gantry_status gantry_generator_load(const char* path, const char* backend, int max_batch, int threads,
                                    gantry_generator** out) {
  return gantry_generator_load_precision(path, backend, nullptr, max_batch, threads, out);
}

gantry_status gantry_generator_load_precision(const char* path, const char* backend, const char* precision,
                                              int max_batch, int threads, gantry_generator** out) {
  if (!path || !out) return fail(GANTRY_ERROR_ARGUMENT, "gantry_generator_load: path and out must not be null");
  *out = nullptr;
  try {
    gantry::GeneratorOptions options;
    options.backend = backend ? backend : "cpu";
    options.precision = precision ? precision : "fp32";
    options.max_batch = max_batch;
    options.threads = threads;
    gantry::Error error;
    auto g = gantry::Generator::load(path, options, &error);
    if (!g) return fail(code(error), error.message);
    *out = new gantry_generator{std::move(g)};
  } catch (const std::bad_alloc&) {
    return fail(GANTRY_ERROR_LOAD, "gantry_generator_load: out of memory");
  }
  g_last_error.clear();
  return GANTRY_OK;
}

void gantry_generator_free(gantry_generator* g) { delete g; }

int64_t gantry_generator_nz(const gantry_generator* g) { return g ? g->g->nz() : 0; }
int gantry_generator_classes(const gantry_generator* g) { return g ? g->g->classes() : 0; }
const char* gantry_generator_class_name(const gantry_generator* g, int k) {
  return g && k >= 0 && k < g->g->classes() ? g->g->class_name(k).c_str() : nullptr;
}
int gantry_generator_max_batch(const gantry_generator* g) { return g ? g->g->max_batch() : 0; }
const char* gantry_generator_device(const gantry_generator* g) { return g ? g->g->device().c_str() : ""; }

void gantry_generator_image_shape(const gantry_generator* g, int* channels, int* height, int* width) {
  if (channels) *channels = g ? g->g->channels() : 0;
  if (height) *height = g ? g->g->height() : 0;
  if (width) *width = g ? g->g->width() : 0;
}

gantry_status gantry_generator_sample(gantry_generator* g, const float* z, const int32_t* labels, int n, float* out) {
  if (!g) return fail(GANTRY_ERROR_ARGUMENT, "gantry_generator_sample: the generator is null");
  gantry::Error error;
  if (!g->g->sample(z, labels, n, out, &error)) return fail(code(error), error.message);
  return GANTRY_OK;
}

const char* gantry_last_error(void) { return g_last_error.c_str(); }

}  // extern "C"

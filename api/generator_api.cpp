// gantry::Generator (include/gantry/gantry.hpp) over the library's own
// loader and Sampler: load and compile happen once in load(); sample() checks
// its arguments, converts labels to the graph's float ids in a buffer sized at
// load time, and runs the compiled program.
#include <algorithm>

#include "gantry/gantry.hpp"
#include "train/generator.h"

namespace gantry {

struct Generator::Impl {
  LoadedGenerator loaded;
  std::unique_ptr<Sampler> sampler;
  std::vector<float> labels;  // max_batch float class ids
  std::string device;
};

Generator::Generator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Generator::~Generator() = default;

namespace {

bool set(Error* error, Error::Kind kind, const std::string& message) {
  if (error) *error = Error{kind, message};
  return false;
}

}  // namespace

std::unique_ptr<Generator> Generator::load(const std::string& path, const GeneratorOptions& options, Error* error) {
  using Kind = Error::Kind;
  auto fail = [&](Kind kind, const std::string& why) { return set(error, kind, why), std::unique_ptr<Generator>(); };
  if (options.max_batch < 1 || options.max_batch > (1 << 16))
    return fail(Kind::argument, "max_batch " + std::to_string(options.max_batch) + " is out of range [1, 65536]");
  if (options.threads < 0 || options.threads > 1024)
    return fail(Kind::argument, "threads " + std::to_string(options.threads) + " is out of range [0, 1024]");
  auto precision = parse_precision(options.precision);
  if (!precision.ok()) return fail(Kind::argument, precision.message());
  auto backend = parse_backend(options.backend);
  if (!backend.ok()) return fail(Kind::backend, backend.message());
  if (Status s = backend_status(*backend); !s.ok())
    return fail(Kind::backend, "backend " + options.backend + " is not available here: " + s.message());
  auto impl = std::make_unique<Impl>();
  auto loaded = load_generator(path);
  if (!loaded.ok()) return fail(Kind::load, loaded.message());
  impl->loaded = std::move(*loaded);
  auto sampler = make_sampler(impl->loaded, options.max_batch, *backend, options.threads, *precision);
  // The file was read and checked: what fails now is building or compiling for the device.
  if (!sampler.ok()) return fail(Kind::backend, sampler.message());
  impl->sampler = std::move(*sampler);
  impl->labels.resize(size_t(options.max_batch));
  impl->device = impl->sampler->program().device();
  return std::unique_ptr<Generator>(new Generator(std::move(impl)));
}

int64_t Generator::nz() const { return impl_->loaded.nz; }
int Generator::classes() const { return impl_->loaded.classes; }
const std::string& Generator::class_name(int k) const {
  static const std::string none;
  return k >= 0 && k < classes() ? impl_->loaded.class_names[size_t(k)] : none;
}
int Generator::channels() const { return int(impl_->loaded.image[0]); }
int Generator::height() const { return int(impl_->loaded.image[1]); }
int Generator::width() const { return int(impl_->loaded.image[2]); }
int Generator::max_batch() const { return int(impl_->sampler->batch()); }
const std::string& Generator::description() const { return impl_->loaded.description; }
const std::string& Generator::device() const { return impl_->device; }

bool Generator::sample(const float* z, const int32_t* labels, int n, float* out, Error* error) {
  using Kind = Error::Kind;
  if (!z || !out) return set(error, Kind::argument, "sample: z and out must not be null");
  if (n < 1 || n > max_batch())
    return set(error, Kind::argument,
               "sample: n = " + std::to_string(n) + " is outside 1..max_batch = " + std::to_string(max_batch()));
  if (classes()) {
    if (!labels) return set(error, Kind::argument, "sample: a conditional generator needs a label per image");
    for (int i = 0; i < n; ++i) {
      if (labels[i] < 0 || labels[i] >= classes())
        return set(error, Kind::argument,
                   "sample: label " + std::to_string(labels[i]) + " of image " + std::to_string(i) + " is outside 0.." +
                       std::to_string(classes() - 1));
      impl_->labels[size_t(i)] = float(labels[i]);
    }
  }
  if (Status s = impl_->sampler->run(z, impl_->labels.data(), n, out); !s.ok())
    return set(error, Kind::backend, s.message());
  return true;
}

}  // namespace gantry

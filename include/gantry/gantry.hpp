// gantry's C++ API for applications: load a trained generator once, compile
// it once for a backend and a largest batch, then ask it for images as often
// as needed. sample() writes into the caller's buffers and allocates nothing.
// This header needs C++17 and the standard library only; it is the one C++
// header an application includes (the C API is gantry/gantry.h).
//
//   gantry::Error error;
//   auto g = gantry::Generator::load("run/checkpoint.safetensors", {}, &error);
//   if (!g) { fprintf(stderr, "%s\n", error.message.c_str()); return 2; }
//   std::vector<float> z(g->nz() * 16), images(g->image_floats() * 16);
//   ... fill z with N(0, 1) ...
//   if (!g->sample(z.data(), nullptr, 16, images.data(), &error)) ...
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace gantry {

// What went wrong, for callers that react differently (the C API's status codes).
struct Error {
  enum class Kind { none, argument, load, backend };
  Kind kind = Kind::none;
  std::string message;  // names the file, tensor, argument or backend at fault
};

struct GeneratorOptions {
  std::string backend = "cpu";  // "cpu", "vulkan" or "cuda"
  int max_batch = 64;           // the most images one sample() call returns
  int threads = 0;              // CPU backend: worker threads, 0 = one per hardware thread
  // "fp32", "fp16" (tensors stored as IEEE half between layers, arithmetic in
  // float32; the CPU emulates it as the reference; README "Half precision") or
  // "bf16" (bfloat16 the same way; cpu and cuda).
  std::string precision = "fp32";
};

class Generator {
 public:
  // A gantry checkpoint (the "G." tensors of `gantry train`'s
  // checkpoint.safetensors) or a PyTorch DCGAN generator state_dict saved
  // with safetensors. Returns nullptr and sets *error (when given) on
  // failure: argument (options out of range), backend (unknown or no device
  // here), load (the file is missing, corrupt or not a generator).
  static std::unique_ptr<Generator> load(const std::string& path, const GeneratorOptions& options = {},
                                         Error* error = nullptr);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  int64_t nz() const;    // latent length per image
  int classes() const;   // conditional generators: number of classes; 0 otherwise
  int channels() const;  // images are [channels, height, width], values in [−1, 1]
  int height() const;
  int width() const;
  int64_t image_floats() const { return int64_t(channels()) * height() * width(); }
  // The name of class k in [0, classes()): the training folder's sub-folder
  // ("0".."9" for MNIST); empty when k is out of range.
  const std::string& class_name(int k) const;
  int max_batch() const;
  const std::string& description() const;  // one line: model, source, step
  const std::string& device() const;       // what runs it

  // z: n·nz floats ([n, nz] row-major); labels: n class ids in [0, classes())
  // for conditional generators, nullptr otherwise; out: n·image_floats()
  // floats ([n, C, H, W]). 1 ≤ n ≤ max_batch(). Eval mode: batch norm uses
  // running statistics, so an image depends only on its own z and label.
  // Returns false and sets *error: argument (null pointers, n or a label out
  // of range) or backend (the device failed).
  bool sample(const float* z, const int32_t* labels, int n, float* out, Error* error = nullptr);

 private:
  struct Impl;
  explicit Generator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gantry

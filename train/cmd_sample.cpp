// `gantry sample` and `gantry export`. sample draws images from a gantry
// checkpoint or a PyTorch DCGAN generator (--weights), in eval mode, and writes
// a PNG grid and/or the raw float32 N×C×H×W array as .npy. export writes a
// checkpoint's generator with PyTorch's names.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/npy.h"
#include "engine/philox.h"
#include "platform/image.h"
#include "train/cli.h"
#include "train/generator.h"

namespace gantry::cli {
namespace {

constexpr uint32_t kLatentStream = 0x5a;

int usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "gantry sample: %s\n", why.c_str());
  std::fprintf(stderr,
               "usage: gantry sample (--checkpoint RUN/checkpoint.safetensors | --weights G.safetensors)\n"
               "         [--n 64] [--seed S] [--grid out.png] [--columns C] [--upscale U] [--raw-out out.npy]\n"
               "         [--class K | --classes all] [--truncation T] [--interpolate A,B --frames K]\n"
               "         [--z z.npy] [--backend cpu] [--threads T]\n");
  return 2;
}

// Latent i (of the set drawn from --seed), components resampled while |z| > τ
// ("truncation trick": each redraw uses the next Philox step).
std::vector<float> draw_latents(uint64_t seed, int64_t n, int64_t nz, float truncation) {
  std::vector<float> z(size_t(n * nz));
  for (int64_t i = 0; i < n * nz; ++i) {
    float v = philox_normal(seed, 0, kLatentStream, uint32_t(i));
    for (uint64_t redraw = 1; truncation > 0 && std::abs(v) > truncation && redraw < 1000; ++redraw)
      v = philox_normal(seed, redraw, kLatentStream, uint32_t(i));
    z[size_t(i)] = v;
  }
  return z;
}

// Spherical interpolation between two latents (Shoemake 1985; for Gaussian latents it keeps the norm typical).
std::vector<float> slerp_strip(const float* a, const float* b, int64_t nz, int frames) {
  double dot = 0, na = 0, nb = 0;
  for (int64_t k = 0; k < nz; ++k) dot += double(a[k]) * b[k], na += double(a[k]) * a[k], nb += double(b[k]) * b[k];
  const double omega = std::acos(std::clamp(dot / std::sqrt(na * nb + 1e-30), -1.0, 1.0));
  std::vector<float> z;
  for (int f = 0; f < frames; ++f) {
    const double t = frames > 1 ? double(f) / (frames - 1) : 0.0;
    const double wa = omega < 1e-6 ? 1 - t : std::sin((1 - t) * omega) / std::sin(omega);
    const double wb = omega < 1e-6 ? t : std::sin(t * omega) / std::sin(omega);
    for (int64_t k = 0; k < nz; ++k) z.push_back(float(wa * a[k] + wb * b[k]));
  }
  return z;
}

}  // namespace

int sample(const Args& args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) return usage(""), 0;
  std::string checkpoint, weights, grid, raw_out, z_file, classes_arg, class_arg, interpolate;
  int64_t n = 64;
  uint64_t seed = 1;
  int columns = 0, upscale = 1, frames = 8, threads = 0;
  float truncation = 0;
  BackendKind backend = BackendKind::cpu;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return usage("flag " + a + " needs a value");
    const std::string v = args[++i];
    auto num = [&](auto& dst) { return parse_number(a, v, dst); };
    Status st;
    if (a == "--checkpoint") checkpoint = v;
    else if (a == "--weights") weights = v;
    else if (a == "--grid") grid = v;
    else if (a == "--raw-out") raw_out = v;
    else if (a == "--z") z_file = v;
    else if (a == "--classes") classes_arg = v;
    else if (a == "--class") class_arg = v;
    else if (a == "--interpolate") interpolate = v;
    else if (a == "--backend") {
      auto b = parse_backend(v);
      if (!b.ok()) return usage(b.message());
      backend = *b;
    } else if (a == "--n") st = num(n);
    else if (a == "--seed") st = num(seed);
    else if (a == "--columns") st = num(columns);
    else if (a == "--upscale") st = num(upscale);
    else if (a == "--frames") st = num(frames);
    else if (a == "--threads") st = num(threads);
    else if (a == "--truncation") st = num(truncation);
    else return usage("unknown flag " + a);
    if (!st.ok()) return usage(st.message());
  }
  if (checkpoint.empty() == weights.empty()) return usage("give exactly one of --checkpoint and --weights");
  if (n < 1 || upscale < 1 || frames < 1 || columns < 0) return usage("--n, --upscale and --frames must be ≥ 1");
  if (grid.empty() && raw_out.empty()) grid = "samples.png";

  auto gen = load_generator(checkpoint.empty() ? weights : checkpoint);
  if (!gen.ok()) return std::fprintf(stderr, "gantry sample: %s\n", gen.message().c_str()), 2;
  std::printf("generator: %s\n", gen->description.c_str());
  const int64_t nz = gen->nz;

  std::vector<float> z, labels;
  if (!z_file.empty()) {
    auto arr = read_npy(z_file);
    if (!arr.ok()) return std::fprintf(stderr, "gantry sample: %s\n", arr.message().c_str()), 2;
    const Shape s = arr->shape;
    const bool ok = (s.rank == 2 && s[1] == nz) || (s.rank == 4 && s[1] == nz && s[2] == 1 && s[3] == 1);
    if (!ok)
      return std::fprintf(stderr, "gantry sample: %s has shape %s; the generator needs [N, %lld] or [N, %lld, 1, 1]\n",
                          z_file.c_str(), s.str().c_str(), static_cast<long long>(nz), static_cast<long long>(nz)), 2;
    z = arr->data;
    n = s[0];
  } else {
    z = draw_latents(seed, n, nz, truncation);
  }
  if (!interpolate.empty()) {
    int64_t a = -1, b = -1;
    char comma = 0;
    std::istringstream in(interpolate);
    if (!(in >> a >> comma >> b) || comma != ',' || a < 0 || b < 0 || a >= n || b >= n)
      return usage("--interpolate A,B takes two latent indices below " + std::to_string(n));
    z = slerp_strip(z.data() + a * nz, z.data() + b * nz, nz, frames);
    n = frames;
    if (!columns) columns = frames;
  }
  if (gen->classes) {
    if (!classes_arg.empty() && classes_arg != "all") return usage("--classes takes 'all'");
    if (!class_arg.empty()) {
      int k = -1;
      std::istringstream in(class_arg);
      if (!(in >> k) || k < 0 || k >= gen->classes) return usage("--class must be 0.." + std::to_string(gen->classes - 1));
      labels.assign(size_t(n), float(k));
    } else {
      // One row per class, the same latents in every row (default, or --classes all).
      const int64_t per = n;
      std::vector<float> rows;
      for (int c = 0; c < gen->classes; ++c) {
        rows.insert(rows.end(), z.begin(), z.begin() + per * nz);
        labels.insert(labels.end(), size_t(per), float(c));
      }
      z = std::move(rows);
      n = per * gen->classes;
      if (!columns) columns = int(per);
    }
  } else if (!class_arg.empty() || !classes_arg.empty()) {
    return usage("--class/--classes need a conditional generator; " + gen->description + " is not");
  }

  auto images = generate(*gen, z, labels, backend, threads);
  if (!images.ok()) return std::fprintf(stderr, "gantry sample: %s\n", images.message().c_str()), 1;
  const Shape& im = gen->image;
  if (!raw_out.empty()) {
    if (Status s = write_npy(raw_out, Shape{n, im[0], im[1], im[2]}, *images); !s.ok())
      return std::fprintf(stderr, "gantry sample: %s\n", s.message().c_str()), 1;
    std::printf("wrote %lld samples %s to %s\n", static_cast<long long>(n), im.str().c_str(), raw_out.c_str());
  }
  if (!grid.empty()) {
    if (!columns) columns = int(std::ceil(std::sqrt(double(n))));
    if (Status s = write_image_grid(grid, *images, int(n), int(im[0]), int(im[1]), int(im[2]), columns, upscale); !s.ok())
      return std::fprintf(stderr, "gantry sample: %s\n", s.message().c_str()), 1;
    std::printf("wrote a %lld-sample grid to %s\n", static_cast<long long>(n), grid.c_str());
  }
  return 0;
}

int export_weights(const Args& args) {
  std::string checkpoint, out;
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--checkpoint") checkpoint = args[i + 1];
    else if (args[i] == "--out") out = args[i + 1];
  }
  if (checkpoint.empty() || out.empty() || args.size() != 4)
    return std::fprintf(stderr, "usage: gantry export --checkpoint RUN/checkpoint.safetensors --out G.safetensors\n"), 2;
  auto gen = load_generator(checkpoint);
  if (!gen.ok()) return std::fprintf(stderr, "gantry export: %s\n", gen.message().c_str()), 2;
  if (Status s = export_generator(*gen, out); !s.ok()) return std::fprintf(stderr, "gantry export: %s\n", s.message().c_str()), 1;
  std::printf("wrote %s (%zu tensors, PyTorch names) from %s\n", out.c_str(), gen->tensors.size(), gen->description.c_str());
  return 0;
}

}  // namespace gantry::cli

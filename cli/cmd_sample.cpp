// `gantry sample` and `gantry export`. sample draws images from a gantry
// checkpoint or a PyTorch DCGAN generator (--weights), in eval mode, and writes
// a PNG grid and/or the raw float32 N×C×H×W array as .npy. export writes a
// checkpoint's generator with PyTorch's names.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "cli/cli.h"
#include "io/image.h"
#include "io/npy.h"
#include "platform/philox.h"
#include "train/generator.h"
#include "train/trainer.h"

namespace gantry::cli {
namespace {

constexpr uint32_t kLatentStream = 0x5a;

int usage(const std::string& why) {
  if (!why.empty()) std::fprintf(stderr, "gantry sample: %s\n", why.c_str());
  std::fprintf(why.empty() ? stdout : stderr,
               "usage: gantry sample (--checkpoint RUN/checkpoint.safetensors | --weights G.safetensors)\n"
               "         [--n 64] [--seed S] [--grid out.png] [--columns C] [--upscale U] [--raw-out out.npy]\n"
               "         [--class NAME|K | --classes all] [--truncation T] [--interpolate A,B --frames K]\n"
               "         [--z z.npy] [--backend cpu] [--precision fp32|fp16|bf16] [--threads T] [--max-memory SIZE]\n");
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

// --class: a class name (the checkpoint's, e.g. a folder name), else an index.
Result<int64_t> class_index(const std::vector<std::string>& names, const std::string& arg) {
  for (size_t k = 0; k < names.size(); ++k)
    if (names[k] == arg) return int64_t(k);
  int64_t k = -1;
  if (parse_number("--class", arg, int64_t(0), int64_t(names.size()) - 1, k).ok()) return k;
  std::string known;
  for (size_t i = 0; i < names.size() && i < 20; ++i) known += (i ? ", " : "") + names[i];
  return Status::error("--class '" + arg + "' is neither a class name nor an index 0.." +
                       std::to_string(names.size() - 1) + " (classes: " + known + (names.size() > 20 ? ", ..." : "") +
                       ")");
}

}  // namespace

int sample(const Args& args) {
  std::string checkpoint, weights, grid, raw_out, z_file, class_arg, classes_arg, interpolate, backend_name = "cpu",
                                                                                               precision_name = "fp32";
  int64_t n = 64;
  uint64_t seed = 1;
  int columns = 0, upscale = 1, frames = 8, threads = 0;
  float truncation = 0;
  Flags flags;
  flags.text("--checkpoint", checkpoint)
      .text("--weights", weights)
      .text("--grid", grid)
      .text("--raw-out", raw_out)
      .text("--z", z_file)
      .text("--classes", classes_arg)
      .text("--interpolate", interpolate)
      .text("--backend", backend_name)
      .text("--precision", precision_name)
      .number("--n", n, int64_t(1), kMaxElements)
      .text("--class", class_arg)
      .number("--seed", seed, uint64_t(0), ~uint64_t(0))
      .number("--columns", columns, 0, 1 << 15)
      .number("--upscale", upscale, 1, 64)
      .number("--frames", frames, 1, 1 << 20)
      .number("--threads", threads, 0, kMaxThreads)
      .number("--truncation", truncation, 0.0f, 100.0f)
      .max_memory();
  if (Status st = flags.parse(args); !st.ok()) return usage(st.message());
  if (flags.help()) return usage(""), 0;
  auto backend = parse_backend(backend_name);
  if (!backend.ok()) return usage(backend.message());
  auto precision = parse_precision(precision_name);
  if (!precision.ok()) return usage("--precision: " + precision.message());
  if (Status s = precision_built(*backend, *precision); !s.ok()) return usage(s.message());
  if (checkpoint.empty() == weights.empty()) return usage("give exactly one of --checkpoint and --weights");
  // Below 0.05 the redraws (1000 at most per component) could fail to land inside ±τ.
  if (truncation > 0 && truncation < 0.05f) return usage("--truncation must be 0 (off) or at least 0.05");
  if (!classes_arg.empty() && classes_arg != "all") return usage("--classes takes 'all'");
  if (flags.given("--z") && flags.given("--n")) return usage("--z gives the latents (and their number); drop --n");
  if (grid.empty() && raw_out.empty()) grid = "samples.png";
  const std::string input = checkpoint.empty() ? weights : checkpoint;
  for (const auto& [flag, out] : {std::pair{"--grid", grid}, {"--raw-out", raw_out}})
    if (!out.empty())
      if (Status s = check_output_path(flag, out, {input, z_file}); !s.ok()) return usage(s.message());
  if (!grid.empty() && grid == raw_out) return usage("--grid and --raw-out name the same file");

  auto gen = load_generator(input);
  if (!gen.ok()) return std::fprintf(stderr, "gantry sample: %s\n", gen.message().c_str()), 2;
  std::printf("generator: %s\n", gen->description.c_str());
  const int64_t nz = gen->nz;

  std::vector<float> z, labels;
  if (!z_file.empty()) {
    auto arr = read_npy(z_file);
    if (!arr.ok()) return std::fprintf(stderr, "gantry sample: %s\n", arr.message().c_str()), 2;
    const Shape s = arr->shape;
    const bool ok = s[0] >= 1 && ((s.rank == 2 && s[1] == nz) || (s.rank == 4 && s[1] == nz && s[2] == 1 && s[3] == 1));
    if (!ok)
      return std::fprintf(stderr,
                          "gantry sample: %s has shape %s; the generator needs [N, %lld] or [N, %lld, 1, 1], N ≥ 1\n",
                          z_file.c_str(), s.str().c_str(), static_cast<long long>(nz), static_cast<long long>(nz)),
             2;
    z = arr->data;
    n = s[0];
  } else {
    // The latents themselves must fit before they are drawn.
    if (Status s = check_output_bytes(n, Shape{nz}); !s.ok())
      return std::fprintf(stderr, "gantry sample: --n: %s\n", s.message().c_str()), 2;
    z = draw_latents(seed, n, nz, truncation);
  }
  if (!interpolate.empty()) {
    int64_t a = -1, b = -1;
    char comma = 0;
    std::istringstream in(interpolate);
    if (!(in >> a >> comma >> b) || comma != ',' || a < 0 || b < 0 || a >= n || b >= n)
      return usage("--interpolate A,B takes two latent indices below " + std::to_string(n));
    if (Status s = check_output_bytes(frames, Shape{nz}); !s.ok())
      return std::fprintf(stderr, "gantry sample: --frames: %s\n", s.message().c_str()), 2;
    z = slerp_strip(z.data() + a * nz, z.data() + b * nz, nz, frames);
    n = frames;
    if (!columns) columns = frames;
  }
  if (gen->classes) {
    if (flags.given("--class") && flags.given("--classes")) return usage("give one of --class and --classes");
    int64_t class_id = -1;
    if (flags.given("--class")) {
      auto k = class_index(gen->class_names, class_arg);
      if (!k.ok()) return usage(k.message());
      class_id = *k;
    }
    if (class_id >= 0) {
      labels.assign(size_t(n), float(class_id));
    } else {
      if (Status s = check_output_bytes(n * gen->classes, Shape{nz}); !s.ok())
        return std::fprintf(stderr, "gantry sample: one row per class: %s\n", s.message().c_str()), 2;
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
  } else if (flags.given("--class") || flags.given("--classes")) {
    return usage("--class/--classes need a conditional generator; " + gen->description + " is not");
  }

  if (Status s = check_output_bytes(n, gen->image); !s.ok())
    return std::fprintf(stderr, "gantry sample: %s\n", s.message().c_str()), 2;
  auto images = generate(*gen, z, labels, *backend, threads, *precision);
  if (!images.ok()) return std::fprintf(stderr, "gantry sample: %s\n", images.message().c_str()), 1;
  const Shape& im = gen->image;
  if (!raw_out.empty()) {
    if (Status s = write_npy(raw_out, Shape{n, im[0], im[1], im[2]}, *images); !s.ok())
      return std::fprintf(stderr, "gantry sample: %s\n", s.message().c_str()), 1;
    std::printf("wrote %lld samples %s to %s\n", static_cast<long long>(n), im.str().c_str(), raw_out.c_str());
  }
  if (!grid.empty()) {
    if (!columns) columns = int(std::ceil(std::sqrt(double(n))));
    if (Status s = write_image_grid(grid, *images, int(n), int(im[0]), int(im[1]), int(im[2]), columns, upscale);
        !s.ok())
      return std::fprintf(stderr, "gantry sample: %s\n", s.message().c_str()), 1;
    std::printf("wrote a %lld-sample grid to %s\n", static_cast<long long>(n), grid.c_str());
  }
  return 0;
}

int export_weights(const Args& args) {
  constexpr const char* kUsage = "usage: gantry export --checkpoint RUN/checkpoint.safetensors --out G.safetensors\n";
  std::string checkpoint, out;
  Flags flags;
  flags.text("--checkpoint", checkpoint).text("--out", out);
  Status st = flags.parse(args);
  if (flags.help()) return std::printf("%s", kUsage), 0;
  if (st.ok() && (checkpoint.empty() || out.empty())) st = Status::error("--checkpoint and --out are required");
  if (st.ok()) st = check_output_path("--out", out, {checkpoint});
  if (!st.ok()) return std::fprintf(stderr, "gantry export: %s\n%s", st.message().c_str(), kUsage), 2;
  auto gen = load_generator(checkpoint);
  if (!gen.ok()) return std::fprintf(stderr, "gantry export: %s\n", gen.message().c_str()), 2;
  if (Status s = export_generator(*gen, out); !s.ok())
    return std::fprintf(stderr, "gantry export: %s\n", s.message().c_str()), 1;
  std::printf("wrote %s (%zu tensors, PyTorch names) from %s\n", out.c_str(), gen->tensors.size(),
              gen->description.c_str());
  return 0;
}

}  // namespace gantry::cli

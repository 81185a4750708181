// `gantry eval`: sample-quality metrics (sample_metrics.h) for images in a
// .npy file (N×1×H×W float32 in [−1, 1]), against gantry's classifier and the
// first --n-real digits of --data. The first, not the held-out last: in the
// 10k-digit npm set the classes run out unevenly (the last 1000 hold no 5), and
// a reference set missing a class would inflate the Fréchet distance of a good
// generator. Prints a table, or with --json one JSON object. Exit status 2 for
// bad usage or input.
#include <cmath>
#include <cstdio>
#include <optional>

#include "cli/cli.h"
#include "eval/sample_metrics.h"
#include "io/npy.h"
#include "platform/philox.h"
#include "train/dataset.h"
#include "train/generator.h"
#include "train/trainer.h"

namespace gantry::cli {
namespace {

struct Options {
  std::string classifier, samples, labels, checkpoint, data = "data/mnist";
  int64_t n_real = 1000, n = 1000;
  uint64_t seed = 1;
  int threads = 0;
  bool json = false;
};

constexpr const char* kUsage =
    "usage: gantry eval --classifier C.safetensors (--samples S.npy [--labels L.npy] | --checkpoint G [--n 1000]\n"
    "                   [--seed S]) [--data DIR] [--n-real 1000] [--threads T] [--json] [--max-memory SIZE]\n"
    "  S.npy: N×1×H×W float32 in [−1, 1] (resized to 28×28); L.npy: the N requested classes;\n"
    "  G: a gantry checkpoint or PyTorch generator weights, sampled in eval mode (conditional: classes i mod 10);\n"
    "  the Fréchet distance compares with the first --n-real digits of DIR (default data/mnist)\n";

Result<Options> parse(const Args& args, bool& help) {
  Options o;
  Flags flags;
  flags.text("--classifier", o.classifier)
      .text("--samples", o.samples)
      .text("--labels", o.labels)
      .text("--checkpoint", o.checkpoint)
      .text("--data", o.data)
      .toggle("--json", o.json)
      .number("--n", o.n, int64_t(2), int64_t(1) << 24)
      .number("--seed", o.seed, uint64_t(0), ~uint64_t(0))
      .number("--n-real", o.n_real, int64_t(2), int64_t(1) << 24)
      .number("--threads", o.threads, 0, kMaxThreads)
      .max_memory();
  GANTRY_TRY(flags.parse(args));
  if ((help = flags.help())) return o;
  if (o.classifier.empty())
    return Status::error("--classifier C.safetensors is required (make one with gantry classifier train)");
  if (o.samples.empty() == o.checkpoint.empty())
    return Status::error("give exactly one of --samples S.npy and --checkpoint G");
  if (!o.samples.empty() && flags.given("--n"))
    return Status::error("--n sets how many samples to draw from --checkpoint; drop it");
  return o;
}

// n eval-mode samples of a generator from Philox latents; a conditional
// generator is asked for class i mod 10 in sample i.
struct Generated {
  NpyArray images;
  std::optional<NpyArray> labels;
};
Result<Generated> sample_generator(const Options& o) {
  auto gen = load_generator(o.checkpoint);
  if (!gen.ok()) return gen.status();
  std::vector<float> z(size_t(o.n * gen->nz)), labels;
  for (size_t i = 0; i < z.size(); ++i) z[i] = philox_normal(o.seed, 0, 0x5a, uint32_t(i));
  for (int64_t i = 0; gen->classes && i < o.n; ++i) labels.push_back(float(i % gen->classes));
  auto images = generate(*gen, z, labels, BackendKind::cpu, o.threads);
  if (!images.ok()) return images.status();
  Generated out{NpyArray{Shape{o.n, gen->image[0], gen->image[1], gen->image[2]}, std::move(*images)}, std::nullopt};
  if (gen->classes) out.labels = NpyArray{Shape{o.n}, std::move(labels)};
  return out;
}

}  // namespace

int eval(const Args& args) {
  bool help = false;
  auto parsed = parse(args, help);
  if (!parsed.ok()) return std::fprintf(stderr, "gantry eval: %s\n%s", parsed.message().c_str(), kUsage), 2;
  if (help) return std::printf("%s", kUsage), 0;
  const Options& o = *parsed;
  auto fail = [](const std::string& why) { return std::fprintf(stderr, "gantry eval: %s\n", why.c_str()), 2; };
  auto classifier = Classifier::load(o.classifier, o.threads);
  if (!classifier.ok()) return fail(classifier.message());
  std::optional<NpyArray> labels;
  Result<NpyArray> samples = Status::error("no samples");
  if (!o.checkpoint.empty()) {
    auto generated = sample_generator(o);
    if (!generated.ok()) return fail(generated.message());
    samples = std::move(generated->images);
    labels = std::move(generated->labels);
  } else {
    samples = read_npy(o.samples);
  }
  if (!samples.ok()) return fail(samples.message());
  const int64_t per = samples->shape.rank > 0 && samples->shape[0] > 0 ? samples->shape.numel() / samples->shape[0] : 1;
  for (size_t i = 0; i < samples->data.size(); ++i)
    if (!std::isfinite(samples->data[i]))
      return fail(o.samples + ": sample " + std::to_string(int64_t(i) / per) + " holds a non-finite value at element " +
                  std::to_string(int64_t(i) % per));
  if (!o.labels.empty()) {
    auto l = read_npy(o.labels);
    if (!l.ok()) return fail(l.message());
    if (l->shape.rank != 1) return fail(o.labels + ": labels " + l->shape.str() + " must be a vector [N]");
    for (float v : l->data)
      if (!(v >= 0 && v < kClassifierClasses) || v != float(int(v)))
        return fail(o.labels + ": label " + std::to_string(v) + " is not a class 0..9");
    labels = std::move(*l);
  }
  auto real = load_dataset(o.data, kClassifierImageSize, o.n_real);
  if (!real.ok()) return fail(real.message());
  if (real->images[0] < o.n_real)  // the distance depends on the reference's size: never use fewer silently
    return fail("--n-real " + std::to_string(o.n_real) + " is more than the " + std::to_string(real->images[0]) +
                " digits in " + o.data);
  const ImageView sample_view{samples->shape, samples->data};
  auto report = evaluate_samples(**classifier, sample_view,
                                 labels ? std::optional<std::span<const float>>(labels->data) : std::nullopt,
                                 ImageView{real->images, real->pixels});
  if (!report.ok()) return fail(o.samples + ": " + report.message());
  if (o.json) {
    std::printf("%s\n", to_json(*report).c_str());
  } else {
    std::printf("classifier %s (held-out accuracy %.2f%%), samples %s\n", o.classifier.c_str(),
                100.0 * (*classifier)->holdout_accuracy,
                o.checkpoint.empty() ? o.samples.c_str() : o.checkpoint.c_str());
    std::printf("%s", format_table(*report).c_str());
  }
  return 0;
}

}  // namespace gantry::cli

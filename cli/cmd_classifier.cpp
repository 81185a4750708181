// `gantry classifier train`: trains gantry's MNIST classifier (classifier.h)
// on all but the last --holdout digits of --data, prints the loss as it goes
// and the held-out accuracy at the end, and writes the weights atomically to
// --out. This classifier is the yardstick of `gantry eval`.
#include <chrono>
#include <cstdio>

#include "cli/cli.h"
#include "eval/classifier.h"
#include "train/trainer.h"

namespace gantry::cli {
namespace {

struct Options {
  ClassifierConfig config;
  std::string data = "data/mnist", out = "classifier.safetensors";
  int64_t steps = 2000, log_every = 250;
};

constexpr const char* kUsage =
    "usage: gantry classifier train --data DIR [--out classifier.safetensors] [--steps 2000] [--batch 64]\n"
    "                               [--seed S] [--holdout 1000] [--lr 0.001] [--shift 2] [--ema 0.999]\n"
    "                               [--threads T] [--log-every 250] [--max-memory SIZE]\n";

Result<Options> parse(const Args& args, bool& help) {
  Options o;
  ClassifierConfig& c = o.config;
  Flags flags;
  flags.text("--data", o.data)
      .text("--out", o.out)
      .number("--steps", o.steps, int64_t(1), kMaxSteps)
      .number("--batch", c.batch, int64_t(1), kMaxBatch)
      .number("--seed", c.seed, uint64_t(0), ~uint64_t(0))
      .number("--holdout", c.holdout, int64_t(0), kMaxElements)
      .number("--lr", c.lr, 1e-12f, 10.0f)
      .number("--shift", c.max_shift, 0, 8)
      .number("--ema", c.ema, 0.0f, 0.999999f)
      .number("--threads", c.threads, 0, kMaxThreads)
      .number("--log-every", o.log_every, int64_t(1), kMaxSteps)
      .max_memory();
  GANTRY_TRY(flags.parse(args));
  help = flags.help();
  GANTRY_TRY(check_output_path("--out", o.out, {}));
  return o;
}

}  // namespace

int classifier(const Args& args) {
  bool help = !args.empty() && (args[0] == "--help" || args[0] == "-h");
  auto parsed = !args.empty() && args[0] == "train" ? parse(Args(args.begin() + 1, args.end()), help)
                                                    : Result<Options>(Status::error("the action must be 'train'"));
  if (help) return std::printf("%s", kUsage), 0;
  if (!parsed.ok()) return std::fprintf(stderr, "gantry classifier: %s\n%s", parsed.message().c_str(), kUsage), 2;
  const Options& o = *parsed;
  auto data = load_dataset(o.data, kClassifierImageSize);
  if (!data.ok()) return std::fprintf(stderr, "gantry classifier: %s\n", data.message().c_str()), 2;
  auto trainer = ClassifierTrainer::create(o.config, *data);  // checks the flags against the data
  if (!trainer.ok()) return std::fprintf(stderr, "gantry classifier: %s\n", trainer.message().c_str()), 2;
  const ClassifierConfig& c = (*trainer)->config();
  std::printf("classifier %s (conv channels, features) on %lld digits of %s, %lld held out; %lld steps of %lld\n",
              c.widths.str().c_str(), static_cast<long long>(data->images[0] - c.holdout), o.data.c_str(),
              static_cast<long long>(c.holdout), static_cast<long long>(o.steps), static_cast<long long>(c.batch));
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  double loss_sum = 0;
  for (int64_t i = 1; i <= o.steps; ++i) {
    if (Status s = (*trainer)->step(); !s.ok())
      return std::fprintf(stderr, "gantry classifier: %s\n", s.message().c_str()), 1;
    loss_sum += (*trainer)->loss();
    if (i % o.log_every == 0 || i == o.steps) {
      const int64_t span = i % o.log_every ? i % o.log_every : o.log_every;
      std::printf("step %6lld  loss %.4f  %.1f s\n", static_cast<long long>(i), loss_sum / double(span), seconds());
      std::fflush(stdout);
      loss_sum = 0;
    }
  }
  auto model = (*trainer)->classifier();
  if (!model.ok()) return std::fprintf(stderr, "gantry classifier: %s\n", model.message().c_str()), 1;
  if (c.holdout > 0)
    std::printf("held-out accuracy %.2f%% on the last %lld digits (%.1f s)\n", 100.0 * (*model)->holdout_accuracy,
                static_cast<long long>(c.holdout), seconds());
  if (Status s = (*model)->save(o.out); !s.ok())
    return std::fprintf(stderr, "gantry classifier: %s\n", s.message().c_str()), 1;
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

}  // namespace gantry::cli

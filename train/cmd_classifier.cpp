// `gantry classifier train`: trains gantry's MNIST classifier (classifier.h)
// on all but the last --holdout digits of --data, prints the loss as it goes
// and the held-out accuracy at the end, and writes the weights atomically to
// --out. This classifier is the yardstick of `gantry eval`.
#include <chrono>
#include <cstdio>

#include "train/classifier.h"
#include "train/cli.h"

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
    "                               [--threads T] [--log-every 250]\n";

Result<Options> parse(const Args& args) {
  Options o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Status::error("flag " + a + " needs a value");
    const std::string v = args[++i];
    auto num = [&](auto& dst) { return parse_number(a, v, dst); };
    Status s;
    if (a == "--data") o.data = v;
    else if (a == "--out") o.out = v;
    else if (a == "--steps") s = num(o.steps);
    else if (a == "--batch") s = num(o.config.batch);
    else if (a == "--seed") s = num(o.config.seed);
    else if (a == "--holdout") s = num(o.config.holdout);
    else if (a == "--lr") s = num(o.config.lr);
    else if (a == "--shift") s = num(o.config.max_shift);
    else if (a == "--ema") s = num(o.config.ema);
    else if (a == "--threads") s = num(o.config.threads);
    else if (a == "--log-every") s = num(o.log_every);
    else return Status::error("unknown flag " + a);
    if (!s.ok()) return s;
  }
  if (o.steps < 1 || o.log_every < 1) return Status::error("--steps and --log-every must be ≥ 1");
  return o;
}

}  // namespace

int classifier(const Args& args) {
  auto parsed = !args.empty() && args[0] == "train" ? parse(Args(args.begin() + 1, args.end()))
                                                     : Result<Options>(Status::error("the action must be 'train'"));
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
    if (Status s = (*trainer)->step(); !s.ok()) return std::fprintf(stderr, "gantry classifier: %s\n", s.message().c_str()), 1;
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
  if (Status s = (*model)->save(o.out); !s.ok()) return std::fprintf(stderr, "gantry classifier: %s\n", s.message().c_str()), 1;
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

}  // namespace gantry::cli

// `gantry bench`: JSON lines, one per (model, backend, batch): the median
// milliseconds of a full training step (one generator iteration) over
// --steps timed steps after --warmup, images/s, the arena by region, and the
// generator's eval-mode sampling latency at batch 1 and 64. --profile adds
// the seconds per op (where the time goes). Data: random images of the model's
// size, so no dataset is needed and nothing is read from disk.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "cli/cli.h"
#include "engine/ops.h"
#include "platform/philox.h"
#include "train/sampler.h"
#include "train/trainer.h"

namespace gantry::cli {
namespace {

using clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(item);
  return out;
}

std::string profile_json(const Program& p) {
  std::string s = "{";
  for (const auto& [op, sec] : p.op_seconds()) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%s\"%s\":%.4f", s.size() > 1 ? "," : "", op.c_str(), sec);
    s += buf;
  }
  return s + "}";
}

// Median ms of one eval-mode generator pass at batch n, on freshly
// initialized weights (speed does not depend on their values).
Result<double> sampling_ms(const TrainConfig& c, int64_t n, int reps) {
  auto sampler = Sampler::create(nets::generator_builder(c.model, c.widths), c.widths.nz, n, c.backend, c.threads);
  if (!sampler.ok()) return sampler.status();
  Sampler& s = **sampler;
  size_t k = 0;
  for (const auto* list : {&s.network().params, &s.network().buffers})
    for (const nets::NamedTensor& t : *list) {
      const std::vector<float> v = nets::initial_values(t, s.graph().shape(t.value), c.seed, uint32_t(k));
      GANTRY_TRY(s.set_weight(k++, v.data(), int64_t(v.size())));
    }
  const std::vector<float> z(size_t(n * c.widths.nz), 0.5f), labels(size_t(n), 1.0f);
  std::vector<float> images(size_t(n * s.image().numel()));
  std::vector<double> ms;
  for (int i = 0; i < reps + 2; ++i) {
    const auto t0 = clock::now();
    GANTRY_TRY(s.run(z.data(), labels.data(), n, images.data()));
    if (i >= 2) ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  return median(ms);
}

}  // namespace

int bench(const Args& args) {
  constexpr const char* kUsage =
      "usage: gantry bench [--model M,M] [--backend B,B] [--batch N,N] [--steps 20] [--warmup 3]\n"
      "                    [--threads T] [--profile] [--max-memory SIZE]\n";
  std::string models = "dcgan28", backends = "cpu", batches = "64";
  int steps = 20, warmup = 3, threads = 0;
  bool profile = false;
  Flags flags;
  flags.text("--model", models)
      .text("--backend", backends)
      .text("--batch", batches)
      .number("--steps", steps, 1, 100000)
      .number("--warmup", warmup, 0, 100000)
      .number("--threads", threads, 0, kMaxThreads)
      .toggle("--profile", profile)
      .max_memory();
  Status st = flags.parse(args);
  if (flags.help()) return std::printf("%s", kUsage), 0;
  // Every batch in the list is checked before the first model is built.
  std::vector<int64_t> batch_list;
  for (const std::string& b : split(batches)) {
    if (!st.ok()) break;
    batch_list.push_back(0);
    st = parse_number("--batch", b, int64_t(1), kMaxBatch, batch_list.back());
  }
  if (st.ok() && batch_list.empty()) st = Status::error("--batch needs at least one number");
  if (!st.ok()) return std::fprintf(stderr, "gantry bench: %s\n%s", st.message().c_str(), kUsage), 2;
  int failures = 0;
  for (const std::string& model : split(models))
    for (const std::string& bname : split(backends))
      for (const int64_t batch : batch_list) {
        const std::string bs = std::to_string(batch);
        auto fail = [&](const std::string& why) {
          std::printf("{\"model\":\"%s\",\"backend\":\"%s\",\"batch\":%s,\"error\":\"%s\"}\n", model.c_str(),
                      bname.c_str(), bs.c_str(), why.c_str());
          ++failures;
        };
        auto backend = parse_backend(bname);
        auto spec = nets::model_spec(model);
        if (!backend.ok() || !spec.ok()) {
          fail(!backend.ok() ? backend.message() : spec.message());
          continue;
        }
        const int size = (*spec)->image_size;
        TrainConfig c;
        c.model = model;
        c.backend = *backend;
        c.threads = threads;
        c.profile = profile;
        c.widths = (*spec)->widths;
        c.widths.nc = 1;
        c.batch = batch;
        // Random digits-sized data: enough rows for every minibatch of a step.
        Dataset d;
        const int64_t rows = std::max<int64_t>(c.batch * c.n_critic, 256);
        d.images = Shape{rows, 1, size, size};
        d.pixels.resize(size_t(d.images.numel()));
        for (size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] = 2 * philox_uniform(1, 0, 7, uint32_t(i)) - 1;
        d.labels.resize(size_t(rows));
        for (int64_t i = 0; i < rows; ++i) d.labels[size_t(i)] = float(i % 10);
        d.source = "random";
        auto t = Trainer::create(c, d);
        if (!t.ok() || !(*t)->init_weights().ok()) {
          fail(t.ok() ? "init failed" : t.message());
          continue;
        }
        std::vector<double> ms;
        Status st;
        for (int i = 0; i < warmup + steps && st.ok(); ++i) {
          const auto t0 = clock::now();
          st = (*t)->step();
          if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
        }
        if (!st.ok()) {
          fail(st.message());
          continue;
        }
        auto s1 = sampling_ms(c, 1, steps), s64 = sampling_ms(c, 64, std::max(3, steps / 4));
        const ArenaBytes& a = (*t)->arena();
        const double med = median(ms);
        std::printf(
            "{\"model\":\"%s\",\"backend\":\"%s\",\"device\":\"%s\",\"batch\":%lld,\"steps\":%d,\"median_ms_per_step\":"
            "%.3f,"
            "\"images_per_s\":%.1f,\"arena_bytes\":{\"params\":%lld,\"state\":%lld,\"data\":%lld,"
            "\"inputs\":%lld,\"transient\":%lld,\"total\":%lld},\"sample_ms_batch1\":%.3f,"
            "\"sample_ms_batch64\":%.3f",
            model.c_str(), bname.c_str(), (*t)->program().device().c_str(), static_cast<long long>(c.batch), steps, med,
            1000.0 * double(c.batch) / med, static_cast<long long>(a.params), static_cast<long long>(a.state),
            static_cast<long long>(a.data), static_cast<long long>(a.inputs), static_cast<long long>(a.transient),
            static_cast<long long>(a.total()), s1.ok() ? *s1 : -1.0, s64.ok() ? *s64 : -1.0);
        if (profile) std::printf(",\"op_seconds\":%s", profile_json((*t)->program()).c_str());
        std::printf("}\n");
        std::fflush(stdout);
      }
  return failures ? 1 : 0;
}

}  // namespace gantry::cli

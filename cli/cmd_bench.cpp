// `gantry bench`: JSON lines, one per (model, backend, batch, precision): the median
// milliseconds of a full training step (one generator iteration) over
// --steps timed steps after --warmup, images/s, the arena by region, and the
// generator's eval-mode sampling latency at batch 1 and 64. --profile adds
// the seconds per op (where the time goes). Data: random images of the model's
// size, so no dataset is needed and nothing is read from disk. --data DIR adds
// the real thing beside it: one pass over DIR (the first epoch, decoding,
// filling the cache in $GANTRY_CACHE_DIR or a temporary folder) reported as
// images/s, then steps on DIR's data (warm cache) and on random data in
// turn, so "data_overhead" compares medians measured side by side.
// --precision fp32,fp16,bf16 runs each configuration in each, one line after
// the other (fp16/bf16: mixed-precision training and 16-bit-storage sampling).
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
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
  auto sampler =
      Sampler::create(nets::generator_builder(c.model, c.widths), c.widths.nz, n, c.backend, c.threads, c.precision);
  if (!sampler.ok()) return sampler.status();
  Sampler& s = **sampler;
  GANTRY_TRY(s.init_weights(c.seed));
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

// Random images of the model's size: enough rows for every minibatch of a step.
Dataset random_data(const TrainConfig& c, int size) {
  Dataset d;
  const int64_t rows = std::max<int64_t>(c.batch * c.n_critic, 256);
  d.images = Shape{rows, c.widths.nc, size, size};
  d.pixels.resize(size_t(d.images.numel()));
  for (size_t i = 0; i < d.pixels.size(); ++i) d.pixels[i] = 2 * philox_uniform(1, 0, 7, uint32_t(i)) - 1;
  d.labels.resize(size_t(rows));
  for (int64_t i = 0; i < rows; ++i) d.labels[size_t(i)] = float(i % c.widths.classes);
  for (int k = 0; k < c.widths.classes; ++k) d.class_names.push_back(std::to_string(k));
  d.source = "random";
  return d;
}

// Reads every row of `data` once (decoding; filling its cache) and returns images/s.
Result<double> first_epoch(DataSource& data) {
  std::vector<float> pixels(size_t(data.image().numel()));
  float label = 0;
  int64_t readable = 0;
  const auto t0 = clock::now();
  for (int64_t r = 0; r < data.rows(); ++r) readable += data.read(r, pixels.data(), &label).ok();
  const double s = std::chrono::duration<double>(clock::now() - t0).count();
  if (!readable) return Status::error("no image in " + data.description() + " could be read");
  return double(data.rows()) / std::max(s, 1e-9);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
  }
  return out;
}

}  // namespace

int bench(const Args& args) {
  constexpr const char* kUsage =
      "usage: gantry bench [--model M,M] [--backend B,B] [--batch N,N] [--steps 20] [--warmup 3]\n"
      "                    [--threads T] [--profile] [--data DIR [--limit N]] [--max-memory SIZE]\n"
      "                    [--precision fp32,fp16,bf16]\n";
  std::string models = "dcgan28", backends = "cpu", batches = "64", precisions = "fp32", data_dir;
  int64_t limit = 0;
  int steps = 20, warmup = 3, threads = 0;
  bool profile = false;
  Flags flags;
  flags.text("--model", models)
      .text("--backend", backends)
      .text("--batch", batches)
      .text("--precision", precisions)
      .number("--steps", steps, 1, 100000)
      .number("--warmup", warmup, 0, 100000)
      .number("--threads", threads, 0, kMaxThreads)
      .toggle("--profile", profile)
      .text("--data", data_dir)
      .number("--limit", limit, int64_t(0), kMaxElements)
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
  std::vector<Precision> precision_list;
  for (const std::string& p : split(precisions)) {
    if (!st.ok()) break;
    auto parsed = parse_precision(p);
    if (!parsed.ok())
      st = Status::error("--precision: " + parsed.message());
    else
      precision_list.push_back(*parsed);
  }
  if (!st.ok()) return std::fprintf(stderr, "gantry bench: %s\n%s", st.message().c_str(), kUsage), 2;
  // The data cache of --data: $GANTRY_CACHE_DIR, else a folder removed at the end.
  std::string cache_dir;
  const char* env = std::getenv("GANTRY_CACHE_DIR");
  if (!data_dir.empty() && env && *env) cache_dir = env;
  if (!data_dir.empty() && cache_dir.empty()) {
    std::string t = (std::filesystem::temp_directory_path() / "gantry-bench-XXXXXX").string();
    if (!::mkdtemp(t.data())) return std::fprintf(stderr, "gantry bench: cannot create %s\n", t.c_str()), 2;
    cache_dir = t;
  }
  struct RemoveAtExit {
    std::string dir;
    ~RemoveAtExit() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } temporary{env && *env ? "" : cache_dir};
  int failures = 0;
  for (const std::string& model : split(models))
    for (const std::string& bname : split(backends))
      for (const int64_t batch : batch_list)
        for (const Precision precision : precision_list) {
          const std::string bs = std::to_string(batch);
          const char* pname = precision_name(precision);
          auto fail = [&](const std::string& why) {
            std::printf("{\"model\":\"%s\",\"backend\":\"%s\",\"batch\":%s,\"precision\":\"%s\",\"error\":\"%s\"}\n",
                        model.c_str(), bname.c_str(), bs.c_str(), pname, json_escape(why).c_str());
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
          c.precision = precision;
          c.threads = threads;
          c.profile = profile;
          c.widths = (*spec)->widths;
          c.widths.nc = 1;
          c.batch = batch;
          // --data: its first epoch, timed, before the steps.
          std::unique_ptr<DataSource> real;
          double epoch_images_per_s = 0;
          if (!data_dir.empty()) {
            auto opened = open_data(data_dir, DataOptions{size, 0, (*spec)->conditional, limit, cache_dir});
            if (!opened.ok()) {
              fail(opened.message());
              continue;
            }
            real = std::move(*opened);
            c.widths.nc = int(real->image()[0]);
            if ((*spec)->conditional) c.widths.classes = int(real->class_names().size());
            auto rate = first_epoch(*real);
            if (!rate.ok()) {
              fail(rate.message());
              continue;
            }
            epoch_images_per_s = *rate;
          }
          auto t = Trainer::create(c, random_data(c, size));
          auto td = real ? Trainer::create(c, std::move(real)) : Result<std::unique_ptr<Trainer>>(nullptr);
          if (!t.ok() || !td.ok()) {
            fail(t.ok() ? td.message() : t.message());
            continue;
          }
          std::vector<double> ms, ms_data;
          Status st = (*t)->init_weights();
          if (st.ok() && *td) st = (*td)->init_weights();
          for (int i = 0; i < warmup + steps && st.ok(); ++i) {
            auto t0 = clock::now();
            st = (*t)->step();
            if (i >= warmup) ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
            if (!st.ok() || !*td) continue;
            t0 = clock::now();
            st = (*td)->step();
            if (i >= warmup) ms_data.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
          }
          if (!st.ok()) {
            fail(st.message());
            continue;
          }
          auto s1 = sampling_ms(c, 1, steps), s64 = sampling_ms(c, 64, std::max(3, steps / 4));
          const ArenaBytes& a = (*t)->arena();
          const double med = median(ms);
          std::printf(
              "{\"model\":\"%s\",\"backend\":\"%s\",\"device\":\"%s\",\"precision\":\"%s\",\"batch\":%lld,\"steps\":%d,"
              "\"median_ms_per_step\":%.3f,"
              "\"images_per_s\":%.1f,\"arena_bytes\":{\"params\":%lld,\"state\":%lld,\"data\":%lld,"
              "\"inputs\":%lld,\"transient\":%lld,\"total\":%lld},\"sample_ms_batch1\":%.3f,"
              "\"sample_ms_batch64\":%.3f",
              model.c_str(), bname.c_str(), json_escape((*t)->program().device()).c_str(), pname,
              static_cast<long long>(c.batch), steps, med, 1000.0 * double(c.batch) / med,
              static_cast<long long>(a.params), static_cast<long long>(a.state), static_cast<long long>(a.data),
              static_cast<long long>(a.inputs), static_cast<long long>(a.transient), static_cast<long long>(a.total()),
              s1.ok() ? *s1 : -1.0, s64.ok() ? *s64 : -1.0);
          if (*td) {
            const double med_data = median(ms_data);
            std::printf(
                ",\"data\":\"%s\",\"first_epoch_images_per_s\":%.1f,\"median_ms_per_step_data\":%.3f,"
                "\"data_overhead\":%.4f,\"data_skipped\":%lld",
                json_escape((*td)->data().description()).c_str(), epoch_images_per_s, med_data, med_data / med - 1,
                static_cast<long long>((*td)->rows_skipped()));
          }
          if (precision != Precision::fp32)
            std::printf(",\"loss_scale\":%g,\"skipped_steps\":%lld", double((*t)->loss_scale()),
                        static_cast<long long>((*t)->skipped_steps()));
          if (profile) std::printf(",\"op_seconds\":%s", profile_json((*t)->program()).c_str());
          std::printf("}\n");
          std::fflush(stdout);
        }
  return failures ? 1 : 0;
}

}  // namespace gantry::cli

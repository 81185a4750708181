// `gantry train`: trains a model on MNIST and writes, under --out RUN_DIR,
// samples/step_NNNNNN.png (fixed z; for cgan32 one row per digit),
// metrics.csv, loss.png and checkpoint.safetensors (atomically, every
// --checkpoint-every steps, at the end, and on Ctrl-C). A NaN or Inf in a
// logged value stops the run, naming the step and the value; the last
// checkpoint on disk is the last good one.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "engine/philox.h"
#include "engine/safetensors.h"
#include "platform/image.h"
#include "train/cli.h"
#include "train/trainer.h"

namespace gantry::cli {
namespace {

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted = true; }

constexpr uint32_t kSampleStream = 0xfeed;

struct Options {
  TrainConfig config;
  std::string data = "data/mnist", out, resume;
  int64_t steps = 2000, limit = 0;
  int64_t sample_every = 200, checkpoint_every = 500, log_every = 10;
};

int usage(const char* why) {
  if (why) std::fprintf(stderr, "gantry train: %s\n", why);
  std::fprintf(stderr,
               "usage: gantry train --model M --out RUN_DIR [--data DIR] [--steps N] [--batch B] [--backend cpu]\n"
               "                    [--seed S] [--threads T] [--limit N] [--sample-every K] [--checkpoint-every K]\n"
               "                    [--log-every K] [--lr X] [--beta1 X] [--beta2 X] [--n-critic N] [--lambda X]\n"
               "                    [--clip C] [--nz N] [--ngf N] [--ndf N]\n"
               "       gantry train --resume RUN_DIR [--steps N] [--data DIR] [--backend B] [...]\n"
               "models: dcgan28 (default), dcgan64, cgan32, wgangp28, wgangp64, wgan-clip28, wgan-clip64\n");
  return 2;
}

// Parses flags; numbers are checked whole ("12x" is an error).
Result<Options> parse(const Args& args) {
  Options o;
  bool model_given = false, widths_given[3] = {false, false, false};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Status::error("flag " + a + " needs a value");
    const std::string v = args[++i];
    auto num = [&](auto& dst) { return parse_number(a, v, dst); };
    Status s;
    if (a == "--model") o.config.model = v, model_given = true;
    else if (a == "--data") o.data = v;
    else if (a == "--out") o.out = v;
    else if (a == "--resume") o.resume = v;
    else if (a == "--backend") {
      auto b = parse_backend(v);
      if (!b.ok()) return b.status();
      o.config.backend = *b;
    } else if (a == "--steps") s = num(o.steps);
    else if (a == "--batch") s = num(o.config.batch);
    else if (a == "--seed") s = num(o.config.seed);
    else if (a == "--threads") s = num(o.config.threads);
    else if (a == "--limit") s = num(o.limit);
    else if (a == "--sample-every") s = num(o.sample_every);
    else if (a == "--checkpoint-every") s = num(o.checkpoint_every);
    else if (a == "--log-every") s = num(o.log_every);
    else if (a == "--lr") s = num(o.config.lr);
    else if (a == "--beta1") s = num(o.config.beta1);
    else if (a == "--beta2") s = num(o.config.beta2);
    else if (a == "--n-critic") s = num(o.config.n_critic);
    else if (a == "--lambda") s = num(o.config.lambda);
    else if (a == "--clip") s = num(o.config.clip);
    else if (a == "--nz") s = num(o.config.widths.nz), widths_given[0] = true;
    else if (a == "--ngf") s = num(o.config.widths.ngf), widths_given[1] = true;
    else if (a == "--ndf") s = num(o.config.widths.ndf), widths_given[2] = true;
    else return Status::error("unknown flag " + a);
    if (!s.ok()) return s;
  }
  if (!o.resume.empty()) {
    if (model_given) return Status::error("--resume takes the model from the checkpoint; drop --model");
    if (o.out.empty()) o.out = o.resume;
    return o;
  }
  if (o.out.empty()) return Status::error("--out RUN_DIR is required");
  auto seed_widths = nets::seed_widths(o.config.model);
  if (!seed_widths.ok()) return seed_widths.status();
  nets::Widths w = *seed_widths;
  if (widths_given[0]) w.nz = o.config.widths.nz;
  if (widths_given[1]) w.ngf = o.config.widths.ngf;
  if (widths_given[2]) w.ndf = o.config.widths.ndf;
  w.nc = 1;  // MNIST
  o.config.widths = w;
  if (o.steps < 1 || o.sample_every < 1 || o.checkpoint_every < 1 || o.log_every < 1)
    return Status::error("--steps and the --*-every intervals must be ≥ 1");
  return o;
}

std::string hms(double seconds) {
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

// The fixed latent grid: 8×8 samples, or for conditional models 10 rows (digits 0..9) × 10.
struct SampleGrid {
  std::vector<float> z, labels;
  int columns = 8;
};
SampleGrid make_grid(const Trainer& t) {
  SampleGrid s;
  const int nz = t.config().widths.nz, n = t.conditional() ? 100 : 64;
  s.columns = t.conditional() ? 10 : 8;
  s.z.resize(size_t(n) * nz);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < nz; ++k) {
      // Conditional grid: the same z down each column, so a column shows one style across digits.
      const int row_z = t.conditional() ? i % s.columns : i;
      s.z[size_t(i) * nz + k] = philox_normal(t.config().seed, 0, kSampleStream, uint32_t(row_z * nz + k));
    }
  if (t.conditional())
    for (int i = 0; i < n; ++i) s.labels.push_back(float(i / s.columns));
  return s;
}

// metrics.csv rows kept in memory for loss.png; on resume, rows up to the checkpoint's step.
struct MetricsLog {
  std::string path;
  std::vector<std::string> names;
  std::vector<std::vector<double>> rows;  // step, values...

  Status load_upto(int64_t step) {
    std::ifstream in(path);
    std::string line;
    if (!std::getline(in, line)) return {};
    while (std::getline(in, line)) {
      std::vector<double> row;
      std::istringstream cells(line);
      std::string cell;
      while (std::getline(cells, cell, ',')) row.push_back(std::strtod(cell.c_str(), nullptr));
      if (row.size() == names.size() + 2 && row[0] <= double(step)) rows.push_back(row);
    }
    return {};
  }
  void append(int64_t step, const std::vector<Metric>& m, double steps_per_s) {
    std::vector<double> row{double(step)};
    for (const Metric& x : m) row.push_back(x.value);
    row.push_back(steps_per_s);
    rows.push_back(row);
  }
  Status write() const {
    std::ofstream out(path + ".tmp");
    out << "step";
    for (const auto& n : names) out << ',' << n;
    out << ",steps_per_s\n";
    for (const auto& r : rows) {
      out << int64_t(r[0]);
      for (size_t i = 1; i < r.size(); ++i) out << ',' << r[i];
      out << '\n';
    }
    out.close();
    if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0) return Status::error(path + ": cannot write");
    return {};
  }
  Status plot(const std::string& png, const std::string& title) const {
    std::vector<Series> series;
    for (size_t k = 0; k < names.size(); ++k) {
      if (names[k] == "D_x" || names[k] == "D_G_z" || names[k] == "grad_norm") continue;  // not losses
      Series s{names[k], {}, {}};
      for (const auto& r : rows) s.x.push_back(r[0]), s.y.push_back(r[k + 1]);
      series.push_back(std::move(s));
    }
    return write_line_plot(png, series, title);
  }
};

}  // namespace

int train(const Args& args) {
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) return usage(nullptr), 0;
  auto parsed = parse(args);
  if (!parsed.ok()) return usage(parsed.message().c_str());
  Options o = *parsed;
  namespace fs = std::filesystem;
  const std::string ckpt = o.out + "/checkpoint.safetensors";

  if (!o.resume.empty()) {
    // The config lives in the checkpoint's metadata; backend and threads may change.
    auto f = read_safetensors(ckpt);
    if (!f.ok()) return std::fprintf(stderr, "gantry train: %s\n", f.message().c_str()), 2;
    const std::string* text = f->meta("config");
    if (!text) return std::fprintf(stderr, "gantry train: %s has no config metadata\n", ckpt.c_str()), 2;
    auto c = TrainConfig::parse(*text);
    if (!c.ok()) return std::fprintf(stderr, "gantry train: %s: %s\n", ckpt.c_str(), c.message().c_str()), 2;
    c->backend = o.config.backend;
    c->threads = o.config.threads;
    o.config = *c;
  }
  auto size = image_size_of(o.config.model);
  if (!size.ok()) return std::fprintf(stderr, "gantry train: %s\n", size.message().c_str()), 2;
  auto data = load_dataset(o.data, *size, o.limit);
  if (!data.ok()) return std::fprintf(stderr, "gantry train: %s\n", data.message().c_str()), 2;
  auto trainer = Trainer::create(o.config, *data);
  if (!trainer.ok()) return std::fprintf(stderr, "gantry train: %s\n", trainer.message().c_str()), 2;
  Trainer& t = **trainer;
  std::error_code ec;
  fs::create_directories(o.out + "/samples", ec);
  if (ec) return std::fprintf(stderr, "gantry train: cannot create %s: %s\n", o.out.c_str(), ec.message().c_str()), 2;

  Status st = o.resume.empty() ? t.init_weights() : t.load(ckpt);
  if (!st.ok()) return std::fprintf(stderr, "gantry train: %s\n", st.message().c_str()), 2;
  MetricsLog log{o.out + "/metrics.csv", {}, {}};
  for (const Metric& m : t.metrics()) log.names.push_back(m.name);
  if (!o.resume.empty()) (void)log.load_upto(t.steps_done());

  const ArenaBytes& a = t.arena();
  std::printf("gantry train: %s on %s, %lld digits %dx%d from %s, batch %lld, steps %lld -> %lld\n",
              o.config.model.c_str(), backend_name(o.config.backend), static_cast<long long>(data->images[0]), *size,
              *size, o.data.c_str(), static_cast<long long>(o.config.batch), static_cast<long long>(t.steps_done()),
              static_cast<long long>(o.steps));
  std::printf("arena: %.1f MiB (params %.1f, state %.1f, data %.1f, inputs %.3f, transient %.1f)\n",
              double(a.total()) / 1048576, double(a.params) / 1048576, double(a.state) / 1048576,
              double(a.data) / 1048576, double(a.inputs) / 1048576, double(a.transient) / 1048576);
  std::fflush(stdout);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const SampleGrid grid = make_grid(t);
  const bool tty = isatty(fileno(stdout));
  const std::string title = o.config.model + " (" + backend_name(o.config.backend) + ")";
  auto save_all = [&]() -> Status {
    if (Status s = t.save(ckpt); !s.ok()) return s;
    if (Status s = log.write(); !s.ok()) return s;
    return log.plot(o.out + "/loss.png", title);
  };
  auto write_samples = [&]() -> Status {
    std::vector<float> images;
    if (Status s = t.sample(grid.z, grid.labels, images); !s.ok()) return s;
    char name[64];
    std::snprintf(name, sizeof name, "/samples/step_%06lld.png", static_cast<long long>(t.steps_done()));
    const int n = int(grid.z.size() / size_t(t.config().widths.nz));
    if (Status s = write_image_grid(o.out + name, images, n, 1, *size, *size, grid.columns, *size < 64 ? 2 : 1);
        !s.ok())
      return s;
    return write_image_grid(o.out + "/samples/latest.png", images, n, 1, *size, *size, grid.columns, *size < 64 ? 2 : 1);
  };

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const int64_t first = t.steps_done();
  int64_t last_saved = first;  // 0 on a fresh run: no checkpoint yet
  while (t.steps_done() < o.steps) {
    if (Status s = t.step(); !s.ok()) {
      std::fprintf(stderr, "\ngantry train: %s; stopping. The last good checkpoint is %s (step %lld).\n",
                   s.message().c_str(), last_saved > 0 ? ckpt.c_str() : "(none written yet)",
                   static_cast<long long>(last_saved));
      return 1;
    }
    const int64_t step = t.steps_done();
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    const double rate = double(step - first) / std::max(elapsed, 1e-9);
    if (step % o.log_every == 0 || step == o.steps) {
      log.append(step, t.metrics(), rate);
      std::string line;
      char buf[96];
      std::snprintf(buf, sizeof buf, "step %lld/%lld  %.2f steps/s  ETA %s ", static_cast<long long>(step),
                    static_cast<long long>(o.steps), rate, hms(double(o.steps - step) / std::max(rate, 1e-9)).c_str());
      line = buf;
      for (const Metric& m : t.metrics()) {
        std::snprintf(buf, sizeof buf, " %s %.4f", m.name.c_str(), m.value);
        line += buf;
      }
      std::printf(tty ? "\r%s\033[K" : "%s\n", line.c_str());
      std::fflush(stdout);
    }
    if (step % o.sample_every == 0 || step == o.steps)
      if (Status s = write_samples(); !s.ok()) return std::fprintf(stderr, "\ngantry train: %s\n", s.message().c_str()), 1;
    if (step % o.checkpoint_every == 0 || step == o.steps || g_interrupted) {
      if (Status s = save_all(); !s.ok()) return std::fprintf(stderr, "\ngantry train: %s\n", s.message().c_str()), 1;
      last_saved = step;
    }
    if (g_interrupted) {
      std::printf("\ninterrupted at step %lld; checkpoint written to %s (resume with --resume %s)\n",
                  static_cast<long long>(step), ckpt.c_str(), o.out.c_str());
      return 130;
    }
  }
  std::printf("\ndone: %lld steps in %s; samples in %s/samples/latest.png, curves in %s/loss.png, checkpoint %s\n",
              static_cast<long long>(t.steps_done() - first),
              hms(std::chrono::duration<double>(clock::now() - start).count()).c_str(), o.out.c_str(), o.out.c_str(),
              ckpt.c_str());
  return 0;
}

}  // namespace gantry::cli

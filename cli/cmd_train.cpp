// `gantry train`: trains a model on MNIST or an image folder (train/dataset.h)
// and writes, under --out RUN_DIR, samples/step_NNNNNN.png (fixed z; for
// cgan32 one row per class),
// metrics.csv, loss.png and checkpoint.safetensors (atomically, every
// --checkpoint-every steps, at the end, and on SIGINT, SIGTERM and SIGHUP).
// A NaN or Inf in a logged value stops the run, naming the step and the value;
// the last checkpoint on disk is the last good one. A run directory is locked
// (flock on RUN_DIR/.lock) while a run uses it, and a new run never writes
// into one that holds a run unless told --overwrite. An image folder's
// decoded cache goes to $GANTRY_CACHE_DIR, else RUN_DIR (--no-cache: none).
// An unreadable image is skipped, named on stderr, and counted at the end.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/cli.h"
#include "io/image.h"
#include "io/safetensors.h"
#include "platform/atomic_file.h"
#include "platform/philox.h"
#include "train/trainer.h"

namespace gantry::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;  // the first SIGINT/SIGTERM/SIGHUP received
void on_signal(int sig) {
  if (!g_signal) g_signal = sig;
}

constexpr uint32_t kSampleStream = 0xfeed;

struct Options {
  TrainConfig config;
  std::string data = "data/mnist", out, resume;
  int64_t steps = 2000, limit = 0;
  int channels = 0;  // 0: the data's (train/dataset.h, DataOptions)
  bool no_cache = false;
  int64_t sample_every = 200, checkpoint_every = 500, log_every = 10;
  bool overwrite = false;
  Flags flags;
};

int usage(const char* why) {
  if (why) std::fprintf(stderr, "gantry train: %s\n", why);
  std::fprintf(why ? stderr : stdout,
               "usage: gantry train --model M --out RUN_DIR [--overwrite] [--data DIR] [--steps N] [--batch B]\n"
               "                    [--backend cpu] [--seed S] [--threads T] [--limit N] [--sample-every K]\n"
               "                    [--checkpoint-every K] [--log-every K] [--lr X] [--beta1 X] [--beta2 X]\n"
               "                    [--n-critic N] [--lambda X] [--clip C] [--nz N] [--ngf N] [--ndf N]\n"
               "                    [--channels 1|3] [--no-cache] [--max-memory SIZE] [--precision fp32|fp16|bf16]\n"
               "       gantry train --resume RUN_DIR [--steps N] [--data DIR] [--backend B] [--threads T]\n"
               "                    [--lr X] [--beta1 X] [--beta2 X] [--lambda X] [--clip C] [...]\n"
               "models: dcgan28 (default), dcgan64, cgan32, wgangp28, wgangp64, wgan-clip28, wgan-clip64\n"
               "data: a folder with MNIST's IDX files (default data/mnist), or of PNG/JPEG/BMP/TGA images\n"
               "      (searched recursively; for cgan32 one sub-folder per class)\n"
               "--precision fp16: mixed precision (binary16 activations, float32 weights and optimizer state,\n"
               "      dynamic loss scaling) on cuda, vulkan and cpu (emulated: the reference); bf16: the same\n"
               "      with bfloat16 activations, on cuda and cpu\n");
  return why ? 2 : 0;
}

// Flags a resumed run may change: optimizer coefficients and loss weights are
// graph constants rebuilt on resume, so a new value simply applies from the
// next step. Everything else that shapes the graph or the data order (model,
// widths, batch, n_critic — Adam's bias correction counts n_critic updates per
// step —, seed) must match the checkpoint.

// Parses flags into `o` (numbers whole and in range).
Status parse(const Args& args, Options& o) {
  std::string backend = "cpu", precision = "fp32";
  TrainConfig& c = o.config;
  o.flags.text("--model", c.model)
      .text("--precision", precision)
      .text("--data", o.data)
      .text("--out", o.out)
      .text("--resume", o.resume)
      .text("--backend", backend)
      .toggle("--overwrite", o.overwrite)
      .toggle("--no-cache", o.no_cache)
      .number("--channels", o.channels, 1, 3)
      .number("--steps", o.steps, int64_t(1), kMaxSteps)
      .number("--batch", c.batch, int64_t(1), kMaxBatch)
      .number("--seed", c.seed, uint64_t(0), ~uint64_t(0))
      .number("--threads", c.threads, 0, kMaxThreads)
      .number("--limit", o.limit, int64_t(0), kMaxElements)
      .number("--sample-every", o.sample_every, int64_t(1), kMaxSteps)
      .number("--checkpoint-every", o.checkpoint_every, int64_t(1), kMaxSteps)
      .number("--log-every", o.log_every, int64_t(1), kMaxSteps)
      .number("--lr", c.lr, 1e-12f, 10.0f)
      .number("--beta1", c.beta1, 0.0f, 0.9999f)
      .number("--beta2", c.beta2, 0.0f, 0.9999f)
      .number("--n-critic", c.n_critic, 1, kMaxCritic)
      .number("--lambda", c.lambda, 0.0f, 1e6f)
      .number("--clip", c.clip, 1e-9f, 1e3f)
      .number("--nz", c.widths.nz, 1, kMaxWidth)
      .number("--ngf", c.widths.ngf, 1, kMaxWidth)
      .number("--ndf", c.widths.ndf, 1, kMaxWidth)
      .max_memory();
  if (Status s = o.flags.parse(args); !s.ok() || o.flags.help()) return s;
  auto b = parse_backend(backend);
  if (!b.ok()) return b.status();
  c.backend = *b;
  auto p = parse_precision(precision);
  if (!p.ok()) return Status::error("--precision: " + p.message());
  c.precision = *p;
  GANTRY_TRY(precision_built(c.backend, c.precision));
  if (o.channels == 2) return Status::error("--channels takes 1 (gray) or 3 (RGB), not 2");
  if (!o.resume.empty()) {
    if (o.flags.given("--out") && o.out != o.resume)
      return Status::error("--resume continues in RUN_DIR itself; drop --out");
    if (o.overwrite) return Status::error("--overwrite starts a new run; it cannot go with --resume");
    o.out = o.resume;
    return {};
  }
  if (o.out.empty()) return Status::error("--out RUN_DIR is required");
  auto spec = nets::model_spec(c.model);
  if (!spec.ok()) return spec.status();
  nets::Widths w = (*spec)->widths;
  if (o.flags.given("--nz")) w.nz = c.widths.nz;
  if (o.flags.given("--ngf")) w.ngf = c.widths.ngf;
  if (o.flags.given("--ndf")) w.ndf = c.widths.ndf;
  c.widths = w;  // nc and classes come from the data (train())
  return c.check();
}

// On resume: the checkpoint's config, with the flags that may change applied
// (each one announced) and the ones that must match compared.
Status merge_resumed(const TrainConfig& saved, Options& o) {
  TrainConfig merged = saved;
  const TrainConfig& asked = o.config;
  merged.backend = asked.backend;
  merged.precision = asked.precision;
  merged.threads = asked.threads;
  auto show = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  const std::pair<const char*, std::pair<float*, float>> changeable[] = {{"--lr", {&merged.lr, asked.lr}},
                                                                         {"--beta1", {&merged.beta1, asked.beta1}},
                                                                         {"--beta2", {&merged.beta2, asked.beta2}},
                                                                         {"--lambda", {&merged.lambda, asked.lambda}},
                                                                         {"--clip", {&merged.clip, asked.clip}}};
  for (const auto& [flag, field] : changeable)
    if (o.flags.given(flag) && *field.first != field.second) {
      std::printf("resume: %s %s replaces the checkpoint's %s from the next step\n", flag, show(field.second).c_str(),
                  show(*field.first).c_str());
      *field.first = field.second;
    }
  const std::pair<const char*, std::pair<std::string, std::string>> fixed[] = {
      {"--model", {saved.model, asked.model}},
      {"--batch", {std::to_string(saved.batch), std::to_string(asked.batch)}},
      {"--seed", {std::to_string(saved.seed), std::to_string(asked.seed)}},
      {"--nz", {std::to_string(saved.widths.nz), std::to_string(asked.widths.nz)}},
      {"--ngf", {std::to_string(saved.widths.ngf), std::to_string(asked.widths.ngf)}},
      {"--ndf", {std::to_string(saved.widths.ndf), std::to_string(asked.widths.ndf)}},
      {"--n-critic", {std::to_string(saved.n_critic), std::to_string(asked.n_critic)}},
      {"--channels", {std::to_string(saved.widths.nc), std::to_string(o.channels)}}};
  for (const auto& [flag, values] : fixed)
    if (o.flags.given(flag) && values.first != values.second)
      return Status::error(std::string(flag) + " " + values.second + " differs from the checkpoint's " + values.first +
                           "; a resumed run keeps it (start a new run with --out to change it)");
  GANTRY_TRY(merged.check());
  o.config = merged;
  return {};
}

// Holds RUN_DIR/.lock with flock for the life of the process, so two trainings
// of one run directory cannot interleave their checkpoints. The kernel drops
// the lock when the process dies, however it dies.
Status lock_run_dir(const std::string& dir) {
  const std::string path = dir + "/.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    (void)!::pread(fd, pid, sizeof pid - 1, 0);
    ::close(fd);
    return Status::error("another gantry train is using " + dir + (pid[0] ? " (pid " + std::string(pid) + ")" : "") +
                         "; wait for it or stop it first");
  }
  const std::string me = std::to_string(::getpid());
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) != ssize_t(me.size())) {
    // The pid is only for the message above; the lock itself is held.
  }
  return {};  // fd stays open: closing it would release the lock
}

// Files a run writes; --overwrite removes these and nothing else.
bool is_run_output(const std::filesystem::path& p) {
  const std::string name = p.filename().string(), parent = p.parent_path().filename().string();
  if (name == "checkpoint.safetensors" || name == "metrics.csv" || name == "loss.png") return true;
  return parent == "samples" && p.extension() == ".png" && (name == "latest.png" || name.rfind("step_", 0) == 0);
}

std::string hms(double seconds) {
  const long s = long(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  return buf;
}

// Unreadable images, named on stderr: the first kNamed of a run, then only counted.
constexpr int kNamed = 20;  // "the first 20" below
int g_named = 0;
void print_skipped(const std::vector<std::string>& lines) {
  for (const std::string& line : lines)
    if (g_named++ < kNamed) std::fprintf(stderr, "gantry train: %s\n", line.c_str());
}

// The fixed latent grid: 8×8 samples, or for conditional models one row of 10
// per class (the first kGridClasses classes).
constexpr int kGridClasses = 16;
struct SampleGrid {
  std::vector<float> z, labels;
  int columns = 8;
};
SampleGrid make_grid(const Trainer& t) {
  SampleGrid s;
  const int nz = t.config().widths.nz, classes = std::min(t.config().widths.classes, kGridClasses);
  const int n = t.conditional() ? 10 * classes : 64;
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
    std::ostringstream out;
    out << "step";
    for (const auto& n : names) out << ',' << n;
    out << ",steps_per_s\n";
    for (const auto& r : rows) {
      out << int64_t(r[0]);
      for (size_t i = 1; i < r.size(); ++i) out << ',' << r[i];
      out << '\n';
    }
    const std::string text = out.str();
    return write_file_atomic(path, std::as_bytes(std::span(text)));
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
  Options o;
  if (Status s = parse(args, o); !s.ok()) return usage(s.message().c_str());
  if (o.flags.help()) return usage(nullptr);
  namespace fs = std::filesystem;
  auto fail = [](int code, const std::string& why) {
    return std::fprintf(stderr, "gantry train: %s\n", why.c_str()), code;
  };
  const std::string ckpt = o.out + "/checkpoint.safetensors";

  std::string saved_rows;                  // the resumed run's data set size, when its checkpoint records it
  std::vector<std::string> saved_classes;  // a resumed conditional run's class names
  if (!o.resume.empty()) {
    // The config lives in the checkpoint's metadata.
    auto f = read_safetensors(ckpt);
    if (!f.ok()) return fail(2, f.message() + " (--resume needs a run directory with a checkpoint)");
    const std::string* text = f->meta("config");
    if (!text) return fail(2, ckpt + " has no config metadata");
    auto c = TrainConfig::parse(*text);
    if (!c.ok()) return fail(2, ckpt + ": " + c.message());
    if (Status s = merge_resumed(*c, o); !s.ok()) return fail(2, s.message());
    if (const std::string* rows = f->meta("data_rows")) saved_rows = *rows;
    if (const std::string* names = f->meta("class_names")) saved_classes = split_class_names(*names);
  }
  auto spec = nets::model_spec(o.config.model);
  if (!spec.ok()) return fail(2, spec.message());
  const int size = (*spec)->image_size;
  DataOptions dopt;
  dopt.size = size;
  dopt.channels = o.resume.empty() ? o.channels : o.config.widths.nc;
  dopt.classes = (*spec)->conditional;
  dopt.limit = o.limit;
  const char* cache_env = std::getenv("GANTRY_CACHE_DIR");
  if (!o.no_cache) dopt.cache_dir = cache_env && *cache_env ? cache_env : o.out;
  auto data = open_data(o.data, dopt);
  if (!data.ok()) return fail(2, data.message());
  const DataSource& source = **data;
  if (o.resume.empty()) {
    o.config.widths.nc = int(source.image()[0]);
    if ((*spec)->conditional) o.config.widths.classes = int(source.class_names().size());
  } else if ((*spec)->conditional && !saved_classes.empty() && saved_classes != source.class_names()) {
    return fail(2, "the classes of " + o.data + " (" + std::to_string(source.class_names().size()) +
                       ") are not the ones " + ckpt + " was trained on (" + std::to_string(saved_classes.size()) +
                       "): a label would change its meaning");
  }
  if (!saved_rows.empty() && saved_rows != std::to_string(source.rows()))
    std::printf("resume: %lld images in %s where the run had %s; the minibatch order changes from here\n",
                static_cast<long long>(source.rows()), o.data.c_str(), saved_rows.c_str());
  auto trainer = Trainer::create(o.config, std::move(*data));
  if (!trainer.ok()) return fail(2, trainer.message());
  Trainer& t = **trainer;

  std::error_code ec;
  if (fs::exists(o.out, ec) && !fs::is_directory(o.out, ec)) return fail(2, o.out + " exists and is not a directory");
  fs::create_directories(o.out + "/samples", ec);
  if (ec) return fail(2, "cannot create " + o.out + ": " + ec.message());
  if (Status s = lock_run_dir(o.out); !s.ok()) return fail(2, s.message());
  // With the lock held, every temporary file in the run directory is a killed writer's.
  if (const int n = remove_stale_temporaries(o.out, "") + remove_stale_temporaries(o.out + "/samples", ""))
    std::printf("removed %d temporary file%s left by an interrupted writer\n", n, n == 1 ? "" : "s");
  if (o.resume.empty()) {
    std::vector<fs::path> previous;
    for (const std::string& d : {o.out, o.out + "/samples"})
      for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
        if (is_run_output(it->path())) previous.push_back(it->path());
    if (!previous.empty() && !o.overwrite)
      return fail(2, o.out + " already holds a run (" + previous.front().string() + "); continue it with --resume " +
                         o.out + ", or start over with --overwrite");
    for (const fs::path& p : previous) fs::remove(p, ec);
  }

  Status st = o.resume.empty() ? t.init_weights() : t.load(ckpt);
  if (!st.ok()) return fail(2, st.message());
  if (t.steps_done() >= o.steps) {
    std::printf("%s is at step %lld already, not below --steps %lld: nothing to do\n", ckpt.c_str(),
                static_cast<long long>(t.steps_done()), static_cast<long long>(o.steps));
    return 0;
  }
  MetricsLog log{o.out + "/metrics.csv", {}, {}};
  for (const Metric& m : t.metrics()) log.names.push_back(m.name);
  if (!o.resume.empty()) (void)log.load_upto(t.steps_done());

  const ArenaBytes& a = t.arena();
  const std::string mixed = o.config.precision == Precision::fp32
                                ? ""
                                : std::string(" in mixed precision (") + precision_name(o.config.precision) + ")";
  std::printf("gantry train: %s on %s%s, %s at %dx%d, batch %lld, steps %lld -> %lld\n", o.config.model.c_str(),
              t.program().device().c_str(), mixed.c_str(), t.data().description().c_str(), size, size,
              static_cast<long long>(o.config.batch), static_cast<long long>(t.steps_done()),
              static_cast<long long>(o.steps));
  if (const std::string cache = t.data().cache_status(); !cache.empty()) std::printf("data %s\n", cache.c_str());
  print_skipped(t.data().warnings());
  std::printf("arena: %.1f MiB (params %.1f, state %.1f, data %.1f, inputs %.3f, transient %.1f)\n",
              double(a.total()) / 1048576, double(a.params) / 1048576, double(a.state) / 1048576,
              double(a.data) / 1048576, double(a.inputs) / 1048576, double(a.transient) / 1048576);
  std::fflush(stdout);

  // A dropped SSH connection to a board sends SIGHUP: checkpoint then too.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_signal);
  const SampleGrid grid = make_grid(t);
  const bool tty = isatty(fileno(stdout));
  const std::string title = o.config.model + " (" + backend_name(o.config.backend) + ")";
  auto save_all = [&]() -> Status {
    GANTRY_TRY(t.save(ckpt));
    GANTRY_TRY(log.write());
    return log.plot(o.out + "/loss.png", title);
  };
  auto write_samples = [&]() -> Status {
    std::vector<float> images;
    GANTRY_TRY(t.sample(grid.z, grid.labels, images));
    char name[64];
    std::snprintf(name, sizeof name, "/samples/step_%06lld.png", static_cast<long long>(t.steps_done()));
    const int n = int(grid.z.size() / size_t(t.config().widths.nz)), nc = t.config().widths.nc;
    GANTRY_TRY(write_image_grid(o.out + name, images, n, nc, size, size, grid.columns, size < 64 ? 2 : 1));
    return write_image_grid(o.out + "/samples/latest.png", images, n, nc, size, size, grid.columns, size < 64 ? 2 : 1);
  };

  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const int64_t first = t.steps_done();
  int64_t last_saved = first;  // 0 on a fresh run: no checkpoint yet
  // A failed step (NaN) or write (a full disk) ends the run; the checkpoint on
  // disk is whole, and the message says which step it holds.
  auto stop = [&](const Status& s) {
    std::fprintf(stderr, "\ngantry train: %s; stopping. The last good checkpoint is %s (step %lld).\n",
                 s.message().c_str(), last_saved > 0 ? ckpt.c_str() : "(none written yet)",
                 static_cast<long long>(last_saved));
    return 1;
  };
  while (t.steps_done() < o.steps) {
    const Status stepped = t.step();
    print_skipped(t.take_data_warnings());
    if (!stepped.ok()) return stop(stepped);
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
      if (o.config.precision != Precision::fp32) {
        std::snprintf(buf, sizeof buf, "  loss scale %g, %lld skipped", double(t.loss_scale()),
                      static_cast<long long>(t.skipped_steps()));
        line += buf;
      }
      std::printf(tty ? "\r%s\033[K" : "%s\n", line.c_str());
      std::fflush(stdout);
    }
    // Read once: after a signal the run checkpoints and exits without the
    // sample grid, which can take longer than a step (a service manager
    // waits for SIGTERM only so long). A signal during the grid is seen after
    // the next step.
    const int sig = g_signal;
    if (!sig && (step % o.sample_every == 0 || step == o.steps))
      if (Status s = write_samples(); !s.ok()) return stop(s);
    if (step % o.checkpoint_every == 0 || step == o.steps || sig) {
      if (Status s = save_all(); !s.ok()) return stop(s);
      last_saved = step;
    }
    if (sig) {
      const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
      std::printf("\ninterrupted by %s at step %lld; checkpoint written to %s (resume with --resume %s)\n", name,
                  static_cast<long long>(step), ckpt.c_str(), o.out.c_str());
      return 128 + sig;  // the shell's convention for a death by signal
    }
  }
  if (const int64_t skipped = int64_t(t.data().warnings().size()) + t.rows_skipped())
    std::printf("\nskipped %lld unreadable image%s (named on stderr%s)", static_cast<long long>(skipped),
                skipped == 1 ? "" : "s", skipped > kNamed ? ", the first 20" : "");
  if (const std::string cache = t.data().cache_status(); !cache.empty()) std::printf("\ndata %s", cache.c_str());
  std::printf("\ndone: %lld steps in %s; samples in %s/samples/latest.png, curves in %s/loss.png, checkpoint %s\n",
              static_cast<long long>(t.steps_done() - first),
              hms(std::chrono::duration<double>(clock::now() - start).count()).c_str(), o.out.c_str(), o.out.c_str(),
              ckpt.c_str());
  return 0;
}

}  // namespace gantry::cli

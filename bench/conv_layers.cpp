// gantry_conv_bench: gantry's CPU convolution kernels layer by layer against oneDNN, a speed reference and an
// independent check of gantry's results (README, "Benchmarks"). Tooling only: oneDNN is linked into nothing else.
//
// Layers: every distinct conv2d and conv_transpose2d of the G and D graphs of dcgan28, dcgan64 and cgan32
// (nets/nets.h, default widths, one channel as `gantry bench` uses) at --batch, each with the three passes of a
// training step as the engine's autodiff emits them (engine/ops_conv.cpp, conv2d_vjp and conv_transpose2d_vjp):
//   conv2d            forward conv2d(x, w, b); input_grad conv_transpose2d(dy, w), the output padding restoring
//                     x's size; weight_grad conv2d_grad_weight(x, dy)
//   conv_transpose2d  forward conv_transpose2d(x, w, b); input_grad conv2d(dy, w) (cropped to x if larger);
//                     weight_grad conv2d_grad_weight(dy, x)
// gantry runs each as a one-op graph compiled for the CPU backend, timed by Program::step(). oneDNN runs the
// matching primitive: convolution_forward / _backward_data / _backward_weights, or deconvolution_forward /
// _backward_data / _backward_weights (oneDNN Developer Guide, "Convolution" and "Deconvolution":
// https://oneapi-src.github.io/oneDNN/v2.6/dev_guide_convolution.html, dev_guide_deconvolution.html), made twice:
// on gantry's plain layouts (nchw; weights oihw, or iohw: PyTorch's [C_in, C_out, kH, kW]) and with
// format_tag::any, oneDNN's preferred blocked layouts, inputs reordered outside the timed region ("Understanding
// Memory Formats", dev_guide_understanding_memory_formats.html; "Reorder", dev_guide_reorder.html). Both are
// checked against gantry; the `any` one is timed, oneDNN at its best.
// Threads: both sides use --threads T. Debian's libdnnl 2.6 uses OpenMP (libgomp; dnnl_version()'s cpu_runtime
// says which), set with omp_set_num_threads(T) from the runtime libdnnl loaded, before oneDNN's first use.
#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <dnnl.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/backend.h"
#include "engine/ops.h"
#include "nets/nets.h"

namespace {

using namespace gantry;
using dnnl::memory;
using clk = std::chrono::steady_clock;

constexpr double kTolerance = 1e-4;  // max |gantry − oneDNN| / max |oneDNN|
const char* const kPass[] = {"forward", "input_grad", "weight_grad"};
const char* const kUsage =
    "usage: gantry_conv_bench [--batch 64] [--threads 2] [--rounds 5] [--reps 2] [--models dcgan28,dcgan64,cgan32]\n"
    "                         [--table] [--check]\n"
    "  JSON lines on stdout, the Markdown table on stderr; --table swaps them. --check: batch 4 (unless --batch),\n"
    "  the correctness comparison only. Exit status 1 if gantry and oneDNN differ by more than 1e-4 relative.\n";

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "gantry_conv_bench: %s\n", why.c_str());
  std::exit(1);
}

struct Layer {
  std::string name;  // "dcgan28 G main.3": model, network, PyTorch module of its weight
  bool transposed = false, bias = false;
  Shape x, w, y;
  ConvOptions o;
  // The MACs of the direct convolution (a transposed one: the convolution it is the transpose of), times 2.
  double gflop() const { return 2e-9 * double((transposed ? x : y).numel() * w[1] * w[2] * w[3]); }
};

std::string attrs(const ConvOptions& o) {
  char s[96];
  std::snprintf(s, sizeof s, "s%d,%d p%d,%d d%d,%d g%d op%d,%d", o.stride[0], o.stride[1], o.padding[0], o.padding[1],
                o.dilation[0], o.dilation[1], o.groups, o.output_padding[0], o.output_padding[1]);
  return s;
}

// Every distinct conv2d / conv_transpose2d of the models' G and D graphs at `batch`, first name kept.
std::vector<Layer> collect(const std::vector<std::string>& models, int64_t batch) {
  std::vector<Layer> layers;
  std::set<std::string> seen;
  for (const std::string& model : models) {
    const nets::ModelSpec* spec = *nets::model_spec(model);  // names checked with the flags
    nets::Widths wd = spec->widths;
    wd.nc = 1;
    Graph g;
    auto pair = nets::build_pair(g, model, wd);
    if (!pair.ok()) die(pair.message());
    const Value labels = g.input(Shape{batch}, "labels");
    const int64_t s = spec->image_size;
    pair->generator.forward(g, g.input(Shape{batch, wd.nz}, "z"), labels, true);
    pair->discriminator.forward(g, g.input(Shape{batch, wd.nc, s, s}, "x"), labels, true);
    if (!g.ok()) die(model + ": " + g.status().message());
    for (const Node& n : g.nodes()) {
      if (n.op != Op::conv2d && n.op != Op::conv_transpose2d) continue;
      Layer l;
      l.transposed = n.op == Op::conv_transpose2d;
      l.bias = n.inputs.size() > 2;
      l.x = g.node(n.inputs[0]).shape, l.w = g.node(n.inputs[1]).shape, l.y = n.shape;
      l.o = n.attrs.conv;
      if (l.o.groups != 1) die(model + ": groups > 1 is not supported by this benchmark");
      std::string leaf = g.node(n.inputs[1]).name;
      if (leaf.ends_with(".weight")) leaf.resize(leaf.size() - 7);
      const auto& gp = pair->generator.params;
      const bool in_g = std::any_of(gp.begin(), gp.end(), [&](auto& t) { return t.value.id == n.inputs[1]; });
      l.name = model + (in_g ? " G " : " D ") + leaf;
      if (seen.insert((l.transposed ? "T" : "C") + l.x.str() + l.w.str() + attrs(l.o) + (l.bias ? "b" : "")).second)
        layers.push_back(l);
    }
  }
  return layers;
}

// One operand of a pass: gantry's shape, oneDNN's dims and the plain layout they share, random contents.
struct Tensor {
  int arg;  // DNNL_ARG_*
  Shape shape;
  memory::dims dims;
  memory::format_tag plain;
  std::vector<float> data;
};

struct Task {
  const Layer* layer;
  int pass;
  std::vector<Tensor> in;
  Tensor out;
};

// An operand of a layer: x, y (nchw) or its weight (oihw; a transposed convolution's [C_in, C_out, kH, kW] is
// iohw over oneDNN's dims {C_out, C_in, kH, kW}).
Tensor operand(const Layer& l, int arg, const Shape& s, bool weight = false) {
  Tensor t{arg, s, {s[0], s[1], s[2], s[3]}, memory::format_tag::nchw, {}};
  if (weight) t.plain = l.transposed ? memory::format_tag::iohw : memory::format_tag::oihw;
  if (weight && l.transposed) std::swap(t.dims[0], t.dims[1]);
  return t;
}

Task make_task(const Layer& l, int pass, uint32_t seed) {
  Task t{&l, pass, {}, {}};
  if (pass == 0) {
    t.in = {operand(l, DNNL_ARG_SRC, l.x), operand(l, DNNL_ARG_WEIGHTS, l.w, true)};
    if (l.bias) t.in.push_back(Tensor{DNNL_ARG_BIAS, Shape{l.y[1]}, {l.y[1]}, memory::format_tag::x, {}});
    t.out = operand(l, DNNL_ARG_DST, l.y);
  } else if (pass == 1) {
    t.in = {operand(l, DNNL_ARG_DIFF_DST, l.y), operand(l, DNNL_ARG_WEIGHTS, l.w, true)};
    t.out = operand(l, DNNL_ARG_DIFF_SRC, l.x);
  } else {
    t.in = {operand(l, DNNL_ARG_SRC, l.x), operand(l, DNNL_ARG_DIFF_DST, l.y)};
    t.out = operand(l, DNNL_ARG_DIFF_WEIGHTS, l.w, true);
  }
  uint32_t r = seed * 2654435761u | 1;  // xorshift32 (Marsaglia 2003): uniform in [-1, 1), cheap for large weights
  for (Tensor& x : t.in)
    for (x.data.resize(size_t(x.shape.numel())); float& v : x.data) {
      r ^= r << 13, r ^= r >> 17, r ^= r << 5;
      v = float(r >> 8) * 0x1p-23f - 1;
    }
  return t;
}

int64_t conv_t_out(int64_t in, int k, int s, int p, int d) { return (in - 1) * s - 2 * p + d * (k - 1) + 1; }

struct GantryRun {
  std::unique_ptr<Program> program;
  Value out;
};

// The op the engine's autodiff emits for the pass, alone in a graph whose operands are input leaves.
GantryRun gantry_program(const Task& t, int threads) {
  const Layer& l = *t.layer;
  Graph g;
  std::unordered_map<int, Value> v;
  for (const Tensor& x : t.in) v[x.arg] = g.input(x.shape, "arg" + std::to_string(x.arg));
  const Value w = v[DNNL_ARG_WEIGHTS], dy = v[DNNL_ARG_DIFF_DST], x = v[DNNL_ARG_SRC];
  const int kh = int(l.w[2]), kw = int(l.w[3]);
  ConvOptions o = l.o;
  Value out;
  if (t.pass == 0) {
    const Value b = l.bias ? v[DNNL_ARG_BIAS] : Value{};
    out = l.transposed ? conv_transpose2d(g, x, w, b, o) : conv2d(g, x, w, b, o);
  } else if (!l.transposed && t.pass == 1) {
    Attrs a;
    a.conv = o;
    for (int i = 0; i < 2; ++i)
      a.conv.output_padding[i] =
          int(l.x[2 + i] - conv_t_out(l.y[2 + i], i ? kw : kh, o.stride[i], o.padding[i], o.dilation[i]));
    out = g.add(Op::conv_transpose2d, {dy, w}, a);
  } else if (!l.transposed) {
    out = conv2d_grad_weight(g, x, dy, kh, kw, o);
  } else {
    o.output_padding[0] = o.output_padding[1] = 0;
    if (t.pass == 1) {
      out = conv2d(g, dy, w, Value{}, o);
      if (g.ok() && g.shape(out)[2] != l.x[2]) out = slice(g, out, 2, 0, l.x[2]);
      if (g.ok() && g.shape(out)[3] != l.x[3]) out = slice(g, out, 3, 0, l.x[3]);
    } else {
      out = conv2d_grad_weight(g, dy, x, kh, kw, o);
    }
  }
  CompileOptions c;
  c.outputs = {out};
  c.threads = threads;
  auto p = compile(g, c);
  if (!p.ok()) die(l.name + " " + kPass[t.pass] + ": " + p.message());
  for (const Tensor& in : t.in)
    if (auto st = (*p)->write(v[in.arg], in.data.data(), int64_t(in.data.size())); !st.ok()) die(st.message());
  return GantryRun{std::move(*p), out};
}

// The primitive descriptor of the pass; the backward ones take the forward one as their hint.
template <class Fwd, class Data, class Weights>
dnnl::primitive_desc pd_of(int pass, dnnl::algorithm alg, const dnnl::engine& eng, const memory::desc& x,
                           const memory::desc& w, const memory::desc& b, const memory::desc& y, const memory::dims& s,
                           const memory::dims& d, const memory::dims& p) {
  const auto train = dnnl::prop_kind::forward_training;
  const auto fwd = b.is_zero() ? typename Fwd::primitive_desc({train, alg, x, w, y, s, d, p, p}, eng)
                               : typename Fwd::primitive_desc({train, alg, x, w, b, y, s, d, p, p}, eng);
  if (pass == 0) return fwd;
  if (pass == 1) return typename Data::primitive_desc({alg, x, w, y, s, d, p, p}, eng, fwd);
  return typename Weights::primitive_desc({alg, x, w, y, s, d, p, p}, eng, fwd);
}

// A blocked layout in oneDNN's own notation: dims outermost first, capitals blocked ("aBcd8b" = nChw8c).
std::string layout(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return "opaque";
  const auto& b = d.format_desc.blocking;
  std::vector<int> order(size_t(d.ndims));
  for (int i = 0; i < d.ndims; ++i) order[size_t(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int i, int j) { return b.strides[i] > b.strides[j]; });
  std::string s;
  for (int i : order) s += char((std::count(b.inner_idxs, b.inner_idxs + b.inner_nblks, i) ? 'A' : 'a') + i);
  for (int i = 0; i < b.inner_nblks; ++i) s += std::to_string(b.inner_blks[i]) + char('a' + b.inner_idxs[i]);
  return s;
}

struct OnednnRun {
  dnnl::primitive prim;
  std::unordered_map<int, memory> args;
  memory result, user_result;  // the same memory when the output needs no reorder
  std::vector<float> out;
  std::string format;
};

OnednnRun onednn_program(const Task& t, bool any, const dnnl::engine& eng, dnnl::stream& strm) {
  const Layer& l = *t.layer;
  const Tensor w = operand(l, DNNL_ARG_WEIGHTS, l.w, true);
  auto md = [&](const memory::dims& dims, memory::format_tag tag) {
    return memory::desc(dims, memory::data_type::f32, any ? memory::format_tag::any : tag);
  };
  const auto nchw = memory::format_tag::nchw;
  const memory::desc x = md({l.x[0], l.x[1], l.x[2], l.x[3]}, nchw), y = md({l.y[0], l.y[1], l.y[2], l.y[3]}, nchw),
                     wd = md(w.dims, w.plain);
  const memory::desc b =
      l.bias ? memory::desc({l.y[1]}, memory::data_type::f32, memory::format_tag::x) : memory::desc();
  const memory::dims s = {l.o.stride[0], l.o.stride[1]}, p = {l.o.padding[0], l.o.padding[1]},
                     d = {l.o.dilation[0] - 1, l.o.dilation[1] - 1};  // oneDNN counts dilation from 0
  const dnnl::primitive_desc pd =
      l.transposed
          ? pd_of<dnnl::deconvolution_forward, dnnl::deconvolution_backward_data, dnnl::deconvolution_backward_weights>(
                t.pass, dnnl::algorithm::deconvolution_direct, eng, x, wd, b, y, s, d, p)
          : pd_of<dnnl::convolution_forward, dnnl::convolution_backward_data, dnnl::convolution_backward_weights>(
                t.pass, dnnl::algorithm::convolution_direct, eng, x, wd, b, y, s, d, p);
  OnednnRun r{dnnl::primitive(pd), {}, {}, {}, std::vector<float>(size_t(t.out.shape.numel())), {}};
  auto bind = [&](const Tensor& x, float* host, bool input) {
    const memory::desc user(x.dims, memory::data_type::f32, x.plain);
    const memory::desc want = pd.query_md(dnnl::query::exec_arg_md, x.arg);
    memory um(user, eng, host), pm = want == user ? um : memory(want, eng);
    if (input && !(want == user)) dnnl::reorder(um, pm).execute(strm, um, pm);
    r.args[x.arg] = pm;
    if (x.arg != DNNL_ARG_BIAS) r.format += (r.format.empty() ? "" : " ") + layout(want);
    if (!input) r.result = pm, r.user_result = um;
  };
  for (const Tensor& x : t.in) bind(x, const_cast<float*>(x.data.data()), true);
  bind(t.out, r.out.data(), false);
  strm.wait();
  r.format += std::string(" (") + pd.impl_info_str() + ")";
  return r;
}

void run(OnednnRun& r, dnnl::stream& strm) {
  r.prim.execute(strm, r.args);
  strm.wait();
}

// Maximum absolute difference over the maximum |ref|; NaN compares as a failure.
double rel_err(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(double(a[i]) - double(ref[i]));
    if (std::isnan(e)) return e;
    num = std::max(num, e);
    den = std::max(den, std::abs(double(ref[i])));
  }
  return den > 0 ? num / den : num;
}

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// OpenMP's idle threads spin for a while after a primitive (libgomp's GOMP_SPINCOUNT), which would take a core
// from gantry's turn: wait (up to 0.5 s) until the process uses under 10% of a core over 5 ms.
void wait_until_idle() {
  for (int i = 0; i < 100; ++i) {
    const double c0 = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (cpu_seconds() - c0 < 0.5e-3) return;
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Sets oneDNN's thread count for its CPU runtime and says how.
std::string set_onednn_threads(int threads) {
  const dnnl_version_t* v = dnnl::version();
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                  std::to_string(v->patch) + ", CPU runtime ";
  if (v->cpu_runtime == DNNL_RUNTIME_SEQ) return s + "sequential: 1 thread, whatever --threads says";
  if (v->cpu_runtime != DNNL_RUNTIME_OMP) return s + "TBB or threadpool: its thread count is NOT set here";
  auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (!set) die("oneDNN uses OpenMP but omp_set_num_threads was not found in the process");
  set(threads);
  // Idle OpenMP threads spin by default; on a shared machine a spinning thread waits for the scheduler's next tick
  // at every barrier, and OMP_WAIT_POLICY=passive (read by the runtime at start) times oneDNN better there.
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  return s + "OpenMP: omp_set_num_threads(" + std::to_string(threads) + "), OMP_WAIT_POLICY " + (wait ? wait : "unset");
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 64;
  int threads = 2, rounds = 5, reps = 2;
  bool table_out = false, check = false;
  std::vector<std::string> models{"dcgan28", "dcgan64", "cgan32"};
  std::set<std::string> given;
  auto bad = [&](const std::string& why) {
    return std::fprintf(stderr, "gantry_conv_bench: %s\n%s", why.c_str(), kUsage), 2;
  };
  const std::map<std::string, std::pair<long, long>> ranges{
      {"--batch", {1, 4096}}, {"--threads", {1, 256}}, {"--rounds", {1, 1000}}, {"--reps", {1, 1000}}};
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    if (f == "--help" || f == "-h") return std::printf("%s", kUsage), 0;
    if (!given.insert(f).second) return bad(f + " is given twice");
    if (f == "--table" || f == "--check") {
      (f == "--table" ? table_out : check) = true;
      continue;
    }
    if (f != "--models" && !ranges.count(f)) return bad("unknown flag '" + f + "'");
    if (i + 1 == argc) return bad(f + " needs a value");
    const std::string val = argv[++i];
    for (size_t a = 0, b = 0; f == "--models" && a <= val.size(); a = b + 1) {
      b = std::min(val.find(',', a), val.size());
      if (a == 0) models.clear();
      models.push_back(val.substr(a, b - a));
      if (models.back() != "dcgan28" && models.back() != "dcgan64" && models.back() != "cgan32")
        return bad("--models takes dcgan28, dcgan64, cgan32 (comma-separated), got '" + models.back() + "'");
    }
    if (f == "--models") continue;
    char* end = nullptr;
    const long n = std::strtol(val.c_str(), &end, 10);
    const auto [lo, hi] = ranges.at(f);
    if (val.empty() || *end || n < lo || n > hi)
      return bad(f + " must be a whole number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" +
                 val + "'");
    if (f == "--batch") batch = n;
    if (f != "--batch") (f == "--threads" ? threads : f == "--rounds" ? rounds : reps) = int(n);
  }
  if (check && table_out) return bad("--table: --check times nothing, so there is no table");
  if (check && !given.count("--batch")) batch = 4;
  FILE* json = table_out ? stderr : stdout;
  try {
    const std::string runtime = set_onednn_threads(threads);
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    std::string table;
    int failures = 0, count = 0;
    double worst = 0, sum[3] = {0, 0, 0}, cpu[2] = {0, 0}, wall[2] = {0, 0};  // sum: GFLOP, gantry ms, oneDNN ms
    for (const Layer& l : collect(models, batch))
      for (int pass = 0; pass < 3; ++pass) {
        const Task t = make_task(l, pass, uint32_t(++count));
        OnednnRun plain = onednn_program(t, false, eng, strm), best = onednn_program(t, true, eng, strm);
        for (OnednnRun* r : {&plain, &best}) {
          run(*r, strm);
          if (!(r->result == r->user_result))
            dnnl::reorder(r->result, r->user_result).execute(strm, r->result, r->user_result);
          strm.wait();
        }
        if (count == 1)  // measured: the OS threads once oneDNN has run (gantry has started none yet)
          std::fprintf(stderr, "%s; %ld OS threads in the process after its first primitives\n", runtime.c_str(),
                       long(std::distance(std::filesystem::directory_iterator("/proc/self/task"), {})));
        GantryRun g = gantry_program(t, threads);
        auto gantry_step = [&] {
          if (Status st = g.program->step(StepUniforms{}); !st.ok()) die(st.message());
        };
        std::vector<float> got(size_t(t.out.shape.numel()));
        gantry_step();
        if (Status st = g.program->read(g.out, got.data(), int64_t(got.size())); !st.ok()) die(st.message());
        const double e_plain = rel_err(got, plain.out), e_best = rel_err(got, best.out);
        const double err = std::isnan(e_plain) || std::isnan(e_best) ? e_plain + e_best : std::max(e_plain, e_best);
        if (!(err <= kTolerance) && ++failures)  // reported whatever the JSON stream
          std::fprintf(stderr, "MISMATCH %s %s: max_rel_err %.3g (plain layouts %.3g, oneDNN's own %.3g)\n",
                       l.name.c_str(), kPass[pass], err, e_plain, e_best);
        worst = std::isnan(err) ? worst : std::max(worst, err);
        std::fprintf(json,
                     "{\"layer\":\"%s\",\"pass\":\"%s\",\"op\":\"%s\",\"conv\":\"%s\",\"x\":%s,\"w\":%s,\"gflop\":%.4f",
                     l.name.c_str(), kPass[pass], l.transposed ? "conv_transpose2d" : "conv2d", attrs(l.o).c_str(),
                     l.x.str().c_str(), l.w.str().c_str(), l.gflop());
        if (!check) {
          std::vector<double> ms[2];
          for (int r = 0; r < rounds; ++r)
            for (int side = 0; side < 2; ++side) {
              if (side == 0) wait_until_idle();
              const double c0 = cpu_seconds();
              const auto w0 = clk::now();
              for (int k = -1; k < reps; ++k) {  // k = -1: a warm-up call (caches; wakes OpenMP's sleeping threads)
                const auto t0 = clk::now();
                side == 0 ? gantry_step() : run(best, strm);
                if (k >= 0) ms[side].push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
              }
              cpu[side] += cpu_seconds() - c0;
              wall[side] += std::chrono::duration<double>(clk::now() - w0).count();
            }
          const double gf = l.gflop(), g_ms = median(ms[0]), o_ms = median(ms[1]);
          sum[0] += gf, sum[1] += g_ms, sum[2] += o_ms;
          std::fprintf(json,
                       ",\"gantry_ms\":%.3f,\"onednn_ms\":%.3f,\"gantry_gflops\":%.2f,\"onednn_gflops\":%.2f,"
                       "\"ratio\":%.3f",
                       g_ms, o_ms, 1e3 * gf / g_ms, 1e3 * gf / o_ms, o_ms / g_ms);
          char row[256];
          std::snprintf(row, sizeof row, "| %s | %s | %.1f | %.1f | %.2f |\n", l.name.c_str(), kPass[pass],
                        1e3 * gf / g_ms, 1e3 * gf / o_ms, o_ms / g_ms);
          table += row;
        }
        char e[32] = "null";  // NaN or infinity: not a JSON number
        if (std::isfinite(err)) std::snprintf(e, sizeof e, "%.3g", err);
        std::fprintf(json, ",\"max_rel_err\":%s,\"onednn_format\":\"any: %s\"}\n", e, best.format.c_str());
        std::fflush(json);
      }
    std::fprintf(stderr, "correctness: %d (layer, pass) pairs at batch %lld, worst max_rel_err %.3g, %d over %g\n",
                 count, static_cast<long long>(batch), worst, failures, kTolerance);
    if (check) return failures ? 1 : 0;
    std::fprintf(stderr, "CPU seconds per wall second while timing: gantry %.2f, oneDNN %.2f (--threads %d)\n",
                 cpu[0] / wall[0], cpu[1] / wall[1], threads);
    std::fprintf(table_out ? stdout : stderr,
                 "\ngantry vs %s; batch %lld, %d threads, median of %d rounds x %d reps; oneDNN timed on its "
                 "preferred layouts (format_tag::any)\n\n| layer | pass | gantry GFLOP/s | oneDNN GFLOP/s | ratio |\n"
                 "| --- | --- | ---: | ---: | ---: |\n%s| all layers | total time | %.1f | %.1f | %.2f |\n",
                 runtime.c_str(), static_cast<long long>(batch), threads, rounds, reps, table.c_str(),
                 1e3 * sum[0] / sum[1], 1e3 * sum[0] / sum[2], sum[2] / sum[1]);
    return failures ? 1 : 0;
  } catch (const dnnl::error& e) {
    die(std::string("oneDNN: ") + e.what());
  }
}

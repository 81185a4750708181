// Golden case loading, running and comparison; see golden.h. The shipped cases
// (tests/golden/conv_transpose2d) come from an independent float64 reference.
#include "io/golden.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/autodiff.h"
#include "io/format_bytes.h"
#include "io/safetensors.h"

namespace gantry {
namespace {

// "h,w" → two non-negative integers.
bool parse_pair(const std::string& s, int out[2]) {
  const size_t comma = s.find(',');
  if (comma == std::string::npos) return false;
  try {
    size_t used = 0;
    const std::string a = s.substr(0, comma), b = s.substr(comma + 1);
    out[0] = std::stoi(a, &used);
    if (used != a.size()) return false;
    out[1] = std::stoi(b, &used);
    if (used != b.size()) return false;
  } catch (...) {
    return false;
  }
  return out[0] >= 0 && out[1] >= 0;
}

double max_abs_of(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::abs(x)));
  return m;
}

// The tolerances of golden.h's GoldenCheck.
GoldenCheck compare(const std::string& name, const std::vector<float>& got, const std::vector<float>& expect,
                    int64_t accumulation, double scale, Precision precision) {
  GoldenCheck c;
  c.tensor = name;
  c.accumulation = accumulation;
  c.atol = 2.0 * double(accumulation) * std::ldexp(1.0, -24) * std::max(scale, 1e-30);
  c.rtol = 1e-5;
  if (const double u = storage_unit_roundoff(precision); u > 0) {
    constexpr double kLambda = 7;
    c.atol += kLambda * std::sqrt(double(accumulation)) * 2 * u * std::max(scale, 1e-30);
    c.rtol += u;
  }
  c.pass = got.size() == expect.size();
  const double big = max_abs_of(expect);
  for (size_t i = 0; c.pass && i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - double(expect[i]));
    c.max_abs = std::max(c.max_abs, err);
    if (std::abs(expect[i]) >= 1e-3 * big && expect[i] != 0)
      c.max_rel = std::max(c.max_rel, err / std::abs(double(expect[i])));
    if (!(err <= c.atol + c.rtol * std::abs(double(expect[i])))) c.pass = false;  // also catches NaN
  }
  return c;
}

}  // namespace

bool GoldenResult::pass() const {
  if (!error.empty() || checks.empty()) return false;
  return std::all_of(checks.begin(), checks.end(), [](const GoldenCheck& c) { return c.pass; });
}

Result<GoldenCase> load_golden_case(const std::string& path) {
  return format_bytes::parse_file(path, parse_golden_case);
}

Result<GoldenCase> parse_golden_case(std::span<const std::byte> bytes, const std::string& path) {
  auto file = parse_safetensors(bytes, path);
  if (!file.ok()) return file.status();
  auto fail = [&](const std::string& what) { return Status::error(path + ": " + what); };
  GoldenCase c;
  c.file = path;

  const auto op = file->meta("op");
  if (!op) return fail("__metadata__ has no \"op\" (expected \"conv_transpose2d\")");
  if (*op != "conv_transpose2d") return fail("op \"" + *op + "\" is not supported (only conv_transpose2d)");
  struct PairField {
    const char* key;
    int* dst;
    int fallback;
  } pairs[] = {{"stride", c.options.stride, 1},
               {"padding", c.options.padding, 0},
               {"output_padding", c.options.output_padding, 0},
               {"dilation", c.options.dilation, 1}};
  for (const PairField& f : pairs) {
    const auto v = file->meta(f.key);
    if (!v) return fail(std::string("__metadata__ has no \"") + f.key + "\" (\"h,w\")");
    if (!parse_pair(*v, f.dst)) return fail(std::string(f.key) + " \"" + *v + "\" is not \"h,w\" with integers ≥ 0");
  }
  const auto groups = file->meta("groups");
  if (!groups) return fail("__metadata__ has no \"groups\"");
  int dummy[2];
  if (!parse_pair(*groups + ",0", dummy) || dummy[0] < 1)
    return fail("groups \"" + *groups + "\" is not a positive integer");
  c.options.groups = dummy[0];

  struct Slot {
    const char* name;
    GoldenCase::Tensor* dst;
    int rank;
    bool required;
  } slots[] = {{"input", &c.input, 4, true},
               {"weight", &c.weight, 4, true},
               {"bias", &c.bias, 1, false},
               {"output", &c.output, 4, true},
               {"grad_output", &c.grad_output, 4, false},
               {"grad_input", &c.grad_input, 4, false},
               {"grad_weight", &c.grad_weight, 4, false},
               {"grad_bias", &c.grad_bias, 1, false}};
  for (const Slot& s : slots) {
    const SafeTensor* t = file->find(s.name);
    if (!t) {
      if (s.required) return fail(std::string("missing tensor \"") + s.name + "\"");
      continue;
    }
    if (t->shape.rank != s.rank)
      return fail(std::string("tensor \"") + s.name + "\" has shape " + t->shape.str() + ", expected rank " +
                  std::to_string(s.rank));
    // safetensors allows empty tensors, but an empty case compares nothing
    // (and its tolerances would scale with a zero accumulation length).
    if (t->data.empty())
      return fail(std::string("tensor \"") + s.name + "\" has shape " + t->shape.str() + " and holds no values");
    s.dst->shape = t->shape;
    s.dst->data = t->data;
    s.dst->present = true;
  }
  for (const SafeTensor& t : file->tensors) {
    bool known = false;
    for (const Slot& s : slots) known |= t.name == s.name;
    if (!known) return fail("unexpected tensor \"" + t.name + "\"");
  }
  const bool any_grad = c.grad_input.present || c.grad_weight.present || c.grad_bias.present;
  if (any_grad && !c.grad_output.present) return fail("gradients given without \"grad_output\"");
  if (c.grad_output.present && !any_grad) return fail("\"grad_output\" given without any gradient to check");
  if (c.grad_output.present && c.grad_output.shape != c.output.shape)
    return fail("grad_output " + c.grad_output.shape.str() + " differs from output " + c.output.shape.str());
  if (c.grad_input.present && c.grad_input.shape != c.input.shape) return fail("grad_input shape differs from input");
  if (c.grad_weight.present && c.grad_weight.shape != c.weight.shape)
    return fail("grad_weight shape differs from weight");
  if (c.grad_bias.present && (!c.bias.present || c.grad_bias.shape != c.bias.shape))
    return fail("grad_bias without a matching bias");

  // The shapes must make a valid conv_transpose2d producing `output`.
  Graph g;
  const Value y = conv_transpose2d(g, g.input(c.input.shape, "input"), g.input(c.weight.shape, "weight"),
                                   c.bias.present ? g.input(c.bias.shape, "bias") : Value{}, c.options);
  if (!g.ok()) return fail(g.status().message());
  if (g.shape(y) != c.output.shape)
    return fail("output has shape " + c.output.shape.str() + " but conv_transpose2d of these inputs gives " +
                g.shape(y).str());
  return c;
}

GoldenResult run_golden_case(const GoldenCase& c, BackendKind backend, Precision precision) {
  GoldenResult r;
  r.file = c.file;
  r.backend = backend;
  Graph g;
  const Value x = g.input(c.input.shape, "input"), w = g.input(c.weight.shape, "weight");
  const Value b = c.bias.present ? g.input(c.bias.shape, "bias") : Value{};
  const Value y = conv_transpose2d(g, x, w, b, c.options);
  std::vector<Value> outputs{y}, grads;
  Value gy;
  if (c.grad_output.present) {
    gy = g.input(c.grad_output.shape, "grad_output");
    const Value loss = reduce_sum(g, mul(g, y, gy), axes({0, 1, 2, 3}));
    std::vector<Value> wrt{x, w};
    if (b.valid()) wrt.push_back(b);
    grads = grad(g, loss, wrt);
    outputs.insert(outputs.end(), grads.begin(), grads.end());
  }
  auto program = compile(g, CompileOptions{backend, outputs, 0, false, precision});
  if (!program.ok()) {
    r.error = program.message();
    return r;
  }
  Program& p = **program;
  for (auto [v, t] : {std::pair{x, &c.input}, {w, &c.weight}, {b, &c.bias}, {gy, &c.grad_output}})
    if (v.valid())
      if (Status s = p.write(v, t->data.data(), int64_t(t->data.size())); !s.ok()) {
        r.error = s.message();
        return r;
      }
  if (Status s = p.step(StepUniforms{}); !s.ok()) {
    r.error = s.message();
    return r;
  }
  auto fetch = [&](Value v) {
    std::vector<float> out(size_t(g.shape(v).numel()));
    if (Status s = p.read(v, out.data(), int64_t(out.size())); !s.ok()) r.error = s.message();
    return out;
  };

  const Shape &xs = c.input.shape, &ws = c.weight.shape, &ys = c.output.shape;
  const int64_t kk = ws[2] * ws[3];
  const double mx = max_abs_of(c.input.data), mw = max_abs_of(c.weight.data);
  r.checks.push_back(compare("output", fetch(y), c.output.data,
                             xs[1] / c.options.groups * kk + (c.bias.present ? 1 : 0),
                             std::max(mx * mw, max_abs_of(c.bias.data)), precision));
  if (c.grad_output.present) {
    const double mg = max_abs_of(c.grad_output.data);
    if (c.grad_input.present)
      r.checks.push_back(compare("grad_input", fetch(grads[0]), c.grad_input.data, ws[1] * kk, mg * mw, precision));
    if (c.grad_weight.present)
      r.checks.push_back(
          compare("grad_weight", fetch(grads[1]), c.grad_weight.data, xs[0] * xs[2] * xs[3], mg * mx, precision));
    if (c.grad_bias.present)
      r.checks.push_back(compare("grad_bias", fetch(grads[2]), c.grad_bias.data, ys[0] * ys[2] * ys[3], mg, precision));
  }
  return r;
}

Result<std::vector<std::string>> collect_golden_files(const std::vector<std::string>& paths) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (const std::string& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(p, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file() && it->path().extension() == ".safetensors") found.push_back(it->path().string());
      if (ec) return Status::error(p + ": " + ec.message());
      if (found.empty()) return Status::error(p + ": no .safetensors files in this directory");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      files.push_back(p);
    } else {
      return Status::error(p + ": no such file or directory");
    }
  }
  return files;
}

}  // namespace gantry

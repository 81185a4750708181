// `gantry golden [--backend cpu|vulkan|cuda|all] [--precision fp32|fp16|bf16] [--json] PATH...`:
// runs golden-output cases (files or directories of .safetensors) on each
// backend, with fp32, fp16 or bf16 storage (tolerances in io/golden.h), and prints
// one row per compared tensor, or JSON lines with --json.
// Exit status: 0 all checks pass; 1 a check fails (or a case cannot run on a
// backend, or a GPU backend finds a device this build cannot run on: a CUDA
// binary without kernels for its compute capability); 2 bad input: unknown flag, no paths, a missing path, or a case
// file that cannot be read or is malformed; 77 a requested backend has no
// device. A bad file does not stop the others: every file is still run and
// reported, so one corrupt case does not hide the results of the rest, and
// the exit status is 2 whatever they gave.
#include <cstdio>

#include "cli/cli.h"
#include "io/golden.h"

namespace gantry::cli {
namespace {

constexpr const char* kUsage =
    "usage: gantry golden [--backend cpu|vulkan|cuda|all] [--precision fp32|fp16|bf16] [--json] PATH...\n";

// Bad usage: what is wrong, then the usage line; exit status 2.
int usage(const std::string& problem) {
  std::fprintf(stderr, "gantry golden: %s\n%s", problem.c_str(), kUsage);
  return 2;
}

std::string case_name(const std::string& file) {
  const size_t slash = file.find_last_of('/');
  std::string s = slash == std::string::npos ? file : file.substr(slash + 1);
  const size_t dot = s.rfind(".safetensors");
  return dot == std::string::npos ? s : s.substr(0, dot);
}

// Minimal JSON string escaping for file names and messages.
std::string quoted(const std::string& s) {
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') q += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", ch);
      q += buf;
    } else {
      q += ch;
    }
  }
  return q + "\"";
}

void print_json(const GoldenResult& r) {
  std::printf("{\"case\":%s,\"file\":%s,\"backend\":\"%s\",\"pass\":%s", quoted(case_name(r.file)).c_str(),
              quoted(r.file).c_str(), backend_name(r.backend), r.pass() ? "true" : "false");
  if (!r.error.empty()) std::printf(",\"error\":%s", quoted(r.error).c_str());
  std::printf(",\"checks\":[");
  for (size_t i = 0; i < r.checks.size(); ++i) {
    const GoldenCheck& c = r.checks[i];
    std::printf(
        "%s{\"tensor\":\"%s\",\"accumulation\":%lld,\"max_abs_err\":%.3e,\"max_rel_err\":%.3e,\"atol\":%.3e,"
        "\"rtol\":%.1e,\"pass\":%s}",
        i ? "," : "", c.tensor.c_str(), static_cast<long long>(c.accumulation), c.max_abs, c.max_rel, c.atol, c.rtol,
        c.pass ? "true" : "false");
  }
  std::printf("]}\n");
}

}  // namespace

int golden(const Args& args) {
  std::string backend_arg = "cpu", precision_arg = "fp32";
  bool json = false;
  std::vector<std::string> paths;
  for (const std::string& a : args)
    if (a == "--help" || a == "-h") return std::printf("%s", kUsage), 0;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--json")
      json = true;
    else if (args[i] == "--backend" && i + 1 < args.size())
      backend_arg = args[++i];
    else if (args[i] == "--backend")
      return usage("--backend needs a value");
    else if (args[i] == "--precision" && i + 1 < args.size())
      precision_arg = args[++i];
    else if (args[i] == "--precision")
      return usage("--precision needs a value");
    else if (args[i].rfind("-", 0) == 0 && args[i].size() > 1)
      return usage("unknown flag " + args[i]);
    else
      paths.push_back(args[i]);
  }
  if (paths.empty()) return usage("no case files or directories given");
  auto precision = parse_precision(precision_arg);
  if (!precision.ok()) return usage("--precision: " + precision.message());

  std::vector<BackendKind> backends;
  if (backend_arg == "all") {
    backends = available_backends();
    std::erase_if(backends, [&](BackendKind k) {
      const Status s = precision_built(k, *precision);
      if (!s.ok()) std::fprintf(stderr, "gantry golden: %s left out: %s\n", backend_name(k), s.message().c_str());
      return !s.ok();
    });
    // A device this build cannot run on is a failure even when not asked for
    // by name: leaving it out would pass a binary that is broken there.
    for (BackendKind k : {BackendKind::vulkan, BackendKind::cuda})
      if (backend_rejects_device(k)) {
        std::fprintf(stderr, "gantry golden: backend %s cannot run on this machine's device: %s\n", backend_name(k),
                     backend_status(k).message().c_str());
        return 1;
      }
  } else {
    auto b = parse_backend(backend_arg);
    if (!b.ok()) return std::fprintf(stderr, "gantry golden: %s\n", b.message().c_str()), 2;
    if (Status s = precision_built(*b, *precision); !s.ok()) return usage(s.message());
    if (Status s = backend_status(*b); !s.ok()) {
      const bool rejected = backend_rejects_device(*b);
      std::fprintf(stderr, "gantry golden: backend %s %s: %s (available: %s)\n", backend_arg.c_str(),
                   rejected ? "cannot run on this machine's device" : "is not available on this machine",
                   s.message().c_str(), available_backend_list().c_str());
      return rejected ? 1 : kExitNoDevice;
    }
    backends = {*b};
  }
  auto files = collect_golden_files(paths);
  if (!files.ok()) return std::fprintf(stderr, "gantry golden: %s\n", files.message().c_str()), 2;

  if (!json)
    std::printf("%-40s %-7s %-12s %7s %10s %10s %10s  %s\n", "case", "backend", "tensor", "K", "max_abs", "max_rel",
                "atol", "result");
  int cases_failed = 0, checks = 0, checks_failed = 0;
  std::vector<std::string> bad_files;
  for (const std::string& file : *files) {
    auto c = load_golden_case(file);
    if (!c.ok()) {
      bad_files.push_back(file);
      std::fprintf(stderr, "gantry golden: bad case file: %s\n", c.message().c_str());
    }
    for (BackendKind backend : backends) {
      GoldenResult r;
      if (c.ok()) r = run_golden_case(*c, backend, *precision);
      r.file = file;
      r.backend = backend;
      if (!c.ok()) r.error = c.message();
      cases_failed += !r.pass();
      if (json) {
        print_json(r);
        continue;
      }
      if (!r.error.empty())
        std::printf("%-40s %-7s %s\n", case_name(file).c_str(), backend_name(backend), ("ERROR " + r.error).c_str());
      for (const GoldenCheck& k : r.checks) {
        ++checks;
        checks_failed += !k.pass;
        std::printf("%-40s %-7s %-12s %7lld %10.3e %10.3e %10.3e  %s\n", case_name(file).c_str(), backend_name(backend),
                    k.tensor.c_str(), static_cast<long long>(k.accumulation), k.max_abs, k.max_rel, k.atol,
                    k.pass ? "pass" : "FAIL");
      }
    }
  }
  const size_t runs = files->size() * backends.size();
  if (!json)
    std::printf(
        "golden: %zu case runs (%zu files x %zu backends), %d checks: %d passed, %d failed; %d case runs failed\n",
        runs, files->size(), backends.size(), checks, checks - checks_failed, checks_failed, cases_failed);
  if (!bad_files.empty()) {
    std::fprintf(stderr, "gantry golden: %zu of %zu case files could not be read (exit status 2):", bad_files.size(),
                 files->size());
    for (const std::string& f : bad_files) std::fprintf(stderr, " %s", f.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  return cases_failed ? 1 : 0;
}

}  // namespace gantry::cli

// The gantry command line. Each subcommand prints what it did and exits
// non-zero with a message naming the file, op or shape when something is wrong.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <thread>

#include "cli/cli.h"
#include "engine/backend.h"
#include "engine/gemm.h"

namespace {

int usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: gantry <command> [options]\n"
      "commands:\n"
      "  golden      run golden-output kernel cases: gantry golden [--backend B|all] [--json] PATH...\n"
      "  train       train a GAN on MNIST: gantry train --model dcgan28 --out runs/x (see gantry train --help)\n"
      "  sample      images from a checkpoint or PyTorch weights: gantry sample --checkpoint "
      "RUN/checkpoint.safetensors\n"
      "  export      a checkpoint's generator with PyTorch names: gantry export --checkpoint C --out G.safetensors\n"
      "  classifier  train the MNIST classifier behind gantry eval: gantry classifier train --data DIR\n"
      "  eval        sample-quality metrics: gantry eval --classifier C.safetensors --samples S.npy [--json]\n"
      "  bench       training-step and sampling speed as JSON lines: gantry bench --model dcgan28 --batch 64\n"
      "  info        backends available on this machine, threads, version\n"
      "  help        this text\n");
  return out == stdout ? 0 : 2;
}

int cmd_info(const gantry::cli::Args& args) {
  if (!args.empty()) {
    const bool help = args[0] == "--help" || args[0] == "-h";
    std::fprintf(help ? stdout : stderr, "%susage: gantry info (takes no flags)\n",
                 help ? "" : ("gantry info: unexpected argument '" + args[0] + "'\n").c_str());
    return help ? 0 : 2;
  }
  std::printf("gantry %s\n", GANTRY_VERSION);
  std::printf("build: %s\n", GANTRY_BUILD);
  std::printf("backends:");
  for (auto k : gantry::available_backends()) std::printf(" %s", gantry::backend_name(k));
  std::printf("\n");
  for (auto k : {gantry::BackendKind::vulkan, gantry::BackendKind::cuda}) {
    const gantry::Status s = gantry::backend_status(k);
    const std::string text = s.ok() ? gantry::backend_description(k) : s.message();
    if (!text.empty()) std::printf("  %s: %s\n", gantry::backend_name(k), text.c_str());
  }
  std::printf("cpu: GEMM micro-kernel %s, hardware threads: %u\n", gantry::gemm_kernel(),
              std::thread::hardware_concurrency());
  std::printf(
      "precision: fp32 on every backend; fp16 (--precision fp16: storage for sampling, mixed precision for "
      "training) on cuda, on vulkan where the device has 16-bit storage buffers (see its line above) and on cpu, "
      "emulated as the reference for drift; bf16 (bfloat16, the same way) on cuda and cpu\n");
  return 0;
}

int run(const std::string& cmd, const gantry::cli::Args& args) {
  if (cmd == "golden") return gantry::cli::golden(args);
  if (cmd == "train") return gantry::cli::train(args);
  if (cmd == "bench") return gantry::cli::bench(args);
  if (cmd == "classifier") return gantry::cli::classifier(args);
  if (cmd == "eval") return gantry::cli::eval(args);
  if (cmd == "sample") return gantry::cli::sample(args);
  if (cmd == "export") return gantry::cli::export_weights(args);
  if (cmd == "info") return cmd_info(args);
  if (cmd == "help" || cmd == "--help" || cmd == "-h") return usage(stdout);
  std::fprintf(stderr, "gantry: unknown command '%s'\n", cmd.c_str());
  return usage(stderr);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  // Errors are values throughout gantry; what can still throw is the standard
  // library running out of memory or threads. Say so and exit 2 rather than
  // abort in std::terminate.
  try {
    return run(argv[1], gantry::cli::Args(argv + 2, argv + argc));
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "gantry %s: out of memory (lower --batch or --n, or set --max-memory)\n", argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gantry %s: %s\n", argv[1], e.what());
  }
  return 2;
}

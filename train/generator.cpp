// See generator.h.
#include "train/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "io/safetensors.h"
#include "train/trainer.h"

namespace gantry {
namespace {

// Layers of a PyTorch nn.Sequential DCGAN generator from its state_dict: a
// ConvTranspose2d at main.0, main.3, main.6, ... (weight [C_in, C_out, k, k],
// optional bias), BatchNorm2d at main.1, main.4, ... between them (ReLU at
// main.2, ... and Tanh at the end carry no tensors). Strides and paddings are
// not stored in a state_dict: the first layer maps z (1×1) with stride 1 and
// no padding, every later one is the DCGAN up-sampling k4 s2 p1.
Result<std::vector<nets::GeneratorLayer>> infer_layers(const SafeTensorsFile& f, const std::string& path) {
  auto fail = [&](const std::string& why) { return Status::error(path + ": " + why); };
  std::map<int, std::map<std::string, const SafeTensor*>> modules;  // main.<i>.<field>
  for (const SafeTensor& t : f.tensors) {
    const std::string& n = t.name;
    const size_t dot = n.find('.', 5);
    int index = -1;
    if (n.rfind("main.", 0) == 0 && dot != std::string::npos) {
      try {
        size_t used = 0;
        index = std::stoi(n.substr(5, dot - 5), &used);
        if (used != dot - 5) index = -1;
      } catch (...) {
      }
    }
    if (index < 0)
      return fail("unexpected tensor '" + n +
                  "': a DCGAN generator's tensors are main.<index>.<field> (nn.Sequential)");
    modules[index][n.substr(dot + 1)] = &t;
  }
  std::vector<nets::GeneratorLayer> layers;
  for (int i = 0;; i += 3) {
    auto conv = modules.find(i);
    if (conv == modules.end()) break;
    const auto w = conv->second.find("weight");
    if (w == conv->second.end() || w->second->shape.rank != 4)
      return fail("main." + std::to_string(i) + " should be a ConvTranspose2d with a 4-d weight");
    const Shape s = w->second->shape;
    const std::string wname = "main." + std::to_string(i) + ".weight";
    if (s[2] != s[3]) return fail("'" + wname + "' " + s.str() + ": only square kernels are DCGAN layers");
    if (!layers.empty() && s[0] != layers.back().out)
      return fail("'" + wname + "' " + s.str() + " takes " + std::to_string(s[0]) +
                  " channels but the layer before gives " + std::to_string(layers.back().out));
    const bool first = layers.empty();
    if (!first && s[2] != 4)
      return fail("'" + wname + "' has a " + std::to_string(s[2]) + "×" + std::to_string(s[3]) +
                  " kernel: after the first layer gantry reads DCGAN up-sampling layers (4×4, stride 2, padding 1)");
    const auto b = conv->second.find("bias");
    if (b != conv->second.end() && b->second->shape != Shape{s[1]})
      return fail("'main." + std::to_string(i) + ".bias' " + b->second->shape.str() + " does not match " +
                  std::to_string(s[1]) + " output channels");
    for (const auto& [field, t] : conv->second)
      if (field != "weight" && field != "bias") return fail("unexpected tensor '" + t->name + "'");
    layers.push_back({s[0], s[1], int(s[2]), first ? 1 : 2, first ? 0 : 1, b != conv->second.end()});
    // A BatchNorm2d follows every layer but the last.
    auto bn = modules.find(i + 1);
    if (bn == modules.end()) break;
    for (const char* field : {"weight", "bias", "running_mean", "running_var"}) {
      auto it = bn->second.find(field);
      if (it == bn->second.end()) return fail("main." + std::to_string(i + 1) + " (BatchNorm2d) has no " + field);
      if (it->second->shape != Shape{s[1]})
        return fail("'" + it->second->name + "' " + it->second->shape.str() + " does not match " +
                    std::to_string(s[1]) + " channels");
    }
    for (const auto& [field, t] : bn->second)
      if (field != "weight" && field != "bias" && field != "running_mean" && field != "running_var" &&
          field != "num_batches_tracked")
        return fail("unexpected tensor '" + t->name + "'");
  }
  if (layers.empty()) return fail("no generator tensors found (expected main.0.weight, a ConvTranspose2d weight)");
  // Everything must have been consumed by the pattern above.
  std::set<int> expected;
  for (size_t k = 0; k < layers.size(); ++k) {
    expected.insert(int(3 * k));
    if (k + 1 < layers.size()) expected.insert(int(3 * k + 1));
  }
  for (const auto& [index, fields] : modules)
    if (!expected.count(index))
      return fail("unexpected tensor '" + fields.begin()->second->name + "' (the layer pattern ends at main." +
                  std::to_string(3 * (layers.size() - 1)) + ")");
  if (layers.back().out != 1 && layers.back().out != 3)
    return fail("the last layer gives " + std::to_string(layers.back().out) + " channels; images have 1 or 3");
  return layers;
}

Result<LoadedGenerator> from_checkpoint(const SafeTensorsFile& f, const std::string& path) {
  auto config = TrainConfig::parse(*f.meta("config"));
  if (!config.ok()) return Status::error(path + ": " + config.message());
  const TrainConfig c = *config;
  LoadedGenerator gen;
  gen.source = path;
  gen.nz = c.widths.nz;
  gen.build = nets::generator_builder(c.model, c.widths);
  Graph probe;
  const nets::Network net = gen.build(probe);
  if (!probe.ok() || !net.forward)
    return Status::error(path + ": cannot build the " + c.model + " generator: " + probe.status().message());
  gen.classes = net.classes;
  if (const std::string* names = f.meta("class_names")) gen.class_names = split_class_names(*names);
  if (gen.classes && int64_t(gen.class_names.size()) != gen.classes) {
    gen.class_names.clear();  // a checkpoint from before class names (MNIST): the digits
    for (int k = 0; k < gen.classes; ++k) gen.class_names.push_back(std::to_string(k));
  }
  gen.image = net.output_shape;
  for (const auto* list : {&net.params, &net.buffers})
    for (const nets::NamedTensor& t : *list) {
      const SafeTensor* src = f.find("G." + t.name);
      if (!src) return Status::error(path + ": checkpoint has no tensor 'G." + t.name + "'");
      if (src->shape != probe.shape(t.value))
        return Status::error(path + ": 'G." + t.name + "' has shape " + src->shape.str() + ", the " + c.model +
                             " generator needs " + probe.shape(t.value).str());
      GANTRY_TRY(nets::check_loaded_values(path, "G." + t.name, src->data));
      gen.tensors.push_back(SafeTensor{t.name, src->shape, src->data});
    }
  const std::string* step = f.meta("step");
  if (!step) return Status::error(path + ": checkpoint has no \"step\" metadata");
  auto steps = parse_checkpoint_step(path, *step);
  if (!steps.ok()) return steps.status();
  gen.batches_tracked = *steps;
  gen.description = c.model + " checkpoint, step " + *step + ", nz " + std::to_string(gen.nz);
  return gen;
}

// nn.DataParallel saves "module.main.0.weight"; a bare nn.Sequential saves "0.weight".
void normalize_names(SafeTensorsFile& f) {
  for (SafeTensor& t : f.tensors) {
    if (t.name.rfind("module.", 0) == 0) t.name = t.name.substr(7);
    if (!t.name.empty() && t.name[0] >= '0' && t.name[0] <= '9') t.name = "main." + t.name;
  }
}

Result<LoadedGenerator> from_pytorch(SafeTensorsFile f, const std::string& path) {
  normalize_names(f);
  auto layers = infer_layers(f, path);
  if (!layers.ok()) return layers.status();
  LoadedGenerator gen;
  gen.source = path;
  gen.nz = layers->front().in;
  gen.build = [layers = *layers](Graph& g) { return nets::sequential_generator(g, "pytorch.G", layers); };
  Graph probe;
  const nets::Network net = gen.build(probe);
  if (!probe.ok()) return Status::error(path + ": " + probe.status().message());
  gen.image = net.output_shape;
  for (const auto* list : {&net.params, &net.buffers})
    for (const nets::NamedTensor& t : *list) {
      gen.tensors.push_back(*f.find(t.name));
      GANTRY_TRY(nets::check_loaded_values(path, t.name, gen.tensors.back().data));
    }
  // num_batches_tracked is informational (export writes it back); a count, so kept only when it is one.
  if (const SafeTensor* nbt = f.find("main.1.num_batches_tracked"); nbt && nbt->data.size() == 1) {
    const float v = nbt->data[0];
    if (v >= 0 && v <= float(kMaxSteps)) gen.batches_tracked = int64_t(v);
  }
  gen.description = "PyTorch DCGAN generator: nz " + std::to_string(gen.nz) + ", " + std::to_string(layers->size()) +
                    " layers, " + gen.image.str() + " images, conv bias " + (layers->front().bias ? "on" : "off");
  return gen;
}

}  // namespace

Result<LoadedGenerator> load_generator(const std::string& path) {
  auto f = read_safetensors(path);
  if (!f.ok()) return f.status();
  const std::string* format = f->meta("format");
  if (format && *format == "gantry-checkpoint-1" && f->meta("config")) return from_checkpoint(*f, path);
  return from_pytorch(*f, path);
}

namespace {

// The largest batch up to `cap` whose arena fits memory_limit(): the arena of
// one sample, planned but not allocated, is the weights (and their packed
// copies, kept) plus one row of activations, and the activations grow
// linearly with the batch.
Result<int64_t> fitting_batch(const LoadedGenerator& gen, int64_t cap) {
  Graph g;
  const nets::Network net = gen.build(g);
  const Value z = g.input(Shape{1, gen.nz, 1, 1}, "z");
  const Value out = net.forward(g, z, gen.classes ? g.input(Shape{1}, "labels") : Value{}, false);
  if (!g.ok()) return Status::error(gen.source + ": " + g.status().message());
  auto plan = plan_arena(g, {out}, int64_t(sizeof(float)), {});
  if (!plan.ok()) return Status::error(gen.source + ": one sample: " + plan.message());
  const ArenaBytes& a = plan->bytes;
  const int64_t fixed = a.params + a.state + a.kept, per_row = std::max<int64_t>(a.total() - fixed, 1);
  return std::clamp((memory_limit() - fixed) / per_row, int64_t(1), cap);
}

}  // namespace

Result<std::vector<float>> generate(const LoadedGenerator& gen, const std::vector<float>& z,
                                    const std::vector<float>& labels, BackendKind backend, int threads,
                                    Precision precision) {
  const int64_t n = int64_t(z.size()) / gen.nz;
  if (n < 1 || int64_t(z.size()) != n * gen.nz)
    return Status::error("z holds " + std::to_string(z.size()) +
                         " values, not a whole number of rows of nz = " + std::to_string(gen.nz));
  if (gen.classes && int64_t(labels.size()) != n)
    return Status::error("a conditional generator needs one class label per sample (" + std::to_string(n) + ")");
  for (size_t i = 0; i < z.size(); ++i)
    if (!std::isfinite(z[i]))
      return Status::error("latent " + std::to_string(i / size_t(gen.nz)) + " holds a non-finite value at component " +
                           std::to_string(i % size_t(gen.nz)));
  const int64_t per = gen.image.numel();
  GANTRY_TRY(check_output_bytes(n, gen.image));
  auto batch = fitting_batch(gen, std::min<int64_t>(n, kGenerateBatch));
  if (!batch.ok()) return batch.status();
  auto sampler = make_sampler(gen, *batch, backend, threads, precision);
  if (!sampler.ok()) return sampler.status();
  std::vector<float> images(size_t(n * per));
  for (int64_t first = 0; first < n; first += *batch) {
    const int64_t rows = std::min(*batch, n - first);
    GANTRY_TRY((*sampler)->run(z.data() + first * gen.nz, gen.classes ? labels.data() + first : nullptr, rows,
                               images.data() + first * per));
  }
  // Finite weights and latents cannot give NaN through conv, batch norm and
  // tanh unless something overflowed: say so rather than write grey squares.
  for (size_t i = 0; i < images.size(); ++i)
    if (!std::isfinite(images[i]))
      return Status::error(
          "sample " + std::to_string(i / size_t(per)) + " came out non-finite (overflow in " + gen.source +
          "'s weights?" +
          (precision == Precision::fp16 ? " fp16 storage holds at most ±65504: try --precision bf16 or fp32" : "") +
          ")");
  return images;
}

Result<std::unique_ptr<Sampler>> make_sampler(const LoadedGenerator& gen, int64_t batch, BackendKind backend,
                                              int threads, Precision precision) {
  auto sampler = Sampler::create(gen.build, gen.nz, batch, backend, threads, precision);
  if (!sampler.ok()) return Status::error(gen.source + ": " + sampler.message());
  for (size_t k = 0; k < gen.tensors.size(); ++k)
    if (Status s = (*sampler)->set_weight(k, gen.tensors[k].data.data(), int64_t(gen.tensors[k].data.size())); !s.ok())
      return Status::error(gen.source + ": '" + gen.tensors[k].name + "': " + s.message());
  return sampler;
}

Status check_output_bytes(int64_t n, const Shape& image) {
  const int64_t per = image.checked_numel();
  if (n >= 1 && per > 0 && n <= memory_limit() / int64_t(sizeof(float)) / per) return {};
  char buf[200];
  std::snprintf(buf, sizeof buf, "%lld samples of %s need %.4g GiB, over the memory limit of %.4g GiB (--max-memory)",
                static_cast<long long>(n), image.str().c_str(), double(n) * double(per) * 4 / 1073741824.0,
                double(memory_limit()) / 1073741824.0);
  return Status::error(buf);
}

Status export_generator(const LoadedGenerator& gen, const std::string& path) {
  SafeTensorsFile f;
  f.tensors = gen.tensors;
  for (const SafeTensor& t : gen.tensors)
    if (t.name.size() > 13 && t.name.substr(t.name.size() - 13) == ".running_mean")
      f.tensors.push_back(
          {t.name.substr(0, t.name.size() - 13) + ".num_batches_tracked", Shape{}, {float(gen.batches_tracked)}});
  f.metadata = {{"source", "gantry export of " + gen.source}};
  return write_safetensors(path, f);
}

}  // namespace gantry

// The CUDA backend: compile a graph once, replay it as a CUDA graph.
//
// Memory. plan_arena() (elements of 4 bytes, or 2 for the values 16-bit
// storage keeps in binary16 or bfloat16: half_storage()) lays out the arena exactly as for the
// CPU backend; the program makes ONE cudaMalloc, zeroed, carved as
//   [ arena (params | state | data | inputs | transient) | shared workspace |
//     cuBLAS workspace | StepUniforms ]                 each part 256-byte aligned
// The shared workspace is the largest any scheduled op asks for
// (CudaOpDef::workspace_bytes: im2col columns of a chunk of images); all nodes
// run in order on one stream, so they can share it. Between steps it also
// stages the host's float32 copy of a 16-bit tensor, converted on the device
// (round to nearest even, as the kernels store). Nothing is allocated on the
// device or host while stepping.
//
// Replay. Every step copies the 16-byte StepUniforms from pinned host memory
// into the device buffer the kernels read (Philox seed/step, Adam's t). The
// first step runs the schedule node by node (loading every kernel module and
// letting cuBLAS choose its kernels outside a capture), then captures the
// whole schedule on the program's stream (cudaStreamBeginCapture …
// EndCapture) and instantiates it once; later steps relaunch that graph.
// step() synchronizes before it returns, so the step is done and any device
// error is reported by the step that caused it. cuBLAS is bound to the
// program's stream with a workspace from the allocation above, which is what
// makes its calls capturable. (Besides the arena: 16 pinned host bytes for the
// uniforms, and whatever cublasCreate keeps for itself.)
// write()/read() copy on the same stream and check tensor, shape and count.
//
// Kernels (cuda/*.cu, one file per family, table in cuda_op_table.cpp):
// convolutions are im2col / col2im around cuBLAS GEMMs (conv.cu); matmul is
// one GEMM; reductions, normalizations and softmax use one block per output
// group with a warp-shuffle + shared-memory tree of fp32 compensated sums
// (platform/accumulate.h), no atomics and no FP64, so results are the same
// on every run; Philox fills compile platform/philox.h for the device.
// Arithmetic is fp32 throughout; with 16-bit storage (fp16, bf16), kernels
// read 16-bit operands as float and round what they store (cuda_ops.h:
// Operand), and a GEMM whose two operands are 16-bit runs as such on tensor
// cores with fp32 accumulation (cublasGemmEx; bf16 from sm_80 on, widened
// to fp32 before). GANTRY_CUDA_TF32=1 lets cuBLAS use TF32 tensor
// cores for fp32 GEMMs (faster, ~1e-3 relative error: outside the parity
// tolerances).
//
// Lifetime. Every CUDA object (stream, graph, events, cuBLAS handle, device
// and pinned memory) belongs to one CudaProgram and is released by its
// destructor; nothing CUDA lives in a static, so nothing is torn down by a
// static destructor after the driver may be gone (the only process-wide state
// is cuda_probe()'s answer and the cuBLAS function table, plain data). A
// program, and so its stream and cuBLAS handle, is used by one thread at a
// time, as every Program (engine/backend.h).
//
// Toolkits: CUDA 11.4 (JetPack 5), 12.x (JetPack 6) and 13; APIs whose
// signature changed between them are chosen by CUDART_VERSION (cudaGraphInstantiate)
// or CUBLAS_VERSION (cublas_loader.h).
//
// Profiling (CompileOptions::profile): no graph; nodes run one by one between
// two cudaEvents each, with a synchronize after each node, so op_seconds()
// holds device time per op and a device fault names its node.
//
// Loading. Nothing here runs before the backend is asked for: the static CUDA
// runtime opens the driver (libcuda.so.1) itself on its first API call
// (cuda_probe()), and cuBLAS is opened with dlopen by cuda_probe() once a
// usable device is found (cublas_loader.h), so a binary with CUDA built in
// needs no CUDA library to start or to run the other backends.
//
// Errors. Every CUDA/cuBLAS failure becomes a Status naming the node (op,
// id, output shape) and the error string; nothing aborts. Checked by
// tests/test_backend_parity.cpp against the CPU reference (skipped without a
// device, with cuda_probe()'s message).
#include <algorithm>
#include <cstdlib>
#include <string>

#include "cuda/cublas_loader.h"
#include "cuda/cuda_backend.h"
#include "cuda/cuda_ops.h"
#include "cuda/cuda_util.cuh"

#ifndef GANTRY_CUDA_ARCHITECTURES  // set by cuda/cuda.cmake
#define GANTRY_CUDA_ARCHITECTURES "?"
#endif

namespace gantry {
namespace {

constexpr int64_t kAlign = 256;  // cublasSetWorkspace wants 256-byte alignment

int64_t align_up(int64_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

std::string cuda_error(cudaError_t e) { return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")"; }

// An empty kernel: launching it tells whether this binary carries code the
// device can run (machine code for its compute capability, or PTX it can JIT).
__global__ void probe_kernel() {}

// The device's name (only cudaGetDeviceProperties has it; its other fields
// differ between toolkits, so none is read), or its number.
std::string device_name(int device) {
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) return prop.name;
  cudaGetLastError();
  return "CUDA device " + std::to_string(device);
}

std::string mib(int64_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

class CudaProgram final : public PlannedProgram {
 public:
  CudaProgram(const Graph& g, Plan plan, const CompileOptions& options);
  ~CudaProgram() override;
  CudaProgram(const CudaProgram&) = delete;
  CudaProgram& operator=(const CudaProgram&) = delete;

  Status init();
  Status step(const StepUniforms& u) override;
  Status write(Value v, const float* src, int64_t count) override;
  Status read(Value v, float* dst, int64_t count) const override;
  std::vector<std::pair<std::string, double>> op_seconds() const override { return by_op(seconds_per_op_); }
  std::string device() const override {
    return device_name(device_) +
           (precision_ == Precision::fp32 ? "" : std::string(" (") + precision_name(precision_) + " storage)");
  }

 private:
  Status capture();
  Status run_eager();
  Status run_profiled();
  std::string tensor_what(int32_t id) const;
  std::string node_what(size_t s) const;
  Status node_error(size_t s, const CudaResult& r, const char* when) const;
  Status cuda_status(cudaError_t e, const char* what) const;
  Status copy_status(cudaError_t e, const char* verb, Value v) const;
  Status convert_status(const CudaResult& r, const char* verb, Value v) const;
  Storage storage(int32_t id) const {
    if (plan_.value_size[size_t(id)] == 4) return Storage::f32;
    return precision_ == Precision::bf16 ? Storage::bf16 : Storage::f16;
  }
  std::vector<CudaArgs> make_args(char* arena) const;

  bool profile_;
  Precision precision_;
  bool bf16_gemm_ = false;  // CudaArgs::bf16_gemm
  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  char* memory_ = nullptr;     // the one device allocation
  char* workspace_ = nullptr;  // in memory_
  int64_t workspace_bytes_ = 0, cublas_workspace_bytes_ = 0, total_bytes_ = 0;
  StepUniforms* d_uniforms_ = nullptr;  // in memory_
  StepUniforms* h_uniforms_ = nullptr;  // pinned staging for the per-step copy
  std::vector<CudaArgs> args_;          // per scheduled node
  cudaGraph_t graph_captured_ = nullptr;
  cudaGraphExec_t graph_exec_ = nullptr;
  std::vector<cudaEvent_t> events_;     // profile: start and stop per scheduled node
  std::vector<double> seconds_per_op_;  // profile: indexed by Op
  uint64_t steps_done_ = 0;
};

CudaProgram::CudaProgram(const Graph& g, Plan plan, const CompileOptions& options)
    : PlannedProgram(g, std::move(plan), options.outputs), profile_(options.profile), precision_(options.precision) {}

CudaProgram::~CudaProgram() {
  // Teardown errors have nowhere to go; each call is still made so nothing leaks.
  cudaSetDevice(device_);
  if (stream_) cudaStreamSynchronize(stream_);
  if (graph_exec_) cudaGraphExecDestroy(graph_exec_);
  if (graph_captured_) cudaGraphDestroy(graph_captured_);
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  if (cublas_) cuda::cublas().destroy(cublas_);
  if (h_uniforms_) cudaFreeHost(h_uniforms_);
  if (memory_) cudaFree(memory_);
  if (stream_) cudaStreamDestroy(stream_);
}

std::string CudaProgram::tensor_what(int32_t id) const {
  const Node& n = graph_.node(id);
  return n.name.empty() ? std::string(op_name(n.op)) + " node " + std::to_string(id) : "'" + n.name + "'";
}

std::string CudaProgram::node_what(size_t s) const {
  const int32_t id = plan_.schedule[s];
  const Node& n = graph_.node(id);
  std::string what = std::string(op_name(n.op)) + " node " + std::to_string(id);
  if (!n.inputs.empty()) {
    what += " (inputs";
    for (int32_t in : n.inputs) what += " " + graph_.node(in).shape.str();
    what += n.effect ? ", in place)" : " → " + n.shape.str() + ")";
  } else {
    what += " → " + n.shape.str();
  }
  return what;
}

Status CudaProgram::node_error(size_t s, const CudaResult& r, const char* when) const {
  return Status::error(std::string("CUDA backend: ") + node_what(s) + " " + when + ": " + r.call + ": " + r.error);
}

// Messages are built only on failure: a step, write or read allocates nothing.
Status CudaProgram::cuda_status(cudaError_t e, const char* what) const {
  if (e == cudaSuccess) return {};
  return Status::error(std::string("CUDA backend: ") + what + ": " + cuda_error(e));
}

Status CudaProgram::copy_status(cudaError_t e, const char* verb, Value v) const {
  if (e == cudaSuccess) return {};
  return Status::error(std::string("CUDA backend: ") + verb + " tensor " + tensor_what(v.id) + " " +
                       graph_.node(v).shape.str() + ": " + cuda_error(e));
}

Status CudaProgram::convert_status(const CudaResult& r, const char* verb, Value v) const {
  if (r.ok()) return {};
  return Status::error(std::string("CUDA backend: ") + verb + " tensor " + tensor_what(v.id) + " " +
                       graph_.node(v).shape.str() + " (16-bit ↔ float32): " + r.call + ": " + r.error);
}

// Every scheduled node's arguments, its tensors in the arena at `arena`
// (null: only their types and shapes, for sizing the workspace).
std::vector<CudaArgs> CudaProgram::make_args(char* arena) const {
  std::vector<CudaArgs> args(plan_.schedule.size());
  for (size_t s = 0; s < args.size(); ++s) {
    fill_args(plan_.schedule[s], args[s], [&](int64_t byte_offset, int32_t id) {
      return Operand{arena ? arena + byte_offset : nullptr, storage(id)};
    });
    args[s].bf16_gemm = bf16_gemm_;
  }
  return args;
}

Status CudaProgram::init() {
  // Every scheduled op must have a kernel; the largest workspace any of them needs is shared.
  for (size_t s = 0; s < plan_.schedule.size(); ++s) {
    const Node& n = graph_.node(plan_.schedule[s]);
    if (!cuda_op_def(n.op).launch)
      return Status::error(std::string("CUDA backend has no kernel for op '") + op_name(n.op) + "' (" + node_what(s) +
                           ")");
    if (n.inputs.size() > size_t(kMaxInputs))
      return Status::error("CUDA backend: " + node_what(s) + " has more than " + std::to_string(kMaxInputs) +
                           " inputs");
  }
  // compile() asked cuda_probe(), which loads cuBLAS; asked again here for direct callers of compile_cuda().
  if (Status st = cuda::cublas_load(); !st.ok()) return Status::error("CUDA backend: " + st.message());
  GANTRY_TRY(cuda_status(cudaGetDevice(&device_), "cudaGetDevice"));
  int major = 0;
  GANTRY_TRY(cuda_status(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_),
                         "cudaDeviceGetAttribute"));
  bf16_gemm_ = major >= 8;

  for (const CudaArgs& a : make_args(nullptr))
    if (const auto bytes = cuda_op_def(a.node->op).workspace_bytes)
      workspace_bytes_ = std::max(workspace_bytes_, bytes(a));
  // write()/read() of a 16-bit tensor stage its float32 values there.
  for (size_t id = 0; id < readable_.size(); ++id)
    if (readable_[id] && storage(int32_t(id)) != Storage::f32)
      workspace_bytes_ = std::max(workspace_bytes_, graph_.node(int32_t(id)).shape.numel() * int64_t(sizeof(float)));
  // cuBLAS's own recommendation: 32 MiB on Hopper and later, 4 MiB before.
  cublas_workspace_bytes_ = major >= 9 ? int64_t(32) << 20 : int64_t(4) << 20;

  const int64_t arena_bytes = align_up(std::max<int64_t>(plan_.bytes.total(), kArenaAlign));
  const int64_t workspace_at = arena_bytes, cublas_at = workspace_at + align_up(workspace_bytes_);
  const int64_t uniforms_at = cublas_at + cublas_workspace_bytes_;
  total_bytes_ = uniforms_at + align_up(int64_t(sizeof(StepUniforms)));

  GANTRY_TRY(cuda_status(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags"));
  if (cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&memory_), size_t(total_bytes_)); e != cudaSuccess) {
    memory_ = nullptr;
    cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    cudaMemGetInfo(&free_bytes, &total);
    const ArenaBytes& b = plan_.bytes;
    return Status::error("CUDA backend: cannot allocate " + std::to_string(total_bytes_) + " bytes (" +
                         mib(total_bytes_) + ": arena " + mib(arena_bytes) + " = params " + mib(b.params) +
                         " + state " + mib(b.state) + " + data " + mib(b.data) + " + inputs " + mib(b.inputs) +
                         " + transient " + mib(b.transient) + ", kernel workspace " + mib(workspace_bytes_) +
                         ", cuBLAS workspace " + mib(cublas_workspace_bytes_) + "); the device has " +
                         mib(int64_t(free_bytes)) + " free: " + cuda_error(e));
  }
  // Zeroed, like the CPU arena: fresh optimizer moments are zero.
  GANTRY_TRY(cuda_status(cudaMemsetAsync(memory_, 0, size_t(total_bytes_), stream_), "zeroing the arena"));
  GANTRY_TRY(cuda_status(cudaStreamSynchronize(stream_), "zeroing the arena"));
  d_uniforms_ = reinterpret_cast<StepUniforms*>(memory_ + uniforms_at);
  if (cudaError_t e = cudaMallocHost(reinterpret_cast<void**>(&h_uniforms_), sizeof(StepUniforms)); e != cudaSuccess) {
    h_uniforms_ = nullptr;
    return cuda_status(e, "cudaMallocHost (step uniforms)");
  }

  const cuda::CublasApi& blas = cuda::cublas();
  auto cublas_status = [&](cublasStatus_t s, const char* call) {
    return s == CUBLAS_STATUS_SUCCESS
               ? Status{}
               : Status::error(std::string("CUDA backend: ") + call + ": " + cuda::status_string(s));
  };
  if (cublasStatus_t s = blas.create(&cublas_); s != CUBLAS_STATUS_SUCCESS) {
    cublas_ = nullptr;
    return cublas_status(s, "cublasCreate");
  }
  const char* tf32 = std::getenv("GANTRY_CUDA_TF32");
  const bool use_tf32 = tf32 && std::string(tf32) == "1";
  // A 16-bit C is rounded once, from the float32 sum: no split-K partial sums
  // reduced in the output's type (which cuBLAS's default math allows).
  const auto math = cublasMath_t((use_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) |
                                 CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION);
  for (Status st : {cublas_status(blas.set_stream(cublas_, stream_), "cublasSetStream"),
                    cublas_status(blas.set_workspace(cublas_, memory_ + cublas_at, size_t(cublas_workspace_bytes_)),
                                  "cublasSetWorkspace"),
                    cublas_status(blas.set_math_mode(cublas_, math), "cublasSetMathMode")})
    if (!st.ok()) return st;

  workspace_ = memory_ + workspace_at;
  args_ = make_args(memory_);
  for (CudaArgs& a : args_) {
    a.workspace = workspace_;
    a.uniforms = d_uniforms_;
    a.cublas = cublas_;
  }

  if (profile_) {
    seconds_per_op_.assign(size_t(kOpCount), 0.0);
    events_.reserve(2 * plan_.schedule.size());
    for (size_t i = 0; i < 2 * plan_.schedule.size(); ++i) {
      cudaEvent_t e = nullptr;
      GANTRY_TRY(cuda_status(cudaEventCreate(&e), "cudaEventCreate"));
      events_.push_back(e);
    }
  }
  return {};
}

Status CudaProgram::capture() {
  if (Status st =
          cuda_status(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
      !st.ok())
    return st;
  for (size_t s = 0; s < args_.size(); ++s) {
    const CudaResult r = cuda_op_def(args_[s].node->op).launch(args_[s], stream_);
    if (!r.ok()) {
      // Leave the stream usable: end the broken capture and drop what it recorded.
      cudaGraph_t partial = nullptr;
      cudaStreamEndCapture(stream_, &partial);
      if (partial) cudaGraphDestroy(partial);
      cudaGetLastError();
      return node_error(s, r, "while capturing the step into a CUDA graph");
    }
  }
  if (Status st = cuda_status(cudaStreamEndCapture(stream_, &graph_captured_), "cudaStreamEndCapture"); !st.ok()) {
    graph_captured_ = nullptr;
    return st;
  }
#if CUDART_VERSION >= 12000
  const cudaError_t instantiated = cudaGraphInstantiate(&graph_exec_, graph_captured_, 0);
#else  // CUDA 11: an error node and a log buffer instead of flags
  const cudaError_t instantiated = cudaGraphInstantiate(&graph_exec_, graph_captured_, nullptr, nullptr, 0);
#endif
  if (Status st = cuda_status(instantiated, "cudaGraphInstantiate"); !st.ok()) {
    graph_exec_ = nullptr;
    cudaGraphDestroy(graph_captured_);
    graph_captured_ = nullptr;
    return st;
  }
  return cuda_status(cudaGraphUpload(graph_exec_, stream_), "cudaGraphUpload");
}

Status CudaProgram::run_profiled() {
  for (size_t s = 0; s < args_.size(); ++s) {
    if (cudaError_t e = cudaEventRecord(events_[2 * s], stream_); e != cudaSuccess)
      return node_error(s, CudaResult{"cudaEventRecord", cudaGetErrorString(e)}, "(profile)");
    if (const CudaResult r = cuda_op_def(args_[s].node->op).launch(args_[s], stream_); !r.ok())
      return node_error(s, r, "at launch");
    if (cudaError_t e = cudaEventRecord(events_[2 * s + 1], stream_); e != cudaSuccess)
      return node_error(s, CudaResult{"cudaEventRecord", cudaGetErrorString(e)}, "(profile)");
    if (cudaError_t e = cudaStreamSynchronize(stream_); e != cudaSuccess)
      return node_error(s, CudaResult{"cudaStreamSynchronize", cudaGetErrorString(e)}, "while running");
  }
  for (size_t s = 0; s < args_.size(); ++s) {
    float ms = 0;
    if (cudaError_t e = cudaEventElapsedTime(&ms, events_[2 * s], events_[2 * s + 1]); e != cudaSuccess)
      return node_error(s, CudaResult{"cudaEventElapsedTime", cudaGetErrorString(e)}, "(profile)");
    seconds_per_op_[size_t(args_[s].node->op)] += double(ms) * 1e-3;
  }
  return {};
}

Status CudaProgram::run_eager() {
  for (size_t s = 0; s < args_.size(); ++s)
    if (const CudaResult r = cuda_op_def(args_[s].node->op).launch(args_[s], stream_); !r.ok())
      return node_error(s, r, "at launch");
  if (cudaError_t e = cudaStreamSynchronize(stream_); e != cudaSuccess)
    return Status::error("CUDA backend: step " + std::to_string(steps_done_ + 1) + " failed (" +
                         std::to_string(args_.size()) + " nodes run eagerly): " + cuda_error(e) +
                         "; compile with profile on to run node by node and name the failing node");
  return {};
}

Status CudaProgram::step(const StepUniforms& u) {
  GANTRY_TRY(cuda_status(cudaSetDevice(device_), "cudaSetDevice"));
  *h_uniforms_ = u;  // the previous step synchronized, so the last copy from here is done
  if (Status st =
          cuda_status(cudaMemcpyAsync(d_uniforms_, h_uniforms_, sizeof(StepUniforms), cudaMemcpyHostToDevice, stream_),
                      "copying the step uniforms");
      !st.ok())
    return st;
  if (profile_) {
    GANTRY_TRY(run_profiled());
  } else if (!graph_exec_) {
    // The first step runs node by node, which also loads every kernel module
    // and lets cuBLAS pick its kernels outside a capture; then the schedule is
    // captured once, and later steps relaunch the graph.
    GANTRY_TRY(run_eager());
    GANTRY_TRY(capture());
  } else {
    GANTRY_TRY(cuda_status(cudaGraphLaunch(graph_exec_, stream_), "cudaGraphLaunch"));
    if (cudaError_t e = cudaStreamSynchronize(stream_); e != cudaSuccess)
      return Status::error("CUDA backend: step " + std::to_string(steps_done_ + 1) + " failed in the CUDA graph (" +
                           std::to_string(args_.size()) + " nodes): " + cuda_error(e) +
                           "; compile with profile on to run node by node and name the failing node");
  }
  ++steps_done_;
  return {};
}

// A 16-bit tensor goes through the workspace as float32 and is converted on
// the device (the same rounding as every kernel's store); float32 is copied as
// is. (read() is const but stages there too: a program is used by one thread
// at a time, engine/backend.h.)
Status CudaProgram::write(Value v, const float* src, int64_t count) {
  GANTRY_TRY(check_access(v, count));
  if (count == 0) return {};
  GANTRY_TRY(copy_status(cudaSetDevice(device_), "writing", v));
  const Operand at{memory_ + plan_.offset[v.id], storage(v.id)};
  const Operand staged = at.type != Storage::f32 ? Operand{workspace_} : at;
  GANTRY_TRY(copy_status(cudaMemcpyAsync(staged.p, src, size_t(count) * sizeof(float), cudaMemcpyHostToDevice, stream_),
                         "writing", v));
  if (staged.p != at.p) GANTRY_TRY(convert_status(cuda::copy_rows(staged, 0, at, 0, 1, count, stream_), "writing", v));
  return copy_status(cudaStreamSynchronize(stream_), "writing", v);
}

Status CudaProgram::read(Value v, float* dst, int64_t count) const {
  GANTRY_TRY(check_access(v, count));
  if (count == 0) return {};
  GANTRY_TRY(copy_status(cudaSetDevice(device_), "reading", v));
  const Operand at{memory_ + plan_.offset[v.id], storage(v.id)};
  const Operand staged = at.type != Storage::f32 ? Operand{workspace_} : at;
  if (staged.p != at.p) GANTRY_TRY(convert_status(cuda::copy_rows(at, 0, staged, 0, 1, count, stream_), "reading", v));
  GANTRY_TRY(copy_status(cudaMemcpyAsync(dst, staged.p, size_t(count) * sizeof(float), cudaMemcpyDeviceToHost, stream_),
                         "reading", v));
  return copy_status(cudaStreamSynchronize(stream_), "reading", v);
}

// Whether a launch failed because the binary has no code this device can run:
// no machine code for its compute capability and no PTX it can compile
// (cudaErrorUnsupportedPtxVersion: PTX newer than the driver's JIT).
bool no_code_for_device(cudaError_t e) {
  return e == cudaErrorNoKernelImageForDevice || e == cudaErrorInvalidDeviceFunction ||
         e == cudaErrorUnsupportedPtxVersion;
}

// What cuda_probe() found; the answer does not change while the process runs.
struct ProbeResult {
  Status status;
  bool rejected = false;  // a device is present that this build cannot run on
};

ProbeResult probe_once() {
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    cudaGetLastError();
    // Also cudaErrorInsufficientDriver (a driver older than this runtime):
    // reported as no usable device, since no GPU may be present at all; the
    // versions say which side to upgrade.
    auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
    int driver = 0;
    cudaDriverGetVersion(&driver);
    return {Status::error("no CUDA device: cudaGetDeviceCount: " + cuda_error(e) + " (" +
                          (driver ? "the driver supports CUDA " + version(driver) : std::string("no CUDA driver")) +
                          ", this binary's runtime is CUDA " + version(CUDART_VERSION) + ")")};
  }
  if (count == 0) return {Status::error("no CUDA device: cudaGetDeviceCount found none")};
  int device = 0, major = 0, minor = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  probe_kernel<<<1, 1>>>();
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess) {
    cudaGetLastError();
    const std::string what = "CUDA device " + std::to_string(device) + " (" + device_name(device) +
                             ", compute capability " + std::to_string(major) + "." + std::to_string(minor) + ")";
    if (!no_code_for_device(e)) return {Status::error(what + " cannot run a kernel: " + cuda_error(e))};
    return {Status::error(what +
                          " cannot run this binary's kernels, built for " GANTRY_CUDA_ARCHITECTURES
                          " (reconfigure with -DCMAKE_CUDA_ARCHITECTURES=" +
                          std::to_string(major) + std::to_string(minor) +
                          " using a CUDA toolkit whose nvcc --list-gpu-arch lists compute_" + std::to_string(major) +
                          std::to_string(minor) + "): " + cuda_error(e)),
            true};
  }
  // A device that can run the kernels: now the library the GEMMs need.
  return {cuda::cublas_load()};
}

const ProbeResult& probe() {
  static const ProbeResult result = probe_once();  // plain data: safe to destroy at exit
  return result;
}

}  // namespace

// Asked often (every backend listing): probe() runs once per process.
Status cuda_probe() { return probe().status; }

bool cuda_rejects_device() { return probe().rejected; }

// For `gantry info`: the device the programs will use and what this binary carries.
std::string cuda_describe() {
  int device = 0, major = 0, minor = 0, sms = 0, runtime = 0, driver = 0;
  size_t free_bytes = 0, total = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  cudaMemGetInfo(&free_bytes, &total);
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  cudaGetLastError();
  auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  return device_name(device) + " (compute capability " + std::to_string(major) + "." + std::to_string(minor) + ", " +
         std::to_string(sms) + " SMs, " + mib(int64_t(free_bytes)) + " free of " + mib(int64_t(total)) +
         "); runtime CUDA " + version(runtime) + ", driver CUDA " + version(driver) +
         "; kernels for " GANTRY_CUDA_ARCHITECTURES "; 16-bit storage: fp16, bf16" +
         (major < 8 ? " (bf16 GEMMs in float32 below compute capability 8.0)" : "");
}

Result<std::unique_ptr<Program>> compile_cuda(const Graph& g, const CompileOptions& options) {
  // The kernels share one workspace outside the arena, so nodes need no planned scratch, and keep nothing.
  auto plan = plan_arena(
      g, options.outputs, int64_t(sizeof(float)),
      options.precision != Precision::fp32 ? half_storage(g) : std::vector<char>{},
      [](const Graph&, const Node&) { return int64_t(0); }, nullptr);
  if (!plan.ok()) return plan.status();
  auto program = std::make_unique<CudaProgram>(g, std::move(*plan), options);
  GANTRY_TRY(program->init());
  return std::unique_ptr<Program>(std::move(program));
}

// Linked whole (CMake's WHOLE_ARCHIVE), so this runs before main() in every
// program that links the backend, and the engine finds it in its registry.
[[maybe_unused]] const bool kRegistered = register_backend({.kind = BackendKind::cuda,
                                                            .probe = cuda_probe,
                                                            .compile = compile_cuda,
                                                            .describe = cuda_describe,
                                                            .rejects_device = cuda_rejects_device});

}  // namespace gantry

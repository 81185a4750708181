// The Vulkan compute backend (see vulkan_backend.h).
//
// Device: opened once per process (the first usable compute device, a
// discrete GPU first; GANTRY_VULKAN_DEVICE=<index> picks another) and shared
// by every program; shader modules and pipelines are cached on it by (shader,
// specialization constants), and a VkPipelineCache is loaded from and saved to
// $GANTRY_CACHE_DIR (default $XDG_CACHE_HOME/gantry or ~/.cache/gantry), so a
// second start does not recompile the shaders.
//
// Program: the planned arena in one device-local buffer (one allocation: an
// arena over maxMemoryAllocationSize is refused, naming the limit), and one
// host-visible buffer laid out as
//   [ step uniforms | mirror of the arena's inputs region | chunk ]
// The per-step values — seed and step number, and input leaves such as batch
// indices, labels or z — are host writes into that mapped mirror, and step()
// is one submission. Other leaves go through the chunk with a copy of their own.
//  - Staged (discrete GPUs, see Device::unified): the recorded command buffer
//    starts by copying the step uniforms into a device-local uniform buffer
//    and the inputs mirror into the arena's inputs region, so the step reads
//    them from device memory.
//  - Unified: where a memory type is DEVICE_LOCAL and HOST_VISIBLE on a device
//    that is not a discrete GPU (integrated GPUs, Jetson, lavapipe) the host
//    buffer is allocated there and the shaders
//    read the step uniforms and the inputs from it directly, with no copy (the
//    arena's inputs region stays unused). GANTRY_VULKAN_NO_UNIFIED=1 forces the
//    staged path, so that tests on lavapipe run both.
// Binding: every dispatch binds its operands through 4 storage-buffer slots
// (vk_kernels.h). A slot is a window of the buffer holding its operand that
// starts at the operand's offset rounded down to minStorageBufferOffsetAlignment
// and is maxStorageBufferRange long (or reaches the buffer's end); the encoder
// gets the operand's position from the window's start. So an arena of any size
// and layout binds, and every program takes this one path (not only those
// over the limit, which tests could not reach on most devices). Dispatches
// with the same windows share a descriptor set. A tensor that does not fit in
// one window is refused, naming it, its size and the limit. (Vulkan 1.1 spec,
// "Descriptor Set Updates", VkDescriptorBufferInfo: the offset a multiple of
// minStorageBufferOffsetAlignment, the range ≤ maxStorageBufferRange; "Limit
// Requirements": 4 storage and 12 uniform buffers per stage, an offset
// alignment of at most 256 bytes.)
// Storage: float32, or with CompileOptions::precision fp16 on a device with
// storageBuffer16BitAccess, every value (leaves and node outputs) in IEEE
// binary16 — the arena planned with 2-byte elements, host writes rounded to
// nearest even (platform/half.h), the shaders' _f16 builds widening each load
// to float and rounding each store (common.glsl), so sums stay float32 —
// while scratch stays float32. The CPU backend's fp16 emulation is the
// reference it is tested against. A device without the feature runs such a
// program in float32 and says so (device()).
// Between nodes a compute→compute memory barrier is recorded
// only where a node touches bytes that an earlier node since the last barrier
// wrote (or writes bytes it read); dispatches within a node are always
// separated. With CompileOptions::profile every node is fenced by a barrier
// and a timestamp, and op_seconds() sums the GPU time per op.
//
// Written from the Vulkan 1.1 specification (chapters 7 "Synchronization",
// 10 "Pipelines" incl. 10.7 "Pipeline Cache", 11 "Memory Allocation",
// 12 "Resource creation", 14 "Resource Descriptors").
#include "compute_shaders/vulkan_backend.h"

#define VK_NO_PROTOTYPES
#include <dlfcn.h>
#include <vulkan/vulkan.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <tuple>

#include "compute_shaders/vk_kernels.h"
#include "platform/atomic_file.h"
#include "platform/half.h"
#include "shader_table.inc"

namespace gantry {
namespace {

// ---- the loader, opened at run time

// The loader's function lists; clang-format re-wraps them differently on every run.
// clang-format off
#define GANTRY_VK_INSTANCE_FNS(X)                                                                          \
  X(vkDestroyInstance)                                                                                     \
  X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties) X(vkGetPhysicalDeviceProperties2)         \
      X(vkGetPhysicalDeviceFeatures2)                                                                      \
      X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkGetPhysicalDeviceMemoryProperties) X(vkCreateDevice) \
          X(vkGetDeviceProcAddr)
#define GANTRY_VK_DEVICE_FNS(X)                                                                                      \
  X(vkDestroyDevice)                                                                                                 \
  X(vkGetDeviceQueue) X(vkCreateBuffer) X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) X(vkAllocateMemory)      \
      X(vkFreeMemory) X(vkBindBufferMemory) X(vkMapMemory) X(vkCreateShaderModule) X(vkDestroyShaderModule)          \
          X(vkCreatePipelineCache) X(vkGetPipelineCacheData) X(vkDestroyPipelineCache) X(vkCreateComputePipelines)   \
              X(vkDestroyPipeline) X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout)                    \
                  X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout) X(vkCreateDescriptorPool)                     \
                      X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets)               \
                          X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers)                 \
                              X(vkBeginCommandBuffer) X(vkEndCommandBuffer) X(vkResetCommandBuffer)                  \
                                  X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) X(vkCmdPushConstants)              \
                                      X(vkCmdDispatch) X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdFillBuffer) \
                                          X(vkCmdWriteTimestamp) X(vkCmdResetQueryPool) X(vkCreateQueryPool)         \
                                              X(vkDestroyQueryPool) X(vkGetQueryPoolResults) X(vkQueueSubmit)        \
                                                  X(vkCreateFence) X(vkDestroyFence) X(vkWaitForFences)              \
                                                      X(vkResetFences) X(vkDeviceWaitIdle)
// clang-format on

struct Fns {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  PFN_vkCreateInstance vkCreateInstance = nullptr;
#define GANTRY_VK_FN(name) PFN_##name name = nullptr;
  GANTRY_VK_INSTANCE_FNS(GANTRY_VK_FN)
  GANTRY_VK_DEVICE_FNS(GANTRY_VK_FN)
#undef GANTRY_VK_FN
};

// A Vulkan create-info struct, zeroed, with its type tag.
template <class T>
T info(VkStructureType type) {
  T v{};
  v.sType = type;
  return v;
}

std::string vk_error(const char* call, VkResult r) {
  return std::string(call) + " failed (VkResult " + std::to_string(int(r)) + ")";
}

#define GANTRY_VK_TRY(call)                                                                                   \
  do {                                                                                                        \
    if (const VkResult r_ = (call); r_ != VK_SUCCESS) return Status::error("vulkan: " + vk_error(#call, r_)); \
  } while (0)

// ---- the device, shared by all programs of the process

// Drivers that report storageBuffer16BitAccess but abort the process when
// compiling a 16-bit storage load: lavapipe on aarch64 with LLVM 15 (Debian
// 12's Mesa 22.3) fails instruction selection ("LLVM ERROR: Cannot select:
// v4f32 = fp_extend v4i16", seen in CI under qemu). Their fp16 programs run
// in float32. LLVM versions after 15 are not known to fail, so not listed.
bool fp16_miscompiles(const char* device_name) {
#if defined(__aarch64__)
  int llvm = 0;
  return std::sscanf(device_name, "llvmpipe (LLVM %d", &llvm) == 1 && llvm <= 15;
#else
  (void)device_name;
  return false;
#endif
}

// Set 0 (common.glsl): the operand slots at bindings 0 .. kSlots − 1, then the step uniforms.
constexpr uint32_t kStepBinding = vk::kSlots, kBindings = vk::kSlots + 1;
constexpr VkMemoryPropertyFlags kUnifiedMemory =
    VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;

class Device {
 public:
  ~Device();
  static Result<std::shared_ptr<Device>> get();

  Fns fn;
  VkInstance instance = VK_NULL_HANDLE;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceProperties props{};
  VkPhysicalDeviceMemoryProperties mem{};
  VkDeviceSize max_allocation = 0;  // maxMemoryAllocationSize (Vulkan 1.1 maintenance3)
  uint32_t queue_family = 0;
  bool timestamps = false;
  // Not a discrete GPU, a DEVICE_LOCAL | HOST_VISIBLE | HOST_COHERENT memory
  // type exists, and GANTRY_VULKAN_NO_UNIFIED is unset: programs take the unified path.
  bool unified = false;
  // storageBuffer16BitAccess (core 1.1 feature), enabled when offered and
  // GANTRY_VULKAN_NO_FP16 is unset: programs with fp16 storage take the
  // <shader>_f16 builds; otherwise they run in float32 (said by device()).
  bool storage16 = false;
  std::string storage16_note;  // why storage16 is off although the device offers it ("": it does not, or it is on)
  vk::DeviceCaps caps;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  std::mutex queue_mutex;  // held for every vkQueueSubmit
  VkDescriptorSetLayout set_layout = VK_NULL_HANDLE;
  VkPipelineLayout layout = VK_NULL_HANDLE;

  // The pipeline for a dispatch, created on first use (and then cached);
  // half_slots: bit k set when slot k holds binary16 (the _f16 build, common.glsl).
  Result<VkPipeline> pipeline(const vk::Dispatch& d, uint32_t half_slots);
  // Writes the pipeline cache to disk if pipelines were created since the last save.
  void save_cache();
  // A memory type with all of `want` among those `bits` allows, or −1.
  int memory_type(uint32_t bits, VkMemoryPropertyFlags want) const;
  std::string name() const { return props.deviceName; }

 private:
  Status open();
  Status apply_limits_override();
  std::string cache_path() const;

  void* library_ = nullptr;
  VkPipelineCache cache_ = VK_NULL_HANDLE;
  bool cache_dirty_ = false;
  std::map<std::string, VkShaderModule> modules_;
  std::map<std::string, VkPipeline> pipelines_;
  std::mutex mutex_;
};

// Programs own the device: it lives while one of them does and is torn down by
// the last one's destructor, never by a static destructor at exit (by then the
// driver's own statics may be gone). Only a weak reference and the reason a
// device could not be opened outlive the programs.
Result<std::shared_ptr<Device>> Device::get() {
  static std::mutex m;
  static std::weak_ptr<Device> shared;
  static Status failure;
  std::lock_guard<std::mutex> lock(m);
  if (!failure.ok()) return failure;
  if (std::shared_ptr<Device> live = shared.lock()) return live;
  auto d = std::make_shared<Device>();
  if (Status s = d->open(); !s.ok()) return failure = s;
  shared = d;
  return d;
}

Status Device::open() {
  for (const char* lib : {"libvulkan.so.1", "libvulkan.so"})
    if ((library_ = dlopen(lib, RTLD_NOW | RTLD_LOCAL))) break;
  if (!library_)
    return Status::error(
        "the Vulkan loader (libvulkan.so.1) is not installed; on Debian: apt-get install libvulkan1 "
        "mesa-vulkan-drivers");
  fn.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(dlsym(library_, "vkGetInstanceProcAddr"));
  if (!fn.vkGetInstanceProcAddr) return Status::error("the Vulkan loader exports no vkGetInstanceProcAddr");
  fn.vkCreateInstance = reinterpret_cast<PFN_vkCreateInstance>(fn.vkGetInstanceProcAddr(nullptr, "vkCreateInstance"));

  auto app = info<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  app.pApplicationName = "gantry";
  app.apiVersion = VK_API_VERSION_1_1;
  auto ici = info<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  ici.pApplicationInfo = &app;
  if (VkResult r = fn.vkCreateInstance(&ici, nullptr, &instance); r != VK_SUCCESS)
    return Status::error(r == VK_ERROR_INCOMPATIBLE_DRIVER
                             ? "no Vulkan 1.1 driver is installed (VK_ERROR_INCOMPATIBLE_DRIVER)"
                             : vk_error("vkCreateInstance", r));
#define GANTRY_VK_FN(name) fn.name = reinterpret_cast<PFN_##name>(fn.vkGetInstanceProcAddr(instance, #name));
  GANTRY_VK_INSTANCE_FNS(GANTRY_VK_FN)
#undef GANTRY_VK_FN

  uint32_t count = 0;
  fn.vkEnumeratePhysicalDevices(instance, &count, nullptr);
  std::vector<VkPhysicalDevice> devices(count);
  fn.vkEnumeratePhysicalDevices(instance, &count, devices.data());
  // Candidates: Vulkan ≥ 1.1 with a compute queue; ranked discrete, integrated, virtual, CPU.
  struct Candidate {
    VkPhysicalDevice pd;
    uint32_t family;
    int rank;
  };
  std::vector<Candidate> usable;
  for (VkPhysicalDevice pd : devices) {
    VkPhysicalDeviceProperties p;
    fn.vkGetPhysicalDeviceProperties(pd, &p);
    if (p.apiVersion < VK_API_VERSION_1_1) continue;
    uint32_t nq = 0;
    fn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qs(nq);
    fn.vkGetPhysicalDeviceQueueFamilyProperties(pd, &nq, qs.data());
    for (uint32_t q = 0; q < nq; ++q)
      if (qs[q].queueFlags & VK_QUEUE_COMPUTE_BIT) {
        const int rank = p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU     ? 0
                         : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ? 1
                         : p.deviceType == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU    ? 2
                                                                                  : 3;
        usable.push_back({pd, q, rank});
        break;
      }
  }
  if (usable.empty())
    return Status::error("no Vulkan 1.1 device with a compute queue (" + std::to_string(count) +
                         " devices found; for a CPU driver on Debian: apt-get install mesa-vulkan-drivers)");
  std::stable_sort(usable.begin(), usable.end(),
                   [](const Candidate& a, const Candidate& b) { return a.rank < b.rank; });
  size_t pick = 0;
  if (const char* e = std::getenv("GANTRY_VULKAN_DEVICE")) {
    pick = size_t(std::strtoul(e, nullptr, 10));
    if (pick >= usable.size())
      return Status::error("GANTRY_VULKAN_DEVICE=" + std::string(e) + " but only " + std::to_string(usable.size()) +
                           " usable Vulkan devices are present");
  }
  physical = usable[pick].pd;
  queue_family = usable[pick].family;
  fn.vkGetPhysicalDeviceProperties(physical, &props);
  fn.vkGetPhysicalDeviceMemoryProperties(physical, &mem);
  {
    uint32_t nq = 0;
    fn.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, nullptr);
    std::vector<VkQueueFamilyProperties> qs(nq);
    fn.vkGetPhysicalDeviceQueueFamilyProperties(physical, &nq, qs.data());
    timestamps = qs[queue_family].timestampValidBits > 0 && props.limits.timestampPeriod > 0;
  }

  // Subgroup arithmetic in compute shaders (core 1.1 properties; optional feature).
  // GANTRY_VULKAN_NO_SUBGROUP=1 keeps to the plain shaders (tests run both).
  {
    auto sg = info<VkPhysicalDeviceSubgroupProperties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES);
    auto m3 = info<VkPhysicalDeviceMaintenance3Properties>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES);
    sg.pNext = &m3;
    auto p2 = info<VkPhysicalDeviceProperties2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2);
    p2.pNext = &sg;
    fn.vkGetPhysicalDeviceProperties2(physical, &p2);
    const char* off = std::getenv("GANTRY_VULKAN_NO_SUBGROUP");
    caps.subgroup_size = sg.subgroupSize;
    caps.subgroup_arithmetic = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                               (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                               !(off && std::strcmp(off, "0") != 0);
    max_allocation = m3.maxMemoryAllocationSize;
  }
  auto storage16_features =
      info<VkPhysicalDevice16BitStorageFeatures>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
  {
    auto f2 = info<VkPhysicalDeviceFeatures2>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2);
    f2.pNext = &storage16_features;
    fn.vkGetPhysicalDeviceFeatures2(physical, &f2);
    const char* off = std::getenv("GANTRY_VULKAN_NO_FP16");
    storage16 = storage16_features.storageBuffer16BitAccess && !(off && std::strcmp(off, "0") != 0);
    if (storage16 && fp16_miscompiles(props.deviceName)) {
      storage16 = false;
      storage16_note = "no (this driver offers it but cannot compile it; --precision fp16 runs in float32 here)";
    }
    // Enable only what is used, so that the device is the same with or without it.
    storage16_features =
        info<VkPhysicalDevice16BitStorageFeatures>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES);
    storage16_features.storageBuffer16BitAccess = storage16 ? VK_TRUE : VK_FALSE;
  }
  GANTRY_TRY(apply_limits_override());
  // The encoders fit every dispatch to these (after the override, which they must not see past).
  const VkPhysicalDeviceLimits& l = props.limits;
  caps.max_invocations = l.maxComputeWorkGroupInvocations;
  caps.max_local_x = l.maxComputeWorkGroupSize[0];
  caps.max_shared_bytes = l.maxComputeSharedMemorySize;
  for (int a = 0; a < 3; ++a) caps.max_groups[a] = l.maxComputeWorkGroupCount[a];
  {
    const char* off = std::getenv("GANTRY_VULKAN_NO_UNIFIED");
    // On a discrete GPU such a type is its PCIe BAR (resizable BAR): the host
    // reads it uncached, which read() would pay for, and the copies it saves
    // are cheap there. So discrete GPUs stay staged.
    unified = props.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU && memory_type(~0u, kUnifiedMemory) >= 0 &&
              !(off && std::strcmp(off, "0") != 0);
  }

  const float priority = 1.0f;
  auto qci = info<VkDeviceQueueCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO);
  qci.queueFamilyIndex = queue_family;
  qci.queueCount = 1;
  qci.pQueuePriorities = &priority;
  auto dci = info<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
  dci.pNext = storage16 ? &storage16_features : nullptr;
  dci.queueCreateInfoCount = 1;
  dci.pQueueCreateInfos = &qci;
  GANTRY_VK_TRY(fn.vkCreateDevice(physical, &dci, nullptr, &device));
#define GANTRY_VK_FN(name) fn.name = reinterpret_cast<PFN_##name>(fn.vkGetDeviceProcAddr(device, #name));
  GANTRY_VK_DEVICE_FNS(GANTRY_VK_FN)
#undef GANTRY_VK_FN
  fn.vkGetDeviceQueue(device, queue_family, 0, &queue);

  // One layout for every shader: the operand slots, the step uniforms, 128 bytes of push constants.
  VkDescriptorSetLayoutBinding bindings[kBindings] = {};
  for (uint32_t b = 0; b < kBindings; ++b) {
    bindings[b].binding = b;
    bindings[b].descriptorType =
        b == kStepBinding ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    bindings[b].descriptorCount = 1;
    bindings[b].stageFlags = VK_SHADER_STAGE_COMPUTE_BIT;
  }
  auto sli = info<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  sli.bindingCount = kBindings;
  sli.pBindings = bindings;
  GANTRY_VK_TRY(fn.vkCreateDescriptorSetLayout(device, &sli, nullptr, &set_layout));
  VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, vk::kPushWords * 4};
  auto pli = info<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &set_layout;
  pli.pushConstantRangeCount = 1;
  pli.pPushConstantRanges = &range;
  GANTRY_VK_TRY(fn.vkCreatePipelineLayout(device, &pli, nullptr, &layout));

  // The pipeline cache from the last run on this device, when its header matches.
  std::vector<std::byte> saved;
  if (auto bytes = read_file(cache_path()); bytes.ok()) {
    VkPipelineCacheHeaderVersionOne h{};
    if (bytes->size() >= sizeof h) std::memcpy(&h, bytes->data(), sizeof h);
    if (h.vendorID == props.vendorID && h.deviceID == props.deviceID &&
        std::memcmp(h.pipelineCacheUUID, props.pipelineCacheUUID, VK_UUID_SIZE) == 0)
      saved = std::move(*bytes);
  }
  auto pci = info<VkPipelineCacheCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO);
  pci.initialDataSize = saved.size();
  pci.pInitialData = saved.empty() ? nullptr : saved.data();
  GANTRY_VK_TRY(fn.vkCreatePipelineCache(device, &pci, nullptr, &cache_));
  return {};
}

// GANTRY_VULKAN_LIMITS=min: gantry believes the device offers no more than the
// minimums every Vulkan 1.1 device must (Vulkan spec, "Required Limits"), and a
// storage-buffer range of 16 MiB, below the required 128 MiB, so that lavapipe
// exercises what a small GPU would: small shared memory and workgroups, and
// arenas bound through several windows. The device itself is unchanged.
Status Device::apply_limits_override() {
  const char* e = std::getenv("GANTRY_VULKAN_LIMITS");
  if (!e || !*e) return {};
  if (std::strcmp(e, "min") != 0)
    return Status::error("GANTRY_VULKAN_LIMITS=" + std::string(e) + " is not understood (the one setting is 'min')");
  VkPhysicalDeviceLimits& l = props.limits;
  auto clamp = [](auto& v, auto most) { v = std::min<std::remove_reference_t<decltype(v)>>(v, most); };
  clamp(l.maxComputeSharedMemorySize, 16384u);
  clamp(l.maxComputeWorkGroupInvocations, 128u);
  for (uint32_t a = 0; a < 3; ++a) clamp(l.maxComputeWorkGroupCount[a], 65535u);
  clamp(l.maxComputeWorkGroupSize[0], 128u);
  clamp(l.maxComputeWorkGroupSize[1], 128u);
  clamp(l.maxComputeWorkGroupSize[2], 64u);
  clamp(l.maxStorageBufferRange, uint32_t(16) << 20);
  clamp(l.maxPerStageDescriptorStorageBuffers, 4u);
  clamp(l.maxPushConstantsSize, 128u);
  l.minStorageBufferOffsetAlignment = std::max<VkDeviceSize>(l.minStorageBufferOffsetAlignment, 256);
  clamp(max_allocation, VkDeviceSize(1) << 30);
  return {};
}

Device::~Device() {
  if (!device) return;
  fn.vkDeviceWaitIdle(device);
  save_cache();
  for (auto& [key, p] : pipelines_) fn.vkDestroyPipeline(device, p, nullptr);
  for (auto& [key, m] : modules_) fn.vkDestroyShaderModule(device, m, nullptr);
  fn.vkDestroyPipelineCache(device, cache_, nullptr);
  fn.vkDestroyPipelineLayout(device, layout, nullptr);
  fn.vkDestroyDescriptorSetLayout(device, set_layout, nullptr);
  fn.vkDestroyDevice(device, nullptr);
  fn.vkDestroyInstance(instance, nullptr);
}

std::string Device::cache_path() const {
  std::string dir;
  if (const char* e = std::getenv("GANTRY_CACHE_DIR"))
    dir = e;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"))
    dir = std::string(x) + "/gantry";
  else if (const char* h = std::getenv("HOME"))
    dir = std::string(h) + "/.cache/gantry";
  else
    return "";
  char file[96];
  std::snprintf(file, sizeof file, "/vulkan-pipelines-%04x-%04x.bin", props.vendorID, props.deviceID);
  return dir + file;
}

void Device::save_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string path = cache_path();
  if (!cache_dirty_ || path.empty()) return;
  size_t size = 0;
  if (fn.vkGetPipelineCacheData(device, cache_, &size, nullptr) != VK_SUCCESS) return;
  std::vector<std::byte> data(size);
  if (fn.vkGetPipelineCacheData(device, cache_, &size, data.data()) != VK_SUCCESS) return;
  data.resize(size);
  // A cache that cannot be written only costs the next start its compile time.
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (write_file_atomic(path, data).ok()) cache_dirty_ = false;
}

int Device::memory_type(uint32_t bits, VkMemoryPropertyFlags want) const {
  for (uint32_t i = 0; i < mem.memoryTypeCount; ++i)
    if ((bits >> i & 1u) && (mem.memoryTypes[i].propertyFlags & want) == want) return int(i);
  return -1;
}

Result<VkPipeline> Device::pipeline(const vk::Dispatch& d, uint32_t half_slots) {
  const std::string shader = std::string(d.shader) + (half_slots ? "_f16" : "");
  std::string key = shader + "/" + std::to_string(d.local) + "/" + std::to_string(half_slots);
  for (uint32_t s : d.spec) key += "," + std::to_string(s);
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = pipelines_.find(key); it != pipelines_.end()) return it->second;

  VkShaderModule& module = modules_[shader];
  if (!module) {
    const EmbeddedShader* found = nullptr;
    for (const EmbeddedShader& e : kEmbeddedShaders)
      if (shader == e.name) found = &e;
    if (!found) {
      modules_.erase(shader);
      return Status::error("vulkan: no shader " + shader + " (compute_shaders/" + d.shader + ".comp) in this build");
    }
    auto mi = info<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    mi.codeSize = found->bytes;
    mi.pCode = found->words;
    if (VkResult r = fn.vkCreateShaderModule(device, &mi, nullptr, &module); r != VK_SUCCESS) {
      modules_.erase(shader);
      return Status::error("vulkan: shader " + shader + ": " + vk_error("vkCreateShaderModule", r));
    }
  }
  // constant_id i = spec[i], then the workgroup size (LOCAL, local_size_x_id)
  // and, in an _f16 build, HALF_SLOTS after them.
  std::vector<uint32_t> values = d.spec;
  values.push_back(d.local);
  if (half_slots) values.push_back(half_slots);
  std::vector<VkSpecializationMapEntry> entries(values.size());
  for (uint32_t i = 0; i < d.spec.size(); ++i) entries[i] = {i, i * 4, 4};
  entries[d.spec.size()] = {vk::kLocalSizeId, uint32_t(d.spec.size()) * 4, 4};
  if (half_slots) entries.back() = {vk::kHalfSlotsId, uint32_t(d.spec.size() + 1) * 4, 4};
  VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), values.size() * 4, values.data()};
  auto ci = info<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  ci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
  ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
  ci.stage.module = module;
  ci.stage.pName = "main";
  ci.stage.pSpecializationInfo = &si;
  ci.layout = layout;
  VkPipeline p = VK_NULL_HANDLE;
  if (VkResult r = fn.vkCreateComputePipelines(device, cache_, 1, &ci, nullptr, &p); r != VK_SUCCESS)
    return Status::error("vulkan: shader " + shader + ": " + vk_error("vkCreateComputePipelines", r));
  pipelines_[key] = p;
  cache_dirty_ = true;
  return p;
}

// ---- the program

// Byte ranges a node touches, for deciding where barriers are needed.
struct Range {
  int64_t lo, hi;
  bool overlaps(const Range& o) const { return lo < o.hi && o.lo < hi; }
};
bool any_overlap(const std::vector<Range>& a, const std::vector<Range>& b) {
  for (const Range& x : a)
    for (const Range& y : b)
      if (x.overlaps(y)) return true;
  return false;
}

class VulkanProgram final : public PlannedProgram {
 public:
  // fp16_requested: the program was compiled for fp16 storage (the plan's
  // values are 2 bytes where the device has 16-bit storage, else 4).
  VulkanProgram(const Graph& g, Plan plan, const std::vector<Value>& outputs, std::shared_ptr<Device> dev, bool profile,
                bool fp16_requested)
      : PlannedProgram(g, std::move(plan), outputs),
        dev_(std::move(dev)),
        profile_(profile),
        half_(std::find(plan_.value_size.begin(), plan_.value_size.end(), 2) != plan_.value_size.end()),
        fp16_requested_(fp16_requested) {}
  ~VulkanProgram() override;

  Status build();
  Status step(const StepUniforms& u) override;
  Status write(Value v, const float* src, int64_t count) override;
  Status read(Value v, float* dst, int64_t count) const override;
  std::vector<std::pair<std::string, double>> op_seconds() const override { return by_op(seconds_per_op_); }
  // Says which memory path and storage the program took (tests check each is run).
  std::string device() const override {
    return dev_->name() + (unified_ ? " (unified memory)" : "") +
           (half_             ? " (fp16 storage)"
            : fp16_requested_ ? " (fp16 asked for; no usable 16-bit storage buffers here: float32)"
                              : "");
  }

 private:
  // Where a slot bound at an arena byte offset sees it: in the host buffer
  // (unified inputs) or the arena, from `base` for `range` bytes, and the
  // offset's position in bytes from `base`.
  struct Window {
    bool host;
    VkDeviceSize base, range, at;
  };
  Window window(int64_t arena_offset) const;
  // The arena byte offset of a dispatch slot's operand of node id (0 for none).
  int64_t operand_offset(int32_t id, vk::Operand o) const;
  // Ok when every operand of node id fits in its window.
  Status check_windows(int32_t id) const;
  // One descriptor set per distinct set of windows; set_of[s][k]: dispatch k of schedule entry s.
  Status create_sets(const std::vector<std::vector<vk::Dispatch>>& dispatches,
                     std::vector<std::vector<VkDescriptorSet>>& set_of);
  Status create_buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want,
                       VkMemoryPropertyFlags prefer, VkBuffer& buffer, VkDeviceMemory& memory);
  Status record_step(const std::vector<std::vector<vk::Dispatch>>& dispatches,
                     const std::vector<std::vector<VkDescriptorSet>>& set_of);
  // Runs `record` in the transfer command buffer and waits for it.
  template <class F>
  Status run_transfer(F record) const;
  Status submit_and_wait(VkCommandBuffer cb) const;
  void memory_barrier(VkCommandBuffer cb, VkPipelineStageFlags src_stage, VkAccessFlags src,
                      VkPipelineStageFlags dst_stage, VkAccessFlags dst) const;
  Status check_accessible(Value v, int64_t count) const;
  // Bytes of node id's value; of its scratch.
  int64_t value_bytes(int32_t id) const { return plan_.value_bytes(id, graph_); }
  int64_t scratch_bytes(int32_t id) const { return plan_.scratch_elems[id] * plan_.work_size; }
  // The node a dispatch slot of node id is bound to, or −1 (scratch, none).
  int32_t operand_node(int32_t id, vk::Operand o) const;
  // HALF_SLOTS for a dispatch of node id: the slots bound to a binary16 value.
  uint32_t half_slots(int32_t id, const vk::Dispatch& d) const;
  // Host floats to the elements of `size` bytes at dst (2: binary16), and back.
  static void to_device(const float* src, std::byte* dst, int64_t count, int64_t size);
  static void from_device(const std::byte* src, float* dst, int64_t count, int64_t size);

  std::shared_ptr<Device> dev_;
  bool profile_;
  bool half_;  // some values stored as binary16 (plan_.value_size 2)
  bool fp16_requested_;
  bool unified_ = false;  // inputs and step uniforms read from the host buffer (see the top)
  // staging_: the host buffer; steps_: the device-local step uniforms (staged path only).
  VkBuffer arena_ = VK_NULL_HANDLE, staging_ = VK_NULL_HANDLE, steps_ = VK_NULL_HANDLE;
  VkDeviceMemory arena_mem_ = VK_NULL_HANDLE, staging_mem_ = VK_NULL_HANDLE, steps_mem_ = VK_NULL_HANDLE;
  std::byte* mapped_ = nullptr;
  VkDeviceSize arena_bytes_ = 0, staging_bytes_ = 0;
  VkDeviceSize inputs_begin_ = 0, inputs_bytes_ = 0;  // the arena's inputs region
  VkDeviceSize chunk_at_ = 0, staging_chunk_ = 0;     // where write()/read() copies pass in staging
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkCommandPool commands_ = VK_NULL_HANDLE;
  VkCommandBuffer step_cb_ = VK_NULL_HANDLE, transfer_cb_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  std::vector<Op> timed_ops_;           // profile: the op of each timestamp interval
  std::vector<double> seconds_per_op_;  // profile: indexed by Op
};

constexpr VkDeviceSize kStepBytes = 256;  // step uniforms at the start of staging; the inputs mirror follows
constexpr VkDeviceSize kStepValues = 16;  // {seed lo, seed hi, step lo, step hi}
constexpr VkDeviceSize kMaxStagingChunk = VkDeviceSize(64) << 20;

VulkanProgram::~VulkanProgram() {
  const Fns& f = dev_->fn;
  VkDevice d = dev_->device;
  {
    std::lock_guard<std::mutex> lock(dev_->queue_mutex);  // vkDeviceWaitIdle synchronizes with every queue
    f.vkDeviceWaitIdle(d);
  }
  if (queries_) f.vkDestroyQueryPool(d, queries_, nullptr);
  if (fence_) f.vkDestroyFence(d, fence_, nullptr);
  if (commands_) f.vkDestroyCommandPool(d, commands_, nullptr);
  if (pool_) f.vkDestroyDescriptorPool(d, pool_, nullptr);
  for (VkBuffer b : {arena_, staging_, steps_})
    if (b) f.vkDestroyBuffer(d, b, nullptr);
  for (VkDeviceMemory m : {arena_mem_, staging_mem_, steps_mem_})
    if (m) f.vkFreeMemory(d, m, nullptr);
}

Status VulkanProgram::create_buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want,
                                    VkMemoryPropertyFlags prefer, VkBuffer& buffer, VkDeviceMemory& memory) {
  const Fns& f = dev_->fn;
  auto bi = info<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bi.size = size;
  bi.usage = usage;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  GANTRY_VK_TRY(f.vkCreateBuffer(dev_->device, &bi, nullptr, &buffer));
  VkMemoryRequirements req;
  f.vkGetBufferMemoryRequirements(dev_->device, buffer, &req);
  int type = dev_->memory_type(req.memoryTypeBits, want | prefer);
  if (type < 0) type = dev_->memory_type(req.memoryTypeBits, want);
  if (type < 0) return Status::error("vulkan: no suitable memory type for a " + std::to_string(size) + "-byte buffer");
  auto ai = info<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = uint32_t(type);
  if (VkResult r = f.vkAllocateMemory(dev_->device, &ai, nullptr, &memory); r != VK_SUCCESS)
    return Status::error("vulkan: cannot allocate " + std::to_string(req.size) + " bytes on " + dev_->name() + ": " +
                         vk_error("vkAllocateMemory", r));
  GANTRY_VK_TRY(f.vkBindBufferMemory(dev_->device, buffer, memory, 0));
  return {};
}

VulkanProgram::Window VulkanProgram::window(int64_t arena_offset) const {
  const VkDeviceSize at = VkDeviceSize(arena_offset);
  const bool host = unified_ && at >= inputs_begin_ && at < inputs_begin_ + inputs_bytes_;
  const VkDeviceSize pos = host ? kStepBytes + (at - inputs_begin_) : at;
  const VkDeviceSize size = host ? staging_bytes_ : arena_bytes_;
  const VkPhysicalDeviceLimits& l = dev_->props.limits;
  // size − 1: an empty tensor may sit at the buffer's end, and a range must not be empty.
  const VkDeviceSize base =
      std::min(pos, size - 1) / l.minStorageBufferOffsetAlignment * l.minStorageBufferOffsetAlignment;
  return {host, base, std::min<VkDeviceSize>(l.maxStorageBufferRange, size - base), pos - base};
}

int32_t VulkanProgram::operand_node(int32_t id, vk::Operand o) const {
  if (o == vk::Operand::none || o == vk::Operand::scratch) return -1;
  return o == vk::Operand::out ? id : graph_.node(id).inputs[size_t(o) - size_t(vk::Operand::in0)];
}

int64_t VulkanProgram::operand_offset(int32_t id, vk::Operand o) const {
  if (o == vk::Operand::scratch) return plan_.scratch[id];
  const int32_t node = operand_node(id, o);
  return node < 0 ? 0 : plan_.offset[node];
}

Status VulkanProgram::check_windows(int32_t id) const {
  const Node& n = graph_.node(id);
  auto check = [&](const std::string& what, int64_t offset, int64_t bytes) -> Status {
    const Window w = window(offset);
    if (w.at + VkDeviceSize(bytes) <= w.range) return {};
    return Status::error("vulkan: " + std::string(op_name(n.op)) + " node " + std::to_string(id) + ": its " + what +
                         " is " + std::to_string(bytes) + " bytes, more than " + dev_->name() +
                         " can bind as one storage buffer (maxStorageBufferRange " +
                         std::to_string(dev_->props.limits.maxStorageBufferRange) +
                         " bytes); use a smaller batch or model, or another device or backend");
  };
  for (size_t k = 0; k < n.inputs.size(); ++k) {
    const Node& in = graph_.node(n.inputs[k]);
    const std::string what = "input " + std::to_string(k) + (in.name.empty() ? "" : " '" + in.name + "'");
    GANTRY_TRY(check(what, plan_.offset[n.inputs[k]], value_bytes(n.inputs[k])));
  }
  GANTRY_TRY(check("output", plan_.offset[id], value_bytes(id)));
  if (plan_.scratch[id] >= 0) GANTRY_TRY(check("scratch", plan_.scratch[id], scratch_bytes(id)));
  return {};
}

Status VulkanProgram::build() {
  const Fns& f = dev_->fn;
  VkDevice d = dev_->device;
  arena_bytes_ = VkDeviceSize(std::max<int64_t>(plan_.bytes.total(), kArenaAlign));
  unified_ = dev_->unified;
  inputs_begin_ = VkDeviceSize(plan_.bytes.params + plan_.bytes.state + plan_.bytes.data);
  inputs_bytes_ = VkDeviceSize(plan_.bytes.inputs);
  chunk_at_ = kStepBytes + (inputs_bytes_ + kStepBytes - 1) / kStepBytes * kStepBytes;
  staging_chunk_ = std::min<VkDeviceSize>(arena_bytes_, kMaxStagingChunk);
  staging_bytes_ = chunk_at_ + staging_chunk_;

  // Encode every scheduled node before touching the device, so a missing
  // kernel or an operand too large to bind is reported first (before an arena
  // too large to allocate).
  std::vector<std::vector<vk::Dispatch>> dispatches(plan_.schedule.size());
  for (size_t s = 0; s < plan_.schedule.size(); ++s) {
    const int32_t id = plan_.schedule[s];
    const Node& n = graph_.node(id);
    const vk::VkOpDef& def = vk::vk_op_def(n.op);
    if (!def.encode) return Status::error(std::string("vulkan: no kernel for op ") + op_name(n.op));
    GANTRY_TRY(check_windows(id));
    vk::NodeArgs a;
    fill_args(id, a, [&](int64_t byte_offset, int32_t node) {
      return uint32_t(window(byte_offset).at / plan_.value_size[size_t(node)]);
    });
    a.scratch = plan_.scratch[id] >= 0 ? uint32_t(window(plan_.scratch[id]).at / plan_.work_size) : 0;
    a.caps = dev_->caps;
    def.encode(a, dispatches[s]);
    for (const vk::Dispatch& dp : dispatches[s])
      if (Status st = vk::check_limits(dp, dev_->caps); !st.ok())
        return Status::error(std::string(op_name(n.op)) + " on " + dev_->name() + ": " + st.message());
  }

  if (arena_bytes_ > dev_->max_allocation) {
    const ArenaBytes& b = plan_.bytes;
    return Status::error("vulkan: the arena needs " + std::to_string(arena_bytes_) + " bytes (params " +
                         std::to_string(b.params) + ", state " + std::to_string(b.state) + ", data " +
                         std::to_string(b.data) + ", inputs " + std::to_string(b.inputs) + ", transient " +
                         std::to_string(b.transient) + "), more than " + dev_->name() +
                         " allocates at once (maxMemoryAllocationSize " + std::to_string(dev_->max_allocation) +
                         " bytes); use a smaller batch or dataset, or another device or backend");
  }
  GANTRY_TRY(create_buffer(
      arena_bytes_,
      VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, 0,
      VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, arena_, arena_mem_));
  const VkBufferUsageFlags host_usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  GANTRY_TRY(create_buffer(
      staging_bytes_, host_usage,
      unified_ ? kUnifiedMemory : VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
      VK_MEMORY_PROPERTY_HOST_CACHED_BIT, staging_, staging_mem_));
  if (!unified_)
    GANTRY_TRY(create_buffer(kStepValues, VK_BUFFER_USAGE_UNIFORM_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, 0,
                             VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, steps_, steps_mem_));
  void* mapped = nullptr;
  GANTRY_VK_TRY(f.vkMapMemory(d, staging_mem_, 0, VK_WHOLE_SIZE, 0, &mapped));
  mapped_ = static_cast<std::byte*>(mapped);
  std::vector<std::vector<VkDescriptorSet>> set_of;
  GANTRY_TRY(create_sets(dispatches, set_of));

  auto cpi = info<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  cpi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  cpi.queueFamilyIndex = dev_->queue_family;
  GANTRY_VK_TRY(f.vkCreateCommandPool(d, &cpi, nullptr, &commands_));
  VkCommandBuffer cbs[2];
  auto cba = info<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
  cba.commandPool = commands_;
  cba.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cba.commandBufferCount = 2;
  GANTRY_VK_TRY(f.vkAllocateCommandBuffers(d, &cba, cbs));
  step_cb_ = cbs[0];
  transfer_cb_ = cbs[1];
  auto fci = info<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
  GANTRY_VK_TRY(f.vkCreateFence(d, &fci, nullptr, &fence_));

  // A fresh arena is zero (optimizer moments start at zero, as on the CPU).
  GANTRY_TRY(run_transfer([&](VkCommandBuffer cb) { f.vkCmdFillBuffer(cb, arena_, 0, VK_WHOLE_SIZE, 0); }));
  GANTRY_TRY(record_step(dispatches, set_of));
  dev_->save_cache();
  return {};
}

Status VulkanProgram::create_sets(const std::vector<std::vector<vk::Dispatch>>& dispatches,
                                  std::vector<std::vector<VkDescriptorSet>>& set_of) {
  const Fns& f = dev_->fn;
  VkDevice d = dev_->device;
  // A set is named by its slots' windows: (host, base, range) each.
  using Key = std::array<std::tuple<bool, VkDeviceSize, VkDeviceSize>, vk::kSlots>;
  std::map<Key, size_t> index;
  std::vector<Key> keys;
  std::vector<std::vector<size_t>> key_of(dispatches.size());
  for (size_t s = 0; s < dispatches.size(); ++s)
    for (const vk::Dispatch& dp : dispatches[s]) {
      Key key;
      for (int k = 0; k < vk::kSlots; ++k) {
        const Window w = window(operand_offset(plan_.schedule[s], dp.slots[size_t(k)]));
        key[size_t(k)] = {w.host, w.base, w.range};
      }
      auto [it, added] = index.emplace(key, keys.size());
      if (added) keys.push_back(key);
      key_of[s].push_back(it->second);
    }
  const uint32_t n = uint32_t(std::max<size_t>(keys.size(), 1));
  VkDescriptorPoolSize ps[2] = {{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, n * vk::kSlots},
                                {VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER, n}};
  auto dpi = info<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
  dpi.maxSets = n;
  dpi.poolSizeCount = 2;
  dpi.pPoolSizes = ps;
  GANTRY_VK_TRY(f.vkCreateDescriptorPool(d, &dpi, nullptr, &pool_));
  std::vector<VkDescriptorSetLayout> layouts(keys.size(), dev_->set_layout);
  std::vector<VkDescriptorSet> sets(keys.size());
  if (!keys.empty()) {
    auto dsa = info<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
    dsa.descriptorPool = pool_;
    dsa.descriptorSetCount = uint32_t(keys.size());
    dsa.pSetLayouts = layouts.data();
    GANTRY_VK_TRY(f.vkAllocateDescriptorSets(d, &dsa, sets.data()));
  }
  const VkDescriptorBufferInfo step_info =
      unified_ ? VkDescriptorBufferInfo{staging_, 0, kStepValues} : VkDescriptorBufferInfo{steps_, 0, kStepValues};
  for (size_t i = 0; i < keys.size(); ++i) {
    VkDescriptorBufferInfo infos[kBindings];
    VkWriteDescriptorSet writes[kBindings] = {};
    for (uint32_t b = 0; b < kBindings; ++b) {
      if (b == kStepBinding) {
        infos[b] = step_info;
      } else {
        const auto [host, base, range] = keys[i][b];
        infos[b] = {host ? staging_ : arena_, base, range};
      }
      writes[b].sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET;
      writes[b].dstSet = sets[i];
      writes[b].dstBinding = b;
      writes[b].descriptorCount = 1;
      writes[b].descriptorType =
          b == kStepBinding ? VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[b].pBufferInfo = &infos[b];
    }
    f.vkUpdateDescriptorSets(d, kBindings, writes, 0, nullptr);
  }
  set_of.assign(dispatches.size(), {});
  for (size_t s = 0; s < dispatches.size(); ++s)
    for (size_t k : key_of[s]) set_of[s].push_back(sets[k]);
  return {};
}

Status VulkanProgram::record_step(const std::vector<std::vector<vk::Dispatch>>& dispatches,
                                  const std::vector<std::vector<VkDescriptorSet>>& set_of) {
  const Fns& f = dev_->fn;
  const bool timed = profile_ && dev_->timestamps;
  if (timed) {
    auto qi = info<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = uint32_t(plan_.schedule.size() + 1);
    GANTRY_VK_TRY(f.vkCreateQueryPool(dev_->device, &qi, nullptr, &queries_));
    seconds_per_op_.assign(size_t(kOpCount), 0.0);
  }
  auto bi = info<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  GANTRY_VK_TRY(f.vkBeginCommandBuffer(step_cb_, &bi));
  if (!unified_) {  // the step's host-written values into device memory
    const VkBufferCopy step_values{0, 0, kStepValues};
    f.vkCmdCopyBuffer(step_cb_, staging_, steps_, 1, &step_values);
    if (inputs_bytes_ > 0) {
      const VkBufferCopy c{kStepBytes, inputs_begin_, inputs_bytes_};
      f.vkCmdCopyBuffer(step_cb_, staging_, arena_, 1, &c);
    }
    memory_barrier(step_cb_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_UNIFORM_READ_BIT);
  }
  if (timed) {
    f.vkCmdResetQueryPool(step_cb_, queries_, 0, uint32_t(plan_.schedule.size() + 1));
    f.vkCmdWriteTimestamp(step_cb_, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queries_, 0);
  }
  auto barrier = [&] {
    memory_barrier(step_cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                   VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  };
  // Since the last barrier: what was written and what was read.
  std::vector<Range> written, read;
  VkPipeline bound = VK_NULL_HANDLE;
  VkDescriptorSet bound_set = VK_NULL_HANDLE;
  for (size_t s = 0; s < plan_.schedule.size(); ++s) {
    const int32_t id = plan_.schedule[s];
    const Node& n = graph_.node(id);
    std::vector<Range> reads, writes;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const Range r{plan_.offset[n.inputs[k]], plan_.offset[n.inputs[k]] + value_bytes(n.inputs[k])};
      (n.effect ? writes : reads).push_back(r);  // effects update their inputs in place
    }
    writes.push_back({plan_.offset[id], plan_.offset[id] + value_bytes(id)});
    if (plan_.scratch[id] >= 0) writes.push_back({plan_.scratch[id], plan_.scratch[id] + scratch_bytes(id)});
    if (profile_ || any_overlap(reads, written) || any_overlap(writes, written) || any_overlap(writes, read)) {
      barrier();
      written.clear();
      read.clear();
    }
    for (size_t k = 0; k < dispatches[s].size(); ++k) {
      const vk::Dispatch& dp = dispatches[s][k];
      auto p = dev_->pipeline(dp, half_slots(id, dp));
      if (!p.ok()) return Status::error(std::string(op_name(n.op)) + ": " + p.message());
      if (*p != bound) f.vkCmdBindPipeline(step_cb_, VK_PIPELINE_BIND_POINT_COMPUTE, bound = *p);
      if (set_of[s][k] != bound_set)
        f.vkCmdBindDescriptorSets(step_cb_, VK_PIPELINE_BIND_POINT_COMPUTE, dev_->layout, 0, 1,
                                  &(bound_set = set_of[s][k]), 0, nullptr);
      f.vkCmdPushConstants(step_cb_, dev_->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, vk::kPushWords * 4, dp.push.data());
      if (k > 0) barrier();  // a node's dispatches depend on each other
      f.vkCmdDispatch(step_cb_, dp.groups[0], dp.groups[1], dp.groups[2]);
    }
    written.insert(written.end(), writes.begin(), writes.end());
    read.insert(read.end(), reads.begin(), reads.end());
    if (timed) {
      barrier();
      f.vkCmdWriteTimestamp(step_cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, queries_, uint32_t(s + 1));
      timed_ops_.push_back(n.op);
    }
  }
  // Submissions are ordered but not memory-ordered: the step's writes must be
  // visible to the next transfer (read()/write()) and to the host.
  memory_barrier(step_cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_WRITE_BIT,
                 VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                 VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT);
  GANTRY_VK_TRY(f.vkEndCommandBuffer(step_cb_));
  return {};
}

void VulkanProgram::memory_barrier(VkCommandBuffer cb, VkPipelineStageFlags src_stage, VkAccessFlags src,
                                   VkPipelineStageFlags dst_stage, VkAccessFlags dst) const {
  auto mb = info<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
  mb.srcAccessMask = src;
  mb.dstAccessMask = dst;
  dev_->fn.vkCmdPipelineBarrier(cb, src_stage, dst_stage, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

Status VulkanProgram::submit_and_wait(VkCommandBuffer cb) const {
  const Fns& f = dev_->fn;
  auto si = info<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  GANTRY_VK_TRY(f.vkResetFences(dev_->device, 1, &fence_));
  {
    // Programs on several threads share the queue; vkQueueSubmit needs it externally synchronized.
    std::lock_guard<std::mutex> lock(dev_->queue_mutex);
    GANTRY_VK_TRY(f.vkQueueSubmit(dev_->queue, 1, &si, fence_));
  }
  GANTRY_VK_TRY(f.vkWaitForFences(dev_->device, 1, &fence_, VK_TRUE, UINT64_MAX));
  return {};
}

template <class F>
Status VulkanProgram::run_transfer(F record) const {
  const Fns& f = dev_->fn;
  GANTRY_VK_TRY(f.vkResetCommandBuffer(transfer_cb_, 0));
  auto bi = info<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  GANTRY_VK_TRY(f.vkBeginCommandBuffer(transfer_cb_, &bi));
  record(transfer_cb_);
  // The copy's writes, visible to the next step's shaders and to the host (read()).
  memory_barrier(transfer_cb_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT,
                 VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_HOST_BIT,
                 VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                     VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_HOST_READ_BIT);
  GANTRY_VK_TRY(f.vkEndCommandBuffer(transfer_cb_));
  return submit_and_wait(transfer_cb_);
}

Status VulkanProgram::step(const StepUniforms& u) {
  const uint32_t words[4] = {uint32_t(u.seed), uint32_t(u.seed >> 32), uint32_t(u.step), uint32_t(u.step >> 32)};
  std::memcpy(mapped_, words, sizeof words);
  if (Status s = submit_and_wait(step_cb_); !s.ok())
    return Status::error("vulkan step on " + dev_->name() + ": " + s.message());
  if (queries_) {
    std::vector<uint64_t> t(timed_ops_.size() + 1);
    GANTRY_VK_TRY(dev_->fn.vkGetQueryPoolResults(dev_->device, queries_, 0, uint32_t(t.size()), t.size() * 8, t.data(),
                                                 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT));
    const double tick = double(dev_->props.limits.timestampPeriod) * 1e-9;
    for (size_t i = 0; i < timed_ops_.size(); ++i)
      seconds_per_op_[size_t(timed_ops_[i])] += double(t[i + 1] - t[i]) * tick;
  }
  return {};
}

uint32_t VulkanProgram::half_slots(int32_t id, const vk::Dispatch& d) const {
  uint32_t bits = 0;
  for (int k = 0; k < vk::kSlots; ++k)
    if (const int32_t node = operand_node(id, d.slots[size_t(k)]); node >= 0 && plan_.value_size[size_t(node)] == 2)
      bits |= 1u << k;
  return bits;
}

void VulkanProgram::to_device(const float* src, std::byte* dst, int64_t count, int64_t size) {
  if (size == 4) {
    std::memcpy(dst, src, size_t(count) * 4);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    const uint16_t h = half_bits(src[i]);
    std::memcpy(dst + 2 * i, &h, 2);
  }
}

void VulkanProgram::from_device(const std::byte* src, float* dst, int64_t count, int64_t size) {
  if (size == 4) {
    std::memcpy(dst, src, size_t(count) * 4);
    return;
  }
  for (int64_t i = 0; i < count; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, 2);
    dst[i] = half_value(h);
  }
}

Status VulkanProgram::write(Value v, const float* src, int64_t count) {
  GANTRY_TRY(check_access(v, count));
  const int64_t size = plan_.value_size[size_t(v.id)];
  const VkDeviceSize total = VkDeviceSize(count * size), base = VkDeviceSize(plan_.offset[v.id]);
  if (graph_.node(v).role == Role::input) {  // the next step copies it in
    to_device(src, mapped_ + kStepBytes + (base - inputs_begin_), count, size);
    return {};
  }
  for (VkDeviceSize done = 0; done < total; done += staging_chunk_) {
    const VkDeviceSize n = std::min(staging_chunk_, total - done);
    to_device(src + done / size, mapped_ + chunk_at_, int64_t(n) / size, size);
    GANTRY_TRY(run_transfer([&](VkCommandBuffer cb) {
      const VkBufferCopy c{chunk_at_, base + done, n};
      dev_->fn.vkCmdCopyBuffer(cb, staging_, arena_, 1, &c);
    }));
  }
  return {};
}

Status VulkanProgram::read(Value v, float* dst, int64_t count) const {
  GANTRY_TRY(check_access(v, count));
  const int64_t size = plan_.value_size[size_t(v.id)];
  const VkDeviceSize total = VkDeviceSize(count * size), base = VkDeviceSize(plan_.offset[v.id]);
  if (graph_.node(v).role == Role::input) {  // host-owned: the mirror is the latest value
    from_device(mapped_ + kStepBytes + (base - inputs_begin_), dst, count, size);
    return {};
  }
  for (VkDeviceSize done = 0; done < total; done += staging_chunk_) {
    const VkDeviceSize n = std::min(staging_chunk_, total - done);
    GANTRY_TRY(run_transfer([&](VkCommandBuffer cb) {
      const VkBufferCopy c{base + done, chunk_at_, n};
      dev_->fn.vkCmdCopyBuffer(cb, arena_, staging_, 1, &c);
    }));
    from_device(mapped_ + chunk_at_, dst + done / size, int64_t(n) / size, size);
  }
  return {};
}

int64_t vulkan_scratch_elems(const Graph& g, const Node& n) {
  auto fn = vk::vk_op_def(n.op).scratch_elems;
  if (!fn) return 0;
  // compile_vulkan opened the device before planning; the encoders' splits depend on its limits.
  auto dev = Device::get();
  return fn(g, n, dev.ok() ? (*dev)->caps : vk::DeviceCaps{});
}

}  // namespace

Status vulkan_probe() {
  auto d = Device::get();
  return d.ok() ? Status{} : d.status();
}

std::string vulkan_describe() {
  auto d = Device::get();
  if (!d.ok()) return d.message();
  const Device& dev = **d;
  const VkPhysicalDeviceLimits& l = dev.props.limits;
  const char* limits = std::getenv("GANTRY_VULKAN_LIMITS");
  char text[768];
  std::snprintf(text, sizeof text,
                "%s (Vulkan %u.%u, driver 0x%x); limits%s: %u B shared memory, %u invocations per workgroup, "
                "storage buffer range %.0f MiB, allocation %.0f MiB, subgroup %u%s; fp16 storage: %s",
                dev.props.deviceName, VK_API_VERSION_MAJOR(dev.props.apiVersion),
                VK_API_VERSION_MINOR(dev.props.apiVersion), dev.props.driverVersion,
                limits && *limits ? " (GANTRY_VULKAN_LIMITS=min)" : "", l.maxComputeSharedMemorySize,
                l.maxComputeWorkGroupInvocations, double(l.maxStorageBufferRange) / (1 << 20),
                double(dev.max_allocation) / (1 << 20), dev.caps.subgroup_size,
                dev.caps.subgroup_arithmetic ? " with arithmetic" : "",
                dev.storage16                ? "yes (16-bit storage buffers)"
                : dev.storage16_note.empty() ? "no (--precision fp16 runs in float32 here)"
                                             : dev.storage16_note.c_str());
  return text;
}

Result<std::unique_ptr<Program>> compile_vulkan(const Graph& g, const CompileOptions& options) {
  auto dev = Device::get();
  if (!dev.ok()) return dev.status();
  const bool fp16 = options.precision == Precision::fp16;
  // Values in binary16 where the device stores it; scratch (split-K slices, reduction chunks) in float32.
  auto plan = plan_arena(g, options.outputs, 4, fp16 && (*dev)->storage16 ? half_storage(g) : std::vector<char>{},
                         vulkan_scratch_elems, nullptr);
  if (!plan.ok()) return plan.status();
  auto p = std::make_unique<VulkanProgram>(g, std::move(*plan), options.outputs, *dev, options.profile, fp16);
  GANTRY_TRY(p->build());
  return std::unique_ptr<Program>(std::move(p));
}

// Linked whole (CMake's WHOLE_ARCHIVE), so this runs before main() in every
// program that links the backend, and the engine finds it in its registry.
[[maybe_unused]] const bool kRegistered = register_backend(
    {.kind = BackendKind::vulkan, .probe = vulkan_probe, .compile = compile_vulkan, .describe = vulkan_describe});

}  // namespace gantry

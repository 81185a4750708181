// check_limits (vk_kernels.h): a dispatch against the limits gantry believes
// the device has. Vulkan leaves a dispatch over maxComputeWorkGroupInvocations,
// maxComputeWorkGroupSize, maxComputeSharedMemorySize or
// maxComputeWorkGroupCount undefined (Vulkan spec, vkCmdDispatch and
// "Compute Pipelines" valid usage), so it is refused here instead.
#include <string>

#include "compute_shaders/vk_kernels.h"

namespace gantry::vk {

Status check_limits(const Dispatch& d, const DeviceCaps& caps) {
  std::string over;
  auto note = [&](const std::string& what) { over += (over.empty() ? "" : ", ") + what; };
  if (d.local == 0) note("no workgroup size set by its encoder");
  if (d.local > caps.max_invocations)
    note(std::to_string(d.local) + " invocations per workgroup > maxComputeWorkGroupInvocations " +
         std::to_string(caps.max_invocations));
  if (d.local > caps.max_local_x)
    note("workgroup size " + std::to_string(d.local) + " > maxComputeWorkGroupSize[0] " +
         std::to_string(caps.max_local_x));
  if (d.shared_bytes > caps.max_shared_bytes)
    note(std::to_string(d.shared_bytes) + " bytes of shared memory > maxComputeSharedMemorySize " +
         std::to_string(caps.max_shared_bytes));
  for (int a = 0; a < 3; ++a)
    if (d.groups[a] == 0 || d.groups[a] > caps.max_groups[a])
      note(std::to_string(d.groups[a]) + " workgroups along axis " + std::to_string(a) +
           " outside [1, maxComputeWorkGroupCount[" + std::to_string(a) + "] " + std::to_string(caps.max_groups[a]) +
           "]");
  if (over.empty()) return {};
  return Status::error("vulkan: shader " + std::string(d.shader ? d.shader : "(none)") +
                       ": the dispatch exceeds the device's limits: " + over);
}

}  // namespace gantry::vk

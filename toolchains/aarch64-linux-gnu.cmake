# Cross-compile gantry for aarch64 Linux (NVIDIA Jetson Xavier/Orin, other arm64
# boards) on an x86-64 Debian 12 host. Used by the `jetson` preset and
# scripts/cross-test.sh, which installs what it needs:
#   crossbuild-essential-arm64           aarch64-linux-gnu-gcc/g++, libc/libstdc++ in /usr/aarch64-linux-gnu
#   libgtest-dev:arm64                   GoogleTest built for arm64 (dpkg --add-architecture arm64)
#   libvulkan-dev:arm64, glslang-tools   the Vulkan backend (headers; glslang runs on the host)
#   mesa-vulkan-drivers:arm64            lavapipe for arm64: the Vulkan tests under qemu
#   qemu-user (optional)                 runs the aarch64 tests here: ctest uses CMAKE_CROSSCOMPILING_EMULATOR
# Debian's cross compiler already searches the multiarch folders (/usr/include,
# /usr/lib/aarch64-linux-gnu), so no --sysroot is needed.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
# try_compile projects read this file again; hand them our setting too.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES GANTRY_JETSON_CUDA)

set(GANTRY_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${GANTRY_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${GANTRY_CROSS_TRIPLE}-g++)
# find_library/find_package look in lib/aarch64-linux-gnu, never lib/x86_64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE ${GANTRY_CROSS_TRIPLE})

# Multiarch: target libraries sit beside the host's under /usr, told apart by
# the architecture folder, and header-only packages (stb, Vulkan headers) in
# /usr/include serve both. So search the cross prefix first, then /usr.
set(CMAKE_FIND_ROOT_PATH /usr/${GANTRY_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Build tools (glslangValidator, nvcc) run on the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# Run target programs through qemu when it is installed: try_run, the test
# discovery of gtest_discover_tests and every ctest command that names a target.
# One glibc per process: with Debian's arm64 libc6 installed (multiarch; Mesa's
# arm64 Vulkan driver needs it), programs run on its ld.so, libc and libstdc++
# from /lib/aarch64-linux-gnu, as on a board; without it, -L points qemu at the
# cross toolchain's copies and LD_LIBRARY_PATH keeps that ld.so off
# /etc/ld.so.cache (mixing the two Debian builds of glibc hangs threaded tests).
find_program(GANTRY_QEMU_AARCH64 qemu-aarch64)
if(GANTRY_QEMU_AARCH64 AND NOT CMAKE_CROSSCOMPILING_EMULATOR)
  if(EXISTS /lib/ld-linux-aarch64.so.1 AND EXISTS /usr/lib/${GANTRY_CROSS_TRIPLE}/libc.so.6)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${GANTRY_QEMU_AARCH64})
  else()
    set(CMAKE_CROSSCOMPILING_EMULATOR
        "${GANTRY_QEMU_AARCH64};-L;/usr/${GANTRY_CROSS_TRIPLE};-E;LD_LIBRARY_PATH=/usr/${GANTRY_CROSS_TRIPLE}/lib")
  endif()
endif()

# CUDA for Jetson, once gantry has CUDA code: point GANTRY_JETSON_CUDA at a CUDA
# toolkit that holds targets/aarch64-linux (NVIDIA's cuda-cross-aarch64 packages
# from JetPack). nvcc runs on the host and uses the cross g++ for host code.
# Xavier is sm_72, Orin sm_87: the default architectures (cuda/cuda.cmake) are
# narrowed to those two, each kept where the toolkit offers it (CUDA 13
# dropped sm_72, so Xavier needs CUDA ≤ 12); CMAKE_CUDA_ARCHITECTURES overrides.
if(GANTRY_JETSON_CUDA)
  set(CMAKE_CUDA_COMPILER ${GANTRY_JETSON_CUDA}/bin/nvcc)
  set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER})
  set(GANTRY_CUDA_ARCH_CANDIDATES 72 87)
endif()

# The CUDA backend, included by the top-level CMakeLists.txt when nvcc is found
# (GANTRY_HAVE_CUDA). Adds cuda/*.cu and cuda/*.cpp to gantry_cuda and links
# the static CUDA runtime (no cuDNN).
#
# No CUDA library is a link dependency of gantry (`ldd gantry` names none), so
# a binary built here starts and runs its CPU/Vulkan commands on machines
# without them: the static runtime opens the driver, libcuda.so.1, itself on
# the first CUDA call, and cuBLAS is opened with dlopen when the CUDA backend
# is first asked for (cuda/cublas_loader.h); only cuBLAS's headers are used at
# build time. tests/cuda_lazy.sh checks both.
#
# GPU architectures: 90 (H100) unless CMAKE_CUDA_ARCHITECTURES or the CUDAARCHS
# environment variable says otherwise; e.g. -DCMAKE_CUDA_ARCHITECTURES=87 for a
# Jetson AGX Orin, "87;90" for both. CUDA 13 builds for 7.5 (Turing) and later.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(CMAKE_CUDA_ARCHITECTURES 90 CACHE STRING "CUDA architectures to build for (90: H100, 87: Jetson Orin)")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

# C++20 in .cu files as in the rest of gantry (nvcc ≥ 12 supports it); with an
# older nvcc, C++17 (the engine headers the kernels include compile as both).
# CMake before 3.26 does not know nvcc's C++20 flag (and falls back to
# CXX_STANDARD for CUDA), so it is taught here.
if(CMAKE_CUDA_COMPILER_VERSION VERSION_GREATER_EQUAL 12.0)
  set(GANTRY_CUDA_STANDARD 20)
  if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
else()
  set(GANTRY_CUDA_STANDARD 17)
endif()
add_library(gantry_cuda STATIC
  cuda/conv.cu
  cuda/cublas_loader.cpp
  cuda/cuda_backend.cu
  cuda/cuda_op_table.cpp
  cuda/cuda_util.cu
  cuda/data.cu
  cuda/elementwise.cu
  cuda/norm.cu
  cuda/optim.cu
  cuda/reduce.cu
  cuda/softmax.cu)
gantry_layer(gantry_cuda cuda)
target_link_libraries(gantry_cuda PUBLIC gantry_engine)
set_target_properties(gantry_cuda PROPERTIES
  CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}"
  CUDA_STANDARD ${GANTRY_CUDA_STANDARD}
  CUDA_STANDARD_REQUIRED ON
  CUDA_EXTENSIONS OFF)

# cuBLAS's include folder (the toolkit's own, except in split installs), not
# the library: cublas_loader.cpp opens libcublas.so.<CUBLAS_VER_MAJOR>, the
# major version of the cublas_api.h it is compiled against (13 for CUDA 13).
# dlopen/dlsym come from libdl (part of libc since glibc 2.34).
target_include_directories(gantry_cuda PRIVATE $<TARGET_PROPERTY:CUDA::cublas,INTERFACE_INCLUDE_DIRECTORIES>)
target_link_libraries(gantry_cuda PRIVATE CUDA::cudart_static ${CMAKE_DL_LIBS})

# The probe names the architectures in its message when the device needs others.
string(REPLACE ";" "," GANTRY_CUDA_ARCH_LIST "${CMAKE_CUDA_ARCHITECTURES}")
set_source_files_properties(cuda/cuda_backend.cu PROPERTIES
  COMPILE_DEFINITIONS "GANTRY_CUDA_ARCHITECTURES=\"${GANTRY_CUDA_ARCH_LIST}\"")

# nvcc's own warnings and the host compiler's (-Wall -Wextra) on the host side
# of .cu files; the top-level flags cover only C and C++.
target_compile_options(gantry_cuda PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  # The same GCC 12 false -Wrestrict as in the top-level file (GCC bug 105651).
  target_compile_options(gantry_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wno-restrict>)
endif()
if(GANTRY_WERROR)
  target_compile_options(gantry_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Werror>)
endif()
message(STATUS "gantry CUDA: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}, "
               "C++${GANTRY_CUDA_STANDARD}")

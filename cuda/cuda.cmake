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
# GPU architectures, unless CMAKE_CUDA_ARCHITECTURES or the CUDAARCHS
# environment variable says otherwise: machine code for each candidate in
# GANTRY_CUDA_ARCH_CANDIDATES that this nvcc offers (`nvcc --list-gpu-arch`),
# plus PTX for the newest of them, which the driver compiles at load time for
# GPUs newer than all of them (Blackwell and later). The candidates are Xavier
# (72; CUDA 13 dropped it, so only with CUDA ≤ 12), Turing (75), A100 (80),
# desktop Ampere (86), Jetson Orin (87), Ada (89) and Hopper (90); CUDA 11.4
# (JetPack 5) stops at 87. A toolchain may narrow them (the Jetson cross
# toolchain keeps 72 and 87).
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  set(gantry_default_cuda_archs ON)
endif()
enable_language(CUDA)
if(gantry_default_cuda_archs)
  if(NOT DEFINED GANTRY_CUDA_ARCH_CANDIDATES)
    set(GANTRY_CUDA_ARCH_CANDIDATES 72 75 80 86 87 89 90)
  endif()
  execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --list-gpu-arch OUTPUT_VARIABLE gantry_offered
                  RESULT_VARIABLE gantry_rc ERROR_QUIET)
  if(NOT gantry_rc EQUAL 0)
    message(FATAL_ERROR "${CMAKE_CUDA_COMPILER} --list-gpu-arch failed (nvcc older than CUDA 11.4?); "
                        "set CMAKE_CUDA_ARCHITECTURES, e.g. -DCMAKE_CUDA_ARCHITECTURES=87")
  endif()
  set(gantry_archs)
  foreach(a IN LISTS GANTRY_CUDA_ARCH_CANDIDATES)
    if(gantry_offered MATCHES "(^|\n)compute_${a}(\n|$)")
      list(APPEND gantry_archs ${a}-real)
    endif()
  endforeach()
  if(NOT gantry_archs)
    message(FATAL_ERROR "nvcc offers none of the architectures ${GANTRY_CUDA_ARCH_CANDIDATES}; "
                        "set CMAKE_CUDA_ARCHITECTURES")
  endif()
  # The newest also as PTX: "90" is machine code and PTX, "90-real" machine code only.
  list(POP_BACK gantry_archs gantry_newest)
  string(REPLACE "-real" "" gantry_newest ${gantry_newest})
  list(APPEND gantry_archs ${gantry_newest})
  # Forced over the compiler's default that enable_language() stored; a
  # reconfigure finds it set and keeps it, as it keeps a user's choice.
  set(CMAKE_CUDA_ARCHITECTURES "${gantry_archs}" CACHE STRING
      "CUDA architectures: N-real machine code for sm_N, N machine code and PTX" FORCE)
endif()
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

# The probe names the architectures in its message when the device needs
# others ("machine code sm_75 sm_87, PTX compute_87"); tests/cuda_fatbin.sh
# checks that the library carries each of them.
set(GANTRY_CUDA_SASS)
set(GANTRY_CUDA_PTX)
set(gantry_other)
foreach(a IN LISTS CMAKE_CUDA_ARCHITECTURES)
  if(a MATCHES "^([0-9]+[a-z]?)-real$")
    list(APPEND GANTRY_CUDA_SASS ${CMAKE_MATCH_1})
  elseif(a MATCHES "^([0-9]+[a-z]?)-virtual$")
    list(APPEND GANTRY_CUDA_PTX ${CMAKE_MATCH_1})
  elseif(a MATCHES "^[0-9]+[a-z]?$")
    list(APPEND GANTRY_CUDA_SASS ${a})
    list(APPEND GANTRY_CUDA_PTX ${a})
  else()  # all, all-major, native: CMake expands them, so they are named as given
    list(APPEND gantry_other ${a})
  endif()
endforeach()
list(TRANSFORM GANTRY_CUDA_SASS PREPEND "sm_" OUTPUT_VARIABLE gantry_sass_names)
list(TRANSFORM GANTRY_CUDA_PTX PREPEND "compute_" OUTPUT_VARIABLE gantry_ptx_names)
string(REPLACE ";" " " gantry_arch_text "machine code ${gantry_sass_names}, PTX ${gantry_ptx_names} ${gantry_other}")
string(STRIP "${gantry_arch_text}" gantry_arch_text)
set_source_files_properties(cuda/cuda_backend.cu PROPERTIES
  COMPILE_DEFINITIONS "GANTRY_CUDA_ARCHITECTURES=\"${gantry_arch_text}\"")

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

// GANTRY_HD marks a function compiled for the host and, under nvcc, for CUDA
// devices too, so the CUDA kernels call the same definition the host code and
// the CPU tests use (platform/philox.h, platform/accumulate.h).
#pragma once

#if defined(__CUDACC__)
#define GANTRY_HD __host__ __device__
#else
#define GANTRY_HD
#endif

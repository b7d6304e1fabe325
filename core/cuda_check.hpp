// The one CUDA error-checking macro: throws with the expression, file, line
// and cudaGetErrorName. MOECHECK_CHECK_LAUNCH() goes after every launch.
#pragma once

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace moecheck {

struct CudaError : std::runtime_error {
  cudaError_t code;
  CudaError(cudaError_t c, const std::string& what) : std::runtime_error(what), code(c) {}
};

[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
  throw CudaError(e, std::string(file) + ":" + std::to_string(line) + ": " + expr + " failed: " +
                         cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace moecheck

#define MOECHECK_CUDA(expr)                                                        \
  do {                                                                             \
    cudaError_t moecheck_err_ = (expr);                                            \
    if (moecheck_err_ != cudaSuccess)                                              \
      ::moecheck::throw_cuda_error(moecheck_err_, #expr, __FILE__, __LINE__);      \
  } while (0)

#define MOECHECK_CHECK_LAUNCH() MOECHECK_CUDA(cudaGetLastError())

#include "reports/environment.hpp"

#include <omp.h>
#include <unistd.h>

#include <ctime>

#include "kernels/device_case.hpp"

#if MOECHECK_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef MOECHECK_GIT_COMMIT
#define MOECHECK_GIT_COMMIT "unknown"
#endif
#ifndef MOECHECK_BUILD_FLAGS
#define MOECHECK_BUILD_FLAGS ""
#endif
#ifndef MOECHECK_BUILD_TYPE
#define MOECHECK_BUILD_TYPE ""
#endif
#ifndef MOECHECK_CUDA_ARCHS
#define MOECHECK_CUDA_ARCHS ""
#endif

namespace moecheck::report {

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

namespace {

#if MOECHECK_WITH_CUDA
// CUDA encodes versions as 1000 * major + 10 * minor.
std::string cuda_version(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

int attribute(cudaDeviceAttr a, int dev) {
  int v = 0;
  return cudaDeviceGetAttribute(&v, a, dev) == cudaSuccess ? v : 0;
}
#endif

}  // namespace

json device_json() {
  std::string why;
  if (!cuda_available(&why)) return {{"name", "none"}, {"reason", why}};
  json j;
#if MOECHECK_WITH_CUDA
  int dev = 0, driver = 0, runtime = 0;
  cudaGetDevice(&dev);
  cudaDeviceProp p{};
  cudaGetDeviceProperties(&p, dev);
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  j["name"] = p.name;
  j["compute_capability"] = std::to_string(p.major) + "." + std::to_string(p.minor);
  j["sms"] = p.multiProcessorCount;
  j["sm_clock_mhz"] = attribute(cudaDevAttrClockRate, dev) / 1000;
  j["mem_clock_mhz"] = attribute(cudaDevAttrMemoryClockRate, dev) / 1000;
  j["mem_bus_bits"] = attribute(cudaDevAttrGlobalMemoryBusWidth, dev);
  j["mem_bytes"] = static_cast<int64_t>(p.totalGlobalMem);
  j["l2_bytes"] = p.l2CacheSize;
  j["driver_cuda_version"] = cuda_version(driver);
  j["runtime_cuda_version"] = cuda_version(runtime);
#endif
  return j;
}

json build_json() {
  return {{"commit", MOECHECK_GIT_COMMIT},
          {"build_type", MOECHECK_BUILD_TYPE},
          {"compiler", __VERSION__},
          {"cxx_flags", MOECHECK_BUILD_FLAGS},
          {"cuda", MOECHECK_WITH_CUDA != 0},
          {"cuda_architectures", MOECHECK_CUDA_ARCHS}};
}

json host_json() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return {{"hostname", name}, {"omp_max_threads", omp_get_max_threads()}};
}

}  // namespace moecheck::report

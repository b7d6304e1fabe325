#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>

#include "core/cuda_check.hpp"
#include "kernels/bench/device.hpp"
#include "kernels/bench/hash.hpp"

namespace moecheck::bench {
namespace {

// Every 16-byte word of the buffer read once; the xor keeps the loads live.
__global__ void read_kernel(const uint4* __restrict__ p, int64_t n, unsigned* sink) {
  unsigned acc = 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = __ldcs(p + i), b = __ldcs(p + i + stride), c = __ldcs(p + i + 2 * stride),
                d = __ldcs(p + i + 3 * stride);
    acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
  }
  for (; i < n; i += stride) {
    const uint4 a = __ldcs(p + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;  // practically never; the compiler cannot know
}

__global__ void fill_bf16_kernel(uint16_t* p, int64_t n, uint64_t seed, float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    p[i] = hashed_bf16(seed, static_cast<uint64_t>(i), scale);
}

__global__ void fill_bytes_kernel(uint8_t* p, int64_t n, uint64_t seed, uint8_t mask) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride)
    p[i] = static_cast<uint8_t>(mix64(seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(i)) >> 56) & mask;
}

}  // namespace

DeviceProps device_props() {
  int dev = 0;
  MOECHECK_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  MOECHECK_CUDA(cudaGetDeviceProperties(&p, dev));
  size_t free_b = 0, total_b = 0;
  MOECHECK_CUDA(cudaMemGetInfo(&free_b, &total_b));
  return {p.name, p.multiProcessorCount, p.l2CacheSize, static_cast<int64_t>(total_b), static_cast<int64_t>(free_b)};
}

double read_bandwidth_gbps(int64_t bytes, int reps) {
  bytes = bytes / 16 * 16;
  DeviceBuffer buf(static_cast<size_t>(bytes));
  fill_random_bf16(buf.get(), bytes / 2, 12345, 1.0f);
  DeviceBuffer sink(sizeof(unsigned));
  const DeviceProps d = device_props();
  const int blocks = d.sms * 4;
  cudaEvent_t a, b;
  MOECHECK_CUDA(cudaEventCreate(&a));
  MOECHECK_CUDA(cudaEventCreate(&b));
  std::vector<double> gbps;
  for (int r = -2; r < reps; ++r) {
    MOECHECK_CUDA(cudaEventRecord(a));
    read_kernel<<<blocks, 512>>>(static_cast<const uint4*>(buf.get()), bytes / 16, static_cast<unsigned*>(sink.get()));
    MOECHECK_CHECK_LAUNCH();
    MOECHECK_CUDA(cudaEventRecord(b));
    MOECHECK_CUDA(cudaEventSynchronize(b));
    float ms = 0;
    MOECHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
    if (r >= 0) gbps.push_back(static_cast<double>(bytes) / (ms * 1e-3) / 1e9);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(gbps.begin(), gbps.end());
  return gbps[gbps.size() / 2];
}

DeviceBuffer::DeviceBuffer(size_t bytes) : n_(bytes) {
  if (bytes) MOECHECK_CUDA(cudaMalloc(&p_, bytes));
}
DeviceBuffer::~DeviceBuffer() {
  if (p_) cudaFree(p_);
}
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (p_) cudaFree(p_);
    p_ = o.p_, n_ = o.n_;
    o.p_ = nullptr, o.n_ = 0;
  }
  return *this;
}
void DeviceBuffer::upload(const void* src, size_t bytes) {
  if (bytes > n_) throw std::logic_error("DeviceBuffer::upload past the allocation");
  if (bytes) MOECHECK_CUDA(cudaMemcpy(p_, src, bytes, cudaMemcpyHostToDevice));
}
std::vector<uint8_t> DeviceBuffer::download() const {
  std::vector<uint8_t> out(n_);
  MOECHECK_CUDA(cudaDeviceSynchronize());
  if (n_) MOECHECK_CUDA(cudaMemcpy(out.data(), p_, n_, cudaMemcpyDeviceToHost));
  return out;
}
void DeviceBuffer::fill_bytes(int value) {
  if (n_) MOECHECK_CUDA(cudaMemset(p_, value, n_));
  MOECHECK_CUDA(cudaDeviceSynchronize());
}

void fill_random_bf16(void* p, int64_t n, uint64_t seed, float scale) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n + 255) / 256, 65536);
  fill_bf16_kernel<<<static_cast<unsigned>(blocks), 256>>>(static_cast<uint16_t*>(p), n, seed, scale);
  MOECHECK_CHECK_LAUNCH();
  MOECHECK_CUDA(cudaDeviceSynchronize());
}

void fill_random_bytes(void* p, int64_t n, uint64_t seed, uint8_t mask) {
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n + 255) / 256, 65536);
  fill_bytes_kernel<<<static_cast<unsigned>(blocks), 256>>>(static_cast<uint8_t*>(p), n, seed, mask);
  MOECHECK_CHECK_LAUNCH();
  MOECHECK_CUDA(cudaDeviceSynchronize());
}

namespace {
struct Stream {
  cudaStream_t s{};
  Stream() { MOECHECK_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s); }
};
}  // namespace

void run_once(const std::function<void(CUstream_st*)>& body) {
  Stream st;
  body(st.s);
  MOECHECK_CUDA(cudaStreamSynchronize(st.s));
}

std::vector<double> time_graph(const std::function<void(CUstream_st*)>& body, int warmup, int replays) {
  Stream st;
  cudaGraph_t graph{};
  MOECHECK_CUDA(cudaStreamBeginCapture(st.s, cudaStreamCaptureModeThreadLocal));
  try {
    body(st.s);
  } catch (...) {
    cudaStreamEndCapture(st.s, &graph);
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  MOECHECK_CUDA(cudaStreamEndCapture(st.s, &graph));
  cudaGraphExec_t exec{};
  MOECHECK_CUDA(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t a, b;
  MOECHECK_CUDA(cudaEventCreate(&a));
  MOECHECK_CUDA(cudaEventCreate(&b));
  std::vector<double> ms;
  for (int r = -warmup; r < replays; ++r) {
    MOECHECK_CUDA(cudaEventRecord(a, st.s));
    MOECHECK_CUDA(cudaGraphLaunch(exec, st.s));
    MOECHECK_CUDA(cudaEventRecord(b, st.s));
    MOECHECK_CUDA(cudaEventSynchronize(b));
    float t = 0;
    MOECHECK_CUDA(cudaEventElapsedTime(&t, a, b));
    if (r >= 0) ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  return ms;
}

}  // namespace moecheck::bench

// Device side of example_sequential: one thread per element, no shared
// memory, no atomics.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include <moecheck/kernels/variant.hpp>

#include "sequential.hpp"

namespace example {
namespace {

__global__ void h_kernel(moecheck::DeviceArgs a, float* h) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const moecheck::Shape s = a.shape;
  if (idx >= s.T * s.k * s.I) return;
  const int64_t n = idx % s.I, tj = idx / s.I, t = tj / s.k;
  h[idx] = h_element(static_cast<const uint16_t*>(a.x), static_cast<const uint16_t*>(a.w13), a.act, a.layout, s.H,
                     s.I, t, a.topk_ids[tj], n);
}

__global__ void y_kernel(moecheck::DeviceArgs a, const float* h) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const moecheck::Shape s = a.shape;
  if (idx >= s.T * s.H) return;
  const float v = y_element(h, static_cast<const uint16_t*>(a.w2), a.topk_ids, a.topk_weights, s.H, s.I, s.k,
                            idx / s.H, idx % s.H);
  // y in the format the case asks for (bf16, f16 or f32: supports() admits no other).
  const uint32_t code = moecheck::f32_to_code(a.y_format, v);
  if (a.y_format == moecheck::Format::f32)
    static_cast<uint32_t*>(a.y)[idx] = code;
  else
    static_cast<uint16_t*>(a.y)[idx] = static_cast<uint16_t>(code);
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("example_sequential: ") + what + ": " + cudaGetErrorName(e));
}

}  // namespace

void launch_sequential(const moecheck::DeviceArgs& a, void* workspace, cudaStream_t stream) {
  const moecheck::Shape s = a.shape;
  auto* h = static_cast<float*>(workspace);
  const int threads = 128;
  h_kernel<<<static_cast<unsigned>((s.T * s.k * s.I + threads - 1) / threads), threads, 0, stream>>>(a, h);
  check(cudaGetLastError(), "h_kernel launch");
  y_kernel<<<static_cast<unsigned>((s.T * s.H + threads - 1) / threads), threads, 0, stream>>>(a, h);
  check(cudaGetLastError(), "y_kernel launch");
}

}  // namespace example

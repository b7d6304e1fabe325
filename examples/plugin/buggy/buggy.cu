// Device side of the planted-bug variants: one thread per h element and one
// per output element, the same element functions as the host twins
// (buggy.hpp), so each kernel has exactly its twin's bug.
#include <cuda_runtime.h>

#include "buggy.hpp"
#include "core/cuda_check.hpp"
#include "kernels/variant.hpp"

namespace buggy {
namespace {

// bug_nondet's call counter lives on the device, as the state of an
// atomics-based reduction does: y_kernel reads its parity, bump_calls
// advances it after the call, in stream order (graph-capturable).
__device__ unsigned int g_nondet_calls = 0;

// h (T, L, I) for every entry of each token's expert list.
__global__ void h_kernel(Bug bug, moecheck::DeviceArgs a, float* h) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const moecheck::Shape s = a.shape;
  const int64_t S = s.E, L = list_len(bug, s.k, S);
  if (idx >= s.T * L * s.I) return;
  const int64_t n = idx % s.I, tj = idx / s.I, t = tj / L, j = tj % L;
  const int64_t e = list_slot(bug, a.topk_ids, s.k, S, t, j);
  if (e < 0) return;  // past the end of this token's list: never read
  const auto* x = static_cast<const uint16_t*>(a.x) + x_token(bug, s.T, t) * s.H;
  h[idx] = h_element(bug, x, static_cast<const uint16_t*>(a.w13), a.act, a.layout, s.H, s.I, e, n);
}

__global__ void y_kernel(Bug bug, moecheck::DeviceArgs a, const float* h) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const moecheck::Shape s = a.shape;
  if (idx >= s.T * s.H) return;
  const int64_t t = idx / s.H, i = idx % s.H;
  if (skips_write(bug, s.H, t, i)) return;  // leaves the caller's buffer as it was
  const bool reverse = bug == Bug::nondet && g_nondet_calls % 2 == 1;
  const float acc = y_element(bug, h, static_cast<const uint16_t*>(a.w2), a.topk_ids, a.topk_weights, s, s.E, t, i,
                              reverse);
  const uint32_t code = moecheck::f32_to_code(a.y_format, acc);  // bf16, f16 or f32 (supports())
  if (a.y_format == moecheck::Format::f32)
    static_cast<uint32_t*>(a.y)[idx] = code;
  else
    static_cast<uint16_t*>(a.y)[idx] = static_cast<uint16_t>(code);
}

__global__ void bump_calls() { ++g_nondet_calls; }

unsigned blocks(int64_t n, int threads) { return static_cast<unsigned>((n + threads - 1) / threads); }

}  // namespace

void launch_buggy(Bug bug, const moecheck::DeviceArgs& a, void* workspace, cudaStream_t stream) {
  const moecheck::Shape s = a.shape;
  auto* h = static_cast<float*>(workspace);
  const int threads = 128;
  const int64_t h_elems = s.T * list_len(bug, s.k, s.E) * s.I;
  if (h_elems > 0) {
    h_kernel<<<blocks(h_elems, threads), threads, 0, stream>>>(bug, a, h);
    MOECHECK_CHECK_LAUNCH();
  }
  if (s.T * s.H > 0) {
    y_kernel<<<blocks(s.T * s.H, threads), threads, 0, stream>>>(bug, a, h);
    MOECHECK_CHECK_LAUNCH();
  }
  if (bug == Bug::nondet) {
    bump_calls<<<1, 1, 0, stream>>>();
    MOECHECK_CHECK_LAUNCH();
  }
}

}  // namespace buggy

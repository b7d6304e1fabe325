// Device side of expert_centric_mxfp8: the MXFP8 re-quantization of the
// gathered x rows and of h (mx_requant.hpp), in place, one warp per 32-value
// block. The amax is a warp max (exact, order-free): deterministic.
#include <cuda_runtime.h>

#include <vector>

#include "core/cuda_check.hpp"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/mx_requant.hpp"
#include "kernels/expert_centric/plan.hpp"

namespace moecheck::ec {
namespace {

// rows (max_rows, n) bf16, in place; rows past the real tile count (read on
// the device) are not touched. Padding rows hold zeros and stay zero.
__global__ void mx_requant_kernel(uint16_t* __restrict__ rows, int64_t n, const int32_t* __restrict__ num_tiles) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTileM) return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  uint16_t* r = rows + row * n;
  const int64_t nb = (n + kMxBlock - 1) / kMxBlock;
  for (int64_t b = warp; b < nb; b += warps) {  // uniform per warp: all 32 lanes take part in the shuffles
    const int64_t q = b * kMxBlock + lane;
    const float v = q < n ? bf16_to_f32(r[q]) : 0.0f;
    const bool bad = __any_sync(0xffffffffu, !finite_f32(v));
    float m = fabsf(v);
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if (q < n) r[q] = bad ? kBf16Nan : mx_requant_elem(v, mx_scale_exp(m));
  }
}

}  // namespace

void requant_mxfp8_rows(uint16_t* rows, int64_t n, int64_t max_rows, const int32_t* num_tiles, CUstream_st* stream) {
  mx_requant_kernel<<<static_cast<unsigned>(max_rows), 256, 0, stream>>>(rows, n, num_tiles);
  MOECHECK_CHECK_LAUNCH();
}

void requant_mxfp8_rows_for_test(std::vector<uint16_t>& rows, int64_t n, int32_t live_tiles) {
  uint16_t* d = nullptr;
  int32_t* nt = nullptr;
  const size_t bytes = rows.size() * sizeof(uint16_t);
  MOECHECK_CUDA(cudaMalloc(&d, bytes));
  MOECHECK_CUDA(cudaMalloc(&nt, sizeof(int32_t)));
  MOECHECK_CUDA(cudaMemcpy(d, rows.data(), bytes, cudaMemcpyHostToDevice));
  MOECHECK_CUDA(cudaMemcpy(nt, &live_tiles, sizeof(int32_t), cudaMemcpyHostToDevice));
  requant_mxfp8_rows(d, n, static_cast<int64_t>(rows.size()) / n, nt, nullptr);
  MOECHECK_CUDA(cudaMemcpy(rows.data(), d, bytes, cudaMemcpyDeviceToHost));
  MOECHECK_CUDA(cudaFree(d));
  MOECHECK_CUDA(cudaFree(nt));
}

}  // namespace moecheck::ec

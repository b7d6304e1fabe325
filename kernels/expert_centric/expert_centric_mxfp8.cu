// Device side of expert_centric_mxfp8: the MXFP8 re-quantization of x as it
// is gathered (from x's own format: one rounding) and of h in place
// (mx_requant.hpp), one warp per 32-value block. The amax is a warp max
// (exact, order-free): deterministic.
#include <cuda_runtime.h>

#include <vector>

#include "core/cuda_check.hpp"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/mx_requant.hpp"
#include "kernels/expert_centric/plan.hpp"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::ec {
namespace {

// One row of n values at(q) (fp32, exact) re-quantized into out (n) bf16 by
// the block's warp: each lane one value of each 32-value block.
template <class At>
__device__ void mx_requant_row_dev(At at, int64_t n, uint16_t* out) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const int64_t nb = (n + kMxBlock - 1) / kMxBlock;
  for (int64_t b = warp; b < nb; b += warps) {  // uniform per warp: all 32 lanes take part in the shuffles
    const int64_t q = b * kMxBlock + lane;
    const float v = q < n ? at(q) : 0.0f;
    const bool bad = __any_sync(0xffffffffu, !finite_f32(v));
    float m = fabsf(v);
    for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
    if (q < n) out[q] = bad ? kBf16Nan : mx_requant_elem(v, mx_scale_exp(m));
  }
}

// rows (max_rows, n) bf16, in place; rows past the real tile count (read on
// the device) are not touched. Padding rows hold zeros and stay zero.
__global__ void mx_requant_kernel(uint16_t* __restrict__ rows, int64_t n, const int32_t* __restrict__ num_tiles) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTileM) return;
  uint16_t* r = rows + row * n;
  mx_requant_row_dev([r](int64_t q) { return bf16_to_f32(r[q]); }, n, r);
}

// xg (rows, H) <- x (T, H) rows (format XV) through sorted_pair, re-quantized
// to MXFP8 values; padding rows zero (zeros re-quantize to zeros).
template <class XV>
__global__ void gather_mx_kernel(const void* __restrict__ x, int64_t H, int k, const int32_t* __restrict__ sorted_pair,
                                 const int32_t* __restrict__ num_tiles, uint16_t* __restrict__ xg) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTileM) return;
  const int p = sorted_pair[row];
  const void* src = p >= 0 ? static_cast<const char*>(x) + static_cast<int64_t>(p / k) * H * XV::kBytes : nullptr;
  mx_requant_row_dev([src](int64_t q) { return src ? XV::at(src, q) : 0.0f; }, H, xg + row * H);
}

}  // namespace

void requant_mxfp8_rows(uint16_t* rows, int64_t n, int64_t max_rows, const int32_t* num_tiles, CUstream_st* stream) {
  mx_requant_kernel<<<static_cast<unsigned>(max_rows), 256, 0, stream>>>(rows, n, num_tiles);
  MOECHECK_CHECK_LAUNCH();
}

void gather_mxfp8_rows(const void* x, Format xf, int64_t H, int k, const int32_t* sorted_pair, int64_t max_rows,
                       const int32_t* num_tiles, uint16_t* xg, CUstream_st* stream) {
  warp_decode::with_x(xf, [&](auto xv) {
    gather_mx_kernel<decltype(xv)><<<static_cast<unsigned>(max_rows), 256, 0, stream>>>(x, H, k, sorted_pair,
                                                                                        num_tiles, xg);
    MOECHECK_CHECK_LAUNCH();
  });
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

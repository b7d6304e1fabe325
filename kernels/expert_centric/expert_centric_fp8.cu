// Device side of expert_centric_fp8 (fp8_row.hpp): the per-row e4m3
// re-quantization of x as it is gathered (from x's own format) and of h as
// it is formed from the gate/up sums, and the down GEMM's epilogue fused
// into the scatter. One block per row; the row amax is a block max (exact,
// order-free): deterministic. The GEMMs themselves are expert_centric's
// (expert_centric.cu), writing fp32 sums of code products; the epilogue
// products fp8_epilogue are applied here, the same fp32 operations a GEMM
// epilogue would do.
#include <cuda_runtime.h>

#include <vector>

#include "core/cuda_check.hpp"
#include "kernels/activation.hpp"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/fp8_row.hpp"
#include "kernels/expert_centric/plan.hpp"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::ec {
namespace {

constexpr int kThreads = 256;

// Max of v over the block (every thread gets it); fmaxf is exact.
__device__ float block_max(float v) {
  __shared__ float part[kThreads / 32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < kThreads / 32 ? part[lane] : 0.0f;
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// One row of n values at(q) (exact fp32) into codes (n) and *scale, by the
// whole block: at is evaluated twice per value (amax pass, code pass).
template <class At>
__device__ void fp8_row_dev(At at, int64_t n, uint16_t* codes, float* scale) {
  float m = 0.0f;
  int bad = 0;
  for (int64_t q = threadIdx.x; q < n; q += kThreads) {
    const float v = at(q);
    bad |= (float_bits(v) & 0x7f800000u) == 0x7f800000u;
    m = fmaxf(m, fabsf(v));
  }
  const bool finite = !__syncthreads_or(bad);
  const float s = fp8_row_scale(block_max(m), finite);
  for (int64_t q = threadIdx.x; q < n; q += kThreads) codes[q] = finite ? fp8_row_code(at(q), s) : uint16_t{0};
  if (threadIdx.x == 0) *scale = s;
}

// Padding row: zero codes, scale 1 (the GEMM then sums zeros).
__device__ void pad_row(int64_t n, uint16_t* codes, float* scale) {
  for (int64_t q = threadIdx.x; q < n; q += kThreads) codes[q] = 0;
  if (threadIdx.x == 0) *scale = 1.0f;
}

// xg (rows, H), sx (rows) <- x (T, H) rows (format XV) through sorted_pair.
template <class XV>
__global__ void __launch_bounds__(kThreads)
    gather_fp8_kernel(const void* __restrict__ x, int64_t H, int k, const int32_t* __restrict__ sorted_pair,
                      const int32_t* __restrict__ num_tiles, uint16_t* __restrict__ xg, float* __restrict__ sx) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTileM) return;
  const int p = sorted_pair[row];
  if (p < 0) return pad_row(H, xg + row * H, sx + row);
  const void* src = static_cast<const char*>(x) + static_cast<int64_t>(p / k) * H * XV::kBytes;
  fp8_row_dev([src](int64_t q) { return XV::at(src, q); }, H, xg + row * H, sx + row);
}

// h (rows, I), sh (rows) <- bf16(act(g, u)) re-quantized, g and u the
// epilogue of gu (rows, 2I); w13_scale (S, 2I) f32 or nullptr.
__global__ void __launch_bounds__(kThreads)
    act_fp8_kernel(const float* __restrict__ gu, int64_t I, bool interleaved, ActivationSpec act,
                   const int32_t* __restrict__ sorted_pair, const int32_t* __restrict__ tile_expert,
                   const int32_t* __restrict__ num_tiles, const float* __restrict__ sx,
                   const float* __restrict__ w13_scale, uint16_t* __restrict__ h, float* __restrict__ sh) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTileM) return;
  if (sorted_pair[row] < 0) return pad_row(I, h + row * I, sh + row);
  const float* r = gu + row * 2 * I;
  const float s = sx[row];
  const float* ws = w13_scale ? w13_scale + static_cast<int64_t>(tile_expert[row / kTileM]) * 2 * I : nullptr;
  auto at = [=](int64_t n) {
    const int64_t gc = interleaved ? 2 * n : n, uc = interleaved ? 2 * n + 1 : I + n;
    const float g = fp8_epilogue(r[gc], s, ws ? ws[gc] : 1.0f), u = fp8_epilogue(r[uc], s, ws ? ws[uc] : 1.0f);
    return bf16_to_f32(f32_to_bf16_rn(act::apply(act, g, u)));
  };
  fp8_row_dev(at, I, h + row * I, sh + row);
}

// ys (N, H) <- bf16(epilogue(yacc)) at each pair's padded row; w2_scale (S, H) or nullptr.
__global__ void scatter_fp8_kernel(const float* __restrict__ yacc, int64_t H, const int32_t* __restrict__ row_of_pair,
                                   const int32_t* __restrict__ tile_expert, const float* __restrict__ sh,
                                   const float* __restrict__ w2_scale, uint16_t* __restrict__ ys) {
  const int64_t p = blockIdx.x;
  const int r = row_of_pair[p];
  const float s = r >= 0 ? sh[r] : 0.0f;
  const float* ws = r >= 0 && w2_scale ? w2_scale + static_cast<int64_t>(tile_expert[r / kTileM]) * H : nullptr;
  for (int64_t i = threadIdx.x; i < H; i += blockDim.x)
    ys[p * H + i] = r >= 0 ? f32_to_bf16_rn(fp8_epilogue(yacc[static_cast<int64_t>(r) * H + i], s, ws ? ws[i] : 1.0f))
                           : 0;
}

}  // namespace

void gather_fp8_rows(const void* x, Format xf, int64_t H, int k, const int32_t* sorted_pair, int64_t max_rows,
                     const int32_t* num_tiles, uint16_t* xg, float* sx, CUstream_st* stream) {
  warp_decode::with_x(xf, [&](auto xv) {
    gather_fp8_kernel<decltype(xv)><<<static_cast<unsigned>(max_rows), kThreads, 0, stream>>>(x, H, k, sorted_pair,
                                                                                               num_tiles, xg, sx);
    MOECHECK_CHECK_LAUNCH();
  });
}

void act_fp8_rows(const float* gu, int64_t I, bool interleaved, ActivationSpec act, const int32_t* sorted_pair,
                  const int32_t* tile_expert, const int32_t* num_tiles, int64_t max_rows, const float* sx,
                  const float* w13_scale, uint16_t* h, float* sh, CUstream_st* stream) {
  act_fp8_kernel<<<static_cast<unsigned>(max_rows), kThreads, 0, stream>>>(gu, I, interleaved, act, sorted_pair,
                                                                            tile_expert, num_tiles, sx, w13_scale, h,
                                                                            sh);
  MOECHECK_CHECK_LAUNCH();
}

void scatter_fp8(const float* yacc, int64_t H, int64_t N, const int32_t* row_of_pair, const int32_t* tile_expert,
                 const float* sh, const float* w2_scale, uint16_t* ys, CUstream_st* stream) {
  scatter_fp8_kernel<<<static_cast<unsigned>(N), 256, 0, stream>>>(yacc, H, row_of_pair, tile_expert, sh, w2_scale,
                                                                   ys);
  MOECHECK_CHECK_LAUNCH();
}

void gather_fp8_rows_for_test(const std::vector<uint16_t>& x, int64_t n, const std::vector<int64_t>& pad,
                              std::vector<uint16_t>& codes, std::vector<float>& scales) {
  const int64_t R = static_cast<int64_t>(x.size()) / n;
  std::vector<int32_t> pairs(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) pairs[r] = static_cast<int32_t>(r);
  for (int64_t r : pad) pairs[r] = -1;
  const int32_t live = static_cast<int32_t>(R / kTileM);
  uint16_t *dx = nullptr, *dc = nullptr;
  float* ds = nullptr;
  int32_t *dp = nullptr, *nt = nullptr;
  MOECHECK_CUDA(cudaMalloc(&dx, x.size() * 2));
  MOECHECK_CUDA(cudaMalloc(&dc, x.size() * 2));
  MOECHECK_CUDA(cudaMalloc(&ds, R * sizeof(float)));
  MOECHECK_CUDA(cudaMalloc(&dp, R * sizeof(int32_t)));
  MOECHECK_CUDA(cudaMalloc(&nt, sizeof(int32_t)));
  MOECHECK_CUDA(cudaMemcpy(dx, x.data(), x.size() * 2, cudaMemcpyHostToDevice));
  MOECHECK_CUDA(cudaMemset(dc, 0xff, x.size() * 2));  // poison: every live row must be written
  MOECHECK_CUDA(cudaMemset(ds, 0xff, R * sizeof(float)));
  MOECHECK_CUDA(cudaMemcpy(dp, pairs.data(), R * sizeof(int32_t), cudaMemcpyHostToDevice));
  MOECHECK_CUDA(cudaMemcpy(nt, &live, sizeof(int32_t), cudaMemcpyHostToDevice));
  gather_fp8_rows(dx, Format::bf16, n, 1, dp, R, nt, dc, ds, nullptr);
  codes.resize(x.size());
  scales.resize(static_cast<size_t>(R));
  MOECHECK_CUDA(cudaMemcpy(codes.data(), dc, x.size() * 2, cudaMemcpyDeviceToHost));
  MOECHECK_CUDA(cudaMemcpy(scales.data(), ds, R * sizeof(float), cudaMemcpyDeviceToHost));
  for (void* p : {static_cast<void*>(dx), static_cast<void*>(dc), static_cast<void*>(ds), static_cast<void*>(dp),
                  static_cast<void*>(nt)})
    MOECHECK_CUDA(cudaFree(p));
}

}  // namespace moecheck::ec

// Device kernels of the expert-centric family besides the tile GEMM
// (tile_gemm.cuh): align, gather, activation, scatter, combine. Only
// expert_centric.cu includes this. Tensor shapes are in the comments; N = T*k
// pairs, R the rows of the padded expert-major layout (plan.hpp).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/formats.hpp"
#include "kernels/activation.hpp"
#include "kernels/expert_centric/plan.hpp"
#include "kernels/expert_centric/tile_gemm.cuh"

namespace moecheck::ec {

// ---- align: count, sort and pad (token, slot) pairs by expert ------------
// One block. Stable: within an expert, pairs keep their t*k+j order, so the
// layout (and with it every output bit) depends only on the routing.
// smem: 3 * S ints. ids (N) slots; sorted_pair (max_rows); row_of_pair (N);
// tile_expert (max_tiles); num_tiles (1).
__global__ void align_kernel(const int32_t* __restrict__ ids, int n, int S, int32_t* __restrict__ sorted_pair,
                             int32_t* __restrict__ row_of_pair, int32_t* __restrict__ tile_expert,
                             int32_t* __restrict__ num_tiles) {
  extern __shared__ int smem[];
  int* cnt = smem;
  int* start = smem + S;  // first tile of each expert
  int* cur = smem + 2 * S;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (int e = tid; e < S; e += blockDim.x) cnt[e] = 0, cur[e] = 0;
  __syncthreads();
  for (int p = tid; p < n; p += blockDim.x) {
    const int e = ids[p];
    if (e >= 0 && e < S) atomicAdd(&cnt[e], 1);
  }
  __syncthreads();
  if (warp == 0) {
    int running = 0;
    for (int base = 0; base < S; base += 32) {
      const int e = base + lane;
      const int v = e < S ? (cnt[e] + kTile - 1) / kTile : 0;
      int incl = v;
      for (int d = 1; d < 32; d <<= 1) {
        const int o = __shfl_up_sync(0xffffffffu, incl, d);
        if (lane >= d) incl += o;
      }
      if (e < S) start[e] = running + incl - v;
      running += __shfl_sync(0xffffffffu, incl, 31);
    }
    if (lane == 0) *num_tiles = running;
  }
  __syncthreads();
  for (int e = tid; e < S; e += blockDim.x) {
    const int st = start[e], c = cnt[e], nt = (c + kTile - 1) / kTile;
    for (int i = 0; i < nt; ++i) tile_expert[st + i] = e;
    for (int r = c; r < nt * kTile; ++r) sorted_pair[st * kTile + r] = -1;
  }
  if (warp == 0) {
    // Pair order is kept by handing out slots 32 pairs at a time: lanes that
    // share an expert rank themselves by lane id (match_any), the group's
    // first lane advances that expert's cursor.
    for (int base = 0; base < n; base += 32) {
      const int p = base + lane;
      const int e = p < n ? ids[p] : -1;
      const bool ok = e >= 0 && e < S;
      const unsigned peers = __match_any_sync(0xffffffffu, ok ? e : -1 - lane);
      const int rank = __popc(peers & ((1u << lane) - 1u));
      const int c = ok ? cur[e] : 0;
      __syncwarp();
      if (ok && rank == 0) cur[e] = c + __popc(peers);
      if (ok) {
        const int pos = start[e] * kTile + c + rank;
        sorted_pair[pos] = p;
        row_of_pair[p] = pos;
      } else if (p < n) {
        row_of_pair[p] = -1;
      }
      __syncwarp();
    }
  }
}

// ---- data-movement stages of expert_centric ------------------------------

// xg (rows, H) bf16 <- x (T, H) rows (format XV, rounded to bf16: exact for
// bf16) through sorted_pair; padding rows zero.
template <class XV>
__global__ void gather_kernel(const void* __restrict__ x, int64_t H, int k, const int32_t* __restrict__ sorted_pair,
                              const int32_t* __restrict__ num_tiles, uint16_t* __restrict__ xg) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTile) return;
  const int p = sorted_pair[row];
  const void* src = p >= 0 ? static_cast<const char*>(x) + static_cast<int64_t>(p / k) * H * XV::kBytes : nullptr;
  for (int64_t i = threadIdx.x; i < H; i += blockDim.x) xg[row * H + i] = src ? f32_to_bf16_rn(XV::at(src, i)) : 0;
}

// h (rows, I) bf16 <- act(gu gate, gu up); padding rows zero.
__global__ void activation_kernel(const float* __restrict__ gu, int64_t I, bool interleaved, ActivationSpec act,
                                  const int32_t* __restrict__ sorted_pair,
                                  const int32_t* __restrict__ num_tiles, uint16_t* __restrict__ h) {
  const int64_t row = blockIdx.x;
  if (row >= static_cast<int64_t>(*num_tiles) * kTile) return;
  const bool pad = sorted_pair[row] < 0;
  const float* r = gu + row * 2 * I;
  for (int64_t n = threadIdx.x; n < I; n += blockDim.x) {
    const float gv = r[interleaved ? 2 * n : n], uv = r[interleaved ? 2 * n + 1 : I + n];
    h[row * I + n] = pad ? 0 : f32_to_bf16_rn(act::apply(act, gv, uv));
  }
}

// ys (N, H) <- ye (rows, H) at each pair's padded row.
__global__ void scatter_kernel(const uint16_t* __restrict__ ye, int64_t H, const int32_t* __restrict__ row_of_pair,
                               uint16_t* __restrict__ ys) {
  const int64_t p = blockIdx.x;
  const int r = row_of_pair[p];
  for (int64_t i = threadIdx.x; i < H; i += blockDim.x) ys[p * H + i] = r >= 0 ? ye[static_cast<int64_t>(r) * H + i] : 0;
}

// y (T, H) in y_format = sum_j w_j * ys[t, j] in slot order, one fp32 fma chain.
__global__ void combine_kernel(const uint16_t* __restrict__ ys, const float* __restrict__ w, int64_t T, int64_t H,
                               int k, Format y_format, void* __restrict__ y) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= T * H) return;
  const int64_t t = idx / H, i = idx % H;
  float acc = 0.0f;
  for (int j = 0; j < k; ++j) acc = __fmaf_rn(w[t * k + j], bf16_to_f32(ys[(t * k + j) * H + i]), acc);
  store_output(y, y_format, idx, acc);
}

// y (T, H) in y_format = sum_j yw[t, j] in slot order (fused path's top-k sum).
__global__ void topk_sum_kernel(const float* __restrict__ yw, int64_t T, int64_t H, int k, Format y_format,
                                void* __restrict__ y) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= T * H) return;
  const int64_t t = idx / H, i = idx % H;
  float acc = 0.0f;
  for (int j = 0; j < k; ++j) acc = __fadd_rn(acc, yw[(t * k + j) * H + i]);
  store_output(y, y_format, idx, acc);
}

}  // namespace moecheck::ec

// warp_decode_grouped: device kernels (see grouped.hpp for the organization).
// The per-token arithmetic is warp_math.hpp's lane order: chunk c of 8
// elements to lane c % 32, one fma chain per lane from +0 in increasing
// chunk order, then the xor butterfly. The vector paths below only change
// how the same elements reach the same chains; the scalar paths call
// warp_math.hpp's lane_dot / lane_dot2 directly.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/cuda_check.hpp"
#include "core/error.hpp"
#include "kernels/activation.hpp"
#include "kernels/variant.hpp"
#include "kernels/warp_decode/device_primitives.cuh"
#include "kernels/warp_decode/family.hpp"
#include "kernels/warp_decode/grouped.hpp"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::warp_decode::grouped {
namespace {

constexpr int kThreads = 128;  // 4 warps per block
constexpr int kU = 4;          // chunks a lane loads before its first fma (bytes in flight)
constexpr int kGroupThreads = 256;

struct Args {
  int64_t T, H, I, k;
  int32_t S;
  GateUpLayout layout;
  ActivationSpec act;
  const uint16_t* x;          // (T, H) bf16
  const uint16_t* w13;        // (S, 2I, H) bf16
  const uint16_t* w2;         // (S, H, I) bf16
  const int32_t* topk_ids;    // (T, k) storage slots
  const float* topk_weights;  // (T, k)
  void* y;                    // (T, H) codes of y_format
  Format y_format;            // bf16, f16 or f32
  uint16_t* h;                // (T, k, I) bf16, workspace
  float* p;                   // (T, k, H) f32, workspace
  int32_t* sorted;            // (T k), workspace
  Tile* tiles;                // (max_tiles), workspace
  int32_t* num_tiles;         // (1), workspace
};

// The 8 fmas of one chunk of weights w against v, element order 0..7.
__device__ __forceinline__ float chunk_fma(uint4 w, uint4 v, float acc) {
  acc = __fmaf_rn(bf16_lo(w.x), bf16_lo(v.x), acc);
  acc = __fmaf_rn(bf16_hi(w.x), bf16_hi(v.x), acc);
  acc = __fmaf_rn(bf16_lo(w.y), bf16_lo(v.y), acc);
  acc = __fmaf_rn(bf16_hi(w.y), bf16_hi(v.y), acc);
  acc = __fmaf_rn(bf16_lo(w.z), bf16_lo(v.z), acc);
  acc = __fmaf_rn(bf16_hi(w.z), bf16_hi(v.z), acc);
  acc = __fmaf_rn(bf16_lo(w.w), bf16_lo(v.w), acc);
  acc = __fmaf_rn(bf16_hi(w.w), bf16_hi(v.w), acc);
  return acc;
}

// Grouping, one block: counts per slot (shared atomics: the counts do not
// depend on their order), exclusive scans of counts and tiles by warp 0, then
// warp 0 places the pairs 32 at a time in ascending pair order (rank among
// equal slots of the same 32 from __match_any_sync, cursor advanced by the
// group's highest lane): the order depends on the routing only.
__global__ void __launch_bounds__(kGroupThreads) group_kernel(Args a) {
  extern __shared__ int32_t smem[];
  int32_t* cnt = smem;         // (S) pairs per slot
  int32_t* cur = smem + a.S;   // (S) next free position in sorted
  // Kernel 1's blocks may become resident now and wait (this grid is one block).
  allow_dependents();
  const int64_t N = a.T * a.k;
  for (int s = threadIdx.x; s < a.S; s += blockDim.x) cnt[s] = 0;
  __syncthreads();
  for (int64_t q = threadIdx.x; q < N; q += blockDim.x) atomicAdd(&cnt[a.topk_ids[q]], 1);
  __syncthreads();
  const int lane = threadIdx.x % kWarp;
  if (threadIdx.x < kWarp) {
    int32_t pair_base = 0, tile_base = 0;
    for (int s0 = 0; s0 < a.S; s0 += kWarp) {
      const int s = s0 + lane;
      const int32_t c = s < a.S ? cnt[s] : 0, nt = (c + kM - 1) / kM;
      int32_t ic = c, it = nt;  // inclusive scans over the 32 slots
#pragma unroll
      for (int off = 1; off < kWarp; off *= 2) {
        const int32_t uc = __shfl_up_sync(0xffffffffu, ic, off), ut = __shfl_up_sync(0xffffffffu, it, off);
        if (lane >= off) ic += uc, it += ut;
      }
      const int32_t first = pair_base + ic - c, tile0 = tile_base + it - nt;
      if (s < a.S) cur[s] = first;
      for (int32_t q = 0; q < nt; ++q)
        a.tiles[tile0 + q] = Tile{s, first + q * kM, c - q * kM < kM ? c - q * kM : kM, 0};
      pair_base += __shfl_sync(0xffffffffu, ic, kWarp - 1);
      tile_base += __shfl_sync(0xffffffffu, it, kWarp - 1);
    }
    if (lane == 0) *a.num_tiles = tile_base;
    __syncwarp();
    for (int64_t q0 = 0; q0 < N; q0 += kWarp) {
      const int64_t q = q0 + lane;
      const bool live = q < N;
      const int32_t s = live ? a.topk_ids[q] : -1;
      const unsigned peers = __match_any_sync(0xffffffffu, s);
      const int32_t base = live ? cur[s] : 0;
      __syncwarp();
      if (live) a.sorted[base + __popc(peers & ((1u << lane) - 1u))] = static_cast<int32_t>(q);
      if (live && lane == 31 - __clz(peers)) cur[s] = base + __popc(peers);
      __syncwarp();
    }
  }
}

// Kernel 1: warp (tile, n) -> h[t, j, n] for every pair (t, j) of the tile:
// the gate and up rows n of the tile's expert are streamed once, with one
// (g, u) chain pair per token. kVec: H % 8 == 0 and 16-byte aligned x, w13.
template <bool kVec>
__global__ void __launch_bounds__(kThreads) gate_up_kernel(Args a) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  wait_for_producer();  // the tiles come from the grouping kernel
  const int64_t ti = warp / a.I, n = warp % a.I;
  if (ti >= *a.num_tiles) return;  // whole warps exit together
  const Tile tl = a.tiles[ti];
  int32_t pair[kM];
  const uint16_t* x_row[kM];  // (H) each
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    pair[m] = a.sorted[tl.first + (m < tl.count ? m : 0)];
    x_row[m] = a.x + (pair[m] / a.k) * a.H;
  }
  const uint16_t* g_row = a.w13 + (tl.slot * 2 * a.I + gate_row_of(a.layout, a.I, n)) * a.H;  // (H)
  const uint16_t* u_row = a.w13 + (tl.slot * 2 * a.I + up_row_of(a.layout, a.I, n)) * a.H;   // (H)
  float g[kM], u[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) g[m] = 0.0f, u[m] = 0.0f;
  if constexpr (kVec) {
    const int64_t chunks = a.H / kChunk;
    for (int64_t c0 = lane; c0 < chunks; c0 += kU * kWarp) {
      uint4 gw[kU], uw[kU];
#pragma unroll
      for (int v = 0; v < kU; ++v) {
        const int64_t c = c0 + v * kWarp;
        if (c < chunks) gw[v] = load_stream(g_row + c * kChunk), uw[v] = load_stream(u_row + c * kChunk);
      }
#pragma unroll
      for (int v = 0; v < kU; ++v) {
        const int64_t c = c0 + v * kWarp;
        if (c >= chunks) break;
#pragma unroll
        for (int m = 0; m < kM; ++m) {
          if (m < tl.count) {
            const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x_row[m] + c * kChunk));
            g[m] = chunk_fma(gw[v], xv, g[m]);
            u[m] = chunk_fma(uw[v], xv, u[m]);
          }
        }
      }
    }
  } else {
#pragma unroll
    for (int m = 0; m < kM; ++m)
      if (m < tl.count) lane_dot2<Bf16Weights, Bf16Vec>(g_row, u_row, x_row[m], a.H, lane, g[m], u[m]);
  }
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    if (m < tl.count) {
      const float gs = warp_sum(g[m]), us = warp_sum(u[m]);
      if (lane == 0) a.h[static_cast<int64_t>(pair[m]) * a.I + n] = f32_to_bf16_rn(act::apply(a.act, gs, us));
    }
  }
  allow_dependents();  // after the stores: waiting kernel-2 blocks must not crowd out kernel 1
}

// Kernel 2: warp (tile, i) -> p[t, j, i] = D_e[i] . h[t, j] for every pair of
// the tile, row i of D_e streamed once. kVec: I % 8 == 0 and 16-byte
// aligned w2 and h.
template <bool kVec>
__global__ void __launch_bounds__(kThreads) down_kernel(Args a) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  wait_for_producer();
  const int64_t ti = warp / a.H, i = warp % a.H;
  if (ti >= *a.num_tiles) return;
  const Tile tl = a.tiles[ti];
  const uint16_t* h_row[kM];  // (I) each
  int32_t pair[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    pair[m] = a.sorted[tl.first + (m < tl.count ? m : 0)];
    h_row[m] = a.h + static_cast<int64_t>(pair[m]) * a.I;
  }
  const uint16_t* d_row = a.w2 + (tl.slot * a.H + i) * a.I;  // (I)
  float acc[kM];
#pragma unroll
  for (int m = 0; m < kM; ++m) acc[m] = 0.0f;
  if constexpr (kVec) {
    const int64_t chunks = a.I / kChunk;
    for (int64_t c0 = lane; c0 < chunks; c0 += kU * kWarp) {
      uint4 dw[kU];
#pragma unroll
      for (int v = 0; v < kU; ++v) {
        const int64_t c = c0 + v * kWarp;
        if (c < chunks) dw[v] = load_stream(d_row + c * kChunk);
      }
#pragma unroll
      for (int v = 0; v < kU; ++v) {
        const int64_t c = c0 + v * kWarp;
        if (c >= chunks) break;
#pragma unroll
        for (int m = 0; m < kM; ++m)
          if (m < tl.count)
            acc[m] = chunk_fma(dw[v], __ldg(reinterpret_cast<const uint4*>(h_row[m] + c * kChunk)), acc[m]);
      }
    }
  } else {
#pragma unroll
    for (int m = 0; m < kM; ++m)
      if (m < tl.count) acc[m] = lane_dot<Bf16Weights, Bf16Vec>(d_row, h_row[m], a.I, lane, 0.0f);
  }
#pragma unroll
  for (int m = 0; m < kM; ++m) {
    if (m < tl.count) {
      const float s = warp_sum(acc[m]);
      if (lane == 0) a.p[static_cast<int64_t>(pair[m]) * a.H + i] = s;
    }
  }
  allow_dependents();
}

// Combine: thread (t, i) -> y[t, i] = sum_j RN(w_j p[t, j, i]), j in order
// from +0 (Combine::per_expert_outputs with fp32 expert outputs), stored in
// y's format.
__global__ void __launch_bounds__(256) combine_kernel(Args a) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  wait_for_producer();
  if (idx >= a.T * a.H) return;
  const int64_t t = idx / a.H, i = idx % a.H;
  float acc = 0.0f;
  for (int64_t j = 0; j < a.k; ++j) {
    const int64_t tj = t * a.k + j;
    acc = __fadd_rn(acc, __fmul_rn(a.topk_weights[tj], a.p[tj * a.H + i]));
  }
  store_output(a.y, a.y_format, idx, acc);
}

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

unsigned blocks_for(int64_t threads, int per_block) {
  return static_cast<unsigned>((threads + per_block - 1) / per_block);
}

bool device_has_pdl() {
  int dev = 0, major = 0;
  MOECHECK_CUDA(cudaGetDevice(&dev));
  MOECHECK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  return major >= 9;
}

// A launch as a programmatic dependent of the previous kernel on the stream
// (compute capability 9.0+); plain stream order elsewhere.
template <class K>
void launch_dependent(K kernel, unsigned grid, unsigned block, size_t smem, cudaStream_t stream, bool pdl,
                      const Args& a) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(grid);
  cfg.blockDim = dim3(block);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  MOECHECK_CUDA(cudaLaunchKernelEx(&cfg, kernel, a));
}

}  // namespace

void launch(const DeviceArgs& d, void* workspace, CUstream_st* stream) {
  if (d.x_format != Format::bf16 || d.weight_format != WeightFormat::bf16)
    throw InputError("warp_decode_grouped: bf16 x and bf16 weights only");
  check_output_format("warp_decode_grouped", d.y_format);
  const Shape s = d.shape;
  if (s.E > kMaxSlots)
    throw InputError("warp_decode_grouped: at most " + std::to_string(kMaxSlots) + " stored experts (got " +
                     std::to_string(s.E) + ")");
  const Layout l = plan_layout(s);
  auto* ws = static_cast<uint8_t*>(workspace);
  Args a{s.T, s.H, s.I, s.k, static_cast<int32_t>(s.E), d.layout, d.act,
         static_cast<const uint16_t*>(d.x), static_cast<const uint16_t*>(d.w13),
         static_cast<const uint16_t*>(d.w2), d.topk_ids, d.topk_weights, d.y, d.y_format,
         reinterpret_cast<uint16_t*>(ws + l.h), reinterpret_cast<float*>(ws + l.p),
         reinterpret_cast<int32_t*>(ws + l.sorted), reinterpret_cast<Tile*>(ws + l.tiles),
         reinterpret_cast<int32_t*>(ws + l.num_tiles)};
  const bool pdl = device_has_pdl();
  const int64_t tiles = max_tiles(s);
  const size_t smem = 2 * sizeof(int32_t) * static_cast<size_t>(s.E);
  group_kernel<<<1, kGroupThreads, smem, stream>>>(a);
  MOECHECK_CHECK_LAUNCH();
  const bool vec1 = s.H % kChunk == 0 && aligned16(d.x) && aligned16(d.w13);
  const bool vec2 = s.I % kChunk == 0 && aligned16(d.w2) && aligned16(a.h);
  const unsigned g1 = blocks_for(tiles * s.I * kWarp, kThreads), g2 = blocks_for(tiles * s.H * kWarp, kThreads);
  launch_dependent(vec1 ? gate_up_kernel<true> : gate_up_kernel<false>, g1, kThreads, 0, stream, pdl, a);
  MOECHECK_CHECK_LAUNCH();
  launch_dependent(vec2 ? down_kernel<true> : down_kernel<false>, g2, kThreads, 0, stream, pdl, a);
  MOECHECK_CHECK_LAUNCH();
  launch_dependent(combine_kernel, blocks_for(s.T * s.H, 256), 256, 0, stream, pdl, a);
  MOECHECK_CHECK_LAUNCH();
}

}  // namespace moecheck::warp_decode::grouped

// Warp decode kernels. Every warp owns one output value and is independent:
// no shared memory, no atomics, no inter-warp ordering, so results are
// bitwise deterministic and batch invariant. The arithmetic order is the one
// warp_math.hpp defines; the vector path below only changes how the same
// elements reach the same fma chain.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/cuda_check.hpp"
#include "core/error.hpp"
#include "kernels/activation.hpp"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::warp_decode {

constexpr int kThreads = 128;  // 4 independent warps per block

struct KernelArgs {
  int64_t T, H, I, k;
  GateUpLayout layout;
  ActivationSpec act;
  const uint16_t* x;          // (T, H) bf16
  const uint16_t* w13;        // (S, 2I, H) bf16
  const uint16_t* w2;         // (S, H, I) bf16
  const int32_t* topk_ids;    // (T, k) storage slots
  const float* topk_weights;  // (T, k)
  uint16_t* y;                // (T, H) bf16
};

__device__ __forceinline__ float bf16_lo(uint32_t v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t v) { return __uint_as_float(v & 0xffff0000u); }

// Weights are read once per call at T = 1: keep them out of L1.
__device__ __forceinline__ uint4 load_stream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = kWarp / 2; off >= 1; off /= 2) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// The 8 fmas of one chunk, element order 0..7 (low half of each word first).
__device__ __forceinline__ float chunk_fma(uint4 w, const float (&v)[8], float acc) {
  acc = __fmaf_rn(bf16_lo(w.x), v[0], acc);
  acc = __fmaf_rn(bf16_hi(w.x), v[1], acc);
  acc = __fmaf_rn(bf16_lo(w.y), v[2], acc);
  acc = __fmaf_rn(bf16_hi(w.y), v[3], acc);
  acc = __fmaf_rn(bf16_lo(w.z), v[4], acc);
  acc = __fmaf_rn(bf16_hi(w.z), v[5], acc);
  acc = __fmaf_rn(bf16_lo(w.w), v[6], acc);
  acc = __fmaf_rn(bf16_hi(w.w), v[7], acc);
  return acc;
}

__device__ __forceinline__ void unpack_bf16(uint4 q, float (&v)[8]) {
  v[0] = bf16_lo(q.x); v[1] = bf16_hi(q.x);
  v[2] = bf16_lo(q.y); v[3] = bf16_hi(q.y);
  v[4] = bf16_lo(q.z); v[5] = bf16_hi(q.z);
  v[6] = bf16_lo(q.w); v[7] = bf16_hi(q.w);
}

template <class HT>
__device__ __forceinline__ void load_h8(const typename HT::Store* p, float (&v)[8]) {
  if constexpr (sizeof(typename HT::Store) == 2) {
    unpack_bf16(__ldg(reinterpret_cast<const uint4*>(p)), v);
  } else {
    const float4 a = __ldg(reinterpret_cast<const float4*>(p));
    const float4 b = __ldg(reinterpret_cast<const float4*>(p) + 1);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
  }
}

// Kernel 1: warp (t, j, n) -> h[t, j, n] = act(G_e[n] . x_t, U_e[n] . x_t).
// kVec: H % 8 == 0 and 16-byte aligned bases, so every chunk is one uint4.
template <class HT, bool kVec>
__global__ void __launch_bounds__(kThreads) gate_up_kernel(KernelArgs a, typename HT::Store* __restrict__ h) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (warp >= a.T * a.k * a.I) return;  // whole warps exit together
  const int64_t n = warp % a.I, tj = warp / a.I, t = tj / a.k;
  const int64_t slot = a.topk_ids[tj];
  const uint16_t* g_row = a.w13 + (slot * 2 * a.I + gate_row_of(a.layout, a.I, n)) * a.H;  // (H)
  const uint16_t* u_row = a.w13 + (slot * 2 * a.I + up_row_of(a.layout, a.I, n)) * a.H;   // (H)
  const uint16_t* x_row = a.x + t * a.H;                                                // (H)
  float g = 0.0f, u = 0.0f;
  if constexpr (kVec) {
    const int64_t chunks = a.H / kChunk;
#pragma unroll 4
    for (int64_t c = lane; c < chunks; c += kWarp) {
      const uint4 gw = load_stream(g_row + c * kChunk);
      const uint4 uw = load_stream(u_row + c * kChunk);
      float xv[8];
      unpack_bf16(__ldg(reinterpret_cast<const uint4*>(x_row + c * kChunk)), xv);
      g = chunk_fma(gw, xv, g);
      u = chunk_fma(uw, xv, u);
    }
  } else {
    lane_dot2<Bf16Weights, Bf16Vec>(g_row, u_row, x_row, a.H, lane, g, u);
  }
  g = warp_sum(g);
  u = warp_sum(u);
  const float hv = act::apply(a.act, g, u);
  if (lane == 0) h[warp] = HT::store(hv);
}

// Kernel 2: warp (t, i) -> y[t, i] = sum_j w_j D_ej[i] . h[t, j].
template <class HT, bool kVec>
__global__ void __launch_bounds__(kThreads) down_kernel(KernelArgs a, const typename HT::Store* __restrict__ h) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (warp >= a.T * a.H) return;
  const int64_t i = warp % a.H, t = warp / a.H;
  float acc = 0.0f;
  for (int64_t j = 0; j < a.k; ++j) {
    const int64_t tj = t * a.k + j;
    const uint16_t* d_row = a.w2 + (static_cast<int64_t>(a.topk_ids[tj]) * a.H + i) * a.I;  // (I)
    const typename HT::Store* h_row = h + tj * a.I;                                          // (I)
    float p = 0.0f;
    if constexpr (kVec) {
      const int64_t chunks = a.I / kChunk;
#pragma unroll 4
      for (int64_t c = lane; c < chunks; c += kWarp) {
        const uint4 dw = load_stream(d_row + c * kChunk);
        float hv[8];
        load_h8<HT>(h_row + c * kChunk, hv);
        p = chunk_fma(dw, hv, p);
      }
    } else {
      p = lane_dot<Bf16Weights, typename HT::Read>(d_row, h_row, a.I, lane, 0.0f);
    }
    acc = __fmaf_rn(a.topk_weights[tj], p, acc);
  }
  acc = warp_sum(acc);
  if (lane == 0) a.y[warp] = f32_to_bf16_rn(acc);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

inline unsigned blocks_for(int64_t warps) {
  return static_cast<unsigned>((warps + kThreads / kWarp - 1) / (kThreads / kWarp));
}

template <class HT>
void launch(const DeviceArgs& d, void* workspace, CUstream_st* stream) {
  if (d.x_format != Format::bf16 || d.weight_format != WeightFormat::bf16)
    throw InputError("warp_decode: bf16 x and bf16 weights only");
  const Shape s = d.shape;
  KernelArgs a{s.T, s.H, s.I, s.k, d.layout, d.act,
               static_cast<const uint16_t*>(d.x), static_cast<const uint16_t*>(d.w13),
               static_cast<const uint16_t*>(d.w2), d.topk_ids, d.topk_weights, static_cast<uint16_t*>(d.y)};
  auto* h = static_cast<typename HT::Store*>(workspace);
  const bool vec1 = s.H % kChunk == 0 && aligned16(d.x) && aligned16(d.w13);
  const bool vec2 = s.I % kChunk == 0 && aligned16(d.w2) && aligned16(workspace);
  const unsigned g1 = blocks_for(s.T * s.k * s.I), g2 = blocks_for(s.T * s.H);
  if (vec1)
    gate_up_kernel<HT, true><<<g1, kThreads, 0, stream>>>(a, h);
  else
    gate_up_kernel<HT, false><<<g1, kThreads, 0, stream>>>(a, h);
  MOECHECK_CHECK_LAUNCH();
  if (vec2)
    down_kernel<HT, true><<<g2, kThreads, 0, stream>>>(a, h);
  else
    down_kernel<HT, false><<<g2, kThreads, 0, stream>>>(a, h);
  MOECHECK_CHECK_LAUNCH();
}

}  // namespace moecheck::warp_decode

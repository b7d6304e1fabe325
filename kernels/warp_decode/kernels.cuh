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

// Programmatic dependent launch (sm_90+): kernel 2 may start while kernel 1
// drains; it touches nothing kernel 1 writes until griddepcontrol.wait, which
// returns once kernel 1 has completed and its writes are visible. Elsewhere
// these are no-ops and the launch is plain stream order.
__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void wait_for_producer() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
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
  const uint16_t* x_row = a.x + t * a.H;                                                   // (H)
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
  // Only now: kernel 2's blocks take SM slots as ours retire (a trigger at
  // the start let waiting kernel-2 blocks crowd out kernel 1: measured
  // slower on 235b/deepseek).
  allow_dependents();
}

// Experts whose D chunks a lane loads at once (kCpl > 0 path): one DRAM
// round trip per batch instead of one per expert; the first batch is loaded
// before griddepcontrol.wait, overlapping kernel 1's drain.
constexpr int kBatch = 4;

template <int kCpl>
__device__ __forceinline__ void load_d_batch(const KernelArgs& a, int64_t t, int64_t i, int64_t j0, int lane,
                                             uint4 (&dw)[kBatch][kCpl]) {
#pragma unroll
  for (int b = 0; b < kBatch; ++b) {
    if (j0 + b < a.k) {
      const uint16_t* d_row = a.w2 + (static_cast<int64_t>(a.topk_ids[t * a.k + j0 + b]) * a.H + i) * a.I;
#pragma unroll
      for (int q = 0; q < kCpl; ++q) dw[b][q] = load_stream(d_row + (lane + q * kWarp) * kChunk);
    }
  }
}

// Kernel 2: warp (t, i) -> y[t, i] = sum_j w_j D_ej[i] . h[t, j].
// kCpl: -1 scalar path (any I); 0 vector path, any I % 8 == 0; > 0 vector
// path with I == 256 kCpl (kCpl chunks per lane, loads batched over experts).
// The fma order is the same on every path: per expert a lane chain over its
// chunks from +0, then acc = fma(w_j, p_j, acc).
template <class HT, int kCpl>
__global__ void __launch_bounds__(kThreads) down_kernel(KernelArgs a, const typename HT::Store* __restrict__ h) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  const bool live = warp < a.T * a.H;
  const int64_t i = warp % a.H, t = warp / a.H;
  float acc = 0.0f;
  if constexpr (kCpl > 0) {
    uint4 dw[kBatch][kCpl];
    if (live) load_d_batch<kCpl>(a, t, i, 0, lane, dw);  // weights: not written by kernel 1
    wait_for_producer();
    if (!live) return;
    for (int64_t j0 = 0; j0 < a.k; j0 += kBatch) {
      if (j0 > 0) load_d_batch<kCpl>(a, t, i, j0, lane, dw);
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        if (j0 + b < a.k) {
          const int64_t tj = t * a.k + j0 + b;
          const typename HT::Store* h_row = h + tj * a.I;  // (I)
          float p = 0.0f;
#pragma unroll
          for (int q = 0; q < kCpl; ++q) {
            float hv[8];
            load_h8<HT>(h_row + (lane + q * kWarp) * kChunk, hv);
            p = chunk_fma(dw[b][q], hv, p);
          }
          acc = __fmaf_rn(a.topk_weights[tj], p, acc);
        }
      }
    }
  } else {
    wait_for_producer();
    if (!live) return;
    for (int64_t j = 0; j < a.k; ++j) {
      const int64_t tj = t * a.k + j;
      const uint16_t* d_row = a.w2 + (static_cast<int64_t>(a.topk_ids[tj]) * a.H + i) * a.I;  // (I)
      const typename HT::Store* h_row = h + tj * a.I;                                          // (I)
      float p = 0.0f;
      if constexpr (kCpl == 0) {
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
  }
  acc = warp_sum(acc);
  if (lane == 0) a.y[warp] = f32_to_bf16_rn(acc);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

inline unsigned blocks_for(int64_t warps) {
  return static_cast<unsigned>((warps + kThreads / kWarp - 1) / (kThreads / kWarp));
}

// Kernel 2 as a programmatic dependent of kernel 1 where the device has it
// (compute capability 9.0+); plain stream order elsewhere.
template <class HT, int kCpl>
void launch_down(const KernelArgs& a, const typename HT::Store* h, unsigned grid, cudaStream_t stream, bool pdl) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(grid);
  cfg.blockDim = dim3(kThreads);
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  MOECHECK_CUDA(cudaLaunchKernelEx(&cfg, down_kernel<HT, kCpl>, a, h));
}

inline bool device_has_pdl() {
  int dev = 0, major = 0;
  MOECHECK_CUDA(cudaGetDevice(&dev));
  MOECHECK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  return major >= 9;
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
  const bool pdl = device_has_pdl();
  const int64_t cpl = s.I % (kChunk * kWarp) == 0 ? s.I / (kChunk * kWarp) : 0;
  if (!vec2)
    launch_down<HT, -1>(a, h, g2, stream, pdl);
  else if (cpl == 1)
    launch_down<HT, 1>(a, h, g2, stream, pdl);
  else if (cpl == 2)
    launch_down<HT, 2>(a, h, g2, stream, pdl);
  else if (cpl == 3)
    launch_down<HT, 3>(a, h, g2, stream, pdl);
  else if (cpl == 4)
    launch_down<HT, 4>(a, h, g2, stream, pdl);
  else if (cpl == 6)
    launch_down<HT, 6>(a, h, g2, stream, pdl);
  else if (cpl == 8)
    launch_down<HT, 8>(a, h, g2, stream, pdl);
  else
    launch_down<HT, 0>(a, h, g2, stream, pdl);
  MOECHECK_CHECK_LAUNCH();
}

}  // namespace moecheck::warp_decode

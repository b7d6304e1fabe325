// Warp decode kernels. Every warp owns one output value and is independent:
// no shared memory, no atomics, no inter-warp ordering, so results are
// bitwise deterministic and batch invariant. The arithmetic order is the one
// warp_math.hpp defines; the vector path below only changes how the same
// elements reach the same fma chain (16-byte weight loads decoded with bit
// operations into the same fp32 values W::at gives).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "core/cuda_check.hpp"
#include "core/error.hpp"
#include "kernels/activation.hpp"
#include "kernels/warp_decode/device_primitives.cuh"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::warp_decode {

constexpr int kThreads = 128;  // 4 independent warps per block

struct KernelArgs {
  int64_t T, H, I, k;
  GateUpLayout layout;
  ActivationSpec act;
  const void* x;               // (T, H) x codes
  const void* w13;             // (S, 2I, H) codes, core/weights.hpp layout
  const void* w13_scale;       // scales of w13 by format (or null)
  const float* w13_ts;         // (S) nvfp4 tensor scales (or null)
  const void* w2;              // (S, H, I)
  const void* w2_scale;
  const float* w2_ts;
  const int32_t* topk_ids;     // (T, k) storage slots
  const float* topk_weights;   // (T, k)
  void* y;                     // (T, H) codes of y_format
  Format y_format;             // bf16, f16 or f32
};

__device__ __forceinline__ void unpack_bf16(uint4 q, float (&v)[8]) {
  v[0] = bf16_lo(q.x); v[1] = bf16_hi(q.x);
  v[2] = bf16_lo(q.y); v[3] = bf16_hi(q.y);
  v[4] = bf16_lo(q.z); v[5] = bf16_hi(q.z);
  v[6] = bf16_lo(q.w); v[7] = bf16_hi(q.w);
}
__device__ __forceinline__ void unpack_f16(uint4 q, float (&v)[8]) {
  const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    v[2 * i] = f16_bits_to_f32(w[i]);
    v[2 * i + 1] = f16_bits_to_f32(w[i] >> 16);
  }
}

// ---- x and h, 8 elements at a time (16-byte aligned) ------------------------

template <class X>
__device__ __forceinline__ void load_x8(const void* row, int64_t k, float (&v)[8]) {
  if constexpr (std::is_same_v<X, F32Vec>) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(row) + k));
    const float4 b = __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(row) + k) + 1);
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w;
    v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
  } else {
    const uint4 q = __ldg(reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(row) + k));
    if constexpr (std::is_same_v<X, F16Vec>)
      unpack_f16(q, v);
    else
      unpack_bf16(q, v);
  }
}

template <class HT>
__device__ __forceinline__ void load_h8(const typename HT::Store* p, float (&v)[8]) {
  load_x8<typename HT::Read>(p, 0, v);
}

// ---- weight chunks: 16 bytes = W::kChunk elements ---------------------------

__device__ __forceinline__ const uint8_t* codes(const void* row) { return static_cast<const uint8_t*>(row); }
__device__ __forceinline__ const uint8_t* codes(const QRow& row) { return row.data; }

template <class W>
constexpr bool kScaled = std::is_same_v<typename W::Row, QRow>;
// Chunks a lane's vector loop keeps in flight: 4 for 16-bit weights (as
// tuned for bf16), fewer for the longer fp8 / fp4 chunks (registers).
template <class W>
constexpr int kUnroll = W::kChunk == 8 ? 4 : 2;

// fp8 weights on sm_89+: the hardware converts e4m3 pairs to f16 exactly
// (NaN codes to NaN), so w = fl(e * S) needs no bit-pattern factors, no NaN
// scan and no range check: fewer instructions per weight than the pattern
// decode, the same values (W::at) bit for bit.
template <class W>
constexpr bool kHwE4m3 = kScaled<W> && !W::kFp4;

__device__ __forceinline__ void e4m3x4_to_f32(uint32_t v, float* e) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  uint32_t lo, hi;  // f16x2 of bytes (0, 1) and (2, 3), byte 0 / 2 in the low half
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(lo) : "h"(static_cast<uint16_t>(v & 0xffffu)));
  asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(hi) : "h"(static_cast<uint16_t>(v >> 16)));
  e[0] = f16_bits_to_f32(lo); e[1] = f16_bits_to_f32(lo >> 16);
  e[2] = f16_bits_to_f32(hi); e[3] = f16_bits_to_f32(hi >> 16);
#else
  for (int j = 0; j < 4; ++j) e[j] = e4m3_to_f32((v >> (8 * j)) & 0xffu);
#endif
}

// The factors S of the (at most two) scale blocks a chunk spans, loaded once
// per chunk: one block for fp8 formats (16 elements inside a 32-, 128- or
// K-element block) and mxfp4 (32 elements = its block), two for nvfp4 (16
// each).
struct ChunkScale {
  float s0, s1;
};
template <class W>
__device__ __forceinline__ ChunkScale load_scales(const typename W::Row& r, int64_t k0) {
  if constexpr (!kScaled<W>) {
    return {1.0f, 1.0f};
  } else if constexpr (W::format == WeightFormat::nvfp4) {
    return {W::scale(r, k0), W::scale(r, k0 + 16)};
  } else {
    const float s = W::scale(r, k0);
    return {s, s};
  }
}

// Fast-decode factors of a chunk (warp_math.hpp chunk_factors_of); false:
// the chunk decodes element by element with W::at, to the same values.
template <class W>
__device__ __forceinline__ bool chunk_factors(const ChunkScale& s, const uint4& raw, float (&F)[2]) {
  if constexpr (!kScaled<W>) {
    return true;
  } else if constexpr (kHwE4m3<W>) {
    F[0] = F[1] = s.s0;  // dequant8 multiplies the exact e by S itself: always exact
    return true;
  } else {
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
    return chunk_factors_of<W>(s.s0, s.s1, words, F);
  }
}

// Weights 8q .. 8q + 7 of a chunk (raw: its 16 bytes) whose factors F are
// exact (chunk_factors true), dequantized: w[e] == W::at(row, k0 + 8q + e)
// bit for bit.
template <class W>
__device__ __forceinline__ void dequant8(const uint4& raw, int q, const float (&F)[2], float (&w)[8]) {
  const uint32_t word[4] = {raw.x, raw.y, raw.z, raw.w};
  if constexpr (W::format == WeightFormat::bf16) {
    unpack_bf16(raw, w);
  } else if constexpr (W::format == WeightFormat::f16) {
    unpack_f16(raw, w);
  } else if constexpr (kHwE4m3<W>) {
    float e[8];
    e4m3x4_to_f32(word[2 * q], e);
    e4m3x4_to_f32(word[2 * q + 1], e + 4);
#pragma unroll
    for (int j = 0; j < 8; ++j) w[j] = __fmul_rn(e[j], F[0]);
  } else {
#pragma unroll
    for (int e = 0; e < 8; ++e) w[e] = chunk_weight<W>(word, 8 * q + e, F);
  }
}

// The rare chunk whose factors are not exact: the same fmas on the same
// values (W::at), element by element, out of line so it costs the fast
// path neither registers nor code.
template <class W, class V>
__device__ __noinline__ float chunk_dot_slow(typename W::Row r, int64_t k0, const void* v, float p) {
  for (int e = 0; e < W::kChunk; ++e) p = __fmaf_rn(W::at(r, k0 + e), V::at(v, k0 + e), p);
  return p;
}

// One chunk of a lane's down chain: kChunk fmas in element order.
template <class HT, class W>
__device__ __forceinline__ float chunk_dot(const uint4& raw, const ChunkScale& s, const typename W::Row& r,
                                           int64_t k0, const typename HT::Store* h_row, float p) {
  float F[2];
  if (!chunk_factors<W>(s, raw, F)) return chunk_dot_slow<W, typename HT::Read>(r, k0, h_row, p);
#pragma unroll
  for (int q = 0; q < W::kChunk / 8; ++q) {
    float wv[8], hv[8];
    dequant8<W>(raw, q, F, wv);
    load_h8<HT>(h_row + k0 + 8 * q, hv);
#pragma unroll
    for (int e = 0; e < 8; ++e) p = __fmaf_rn(wv[e], hv[e], p);
  }
  return p;
}

// Kernel 1: warp (t, j, n) -> h[t, j, n] = act(G_e[n] . x_t, U_e[n] . x_t).
// kVec: H % kChunk == 0 and 16-byte aligned bases, so every chunk is one uint4.
template <class HT, class W, class X, bool kVec>
__global__ void __launch_bounds__(kThreads) gate_up_kernel(KernelArgs a, typename HT::Store* __restrict__ h) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (warp >= a.T * a.k * a.I) return;  // whole warps exit together
  const int64_t n = warp % a.I, tj = warp / a.I, t = tj / a.k;
  const int64_t slot = a.topk_ids[tj];
  const auto g_row = W::row(a.w13, a.w13_scale, a.w13_ts, slot, 2 * a.I, a.H, gate_row_of(a.layout, a.I, n));  // (H)
  const auto u_row = W::row(a.w13, a.w13_scale, a.w13_ts, slot, 2 * a.I, a.H, up_row_of(a.layout, a.I, n));    // (H)
  const void* x_row = static_cast<const uint8_t*>(a.x) + t * a.H * X::kBytes;                                // (H)
  float g = 0.0f, u = 0.0f;
  if constexpr (kVec) {
    const int64_t chunks = a.H / W::kChunk;
#pragma unroll(kUnroll<W>)
    for (int64_t c = lane; c < chunks; c += kWarp) {
      const int64_t k0 = c * W::kChunk;
      const uint4 gw = load_stream(codes(g_row) + c * 16);
      const uint4 uw = load_stream(codes(u_row) + c * 16);
      float Fg[2], Fu[2];
      const bool fg = chunk_factors<W>(load_scales<W>(g_row, k0), gw, Fg);
      const bool fu = chunk_factors<W>(load_scales<W>(u_row, k0), uw, Fu);
      if (!(fg && fu)) {  // the two chains are independent: each may run on its own
        g = chunk_dot_slow<W, X>(g_row, k0, x_row, g);
        u = chunk_dot_slow<W, X>(u_row, k0, x_row, u);
        continue;
      }
#pragma unroll
      for (int q = 0; q < W::kChunk / 8; ++q) {
        float xv[8], wg[8], wu[8];
        load_x8<X>(x_row, k0 + 8 * q, xv);
        dequant8<W>(gw, q, Fg, wg);
        dequant8<W>(uw, q, Fu, wu);
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          g = __fmaf_rn(wg[e], xv[e], g);
          u = __fmaf_rn(wu[e], xv[e], u);
        }
      }
    }
  } else {
    lane_dot2<W, X>(g_row, u_row, x_row, a.H, lane, g, u);
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

template <class W, int kCpl, bool kTail>
__device__ __forceinline__ void load_d_batch(const KernelArgs& a, int64_t t, int64_t i, int64_t j0, int lane,
                                             int64_t chunks, uint4 (&dw)[kBatch][kCpl],
                                             ChunkScale (&ds)[kBatch][kCpl], typename W::Row (&dr)[kBatch]) {
#pragma unroll
  for (int b = 0; b < kBatch; ++b) {
    if (j0 + b < a.k) {
      dr[b] = W::row(a.w2, a.w2_scale, a.w2_ts, a.topk_ids[t * a.k + j0 + b], a.H, a.I, i);
#pragma unroll
      for (int q = 0; q < kCpl; ++q) {
        const int64_t c = lane + q * kWarp;
        if (!kTail || c < chunks) {
          dw[b][q] = load_stream(codes(dr[b]) + c * 16);
          ds[b][q] = load_scales<W>(dr[b], c * W::kChunk);
        }
      }
    }
  }
}

// Kernel 2: warp (t, i) -> y[t, i] = sum_j w_j D_ej[i] . h[t, j].
// kCpl: -1 scalar path (any I); 0 vector path, any I % kChunk == 0; > 0
// vector path with ceil(I / kChunk / 32) == kCpl (at most kCpl chunks per
// lane, loads batched over experts; kTail: I / kChunk is not a multiple of
// 32, so some lanes have fewer: a guard per chunk, which the exact-fit
// instantiation leaves out because its branches cost the bf16 presets
// 7-10% of their time, measured). The fma order is the same on every
// path: per expert a lane chain over its chunks from +0, then
// acc = fma(w_j, p_j, acc).
template <class HT, class W, int kCpl, bool kTail = false>
__global__ void __launch_bounds__(kThreads) down_kernel(KernelArgs a, const typename HT::Store* __restrict__ h) {
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  const bool live = warp < a.T * a.H;
  const int64_t i = warp % a.H, t = warp / a.H;
  float acc = 0.0f;
  if constexpr (kCpl > 0) {
    const int64_t chunks = a.I / W::kChunk;
    uint4 dw[kBatch][kCpl];
    ChunkScale ds[kBatch][kCpl];
    typename W::Row dr[kBatch];
    if (live) load_d_batch<W, kCpl, kTail>(a, t, i, 0, lane, chunks, dw, ds, dr);  // weights: not written by kernel 1
    wait_for_producer();
    if (!live) return;
    for (int64_t j0 = 0; j0 < a.k; j0 += kBatch) {
      if (j0 > 0) load_d_batch<W, kCpl, kTail>(a, t, i, j0, lane, chunks, dw, ds, dr);
#pragma unroll
      for (int b = 0; b < kBatch; ++b) {
        if (j0 + b < a.k) {
          const int64_t tj = t * a.k + j0 + b;
          const typename HT::Store* h_row = h + tj * a.I;  // (I)
          float p = 0.0f;
#pragma unroll
          for (int q = 0; q < kCpl; ++q) {
            const int64_t c = lane + q * kWarp;
            if (!kTail || c < chunks) p = chunk_dot<HT, W>(dw[b][q], ds[b][q], dr[b], c * W::kChunk, h_row, p);
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
      const auto d_row = W::row(a.w2, a.w2_scale, a.w2_ts, a.topk_ids[tj], a.H, a.I, i);  // (I)
      const typename HT::Store* h_row = h + tj * a.I;                                    // (I)
      float p = 0.0f;
      if constexpr (kCpl == 0) {
        const int64_t chunks = a.I / W::kChunk;
#pragma unroll(kUnroll<W>)
        for (int64_t c = lane; c < chunks; c += kWarp) {
          const uint4 dw = load_stream(codes(d_row) + c * 16);
          p = chunk_dot<HT, W>(dw, load_scales<W>(d_row, c * W::kChunk), d_row, c * W::kChunk, h_row, p);
        }
      } else {
        p = lane_dot<W, typename HT::Read>(d_row, h_row, a.I, lane, 0.0f);
      }
      acc = __fmaf_rn(a.topk_weights[tj], p, acc);
    }
  }
  acc = warp_sum(acc);
  if (lane == 0) store_output(a.y, a.y_format, warp, acc);
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

inline unsigned blocks_for(int64_t warps) {
  return static_cast<unsigned>((warps + kThreads / kWarp - 1) / (kThreads / kWarp));
}

// Kernel 2 as a programmatic dependent of kernel 1 where the device has it
// (compute capability 9.0+); plain stream order elsewhere.
template <class HT, class W, int kCpl, bool kTail = false>
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
  MOECHECK_CUDA(cudaLaunchKernelEx(&cfg, down_kernel<HT, W, kCpl, kTail>, a, h));
}

inline bool device_has_pdl() {
  int dev = 0, major = 0;
  MOECHECK_CUDA(cudaGetDevice(&dev));
  MOECHECK_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  return major >= 9;
}

template <class HT, class W>
void launch_fmt(const DeviceArgs& d, void* workspace, CUstream_st* stream) {
  if (d.weight_format != W::format)
    throw InputError("warp_decode: weight format " + std::string(weight_format_name(d.weight_format)) +
                     " dispatched to the " + std::string(weight_format_name(W::format)) + " kernels");
  check_output_format("warp_decode", d.y_format);
  const Shape s = d.shape;
  KernelArgs a{s.T,          s.H,         s.I,       s.k,          d.layout,           d.act,
               d.x,          d.w13,       d.w13_scale, d.w13_tensor_scale, d.w2, d.w2_scale,
               d.w2_tensor_scale, d.topk_ids, d.topk_weights, d.y,         d.y_format};
  auto* h = static_cast<typename HT::Store*>(workspace);
  const bool vec1 = s.H % W::kChunk == 0 && aligned16(d.x) && aligned16(d.w13);
  const bool vec2 = s.I % W::kChunk == 0 && aligned16(d.w2) && aligned16(workspace);
  const unsigned g1 = blocks_for(s.T * s.k * s.I), g2 = blocks_for(s.T * s.H);
  with_x(d.x_format, [&](auto x) {
    using X = decltype(x);
    if (vec1)
      gate_up_kernel<HT, W, X, true><<<g1, kThreads, 0, stream>>>(a, h);
    else
      gate_up_kernel<HT, W, X, false><<<g1, kThreads, 0, stream>>>(a, h);
  });
  MOECHECK_CHECK_LAUNCH();
  const bool pdl = device_has_pdl();
  // Chunks per lane of the batched path; 16-bit weights keep the wider
  // specializations the bf16 presets use (I = 768, 1536, 2048: 3, 6, 8).
  const int64_t chunks = s.I / W::kChunk, cpl = (chunks + kWarp - 1) / kWarp;
  constexpr bool kWide = !kScaled<W>;
  const bool tail = chunks % kWarp != 0;
  auto batched = [&](auto cpl_c) {
    constexpr int kCpl = decltype(cpl_c)::value;
    if (tail)
      launch_down<HT, W, kCpl, true>(a, h, g2, stream, pdl);
    else
      launch_down<HT, W, kCpl, false>(a, h, g2, stream, pdl);
  };
  if (!vec2)
    launch_down<HT, W, -1>(a, h, g2, stream, pdl);
  else if (cpl == 1)
    batched(std::integral_constant<int, 1>{});
  else if (cpl == 2)
    batched(std::integral_constant<int, 2>{});
  else if (cpl == 3)
    batched(std::integral_constant<int, 3>{});
  else if (cpl == 4)
    batched(std::integral_constant<int, 4>{});
  else if (kWide && cpl == 6)
    batched(std::integral_constant<int, kWide ? 6 : 1>{});
  else if (kWide && cpl == 8)
    batched(std::integral_constant<int, kWide ? 8 : 1>{});
  else
    launch_down<HT, W, 0>(a, h, g2, stream, pdl);
  MOECHECK_CHECK_LAUNCH();
}

}  // namespace moecheck::warp_decode

// The tensor-core tile GEMM of the expert-centric family (tile_gemm) and
// what it needs. Included by ec_kernels.cuh (expert_centric.cu) for Mode and
// GemmArgs, and by gemm_inst.cuh, whose inst_<fmt>.cu files instantiate it.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "core/formats.hpp"
#include "kernels/activation.hpp"
#include "kernels/expert_centric/plan.hpp"
#include "kernels/expert_centric/tile_load.hpp"
#include "kernels/warp_decode/device_primitives.cuh"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::ec {

using warp_decode::Bf16Vec;
using warp_decode::load_stream;
using warp_decode::load_stream4;
using warp_decode::load_stream8;

constexpr int kTile = static_cast<int>(kTileM);

// ---- tensor-core tile GEMM ------------------------------------------------
// C (16 rows of one expert's tile, n8 columns) = A (16, K) . W^T, W (rows, K)
// row-major: a W row is a column of the mma's B operand, so weights stream
// from global memory straight into B fragments (no shared memory), 32 bytes
// per lane per 64-wide K step. The K positions are permuted consistently in A
// and B (lane q takes 16 consecutive K), which leaves each mma a sum of 16
// exact products and keeps the loads 16-byte wide. A is staged in shared
// memory per K chunk. Accumulation: one fp32 chain per output, cut into
// blocks of 16 terms (one mma each), in K order.

// VEC: K % 8 == 0 and 16-byte aligned data, so each 8-weight half is wholly in
// or out and its load (16, 8 or 4 bytes, little endian: the words
// load_raw_scalar assembles) aligned. Otherwise (odd K or unaligned) code by
// code (tile_load.hpp). Zero past K or when !valid.
template <class W, bool VEC>
__device__ __forceinline__ RawW<W> load_raw(const typename W::Row& row, int64_t k, int64_t K, bool valid) {
  if constexpr (!VEC) {
    return load_raw_scalar<W>(row, k, K, valid);
  } else {
    RawW<W> c;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const bool in = valid && k + 8 * h < K;
      if constexpr (!kScaled<W>) {
        const uint4 v = in ? load_stream(static_cast<const uint16_t*>(row) + k + 8 * h) : make_uint4(0, 0, 0, 0);
        c.r[4 * h] = v.x, c.r[4 * h + 1] = v.y, c.r[4 * h + 2] = v.z, c.r[4 * h + 3] = v.w;
      } else if constexpr (!W::kFp4) {
        const uint2 v = in ? load_stream8(row.data + k + 8 * h) : make_uint2(0, 0);
        c.r[2 * h] = v.x, c.r[2 * h + 1] = v.y;
      } else {
        c.r[h] = in ? load_stream4(row.data + (k + 8 * h) / 2) : 0u;
      }
    }
    if constexpr (kScaled<W>) c.s = valid && k < K ? W::scale(row, k) : 0.0f;
    return c;
  }
}

// ---- A staging: 8 activations at row[k0, k0+8) as bf16 -------------------
// x read in its format XV (Bf16Vec, F16Vec, F32Vec) and rounded to bf16
// (Numerics::x_requant = bf16, element-wise; exact for bf16). Zero past K.
template <class XV, bool VEC>
__device__ __forceinline__ uint4 stage8(const void* row, int64_t k0, int64_t K) {
  if constexpr (VEC && std::is_same_v<XV, Bf16Vec>) {
    return k0 < K ? *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(row) + k0) : make_uint4(0, 0, 0, 0);
  } else if constexpr (VEC && XV::kBytes == 2) {  // f16
    if (k0 >= K) return make_uint4(0, 0, 0, 0);
    const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const uint16_t*>(row) + k0);
    const uint32_t w[4] = {v.x, v.y, v.z, v.w};
    uint32_t o[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) o[i] = pack_bf16(warp_decode::f16_to_f32(w[i] & 0xffffu), warp_decode::f16_to_f32(w[i] >> 16));
    return make_uint4(o[0], o[1], o[2], o[3]);
  } else if constexpr (VEC) {  // f32
    if (k0 >= K) return make_uint4(0, 0, 0, 0);
    const float4 a = *reinterpret_cast<const float4*>(static_cast<const float*>(row) + k0);
    const float4 b = *reinterpret_cast<const float4*>(static_cast<const float*>(row) + k0 + 4);
    return make_uint4(pack_bf16(a.x, a.y), pack_bf16(a.z, a.w), pack_bf16(b.x, b.y), pack_bf16(b.z, b.w));
  } else {
    uint32_t o[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t k = k0 + 2 * i;
      if constexpr (std::is_same_v<XV, Bf16Vec>) {
        const uint16_t* r = static_cast<const uint16_t*>(row);
        o[i] = (k < K ? r[k] : 0u) | ((k + 1 < K ? r[k + 1] : 0u) << 16);
      } else {
        o[i] = pack_bf16(k < K ? XV::at(row, k) : 0.0f, k + 1 < K ? XV::at(row, k + 1) : 0.0f);
      }
    }
    return make_uint4(o[0], o[1], o[2], o[3]);
  }
}

__device__ __forceinline__ void mma16816(float c[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                         uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

enum class Mode : int {
  gateup_f32,     // expert_centric: A = gathered x rows; out gu (rows, 2I) f32
  down_bf16,      // expert_centric: A = h rows; out ye (rows, H) bf16
  gateup_act,     // fused: A = x rows through sorted_pair; out h (rows, I) bf16
  down_weighted,  // fused: A = h rows; out yw (N, H) f32 = w_p * acc
};

struct GemmArgs {
  const void* a;                // A source: (rows, K) bf16, or x (T, K) in its format for gateup_act
  const void* w;                // (S, R, K) weight stack (core/weights.hpp layout)
  const void* w_scale;          // its scales (scaled formats)
  const float* w_ts;            // (S) nvfp4 tensor scales
  int64_t R, K;                 // rows and reduction length of one expert matrix
  const int32_t* sorted_pair;   // (max_rows)
  const int32_t* tile_expert;   // (max_tiles)
  const int32_t* num_tiles;     // (1)
  int k;                        // experts per token (pair -> token)
  int I;                        // gateup_act: neurons
  bool interleaved;             // gateup_act: gate/up layout
  ActivationSpec act;
  const float* topk_w;          // down_weighted: (N)
  void* out;
  int64_t ldo;                  // output row stride in elements
};

constexpr int kWarps = 4;
constexpr int kNT = 2;          // n8 tiles per warp
constexpr int kUnroll = 4;      // K steps of 64 with loads in flight
constexpr int kChunk = 1024;    // K elements of A staged per pass
constexpr int kLds = kChunk + 8;  // +16 bytes per row: conflict-free 16B reads

// Output rows a block covers: 16 per warp (two n8 tiles), or 8 neurons per
// warp in gateup_act (a gate tile and the matching up tile).
template <Mode M>
__host__ __device__ constexpr int block_cols() {
  return M == Mode::gateup_act ? 8 * kWarps : 8 * kNT * kWarps;
}

// W: weight loader (warp_math.hpp); XV: how A is read (x's format in
// gateup_act, Bf16Vec elsewhere).
template <Mode M, bool VEC, class W, class XV>
__global__ void __launch_bounds__(kWarps * 32) tile_gemm(GemmArgs g) {
  __shared__ __align__(16) uint16_t As[kTile * kLds];
  const int tile = blockIdx.y;
  if (tile >= *g.num_tiles) return;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int gid = lane >> 2, q = lane & 3;
  const int64_t K = g.K;
  const int expert = g.tile_expert[tile];

  // This lane's W row (B column gid) of each n8 tile.
  int64_t wr[kNT];
  const int64_t col0 = static_cast<int64_t>(blockIdx.x) * block_cols<M>() + warp * (block_cols<M>() / kWarps);
#pragma unroll
  for (int t = 0; t < kNT; ++t) {
    if constexpr (M == Mode::gateup_act) {
      // col0 = first neuron of this warp (8 neurons).
      wr[t] = g.interleaved ? 2 * col0 + 8 * t + gid : (t == 0 ? col0 + gid : g.I + col0 + gid);
    } else {
      wr[t] = col0 + 8 * t + gid;
    }
  }
  typename W::Row wrow[kNT];
  bool wok[kNT];
#pragma unroll
  for (int t = 0; t < kNT; ++t) {
    const bool in = M == Mode::gateup_act ? (g.interleaved ? wr[t] < 2 * static_cast<int64_t>(g.I)
                                                           : (col0 + gid) < g.I)
                                          : wr[t] < g.R;
    wok[t] = in;
    wrow[t] = W::row(g.w, g.w_scale, g.w_ts, expert, g.R, K, in ? wr[t] : 0);
  }

  // The scalar path (odd K, unaligned) assembles codes byte by byte: fewer
  // K steps in flight keep its addresses and codes in registers (no spills).
  constexpr int kU = VEC ? kUnroll : 1;
  float acc[kNT][4];
#pragma unroll
  for (int t = 0; t < kNT; ++t) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0.0f;

  for (int64_t kb = 0; kb < K; kb += kChunk) {
    const int len = static_cast<int>(K - kb < kChunk ? (K - kb + 63) / 64 * 64 : kChunk);
    __syncthreads();
    // Stage A[16][kb, kb+len) with zeros past K and for padding rows.
    for (int idx = threadIdx.x; idx < kTile * (len / 8); idx += blockDim.x) {
      const int m = idx / (len / 8), c8 = (idx % (len / 8)) * 8;
      const int64_t row = static_cast<int64_t>(tile) * kTile + m;
      const void* src;
      if constexpr (M == Mode::gateup_act) {
        const int p = g.sorted_pair[row];
        src = p >= 0 ? static_cast<const char*>(g.a) + static_cast<int64_t>(p / g.k) * K * XV::kBytes : nullptr;
      } else {
        src = static_cast<const uint16_t*>(g.a) + row * K;
      }
      const uint4 v = src != nullptr ? stage8<XV, VEC>(src, kb + c8, K) : make_uint4(0, 0, 0, 0);
      *reinterpret_cast<uint4*>(&As[m * kLds + c8]) = v;
    }
    __syncthreads();
    for (int kk = 0; kk < len; kk += 64 * kU) {
      RawW<W> w[kU][kNT];
#pragma unroll
      for (int u = 0; u < kU; ++u)
#pragma unroll
        for (int t = 0; t < kNT; ++t)
          w[u][t] = load_raw<W, VEC>(wrow[t], kb + kk + 64 * u + 16 * q, K, wok[t] && kk + 64 * u < len);
#pragma unroll
      for (int u = 0; u < kU; ++u) {
        if (kk + 64 * u >= len) break;
        const int c = kk + 64 * u + 16 * q;
        const uint4 a0l = *reinterpret_cast<const uint4*>(&As[gid * kLds + c]);
        const uint4 a0h = *reinterpret_cast<const uint4*>(&As[gid * kLds + c + 8]);
        const uint4 a1l = *reinterpret_cast<const uint4*>(&As[(gid + 8) * kLds + c]);
        const uint4 a1h = *reinterpret_cast<const uint4*>(&As[(gid + 8) * kLds + c + 8]);
        const uint32_t ar0[8] = {a0l.x, a0l.y, a0l.z, a0l.w, a0h.x, a0h.y, a0h.z, a0h.w};
        const uint32_t ar1[8] = {a1l.x, a1l.y, a1l.z, a1l.w, a1h.x, a1h.y, a1h.z, a1h.w};
#pragma unroll
        for (int t = 0; t < kNT; ++t) {
          const Frag b = to_frag<W>(w[u][t]);
#pragma unroll
          for (int i = 0; i < 4; ++i)
            mma16816(acc[t], ar0[2 * i], ar1[2 * i], ar0[2 * i + 1], ar1[2 * i + 1], b.r[2 * i], b.r[2 * i + 1]);
        }
      }
    }
  }

  // Epilogue. acc[t] = C[gid][2q], C[gid][2q+1], C[gid+8][2q], C[gid+8][2q+1]
  // of n8 tile t (columns are W rows wr of lanes 4*(2q) .. : column c of the
  // tile is W row base_t + c).
  const int64_t row0 = static_cast<int64_t>(tile) * kTile + gid;
  if constexpr (M == Mode::gateup_act) {
    uint16_t* h = static_cast<uint16_t*>(g.out);
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int64_t row = row0 + 8 * half;
      // Padding rows are zeroed so the down GEMM multiplies finite values.
      if (g.interleaved) {
        // Tile t columns 2q, 2q+1 are gate and up of neuron col0 + 4t + q.
#pragma unroll
        for (int t = 0; t < kNT; ++t) {
          const int64_t n = col0 + 4 * t + q;
          if (n < g.I) {
            const float v = act::apply(g.act, acc[t][2 * half], acc[t][2 * half + 1]);
            h[row * g.ldo + n] = g.sorted_pair[row] < 0 ? 0 : f32_to_bf16_rn(v);
          }
        }
      } else {
        // Tile 0 is gate, tile 1 up, of neurons col0 + 2q, col0 + 2q + 1.
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int64_t n = col0 + 2 * q + c;
          if (n < g.I) {
            const float v = act::apply(g.act, acc[0][2 * half + c], acc[1][2 * half + c]);
            h[row * g.ldo + n] = g.sorted_pair[row] < 0 ? 0 : f32_to_bf16_rn(v);
          }
        }
      }
    }
  } else {
#pragma unroll
    for (int t = 0; t < kNT; ++t) {
      const int64_t n0 = col0 + 8 * t + 2 * q;
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int64_t row = row0 + 8 * half;
#pragma unroll
        for (int c = 0; c < 2; ++c) {
          const int64_t n = n0 + c;
          if (n >= g.R) continue;
          const float v = acc[t][2 * half + c];
          if constexpr (M == Mode::gateup_f32) {
            static_cast<float*>(g.out)[row * g.ldo + n] = v;
          } else if constexpr (M == Mode::down_bf16) {
            static_cast<uint16_t*>(g.out)[row * g.ldo + n] = f32_to_bf16_rn(v);
          } else {
            const int p = g.sorted_pair[row];
            if (p >= 0) static_cast<float*>(g.out)[static_cast<int64_t>(p) * g.ldo + n] = g.topk_w[p] * v;
          }
        }
      }
    }
  }
}

}  // namespace moecheck::ec

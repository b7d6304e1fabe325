// The arithmetic of the warp decode family, shared by the CUDA kernels and
// their host twins so both run the same operations in the same order.
//
// Lane partition (both kernels): a dot product of length n is cut into chunks
// of kChunk = 8 consecutive elements (one 16-byte bf16 vector); chunk c
// belongs to lane c % 32, and each lane runs ONE fp32 fma chain over its
// chunks in increasing element order, starting from +0. So a lane's chain is
// at most 8 * ceil(ceil(n / 8) / 32) terms long (n / 32 when 256 | n). The
// 32 lane partials are then summed by a 5-level xor butterfly (offsets 16, 8,
// 4, 2, 1); IEEE addition is commutative, so every lane ends with the same
// bits and the host twin may read lane 0.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/formats.hpp"
#include "core/problem.hpp"

namespace moecheck::warp_decode {

constexpr int kWarp = 32;
constexpr int kChunk = 8;

MOECHECK_HD float ffma(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fmaf(a, b, c);
#endif
}
MOECHECK_HD float fadd(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// Rows of gate and up in the fused (2I, H) tensor; core/problem.hpp's
// gate_row/up_row made callable on the device (same mapping).
MOECHECK_HD int64_t gate_row_of(GateUpLayout l, int64_t /*I*/, int64_t n) {
  return l == GateUpLayout::concatenated ? n : 2 * n;
}
MOECHECK_HD int64_t up_row_of(GateUpLayout l, int64_t I, int64_t n) {
  return l == GateUpLayout::concatenated ? I + n : 2 * n + 1;
}

// Weight loader: the template point where other weight formats slot in (a
// loader for fp8/MX/NV adds its scale handling here; the chain order stays).
// Row pointers address one row of K codes.
struct Bf16Weights {
  using Code = uint16_t;
  MOECHECK_HD static float at(const void* row, int64_t k) {
    return bf16_to_f32(static_cast<const uint16_t*>(row)[k]);
  }
};

// Activations / h as read by a dot product.
struct Bf16Vec {
  MOECHECK_HD static float at(const void* v, int64_t k) { return bf16_to_f32(static_cast<const uint16_t*>(v)[k]); }
};
struct F32Vec {
  MOECHECK_HD static float at(const void* v, int64_t k) { return static_cast<const float*>(v)[k]; }
};

// h between the kernels: bf16 (warp_decode) or fp32 (warp_decode_h32).
struct HBf16 {
  using Store = uint16_t;
  using Read = Bf16Vec;
  MOECHECK_HD static Store store(float v) { return f32_to_bf16_rn(v); }
  static constexpr Format format = Format::bf16;
};
struct HF32 {
  using Store = float;
  using Read = F32Vec;
  MOECHECK_HD static Store store(float v) { return v; }
  static constexpr Format format = Format::f32;
};

// One lane's chain of a dot product (element-wise reference of the lane
// partition above; the device fast path loads 16-byte vectors but performs
// exactly these fmas in this order).
template <class W, class V>
MOECHECK_HD float lane_dot(const void* w_row, const void* v, int64_t n, int lane, float acc) {
  for (int64_t base = static_cast<int64_t>(lane) * kChunk; base < n; base += kWarp * kChunk) {
    for (int e = 0; e < kChunk; ++e) {
      if (base + e < n) acc = ffma(W::at(w_row, base + e), V::at(v, base + e), acc);
    }
  }
  return acc;
}

// Gate and up chains of one lane, one pass over x (two independent chains).
template <class W, class V>
MOECHECK_HD void lane_dot2(const void* g_row, const void* u_row, const void* v, int64_t n, int lane, float& g,
                           float& u) {
  for (int64_t base = static_cast<int64_t>(lane) * kChunk; base < n; base += kWarp * kChunk) {
    for (int e = 0; e < kChunk; ++e) {
      if (base + e < n) {
        const float xv = V::at(v, base + e);
        g = ffma(W::at(g_row, base + e), xv, g);
        u = ffma(W::at(u_row, base + e), xv, u);
      }
    }
  }
}

// Host emulation of the xor butterfly over 32 lane values.
inline float butterfly_host(float (&v)[kWarp]) {
  for (int off = kWarp / 2; off >= 1; off /= 2) {
    float next[kWarp];
    for (int l = 0; l < kWarp; ++l) next[l] = fadd(v[l], v[l ^ off]);
    for (int l = 0; l < kWarp; ++l) v[l] = next[l];
  }
  return v[0];
}

}  // namespace moecheck::warp_decode

// The arithmetic of the warp decode family, shared by the CUDA kernels and
// their host twins so both run the same operations in the same order.
//
// Lane partition (both kernels, every weight format): a dot product of length
// n is cut into chunks of W::kChunk consecutive elements, one 16-byte vector
// of the weight codes: 8 elements for 16-bit weights (bf16, f16), 16 for fp8
// e4m3 (fp8_channel, fp8_block128, mxfp8), 32 for e2m1 (mxfp4, nvfp4).
// Chunk c belongs to lane c % 32, and each lane runs ONE fp32 fma chain over
// its chunks in increasing element order, starting from +0. So a lane's
// chain is at most kChunk * ceil(ceil(n / kChunk) / 32) terms long. The 32
// lane partials are then summed by a 5-level xor butterfly (offsets 16, 8,
// 4, 2, 1); IEEE addition is commutative, so every lane ends with the same
// bits and the host twin may read lane 0.
//
// Dequantization (W::at): each weight is turned into fp32 as it streams,
// w = fl(e * S) with e the element's exact value and S the fp32 factor of
// its scale block (W::scale, computed once per block by the kernels):
//   bf16, f16       w = e                          exact
//   mxfp8, mxfp4    S = 2^(s - 127) (e8m0)         exact (power of two)
//   fp8_channel     S = the row's fp32 scale       one rounding
//   fp8_block128    S = the block's fp32 scale     one rounding
//   nvfp4           S = fl(e4m3 scale * tensor)    two roundings
// (dequant_roundings; Numerics::weight_roundings declares it). Exactness of
// the power-of-two products holds for every value within fp32's range: the
// smallest nonzero mxfp8 / mxfp4 values, 2^-136 and 2^-128, are multiples of
// fp32's subnormal quantum 2^-149 (this build keeps subnormals: no -ftz).
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "core/error.hpp"
#include "core/formats.hpp"
#include "core/problem.hpp"
#include "core/weights.hpp"

namespace moecheck::warp_decode {

constexpr int kWarp = 32;
constexpr int kChunk = 8;  // elements per 16-byte chunk of 16-bit weights (bf16, f16)

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
MOECHECK_HD float fmul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
MOECHECK_HD float fdiv(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// ---- exact element decoders to fp32 ----------------------------------------
// Each places the code's exponent and mantissa bits into an fp32 pattern
// whose value is the code's value times 2^-c (subnormal codes land on fp32
// subnormals, which have the same linear structure), then multiplies by 2^c:
// exact. Equal to core/formats.hpp's decode() for every code (twin_test).

MOECHECK_HD float f16_to_f32(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16, em = h & 0x7fffu;
  if (em >= 0x7c00u) return bits_float(sign | 0x7f800000u | ((em & 0x3ffu) << 13));  // inf, NaN
  return fmul(bits_float(sign | (em << 13)), 0x1p112f);
}
// fp32 pattern of an e4m3 code's value times 2^-120 (NaN codes excepted).
MOECHECK_HD uint32_t e4m3_bits(uint32_t c) { return ((c & 0x80u) << 24) | ((c & 0x7fu) << 20); }
MOECHECK_HD float e4m3_to_f32(uint32_t c) {
  if ((c & 0x7fu) == 0x7fu) return bits_float(((c & 0x80u) << 24) | 0x7fc00000u);  // S.1111.111: NaN
  return fmul(bits_float(e4m3_bits(c)), 0x1p120f);
}
// fp32 pattern of an e2m1 code's value times 2^-126.
MOECHECK_HD uint32_t e2m1_bits(uint32_t c) { return ((c & 0x8u) << 28) | ((c & 0x7u) << 22); }
MOECHECK_HD float e2m1_to_f32(uint32_t c) { return fmul(bits_float(e2m1_bits(c)), 0x1p126f); }
MOECHECK_HD float e8m0_to_f32(uint32_t c) {
  c &= 0xffu;
  if (c == 0xffu) return bits_float(0x7fc00000u);
  return c == 0 ? bits_float(0x00400000u) : bits_float(c << 23);  // 2^-127 is an fp32 subnormal
}

// fp32 roundings in one dequantized weight (the table above).
MOECHECK_HD int dequant_roundings(WeightFormat f) {
  switch (f) {
    case WeightFormat::fp8_channel:
    case WeightFormat::fp8_block128: return 1;
    case WeightFormat::nvfp4: return 2;
    default: return 0;
  }
}

// Rows of gate and up in the fused (2I, H) tensor; core/problem.hpp's
// gate_row/up_row made callable on the device (same mapping).
MOECHECK_HD int64_t gate_row_of(GateUpLayout l, int64_t /*I*/, int64_t n) {
  return l == GateUpLayout::concatenated ? n : 2 * n;
}
MOECHECK_HD int64_t up_row_of(GateUpLayout l, int64_t I, int64_t n) {
  return l == GateUpLayout::concatenated ? I + n : 2 * n + 1;
}

// ---- weight loaders ----------------------------------------------------------
// W::row(...) addresses row r of expert slot `slot` of an (S, R, K) stack
// (core/weights.hpp layouts); W::at(row, k) is the dequantized weight k.

struct Bf16Weights {
  using Row = const void*;  // the row's K codes
  static constexpr WeightFormat format = WeightFormat::bf16;
  static constexpr int kChunk = 8;
  MOECHECK_HD static Row row(const void* data, const void*, const float*, int64_t slot, int64_t R, int64_t K,
                             int64_t r) {
    return static_cast<const uint16_t*>(data) + (slot * R + r) * K;
  }
  MOECHECK_HD static float at(Row row, int64_t k) { return bf16_to_f32(static_cast<const uint16_t*>(row)[k]); }
};

struct F16Weights {
  using Row = const void*;
  static constexpr WeightFormat format = WeightFormat::f16;
  static constexpr int kChunk = 8;
  MOECHECK_HD static Row row(const void* data, const void*, const float*, int64_t slot, int64_t R, int64_t K,
                             int64_t r) {
    return static_cast<const uint16_t*>(data) + (slot * R + r) * K;
  }
  MOECHECK_HD static float at(Row row, int64_t k) { return f16_to_f32(static_cast<const uint16_t*>(row)[k]); }
};

// A row of a scaled format: its codes, its scales (fp32 or 8-bit codes, by
// format: the row's one fp32 scale, its ceil(K/128) block scales, its
// ceil(K/32) e8m0 or ceil(K/16) e4m3 scales) and the nvfp4 tensor scale.
struct QRow {
  const uint8_t* data;
  const void* scale;
  float ts;
};

template <WeightFormat F>
struct QWeights {
  using Row = QRow;
  static constexpr WeightFormat format = F;
  static constexpr bool kFp4 = F == WeightFormat::mxfp4 || F == WeightFormat::nvfp4;
  static constexpr int kChunk = kFp4 ? 32 : 16;
  MOECHECK_HD static Row row(const void* data, const void* scale, const float* ts, int64_t slot, int64_t R,
                             int64_t K, int64_t r) {
    const int64_t row_bytes = kFp4 ? (K + 1) / 2 : K;
    QRow q{static_cast<const uint8_t*>(data) + (slot * R + r) * row_bytes, nullptr, 1.0f};
    if (F == WeightFormat::fp8_channel) {
      q.scale = static_cast<const float*>(scale) + slot * R + r;
    } else if (F == WeightFormat::fp8_block128) {
      const int64_t RB = (R + 127) / 128, KB = (K + 127) / 128;
      q.scale = static_cast<const float*>(scale) + (slot * RB + r / 128) * KB;
    } else if (F == WeightFormat::nvfp4) {
      q.scale = static_cast<const uint8_t*>(scale) + (slot * R + r) * ((K + 15) / 16);
      q.ts = ts[slot];
    } else {
      q.scale = static_cast<const uint8_t*>(scale) + (slot * R + r) * ((K + 31) / 32);
    }
    return q;
  }
  // The fp32 factor S of element k's scale block.
  MOECHECK_HD static float scale(const Row& r, int64_t k) {
    if (F == WeightFormat::fp8_channel) return *static_cast<const float*>(r.scale);
    if (F == WeightFormat::fp8_block128) return static_cast<const float*>(r.scale)[k / 128];
    if (F == WeightFormat::nvfp4) return fmul(e4m3_to_f32(static_cast<const uint8_t*>(r.scale)[k / 16]), r.ts);
    return e8m0_to_f32(static_cast<const uint8_t*>(r.scale)[k / 32]);
  }
  MOECHECK_HD static float elem(const Row& r, int64_t k) {
    if (kFp4) return e2m1_to_f32((r.data[k / 2] >> ((k & 1) * 4)) & 0xfu);
    return e4m3_to_f32(r.data[k]);
  }
  MOECHECK_HD static float at(const Row& r, int64_t k) { return fmul(elem(r, k), scale(r, k)); }
};

using Fp8ChannelWeights = QWeights<WeightFormat::fp8_channel>;
using Fp8Block128Weights = QWeights<WeightFormat::fp8_block128>;
using Mxfp8Weights = QWeights<WeightFormat::mxfp8>;
using Mxfp4Weights = QWeights<WeightFormat::mxfp4>;
using Nvfp4Weights = QWeights<WeightFormat::nvfp4>;

// Calls fn(W{}) with the loader of weight format f (host side: picks the
// kernel to launch; plugins reach it as weight_decode::with_weight_format).
template <class Fn>
decltype(auto) with_weights(WeightFormat f, Fn&& fn) {
  switch (f) {
    case WeightFormat::bf16: return fn(Bf16Weights{});
    case WeightFormat::f16: return fn(F16Weights{});
    case WeightFormat::fp8_channel: return fn(Fp8ChannelWeights{});
    case WeightFormat::fp8_block128: return fn(Fp8Block128Weights{});
    case WeightFormat::mxfp8: return fn(Mxfp8Weights{});
    case WeightFormat::mxfp4: return fn(Mxfp4Weights{});
    case WeightFormat::nvfp4: return fn(Nvfp4Weights{});
  }
  throw InputError("invalid weight format id " + std::to_string(static_cast<int>(f)));
}

// ---- the kernels' fast decode of a 16-byte chunk ------------------------------
// Each e4m3 byte / e2m1 nibble is placed into an fp32 pattern worth its value
// times 2^-120 / 2^-126 (e4m3_bits / e2m1_bits), then multiplied by
// F = S * 2^120 / S * 2^126: fl(pattern * F) = fl(e * S) = W::at, because
// both products are the same real number. Valid (chunk_factors true) when F
// is exact (|S| < 2^8 / 2^1) and no e4m3 NaN code is in the chunk; the
// kernels take W::at element by element otherwise. Host-callable so the
// twin tests can check it bit for bit against W::at.

MOECHECK_HD uint32_t shl32(uint32_t v, int s) { return s >= 0 ? v << s : v >> -s; }
// fp32 pattern of byte j (e4m3) / nibble p (e2m1) of a 32-bit word.
MOECHECK_HD uint32_t e4m3_pattern(uint32_t v, int j) {
  return (shl32(v, 24 - 8 * j) & 0x80000000u) | (shl32(v, 20 - 8 * j) & 0x07f00000u);
}
MOECHECK_HD uint32_t e2m1_pattern(uint32_t v, int p) {
  return (shl32(v, 28 - 4 * p) & 0x80000000u) | (shl32(v, 22 - 4 * p) & 0x01c00000u);
}
// Nonzero when a byte of v is an e4m3 NaN code (S.1111.111).
MOECHECK_HD uint32_t e4m3_nan_bytes(uint32_t v) { return ((v & 0x7f7f7f7fu) + 0x01010101u) & 0x80808080u; }

// Factors of a chunk of a scaled format W from the factors s0, s1 of its
// (first, second) scale block; words: its 16 bytes. False: not exact.
template <class W>
MOECHECK_HD bool chunk_factors_of(float s0, float s1, const uint32_t (&words)[4], float (&F)[2]) {
  if constexpr (W::kFp4) {
    F[0] = fmul(s0, 0x1p126f);
    F[1] = fmul(s1, 0x1p126f);
    return std::fabs(s0) < 2.0f && std::fabs(s1) < 2.0f;
  } else {
    F[0] = F[1] = fmul(s0, 0x1p120f);
    const uint32_t nan =
        e4m3_nan_bytes(words[0]) | e4m3_nan_bytes(words[1]) | e4m3_nan_bytes(words[2]) | e4m3_nan_bytes(words[3]);
    return std::fabs(s0) < 256.0f && nan == 0;
  }
}

// Element e (0 .. kChunk-1) of a chunk with exact factors F.
template <class W>
MOECHECK_HD float chunk_weight(const uint32_t (&words)[4], int e, const float (&F)[2]) {
  if constexpr (W::kFp4) return fmul(bits_float(e2m1_pattern(words[e / 8], e % 8)), F[e / 16]);
  return fmul(bits_float(e4m3_pattern(words[e / 4], e % 4)), F[0]);
}

// ---- activations x / h as read by a dot product ---------------------------------

struct Bf16Vec {
  static constexpr int kBytes = 2;
  MOECHECK_HD static float at(const void* v, int64_t k) { return bf16_to_f32(static_cast<const uint16_t*>(v)[k]); }
};
struct F16Vec {
  static constexpr int kBytes = 2;
  MOECHECK_HD static float at(const void* v, int64_t k) { return f16_to_f32(static_cast<const uint16_t*>(v)[k]); }
};
struct F32Vec {
  static constexpr int kBytes = 4;
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
// partition above; the device fast path loads 16-byte vectors and decodes
// them with bit operations but performs exactly these fmas on exactly these
// values in this order).
template <class W, class V>
MOECHECK_HD float lane_dot(typename W::Row w, const void* v, int64_t n, int lane, float acc) {
  for (int64_t base = static_cast<int64_t>(lane) * W::kChunk; base < n; base += kWarp * W::kChunk) {
    for (int e = 0; e < W::kChunk; ++e) {
      if (base + e < n) acc = ffma(W::at(w, base + e), V::at(v, base + e), acc);
    }
  }
  return acc;
}

// Gate and up chains of one lane, one pass over x (two independent chains).
template <class W, class V>
MOECHECK_HD void lane_dot2(typename W::Row g_row, typename W::Row u_row, const void* v, int64_t n, int lane,
                           float& g, float& u) {
  for (int64_t base = static_cast<int64_t>(lane) * W::kChunk; base < n; base += kWarp * W::kChunk) {
    for (int e = 0; e < W::kChunk; ++e) {
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

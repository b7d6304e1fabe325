// The expert-centric tile GEMM's weight B fragments, host and device: raw
// codes of a lane's 16 weights (RawW), assembled code by code (the device's
// vector loads give the same words), and their expansion into the bf16 mma
// fragment (to_frag). Host-callable so tile_load_test.cpp checks every
// format's bits against W::at rounded to bf16.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/formats.hpp"
#include "kernels/warp_decode/warp_math.hpp"

// Full unrolling keeps RawW / Frag in registers on the device; host
// compilers have no such pragma.
#if defined(__CUDA_ARCH__)
#define MOECHECK_EC_UNROLL _Pragma("unroll")
#else
#define MOECHECK_EC_UNROLL
#endif

namespace moecheck::ec {

using warp_decode::Bf16Weights;
using warp_decode::F16Weights;

struct Frag {
  uint32_t r[8];  // 16 bf16
};

// Two fp32 values rounded to bf16 (RNE, subnormals kept; the device's cvt
// gives f32_to_bf16_rn's bits for every non-NaN value), lo in the low half:
// one B/A register of the mma.
MOECHECK_HD uint32_t pack_bf16(float lo, float hi) {
#if defined(__CUDA_ARCH__)
  uint32_t r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#else
  return f32_to_bf16_rn(lo) | (static_cast<uint32_t>(f32_to_bf16_rn(hi)) << 16);
#endif
}

// ---- weight B fragments: load, then dequantize into the bf16 tile ---------
// A lane's 16 consecutive weights row[k, k+16) of format W (warp_math.hpp
// loaders). Weight-only quantization as production grouped GEMMs do it: each
// weight becomes W::at (its exact dequantized fp32 value, fl(e * S)) and is
// rounded once to bf16 (Numerics::weight_tile_format); bf16 weights pass
// through. k is a multiple of 16, so the 16 weights share one scale block in
// every format (16, 32, 128 or a row). The raw codes of all K steps in flight
// are loaded first (RawW), and dequantized (to_frag) just before their mma.
template <class W>
constexpr bool kScaled = !(std::is_same_v<W, Bf16Weights> || std::is_same_v<W, F16Weights>);
// 32-bit words holding 16 codes: 16-bit 8, e4m3 4, e2m1 2.
template <class W>
constexpr int raw_words() {
  if constexpr (!kScaled<W>)
    return 8;
  else
    return W::kFp4 ? 2 : 4;
}

template <class W>
struct RawW {
  uint32_t r[raw_words<W>()];
  float s;  // the block's fp32 scale factor W::scale (scaled formats)
};

// The weights row[k, k+16) code by code into RawW (the layout the device's
// vector loads produce: little-endian words), zero past K or when !valid; the
// bounds checks only where the chunk reaches past K. Odd K or unaligned data.
template <class W>
MOECHECK_HD RawW<W> load_raw_scalar(const typename W::Row& row, int64_t k, int64_t K, bool valid) {
  RawW<W> c;
  const bool full = valid && k + 16 <= K;
  if constexpr (!kScaled<W>) {
    const uint16_t* r = static_cast<const uint16_t*>(row) + k;
MOECHECK_EC_UNROLL
    for (int i = 0; i < 8; ++i) {
      if (full)
        c.r[i] = r[2 * i] | (static_cast<uint32_t>(r[2 * i + 1]) << 16);
      else
        c.r[i] = (valid && k + 2 * i < K ? r[2 * i] : 0u) |
                 (static_cast<uint32_t>(valid && k + 2 * i + 1 < K ? r[2 * i + 1] : 0u) << 16);
    }
  } else if constexpr (!W::kFp4) {
    const uint8_t* r = row.data + k;
MOECHECK_EC_UNROLL
    for (int i = 0; i < 4; ++i) {
      uint32_t w = 0;
MOECHECK_EC_UNROLL
      for (int b = 0; b < 4; ++b)
        if (full || (valid && k + 4 * i + b < K)) w |= static_cast<uint32_t>(r[4 * i + b]) << (8 * b);
      c.r[i] = w;
    }
  } else {
    // Byte j holds elements k + 2j (low nibble) and k + 2j + 1; a last
    // element past K (odd K) is masked off.
    const uint8_t* r = row.data + k / 2;
MOECHECK_EC_UNROLL
    for (int i = 0; i < 2; ++i) {
      uint32_t w = 0;
MOECHECK_EC_UNROLL
      for (int b = 0; b < 4; ++b) {
        const int64_t e = k + 8 * i + 2 * b;
        if (full || (valid && e < K))
          w |= static_cast<uint32_t>(r[4 * i + b] & (full || e + 1 < K ? 0xffu : 0x0fu)) << (8 * b);
      }
      c.r[i] = w;
    }
  }
  if constexpr (kScaled<W>) c.s = valid && k < K ? W::scale(row, k) : 0.0f;
  return c;
}

template <class W>
MOECHECK_HD Frag to_frag(const RawW<W>& c) {
  Frag f;
  if constexpr (std::is_same_v<W, Bf16Weights>) {
MOECHECK_EC_UNROLL
    for (int i = 0; i < 8; ++i) f.r[i] = c.r[i];
  } else if constexpr (std::is_same_v<W, F16Weights>) {
MOECHECK_EC_UNROLL
    for (int i = 0; i < 8; ++i)
      f.r[i] = pack_bf16(warp_decode::f16_to_f32(c.r[i] & 0xffffu), warp_decode::f16_to_f32(c.r[i] >> 16));
  } else if constexpr (!W::kFp4) {
    // Word w holds bytes (elements) 4w .. 4w+3.
MOECHECK_EC_UNROLL
    for (int i = 0; i < 8; ++i) {
      const uint32_t w = c.r[i / 2] >> (16 * (i % 2));
      f.r[i] = pack_bf16(warp_decode::fmul(warp_decode::e4m3_to_f32(w & 0xffu), c.s),
                         warp_decode::fmul(warp_decode::e4m3_to_f32((w >> 8) & 0xffu), c.s));
    }
  } else {
    // Word w holds nibbles (elements) 8w .. 8w+7, the even one low.
MOECHECK_EC_UNROLL
    for (int i = 0; i < 8; ++i) {
      const uint32_t w = c.r[i / 4] >> (8 * (i % 4));
      f.r[i] = pack_bf16(warp_decode::fmul(warp_decode::e2m1_to_f32(w & 0xfu), c.s),
                         warp_decode::fmul(warp_decode::e2m1_to_f32((w >> 4) & 0xfu), c.s));
    }
  }
  return f;
}

}  // namespace moecheck::ec

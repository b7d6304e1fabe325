// MXFP8 re-quantization of activations (OCP MX v1.0, e4m3 elements), shared
// by the device kernel (expert_centric_mxfp8.cu), the host evaluation and the
// tests. A row along the reduction dimension is cut into blocks of 32 values
// (the last one shorter when the length is not a multiple of 32); each block
// gets the shared scale 2^s, s = floor(log2 amax) - 8 (8 = emax of e4m3),
// and each element becomes e4m3_RNE(v / 2^s) * 2^s, saturating to +-448
// (values of the top binade [448, 512) 2^s clamp to 448 2^s: the 1/8
// relative error oracle/bounds.cpp requant_error charges).
//
// Edge rules (the declaration in numerics.hpp does not spell them; these are
// the same as core/weights.cpp uses for MXFP8 weights):
// - s is clamped to e8m0's range [-127, 127]; an all-zero block takes
//   s = -127 (any scale gives zeros).
// - a block holding a NaN or an infinity gets the e8m0 NaN scale, so all of
//   its values decode as NaN (OCP MX: a NaN scale makes the block NaN).
// The result e * 2^s is written as bf16: exact whenever s >= -124 (e4m3's
// quantum 2^(s-9) is then at or above bf16's smallest subnormal 2^-133),
// i.e. for every block with amax >= 2^-116; below that the bf16 store rounds
// once more (by at most 2^-134).
#pragma once

#include <cstdint>

#include "core/formats.hpp"

namespace moecheck::ec {

inline constexpr int kMxBlock = 32;
inline constexpr int kE4m3Emax = 8;           // floor(log2 448)
inline constexpr uint16_t kBf16Nan = 0x7fc0;  // what a NaN-scaled block decodes to

// Shared scale exponent of a block with finite amax >= 0.
MOECHECK_HD int mx_scale_exp(float amax) {
  if (!(amax > 0)) return -127;
  const uint32_t b = float_bits(amax);
  const int be = static_cast<int>((b >> 23) & 0xffu);
  // floor(log2 amax) from the bits (subnormal amax: m 2^-149).
  const int e = (be != 0 ? be - 127 : highest_bit(b & 0x7fffffu) - 149) - kE4m3Emax;
  return e < -127 ? -127 : (e > 127 ? 127 : e);
}

// One finite element v under scale 2^s: e4m3_RNE_sat(v 2^-s) 2^s as bf16.
// The products by powers of two are exact in double.
MOECHECK_HD uint16_t mx_requant_elem(float v, int s) {
  const double e = decode_mini(Format::e4m3, encode_mini(Format::e4m3, static_cast<double>(v) * pow2(-s)));
  return f32_to_bf16_rn(static_cast<float>(e * pow2(s)));
}

MOECHECK_HD bool finite_f32(float v) { return (float_bits(v) & 0x7f800000u) != 0x7f800000u; }

// Host reference: n values at(0..n-1) (fp32, exact: bf16, f16 or f32 codes)
// re-quantized block by block into bf16 codes out; `at` may read out's
// storage (each block is read whole before it is written).
template <class At>
void mx_requant_values(At at, int64_t n, uint16_t* out) {
  for (int64_t b0 = 0; b0 < n; b0 += kMxBlock) {
    const int64_t b1 = b0 + kMxBlock < n ? b0 + kMxBlock : n;
    float amax = 0;
    bool finite = true;
    for (int64_t q = b0; q < b1; ++q) {
      const float v = at(q);
      finite = finite && finite_f32(v);
      const float a = v < 0 ? -v : v;
      if (a > amax) amax = a;
    }
    const int s = mx_scale_exp(amax);
    for (int64_t q = b0; q < b1; ++q) out[q] = finite ? mx_requant_elem(at(q), s) : kBf16Nan;
  }
}

// n bf16 values (one row); in == out allowed.
inline void mx_requant_row(const uint16_t* in, int64_t n, uint16_t* out) {
  mx_requant_values([in](int64_t q) { return bf16_to_f32(in[q]); }, n, out);
}

}  // namespace moecheck::ec

// Per-row fp8 (e4m3) re-quantization of activations with one fp32 scale per
// row, as production w8a8 paths do it (vLLM's dynamic per-token fp8 quant,
// cutlass_scaled_mm's epilogue), shared by the device kernels
// (expert_centric_fp8.cu), the host evaluation and the tests.
// Numerics::requant_scale = fp32_row declares it (oracle/BOUNDS.md 2.1):
//   amax = max |v| over the row (exact: v are bf16, f16 or f32 values),
//   s    = max(fl(amax / 448), 2^-126)   (fp32 division, RN; the floor keeps
//          s normal, so tiny rows get the quantum 2^-135 instead of a
//          subnormal or zero scale),
//   q    = sat_e4m3(RN_e4m3(fl(v / s)))  (fp32 division, then e4m3 RNE,
//          saturating to +-448: fl(amax / 448) may lie below amax / 448),
// and the GEMM sums the codes q (stored as bf16: every e4m3 value is one)
// times the weights with fp32 accumulation; its epilogue computes
// fl(fl(acc * s) * s_w), s_w the per-channel weight scale (1 for every
// other weight format: that product is exact). A row holding a NaN or an
// infinity gets s = NaN and zero codes: every output it feeds is NaN.
#pragma once

#include <cstdint>

#include "core/formats.hpp"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::ec {

inline constexpr float kE4m3Max = 448.0f;
inline constexpr float kMinRowScale = 0x1p-126f;  // fp32's smallest normal

// The row's scale from its amax (finite: no NaN / inf in the row).
MOECHECK_HD float fp8_row_scale(float amax, bool finite) {
  if (!finite) return bits_float(0x7fc00000u);
  const float s = warp_decode::fdiv(amax, kE4m3Max);
  return s < kMinRowScale ? kMinRowScale : s;
}

// bf16 bits of the e4m3 code of v under scale s (finite s).
MOECHECK_HD uint16_t fp8_row_code(float v, float s) {
  const double e = decode_mini(Format::e4m3, encode_mini(Format::e4m3, static_cast<double>(warp_decode::fdiv(v, s))));
  return f32_to_bf16_rn(static_cast<float>(e));  // exact: e4m3 values are bf16 values
}

// GEMM epilogue: the fp32 sum of code products back to value units.
MOECHECK_HD float fp8_epilogue(float acc, float s_row, float s_w) {
  return warp_decode::fmul(warp_decode::fmul(acc, s_row), s_w);
}

// Host reference: n values at(0..n-1) (exact fp32) into codes (n) and *s.
template <class At>
void fp8_row_values(At at, int64_t n, uint16_t* codes, float* s) {
  float amax = 0;
  bool finite = true;
  for (int64_t q = 0; q < n; ++q) {
    const float v = at(q);
    finite = finite && (float_bits(v) & 0x7f800000u) != 0x7f800000u;
    const float a = v < 0 ? -v : v;
    if (a > amax) amax = a;
  }
  *s = fp8_row_scale(amax, finite);
  for (int64_t q = 0; q < n; ++q) codes[q] = finite ? fp8_row_code(at(q), *s) : uint16_t{0};
}

// fp8_channel weights as the B operand of this variant: the e4m3 codes
// alone (exact in the bf16 tile: scale() = 1 makes to_frag's fl(e * 1)
// exact); the row's fp32 scale is applied in the epilogue instead.
struct Fp8ChannelCodes : warp_decode::Fp8ChannelWeights {
  MOECHECK_HD static float scale(const Row&, int64_t) { return 1.0f; }
  MOECHECK_HD static float at(const Row& r, int64_t k) { return elem(r, k); }
};

}  // namespace moecheck::ec

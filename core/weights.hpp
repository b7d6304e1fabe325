// Weight formats and quantized weight stacks (E, R, K): K is the reduction
// dimension (H for gate/up, I for down), R the output rows.
//
// Storage per format (row-major, each row padded to whole bytes):
//   bf16, f16       data (E, R, K) 16-bit codes
//   fp8_channel     data (E, R, K) e4m3; scales (E, R) fp32
//   fp8_block128    data (E, R, K) e4m3; scales (E, ceil(R/128), ceil(K/128)) fp32
//   mxfp8           data (E, R, K) e4m3; scales (E, R, ceil(K/32)) e8m0
//   mxfp4           data (E, R, ceil(K/2)) packed e2m1, low nibble = even k;
//                   scales (E, R, ceil(K/32)) e8m0
//   nvfp4           data as mxfp4; scales (E, R, ceil(K/16)) e4m3;
//                   tensor_scale (E) fp32, one per expert matrix
// The value of an element is code * scale (* tensor_scale): with at most
// 2 + 4 + 24 significant bits it is exact in double, which the oracle uses.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/formats.hpp"

namespace moecheck {

enum class WeightFormat : uint8_t { bf16, f16, fp8_channel, fp8_block128, mxfp8, mxfp4, nvfp4 };

std::string_view weight_format_name(WeightFormat f);
WeightFormat parse_weight_format(std::string_view name);  // throws InputError
const std::vector<WeightFormat>& all_weight_formats();

// Element format of the stored codes, and of the scales (f32 where fp32 scales).
Format element_format(WeightFormat f);
bool has_scales(WeightFormat f);
Format scale_format(WeightFormat f);
int scale_block(WeightFormat f);  // values per scale along K (0: per row, -1: 128x128)

struct WeightStack {
  WeightFormat format = WeightFormat::bf16;
  int64_t E = 0, R = 0, K = 0;
  std::vector<uint8_t> data;          // see layout above
  std::vector<uint8_t> scales;        // raw scale codes (fp32 bit patterns or 8-bit codes)
  std::vector<float> tensor_scale;    // (E) nvfp4 only

  int64_t row_bytes() const;          // bytes of one row of data
  int64_t data_bytes() const { return E * R * row_bytes(); }
  // Shape of the scale tensor (empty where none) and its byte size.
  std::vector<int64_t> scale_shape() const;
  int64_t scale_bytes() const;

  uint32_t code(int64_t e, int64_t r, int64_t k) const;  // element code
  double scale(int64_t e, int64_t r, int64_t k) const;   // full scale incl. tensor scale
  double value(int64_t e, int64_t r, int64_t k) const;   // exact dequantized value
  void dequant_row(int64_t e, int64_t r, double* out) const;  // (K)
};

// Quantize fp32 masters (E, R, K) into `fmt`, correctly rounded, with the
// format's scale selection (OCP MX v1.0 for MX; amax/max-finite for fp8
// scales; NVIDIA's two-level rule for NVFP4). `master` is indexed
// [(e * R + r) * K + k].
WeightStack quantize_weights(WeightFormat fmt, int64_t E, int64_t R, int64_t K, const std::vector<float>& master);
// The same into `w`, reusing its buffers: generating a large case expert by
// expert then costs no fresh (page-faulting) allocation per expert.
void quantize_weights_into(WeightStack& w, WeightFormat fmt, int64_t E, int64_t R, int64_t K,
                           const std::vector<float>& master);

// Makes every value of expert `e` NaN in the format's own way, for isolation
// tests (a kernel must never read an unselected expert): NaN element codes
// (bf16, f16, e4m3) and NaN scales (fp32 NaN, e8m0 0xFF, e4m3 0x7F); e2m1
// has no NaN code, its scales carry it. NVFP4's per-tensor fp32 scale is left
// alone: it is part of the input contract (finite, positive; validate()).
void poison_expert_nan(WeightStack& w, int64_t e);

// code(v / s) with one rounding of the exact quotient v / s.
uint32_t encode_quotient(Format f, double v, double s);

}  // namespace moecheck

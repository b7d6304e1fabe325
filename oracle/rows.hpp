// Fast exact dequantization of one weight row into doubles (the oracle's hot
// path): table decoding of the element codes, scales applied per block. Equal
// bit for bit to WeightStack::value (tested), which is the definition.
#pragma once

#include <cstdint>

#include "core/weights.hpp"

namespace moecheck {

// out (K) = exact values of row r of slot e.
void decode_row(const WeightStack& w, int64_t e, int64_t r, double* out);

// Upper bound on the significant bits of any value of the format: element
// bits times scale bits (power-of-two scales add none). Products of such a
// value and a p-bit x are exact in double when this + p <= 53.
int weight_value_bits(WeightFormat f);

// Significant bits of an activation format (x): 8 bf16, 11 f16, 24 f32.
int format_precision_bits(Format f);

}  // namespace moecheck

// Error bounds of a kernel variant's output from its numerics declaration
// (core/numerics.hpp), propagated through each stage with the oracle's
// magnitudes. Derivation, with the formulas used here: oracle/BOUNDS.md
// section 2.
#pragma once

#include <cstdint>
#include <vector>

#include "core/numerics.hpp"
#include "core/problem.hpp"
#include "oracle/oracle.hpp"

namespace moecheck {

struct Bounds {
  std::vector<double> rigorous;  // (T, H) worst-case |y_kernel - y_true|, absolute
  std::vector<double> estimate;  // (T, H) typical size (lambda = 1), absolute
};

Bounds derive_bounds(const Case& c, const OracleResult& o, const Numerics& n);

// gamma_m = m u / (1 - m u); +inf once m u >= 1.
double gamma_n(double m, double u);
// Probabilistic counterpart lambda sqrt(m) u with lambda = 1 (Higham-Mary).
double gamma_prob(double m, double u);
// Most roundings any one term of an n-term reduction of this shape sees.
int64_t reduction_depth(const ReductionShape& s, int64_t n);
// |RN_f(v) - v| <= rel * |v| + floor: half the smallest subnormal for floor.
double rounding_floor(Format f);
// Re-quantization to element format f with a shared power-of-two scale per
// `block` values (0: none), or one fp32 scale per row (fp32_row, block
// unused): relative part and floor per unit of block / row amax (scaled) or
// absolute floor (block == 0). BOUNDS.md 2.1.
struct RequantError {
  double rel = 0, floor_per_amax = 0, floor_abs = 0;
};
RequantError requant_error(Format f, int block, RequantScale scale = RequantScale::pow2_block);

}  // namespace moecheck

// Exact summation of doubles by repeated extraction (Rump, Ogita, Oishi,
// "Accurate floating-point summation I", ExtractVector): the oracle's dot
// products feed exact products here and get their sum back as a short
// unevaluated sum of doubles, each of which is an exact partial sum.
//
// Residuals that fall below 2^-900 are rescaled by 2^1000 (exact) so the
// extraction never runs into the subnormal range; the scale is recorded.
//
// One level with sigma = 2^k >= 2 n max|p|: q = (sigma + p) - sigma is a
// multiple of 2^-53 sigma, p - q is exact, and any partial sum of the q is
// below sigma in magnitude and so exact in double, whatever the order. The
// residuals p - q (each <= 2^-53 sigma) go to the next level. Because every
// level sum is exact, the result does not depend on summation order,
// vector width or thread count. See oracle/BOUNDS.md section 1.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moecheck {

inline constexpr int kMaxSumLevels = 64;

struct ExactSum {
  double level[kMaxSumLevels];  // exact partial sums, decreasing magnitude
  int level_exp[kMaxSumLevels];  // level l stands for level[l] * 2^level_exp[l]
  int levels = 0;
  int rest_exp = 0;  // rest and rest_bound are scaled by 2^rest_exp
  // A remainder that did not fit in kMaxSumLevels (astronomical dynamic
  // range): summed in double and bounded; zero when the sum is exact.
  double rest = 0;
  double rest_bound = 0;  // |true rest - rest| <= rest_bound
  bool finite = true;     // false when some term was inf or NaN
  bool exact() const { return rest_bound == 0; }
};

// Sums p[0..n) exactly; p is overwritten (residuals). Terms that are +-0 are
// fine; non-finite terms make the result non-finite.
ExactSum exact_sum(double* p, size_t n);
// The same when the caller already knows the largest |p| as its bit pattern
// with the sign cleared (what mul_into returns).
ExactSum exact_sum(double* p, size_t n, int64_t max_abs_bits);
// With sum_abs >= sum |p| as well: the first level's sigma may then be
// 2 sum_abs (any partial sum of the q stays below it), which is usually
// several bits below 2 n max|p| and saves a level.
ExactSum exact_sum(double* p, size_t n, int64_t max_abs_bits, double sum_abs);

}  // namespace moecheck

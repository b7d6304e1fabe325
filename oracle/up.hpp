// Upward-rounded double arithmetic on nonnegative values, for the oracle's
// certified bounds (BOUNDS.md 1.5): the round-to-nearest result, then one
// step up, which is never below the exact value (RN errs by at most half an
// ulp). A step per operation instead of a rounding-mode switch: the mode is
// per thread under OpenMP and the compiler may fold constants in either.
// Zero operands stay exact, so a bound of exactly 0 remains 0.
#pragma once

#include <cmath>

namespace moecheck {

inline double add_up(double a, double b) {
  if (a == 0) return b;
  if (b == 0) return a;
  return std::nextafter(a + b, INFINITY);
}

inline double mul_up(double a, double b) {
  if (a == 0 || b == 0) return 0;
  return std::nextafter(a * b, INFINITY);
}

}  // namespace moecheck

// Ziv's strategy for the outputs the fast path leaves with fewer than
// kZivTargetBits certified bits relative to |y| (deep cancellation, y == 0):
// each is recomputed from the exact gate/up values with its terms grouped by
// equal (g, u), at increasing activation precision, until the bound holds;
// an output whose every group coefficient is exactly zero is certified as an
// exact 0 (err = 0). BOUNDS.md 1.6.
#pragma once

#include <vector>

#include "oracle/oracle.hpp"

namespace moecheck {

inline constexpr int kZivTargetBits = 100;

// x: the decoded (T, H) input. Rewrites y_hi, y_lo and err of the outputs
// that need it; the others, and cond, are left alone.
void refine_outputs(const Case& c, const std::vector<double>& x, OracleResult& o);

}  // namespace moecheck

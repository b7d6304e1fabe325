// An evaluation of the layer that shares nothing with the oracle's method,
// to check its certified bound: gate/up dot products in exact rationals (GMP
// mpq); the bilinear layer entirely in rationals (exact); otherwise the
// activation in MPFR at twice the oracle's precision and the down sum of
// exact MPFR products rounded once (mpfr_sum) at kSumBits, with a rigorous
// bound on the distance to the exact value (BOUNDS.md 3.2).
#pragma once

#include <cstdint>
#include <string>

#include "core/problem.hpp"
#include "oracle/oracle.hpp"

namespace moecheck::test {

// Checks every finite oracle output of c against the independent
// evaluation: |y_true - (y_hi + y_lo)| <= err, failing only where the
// evaluation's own slack cannot explain the excess. With min_bits > 0 also
// requires err <= 2^-min_bits |y| for |y| >= 2^-916 (below, the double-double
// holds fewer bits) and err == 0 for y == 0 (exact zero certified). Returns "" or a message naming the first failing element;
// `checked` counts the outputs compared.
std::string check_independent(const Case& c, const OracleResult& o, int min_bits, int64_t& checked);

}  // namespace moecheck::test

// Vectorized double loops of the oracle's hot path. Each has one fixed
// evaluation order (independent of threads), so results are reproducible.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moecheck {

// out[i] = a[i] * b[i] (exact when the operands' bits allow, see rows.hpp);
// returns sum |out[i]| in a fixed order, and raises `maxbits` to the largest
// |out[i]| as a bit pattern (sign cleared).
double mul_into(const double* a, const double* b, double* out, size_t n, int64_t& maxbits);
// out[i] = fma(a[i], b[i], -p[i]): the rounding errors of p = a * b; raises
// `maxbits` like mul_into.
void two_prod_err(const double* a, const double* b, const double* p, double* out, size_t n, int64_t& maxbits);
// sa = sum |d[i]| a[i], sb = sum |d[i]| b[i] (a, b >= 0).
void abs_dot2(const double* d, const double* a, const double* b, size_t n, double& sa, double& sb);

}  // namespace moecheck

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
// For each row r = 0..k-1 of d, a, b (each (k, n), a, b >= 0), in row order:
// sa += sum_i |d[r,i]| a[r,i], sb += sum_i |d[r,i]| b[r,i], each row summed
// in 4 lanes (lane l takes i = l, l + 4, ...) then (l0 + l1) + (l2 + l3) and
// the tail in sequence. The oracle's outputs depend on this order; several
// rows run at once so the add latency is hidden.
void abs_dot2_rows(const double* d, const double* a, const double* b, size_t k, size_t n, double& sa, double& sb);

}  // namespace moecheck

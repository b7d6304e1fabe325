// The oracle: every output of a case to >= 100 correct bits relative to |y|
// (|y| >= 2^-916) with a certified bound on its own error (oracle/BOUNDS.md
// section 1, oracle/README.md).
//
// Decoded inputs are exact binary numbers, so gate/up dot products are summed
// exactly (exact products fed to exact_sum), the activation is evaluated in
// MPFR at act_precision_bits() with a certified bound, and the down/combine
// sum is again exact over a split of w_j * h_j into parts whose products with
// the weights are exact. Outputs that deep cancellation leaves short of 100
// bits are recomputed at higher precision (ziv.hpp). Outputs are computed
// independently (OpenMP over outputs), so results are bitwise identical for
// any thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace moecheck {

struct OracleResult {
  Shape shape;
  // (T, H) y = y_hi + y_lo; y_hi = RN(y_oracle), y_lo = RN(y_oracle - y_hi).
  std::vector<double> y_hi, y_lo;
  // (T, H) certified bound on |y_true - (y_hi + y_lo)|, y_true the exact
  // layer output, rounded upward; <= 2^-100 |y| wherever |y| >= 2^-916
  // (reach: BOUNDS.md 1.6). 0 where every step was exact (integer bilinear
  // cases) and for exact zeros; 0 for +-inf outputs (IEEE rules on the
  // exact values).
  std::vector<double> err;
  // (T, H) c = sum_j |w_j| sum_n |D_{e_j}[i, n]| |h_j[n]|, evaluated in double
  // (relative accuracy ~ (k I + 2) 2^-53).
  std::vector<double> cond;
  // (T, k, I) RN-to-double of the exact gate/up dot products and of h.
  std::vector<double> g, u, h;
  // (T, k, I) sum_n |G[n]| |x[n]|, sum_n |U[n]| |x[n]| (double).
  std::vector<double> g_cond, u_cond;
  // (T, k, I) certified bound on |h_true - h_oracle| where h_oracle is the
  // multiprecision value (not its RN-to-double in `h`).
  std::vector<double> h_err;
  int threads_used = 0;
  int precision_bits = 0;  // MPFR precision of the activation (refined outputs: more, ziv.hpp)

  double y(int64_t idx) const { return y_hi[idx] + y_lo[idx]; }
};

// 0: OpenMP default. Results are identical for any thread count. Throws
// InputError for invalid cases (moecheck::validate).
OracleResult run_oracle(const Case& c, int threads = 0);

// Plain references a PyTorch user would compute, (T, H): everything in fp32
// (weights dequantized to fp32, sequential fp32 dot products, activation in
// fp32 libm, per-expert outputs then the routing-weighted sum) and the same in
// fp64. Not ground truth near cancellation: compare them against the oracle.
std::vector<double> reference_fp32(const Case& c);
std::vector<double> reference_fp64(const Case& c);

// Correctly rounded conversion of the exact value hi + lo (a double-double
// with |lo| <= ulp(hi)/2) into format f: the code. Ties to even, the format's
// saturation and NaN rules; never double rounding through hi alone.
uint32_t round_oracle(Format f, double hi, double lo);

// Correct bits of the oracle for one output: -log2(err / |y|), capped at 1100
// where err == 0; 0 where y == 0 and err > 0.
double oracle_correct_bits(const OracleResult& o, int64_t idx);

}  // namespace moecheck

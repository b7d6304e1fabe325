// Exact dot products by extraction fused with the multiplication: the
// products a[i] b[i] (exact in double) are formed and extracted against
// given sigmas in one pass, without storing them. The oracle's fast path
// (oracle.cpp); where a pass cannot certify that it captured every bit it
// says so, and the caller falls back to mul_into + exact_sum. Either way the
// sum is exact, so the results are the same bit for bit (BOUNDS.md 1.1).
#pragma once

#include <cstddef>

namespace moecheck {

// Sums of the parts extracted so far; every partial sum is exact when the
// sigmas satisfy the conditions below over all the rows added in.
struct Extracted {
  double s1 = 0, s2 = 0;  // level sums (multiples of 2^-53 sigma1, 2^-53 sigma2)
  double abs_sum = 0;     // sum |a b| in double, any order (to check sigma1)
  bool complete = true;   // false: some residual left over, the levels do not hold the whole sum
};

// One level: sigma = 2^k >= 2 sum |a b| (the caller's bound). Adds the
// extracted sum to e.s1; clears e.complete when some product has a nonzero
// residual (more than 53 - log2(n) bits below sigma).
void extract_dot1(const double* a, const double* b, size_t n, double sigma, Extracted& e);

// Two levels: sigma1 = 2^k1, sigma2 = 2^k2 >= 2 N 2^-53 sigma1 for the total
// number N of terms over all calls (the first level's residuals are at most
// 2^-53 sigma1 each). sigma1 is certified afterwards by the caller from
// e.abs_sum (sigma1_certified). Adds to e.s1, e.s2, e.abs_sum.
void extract_dot2(const double* a, const double* b, size_t n, double sigma1, double sigma2, Extracted& e);

// The gate/up pass: c0, c1 = sum |a0 b|, sum |a1 b| in mul_into's order (bit
// for bit what it returns; these are the oracle's g_cond, u_cond), and one
// extraction level of each product row, like extract_dot1, against sigmas
// guessed before the sums are known. The caller certifies each guess
// afterwards (sigma >= 2 c (1 + 2^-40)); the latency of the ordered sums
// hides behind the extraction.
void abs_sums_extract2(const double* a0, const double* a1, const double* b, size_t n, double sigma0, double sigma1,
                       double& c0, double& c1, Extracted& e0, Extracted& e1);

// Whether sigma1 >= 2 sum |a b| given the double sum e.abs_sum of N terms
// (its relative error is below N 2^-53 <= 2^-30 for N <= 2^23).
bool sigma1_certified(const Extracted& e, double sigma1, size_t N);

}  // namespace moecheck

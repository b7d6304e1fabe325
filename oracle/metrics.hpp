// Error metrics of a kernel output y (T, H) against the oracle.
//
// Per element i (y_o = y_hi + y_lo the oracle value, c its condition
// magnitude, u32 = 2^-24):
//   abs error      |y - y_o|  (+inf when y is not finite and y_o is)
//   u*c error      |y - y_o| / (u32 * c): error in units of what one fp32
//                  rounding per term of the final sum can explain; 0/0 = 0,
//                  x/0 = inf. Meaningful even near cancellation.
//   relative error |y - y_o| / |y_o|, only where |y_o| >= 2^-12 c (the
//                  output is not a cancellation residue); elsewhere excluded.
//   ulps           |ord(y) - ord(RN_fmt(y_o))|, distance in units in the last
//                  place of the output format between y and the correctly
//                  rounded oracle value, ord the monotone integer order of
//                  the format's codes (+0 and -0 are both 0). 0 means y is the
//                  correctly rounded result. Its max is taken where relative
//                  error is (|y_o| >= 2^-12 c, y_o != 0): a cancellation
//                  residue's ulps span binades or zero and measure nothing.
//   bound ratio    |y - y_o| / (bound + err_o): the check is against the true
//                  value, which the oracle only pins within err_o. A
//                  violation is a ratio > 1 (or a NaN error).
// Per tensor:
//   max of each, with its flat index (t * H + i); quantiles p50/p90/p99/p99.9
//   of abs and u*c error (nearest rank); log2-bucketed histogram of the u*c
//   error; rel_l2 = ||y - y_o||_2 / ||y_o||_2; cosine = <y, y_o> /
//   (||y|| ||y_o||); frac_correctly_rounded = share of all elements with
//   ulps 0 (residues included: being correctly rounded means the same there);
//   nonfinite = elements where y is inf/NaN and y_o is finite.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "oracle/bounds.hpp"
#include "oracle/oracle.hpp"

namespace moecheck {

struct Quantiles {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
};

// counts[b] = number of u*c errors in [2^(kHistLo + b), 2^(kHistLo + b + 1)),
// the first and last buckets open-ended; `zero` exact matches, `inf`
// non-finite errors.
struct Log2Histogram {
  static constexpr int kLo = -30, kHi = 40;
  std::vector<int64_t> counts = std::vector<int64_t>(kHi - kLo, 0);
  int64_t zero = 0, inf = 0;
};

struct Metrics {
  int64_t count = 0;
  int64_t nonfinite = 0;         // y not finite where the oracle is
  int64_t oracle_nonfinite = 0;  // elements the oracle itself has as NaN/inf (skipped)
  double max_abs = 0;
  int64_t max_abs_index = -1;
  double max_ucond = 0;
  int64_t max_ucond_index = -1;
  double max_rel = 0;
  int64_t max_rel_index = -1;
  int64_t rel_count = 0;  // elements where the relative error (and max ulps) is defined
  Quantiles abs_q, ucond_q;
  Log2Histogram ucond_hist;
  double rel_l2 = 0, cosine = 1;
  double frac_correctly_rounded = 0;
  int64_t max_ulps = 0;  // over the rel_count elements only
  int64_t max_ulps_index = -1;
  // Only with bounds:
  int64_t violations = 0;
  int64_t first_violation = -1;
  double max_bound_ratio = 0;
  int64_t max_bound_ratio_index = -1;
};

double abs_error(const OracleResult& o, const std::vector<double>& y, size_t i);
double ucond_error(const OracleResult& o, const std::vector<double>& y, size_t i);
// Ordinal distance between codes of format f; INT64_MAX when either is NaN.
int64_t ulp_distance(Format f, uint32_t a, uint32_t b);

Metrics compute_metrics(const OracleResult& o, const std::vector<double>& y, Format out_fmt, const Bounds* b);

// One line that reproduces and explains element `index`.
std::string describe_violation(const Case& c, const OracleResult& o, const std::vector<double>& y, const Bounds& b,
                               size_t index);
// Multi-line human summary.
std::string format_metrics(const Metrics& m, const Shape& s);

}  // namespace moecheck

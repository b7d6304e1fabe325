// Shared helpers of the oracle tests: random small generator specs,
// hand-built cases, and the naive multiprecision cross-check.
#pragma once

#include <rapidcheck.h>

#include <string>
#include <vector>

#include "core/generate.hpp"
#include "oracle/oracle.hpp"

#ifndef MOECHECK_TEST_LEVEL
#define MOECHECK_TEST_LEVEL 1
#endif

// RapidCheck assertion carrying a reproduction message.
#define MC_RC_CHECK(cond, msg)  \
  do {                          \
    if (!(cond)) RC_FAIL(msg);  \
  } while (0)

namespace moecheck::test {

// Case counts per test level (0 smoke, 1 default, 2 exhaustive).
inline int cases(int smoke, int normal, int exhaustive) {
  return MOECHECK_TEST_LEVEL <= 0 ? smoke : (MOECHECK_TEST_LEVEL == 1 ? normal : exhaustive);
}
// RapidCheck runs this many cases per property (set in main via env is
// awkward under gtest_discover_tests; the properties loop themselves).

// A small random generator spec: every weight format, activation, layout,
// routing and value distribution, shapes up to the given limits.
rc::Gen<GenSpec> small_spec(int64_t max_h = 40, int64_t max_i = 24, int64_t max_t = 3);

// A case built directly from fp32 masters (E experts all stored).
struct DirectCase {
  Shape shape;
  ActivationSpec act;
  GateUpLayout layout = GateUpLayout::concatenated;
  WeightFormat weights = WeightFormat::bf16;
  Format x_format = Format::bf16;
  std::vector<float> x;    // (T, H), rounded to x_format
  std::vector<float> w13;  // (E, 2I, H)
  std::vector<float> w2;   // (E, H, I)
  std::vector<int32_t> ids;
  std::vector<float> weights_route;
};
Case build_case(const DirectCase& d);

// Checks the oracle against naive MPFR evaluations at ~256 and ~512 bits:
// |y_oracle - y_naive| <= err + slack_p (BOUNDS.md 3). Returns "" or a
// message naming the first failing element.
std::string check_against_naive(const Case& c, const OracleResult& o);

std::string describe_spec(const GenSpec& s);

}  // namespace moecheck::test

// Accuracy of a variant's output against the oracle and the bound derived
// from the variant's numerics declaration, and the one-line replay of a case.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/variant.hpp"
#include "oracle/bounds.hpp"
#include "oracle/metrics.hpp"
#include "oracle/oracle.hpp"

namespace moecheck {

// (T, H) output codes of format f (little endian) as exact doubles.
std::vector<double> decode_output(const std::vector<uint8_t>& codes, Format f, int64_t count);

// The one rule that run, replay, fuzz and report judge an output element
// by. The reference is the exact value y_o correctly rounded to the output
// format (round_oracle): +-inf where y_o lies past the format's range.
//  - y_o NaN (a NaN or infinite input upstream): y must be NaN.
//  - y finite: |y - y_o| <= bound + err_o (the oracle pins y_o within err_o).
//  - y = +-inf: y_o moved by bound + err_o towards y's sign rounds to y (so
//    the correctly rounded value itself, or an output within its bound of
//    overflowing on that side).
//  - y NaN where y_o is not: a failure.
// A failing non-finite y is excused (not judged) only where an intermediate
// of a declared format may overflow (intermediates_may_overflow): the bound
// assumes none does, so nothing can be said there.
enum class Judged : uint8_t { pass, fail, excused };
Judged judge_element(Format out, const OracleResult& o, int64_t i, double y, double bound, bool overflow_excuse);

struct Judgement {
  int64_t judged = 0, failed = 0, excused = 0, nan_expected = 0;
  int64_t first_failure = -1;
  // Zero elements compared is "skip: nothing to compare", never a pass.
  bool nothing_to_compare() const { return judged == 0; }
};
// Elements [begin, end) of y under the rule; bound[i] the rigorous bound.
Judgement judge_output(Format out, const OracleResult& o, const std::vector<double>& y,
                       const std::vector<double>& bound, bool overflow_excuse, int64_t begin, int64_t end);

// Largest |w| of any dequantized weight the selected experts hold, NaN ones
// left out (NaN propagates to outputs the oracle has as NaN).
double selected_weight_max(const Case& c);
// Whether some intermediate of a format n declares (dequantized weight, a
// gate/up sum, h, a per-expert partial, the accumulator, re-quantized x) may
// leave its finite range on this case, so that a non-finite output where
// the reference is finite is legitimate. The output format's own range is
// not an intermediate: the rule above handles it.
bool intermediates_may_overflow(const Case& c, const OracleResult& o, const Numerics& n, double weight_max);
// Some value is NaN or infinite upstream (the oracle has NaN outputs).
bool has_nonfinite_terms(const OracleResult& o);

// describe_violation of element i, led by what the rule asked there where
// it is not the bound (NaN exact value, an inf or NaN output).
std::string describe_failure(const Case& c, const OracleResult& o, const std::vector<double>& y, const Bounds& b,
                             size_t i);

// judge_output over all of y (a case's outputs, or the rows of the case
// the oracle covers), with the overflow excuse where it applies.
Judgement judge_case_output(const Case& c, const OracleResult& o, const Numerics& n, const std::vector<double>& y,
                            const std::vector<double>& bound);

struct CheckResult {
  Numerics numerics;
  Bounds bounds;
  Metrics metrics;  // error statistics over the elements with a finite oracle value
  Judgement judgement;
  std::vector<double> y;        // decoded output
  std::string first_violation;  // describe_violation of the first bad element, or empty
  // The variant declared the output format the case asked for (Case::y_format);
  // when not, first_violation says so and the output is judged as declared.
  bool output_format_ok = true;
  bool ok() const { return output_format_ok && judgement.failed == 0 && !judgement.nothing_to_compare(); }
};

CheckResult check_output(const Case& c, const OracleResult& o, const Variant& v, const std::vector<uint8_t>& y_codes);

// A command line that reruns this case: from the generator spec in the case's
// provenance, or `--case FILE` when case_file is given or there is no spec.
std::string replay_command(const Case& c, const std::string& variant, const std::string& backend,
                           const std::vector<std::string>& plugins, const std::string& case_file = "");

}  // namespace moecheck

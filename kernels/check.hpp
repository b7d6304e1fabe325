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

struct CheckResult {
  Numerics numerics;
  Bounds bounds;
  Metrics metrics;
  std::vector<double> y;        // decoded output
  std::string first_violation;  // describe_violation of the first bad element, or empty
  // The variant declared the output format the case asked for (Case::y_format);
  // when not, first_violation says so and the output is judged as declared.
  bool output_format_ok = true;
  bool ok() const { return output_format_ok && metrics.violations == 0 && metrics.nonfinite == 0; }
};

CheckResult check_output(const Case& c, const OracleResult& o, const Variant& v, const std::vector<uint8_t>& y_codes);

// A command line that reruns this case: from the generator spec in the case's
// provenance, or `--case FILE` when case_file is given or there is no spec.
std::string replay_command(const Case& c, const std::string& variant, const std::string& backend,
                           const std::vector<std::string>& plugins, const std::string& case_file = "");

}  // namespace moecheck

// What `run` and `check` print after judging an output: the error metrics,
// the bound ratios and one verdict under the accuracy rule (kernels/check.hpp).
#pragma once

#include <string>

#include "kernels/check.hpp"

namespace moecheck::cli {

// CTest's SKIP_RETURN_CODE: nothing was judged (as replay uses it without a device).
constexpr int kExitSkip = 77;

// Prints the metrics and bound lines, then PASS, or SKIP with exit 77 when no
// element was judged; throws CheckFailure naming the first element that
// breaks the rule. `what`: whose output, formats and shape; `replay`: the
// command that repeats this check.
void print_judgement(const CheckResult& r, const OracleResult& o, const Shape& s, const std::string& what,
                     const std::string& replay);

}  // namespace moecheck::cli

#include "cli/verdict.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.hpp"
#include "oracle/metrics.hpp"

namespace moecheck::cli {

void print_judgement(const CheckResult& r, const OracleResult& o, const Shape& s, const std::string& what,
                     const std::string& replay) {
  std::printf("%s", format_metrics(r.metrics, s).c_str());
  double max_ratio_est = 0;
  for (size_t i = 0; i < r.y.size(); ++i) {
    const double e = std::fabs(r.y[i] - o.y(static_cast<int64_t>(i)));
    if (r.bounds.estimate[i] > 0) max_ratio_est = std::max(max_ratio_est, e / r.bounds.estimate[i]);
  }
  std::printf("bound     max error / rigorous bound %.4g, max error / estimate %.4g\n", r.metrics.max_bound_ratio,
              max_ratio_est);
  const Judgement& j = r.judgement;
  const std::string excused = j.excused ? ", " + std::to_string(j.excused) +
                                              " non-finite where an intermediate of a declared format may overflow "
                                              "(not judged)"
                                        : "";
  if (r.output_format_ok && j.nothing_to_compare()) {
    std::printf("SKIP      nothing to compare: %s%s\nreplay    %s\n", what.c_str(), excused.c_str(), replay.c_str());
    std::fflush(stdout);
    std::exit(kExitSkip);
  }
  if (!r.ok())
    throw CheckFailure(what + ": " + std::to_string(j.failed) + " of " + std::to_string(j.judged) +
                       " elements break the accuracy rule (within the rigorous bound; NaN where the exact value is "
                       "NaN; +-inf only where it overflows)" + excused + "; first: " + r.first_violation +
                       "\n  replay: " + replay);
  std::printf("PASS      all %lld judged outputs follow the accuracy rule (%lld within their rigorous bounds or "
              "overflowing as the exact value does, %lld NaN as the exact value is)%s\nreplay    %s\n",
              static_cast<long long>(j.judged), static_cast<long long>(j.judged - j.nan_expected),
              static_cast<long long>(j.nan_expected), excused.c_str(), replay.c_str());
}

}  // namespace moecheck::cli

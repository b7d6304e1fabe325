// The accuracy half of a report: each sweep point generated once, the
// oracle and the plain fp32/fp64 references computed once, then every
// variant run on the chosen backend and measured against the oracle.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/variant.hpp"
#include "oracle/metrics.hpp"
#include "reports/plan.hpp"

namespace moecheck::report {

using json = nlohmann::ordered_json;

// Non-finite figures are written as the strings "inf", "-inf", "nan" (JSON
// has no such numbers); num() reads either form back.
json fig(double v);
double num(const json& j);

// Element positions as (t, i) of the full batch; `tokens` maps the rows of
// an oracle token subset back (empty: every token was checked).
json metrics_json(const Metrics& m, const Shape& s, const std::vector<int64_t>& tokens = {});

struct AccuracyRun {
  std::string backend;                    // "host" or "cuda"
  std::vector<const Variant*> variants;
  std::vector<std::string> plugins;       // for replay commands
  int threads = 0;                        // oracle threads, 0: OpenMP default
};

// One sweep point: config, references, one result per variant (ok,
// violation, failed or skipped with the reason).
json run_config(const Config& cfg, int64_t oracle_tokens, const AccuracyRun& run);

}  // namespace moecheck::report

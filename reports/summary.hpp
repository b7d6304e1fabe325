// Figures derived from the per-point results, stored in report.json so the
// Markdown, the HTML and the regression gate all read the same numbers.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace moecheck::report {

using json = nlohmann::ordered_json;

// The accuracy-ratio metric, stated in every output.
inline constexpr const char* kRatioMetric =
    "relative L2 error against the oracle, ||y - y_oracle||_2 / ||y_oracle||_2: ratio = rel_l2(baseline) / "
    "rel_l2(variant), geometric mean over the points both ran (> 1: the variant is closer to the exact result)";

// Per variant: points ok/violation/failed/skipped, worst u*c error and bound
// tightness, median relative L2, and the u*c-error histogram summed over
// every point (the CDF chart). Also the fp32/fp64 references' aggregates.
json aggregate(const json& configs, const std::vector<std::string>& variants);

// The ratio metrics besides kRatioMetric, each "baseline figure / variant
// figure" (> 1: the variant is better), geometric mean over the points both ran.
inline constexpr const char* kUcondRatioMetric =
    "max error in u*c units against the oracle (|y - y_oracle| / (2^-24 c), worst output of the point)";
inline constexpr const char* kCosineRatioMetric =
    "seed's check: cosine distance 1 - cos(y, y_fp32) against a plain fp32 reference";
inline constexpr const char* kMaxAbsRatioMetric = "seed's check: max |y - y_fp32| against a plain fp32 reference";

// The expert-centric baselines the accuracy claim is stated against: without
// activation re-quantization, with x and h re-quantized to MXFP8 (the seed's
// configuration) and to fp8 e4m3 with per-row fp32 scales. A baseline that
// did not run (not built, not selected, skipped everywhere) has no rows.
inline constexpr const char* kExpertCentricBaselines[] = {"expert_centric", "expert_centric_mxfp8",
                                                         "expert_centric_fp8"};

// Accuracy ratios of each variant per (weight format, x format, y format)
// that ran, against `baseline` and
// then against every other kExpertCentricBaselines entry that ran (each row
// names its baseline): relative L2 on the oracle and on the plain fp32
// reference (what "closer to fp32" claims use), max u*c error, and the seed's
// cosine and max-abs checks against the fp32 reference.
json accuracy_ratios(const json& configs, const std::string& baseline, const std::vector<std::string>& variants);

// The `n` results with the largest bound ratio (then u*c error), with replay.
json worst_cases(const json& configs, size_t n);

// The ratio baseline: expert_centric where it ran, else the first variant.
std::string ratio_baseline(const json& configs, const std::vector<std::string>& variants);

}  // namespace moecheck::report

// The regression gate: this report against a baseline report.json. Points
// and variants are matched by the point id and the variant name; accuracy is
// compared everywhere, throughput only when both runs name the same card.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moecheck::report {

using json = nlohmann::ordered_json;

// Noise thresholds. With the same seed and build a deterministic variant
// reproduces its errors exactly; the margins absorb a changed generator or
// seed (rel_l2 of one point moves a few percent between seeds, its max u*c
// error more) and timing noise between CI runs on one card.
struct Thresholds {
  double rel_l2_ratio = 1.10;         // regressed: rel_l2 > baseline x this (and above rel_l2_floor)
  double rel_l2_floor = 1e-30;        // absolute: ignore changes among values below this
  double max_ucond_ratio = 1.5;       // regressed: max u*c error > baseline x this ...
  double max_ucond_slack = 0.5;       // ... and more than this many u*c above it
  double correctly_rounded_drop = 0.02;  // regressed: fraction correctly rounded drops by more
  double time_ratio = 1.10;           // regressed: median us > baseline x this (same card only)
};

struct GateResult {
  std::vector<std::string> regressions;  // one line each
  std::vector<std::string> notes;        // not compared, and why
  int accuracy_compared = 0, throughput_compared = 0;
  bool ok() const { return regressions.empty(); }
};

// Throws InputError when `baseline` is not a moecheck report of a schema
// this build reads.
GateResult compare(const json& baseline, const json& current, const Thresholds& t = {});
json thresholds_json(const Thresholds& t);
json gate_json(const GateResult& g, const Thresholds& t, const std::string& baseline_path, const json& baseline);

}  // namespace moecheck::report

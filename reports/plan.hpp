// What a report sweeps: shapes x T x weight formats x routing x value
// distributions with x and y in bf16 (accuracy), then smaller sweeps with x
// and y in other formats, and presets x T (throughput, GPU only). One plan
// per --preset: smoke (host, under a minute on 2 cores), ci (GPU job, under
// ~10 minutes), full (nightly).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/generate.hpp"

namespace moecheck::report {

struct SweepShape {
  std::string name;     // a model preset, or "<preset>/mini" for a scaled-down copy
  Shape shape;          // T unused
  ActivationSpec act;
  // Full-size shapes: host generation of one full expert takes seconds, so
  // they are swept at T <= max_T with uniform routing and the normal and
  // cancel value distributions only (0: no limit).
  int64_t max_T = 0;
};

// Points with the activations x and the output y in other formats: a cross
// product of its own over the plan's shapes named in `shapes` (every shape
// when empty). Points the plan already has (x and y in bf16) are not repeated.
struct FormatSweep {
  std::vector<std::string> shapes;  // SweepShape::name
  std::vector<int64_t> tokens;
  std::vector<WeightFormat> weights;
  std::vector<Format> x_formats, y_formats;
  std::vector<RoutingDist> routings;
  std::vector<ValueDist> values;
};

struct Plan {
  std::string name;
  // The main sweep, x and y in bf16: these points' ids carry no format suffix.
  std::vector<SweepShape> shapes;
  std::vector<int64_t> tokens;
  std::vector<WeightFormat> weights;
  std::vector<RoutingDist> routings;
  std::vector<ValueDist> values;
  std::vector<FormatSweep> format_sweeps;  // after the main sweep's points
  // The oracle runs on at most this many tokens of a batch (first, middle,
  // last): full-size presets cost ~1e8 exact multiply-adds per token.
  int64_t oracle_tokens = 0;  // 0: every token
  // Throughput (GPU backend only): presets and batch sizes for the bench.
  std::vector<std::string> bench_presets;
  std::vector<int64_t> bench_tokens;
  int bench_replays = 30;
};

Plan make_plan(const std::string& preset);  // throws InputError
const std::vector<std::string>& plan_names();

// One sweep point, before any variant runs.
struct Config {
  // Stable key used by the regression gate: shape/weights/T<T>/routing/values,
  // then /x-<format>/y-<format> unless both are bf16 (ids from before there
  // were other formats stay as they were).
  std::string id;
  const SweepShape* shape = nullptr;
  GenSpec spec;
};
std::vector<Config> expand(const Plan& p, uint64_t seed);

}  // namespace moecheck::report

// `moecheck report`: sweep, measure, write report.json / report.md /
// report.html, optionally gate against a baseline report. Schema: README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/shard.hpp"

namespace moecheck::report {

using json = nlohmann::ordered_json;

inline constexpr int kSchemaVersion = 1;

struct Options {
  std::string preset = "smoke";
  std::vector<std::string> variants;  // empty: every registered variant
  std::vector<std::string> plugins;
  std::string backend;                // empty: cuda where a device answers, else host
  std::string out = "moecheck-report";
  std::string baseline;
  uint64_t seed = 1;
  int threads = 0;
  bool progress = true;
  std::optional<std::regex> only;     // sweep points whose id matches
  // Only this shard's sweep points (k-th point of the filtered sweep) and
  // bench presets (k-th preset); `moecheck report merge` joins the shards.
  Shard shard;
  bool throughput = true;  // false: accuracy only, even on a GPU
  std::string command_line;           // recorded in the report
};

// Runs the sweep (and on a GPU the throughput half) and returns the report.
// Throws InputError for bad options.
json build_report(const Options& o);

// report.json, report.md and report.html into `dir` (created), each written
// atomically. Returns the paths written.
std::vector<std::string> write_report(const json& report, const std::string& dir);

}  // namespace moecheck::report

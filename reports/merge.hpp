// `moecheck report merge`: joins the report.json files of the shards of one
// sweep (`moecheck report --shard i/n`) into the report the unsharded run
// writes: the same points in the same order, and every derived figure
// (aggregates, accuracy ratios, worst cases) recomputed over all of them.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moecheck::report {

using json = nlohmann::ordered_json;

struct ShardReport {
  std::string path;  // for messages and provenance
  json report;
};

// Throws InputError unless the parts are exactly shards 1..n of one sweep:
// same schema, preset, seed, backend, variants and build, each shard once.
json merge_reports(const std::vector<ShardReport>& parts, const std::string& command_line);

// Reads and parses one report.json (InputError with the path on failure).
json read_report_json(const std::string& path);

}  // namespace moecheck::report

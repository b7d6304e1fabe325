#include "reports/merge.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>

#include "core/error.hpp"
#include "reports/environment.hpp"
#include "reports/plan.hpp"
#include "reports/report.hpp"
#include "reports/summary.hpp"

namespace moecheck::report {
namespace {

std::vector<std::string> variant_names(const json& r) {
  std::vector<std::string> v;
  for (const json& x : r["variants"]) v.push_back(x["name"]);
  return v;
}

// Every field that makes two reports parts of one sweep must agree.
void check_same_sweep(const ShardReport& first, const ShardReport& p) {
  const auto need = [&](const char* what, const json& a, const json& b) {
    if (a != b)
      throw InputError("report merge: " + p.path + " is not a shard of the same sweep as " + first.path + ": " +
                       what + " " + b.dump() + " vs " + a.dump());
  };
  need("preset", first.report["preset"], p.report["preset"]);
  need("seed", first.report["seed"], p.report["seed"]);
  need("backend", first.report["backend"]["name"], p.report["backend"]["name"]);
  need("variants", json(variant_names(first.report)), json(variant_names(p.report)));
  need("build commit", first.report["build"]["commit"], p.report["build"]["commit"]);
  need("shard count", first.report["shard"]["count"], p.report["shard"]["count"]);
}

void check_shape(const ShardReport& p) {
  const json& r = p.report;
  if (!r.is_object() || r.value("schema", "") != "moecheck-report")
    throw InputError("report merge: " + p.path + " is not a moecheck report.json");
  if (r.value("schema_version", 0) != kSchemaVersion)
    throw InputError("report merge: " + p.path + " has schema_version " + r.value("schema_version", json()).dump() +
                     ", this moecheck reads " + std::to_string(kSchemaVersion));
  for (const char* key : {"preset", "seed", "backend", "variants", "build", "configs", "throughput", "shard"})
    if (!r.contains(key)) throw InputError("report merge: " + p.path + " has no '" + key + "'");
  const json& s = r["shard"];
  if (!s.contains("index") || !s.contains("count") || !s["index"].is_number_integer() ||
      !s["count"].is_number_integer())
    throw InputError("report merge: " + p.path + ": 'shard' wants integer index and count");
}

// Shards 1..n, each exactly once.
void check_cover(const std::vector<ShardReport>& parts) {
  const int n = parts.front().report["shard"]["count"];
  std::map<int, std::string> seen;
  for (const ShardReport& p : parts) {
    const int i = p.report["shard"]["index"];
    if (i < 1 || i > n) throw InputError("report merge: " + p.path + " claims shard " + std::to_string(i) + "/" + std::to_string(n));
    if (!seen.emplace(i, p.path).second)
      throw InputError("report merge: shard " + std::to_string(i) + "/" + std::to_string(n) + " given twice (" +
                       seen[i] + ", " + p.path + ")");
  }
  std::string missing;
  for (int i = 1; i <= n; ++i)
    if (!seen.count(i)) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
  if (!missing.empty())
    throw InputError("report merge: shard(s) " + missing + " of " + std::to_string(n) + " missing");
}

// Configs of all parts in the order the unsharded sweep runs them.
json ordered_configs(const std::vector<ShardReport>& parts) {
  const json& r0 = parts.front().report;
  const Plan plan = make_plan(r0["preset"]);
  std::map<std::string, size_t> position;
  size_t k = 0;
  for (const Config& c : expand(plan, std::stoull(r0["seed"].get<std::string>()))) position[c.id] = k++;
  std::vector<std::pair<size_t, const json*>> all;
  std::set<std::string> ids;
  for (const ShardReport& p : parts)
    for (const json& c : p.report["configs"]) {
      const std::string id = c["id"];
      const auto at = position.find(id);
      if (at == position.end())
        throw InputError("report merge: " + p.path + ": point " + id + " is not in preset " +
                         r0["preset"].get<std::string>() + "'s sweep (a report from another moecheck version?)");
      if (!ids.insert(id).second) throw InputError("report merge: point " + id + " appears in two shards");
      all.push_back({at->second, &c});
    }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  json out = json::array();
  for (const auto& [pos, c] : all) out.push_back(*c);
  return out;
}

// Bench presets were split whole across shards: rows are concatenated in
// the plan's preset order; each part's card and bandwidth are kept.
json merged_throughput(const std::vector<ShardReport>& parts) {
  std::vector<const ShardReport*> measured;
  for (const ShardReport& p : parts)
    if (p.report["throughput"].contains("rows")) measured.push_back(&p);
  if (measured.empty()) return parts.front().report["throughput"];
  if (measured.size() == 1) return measured.front()->report["throughput"];
  const Plan plan = make_plan(parts.front().report["preset"]);
  const auto rank = [&](const json& row) {
    return std::find(plan.bench_presets.begin(), plan.bench_presets.end(), row["preset"].get<std::string>()) -
           plan.bench_presets.begin();
  };
  json t = measured.front()->report["throughput"];
  t["rows"] = json::array();
  t["crossover"] = json::array();
  t["parts"] = json::array();
  for (const ShardReport* p : measured) {
    const json& pt = p->report["throughput"];
    for (const json& row : pt["rows"]) t["rows"].push_back(row);
    for (const json& c : pt["crossover"]) t["crossover"].push_back(c);
    t["parts"].push_back({{"shard", p->report["shard"]["index"]}, {"device", pt["device"]},
                          {"read_gbps", pt["read_gbps"]}});
  }
  for (const char* key : {"rows", "crossover"}) {
    std::vector<json> v(t[key].begin(), t[key].end());
    std::stable_sort(v.begin(), v.end(), [&](const json& a, const json& b) { return rank(a) < rank(b); });
    t[key] = v;
  }
  return t;
}

}  // namespace

json read_report_json(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw InputError("cannot read " + path);
  try {
    return json::parse(f);
  } catch (const std::exception& e) {
    throw InputError(path + " is not valid JSON: " + e.what());
  }
}

json merge_reports(const std::vector<ShardReport>& parts, const std::string& command_line) {
  if (parts.empty()) throw InputError("report merge: no report.json given");
  for (const ShardReport& p : parts) check_shape(p);
  for (const ShardReport& p : parts) check_same_sweep(parts.front(), p);
  check_cover(parts);
  const json& r0 = parts.front().report;
  const std::vector<std::string> names = variant_names(r0);

  json r;
  r["schema"] = "moecheck-report";
  r["schema_version"] = kSchemaVersion;
  r["date"] = utc_now();
  r["preset"] = r0["preset"];
  r["seed"] = r0["seed"];
  r["command"] = command_line;
  json from = json::array();
  double elapsed = 0;
  for (const ShardReport& p : parts) {
    elapsed += p.report.value("elapsed_s", 0.0);
    from.push_back({{"file", p.path}, {"shard", p.report["shard"]["index"]}, {"date", p.report.value("date", "")},
                    {"host", p.report.value("host", json())}, {"device", p.report.value("device", json())},
                    {"elapsed_s", p.report.value("elapsed_s", 0.0)}});
  }
  r["shard"] = {{"index", 1}, {"count", 1}, {"merged_from", from}};
  for (const char* key : {"backend", "device", "build", "host", "variants"}) r[key] = r0[key];
  r["configs"] = ordered_configs(parts);
  r["aggregate"] = aggregate(r["configs"], names);
  r["accuracy_ratios"] = accuracy_ratios(r["configs"], ratio_baseline(r["configs"], names), names);
  r["worst_cases"] = worst_cases(r["configs"], 20);
  r["throughput"] = merged_throughput(parts);
  r["elapsed_s"] = elapsed;
  return r;
}

}  // namespace moecheck::report

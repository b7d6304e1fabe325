#include "reports/gate.hpp"

#include <cmath>
#include <cstdio>
#include <map>

#include "core/error.hpp"
#include "reports/accuracy.hpp"
#include "reports/report.hpp"

namespace moecheck::report {
namespace {

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

bool measured(const std::string& st) { return st == "ok" || st == "violation"; }

using Key = std::pair<std::string, std::string>;

std::map<Key, const json*> results_by_key(const json& report) {
  std::map<Key, const json*> m;
  if (!report.contains("configs")) return m;
  // By reference: the map points into `report`.
  for (const json& c : report["configs"])
    for (const json& r : c["results"]) m[{c["id"].get<std::string>(), r["variant"].get<std::string>()}] = &r;
  return m;
}

void compare_accuracy(const Key& key, const json& b, const json& c, const Thresholds& t, GateResult& out) {
  const std::string who = key.first + " " + key.second + ": ";
  const std::string bs = b["status"], cs = c["status"];
  if (!measured(cs)) {
    out.regressions.push_back(who + "status " + bs + " -> " + cs + " (" + c.value("reason", "") + ")");
    return;
  }
  ++out.accuracy_compared;
  // The accuracy rule (kernels/check.hpp) also judges what the metrics leave
  // out: NaN outputs where the exact value is NaN.
  if (cs == "violation" && bs != "violation") out.regressions.push_back(who + "status " + bs + " -> violation");
  const json &bm = b["metrics"], &cm = c["metrics"];
  const int64_t bv = bm["violations"].get<int64_t>() + bm["nonfinite"].get<int64_t>();
  const int64_t cv = cm["violations"].get<int64_t>() + cm["nonfinite"].get<int64_t>();
  if (cv > bv)
    out.regressions.push_back(who + "elements outside the rigorous bound or non-finite " + std::to_string(bv) + " -> " +
                              std::to_string(cv));
  const double bl = num(bm["rel_l2"]), cl = num(cm["rel_l2"]);
  if (!(cl <= bl * t.rel_l2_ratio) && cl > t.rel_l2_floor)
    out.regressions.push_back(who + "relative L2 error " + g(bl) + " -> " + g(cl) + " (x" + g(cl / bl) +
                              ", threshold x" + g(t.rel_l2_ratio) + ")");
  const double bu = num(bm["max_ucond"]), cu = num(cm["max_ucond"]);
  if (!(cu <= bu * t.max_ucond_ratio || cu <= bu + t.max_ucond_slack))
    out.regressions.push_back(who + "max error in u*c units " + g(bu) + " -> " + g(cu) + " (threshold x" +
                              g(t.max_ucond_ratio) + " and +" + g(t.max_ucond_slack) + ")");
  const double bc = num(bm["frac_correctly_rounded"]), cc = num(cm["frac_correctly_rounded"]);
  if (cc < bc - t.correctly_rounded_drop)
    out.regressions.push_back(who + "fraction correctly rounded " + g(bc) + " -> " + g(cc) + " (threshold -" +
                              g(t.correctly_rounded_drop) + ")");
}

void compare_throughput(const json& base, const json& cur, const Thresholds& t, GateResult& out) {
  const json bt = base.value("throughput", json::object()), ct = cur.value("throughput", json::object());
  if (!bt.contains("rows") || !ct.contains("rows")) {
    out.notes.push_back(std::string("throughput not compared: only GPU runs measure it (baseline ") +
                        (bt.contains("rows") ? "has it" : "has none") + ", this run " +
                        (ct.contains("rows") ? "has it)" : "has none)"));
    return;
  }
  if (bt["device"] != ct["device"]) {
    out.notes.push_back("throughput not compared: baseline on " + bt["device"].get<std::string>() + ", this run on " +
                        ct["device"].get<std::string>());
    return;
  }
  std::map<std::string, const json*> b;
  const auto key = [](const json& r) {
    return r["preset"].get<std::string>() + " T=" + std::to_string(r["T"].get<int64_t>()) + " " +
           r["variant"].get<std::string>();
  };
  for (const json& r : bt["rows"]) b[key(r)] = &r;
  for (const json& r : ct["rows"]) {
    const auto it = b.find(key(r));
    if (it == b.end() || (*it->second)["status"] != "ok") continue;
    if (r["status"] != "ok") {
      out.regressions.push_back(key(r) + ": throughput row " + r["status"].get<std::string>() + " (" +
                                r.value("note", "") + ")");
      continue;
    }
    ++out.throughput_compared;
    const double bu = (*it->second)["us"]["median"].get<double>(), cu = r["us"]["median"].get<double>();
    if (cu > bu * t.time_ratio)
      out.regressions.push_back(key(r) + ": median " + g(bu) + " us -> " + g(cu) + " us (x" + g(cu / bu) +
                                ", threshold x" + g(t.time_ratio) + ")");
  }
}

}  // namespace

GateResult compare(const json& baseline, const json& current, const Thresholds& t) {
  if (!baseline.is_object() || baseline.value("schema", "") != "moecheck-report")
    throw InputError("baseline is not a moecheck report.json (no \"schema\": \"moecheck-report\")");
  const int v = baseline.value("schema_version", 0);
  if (v < 1 || v > kSchemaVersion)
    throw InputError("baseline has report schema version " + std::to_string(v) + "; this build reads 1.." +
                     std::to_string(kSchemaVersion));
  GateResult out;
  if (baseline.value("seed", "") != current.value("seed", ""))
    out.notes.push_back("seeds differ (baseline " + baseline.value("seed", "") + "): accuracy compared within the noise thresholds");
  const auto cur = results_by_key(current);
  for (const auto& [key, b] : results_by_key(baseline)) {
    if (!measured((*b)["status"])) continue;
    const auto it = cur.find(key);
    if (it == cur.end()) {
      out.notes.push_back(key.first + " " + key.second + ": in the baseline only (not compared)");
      continue;
    }
    compare_accuracy(key, *b, *it->second, t, out);
  }
  compare_throughput(baseline, current, t, out);
  return out;
}

json thresholds_json(const Thresholds& t) {
  return {{"rel_l2_ratio", t.rel_l2_ratio},
          {"rel_l2_floor", t.rel_l2_floor},
          {"max_ucond_ratio", t.max_ucond_ratio},
          {"max_ucond_slack", t.max_ucond_slack},
          {"correctly_rounded_drop", t.correctly_rounded_drop},
          {"time_ratio", t.time_ratio}};
}

json gate_json(const GateResult& r, const Thresholds& t, const std::string& path, const json& baseline) {
  return {{"baseline", path},
          {"baseline_date", baseline.value("date", "")},
          {"baseline_commit", baseline.value("build", json::object()).value("commit", "")},
          {"thresholds", thresholds_json(t)},
          {"accuracy_compared", r.accuracy_compared},
          {"throughput_compared", r.throughput_compared},
          {"regressions", r.regressions},
          {"notes", r.notes},
          {"passed", r.ok()}};
}

}  // namespace moecheck::report

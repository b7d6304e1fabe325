#include "reports/summary.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "reports/accuracy.hpp"

namespace moecheck::report {
namespace {

bool measured(const json& r) { return r.value("status", "") == "ok" || r.value("status", "") == "violation"; }

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void add_hist(json& into, const json& h) {
  if (into.is_null()) {
    into = h;
    return;
  }
  for (size_t b = 0; b < into["counts"].size(); ++b)
    into["counts"][b] = into["counts"][b].get<int64_t>() + h["counts"][b].get<int64_t>();
  into["zero"] = into["zero"].get<int64_t>() + h["zero"].get<int64_t>();
  into["inf"] = into["inf"].get<int64_t>() + h["inf"].get<int64_t>();
}

struct Agg {
  int ok = 0, violation = 0, failed = 0, skipped = 0;
  double max_ucond = 0, max_bound = 0, max_abs = 0, min_cosine = 1;
  int64_t max_ulps = 0, nonfinite = 0, violations = 0;
  std::vector<double> rel_l2, cr;
  json hist;

  // Cosine similarity is meaningless where the exact output cancels to ~0:
  // those points are left out of min_cosine.
  void add_metrics(const json& m, bool cancel) {
    max_ucond = std::max(max_ucond, num(m["max_ucond"]));
    max_abs = std::max(max_abs, num(m["max_abs"]));
    if (!cancel) min_cosine = std::min(min_cosine, num(m["cosine"]));
    max_ulps = std::max(max_ulps, m["max_ulps"].get<int64_t>());
    nonfinite += m["nonfinite"].get<int64_t>();
    violations += m["violations"].get<int64_t>();
    max_bound = std::max(max_bound, num(m["max_bound_ratio"]));
    rel_l2.push_back(num(m["rel_l2"]));
    cr.push_back(num(m["frac_correctly_rounded"]));
    add_hist(hist, m["ucond_hist"]);
  }
  json to_json(bool with_bound) const {
    json j = {{"max_ucond", fig(max_ucond)},       {"max_abs", fig(max_abs)},
              {"min_cosine", fig(min_cosine)},     {"max_ulps", max_ulps},
              {"median_rel_l2", fig(median(rel_l2))}, {"median_frac_correctly_rounded", fig(median(cr))},
              {"nonfinite", nonfinite},            {"ucond_hist", hist}};
    if (with_bound) j["max_bound_ratio"] = fig(max_bound), j["violations"] = violations;
    return j;
  }
};

}  // namespace

json aggregate(const json& configs, const std::vector<std::string>& variants) {
  std::map<std::string, Agg> by;
  Agg r32, r64;
  for (const json& c : configs) {
    const bool cancel = c["values"] == "cancel";
    if (c.contains("references"))
      r32.add_metrics(c["references"]["fp32"], cancel), r64.add_metrics(c["references"]["fp64"], cancel);
    for (const json& r : c["results"]) {
      Agg& a = by[r["variant"].get<std::string>()];
      const std::string st = r["status"];
      a.ok += st == "ok", a.violation += st == "violation", a.failed += st == "failed", a.skipped += st == "skipped";
      if (measured(r)) a.add_metrics(r["metrics"], cancel);
    }
  }
  json out;
  out["variants"] = json::array();
  for (const std::string& v : variants) {
    const Agg& a = by[v];
    json j = {{"variant", v}, {"ok", a.ok}, {"violation", a.violation}, {"failed", a.failed}, {"skipped", a.skipped}};
    if (a.ok + a.violation > 0) j.update(a.to_json(true));
    out["variants"].push_back(j);
  }
  out["references"] = {{"fp32", r32.to_json(false)}, {"fp64", r64.to_json(false)}};
  return out;
}

std::string ratio_baseline(const json& configs, const std::vector<std::string>& variants) {
  for (const json& c : configs)
    for (const json& r : c["results"])
      if (r["variant"] == "expert_centric" && measured(r)) return "expert_centric";
  for (const std::string& v : variants)
    for (const json& c : configs)
      for (const json& r : c["results"])
        if (r["variant"] == v && measured(r)) return v;
  return "";
}

namespace {

// Geometric mean, min and max of a / b over pairs with both > 0.
json ratio_stats(const std::vector<std::pair<double, double>>& ab) {
  double log_sum = 0, lo = INFINITY, hi = 0;
  int n = 0;
  for (auto [a, b] : ab) {
    if (!(a > 0 && b > 0 && std::isfinite(a) && std::isfinite(b))) continue;
    const double r = a / b;
    log_sum += std::log(r), lo = std::min(lo, r), hi = std::max(hi, r), ++n;
  }
  if (n == 0) return {{"geomean", nullptr}, {"min", nullptr}, {"max", nullptr}, {"points", 0}};
  return {{"geomean", std::exp(log_sum / n)}, {"min", lo}, {"max", hi}, {"points", n}};
}

}  // namespace

namespace {

// A result's figure, NaN where absent (reports merged from older shards).
double field(const json& r, const char* key) { return r.contains(key) ? num(r[key]) : std::nan(""); }
double cosine_distance(const json& r) { return 1 - field(r, "cosine_vs_fp32_reference"); }

// Pairs (baseline figure, variant figure) of one (variant, weights, x, y) row.
struct RatioPairs {
  std::vector<std::pair<double, double>> rel_l2, rel_l2_fp32, ucond, cosine, max_abs;
};

bool ran_anywhere(const json& configs, const std::string& v) {
  for (const json& c : configs)
    for (const json& r : c["results"])
      if (r["variant"] == v && measured(r)) return true;
  return false;
}

void add_rows(json& rows, const json& configs, const std::string& baseline, const std::vector<std::string>& variants) {
  // (variant, weights, x format, y format); configs from before x and y were
  // swept lack the fields and ran in bf16.
  std::map<std::tuple<std::string, std::string, std::string, std::string>, RatioPairs> by;
  for (const json& c : configs) {
    const json* base = nullptr;
    for (const json& r : c["results"])
      if (r["variant"] == baseline && measured(r)) base = &r;
    if (!base) continue;
    const json& b = *base;
    for (const json& r : c["results"]) {
      if (r["variant"] == baseline || !measured(r)) continue;
      RatioPairs& p = by[{r["variant"], c["weights"], c.value("x_format", "bf16"), c.value("y_format", "bf16")}];
      p.rel_l2.push_back({num(b["metrics"]["rel_l2"]), num(r["metrics"]["rel_l2"])});
      p.ucond.push_back({num(b["metrics"]["max_ucond"]), num(r["metrics"]["max_ucond"])});
      p.rel_l2_fp32.push_back({field(b, "rel_l2_vs_fp32_reference"), field(r, "rel_l2_vs_fp32_reference")});
      p.cosine.push_back({cosine_distance(b), cosine_distance(r)});
      p.max_abs.push_back({field(b, "max_abs_vs_fp32_reference"), field(r, "max_abs_vs_fp32_reference")});
    }
  }
  for (const std::string& v : variants)
    for (const auto& [key, p] : by) {
      if (std::get<0>(key) != v) continue;
      rows.push_back({{"variant", v},
                      {"weights", std::get<1>(key)},
                      {"x_format", std::get<2>(key)},
                      {"y_format", std::get<3>(key)},
                      {"baseline", baseline},
                      {"vs_oracle", ratio_stats(p.rel_l2)},
                      {"vs_fp32_reference", ratio_stats(p.rel_l2_fp32)},
                      {"max_ucond_vs_oracle", ratio_stats(p.ucond)},
                      {"cosine_distance_vs_fp32_reference", ratio_stats(p.cosine)},
                      {"max_abs_vs_fp32_reference", ratio_stats(p.max_abs)}});
    }
}

}  // namespace

json accuracy_ratios(const json& configs, const std::string& baseline, const std::vector<std::string>& variants) {
  json out = {{"metric", kRatioMetric},
              {"metrics",
               {{"vs_oracle", kRatioMetric},
                {"vs_fp32_reference", "relative L2 error against a plain fp32 reference, same ratio"},
                {"max_ucond_vs_oracle", kUcondRatioMetric},
                {"cosine_distance_vs_fp32_reference", kCosineRatioMetric},
                {"max_abs_vs_fp32_reference", kMaxAbsRatioMetric}}},
              {"baseline", baseline},
              {"baselines", json::array()},
              {"rows", json::array()}};
  if (baseline.empty()) return out;
  std::vector<std::string> bases = {baseline};
  for (const char* b : kExpertCentricBaselines)
    if (b != baseline && ran_anywhere(configs, b)) bases.push_back(b);
  for (const std::string& b : bases) {
    out["baselines"].push_back(b);
    add_rows(out["rows"], configs, b, variants);
  }
  return out;
}

json worst_cases(const json& configs, size_t n) {
  std::vector<json> all;
  for (const json& c : configs)
    for (const json& r : c["results"]) {
      if (!measured(r)) continue;
      const json& m = r["metrics"];
      json w = {{"variant", r["variant"]},       {"config", c["id"]},
                {"status", r["status"]},         {"max_bound_ratio", m["max_bound_ratio"]},
                {"at", m["max_bound_ratio_at"]}, {"max_ucond", m["max_ucond"]},
                {"max_abs", m["max_abs"]},       {"max_ulps", m["max_ulps"]},
                {"rel_l2", m["rel_l2"]},         {"oracle_tokens", c["oracle_tokens"]},
                {"replay", r["replay"]}};
      if (r.contains("first_violation")) w["first_violation"] = r["first_violation"];
      all.push_back(w);
    }
  std::stable_sort(all.begin(), all.end(), [](const json& a, const json& b) {
    const double ra = num(a["max_bound_ratio"]), rb = num(b["max_bound_ratio"]);
    if (ra != rb) return ra > rb || std::isnan(ra);
    return num(a["max_ucond"]) > num(b["max_ucond"]);
  });
  if (all.size() > n) all.resize(n);
  return all;
}

}  // namespace moecheck::report

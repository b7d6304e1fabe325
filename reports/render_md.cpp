// report.md: short enough for a pull-request comment, every figure from
// report.json.
#include <cmath>
#include <cstdio>
#include <sstream>

#include "reports/accuracy.hpp"
#include "reports/render.hpp"
#include "reports/summary.hpp"

namespace moecheck::report {
namespace {

std::string g(const json& v, const char* f = "%.3g") {
  if (v.is_null()) return "-";
  const double d = num(v);
  if (std::isnan(d)) return v.is_string() ? v.get<std::string>() : "-";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[48];
  std::snprintf(buf, sizeof buf, f, d);
  return buf;
}

std::string device_line(const json& r) {
  const json& d = r["device"];
  if (d["name"] == "none") return "none (" + d.value("reason", "") + ")";
  return d["name"].get<std::string>() + ", sm " + d.value("compute_capability", "") + ", " +
         std::to_string(d.value("sms", 0)) + " SMs, " + std::to_string(d.value("sm_clock_mhz", 0)) + " MHz SM / " +
         std::to_string(d.value("mem_clock_mhz", 0)) + " MHz memory, driver CUDA " + d.value("driver_cuda_version", "");
}

void header(std::ostringstream& o, const json& r) {
  o << "# moecheck report (" << r["preset"].get<std::string>() << ")\n\n";
  const json& b = r["backend"];
  if (b["name"] == "host")
    o << "> **Host backend** (" << b["why_host"].get<std::string>()
      << "): variants ran as their bit-exact host twins or, where they have none (the expert-centric family), as "
         "host evaluations of their declared numerics, judged by the same bounds; device-only variants are skipped "
         "and there are no throughput figures.\n\n";
  o << "| | |\n|---|---|\n";
  o << "| date | " << r["date"].get<std::string>() << " |\n";
  o << "| device | " << device_line(r) << " |\n";
  o << "| build | " << r["build"]["commit"].get<std::string>() << " (" << r["build"]["build_type"].get<std::string>()
    << ", CUDA " << (r["build"]["cuda"].get<bool>() ? r["build"]["cuda_architectures"].get<std::string>() : "off")
    << ") |\n";
  o << "| seed | " << r["seed"].get<std::string>() << " |\n";
  o << "| points | " << r["configs"].size() << " in " << g(r["elapsed_s"], "%.1f") << " s |\n\n";
}

// What each variant is and claims; `auto` names its crossover table's
// provenance (card, date, command) in its description.
void variants_section(std::ostringstream& o, const json& r) {
  if (!r.contains("variants") || r["variants"].empty()) return;
  o << "## Variants\n\n| variant | family | deterministic | batch invariant | host twin | description |\n"
       "|---|---|---|---|---|---|\n";
  // Reports written before the `host` claim lack it.
  auto host_twin = [](const json& v) -> std::string {
    if (v["host_twin"].get<bool>()) return "true";
    return v.value("host", false) ? "false (host evaluation within bound)" : "false";
  };
  for (const json& v : r["variants"])
    o << "| " << v["name"].get<std::string>() << " | " << v["family"].get<std::string>() << " | "
      << v["deterministic"] << " | " << v["batch_invariant"] << " | " << host_twin(v) << " | "
      << v["description"].get<std::string>() << " |\n";
  o << "\n";
}

void gate_section(std::ostringstream& o, const json& r) {
  if (!r.contains("gate")) return;
  const json& gt = r["gate"];
  o << "## Regression gate: " << (gt["passed"].get<bool>() ? "passed" : "**REGRESSED**") << "\n\n";
  o << "Against `" << gt["baseline"].get<std::string>() << "` (" << gt["baseline_date"].get<std::string>()
    << ", commit " << gt["baseline_commit"].get<std::string>() << "): " << gt["accuracy_compared"]
    << " accuracy results and " << gt["throughput_compared"] << " timings compared.\n\n";
  for (const json& x : gt["regressions"]) o << "- regressed: " << x.get<std::string>() << "\n";
  for (const json& x : gt["notes"]) o << "- note: " << x.get<std::string>() << "\n";
  o << "\n";
}

void accuracy_section(std::ostringstream& o, const json& r) {
  o << "## Accuracy against the oracle\n\n";
  o << "u*c: error in units of u_fp32 times the output's condition magnitude c (meaningful near cancellation); "
       "bound ratio: max error / rigorous bound (must stay <= 1); max ulps: output-format ulps to the correctly "
       "rounded oracle value, only over outputs that are not cancellation residues (|y_o| >= 2^-12 c, as for "
       "relative error: a residue's ulps span binades or zero and measure nothing).\n\n";
  o << "| variant | ok | violation | skipped | max u*c | max bound ratio | median rel L2 | min cosine (no cancel) | max abs | "
       "max ulps (no residues) | correctly rounded (median) |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const json& v : r["aggregate"]["variants"]) {
    o << "| " << v["variant"].get<std::string>() << " | " << v["ok"] << " | " << v["violation"] << " | "
      << v["skipped"] << " | ";
    if (v.contains("max_ucond"))
      o << g(v["max_ucond"]) << " | " << g(v["max_bound_ratio"]) << " | " << g(v["median_rel_l2"]) << " | "
        << g(v["min_cosine"], "%.9f") << " | " << g(v["max_abs"]) << " | " << v["max_ulps"] << " | "
        << g(v["median_frac_correctly_rounded"]) << " |\n";
    else
      o << "- | - | - | - | - | - | - |\n";
  }
  for (const char* ref : {"fp32", "fp64"}) {
    const json& a = r["aggregate"]["references"][ref];
    o << "| *plain " << ref << " reference* | | | | " << g(a["max_ucond"]) << " | | " << g(a["median_rel_l2"]) << " | "
      << g(a["min_cosine"], "%.9f") << " | " << g(a["max_abs"]) << " | " << a["max_ulps"] << " (fp32 ulps) | "
      << g(a["median_frac_correctly_rounded"]) << " |\n";
  }
  o << "\n";
}

// Rows without a baseline field come from reports written before there were
// several baselines: they are against ar["baseline"].
void ratio_section(std::ostringstream& o, const json& r) {
  const json& ar = r["accuracy_ratios"];
  if (ar["rows"].empty()) return;
  const json bases = ar.contains("baselines") ? ar["baselines"] : json::array({ar["baseline"]});
  auto stat = [](const json& x, const char* k) {
    return x.contains(k) ? g(x[k]["geomean"]) + "x [" + g(x[k]["min"]) + ", " + g(x[k]["max"]) + "]" : std::string("-");
  };
  for (const json& b : bases) {
    const std::string base = b.get<std::string>();
    o << "## Accuracy ratio over " << base << "\n\nEach figure is " << base
      << "'s error / the variant's error (> 1: the variant is closer), geometric mean [min, max] over the points "
         "both ran. rel L2: "
      << ar["metric"].get<std::string>() << ". max u*c: " << kUcondRatioMetric << ". fp32 reference columns: "
      << "rel L2, " << kCosineRatioMetric << ", " << kMaxAbsRatioMetric << ".\n\n";
    o << "| variant | weights | x | y | rel L2 vs oracle | max u*c vs oracle | rel L2 vs fp32 ref | cosine distance "
         "vs fp32 ref | max abs vs fp32 ref | points |\n|---|---|---|---|---|---|---|---|---|---|\n";
    for (const json& x : ar["rows"]) {
      if (x.value("baseline", ar["baseline"].get<std::string>()) != base) continue;
      // Rows without formats come from reports written before x and y were swept: bf16.
      o << "| " << x["variant"].get<std::string>() << " | " << x["weights"].get<std::string>() << " | "
        << x.value("x_format", "bf16") << " | " << x.value("y_format", "bf16") << " | "
        << stat(x, "vs_oracle") << " | " << stat(x, "max_ucond_vs_oracle") << " | " << g(x["vs_fp32_reference"]["geomean"])
        << "x | " << stat(x, "cosine_distance_vs_fp32_reference") << " | " << stat(x, "max_abs_vs_fp32_reference")
        << " | " << x["vs_oracle"]["points"] << " |\n";
    }
    o << "\n";
  }
}

void throughput_section(std::ostringstream& o, const json& r) {
  const json& t = r["throughput"];
  o << "## Throughput\n\n";
  if (!t.contains("rows")) {
    o << "Not measured: " << t.value("skipped", "") << ".\n\n";
    return;
  }
  o << "On " << t["device"].get<std::string>() << "; streaming-read bandwidth " << g(t["read_gbps"], "%.0f")
    << " GB/s measured in the same process.\n\n";
  o << "| preset | T | variant | us median [p10, p90] | GB/s | % of read bw | speedup vs expert_centric |\n"
       "|---|---|---|---|---|---|---|\n";
  for (const json& x : t["rows"]) {
    o << "| " << x["preset"].get<std::string>() << " | " << x["T"] << " | " << x["variant"].get<std::string>() << " | ";
    if (x["status"] != "ok") {
      o << x["status"].get<std::string>() << ": " << x.value("note", "") << " | | | |\n";
      continue;
    }
    o << g(x["us"]["median"], "%.1f") << " [" << g(x["us"]["p10"], "%.1f") << ", " << g(x["us"]["p90"], "%.1f")
      << "] | " << g(x["gbps"], "%.0f") << " | " << g(x["pct_read_bandwidth"], "%.1f") << " | "
      << g(x["speedup_vs_expert_centric"], "%.2f") << " |\n";
  }
  o << "\nCrossover (batch size where the variant stops beating expert_centric):\n\n";
  for (const json& c : t["crossover"])
    o << "- " << c["preset"].get<std::string>() << ", " << c["variant"].get<std::string>() << ": "
      << (c["T"].is_null() ? std::string("faster at every measured T") : "T ~ " + g(c["T"], "%.1f")) << "\n";
  o << "\n";
}

void worst_section(std::ostringstream& o, const json& r) {
  o << "## Worst cases\n\n| variant | point | bound ratio | max u*c | at (t, i) | replay |\n|---|---|---|---|---|---|\n";
  int n = 0;
  for (const json& w : r["worst_cases"]) {
    if (++n > 5) break;
    const std::string at =
        w["at"].is_null() ? "-" : std::to_string(w["at"]["t"].get<int64_t>()) + ", " + std::to_string(w["at"]["i"].get<int64_t>());
    o << "| " << w["variant"].get<std::string>() << " | " << w["config"].get<std::string>() << " | "
      << g(w["max_bound_ratio"]) << " | " << g(w["max_ucond"]) << " | " << at << " | `" << w["replay"].get<std::string>()
      << "` |\n";
  }
  o << "\nFull figures: report.json; charts: report.html.\n";
}

}  // namespace

std::string render_markdown(const json& r) {
  std::ostringstream o;
  header(o, r);
  variants_section(o, r);
  gate_section(o, r);
  accuracy_section(o, r);
  ratio_section(o, r);
  throughput_section(o, r);
  worst_section(o, r);
  return o.str();
}

}  // namespace moecheck::report

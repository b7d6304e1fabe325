#include "reports/throughput.hpp"

#include <cmath>
#include <map>

#include "reports/accuracy.hpp"

namespace moecheck::report {

json throughput_json(const bench::Header& h, const std::vector<bench::Row>& rows) {
  json j;
  j["method"] =
      "moecheck bench: CUDA-graph replays rotating over layer copies larger than L2, median and p10/p90 of "
      "microseconds per layer; bytes = weights of every touched expert + x + y + routing; roofline = bytes / "
      "streaming-read bandwidth measured in the same process";
  j["device"] = h.device;
  j["read_gbps"] = h.read_gbps;
  j["read_buffer_bytes"] = h.read_buffer_bytes;
  j["rows"] = json::array();
  for (const bench::Row& r : rows) {
    json x;
    x["preset"] = r.preset, x["T"] = r.T, x["variant"] = r.variant;
    x["status"] = r.failed ? "failed" : r.skipped ? "skipped" : "ok";
    x["note"] = r.note;
    if (!r.failed && !r.skipped) {
      x["layers"] = r.layers;
      x["us"] = {{"median", r.us.median}, {"p10", r.us.p10}, {"p90", r.us.p90}, {"min", r.us.min},
                 {"max", r.us.max}, {"replays", r.us.n}};
      x["bytes"] = r.bytes;
      x["gbps"] = r.gbps;
      x["pct_read_bandwidth"] = r.pct_read;
      x["roofline_us"] = h.read_gbps > 0 ? r.bytes / (h.read_gbps * 1e9) * 1e6 : 0.0;
      x["speedup_vs_expert_centric"] = r.speedup > 0 ? json(r.speedup) : json(nullptr);
    }
    j["rows"].push_back(x);
  }
  j["crossover"] = crossovers(rows);
  return j;
}

json crossovers(const std::vector<bench::Row>& rows) {
  // (preset, variant) -> T -> speedup, in measured order.
  std::map<std::pair<std::string, std::string>, std::map<int64_t, double>> sp;
  for (const bench::Row& r : rows)
    if (!r.failed && !r.skipped && r.speedup > 0 && r.variant != "expert_centric") sp[{r.preset, r.variant}][r.T] = r.speedup;
  json out = json::array();
  for (const auto& [key, byT] : sp) {
    json c = {{"preset", key.first}, {"variant", key.second}, {"vs", "expert_centric"}, {"T", nullptr},
              {"first_T_slower", nullptr}};
    const std::pair<const int64_t, double>* prev = nullptr;
    for (const auto& pt : byT) {
      if (pt.second < 1.0) {
        c["first_T_slower"] = pt.first;
        if (prev && prev->second >= 1.0) {
          // Linear in log2 T between the last faster and the first slower point.
          const double a = std::log2(static_cast<double>(prev->first)), b = std::log2(static_cast<double>(pt.first));
          const double f = (prev->second - 1.0) / (prev->second - pt.second);
          c["T"] = std::exp2(a + f * (b - a));
        } else {
          c["T"] = static_cast<double>(pt.first);  // slower from the first measured T
        }
        break;
      }
      prev = &pt;
    }
    out.push_back(c);
  }
  return out;
}

json run_throughput(const Plan& p, const std::vector<std::string>& variants, uint64_t seed,
                    const std::function<void(const bench::Row&)>& progress) {
  bench::Options o;
  o.presets = p.bench_presets;
  o.tokens = p.bench_tokens;
  o.variants = variants;
  o.replays = p.bench_replays;
  o.seed = seed;
  bench::Header h;
  const std::vector<bench::Row> rows = bench::run_bench(o, h, progress);
  json j = throughput_json(h, rows);
  j["replays"] = o.replays;
  j["warmup"] = o.warmup;
  return j;
}

}  // namespace moecheck::report

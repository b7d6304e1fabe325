#include "reports/accuracy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "kernels/bench/oracle_check.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "oracle/oracle.hpp"

namespace moecheck::report {

json fig(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double num(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return std::numeric_limits<double>::quiet_NaN();
}

namespace {

json quantiles_json(const Quantiles& q) {
  return {{"p50", fig(q.p50)}, {"p90", fig(q.p90)}, {"p99", fig(q.p99)}, {"p999", fig(q.p999)}, {"max", fig(q.max)}};
}

// Flat output index as (token of the full batch, channel): what a reader
// looks up in the replayed case.
json where(int64_t index, const Shape& s, const std::vector<int64_t>& tokens) {
  if (index < 0) return nullptr;
  const int64_t t = index / s.H;
  return {{"t", tokens.empty() ? t : tokens[static_cast<size_t>(t)]}, {"i", index % s.H}};
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

json metrics_json(const Metrics& m, const Shape& s, const std::vector<int64_t>& tokens) {
  json j;
  j["count"] = m.count;
  j["nonfinite"] = m.nonfinite;
  j["oracle_nonfinite"] = m.oracle_nonfinite;
  j["max_abs"] = fig(m.max_abs);
  j["max_abs_at"] = where(m.max_abs_index, s, tokens);
  j["abs_q"] = quantiles_json(m.abs_q);
  j["max_ucond"] = fig(m.max_ucond);
  j["max_ucond_at"] = where(m.max_ucond_index, s, tokens);
  j["ucond_q"] = quantiles_json(m.ucond_q);
  j["max_rel"] = fig(m.max_rel);
  j["rel_count"] = m.rel_count;
  j["rel_l2"] = fig(m.rel_l2);
  j["cosine"] = fig(m.cosine);
  j["frac_correctly_rounded"] = fig(m.frac_correctly_rounded);
  j["max_ulps"] = m.max_ulps;
  j["max_ulps_at"] = where(m.max_ulps_index, s, tokens);
  j["violations"] = m.violations;
  j["max_bound_ratio"] = fig(m.max_bound_ratio);
  j["max_bound_ratio_at"] = where(m.max_bound_ratio_index, s, tokens);
  j["ucond_hist"] = {{"log2_lo", Log2Histogram::kLo},
                     {"counts", m.ucond_hist.counts},
                     {"zero", m.ucond_hist.zero},
                     {"inf", m.ucond_hist.inf}};
  return j;
}

namespace {

json config_json(const Config& cfg, const std::vector<int64_t>& tokens) {
  const GenSpec& g = cfg.spec;
  json j;
  j["id"] = cfg.id;
  j["shape_name"] = cfg.shape->name;
  j["H"] = g.shape.H, j["I"] = g.shape.I, j["E"] = g.shape.E, j["k"] = g.shape.k, j["T"] = g.shape.T;
  j["weights"] = weight_format_name(g.weights);
  j["x_format"] = format_name(g.x_format);
  j["y_format"] = format_name(g.y_format);
  j["activation"] = activation_name(g.act.kind);
  j["routing"] = routing_name(g.routing);
  j["values"] = values_name(g.values);
  j["seed"] = std::to_string(g.seed);  // 64-bit: a string survives every JSON reader
  j["oracle_tokens"] = tokens;
  return j;
}

// The outputs of `tokens` only (all when empty), (|tokens|, H).
std::vector<double> rows_of(const std::vector<double>& y, const std::vector<int64_t>& tokens, int64_t H) {
  if (tokens.empty()) return y;
  std::vector<double> out;
  for (int64_t t : tokens) out.insert(out.end(), y.begin() + t * H, y.begin() + (t + 1) * H);
  return out;
}

double rel_l2_between(const std::vector<double>& a, const std::vector<double>& b) {
  double num2 = 0, den2 = 0;
  for (size_t i = 0; i < a.size(); ++i) num2 += (a[i] - b[i]) * (a[i] - b[i]), den2 += b[i] * b[i];
  return den2 > 0 ? std::sqrt(num2 / den2) : (num2 > 0 ? std::numeric_limits<double>::infinity() : 0.0);
}

// The seed's own checks against a plain fp32 reference: cosine similarity
// and max absolute difference.
double cosine_between(const std::vector<double>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}
double max_abs_between(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

std::vector<uint8_t> run_variant(const Variant& v, const Case& c, const std::string& backend) {
  std::vector<uint8_t> y;
  if (backend == "cuda")
    y = run_on_device(v, c);
  else
    v.run_host(c, y);
  return y;
}

// Why `v` cannot run this point on `backend`, or "".
std::string skip_reason(const Variant& v, const Case& c, const std::string& backend) {
  if (backend == "host" && !v.claims().runs_on_host())
    return "device only (no host implementation): needs --backend cuda on a GPU";
  if (backend == "cuda" && !v.has_device()) return "no device implementation";
  const Support s = v.supports(c);
  return s.ok ? "" : s.reason;
}

struct Shared {
  const Case& full;
  const Case& checked;  // the oracle's token subset (or full)
  const std::vector<int64_t>& tokens;
  const OracleResult& oracle;
  const std::vector<double>& ref32;  // over `checked`
};

json skipped_result(const Variant& v, const std::string& backend, const std::string& why) {
  return {{"variant", v.name()}, {"backend", backend}, {"status", "skipped"}, {"reason", why}};
}

json variant_result(const Variant& v, const Shared& sh, const AccuracyRun& run) {
  const std::string why = skip_reason(v, sh.full, run.backend);
  if (!why.empty()) return skipped_result(v, run.backend, why);
  json r;
  r["variant"] = v.name();
  r["backend"] = run.backend;
  r["status"] = "ok";
  r["replay"] = replay_command(sh.full, v.name(), run.backend, run.plugins);
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<uint8_t> codes = run_variant(v, sh.full, run.backend);
    r["run_s"] = seconds_since(t0);
    const Numerics n = v.numerics(sh.full);
    const std::vector<double> y_all = decode_output(codes, n.output_format, sh.full.shape.T * sh.full.shape.H);
    const std::vector<double> y = rows_of(y_all, sh.tokens, sh.full.shape.H);
    const Bounds b = derive_bounds(sh.checked, sh.oracle, n);
    const Metrics m = compute_metrics(sh.oracle, y, n.output_format, &b);
    const Judgement jd = judge_case_output(sh.checked, sh.oracle, n, y, b.rigorous);
    if (jd.nothing_to_compare())
      return skipped_result(v, run.backend, "nothing to compare: every output is non-finite where an intermediate "
                                            "of a declared format may overflow");
    double over_est = 0;
    for (size_t i = 0; i < y.size(); ++i)
      if (b.estimate[i] > 0) over_est = std::max(over_est, abs_error(sh.oracle, y, i) / b.estimate[i]);
    r["status"] = jd.failed ? "violation" : "ok";
    r["rule"] = {{"judged", jd.judged}, {"failed", jd.failed}, {"excused", jd.excused}, {"nan_expected", jd.nan_expected}};
    r["output_format"] = format_name(n.output_format);
    r["metrics"] = metrics_json(m, sh.checked.shape, sh.tokens);
    r["bound_tightness"] = {{"max_err_over_rigorous", fig(m.max_bound_ratio)}, {"max_err_over_estimate", fig(over_est)}};
    r["rel_l2_vs_fp32_reference"] = fig(rel_l2_between(y, sh.ref32));
    r["cosine_vs_fp32_reference"] = fig(cosine_between(y, sh.ref32));
    r["max_abs_vs_fp32_reference"] = fig(max_abs_between(y, sh.ref32));
    if (jd.failed)
      r["first_violation"] = describe_failure(sh.checked, sh.oracle, y, b, static_cast<size_t>(jd.first_failure));
  } catch (const std::exception& e) {
    r["status"] = "failed";
    r["reason"] = e.what();
  }
  return r;
}

}  // namespace

json run_config(const Config& cfg, int64_t oracle_tokens, const AccuracyRun& run) {
  const auto t0 = std::chrono::steady_clock::now();
  const Case full = generate_case(cfg.spec);
  const int64_t T = full.shape.T;
  const std::vector<int64_t> tokens =
      oracle_tokens > 0 && T > oracle_tokens ? bench::spread_tokens(T) : std::vector<int64_t>{};
  json j = config_json(cfg, tokens);

  bool any = false;
  for (const Variant* v : run.variants) any = any || skip_reason(*v, full, run.backend).empty();
  json results = json::array();
  if (!any) {
    // Nothing to measure: do not pay for the oracle.
    for (const Variant* v : run.variants)
      results.push_back(skipped_result(*v, run.backend, skip_reason(*v, full, run.backend)));
    j["results"] = results;
    return j;
  }
  const Case sub = tokens.empty() ? Case{} : bench::token_subset(full, tokens);
  const Case& checked = tokens.empty() ? full : sub;
  const auto t1 = std::chrono::steady_clock::now();
  const OracleResult o = run_oracle(checked, run.threads);
  j["oracle"] = {{"seconds", seconds_since(t1)}, {"threads", o.threads_used}, {"precision_bits", o.precision_bits}};
  const std::vector<double> r32 = reference_fp32(checked), r64 = reference_fp64(checked);
  // The references are judged as fp32 outputs: ulps and "correctly rounded"
  // are then relative to fp32, the best a plain fp32 reference can be.
  j["references"] = {{"fp32", metrics_json(compute_metrics(o, r32, Format::f32, nullptr), checked.shape, tokens)},
                     {"fp64", metrics_json(compute_metrics(o, r64, Format::f32, nullptr), checked.shape, tokens)}};
  const Shared sh{full, checked, tokens, o, r32};
  for (const Variant* v : run.variants) results.push_back(variant_result(*v, sh, run));
  j["results"] = results;
  j["seconds"] = seconds_since(t0);
  return j;
}

}  // namespace moecheck::report

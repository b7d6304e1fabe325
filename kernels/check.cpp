#include "kernels/check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "kernels/external/external.hpp"

namespace moecheck {

std::vector<double> decode_output(const std::vector<uint8_t>& codes, Format f, int64_t count) {
  const int bytes = format_bits(f) / 8;
  if (bytes <= 0 || static_cast<int64_t>(codes.size()) != count * bytes)
    throw InputError("output has " + std::to_string(codes.size()) + " bytes, expected " +
                     std::to_string(count * bytes) + " for " + std::to_string(count) + " " +
                     std::string(format_name(f)) + " values");
  std::vector<double> y(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    uint32_t code = 0;
    std::memcpy(&code, &codes[static_cast<size_t>(i * bytes)], static_cast<size_t>(bytes));
    y[i] = decode(f, code);
  }
  return y;
}

Judged judge_element(Format out, const OracleResult& o, int64_t i, double y, double bound, bool overflow_excuse) {
  const double yo = o.y(i);
  if (std::isnan(yo)) return std::isnan(y) ? Judged::pass : Judged::fail;
  // An infinite exact value (an infinite input) rounds to itself; its bound,
  // inf - inf somewhere, is NaN and says nothing.
  if (std::isinf(yo)) return y == yo ? Judged::pass : overflow_excuse ? Judged::excused : Judged::fail;
  const double slack = bound + o.err[i];
  if (std::isfinite(y)) return std::fabs(y - yo) <= slack ? Judged::pass : Judged::fail;
  // +-inf is what a correctly rounded y_o, or a value within the bound of it
  // on inf's side, becomes past the range (either side where y_o cancels
  // to about 0 with a bound past the range).
  if (std::isinf(y) && decode(out, encode(out, yo + std::copysign(slack, y))) == y) return Judged::pass;
  return overflow_excuse ? Judged::excused : Judged::fail;
}

Judgement judge_output(Format out, const OracleResult& o, const std::vector<double>& y,
                       const std::vector<double>& bound, bool overflow_excuse, int64_t begin, int64_t end) {
  Judgement j;
  for (int64_t i = begin; i < end; ++i) {
    const Judged e = judge_element(out, o, i, y[i], bound[i], overflow_excuse);
    if (e == Judged::excused) {
      ++j.excused;
      continue;
    }
    ++j.judged;
    j.nan_expected += std::isnan(o.y_hi[i]);
    if (e == Judged::fail && j.failed++ == 0) j.first_failure = i;
  }
  return j;
}

namespace {

// f(row) folded with max over every row of w that belongs to an expert some
// token selected (rows dequantized to doubles, exactly).
template <typename F>
double over_selected_rows(const Case& c, const WeightStack& w, F f) {
  std::vector<bool> used(static_cast<size_t>(c.stored_count()), false);
  for (int32_t id : c.topk_ids) used[static_cast<size_t>(c.slot_of(id))] = true;
  double m = 0;
  std::vector<double> row(static_cast<size_t>(w.K));
  for (int64_t e = 0; e < w.E; ++e)
    for (int64_t r = 0; used[static_cast<size_t>(e)] && r < w.R; ++r) {
      w.dequant_row(e, r, row.data());
      m = std::max(m, f(row));
    }
  return m;
}

}  // namespace

double selected_weight_max(const Case& c) {
  auto row_max = [](const std::vector<double>& row) {
    double m = 0;
    for (double v : row)
      if (!std::isnan(v)) m = std::max(m, std::fabs(v));
    return m;
  };
  return std::max(over_selected_rows(c, c.w13, row_max), over_selected_rows(c, c.w2, row_max));
}

bool has_nonfinite_terms(const OracleResult& o) {
  auto any = [](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [](double a) { return !std::isfinite(a); });
  };
  return any(o.y_hi) || any(o.g_cond) || any(o.u_cond) || any(o.h) || any(o.cond);
}

namespace {

// With two epilogue scalings (expert_centric_fp8 over fp8_channel codes)
// the GEMM sums activation codes times weight codes and the first scaling,
// fl(acc * s_row), is the row's dot product with the weight codes, not with
// the weights: up to ||row||_1 times the largest code, which a small weight
// scale lets pass fp32's range while g_cond and the h sums stay far inside
// it (then inf * s_w, and a clamped activation of -inf is NaN).
bool code_products_over(const Case& c, const OracleResult& o, double lim) {
  const double code_max = mini_max(element_format(c.w13.format));
  const Shape& s = c.shape;
  for (int64_t t = 0; t < s.T; ++t) {
    double x1 = 0;
    for (int64_t i = 0; i < s.H; ++i) x1 += std::fabs(c.x_value(t, i));
    if (std::isfinite(x1) && !(x1 * code_max <= lim)) return true;
    for (int64_t j = 0; j < s.k; ++j) {
      double h1 = 0;
      for (int64_t n = 0; n < s.I; ++n) h1 += std::fabs(o.h[(t * s.k + j) * s.I + n]);
      if (std::isfinite(h1) && !(h1 * code_max <= lim)) return true;
    }
  }
  return false;
}

}  // namespace

bool intermediates_may_overflow(const Case& c, const OracleResult& o, const Numerics& n, double weight_max) {
  // Weights are dequantized in the accumulator's format: a code times its
  // scale can pass its range even where every product with x is zero.
  if (!(weight_max <= 0.5 * mini_max(n.accumulator))) return true;
  // Half the smallest declared range of the intermediates: they are bounded
  // by these condition sums up to the (small) rounding growth. Non-finite
  // sums come from NaN or infinite inputs, whose exact outputs the oracle
  // gives (NaN or +-inf): the rule judges those.
  double lim = mini_max(n.accumulator);
  for (Format f : {n.h_format, n.expert_out_format}) lim = std::min(lim, mini_max(f));
  for (auto f : {n.gate_up_format, n.gate_act_format, n.topk_sum_format})
    if (f) lim = std::min(lim, mini_max(*f));
  lim *= 0.5;
  auto over = [&](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [&](double a) { return std::isfinite(a) && std::fabs(a) > lim; });
  };
  if (over(o.g_cond) || over(o.u_cond) || over(o.h)) return true;
  if (n.epilogue_roundings >= 2 && code_products_over(c, o, lim)) return true;
  // Rows re-quantized with one fp32 scale each (RequantScale::fp32_row) enter
  // the GEMM as codes, so its accumulator holds codes times weights, up to
  // the largest code times a weight row's 1-norm, however small the values
  // the codes stand for (a weight near fp32's top times a code of 448).
  if (n.requant_scale == RequantScale::fp32_row) {
    auto l1 = [](const std::vector<double>& row) {
      double a = 0;
      for (double v : row)
        if (!std::isnan(v)) a += std::fabs(v);
      return a;
    };
    if (n.x_requant && mini_max(*n.x_requant) * over_selected_rows(c, c.w13, l1) > lim) return true;
    if (n.h_requant && mini_max(*n.h_requant) * over_selected_rows(c, c.w2, l1) > lim) return true;
  }
  // An infinite x or h cannot pass a declared re-quantization: the formats
  // hold no inf, and a block whose amax is inf gets an inf scale (inf / inf
  // is NaN) where the exact y is +-inf (found by `moecheck fuzz --variant
  // warp_decode_h32 --backend host --seed 1`, f16 x whose heavy tail
  // overflowed, in expert_centric_mxfp8 and _fp8 on replay). And x rounded
  // element-wise into a narrower range (f32 x into bf16 tiles: bf16's largest
  // finite value is below fp32's) may become inf, and a zero routing weight
  // times inf is NaN; block-scaled re-quantization picks its scale from the
  // block's (or row's) amax, so it keeps finite x in range.
  if (n.h_requant && std::any_of(o.h.begin(), o.h.end(), [](double a) { return !std::isfinite(a); })) return true;
  if (n.x_requant) {
    const bool elementwise = n.requant_scale == RequantScale::pow2_block && n.requant_block == 0;
    const double xlim = 0.5 * mini_max(*n.x_requant);
    for (int64_t t = 0; t < c.shape.T; ++t)
      for (int64_t i = 0; i < c.shape.H; ++i) {
        const double x = c.x_value(t, i);
        if (!std::isfinite(x) || (elementwise && std::fabs(x) > xlim)) return true;
      }
  }
  // A per-expert partial D_e h is up to cond / |w_j| before w_j scales it.
  const Shape& s = c.shape;
  for (int64_t t = 0; t < s.T; ++t) {
    double wmin = 1;
    for (int64_t j = 0; j < s.k; ++j)
      if (c.weight(t, j) != 0) wmin = std::min(wmin, std::fabs(static_cast<double>(c.weight(t, j))));
    for (int64_t i = 0; i < s.H; ++i) {
      const double cond = o.cond[t * s.H + i];
      if (std::isfinite(cond) && cond / wmin > lim) return true;
    }
  }
  return false;
}

std::string describe_failure(const Case& c, const OracleResult& o, const std::vector<double>& y, const Bounds& b,
                             size_t i) {
  std::string why;
  if (std::isnan(o.y_hi[i]))
    why = "the exact value is NaN (a NaN or infinite input reaches it), so y must be NaN: ";
  else if (std::isinf(y[i]))
    why = "y is inf where the exact value, moved by its bound towards inf, stays inside the output format's range: ";
  else if (std::isnan(y[i]))
    why = "y is NaN where the exact value is not: ";
  return why + describe_violation(c, o, y, b, i);
}

Judgement judge_case_output(const Case& c, const OracleResult& o, const Numerics& n, const std::vector<double>& y,
                            const std::vector<double>& bound) {
  const int64_t count = static_cast<int64_t>(y.size());
  const Judgement strict = judge_output(n.output_format, o, y, bound, false, 0, count);
  // The excuse reads every selected expert's weights (seconds on a full-size
  // preset): only worth it where a non-finite output failed.
  const bool nonfinite = std::any_of(y.begin(), y.end(), [](double v) { return !std::isfinite(v); });
  if (strict.failed == 0 || !nonfinite || !intermediates_may_overflow(c, o, n, selected_weight_max(c))) return strict;
  return judge_output(n.output_format, o, y, bound, true, 0, count);
}

CheckResult check_output(const Case& c, const OracleResult& o, const Variant& v, const std::vector<uint8_t>& y_codes) {
  CheckResult r;
  r.numerics = v.numerics(c);
  const Format out = r.numerics.output_format;
  r.y = decode_output(y_codes, out, c.shape.T * c.shape.H);
  r.bounds = derive_bounds(c, o, r.numerics);
  r.metrics = compute_metrics(o, r.y, out, &r.bounds);
  r.judgement = judge_case_output(c, o, r.numerics, r.y, r.bounds.rigorous);
  if (r.judgement.first_failure >= 0)
    r.first_violation = describe_failure(c, o, r.y, r.bounds, static_cast<size_t>(r.judgement.first_failure));
  if (out != c.y_format) {
    // A variant that supports a case must write y in the format it asks for.
    r.output_format_ok = false;
    r.first_violation = v.name() + " declares output " + std::string(format_name(out)) +
                        " but the case asks for y in " + std::string(format_name(c.y_format)) +
                        (r.first_violation.empty() ? "" : "; " + r.first_violation);
  }
  return r;
}

std::string replay_command(const Case& c, const std::string& variant, const std::string& backend,
                           const std::vector<std::string>& plugins, const std::string& case_file) {
  std::string cmd = "moecheck run --variant " + variant;
  for (const auto& p : plugins) cmd += " --plugin " + p;
  cmd += external::exec_flags();
  if (!case_file.empty() || c.provenance.empty()) {
    cmd += " --case " + (case_file.empty() ? std::string("<saved case: rerun with --save-case FILE>") : case_file);
  } else {
    const GenSpec g = spec_from_json(c.provenance);
    const Shape& s = g.shape;
    bool preset_matches = false;
    if (!g.preset.empty()) {
      try {
        const Preset& p = find_preset(g.preset);
        preset_matches = p.H == s.H && p.I == s.I && p.E == s.E && p.k == s.k;
      } catch (const InputError&) {
      }
    }
    if (preset_matches)
      cmd += " --preset " + g.preset;
    else
      cmd += " --shape " + std::to_string(s.H) + "," + std::to_string(s.I) + "," + std::to_string(s.E) + "," +
             std::to_string(s.k);
    cmd += " --tokens " + std::to_string(s.T) + " --weights " + std::string(weight_format_name(g.weights)) +
           " --x-format " + std::string(format_name(g.x_format)) + " --y-format " +
           std::string(format_name(g.y_format)) + " --activation " +
           std::string(activation_name(g.act.kind)) + " --layout " + std::string(layout_name(g.layout)) +
           " --routing " + std::string(routing_name(g.routing)) + " --values " + std::string(values_name(g.values)) +
           " --seed " + std::to_string(g.seed);
    if (g.act.kind == Activation::swiglu_clamped && (g.act.alpha != 1.702f || g.act.limit != 7.0f)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " --alpha %.9g --limit %.9g", g.act.alpha, g.act.limit);
      cmd += buf;
    }
    if (g.storage == ExpertStorage::routed) cmd += " --storage routed";
    if (g.storage == ExpertStorage::all) cmd += " --storage all";
  }
  cmd += " --backend " + backend;
  return cmd;
}

}  // namespace moecheck

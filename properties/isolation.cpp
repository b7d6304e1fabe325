// isolation and exact: the two properties that rewrite the case's inputs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/check.hpp"
#include "oracle/metrics.hpp"
#include "properties/properties.hpp"

namespace moecheck::props {
namespace {

Verdict make(Property p, Status s, const Variant& v, Backend b, std::string d = "") {
  return {p, s, v.name(), b, std::move(d)};
}

// What the poison did: a NaN output is the poison reaching it; a finite
// output outside its bound is a wrong value the poison only exposed.
std::string consequence(double y) {
  return std::isnan(y) ? "the NaN reached the output: "
                       : "an output is finite but outside its bound (the NaN did not reach it): ";
}

uint32_t nan_code(Format f) { return f == Format::bf16 ? 0x7FC0 : f == Format::f16 ? 0x7E00 : 0x7FC00000u; }

Verdict unselected_experts(const Variant& v, Backend b, CaseContext& cx, const Bounds& bd, bool& ran) {
  const Property P = Property::isolation;
  Case c = cx.base();
  ran = poison_unrouted_experts(c) > 0;
  if (!ran) return make(P, Status::pass, v, b);
  const std::vector<double> y =
      decode_output(run_variant(v, c, b), v.numerics(c).output_format, c.shape.T * c.shape.H);
  const OracleResult& o = cx.oracle();
  const int64_t bad = first_outside(v.numerics(c).output_format, o, y, bd.rigorous, 0, c.shape.T * c.shape.H);
  if (bad < 0) return make(P, Status::pass, v, b);
  return make(P, Status::fail, v, b,
              "isolation failed: variant " + v.name() + " backend " + std::string(backend_name(b)) + " " +
                  case_summary(c) + ": with NaN in the weights of experts no token selected, " +
                  consequence(y[bad]) + describe_violation(c, o, y, bd, static_cast<size_t>(bad)));
}

Verdict other_tokens(const Variant& v, Backend b, CaseContext& cx, const Bounds& bd) {
  const Property P = Property::isolation;
  Case c = cx.base();
  const Shape& s = c.shape;
  const int64_t keep = s.T / 2, eb = x_elem_bytes(c.x_format);
  const uint32_t nan = nan_code(c.x_format);
  for (int64_t t = 0; t < s.T; ++t)
    if (t != keep)
      for (int64_t n = 0; n < s.H; ++n) std::memcpy(&c.x[(t * s.H + n) * eb], &nan, static_cast<size_t>(eb));
  const std::vector<double> y = decode_output(run_variant(v, c, b), v.numerics(c).output_format, s.T * s.H);
  const OracleResult& o = cx.oracle();
  const int64_t bad = first_outside(v.numerics(c).output_format, o, y, bd.rigorous, keep * s.H, (keep + 1) * s.H);
  if (bad < 0) return make(P, Status::pass, v, b);
  return make(P, Status::fail, v, b,
              "isolation failed: variant " + v.name() + " backend " + std::string(backend_name(b)) + " " +
                  case_summary(c) + ": with NaN in every other token's x, at token " + std::to_string(keep) + " " +
                  consequence(y[bad]) + describe_violation(c, o, y, bd, static_cast<size_t>(bad)));
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

bool is_integer(double v) { return std::isfinite(v) && v == std::nearbyint(v); }

// Exact integers of format f reach 2^(significand bits).
double exact_range(Format f) { return std::ldexp(1.0, mini_spec(f).mbits + 1); }

// Why the case cannot be required exact for this declaration, or "".
std::string exactness_obstacle(const Case& c, const OracleResult& o, const Numerics& n) {
  if (c.act.kind != Activation::bilinear) return "activation is not bilinear";
  if (n.x_requant || n.h_requant) return "the variant re-quantizes x or h";
  const Shape& s = c.shape;
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t i = 0; i < s.H; ++i)
      if (!is_integer(c.x_value(t, i))) return "x is not all integers";
  std::vector<double> row(static_cast<size_t>(std::max(s.H, s.I)));
  for (const WeightStack* w : {&c.w13, &c.w2})
    for (int64_t e = 0; e < w->E; ++e)
      for (int64_t r = 0; r < w->R; ++r) {
        w->dequant_row(e, r, row.data());
        if (!std::all_of(row.begin(), row.begin() + w->K, is_integer)) return "weights are not all integers";
        // A declared tile rounding of the weights keeps integers only within its exact range.
        if (n.weight_tile_format)
          for (int64_t q = 0; q < w->K; ++q)
            if (std::fabs(row[q]) > exact_range(*n.weight_tile_format))
              return "weights exceed the exact integers of " + std::string(format_name(*n.weight_tile_format));
      }
  // Every intermediate is a multiple of 2^-q (q from the smallest routing
  // weight, all powers of two) bounded by cond * 2^q.
  int q = 0;
  for (float w : c.topk_weights) {
    if (w == 0) continue;
    int ex;
    if (std::frexp(std::fabs(w), &ex) != 0.5) return "routing weights are not powers of two";
    q = std::max(q, 1 - ex);
  }
  const double scale = std::ldexp(1.0, q);
  const double cmax = *std::max_element(o.cond.begin(), o.cond.end()) * scale;
  double gmax = 0, hmax = 0;
  for (double v : o.g_cond) gmax = std::max(gmax, v);
  for (double v : o.u_cond) gmax = std::max(gmax, v);
  for (double v : o.h) hmax = std::max(hmax, std::fabs(v));
  // ... and 2^-q itself must be representable (no underflow to the subnormal quantum).
  std::vector<Format> sums = {n.accumulator, n.output_format};
  if (n.combine != Combine::fold_partials) sums.push_back(n.expert_out_format);
  if (n.topk_sum_format) sums.push_back(*n.topk_sum_format);
  for (Format f : sums)
    if (-q < 1 - mini_spec(f).bias - mini_spec(f).mbits)
      return "routing weights below " + std::string(format_name(f)) + "'s smallest subnormal";
  const double acc = exact_range(n.accumulator);
  if (gmax > acc || hmax > acc || cmax > acc) return "values exceed the accumulator's exact integers";
  if (hmax > exact_range(n.h_format)) return "h exceeds the exact integers of h's format";
  if (cmax > exact_range(n.output_format)) return "outputs exceed the output format's exact integers";
  if (n.combine != Combine::fold_partials && cmax > exact_range(n.expert_out_format))
    return "per-expert outputs exceed their format's exact integers";
  // g, u and the gate factor (g itself when bilinear) rounded on their own.
  for (auto f : {n.gate_up_format, n.gate_act_format})
    if (f && gmax > exact_range(*f)) return "g or u exceed the exact integers of " + std::string(format_name(*f));
  if (n.topk_sum_format && cmax > exact_range(*n.topk_sum_format)) return "outputs exceed the top-k sum's exact integers";
  return "";
}

}  // namespace

Verdict check_isolation(const Variant& v, Backend b, CaseContext& cx) {
  if (cx.may_overflow(v)) return make(Property::isolation, Status::skip, v, b, "values may overflow");
  const Bounds& bd = cx.bounds(v);
  bool ran_experts = false;
  Verdict r = unselected_experts(v, b, cx, bd, ran_experts);
  if (r.failed() || cx.base().shape.T == 1) {
    if (!r.failed() && !ran_experts)
      r = make(Property::isolation, Status::skip, v, b, "T=1 and every stored expert is selected");
    return r;
  }
  return other_tokens(v, b, cx, bd);
}

Verdict check_exact(const Variant& v, Backend b, CaseContext& cx) {
  const Case& c = cx.base();
  const OracleResult& o = cx.oracle();
  const std::string why = exactness_obstacle(c, o, cx.numerics(v));
  if (!why.empty()) return make(Property::exact, Status::skip, v, b, "not an exact case: " + why);
  const std::vector<double> y = decode_output(cx.output(v, b), v.numerics(c).output_format, c.shape.T * c.shape.H);
  for (size_t i = 0; i < y.size(); ++i)
    if (!(y[i] == o.y(i)) || o.err[i] != 0)
      return make(Property::exact, Status::fail, v, b,
                  "exact failed: variant " + v.name() + " backend " + std::string(backend_name(b)) + " " +
                      case_summary(c) + ": exact-integer case, t=" + std::to_string(i / c.shape.H) +
                      " i=" + std::to_string(i % c.shape.H) + " got " + num(y[i]) + " exact " +
                      num(o.y(i)) + " (error " + num(std::fabs(y[i] - o.y(i))) +
                      ", bound 0) case " + c.provenance);
  return make(Property::exact, Status::pass, v, b);
}

}  // namespace moecheck::props

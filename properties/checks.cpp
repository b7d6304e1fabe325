// The individual properties. Each derives what it needs from the context's
// oracle instead of rerunning it where mathematics allows: permuting the
// top-k order permutes the oracle's (T, k, I) intermediates; scaling routing
// weights by a power of two scales y, its error and its condition exactly;
// poisoning what no output depends on leaves the oracle unchanged.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>

#include <omp.h>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "kernels/check.hpp"
#include "oracle/metrics.hpp"
#include "properties/properties.hpp"

namespace moecheck::props {
namespace {

struct Ctx {
  Property p;
  const Variant& v;
  Backend b;
  CaseContext& cx;
  Verdict verdict(Status s, std::string detail = "") const {
    return {p, s, v.name(), b, std::move(detail)};
  }
  std::vector<double> decoded(const std::vector<uint8_t>& codes, const Case& c) const {
    return decode_output(codes, v.numerics(c).output_format, c.shape.T * c.shape.H);
  }
  // Failure text: property, variant, backend, case, then the element.
  std::string header(const Case& c) const {
    return std::string(property_name(p)) + " failed: variant " + v.name() + " backend " +
           std::string(backend_name(b)) + " " + case_summary(c) + ": ";
  }
  Verdict outside(const Case& c, const OracleResult& o, const std::vector<double>& y, const Bounds& bd,
                  int64_t bad, const std::string& what) const {
    if (bad < 0) return verdict(Status::pass);
    return verdict(Status::fail, header(c) + what + ": " + describe_failure(c, o, y, bd, static_cast<size_t>(bad)));
  }
};

int64_t first_bit_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int elem_bytes,
                             int64_t begin, int64_t end) {
  if (a.size() != b.size()) return begin;
  for (int64_t i = begin; i < end; ++i)
    if (std::memcmp(&a[i * elem_bytes], &b[i * elem_bytes], static_cast<size_t>(elem_bytes)) != 0) return i;
  return -1;
}

// Values in failure messages: enough digits to tell neighbours apart.
std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string where(const Shape& s, int64_t i) {
  return "t=" + std::to_string(i / s.H) + " i=" + std::to_string(i % s.H);
}

// The one accuracy rule of kernels/check.hpp, element by element: where the
// exact value is NaN the output must be NaN, and +-inf is right where the
// correctly rounded exact value (or one within the bound) overflows.
Verdict accuracy(const Ctx& k) {
  const Case& c = k.cx.base();
  const OracleResult& o = k.cx.oracle();
  const std::vector<double> y = k.decoded(k.cx.output(k.v, k.b), c);
  const Bounds& bd = k.cx.bounds(k.v);
  const Judgement j = judge_output(k.v.numerics(c).output_format, o, y, bd.rigorous,
                                   k.cx.intermediates_may_overflow(k.v), 0, c.shape.T * c.shape.H);
  if (j.nothing_to_compare())
    return k.verdict(Status::skip, "nothing to compare: every output is non-finite where an intermediate of a "
                                   "declared format may overflow");
  return k.outside(c, o, y, bd, j.first_failure, "outside rigorous bound");
}

Verdict differential(const Ctx& k, const std::vector<const Variant*>& peers) {
  const Case& c = k.cx.base();
  if (k.cx.may_overflow(k.v)) return k.verdict(Status::skip, "values may overflow");
  const std::vector<double> y = k.decoded(k.cx.output(k.v, k.b), c);
  const Bounds& bv = k.cx.bounds(k.v);
  int compared = 0;
  for (const Variant* q : peers) {
    if (q->name() == k.v.name() || !q->supports(c).ok || !backend_runs(*q, k.b) || k.cx.may_overflow(*q)) continue;
    const std::vector<double> yq = decode_output(k.cx.output(*q, k.b), q->numerics(c).output_format, c.shape.T * c.shape.H);
    const Bounds& bq = k.cx.bounds(*q);
    ++compared;
    const Format out = k.v.numerics(c).output_format, qout = q->numerics(c).output_format;
    for (size_t i = 0; i < y.size(); ++i) {
      // An infinity is either variant's correctly rounded overflow where its
      // bound reaches past the output range: accuracy's rule judges it there
      // (kernels/check.hpp), a difference of inf says nothing more. A NaN
      // still counts: no rule allows one where the other is finite.
      const int64_t at = static_cast<int64_t>(i);
      if ((std::isinf(y[i]) && judge_element(out, k.cx.oracle(), at, y[i], bv.rigorous[i], false) == Judged::pass) ||
          (std::isinf(yq[i]) && judge_element(qout, k.cx.oracle(), at, yq[i], bq.rigorous[i], false) == Judged::pass))
        continue;
      const double lim = bv.rigorous[i] + bq.rigorous[i];
      if (!(std::fabs(y[i] - yq[i]) <= lim))
        return k.verdict(Status::fail, k.header(c) + "disagrees with " + q->name() + " at " + where(c.shape, i) +
                                           ": " + num(y[i]) + " vs " + num(yq[i]) +
                                           " difference " + num(std::fabs(y[i] - yq[i])) +
                                           " > bound sum " + num(lim));
    }
  }
  if (compared == 0) return k.verdict(Status::skip, "no other variant runs this case on this backend");
  return k.verdict(Status::pass);
}

Verdict twin(const Ctx& k) {
  const Case& c = k.cx.base();
  if (k.b != Backend::cuda) return k.verdict(Status::skip, "twin compares device and host twin: cuda backend only");
  if (!k.v.claims().host_twin) return k.verdict(Status::skip, k.v.name() + " does not claim a host twin");
  const std::vector<uint8_t>& dev = k.cx.output(k.v, Backend::cuda);
  const std::vector<uint8_t>& host = k.cx.output(k.v, Backend::host);
  const int eb = format_bits(k.v.numerics(c).output_format) / 8;
  const auto yd = k.decoded(dev, c), yh = k.decoded(host, c);
  // Bit for bit, except that any two NaNs are equal: IEEE 754 leaves the
  // payload and sign of a generated NaN to the hardware (the GPU's canonical
  // 0x7FFFFFFF, x86's default 0xFFC00000), so they are not the numerics.
  int64_t bad = -1;
  for (int64_t at = 0; at < c.shape.T * c.shape.H && bad < 0; ++at) {
    at = first_bit_difference(dev, host, eb, at, c.shape.T * c.shape.H);
    if (at < 0) break;
    if (!(std::isnan(yd[at]) && std::isnan(yh[at]))) bad = at;
  }
  if (bad < 0) return k.verdict(Status::pass);
  return k.verdict(Status::fail, k.header(c) + "device and host twin differ at " + where(c.shape, bad) + ": device " +
                                     num(yd[bad]) + " host " + num(yh[bad]));
}

Verdict determinism(const Ctx& k) {
  const Case& c = k.cx.base();
  const std::vector<uint8_t>& first = k.cx.output(k.v, k.b);
  const int eb = format_bits(k.v.numerics(c).output_format) / 8;
  for (int rep = 0; rep < 2; ++rep) {
    const std::vector<uint8_t> again = run_variant(k.v, c, k.b);
    const int64_t bad = first_bit_difference(first, again, eb, 0, c.shape.T * c.shape.H);
    if (bad < 0) continue;
    const Status s = k.v.claims().deterministic ? Status::fail : Status::report;
    return k.verdict(s, k.header(c) + "run " + std::to_string(rep + 2) + " differs from run 1 at " +
                            where(c.shape, bad) + ": " + num(k.decoded(again, c)[bad]) + " vs " +
                            num(k.decoded(first, c)[bad]));
  }
  return k.verdict(Status::pass);
}

Verdict batch_invariance(const Ctx& k) {
  const Case& c = k.cx.base();
  const Shape& s = c.shape;
  std::vector<int64_t> tokens = {0, s.T - 1};
  if (s.T > 2) tokens.insert(tokens.begin() + 1, s.T / 2);
  if (s.T == 1) tokens.pop_back();
  // Two other batch sizes per case, in turn over the cases (each GPU run
  // costs its upload): the production tier runs them all.
  return check_batch_invariance(k.v, k.b, c, tokens, 4 * s.T + 16, 2, mix_seed(s.T, s.H, s.I, s.k));
}

// Reorders each token's (id, weight) slots and the oracle's (T, k, I) arrays
// with them; the exact y is unchanged.
void permute_slots(Case& c, OracleResult& o, uint64_t seed) {
  const Shape& s = c.shape;
  Rng r(seed);
  std::vector<int64_t> perm(s.k);
  std::vector<std::vector<double>*> arrays = {&o.g, &o.u, &o.h, &o.g_cond, &o.u_cond, &o.h_err};
  for (int64_t t = 0; t < s.T; ++t) {
    for (int64_t j = 0; j < s.k; ++j) perm[j] = j;
    for (int64_t j = s.k - 1; j > 0; --j) std::swap(perm[j], perm[r.next() % static_cast<uint64_t>(j + 1)]);
    if (s.k > 1 && std::is_sorted(perm.begin(), perm.end())) std::reverse(perm.begin(), perm.end());
    auto reorder = [&](auto* base, int64_t stride) {
      using T = std::remove_reference_t<decltype(*base)>;
      std::vector<T> tmp(base, base + s.k * stride);
      for (int64_t j = 0; j < s.k; ++j) std::copy_n(&tmp[perm[j] * stride], stride, base + j * stride);
    };
    reorder(&c.topk_ids[t * s.k], 1);
    reorder(&c.topk_weights[t * s.k], 1);
    for (auto* a : arrays)
      if (a->size() == static_cast<size_t>(s.T * s.k * s.I)) reorder(a->data() + t * s.k * s.I, s.I);
  }
}

Verdict permutation(const Ctx& k) {
  const Case& c0 = k.cx.base();
  if (c0.shape.k == 1) return k.verdict(Status::skip, "k=1: nothing to permute");
  if (k.cx.may_overflow(k.v)) return k.verdict(Status::skip, "values may overflow");
  Case c = c0;
  OracleResult o = k.cx.oracle();
  permute_slots(c, o, mix_seed(c.shape.T, c.shape.k, static_cast<uint64_t>(c.topk_ids[0])));
  const Bounds bd = derive_bounds(c, o, k.cx.numerics(k.v));
  const std::vector<double> y = k.decoded(run_variant(k.v, c, k.b), c);
  return k.outside(c, o, y, bd, first_outside(k.v.numerics(c).output_format, o, y, bd.rigorous, 0, c.shape.T * c.shape.H),
                   "with each token's top-k order permuted, outside rigorous bound");
}

// The variant runs the whole batch with one routing weight per token set to
// 0; first, middle and last token are checked against the oracle of just
// those tokens, which is the only oracle this property cannot derive from
// the case's (its cost no longer grows with T).
Verdict zero_weight(const Ctx& k) {
  Case c = k.cx.base();
  if (k.cx.may_overflow(k.v)) return k.verdict(Status::skip, "values may overflow");
  const Shape& s = c.shape;
  // One slot per token, a different position in neighbouring tokens.
  for (int64_t t = 0; t < s.T; ++t) c.topk_weights[t * s.k + t % s.k] = 0.0f;
  const std::vector<uint8_t> codes = run_variant(k.v, c, k.b);
  // One token's oracle per case (it is most of this property's cost): the
  // first, middle or last in turn over the cases.
  std::vector<int64_t> rows = {0, s.T / 2, s.T - 1};
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  rows = {rows[mix_seed(s.T, s.H, s.I, s.k + 1) % rows.size()]};
  const Case sub = select_tokens(c, rows);
  const OracleResult o = run_oracle(sub, k.cx.threads());
  // The declaration of the whole case: it may depend on T.
  const Bounds bd = derive_bounds(sub, o, k.cx.numerics(k.v));
  const int eb = format_bits(k.v.numerics(c).output_format) / 8;
  std::vector<uint8_t> sub_codes;
  for (int64_t t : rows)
    sub_codes.insert(sub_codes.end(), codes.begin() + t * s.H * eb, codes.begin() + (t + 1) * s.H * eb);
  const std::vector<double> y = k.decoded(sub_codes, sub);
  const int64_t bad = first_outside(k.v.numerics(c).output_format, o, y, bd.rigorous, 0, sub.shape.T * s.H);
  if (bad < 0) return k.verdict(Status::pass);
  return k.verdict(Status::fail, k.header(c) + "with routing weight of slot t%k set to 0, token " +
                                     std::to_string(rows[bad / s.H]) +
                                     " is outside the bound of the expert-removed result: " +
                                     describe_violation(sub, o, y, bd, static_cast<size_t>(bad)) + " (t counts the " +
                                     std::to_string(rows.size()) + " checked tokens) case " + c.provenance);
}

Verdict linearity(const Ctx& k) {
  Case c = k.cx.base();
  if (k.cx.may_overflow(k.v)) return k.verdict(Status::skip, "values may overflow");
  OracleResult o = k.cx.oracle();
  const double lim = mini_max(k.v.numerics(c).output_format) / 64;
  const bool up = std::all_of(o.cond.begin(), o.cond.end(), [&](double v) { return v < lim; });
  const float sc = up ? 4.0f : 0.25f;
  for (float& w : c.topk_weights) w *= sc;
  for (auto* a : {&o.y_hi, &o.y_lo, &o.err, &o.cond})
    for (double& v : *a) v *= sc;
  const Bounds bd = derive_bounds(c, o, k.cx.numerics(k.v));
  const std::vector<double> y = k.decoded(run_variant(k.v, c, k.b), c);
  return k.outside(c, o, y, bd, first_outside(k.v.numerics(c).output_format, o, y, bd.rigorous, 0, c.shape.T * c.shape.H),
                   std::string("with routing weights scaled by ") + (up ? "4" : "1/4") +
                       ", outside the bound of the scaled result");
}

}  // namespace

Verdict check_isolation(const Variant& v, Backend b, CaseContext& cx);
Verdict check_exact(const Variant& v, Backend b, CaseContext& cx);

Verdict check_property(Property p, const Variant& v, Backend b, CaseContext& cx,
                       const std::vector<const Variant*>& peers) {
  const Ctx k{p, v, b, cx};
  // The case's thread count for every oracle and bound derived below.
  const int prev_threads = omp_get_max_threads();
  omp_set_num_threads(cx.threads());
  struct Restore {
    int n;
    ~Restore() { omp_set_num_threads(n); }
  } restore{prev_threads};
  std::string why;
  if (!backend_runs(v, b, &why)) return k.verdict(Status::skip, why);
  const Support sup = v.supports(cx.base());
  if (!sup.ok) return k.verdict(Status::skip, "unsupported: " + sup.reason);
  // Supporting a case means writing y in the format it asks for: judging the
  // output in another declared format would pass a variant that ignores it.
  if (const Format out = v.numerics(cx.base()).output_format; out != cx.base().y_format)
    return k.verdict(Status::fail, k.header(cx.base()) + "declares output " + std::string(format_name(out)) +
                                       " but the case asks for y in " + std::string(format_name(cx.base().y_format)));
  try {
    switch (p) {
      case Property::accuracy: return accuracy(k);
      case Property::differential: return differential(k, peers);
      case Property::twin: return twin(k);
      case Property::determinism: return determinism(k);
      case Property::batch_invariance: return batch_invariance(k);
      case Property::permutation: return permutation(k);
      case Property::zero_weight: return zero_weight(k);
      case Property::linearity: return linearity(k);
      case Property::isolation: return check_isolation(v, b, cx);
      case Property::exact: return check_exact(v, b, cx);
    }
  } catch (const std::exception& e) {
    // A variant that throws on a case it says it supports has failed.
    return k.verdict(Status::fail, k.header(cx.base()) + "threw: " + e.what());
  }
  return k.verdict(Status::skip, "unknown property");
}

}  // namespace moecheck::props

#include "oracle/tests/test_util.hpp"

#include <boost/multiprecision/mpfr.hpp>

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "oracle/mp.hpp"
#include "oracle/naive.hpp"
#include "oracle/rows.hpp"

namespace moecheck::test {
namespace {

// RapidCheck reads RC_PARAMS once, lazily: set the level's case count before
// main unless the user chose one.
const int kRcParams = [] {
  const int n = cases(15, 100, 1000);
  const std::string p = "max_success=" + std::to_string(n) + " max_size=100";
  setenv("RC_PARAMS", p.c_str(), 0);
  return 0;
}();

template <class E>
rc::Gen<E> one_of_enum(std::initializer_list<E> v) {
  return rc::gen::elementOf(std::vector<E>(v));
}

using Mp256 = bmp::number<bmp::mpfr_float_backend<78>, bmp::et_off>;
using Mp512 = bmp::number<bmp::mpfr_float_backend<155>, bmp::et_off>;

template <class Real>
int real_bits() {
  Real x;
  return static_cast<int>(mpfr_get_prec(x.backend().data()));
}

template <class Real>
std::string check_one(const Case& c, const OracleResult& o, const char* name) {
  const Shape& s = c.shape;
  const std::vector<Real> y = naive_layer<Real>(c);
  const int p = real_bits<Real>();
  const double up = std::ldexp(1.0, -p);
  // Slack for the naive evaluation's own error (BOUNDS.md 3): every term of
  // the down sum carries its h's error, propagated from the gate/up sums.
  std::vector<double> row(s.I);
  for (int64_t idx = 0; idx < s.T * s.H; ++idx) {
    const int64_t t = idx / s.H, i = idx % s.H;
    if (!std::isfinite(o.y_hi[idx])) {  // the oracle's NaN / inf: the naive value must not be finite either
      if (isfinite(y[idx])) return std::string(name) + " is finite where the oracle is not at t=" + std::to_string(t) +
                                   " i=" + std::to_string(i) + " case " + c.provenance;
      continue;
    }
    double slack = 0;
    for (int64_t j = 0; j < s.k; ++j) {
      decode_row(c.w2, c.slot_of(c.id(t, j)), i, row.data());
      for (int64_t n = 0; n < s.I; ++n) {
        const int64_t m = (t * s.k + j) * s.I + n;
        const double g = std::fabs(o.g[m]), u = std::fabs(o.u[m]), h = std::fabs(o.h[m]);
        const double eg = (s.H + 2) * up * o.g_cond[m], eu = (s.H + 2) * up * o.u_cond[m];
        const double eh = (16 + 4 * g * g + 4 * g) * up * h + 1.2 * (u + 8 + eu) * eg + (g + eg) * eu;
        slack += std::fabs(row[n]) * std::fabs(static_cast<double>(c.weight(t, j))) * (eh + (s.I + s.k + 4) * up * h);
      }
    }
    slack *= 1.1;
    Real diff = Real(o.y_hi[idx]) + Real(o.y_lo[idx]) - y[idx];
    const double d = std::fabs(static_cast<double>(diff));
    if (!(d <= o.err[idx] + slack)) {
      std::ostringstream m;
      m.precision(17);
      m << name << " (" << p << " bits) disagrees at t=" << t << " i=" << i << ": oracle " << o.y_hi[idx] << " + "
        << o.y_lo[idx] << " naive " << static_cast<double>(y[idx]) << " |diff| " << d << " > err " << o.err[idx]
        << " + slack " << slack << " (c=" << o.cond[idx] << ") case " << c.provenance;
      return m.str();
    }
  }
  return "";
}

}  // namespace

rc::Gen<GenSpec> small_spec(int64_t max_h, int64_t max_i, int64_t max_t) {
  return rc::gen::exec([=] {
    GenSpec g;
    g.shape.T = *rc::gen::inRange<int64_t>(1, max_t + 1);
    g.shape.H = *rc::gen::inRange<int64_t>(1, max_h + 1);
    g.shape.I = *rc::gen::inRange<int64_t>(1, max_i + 1);
    g.shape.E = *rc::gen::inRange<int64_t>(1, 9);
    g.shape.k = *rc::gen::inRange<int64_t>(1, g.shape.E + 1);
    g.weights = *rc::gen::elementOf(all_weight_formats());
    g.x_format = *one_of_enum({Format::bf16, Format::f16, Format::f32});
    g.act.kind = *one_of_enum({Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear});
    g.layout = *one_of_enum({GateUpLayout::concatenated, GateUpLayout::interleaved});
    g.routing = *one_of_enum({RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set, RoutingDist::distinct,
                              RoutingDist::adversarial});
    g.values = *one_of_enum({ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                             ValueDist::cancel});
    g.storage = *one_of_enum({ExpertStorage::all, ExpertStorage::routed});
    g.seed = *rc::gen::arbitrary<uint32_t>();
    return g;
  });
}

Case build_case(const DirectCase& d) {
  Case c;
  c.shape = d.shape;
  c.act = d.act;
  c.layout = d.layout;
  c.x_format = d.x_format;
  const int64_t eb = x_elem_bytes(d.x_format);
  c.x.resize(d.x.size() * eb);
  for (size_t q = 0; q < d.x.size(); ++q) {
    const uint32_t code = encode(d.x_format, d.x[q]);
    for (int64_t b = 0; b < eb; ++b) c.x[q * eb + b] = static_cast<uint8_t>(code >> (8 * b));
  }
  c.w13 = quantize_weights(d.weights, d.shape.E, 2 * d.shape.I, d.shape.H, d.w13);
  c.w2 = quantize_weights(d.weights, d.shape.E, d.shape.H, d.shape.I, d.w2);
  c.topk_ids = d.ids;
  c.topk_weights = d.weights_route;
  c.provenance = "{\"built\":\"direct\"}";
  validate(c);
  return c;
}

std::string check_against_naive(const Case& c, const OracleResult& o) {
  std::string m = check_one<Mp256>(c, o, "naive MPFR-256");
  if (m.empty()) m = check_one<Mp512>(c, o, "naive MPFR-512");
  return m;
}

std::string describe_spec(const GenSpec& s) { return spec_to_json(s); }

}  // namespace moecheck::test

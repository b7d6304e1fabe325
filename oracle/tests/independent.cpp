#include "oracle/tests/independent.hpp"

#include <gmp.h>
#include <mpfr.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/formats_reference.hpp"
#include "oracle/mp.hpp"
#include "oracle/rows.hpp"

namespace moecheck::test {
namespace {

// Rounding bits of the final down sum: far below any err the oracle returns.
constexpr mpfr_prec_t kSumBits = 1400;

struct QVec {  // mpq_t values with their lifetime
  std::vector<__mpq_struct> a;
  explicit QVec(size_t n) : a(n) {
    for (auto& q : a) mpq_init(&q);
  }
  ~QVec() {
    for (auto& q : a) mpq_clear(&q);
  }
  mpq_ptr operator[](size_t i) { return &a[i]; }
};

struct FVec {  // mpfr_t values with their lifetime
  std::vector<__mpfr_struct> a;
  FVec(size_t n, mpfr_prec_t p) : a(n) {
    for (auto& f : a) mpfr_init2(&f, p);
  }
  ~FVec() {
    for (auto& f : a) mpfr_clear(&f);
  }
  mpfr_ptr operator[](size_t i) { return &a[i]; }
};

mpfr_prec_t act_bits() { return 2 * act_precision_bits(); }

// sum w[q] x[q], exactly.
void dot_q(const double* w, const std::vector<double>& x, int64_t n, mpq_ptr out, QVec& tmp) {
  mpq_set_ui(out, 0, 1);
  for (int64_t q = 0; q < n; ++q) {
    mpq_set_d(tmp[0], w[q]);
    mpq_set_d(tmp[1], x[q]);
    mpq_mul(tmp[0], tmp[0], tmp[1]);
    mpq_add(out, out, tmp[0]);
  }
}

// r = q exactly (q is dyadic, so its numerator's bits suffice).
void set_exact(mpfr_ptr r, mpq_srcptr q) {
  mpfr_set_prec(r, static_cast<mpfr_prec_t>(std::max<size_t>(mpz_sizeinbase(mpq_numref(q), 2), 2)));
  mpfr_set_q(r, q, MPFR_RNDN);
}

// h = act(g, u) at act_bits(); returns a bound on |h - act(g, u)| (double,
// with a factor 2 over the derivation, which covers using |h| for |act|).
double act_mp(const ActivationSpec& a, mpq_srcptr gq, mpq_srcptr uq, mpfr_ptr h, QVec& tmp) {
  const mpfr_prec_t p = act_bits();
  const double ulp = std::ldexp(1.0, -static_cast<int>(p));
  FVec f(4, p);  // g, u (exact), then scratch
  mpfr_ptr g = f[0], u = f[1], e = f[2], s = f[3];
  double rel = 0;
  bool under = false;
  if (a.kind == Activation::geglu) {
    set_exact(g, gq);
    set_exact(u, uq);
    mpfr_sqrt_ui(s, 2, MPFR_RNDN);
    mpfr_div(e, g, s, MPFR_RNDN);
    mpfr_neg(e, e, MPFR_RNDN);  // z = -g / sqrt 2 within 2.01 2^-p |z|
    const double z = std::fabs(mpfr_get_d(e, MPFR_RNDA));
    // |d log erfc(w) / dw| < |w| + sqrt(w^2 + 2) <= 2|w| + 2 (A&S 7.1.13; <= 1.13 for w <= 0).
    const double arg = (2 * z + 3) * 2.01 * z * ulp;
    mpfr_erfc(s, e, MPFR_RNDN);
    under = mpfr_zero_p(s);
    mpfr_mul(h, g, s, MPFR_RNDN);
    mpfr_div_2ui(h, h, 1, MPFR_RNDN);
    mpfr_mul(h, h, u, MPFR_RNDN);
    rel = (arg <= 0.01 ? 1.01 * arg : INFINITY) + 3.01 * ulp;
  } else if (a.kind == Activation::bilinear) {
    mpq_mul(tmp[2], gq, uq);
    set_exact(h, tmp[2]);
    return 0;
  } else {
    // silu(g) u, or g' sigmoid(alpha g') (u' + 1) with g' = min(g, limit), u' = clamp(u, +-limit).
    mpq_set(tmp[2], gq);
    mpq_set(tmp[3], uq);
    mpq_set_d(tmp[4], a.kind == Activation::swiglu ? 1.0 : static_cast<double>(a.alpha));
    if (a.kind == Activation::swiglu_clamped) {
      mpq_set_d(tmp[5], static_cast<double>(a.limit));
      if (mpq_cmp(tmp[2], tmp[5]) > 0) mpq_set(tmp[2], tmp[5]);
      if (mpq_cmp(tmp[3], tmp[5]) > 0) mpq_set(tmp[3], tmp[5]);
      mpq_neg(tmp[5], tmp[5]);
      if (mpq_cmp(tmp[3], tmp[5]) < 0) mpq_set(tmp[3], tmp[5]);
      mpq_set_ui(tmp[5], 1, 1);
      mpq_add(tmp[3], tmp[3], tmp[5]);
    }
    set_exact(g, tmp[2]);
    set_exact(u, tmp[3]);
    mpq_mul(tmp[4], tmp[4], tmp[2]);
    mpq_neg(tmp[4], tmp[4]);
    set_exact(s, tmp[4]);  // -alpha g', exact
    mpfr_set_prec(e, p);
    mpfr_exp(e, s, MPFR_RNDN);
    under = mpfr_inf_p(e);
    mpfr_add_ui(e, e, 1, MPFR_RNDN);
    mpfr_div(h, g, e, MPFR_RNDN);
    mpfr_mul(h, h, u, MPFR_RNDN);
    rel = 4.01 * ulp;
  }
  if (under) {  // sigmoid or erfc below e^-(2^29): |h| is far below 2^-1074
    mpfr_set_zero(h, 1);
    return 0x1p-1074;
  }
  return 2 * rel * std::fabs(mpfr_get_d(h, MPFR_RNDA)) + 0x1p-1074;
}

bool all_finite(const double* v, int64_t n) {
  return std::all_of(v, v + n, [](double d) { return std::isfinite(d); });
}

struct Token {  // v = w_j h_j[n] of one token, (k, I), and the bound on each
  bool ok = true;  // every input finite
  bool exact = false;
  QVec vq;   // bilinear: exact
  FVec vf;   // otherwise: exact products of w_j and the MPFR h
  std::vector<double> ev;
  Token(size_t n) : vq(n), vf(n, 2), ev(n, 0) {}
};

void eval_token(const Case& c, const std::vector<double>& x, int64_t t, Token& tok) {
  const Shape& s = c.shape;
  tok.exact = c.act.kind == Activation::bilinear;
  std::vector<double> row(s.H);
  QVec gu(2), tmp(6);
  for (int64_t j = 0; j < s.k; ++j) {
    const int64_t slot = c.slot_of(c.id(t, j));
    const double w = static_cast<double>(c.weight(t, j));
    for (int64_t n = 0; n < s.I; ++n) {
      const size_t m = static_cast<size_t>(j * s.I + n);
      decode_row(c.w13, slot, gate_row(c.layout, s.I, n), row.data());
      tok.ok &= all_finite(row.data(), s.H) && std::isfinite(w);
      dot_q(row.data(), x, s.H, gu[0], tmp);
      decode_row(c.w13, slot, up_row(c.layout, s.I, n), row.data());
      tok.ok &= all_finite(row.data(), s.H);
      if (!tok.ok) return;
      dot_q(row.data(), x, s.H, gu[1], tmp);
      if (tok.exact) {
        mpq_mul(tok.vq[m], gu[0], gu[1]);
        mpq_set_d(tmp[0], w);
        mpq_mul(tok.vq[m], tok.vq[m], tmp[0]);
        continue;
      }
      FVec h(1, act_bits());
      tok.ev[m] = std::fabs(w) * act_mp(c.act, gu[0], gu[1], h[0], tmp) * 1.01;
      mpfr_set_prec(tok.vf[m], mpfr_get_prec(h[0]) + 24);
      mpfr_mul_d(tok.vf[m], h[0], w, MPFR_RNDN);  // exact
    }
  }
}

std::string where(const Case& c, const OracleResult& o, int64_t t, int64_t i, const char* how) {
  const int64_t idx = t * c.shape.H + i;
  std::ostringstream m;
  m << how << " at t=" << t << " i=" << i << ": oracle " << ref::hex_double(o.y_hi[idx]) << " + "
    << ref::hex_double(o.y_lo[idx]) << " err " << ref::hex_double(o.err[idx]) << " c " << ref::hex_double(o.cond[idx])
    << " case " << c.provenance;
  return m.str();
}

// |y - hi - lo| beyond err + slack (y exact or within slack); "" when fine.
std::string compare(const Case& c, const OracleResult& o, int64_t t, int64_t i, mpfr_srcptr y, double slack,
                    int min_bits) {
  const int64_t idx = t * c.shape.H + i;
  FVec d(2, 2 * kSumBits + 200);
  mpfr_sub_d(d[0], y, o.y_hi[idx], MPFR_RNDN);  // exact at this precision for doubles near y
  mpfr_sub_d(d[0], d[0], o.y_lo[idx], MPFR_RNDN);
  mpfr_abs(d[0], d[0], MPFR_RNDN);
  mpfr_set_d(d[1], o.err[idx], MPFR_RNDN);
  mpfr_add_d(d[1], d[1], slack, MPFR_RNDU);
  std::ostringstream m;
  m.precision(6);
  if (mpfr_cmp(d[0], d[1]) > 0)
    m << "|y_true - y_hi - y_lo| = " << mpfr_get_d(d[0], MPFR_RNDN) << " > err + slack " << slack;
  else if (min_bits > 0 && mpfr_zero_p(y) && (o.err[idx] != 0 || o.y_hi[idx] != 0))
    m << "exact zero not certified as exact (err > 0)";
  else if (min_bits > 0 && !mpfr_zero_p(y) && std::fabs(o.y_hi[idx]) >= 0x1p-916 &&
           o.err[idx] > std::ldexp(std::fabs(o.y_hi[idx]), -min_bits))
    m << "fewer than " << min_bits << " certified bits: err/|y| = " << o.err[idx] / std::fabs(o.y_hi[idx]);
  return m.str().empty() ? "" : where(c, o, t, i, m.str().c_str());
}

}  // namespace

std::string check_independent(const Case& c, const OracleResult& o, int min_bits, int64_t& checked) {
  const Shape& s = c.shape;
  std::vector<double> x(s.H), drow(s.k * s.I);
  const size_t KI = static_cast<size_t>(s.k * s.I);
  QVec acc(2);
  FVec terms(KI, 2), y(1, kSumBits);
  std::vector<mpfr_ptr> ptrs(KI);
  for (int64_t t = 0; t < s.T; ++t) {
    for (int64_t n = 0; n < s.H; ++n) x[n] = c.x_value(t, n);
    Token tok(KI);
    tok.ok = all_finite(x.data(), s.H);
    if (tok.ok) eval_token(c, x, t, tok);
    for (int64_t i = 0; tok.ok && i < s.H; ++i) {
      const int64_t idx = t * s.H + i;
      for (int64_t j = 0; j < s.k; ++j) decode_row(c.w2, c.slot_of(c.id(t, j)), i, &drow[j * s.I]);
      if (!all_finite(drow.data(), static_cast<int64_t>(KI)) || !std::isfinite(o.y_hi[idx])) continue;
      double slack = 0;
      if (tok.exact) {
        mpq_set_ui(acc[0], 0, 1);
        for (size_t m = 0; m < KI; ++m) {
          mpq_set_d(acc[1], drow[m]);
          mpq_mul(acc[1], acc[1], tok.vq[m]);
          mpq_add(acc[0], acc[0], acc[1]);
        }
        set_exact(y[0], acc[0]);  // the exact value, checked with no slack
      } else {
        for (size_t m = 0; m < KI; ++m) {
          mpfr_set_prec(terms[m], mpfr_get_prec(tok.vf[m]) + 53);
          mpfr_mul_d(terms[m], tok.vf[m], drow[m], MPFR_RNDN);  // exact
          ptrs[m] = terms[m];
          slack += std::fabs(drow[m]) * tok.ev[m];
        }
        mpfr_set_prec(y[0], kSumBits);
        mpfr_sum(y[0], ptrs.data(), KI, MPFR_RNDN);
        // 1.01: the double sum's own rounding; the sum's one rounding; underflowed products.
        slack = slack * 1.01 + std::ldexp(std::fabs(mpfr_get_d(y[0], MPFR_RNDA)), 1 - kSumBits) +
                static_cast<double>(KI) * 0x1p-1074;
      }
      ++checked;
      const std::string msg = compare(c, o, t, i, y[0], slack, min_bits);
      if (!msg.empty()) return (tok.exact ? "exact rationals: " : "MPFR: ") + msg;
    }
  }
  return "";
}

}  // namespace moecheck::test

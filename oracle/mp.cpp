#include "oracle/mp.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "oracle/up.hpp"

namespace moecheck {
namespace {

constexpr double kTiny = 0x1p-1074;  // certified bound for underflowed results

// Bound on the relative error after `k` correctly rounded operations at
// precision p, each rel <= 2^-p: (1 + 2^-p)^k - 1 <= 1.01 k 2^-p for k 2^-p
// small (BOUNDS.md 1.2).
double rel_after(int k, int p) { return 1.01 * k * std::ldexp(1.0, -p); }

double abs_d(mpfr_srcptr x) { return std::fabs(mpfr_get_d(x, MPFR_RNDA)); }

struct Tmp {  // an MPFR temporary of a precision chosen at run time
  mpfr_t v;
  explicit Tmp(mpfr_prec_t p) { mpfr_init2(v, p); }
  ~Tmp() { mpfr_clear(v); }
  Tmp(const Tmp&) = delete;
  Tmp& operator=(const Tmp&) = delete;
  operator mpfr_ptr() { return v; }
};

struct Ops {  // counts inexact roundings (ternary != 0)
  int inexact = 0;
  void operator+=(int ternary) { inexact += ternary != 0; }
};

// g * sigmoid(s * g) without u, s = 1 (silu) or alpha (clamped): writes it
// to out, returns the relative error bound (0 when exact).
double sigmoid_times(mpfr_srcptr g, double s, mpfr_ptr out, bool& underflow) {
  const int p = static_cast<int>(mpfr_get_prec(out));
  Tmp a(p), e(p);
  Ops ops;
  int argop = 0;  // rounding of the argument s*g (perturbs the argument)
  if (s == 1.0) {
    argop = mpfr_neg(a, g, MPFR_RNDN) != 0;
  } else {
    argop = mpfr_mul_d(a, g, -s, MPFR_RNDN) != 0;
  }
  ops += mpfr_exp(e, a, MPFR_RNDN);
  if (mpfr_inf_p(e)) {  // sigmoid(s g) < e^-(2^29): g sigma underflows every double
    mpfr_set_zero(out, 1);
    underflow = true;
    return 0;
  }
  ops += mpfr_add_ui(e, e, 1, MPFR_RNDN);
  ops += mpfr_div(out, g, e, MPFR_RNDN);
  // |d log sigmoid(a) / da| = 1 - sigmoid(a) <= 1: an argument error of
  // |a| 2^-p relative becomes at most |a| 2^-p relative in the result.
  const double arg = argop ? std::fabs(mpfr_get_d(a, MPFR_RNDA)) * std::ldexp(1.0, -p) : 0;
  return rel_after(ops.inexact, p) + 1.01 * arg;
}

// gelu(g) = g/2 erfc(-g/sqrt 2).
double gelu(mpfr_srcptr g, mpfr_ptr out, bool& underflow) {
  const int p = static_cast<int>(mpfr_get_prec(out));
  Tmp r2(p), z(p), c(p);
  Ops ops;
  mpfr_sqrt_ui(r2, 2, MPFR_RNDN);
  mpfr_div(z, g, r2, MPFR_RNDN);
  mpfr_neg(z, z, MPFR_RNDN);
  // z carries two roundings: |z_hat - z| <= 2.01 2^-p |z|. The relative
  // sensitivity of erfc(w) is <= 2/sqrt(pi) for w <= 0 and < w + sqrt(w^2+2)
  // <= 2w + 1.5 for w > 0 (Abramowitz-Stegun 7.1.13).
  const double zd = mpfr_get_d(z, MPFR_RNDA);
  const double sens = (zd > 0 ? 2 * zd + 2 : 1.2);
  const double dz = 2.01 * std::fabs(zd) * std::ldexp(1.0, -p);
  ops += mpfr_erfc(c, z, MPFR_RNDN);
  if (mpfr_zero_p(c)) {
    mpfr_set_zero(out, 1);
    underflow = true;
    return 0;
  }
  ops += mpfr_mul(out, g, c, MPFR_RNDN);
  mpfr_div_2ui(out, out, 1, MPFR_RNDN);  // exact
  const double argrel = sens * dz;
  // exp(argrel) - 1 <= 1.01 argrel while argrel <= 0.01.
  return rel_after(ops.inexact, p) + (argrel <= 0.01 ? 1.01 * argrel : std::numeric_limits<double>::infinity());
}

// Half an ulp of an MPFR result at its precision, rounded up to a double
// (>= 2^-1074): the error of one inexact correctly rounded operation.
double half_ulp_bound(mpfr_srcptr x) {
  if (mpfr_zero_p(x)) return 0;
  const long e = mpfr_get_exp(x) - static_cast<long>(mpfr_get_prec(x)) - 1;
  if (e < -1074) return 0x1p-1074;
  if (e > 1023) return std::numeric_limits<double>::infinity();
  return std::ldexp(1.0, static_cast<int>(e));
}

// h for a NaN or infinite g or u, by IEEE rules on the exact values
// (BOUNDS.md 1.7): F(g) = g sigmoid(g) (silu) or g Phi(g) (gelu), with
// sigmoid, Phi = 1 at +inf and 0 at -inf, so F(+inf) = +inf and F(-inf) =
// -inf * 0 = NaN; F(g) of a finite g has g's sign (0 only at 0); h = F u with
// inf * 0 = NaN. Neither g nor u is NaN. Clamped SwiGLU reaches here only for
// g = -inf (NaN): every other infinity is clamped to a finite value. Bound 0
// (exact) or NaN.
double infinite_act(const ActivationSpec& a, mpfr_srcptr g, mpfr_srcptr u, mpfr_ptr h) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (a.kind == Activation::swiglu_clamped) {
    mpfr_set_nan(h);
    return kNaN;
  }
  Tmp f(2);
  if (a.kind == Activation::bilinear)
    mpfr_set(f, g, MPFR_RNDN);  // F(g) = g: only its class matters here
  else if (mpfr_inf_p(g))
    mpfr_set_inf(f, 1);
  else
    mpfr_set_si(f, mpfr_sgn(g), MPFR_RNDN);
  if (mpfr_inf_p(g) && mpfr_sgn(g) < 0 && a.kind != Activation::bilinear) mpfr_set_nan(f);
  mpfr_mul(h, f, u, MPFR_RNDN);  // g or u is infinite: h is +-inf or NaN
  return mpfr_nan_p(h) ? kNaN : 0;
}

}  // namespace

int act_precision_bits() {
  static const int p = [] {
    MpAct x;
    return static_cast<int>(mpfr_get_prec(raw(x)));
  }();
  return p;
}

int wide_precision_bits() {
  static const int p = [] {
    MpWide x;
    return static_cast<int>(mpfr_get_prec(raw(x)));
  }();
  return p;
}

double act_gate_lipschitz(Activation a) {
  switch (a) {
    case Activation::swiglu:
    case Activation::swiglu_clamped: return 1.0999;  // max silu' = 1.09984 at 2.3994
    case Activation::geglu: return 1.1290;           // max gelu' = 1.12897 at sqrt 2
    case Activation::bilinear: return 1.0;
  }
  return 1.13;
}

double mp_from_sum(const ExactSum& s, MpWide& out) {
  mpfr_set_zero(raw(out), 1);
  return mp_add_sum(s, out);
}

double mp_add_sum(const ExactSum& s, MpWide& out) {
  if (!s.finite) {
    mpfr_set_nan(raw(out));
    return std::numeric_limits<double>::quiet_NaN();
  }
  MpWide term;
  double bound = 0;
  for (int l = 0; l <= s.levels; ++l) {
    const bool rest = l == s.levels;
    mpfr_set_d(raw(term), rest ? s.rest : s.level[l], MPFR_RNDN);  // exact
    mpfr_mul_2si(raw(term), raw(term), rest ? s.rest_exp : s.level_exp[l], MPFR_RNDN);  // exact
    if (mpfr_add(raw(out), raw(out), raw(term), MPFR_RNDN) != 0) bound = add_up(bound, half_ulp_bound(raw(out)));
  }
  if (!s.exact()) {
    MpWide b;
    mpfr_set_d(raw(b), s.rest_bound, MPFR_RNDU);
    mpfr_mul_2si(raw(b), raw(b), s.rest_exp, MPFR_RNDU);
    const double rb = mpfr_get_d(raw(b), MPFR_RNDU);
    bound = add_up(bound, rb > 0 ? rb : 0x1p-1074);
  }
  return bound;
}

double activation_mp(const ActivationSpec& a, const MpWide& g, const MpWide& u, double eg, double eu, MpAct& h) {
  return activation_at(a, raw(g), raw(u), eg, eu, raw(h));
}

double activation_at(const ActivationSpec& a, mpfr_srcptr g, mpfr_srcptr u, double eg, double eu, mpfr_ptr h) {
  const int p = static_cast<int>(mpfr_get_prec(h));
  if (mpfr_nan_p(g) || mpfr_nan_p(u) || std::isnan(eg) || std::isnan(eu)) {
    mpfr_set_nan(h);
    return std::numeric_limits<double>::quiet_NaN();
  }
  if ((a.kind != Activation::swiglu_clamped && (mpfr_inf_p(g) || mpfr_inf_p(u))) ||
      (a.kind == Activation::swiglu_clamped && mpfr_inf_p(g) && mpfr_sgn(g) < 0))
    return infinite_act(a, g, u, h);
  double rel = 0;
  bool underflow = false;
  Tmp s(p);
  Ops ops;
  // Magnitudes for propagating input errors: |u| or |u' + 1|, and a bound on
  // |d act / d u| (|silu(g)|, |gelu(g)|, |g' sigmoid(alpha g')| are <= |g|).
  double gmag = abs_d(g), umag = abs_d(u);
  switch (a.kind) {
    case Activation::swiglu:
      rel = sigmoid_times(g, 1.0, s, underflow);
      ops += mpfr_mul(h, s, u, MPFR_RNDN);
      break;
    case Activation::geglu:
      rel = gelu(g, s, underflow);
      ops += mpfr_mul(h, s, u, MPFR_RNDN);
      break;
    case Activation::swiglu_clamped: {
      const double lim = a.limit;
      const mpfr_prec_t wp = std::max<mpfr_prec_t>(wide_precision_bits(), p);
      Tmp gc(wp), uc(wp);
      mpfr_set(gc, g, MPFR_RNDN);
      if (mpfr_cmp_d(gc, lim) > 0) mpfr_set_d(gc, lim, MPFR_RNDN);
      mpfr_set(uc, u, MPFR_RNDN);
      if (mpfr_cmp_d(uc, lim) > 0) mpfr_set_d(uc, lim, MPFR_RNDN);
      if (mpfr_cmp_d(uc, -lim) < 0) mpfr_set_d(uc, -lim, MPFR_RNDN);
      ops += mpfr_add_ui(uc, uc, 1, MPFR_RNDN);
      umag = abs_d(uc);
      rel = sigmoid_times(gc, static_cast<double>(a.alpha), s, underflow);
      ops += mpfr_mul(h, s, uc, MPFR_RNDN);
      break;
    }
    case Activation::bilinear:
      ops += mpfr_mul(h, g, u, MPFR_RNDN);
      break;
  }
  double bound;
  if (underflow) {
    mpfr_set_zero(h, 1);
    bound = kTiny;
  } else {
    rel += rel_after(ops.inexact, p);
    // rel is a relative bound with 1% to spare over its own roundings (all
    // in the normal range); |h| may be tiny, so the product rounds upward.
    bound = rel == 0 ? 0 : mul_up(rel * 1.01, abs_d(h));
  }
  if (eg > 0 || eu > 0) {
    // |act(g+dg, u+du) - act(g, u)| <= L (|u| + eu) eg + (|g| + eg) eu.
    const double L = act_gate_lipschitz(a.kind);
    const double prop = add_up(mul_up(mul_up(L, add_up(umag, eu)), eg), mul_up(add_up(gmag, eg), eu));
    bound = add_up(bound, prop);
  }
  return bound;
}

double split_double_double(mpfr_srcptr y, double& hi, double& lo) {
  Tmp r(mpfr_get_prec(y));  // the subtractions are exact: hi and lo lie on y's bit grid
  hi = mpfr_get_d(y, MPFR_RNDN);
  mpfr_sub_d(r, y, hi, MPFR_RNDN);
  lo = mpfr_get_d(r, MPFR_RNDN);
  mpfr_sub_d(r, r, lo, MPFR_RNDN);
  return std::fabs(mpfr_get_d(r, MPFR_RNDA));
}

}  // namespace moecheck

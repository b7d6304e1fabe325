#include "oracle/oracle.hpp"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>

#include "oracle/exact_sum.hpp"
#include "oracle/extract_dot.hpp"
#include "oracle/mp.hpp"
#include "oracle/rows.hpp"
#include "oracle/up.hpp"
#include "oracle/vec.hpp"
#include "oracle/ziv.hpp"

namespace moecheck {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Parts of w_j h_j below this are left in the split's tail: their products
// with any weight value (>= 2^-159) stay far from double underflow, which
// keeps every product (and its fma error) exact. BOUNDS.md 1.3.
constexpr double kPartFloor = 0x1p-700;
// A token's w_j h_j are scaled by one power of two so that the largest is
// near 2^kVTop: products with weights (<= 2^140) and their sums stay far from
// overflow, and the floor above sits ~1300 binades below the token's largest
// term however small the token's values are (tiny gate values times heavy
// weights reach 2^-800 and below).
constexpr long kVTop = 600;

// How w_j h_j[n] is split into doubles for the down projection (BOUNDS.md
// 1.3): `parts` doubles of `bits` bits; with two_prod the products are not
// exact in double and their fma errors are summed too.
struct DownPlan {
  int parts = 3, bits = 53;
  bool two_prod = true;
  int terms() const { return two_prod ? 2 * parts : parts; }
};

DownPlan down_plan(WeightFormat f) {
  const int b = 53 - weight_value_bits(f);
  if (b >= 40) return {(126 + b - 1) / b, b, false};
  return {3, 53, true};
}

// RN of d to `bits` significant bits (Veltkamp), exact for |d| < 2^900.
double round_bits(double d, int bits) {
  if (bits >= 53) return d;
  const double c = d * (std::ldexp(1.0, 53 - bits) + 1.0);
  return c - (c - d);
}

// Exact dot product of a decoded row with x (H): its exact_sum and sum |p|.
ExactSum dot_exact(const double* row, const double* x, size_t n, bool two_prod, double* prod, double& cond) {
  int64_t maxbits = 0;
  cond = mul_into(row, x, prod, n, maxbits);
  size_t terms = n;
  if (two_prod) {
    two_prod_err(row, x, prod, prod + n, n, maxbits);
    terms = 2 * n;
  }
  // cond is a double sum of |p| (relative error < n 2^-53) and the fma
  // errors add at most 2^-53 of it: 1 + 2^-40 covers both.
  return exact_sum(prod, terms, maxbits, cond * (1 + 0x1p-40));
}

ExactSum levels_sum(const Extracted& e, int levels) {
  ExactSum r;
  r.levels = levels;
  r.level[0] = e.s1;
  r.level[1] = e.s2;
  r.level_exp[0] = r.level_exp[1] = 0;
  return r;
}

// sigma = 2^k of an extraction level, or 0 when 2^k or its grid 2^(k-53)
// would leave the normal double range (the general path rescales there).
double level_sigma(int k) { return k <= 1023 && k >= -900 ? pow2(k) : 0; }

// dot_exact for exact products (no fma errors) when the caller already has
// cond = sum |p| (mul_into's value): one fused extraction level with
// exact_sum's first sigma; the general path when some product keeps bits
// below that level (rare: products much smaller than the row's typical one).
ExactSum dot_exact_known_cond(const double* row, const double* x, size_t n, double cond, double* prod) {
  const double sum_abs = cond * (1 + 0x1p-40);
  if (cond > 0 && std::isfinite(sum_abs)) {
    const double sigma = level_sigma(std::ilogb(sum_abs) + 2);
    Extracted e;
    if (sigma > 0) extract_dot1(row, x, n, sigma, e);
    if (sigma > 0 && e.complete) return levels_sum(e, 1);
  }
  double c;
  return dot_exact(row, x, n, false, prod, c);
}

// The first extraction level of a gate (or up) row, with sigma guessed from
// the previous row this thread summed: neighbouring rows of an expert have
// conditions within a factor 2 of each other, so one bit of headroom makes
// the guess right nearly always; it is certified once cond is known.
struct SigmaGuess {
  int k = 0;
  bool valid = false;
  double sigma() const { return valid ? level_sigma(k + 1) : 0; }
  // After the fused pass: e's level is the exact sum when the guess was
  // certified and nothing was left below it; otherwise the row is summed
  // again with its own sigma (dot_exact_known_cond).
  ExactSum finish(const double* row, const double* x, size_t n, double cond, double sigma, const Extracted& e,
                  double* prod) {
    const double sum_abs = cond * (1 + 0x1p-40);
    valid = cond > 0 && std::isfinite(sum_abs);
    if (valid) k = std::ilogb(sum_abs) + 2;
    if (valid && sigma > 0 && sigma >= pow2(k) && e.complete) return levels_sum(e, 1);
    return dot_exact_known_cond(row, x, n, cond, prod);
  }
  // Gate row a0 (this guess) and up row a1 (guess `up`) in one pass.
  ExactSum sum(const double* a0, const double* x, size_t n, SigmaGuess& up, const double* a1, ExactSum& us,
               double& c0, double& c1, double* prod) {
    const double g0 = sigma(), g1 = up.sigma();
    Extracted e0, e1;
    abs_sums_extract2(a0, a1, x, n, g0 > 0 ? g0 : 1, g1 > 0 ? g1 : 1, c0, c1, e0, e1);
    us = up.finish(a1, x, n, c1, g1, e1, prod);
    return finish(a0, x, n, c0, g0, e0, prod);
  }
};

struct Buffers {
  std::vector<double> w, w2, prod;  // scratch rows and product terms
  SigmaGuess gate, up;
  explicit Buffers(size_t n) : w(n), w2(n), prod(2 * n) {}
};

struct Layer {
  const Case& c;
  const Shape& s;
  int m;  // parts per v
  DownPlan plan;
  bool gate_two_prod;
  // Products short enough that one extraction level nearly always holds the
  // whole dot product (about 53 - log2 H - 1 bits below sigma, so products
  // of <= 24 bits unless they are far below the row's typical size); wider
  // ones (fp8, or x in fp32) need several levels: mul_into + exact_sum.
  bool gate_fused;
  std::vector<double> x;      // (T, H) decoded
  std::vector<MpAct> h;       // (T, k, I) oracle h
  std::vector<long> vscale;   // (T) exponent S_t: vpart, vabs hold 2^S_t w_j h_j
  std::vector<double> vpart;  // (T, k, m, I) parts of 2^S_t w_j h_j[n]
  std::vector<double> vabs;   // (T, k, I) 2^S_t |w_j h_j[n]|
  std::vector<double> verr;   // (T, k, I) bound on |w_j h_true - 2^-S_t sum of parts| (unscaled)
  std::vector<char> verr_any;  // (T) some verr of the token is nonzero
};

// Splits 2^S v, v = w_j * h (exact in MpWide), into plan.parts doubles;
// returns the bound on |v - 2^-S sum parts| (unscaled, rounded up).
double split_v(const DownPlan& plan, const MpAct& h, float w, long S, double* parts, int64_t stride) {
  MpWide v;
  int inexact = mpfr_mul_d(raw(v), raw(h), static_cast<double>(w), MPFR_RNDN);
  mpfr_mul_2si(raw(v), raw(v), S, MPFR_RNDN);  // exact
  MpWide vmag;
  mpfr_abs(raw(vmag), raw(v), MPFR_RNDN);
  for (int p = 0; p < plan.parts; ++p) {
    double d = round_bits(mpfr_get_d(raw(v), MPFR_RNDN), plan.bits);
    if (!(std::fabs(d) >= kPartFloor) || !std::isfinite(d)) d = 0;
    parts[p * stride] = d;
    inexact |= mpfr_sub_d(raw(v), raw(v), d, MPFR_RNDN);
  }
  mpfr_abs(raw(v), raw(v), MPFR_RNDN);
  if (inexact) {  // each inexact step erred by <= 1.01 ulp of |v| at wide precision
    mpfr_mul_2si(raw(vmag), raw(vmag), -wide_precision_bits(), MPFR_RNDU);
    mpfr_mul_d(raw(vmag), raw(vmag), 2.02 * (plan.parts + 1), MPFR_RNDU);
    mpfr_add(raw(v), raw(v), raw(vmag), MPFR_RNDU);
  }
  mpfr_mul_2si(raw(v), raw(v), -S, MPFR_RNDU);
  const double tail = mpfr_get_d(raw(v), MPFR_RNDU);
  return inexact ? std::max(tail, (plan.parts + 1) * 0x1p-1074) : tail;
}

// S_t per token: its largest |w_j h_j| (from the MPFR exponents, within a
// factor 2) lands near 2^kVTop. 0 when every term is zero or not finite.
void choose_scales(Layer& L) {
  const Shape& s = L.s;
  const int64_t KI = s.k * s.I;
  L.vscale.assign(static_cast<size_t>(s.T), 0);
  for (int64_t t = 0; t < s.T; ++t) {
    long top = LONG_MIN;
    for (int64_t q = 0; q < KI; ++q) {
      const mpfr_srcptr h = raw(L.h[t * KI + q]);
      const float w = L.c.weight(t, q / s.I);
      if (!mpfr_regular_p(h) || w == 0 || !std::isfinite(w)) continue;
      top = std::max(top, mpfr_get_exp(h) + std::ilogb(w) + 1);
    }
    if (top != LONG_MIN) L.vscale[t] = kVTop - top;
  }
}

void split_phase(Layer& L, OracleResult& o) {
  const Shape& s = L.s;
  const int64_t total = s.T * s.k * s.I;
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t idx = 0; idx < total; ++idx) {
    const int64_t n = idx % s.I, tj = idx / s.I, t = tj / s.k, j = tj % s.k;
    const float w = L.c.weight(t, j);
    const long S = L.vscale[t];
    const double tail = split_v(L.plan, L.h[idx], w, S, &L.vpart[(tj * L.m) * s.I + n], s.I);
    MpAct hs;
    mpfr_mul_2si(raw(hs), raw(L.h[idx]), S, MPFR_RNDN);  // exact
    L.vabs[idx] = std::fabs(mpfr_get_d(raw(hs), MPFR_RNDN) * static_cast<double>(w));
    L.verr[idx] = add_up(mul_up(std::fabs(static_cast<double>(w)), o.h_err[idx]), tail);
    if (std::isnan(o.h_err[idx])) L.verr[idx] = kNaN;
  }
  const int64_t KI = s.k * s.I;
  L.verr_any.assign(static_cast<size_t>(s.T), 0);
  for (int64_t t = 0; t < s.T; ++t)
    L.verr_any[t] = std::any_of(&L.verr[t * KI], &L.verr[t * KI] + KI, [](double e) { return e != 0; });
}

// Upper bound on sum_q |D_q| verr_q from s, its round-to-nearest double sum
// over N products (BOUNDS.md 1.5): the additions of nonnegative terms make s
// at most (1 - 2^-53)^(N-1) too small, each product is at most its rounded
// value times (1 + 2^-53) plus 2^-1074 (underflow). 0 when every verr is.
double down_err_sum(double s, int64_t N, bool any) {
  if (!any) return 0;
  const double inflate = 1 + static_cast<double>(N + 2) * 0x1p-52;  // exact
  return add_up(mul_up(s, inflate), static_cast<double>(N) * 0x1p-1074);
}

// out = sum_q row[q] x[q] by IEEE rules on the exact values, for a row or x
// with a term that is not finite: +-inf, or NaN for a NaN, inf * 0 or
// inf - inf (BOUNDS.md 1.7; finite products are exact, far from overflow).
// Returns the bound on out: 0, or NaN.
double ieee_dot(const Case& c, int64_t slot, int64_t r, const double* x, double* row, MpWide& out) {
  decode_row(c.w13, slot, r, row);
  bool pos = false, neg = false, nan = false;
  for (int64_t q = 0; q < c.shape.H; ++q) {
    const double p = row[q] * x[q];
    nan |= std::isnan(p);
    pos |= p == INFINITY;
    neg |= p == -INFINITY;
  }
  if (nan || pos == neg) {  // pos == neg == false cannot happen: exact_sum saw a non-finite term
    mpfr_set_nan(raw(out));
    return kNaN;
  }
  mpfr_set_inf(raw(out), pos ? 1 : -1);
  return 0;
}

void gate_up_phase(Layer& L, OracleResult& o) {
  const Shape& s = L.s;
  const int64_t total = s.T * s.k * s.I;
#pragma omp parallel
  {
    Buffers buf(static_cast<size_t>(s.H));
    MpWide gw, uw;
#pragma omp for schedule(dynamic, 8)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t n = idx % s.I, tj = idx / s.I, t = tj / s.k, j = tj % s.k;
      const int64_t slot = L.c.slot_of(L.c.id(t, j));
      const double* x = &L.x[t * s.H];
      ExactSum gs, us;
      if (!L.gate_fused) {
        decode_row(L.c.w13, slot, gate_row(L.c.layout, s.I, n), buf.w.data());
        gs = dot_exact(buf.w.data(), x, s.H, L.gate_two_prod, buf.prod.data(), o.g_cond[idx]);
        decode_row(L.c.w13, slot, up_row(L.c.layout, s.I, n), buf.w.data());
        us = dot_exact(buf.w.data(), x, s.H, L.gate_two_prod, buf.prod.data(), o.u_cond[idx]);
      } else {
        decode_row(L.c.w13, slot, gate_row(L.c.layout, s.I, n), buf.w.data());
        decode_row(L.c.w13, slot, up_row(L.c.layout, s.I, n), buf.w2.data());
        gs = buf.gate.sum(buf.w.data(), x, s.H, buf.up, buf.w2.data(), us, o.g_cond[idx], o.u_cond[idx], buf.prod.data());
      }
      double eg = mp_from_sum(gs, gw), eu = mp_from_sum(us, uw);
      if (!gs.finite) eg = ieee_dot(L.c, slot, gate_row(L.c.layout, s.I, n), x, buf.w.data(), gw);
      if (!us.finite) eu = ieee_dot(L.c, slot, up_row(L.c.layout, s.I, n), x, buf.w.data(), uw);
      o.g[idx] = mpfr_get_d(raw(gw), MPFR_RNDN);
      o.u[idx] = mpfr_get_d(raw(uw), MPFR_RNDN);
      o.h_err[idx] = activation_mp(L.c.act, gw, uw, eg, eu, L.h[idx]);
      o.h[idx] = mpfr_get_d(raw(L.h[idx]), MPFR_RNDN);
    }
  }
}

// 2^-S b rounded up (b >= 0).
double unscale_up(double b, long S) {
  if (b == 0) return 0;
  MpWide r;
  mpfr_set_d(raw(r), b, MPFR_RNDU);
  mpfr_mul_2si(raw(r), raw(r), -S, MPFR_RNDU);
  return mpfr_get_d(raw(r), MPFR_RNDU);
}

int ceil_log2(int64_t n) {
  int l = 0;
  while ((int64_t{1} << l) < n) ++l;
  return l;
}

// y[t, i] when some term w_j D[i, n] h_j[n] is not finite: IEEE rules on the
// exact values of y = sum_j w_j (sum_n D h), with inf * 0 and inf - inf NaN
// (BOUNDS.md 1.7): +-inf with y_lo = err = 0, or NaN in y, err and cond.
// False when every term is finite after all (the exact path then runs).
bool ieee_output(const Layer& L, const double* d, int64_t t, int64_t idx, OracleResult& o) {
  const Shape& s = L.s;
  bool pos = false, neg = false, nan = false;
  for (int64_t j = 0; j < s.k; ++j) {
    bool ip = false, in = false;
    for (int64_t n = 0; n < s.I; ++n) {
      const mpfr_srcptr h = raw(L.h[(t * s.k + j) * s.I + n]);
      // h's class: its sign stands for a finite nonzero value (only classes matter here).
      const double hc = mpfr_nan_p(h) ? kNaN : mpfr_inf_p(h) ? mpfr_sgn(h) * INFINITY : mpfr_sgn(h);
      const double p = d[j * s.I + n] * hc;
      nan |= std::isnan(p);
      ip |= p == INFINITY;
      in |= p == -INFINITY;
    }
    const double w = static_cast<double>(L.c.weight(t, j));  // finite (validate)
    nan |= (ip && in) || ((ip || in) && w == 0);
    if (w != 0 && ip != in) (ip == (w > 0) ? pos : neg) = true;  // w_j times +inf or -inf
  }
  if (!nan && !pos && !neg) return false;
  const double y = nan || (pos && neg) ? kNaN : (pos ? INFINITY : -INFINITY);
  o.y_hi[idx] = y;
  o.y_lo[idx] = o.err[idx] = std::isnan(y) ? kNaN : 0;
  o.cond[idx] = std::isnan(y) ? kNaN : INFINITY;
  return true;
}

// Part p of w_j h_j against the rows d (k, I) of output (t, i), in one fused
// two-level pass (BOUNDS.md 1.3): sigma1 from the typical size of the parts
// against cond = sum |D| |w_j h_j|, certified afterwards from the actual sum
// of |products|. True when e holds the exact sum in two levels; false (use
// the general path) when sigma1 was too small or some product kept bits
// below level 2 (about 1-3% of the calls on random cases).
bool fused_part(const Layer& L, const double* d, int64_t t, int p, double cond, Extracted& e) {
  const Shape& s = L.s;
  const int64_t N = s.k * s.I;
  // Rounding to `bits` bits leaves remainders of mean about a third of
  // 2^-bits relative, so the parts' typical size is cond (2^-bits / 2)^p.
  // Only the speed depends on this guess: sigma1 is certified afterwards.
  const double est = cond * std::ldexp(1.0, -(L.plan.bits + 1) * p);
  if (!(est > 0 && std::isfinite(est))) return false;
  const int k1 = std::ilogb(est) + 2;
  // First-level residuals are <= 2^-53 sigma1 each: sigma2 >= 2 N 2^-53 sigma1.
  const double sigma1 = level_sigma(k1), sigma2 = level_sigma(k1 - 53 + ceil_log2(2 * N));
  if (sigma1 == 0 || sigma2 == 0) return false;
  for (int64_t j = 0; j < s.k; ++j)
    extract_dot2(d + j * s.I, &L.vpart[((t * s.k + j) * L.m + p) * s.I], s.I, sigma1, sigma2, e);
  return e.complete && sigma1_certified(e, sigma1, N);
}

// Each part of the split (and its fma errors) is summed on its own: the
// parts differ in magnitude by 2^-bits, so one joint sum would need several
// more extraction levels over all the terms (BOUNDS.md 1.3).
void down_phase(Layer& L, OracleResult& o) {
  const Shape& s = L.s;
  const int64_t total = s.T * s.H, KI = s.k * s.I;
#pragma omp parallel
  {
    std::vector<double> d(static_cast<size_t>(KI));  // (k, I) rows i of D_{e_j}
    std::vector<double> prod(static_cast<size_t>(KI)), perr(static_cast<size_t>(KI));
    MpWide y;
#pragma omp for schedule(dynamic, 16)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t t = idx / s.H, i = idx % s.H;
      const long S = L.vscale[t];
      double cond = 0, ebound = 0;  // cond in 2^S units
      for (int64_t j = 0; j < s.k; ++j) decode_row(L.c.w2, L.c.slot_of(L.c.id(t, j)), i, &d[j * s.I]);
      abs_dot2_rows(d.data(), &L.vabs[t * KI], &L.verr[t * KI], s.k, s.I, cond, ebound);
      if ((!std::isfinite(cond) || std::isnan(ebound)) && ieee_output(L, d.data(), t, idx, o)) continue;
      mpfr_set_zero(raw(y), 1);
      double bound = 0;
      for (int p = 0; p < L.plan.parts; ++p) {
        Extracted e;
        if (!L.plan.two_prod && fused_part(L, d.data(), t, p, cond, e)) {
          bound = add_up(bound, mp_add_sum(levels_sum(e, 2), y));
          continue;
        }
        int64_t maxp = 0, maxe = 0;
        double abs_sum = 0;
        for (int64_t j = 0; j < s.k; ++j) {
          const double* vp = &L.vpart[((t * s.k + j) * L.m + p) * s.I];
          abs_sum += mul_into(&d[j * s.I], vp, &prod[j * s.I], s.I, maxp);
          if (L.plan.two_prod) two_prod_err(&d[j * s.I], vp, &prod[j * s.I], &perr[j * s.I], s.I, maxe);
        }
        bound = add_up(bound, mp_add_sum(exact_sum(prod.data(), KI, maxp, abs_sum * (1 + 0x1p-40)), y));
        if (L.plan.two_prod) bound = add_up(bound, mp_add_sum(exact_sum(perr.data(), KI, maxe), y));
      }
      mpfr_mul_2si(raw(y), raw(y), -S, MPFR_RNDN);  // exact
      bound = unscale_up(bound, S);
      const double rem = split_double_double(raw(y), o.y_hi[idx], o.y_lo[idx]);
      o.cond[idx] = std::ldexp(cond, static_cast<int>(-S));
      o.err[idx] = add_up(add_up(down_err_sum(ebound, KI, L.verr_any[t]), bound), rem);
    }
  }
}

// The value halfway between the format values of adjacent codes a, b (the
// overflow threshold when one of them is infinite).
double rounding_boundary(Format f, uint32_t a, uint32_t b) {
  const double va = decode(f, a), vb = decode(f, b);
  if (std::isfinite(va) && std::isfinite(vb)) return va / 2 + vb / 2;
  const uint32_t m = std::isfinite(va) ? a : b;
  const double vm = decode(f, m);
  const uint32_t sign = 1u << (format_bits(f) - 1);
  const double prev = std::fabs(decode(f, ((m & ~sign) - 1) | (m & sign)));
  return std::copysign(std::fabs(vm) + (std::fabs(vm) - prev) / 2, vm);
}

}  // namespace

OracleResult run_oracle(const Case& c, int threads) {
  validate(c);
  const Shape& s = c.shape;
  OracleResult o;
  o.shape = s;
  const size_t tki = static_cast<size_t>(s.T * s.k * s.I), th = static_cast<size_t>(s.T * s.H);
  o.y_hi.assign(th, 0);
  o.y_lo.assign(th, 0);
  o.err.assign(th, 0);
  o.cond.assign(th, 0);
  for (auto* v : {&o.g, &o.u, &o.h, &o.g_cond, &o.u_cond, &o.h_err}) v->assign(tki, 0);
  o.precision_bits = act_precision_bits();

  const DownPlan plan = down_plan(c.w2.format);
  const int gate_bits = weight_value_bits(c.w13.format) + format_precision_bits(c.x_format);
  Layer L{c, s, plan.parts, plan, gate_bits > 53, gate_bits <= 24, {}, {}, {}, {}, {}, {}, {}};
  L.x.resize(th);
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t n = 0; n < s.H; ++n) L.x[t * s.H + n] = c.x_value(t, n);
  L.h.resize(tki);
  L.vpart.assign(tki * plan.parts, 0);
  L.vabs.assign(tki, 0);
  L.verr.assign(tki, 0);

  const int prev = omp_get_max_threads();
  if (threads > 0) omp_set_num_threads(threads);
  o.threads_used = omp_get_max_threads();
  gate_up_phase(L, o);
  choose_scales(L);
  split_phase(L, o);
  down_phase(L, o);
  refine_outputs(c, L.x, o);
  if (threads > 0) omp_set_num_threads(prev);
  return o;
}

uint32_t round_oracle(Format f, double hi, double lo) {
  const uint32_t c1 = encode(f, hi);
  if (lo == 0 || !std::isfinite(hi)) return c1;
  if (decode(f, c1) == hi) return c1;  // y is within half a double ulp of a format value
  // Rounding boundaries of f are doubles and lie far apart in double ulps,
  // so only a boundary exactly at hi lets lo change the result (BOUNDS.md 1.4).
  const uint32_t up = encode(f, std::nextafter(hi, INFINITY));
  const uint32_t dn = encode(f, std::nextafter(hi, -INFINITY));
  if (up == dn) return c1;
  return hi == rounding_boundary(f, dn, up) ? (lo > 0 ? up : dn) : c1;
}

double oracle_correct_bits(const OracleResult& o, int64_t idx) {
  const double y = std::fabs(o.y_hi[idx]);
  const double e = o.err[idx];
  if (e == 0) return 1100;
  if (y == 0) return 0;
  return -std::log2(e / y);
}

}  // namespace moecheck

#include "oracle/oracle.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "oracle/exact_sum.hpp"
#include "oracle/mp.hpp"
#include "oracle/rows.hpp"
#include "oracle/vec.hpp"

namespace moecheck {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Parts of w_j h_j below this are left in the split's tail: their products
// with any weight value (>= 2^-159) stay far from double underflow, which
// keeps every product (and its fma error) exact. BOUNDS.md 1.3.
constexpr double kPartFloor = 0x1p-700;

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

struct Buffers {
  std::vector<double> w, w2, prod;  // scratch rows and product terms
  explicit Buffers(size_t n) : w(n), w2(n), prod(2 * n) {}
};

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

struct Layer {
  const Case& c;
  const Shape& s;
  int m;  // parts per v
  DownPlan plan;
  bool gate_two_prod;
  std::vector<double> x;      // (T, H) decoded
  std::vector<double> vpart;  // (T, k, m, I) parts of w_j h_j[n]
  std::vector<double> vabs;   // (T, k, I) |w_j h_j[n]|
  std::vector<double> verr;   // (T, k, I) bound on |w_j h_true - sum of parts|
};

// Splits v = w_j * h (exact in MpWide) into plan.parts doubles; returns the
// bound on what the parts do not represent.
double split_v(const DownPlan& plan, const MpAct& h, float w, double* parts, int64_t stride) {
  MpWide v;
  int inexact = mpfr_mul_d(raw(v), raw(h), static_cast<double>(w), MPFR_RNDN);
  const double vmag = std::fabs(mpfr_get_d(raw(v), MPFR_RNDA));
  for (int p = 0; p < plan.parts; ++p) {
    double d = round_bits(mpfr_get_d(raw(v), MPFR_RNDN), plan.bits);
    if (!(std::fabs(d) >= kPartFloor) || !std::isfinite(d)) d = 0;
    parts[p * stride] = d;
    inexact |= mpfr_sub_d(raw(v), raw(v), d, MPFR_RNDN);
  }
  double tail = std::fabs(mpfr_get_d(raw(v), MPFR_RNDA));
  if (inexact)
    tail += (plan.parts + 1) * std::max(2.02 * vmag * std::ldexp(1.0, -wide_precision_bits()), 0x1p-1074);
  return tail;
}

void gate_up_phase(Layer& L, OracleResult& o) {
  const Shape& s = L.s;
  const int64_t total = s.T * s.k * s.I;
#pragma omp parallel
  {
    Buffers buf(static_cast<size_t>(s.H));
    MpWide gw, uw;
    MpAct h;
#pragma omp for schedule(dynamic, 8)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t n = idx % s.I, tj = idx / s.I, t = tj / s.k, j = tj % s.k;
      const int64_t slot = L.c.slot_of(L.c.id(t, j));
      const double* x = &L.x[t * s.H];
      decode_row(L.c.w13, slot, gate_row(L.c.layout, s.I, n), buf.w.data());
      ExactSum gs = dot_exact(buf.w.data(), x, s.H, L.gate_two_prod, buf.prod.data(), o.g_cond[idx]);
      decode_row(L.c.w13, slot, up_row(L.c.layout, s.I, n), buf.w.data());
      ExactSum us = dot_exact(buf.w.data(), x, s.H, L.gate_two_prod, buf.prod.data(), o.u_cond[idx]);
      const double eg = mp_from_sum(gs, gw), eu = mp_from_sum(us, uw);
      o.g[idx] = mpfr_get_d(raw(gw), MPFR_RNDN);
      o.u[idx] = mpfr_get_d(raw(uw), MPFR_RNDN);
      const double eh = activation_mp(L.c.act, gw, uw, eg, eu, h);
      o.h[idx] = mpfr_get_d(raw(h), MPFR_RNDN);
      o.h_err[idx] = eh;
      const float w = L.c.weight(t, j);
      double* parts = &L.vpart[(tj * L.m) * s.I + n];
      const double tail = split_v(L.plan, h, w, parts, s.I);
      L.vabs[idx] = std::fabs(o.h[idx] * static_cast<double>(w));
      L.verr[idx] = std::fabs(static_cast<double>(w)) * eh + tail;
      if (std::isnan(eh)) L.verr[idx] = kNaN;
    }
  }
}

// y[t, i] as hi + lo; returns |y - hi - lo|, rounded up.
double finish_output(const MpWide& y, double& hi, double& lo) {
  MpWide r;  // the subtractions are exact: hi and lo share y's bit grid
  hi = mpfr_get_d(raw(y), MPFR_RNDN);
  mpfr_sub_d(raw(r), raw(y), hi, MPFR_RNDN);
  lo = mpfr_get_d(raw(r), MPFR_RNDN);
  mpfr_sub_d(raw(r), raw(r), lo, MPFR_RNDN);
  return std::fabs(mpfr_get_d(raw(r), MPFR_RNDA));
}

// Each part of the split (and its fma errors) is summed on its own: the
// parts differ in magnitude by 2^-bits, so one joint sum would need several
// more extraction levels over all the terms (BOUNDS.md 1.3).
void down_phase(Layer& L, OracleResult& o) {
  const Shape& s = L.s;
  const int64_t total = s.T * s.H, KI = s.k * s.I;
  // The double sums of |D| |v| and |D| verr have relative error below
  // (k I + 2) 2^-53; inflating by twice that keeps `err` an upper bound.
  const double inflate = 1 + static_cast<double>(KI + 2) * 0x1p-52;
#pragma omp parallel
  {
    std::vector<double> d(static_cast<size_t>(KI));  // (k, I) rows i of D_{e_j}
    std::vector<double> prod(static_cast<size_t>(KI)), perr(static_cast<size_t>(KI));
    MpWide y;
#pragma omp for schedule(dynamic, 16)
    for (int64_t idx = 0; idx < total; ++idx) {
      const int64_t t = idx / s.H, i = idx % s.H;
      double cond = 0, ebound = 0;
      for (int64_t j = 0; j < s.k; ++j) {
        const int64_t tj = t * s.k + j;
        decode_row(L.c.w2, L.c.slot_of(L.c.id(t, j)), i, &d[j * s.I]);
        abs_dot2(&d[j * s.I], &L.vabs[tj * s.I], &L.verr[tj * s.I], s.I, cond, ebound);
      }
      mpfr_set_zero(raw(y), 1);
      double bound = 0;
      for (int p = 0; p < L.plan.parts; ++p) {
        int64_t maxp = 0, maxe = 0;
        double abs_sum = 0;
        for (int64_t j = 0; j < s.k; ++j) {
          const double* vp = &L.vpart[((t * s.k + j) * L.m + p) * s.I];
          abs_sum += mul_into(&d[j * s.I], vp, &prod[j * s.I], s.I, maxp);
          if (L.plan.two_prod) two_prod_err(&d[j * s.I], vp, &prod[j * s.I], &perr[j * s.I], s.I, maxe);
        }
        bound += mp_add_sum(exact_sum(prod.data(), KI, maxp, abs_sum * (1 + 0x1p-40)), y);
        if (L.plan.two_prod) bound += mp_add_sum(exact_sum(perr.data(), KI, maxe), y);
      }
      const double rem = finish_output(y, o.y_hi[idx], o.y_lo[idx]);
      o.cond[idx] = cond;
      o.err[idx] = ebound * inflate + bound + rem;
      if (ebound == 0 && bound == 0 && rem == 0) o.err[idx] = 0;
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
  Layer L{c, s, plan.parts, plan,
          weight_value_bits(c.w13.format) + format_precision_bits(c.x_format) > 53, {}, {}, {}, {}};
  L.x.resize(th);
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t n = 0; n < s.H; ++n) L.x[t * s.H + n] = c.x_value(t, n);
  L.vpart.assign(tki * plan.parts, 0);
  L.vabs.assign(tki, 0);
  L.verr.assign(tki, 0);

  const int prev = omp_get_max_threads();
  if (threads > 0) omp_set_num_threads(threads);
  o.threads_used = omp_get_max_threads();
  gate_up_phase(L, o);
  down_phase(L, o);
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

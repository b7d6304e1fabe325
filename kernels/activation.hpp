// GLU activations shared bit for bit by device kernels and host twins.
//
// h = act(g, u) takes the fp32 gate and up dot products and returns fp32. The
// transcendental part is evaluated in IEEE double built only from explicitly
// rounded add/mul/div/fma (no libm, no __expf, no contraction), then rounded
// once to fp32. Why double rather than fp32: one final rounding gives a
// declarable error of < 1 fp32 ulp of h (Numerics::activation_ulps = 1) for
// every argument, including the sigmoid/erfc tails where an fp32 evaluation
// loses most of its bits (1 + erf(z) cancels; alpha * g rounding is amplified
// by |alpha g|). It runs once per h element against ~2H fp32 fmas of the dot
// products, so even 1/64-rate fp64 hardware does not notice it.
//
// Error budget (relative, before the final rounding to fp32): exp <= ~3e-16,
// erfc <= ~3e-12 (series for z < 2.5, 40-term continued fraction above), a
// few double roundings; far below 2^-24, so |h - act_exact(g, u)| <=
// 0.5 ulp + 2^-40 relative <= 1 ulp (ulp of the subnormal range included).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/formats.hpp"
#include "core/problem.hpp"

namespace moecheck::act {

MOECHECK_HD double dadd(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
MOECHECK_HD double dmul(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
MOECHECK_HD double ddiv(double a, double b) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
MOECHECK_HD double dfma(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __fma_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
MOECHECK_HD float to_f32(double v) {
#if defined(__CUDA_ARCH__)
  return __double2float_rn(v);
#else
  return static_cast<float>(v);
#endif
}

// e^x for x clamped to [-700, 700] (everything this file needs: results far
// outside fp32's range either way). Cody-Waite reduction x = k ln2 + r with
// fdlibm's split ln2 (k * ln2_hi exact for |k| < 2^11), |r| <= 0.35, Taylor
// to degree 13 (remainder < 1e-17), exact scaling by 2^k.
MOECHECK_HD double exp_d(double x) {
  if (!(x == x)) return x;
  // e^-inf = 0 exactly, so silu(-inf) = -inf * 0 is NaN as on the exact
  // values (oracle/BOUNDS.md 1.7), not -inf * e^-700.
  if (x == -HUGE_VAL) return 0.0;
  if (x == HUGE_VAL) return x;
  if (x > 700.0) x = 700.0;
  if (x < -700.0) x = -700.0;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: rounds to integer
  const double kd = dadd(dadd(dmul(x, 1.4426950408889634), shifter), -shifter);
  double r = dfma(-kd, 6.93147180369123816490e-01, x);
  r = dfma(-kd, 1.90821492927058770002e-10, r);
  double p = 1.6059043836821613e-10;
  p = dfma(p, r, 2.08767569878681e-09);
  p = dfma(p, r, 2.505210838544172e-08);
  p = dfma(p, r, 2.755731922398589e-07);
  p = dfma(p, r, 2.7557319223985893e-06);
  p = dfma(p, r, 2.48015873015873e-05);
  p = dfma(p, r, 0.0001984126984126984);
  p = dfma(p, r, 0.001388888888888889);
  p = dfma(p, r, 0.008333333333333333);
  p = dfma(p, r, 0.041666666666666664);
  p = dfma(p, r, 0.16666666666666666);
  p = dfma(p, r, 0.5);
  p = dfma(p, r, 1.0);
  p = dfma(p, r, 1.0);
  const int64_t k = static_cast<int64_t>(kd);
  return dmul(p, bits_double(static_cast<uint64_t>(k + 1023) << 52));
}

// 1 / (1 + e^-x), never forming e^|x| so neither tail overflows.
MOECHECK_HD double sigmoid_d(double x) {
  if (x >= 0) return ddiv(1.0, dadd(1.0, exp_d(-x)));
  const double e = exp_d(x);
  return ddiv(e, dadd(1.0, e));
}

// erfc(z) for z >= 0. Small z: erf from the all-positive series
// erf z = 2/sqrt(pi) e^{-z^2} sum_n (2z^2)^n z / (1*3*...*(2n+1)) (no
// cancellation inside the sum; 1 - erf loses < 4 digits for z < 2.5).
// Large z: Laplace's continued fraction, 40 terms (converged to 1 ulp of
// double for z >= 2.5).
MOECHECK_HD double erfc_pos(double z) {
  if (z > 26.0) return 0.0;  // < 1e-295: zero after any fp32 rounding of h
  const double z2 = dmul(z, z);
  const double two_over_sqrt_pi = 1.1283791670955126;
  if (z < 2.5) {
    double term = z, sum = z;
    const double a = dmul(2.0, z2);
    for (int n = 1; n < 200; ++n) {
      term = ddiv(dmul(term, a), static_cast<double>(2 * n + 1));
      sum = dadd(sum, term);
      if (term < dmul(sum, 1e-17)) break;
    }
    return dadd(1.0, -dmul(dmul(two_over_sqrt_pi, exp_d(-z2)), sum));
  }
  double f = z;
  for (int n = 40; n >= 1; --n) f = dadd(z, ddiv(dmul(0.5, static_cast<double>(n)), f));
  const double sqrt_pi = 1.7724538509055159;
  return ddiv(exp_d(-z2), dmul(sqrt_pi, f));
}

MOECHECK_HD double erfc_d(double z) { return z >= 0 ? erfc_pos(z) : dadd(2.0, -erfc_pos(-z)); }

// Standard normal CDF Phi(g) = erfc(-g / sqrt 2) / 2, accurate in both tails.
MOECHECK_HD double phi_d(double g) { return dmul(0.5, erfc_d(dmul(g, -0.7071067811865476))); }

// h = act(g, u), rounded once to fp32. NaN in g or u propagates (clamps are
// written as comparisons that are false for NaN, unlike fminf).
MOECHECK_HD float apply(const ActivationSpec& s, float g, float u) {
  const double gd = g, ud = u;
  switch (s.kind) {
    case Activation::swiglu:
      return to_f32(dmul(dmul(gd, sigmoid_d(gd)), ud));
    case Activation::geglu:
      return to_f32(dmul(dmul(gd, phi_d(gd)), ud));
    case Activation::swiglu_clamped: {
      const float gc = g > s.limit ? s.limit : g;
      const float uc = u > s.limit ? s.limit : (u < -s.limit ? -s.limit : u);
      const double gcd = gc;
      // alpha * g' is exact in double (24 x 24 bits); u' + 1 within 2^-53.
      const double sg = sigmoid_d(dmul(static_cast<double>(s.alpha), gcd));
      return to_f32(dmul(dmul(gcd, sg), dadd(static_cast<double>(uc), 1.0)));
    }
    case Activation::bilinear:
    default:
      return to_f32(dmul(gd, ud));  // exact product, one rounding: fp32 g * u
  }
}

}  // namespace moecheck::act

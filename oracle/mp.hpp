// Multiprecision types of the oracle (Boost.Multiprecision, MPFR backend,
// stack-allocated, no expression templates) and the certified activation.
#pragma once

#include <boost/multiprecision/mpfr.hpp>

#include "core/problem.hpp"
#include "oracle/exact_sum.hpp"

namespace moecheck {

namespace bmp = boost::multiprecision;
// Activation working precision (~200 bits).
using MpAct = bmp::number<bmp::mpfr_float_backend<60, bmp::allocate_stack>, bmp::et_off>;
// Wide enough to hold any exact_sum result exactly (its levels span at most
// ~1100 bits: products of the supported formats span far less).
using MpWide = bmp::number<bmp::mpfr_float_backend<330, bmp::allocate_stack>, bmp::et_off>;

inline mpfr_ptr raw(MpAct& x) { return x.backend().data(); }
inline mpfr_ptr raw(MpWide& x) { return x.backend().data(); }
inline mpfr_srcptr raw(const MpAct& x) { return x.backend().data(); }
inline mpfr_srcptr raw(const MpWide& x) { return x.backend().data(); }

int act_precision_bits();
int wide_precision_bits();

// out = the value of an exact_sum. Returns a bound on |exact - out|: 0 when
// exact (always, unless the sum needed the bounded remainder); NaN when a
// term was not finite.
double mp_from_sum(const ExactSum& s, MpWide& out);
// acc += the value of s; returns the bound on the error this adds.
double mp_add_sum(const ExactSum& s, MpWide& acc);

// h = act(g, u) for exact g, u, with a certified bound on |h - act(g, u)|
// (BOUNDS.md section 1.2). eg, eu: bounds on errors already in g, u (usually
// 0); they are propagated with the activation's Lipschitz constants.
double activation_mp(const ActivationSpec& a, const MpWide& g, const MpWide& u, double eg, double eu, MpAct& h);
// The same at h's precision, whatever it is (the Ziv refinement, BOUNDS.md 1.6).
double activation_at(const ActivationSpec& a, mpfr_srcptr g, mpfr_srcptr u, double eg, double eu, mpfr_ptr h);

// y as hi + lo (hi = RN(y), lo = RN(y - hi)); returns |y - hi - lo| rounded up.
double split_double_double(mpfr_srcptr y, double& hi, double& lo);

// Global bounds on |d act / d g| per unit |u| (silu' <= 1.0999,
// gelu' <= 1.1290, bilinear 1): used by the oracle and by derive_bounds.
double act_gate_lipschitz(Activation a);

}  // namespace moecheck

// Running error bounds of reductions whose order is declared
// (ReductionShape::chunk > 0): the rounding at every step is bounded by u
// times the actual partial sum there, not by u times the sum of |terms|
// (BOUNDS.md 2.4). Each Run tracks one computed value against its exact one.
#pragma once

#include <cstdint>
#include <vector>

#include "core/numerics.hpp"

namespace moecheck {

struct RoundCtx {
  double u;    // unit roundoff of the accumulator
  double eta;  // underflow floor per rounding
  bool fma;    // products fused into the add
};

struct Run {
  double s = 0;   // exact value, evaluated in double
  double a = 0;   // sum of |terms| (covers the error of evaluating s in double)
  double B = 0;   // rigorous bound on |computed - exact|
  double V = 0;   // estimate: sum of squared rounding magnitudes
  double Pe = 0;  // estimate: input perturbations
  bool any = false;  // false: an untouched +0, adding it is exact
  double estimate() const;
};

// acc <- acc + t, where the kernel's term differs from the exact t by at most
// pi (estimate pe).
void run_add(Run& r, double t, double pi, double pe, const RoundCtx& c);
// x + y with one rounding (none when either is an untouched zero).
Run run_join(const Run& x, const Run& y, const RoundCtx& c);
// acc <- fma(w, p, acc) (or w * p then + acc without fma); w exact.
void run_fold(Run& acc, const Run& p, double w, const RoundCtx& c);
// acc <- acc rounded to a format of unit u_f and floor f_f.
void run_round(Run& r, double u_f, double floor_f);

// Per-lane chains of a reduction of n terms t (perturbations pi, pe) in the
// declared order; `lanes` is resized to the power of two >= shape.lanes.
void lane_chains(const ReductionShape& sh, const double* t, const double* pi, const double* pe, int64_t n,
                 const RoundCtx& c, std::vector<Run>& lanes);
// The xor butterfly over the lanes; lanes[0] holds the result afterwards.
Run butterfly(std::vector<Run>& lanes, const RoundCtx& c);

}  // namespace moecheck

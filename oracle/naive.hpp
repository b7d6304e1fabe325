// The naive multiprecision evaluation of the layer: every multiply-add and
// the activation in one Real type (cpp_bin_float_quad for bench-oracle, MPFR
// at 256/512 bits for the oracle's validation). Slow by design: it is the
// baseline the oracle is measured against and checked with.
#pragma once

#include <boost/math/special_functions/erf.hpp>
#include <boost/multiprecision/cpp_bin_float.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/problem.hpp"
#include "oracle/rows.hpp"

namespace moecheck {

template <class Real>
Real naive_act(const ActivationSpec& a, const Real& g, const Real& u) {
  using std::exp;
  switch (a.kind) {
    case Activation::swiglu: return g / (Real(1) + exp(-g)) * u;
    case Activation::geglu: {
      using std::sqrt;
      const Real z = -g / sqrt(Real(2));
      return g * boost::math::erfc(z) / 2 * u;
    }
    case Activation::swiglu_clamped: {
      const Real lim = Real(static_cast<double>(a.limit));
      const Real gc = g > lim ? lim : g;
      const Real uc = u > lim ? lim : (u < -lim ? Real(-lim) : u);
      return gc / (Real(1) + exp(-Real(static_cast<double>(a.alpha)) * gc)) * (uc + 1);
    }
    case Activation::bilinear: return g * u;
  }
  return g * u;
}

template <class Real>
Real naive_dot(const double* w, const double* x, int64_t n) {
  Real s = 0;
  for (int64_t i = 0; i < n; ++i) s += Real(w[i]) * Real(x[i]);
  return s;
}

// h[t, j, n] for one (t, j, n); x is the decoded (T, H) input.
template <class Real>
Real naive_h(const Case& c, const std::vector<double>& x, int64_t t, int64_t j, int64_t n, std::vector<double>& row) {
  const Shape& s = c.shape;
  row.resize(s.H);
  const int64_t slot = c.slot_of(c.id(t, j));
  decode_row(c.w13, slot, gate_row(c.layout, s.I, n), row.data());
  const Real g = naive_dot<Real>(row.data(), &x[t * s.H], s.H);
  decode_row(c.w13, slot, up_row(c.layout, s.I, n), row.data());
  const Real u = naive_dot<Real>(row.data(), &x[t * s.H], s.H);
  return naive_act<Real>(c.act, g, u);
}

// y[t, i] from the h of token t, (k, I).
template <class Real>
Real naive_y(const Case& c, const std::vector<Real>& h_t, int64_t t, int64_t i, std::vector<double>& row) {
  const Shape& s = c.shape;
  row.resize(s.I);
  Real y = 0;
  for (int64_t j = 0; j < s.k; ++j) {
    decode_row(c.w2, c.slot_of(c.id(t, j)), i, row.data());
    Real acc = 0;
    for (int64_t n = 0; n < s.I; ++n) acc += Real(row[n]) * h_t[j * s.I + n];
    y += Real(static_cast<double>(c.weight(t, j))) * acc;
  }
  return y;
}

inline std::vector<double> decoded_x(const Case& c) {
  std::vector<double> x(c.shape.T * c.shape.H);
  for (int64_t t = 0; t < c.shape.T; ++t)
    for (int64_t n = 0; n < c.shape.H; ++n) x[t * c.shape.H + n] = c.x_value(t, n);
  return x;
}

// The whole layer, (T, H), single-threaded.
template <class Real>
std::vector<Real> naive_layer(const Case& c) {
  const Shape& s = c.shape;
  const std::vector<double> x = decoded_x(c);
  std::vector<double> row;
  std::vector<Real> y(s.T * s.H), h_t(s.k * s.I);
  for (int64_t t = 0; t < s.T; ++t) {
    for (int64_t j = 0; j < s.k; ++j)
      for (int64_t n = 0; n < s.I; ++n) h_t[j * s.I + n] = naive_h<Real>(c, x, t, j, n, row);
    for (int64_t i = 0; i < s.H; ++i) y[t * s.H + i] = naive_y<Real>(c, h_t, t, i, row);
  }
  return y;
}

using Quad = boost::multiprecision::cpp_bin_float_quad;

// bench-oracle's baseline: naive cpp_bin_float_quad h for `n_rows` (t, j, n)
// triples starting at 0 (timed), and y for `n_out` outputs spread over
// (T, H) (timed). Tokens whose neurons all got a naive h use it for y (the
// untimed recomputation), others the oracle's h rounded to double.
struct NaiveRun {
  int64_t gate_up_madds = 0, down_madds = 0;
  double gate_up_seconds = 0, down_seconds = 0;
  double cpu_seconds = 0;  // the same timed parts in this thread's CPU time
  double seconds() const { return gate_up_seconds + down_seconds; }
  std::vector<double> y, y_lo;  // (n_out) the quad result as a double-double
  std::vector<int64_t> y_index;
  std::vector<bool> naive_h;    // whether that output's h was computed naively
};
// CPU time of the calling thread: on a machine whose cores are shared it
// measures the work itself where wall time also counts the waiting.
double thread_cpu_seconds();

NaiveRun naive_quad_subset(const Case& c, const std::vector<double>& oracle_h, int64_t n_rows, int64_t n_out);

}  // namespace moecheck

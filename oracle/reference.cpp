// The plain fp32 and fp64 references (oracle.hpp): what a PyTorch user
// computes. Sequential dot products in F, activation in F's libm.
#include <cmath>
#include <vector>

#include "oracle/oracle.hpp"
#include "oracle/rows.hpp"

namespace moecheck {
namespace {

template <class F>
F act_plain(const ActivationSpec& a, F g, F u) {
  switch (a.kind) {
    case Activation::swiglu: return g / (F(1) + std::exp(-g)) * u;
    case Activation::geglu: return F(0.5) * g * (F(1) + std::erf(g / std::sqrt(F(2)))) * u;
    case Activation::swiglu_clamped: {
      const F lim = static_cast<F>(a.limit);
      const F gc = std::min(g, lim), uc = std::max(std::min(u, lim), -lim);
      return gc * (F(1) / (F(1) + std::exp(-static_cast<F>(a.alpha) * gc))) * (uc + F(1));
    }
    case Activation::bilinear: return g * u;
  }
  return g * u;
}

template <class F>
F dot(const std::vector<F>& a, const F* b, int64_t n) {
  F s = 0;
  for (int64_t i = 0; i < n; ++i) s = s + a[i] * b[i];
  return s;
}

template <class F>
std::vector<double> reference(const Case& c) {
  validate(c);
  const Shape& s = c.shape;
  std::vector<F> x(s.T * s.H), h(s.T * s.k * s.I);
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t n = 0; n < s.H; ++n) x[t * s.H + n] = static_cast<F>(c.x_value(t, n));
#pragma omp parallel
  {
    std::vector<double> row(s.H);
    std::vector<F> g(s.H), u(s.H);
#pragma omp for schedule(dynamic, 8)
    for (int64_t idx = 0; idx < s.T * s.k * s.I; ++idx) {
      const int64_t n = idx % s.I, t = idx / s.I / s.k, j = (idx / s.I) % s.k;
      const int64_t slot = c.slot_of(c.id(t, j));
      decode_row(c.w13, slot, gate_row(c.layout, s.I, n), row.data());
      for (int64_t q = 0; q < s.H; ++q) g[q] = static_cast<F>(row[q]);
      decode_row(c.w13, slot, up_row(c.layout, s.I, n), row.data());
      for (int64_t q = 0; q < s.H; ++q) u[q] = static_cast<F>(row[q]);
      h[idx] = act_plain<F>(c.act, dot(g, &x[t * s.H], s.H), dot(u, &x[t * s.H], s.H));
    }
  }
  std::vector<double> y(s.T * s.H);
#pragma omp parallel
  {
    std::vector<double> row(s.I);
    std::vector<F> d(s.I);
#pragma omp for schedule(dynamic, 16)
    for (int64_t idx = 0; idx < s.T * s.H; ++idx) {
      const int64_t t = idx / s.H, i = idx % s.H;
      F acc = 0;
      for (int64_t j = 0; j < s.k; ++j) {
        decode_row(c.w2, c.slot_of(c.id(t, j)), i, row.data());
        for (int64_t q = 0; q < s.I; ++q) d[q] = static_cast<F>(row[q]);
        const F yj = dot(d, &h[(t * s.k + j) * s.I], s.I);
        acc = acc + static_cast<F>(c.weight(t, j)) * yj;
      }
      y[idx] = static_cast<double>(acc);
    }
  }
  return y;
}

}  // namespace

std::vector<double> reference_fp32(const Case& c) { return reference<float>(c); }
std::vector<double> reference_fp64(const Case& c) { return reference<double>(c); }

}  // namespace moecheck

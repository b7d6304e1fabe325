#include "oracle/vec.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

// The helpers are inlined into the target_clones bodies; the ABI note about
// returning AVX vectors from the generic clone does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace moecheck {
namespace {
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));
v4d load(const double* p) {
  v4d v;
  std::memcpy(&v, p, 32);
  return v;
}
// Clearing the sign bit: one instruction; |-0| = +0 changes no sum here.
v4d vabs(v4d v) {
  v4l b;
  std::memcpy(&b, &v, 32);
  b &= 0x7fffffffffffffffLL;
  std::memcpy(&v, &b, 32);
  return v;
}
double hsum(v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); }
}  // namespace

__attribute__((target_clones("avx2", "default")))
double mul_into(const double* a, const double* b, double* out, size_t n, int64_t& maxbits) {
  constexpr int64_t kAbs = 0x7fffffffffffffffLL;
  v4d s = {0, 0, 0, 0};
  v4l m = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v4d p = load(a + i) * load(b + i);
    std::memcpy(out + i, &p, 32);
    s += vabs(p);
    v4l bits;
    std::memcpy(&bits, &p, 32);
    bits &= kAbs;
    m = bits > m ? bits : m;
  }
  double r = hsum(s);
  int64_t mb = maxbits;
  for (int l = 0; l < 4; ++l) mb = m[l] > mb ? m[l] : mb;
  for (; i < n; ++i) {
    out[i] = a[i] * b[i];
    r += std::fabs(out[i]);
    int64_t bits;
    std::memcpy(&bits, &out[i], 8);
    bits &= kAbs;
    mb = bits > mb ? bits : mb;
  }
  maxbits = mb;
  return r;
}

__attribute__((target_clones("arch=haswell", "default")))
void two_prod_err(const double* a, const double* b, const double* p, double* out, size_t n, int64_t& maxbits) {
  int64_t mb = maxbits;
  for (size_t i = 0; i < n; ++i) {
    out[i] = std::fma(a[i], b[i], -p[i]);
    int64_t bits;
    std::memcpy(&bits, &out[i], 8);
    bits &= 0x7fffffffffffffffLL;
    mb = bits > mb ? bits : mb;
  }
  maxbits = mb;
}

// G rows at once: 2G independent chains, each in the order of vec.hpp. G is a
// compile-time constant so the accumulators stay in registers.
template <int G>
inline void abs_dot2_group(const double* d, const double* a, const double* b, size_t n, double& sa, double& sb) {
  v4d c0[G], c1[G];
  for (int r = 0; r < G; ++r) c0[r] = c1[r] = v4d{0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int r = 0; r < G; ++r) {
      const v4d x = vabs(load(d + r * n + i));
      c0[r] += x * load(a + r * n + i);
      c1[r] += x * load(b + r * n + i);
    }
  for (int r = 0; r < G; ++r) {
    double x0 = hsum(c0[r]), x1 = hsum(c1[r]);
    for (size_t q = i; q < n; ++q) {
      x0 += std::fabs(d[r * n + q]) * a[r * n + q];
      x1 += std::fabs(d[r * n + q]) * b[r * n + q];
    }
    sa += x0;
    sb += x1;
  }
}

__attribute__((target_clones("avx2", "default")))
void abs_dot2_rows(const double* d, const double* a, const double* b, size_t k, size_t n, double& sa, double& sb) {
  size_t r = 0;
  for (; r + 4 <= k; r += 4) abs_dot2_group<4>(d + r * n, a + r * n, b + r * n, n, sa, sb);
  for (; r < k; ++r) abs_dot2_group<1>(d + r * n, a + r * n, b + r * n, n, sa, sb);
}

}  // namespace moecheck

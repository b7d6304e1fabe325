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
v4d vabs(v4d v) { return v < 0 ? -v : v; }
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

__attribute__((target_clones("avx2", "default")))
void abs_dot2(const double* d, const double* a, const double* b, size_t n, double& sa, double& sb) {
  v4d s0 = {0, 0, 0, 0}, s1 = s0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v4d x = vabs(load(d + i));
    s0 += x * load(a + i);
    s1 += x * load(b + i);
  }
  double r0 = hsum(s0), r1 = hsum(s1);
  for (; i < n; ++i) {
    r0 += std::fabs(d[i]) * a[i];
    r1 += std::fabs(d[i]) * b[i];
  }
  sa += r0;
  sb += r1;
}

}  // namespace moecheck

#include "oracle/extract_dot.hpp"

#include <cstdint>
#include <cstring>

// The helpers are inlined into the target_clones bodies; the ABI note about
// returning AVX vectors from the generic clone does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace moecheck {
namespace {
typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));
constexpr int64_t kAbs = 0x7fffffffffffffffLL;
v4d load(const double* p) {
  v4d v;
  std::memcpy(&v, p, 32);
  return v;
}
v4d vabs(v4d v) {
  v4l b;
  std::memcpy(&b, &v, 32);
  b &= kAbs;
  std::memcpy(&v, &b, 32);
  return v;
}
double hsum(v4d v) { return (v[0] + v[1]) + (v[2] + v[3]); }
bool any(v4l m) { return (m[0] | m[1] | m[2] | m[3]) != 0; }
}  // namespace

// Every q is a multiple of 2^-53 sigma and any partial sum of them stays
// below sigma (exact_sum.hpp), so the two vector accumulators, their
// horizontal sum and the tail are all exact.
__attribute__((target_clones("avx2", "default")))
void extract_dot1(const double* a, const double* b, size_t n, double sigma, Extracted& e) {
  const v4d sg = {sigma, sigma, sigma, sigma};
  v4d s0 = {0, 0, 0, 0}, s1 = s0;
  v4l nz = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v4d p0 = load(a + i) * load(b + i), p1 = load(a + i + 4) * load(b + i + 4);
    const v4d q0 = (sg + p0) - sg, q1 = (sg + p1) - sg;
    s0 += q0;
    s1 += q1;
    nz |= (p0 != q0) | (p1 != q1);
  }
  double s = hsum(s0 + s1);
  bool left = any(nz);
  for (; i < n; ++i) {
    const double p = a[i] * b[i], q = (sigma + p) - sigma;
    s += q;
    left |= p != q;
  }
  e.s1 += s;
  e.complete &= !left;
}

__attribute__((target_clones("avx2", "default")))
void extract_dot2(const double* a, const double* b, size_t n, double sigma1, double sigma2, Extracted& e) {
  const v4d g1 = {sigma1, sigma1, sigma1, sigma1}, g2 = {sigma2, sigma2, sigma2, sigma2};
  v4d s1 = {0, 0, 0, 0}, s2 = s1, ab = s1;
  v4l nz = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v4d p = load(a + i) * load(b + i);
    const v4d q1 = (g1 + p) - g1, r = p - q1;
    const v4d q2 = (g2 + r) - g2;
    s1 += q1;
    s2 += q2;
    ab += vabs(p);
    nz |= r != q2;
  }
  double t1 = hsum(s1), t2 = hsum(s2), ta = hsum(ab);
  bool left = any(nz);
  for (; i < n; ++i) {
    const double p = a[i] * b[i], q1 = (sigma1 + p) - sigma1, r = p - q1, q2 = (sigma2 + r) - sigma2;
    t1 += q1;
    t2 += q2;
    ta += p < 0 ? -p : p;
    left |= r != q2;
  }
  e.s1 += t1;
  e.s2 += t2;
  e.abs_sum += ta;
  e.complete &= !left;
}

__attribute__((target_clones("avx2", "default")))
void abs_sums_extract2(const double* a0, const double* a1, const double* b, size_t n, double sigma0, double sigma1,
                       double& c0, double& c1, Extracted& e0, Extracted& e1) {
  const v4d g0 = {sigma0, sigma0, sigma0, sigma0}, g1 = {sigma1, sigma1, sigma1, sigma1};
  v4d a0s = {0, 0, 0, 0}, a1s = a0s, s0 = a0s, s1 = a0s;
  v4l nz0 = {0, 0, 0, 0}, nz1 = nz0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const v4d x = load(b + i);
    const v4d p0 = load(a0 + i) * x, p1 = load(a1 + i) * x;
    a0s += vabs(p0);  // mul_into's order: lane l sums terms l, l + 4, ...
    a1s += vabs(p1);
    const v4d q0 = (g0 + p0) - g0, q1 = (g1 + p1) - g1;
    s0 += q0;
    s1 += q1;
    nz0 |= p0 != q0;
    nz1 |= p1 != q1;
  }
  double r0 = hsum(a0s), r1 = hsum(a1s), t0 = hsum(s0), t1 = hsum(s1);
  bool left0 = any(nz0), left1 = any(nz1);
  for (; i < n; ++i) {
    const double p0 = a0[i] * b[i], p1 = a1[i] * b[i];
    r0 += p0 < 0 ? -p0 : p0;
    r1 += p1 < 0 ? -p1 : p1;
    const double q0 = (sigma0 + p0) - sigma0, q1 = (sigma1 + p1) - sigma1;
    t0 += q0;
    t1 += q1;
    left0 |= p0 != q0;
    left1 |= p1 != q1;
  }
  c0 = r0;
  c1 = r1;
  e0.s1 += t0;
  e1.s1 += t1;
  e0.complete &= !left0;
  e1.complete &= !left1;
}

bool sigma1_certified(const Extracted& e, double sigma1, size_t N) {
  return N <= (size_t{1} << 23) && e.abs_sum * (2 + 0x1p-20) <= sigma1;
}

}  // namespace moecheck

#include "oracle/exact_sum.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/formats.hpp"

namespace moecheck {
namespace {

typedef double v4d __attribute__((vector_size(32)));
typedef int64_t v4l __attribute__((vector_size(32)));
constexpr int64_t kAbsMask = 0x7fffffffffffffffLL;

// Largest |p| as its bit pattern (monotone in |p| for non-negative patterns).
__attribute__((target_clones("avx2", "default")))
int64_t max_abs_bits(const double* p, size_t n) {
  v4l m = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v4l b;
    std::memcpy(&b, p + i, 32);
    b &= kAbsMask;
    m = b > m ? b : m;
  }
  int64_t r = 0;
  for (int l = 0; l < 4; ++l) r = m[l] > r ? m[l] : r;
  for (; i < n; ++i) {
    const int64_t b = static_cast<int64_t>(double_bits(p[i])) & kAbsMask;
    r = b > r ? b : r;
  }
  return r;
}

// One extraction level: returns the exact sum of the q, leaves the residuals
// in p and their largest |.| bits in `maxbits`. Two vector accumulators: every
// partial sum is exact (header), so splitting the sum changes nothing.
__attribute__((target_clones("avx2", "default")))
double extract_level(double* p, size_t n, double sigma, int64_t& maxbits) {
  const v4d sg = {sigma, sigma, sigma, sigma};
  v4d s0 = {0, 0, 0, 0}, s1 = s0;
  v4l m0 = {0, 0, 0, 0}, m1 = m0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v4d a, b;
    std::memcpy(&a, p + i, 32);
    std::memcpy(&b, p + i + 4, 32);
    const v4d qa = (sg + a) - sg, qb = (sg + b) - sg;
    s0 += qa;
    s1 += qb;
    a -= qa;
    b -= qb;
    std::memcpy(p + i, &a, 32);
    std::memcpy(p + i + 4, &b, 32);
    v4l ba, bb;
    std::memcpy(&ba, &a, 32);
    std::memcpy(&bb, &b, 32);
    ba &= kAbsMask;
    bb &= kAbsMask;
    m0 = ba > m0 ? ba : m0;
    m1 = bb > m1 ? bb : m1;
  }
  const v4d s = s0 + s1;
  double sum = (s[0] + s[1]) + (s[2] + s[3]);
  int64_t m = 0;
  for (int l = 0; l < 4; ++l) {
    m = m0[l] > m ? m0[l] : m;
    m = m1[l] > m ? m1[l] : m;
  }
  for (; i < n; ++i) {
    const double q = (sigma + p[i]) - sigma;
    sum += q;
    p[i] -= q;
    const int64_t b = static_cast<int64_t>(double_bits(p[i])) & kAbsMask;
    m = b > m ? b : m;
  }
  maxbits = m;
  return sum;
}

int ceil_log2(size_t n) {
  int l = 0;
  while ((size_t{1} << l) < n) ++l;
  return l;
}

}  // namespace

ExactSum exact_sum(double* p, size_t n) { return exact_sum(p, n, n ? max_abs_bits(p, n) : 0); }

ExactSum exact_sum(double* p, size_t n, int64_t maxbits) { return exact_sum(p, n, maxbits, 0); }

ExactSum exact_sum(double* p, size_t n, int64_t maxbits, double sum_abs) {
  ExactSum r;
  if (n == 0) return r;
  if (maxbits >= 0x7ff0000000000000LL) {  // inf or NaN among the terms
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += p[i];
    r.finite = false;
    r.rest = std::isnan(s) ? s : s;
    return r;
  }
  const int logn = ceil_log2(n);
  int scale = 0;  // residuals p stand for p * 2^scale
  while (maxbits != 0 && r.levels < kMaxSumLevels) {
    const int e = static_cast<int>(maxbits >> 52) - 1023;  // max|p| < 2^(e+1)
    if (e < -900) {  // exact power-of-two rescale keeps sigma out of the subnormals
      for (size_t i = 0; i < n; ++i) p[i] *= 0x1p1000;
      scale -= 1000;
      maxbits = max_abs_bits(p, n);
      continue;
    }
    int k = e + 2 + logn;  // sigma = 2^k >= 2 n max|p|
    if (r.levels == 0 && scale == 0 && sum_abs > 0 && std::isfinite(sum_abs)) {
      // sigma >= 2 sum|p| >= 2 max|p| also keeps every partial sum of the q
      // (at most sum|p| + n 2^-53 sigma) below sigma.
      const int ks = std::ilogb(sum_abs) + 2;  // 2^ks > 2 sum_abs
      if (ks < k && n < (size_t{1} << 50)) k = ks;
    }
    if (k > 1023) break;         // beyond double range: falls to the bounded rest
    r.level_exp[r.levels] = scale;
    r.level[r.levels++] = extract_level(p, n, pow2(k), maxbits);
  }
  if (maxbits != 0) {
    double s = 0, a = 0;
    for (size_t i = 0; i < n; ++i) {
      s += p[i];
      a += std::fabs(p[i]);
    }
    r.rest = s;
    r.rest_exp = scale;
    // Sequential double sums: |err| <= gamma_{n-1} sum|p| twice over.
    r.rest_bound = std::max(a * static_cast<double>(n + 2) * 0x1p-52, static_cast<double>(n + 2) * 0x1p-1074);
  }
  return r;
}

}  // namespace moecheck

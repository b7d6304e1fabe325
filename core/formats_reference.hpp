// Test-only reference for the element formats, independent of formats.hpp.
//
// The format parameters are typed in again from DESIGN.md section 3 instead of
// being read from mini_spec(), and rounding is done by MPFR at the target
// precision with the target's exponent range (mpfr_set_emin/emax +
// mpfr_subnormalize), so a mistake in the codec cannot also hide in the
// reference. Only the overflow/saturation/NaN policy is applied by hand.
#pragma once

#include <mpfr.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/formats.hpp"
#include "core/rng.hpp"

namespace moecheck::ref {

enum class Overflow { to_inf, saturate };
enum class NanRule { ieee, ocp_e4m3, saturate_to_max };

struct Spec {
  const char* name;
  Format format;
  int ebits, mbits;
  int emin, emax;      // unbiased exponents of the smallest/largest normal binade
  double max_finite;   // largest finite magnitude
  Overflow overflow;
  NanRule nan;
  int bits() const { return 1 + ebits + mbits; }
  int bias() const { return 1 - emin; }
};

inline const Spec kBf16{"bf16", Format::bf16, 8, 7, -126, 127, 0x1.fep127, Overflow::to_inf, NanRule::ieee};
inline const Spec kF16{"f16", Format::f16, 5, 10, -14, 15, 65504.0, Overflow::to_inf, NanRule::ieee};
inline const Spec kE4m3{"e4m3", Format::e4m3, 4, 3, -6, 8, 448.0, Overflow::saturate, NanRule::ocp_e4m3};
inline const Spec kE5m2{"e5m2", Format::e5m2, 5, 2, -14, 15, 57344.0, Overflow::to_inf, NanRule::ieee};
inline const Spec kE2m1{"e2m1", Format::e2m1, 2, 1, 0, 2, 6.0, Overflow::saturate, NanRule::saturate_to_max};

inline const Spec* const kMiniSpecs[] = {&kBf16, &kF16, &kE4m3, &kE5m2, &kE2m1};

inline std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}
inline std::string hex_double(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a (bits 0x%016llx)", v, static_cast<unsigned long long>(b));
  return buf;
}

inline uint32_t sign_bit(const Spec& s) { return 1u << (s.bits() - 1); }
inline uint32_t exp_field(const Spec& s, uint32_t c) { return (c >> s.mbits) & ((1u << s.ebits) - 1); }
inline uint32_t man_field(const Spec& s, uint32_t c) { return c & ((1u << s.mbits) - 1); }

inline bool is_nan_code(const Spec& s, uint32_t c) {
  const uint32_t eall = (1u << s.ebits) - 1, mall = (1u << s.mbits) - 1;
  switch (s.nan) {
    case NanRule::ieee: return exp_field(s, c) == eall && man_field(s, c) != 0;
    case NanRule::ocp_e4m3: return exp_field(s, c) == eall && man_field(s, c) == mall;
    case NanRule::saturate_to_max: return false;
  }
  return false;
}
inline bool is_inf_code(const Spec& s, uint32_t c) {
  return s.overflow == Overflow::to_inf && exp_field(s, c) == (1u << s.ebits) - 1 && man_field(s, c) == 0;
}

// Exact value of a code, by the textbook formula with std::ldexp.
inline double decode(const Spec& s, uint32_t c) {
  const double sign = (c & sign_bit(s)) ? -1.0 : 1.0;
  if (is_nan_code(s, c)) return std::copysign(NAN, sign);
  if (is_inf_code(s, c)) return sign * INFINITY;
  const uint32_t e = exp_field(s, c), m = man_field(s, c);
  if (e == 0) return sign * std::ldexp(static_cast<double>(m), s.emin - s.mbits);
  return sign * std::ldexp(static_cast<double>((1u << s.mbits) | m), static_cast<int>(e) - s.bias() - s.mbits);
}

// Code of a value that is exactly representable (or +-inf where the format
// has inf), found with frexp rather than with any encoder.
inline uint32_t code_of(const Spec& s, double v) {
  const uint32_t sign = std::signbit(v) ? sign_bit(s) : 0u;
  const double a = std::fabs(v);
  if (std::isinf(a)) return sign | (((1u << s.ebits) - 1) << s.mbits);
  if (a == 0) return sign;
  int x;
  const double f = std::frexp(a, &x);  // a = f * 2^x, f in [0.5, 1)
  if (x - 1 < s.emin) return sign | static_cast<uint32_t>(std::ldexp(a, s.mbits - s.emin));
  const uint32_t mant = static_cast<uint32_t>(std::ldexp(2 * f - 1, s.mbits));
  return sign | (static_cast<uint32_t>(x - 1 + s.bias()) << s.mbits) | mant;
}

// Restores MPFR's exponent range however the scope is left.
class ExponentRange {
 public:
  ExponentRange(mpfr_exp_t emin, mpfr_exp_t emax) : old_min_(mpfr_get_emin()), old_max_(mpfr_get_emax()) {
    mpfr_set_emin(emin);
    mpfr_set_emax(emax);
  }
  ~ExponentRange() {
    mpfr_set_emin(old_min_);
    mpfr_set_emax(old_max_);
  }
  ExponentRange(const ExponentRange&) = delete;
  ExponentRange& operator=(const ExponentRange&) = delete;

 private:
  mpfr_exp_t old_min_, old_max_;
};

// Correctly rounded value of v in the format with an unbounded-above but
// IEEE-subnormal-below exponent range: MPFR at precision p = mbits + 1 with
// emin set so its smallest positive number is the smallest subnormal and
// emax one binade above the largest normal; overflow gives +-inf (RNDN).
inline double round_with_mpfr(const Spec& s, double v) {
  // MPFR writes x = m * 2^e with m in [0.5, 1): shift the IEEE exponents by one.
  ExponentRange range(s.emin - s.mbits + 1, s.emax + 1);
  mpfr_t r;
  mpfr_init2(r, s.mbits + 1);
  int t = mpfr_set_d(r, v, MPFR_RNDN);
  t = mpfr_subnormalize(r, t, MPFR_RNDN);
  (void)t;
  const double out = mpfr_get_d(r, MPFR_RNDN);  // exact: p <= 11 bits, in double range
  mpfr_clear(r);
  return out;
}

// What encode(format, v) must return. For NaN results any NaN code with the
// input's sign is right, so `nan` says so and `code` is then only the sign.
struct Expected {
  bool nan = false;
  uint32_t code = 0;
};

inline Expected encode(const Spec& s, double v) {
  const uint32_t sign = std::signbit(v) ? sign_bit(s) : 0u;
  if (std::isnan(v)) {
    if (s.nan == NanRule::saturate_to_max) return {false, code_of(s, std::copysign(s.max_finite, v))};
    return {true, sign};
  }
  double r = std::isinf(v) ? v : round_with_mpfr(s, v);
  if (std::fabs(r) > s.max_finite) {
    r = s.overflow == Overflow::saturate ? std::copysign(s.max_finite, v) : std::copysign(INFINITY, v);
  }
  return {false, code_of(s, r)};
}

inline bool matches(const Spec& s, const Expected& want, uint32_t got) {
  if (want.nan) return is_nan_code(s, got) && (got & sign_bit(s)) == want.code;
  return got == want.code;
}

inline std::string describe(const Expected& want) {
  return want.nan ? std::string("NaN with sign ") + hex(want.code) : hex(want.code);
}

// e8m0 (2^(b-127), 0xFF NaN): nearest power of two in the linear sense
// (midpoint 1.5 * 2^e), ties to the even code, clamped to [2^-127, 2^127];
// non-positive, NaN and inf give 0xFF. Done in MPFR at the input's precision.
inline uint32_t encode_e8m0(double v) {
  if (std::isnan(v) || std::isinf(v) || !(v > 0)) return 0xffu;
  mpfr_t x, mid;
  mpfr_init2(x, 64);
  mpfr_init2(mid, 64);
  mpfr_set_d(x, v, MPFR_RNDN);  // exact: 64 >= 53 bits
  const long e = mpfr_get_exp(x) - 1;  // floor(log2 v)
  mpfr_set_ui_2exp(mid, 3, e - 1, MPFR_RNDN);  // 1.5 * 2^e
  const int c = mpfr_cmp(x, mid);
  mpfr_clear(x);
  mpfr_clear(mid);
  long chosen = e;
  if (c > 0 || (c == 0 && ((e + 127) & 1) != 0)) chosen = e + 1;
  if (chosen < -127) chosen = -127;
  if (chosen > 127) chosen = 127;
  return static_cast<uint32_t>(chosen + 127);
}

// The exact quotient v / d (both finite, d != 0: the caller's precondition)
// correctly rounded to the
// format, with its overflow rule. MPFR's exponent range cannot be narrowed
// here (v and d may lie outside the format's range), so the precision is
// narrowed instead: a quotient in the subnormal range of the format is
// rounded at the precision its binade leaves, which is the same quantum.
inline Expected encode_quotient(const Spec& s, double v, double d) {
  const uint32_t sign = (std::signbit(v) != std::signbit(d)) ? sign_bit(s) : 0u;
  if (v == 0) return {false, sign};
  mpfr_t a, b, q;
  mpfr_init2(a, 64);
  mpfr_init2(b, 64);
  mpfr_init2(q, 256);
  mpfr_set_d(a, std::fabs(v), MPFR_RNDN);  // exact; the sign is handled above
  mpfr_set_d(b, std::fabs(d), MPFR_RNDN);
  mpfr_div(q, a, b, MPFR_RNDZ);  // truncation never crosses a power of two: the binade is exact
  const long e = static_cast<long>(mpfr_get_exp(q)) - 1;  // floor(log2 |v/d|)
  const long prec = s.mbits + 1 - (e < s.emin ? s.emin - e : 0);
  double r;
  if (prec >= 1) {
    mpfr_set_prec(q, prec);
    mpfr_div(q, a, b, MPFR_RNDN);
    r = mpfr_get_d(q, MPFR_RNDN);
  } else if (prec == 0) {
    // |v/d| in [min_sub / 2, min_sub): above the midpoint rounds up, the
    // midpoint itself ties to even (0). The ternary value of a 256-bit
    // division says on which side of its rounded result the exact one lies.
    const double min_sub = std::ldexp(1.0, s.emin - s.mbits);
    mpfr_set_prec(q, 256);
    const int t = mpfr_div(q, a, b, MPFR_RNDN);
    const int c = mpfr_cmp_d(q, min_sub / 2);
    r = (c > 0 || (c == 0 && t < 0)) ? min_sub : 0.0;
  } else {
    r = 0.0;
  }
  mpfr_clear(a);
  mpfr_clear(b);
  mpfr_clear(q);
  if (r > s.max_finite) r = s.overflow == Overflow::saturate ? s.max_finite : INFINITY;
  return {false, sign | code_of(s, r)};
}

// Counts mismatches and keeps the first few messages, so a broken codec gives
// one readable failure instead of a million.
class Mismatches {
 public:
  void add(const std::string& msg) {
    if (count_++ < 20) text_ += msg + "\n";
  }
  uint64_t count() const { return count_; }
  const std::string& text() const { return text_; }

 private:
  uint64_t count_ = 0;
  std::string text_;
};

// Checks encode(spec.format, v) against the MPFR reference.
inline void check_encode(const Spec& s, double v, Mismatches& m) {
  const Expected want = encode(s, v);
  const uint32_t got = moecheck::encode(s.format, v);
  if (!matches(s, want, got)) {
    m.add(std::string(s.name) + ": encode(" + hex_double(v) + ") expected " + describe(want) + " got " + hex(got));
  }
}

inline double f32(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Midpoints between consecutive non-negative finite values of the format,
// plus the overflow threshold max + half ulp. Every one is exact in fp32.
inline std::vector<double> midpoints(const Spec& s) {
  std::vector<double> out;
  for (uint32_t c = 0; c + 1 < sign_bit(s); ++c) {
    const double a = decode(s, c), b = decode(s, c + 1);
    if (std::isnan(b) || std::isinf(b) || b > s.max_finite) break;
    out.push_back((a + b) / 2);
  }
  const double ulp_at_max = std::ldexp(1.0, s.emax - s.mbits);
  out.push_back(s.max_finite + ulp_at_max / 2);
  return out;
}

// A midpoint, and its neighbours one fp32 ulp and one double ulp either side,
// with both signs.
inline std::vector<double> around(double mid) {
  const float f = static_cast<float>(mid);
  std::vector<double> pts{mid,
                          std::nextafter(mid, 0.0),
                          std::nextafter(mid, INFINITY),
                          std::nextafter(f, 0.0f),
                          std::nextafter(f, INFINITY)};
  const size_t n = pts.size();
  for (size_t i = 0; i < n; ++i) pts.push_back(-pts[i]);
  return pts;
}

// fp32 bit patterns aimed at a format: uniform bits, values spread over the
// format's range from below its smallest subnormal to above its overflow
// threshold, exact ties, neighbours of the overflow threshold, fp32
// subnormals, infinities and NaNs with random payloads.
inline std::vector<uint32_t> fp32_inputs(const Spec& s, uint64_t seed, size_t n_uniform, size_t n_ranged) {
  Rng rng(seed);
  std::vector<uint32_t> out;
  out.reserve(n_uniform + 3 * n_ranged + 64);
  for (size_t i = 0; i < n_uniform; ++i) out.push_back(static_cast<uint32_t>(rng.next()));
  const int lo = s.emin - s.mbits - 3, hi = s.emax + 2;
  for (size_t i = 0; i < n_ranged; ++i) {
    const int e = lo + static_cast<int>(rng.below(hi - lo + 1));
    const int be = e + 127 < 0 ? 0 : (e + 127 > 254 ? 254 : e + 127);
    const uint32_t sign = static_cast<uint32_t>(rng.next() & 1) << 31;
    out.push_back(sign | (static_cast<uint32_t>(be) << 23) | static_cast<uint32_t>(rng.next() & 0x7fffff));
  }
  const std::vector<double> mids = midpoints(s);
  for (size_t i = 0; i < n_ranged; ++i) {
    const float m = static_cast<float>(mids[rng.below(mids.size())]);
    uint32_t b;
    std::memcpy(&b, &m, 4);
    out.push_back(b | (static_cast<uint32_t>(rng.next() & 1) << 31));
  }
  for (size_t i = 0; i < n_ranged; ++i) {  // fp32 subnormals
    out.push_back((static_cast<uint32_t>(rng.next() & 1) << 31) | static_cast<uint32_t>(rng.next() & 0x7fffff));
  }
  float thr = static_cast<float>(mids.back());
  for (int k = 0; k < 16; ++k) thr = std::nextafter(thr, 0.0f);
  for (int k = 0; k < 33; ++k, thr = std::nextafter(thr, INFINITY)) {
    uint32_t b;
    std::memcpy(&b, &thr, 4);
    out.push_back(b);
    out.push_back(b | 0x80000000u);
  }
  for (uint32_t sign : {0u, 0x80000000u}) {
    out.push_back(sign | 0x7f800000u);                                              // inf
    out.push_back(sign | 0x7fc00000u);                                              // quiet NaN
    out.push_back(sign | 0x7f800001u);                                              // signalling NaN
    out.push_back(sign | 0x7f800000u | static_cast<uint32_t>(1 + (rng.next() & 0x7ffffe)));  // payload
    out.push_back(sign);                                                            // +-0
    out.push_back(sign | 0x7f7fffffu);                                              // fp32 max
  }
  return out;
}

}  // namespace moecheck::ref

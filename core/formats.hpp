// Element number formats: exact decoding, correctly rounded encoding.
//
// Every codec here is __host__ __device__ so kernels, host twins, the
// generator and the oracle share one definition. Encoding takes a double:
// every fp32 value is a double, and encoding straight from the wider value is
// what keeps conversions single-rounding (never fp32 -> bf16 -> fp8).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#if defined(__CUDACC__)
#define MOECHECK_HD __host__ __device__ __forceinline__
#else
#define MOECHECK_HD inline
#endif

namespace moecheck {

enum class Format : uint8_t { f32, bf16, f16, e4m3, e5m2, e2m1, e8m0 };

// Minifloat parameters. `emax_code` is the largest biased exponent used by
// finite values; IEEE-like formats reserve the next one for inf/NaN.
struct MiniSpec {
  int ebits, mbits, bias;
  bool has_inf;        // all-ones exponent, zero mantissa = inf (IEEE style)
  bool ieee_nan;       // all-ones exponent, nonzero mantissa = NaN
  bool ocp_e4m3_nan;   // only S.1111.111 is NaN (OCP e4m3)
  bool saturate;       // overflow clamps to +-max finite instead of inf
};

MOECHECK_HD MiniSpec mini_spec(Format f) {
  switch (f) {
    case Format::bf16: return {8, 7, 127, true, true, false, false};
    case Format::f16: return {5, 10, 15, true, true, false, false};
    case Format::e4m3: return {4, 3, 7, false, false, true, true};
    case Format::e5m2: return {5, 2, 15, true, true, false, false};
    case Format::e2m1: return {2, 1, 1, false, false, false, true};
    case Format::f32: return {8, 23, 127, true, true, false, false};
    default: return {8, 0, 127, false, false, false, true};  // e8m0: unused
  }
}

MOECHECK_HD int format_bits(Format f) {
  switch (f) {
    case Format::f32: return 32;
    case Format::bf16:
    case Format::f16: return 16;
    case Format::e2m1: return 4;
    default: return 8;
  }
}

// Unit roundoff u: |fl(x) - x| <= u |x| in the normal range, round to nearest.
MOECHECK_HD double unit_roundoff(Format f) {
  if (f == Format::e8m0) return 0.5;  // only powers of two
  int p = mini_spec(f).mbits + 1;
  double u = 1.0;
  for (int i = 0; i < p; ++i) u *= 0.5;
  return u;
}

MOECHECK_HD uint64_t double_bits(double v) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(v));
#else
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
#endif
}
MOECHECK_HD double bits_double(uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(b));
#else
  double v;
  std::memcpy(&v, &b, 8);
  return v;
#endif
}
MOECHECK_HD uint32_t float_bits(float v) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint32_t>(__float_as_uint(v));
#else
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return b;
#endif
}
MOECHECK_HD float bits_float(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float v;
  std::memcpy(&v, &b, 4);
  return v;
#endif
}

MOECHECK_HD double pow2(int e) {
  // 2^e for e in [-1074, 1023], built from bits so no libm is involved.
  if (e >= -1022) return bits_double(static_cast<uint64_t>(e + 1023) << 52);
  return bits_double(uint64_t{1} << (e + 1074));
}

// Largest finite value of a minifloat format.
MOECHECK_HD double mini_max(Format f) {
  MiniSpec s = mini_spec(f);
  int emax_code = (1 << s.ebits) - 1 - ((s.has_inf || s.ieee_nan) ? 1 : 0);
  uint32_t mmax = (1u << s.mbits) - 1 - (s.ocp_e4m3_nan ? 1u : 0u);
  return (1.0 + mmax * pow2(-s.mbits)) * pow2(emax_code - s.bias);
}

// ---- decoding (exact) -------------------------------------------------------

MOECHECK_HD double decode_mini(Format f, uint32_t code) {
  MiniSpec s = mini_spec(f);
  const int nbits = 1 + s.ebits + s.mbits;
  const bool neg = (code >> (nbits - 1)) & 1u;
  const uint32_t e = (code >> s.mbits) & ((1u << s.ebits) - 1);
  const uint32_t m = code & ((1u << s.mbits) - 1);
  const uint32_t eall = (1u << s.ebits) - 1;
  double v;
  if (s.ocp_e4m3_nan && e == eall && m == (1u << s.mbits) - 1) {
    v = bits_double(0x7ff8000000000000ull);
  } else if ((s.has_inf || s.ieee_nan) && e == eall) {
    v = m == 0 ? bits_double(0x7ff0000000000000ull) : bits_double(0x7ff8000000000000ull);
  } else if (e == 0) {
    v = m * pow2(1 - s.bias - s.mbits);
  } else {
    v = ((1u << s.mbits) + m) * pow2(static_cast<int>(e) - s.bias - s.mbits);
  }
  return neg ? -v : v;
}

MOECHECK_HD double decode_e8m0(uint32_t code) {
  code &= 0xffu;
  if (code == 0xffu) return bits_double(0x7ff8000000000000ull);
  return pow2(static_cast<int>(code) - 127);
}

MOECHECK_HD double decode(Format f, uint32_t code) {
  if (f == Format::f32) return static_cast<double>(bits_float(code));
  if (f == Format::e8m0) return decode_e8m0(code);
  return decode_mini(f, code);
}

// ---- encoding (correctly rounded, ties to even) ---------------------------

// Index of the highest set bit of m != 0.
MOECHECK_HD int highest_bit(uint64_t m) {
#if defined(__CUDA_ARCH__)
  return 63 - __clzll(static_cast<long long>(m));
#else
  return 63 - __builtin_clzll(m);
#endif
}

// Round |v| (finite, > 0) to an integer multiple n * 2^q of the format's
// quantum at the value's exponent, ties to even. Works on the double's
// integer significand so no intermediate rounding happens.
MOECHECK_HD void round_to_quantum(double a, int emin, int mbits, uint64_t& n, int& q) {
  const uint64_t b = double_bits(a);
  const int be = static_cast<int>((b >> 52) & 0x7ff);
  uint64_t m = b & ((uint64_t{1} << 52) - 1);
  int E;  // a = m * 2^(E)
  if (be == 0) {
    E = -1074;
  } else {
    m |= uint64_t{1} << 52;
    E = be - 1075;
  }
  // floor(log2 a): position of the leading bit of m, plus E.
  int e = highest_bit(m) + E;
  if (e < emin) e = emin;
  q = e - mbits;
  const int shift = q - E;
  if (shift <= 0) {
    n = m << (-shift);
    return;
  }
  if (shift > 62) {
    n = 0;
    return;
  }
  n = m >> shift;
  const uint64_t rem = m & ((uint64_t{1} << shift) - 1);
  const uint64_t half = uint64_t{1} << (shift - 1);
  if (rem > half || (rem == half && (n & 1u))) ++n;
}

MOECHECK_HD uint32_t encode_mini(Format f, double v) {
  MiniSpec s = mini_spec(f);
  const int nbits = 1 + s.ebits + s.mbits;
  const uint32_t sign = (double_bits(v) >> 63) ? (1u << (nbits - 1)) : 0u;
  const uint32_t eall = (1u << s.ebits) - 1;
  const uint32_t max_code = [&] {
    uint32_t emax_code = eall - ((s.has_inf || s.ieee_nan) ? 1u : 0u);
    uint32_t mmax = (1u << s.mbits) - 1 - (s.ocp_e4m3_nan ? 1u : 0u);
    return (emax_code << s.mbits) | mmax;
  }();
  if (v != v) {
    if (s.ocp_e4m3_nan) return sign | (eall << s.mbits) | ((1u << s.mbits) - 1);
    if (s.ieee_nan) return sign | (eall << s.mbits) | (1u << (s.mbits - 1));
    return sign | max_code;  // e2m1 has no NaN: documented as saturating
  }
  const double a = v < 0 ? -v : v;
  const uint32_t overflow_code = s.saturate || !s.has_inf ? max_code : (eall << s.mbits);
  if (a == 0) return sign;
  if (a > 1.7976931348623157e308) return sign | overflow_code;  // inf
  const int emin = 1 - s.bias;
  uint64_t n;
  int q;
  round_to_quantum(a, emin, s.mbits, n, q);
  if (n == 0) return sign;
  if (n >> (s.mbits + 1)) {  // rounding carried into the next binade
    n >>= 1;
    ++q;
  }
  if (n < (uint64_t{1} << s.mbits)) return sign | static_cast<uint32_t>(n);  // subnormal
  const int64_t ecode = static_cast<int64_t>(q) + s.mbits + s.bias;
  const uint32_t mant = static_cast<uint32_t>(n - (uint64_t{1} << s.mbits));
  if (ecode > static_cast<int64_t>(max_code >> s.mbits)) return sign | overflow_code;
  const uint32_t code = (static_cast<uint32_t>(ecode) << s.mbits) | mant;
  if (code > max_code) return sign | overflow_code;
  return sign | code;
}

// e8m0 holds 2^-127 .. 2^127 and NaN; no zero, no sign. Nearest power of two
// in the linear sense (midpoint 1.5 * 2^e), ties to the even code; values
// outside the range clamp to the end codes; NaN, inf and values <= 0 give NaN.
MOECHECK_HD uint32_t encode_e8m0(double v) {
  if (!(v > 0) || v > 1.7976931348623157e308) return 0xffu;
  if (v < pow2(-127)) return 0u;
  const uint64_t b = double_bits(v);
  const int lo = static_cast<int>((b >> 52) & 0x7ff) - 1023;  // v = (1 + f) * 2^lo
  const uint64_t f = b & ((uint64_t{1} << 52) - 1);
  const uint64_t half = uint64_t{1} << 51;
  int e = lo;
  if (f > half || (f == half && ((lo + 127) & 1))) e = lo + 1;
  if (e > 127) e = 127;
  return static_cast<uint32_t>(e + 127);
}

// fp32 from double, correctly rounded (IEEE conversion is round-to-nearest-even).
MOECHECK_HD uint32_t encode_f32(double v) { return float_bits(static_cast<float>(v)); }

MOECHECK_HD uint32_t encode(Format f, double v) {
  if (f == Format::f32) return encode_f32(v);
  if (f == Format::e8m0) return encode_e8m0(v);
  return encode_mini(f, v);
}

// Round to the format and back, as a double.
MOECHECK_HD double round_to(Format f, double v) { return decode(f, encode(f, v)); }

// Fast fp32 -> bf16 used in kernels; identical to encode(Format::bf16, v).
MOECHECK_HD uint16_t f32_to_bf16_rn(float v) {
  uint32_t b = float_bits(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((b >> 16) | 0x40u);
  b += 0x7fffu + ((b >> 16) & 1u);
  return static_cast<uint16_t>(b >> 16);
}
MOECHECK_HD float bf16_to_f32(uint16_t v) { return bits_float(static_cast<uint32_t>(v) << 16); }

// Fast fp32 -> f16 (round to nearest even, overflow to inf, subnormals kept,
// NaN stays a quiet NaN of its sign) for kernel outputs and their host twins:
// identical to encode(Format::f16, v), integer operations only so host and
// device give the same bits.
MOECHECK_HD uint16_t f32_to_f16_rn(float v) {
  const uint32_t b = float_bits(v), sign = (b >> 16) & 0x8000u, a = b & 0x7fffffffu;
  if (a > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (a >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (incl. inf): rounds to inf
  if (a < 0x38800000u) {  // below 2^-14: f16 subnormal or zero, quantum 2^-24
    if (a < 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25 (the tie rounds to even 0)
    const uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;  // v = m 2^(e - 150)
    const uint32_t shift = 126 - e;                              // 14..24: m >> shift counts 2^-24s
    const uint32_t n = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return static_cast<uint16_t>(sign | (n + (rem > half || (rem == half && (n & 1u)))));
  }
  // Normal: rebias the exponent, round the 13 dropped mantissa bits (a carry
  // into the exponent is the correct next binade).
  const uint32_t r = a - 0x38000000u;  // exponent bias 127 -> 15
  return static_cast<uint16_t>(sign | ((r + 0xfffu + ((r >> 13) & 1u)) >> 13));
}

// Code of fp32 value v in format f, rounded to nearest even: the fast paths
// above for kernel outputs (fp32 is v itself), encode() for the rest.
MOECHECK_HD uint32_t f32_to_code(Format f, float v) {
  switch (f) {
    case Format::f32: return float_bits(v);
    case Format::bf16: return f32_to_bf16_rn(v);
    case Format::f16: return f32_to_f16_rn(v);
    default: return encode(f, v);
  }
}

// Element idx of an output array of f codes (f32: 4 bytes; f16, bf16: 2,
// rounded to nearest even by the fast paths above) set to fp32 value v.
// Every kernel family's output store and its host twin go through it.
MOECHECK_HD void store_output(void* y, Format f, int64_t idx, float v) {
  if (f == Format::f32)
    static_cast<float*>(y)[idx] = v;
  else if (f == Format::f16)
    static_cast<uint16_t*>(y)[idx] = f32_to_f16_rn(v);
  else
    static_cast<uint16_t*>(y)[idx] = f32_to_bf16_rn(v);
}

std::string_view format_name(Format f);
Format parse_format(std::string_view name);  // throws InputError on unknown names

}  // namespace moecheck

// Exhaustive codec checks (label `exhaustive`): every code of every format of
// 16 bits or fewer, every bf16/f16 rounding boundary, a few million fp32
// inputs against MPFR, and the fast bf16 conversion on all 2^32 fp32 inputs.
#include <gtest/gtest.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <atomic>
#include <cmath>
#include <string>

#include "core/formats.hpp"
#include "core/formats_reference.hpp"

namespace moecheck {
namespace {

using ref::hex;
using ref::Mismatches;

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) && std::signbit(a) == std::signbit(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

class EveryCode : public testing::TestWithParam<const ref::Spec*> {};

// Decode against the reference decoder, re-encode, and get the code back:
// NaN codes to a NaN code of the same sign, -0 to -0.
TEST_P(EveryCode, DecodesExactlyAndReencodes) {
  const ref::Spec& s = *GetParam();
  Mismatches m;
  uint64_t nans = 0;
  for (uint32_t c = 0; c < (1u << s.bits()); ++c) {
    const double want = ref::decode(s, c), got = decode(s.format, c);
    if (!same_double(want, got)) {
      m.add(std::string(s.name) + " decode(" + hex(c) + "): expected " + ref::hex_double(want) + " got " +
            ref::hex_double(got));
    }
    const uint32_t back = encode(s.format, got);
    const bool nan = ref::is_nan_code(s, c);
    nans += nan;
    const bool ok = nan ? ref::is_nan_code(s, back) && (back & ref::sign_bit(s)) == (c & ref::sign_bit(s)) : back == c;
    if (!ok) m.add(std::string(s.name) + " encode(decode(" + hex(c) + ")) expected " + hex(c) + " got " + hex(back));
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
  // Pins the NaN rules themselves: e4m3 one NaN pattern per sign, e2m1 none,
  // IEEE formats 2 * (2^mbits - 1).
  const uint64_t want_nans = s.nan == ref::NanRule::ieee       ? 2 * ((1u << s.mbits) - 1)
                             : s.nan == ref::NanRule::ocp_e4m3 ? 2
                                                               : 0;
  EXPECT_EQ(nans, want_nans) << s.name;
}

INSTANTIATE_TEST_SUITE_P(Formats, EveryCode, testing::ValuesIn(ref::kMiniSpecs),
                         [](const auto& info) { return std::string(info.param->name); });

TEST(EveryCodeE8m0, DecodesExactlyAndReencodes) {
  for (uint32_t c = 0; c < 256; ++c) {
    const double v = decode(Format::e8m0, c);
    if (c == 0xff) {
      EXPECT_TRUE(std::isnan(v));
    } else {
      EXPECT_EQ(v, std::ldexp(1.0, static_cast<int>(c) - 127)) << "e8m0 decode(" << hex(c) << ")";
    }
    EXPECT_EQ(encode(Format::e8m0, v), c) << "e8m0 encode(decode(" << hex(c) << "))";
  }
}

// Every boundary for every format; for bf16 and f16 this is the brief's
// "every rounding boundary" (~65k midpoints each, 10 points per midpoint).
class EveryBoundary : public testing::TestWithParam<const ref::Spec*> {};

TEST_P(EveryBoundary, MatchesMpfr) {
  const ref::Spec& s = *GetParam();
  Mismatches m;
  uint64_t checked = 0;
  for (double mid : ref::midpoints(s)) {
    for (double v : ref::around(mid)) {
      ref::check_encode(s, v, m);
      ++checked;
    }
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
  // One midpoint per pair of consecutive finite values plus the overflow
  // threshold, 10 points each: guards against a sweep that silently shrank.
  EXPECT_EQ(checked, 10u * (ref::code_of(s, s.max_finite) + 1)) << s.name;
}

INSTANTIATE_TEST_SUITE_P(Formats, EveryBoundary, testing::ValuesIn(ref::kMiniSpecs),
                         [](const auto& info) { return std::string(info.param->name); });

// 2^20 uniform fp32 patterns plus 3 * 2^18 aimed at the format (spread over
// its range, exact ties, fp32 subnormals), the overflow threshold's
// neighbours and inf/NaN: about 1.8 million inputs per format.
class RandomFp32 : public testing::TestWithParam<const ref::Spec*> {};

TEST_P(RandomFp32, MatchesMpfr) {
  const ref::Spec& s = *GetParam();
  const std::vector<uint32_t> inputs = ref::fp32_inputs(s, 0xe7a0000 + static_cast<int>(s.format), 1u << 20, 1u << 18);
  ASSERT_GE(inputs.size(), 1000000u);
  Mismatches m;
  for (uint32_t b : inputs) ref::check_encode(s, ref::f32(b), m);
  EXPECT_EQ(m.count(), 0u) << m.text();
}

INSTANTIATE_TEST_SUITE_P(Formats, RandomFp32, testing::ValuesIn(ref::kMiniSpecs),
                         [](const auto& info) { return std::string(info.param->name); });

// fp32 -> f16 in hardware (F16C vcvtps2ph, round to nearest even) is a
// reference independent of both MPFR and the codec, fast enough to sweep every
// fp32 input whose f16 result is not trivially zero or inf: biased fp32
// exponents 100..144 (|v| in [2^-27, 2^18)), both signs. The rest of the fp32
// space is sampled against MPFR above.
#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hw_f16(float v) { return _cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT); }

TEST(AllFp32, F16MatchesHardwareConversionOnItsRange) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "CPU has no F16C";
  std::atomic<uint64_t> bad{0};
  std::atomic<uint32_t> first{0};
  const int64_t lo = int64_t{100} << 23, hi = int64_t{145} << 23;
#pragma omp parallel for schedule(static)
  for (int64_t i = lo; i < hi; ++i) {
    for (uint32_t sign : {0u, 0x80000000u}) {
      const uint32_t b = sign | static_cast<uint32_t>(i);
      const float v = ref::f32(b);
      if (encode(Format::f16, v) != hw_f16(v) && bad++ == 0) first = b;
    }
  }
  const float v = ref::f32(first.load());
  EXPECT_EQ(bad.load(), 0u) << "f16: first failing fp32 input " << hex(first.load()) << ": expected (F16C) "
                            << hex(hw_f16(v)) << " got " << hex(encode(Format::f16, v));
  // The sweep must reach both the subnormal and the overflow ends of f16.
  EXPECT_EQ(hw_f16(0x1p-26f), 0x0000u);
  EXPECT_EQ(hw_f16(0x1.8p-25f), 0x0001u);
  EXPECT_EQ(hw_f16(65520.0f), 0x7c00u);
}
#endif

// The kernels' fast fp32 -> bf16 must be the same function as encode().
TEST(AllFp32, FastBf16EqualsEncode) {
  std::atomic<uint64_t> bad{0};
  std::atomic<uint32_t> first{0};
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < (int64_t{1} << 32); ++i) {
    const uint32_t b = static_cast<uint32_t>(i);
    const float v = ref::f32(b);
    const uint32_t fast = f32_to_bf16_rn(v), slow = encode(Format::bf16, v);
    const bool ok = std::isnan(v) ? ref::is_nan_code(ref::kBf16, fast) && ref::is_nan_code(ref::kBf16, slow) &&
                                        (fast & 0x8000) == (slow & 0x8000)
                                  : fast == slow;
    if (!ok && bad++ == 0) first = b;
  }
  EXPECT_EQ(bad.load(), 0u) << "bf16: first failing fp32 input " << hex(first.load()) << ": encode "
                            << hex(encode(Format::bf16, ref::f32(first.load()))) << " f32_to_bf16_rn "
                            << hex(f32_to_bf16_rn(ref::f32(first.load())));
}

// The kernels' fast fp32 -> f16 output store must be the same function as
// encode() (NaN included: both give the quiet NaN of the input's sign).
TEST(AllFp32, FastF16EqualsEncode) {
  std::atomic<uint64_t> bad{0};
  std::atomic<uint32_t> first{0};
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < (int64_t{1} << 32); ++i) {
    const uint32_t b = static_cast<uint32_t>(i);
    const float v = ref::f32(b);
    if (f32_to_f16_rn(v) != encode(Format::f16, v) && bad++ == 0) first = b;
  }
  EXPECT_EQ(bad.load(), 0u) << "f16: first failing fp32 input " << hex(first.load()) << ": encode "
                            << hex(encode(Format::f16, ref::f32(first.load()))) << " f32_to_f16_rn "
                            << hex(f32_to_f16_rn(ref::f32(first.load())));
}

// e8m0 on every fp32 input against the MPFR-based reference. The reference is
// slow, so only the positive finite inputs that decide something are swept:
// each binade's midpoint neighbourhood and both ends, plus random mantissas.
TEST(E8m0, BoundariesMatchReference) {
  Mismatches m;
  for (int e = -150; e <= 130; ++e) {
    const double mid = std::ldexp(1.5, e), pow = std::ldexp(1.0, e);
    for (double v : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, INFINITY),
                     static_cast<double>(std::nextafter(static_cast<float>(mid), 0.0f)),
                     static_cast<double>(std::nextafter(static_cast<float>(mid), INFINITY)), pow,
                     std::nextafter(pow, 0.0), std::nextafter(pow, INFINITY), -mid, -pow}) {
      const uint32_t want = ref::encode_e8m0(v), got = encode(Format::e8m0, v);
      if (got != want) m.add("e8m0 encode(" + ref::hex_double(v) + ") expected " + hex(want) + " got " + hex(got));
    }
  }
  Rng rng(0xe8e8);
  for (int i = 0; i < 1000000; ++i) {
    const double v = ref::f32(static_cast<uint32_t>(rng.next()));
    const uint32_t want = ref::encode_e8m0(v), got = encode(Format::e8m0, v);
    if (got != want) m.add("e8m0 encode(" + ref::hex_double(v) + ") expected " + hex(want) + " got " + hex(got));
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
}

}  // namespace
}  // namespace moecheck

// Fast checks of the element codecs against an independent reference
// (core/formats_reference.hpp: parameters typed in from DESIGN.md, rounding by
// MPFR). The exhaustive sweeps live in formats_exhaustive_test.cpp.
#include "core/formats.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "core/formats_reference.hpp"

namespace moecheck {
namespace {

using ref::hex;
using ref::Mismatches;

struct Known {
  Format f;
  uint32_t code;
  double value;
};

// Values read off the format definitions (OCP FP8/MX specs, IEEE 754), not
// computed, so they pin decode() independently of any formula.
const Known kKnown[] = {
    {Format::bf16, 0x3f80, 1.0},          {Format::bf16, 0x7f7f, 0x1.fep127},
    {Format::bf16, 0x0001, 0x1p-133},     {Format::bf16, 0x0080, 0x1p-126},
    {Format::bf16, 0xc000, -2.0},         {Format::bf16, 0x7f80, INFINITY},
    {Format::f16, 0x3c00, 1.0},           {Format::f16, 0x7bff, 65504.0},
    {Format::f16, 0x0001, 0x1p-24},       {Format::f16, 0x0400, 0x1p-14},
    {Format::f16, 0xfc00, -INFINITY},     {Format::f16, 0x3555, 0x1.554p-2},
    {Format::e4m3, 0x7e, 448.0},          {Format::e4m3, 0x01, 0x1p-9},
    {Format::e4m3, 0x08, 0x1p-6},         {Format::e4m3, 0x38, 1.0},
    {Format::e4m3, 0x78, 256.0},          {Format::e4m3, 0xfe, -448.0},
    {Format::e5m2, 0x7b, 57344.0},        {Format::e5m2, 0x01, 0x1p-16},
    {Format::e5m2, 0x3c, 1.0},            {Format::e5m2, 0x7c, INFINITY},
    {Format::e2m1, 0x0, 0.0},             {Format::e2m1, 0x1, 0.5},
    {Format::e2m1, 0x2, 1.0},             {Format::e2m1, 0x3, 1.5},
    {Format::e2m1, 0x4, 2.0},             {Format::e2m1, 0x5, 3.0},
    {Format::e2m1, 0x6, 4.0},             {Format::e2m1, 0x7, 6.0},
    {Format::e2m1, 0xf, -6.0},            {Format::e2m1, 0x9, -0.5},
    {Format::e8m0, 0x7f, 1.0},            {Format::e8m0, 0x00, 0x1p-127},
    {Format::e8m0, 0xfe, 0x1p127},        {Format::e8m0, 0x80, 2.0},
};

bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) && std::signbit(a) == std::signbit(b);
  return a == b && std::signbit(a) == std::signbit(b);
}

TEST(Formats, DecodeKnownValues) {
  for (const Known& k : kKnown) {
    EXPECT_TRUE(same_double(decode(k.f, k.code), k.value))
        << format_name(k.f) << " code " << hex(k.code) << ": expected " << ref::hex_double(k.value) << " got "
        << ref::hex_double(decode(k.f, k.code));
  }
}

TEST(Formats, NanCodes) {
  EXPECT_TRUE(std::isnan(decode(Format::e4m3, 0x7f)));
  EXPECT_TRUE(std::isnan(decode(Format::e4m3, 0xff)));
  EXPECT_TRUE(std::isnan(decode(Format::e8m0, 0xff)));
  EXPECT_TRUE(std::isnan(decode(Format::e5m2, 0x7d)));
  EXPECT_TRUE(std::isnan(decode(Format::f16, 0x7e00)));
  EXPECT_TRUE(std::isnan(decode(Format::bf16, 0xffc1)));
  // OCP e4m3 has no inf: the IEEE inf pattern is an ordinary value.
  EXPECT_EQ(decode(Format::e4m3, 0x78), 256.0);
  EXPECT_EQ(decode(Format::e4m3, 0x7d), 416.0);
}

TEST(Formats, MaxAndUnitRoundoff) {
  for (const ref::Spec* s : ref::kMiniSpecs) {
    EXPECT_EQ(mini_max(s->format), s->max_finite) << s->name;
    EXPECT_EQ(unit_roundoff(s->format), std::ldexp(1.0, -(s->mbits + 1))) << s->name;
    EXPECT_EQ(format_bits(s->format), s->bits()) << s->name;
  }
  EXPECT_EQ(unit_roundoff(Format::f32), 0x1p-24);
  EXPECT_EQ(format_bits(Format::f32), 32);
  EXPECT_EQ(format_bits(Format::e8m0), 8);
}

// Every code of the small formats: decode against the reference decoder, then
// re-encode and get the same code back (NaN to a NaN of the same sign).
TEST(Formats, SmallFormatsEveryCodeRoundTrips) {
  for (const ref::Spec* s : {&ref::kE4m3, &ref::kE5m2, &ref::kE2m1}) {
    Mismatches m;
    for (uint32_t c = 0; c < (1u << s->bits()); ++c) {
      const double want = ref::decode(*s, c), got = decode(s->format, c);
      if (!same_double(want, got)) {
        m.add(std::string(s->name) + " decode(" + hex(c) + "): expected " + ref::hex_double(want) + " got " +
              ref::hex_double(got));
      }
      const uint32_t back = encode(s->format, got);
      const bool ok = ref::is_nan_code(*s, c) ? ref::is_nan_code(*s, back) && (back & ref::sign_bit(*s)) == (c & ref::sign_bit(*s))
                                              : back == c;
      if (!ok) m.add(std::string(s->name) + " encode(decode(" + hex(c) + ")) expected " + hex(c) + " got " + hex(back));
    }
    EXPECT_EQ(m.count(), 0u) << m.text();
  }
}

// Rounding boundaries of the 8- and 4-bit formats: every midpoint between
// consecutive values (and the overflow threshold), one double and one fp32
// ulp either side, both signs.
TEST(Formats, SmallFormatsEveryBoundaryMatchesMpfr) {
  for (const ref::Spec* s : {&ref::kE4m3, &ref::kE5m2, &ref::kE2m1}) {
    Mismatches m;
    for (double mid : ref::midpoints(*s))
      for (double v : ref::around(mid)) ref::check_encode(*s, v, m);
    EXPECT_EQ(m.count(), 0u) << m.text();
  }
}

// The brief's sample size runs in the exhaustive executable; here a smaller
// one keeps the default suite fast while still hitting every input class.
TEST(Formats, RandomFp32MatchesMpfr) {
  for (const ref::Spec* s : ref::kMiniSpecs) {
    Mismatches m;
    for (uint32_t b : ref::fp32_inputs(*s, 0x5eed0000 + static_cast<int>(s->format), 50000, 10000)) {
      ref::check_encode(*s, ref::f32(b), m);
    }
    EXPECT_EQ(m.count(), 0u) << m.text();
  }
}

// Inputs wider than fp32: encoding must round once, from the double.
TEST(Formats, RandomDoublesMatchMpfr) {
  for (const ref::Spec* s : ref::kMiniSpecs) {
    Rng rng(0xd0b1e + static_cast<int>(s->format));
    Mismatches m;
    for (int i = 0; i < 50000; ++i) {
      const int e = s->emin - s->mbits - 3 + static_cast<int>(rng.below(s->emax - s->emin + s->mbits + 6));
      const double v = std::ldexp(1.0 + rng.uniform(), e) * ((rng.next() & 1) ? -1 : 1);
      ref::check_encode(*s, v, m);
    }
    EXPECT_EQ(m.count(), 0u) << m.text();
  }
}

// Values built so that rounding through fp32 first gives a different answer
// (fp32 turns them into exact ties, which then round to even).
TEST(Formats, NoDoubleRoundingThroughFp32) {
  struct Case {
    const ref::Spec* s;
    double v;
  };
  const Case cases[] = {
      {&ref::kBf16, 1.0 + 0x1p-8 + 0x1p-40},   // bf16 tie after fp32 rounding
      {&ref::kF16, 1.0 + 0x1p-11 + 0x1p-40},   // f16 tie after fp32 rounding
      {&ref::kE4m3, 1.0 + 0x1p-4 + 0x1p-40},   // e4m3 tie after fp32 (or bf16) rounding
      {&ref::kE5m2, 1.0 + 0x1p-3 + 0x1p-40},
      {&ref::kE2m1, 1.0 + 0x1p-2 + 0x1p-40},
      {&ref::kE4m3, 1.0 + 0x1p-4 + 0x1p-12},   // tie after bf16 rounding
  };
  for (const Case& c : cases) {
    for (double v : {c.v, -c.v}) {
      const uint32_t want = ref::encode(*c.s, v).code;
      const uint32_t got = encode(c.s->format, v);
      EXPECT_EQ(got, want) << c.s->name << " encode(" << ref::hex_double(v) << ")";
      EXPECT_EQ(std::fabs(ref::decode(*c.s, want)), 1.0 + std::ldexp(1.0, -c.s->mbits)) << c.s->name;
    }
  }
}

// GCC's _Float16 conversion (libgcc soft-fp, correctly rounded) is a second
// reference for f16 that shares nothing with MPFR or the codec.
TEST(Formats, F16AgreesWithCompilerFloat16) {
  Rng rng(0xf16);
  Mismatches m;
  for (int i = 0; i < 200000; ++i) {
    const double v = std::ldexp(1.0 + rng.uniform(), -28 + static_cast<int>(rng.below(46))) * ((rng.next() & 1) ? -1 : 1);
    const _Float16 h = static_cast<_Float16>(v);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    const uint32_t got = encode(Format::f16, v);
    if (got != want) m.add("f16 encode(" + ref::hex_double(v) + ") expected " + hex(want) + " got " + hex(got));
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
}

TEST(Formats, OverflowAndSaturationRules) {
  struct Rule {
    Format f;
    double v;
    uint32_t want;
  };
  const Rule rules[] = {
      {Format::e4m3, 464.0, 0x7e},                       // tie between 448 and 480: saturates
      {Format::e4m3, 1e30, 0x7e},      {Format::e4m3, -1e30, 0xfe},
      {Format::e4m3, INFINITY, 0x7e},  {Format::e4m3, -INFINITY, 0xfe},
      {Format::e2m1, 7.0, 0x7},        {Format::e2m1, -1e300, 0xf},
      {Format::e2m1, INFINITY, 0x7},   {Format::e2m1, NAN, 0x7},
      {Format::e2m1, -NAN, 0xf},       {Format::e2m1, 5.0, 0x6},  // tie 4|6 -> even mantissa (4)
      {Format::e2m1, 0.25, 0x0},       {Format::e2m1, 0.2500001, 0x1},
      {Format::e5m2, 61440.0, 0x7c},   // max + half ulp: tie to even = inf
      {Format::e5m2, 61439.99, 0x7b},  {Format::e5m2, -INFINITY, 0xfc},
      {Format::f16, 65520.0, 0x7c00},  {Format::f16, 65519.99, 0x7bff},
      {Format::bf16, 0x1.ffp127, 0x7f80},
      {Format::bf16, std::nextafter(0x1.ffp127, 0.0), 0x7f7f},
      {Format::e4m3, -0.0, 0x80},      {Format::f16, -0.0, 0x8000},
      {Format::bf16, -0.0, 0x8000},    {Format::e5m2, -0.0, 0x80},
      {Format::e2m1, -0.0, 0x8},       {Format::e4m3, -0x1p-11, 0x80},  // underflow keeps the sign
      {Format::e4m3, 0x1p-10, 0x00},   {Format::e4m3, std::nextafter(0x1p-10, 1.0), 0x01},
      {Format::e4m3, 0x1.8p-9, 0x02},  // tie between subnormals 1 and 2 -> even
  };
  for (const Rule& r : rules) {
    EXPECT_EQ(encode(r.f, r.v), r.want) << format_name(r.f) << " encode(" << ref::hex_double(r.v) << ")";
  }
  EXPECT_EQ(encode(Format::e4m3, NAN) & 0x7f, 0x7fu);
  EXPECT_EQ(encode(Format::e4m3, -NAN), 0xffu);
  EXPECT_TRUE(std::isnan(decode(Format::e5m2, encode(Format::e5m2, NAN))));
  EXPECT_TRUE(std::isnan(decode(Format::bf16, encode(Format::bf16, -NAN))));
  EXPECT_TRUE(std::signbit(decode(Format::bf16, encode(Format::bf16, -NAN))));
}

TEST(Formats, E8m0Rules) {
  struct Rule {
    double v;
    uint32_t want;
  };
  const Rule rules[] = {
      {0.0, 0xff},         {-0.0, 0xff},         {-1.0, 0xff},         {INFINITY, 0xff},
      {-INFINITY, 0xff},   {NAN, 0xff},          {1.0, 0x7f},          {1.5, 0x80},  // tie: odd 0x7f -> even 0x80
      {3.0, 0x80},  // tie between 2 (0x80) and 4 (0x81): stays on the even code
      {std::nextafter(1.5, 0.0), 0x7f},          {std::nextafter(3.0, 4.0), 0x81},
      {1.4, 0x7f},         {0x1p-127, 0x00},     {0x1p-200, 0x00},     {0x1p-1074, 0x00},
      {0x1p127, 0xfe},     {0x1.8p127, 0xfe},    {1e300, 0xfe},        {0x1.8p-128, 0x00},
  };
  for (const Rule& r : rules) {
    EXPECT_EQ(encode(Format::e8m0, r.v), r.want) << "e8m0 encode(" << ref::hex_double(r.v) << ")";
    EXPECT_EQ(ref::encode_e8m0(r.v), r.want) << "reference e8m0 encode(" << ref::hex_double(r.v) << ")";
  }
}

TEST(Formats, E8m0RandomMatchesReference) {
  Rng rng(0xe8);
  Mismatches m;
  for (int i = 0; i < 200000; ++i) {
    const double v = (i % 4 == 0) ? std::ldexp(1.5, -140 + static_cast<int>(rng.below(282)))
                                  : std::ldexp(1.0 + rng.uniform(), -140 + static_cast<int>(rng.below(282)));
    const uint32_t want = ref::encode_e8m0(v), got = encode(Format::e8m0, v);
    if (got != want) m.add("e8m0 encode(" + ref::hex_double(v) + ") expected " + hex(want) + " got " + hex(got));
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
}

TEST(Formats, E8m0EveryCodeRoundTrips) {
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

TEST(Formats, F32EncodeIsIeeeConversion) {
  EXPECT_EQ(encode(Format::f32, 1.0 + 0x1p-24), 0x3f800000u);  // tie -> even
  EXPECT_EQ(encode(Format::f32, 1.0 + 0x1p-24 + 0x1p-50), 0x3f800001u);
  EXPECT_EQ(encode(Format::f32, 1e300), 0x7f800000u);
  EXPECT_EQ(decode(Format::f32, 0x00000001u), 0x1p-149);
}

TEST(Formats, FastBf16MatchesEncodeOnRandomFp32) {
  Rng rng(0xbf16);
  Mismatches m;
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t b = static_cast<uint32_t>(rng.next());
    const float v = ref::f32(b);
    const uint32_t fast = f32_to_bf16_rn(v), slow = encode(Format::bf16, v);
    const bool ok = std::isnan(v) ? ref::is_nan_code(ref::kBf16, fast) && ref::is_nan_code(ref::kBf16, slow) &&
                                        (fast & 0x8000) == (slow & 0x8000)
                                  : fast == slow;
    if (!ok) m.add("bf16 input " + hex(b) + ": encode " + hex(slow) + " f32_to_bf16_rn " + hex(fast));
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
  EXPECT_EQ(float_bits(bf16_to_f32(0x3f81)), 0x3f810000u);
}

// The kernels' f16 output store must be the same function as encode(): all of
// it on 10^6 random fp32 inputs and every boundary the code branches on.
TEST(Formats, FastF16MatchesEncodeOnRandomFp32AndBoundaries) {
  Rng rng(0xf16);
  std::vector<uint32_t> inputs;
  for (int i = 0; i < 1000000; ++i) inputs.push_back(static_cast<uint32_t>(rng.next()));
  for (uint32_t edge : {0x00000000u, 0x00000001u, 0x33000000u, 0x33000001u, 0x32ffffffu, 0x33c00000u, 0x387fe000u,
                        0x387ff000u, 0x387fffffu, 0x38800000u, 0x3f800000u, 0x3f801000u, 0x3f803000u, 0x477fe000u,
                        0x477fefffu, 0x477ff000u, 0x477fffffu, 0x47800000u, 0x7f7fffffu, 0x7f800000u, 0x7f800001u,
                        0x7fc00000u, 0x7fffffffu})
    for (uint32_t sign : {0u, 0x80000000u}) inputs.push_back(edge | sign);
  Mismatches m;
  for (uint32_t b : inputs) {
    const float v = ref::f32(b);
    const uint32_t fast = f32_to_f16_rn(v), slow = encode(Format::f16, v);
    if (fast != slow) m.add("f16 input " + hex(b) + ": encode " + hex(slow) + " f32_to_f16_rn " + hex(fast));
  }
  EXPECT_EQ(m.count(), 0u) << m.text();
  EXPECT_EQ(f32_to_f16_rn(65519.996f), 0x7bffu);
  EXPECT_EQ(f32_to_f16_rn(65520.0f), 0x7c00u);  // the tie rounds to even: inf
  EXPECT_EQ(f32_to_f16_rn(0x1p-24f), 0x0001u);
}

TEST(Formats, F32ToCodeIsEncodeForEveryFormat) {
  Rng rng(0xc0de);
  for (Format f : {Format::f32, Format::bf16, Format::f16, Format::e4m3, Format::e5m2, Format::e2m1})
    for (int i = 0; i < 10000; ++i) {
      const float v = ref::f32(static_cast<uint32_t>(rng.next()));
      if (std::isnan(v)) continue;  // NaN codes: the fast paths' own tests
      ASSERT_EQ(f32_to_code(f, v), encode(f, v)) << format_name(f) << " " << hex(float_bits(v));
    }
}

TEST(Formats, NamesRoundTrip) {
  for (Format f : {Format::f32, Format::bf16, Format::f16, Format::e4m3, Format::e5m2, Format::e2m1, Format::e8m0}) {
    EXPECT_EQ(parse_format(format_name(f)), f) << format_name(f);
  }
  EXPECT_THROW(parse_format("e3m4"), InputError);
  EXPECT_THROW(parse_format(""), InputError);
}

}  // namespace
}  // namespace moecheck

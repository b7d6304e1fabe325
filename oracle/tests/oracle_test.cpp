// The oracle against naive multiprecision evaluations, exactness on integer
// cases, thread-count invariance and the certified precision.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <string>

#include "core/formats_reference.hpp"
#include "oracle/oracle.hpp"
#include "oracle/tests/test_util.hpp"

namespace moecheck {
namespace {

using ref::hex_double;  // errors near 2^-1000 print as 0 with std::to_string
using test::small_spec;

// The certified bound is never exceeded: the oracle agrees with naive MPFR
// evaluations at ~256 and ~512 bits within err + the naive's own slack.
RC_GTEST_PROP(OracleProperty, AgreesWithNaiveMpfrWithinCertifiedBound, ()) {
  const GenSpec spec = *small_spec();
  const Case c = generate_case(spec);
  const OracleResult o = run_oracle(c, 1);
  const std::string msg = test::check_against_naive(c, o);
  MC_RC_CHECK(msg.empty(), msg);
}

// At least 100 certified bits relative to |y| wherever y_hi + y_lo can hold
// them (|y| >= 2^-916), however deep the cancellation (Ziv refinement), an
// exact zero certified with err = 0, and err <= 2^-110 c + 2^-104 |y|
// everywhere (the second term: y_hi + y_lo holds ~107 bits of y).
RC_GTEST_PROP(OracleProperty, CertifiesAtLeast100Bits, ()) {
  const GenSpec spec = *small_spec(64, 48, 2);
  const Case c = generate_case(spec);
  const OracleResult o = run_oracle(c, 1);
  for (size_t i = 0; i < o.y_hi.size(); ++i) {
    if (!std::isfinite(o.y_hi[i])) continue;  // NaN or overflow (inf in x): nothing to certify
    const double y = std::fabs(o.y_hi[i]);
    MC_RC_CHECK(o.err[i] <= 0x1p-110 * o.cond[i] + 0x1p-104 * y + 0x1p-1000,
                  "err " + hex_double(o.err[i]) + " c " + hex_double(o.cond[i]) + " y " + hex_double(o.y_hi[i]) + " at " +
                      std::to_string(i) + " case " + c.provenance);
    MC_RC_CHECK(y != 0 || o.err[i] == 0, "y = 0 with err " + hex_double(o.err[i]) + " at " + std::to_string(i) +
                                              " case " + c.provenance);
    if (y >= 0x1p-916)  // below, y_lo is subnormal: fewer than 107 bits fit
      MC_RC_CHECK(oracle_correct_bits(o, i) >= 100,
                    "only " + std::to_string(oracle_correct_bits(o, i)) + " bits at " + std::to_string(i) +
                        " case " + c.provenance);
  }
}

// Bilinear activation on integer values: every step is exact, so y is the
// exact integer (times powers of two) and the bound is zero.
RC_GTEST_PROP(OracleProperty, IntegerBilinearIsExact, ()) {
  GenSpec spec = *small_spec();
  spec.values = ValueDist::integer;
  spec.act.kind = Activation::bilinear;
  spec.weights = *rc::gen::elementOf(std::vector<WeightFormat>{WeightFormat::bf16, WeightFormat::f16});
  const Case c = generate_case(spec);
  const OracleResult o = run_oracle(c, 1);
  const Shape& s = c.shape;
  std::vector<double> row;
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t i = 0; i < s.H; ++i) {
      // Exact reference in __int128 fixed point (routing weights 2^-2..2^0).
      __int128 acc = 0;
      for (int64_t j = 0; j < s.k; ++j) {
        const int64_t slot = c.slot_of(c.id(t, j));
        for (int64_t n = 0; n < s.I; ++n) {
          __int128 g = 0, u = 0;
          for (int64_t q = 0; q < s.H; ++q) {
            const auto xv = static_cast<int64_t>(c.x_value(t, q));
            g += static_cast<int64_t>(c.w13.value(slot, gate_row(c.layout, s.I, n), q)) * xv;
            u += static_cast<int64_t>(c.w13.value(slot, up_row(c.layout, s.I, n), q)) * xv;
          }
          acc += static_cast<__int128>(c.w2.value(slot, i, n)) * g * u *
                 static_cast<int64_t>(c.weight(t, j) * 4.0f);
        }
      }
      const double expect = static_cast<double>(acc) / 4.0;
      const int64_t idx = t * s.H + i;
      MC_RC_CHECK(o.y_hi[idx] == expect && o.y_lo[idx] == 0.0 && o.err[idx] == 0.0,
                    "t=" + std::to_string(t) + " i=" + std::to_string(i) + " got " + std::to_string(o.y_hi[idx]) +
                        " expected " + std::to_string(expect) + " err " + std::to_string(o.err[idx]) + " case " +
                        c.provenance);
    }
}

// Results do not depend on the thread count.
TEST(Oracle, IdenticalForAnyThreadCount) {
  GenSpec spec;
  spec.shape = {5, 96, 40, 6, 3};
  spec.weights = WeightFormat::nvfp4;
  spec.x_format = Format::f32;
  spec.act.kind = Activation::geglu;
  spec.values = ValueDist::heavy;
  spec.seed = 7;
  const Case c = generate_case(spec);
  const OracleResult a = run_oracle(c, 1), b = run_oracle(c, 2), d = run_oracle(c, 3);
  for (const OracleResult* r : {&b, &d}) {
    EXPECT_EQ(a.y_hi, r->y_hi);
    EXPECT_EQ(a.y_lo, r->y_lo);
    EXPECT_EQ(a.err, r->err);
    EXPECT_EQ(a.cond, r->cond);
    EXPECT_EQ(a.h, r->h);
  }
}

// round_oracle on hand-made double-doubles at rounding boundaries.
TEST(Oracle, RoundOracleBreaksTiesWithTheLowPart) {
  // 1 + 2^-8 is the bf16 midpoint between 1 and 1 + 2^-7.
  const double mid = 1 + 0x1p-8;
  EXPECT_EQ(round_oracle(Format::bf16, mid, 0), encode(Format::bf16, 1.0));  // tie to even
  EXPECT_EQ(round_oracle(Format::bf16, mid, 0x1p-60), encode(Format::bf16, 1 + 0x1p-7));
  EXPECT_EQ(round_oracle(Format::bf16, mid, -0x1p-60), encode(Format::bf16, 1.0));
  // fp32 midpoint 1 + 2^-24, and its negative.
  EXPECT_EQ(round_oracle(Format::f32, 1 + 0x1p-24, 0x1p-80), encode(Format::f32, 1 + 0x1p-23));
  EXPECT_EQ(round_oracle(Format::f32, -(1 + 0x1p-24), -0x1p-80), encode(Format::f32, -(1 + 0x1p-23)));
  EXPECT_EQ(round_oracle(Format::f32, 1 + 3 * 0x1p-24, -0x1p-80), encode(Format::f32, 1 + 0x1p-23));
  // e4m3: 448 saturates; 464 is the midpoint of 448 and the (absent) 480.
  EXPECT_EQ(round_oracle(Format::e4m3, 464, 1e-20), encode(Format::e4m3, 448));
  // f16 overflow threshold 65520 = 65504 + 16: at or above goes to inf.
  EXPECT_EQ(round_oracle(Format::f16, 65520, -1e-12), encode(Format::f16, 65504));
  EXPECT_EQ(round_oracle(Format::f16, 65520, 1e-12), encode(Format::f16, INFINITY));
  // A non-boundary hi: lo does not matter.
  EXPECT_EQ(round_oracle(Format::bf16, 1 + 0x1p-9, -0x1p-60), encode(Format::bf16, 1.0));
}

}  // namespace
}  // namespace moecheck

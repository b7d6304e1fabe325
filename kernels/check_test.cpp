// The accuracy rule (kernels/check.hpp) element by element, and check_output
// (what `run` and `report` judge by) on the cases of testdata/rule_cases.hpp.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/check.hpp"
#include "kernels/registry.hpp"
#include "kernels/testdata/rule_cases.hpp"

namespace moecheck {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// One output whose exact value is hi, known to within err.
OracleResult one_output(double hi, double err = 0) {
  OracleResult o;
  o.y_hi = {hi};
  o.y_lo = {0};
  o.err = {err};
  o.cond = {std::fabs(hi)};
  return o;
}

Judged judge(Format f, double exact, double y, double bound, bool excuse = false) {
  return judge_element(f, one_output(exact), 0, y, bound, excuse);
}

TEST(AccuracyRule, NaNExactNeedsNaN) {
  EXPECT_EQ(judge(Format::bf16, kNaN, kNaN, 1), Judged::pass);
  EXPECT_EQ(judge(Format::bf16, kNaN, 0, 1), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, kNaN, kInf, 1), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, kNaN, 0, 1, true), Judged::fail) << "the overflow excuse never covers a finite y";
}

TEST(AccuracyRule, FiniteYWithinBoundOfExact) {
  EXPECT_EQ(judge(Format::bf16, 1.0, 1.0 + 0x1p-8, 0x1p-8), Judged::pass);
  EXPECT_EQ(judge(Format::bf16, 1.0, 1.0 + 0x1p-7, 0x1p-8), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, 1.0, kNaN, 0x1p-8), Judged::fail);
  // The oracle's own error widens the bound: it pins y_o only that closely.
  EXPECT_EQ(judge_element(Format::bf16, one_output(1.0, 0x1p-8), 0, 1.0 + 0x1p-7, 0x1p-8, false), Judged::pass);
}

// bf16's largest finite value is 0x1.FEp127; values from 0x1.FFp127 round to inf.
TEST(AccuracyRule, InfinityWhereTheExactValueRoundsPastTheRange) {
  const double past = -3.8e38, inside = 0x1.FCp127;
  EXPECT_EQ(judge(Format::bf16, past, -kInf, 0), Judged::pass) << "run and replay disagreed here (issue 21, item 2)";
  EXPECT_EQ(judge(Format::bf16, past, kInf, 0), Judged::fail) << "wrong sign";
  EXPECT_EQ(judge(Format::f32, past, -kInf, 0), Judged::pass);
  EXPECT_EQ(judge(Format::bf16, inside, kInf, 0), Judged::fail);
  // Within its bound of the overflow threshold, inf is as good as the finite neighbour.
  EXPECT_EQ(judge(Format::bf16, inside, kInf, 0x1p121), Judged::pass);
  EXPECT_EQ(judge(Format::bf16, past, -0x1.FEp127, 0x1p125), Judged::pass) << "finite within its bound";
  EXPECT_EQ(judge(Format::bf16, 1.0, kInf, 1), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, 1.0, kInf, 1, true), Judged::excused);
}

// A cancellation to 0 whose bound reaches past f16's range on both sides
// (found by `moecheck fuzz --variant warp_decode --backend host --seed 7`:
// fp8_block128 weights, f32 x, y f16, c = 6.4e22): either inf is within it.
TEST(AccuracyRule, InfinityOfEitherSignWhereTheBoundReachesPastTheRange) {
  EXPECT_EQ(judge(Format::f16, 0.0, -kInf, 2.5e20), Judged::pass);
  EXPECT_EQ(judge(Format::f16, 0.0, kInf, 2.5e20), Judged::pass);
  EXPECT_EQ(judge(Format::f16, 0.0, -kInf, 6e4), Judged::fail);
  EXPECT_EQ(judge(Format::f16, -1e5, kInf, 1e5), Judged::fail) << "+inf is out of reach of -1e5 +- 1e5";
}

// An inf in x (f16 heavy-tailed x, mxfp4 weights, bilinear) makes the exact
// value +inf and its bound NaN; y = +inf was failed as "outside the bound"
// (found by `moecheck fuzz --variant warp_decode_h32 --backend host --seed 1`).
TEST(AccuracyRule, InfiniteExactValueNeedsThatInfinity) {
  EXPECT_EQ(judge(Format::bf16, kInf, kInf, kNaN), Judged::pass);
  EXPECT_EQ(judge(Format::bf16, -kInf, -kInf, kNaN), Judged::pass);
  EXPECT_EQ(judge(Format::bf16, kInf, -kInf, kNaN), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, kInf, 3.0e38, kNaN), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, kInf, kNaN, kNaN), Judged::fail);
  EXPECT_EQ(judge(Format::bf16, kInf, kNaN, kNaN, true), Judged::excused) << "an intermediate overflow may give NaN";
}

TEST(AccuracyRule, NothingJudgedIsNotAPass) {
  const OracleResult o = one_output(1.0);
  const Judgement j = judge_output(Format::bf16, o, {kInf}, {1.0}, true, 0, 1);
  EXPECT_EQ(j.excused, 1);
  EXPECT_TRUE(j.nothing_to_compare());
  EXPECT_TRUE(judge_output(Format::bf16, o, {1.0}, {1.0}, false, 0, 0).nothing_to_compare());
}

// The zero-writing variant fails every case (each has nonzero or NaN exact
// outputs); the real variant passes each, the overflowing routing weight
// included, with the same rule.
TEST(CheckOutput, ZeroWriterFailsAndWarpDecodePassesEveryRuleCase) {
  const Variant& wd = find_variant("warp_decode");
  const testing::ZeroWriter zero(wd);
  for (const testing::RuleCase& rc : testing::rule_cases()) {
    const OracleResult o = run_oracle(rc.c);
    std::vector<uint8_t> y;
    zero.run_host(rc.c, y);
    const CheckResult z = check_output(rc.c, o, zero, y);
    EXPECT_FALSE(z.ok()) << rc.name << ": " << z.judgement.judged << " judged, none failed";
    EXPECT_GT(z.judgement.failed, 0) << rc.name;
    if (rc.name == "every_w13_nan")
      EXPECT_NE(z.first_violation.find("so y must be NaN"), std::string::npos) << z.first_violation;
    wd.run_host(rc.c, y);
    const CheckResult r = check_output(rc.c, o, wd, y);
    EXPECT_TRUE(r.ok()) << rc.name << ": " << r.judgement.failed << " of " << r.judgement.judged
                        << " fail; first: " << r.first_violation;
    EXPECT_EQ(r.judgement.judged + r.judgement.excused, rc.c.shape.T * rc.c.shape.H) << rc.name;
    if (rc.name == "routing_weight_3e38")
      EXPECT_GT(r.metrics.nonfinite, 0) << "the case must hold outputs whose correctly rounded value is +-inf";
    if (rc.name == "every_w13_nan" || rc.name == "x_nan_and_inf")
      EXPECT_GT(r.judgement.nan_expected, 0) << rc.name << ": NaN exact outputs are judged, not left out";
  }
}

}  // namespace
}  // namespace moecheck

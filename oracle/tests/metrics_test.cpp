// Metrics on outputs whose errors are known by construction.
#include <gtest/gtest.h>

#include <cmath>

#include "core/generate.hpp"
#include "oracle/metrics.hpp"
#include "oracle/oracle.hpp"

namespace moecheck {
namespace {

OracleResult small_oracle(uint64_t seed) {
  GenSpec spec;
  spec.shape = {2, 48, 16, 4, 2};
  spec.seed = seed;
  return run_oracle(generate_case(spec));
}

std::vector<double> rounded(const OracleResult& o, Format f) {
  std::vector<double> y(o.y_hi.size());
  for (size_t i = 0; i < y.size(); ++i) y[i] = decode(f, round_oracle(f, o.y_hi[i], o.y_lo[i]));
  return y;
}

TEST(Metrics, CorrectlyRoundedOutputIsPerfect) {
  const OracleResult o = small_oracle(3);
  for (Format f : {Format::f32, Format::bf16, Format::f16}) {
    const Metrics m = compute_metrics(o, rounded(o, f), f, nullptr);
    EXPECT_EQ(m.frac_correctly_rounded, 1.0) << format_name(f);
    EXPECT_EQ(m.max_ulps, 0);
    EXPECT_EQ(m.nonfinite, 0);
    // Half an ulp of f at most, relative to |y|.
    EXPECT_LE(m.max_rel, unit_roundoff(f) * (1 + 1e-12));
    EXPECT_GT(m.max_abs, 0);
    EXPECT_NEAR(m.cosine, 1.0, 1e-4);
  }
}

TEST(Metrics, OneUlpOffIsFoundWithItsIndex) {
  const OracleResult o = small_oracle(4);
  std::vector<double> y = rounded(o, Format::bf16);
  const size_t at = 37;
  const uint32_t code = encode(Format::bf16, y[at]);
  y[at] = decode(Format::bf16, code + 1);  // next magnitude: one ulp away
  const Metrics m = compute_metrics(o, y, Format::bf16, nullptr);
  EXPECT_EQ(m.max_ulps, 1);
  EXPECT_EQ(m.max_ulps_index, static_cast<int64_t>(at));
  EXPECT_EQ(m.frac_correctly_rounded, 1.0 - 1.0 / static_cast<double>(y.size()));
}

// Outputs that cancel to exactly 0 (cancel distribution, I even): a kernel's
// residue of 2^-20 is a huge ulp distance from 0 but no measure of accuracy,
// so max ulps leaves it out, as relative error does; it still counts as not
// correctly rounded and in u*c units.
TEST(Metrics, MaxUlpsLeavesOutCancellationResidues_Cancel_I16_bf16) {
  GenSpec spec;
  spec.shape = {4, 32, 16, 4, 2};
  spec.values = ValueDist::cancel;
  spec.seed = 8;
  const OracleResult o = run_oracle(generate_case(spec));
  std::vector<double> y = rounded(o, Format::bf16);
  // A residue (|y| < 2^-12 c) made many ulps wrong, and how many outputs
  // are not residues (those relative error and ulps are taken over).
  int64_t residue = -1, not_residues = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    if (std::fabs(o.y(i)) >= 0x1p-12 * o.cond[i]) ++not_residues;
    else if (residue < 0 && o.y_hi[i] != 0) residue = static_cast<int64_t>(i);
  }
  ASSERT_GE(residue, 0);
  ASSERT_GT(o.cond[residue], 0.0);
  y[residue] = -4 * o.y(residue);
  const Metrics m = compute_metrics(o, y, Format::bf16, nullptr);
  EXPECT_EQ(m.rel_count, not_residues);
  EXPECT_NE(m.max_ulps_index, residue);
  EXPECT_LE(m.max_ulps, 0.5);
  EXPECT_EQ(m.frac_correctly_rounded, 1.0 - 1.0 / static_cast<double>(y.size()));
  EXPECT_EQ(m.max_ucond_index, residue);
}

TEST(Metrics, ViolationsAgainstBounds) {
  const OracleResult o = small_oracle(5);
  std::vector<double> y = rounded(o, Format::f32);
  Bounds b;
  b.rigorous.assign(y.size(), 0);
  b.estimate.assign(y.size(), 0);
  for (size_t i = 0; i < y.size(); ++i) b.rigorous[i] = std::fabs(o.y(i)) * 0x1p-23;  // >= half an fp32 ulp
  Metrics m = compute_metrics(o, y, Format::f32, &b);
  EXPECT_EQ(m.violations, 0);
  EXPECT_LE(m.max_bound_ratio, 1.0);
  y[5] = std::nextafter(std::nextafter(static_cast<float>(y[5]), INFINITY), INFINITY);
  y[9] = NAN;
  m = compute_metrics(o, y, Format::f32, &b);
  EXPECT_EQ(m.violations, 2);
  EXPECT_EQ(m.first_violation, 5);
  EXPECT_EQ(m.nonfinite, 1);
  EXPECT_TRUE(std::isinf(m.max_abs));
  EXPECT_EQ(m.max_abs_index, 9);
}

TEST(Metrics, QuantilesAndHistogram) {
  const OracleResult o = small_oracle(6);
  std::vector<double> y(o.y_hi.size());
  // Error exactly j * u32 * c on element j (j < 96): a known distribution.
  for (size_t i = 0; i < y.size(); ++i) y[i] = o.y(i) + static_cast<double>(i) * 0x1p-24 * o.cond[i];
  const Metrics m = compute_metrics(o, y, Format::f32, nullptr);
  EXPECT_NEAR(m.ucond_q.max, static_cast<double>(y.size() - 1), 1e-6 * y.size());
  EXPECT_NEAR(m.ucond_q.p50, static_cast<double>(y.size() / 2 - 1), 1.0);
  int64_t total = m.ucond_hist.zero + m.ucond_hist.inf;
  for (auto v : m.ucond_hist.counts) total += v;
  EXPECT_EQ(total, static_cast<int64_t>(y.size()));
}

}  // namespace
}  // namespace moecheck

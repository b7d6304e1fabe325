// Validation of the problem model: every impossible case is rejected with a
// message that names the problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.hpp"
#include "core/generate.hpp"

namespace moecheck {
namespace {

Case small_case(WeightFormat wf = WeightFormat::bf16) {
  GenSpec s;
  s.shape = {3, 40, 24, 6, 2};
  s.weights = wf;
  s.seed = 7;
  return generate_case(s);
}

void expect_rejected(const Case& c, const std::string& fragment) {
  try {
    validate(c);
    FAIL() << "validate accepted a case that should fail with '" << fragment << "'";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << "message was: " << e.what();
  }
}

TEST(Validate, AcceptsGeneratedCasesOfEveryFormat) {
  for (WeightFormat f : all_weight_formats()) EXPECT_NO_THROW(validate(small_case(f))) << weight_format_name(f);
}

TEST(Validate, RejectsTopKAboveExpertCount) {
  Case c = small_case();
  c.shape.k = 7;
  expect_rejected(c, "top-k exceeds");
}

TEST(Validate, RejectsZeroSizedDimensions) {
  for (int d = 0; d < 5; ++d) {
    Case c = small_case();
    int64_t* dims[] = {&c.shape.T, &c.shape.H, &c.shape.I, &c.shape.E, &c.shape.k};
    *dims[d] = 0;
    expect_rejected(c, "at least 1");
  }
}

TEST(Validate, RejectsExpertIdOutOfRange) {
  Case c = small_case();
  c.topk_ids[3] = 6;
  expect_rejected(c, "outside [0, 6)");
  c.topk_ids[3] = -1;
  expect_rejected(c, "outside [0, 6)");
}

TEST(Validate, RejectsRepeatedIdWithinToken) {
  Case c = small_case();
  c.topk_ids[1] = c.topk_ids[0];
  expect_rejected(c, "repeated within token 0");
}

TEST(Validate, RejectsNonFiniteRoutingWeights) {
  Case c = small_case();
  c.topk_weights[2] = NAN;
  expect_rejected(c, "not finite");
  c.topk_weights[2] = INFINITY;
  expect_rejected(c, "not finite");
}

TEST(Validate, RejectsTensorSizesNotMatchingShape) {
  Case c = small_case();
  c.x.pop_back();
  expect_rejected(c, "x holds");
  c = small_case();
  c.w2.data.resize(c.w2.data.size() - 2);
  expect_rejected(c, "w2 holds");
}

TEST(Validate, RejectsMissingScales) {
  Case c = small_case(WeightFormat::mxfp8);
  c.w13.scales.clear();
  expect_rejected(c, "missing scales");
}

TEST(Validate, RejectsRoutingToExpertWithoutStoredWeights) {
  GenSpec s;
  s.shape = {1, 16, 8, 8, 2};
  s.storage = ExpertStorage::routed;
  Case c = generate_case(s);
  ASSERT_EQ(c.stored_count(), 2);
  for (int32_t e = 0; e < 8; ++e)
    if (c.slot_of(e) < 0) {
      c.topk_ids[0] = e;
      break;
    }
  expect_rejected(c, "no stored weights");
}

TEST(Validate, RejectsOutputFormatsOtherThanBf16F16F32) {
  Case c = small_case();
  for (Format f : {Format::bf16, Format::f16, Format::f32}) {
    c.y_format = f;
    EXPECT_NO_THROW(validate(c)) << format_name(f);
  }
  for (Format f : {Format::e4m3, Format::e2m1, Format::e8m0}) {
    c.y_format = f;
    expect_rejected(c, "y format must be bf16, f16 or f32, got " + std::string(format_name(f)));
  }
}

TEST(SingleToken, KeepsWeightsAndTakesTheTokensRowAndRouting) {
  Case c = small_case(WeightFormat::mxfp8);
  c.y_format = Format::f16;
  const Case s = single_token(c, 2);
  EXPECT_NO_THROW(validate(s));
  EXPECT_EQ(s.shape.T, 1);
  EXPECT_EQ(s.y_format, Format::f16);
  for (int64_t n = 0; n < c.shape.H; ++n) ASSERT_EQ(s.x_value(0, n), c.x_value(2, n));
  for (int64_t j = 0; j < c.shape.k; ++j) {
    EXPECT_EQ(s.id(0, j), c.id(2, j));
    EXPECT_EQ(s.weight(0, j), c.weight(2, j));
  }
  EXPECT_EQ(s.w13.data, c.w13.data);
  EXPECT_TRUE(s.provenance.empty());
}

TEST(PoisonUnroutedExperts, NaNsExactlyTheUnroutedStoredExpertsAndStaysValid) {
  GenSpec s;
  s.shape = {2, 40, 24, 8, 2};
  s.storage = ExpertStorage::all;
  s.weights = WeightFormat::nvfp4;
  Case c = generate_case(s);
  std::vector<bool> used(8, false);
  for (int32_t e : c.topk_ids) used[static_cast<size_t>(e)] = true;
  const int64_t unused = std::count(used.begin(), used.end(), false);
  ASSERT_GT(unused, 0);
  EXPECT_EQ(poison_unrouted_experts(c), unused);
  EXPECT_NO_THROW(validate(c));
  for (int32_t e = 0; e < 8; ++e)
    for (const WeightStack* w : {&c.w13, &c.w2})
      EXPECT_EQ(std::isnan(w->value(c.slot_of(e), 0, 0)), !used[static_cast<size_t>(e)]) << "expert " << e;
}

TEST(Layout, GateAndUpRowsCoverTheFusedTensorOnce) {
  for (GateUpLayout l : {GateUpLayout::concatenated, GateUpLayout::interleaved}) {
    const int64_t I = 5;
    std::vector<int> seen(2 * I, 0);
    for (int64_t n = 0; n < I; ++n) ++seen[gate_row(l, I, n)], ++seen[up_row(l, I, n)];
    for (int v : seen) EXPECT_EQ(v, 1) << layout_name(l);
  }
  EXPECT_EQ(up_row(GateUpLayout::interleaved, 5, 2), 5);
  EXPECT_EQ(up_row(GateUpLayout::concatenated, 5, 2), 7);
}

TEST(Presets, MatchTheDesignTable) {
  const Preset& p = find_preset("deepseek-v3");
  EXPECT_EQ(p.H, 7168);
  EXPECT_EQ(p.I, 2048);
  EXPECT_EQ(p.E, 256);
  EXPECT_EQ(p.k, 8);
  EXPECT_THROW(find_preset("gpt-5"), InputError);
}

}  // namespace
}  // namespace moecheck

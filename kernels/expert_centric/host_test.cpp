// CPU tests of the expert-centric host evaluation: the declared numerics,
// evaluated on the host, land within the bound derived from that declaration
// on small random cases (all three variants, every weight format, x in
// bf16 / f16 / f32, y in bf16 / f16 / f32, all activations, both layouts,
// K tails).
#include <gtest/gtest.h>

#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/test_support.hpp"

namespace moecheck::ec::test {
namespace {

// bf16: every variant, activation and layout over three shapes and batch
// sizes; every other weight format (and x in f16 / f32) on fewer cases.
std::vector<Config> host_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"h64_i32_e8_k2", {0, 64, 32, 8, 2}}, {"h200_i72_e16_k4", {0, 200, 72, 16, 4}}, {"h37_i19_e5_k5", {0, 37, 19, 5, 5}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const Format xs[] = {Format::bf16, Format::f16, Format::f32};
  int i = 0;
  for (const char* v : {"expert_centric", "expert_centric_fused", "expert_centric_mxfp8"})
    for (WeightFormat wf : all_weight_formats())
      for (auto& [name, s] : shapes)
        for (int64_t T : {1, 3, 17}) {
          if (wf != WeightFormat::bf16 && T == 3) continue;
          Config c;
          c.variant = v, c.shape_name = name, c.shape = s, c.shape.T = T, c.weights = wf;
          c.x = wf == WeightFormat::bf16 ? Format::bf16 : xs[i % 3];
          c.y = xs[(i / 3) % 3];
          c.act = acts[i % 4];
          c.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
          c.routing = i % 3 == 0 ? RoutingDist::zipf : RoutingDist::uniform;
          c.values = i % 5 == 4 ? ValueDist::integer : ValueDist::normal;
          c.seed = 100 + i++;
          out.push_back(c);
        }
  return out;
}

std::unique_ptr<Variant> make(const std::string& name) {
  if (name == "expert_centric") return make_expert_centric();
  if (name == "expert_centric_fused") return make_expert_centric_fused();
  return make_expert_centric_mxfp8();
}

class ExpertCentricHost : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricHost, WithinDerivedBound) { expect_host_within_bound(*make(GetParam().variant), GetParam()); }

INSTANTIATE_TEST_SUITE_P(Small, ExpertCentricHost, ::testing::ValuesIn(host_configs()),
                         [](const auto& info) { return name_of(info.param); });

// The declaration covers what the quantized path does: a bf16 tile
// rounding for every weight format but bf16, x rounded to bf16 (element-wise)
// when it comes in f16 / f32, MXFP8 x re-quantized from its own values.
TEST(ExpertCentricHostNumerics, DeclaresTileRoundingAndXConversion_fp8_channel_xf32) {
  GenSpec g;
  g.shape = {2, 64, 32, 8, 2};
  g.weights = WeightFormat::fp8_channel;
  g.x_format = Format::f32;
  const Case c = generate_case(g);
  const Numerics n = make_expert_centric()->numerics(c);
  ASSERT_TRUE(n.weight_tile_format.has_value());
  EXPECT_EQ(*n.weight_tile_format, Format::bf16);
  EXPECT_EQ(n.weight_roundings, 1);
  ASSERT_TRUE(n.x_requant.has_value());
  EXPECT_EQ(*n.x_requant, Format::bf16);
  EXPECT_EQ(n.requant_block, 0);
  const Numerics m = make_expert_centric_mxfp8()->numerics(c);
  EXPECT_EQ(*m.x_requant, Format::e4m3);
  EXPECT_EQ(m.requant_block, 32);
}

TEST(ExpertCentricHostSupport, RejectsMixedWeightFormatsWithReason) {
  GenSpec g;
  g.shape = {2, 64, 32, 8, 2};
  g.weights = WeightFormat::fp8_channel;
  Case c = generate_case(g);
  g.weights = WeightFormat::mxfp4;
  c.w2 = generate_case(g).w2;
  const Support s = make_expert_centric()->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("one format"), std::string::npos) << s.reason;
}

}  // namespace
}  // namespace moecheck::ec::test

// CPU tests of the expert-centric host evaluation: the declared numerics,
// evaluated on the host, land within the bound derived from that declaration
// on small random cases (both variants, all activations, both layouts,
// K tails).
#include <gtest/gtest.h>

#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/test_support.hpp"

namespace moecheck::ec::test {
namespace {

std::vector<Config> host_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"h64_i32_e8_k2", {0, 64, 32, 8, 2}}, {"h200_i72_e16_k4", {0, 200, 72, 16, 4}}, {"h37_i19_e5_k5", {0, 37, 19, 5, 5}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  int i = 0;
  for (const char* v : {"expert_centric", "expert_centric_fused"})
    for (auto& [name, s] : shapes)
      for (int64_t T : {1, 3, 17}) {
        Config c;
        c.variant = v, c.shape_name = name, c.shape = s, c.shape.T = T;
        c.act = acts[i % 4];
        c.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
        c.routing = i % 3 == 0 ? RoutingDist::zipf : RoutingDist::uniform;
        c.values = i % 5 == 4 ? ValueDist::integer : ValueDist::normal;
        c.seed = 100 + i++;
        out.push_back(c);
      }
  return out;
}

class ExpertCentricHost : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricHost, WithinDerivedBound) {
  const Config& cfg = GetParam();
  auto v = cfg.variant == "expert_centric" ? make_expert_centric() : make_expert_centric_fused();
  const Case c = generate_case(spec_of(cfg));
  ASSERT_TRUE(v->supports(c).ok) << v->supports(c).reason;
  std::vector<uint8_t> y;
  v->run_host(c, y);
  const bench::OracleCheck r = bench::check_against_oracle(*v, c, y);
  EXPECT_TRUE(r.ok) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Small, ExpertCentricHost, ::testing::ValuesIn(host_configs()),
                         [](const auto& info) { return name_of(info.param); });

TEST(ExpertCentricHostSupport, RejectsNonBf16WithReason) {
  GenSpec g;
  g.shape = {2, 64, 32, 8, 2};
  g.weights = WeightFormat::fp8_channel;
  const Case c = generate_case(g);
  const Support s = make_expert_centric()->supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("bf16"), std::string::npos) << s.reason;
}

}  // namespace
}  // namespace moecheck::ec::test

// CPU tests of the `auto` variant: the crossover table is well formed, names
// registered variants with a device path, and auto answers for a case
// exactly as the variant it picks.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "core/generate.hpp"
#include "kernels/auto/auto.hpp"
#include "kernels/auto/crossover.hpp"
#include "kernels/registry.hpp"

namespace moecheck {
namespace {

using namespace autovariant;

TEST(AutoCrossover, Rows_are_increasing_end_with_any_T_and_name_device_variants) {
  auto check = [](const char* row, const Segment* segs) {
    int64_t last = 0;
    int q = 0;
    for (; q < 4 && segs[q].variant; ++q) {
      EXPECT_GT(segs[q].max_T, last) << row << " segment " << q;
      last = segs[q].max_T;
      const Variant* v = Registry::instance().find(segs[q].variant);
      ASSERT_NE(v, nullptr) << row << ": " << segs[q].variant << " is not registered";
      EXPECT_EQ(v->has_device(), find_variant("auto").has_device()) << row << ": " << segs[q].variant;
    }
    EXPECT_EQ(last, kAnyT) << row << ": the last segment must cover every T";
  };
  for (const CrossoverRow& r : kCrossover) {
    check(r.preset, r.segments);
    const Preset& p = find_preset(r.preset);
    EXPECT_TRUE(p.H == r.H && p.I == r.I && p.k == r.k) << r.preset << ": row shape differs from the preset";
  }
  check("default 16-bit", kDefaultSegments16);
  check("default quantized", kDefaultSegmentsQ);
}

TEST(AutoCrossover, Choices_follow_the_measured_crossovers) {
  constexpr WeightFormat bf16 = WeightFormat::bf16;
  EXPECT_STREQ(choose({8, 2048, 768, 128, 8}, bf16), "warp_decode");
  EXPECT_STREQ(choose({16, 2048, 768, 128, 8}, bf16), "expert_centric_fused");
  EXPECT_STREQ(choose({4, 4096, 1536, 128, 8}, bf16), "warp_decode");
  EXPECT_STREQ(choose({8, 4096, 1536, 128, 8}, bf16), "expert_centric_fused");
  EXPECT_STREQ(choose({1, 7168, 2048, 256, 8}, bf16), "warp_decode");
  EXPECT_STREQ(choose({32, 7168, 2048, 256, 8}, bf16), "expert_centric_fused");
  EXPECT_STREQ(choose({8, 4096, 1536, 128, 8}, WeightFormat::f16), "expert_centric_fused");
  // Quantized weights: the weight-only expert-centric path loses longer.
  for (WeightFormat w : {WeightFormat::fp8_channel, WeightFormat::fp8_block128, WeightFormat::mxfp8,
                         WeightFormat::mxfp4, WeightFormat::nvfp4}) {
    const std::string at(weight_format_name(w));
    EXPECT_STREQ(choose({16, 4096, 1536, 128, 8}, w), "warp_decode") << at;
    EXPECT_STREQ(choose({32, 4096, 1536, 128, 8}, w), "expert_centric_fused") << at;
    EXPECT_STREQ(choose({16, 2048, 768, 128, 8}, w), "warp_decode") << at;
    EXPECT_STREQ(choose({17, 2048, 768, 128, 8}, w), "expert_centric_fused") << at;
    EXPECT_STREQ(choose({32, 7168, 2048, 256, 8}, w), "warp_decode") << at;
    EXPECT_STREQ(choose({33, 7168, 2048, 256, 8}, w), "expert_centric_fused") << at;
    EXPECT_STREQ(choose({16, 100, 30, 4, 2}, w), "warp_decode") << at;
  }
  // E is not part of the key (the device sees storage slots only).
  EXPECT_STREQ(choose({8, 4096, 1536, 9, 8}, bf16), choose({8, 4096, 1536, 128, 8}, bf16));
  EXPECT_STREQ(choose({3, 100, 30, 4, 2}, bf16), "warp_decode");
}

TEST(AutoVariant, Answers_as_the_variant_it_picks) {
  const Variant& a = find_variant("auto");
  EXPECT_FALSE(a.claims().batch_invariant) << "the choice depends on T";
  EXPECT_TRUE(a.claims().deterministic);
  // Shapes outside the table: the default rows pick warp_decode at T = 1,
  // expert_centric_fused at 9 with bf16 weights, warp_decode at 9 with MXFP8.
  ASSERT_STRNE(choose({1, 96, 40, 6, 2}, WeightFormat::bf16), choose({9, 96, 40, 6, 2}, WeightFormat::bf16));
  ASSERT_STRNE(choose({9, 96, 40, 6, 2}, WeightFormat::bf16), choose({9, 96, 40, 6, 2}, WeightFormat::mxfp8));
  const std::pair<Shape, WeightFormat> points[] = {{Shape{1, 96, 40, 6, 2}, WeightFormat::bf16},
                                                   {Shape{9, 96, 40, 6, 2}, WeightFormat::bf16},
                                                   {Shape{9, 96, 40, 6, 2}, WeightFormat::mxfp8}};
  for (const auto& [s, w] : points) {
    GenSpec g;
    g.shape = s;
    g.weights = w;
    g.seed = 5;
    const Case c = generate_case(g);
    const Variant& v = find_variant(choose(s, w));
    const Numerics na = a.numerics(c), nv = v.numerics(c);
    const std::string at = "T=" + std::to_string(s.T) + " " + std::string(weight_format_name(w)) + " -> " + v.name();
    EXPECT_EQ(na.combine, nv.combine) << at;
    EXPECT_EQ(na.h_format, nv.h_format) << at;
    EXPECT_EQ(na.expert_out_format, nv.expert_out_format) << at;
    EXPECT_EQ(na.accumulator_unit, nv.accumulator_unit) << at;
    EXPECT_EQ(na.down.chunk, nv.down.chunk) << at;
    EXPECT_EQ(na.gate_up.block, nv.gate_up.block) << at;
    EXPECT_EQ(a.supports(c).ok, v.supports(c).ok) << at;
    EXPECT_GE(a.workspace_bytes(s), v.workspace_bytes(s)) << at;
    std::vector<uint8_t> ya, yv;
    a.run_host(c, ya);
    v.run_host(c, yv);
    EXPECT_EQ(ya, yv) << at;
  }
}

}  // namespace
}  // namespace moecheck

// CPU tests of the bench's host logic: byte counting, layer rotation,
// statistics and per-layer routing.
#include <gtest/gtest.h>

#include <set>

#include "kernels/bench/bench.hpp"

namespace moecheck::bench {
namespace {

TEST(BenchBytes, Bf16ExpertIsThreeMatricesOfTwoBytes) {
  const Shape s{1, 2048, 768, 128, 8};
  EXPECT_EQ(expert_bytes(s, WeightFormat::bf16), 3 * 2048 * 768 * 2);
}

TEST(BenchBytes, LayerCountsUniqueExpertsActivationsOutputsRouting) {
  // qwen3-30b-a3b, T = 8, 50 experts touched.
  const Shape s{8, 2048, 768, 128, 8};
  const LayerBytes b = layer_bytes(s, WeightFormat::bf16, 50, Format::bf16, Format::bf16);
  EXPECT_EQ(b.weights, 50LL * 3 * 2048 * 768 * 2);
  EXPECT_EQ(b.x, 8 * 2048 * 2);
  EXPECT_EQ(b.y, 8 * 2048 * 2);
  EXPECT_EQ(b.routing, 8 * 8 * 8);
  EXPECT_EQ(b.total(), b.weights + b.x + b.y + b.routing);
}

TEST(BenchBytes, ScalesCountForScaledFormats) {
  const Shape s{1, 256, 128, 8, 2};
  // MXFP8: one e8m0 byte per 32 values along K on top of one byte per value.
  const int64_t data = 3 * 256 * 128;
  EXPECT_EQ(expert_bytes(s, WeightFormat::mxfp8), data + data / 32);
}

TEST(BenchRotation, EnoughLayersToExceedL2AndAtLeastTwo) {
  const int64_t l2 = 50 << 20;
  // 75 MB layers (qwen3-30b-a3b T=1): 8 x 50 MB / 75 MB -> 6 layers.
  EXPECT_EQ(choose_layers(75 << 20, l2, int64_t{60} << 30), 6);
  // Layers far above L2 still rotate over two copies.
  EXPECT_EQ(choose_layers(int64_t{19} << 30, l2, int64_t{60} << 30), 2);
  // Small layers cap at 16.
  EXPECT_EQ(choose_layers(1 << 20, l2, int64_t{60} << 30), 16);
  // Memory decides when it must, never below one.
  EXPECT_EQ(choose_layers(int64_t{40} << 30, l2, int64_t{60} << 30), 1);
}

TEST(BenchStats, MedianAndSpread) {
  const Stats s = summarize({5, 1, 4, 2, 3, 100, 6, 7, 8, 9, 10});
  EXPECT_EQ(s.n, 11);
  EXPECT_DOUBLE_EQ(s.median, 6);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.p10, 2);
  EXPECT_DOUBLE_EQ(s.p90, 10);
  EXPECT_DOUBLE_EQ(summarize({1, 2, 3, 4}).median, 2.5);
}

TEST(BenchRouting, DistinctPerTokenDenseSlotsWeightsSumToOne) {
  const Shape s{32, 64, 32, 128, 8};
  const LayerRouting r = random_routing(s, 42);
  ASSERT_EQ(r.ids.size(), 32u * 8);
  EXPECT_EQ(static_cast<int64_t>(r.experts.size()), count_unique(r.ids));
  for (int64_t t = 0; t < s.T; ++t) {
    std::set<int32_t> seen;
    float sum = 0;
    for (int64_t j = 0; j < s.k; ++j) {
      const size_t i = static_cast<size_t>(t * s.k + j);
      EXPECT_TRUE(seen.insert(r.ids[i]).second) << "token " << t << " repeats expert " << r.ids[i];
      EXPECT_EQ(r.experts[static_cast<size_t>(r.slots[i])], r.ids[i]);
      EXPECT_GT(r.weights[i], 0.0f);
      sum += r.weights[i];
    }
    EXPECT_NEAR(sum, 1.0f, 1e-5f);
  }
  // Fresh routing per layer: another seed gives another routing.
  EXPECT_NE(random_routing(s, 43).ids, r.ids);
}

}  // namespace
}  // namespace moecheck::bench

// CPU tests of warp_decode_grouped: the host twin against the oracle within
// the bound derived from its declaration (many routings: all tokens on one
// expert, all distinct, k = E, T up to 63, H and I off the 8-element chunk),
// the host grouping, and h / lane order against warp_decode.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/generate.hpp"
#include "kernels/check.hpp"
#include "kernels/registry.hpp"
#include "kernels/warp_decode/grouped.hpp"
#include "kernels/warp_decode/test_support.hpp"

namespace moecheck {
namespace {

using warp_decode::grouped::kM;
using warp_decode::grouped::Tile;

struct Config {
  Shape shape;
  Activation act;
  GateUpLayout layout;
  ValueDist values;
  RoutingDist routing;
  Format y;
  uint64_t seed;
};

std::string config_name(const Config& c) {
  return "WarpDecodeGrouped_bf16_" + std::string(activation_name(c.act)) + "_" + std::string(values_name(c.values)) +
         "_" + std::string(routing_name(c.routing)) + "_" + (c.layout == GateUpLayout::interleaved ? "il_" : "") + "T" +
         std::to_string(c.shape.T) + "_H" + std::to_string(c.shape.H) + "_I" + std::to_string(c.shape.I) + "_E" +
         std::to_string(c.shape.E) + "_k" + std::to_string(c.shape.k) + "_y" + std::string(format_name(c.y));
}

// Heavy-tailed values reach |y| ~ 1e5, past f16's largest finite 65504: f16
// output there is the overflow test's subject, not an accuracy check.
Format y_for(ValueDist v, Format y) { return v == ValueDist::heavy && y == Format::f16 ? Format::f32 : y; }

// The routings that shape the tiles: one_set with k = 1 puts every token on
// one expert (T / 8 full tiles and a tail), distinct gives one pair per
// tile, k = E puts every token on every expert; plus odd H, I (chunk and
// lane tails) and T from 1 to 63.
std::vector<Config> configs() {
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist vals[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::cancel};
  const struct {
    Shape shape;
    RoutingDist routing;
  } cases[] = {
      {{8, 2050, 21, 4, 1}, RoutingDist::one_set},     {{33, 263, 40, 4, 1}, RoutingDist::one_set},
      {{63, 37, 9, 6, 2}, RoutingDist::one_set},       {{17, 129, 77, 16, 1}, RoutingDist::distinct},
      {{5, 520, 264, 16, 3}, RoutingDist::distinct},   {{9, 263, 77, 6, 6}, RoutingDist::uniform},
      {{7, 64, 256, 5, 5}, RoutingDist::zipf},          {{1, 2050, 130, 9, 3}, RoutingDist::uniform},
      {{3, 1, 1, 3, 1}, RoutingDist::uniform},         {{31, 300, 21, 12, 4}, RoutingDist::adversarial},
      {{63, 129, 13, 9, 2}, RoutingDist::zipf},        {{15, 257, 3, 16, 16}, RoutingDist::one_set},
      {{11, 515, 130, 8, 8}, RoutingDist::zipf},       {{49, 8, 64, 4, 2}, RoutingDist::adversarial},
  };
  const Format ys[] = {Format::bf16, Format::f16, Format::f32};
  std::vector<Config> out;
  int i = 0;
  for (const auto& c : cases) {
    out.push_back({c.shape, acts[i % 4], i % 3 == 1 ? GateUpLayout::interleaved : GateUpLayout::concatenated,
                   vals[(i / 2) % 4], c.routing, y_for(vals[(i / 2) % 4], ys[i % 3]), 2000 + static_cast<uint64_t>(i)});
    ++i;
  }
  return out;
}

Case make(const Config& cf) {
  GenSpec g;
  g.shape = cf.shape;
  g.act.kind = cf.act;
  g.layout = cf.layout;
  g.values = cf.values;
  g.routing = cf.routing;
  g.y_format = cf.y;
  g.seed = cf.seed;
  return generate_case(g);
}

class GroupedTwinVsOracle : public ::testing::TestWithParam<Config> {};

TEST_P(GroupedTwinVsOracle, WithinRigorousBound) {
  const Config& cf = GetParam();
  const Case c = make(cf);
  const Variant& v = find_variant("warp_decode_grouped");
  ASSERT_TRUE(v.supports(c).ok);
  std::vector<uint8_t> y(static_cast<size_t>(c.shape.T * c.shape.H * format_bits(cf.y) / 8), 0xFF);  // poisoned
  v.run_host(c, y);
  const OracleResult o = run_oracle(c);
  const CheckResult r = check_output(c, o, v, y);
  EXPECT_TRUE(r.ok()) << v.name() << " " << config_name(cf) << ": " << r.metrics.violations << " violations, "
                      << r.metrics.nonfinite << " non-finite; first: " << r.first_violation
                      << "\nreplay: " << replay_command(c, v.name(), "host", {});
  std::vector<uint8_t> y2;
  v.run_host(c, y2);
  EXPECT_EQ(y, y2) << "twin not deterministic";
}

INSTANTIATE_TEST_SUITE_P(Random, GroupedTwinVsOracle, ::testing::ValuesIn(configs()),
                         [](const auto& info) { return config_name(info.param); });

// The host grouping: every pair once, by slot, ascending within a slot,
// tiles of <= kM pairs of one slot, at most max_tiles of them.
TEST(WarpDecodeGroupedGrouping, Sorted_by_slot_ascending_within_tiles_bounded) {
  const int64_t S = 7;
  for (int64_t T : {1, 3, 8, 17, 64}) {
    for (int64_t k : {1, 3, 7}) {
      std::vector<int32_t> slots(static_cast<size_t>(T * k));
      for (size_t q = 0; q < slots.size(); ++q) slots[q] = static_cast<int32_t>((q * 5 + q / 3) % (T == 64 ? 1 : S));
      std::vector<int32_t> sorted;
      std::vector<Tile> tiles;
      warp_decode::grouped::group_pairs_host(slots, S, sorted, tiles);
      const std::string at = "T=" + std::to_string(T) + " k=" + std::to_string(k);
      ASSERT_LE(static_cast<int64_t>(tiles.size()), warp_decode::grouped::max_tiles(Shape{T, 8, 8, S, k})) << at;
      std::vector<int> seen(slots.size(), 0);
      int32_t next = 0;
      for (size_t ti = 0; ti < tiles.size(); ++ti) {
        const Tile& tl = tiles[ti];
        ASSERT_EQ(tl.first, next) << at << " tile " << ti;
        ASSERT_GE(tl.count, 1) << at;
        ASSERT_LE(tl.count, kM) << at;
        for (int32_t q = tl.first; q < tl.first + tl.count; ++q) {
          ASSERT_EQ(slots[sorted[q]], tl.slot) << at << " position " << q;
          if (q > tl.first) {
            ASSERT_LT(sorted[q - 1], sorted[q]) << at << " position " << q;
          }
          if (ti > 0 && q == tl.first && tiles[ti - 1].slot == tl.slot) {
            ASSERT_LT(sorted[q - 1], sorted[q]) << at << " tile boundary " << ti;
          }
          ++seen[sorted[q]];
        }
        next += tl.count;
      }
      ASSERT_EQ(next, static_cast<int32_t>(slots.size())) << at;
      for (size_t q = 0; q < seen.size(); ++q) ASSERT_EQ(seen[q], 1) << at << " pair " << q;
    }
  }
}

// With k = 1 and routing weight 1, warp_decode's fold fma(1, p_lane, +0) is
// the lane partial itself and the grouped combine RN(1 * p) is p: both
// outputs are then the butterfly of the same lane chains over the same h,
// stored in y's format (f32: the butterfly's bits themselves), so equal
// bits show that h and both lane orders match warp_decode's.
TEST(WarpDecodeGroupedTwin, One_expert_unit_weight_equals_warp_decode) {
  for (const Shape& s : {Shape{9, 2050, 77, 4, 1}, Shape{33, 263, 256, 3, 1}, Shape{5, 37, 9, 16, 1}})
    for (Format yf : {Format::bf16, Format::f16, Format::f32}) {
      GenSpec g;
      g.shape = s;
      g.routing = RoutingDist::zipf;
      g.y_format = yf;
      g.seed = 31;
      Case c = generate_case(g);
      for (float& w : c.topk_weights) w = 1.0f;
      std::vector<uint8_t> yg, yw;
      find_variant("warp_decode_grouped").run_host(c, yg);
      find_variant("warp_decode").run_host(c, yw);
      ASSERT_EQ(yg.size(), yw.size());
      const size_t yb = static_cast<size_t>(format_bits(yf) / 8);
      const uint32_t magnitude = yf == Format::f32 ? 0x7fffffffu : 0x7fffu;
      int64_t nonzero = 0;
      for (size_t q = 0; q < yg.size(); q += yb) {
        uint32_t a = 0, b = 0;
        std::memcpy(&a, &yg[q], yb);
        std::memcpy(&b, &yw[q], yb);
        nonzero += (a & magnitude) != 0;
        if ((a & magnitude) == 0 && (b & magnitude) == 0) continue;  // +0 / -0: the fold may flip a zero's sign
        ASSERT_EQ(a, b) << "y " << format_name(yf) << " T=" << s.T << " H=" << s.H << " I=" << s.I << ": y["
                        << q / yb / s.H << ", " << q / yb % s.H << "] grouped 0x" << std::hex << a
                        << " warp_decode 0x" << b;
      }
      EXPECT_GT(nonzero, static_cast<int64_t>(yg.size() / yb) / 4) << "mostly zero outputs: comparison would be vacuous";
    }
}

// Integer inputs with the bilinear activation: every intermediate exact
// (|h| <= 256 with H = 7), so the output is the exact value rounded once.
TEST(WarpDecodeGroupedTwin, Integer_bilinear_is_exact) {
  warp_decode::test::expect_exact_integer_bilinear("warp_decode_grouped", {13, 7, 77, 9, 4});
}

}  // namespace
}  // namespace moecheck

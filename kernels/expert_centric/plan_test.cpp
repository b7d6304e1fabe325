// Host-side planning: the worst-case tile bound must cover every routing
// (the device never reports counts back), and workspace regions must be
// disjoint, aligned and inside the total.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <utility>

#include "kernels/expert_centric/plan.hpp"

namespace moecheck::ec {
namespace {

// Tiles a concrete routing needs: sum over experts of ceil(count / 16).
int64_t tiles_needed(const std::vector<int32_t>& ids) {
  std::map<int32_t, int64_t> count;
  for (int32_t e : ids) ++count[e];
  int64_t t = 0;
  for (auto& [e, c] : count) t += tiles_for(c);
  return t;
}

TEST(ExpertCentricPlan, TilesForRoundsUpToSixteen) {
  EXPECT_EQ(tiles_for(0), 0);
  EXPECT_EQ(tiles_for(1), 1);
  EXPECT_EQ(tiles_for(16), 1);
  EXPECT_EQ(tiles_for(17), 2);
  EXPECT_EQ(tiles_for(64), 4);
}

TEST(ExpertCentricPlan, MaxTilesCoversAdversarialRoutings) {
  // For each shape, the routings that maximize padding: every expert one
  // pair more than a multiple of 16, all pairs distinct, all on one expert.
  for (int64_t E : {1, 2, 8, 16, 128, 256}) {
    for (int64_t k : {int64_t{1}, int64_t{2}, int64_t{8}, E}) {
      if (k > E) continue;
      for (int64_t T : {1, 2, 3, 17, 33, 64}) {
        const Shape s{T, 64, 64, E, k};
        std::vector<int32_t> ids;
        // token t takes experts (t + j) mod E: spreads pairs evenly.
        for (int64_t t = 0; t < T; ++t)
          for (int64_t j = 0; j < k; ++j) ids.push_back(static_cast<int32_t>((t * k + j) % E));
        EXPECT_LE(tiles_needed(ids), max_tiles(s)) << "T" << T << " k" << k << " E" << E;
        std::mt19937 rng(static_cast<uint32_t>(T * 1000 + k * 10 + E));
        for (int rep = 0; rep < 20; ++rep) {
          std::vector<int32_t> r;
          std::vector<int32_t> perm(static_cast<size_t>(E));
          for (int64_t t = 0; t < T; ++t) {
            for (int64_t e = 0; e < E; ++e) perm[e] = static_cast<int32_t>(e);
            std::shuffle(perm.begin(), perm.end(), rng);
            r.insert(r.end(), perm.begin(), perm.begin() + k);
          }
          EXPECT_LE(tiles_needed(r), max_tiles(s)) << "T" << T << " k" << k << " E" << E << " rep " << rep;
        }
      }
    }
  }
}

TEST(ExpertCentricPlan, MaxTilesIsTightForDistinctExperts) {
  // T*k pairs on T*k distinct experts need exactly one tile each.
  const Shape s{8, 64, 64, 128, 8};
  EXPECT_EQ(max_tiles(s), 64);
  const Shape one{1, 2048, 768, 128, 8};
  EXPECT_EQ(max_tiles(one), 8);
}

TEST(ExpertCentricPlan, WorkspaceRegionsAreDisjointAlignedAndInside) {
  // (fused, fp8_row): expert_centric, expert_centric_fused, expert_centric_fp8.
  for (auto [fused, fp8] : {std::pair{false, false}, std::pair{true, false}, std::pair{false, true}}) {
    const Shape s{17, 200, 72, 16, 4};
    const Layout l = plan_layout(s, fused, fp8);
    const int64_t n = pair_count(s), rows = max_rows(s);
    struct R {
      int64_t off, bytes;
    };
    std::vector<R> regions = {{l.sorted_pair, 4 * rows}, {l.row_of_pair, 4 * n}, {l.tile_expert, 4 * max_tiles(s)},
                              {l.num_tiles, 4},          {l.h, 2 * rows * s.I}};
    if (fused) {
      regions.push_back({l.yw, 4 * n * s.H});
    } else {
      regions.push_back({l.xg, 2 * rows * s.H});
      regions.push_back({l.gu, 8 * rows * s.I});
      if (fp8) {
        regions.push_back({l.sx, 4 * rows});
        regions.push_back({l.sh, 4 * rows});
        regions.push_back({l.yacc, 4 * rows * s.H});
      } else {
        regions.push_back({l.ye, 2 * rows * s.H});
      }
      regions.push_back({l.ys, 2 * n * s.H});
    }
    std::sort(regions.begin(), regions.end(), [](R a, R b) { return a.off < b.off; });
    for (size_t i = 0; i < regions.size(); ++i) {
      EXPECT_EQ(regions[i].off % 256, 0);
      EXPECT_LE(regions[i].off + regions[i].bytes, l.total);
      if (i + 1 < regions.size()) EXPECT_LE(regions[i].off + regions[i].bytes, regions[i + 1].off);
    }
  }
}

}  // namespace
}  // namespace moecheck::ec

// GPU tests of warp_decode_grouped: presets x T x routing and odd shapes
// against the oracle within the derived bound, device == host twin bit for
// bit, outputs and workspace poisoned first (every element written),
// unrouted experts' weights NaN (never read), determinism, batch invariance
// against single tokens, the device grouping against the host's, and h /
// lane order against warp_decode. Each test skips itself where no device
// answers.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/generate.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "kernels/registry.hpp"
#include "kernels/warp_decode/test_support.hpp"
#include "kernels/warp_decode/grouped.hpp"

#if MOECHECK_WITH_CUDA
#include <cuda_runtime.h>

#include "core/cuda_check.hpp"
#endif

namespace moecheck {
namespace {

using namespace warp_decode::test;

const char* kName = "warp_decode_grouped";

std::string shape_name(const Shape& s) {
  return "T" + std::to_string(s.T) + "_H" + std::to_string(s.H) + "_I" + std::to_string(s.I) + "_E" +
         std::to_string(s.E) + "_k" + std::to_string(s.k);
}

// Within bound (run_on_device poisons output and workspace), == twin, twice the same.
void check_on_device(const Case& c, const OracleResult& o) {
  const Variant& v = find_variant(kName);
  const std::string replay = replay_command(c, v.name(), "cuda", {});
  const std::vector<uint8_t> y = run_on_device(v, c);
  const CheckResult r = check_output(c, o, v, y);
  const std::string what = std::string(kName) + " bf16 y" + std::string(format_name(c.y_format)) + " " + shape_name(c.shape);
  EXPECT_TRUE(r.ok()) << what << ": " << r.metrics.violations
                      << " bound violations, " << r.metrics.nonfinite
                      << " non-finite (NaN sentinel = unwritten); first: " << r.first_violation << "\nreplay: " << replay;
  std::vector<uint8_t> twin;
  v.run_host(c, twin);
  const std::string diff = first_difference(y, twin, c.shape.H, c.y_format);
  EXPECT_TRUE(diff.empty()) << what << ": device != host twin at " << diff
                            << "\nreplay: " << replay;
  const std::vector<uint8_t> again = run_on_device(v, c);
  EXPECT_TRUE(again == y) << what << ": second device run differs at " << first_difference(y, again, c.shape.H, c.y_format)
                          << "\nreplay: " << replay;
}

// Heavy-tailed values reach |y| ~ 1e5, past f16's largest finite 65504: f16
// output there is the overflow test's subject, not an accuracy check.
Format y_for(ValueDist v, Format y) { return v == ValueDist::heavy && y == Format::f16 ? Format::f32 : y; }

// ---- presets x T x routing ------------------------------------------------

struct PresetConfig {
  std::string preset;
  int64_t T;
  bench::PoolRouting routing;
};

// qwen3-30b-a3b over T 1..64; the large presets at T 1, 8 (uniform, and
// one_set: 8 tokens on the same 8 experts, full tiles). The oracle and the
// twin check sampled tokens (check_sampled_on_device).
std::vector<PresetConfig> preset_configs() {
  std::vector<PresetConfig> out;
  int i = 0;
  for (int64_t T : {1, 2, 3, 8, 17, 32, 64})
    out.push_back({"qwen3-30b-a3b", T, i++ % 2 ? bench::PoolRouting::one_set : bench::PoolRouting::uniform});
  for (const char* p : {"qwen3-235b-a22b", "deepseek-v3"}) {
    out.push_back({p, 1, bench::PoolRouting::uniform});
    out.push_back({p, 8, bench::PoolRouting::uniform});
    out.push_back({p, 8, bench::PoolRouting::one_set});
  }
  return out;
}

class GroupedPresetOnDevice : public ::testing::TestWithParam<PresetConfig> {};

TEST_P(GroupedPresetOnDevice, WithinBound_EqualsTwin_Deterministic) {
  SKIP_WITHOUT_GPU();
  const PresetConfig& pc = GetParam();
  const Case c = preset_case(pc.preset, pc.T, WeightFormat::bf16, pc.routing, 4242 + static_cast<uint64_t>(pc.T));
  check_sampled_on_device(find_variant(kName), c);
}

INSTANTIATE_TEST_SUITE_P(Presets, GroupedPresetOnDevice, ::testing::ValuesIn(preset_configs()), [](const auto& info) {
  const PresetConfig& p = info.param;
  return "WarpDecodeGrouped_bf16_swiglu_" + ident(p.preset) + "_T" + std::to_string(p.T) + "_" +
         pool_routing_name(p.routing);
});

// ---- odd shapes: tails, scalar paths, big tiles, isolation ----------------

struct SmallConfig {
  Shape shape;
  RoutingDist routing;
  Activation act;
  GateUpLayout layout;
  ValueDist values;
  Format y;
};

std::string small_name(const SmallConfig& s) {
  return "WarpDecodeGrouped_bf16_" + std::string(activation_name(s.act)) + "_" + std::string(values_name(s.values)) +
         "_" + std::string(routing_name(s.routing)) + (s.layout == GateUpLayout::interleaved ? "_il_" : "_") +
         shape_name(s.shape) + "_y" + std::string(format_name(s.y));
}

std::vector<SmallConfig> small_configs() {
  const struct {
    Shape shape;
    RoutingDist routing;
  } cases[] = {
      {{8, 2050, 130, 6, 6}, RoutingDist::uniform},   {{8, 2050, 77, 9, 1}, RoutingDist::one_set},
      {{64, 129, 40, 12, 1}, RoutingDist::one_set},   {{33, 263, 256, 16, 16}, RoutingDist::uniform},
      {{17, 264, 9, 16, 5}, RoutingDist::distinct},   {{3, 37, 21, 4, 4}, RoutingDist::zipf},
      {{2, 1, 1, 3, 1}, RoutingDist::uniform},        {{5, 520, 264, 5, 5}, RoutingDist::adversarial},
      {{63, 1032, 264, 16, 4}, RoutingDist::zipf},    {{1, 2050, 77, 9, 3}, RoutingDist::uniform},
  };
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist vals[] = {ValueDist::normal, ValueDist::heavy, ValueDist::uniform, ValueDist::cancel};
  const Format ys[] = {Format::bf16, Format::f16, Format::f32};  // each output format on several shapes
  std::vector<SmallConfig> out;
  int i = 0;
  for (const auto& c : cases) {
    out.push_back({c.shape, c.routing, acts[i % 4], i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated,
                   vals[i % 4], y_for(vals[i % 4], ys[i % 3])});
    ++i;
  }
  return out;
}

// All experts stored; those no token routes to get NaN weights, which must
// never reach an output.
Case small_case(const SmallConfig& sc) {
  GenSpec g;
  g.shape = sc.shape;
  g.act.kind = sc.act;
  g.layout = sc.layout;
  g.values = sc.values;
  g.routing = sc.routing;
  g.y_format = sc.y;
  g.storage = ExpertStorage::all;
  g.seed = 99 + static_cast<uint64_t>(sc.shape.H * 31 + sc.shape.T);
  Case c = generate_case(g);
  poison_unrouted_experts(c);
  return c;
}

class GroupedSmallOnDevice : public ::testing::TestWithParam<SmallConfig> {};

TEST_P(GroupedSmallOnDevice, UnroutedNaNExperts_WithinBound_EqualsTwin) {
  SKIP_WITHOUT_GPU();
  const Case c = small_case(GetParam());
  check_on_device(c, run_oracle(c));
}

INSTANTIATE_TEST_SUITE_P(OddShapes, GroupedSmallOnDevice, ::testing::ValuesIn(small_configs()),
                         [](const auto& info) { return small_name(info.param); });

// ---- batch invariance, grouping, agreement with warp_decode -----------------

// A token alone (one pair per tile) and in a batch of 33 with zipf routing
// (tiles of up to 8 tokens, split groups) gives the same bits, in every
// output format.
TEST(WarpDecodeGroupedGpu, Token_output_is_batch_invariant_T33_H1032) {
  SKIP_WITHOUT_GPU();
  for (Format yf : {Format::bf16, Format::f16, Format::f32}) {
    GenSpec g;
    g.shape = {33, 1032, 264, 16, 4};
    g.routing = RoutingDist::zipf;
    g.y_format = yf;
    g.seed = 3;
    const Case c = generate_case(g);
    const Variant& v = find_variant(kName);
    const std::vector<uint8_t> batch = run_on_device(v, c);
    const int64_t row_bytes = c.shape.H * format_bits(yf) / 8;
    for (int64_t t : {int64_t{0}, int64_t{7}, int64_t{16}, int64_t{32}}) {
      const std::vector<uint8_t> alone = run_on_device(v, single_token(c, t));
      const std::vector<uint8_t> row(batch.begin() + t * row_bytes, batch.begin() + (t + 1) * row_bytes);
      EXPECT_TRUE(alone == row) << kName << " y " << format_name(yf) << " token " << t << " alone vs in the batch: "
                                << first_difference(alone, row, c.shape.H, yf);
    }
  }
}

// k = 1, routing weight 1: both variants output the butterfly of the same
// lane chains over the same h in y's format (grouped_twin_test.cpp
// explains), so equal device bits show that the grouped kernels reproduce
// warp_decode's h; f32 output compares the fp32 sums themselves.
TEST(WarpDecodeGroupedGpu, One_expert_unit_weight_equals_warp_decode_T24_H2050) {
  SKIP_WITHOUT_GPU();
  for (Format yf : {Format::bf16, Format::f16, Format::f32}) {
    GenSpec g;
    g.shape = {24, 2050, 264, 4, 1};
    g.routing = RoutingDist::zipf;
    g.y_format = yf;
    g.seed = 8;
    Case c = generate_case(g);
    for (float& w : c.topk_weights) w = 1.0f;
    const std::vector<uint8_t> yg = run_on_device(find_variant(kName), c);
    const std::vector<uint8_t> yw = run_on_device(find_variant("warp_decode"), c);
    ASSERT_EQ(yg.size(), yw.size());
    const size_t yb = static_cast<size_t>(format_bits(yf) / 8);
    const uint32_t magnitude = yf == Format::f32 ? 0x7fffffffu : 0x7fffu;
    for (size_t q = 0; q < yg.size(); q += yb) {
      uint32_t a = 0, b = 0;
      std::memcpy(&a, &yg[q], yb);
      std::memcpy(&b, &yw[q], yb);
      if ((a & magnitude) == 0 && (b & magnitude) == 0) continue;  // the fold may flip a zero's sign
      ASSERT_EQ(a, b) << "y " << format_name(yf) << " [" << q / yb / 2050 << ", " << q / yb % 2050
                      << "]: grouped vs warp_decode";
    }
  }
}

#if MOECHECK_WITH_CUDA
// The device grouping (sorted pairs, tiles, tile count) equals the host's.
TEST(WarpDecodeGroupedGpu, Device_grouping_equals_host_T64_k8_E40) {
  SKIP_WITHOUT_GPU();
  namespace gr = warp_decode::grouped;
  GenSpec g;
  g.shape = {64, 16, 16, 40, 8};
  g.routing = RoutingDist::zipf;
  g.seed = 12;
  const Case c = generate_case(g);
  DeviceCase dc(c, Format::bf16);
  const DeviceArgs a = dc.args();
  const gr::Layout l = gr::plan_layout(a.shape);
  void* ws = nullptr;
  MOECHECK_CUDA(cudaMalloc(&ws, static_cast<size_t>(l.total)));
  MOECHECK_CUDA(cudaMemset(ws, 0xFF, static_cast<size_t>(l.total)));
  find_variant(kName).run_device(a, ws, nullptr);
  std::vector<uint8_t> host_ws(static_cast<size_t>(l.total));
  MOECHECK_CUDA(cudaMemcpy(host_ws.data(), ws, host_ws.size(), cudaMemcpyDeviceToHost));
  MOECHECK_CUDA(cudaFree(ws));
  std::vector<int32_t> slots(c.topk_ids.size());
  for (size_t q = 0; q < slots.size(); ++q) slots[q] = static_cast<int32_t>(c.slot_of(c.topk_ids[q]));
  std::vector<int32_t> sorted;
  std::vector<gr::Tile> tiles;
  gr::group_pairs_host(slots, a.shape.E, sorted, tiles);
  int32_t num_tiles;
  std::memcpy(&num_tiles, &host_ws[static_cast<size_t>(l.num_tiles)], 4);
  ASSERT_EQ(num_tiles, static_cast<int32_t>(tiles.size()));
  for (size_t q = 0; q < sorted.size(); ++q) {
    int32_t d;
    std::memcpy(&d, &host_ws[static_cast<size_t>(l.sorted) + 4 * q], 4);
    ASSERT_EQ(d, sorted[q]) << "sorted[" << q << "]";
  }
  for (size_t ti = 0; ti < tiles.size(); ++ti) {
    gr::Tile d;
    std::memcpy(&d, &host_ws[static_cast<size_t>(l.tiles) + sizeof(gr::Tile) * ti], sizeof d);
    ASSERT_TRUE(d.slot == tiles[ti].slot && d.first == tiles[ti].first && d.count == tiles[ti].count)
        << "tile " << ti << ": device (" << d.slot << ", " << d.first << ", " << d.count << ") host (" << tiles[ti].slot
        << ", " << tiles[ti].first << ", " << tiles[ti].count << ")";
  }
}
#endif

TEST(WarpDecodeGroupedGpu, Reports_the_card) {
  SKIP_WITHOUT_GPU();
  std::printf("[ card     ] %s\n", cuda_device_name().c_str());
  RecordProperty("card", cuda_device_name());
}

}  // namespace
}  // namespace moecheck

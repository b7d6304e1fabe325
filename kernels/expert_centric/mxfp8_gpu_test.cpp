// GPU tests of expert_centric_mxfp8 against the oracle, within the bound
// derived from its declaration (x_requant = h_requant = e4m3, blocks of 32),
// mirroring gpu_test.cpp's small-shape and preset matrices; and the plain
// expert_centric declaration (no requant) exceeded by its output. Outputs and
// workspace are NaN-poisoned before every run (run_on_device). Skips with the
// reason where there is no device.
#include <gtest/gtest.h>

#include <random>

#include "core/problem.hpp"
#include "kernels/bench/check_case.hpp"
#include "kernels/device_case.hpp"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/mx_requant.hpp"
#include "kernels/expert_centric/test_support.hpp"

#ifndef MOECHECK_TEST_LEVEL
#define MOECHECK_TEST_LEVEL 1
#endif

namespace moecheck::ec::test {
namespace {

constexpr double kHostValues = MOECHECK_TEST_LEVEL >= 2 ? 2e9 : 4e8;   // stored weight elements per case
constexpr double kOracleMacs = MOECHECK_TEST_LEVEL >= 2 ? 2e10 : 4e8;  // full-oracle budget

std::vector<uint8_t> run_checked(const Case& c, const Variant& judge) {
  auto v = make_expert_centric_mxfp8();
  EXPECT_TRUE(v->supports(c).ok) << v->supports(c).reason;
  std::vector<uint8_t> y = run_on_device(*v, c);
  const Shape& s = c.shape;
  const double macs = static_cast<double>(s.T * s.k) * 3.0 * static_cast<double>(s.H * s.I);
  const bench::OracleCheck r = bench::check_against_oracle(judge, c, y, macs <= kOracleMacs ? 0 : 3);
  EXPECT_TRUE(r.ok) << r.message;
  return y;
}

// The device re-quantization kernel is bitwise the host reference
// (mx_requant_row) on rows of widely spread magnitudes with specials (zeros,
// NaN, inf, bf16 subnormals, values near 448 2^s, a short tail block), and
// rows past the live tile count stay untouched.
TEST(ExpertCentricMxfp8GpuRequant, DeviceKernelBitwiseHostReference_bf16_n2050) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const int64_t n = 2050, live = 2, R = 16 * (live + 1);  // (R, n); the last tile is past num_tiles
  std::mt19937_64 rng(11);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> ed(-130, 105), pick(0, 63);
  std::vector<uint16_t> in(static_cast<size_t>(R * n));
  for (int64_t r = 0; r < R; ++r) {
    const int shift = r % 4 == 0 ? ed(rng) : 0;
    for (int64_t q = 0; q < n; ++q) {
      uint16_t c = f32_to_bf16_rn(std::ldexp(nd(rng), shift + (q % 7 == 0 ? ed(rng) / 8 : 0)));
      switch (pick(rng)) {
        case 0: c = 0x0000; break;  // +0
        case 1: c = 0x8000; break;  // -0
        case 2: c = 0x0001; break;  // smallest bf16 subnormal
        case 3: c = f32_to_bf16_rn(1.9921875f); break;  // rounds past 448 2^s: saturates
        default: break;
      }
      in[r * n + q] = c;
    }
    if (r == 5) in[r * n + 40] = kBf16Nan;  // one NaN block
    if (r == 6) in[r * n + 2049] = 0x7f80;  // +inf in the 2-value tail block
    if (r == 7)
      for (int64_t q = 0; q < 64; ++q) in[r * n + q] = 0;  // all-zero blocks
  }
  std::vector<uint16_t> dev = in;
  requant_mxfp8_rows_for_test(dev, n, live);
  std::vector<uint16_t> want = in;
  for (int64_t r = 0; r < 16 * live; ++r) mx_requant_row(&in[r * n], n, &want[r * n]);
  for (size_t i = 0; i < in.size(); ++i)
    ASSERT_EQ(dev[i], want[i]) << "first mismatch at row " << i / n << " col " << i % n << ": in 0x" << std::hex
                               << in[i] << " device 0x" << dev[i] << " host 0x" << want[i]
                               << (static_cast<int64_t>(i / n) >= 16 * live ? " (row past num_tiles: must be untouched)" : "");
}

// Small shapes: K tails (H, I not multiples of 32 or 8: short last MX block,
// scalar loads), k = E, every activation, value distribution and routing.
std::vector<Config> small_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {{"h200_i72_e16_k4", {0, 200, 72, 16, 4}},
                                                             {"h37_i19_e5_k5", {0, 37, 19, 5, 5}},
                                                             {"h264_i136_e64_k8", {0, 264, 136, 64, 8}},
                                                             {"h2050_i520_e8_k2", {0, 2050, 520, 8, 2}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist values[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                              ValueDist::cancel};
  const RoutingDist routings[] = {RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set,
                                  RoutingDist::distinct, RoutingDist::adversarial};
  int j = 0;
  for (auto& [name, s] : shapes)
    for (int64_t T : {1, 2, 3, 8, 17, 32, 64})
      for (RoutingDist r : routings) {
        Config c;
        c.variant = "expert_centric_mxfp8", c.shape_name = name, c.shape = s, c.shape.T = T;
        c.act = acts[j % 4];
        c.values = values[(j / 4) % 5];
        if (c.values == ValueDist::cancel && c.shape.I % 2) c.values = ValueDist::normal;
        c.routing = r;
        c.layout = (j / 3) % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
        c.storage = ExpertStorage::all;
        c.seed = 7000 + j++;
        out.push_back(c);
      }
  return out;
}

class ExpertCentricMxfp8Gpu : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricMxfp8Gpu, WithinDerivedBound) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const Case c = generate_case(spec_of(GetParam()));
  run_checked(c, *make_expert_centric_mxfp8());
}

INSTANTIATE_TEST_SUITE_P(Small, ExpertCentricMxfp8Gpu, ::testing::ValuesIn(small_configs()),
                         [](const auto& info) { return name_of(info.param); });

// Full-size presets over a hash-filled pool of experts (bench/check_case.hpp).
struct PresetCase {
  int64_t T;
  bench::PoolRouting routing;
};

std::vector<std::pair<Config, PresetCase>> preset_configs() {
  std::vector<std::pair<Config, PresetCase>> out;
  int i = 0;
  for (const Preset& p : shape_presets())
    for (int64_t T : {1, 8, 17, 64})
      for (bench::PoolRouting r : {bench::PoolRouting::uniform, bench::PoolRouting::one_set}) {
        Config c;
        c.variant = "expert_centric_mxfp8", c.shape_name = std::string(p.name), c.shape = {T, p.H, p.I, p.E, p.k};
        c.act = p.name == "gpt-oss-120b" ? Activation::swiglu_clamped : Activation::swiglu;
        c.routing = r == bench::PoolRouting::uniform ? RoutingDist::uniform : RoutingDist::one_set;
        c.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
        c.values = ValueDist::uniform;
        c.seed = 8000 + i++;
        out.push_back({c, {T, r}});
      }
  return out;
}

Case& preset_pool(const Config& cfg) {
  static std::string name;
  static Case pool;
  if (name != cfg.shape_name) {
    const Shape& s = cfg.shape;
    ActivationSpec act;
    act.kind = cfg.act;
    pool = bench::pool_case(s, static_cast<int64_t>(kHostValues / (3.0 * static_cast<double>(s.H * s.I))), act,
                            cfg.layout, 77);
    name = cfg.shape_name;
  }
  pool.layout = cfg.layout;
  return pool;
}

class ExpertCentricMxfp8GpuPreset : public ::testing::TestWithParam<std::pair<Config, PresetCase>> {};

TEST_P(ExpertCentricMxfp8GpuPreset, WithinDerivedBound) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const auto& [cfg, pc] = GetParam();
  Case& c = preset_pool(cfg);
  bench::reroute(c, pc.T, pc.routing, cfg.seed);
  run_checked(c, *make_expert_centric_mxfp8());
}

INSTANTIATE_TEST_SUITE_P(Presets, ExpertCentricMxfp8GpuPreset, ::testing::ValuesIn(preset_configs()),
                         [](const auto& info) { return name_of(info.param.first); });

// The re-quantization error is real and the declaration must say it: the
// device output is within expert_centric_mxfp8's bound but not within the
// bound of the plain expert_centric declaration.
TEST(ExpertCentricMxfp8GpuDeclaration, PlainDeclarationExceeded_bf16_swiglu_T8_H2050) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  Config cfg;
  cfg.variant = "expert_centric_mxfp8", cfg.shape_name = "h2050_i520_e8_k2", cfg.shape = {8, 2050, 520, 8, 2};
  const Case c = generate_case(spec_of(cfg));
  const std::vector<uint8_t> y = run_checked(c, *make_expert_centric_mxfp8());
  const bench::OracleCheck plain = bench::check_against_oracle(*make_expert_centric(), c, y);
  EXPECT_FALSE(plain.ok) << "expert_centric's declaration (no requant) covers the MXFP8-requantized output "
                            "(replay: moecheck check expert_centric_mxfp8, seed 1, T8 H2050 I520 E8 k2)";
}

}  // namespace
}  // namespace moecheck::ec::test

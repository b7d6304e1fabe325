// GPU tests of the expert-centric family against the oracle, within each
// variant's derived rigorous bound. Outputs and workspace are NaN-poisoned
// before every run (run_on_device), so an unwritten output fails; weights of
// experts no token selected are NaN in the isolation tests, so reading one
// fails. Skips with the reason where there is no device (CI).
//
// The device always runs all T tokens; the oracle checks a few of them
// (first, middle, last) when the full oracle would cost more than kOracleMacs
// multiply-adds, and every output is checked to be written.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/problem.hpp"
#include "kernels/bench/check_case.hpp"
#include "kernels/device_case.hpp"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/test_support.hpp"

#ifndef MOECHECK_TEST_LEVEL
#define MOECHECK_TEST_LEVEL 1
#endif

namespace moecheck::ec::test {
namespace {

constexpr double kHostValues = MOECHECK_TEST_LEVEL >= 2 ? 2e9 : 4e8;     // stored weight elements per case
constexpr double kOracleMacs = MOECHECK_TEST_LEVEL >= 2 ? 2e10 : 4e8;  // full-oracle budget

std::unique_ptr<Variant> make(const std::string& name) {
  return name == "expert_centric" ? make_expert_centric() : make_expert_centric_fused();
}

void check_on_device(const std::string& variant, const Case& c) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  auto v = make(variant);
  ASSERT_TRUE(v->supports(c).ok) << v->supports(c).reason;
  const std::vector<uint8_t> y = run_on_device(*v, c);
  const Shape& s = c.shape;
  const double macs = static_cast<double>(s.T * s.k) * 3.0 * static_cast<double>(s.H * s.I);
  const bench::OracleCheck r = bench::check_against_oracle(*v, c, y, macs <= kOracleMacs ? 0 : 3);
  EXPECT_TRUE(r.ok) << r.message;
}

// Full-size presets: a pool of experts with hash-filled bf16 weights
// (bench/check_case.hpp; generate_case is too slow at these sizes), batches
// routed uniformly over the pool or all on one set of k experts. One test
// runs both variants on one pool and batch: ctest runs every test in its own
// process, so per-variant tests built the pool and the oracle twice.
struct PresetCase {
  int64_t T;
  bench::PoolRouting routing;
};

std::vector<std::pair<Config, PresetCase>> preset_configs() {
  std::vector<std::pair<Config, PresetCase>> out;
  int i = 0;
  for (const Preset& p : shape_presets())
    for (int64_t T : {1, 2, 3, 8, 17, 32, 64})
      for (bench::PoolRouting r : {bench::PoolRouting::uniform, bench::PoolRouting::one_set}) {
        Config c;
        c.variant = "expert_centric_and_fused", c.shape_name = std::string(p.name), c.shape = {T, p.H, p.I, p.E, p.k};
        c.act = p.name == "gpt-oss-120b" ? Activation::swiglu_clamped : Activation::swiglu;
        c.routing = r == bench::PoolRouting::uniform ? RoutingDist::uniform : RoutingDist::one_set;
        c.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
        c.values = ValueDist::uniform;
        c.seed = 1000 + i++;
        out.push_back({c, {T, r}});
      }
  return out;
}

// The pool of the last preset asked for (configs come preset by preset).
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
  pool.layout = cfg.layout;  // the weights are random either way; the layout says how to read them
  return pool;
}

class ExpertCentricGpuPreset : public ::testing::TestWithParam<std::pair<Config, PresetCase>> {};

TEST_P(ExpertCentricGpuPreset, WithinDerivedBound) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const auto& [cfg, pc] = GetParam();
  Case& c = preset_pool(cfg);
  bench::reroute(c, pc.T, pc.routing, cfg.seed);
  for (const char* v : {"expert_centric", "expert_centric_fused"}) check_on_device(v, c);
}

INSTANTIATE_TEST_SUITE_P(Presets, ExpertCentricGpuPreset, ::testing::ValuesIn(preset_configs()),
                         [](const auto& info) { return name_of(info.param.first); });

// Small shapes: K tails (the scalar load path where H or I % 8 != 0), k = E,
// every activation and value distribution; full oracle.
std::vector<Config> small_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {{"h200_i72_e16_k4", {0, 200, 72, 16, 4}},
                                                             {"h37_i19_e5_k5", {0, 37, 19, 5, 5}},
                                                             {"h264_i136_e64_k8", {0, 264, 136, 64, 8}},
                                                             {"h1032_i520_e3_k1", {0, 1032, 520, 3, 1}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist values[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                              ValueDist::cancel};
  const RoutingDist routings[] = {RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set,
                                  RoutingDist::distinct, RoutingDist::adversarial};
  int i = 0;
  for (auto& [name, s] : shapes)
    for (int64_t T : {1, 2, 3, 8, 17, 32, 64})
      for (RoutingDist r : routings)
        for (const char* v : {"expert_centric", "expert_centric_fused"}) {
          Config c;
          c.variant = v, c.shape_name = name, c.shape = s, c.shape.T = T;
          const int j = i++ / 2;  // both variants see the same case
          c.act = acts[j % 4];
          c.values = values[(j / 4) % 5];
          if (c.values == ValueDist::cancel && c.shape.I % 2) c.values = ValueDist::normal;
          c.routing = r;
          c.layout = (j / 3) % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
          c.storage = ExpertStorage::all;
          c.seed = 5000 + j;
          out.push_back(c);
        }
  return out;
}

class ExpertCentricGpu : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricGpu, WithinDerivedBound) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const Config& cfg = GetParam();
  const Case c = generate_case(spec_of(cfg));
  check_on_device(cfg.variant, c);
}

INSTANTIATE_TEST_SUITE_P(Small, ExpertCentricGpu, ::testing::ValuesIn(small_configs()),
                         [](const auto& info) { return name_of(info.param); });

// Weights of experts no token selected are NaN: any read of them reaches an
// output (0 * NaN = NaN in the mma), so the bound check catches it.
class ExpertCentricGpuIsolation : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricGpuIsolation, UnselectedExpertsNeverRead) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const Config& cfg = GetParam();
  Case c = generate_case(spec_of(cfg));
  ASSERT_TRUE(c.stored_experts.empty());
  std::set<int32_t> used(c.topk_ids.begin(), c.topk_ids.end());
  ASSERT_LT(static_cast<int64_t>(used.size()), c.shape.E) << "routing selects every expert: nothing to poison";
  const int64_t n13 = 2 * c.shape.I * c.shape.H, n2 = c.shape.H * c.shape.I;
  for (int64_t e = 0; e < c.shape.E; ++e) {
    if (used.count(static_cast<int32_t>(e))) continue;
    for (int64_t i = 0; i < n13; ++i) c.w13.data[2 * (e * n13 + i)] = 0xc0, c.w13.data[2 * (e * n13 + i) + 1] = 0x7f;
    for (int64_t i = 0; i < n2; ++i) c.w2.data[2 * (e * n2 + i)] = 0xc0, c.w2.data[2 * (e * n2 + i) + 1] = 0x7f;
  }
  check_on_device(cfg.variant, c);
}

std::vector<Config> isolation_configs() {
  std::vector<Config> out;
  int i = 0;
  for (int64_t T : {1, 3, 17, 64})
    for (RoutingDist r : {RoutingDist::one_set, RoutingDist::zipf})
      for (const char* v : {"expert_centric", "expert_centric_fused"}) {
        Config c;
        c.variant = v, c.shape_name = "h200_i72_e64_k4", c.shape = {T, 200, 72, 64, 4};
        c.routing = r, c.storage = ExpertStorage::all, c.seed = 9000 + i++ / 2;
        if (r == RoutingDist::zipf && T == 64) continue;  // may touch all 64 experts
        out.push_back(c);
      }
  return out;
}

INSTANTIATE_TEST_SUITE_P(NanUnselected, ExpertCentricGpuIsolation, ::testing::ValuesIn(isolation_configs()),
                         [](const auto& info) { return name_of(info.param); });

}  // namespace
}  // namespace moecheck::ec::test

// GPU tests of the expert-centric family over every weight format (weights
// dequantized into the bf16 tensor-core tile), x and y in bf16 / f16 / f32, for
// all three variants, against the oracle within each variant's derived
// bound. Outputs and workspace are NaN-poisoned before every run
// (run_on_device); in the isolation tests every expert no token selected is
// NaN in its format's own way (poison_unrouted_experts), so reading one fails.
// Skips with the reason where there is no device.
//
// Shapes: K % 8 == 0 with 16 | K (the vector path throughout), K % 16 == 8
// (the second 8-weight half of a chunk past K), and odd K (the scalar path).
#include <gtest/gtest.h>

#include "core/problem.hpp"
#include "kernels/device_case.hpp"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/test_support.hpp"

namespace moecheck::ec::test {
namespace {

std::unique_ptr<Variant> make(const std::string& name) {
  if (name == "expert_centric") return make_expert_centric();
  if (name == "expert_centric_fused") return make_expert_centric_fused();
  return make_expert_centric_mxfp8();
}

void check_on_device(const Config& cfg, const Case& c) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  auto v = make(cfg.variant);
  ASSERT_TRUE(v->supports(c).ok) << v->supports(c).reason;
  const std::vector<uint8_t> y = run_on_device(*v, c);
  const bench::OracleCheck r = bench::check_against_oracle(*v, c, y);
  EXPECT_TRUE(r.ok) << name_of(cfg) << " seed " << cfg.seed << ": " << r.message;
}

const char* const kVariants[] = {"expert_centric", "expert_centric_fused", "expert_centric_mxfp8"};

std::vector<Config> format_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {{"h256_i128_e16_k4", {0, 256, 128, 16, 4}},
                                                             {"h1032_i520_e3_k1", {0, 1032, 520, 3, 1}},
                                                             {"h2050_i260_e8_k2", {0, 2050, 260, 8, 2}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist values[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy};
  const Format xs[] = {Format::bf16, Format::f16, Format::f32};
  int i = 0;
  for (WeightFormat wf : all_weight_formats())
    for (auto& [name, s] : shapes)
      for (int64_t T : {1, 8, 17}) {
        const int j = i++;  // every variant sees the same case
        for (const char* v : kVariants) {
          Config c;
          c.variant = v, c.shape_name = name, c.shape = s, c.shape.T = T, c.weights = wf;
          c.x = xs[j % 3];
          c.y = xs[(j / 3) % 3];
          c.act = acts[j % 4];
          c.values = values[(j / 4) % 3];
          // Heavy-tailed outputs reach ~1e5, past f16's largest finite 65504:
          // inf is then the correctly rounded output and no error bound holds
          // (on an H100, 12 tests of this set failed; each one named paired
          // heavy values with f16 output). f16 overflow has its own test
          // (warp_decode twin_test); these cases take f32.
          if (c.values == ValueDist::heavy && c.y == Format::f16) c.y = Format::f32;
          c.routing = j % 2 ? RoutingDist::zipf : RoutingDist::uniform;
          c.layout = (j / 3) % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
          c.storage = ExpertStorage::all;
          c.seed = 12000 + j;
          out.push_back(c);
        }
      }
  return out;
}

class ExpertCentricGpuFormats : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricGpuFormats, WithinDerivedBound) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const Config& cfg = GetParam();
  check_on_device(cfg, generate_case(spec_of(cfg)));
}

INSTANTIATE_TEST_SUITE_P(Formats, ExpertCentricGpuFormats, ::testing::ValuesIn(format_configs()),
                         [](const auto& info) { return name_of(info.param); });

// Unselected experts NaN in their own format (NaN codes, NaN scales; e2m1's
// scales carry it): a read reaches an output through the dequantized tile.
class ExpertCentricGpuFormatsIsolation : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricGpuFormatsIsolation, UnselectedExpertsNeverRead) {
  std::string why;
  if (!cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  const Config& cfg = GetParam();
  Case c = generate_case(spec_of(cfg));
  ASSERT_GT(poison_unrouted_experts(c), 0) << "routing selects every expert: nothing to poison";
  check_on_device(cfg, c);
}

std::vector<Config> isolation_configs() {
  std::vector<Config> out;
  int i = 0;
  for (WeightFormat wf : all_weight_formats())
    for (int64_t T : {1, 17}) {
      const int j = i++;
      for (const char* v : kVariants) {
        Config c;
        c.variant = v, c.shape_name = "h200_i72_e64_k4", c.shape = {T, 200, 72, 64, 4}, c.weights = wf;
        c.routing = RoutingDist::one_set, c.storage = ExpertStorage::all, c.seed = 13000 + j;
        out.push_back(c);
      }
    }
  return out;
}

INSTANTIATE_TEST_SUITE_P(NanUnselected, ExpertCentricGpuFormatsIsolation, ::testing::ValuesIn(isolation_configs()),
                         [](const auto& info) { return name_of(info.param); });

}  // namespace
}  // namespace moecheck::ec::test

// GPU tests of the warp decode family: both variants on the model presets x
// T in {1, 2, 3, 8, 17, 32, 64} (uniform and one-set routing over a pool of
// hash-filled experts) and the quantized formats on the presets at T = 1 and
// 8, every output written and finite, the oracle's bound and the host twin
// bit for bit on the first, middle and last token, determinism; every
// weight format with x and y in bf16, f16 and f32 on odd shapes and every
// routing distribution there against the full oracle and twin, outputs
// pre-filled with NaN (every element written), unselected experts' weights
// NaN (never read); batch invariance. Each test skips itself (with the
// reason) where no device answers, so CPU-only CI runs the binary.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/generate.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "kernels/registry.hpp"
#include "kernels/warp_decode/test_support.hpp"

#ifndef MOECHECK_TEST_LEVEL
#define MOECHECK_TEST_LEVEL 1
#endif

namespace moecheck {
namespace {

using namespace warp_decode::test;

const char* kVariants[] = {"warp_decode", "warp_decode_h32"};

std::string camel(const std::string& v) { return v == "warp_decode" ? "WarpDecode" : "WarpDecodeH32"; }
// Device run checked every way one run can be: finite and within bound
// against the oracle, bitwise equal to the host twin, deterministic.
void check_variant_on_device(const Variant& v, const Case& c, const OracleResult& o) {
  const std::string replay = replay_command(c, v.name(), "cuda", {});
  const std::vector<uint8_t> y = run_on_device(v, c);
  const CheckResult r = check_output(c, o, v, y);
  EXPECT_TRUE(r.ok()) << v.name() << ": " << r.metrics.violations << " bound violations, " << r.metrics.nonfinite
                      << " non-finite (NaN sentinel = unwritten); first: " << r.first_violation
                      << "\nreplay: " << replay;
  std::vector<uint8_t> twin;
  v.run_host(c, twin);
  const std::string diff = first_difference(y, twin, c.shape.H, c.y_format);
  EXPECT_TRUE(diff.empty()) << v.name() << ": device != host twin at " << diff << "\nreplay: " << replay;
  const std::vector<uint8_t> again = run_on_device(v, c);
  EXPECT_TRUE(again == y) << v.name() << ": second device run differs at " << first_difference(y, again, c.shape.H, c.y_format)
                          << "\nreplay: " << replay;
}

// Heavy-tailed values reach |y| ~ 1e5, past f16's largest finite 65504: f16
// output there is the overflow test's subject, not an accuracy check.
Format y_for(ValueDist v, Format y) { return v == ValueDist::heavy && y == Format::f16 ? Format::f32 : y; }

// ---- presets x T x routing ------------------------------------------------
// One test runs both variants on one case (ctest runs every test in its own
// process: per-variant tests generated each case and its oracle twice).

struct PresetConfig {
  std::string preset;
  int64_t T;
  bench::PoolRouting routing;
};

std::vector<PresetConfig> preset_configs() {
  std::vector<int64_t> Ts = {1, 2, 3, 8, 17, 32, 64};
  if (MOECHECK_TEST_LEVEL == 0) Ts = {1, 3};
  std::vector<PresetConfig> out;
  int i = 0;
  for (const auto& pr : shape_presets())
    for (int64_t T : Ts) {
      // Default level: T >= 17 on the smallest preset only (nightly: all).
      if (T >= 17 && pr.name != "qwen3-30b-a3b" && MOECHECK_TEST_LEVEL < 2) continue;
      out.push_back({std::string(pr.name), T, i++ % 2 ? bench::PoolRouting::one_set : bench::PoolRouting::uniform});
    }
  return out;
}

class PresetOnDevice : public ::testing::TestWithParam<PresetConfig> {};

TEST_P(PresetOnDevice, WithinBound_EqualsTwin_Deterministic) {
  SKIP_WITHOUT_GPU();
  const PresetConfig& pc = GetParam();
  const Case c = preset_case(pc.preset, pc.T, WeightFormat::bf16, pc.routing, 4242 + static_cast<uint64_t>(pc.T));
  for (const char* v : kVariants) check_sampled_on_device(find_variant(v), c);
}

INSTANTIATE_TEST_SUITE_P(Presets, PresetOnDevice, ::testing::ValuesIn(preset_configs()), [](const auto& info) {
  const PresetConfig& p = info.param;
  const std::string act = p.preset == "gpt-oss-120b" ? "swiglu_clamped" : "swiglu";
  return "WarpDecodeAndH32_bf16_" + act + "_" + ident(p.preset) + "_T" + std::to_string(p.T) + "_" +
         pool_routing_name(p.routing);
});

// ---- odd shapes: tails, scalar path, isolation ----------------------------

struct SmallConfig {
  Shape shape;
  Activation act;
  GateUpLayout layout;
  ValueDist values;
  Format y;
  std::string variant;
};

std::vector<SmallConfig> small_configs() {
  const Shape shapes[] = {{1, 2050, 77, 9, 3},  {8, 2050, 130, 6, 6}, {3, 37, 21, 4, 4},  {17, 264, 9, 16, 5},
                          {2, 1, 1, 3, 1},      {64, 129, 40, 12, 2}, {5, 520, 264, 5, 5}, {33, 263, 256, 16, 16}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist vals[] = {ValueDist::normal, ValueDist::heavy, ValueDist::uniform, ValueDist::cancel};
  const Format ys[] = {Format::bf16, Format::f16, Format::f32};  // each output format on several shapes
  std::vector<SmallConfig> out;
  int i = 0;
  for (const Shape& s : shapes) {
    for (const char* v : kVariants)
      out.push_back({s, acts[i % 4], i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated, vals[i % 4],
                     y_for(vals[i % 4], ys[i % 3]), v});
    ++i;
  }
  return out;
}

// All experts stored; those no token routes to get NaN weights, which must
// never reach an output (the oracle and the twin do not read them either).
Case small_case(const SmallConfig& sc) {
  GenSpec g;
  g.shape = sc.shape;
  g.act.kind = sc.act;
  g.layout = sc.layout;
  g.values = sc.values;
  g.y_format = sc.y;
  g.routing = RoutingDist::zipf;
  g.storage = ExpertStorage::all;
  g.seed = 99 + static_cast<uint64_t>(sc.shape.H * 31 + sc.shape.T);
  Case c = generate_case(g);
  poison_unrouted_experts(c);
  return c;
}

class SmallOnDevice : public ::testing::TestWithParam<SmallConfig> {};

TEST_P(SmallOnDevice, UnroutedNaNExperts_WithinBound_EqualsTwin) {
  SKIP_WITHOUT_GPU();
  const SmallConfig& sc = GetParam();
  const Case c = small_case(sc);
  const OracleResult o = run_oracle(c);
  check_variant_on_device(find_variant(sc.variant), c, o);
}

INSTANTIATE_TEST_SUITE_P(OddShapes, SmallOnDevice, ::testing::ValuesIn(small_configs()), [](const auto& info) {
  const SmallConfig& s = info.param;
  return camel(s.variant) + "_bf16_" + std::string(activation_name(s.act)) + "_" +
         std::string(values_name(s.values)) + (s.layout == GateUpLayout::interleaved ? "_il" : "") + "_T" +
         std::to_string(s.shape.T) + "_H" + std::to_string(s.shape.H) + "_I" + std::to_string(s.shape.I) + "_E" +
         std::to_string(s.shape.E) + "_k" + std::to_string(s.shape.k) + "_y" + std::string(format_name(s.y));
});

// ---- every weight format x x format ------------------------------------------
// The CPU matrix of twin_test.cpp on the device: scalar tails (H = 2050,
// I = 77), partly filled lanes (I = 96), fp4 vector gate/up with a scalar
// down (H = 288, I = 200); unrouted experts NaN in the format's own way.

struct FormatConfig {
  std::string variant;
  WeightFormat weights;
  Format x, y;
  Shape shape;
  Activation act;
  GateUpLayout layout;
  ValueDist values;
};

std::vector<FormatConfig> format_configs() {
  struct Base {
    Shape shape;
    Activation act;
    Format x;
    GateUpLayout layout;
    ValueDist values;
  };
  const Base bases[] = {
      {{8, 2050, 77, 6, 3}, Activation::swiglu, Format::bf16, GateUpLayout::concatenated, ValueDist::normal},
      {{3, 512, 96, 5, 2}, Activation::geglu, Format::f16, GateUpLayout::interleaved, ValueDist::heavy},
      {{5, 288, 200, 4, 4}, Activation::swiglu_clamped, Format::f32, GateUpLayout::concatenated, ValueDist::uniform},
      {{9, 1024, 512, 8, 4}, Activation::swiglu, Format::bf16, GateUpLayout::concatenated, ValueDist::normal},
  };
  // y per base, alternating by weight format so each sees all three (never
  // f16 with the heavy base: y_for).
  const Format ys[2][4] = {{Format::f16, Format::bf16, Format::f32, Format::bf16},
                           {Format::bf16, Format::f32, Format::f16, Format::f32}};
  std::vector<FormatConfig> out;
  for (WeightFormat w : all_weight_formats())
    for (size_t q = 0; q < 4; ++q)
      for (const char* v : kVariants) {
        const Base& b = bases[q];
        out.push_back({v, w, b.x, ys[static_cast<size_t>(w) % 2][q], b.shape, b.act, b.layout, b.values});
      }
  return out;
}

class FormatOnDevice : public ::testing::TestWithParam<FormatConfig> {};

TEST_P(FormatOnDevice, UnroutedNaNExperts_WithinBound_EqualsTwin) {
  SKIP_WITHOUT_GPU();
  const FormatConfig& fc = GetParam();
  GenSpec g;
  g.shape = fc.shape;
  g.weights = fc.weights;
  g.x_format = fc.x;
  g.y_format = fc.y;
  g.act.kind = fc.act;
  g.layout = fc.layout;
  g.values = fc.values;
  g.routing = RoutingDist::zipf;
  g.storage = ExpertStorage::all;
  g.seed = 2026 + static_cast<uint64_t>(fc.shape.H);
  Case c = generate_case(g);
  poison_unrouted_experts(c);
  const OracleResult o = run_oracle(c);
  check_variant_on_device(find_variant(fc.variant), c, o);
}

INSTANTIATE_TEST_SUITE_P(Formats, FormatOnDevice, ::testing::ValuesIn(format_configs()), [](const auto& info) {
  const FormatConfig& c = info.param;
  return camel(c.variant) + "_" + std::string(weight_format_name(c.weights)) + "_" +
         std::string(activation_name(c.act)) + "_x" + std::string(format_name(c.x)) + "_" +
         std::string(values_name(c.values)) + (c.layout == GateUpLayout::interleaved ? "_il" : "") + "_T" +
         std::to_string(c.shape.T) + "_H" + std::to_string(c.shape.H) + "_I" + std::to_string(c.shape.I) + "_E" +
         std::to_string(c.shape.E) + "_k" + std::to_string(c.shape.k) + "_y" + std::string(format_name(c.y));
});

// Quantized formats on the model presets (the batched down paths: chunks
// per lane 1..4, partly filled), T in {1, 8}, both variants per test.
struct PresetFormatConfig {
  std::string preset;
  WeightFormat weights;
  int64_t T;
};

std::vector<PresetFormatConfig> preset_format_configs() {
  std::vector<PresetFormatConfig> out;
  for (const auto& pr : shape_presets())
    for (WeightFormat w : all_weight_formats()) {
      if (w == WeightFormat::bf16) continue;  // PresetOnDevice above
      for (int64_t T : {int64_t{1}, int64_t{8}}) {
        if (T > 1 && pr.name != "qwen3-30b-a3b" && pr.name != "qwen3-235b-a22b") continue;
        out.push_back({std::string(pr.name), w, T});
      }
    }
  return out;
}

class PresetFormatOnDevice : public ::testing::TestWithParam<PresetFormatConfig> {};

TEST_P(PresetFormatOnDevice, WithinBound_EqualsTwin_Deterministic) {
  SKIP_WITHOUT_GPU();
  const PresetFormatConfig& pc = GetParam();
  // T > 1 on one set of k experts: full tiles, and k experts to quantize.
  const bench::PoolRouting r = pc.T > 1 ? bench::PoolRouting::one_set : bench::PoolRouting::uniform;
  const Case c = preset_case(pc.preset, pc.T, pc.weights, r, 777 + static_cast<uint64_t>(pc.T));
  for (const char* v : kVariants) check_sampled_on_device(find_variant(v), c);
}

INSTANTIATE_TEST_SUITE_P(PresetFormats, PresetFormatOnDevice, ::testing::ValuesIn(preset_format_configs()),
                         [](const auto& info) {
                           const PresetFormatConfig& p = info.param;
                           const std::string act = p.preset == "gpt-oss-120b" ? "swiglu_clamped" : "swiglu";
                           return "WarpDecodeAndH32_" + std::string(weight_format_name(p.weights)) + "_" + act +
                                  "_" + ident(p.preset) + "_T" + std::to_string(p.T);
                         });

// ---- batch invariance -----------------------------------------------------

TEST(WarpDecodeGpu, Token_output_is_batch_invariant) {
  SKIP_WITHOUT_GPU();
  for (WeightFormat wf : all_weight_formats()) {
    GenSpec g;
    g.shape = {17, 1032, 264, 16, 4};
    g.weights = wf;
    const Format ys[] = {Format::bf16, Format::f16, Format::f32};
    g.y_format = ys[static_cast<size_t>(wf) % 3];  // row slicing below in every output width
    g.routing = RoutingDist::zipf;
    g.seed = 3;
    const Case c = generate_case(g);
    const int64_t row_bytes = c.shape.H * format_bits(c.y_format) / 8;
    for (const char* name : kVariants) {
      const Variant& v = find_variant(name);
      const std::vector<uint8_t> batch = run_on_device(v, c);
      for (int64_t t : {int64_t{0}, int64_t{7}, int64_t{16}}) {
        const std::vector<uint8_t> alone = run_on_device(v, single_token(c, t));
        const std::vector<uint8_t> row(batch.begin() + t * row_bytes, batch.begin() + (t + 1) * row_bytes);
        EXPECT_TRUE(alone == row) << name << " " << weight_format_name(wf) << " y " << format_name(c.y_format)
                                  << " token " << t << ": " << first_difference(alone, row, c.shape.H, c.y_format);
      }
    }
  }
}

TEST(WarpDecodeGpu, Reports_the_card) {
  SKIP_WITHOUT_GPU();
  std::printf("[ card     ] %s\n", cuda_device_name().c_str());
  RecordProperty("card", cuda_device_name());
}

}  // namespace
}  // namespace moecheck

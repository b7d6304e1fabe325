// CPU tests of the warp decode host twins (what CPU-only CI checks of the
// device numerics): against the oracle within the rigorous bound derived from
// each variant's declaration, on random small cases with odd shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/generate.hpp"
#include "kernels/check.hpp"
#include "kernels/registry.hpp"
#include "kernels/warp_decode/family.hpp"
#include "kernels/warp_decode/test_support.hpp"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck {
namespace {

struct Config {
  std::string variant;
  Shape shape;
  Activation act;
  GateUpLayout layout;
  ValueDist values;
  RoutingDist routing;
  Format y;
  uint64_t seed;
};

std::string config_name(const Config& c) {
  std::string v = c.variant == "warp_decode" ? "WarpDecode" : "WarpDecodeH32";
  return v + "_bf16_" + std::string(activation_name(c.act)) + "_" + std::string(values_name(c.values)) + "_" +
         std::string(routing_name(c.routing)) + "_" + (c.layout == GateUpLayout::interleaved ? "il_" : "") + "T" +
         std::to_string(c.shape.T) + "_H" + std::to_string(c.shape.H) + "_I" + std::to_string(c.shape.I) + "_E" +
         std::to_string(c.shape.E) + "_k" + std::to_string(c.shape.k) + "_y" + std::string(format_name(c.y));
}

// Heavy-tailed values reach |y| ~ 1e5, past f16's largest finite 65504: f16
// output there is the overflow test's subject, not an accuracy check.
Format y_for(ValueDist v, Format y) { return v == ValueDist::heavy && y == Format::f16 ? Format::f32 : y; }

// Deterministic spread over the edges: odd and tiny H and I (tails of the
// 8-element chunks and of the 32 lanes), k = 1 .. E, T = 1 .. 63 odd.
std::vector<Config> configs() {
  const int64_t Ts[] = {1, 3, 5, 7, 9, 17, 33, 63};
  const int64_t Hs[] = {1, 7, 37, 129, 257, 263, 300, 515, 8, 264};
  const int64_t Is[] = {1, 9, 21, 64, 77, 130, 3, 256};
  const int64_t Es[] = {1, 4, 6, 9, 16};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist vals[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                            ValueDist::cancel};
  const RoutingDist routes[] = {RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set, RoutingDist::distinct,
                                RoutingDist::adversarial};
  const Format ys[] = {Format::bf16, Format::f16, Format::f32};
  std::vector<Config> out;
  for (const char* variant : {"warp_decode", "warp_decode_h32"}) {
    for (int i = 0; i < 20; ++i) {
      Config c;
      c.variant = variant;
      const int64_t E = Es[i % 5];
      // T = 63 only with small H, I so the oracle stays fast.
      const int64_t T = Ts[(i * 3) % 8];
      c.shape = {T, Hs[(i * 7) % 10], Is[(i * 5) % 8], E, 1 + (i * 7 + 3) % E};
      if (T >= 33 && c.shape.H * c.shape.I > 300 * 21) c.shape.I = 21;
      c.act = acts[i % 4];
      c.layout = (i / 4) % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
      c.values = vals[(i / 2) % 5];
      c.routing = routes[(i / 3) % 5];
      c.y = y_for(c.values, ys[(i / 2) % 3]);
      c.seed = 1000 + static_cast<uint64_t>(i);
      out.push_back(c);
    }
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

class TwinVsOracle : public ::testing::TestWithParam<Config> {};

TEST_P(TwinVsOracle, WithinRigorousBound) {
  const Config& cf = GetParam();
  const Case c = make(cf);
  const Variant& v = find_variant(cf.variant);
  ASSERT_TRUE(v.supports(c).ok);
  std::vector<uint8_t> y;
  v.run_host(c, y);
  const OracleResult o = run_oracle(c);
  const CheckResult r = check_output(c, o, v, y);
  EXPECT_TRUE(r.ok()) << r.metrics.violations << " violations, " << r.metrics.nonfinite
                      << " non-finite; first: " << r.first_violation
                      << "\nreplay: " << replay_command(c, v.name(), "host", {});
  // Determinism of the twin itself (OpenMP over outputs must not matter).
  std::vector<uint8_t> y2;
  v.run_host(c, y2);
  EXPECT_EQ(y, y2);
}

INSTANTIATE_TEST_SUITE_P(Random, TwinVsOracle, ::testing::ValuesIn(configs()),
                         [](const auto& info) { return config_name(info.param); });

// ---- every weight format x x format ------------------------------------------

struct FormatConfig {
  std::string variant;
  WeightFormat weights;
  Format x, y;
  Shape shape;
  Activation act;
  GateUpLayout layout;
  ValueDist values;
};

std::string format_config_name(const FormatConfig& c) {
  std::string v = c.variant == "warp_decode" ? "WarpDecode" : "WarpDecodeH32";
  return v + "_" + std::string(weight_format_name(c.weights)) + "_" + std::string(activation_name(c.act)) + "_x" +
         std::string(format_name(c.x)) + "_" + std::string(values_name(c.values)) +
         (c.layout == GateUpLayout::interleaved ? "_il" : "") + "_T" + std::to_string(c.shape.T) + "_H" +
         std::to_string(c.shape.H) + "_I" + std::to_string(c.shape.I) + "_E" + std::to_string(c.shape.E) + "_k" +
         std::to_string(c.shape.k) + "_y" + std::string(format_name(c.y));
}

// Per format: scalar tails (H = 2050, I = 77: not multiples of 16 or 32),
// vector paths with partly filled lanes (I = 96: 3 fp4 chunks), and a mixed
// case (fp4 vector gate/up over H = 288, scalar down over I = 200); more
// than 128 rows so fp8_block128 crosses row blocks; x in every format, and
// y in every format for every weight format.
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
  };
  // y per base, alternating by weight format so each sees all three; never
  // f16 with the heavy base (y_for).
  const Format ys[2][3] = {{Format::f16, Format::bf16, Format::f32}, {Format::bf16, Format::f32, Format::f16}};
  std::vector<FormatConfig> out;
  for (WeightFormat w : all_weight_formats())
    for (size_t q = 0; q < 3; ++q)
      for (const char* variant : {"warp_decode", "warp_decode_h32"}) {
        const Base& b = bases[q];
        out.push_back({variant, w, b.x, ys[static_cast<size_t>(w) % 2][q], b.shape, b.act, b.layout, b.values});
      }
  return out;
}

class FormatTwinVsOracle : public ::testing::TestWithParam<FormatConfig> {};

TEST_P(FormatTwinVsOracle, WithinRigorousBound) {
  const FormatConfig& cf = GetParam();
  GenSpec g;
  g.shape = cf.shape;
  g.weights = cf.weights;
  g.x_format = cf.x;
  g.y_format = cf.y;
  g.act.kind = cf.act;
  g.layout = cf.layout;
  g.values = cf.values;
  g.routing = RoutingDist::zipf;
  g.seed = 2026 + static_cast<uint64_t>(cf.shape.H);
  const Case c = generate_case(g);
  const Variant& v = find_variant(cf.variant);
  ASSERT_TRUE(v.supports(c).ok) << v.supports(c).reason;
  std::vector<uint8_t> y(static_cast<size_t>(c.shape.T * c.shape.H * format_bits(cf.y) / 8), 0xFF);  // poisoned
  v.run_host(c, y);
  const OracleResult o = run_oracle(c);
  const CheckResult r = check_output(c, o, v, y);
  EXPECT_TRUE(r.ok()) << format_config_name(cf) << ": " << r.metrics.violations << " violations, "
                      << r.metrics.nonfinite << " non-finite; first: " << r.first_violation
                      << "\nreplay: " << replay_command(c, v.name(), "host", {});
}

INSTANTIATE_TEST_SUITE_P(Formats, FormatTwinVsOracle, ::testing::ValuesIn(format_configs()),
                         [](const auto& info) { return format_config_name(info.param); });

// The fp32 decoders shared by kernels and twins equal core's exact decode()
// for every code (NaN for NaN).
TEST(WarpDecodeTwin, Decoders_equal_core_decode_for_every_code) {
  auto same = [](float got, double want) { return std::isnan(want) ? std::isnan(got) : got == want; };
  for (uint32_t c = 0; c < 65536; ++c)
    ASSERT_TRUE(same(warp_decode::f16_to_f32(c), decode(Format::f16, c))) << "f16 code " << c;
  for (uint32_t c = 0; c < 256; ++c) {
    ASSERT_TRUE(same(warp_decode::e4m3_to_f32(c), decode(Format::e4m3, c))) << "e4m3 code " << c;
    ASSERT_TRUE(same(warp_decode::e8m0_to_f32(c), decode(Format::e8m0, c))) << "e8m0 code " << c;
  }
  for (uint32_t c = 0; c < 16; ++c)
    ASSERT_TRUE(same(warp_decode::e2m1_to_f32(c), decode(Format::e2m1, c))) << "e2m1 code " << c;
}

// Dequantized weights are fl(e * S) with the declared number of roundings:
// exact for MX (equal to the exact value), within the declaration otherwise.
TEST(WarpDecodeTwin, Dequantized_weights_follow_the_declaration) {
  for (WeightFormat wf : all_weight_formats()) {
    GenSpec g;
    g.shape = {1, 300, 40, 2, 1};
    g.weights = wf;
    g.values = ValueDist::heavy;
    const Case c = generate_case(g);
    const WeightStack& w = c.w13;
    const float* ts = w.tensor_scale.empty() ? nullptr : w.tensor_scale.data();
    const int r = warp_decode::dequant_roundings(wf);
    const double u = 0x1p-24;
    warp_decode::with_weights(wf, [&](auto loader) {
      using W = decltype(loader);
      for (int64_t row = 0; row < w.R; ++row) {
        const auto rv = W::row(w.data.data(), w.scales.data(), ts, 0, w.R, w.K, row);
        for (int64_t k = 0; k < w.K; ++k) {
          const double exact = w.value(0, row, k), got = W::at(rv, k);
          const double tol = r == 0 ? 0 : (r * u + 2 * u * u) * std::fabs(exact) + 8 * 0x1p-150;
          ASSERT_LE(std::fabs(got - exact), tol) << weight_format_name(wf) << " row " << row << " k " << k;
        }
      }
    });
  }
}

// The kernels' fast chunk decode (bit patterns times S * 2^c) gives W::at's
// values bit for bit wherever it declares itself exact, and is exact on
// (nearly) every chunk of generated weights; NaN codes and huge scales take
// the element-wise path.
TEST(WarpDecodeTwin, Fast_chunk_decode_equals_at) {
  for (WeightFormat wf : all_weight_formats()) {
    if (!has_scales(wf)) continue;
    for (ValueDist vd : {ValueDist::normal, ValueDist::heavy, ValueDist::integer}) {
      GenSpec g;
      g.shape = {1, 512, 256, 3, 2};
      g.weights = wf;
      g.values = vd;
      const Case c = generate_case(g);
      int64_t fast = 0, chunks = 0;
      warp_decode::with_weights(wf, [&](auto loader) {
        using W = decltype(loader);
        if constexpr (std::is_same_v<typename W::Row, warp_decode::QRow>) {
          for (const WeightStack* w : {&c.w13, &c.w2}) {
            const float* ts = w->tensor_scale.empty() ? nullptr : w->tensor_scale.data();
            for (int64_t e = 0; e < w->E; ++e)
              for (int64_t row = 0; row < w->R; ++row) {
                const auto rv = W::row(w->data.data(), w->scales.data(), ts, e, w->R, w->K, row);
                for (int64_t k0 = 0; k0 < w->K; k0 += W::kChunk) {
                  uint32_t words[4];
                  std::memcpy(words, rv.data + (k0 / W::kChunk) * 16, 16);
                  const float s0 = W::scale(rv, k0);
                  const float s1 = wf == WeightFormat::nvfp4 ? W::scale(rv, k0 + 16) : s0;
                  float F[2];
                  ++chunks;
                  if (!warp_decode::chunk_factors_of<W>(s0, s1, words, F)) continue;
                  ++fast;
                  for (int q = 0; q < W::kChunk; ++q) {
                    const float got = warp_decode::chunk_weight<W>(words, q, F), want = W::at(rv, k0 + q);
                    ASSERT_EQ(float_bits(got), float_bits(want))
                        << weight_format_name(wf) << " e " << e << " row " << row << " k " << k0 + q << ": " << got
                        << " vs " << want;
                  }
                }
              }
          }
          uint32_t nan_words[4] = {0x7f000000u, 0, 0, 0};
          float F[2];
          if (!W::kFp4) EXPECT_FALSE(warp_decode::chunk_factors_of<W>(0.5f, 0.5f, nan_words, F)) << "e4m3 NaN code";
          uint32_t zero_words[4] = {0, 0, 0, 0};
          EXPECT_FALSE(warp_decode::chunk_factors_of<W>(512.0f, 512.0f, zero_words, F)) << "large scale";
        }
      });
      EXPECT_GE(fast, chunks * 99 / 100) << weight_format_name(wf) << " " << values_name(vd) << ": " << fast
                                         << " of " << chunks << " chunks on the fast path";
    }
  }
}

TEST(WarpDecodeTwin, Supports_every_format_but_not_mixed_ones) {
  GenSpec g;
  g.shape = {1, 64, 32, 2, 1};
  for (WeightFormat wf : all_weight_formats())
    for (Format x : {Format::bf16, Format::f16, Format::f32}) {
      g.weights = wf;
      g.x_format = x;
      const Case c = generate_case(g);
      EXPECT_TRUE(find_variant("warp_decode").supports(c).ok) << weight_format_name(wf) << " x " << format_name(x);
    }
  g.weights = WeightFormat::mxfp4;
  g.x_format = Format::bf16;
  Case c = generate_case(g);
  g.weights = WeightFormat::bf16;
  c.w2 = generate_case(g).w2;
  const Support s = find_variant("warp_decode_h32").supports(c);
  EXPECT_FALSE(s.ok);
  EXPECT_NE(s.reason.find("one format"), std::string::npos) << s.reason;
}

// Every intermediate exact (test_support.hpp): the output is the exact value
// rounded once.
TEST(WarpDecodeTwin, Integer_bilinear_is_exact) {
  warp_decode::test::expect_exact_integer_bilinear("warp_decode", {5, 7, 77, 9, 4});
  warp_decode::test::expect_exact_integer_bilinear("warp_decode_h32", {5, 7, 77, 9, 4});
  warp_decode::test::expect_exact_integer_bilinear("warp_decode_h32", {9, 60, 15, 6, 3});
}

// The bound is tight enough to catch an undeclared rounding: warp_decode's
// output (h rounded to bf16) must violate the bound derived from the h32
// declaration on an ordinary case.
TEST(WarpDecodeTwin, Undeclared_bf16_rounding_of_h_is_caught) {
  GenSpec g;
  g.shape = {4, 512, 256, 8, 4};
  g.seed = 5;
  const Case c = generate_case(g);
  std::vector<uint8_t> y;
  find_variant("warp_decode").run_host(c, y);
  const OracleResult o = run_oracle(c);
  const CheckResult honest = check_output(c, o, find_variant("warp_decode"), y);
  EXPECT_TRUE(honest.ok()) << honest.first_violation;
  const CheckResult lying = check_output(c, o, find_variant("warp_decode_h32"), y);
  EXPECT_GT(lying.metrics.violations, 0) << "bf16 h passed the fp32-h bound: the bound cannot see this rounding";
}

// An f16 output past f16's range is stored as inf (round to nearest, as
// f32_to_f16_rn and encode do): the correctly rounded exact value, so the
// accuracy rule (kernels/check.hpp) passes it; the metrics still count it
// non-finite. The same case in f32 and bf16 passes with finite outputs.
TEST(WarpDecodeTwin, F16_output_past_its_range_is_the_correctly_rounded_inf) {
  GenSpec g;
  g.shape = {2, 64, 32, 4, 2};
  g.seed = 9;
  for (Format yf : {Format::f16, Format::f32, Format::bf16}) {
    g.y_format = yf;
    Case c = generate_case(g);
    for (float& w : c.topk_weights) w *= 0x1p24f;  // |y| ~ 2^24 >> 65504
    for (const char* name : {"warp_decode", "warp_decode_h32"}) {
      const Variant& v = find_variant(name);
      std::vector<uint8_t> y;
      v.run_host(c, y);
      const CheckResult r = check_output(c, run_oracle(c), v, y);
      EXPECT_TRUE(r.ok()) << name << " y " << format_name(yf) << ": " << r.first_violation;
      if (yf == Format::f16) {
        EXPECT_GT(r.metrics.nonfinite, c.shape.T * c.shape.H / 2) << name;
        EXPECT_TRUE(std::isinf(r.y[0])) << name << ": y[0] = " << r.y[0];
      }
    }
  }
}

// The harness refuses an output in another format than the case asks for.
TEST(WarpDecodeTwin, Output_in_a_format_not_asked_for_fails_the_check) {
  GenSpec g;
  g.shape = {2, 64, 32, 4, 2};
  const Case bf = generate_case(g);
  g.y_format = Format::f32;
  const Case f32 = generate_case(g);
  const Variant& v = find_variant("warp_decode");
  std::vector<uint8_t> y;
  v.run_host(bf, y);
  // Judged against a case that asked for f32 by a variant declaring bf16: a
  // stand-in for a variant that ignores y_format.
  struct IgnoresYFormat : Variant {
    const Variant& v;
    explicit IgnoresYFormat(const Variant& inner) : v(inner) {}
    std::string name() const override { return "ignores_y_format"; }
    std::string family() const override { return "test"; }
    std::string description() const override { return ""; }
    Claims claims() const override { return v.claims(); }
    Numerics numerics(const Case& c) const override {
      Numerics n = v.numerics(c);
      n.output_format = Format::bf16;
      return n;
    }
    Support supports(const Case& c) const override { return v.supports(c); }
    bool has_device() const override { return false; }
    size_t workspace_bytes(const Shape&) const override { return 0; }
    void run_device(const DeviceArgs&, void*, CUstream_st*) const override {}
    void run_host(const Case& c, std::vector<uint8_t>& out) const override { v.run_host(c, out); }
  } lazy(v);
  const CheckResult r = check_output(f32, run_oracle(f32), lazy, y);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.first_violation.find("declares output bf16 but the case asks for y in f32"), std::string::npos)
      << r.first_violation;
  EXPECT_TRUE(check_output(bf, run_oracle(bf), v, y).ok());
}

}  // namespace
}  // namespace moecheck

// Generators replay, stay within their budget and write the specials they
// claim; the element check used by every property can fail.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "core/error.hpp"
#include "fuzz/generators.hpp"
#include "kernels/registry.hpp"
#include "kernels/testdata/rule_cases.hpp"
#include "oracle/bounds.hpp"
#include "oracle/oracle.hpp"
#include "properties/properties.hpp"

namespace moecheck::fuzz {
namespace {

RC_GTEST_PROP(Generators, ShapesAreValidAndWithinBudget, ()) {
  const FuzzCase fc = *gen_fuzz_case(GenOptions{});
  const Shape& s = fc.spec.shape;
  RC_ASSERT(s.T >= 1 && s.T <= 128);
  RC_ASSERT(s.k >= 1 && s.k <= std::min<int64_t>(16, s.E));
  RC_ASSERT(s.E >= 1 && s.E <= 512);
  RC_ASSERT(s.T * s.k * s.I * s.H <= tier_budget(Tier::small, false).work);
  RC_CLASSIFY(s.H % 2 == 1, "odd H");
  RC_CLASSIFY(s.k == s.E, "k=E");
  RC_CLASSIFY(!fc.specials.empty(), "specials");
}

RC_GTEST_PROP(Generators, SameFuzzCaseSameBytes, ()) {
  GenOptions o;
  o.formats = {{WeightFormat::bf16, Format::bf16}, {WeightFormat::mxfp4, Format::f16}};
  const FuzzCase fc = *gen_fuzz_case(o);
  Case a, b;
  try {
    a = build_case(fc);
    b = build_case(fc);
  } catch (const InputError& e) {
    RC_DISCARD(e.what());
  }
  RC_ASSERT(a.x == b.x);
  RC_ASSERT(a.w13.data == b.w13.data);
  RC_ASSERT(a.w2.data == b.w2.data);
  RC_ASSERT(a.topk_weights == b.topk_weights);
  RC_ASSERT(a.topk_ids == b.topk_ids);
}

Case small_case(Format xf = Format::bf16) {
  GenSpec g;
  g.shape = {3, 40, 24, 6, 2};
  g.x_format = xf;
  g.seed = 11;
  return generate_case(g);
}

// Every output format is drawn, bf16 most often; a restriction is obeyed.
TEST(Generators, DrawEveryOutputFormatBf16MostOften) {
  const auto gen = rc::gen::noShrink(gen_fuzz_case(GenOptions{}));
  std::map<Format, int> n;
  for (int i = 0; i < 600; ++i) ++n[gen(rc::Random(static_cast<uint64_t>(i)), 50).value().spec.y_format];
  EXPECT_EQ(n.size(), 3u);
  EXPECT_GT(n[Format::bf16], n[Format::f16] + n[Format::f32]) << n[Format::bf16] << " bf16 of 600";
  EXPECT_GT(n[Format::f16], 30);
  EXPECT_GT(n[Format::f32], 30);
  GenOptions only;
  only.y_formats = {Format::f32};
  const auto g32 = gen_fuzz_case(only);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(g32(rc::Random(static_cast<uint64_t>(i)), 50).value().spec.y_format, Format::f32);
}

TEST(Generators, SpecialsWriteTheirBitPatterns) {
  for (Format xf : {Format::bf16, Format::f16, Format::f32}) {
    Case c = small_case(xf);
    apply_special(c, {SpecialTarget::x, SpecialKind::subnormal, 5, 7});
    const double v = c.x_value(0, 5);
    EXPECT_NE(v, 0) << format_name(xf);
    EXPECT_LT(std::fabs(v), std::ldexp(1.0, 1 - mini_spec(xf).bias)) << format_name(xf) << " subnormal expected";
    apply_special(c, {SpecialTarget::x, SpecialKind::near_max, 6, 0});
    EXPECT_EQ(std::fabs(c.x_value(0, 6)), mini_max(xf)) << format_name(xf);
    apply_special(c, {SpecialTarget::x, SpecialKind::neg_zero, 7, 0});
    EXPECT_TRUE(c.x_value(0, 7) == 0 && std::signbit(c.x_value(0, 7))) << format_name(xf);
  }
  Case c = small_case();
  apply_special(c, {SpecialTarget::routing_weight, SpecialKind::zero, 3, 0});
  EXPECT_EQ(c.topk_weights[3], 0.0f);
  apply_special(c, {SpecialTarget::w2, SpecialKind::tie, 10, 0});
  EXPECT_EQ(c.w2.value(0, 0, 10), 1.0 + std::ldexp(1.0, -7));
  validate(c);
}

Case quantized_case(WeightFormat w) {
  GenSpec g;
  g.shape = {2, 40, 24, 6, 2};
  g.weights = w;
  g.routing = RoutingDist::one_set;  // the same 2 of 6 experts for every token
  g.seed = 13;
  return generate_case(g);
}

// Codes of the element format and the scales get each format's own
// extremes; NaN lands only in an expert no token selected.
TEST(Generators, SpecialsReachQuantizedCodesAndScales) {
  for (WeightFormat w : {WeightFormat::fp8_channel, WeightFormat::fp8_block128, WeightFormat::mxfp8,
                         WeightFormat::mxfp4, WeightFormat::nvfp4}) {
    const std::string f(weight_format_name(w));
    Case c = quantized_case(w);
    const Format ef = element_format(w);
    apply_special(c, {SpecialTarget::w2, SpecialKind::near_max, 3, 0});
    EXPECT_EQ(c.w2.code(0, 0, 3), encode(ef, mini_max(ef))) << f << ": saturation code (448 e4m3, 6 e2m1)";
    apply_special(c, {SpecialTarget::w13, SpecialKind::subnormal, 5, 0});
    EXPECT_EQ(c.w13.code(0, 0, 5), 1u) << f << ": smallest subnormal code";
    apply_special(c, {SpecialTarget::w2_scale, SpecialKind::near_max, 0, 0});
    const Format sf = scale_format(w);
    uint32_t scale_code = c.w2.scales[0];
    if (sf == Format::f32) std::memcpy(&scale_code, c.w2.scales.data(), 4);
    // The largest finite scale: fp32 max, e8m0 2^127 (0xFE), e4m3 448 (0x7E).
    EXPECT_EQ(scale_code, sf == Format::e8m0 ? 0xFEu : encode(sf, mini_max(sf))) << f;
    EXPECT_TRUE(std::isfinite(c.w2.scale(0, 0, 0))) << f;
    validate(c);
    std::vector<bool> used(static_cast<size_t>(c.stored_count()), false);
    for (int32_t id : c.topk_ids) used[static_cast<size_t>(c.slot_of(id))] = true;
    for (SpecialTarget t : {SpecialTarget::w13, SpecialTarget::w2, SpecialTarget::w13_scale, SpecialTarget::w2_scale})
      for (uint32_t at : {0u, 77u, 1234u}) apply_special(c, {t, SpecialKind::nan, at, at});
    for (const WeightStack* ws : {&c.w13, &c.w2}) {
      std::vector<double> row(static_cast<size_t>(ws->K));
      bool nan_seen = false;
      for (int64_t e = 0; e < ws->E; ++e)
        for (int64_t r = 0; r < ws->R; ++r) {
          ws->dequant_row(e, r, row.data());
          for (double v : row) {
            EXPECT_TRUE(!std::isnan(v) || !used[static_cast<size_t>(e)]) << f << ": NaN in selected expert " << e;
            nan_seen |= std::isnan(v);
          }
        }
      EXPECT_TRUE(nan_seen) << f;
    }
  }
}

// The element check behind every property must reject an output one step
// outside the bound and accept it on the bound.
TEST(Properties, FirstOutsideFindsTheElement) {
  const Case c = small_case();
  const OracleResult o = run_oracle(c);
  std::vector<double> y(o.y_hi.size()), bound(o.y_hi.size(), 1e-3);
  for (size_t i = 0; i < y.size(); ++i) y[i] = o.y(i) + 0.5e-3;
  EXPECT_EQ(props::first_outside(Format::f32, o, y, bound, 0, static_cast<int64_t>(y.size())), -1);
  y[17] = o.y(17) + 2e-3 + o.err[17];
  EXPECT_EQ(props::first_outside(Format::f32, o, y, bound, 0, static_cast<int64_t>(y.size())), 17);
  EXPECT_EQ(props::first_outside(Format::f32, o, y, bound, 18, static_cast<int64_t>(y.size())), -1);
  y[20] = std::nan("");
  EXPECT_EQ(props::first_outside(Format::f32, o, y, bound, 18, static_cast<int64_t>(y.size())), 20);
}

// The accuracy property (replay, fuzz) judges by the same rule as run and
// report (kernels/check_test.cpp): a zero-writing variant fails every rule
// case, NaN and overflowing ones included, and warp_decode passes each (no
// skip: a routing weight of 3e38 used to pass `run`'s check and skip here).
TEST(Properties, AccuracyRuleFailsZeroWriterAndPassesWarpDecodeOnEveryRuleCase) {
  const Variant& wd = find_variant("warp_decode");
  const testing::ZeroWriter zero(wd);
  for (const testing::RuleCase& rc : testing::rule_cases()) {
    props::CaseContext cx(rc.c);
    const props::Verdict z = props::check_property(props::Property::accuracy, zero, props::Backend::host, cx, {});
    EXPECT_EQ(z.status, props::Status::fail) << rc.name << ": " << z.detail;
    const props::Verdict r = props::check_property(props::Property::accuracy, wd, props::Backend::host, cx, {});
    EXPECT_EQ(r.status, props::Status::pass) << rc.name << ": " << r.detail;
  }
}

TEST(Properties, PropertyNamesRoundTrip) {
  for (props::Property p : props::all_properties())
    EXPECT_EQ(props::parse_property(props::property_name(p)), p);
  EXPECT_THROW(props::parse_property("nope"), InputError);
  EXPECT_EQ(props::parse_property_list("accuracy,exact").size(), 2u);
}

}  // namespace
}  // namespace moecheck::fuzz

namespace moecheck::fuzz {
namespace {

struct ShapeStats {
  int n = 0, t16 = 0, t33 = 0, t65 = 0, h1024 = 0, e128 = 0, k8 = 0, store_all = 0, routed = 0;
  std::map<std::string, int> presets;
  void add(const DrawnShape& d) {
    const Shape& s = d.shape;
    ++n;
    t16 += s.T >= 16, t33 += s.T >= 33, t65 += s.T > 64, h1024 += s.H >= 1024, e128 += s.E > 128, k8 += s.k > 8;
    (d.store_all ? store_all : routed) += 1;
    if (!d.preset.empty()) ++presets[d.preset];
  }
  double frac(int c) const { return static_cast<double>(c) / n; }
};

ShapeStats draw_shapes(Tier tier, bool device, int n) {
  const auto gen = rc::gen::noShrink(gen_shape(tier, tier_budget(tier, device)));
  ShapeStats st;
  for (int i = 0; i < n; ++i) {
    const DrawnShape d = gen(rc::Random(static_cast<uint64_t>(i) * 7919 + 1), 0).value();
    const TierBudget b = tier_budget(tier, device);
    const Shape& s = d.shape;
    EXPECT_LE(s.T * s.k * s.I * s.H, b.work) << "draw " << i;
    const int64_t S = d.store_all ? s.E : std::min(s.E, d.one_set ? s.k : s.T * s.k);
    EXPECT_LE(S * 3 * s.I * s.H, d.preset.empty() ? b.stored_weights : b.preset_weights) << "draw " << i;
    EXPECT_TRUE(s.k >= 1 && s.k <= std::min<int64_t>(16, s.E)) << "draw " << i;
    EXPECT_TRUE(s.T <= 128 && ((s.H <= 8192 && s.I <= 4096 && s.E <= 512) || !d.preset.empty())) << "draw " << i;
    st.add(d);
  }
  return st;
}

// DESIGN.md section 6 and issue 15: at RapidCheck size 0 (size must not cap
// a range) every tier reaches production scale in the stated fractions.
TEST(Generators, ShapesReachProductionScale_10000Draws) {
  for (Tier tier : {Tier::small, Tier::production})
    for (bool device : {false, true}) {
      if (tier == Tier::small && device) continue;  // one small budget
      ShapeStats st = draw_shapes(tier, device, 10000);
      const std::string what = std::string(tier_name(tier)) + (device ? " device" : " host");
      EXPECT_GE(st.frac(st.t16), 0.20) << what << ": T >= 16";
      EXPECT_GE(st.frac(st.t33), 0.05) << what << ": T >= 33";
      EXPECT_GT(st.t65, 0) << what << ": T > 64";
      EXPECT_GE(st.frac(st.h1024), 0.20) << what << ": H >= 1024";
      EXPECT_GE(st.frac(st.e128), 0.10) << what << ": E > 128";
      EXPECT_GE(st.frac(st.k8), 0.05) << what << ": k > 8";
      EXPECT_GT(st.store_all, 0) << what;
      EXPECT_GT(st.routed, 0) << what;
      std::printf("%s: T>=16 %.3f, T>=33 %.3f, T>64 %.3f, H>=1024 %.3f, E>128 %.3f, k>8 %.3f, all %d routed %d\n",
                  what.c_str(), st.frac(st.t16), st.frac(st.t33), st.frac(st.t65), st.frac(st.h1024), st.frac(st.e128),
                  st.frac(st.k8), st.store_all, st.routed);
      if (tier == Tier::production)
        for (const Preset& p : shape_presets())
          if (device || p.name == "qwen3-30b-a3b")  // the host budget holds one token of the smallest
            EXPECT_GE(st.presets[std::string(p.name)], 10000 / 20 / 5 / 2) << what << ": preset " << p.name;
    }
}

}  // namespace
}  // namespace moecheck::fuzz

namespace moecheck::fuzz {
namespace {

// Issue 15 point 4: `--values cancel` spreads |y| / cond over 2^-8 .. 2^-60
// for every activation and weight format, with at most 5% exact zeros, over
// 1000 seeded cases (oracle values, so rounding in a kernel plays no part).
TEST(Generators, CancelSpreadsResiduesTo2toMinus60_1000Cases) {
  const auto& wf = all_weight_formats();
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const Format xs[] = {Format::bf16, Format::f32, Format::f16};
  int64_t outputs = 0, zeros = 0;
  int64_t band[4] = {};  // |y|/c in [2^-20, 2^-8), [2^-40, 2^-20), [2^-60, 2^-40), below
  double deepest = 0;
  for (int i = 0; i < 1000; ++i) {
    GenSpec g;
    g.values = ValueDist::cancel;
    g.weights = wf[i % wf.size()];
    g.act.kind = acts[(i / 7) % 4];
    g.x_format = xs[(i / 28) % 3];
    g.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
    g.shape = {1 + i % 3, 16 + (i * 37) % 113, 2 + (i * 13) % 31, 8, 1 + i % 4};
    g.seed = 5000 + static_cast<uint64_t>(i);
    const Case c = generate_case(g);
    const OracleResult o = run_oracle(c, 1);
    for (size_t j = 0; j < o.y_hi.size(); ++j) {
      ++outputs;
      if (o.y_hi[j] == 0 && o.err[j] == 0) {
        ++zeros;
        continue;
      }
      const double r = std::log2(std::fabs(o.y(j)) / o.cond[j]);
      deepest = std::min(deepest, r);
      band[r >= -20 ? 0 : r >= -40 ? 1 : r >= -60 ? 2 : 3] += r < -8;
    }
  }
  const double n = static_cast<double>(outputs);
  std::printf("cancel: %lld outputs, %.4f exact zeros, [2^-20,2^-8) %.3f [2^-40,2^-20) %.3f [2^-60,2^-40) %.3f "
              "below %.3f, deepest 2^%.1f\n",
              static_cast<long long>(outputs), zeros / n, band[0] / n, band[1] / n, band[2] / n, band[3] / n, deepest);
  EXPECT_LE(zeros / n, 0.05);
  for (int b = 0; b < 3; ++b) EXPECT_GE(band[b] / n, 0.10) << "band " << b;
  EXPECT_LE(deepest, -56);
}

}  // namespace
}  // namespace moecheck::fuzz

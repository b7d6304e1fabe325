// Generators replay, stay within their budget and write the specials they
// claim; the element check used by every property can fail.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.hpp"
#include "fuzz/generators.hpp"
#include "oracle/bounds.hpp"
#include "properties/properties.hpp"

namespace moecheck::fuzz {
namespace {

RC_GTEST_PROP(Generators, ShapesAreValidAndWithinBudget, ()) {
  const FuzzCase fc = *gen_fuzz_case(GenOptions{});
  const Shape& s = fc.spec.shape;
  RC_ASSERT(s.T >= 1 && s.T <= 64);
  RC_ASSERT(s.k >= 1 && s.k <= std::min<int64_t>(16, s.E));
  RC_ASSERT(s.E >= 1 && s.E <= 256);
  RC_ASSERT(s.T * s.k * s.I * s.H <= (int64_t{1} << 19) || s.T * s.k * s.I * s.H <= (int64_t{1} << 12));
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

// The element check behind every property must reject an output one step
// outside the bound and accept it on the bound.
TEST(Properties, FirstOutsideFindsTheElement) {
  const Case c = small_case();
  const OracleResult o = run_oracle(c);
  std::vector<double> y(o.y_hi.size()), bound(o.y_hi.size(), 1e-3);
  for (size_t i = 0; i < y.size(); ++i) y[i] = o.y(i) + 0.5e-3;
  EXPECT_EQ(props::first_outside(o, y, bound, 0, static_cast<int64_t>(y.size())), -1);
  y[17] = o.y(17) + 2e-3 + o.err[17];
  EXPECT_EQ(props::first_outside(o, y, bound, 0, static_cast<int64_t>(y.size())), 17);
  EXPECT_EQ(props::first_outside(o, y, bound, 18, static_cast<int64_t>(y.size())), -1);
  y[20] = std::nan("");
  EXPECT_EQ(props::first_outside(o, y, bound, 18, static_cast<int64_t>(y.size())), 20);
}

TEST(Properties, PropertyNamesRoundTrip) {
  for (props::Property p : props::all_properties())
    EXPECT_EQ(props::parse_property(props::property_name(p)), p);
  EXPECT_THROW(props::parse_property("nope"), InputError);
  EXPECT_EQ(props::parse_property_list("accuracy,exact").size(), 2u);
}

}  // namespace
}  // namespace moecheck::fuzz

// CPU tests of the per-row fp8 re-quantization (fp8_row.hpp) against an
// independent evaluation (double arithmetic and the core/formats.hpp e4m3
// codec); hand-worked special cases; the per-element error the bound
// charges (oracle requant_error, fp32_row); expert_centric_fp8's host
// evaluation within its derived bound for every weight format while the
// plain expert_centric declaration (no requant) is exceeded by it.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/fp8_row.hpp"
#include "kernels/expert_centric/test_support.hpp"
#include "oracle/bounds.hpp"

namespace moecheck::ec::test {
namespace {

double val(uint16_t c) { return decode(Format::bf16, c); }

// Independent: fp32 division as double division rounded to float (innocuous
// double rounding for a quotient of floats), e4m3 by the codec.
struct Ref {
  float s;
  std::vector<double> q;  // (n) e4m3 values
};
Ref reference(const std::vector<float>& x) {
  double amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(static_cast<double>(v)));
  Ref r{std::max(static_cast<float>(amax / 448.0), std::ldexp(1.0f, -126)), {}};
  for (float v : x) r.q.push_back(round_to(Format::e4m3, static_cast<float>(static_cast<double>(v) / r.s)));
  return r;
}

void requant(const std::vector<float>& x, std::vector<uint16_t>& codes, float& s) {
  codes.assign(x.size(), 0xffff);
  fp8_row_values([&](int64_t q) { return x[q]; }, static_cast<int64_t>(x.size()), codes.data(), &s);
}

void expect_reference(const std::vector<float>& x) {
  std::vector<uint16_t> codes;
  float s = 0;
  requant(x, codes, s);
  const Ref r = reference(x);
  ASSERT_EQ(float_bits(s), float_bits(r.s)) << "scale " << s << " want " << r.s;
  for (size_t q = 0; q < x.size(); ++q)
    ASSERT_EQ(val(codes[q]), r.q[q]) << "index " << q << ": x " << x[q] << " s " << s;
}

TEST(Fp8RowRequant, ScaleIsAmaxOver448) {
  std::vector<uint16_t> codes;
  float s = 0;
  // amax 448: s = 1, codes are the values rounded to e4m3 (0.3 -> 0.3125).
  requant({448.0f, -0.3f, 17.0f}, codes, s);
  EXPECT_EQ(s, 1.0f);
  EXPECT_EQ(val(codes[0]), 448.0);
  EXPECT_EQ(val(codes[1]), -0.3125);
  EXPECT_EQ(val(codes[2]), 16.0);  // 17 -> quantum 2 in [16, 32): tie to even 16
  expect_reference({448.0f, -0.3f, 17.0f});
}

TEST(Fp8RowRequant, ScaleRoundedDownSaturates) {
  // amax = 1 + 2^-21 (the first above 1 found so): amax / 448 rounds down in
  // fp32, so amax / s lies just above 448 and saturates to 448 (e4m3fn has
  // no 480, no inf).
  const float amax = 1.0f + 0x1p-21f;
  const float s = fp8_row_scale(amax, true);
  ASSERT_LT(static_cast<double>(s), static_cast<double>(amax) / 448.0);
  EXPECT_GT(static_cast<double>(amax) / s, 448.0);
  std::vector<uint16_t> codes;
  float s2 = 0;
  requant({amax, -amax, 0.5f}, codes, s2);
  EXPECT_EQ(val(codes[0]), 448.0);
  EXPECT_EQ(val(codes[1]), -448.0);
  expect_reference({amax, -amax, 0.5f});
  // The GPU test's row: amax 576 (a bf16 value), fl(576 / 448) < 9 / 7.
  EXPECT_LT(static_cast<double>(fp8_row_scale(576.0f, true)), 576.0 / 448.0);
  expect_reference({576.0f, -3.0f, 0.1f});
}

TEST(Fp8RowRequant, TinyAndZeroRowsTakeTheSmallestNormalScale) {
  EXPECT_EQ(fp8_row_scale(0.0f, true), 0x1p-126f);
  EXPECT_EQ(fp8_row_scale(0x1p-120f, true), 0x1p-126f);           // 2^-120 / 448 < 2^-126
  EXPECT_EQ(fp8_row_scale(448.0f * 0x1p-126f, true), 0x1p-126f);  // exactly the boundary
  std::vector<uint16_t> codes;
  float s = 0;
  requant({0.0f, -0.0f}, codes, s);
  EXPECT_EQ(codes[0], 0x0000);
  EXPECT_EQ(codes[1], 0x8000);
  // Subnormal x: quantum 2^-9 * 2^-126 = 2^-135; 3 2^-137 is 0.75 quanta -> 1.
  expect_reference({0x1p-130f, 3 * 0x1p-137f, 0x1p-149f, -0x1p-127f});
  requant({0x1p-130f, 3 * 0x1p-137f, 0x1p-149f}, codes, s);
  EXPECT_EQ(val(codes[1]), 0x1p-9);
  EXPECT_EQ(val(codes[2]), 0.0);
}

TEST(Fp8RowRequant, NonFiniteRowIsNanScaleZeroCodes) {
  for (float bad : {std::nanf(""), INFINITY, -INFINITY}) {
    std::vector<uint16_t> codes;
    float s = 0;
    requant({1.0f, bad, 2.0f}, codes, s);
    EXPECT_TRUE(std::isnan(s)) << bad;
    for (uint16_t c : codes) EXPECT_EQ(c, 0) << bad;
    EXPECT_TRUE(std::isnan(fp8_epilogue(0.0f, s, 1.0f)));  // every output of the row is NaN
  }
}

// Random rows over a wide range of magnitudes (fp32 subnormals to 2^100):
// bitwise the reference, each element's error |q s - x| within what the
// bound charges (requant_error fp32_row: r |x| + floor_per_amax amax + floor_abs).
TEST(Fp8RowRequant, RandomRowsMatchReferenceAndBound) {
  std::mt19937_64 rng(9);
  std::normal_distribution<double> nd;
  std::uniform_int_distribution<int> ed(-150, 100);
  const RequantError rq = requant_error(Format::e4m3, 0, RequantScale::fp32_row);
  for (int rep = 0; rep < 300; ++rep) {
    std::vector<float> x(133);
    const int sh = ed(rng);
    for (auto& v : x) v = static_cast<float>(std::ldexp(nd(rng), sh + (rep % 3 == 0 ? ed(rng) / 8 : 0)));
    expect_reference(x);
    std::vector<uint16_t> codes;
    float s = 0;
    requant(x, codes, s);
    double amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(static_cast<double>(v)));
    for (size_t q = 0; q < x.size(); ++q) {
      const double err = std::fabs(val(codes[q]) * s - x[q]);
      const double bound = rq.rel * std::fabs(x[q]) + rq.floor_per_amax * amax + rq.floor_abs;
      ASSERT_LE(err, bound) << "rep " << rep << " index " << q << " x " << x[q] << " amax " << amax << " s " << s;
    }
  }
}

// The declaration: e4m3 per-row requant of x and h; fp8_channel weights as
// codes with their scale as a second epilogue rounding, other formats in
// the bf16 tile as expert_centric with one epilogue rounding.
TEST(ExpertCentricFp8HostNumerics, DeclaresRowRequantAndEpilogue_fp8_channel_mxfp4) {
  GenSpec g;
  g.shape = {2, 64, 32, 8, 2};
  g.weights = WeightFormat::fp8_channel;
  const Numerics n = make_expert_centric_fp8()->numerics(generate_case(g));
  EXPECT_EQ(*n.x_requant, Format::e4m3);
  EXPECT_EQ(*n.h_requant, Format::e4m3);
  EXPECT_EQ(n.requant_scale, RequantScale::fp32_row);
  EXPECT_EQ(n.epilogue_roundings, 2);
  EXPECT_EQ(n.weight_roundings, 0);
  EXPECT_FALSE(n.weight_tile_format.has_value());
  g.weights = WeightFormat::mxfp4;
  const Numerics m = make_expert_centric_fp8()->numerics(generate_case(g));
  EXPECT_EQ(m.epilogue_roundings, 1);
  EXPECT_EQ(*m.weight_tile_format, Format::bf16);
}

// expert_centric_fp8's host evaluation (the device path's roundings, not
// bit-exact with it) within the bound of its declaration: every weight
// format, x and y in bf16 / f16 / f32, every activation and value
// distribution, K tails.
std::vector<Config> host_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"h64_i32_e8_k2", {0, 64, 32, 8, 2}}, {"h200_i72_e16_k4", {0, 200, 72, 16, 4}}, {"h37_i19_e5_k5", {0, 37, 19, 5, 5}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  const ValueDist values[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                              ValueDist::cancel};
  const Format fs[] = {Format::bf16, Format::f16, Format::f32};
  int i = 0;
  for (WeightFormat wf : all_weight_formats())
    for (auto& [name, s] : shapes)
      for (int64_t T : {1, 17}) {
        Config c;
        c.variant = "expert_centric_fp8", c.shape_name = name, c.shape = s, c.shape.T = T, c.weights = wf;
        c.x = fs[i % 3];
        c.act = acts[i % 4];
        c.values = values[(i / 2) % 5];
        if (c.values == ValueDist::cancel && c.shape.I % 2) c.values = ValueDist::normal;
        // heavy-tailed values may pass f16's 65504 (inf is then the right f16 output): f32 with them
        c.y = c.values == ValueDist::heavy ? Format::f32 : fs[(i / 3) % 3];
        c.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
        c.routing = i % 3 == 0 ? RoutingDist::zipf : RoutingDist::uniform;
        c.seed = 500 + i++;
        out.push_back(c);
      }
  return out;
}

class ExpertCentricFp8Host : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricFp8Host, WithinDerivedBound) { expect_host_within_bound(*make_expert_centric_fp8(), GetParam()); }

INSTANTIATE_TEST_SUITE_P(Small, ExpertCentricFp8Host, ::testing::ValuesIn(host_configs()),
                         [](const auto& info) { return name_of(info.param); });

// The re-quantization error is real: judged by expert_centric_fp8's own
// declaration without x_requant / h_requant (epilogue kept), the fp8 output
// fails, for the weight formats whose tile operand is exact. (f16,
// fp8_block128 and nvfp4 are charged a bf16 tile rounding of 2^-9 |w| per
// weight, summed in absolute value: on these cases that worst case covers the
// e4m3 errors, which are larger per element but cancel like a random walk.)
TEST(ExpertCentricFp8HostDeclaration, UndeclaredRequantExceeded_bf16_fp8_channel_mxfp8_mxfp4_T8_H200_H2050) {
  const EditedDeclaration judge(make_expert_centric_fp8(), without_requant);
  for (WeightFormat wf : {WeightFormat::bf16, WeightFormat::fp8_channel, WeightFormat::mxfp8, WeightFormat::mxfp4})
    for (const Shape& s : {Shape{8, 200, 72, 16, 4}, Shape{8, 2050, 520, 8, 2}}) {
      Config cfg;
      cfg.variant = "expert_centric_fp8", cfg.shape_name = "h" + std::to_string(s.H), cfg.shape = s;
      cfg.weights = wf;
      const Case c = generate_case(spec_of(cfg));
      std::vector<uint8_t> y;
      make_expert_centric_fp8()->run_host(c, y);
      const bench::OracleCheck own = bench::check_against_oracle(*make_expert_centric_fp8(), c, y);
      EXPECT_TRUE(own.ok) << name_of(cfg) << ": " << own.message;
      const bench::OracleCheck plain = bench::check_against_oracle(judge, c, y);
      EXPECT_FALSE(plain.ok) << name_of(cfg) << ": the declaration without the fp8 re-quantization covers "
                                "fp8-requantized output: the requant terms would not be needed";
    }
}

}  // namespace
}  // namespace moecheck::ec::test

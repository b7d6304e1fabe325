// CPU tests of the MXFP8 activation re-quantization (mx_requant.hpp) against
// an independent evaluation: the OCP MX rule written with frexp/ldexp and the
// core/formats.hpp e4m3 and bf16 codecs; hand-worked special cases; the
// per-element error the bound charges (oracle requant_error); and
// expert_centric_mxfp8's host evaluation within its derived bound while the
// plain expert_centric declaration (no requant) is exceeded by it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/mx_requant.hpp"
#include "kernels/expert_centric/test_support.hpp"
#include "oracle/bounds.hpp"

namespace moecheck::ec::test {
namespace {

uint16_t bf(double v) { return static_cast<uint16_t>(encode(Format::bf16, v)); }
double val(uint16_t c) { return decode(Format::bf16, c); }

// Independent: s = floor(log2 amax) - 8 from frexp (amax = f 2^e, f in
// [0.5, 1): floor(log2) = e - 1), clamped to [-127, 127]; elements rounded by
// the e4m3 codec (RNE, saturating), scaled back, stored as bf16.
std::vector<uint16_t> reference(const std::vector<uint16_t>& in) {
  std::vector<uint16_t> out(in.size());
  for (size_t b0 = 0; b0 < in.size(); b0 += 32) {
    const size_t b1 = std::min(in.size(), b0 + 32);
    double amax = 0;
    bool finite = true;
    for (size_t q = b0; q < b1; ++q) {
      finite = finite && std::isfinite(val(in[q]));
      amax = std::max(amax, std::fabs(val(in[q])));
    }
    int e = 0;
    std::frexp(amax, &e);
    const int s = amax == 0 ? -127 : std::clamp(e - 1 - 8, -127, 127);
    for (size_t q = b0; q < b1; ++q)
      out[q] = finite ? bf(std::ldexp(round_to(Format::e4m3, std::ldexp(val(in[q]), -s)), s)) : kBf16Nan;
  }
  return out;
}

std::vector<uint16_t> requant(const std::vector<uint16_t>& in) {
  std::vector<uint16_t> out(in.size());
  mx_requant_row(in.data(), static_cast<int64_t>(in.size()), out.data());
  return out;
}

// A 32-value block: amax first, then the values under test, zeros after.
std::vector<uint16_t> block(double amax, std::initializer_list<double> vs) {
  std::vector<uint16_t> b(32, bf(0.0));
  b[0] = bf(amax);
  int i = 1;
  for (double v : vs) b[i++] = bf(v);
  return b;
}

void expect_same(const std::vector<uint16_t>& in, const std::vector<uint16_t>& got, const std::vector<uint16_t>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t q = 0; q < got.size(); ++q)
    EXPECT_EQ(got[q], want[q]) << "index " << q << ": in " << val(in[q]) << " got " << val(got[q]) << " want "
                               << val(want[q]);
}

TEST(MxRequant, AmaxPowerOfTwo) {
  // amax 1: s = -8, 1 -> 256 exactly; 0.3 -> 76.8 -> 80 (quantum 8 in [64, 128)) -> 0.3125.
  const auto in = block(1.0, {0.3, -0.3, 0.5});
  const auto out = requant(in);
  EXPECT_EQ(val(out[0]), 1.0);
  EXPECT_EQ(val(out[1]), 0.3125);
  EXPECT_EQ(val(out[2]), -0.3125);
  EXPECT_EQ(val(out[3]), 0.5);
  expect_same(in, out, reference(in));
}

TEST(MxRequant, AmaxNear448TimesScaleSaturates) {
  // s = -8 for amax in [1, 2): 1.75 -> 448 exact; 1.8125 -> 464 and
  // 1.9921875 -> 510 both saturate to 448 (no 480 in e4m3fn), 1/8 worst case.
  const auto in = block(1.9921875, {1.75, 1.8125, -1.9921875});
  const auto out = requant(in);
  EXPECT_EQ(val(out[0]), 1.75);
  EXPECT_EQ(val(out[1]), 1.75);
  EXPECT_EQ(val(out[2]), 1.75);
  EXPECT_EQ(val(out[3]), -1.75);
  expect_same(in, out, reference(in));
}

TEST(MxRequant, SubnormalElements) {
  // amax 1, s = -8: e4m3 subnormal quantum 2^-9 scaled is 2^-17.
  const auto in = block(1.0, {std::ldexp(1.0, -16), std::ldexp(3.0, -18), std::ldexp(1.0, -18), std::ldexp(3.0, -19),
                              std::ldexp(5.0, -18), std::ldexp(1.0, -19)});
  const auto out = requant(in);
  EXPECT_EQ(val(out[1]), std::ldexp(1.0, -16));  // 2 quanta, exact
  EXPECT_EQ(val(out[2]), std::ldexp(1.0, -16));  // 1.5 quanta -> 2 (tie to even)
  EXPECT_EQ(val(out[3]), 0.0);                   // 0.5 quanta -> 0 (tie to even)
  EXPECT_EQ(val(out[4]), std::ldexp(1.0, -17));  // 0.75 quanta -> 1
  EXPECT_EQ(val(out[5]), std::ldexp(1.0, -16));  // 2.5 quanta -> 2
  EXPECT_EQ(val(out[6]), 0.0);                   // 0.25 quanta -> 0
  expect_same(in, out, reference(in));
}

TEST(MxRequant, AllZeroBlockStaysZeroWithSigns) {
  std::vector<uint16_t> in(32, bf(0.0));
  in[3] = bf(-0.0);
  EXPECT_EQ(mx_scale_exp(0.0f), -127);
  const auto out = requant(in);
  expect_same(in, out, in);
}

TEST(MxRequant, TinyAmaxClampsScaleToE8m0Range) {
  // amax 2^-120: floor(log2) - 8 = -128 -> clamped to -127 (e8m0's smallest).
  EXPECT_EQ(mx_scale_exp(std::ldexp(1.0f, -120)), -127);
  EXPECT_EQ(mx_scale_exp(std::ldexp(1.0f, -100)), -108);
  EXPECT_EQ(mx_scale_exp(std::ldexp(1.0f, -140)), -127);  // fp32 subnormal amax
  EXPECT_EQ(mx_scale_exp(std::ldexp(1.5f, 127)), 119);
  const auto in = block(std::ldexp(1.0, -120), {std::ldexp(1.0, -126), std::ldexp(1.0, -130)});
  expect_same(in, requant(in), reference(in));
}

TEST(MxRequant, NonFiniteMakesOnlyItsBlockNan) {
  // OCP MX: a NaN/Inf in a block gives the NaN scale; the block decodes as NaN.
  std::vector<uint16_t> in(64);
  for (int q = 0; q < 64; ++q) in[q] = bf(0.25 * (q + 1));
  in[5] = 0x7fc0;  // NaN in block 0
  auto out = requant(in);
  for (int q = 0; q < 32; ++q) EXPECT_TRUE(std::isnan(val(out[q]))) << q;
  for (int q = 32; q < 64; ++q) EXPECT_TRUE(std::isfinite(val(out[q]))) << q;
  in[5] = bf(1.0);
  in[40] = 0xff80;  // -inf in block 1
  out = requant(in);
  for (int q = 0; q < 32; ++q) EXPECT_TRUE(std::isfinite(val(out[q]))) << q;
  for (int q = 32; q < 64; ++q) EXPECT_TRUE(std::isnan(val(out[q]))) << q;
  expect_same(in, out, reference(in));
}

// Random rows with a short tail block and widely spread magnitudes: bitwise
// equal to the reference, and each element's error within what the bound
// charges (oracle/bounds.cpp requant_error: r |x| + floor_per_amax amax).
TEST(MxRequant, RandomRowsMatchReferenceAndBound) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> nd;
  std::uniform_int_distribution<int> ed(-40, 40);
  const RequantError rq = requant_error(Format::e4m3, 32);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<uint16_t> in(32 * 4 + 5);  // (133) four full blocks and a 5-value tail
    const int sh = ed(rng);
    for (auto& c : in) c = bf(std::ldexp(nd(rng), sh + (rep % 3 == 0 ? ed(rng) / 4 : 0)));
    const auto out = requant(in);
    expect_same(in, out, reference(in));
    for (size_t b0 = 0; b0 < in.size(); b0 += 32) {
      double amax = 0;
      for (size_t q = b0; q < std::min(in.size(), b0 + 32); ++q) amax = std::max(amax, std::fabs(val(in[q])));
      for (size_t q = b0; q < std::min(in.size(), b0 + 32); ++q) {
        const double err = std::fabs(val(out[q]) - val(in[q]));
        const double bound = rq.rel * std::fabs(val(in[q])) + rq.floor_per_amax * amax;
        ASSERT_LE(err, bound) << "rep " << rep << " index " << q << " x " << val(in[q]) << " amax " << amax;
      }
    }
  }
}

// expert_centric_mxfp8's host evaluation (same roundings as the device path,
// not bit-exact with it) within the bound of its declaration.
std::vector<Config> host_configs() {
  std::vector<Config> out;
  const std::vector<std::pair<std::string, Shape>> shapes = {
      {"h64_i32_e8_k2", {0, 64, 32, 8, 2}}, {"h200_i72_e16_k4", {0, 200, 72, 16, 4}}, {"h37_i19_e5_k5", {0, 37, 19, 5, 5}}};
  const Activation acts[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};
  int i = 0;
  for (auto& [name, s] : shapes)
    for (int64_t T : {1, 3, 17}) {
      Config c;
      c.variant = "expert_centric_mxfp8", c.shape_name = name, c.shape = s, c.shape.T = T;
      c.act = acts[i % 4];
      c.layout = i % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
      c.routing = i % 3 == 0 ? RoutingDist::zipf : RoutingDist::uniform;
      c.values = i % 5 == 4 ? ValueDist::heavy : ValueDist::normal;
      c.seed = 300 + i++;
      out.push_back(c);
    }
  return out;
}

class ExpertCentricMxfp8Host : public ::testing::TestWithParam<Config> {};

TEST_P(ExpertCentricMxfp8Host, WithinDerivedBound) {
  const Config& cfg = GetParam();
  auto v = make_expert_centric_mxfp8();
  const Case c = generate_case(spec_of(cfg));
  ASSERT_TRUE(v->supports(c).ok) << v->supports(c).reason;
  std::vector<uint8_t> y(static_cast<size_t>(c.shape.T * c.shape.H * 2), 0xff);  // NaN poison
  v->run_host(c, y);
  const bench::OracleCheck r = bench::check_against_oracle(*v, c, y);
  EXPECT_TRUE(r.ok) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Small, ExpertCentricMxfp8Host, ::testing::ValuesIn(host_configs()),
                         [](const auto& info) { return name_of(info.param); });

// The re-quantization error is real: judged by the plain expert_centric
// declaration (no x_requant / h_requant), the re-quantized output fails.
TEST(ExpertCentricMxfp8HostDeclaration, PlainDeclarationExceeded_bf16_swiglu_T8_H200_H2050) {
  // H2050 is the GPU test's case (mxfp8_gpu_test.cpp).
  for (const Shape& s : {Shape{8, 200, 72, 16, 4}, Shape{8, 2050, 520, 8, 2}}) {
    Config cfg;
    cfg.variant = "expert_centric_mxfp8", cfg.shape_name = "h" + std::to_string(s.H), cfg.shape = s;
    const Case c = generate_case(spec_of(cfg));
    std::vector<uint8_t> y;
    make_expert_centric_mxfp8()->run_host(c, y);
    const bench::OracleCheck own = bench::check_against_oracle(*make_expert_centric_mxfp8(), c, y);
    EXPECT_TRUE(own.ok) << name_of(cfg) << ": " << own.message;
    const bench::OracleCheck plain = bench::check_against_oracle(*make_expert_centric(), c, y);
    EXPECT_FALSE(plain.ok) << name_of(cfg) << ": expert_centric's declaration (no requant) covers "
                              "MXFP8-requantized output: the requant terms would not be needed";
  }
}

// Every weight format (dequantized into the bf16 tile) and x format.
TEST(ExpertCentricMxfp8HostSupport, SupportsEveryWeightAndXFormat) {
  for (WeightFormat wf : all_weight_formats())
    for (Format xf : {Format::bf16, Format::f16, Format::f32}) {
      GenSpec g;
      g.shape = {2, 64, 32, 8, 2};
      g.weights = wf;
      g.x_format = xf;
      const Support s = make_expert_centric_mxfp8()->supports(generate_case(g));
      EXPECT_TRUE(s.ok) << weight_format_name(wf) << " x " << format_name(xf) << ": " << s.reason;
    }
}

}  // namespace
}  // namespace moecheck::ec::test

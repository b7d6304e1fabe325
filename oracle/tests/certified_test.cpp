// The oracle's err against an independent evaluation (tests/independent.hpp):
// never below the true error, on the issue's two reproductions and on >= 10^5
// outputs of small cases cycling through every weight format, x format,
// activation, layout, routing and value distribution.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/generate.hpp"
#include "core/weights.hpp"
#include "oracle/oracle.hpp"
#include "oracle/tests/independent.hpp"
#include "oracle/tests/test_util.hpp"

namespace moecheck {
namespace {

std::string check(const GenSpec& spec, int min_bits, int64_t& checked) {
  const Case c = generate_case(spec);
  return test::check_independent(c, run_oracle(c, 1), min_bits, checked);
}

// Issue #17: element (1, 23) had |y_true - y| above err (err rounded to nearest).
TEST(OracleCertified, ErrBoundsTrueError_IssueRepro_nvfp4_H37_I11_E8_k3_T2_seed1) {
  GenSpec g;
  g.shape = {2, 37, 11, 8, 3};
  g.weights = WeightFormat::nvfp4;
  int64_t n = 0;
  EXPECT_EQ(check(g, 0, n), "");
}

// Issue #17: both elements.
TEST(OracleCertified, ErrBoundsTrueError_IssueRepro_bf16_f16x_geglu_H1_I1_E4_k1_T2_seed221755) {
  GenSpec g;
  g.shape = {2, 1, 1, 4, 1};
  g.x_format = Format::f16;
  g.y_format = Format::f16;
  g.act.kind = Activation::geglu;
  g.routing = RoutingDist::zipf;
  g.seed = 221755;
  int64_t n = 0;
  EXPECT_EQ(check(g, 0, n), "");
}

// Case i: every axis cycles with its own period; H up to 256 with I, k small
// keeps the independent evaluation cheap per output (~2 k I MPFR products).
GenSpec cycling_spec(int i) {
  static const Format xf[] = {Format::bf16, Format::f16, Format::f32};
  static const Activation act[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped,
                                   Activation::bilinear};
  static const ValueDist val[] = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                                  ValueDist::cancel};
  static const RoutingDist rt[] = {RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set,
                                   RoutingDist::distinct, RoutingDist::adversarial};
  GenSpec g;
  const auto& wf = all_weight_formats();
  g.weights = wf[i % wf.size()];
  g.x_format = xf[i % 3];
  g.act.kind = act[(i / 3) % 4];
  g.values = val[(i / 2) % 5];
  g.routing = rt[(i / 5) % 5];
  g.layout = (i / 7) % 2 ? GateUpLayout::interleaved : GateUpLayout::concatenated;
  const int64_t E = 1 + i % 4;
  g.shape = {1 + (i / 4) % 4, 64 + (i * 67) % 193, 1 + (i / 2) % 5, E, 1 + (i / 11) % E};
  g.seed = 17000 + i;
  return g;
}

// Also >= 100 certified bits relative to |y| on each, and exact zeros (the
// cancel distribution with I even) certified with err = 0.
TEST(OracleCertified, ErrBoundsTrueErrorAnd100BitsOver1e5Outputs_AllFormatsActivationsValues_H64to256_I1to5_k1to4) {
  const int64_t want = test::cases(20000, 100000, 400000);
  int64_t checked = 0;
  for (int i = 0; checked < want; ++i) {
    const std::string m = check(cycling_spec(i), 100, checked);
    ASSERT_EQ(m, "") << "cycling case " << i;
  }
  RecordProperty("outputs", std::to_string(checked));
}

// Two neurons whose h differ by about 2^-e relative (their up values 1 and
// 1 + 2^-e, or their gate values 0.75 and 0.75 + 2^-e), against down columns
// 1 and -1: |y| / c ~ 2^-(e+1), down to 2^-120. Every output must keep >= 100
// bits relative to |y| (Ziv refinement, BOUNDS.md 1.6).
Case deep_cancellation(Activation a, int e, bool in_gate) {
  test::DirectCase d;
  d.shape = {1, 2, 2, 1, 1};
  d.act.kind = a;
  d.x_format = Format::f32;
  d.x = {1.0f, std::ldexp(1.0f, -e)};
  // (2I, H) = gate rows 0, 1 then up rows 0, 1.
  d.w13 = {0.75f, 0.0f, 0.75f, in_gate ? 1.0f : 0.0f, 1.0f, 0.0f, 1.0f, in_gate ? 0.0f : 1.0f};
  d.w2 = {1.0f, -1.0f, 0.5f, -0.5f};  // (H, I)
  d.ids = {0};
  d.weights_route = {1.0f};
  return test::build_case(d);
}

TEST(OracleCertified, AtLeast100BitsUnderDeepCancellation_yOverC_2pow_m21_to_m120_AllActivations_f32x_bf16w) {
  for (Activation a : {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear})
    for (int e : {20, 40, 60, 80, 100, 119})
      for (bool in_gate : {false, true}) {
        const Case c = deep_cancellation(a, e, in_gate);
        const OracleResult o = run_oracle(c, 1);
        int64_t n = 0;
        EXPECT_EQ(test::check_independent(c, o, 100, n), "")
            << activation_name(a) << " e=" << e << (in_gate ? " (gate)" : " (up)");
        for (size_t i = 0; i < o.y_hi.size(); ++i)
          EXPECT_LE(std::fabs(o.y_hi[i]), std::ldexp(o.cond[i], -e + 1)) << "not a deep cancellation";
      }
}

}  // namespace
}  // namespace moecheck

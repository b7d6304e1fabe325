// Edge inputs built directly: subnormals, values near each format's largest
// finite, saturating/underflowing activations, zero routing weights, total
// cancellation. Each is checked against the naive MPFR evaluations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "core/generate.hpp"
#include "oracle/bounds.hpp"
#include "oracle/oracle.hpp"
#include "oracle/tests/test_util.hpp"

namespace moecheck {
namespace {

using test::DirectCase;

// T tokens, H, I, E experts, k routed (ids 0..k-1, weights 1/k), masters
// filled by f(index) for x, w13, w2.
template <class F>
DirectCase filled(Shape s, WeightFormat wf, Format xf, Activation a, F fill) {
  DirectCase d;
  d.shape = s;
  d.weights = wf;
  d.x_format = xf;
  d.act.kind = a;
  d.x.resize(s.T * s.H);
  d.w13.resize(s.E * 2 * s.I * s.H);
  d.w2.resize(s.E * s.H * s.I);
  for (size_t q = 0; q < d.x.size(); ++q) d.x[q] = fill(0, q);
  for (size_t q = 0; q < d.w13.size(); ++q) d.w13[q] = fill(1, q);
  for (size_t q = 0; q < d.w2.size(); ++q) d.w2[q] = fill(2, q);
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t j = 0; j < s.k; ++j) {
      d.ids.push_back(static_cast<int32_t>((t + j) % s.E));
      d.weights_route.push_back(1.0f / static_cast<float>(s.k));
    }
  return d;
}

// A deterministic spread of signs and magnitudes in [0.5, 1.5).
float wiggle(int which, size_t q) {
  const uint64_t h = (q + 1) * 0x9e3779b97f4a7c15ull ^ (static_cast<uint64_t>(which) << 60);
  const float m = 0.5f + static_cast<float>((h >> 40) & 0xffff) / 65536.0f;
  return (h >> 33) & 1 ? -m : m;
}

void expect_oracle_ok(const Case& c, const std::string& what) {
  const OracleResult o = run_oracle(c);
  for (size_t i = 0; i < o.y_hi.size(); ++i) ASSERT_TRUE(std::isfinite(o.y_hi[i])) << what << " i=" << i;
  const std::string m = test::check_against_naive(c, o);
  EXPECT_TRUE(m.empty()) << what << ": " << m;
}

const Activation kActs[] = {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear};

TEST(OracleEdge, SubnormalInputs) {
  for (Format xf : {Format::bf16, Format::f16, Format::f32}) {
    // Smallest subnormal of x's format, and a few multiples of it, next to
    // normal values: products span ~150 binades.
    const double tiny = 2 * rounding_floor(xf);  // smallest subnormal
    const Shape s{2, 37, 9, 3, 2};
    const Case c = test::build_case(filled(s, WeightFormat::bf16, xf, Activation::swiglu, [&](int w, size_t q) {
      if (w == 0 && q % 3 != 0) return static_cast<float>(tiny * static_cast<double>(1 + q % 7)) * (q % 2 ? -1.f : 1.f);
      return wiggle(w, q);
    }));
    expect_oracle_ok(c, std::string("subnormal x ") + std::string(format_name(xf)));
  }
}

TEST(OracleEdge, NearLargestFinite) {
  for (WeightFormat wf : all_weight_formats()) {
    for (Format xf : {Format::bf16, Format::f16, Format::f32}) {
      // x at the top of its format, weights at the top of fp32 masters (the
      // quantizer picks scales for the scaled formats).
      const double xmax = xf == Format::f16 ? 65504.0 : 3.3e38;
      const double wmax = (wf == WeightFormat::f16) ? 65504.0 : 3.3e38;
      const Shape s{1, 8, 4, 2, 2};
      const Case c = test::build_case(filled(s, wf, xf, Activation::bilinear, [&](int w, size_t q) {
        const double top = w == 0 ? xmax : wmax;
        return static_cast<float>(top * (q % 4 == 0 ? 0.99 : 1e-3) * (wiggle(w, q) > 0 ? 1 : -1));
      }));
      expect_oracle_ok(c, std::string("near max ") + std::string(weight_format_name(wf)) + " x " +
                              std::string(format_name(xf)));
    }
  }
}

TEST(OracleEdge, ActivationSaturationAndUnderflow) {
  // g = x . G with x all ones and a constant gate row: g = H * gate value.
  for (Activation a : kActs)
    for (double gv : {-2000.0, -90.0, -30.0, 30.0, 2000.0}) {
      const Shape s{1, 16, 4, 2, 2};
      const Case c = test::build_case(filled(s, WeightFormat::bf16, Format::bf16, a, [&](int w, size_t q) {
        if (w == 0) return 1.0f;
        if (w == 1) return static_cast<float>(gv / 16.0) * (1 + 0.01f * static_cast<float>(q % 3));
        return wiggle(w, q);
      }));
      expect_oracle_ok(c, std::string(activation_name(a)) + " g~" + std::to_string(gv));
    }
}

// h ~ 2^-790 deep in the activation's negative tail: every w_j h_j of the
// token lies below the down split's 2^-700 part floor unless the token is
// scaled first (BOUNDS.md 1.3), yet y is a normal double-double that the
// oracle must still certify to >= 100 bits.
TEST(OracleEdge, TokenOfTinyTermsKeepsFullPrecision) {
  const std::pair<Activation, double> cases[] = {
      {Activation::geglu, -33.0}, {Activation::swiglu, -550.0}, {Activation::swiglu_clamped, -330.0}};
  for (const auto& [a, gv] : cases) {
    const Shape s{2, 16, 4, 3, 2};
    const Case c = test::build_case(filled(s, WeightFormat::bf16, Format::bf16, a, [&](int w, size_t q) {
      if (w == 0) return 1.0f;
      if (w == 1) return static_cast<float>(gv / 16.0) * (1 + 0.01f * static_cast<float>(q % 3));
      return wiggle(w, q);
    }));
    const std::string what = std::string(activation_name(a)) + " g~" + std::to_string(gv);
    expect_oracle_ok(c, what);
    const OracleResult o = run_oracle(c);
    for (size_t i = 0; i < o.y_hi.size(); ++i) {
      const double y = std::fabs(o.y_hi[i]);
      ASSERT_TRUE(y > 0x1p-900 && y < 0x1p-700) << what << " i=" << i << " y=" << y;  // the regime under test
      if (y >= 0x1p-20 * o.cond[i]) {
        EXPECT_GE(oracle_correct_bits(o, static_cast<int64_t>(i)), 100) << what << " i=" << i << " err=" << o.err[i];
      }
    }
  }
}

// An infinite x element makes its token's outputs NaN, as any kernel's are:
// the oracle marks them NaN (y and err) rather than summing the finite rest,
// and the other token stays exact.
TEST(OracleEdge, InfiniteXMakesItsTokenNaN) {
  for (Format xf : {Format::bf16, Format::f16, Format::f32}) {
    const Shape s{2, 24, 6, 3, 2};
    const Case c = test::build_case(filled(s, WeightFormat::bf16, xf, Activation::swiglu, [&](int w, size_t q) {
      if (w == 0 && q == static_cast<size_t>(s.H + 5)) return std::numeric_limits<float>::infinity();
      return wiggle(w, q);
    }));
    const std::string what = std::string("inf x ") + std::string(format_name(xf));
    const OracleResult o = run_oracle(c);
    const std::string m = test::check_against_naive(c, o);
    EXPECT_TRUE(m.empty()) << what << ": " << m;
    for (int64_t i = 0; i < s.H; ++i) {
      EXPECT_TRUE(std::isfinite(o.y_hi[i]) && std::isfinite(o.err[i])) << what << " token 0, i=" << i;
      EXPECT_TRUE(std::isnan(o.y_hi[s.H + i]) && std::isnan(o.err[s.H + i])) << what << " token 1, i=" << i;
    }
  }
}

// IEEE semantics on the exact values (BOUNDS.md 1.7): +inf in w2 against a
// finite nonzero h gives +-inf (not NaN) with h's sign; +inf against h of
// both signs in one row is inf - inf = NaN; the other outputs stay finite.
TEST(OracleEdge, InfiniteW2GivesSignedInfOrNaNOnlyForInfMinusInf_bf16_SwiGLU) {
  const Shape s{1, 8, 16, 1, 1};
  const float inf = std::numeric_limits<float>::infinity();
  // x and gate rows positive (g > 0); up row n positive for even n, negative
  // for odd n: h = silu(g) u has both signs.
  const DirectCase base = filled(s, WeightFormat::bf16, Format::bf16, Activation::swiglu, [&](int w, size_t q) {
    const float v = std::fabs(wiggle(w, q));
    const int64_t row = static_cast<int64_t>(q) / s.H;
    if (w == 0 || (w == 1 && row < s.I)) return v;
    return w == 1 ? ((row - s.I) % 2 ? -v : v) : wiggle(w, q);
  });
  const OracleResult o0 = run_oracle(test::build_case(base));
  const int64_t pos = 0, neg = 1;  // neurons with h > 0 and h < 0
  ASSERT_TRUE(o0.h[pos] > 0 && o0.h[neg] < 0);
  DirectCase d = base;
  d.w2[2 * s.I + pos] = inf;   // row 2: +inf * h_pos
  d.w2[3 * s.I + neg] = inf;   // row 3: +inf * h_neg
  d.w2[5 * s.I + pos] = inf;   // row 5: +inf * h_pos + inf * h_neg
  d.w2[5 * s.I + neg] = inf;
  const OracleResult o = run_oracle(test::build_case(d));
  for (int64_t i = 0; i < s.H; ++i) {
    const std::string at = "i=" + std::to_string(i);
    if (i == 2 || i == 3) {
      EXPECT_EQ(o.y_hi[i], i == 2 ? INFINITY : -INFINITY) << at;
      EXPECT_TRUE(o.y_lo[i] == 0 && o.err[i] == 0) << at;
    } else if (i == 5) {
      EXPECT_TRUE(std::isnan(o.y_hi[i]) && std::isnan(o.err[i])) << at;
    } else {
      EXPECT_TRUE(std::isfinite(o.y_hi[i]) && o.y_hi[i] == o0.y_hi[i] && o.err[i] == o0.err[i]) << at;
    }
  }
}

// An infinite x: clamped SwiGLU clamps g = +inf to the limit and u = +-inf
// to +-limit, so h and y stay finite (and agree with the naive evaluation);
// SwiGLU gives h = F(+inf) u = +-inf, and g = -inf gives F = -inf * 0 = NaN.
TEST(OracleEdge, InfiniteXFollowsIeeeOnExactValues_ClampedFiniteSwiGLUInfOrNaN) {
  const Shape s{1, 6, 4, 1, 1};
  for (const float xinf : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    for (Activation a : {Activation::swiglu_clamped, Activation::swiglu}) {
      // Gate rows positive, so every g has x[0]'s infinity; up rows of both signs.
      DirectCase d = filled(s, WeightFormat::bf16, Format::f32, a, [&](int w, size_t q) {
        if (w == 0 && q == 0) return xinf;
        const float v = wiggle(w, q);
        return w == 1 && q < static_cast<size_t>(s.I * s.H) ? std::fabs(v) : v;
      });
      const Case c = test::build_case(d);
      const OracleResult o = run_oracle(c);
      const std::string what = std::string(activation_name(a)) + (xinf > 0 ? " x=+inf" : " x=-inf");
      for (int64_t i = 0; i < s.H; ++i) {
        if (a == Activation::swiglu_clamped && xinf > 0)
          EXPECT_TRUE(std::isfinite(o.y_hi[i]) && std::isfinite(o.err[i])) << what << " i=" << i;
        else if (xinf < 0)
          EXPECT_TRUE(std::isnan(o.y_hi[i])) << what << " i=" << i;
        else
          EXPECT_FALSE(std::isfinite(o.y_hi[i])) << what << " i=" << i;
      }
      if (a == Activation::swiglu_clamped && xinf > 0) {
        const std::string m = test::check_against_naive(c, o);
        EXPECT_TRUE(m.empty()) << what << ": " << m;
      }
    }
}

TEST(OracleEdge, ZeroRoutingWeightRemovesTheExpert) {
  GenSpec spec;
  spec.shape = {3, 24, 12, 6, 3};
  spec.seed = 11;
  Case c = generate_case(spec);
  Case dropped = c;
  dropped.shape.k = 2;
  dropped.topk_ids.clear();
  dropped.topk_weights.clear();
  for (int64_t t = 0; t < 3; ++t) {
    c.topk_weights[t * 3 + 1] = 0.0f;
    for (int64_t j : {0, 2}) {
      dropped.topk_ids.push_back(c.topk_ids[t * 3 + j]);
      dropped.topk_weights.push_back(c.topk_weights[t * 3 + j]);
    }
  }
  const OracleResult a = run_oracle(c), b = run_oracle(dropped);
  EXPECT_EQ(a.y_hi, b.y_hi);
  EXPECT_EQ(a.y_lo, b.y_lo);
  for (size_t i = 0; i < a.err.size(); ++i) EXPECT_LE(a.err[i], 1.001 * b.err[i] + 1e-300) << i;
}

TEST(OracleEdge, TotalCancellationIsExactlyZero) {
  for (Activation a : kActs)
    for (uint64_t seed : {1, 2, 3}) {
      GenSpec spec;
      spec.shape = {2, 20, 10, 4, 2};
      spec.act.kind = a;
      spec.values = ValueDist::cancel;
      spec.weights = seed == 3 ? WeightFormat::fp8_channel : WeightFormat::bf16;
      spec.seed = seed;
      Case c = generate_case(spec);
      // The cancel construction's paired neurons differ only through one
      // hidden channel (where their gate rows disagree): x = 0 there makes
      // every pair cancel exactly.
      int64_t channel = 0;
      while (c.w13.value(0, gate_row(c.layout, 10, 0), channel) == c.w13.value(0, gate_row(c.layout, 10, 1), channel))
        ++channel;
      for (int64_t t = 0; t < c.shape.T; ++t) std::memset(&c.x[(t * c.shape.H + channel) * 2], 0, 2);
      const OracleResult o = run_oracle(c);
      for (size_t i = 0; i < o.y_hi.size(); ++i) {
        EXPECT_EQ(o.y_hi[i], 0.0) << activation_name(a) << " seed " << seed << " i " << i;
        EXPECT_EQ(o.y_lo[i], 0.0);
        EXPECT_EQ(o.err[i], 0.0) << "an exact zero is certified exact (BOUNDS.md 1.6)";
        EXPECT_GT(o.cond[i], 0.0);  // not all-zero data
      }
    }
}

}  // namespace
}  // namespace moecheck

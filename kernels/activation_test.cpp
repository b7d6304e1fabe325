// The activation's declared error (Numerics::activation_ulps = 1): every
// result within 1 fp32 ulp of the exact value, tails included, against a
// long-double reference (64-bit significand, ~1e-19 relative).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/rng.hpp"
#include "kernels/activation.hpp"

namespace moecheck {
namespace {

using LD = long double;

LD ref_sigmoid(LD x) { return x >= 0 ? 1.0L / (1.0L + std::exp(-x)) : std::exp(x) / (1.0L + std::exp(x)); }

LD reference(const ActivationSpec& s, float g, float u) {
  const LD gd = g, ud = u;
  switch (s.kind) {
    case Activation::swiglu: return gd * ref_sigmoid(gd) * ud;
    case Activation::geglu: return gd * 0.5L * std::erfc(-gd / std::sqrt(2.0L)) * ud;
    case Activation::swiglu_clamped: {
      const LD gc = std::min<LD>(gd, s.limit);
      const LD uc = std::max<LD>(std::min<LD>(ud, s.limit), -static_cast<LD>(s.limit));
      return gc * ref_sigmoid(static_cast<LD>(s.alpha) * gc) * (uc + 1.0L);
    }
    default: return gd * ud;
  }
}

// One fp32 ulp at |v| (2^-149 in the subnormal range).
LD ulp32(LD v) {
  v = std::fabs(v);
  if (v < 0x1p-126L) return 0x1p-149L;
  int e;
  std::frexp(v, &e);  // v in [2^(e-1), 2^e)
  return std::ldexp(1.0L, e - 1 - 23);
}

// Random fp32 of either sign with a uniformly drawn binade in [lo, hi].
float draw(Rng& r, int lo, int hi) {
  const int e = lo + static_cast<int>(r.below(static_cast<uint64_t>(hi - lo + 1)));
  const float m = static_cast<float>(1.0 + r.uniform());
  const float v = std::ldexp(m, e);
  return (r.next() & 1) ? -v : v;
}

void check_kind(Activation kind, int g_lo, int g_hi) {
  ActivationSpec s;
  s.kind = kind;
  Rng r(0x5eed0000u + static_cast<uint64_t>(kind));
  int64_t worst_at = -1;
  double worst = 0;
  for (int64_t i = 0; i < 400000; ++i) {
    const float g = draw(r, g_lo, g_hi);
    const float u = (i % 4 == 0) ? 1.0f : draw(r, -8, 4);
    const float h = act::apply(s, g, u);
    const LD ref = reference(s, g, u);
    const double err_ulps = static_cast<double>(std::fabs(static_cast<LD>(h) - ref) / ulp32(ref));
    if (err_ulps > worst) {
      worst = err_ulps;
      worst_at = i;
    }
    ASSERT_LE(err_ulps, 1.0) << activation_name(kind) << " g=" << std::hexfloat << g << " u=" << u << " h=" << h
                             << " ref=" << static_cast<double>(ref);
  }
  // The evaluation rounds once, so no result should be off by more than half an ulp plus a hair.
  EXPECT_LE(worst, 0.5001) << activation_name(kind) << " worst sample " << worst_at;
}

TEST(Activation, SwiGLU_within_1ulp) { check_kind(Activation::swiglu, -20, 8); }
TEST(Activation, GeGLU_within_1ulp) { check_kind(Activation::geglu, -20, 6); }
TEST(Activation, SwiGLUClamped_within_1ulp) { check_kind(Activation::swiglu_clamped, -20, 8); }
TEST(Activation, Bilinear_is_the_fp32_product) {
  ActivationSpec s;
  s.kind = Activation::bilinear;
  Rng r(7);
  for (int i = 0; i < 100000; ++i) {
    const float g = draw(r, -60, 60), u = draw(r, -60, 60);
    const float h = act::apply(s, g, u), p = g * u;
    ASSERT_EQ(std::memcmp(&h, &p, 4), 0) << std::hexfloat << g << " * " << u;
  }
}

TEST(Activation, NaN_propagates_and_zero_maps_to_zero) {
  for (auto kind : {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped, Activation::bilinear}) {
    ActivationSpec s;
    s.kind = kind;
    EXPECT_TRUE(std::isnan(act::apply(s, NAN, 1.0f))) << activation_name(kind);
    EXPECT_TRUE(std::isnan(act::apply(s, 1.0f, NAN))) << activation_name(kind);
    EXPECT_EQ(act::apply(s, 0.0f, 3.0f), 0.0f) << activation_name(kind);
  }
}

// Infinite g as on the exact values (oracle/BOUNDS.md 1.7): F(g) = g s(g)
// with s(-inf) = 0 exactly, so F(-inf) u is -inf * 0 = NaN and F(+inf) u is
// +-inf. (An e^-x clamped at 700 once made silu(-inf) = -inf: fuzzing found
// it on f16 x whose heavy tail overflowed to inf, H200, 2026-12-04.)
TEST(Activation, InfiniteGateFollowsTheExactValues_SwiGLU_GeGLU) {
  for (auto kind : {Activation::swiglu, Activation::geglu}) {
    ActivationSpec s;
    s.kind = kind;
    EXPECT_TRUE(std::isnan(act::apply(s, -INFINITY, 2.0f))) << activation_name(kind);
    EXPECT_EQ(act::apply(s, INFINITY, 2.0f), INFINITY) << activation_name(kind);
    EXPECT_EQ(act::apply(s, INFINITY, -2.0f), -INFINITY) << activation_name(kind);
    EXPECT_TRUE(std::isnan(act::apply(s, INFINITY, 0.0f))) << activation_name(kind);
  }
}

TEST(Activation, Clamps_apply_at_the_limit) {
  ActivationSpec s;
  s.kind = Activation::swiglu_clamped;
  // Above the limit g and u are clamped: g = 100 behaves like g = 7.
  EXPECT_EQ(act::apply(s, 100.0f, 50.0f), act::apply(s, 7.0f, 7.0f));
  EXPECT_EQ(act::apply(s, 1.0f, -50.0f), act::apply(s, 1.0f, -7.0f));
  EXPECT_NE(act::apply(s, 6.5f, 1.0f), act::apply(s, 7.0f, 1.0f));
}

// Deep tails: exact values are tiny but not zero; the error stays within an
// ulp of the subnormal range (no flush, no spurious overflow).
TEST(Activation, Tails_do_not_overflow_or_flush_early) {
  ActivationSpec s;
  for (float g : {-20.0f, -50.0f, -87.0f, -95.0f, -100.0f, -104.0f, -150.0f, -1e30f, 30.0f, 1e30f}) {
    for (auto kind : {Activation::swiglu, Activation::geglu, Activation::swiglu_clamped}) {
      s.kind = kind;
      const float h = act::apply(s, g, 1.0f);
      const LD ref = reference(s, g, 1.0f);
      EXPECT_TRUE(std::isfinite(h)) << activation_name(kind) << " g=" << g;
      EXPECT_LE(std::fabs(static_cast<LD>(h) - ref), ulp32(ref)) << activation_name(kind) << " g=" << g;
    }
  }
}

}  // namespace
}  // namespace moecheck

// Bounds from numerics declarations: correct fp32 evaluations written here
// never exceed their rigorous bound and come within ~100x of it; one that
// secretly rounds h to bf16 exceeds the bound of a declaration saying fp32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/generate.hpp"
#include "core/rng.hpp"
#include "oracle/bounds.hpp"
#include "oracle/metrics.hpp"
#include "oracle/oracle.hpp"
#include "oracle/rows.hpp"
#include "oracle/tests/test_util.hpp"

namespace moecheck {
namespace {

constexpr int kWarp = 32;

// Butterfly over 32 lanes (xor 16, 8, 4, 2, 1): lane 0's result.
float butterfly(float* v) {
  for (int off = kWarp / 2; off >= 1; off /= 2) {
    float nv[kWarp];
    for (int l = 0; l < kWarp; ++l) nv[l] = v[l] + v[l ^ off];
    std::copy(nv, nv + kWarp, v);
  }
  return v[0];
}

// Each lane an fma chain over its strided share of the terms.
float warp_dot(const std::vector<float>& a, const float* b, int64_t n) {
  float lane[kWarp] = {};
  for (int l = 0; l < kWarp; ++l)
    for (int64_t q = l; q < n; q += kWarp) lane[l] = std::fma(a[q], b[q], lane[l]);
  return butterfly(lane);
}

// fp32 activation from libm: expf (<= 1 ulp), then 1 + e, a division and a
// product: relative error <= 5u < 5 ulps of h, for g > -87 (expf finite).
float act_f32(const ActivationSpec& a, float g, float u) {
  if (a.kind == Activation::bilinear) return g * u;
  return g / (1.0f + std::exp(-g)) * u;
}
double declared_ulps(Activation a) { return a == Activation::bilinear ? 1 : 5; }

// The warp-decode organization of DESIGN.md 2 in fp32 on the host; h kept
// in fp32 unless `secret_bf16_h`. Weights: the exact value rounded once to
// fp32 (exact_once), or dequantized as the warp decode kernels do, w =
// fl(e * fl(S)) with S the exact scale (one rounding for fp32 scales, two
// for NVFP4's e4m3 * fp32 product, none for MX), optionally then rounded to
// bf16 as well (an undeclared rounding).
enum class WeightEval { exact_once, dequant, dequant_then_bf16 };

void weight_row(const WeightStack& w, int64_t slot, int64_t r, WeightEval ev, std::vector<double>& dr, float* out) {
  if (ev == WeightEval::exact_once) {
    decode_row(w, slot, r, dr.data());
    for (int64_t q = 0; q < w.K; ++q) out[q] = static_cast<float>(dr[q]);
    return;
  }
  const Format ef = element_format(w.format);
  for (int64_t q = 0; q < w.K; ++q) {
    const float e = static_cast<float>(decode(ef, w.code(slot, r, q)));
    const float v = e * static_cast<float>(w.scale(slot, r, q));
    out[q] = ev == WeightEval::dequant ? v : bf16_to_f32(f32_to_bf16_rn(v));
  }
}

// Per-token fp8 of x (production w8a8): x replaced by its e4m3 codes under
// one fp32 scale s = max(fl(amax / 448), 2^-126), codes RN_e4m3(fl(x / s))
// saturating; returns s (the sums are multiplied by it).
float fp8_row_codes(std::vector<float>& x) {
  double amax = 0;
  for (float v : x) amax = std::max(amax, std::fabs(static_cast<double>(v)));
  const float s = std::max(static_cast<float>(amax / 448), 0x1p-126f);
  for (float& v : x) v = static_cast<float>(round_to(Format::e4m3, v / s));
  return s;
}

std::vector<double> warp_decode_f32(const Case& c, bool secret_bf16_h, WeightEval ev = WeightEval::exact_once,
                                    bool fp8_row_x = false) {
  const Shape& s = c.shape;
  std::vector<float> x(s.H), row(std::max(s.H, s.I)), h(s.T * s.k * s.I);
  std::vector<double> dr(std::max(s.H, s.I));
  std::vector<float> g(s.H), u(s.H);
  for (int64_t t = 0; t < s.T; ++t) {
    for (int64_t q = 0; q < s.H; ++q) x[q] = static_cast<float>(c.x_value(t, q));
    const float sx = fp8_row_x ? fp8_row_codes(x) : 1.0f;  // gate/up sums times sx (exact for 1)
    for (int64_t j = 0; j < s.k; ++j) {
      const int64_t slot = c.slot_of(c.id(t, j));
      for (int64_t n = 0; n < s.I; ++n) {
        weight_row(c.w13, slot, gate_row(c.layout, s.I, n), ev, dr, g.data());
        weight_row(c.w13, slot, up_row(c.layout, s.I, n), ev, dr, u.data());
        float hv = act_f32(c.act, warp_dot(g, x.data(), s.H) * sx, warp_dot(u, x.data(), s.H) * sx);
        if (secret_bf16_h) hv = bf16_to_f32(f32_to_bf16_rn(hv));
        h[(t * s.k + j) * s.I + n] = hv;
      }
    }
  }
  std::vector<double> y(s.T * s.H);
  std::vector<float> d(s.I);
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t i = 0; i < s.H; ++i) {
      float acc[kWarp] = {};
      for (int64_t j = 0; j < s.k; ++j) {
        weight_row(c.w2, c.slot_of(c.id(t, j)), i, ev, dr, d.data());
        const float* hj = &h[(t * s.k + j) * s.I];
        for (int l = 0; l < kWarp; ++l) {
          float p = 0;
          for (int64_t n = l; n < s.I; n += kWarp) p = std::fma(d[n], hj[n], p);
          acc[l] = std::fma(c.weight(t, j), p, acc[l]);
        }
      }
      y[t * s.H + i] = butterfly(acc);
    }
  return y;
}

Numerics warp_decl(Activation a) {
  Numerics n;
  n.accumulator = Format::f32;
  // Lane l takes terms l, l + 32, ... (chunk 1), then the xor butterfly.
  n.gate_up = ReductionShape{kWarp, true, 0, 1};
  n.activation_ulps = declared_ulps(a);
  n.h_format = Format::f32;
  n.down = ReductionShape{kWarp, true, 0, 1};
  n.combine = Combine::fold_partials;
  n.output_format = Format::f32;
  return n;
}

GenSpec spec_for(uint64_t seed, WeightFormat wf, Activation a, ValueDist v) {
  GenSpec s;
  Rng r(seed);
  s.shape = {static_cast<int64_t>(1 + r.below(3)), static_cast<int64_t>(64 + r.below(448)),
             static_cast<int64_t>(32 + r.below(224)), 8, static_cast<int64_t>(1 + r.below(8))};
  s.weights = wf;
  s.act.kind = a;
  s.values = v;
  s.routing = RoutingDist::uniform;
  s.seed = seed;
  return s;
}

// Largest error / bound over the elements (how much of the bound is used).
double utilisation(const OracleResult& o, const std::vector<double>& y, const Bounds& b) {
  double u = 0;
  for (size_t i = 0; i < y.size(); ++i) u = std::max(u, abs_error(o, y, i) / (b.rigorous[i] + o.err[i]));
  return u;
}

TEST(Bounds, CorrectWarpDecodeF32StaysWithinAndNearItsBound) {
  const int n = test::cases(4, 16, 80);
  double best = 0, worst = 1e300;
  for (int k = 0; k < n; ++k) {
    const Activation a = k % 4 == 3 ? Activation::bilinear : Activation::swiglu;
    const WeightFormat wf = all_weight_formats()[k % all_weight_formats().size()];
    const GenSpec spec = spec_for(1000 + k, wf, a, k % 2 ? ValueDist::uniform : ValueDist::normal);
    const Case c = generate_case(spec);
    const OracleResult o = run_oracle(c);
    const std::vector<double> y = warp_decode_f32(c, false);
    const Bounds b = derive_bounds(c, o, warp_decl(a));
    const Metrics m = compute_metrics(o, y, Format::f32, &b);
    ASSERT_EQ(m.violations, 0) << describe_violation(c, o, y, b, m.first_violation);
    const double util = utilisation(o, y, b);
    best = std::max(best, util);
    worst = std::min(worst, util);
    std::printf("  case %d %s %s: max error/bound %.4f (bound/error %.1fx), max error %.3g u*c, estimate ratio %.3f\n",
                k, std::string(weight_format_name(wf)).c_str(), std::string(activation_name(a)).c_str(), util,
                util > 0 ? 1 / util : INFINITY, m.max_ucond, m.max_abs / std::max(1e-300, *std::max_element(b.estimate.begin(), b.estimate.end())));
  }
  std::printf("bound tightness: best case uses %.4f of the bound (%.1fx), worst %.4f (%.1fx)\n", best, 1 / best,
              worst, 1 / worst);
  // Within ~100x: the largest observed error reaches at least 1% of the bound.
  EXPECT_GE(best, 0.01);
}

// The warp-decode declaration with the order left undeclared (chunk 0): the
// generic path of BOUNDS.md 2.1/2.3. Same correct evaluation, no violation;
// prints bound/error per case (the tightness figure of BOUNDS.md 2.6).
TEST(Bounds, CorrectWarpDecodeF32WithinTheGenericBound_OrderUndeclared_L32) {
  const int n = test::cases(4, 16, 80);
  std::vector<double> ratio;
  for (int k = 0; k < n; ++k) {
    const WeightFormat wf = all_weight_formats()[k % all_weight_formats().size()];
    const Case c = generate_case(spec_for(1000 + k, wf, Activation::swiglu, k % 2 ? ValueDist::uniform : ValueDist::normal));
    const OracleResult o = run_oracle(c);
    const std::vector<double> y = warp_decode_f32(c, false);
    Numerics decl = warp_decl(Activation::swiglu);
    decl.gate_up.chunk = decl.down.chunk = 0;
    const Bounds b = derive_bounds(c, o, decl);
    const Metrics m = compute_metrics(o, y, Format::f32, &b);
    ASSERT_EQ(m.violations, 0) << describe_violation(c, o, y, b, m.first_violation);
    ratio.push_back(1 / utilisation(o, y, b));
  }
  std::sort(ratio.begin(), ratio.end());
  std::printf("generic bound / largest error over %d cases: median %.1fx, max %.1fx, min %.1fx\n", n,
              ratio[ratio.size() / 2], ratio.back(), ratio.front());
}

// The longest chains fed the largest terms first: every x, weight and h is
// positive, and each lane of a 32-lane reduction takes a contiguous run of
// the terms sorted by decreasing size (no cancellation, partial sums as
// large as they can be, the largest terms through the most roundings). A
// correct evaluation of the undeclared-order declaration in the worst
// arrangement it allows stays within the bound.
float sorted_lanes_dot(const std::vector<float>& a, const float* b, int64_t n) {
  std::vector<float> t(n);
  for (int64_t q = 0; q < n; ++q) t[q] = a[q] * b[q];  // product rounded on its own (no fma declared)
  std::sort(t.begin(), t.end(), [](float p, float q) { return std::fabs(p) > std::fabs(q); });
  const int64_t m = (n + kWarp - 1) / kWarp;
  float lane[kWarp] = {};
  for (int64_t q = 0; q < n; ++q) lane[q / m] += t[q];
  return butterfly(lane);
}

TEST(Bounds, AdversarialSortedLanesWithinGenericBound_AllPositive_bf16_L32_H2048) {
  test::DirectCase d;
  d.shape = {1, 2048, 128, 4, 2};
  d.act.kind = Activation::swiglu;
  Rng r(77);
  auto pos = [&](double scale) { return static_cast<float>(scale * (0.25 + r.uniform())); };
  for (int64_t q = 0; q < d.shape.H; ++q) d.x.push_back(pos(1.0));
  for (int64_t q = 0; q < d.shape.E * 2 * d.shape.I * d.shape.H; ++q) d.w13.push_back(pos(1.0 / 256));
  for (int64_t q = 0; q < d.shape.E * d.shape.H * d.shape.I; ++q) d.w2.push_back(pos(1.0 / 64));
  d.ids = {1, 3};
  d.weights_route = {0.625f, 0.375f};
  const Case c = test::build_case(d);
  const OracleResult o = run_oracle(c);
  const Shape& s = c.shape;
  std::vector<double> dr(s.H);
  std::vector<float> x(s.H), g(s.H), u(s.H), h(s.k * s.I), dd(s.I);
  for (int64_t q = 0; q < s.H; ++q) x[q] = static_cast<float>(c.x_value(0, q));
  for (int64_t j = 0; j < s.k; ++j)
    for (int64_t n = 0; n < s.I; ++n) {
      const int64_t slot = c.slot_of(c.id(0, j));
      decode_row(c.w13, slot, gate_row(c.layout, s.I, n), dr.data());
      for (int64_t q = 0; q < s.H; ++q) g[q] = static_cast<float>(dr[q]);
      decode_row(c.w13, slot, up_row(c.layout, s.I, n), dr.data());
      for (int64_t q = 0; q < s.H; ++q) u[q] = static_cast<float>(dr[q]);
      h[j * s.I + n] = act_f32(c.act, sorted_lanes_dot(g, x.data(), s.H), sorted_lanes_dot(u, x.data(), s.H));
    }
  // Down, fold_partials: per expert the products D h (rounded) sorted and
  // dealt to the lanes the same way, then acc_l = acc_l + w_j * p_jl.
  std::vector<double> y(s.H);
  for (int64_t i = 0; i < s.H; ++i) {
    float acc[kWarp] = {};
    for (int64_t j = 0; j < s.k; ++j) {
      decode_row(c.w2, c.slot_of(c.id(0, j)), i, dr.data());
      for (int64_t n = 0; n < s.I; ++n) dd[n] = static_cast<float>(dr[n]) * h[j * s.I + n];
      std::sort(dd.begin(), dd.end(), [](float p, float q) { return std::fabs(p) > std::fabs(q); });
      float lane[kWarp] = {};
      const int64_t m = (s.I + kWarp - 1) / kWarp;
      for (int64_t n = 0; n < s.I; ++n) lane[n / m] += dd[n];
      for (int l = 0; l < kWarp; ++l) acc[l] += c.weight(0, j) * lane[l];
    }
    y[i] = butterfly(acc);
  }
  Numerics decl = warp_decl(Activation::swiglu);
  decl.gate_up.chunk = decl.down.chunk = 0;
  decl.gate_up.fma = decl.down.fma = false;  // products rounded on their own above
  const Bounds b = derive_bounds(c, o, decl);
  const Metrics m = compute_metrics(o, y, Format::f32, &b);
  EXPECT_EQ(m.violations, 0) << describe_violation(c, o, y, b, m.first_violation);
  std::printf("all-positive sorted lanes: max error/bound %.4f, max error %.3g u*c\n", utilisation(o, y, b), m.max_ucond);
}

TEST(Bounds, SecretBf16HExceedsTheFp32Declaration) {
  // Deterministic search over seeds and shapes; fails if no case shows it.
  int found = -1;
  std::string first;
  for (int k = 0; k < 40 && found < 0; ++k) {
    const GenSpec spec = spec_for(5000 + k, WeightFormat::bf16, Activation::swiglu, ValueDist::normal);
    const Case c = generate_case(spec);
    const OracleResult o = run_oracle(c);
    const std::vector<double> y = warp_decode_f32(c, true);
    const Bounds b = derive_bounds(c, o, warp_decl(Activation::swiglu));
    const Metrics m = compute_metrics(o, y, Format::f32, &b);
    if (m.violations > 0) {
      found = k;
      first = describe_violation(c, o, y, b, m.first_violation);
    }
  }
  ASSERT_GE(found, 0) << "no generated case exposed an undeclared bf16 rounding of h";
  std::printf("undeclared bf16 h caught at search step %d: %s\n", found, first.c_str());
}

// Dequantization declared as one fp32 rounding of e * s (fp8 with fp32
// scales): an evaluation that also rounds the dequantized weight to bf16 (as
// a tensor-core path feeding bf16 operands would) exceeds the bound.
TEST(Bounds, SecretBf16DequantizedWeightExceedsTheDeclaration) {
  int found = -1;
  std::string first;
  for (int k = 0; k < 40 && found < 0; ++k) {
    const GenSpec spec = spec_for(7000 + k, WeightFormat::fp8_channel, Activation::swiglu, ValueDist::normal);
    const Case c = generate_case(spec);
    const OracleResult o = run_oracle(c);
    Numerics n = warp_decl(Activation::swiglu);
    n.weight_roundings = 1;
    // The honest evaluation of the same declaration stays within it.
    const Bounds b = derive_bounds(c, o, n);
    const std::vector<double> y_honest = warp_decode_f32(c, false, WeightEval::dequant);
    const Metrics honest = compute_metrics(o, y_honest, Format::f32, &b);
    ASSERT_EQ(honest.violations, 0) << describe_violation(c, o, y_honest, b, honest.first_violation);
    const std::vector<double> y = warp_decode_f32(c, false, WeightEval::dequant_then_bf16);
    const Metrics m = compute_metrics(o, y, Format::f32, &b);
    if (m.violations > 0) {
      found = k;
      first = describe_violation(c, o, y, b, m.first_violation);
    }
  }
  ASSERT_GE(found, 0) << "no generated case exposed an undeclared bf16 rounding of the dequantized weights";
  std::printf("undeclared bf16 weight rounding caught at search step %d: %s\n", found, first.c_str());
}

// The same evaluation (dequantize, then round to bf16) declared with
// weight_tile_format = bf16 stays within the bound, for every weight format,
// with the order declared (running bound) and not (the generic path).
TEST(Bounds, DeclaredTileRoundingCoversEveryWeightFormat) {
  auto fp32_roundings = [](WeightFormat f) {
    return f == WeightFormat::nvfp4 ? 2 : (f == WeightFormat::fp8_channel || f == WeightFormat::fp8_block128) ? 1 : 0;
  };
  for (int k = 0; k < test::cases(7, 14, 28); ++k) {
    const WeightFormat wf = all_weight_formats()[k % all_weight_formats().size()];
    const Case c = generate_case(spec_for(7200 + k, wf, Activation::swiglu, ValueDist::normal));
    const OracleResult o = run_oracle(c);
    const std::vector<double> y = warp_decode_f32(c, false, WeightEval::dequant_then_bf16);
    for (int chunk : {1, 0}) {
      Numerics n = warp_decl(Activation::swiglu);
      n.gate_up.chunk = n.down.chunk = chunk;
      n.weight_roundings = fp32_roundings(wf);
      n.weight_tile_format = Format::bf16;
      const Bounds b = derive_bounds(c, o, n);
      const Metrics m = compute_metrics(o, y, Format::f32, &b);
      EXPECT_EQ(m.violations, 0) << weight_format_name(wf) << " chunk " << chunk << ": "
                                 << describe_violation(c, o, y, b, m.first_violation);
    }
  }
}

// Two declared roundings (NVFP4: fl(e * fl(s_e4m3 * s_tensor))): an
// evaluation doing exactly that stays within the bound.
TEST(Bounds, TwoDeclaredDequantRoundingsCoverNvfp4) {
  for (int k = 0; k < test::cases(2, 4, 12); ++k) {
    const GenSpec spec = spec_for(7100 + k, WeightFormat::nvfp4, Activation::swiglu, ValueDist::normal);
    const Case c = generate_case(spec);
    const OracleResult o = run_oracle(c);
    Numerics n = warp_decl(Activation::swiglu);
    n.weight_roundings = 2;
    const Bounds b = derive_bounds(c, o, n);
    const std::vector<double> y = warp_decode_f32(c, false, WeightEval::dequant);
    const Metrics m = compute_metrics(o, y, Format::f32, &b);
    EXPECT_EQ(m.violations, 0) << describe_violation(c, o, y, b, m.first_violation);
  }
}

// x re-quantized to e4m3 with one fp32 scale per row, the scale applied to
// each fp32 sum (per-token fp8): within the declaration that says so
// (x_requant e4m3, requant_scale fp32_row, one epilogue rounding), order
// declared or not; a declaration omitting the re-quantization is exceeded
// on some generated case.
TEST(Bounds, Fp8RowRequantOfXWithinItsDeclarationAndCaughtWithout) {
  int found = -1;
  std::string first;
  for (int k = 0; k < test::cases(7, 14, 28); ++k) {
    const WeightFormat wf = all_weight_formats()[k % all_weight_formats().size()];
    const GenSpec spec = spec_for(7300 + k, wf, Activation::swiglu, k % 2 ? ValueDist::uniform : ValueDist::normal);
    const Case c = generate_case(spec);
    const OracleResult o = run_oracle(c);
    const std::vector<double> y = warp_decode_f32(c, false, WeightEval::exact_once, true);
    for (int chunk : {1, 0}) {
      Numerics n = warp_decl(Activation::swiglu);
      n.gate_up.chunk = n.down.chunk = chunk;
      n.x_requant = Format::e4m3;
      n.requant_scale = RequantScale::fp32_row;
      n.epilogue_roundings = 1;
      const Bounds b = derive_bounds(c, o, n);
      const Metrics m = compute_metrics(o, y, Format::f32, &b);
      EXPECT_EQ(m.violations, 0) << weight_format_name(wf) << " chunk " << chunk << ": "
                                 << describe_violation(c, o, y, b, m.first_violation);
    }
    const Bounds plain = derive_bounds(c, o, warp_decl(Activation::swiglu));
    const Metrics m = compute_metrics(o, y, Format::f32, &plain);
    if (found < 0 && m.violations > 0) {
      found = k;
      first = describe_violation(c, o, y, plain, m.first_violation);
    }
  }
  ASSERT_GE(found, 0) << "no generated case exposed an undeclared per-row fp8 re-quantization of x";
  std::printf("undeclared fp8 row requant of x caught at search step %d: %s\n", found, first.c_str());
}

// The plain references are correct evaluations of their own declarations.
TEST(Bounds, PlainReferencesWithinTheirDeclarations) {
  for (int k = 0; k < test::cases(2, 6, 24); ++k) {
    const Activation a = k % 2 ? Activation::bilinear : Activation::swiglu;
    const WeightFormat wf = all_weight_formats()[k % all_weight_formats().size()];
    const Case c = generate_case(spec_for(300 + k, wf, a, ValueDist::normal));
    const OracleResult o = run_oracle(c);
    Numerics n;
    n.gate_up = ReductionShape{1, false, 0, 1};  // sequential, increasing order
    n.down = ReductionShape{1, false, 0, 1};
    n.combine = Combine::per_expert_outputs;
    n.expert_out_format = Format::f32;
    n.output_format = Format::f32;
    n.activation_ulps = declared_ulps(a);
    const std::vector<double> y32 = reference_fp32(c);
    Bounds b = derive_bounds(c, o, n);
    Metrics m = compute_metrics(o, y32, Format::f32, &b);
    EXPECT_EQ(m.violations, 0) << "fp32 reference: " << describe_violation(c, o, y32, b, m.first_violation);
    // fp64: the same shape with u = 2^-53 and 5 double ulps in the activation.
    n.accumulator_unit = 0x1p-53;
    n.activation_ulps = declared_ulps(a) * 0x1p-29;
    const std::vector<double> y64 = reference_fp64(c);
    b = derive_bounds(c, o, n);
    m = compute_metrics(o, y64, Format::f32, &b);
    EXPECT_EQ(m.violations, 0) << "fp64 reference: " << describe_violation(c, o, y64, b, m.first_violation);
  }
}

TEST(Bounds, ReductionDepth) {
  EXPECT_EQ(reduction_depth({1, true, 0}, 100), 100);
  EXPECT_EQ(reduction_depth({32, true, 0}, 4096), 128 + 5);
  EXPECT_EQ(reduction_depth({32, true, 0}, 33), 2 + 5);
  EXPECT_EQ(reduction_depth({1, true, 16}, 4096), 16 + 256);
  EXPECT_EQ(gamma_n(0, 0x1p-24), 0);
  EXPECT_TRUE(std::isinf(gamma_n(1 << 24, 0x1p-24)));
}

}  // namespace
}  // namespace moecheck

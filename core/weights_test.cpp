// Block weight formats: storage layout, scale selection and element rounding
// of quantize_weights, each checked against rules written out here from the
// specs (OCP MX v1.0, NVFP4's two-level scaling, fp8 amax/448 scales) and an
// MPFR reference, reading the raw bytes rather than the WeightStack accessors.
#include "core/weights.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/formats_reference.hpp"
#include "core/rng.hpp"

namespace moecheck {
namespace {

using ref::hex;
using ref::Mismatches;

const ref::Spec& spec_of(Format f) {
  for (const ref::Spec* s : ref::kMiniSpecs)
    if (s->format == f) return *s;
  throw std::logic_error("no reference spec");
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---- independent reading of the documented storage layout (weights.hpp) ----

uint32_t raw_code(const WeightStack& w, Format elem, int64_t e, int64_t r, int64_t k) {
  const int bits = spec_of(elem).bits();
  const int64_t row_bytes = bits == 4 ? ceil_div(w.K, 2) : w.K * bits / 8;
  const uint8_t* row = &w.data[(e * w.R + r) * row_bytes];
  if (bits == 16) return row[2 * k] | (static_cast<uint32_t>(row[2 * k + 1]) << 8);
  if (bits == 8) return row[k];
  return (k % 2 == 0) ? (row[k / 2] & 0xfu) : (row[k / 2] >> 4);  // low nibble = even k
}

float raw_f32(const std::vector<uint8_t>& bytes, int64_t idx) {
  float v;
  std::memcpy(&v, &bytes[idx * 4], 4);
  return v;
}

double e8m0_value(uint32_t b) { return b == 0xff ? NAN : std::ldexp(1.0, static_cast<int>(b) - 127); }

// Index of the scale covering (e, r, k), per the layout table in weights.hpp.
int64_t scale_index(const WeightStack& w, int64_t e, int64_t r, int64_t k) {
  switch (w.format) {
    case WeightFormat::fp8_channel: return e * w.R + r;
    case WeightFormat::fp8_block128: return (e * ceil_div(w.R, 128) + r / 128) * ceil_div(w.K, 128) + k / 128;
    case WeightFormat::mxfp8:
    case WeightFormat::mxfp4: return (e * w.R + r) * ceil_div(w.K, 32) + k / 32;
    case WeightFormat::nvfp4: return (e * w.R + r) * ceil_div(w.K, 16) + k / 16;
    default: return -1;
  }
}

double raw_scale(const WeightStack& w, int64_t e, int64_t r, int64_t k) {
  const int64_t i = scale_index(w, e, r, k);
  switch (w.format) {
    case WeightFormat::fp8_channel:
    case WeightFormat::fp8_block128: return raw_f32(w.scales, i);
    case WeightFormat::mxfp8:
    case WeightFormat::mxfp4: return e8m0_value(w.scales[i]);
    case WeightFormat::nvfp4: return ref::decode(ref::kE4m3, w.scales[i]) * static_cast<double>(w.tensor_scale[e]);
    default: return 1.0;
  }
}

// ---- test data -------------------------------------------------------------

// fp32 masters whose magnitude changes from block to block (so scales
// differ), with both signs; never all zero.
std::vector<float> masters(int64_t E, int64_t R, int64_t K, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(E * R * K);
  for (int64_t i = 0; i < E * R * K; ++i) {
    const int mag = static_cast<int>((i / 16) % 23) - 11;  // changes every 16 values
    const double x = (rng.uniform() * 2 - 1) * std::ldexp(1.0, mag);
    v[i] = static_cast<float>(x == 0 ? 0.25 : x);
  }
  return v;
}

struct Dims {
  int64_t E, R, K;
};
// Partial blocks along both R and K for every format (K % 32 != 0, K % 16 != 0,
// R and K not multiples of 128, odd K for the nibble packing).
constexpr Dims kDims{2, 130, 135};

std::string where(const WeightStack& w, int64_t e, int64_t r, int64_t k) {
  return std::string(weight_format_name(w.format)) + " (e=" + std::to_string(e) + ", r=" + std::to_string(r) +
         ", k=" + std::to_string(k) + ")";
}

// ---- names, shapes ---------------------------------------------------------

TEST(Weights, NamesAndParameters) {
  struct Row {
    WeightFormat f;
    const char* name;
    Format elem, scale;
    int block;
    bool scaled;
  };
  const Row rows[] = {
      {WeightFormat::bf16, "bf16", Format::bf16, Format::f32, 0, false},
      {WeightFormat::f16, "f16", Format::f16, Format::f32, 0, false},
      {WeightFormat::fp8_channel, "fp8_channel", Format::e4m3, Format::f32, 0, true},
      {WeightFormat::fp8_block128, "fp8_block128", Format::e4m3, Format::f32, -1, true},
      {WeightFormat::mxfp8, "mxfp8", Format::e4m3, Format::e8m0, 32, true},
      {WeightFormat::mxfp4, "mxfp4", Format::e2m1, Format::e8m0, 32, true},
      {WeightFormat::nvfp4, "nvfp4", Format::e2m1, Format::e4m3, 16, true},
  };
  EXPECT_EQ(all_weight_formats().size(), std::size(rows));
  for (const Row& r : rows) {
    EXPECT_EQ(weight_format_name(r.f), r.name);
    EXPECT_EQ(parse_weight_format(r.name), r.f);
    EXPECT_EQ(element_format(r.f), r.elem) << r.name;
    EXPECT_EQ(has_scales(r.f), r.scaled) << r.name;
    if (r.scaled) {
      EXPECT_EQ(scale_format(r.f), r.scale) << r.name;
      EXPECT_EQ(scale_block(r.f), r.block) << r.name;
    }
  }
  EXPECT_THROW(parse_weight_format("mxfp6"), InputError);
}

TEST(Weights, StorageShapes) {
  const auto [E, R, K] = kDims;
  const std::vector<float> m = masters(E, R, K, 1);
  struct Row {
    WeightFormat f;
    int64_t data_bytes;
    std::vector<int64_t> scale_shape;
    int64_t scale_bytes;
  };
  const Row rows[] = {
      {WeightFormat::bf16, E * R * K * 2, {}, 0},
      {WeightFormat::f16, E * R * K * 2, {}, 0},
      {WeightFormat::fp8_channel, E * R * K, {E, R}, E * R * 4},
      {WeightFormat::fp8_block128, E * R * K, {E, 2, 2}, E * 2 * 2 * 4},
      {WeightFormat::mxfp8, E * R * K, {E, R, 5}, E * R * 5},
      {WeightFormat::mxfp4, E * R * 68, {E, R, 5}, E * R * 5},
      {WeightFormat::nvfp4, E * R * 68, {E, R, 9}, E * R * 9},
  };
  for (const Row& r : rows) {
    const WeightStack w = quantize_weights(r.f, E, R, K, m);
    const std::string n(weight_format_name(r.f));
    EXPECT_EQ(static_cast<int64_t>(w.data.size()), r.data_bytes) << n;
    EXPECT_EQ(w.data_bytes(), r.data_bytes) << n;
    EXPECT_EQ(w.scale_shape(), r.scale_shape) << n;
    EXPECT_EQ(static_cast<int64_t>(w.scales.size()), r.scale_bytes) << n;
    EXPECT_EQ(w.scale_bytes(), r.scale_bytes) << n;
    EXPECT_EQ(w.tensor_scale.size(), r.f == WeightFormat::nvfp4 ? static_cast<size_t>(E) : 0u) << n;
  }
  EXPECT_THROW(quantize_weights(WeightFormat::bf16, E, R, K, std::vector<float>(5, 1.0f)), InputError);
}

// ---- dequantization is exact -----------------------------------------------

// value() and dequant_row() must equal code * scale computed from the raw
// bytes with the reference decoder; the product is exact in double.
TEST(Weights, DequantizedValueIsCodeTimesScale) {
  const auto [E, R, K] = kDims;
  const std::vector<float> m = masters(E, R, K, 2);
  for (WeightFormat f : all_weight_formats()) {
    const WeightStack w = quantize_weights(f, E, R, K, m);
    const Format elem = element_format(f);
    Mismatches mm;
    std::vector<double> row(K);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < R; ++r) {
        w.dequant_row(e, r, row.data());
        for (int64_t k = 0; k < K; ++k) {
          const uint32_t c = raw_code(w, elem, e, r, k);
          const double want = ref::decode(spec_of(elem), c) * raw_scale(w, e, r, k);
          if (w.code(e, r, k) != c) mm.add(where(w, e, r, k) + ": code() " + hex(w.code(e, r, k)) + " raw " + hex(c));
          if (!(w.value(e, r, k) == want) || !(row[k] == want)) {
            mm.add(where(w, e, r, k) + ": expected " + ref::hex_double(want) + " got value() " +
                   ref::hex_double(w.value(e, r, k)) + " dequant_row " + ref::hex_double(row[k]));
          }
        }
      }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

// ---- element rounding ------------------------------------------------------

// Every stored code is the correctly rounded quotient master / scale (the
// scale as stored), with the element format's saturation.
TEST(Weights, ElementsAreCorrectlyRoundedQuotients) {
  const auto [E, R, K] = kDims;
  const std::vector<float> m = masters(E, R, K, 3);
  for (WeightFormat f : all_weight_formats()) {
    const WeightStack w = quantize_weights(f, E, R, K, m);
    const ref::Spec& s = spec_of(element_format(f));
    Mismatches mm;
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t k = 0; k < K; ++k) {
          const double v = m[(e * R + r) * K + k], sc = raw_scale(w, e, r, k);
          const uint32_t got = raw_code(w, s.format, e, r, k);
          if (sc == 0) {  // an NVFP4 block below e4m3's range: every element is a zero
            if (ref::decode(s, got) != 0) mm.add(where(w, e, r, k) + ": zero scale but code " + hex(got));
            continue;
          }
          const ref::Expected want = ref::encode_quotient(s, v, sc);
          if (!ref::matches(s, want, got)) {
            mm.add(where(w, e, r, k) + ": master " + ref::hex_double(v) + " / scale " + ref::hex_double(sc) +
                   " expected " + ref::describe(want) + " got " + hex(got));
          }
        }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

// ---- scale selection ---------------------------------------------------------

int floor_log2(double a) {
  int x;
  std::frexp(a, &x);
  return x - 1;
}

// OCP MX v1.0 section 6.3: X = 2^(floor(log2(amax)) - emax_elem), emax_elem
// = 8 (e4m3) or 2 (e2m1), clamped to e8m0's range; elements saturate.
TEST(Weights, MxScaleSelection) {
  const auto [E, R, K] = kDims;
  const std::vector<float> m = masters(E, R, K, 4);
  for (WeightFormat f : {WeightFormat::mxfp8, WeightFormat::mxfp4}) {
    const int emax_elem = f == WeightFormat::mxfp8 ? 8 : 2;
    const WeightStack w = quantize_weights(f, E, R, K, m);
    Mismatches mm;
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t k0 = 0; k0 < K; k0 += 32) {
          double amax = 0;
          for (int64_t k = k0; k < std::min<int64_t>(K, k0 + 32); ++k) amax = std::max(amax, std::fabs(double(m[(e * R + r) * K + k])));
          const int x = std::clamp(floor_log2(amax) - emax_elem, -127, 127);
          const uint32_t got = w.scales[scale_index(w, e, r, k0)];
          if (got != static_cast<uint32_t>(x + 127)) {
            mm.add(where(w, e, r, k0) + ": block amax " + ref::hex_double(amax) + " expected e8m0 " + hex(x + 127) +
                   " got " + hex(got));
          }
        }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

// The mantissa of amax decides whether the largest element saturates: with
// amax = 1.9 * 2^8 * X, e4m3 cannot hold 486.4 and must clamp to 448; e2m1
// with amax = 7.9 * X clamps to 6. Tiny blocks clamp the scale at 2^-127.
TEST(Weights, MxSaturationAndClamping) {
  struct Row {
    WeightFormat f;
    float big;
    uint32_t want_code, want_scale;
  };
  const Row rows[] = {
      {WeightFormat::mxfp8, 1.9f * 256 * 4, 0x7e, 127 + 2},  // X = 4
      {WeightFormat::mxfp4, 7.9f * 0.5f, 0x7, 127 - 1},     // X = 0.5
  };
  for (const Row& row : rows) {
    std::vector<float> m(64, 0.75f);
    m[5] = row.big;
    m[6] = -row.big;
    for (int i = 32; i < 64; ++i) m[i] = 0x1p-140f * (i % 3 + 1);  // fp32 subnormals: scale clamps to 2^-127
    const WeightStack w = quantize_weights(row.f, 1, 1, 64, m);
    const std::string n(weight_format_name(row.f));
    EXPECT_EQ(w.scales[0], row.want_scale) << n;
    EXPECT_EQ(w.code(0, 0, 5), row.want_code) << n << " +amax";
    EXPECT_EQ(w.code(0, 0, 6), row.want_code | (row.f == WeightFormat::mxfp8 ? 0x80u : 0x8u)) << n << " -amax";
    EXPECT_EQ(w.scales[1], 0u) << n << ": clamped scale";
    for (int i = 32; i < 64; ++i) {
      const ref::Spec& s = spec_of(element_format(row.f));
      const ref::Expected want = ref::encode_quotient(s, m[i], 0x1p-127);
      EXPECT_TRUE(ref::matches(s, want, w.code(0, 0, i))) << n << " k=" << i << " expected " << ref::describe(want)
                                                          << " got " << hex(w.code(0, 0, i));
    }
  }
}

// A block holding NaN or Inf gets the NaN scale 0xFF (OCP MX); its
// neighbours are quantized normally.
TEST(Weights, MxNonFiniteBlockGetsNanScale) {
  for (WeightFormat f : {WeightFormat::mxfp8, WeightFormat::mxfp4}) {
    for (float bad : {NAN, INFINITY, -INFINITY}) {
      std::vector<float> m(96, 1.0f);
      m[40] = bad;
      const WeightStack w = quantize_weights(f, 1, 1, 96, m);
      const std::string n = std::string(weight_format_name(f)) + " with " + std::to_string(bad);
      EXPECT_EQ(w.scales[1], 0xffu) << n;
      EXPECT_TRUE(std::isnan(w.value(0, 0, 40))) << n;
      EXPECT_NE(w.scales[0], 0xffu) << n;
      EXPECT_NE(w.scales[2], 0xffu) << n;
      EXPECT_EQ(w.value(0, 0, 0), 1.0) << n;
      EXPECT_EQ(w.value(0, 0, 95), 1.0) << n;
    }
  }
}

TEST(Weights, Fp8NonFiniteScaleIsNan) {
  for (WeightFormat f : {WeightFormat::fp8_channel, WeightFormat::fp8_block128, WeightFormat::nvfp4}) {
    std::vector<float> m(2 * 64, 1.0f);
    m[64 + 3] = NAN;  // row 1
    const WeightStack w = quantize_weights(f, 1, 2, 64, m);
    const std::string n(weight_format_name(f));
    EXPECT_TRUE(std::isnan(w.scale(0, 1, 3))) << n;
    EXPECT_TRUE(std::isnan(w.value(0, 1, 3))) << n;
    if (f != WeightFormat::fp8_block128) {
      EXPECT_FALSE(std::isnan(w.scale(0, 0, 0))) << n << ": other rows unaffected";
      EXPECT_GT(w.value(0, 0, 0), 0.0) << n << ": other rows unaffected";
    }
  }
}

// Per-channel and 128x128-block fp8: scale = amax / 448, the fp32 nearest to
// the exact quotient (checked with MPFR at fp32 precision).
double f32_quotient(double a, double b) {
  mpfr_t x, y, q;
  mpfr_inits2(64, x, y, static_cast<mpfr_ptr>(nullptr));
  mpfr_init2(q, 24);
  mpfr_set_d(x, a, MPFR_RNDN);
  mpfr_set_d(y, b, MPFR_RNDN);
  mpfr_div(q, x, y, MPFR_RNDN);
  const double r = mpfr_get_d(q, MPFR_RNDN);
  mpfr_clears(x, y, q, static_cast<mpfr_ptr>(nullptr));
  return r;
}

TEST(Weights, Fp8ScalesAreAmaxOver448) {
  const auto [E, R, K] = kDims;
  const std::vector<float> m = masters(E, R, K, 5);
  for (WeightFormat f : {WeightFormat::fp8_channel, WeightFormat::fp8_block128}) {
    const WeightStack w = quantize_weights(f, E, R, K, m);
    const int64_t rb = f == WeightFormat::fp8_channel ? 1 : 128, kb = f == WeightFormat::fp8_channel ? K : 128;
    Mismatches mm;
    for (int64_t e = 0; e < E; ++e)
      for (int64_t r0 = 0; r0 < R; r0 += rb)
        for (int64_t k0 = 0; k0 < K; k0 += kb) {
          double amax = 0;
          for (int64_t r = r0; r < std::min(R, r0 + rb); ++r)
            for (int64_t k = k0; k < std::min(K, k0 + kb); ++k) amax = std::max(amax, std::fabs(double(m[(e * R + r) * K + k])));
          const double want = f32_quotient(amax, 448.0), got = raw_f32(w.scales, scale_index(w, e, r0, k0));
          if (want != got) {
            mm.add(where(w, e, r0, k0) + ": amax " + ref::hex_double(amax) + " expected scale " + ref::hex_double(want) +
                   " got " + ref::hex_double(got));
          }
        }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

// NVFP4: one fp32 tensor scale per expert maps the expert's amax onto
// 448 * 6, each 16-value block gets the e4m3 scale RN(bamax / (6 * ts)), so
// the block holding the expert's amax uses e4m3's top code 448 exactly.
TEST(Weights, Nvfp4TwoLevelScales) {
  const auto [E, R, K] = kDims;
  const std::vector<float> m = masters(E, R, K, 6);
  const WeightStack w = quantize_weights(WeightFormat::nvfp4, E, R, K, m);
  Mismatches mm;
  for (int64_t e = 0; e < E; ++e) {
    const double ts = w.tensor_scale[e];
    ASSERT_TRUE(std::isfinite(ts) && ts > 0) << "expert " << e;
    double amax = 0;
    int64_t amax_r = 0, amax_k = 0;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k0 = 0; k0 < K; k0 += 16) {
        double bamax = 0;
        for (int64_t k = k0; k < std::min(K, k0 + 16); ++k) {
          const double a = std::fabs(double(m[(e * R + r) * K + k]));
          bamax = std::max(bamax, a);
          if (a > amax) amax = a, amax_r = r, amax_k = k;
        }
        const ref::Expected want = ref::encode_quotient(ref::kE4m3, bamax, 6 * ts);  // 6 * ts is exact
        const uint32_t got = w.scales[scale_index(w, e, r, k0)];
        if (!ref::matches(ref::kE4m3, want, got)) {
          mm.add(where(w, e, r, k0) + ": bamax " + ref::hex_double(bamax) + " ts " + ref::hex_double(ts) +
                 " expected e4m3 scale " + ref::describe(want) + " got " + hex(got));
        }
      }
    EXPECT_EQ(w.scales[scale_index(w, e, amax_r, amax_k)], 0x7eu) << "expert " << e << ": amax block scale";
  }
  EXPECT_EQ(mm.count(), 0u) << mm.text();
}

// ---- exact round trips -------------------------------------------------------

// Values already representable come back bit for bit. The inputs are built
// from codes and a scale the format's own rule will choose again.
TEST(Weights, RepresentableValuesRoundTripExactly) {
  Rng rng(7);
  const int64_t R = 4, K = 64;
  for (WeightFormat f : all_weight_formats()) {
    const ref::Spec& s = spec_of(element_format(f));
    const uint32_t max_code = ref::code_of(s, s.max_finite);
    std::vector<uint32_t> codes(R * K);
    for (auto& c : codes) c = static_cast<uint32_t>(rng.below(max_code + 1)) | (rng.next() & 1 ? ref::sign_bit(s) : 0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; k += 16) codes[r * K + k] = max_code;  // every block holds its top value
    double scale = 1.0;  // per format: a scale the selection rule reproduces exactly
    switch (f) {
      case WeightFormat::bf16:
      case WeightFormat::f16: scale = 1.0; break;
      case WeightFormat::fp8_channel:
      case WeightFormat::fp8_block128: scale = 0x1.8p-7; break;  // 448 * s / 448 = s, code * s exact in fp32
      case WeightFormat::mxfp8:
      case WeightFormat::mxfp4: scale = 0x1p-3; break;
      case WeightFormat::nvfp4: scale = 2.0 * 0x1p-4; break;  // block scale 2 (e4m3) * tensor scale 2^-4
    }
    std::vector<float> m(R * K);
    for (int64_t i = 0; i < R * K; ++i) m[i] = static_cast<float>(ref::decode(s, codes[i]) * scale);
    if (f == WeightFormat::nvfp4) {
      // Tensor scale 2^-4 needs amax = 2688 * 2^-4 = 168: one block whose
      // scale is 448 holds it; the others have amax 6 * 2 * 2^-4.
      m[0] = 168.0f;
      codes[0] = 0;  // checked separately below
    }
    const WeightStack w = quantize_weights(f, 1, R, K, m);
    Mismatches mm;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) {
        if (f == WeightFormat::nvfp4 && r == 0 && k < 16) continue;
        if (w.code(0, r, k) != codes[r * K + k] || w.value(0, r, k) != m[r * K + k]) {
          mm.add(where(w, 0, r, k) + ": master " + ref::hex_double(m[r * K + k]) + " expected code " +
                 hex(codes[r * K + k]) + " got " + hex(w.code(0, r, k)) + " value " + ref::hex_double(w.value(0, r, k)));
        }
      }
    if (f == WeightFormat::nvfp4) {
      EXPECT_EQ(w.tensor_scale[0], 0x1p-4f);
      EXPECT_EQ(w.value(0, 0, 0), 168.0);
    }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

// ---- encode_quotient -----------------------------------------------------------

// The reference itself: with a power-of-two divisor the quotient is exact,
// so it must agree with the plain MPFR rounding of the scaled value.
TEST(EncodeQuotient, ReferenceAgreesWithPlainRoundingForPowerOfTwoDivisors) {
  Rng rng(8);
  for (const ref::Spec* s : ref::kMiniSpecs) {
    Mismatches mm;
    for (int i = 0; i < 20000; ++i) {
      const int p = static_cast<int>(rng.below(40)) - 20;
      const double v = std::ldexp(1.0 + rng.uniform(), s->emin - s->mbits - 3 + static_cast<int>(rng.below(s->emax - s->emin + s->mbits + 6)));
      const ref::Expected a = ref::encode_quotient(*s, v, std::ldexp(1.0, p)), b = ref::encode(*s, std::ldexp(v, -p));
      if (a.code != b.code) mm.add(std::string(s->name) + " v " + ref::hex_double(v) + " p " + std::to_string(p));
    }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

void check_quotient(const ref::Spec& s, double v, double d, Mismatches& mm) {
  const ref::Expected want = ref::encode_quotient(s, v, d);
  const uint32_t got = encode_quotient(s.format, v, d);
  if (!ref::matches(s, want, got)) {
    mm.add(std::string(s.name) + ": encode_quotient(" + ref::hex_double(v) + ", " + ref::hex_double(d) + ") expected " +
           ref::describe(want) + " got " + hex(got));
  }
}

TEST(EncodeQuotient, RandomMatchesMpfr) {
  Rng rng(9);
  for (const ref::Spec* s : ref::kMiniSpecs) {
    Mismatches mm;
    for (int i = 0; i < 50000; ++i) {
      const double d = std::ldexp(1.0 + rng.uniform(), static_cast<int>(rng.below(40)) - 20) * (rng.next() & 1 ? -1 : 1);
      const int e = s->emin - s->mbits - 3 + static_cast<int>(rng.below(s->emax - s->emin + s->mbits + 6));
      const double q = std::ldexp(1.0 + rng.uniform(), e);
      const double v = (i % 2) ? static_cast<float>(q * d) : q * d;  // fp32 and double numerators
      if (!std::isfinite(v)) continue;
      check_quotient(*s, v, d, mm);
    }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
  }
}

// Numerators built so that the double quotient RN(v / d) lands exactly on a
// rounding boundary of the format while v / d itself lies just off it: a
// divide-then-encode implementation rounds twice and gets half of these wrong.
TEST(EncodeQuotient, QuotientsNextToBoundariesMatchMpfr) {
  Rng rng(10);
  for (const ref::Spec* s : ref::kMiniSpecs) {
    const std::vector<double> mids = ref::midpoints(*s);
    Mismatches mm;
    int landed = 0;
    for (int i = 0; i < 15000; ++i) {
      const double mid = mids[rng.below(mids.size())];
      const double d = std::ldexp(1.0 + rng.uniform(), static_cast<int>(rng.below(20)) - 10);
      const double v0 = mid * d;  // rounded: v / d is near mid but rarely equal
      for (double v : {v0, std::nextafter(v0, INFINITY), std::nextafter(v0, 0.0)}) {
        landed += (v / d == mid && ref::encode_quotient(*s, v, d).code != ref::encode(*s, mid).code);
        check_quotient(*s, v, d, mm);
        check_quotient(*s, -v, d, mm);
      }
    }
    EXPECT_EQ(mm.count(), 0u) << mm.text();
    EXPECT_GT(landed, 100) << s->name << ": the construction must reach the double-rounding cases";
  }
}

TEST(EncodeQuotient, SpecialInputs) {
  EXPECT_EQ(encode_quotient(Format::e4m3, 0.0, 3.0), 0x00u);
  EXPECT_EQ(encode_quotient(Format::e4m3, -0.0, 3.0), 0x80u);
  EXPECT_EQ(encode_quotient(Format::e4m3, 1e6, 3.0), 0x7eu);   // saturates
  EXPECT_EQ(encode_quotient(Format::e4m3, -1e6, 3.0), 0xfeu);
  EXPECT_EQ(encode_quotient(Format::e2m1, 100.0, 3.0), 0x7u);
  EXPECT_EQ(encode_quotient(Format::e5m2, 1e6, 3.0), 0x7cu);   // inf
  EXPECT_EQ(encode_quotient(Format::e4m3, 6.0, -3.0), 0xc0u);  // -2
  EXPECT_TRUE(ref::is_nan_code(ref::kE4m3, encode_quotient(Format::e4m3, NAN, 3.0)));
  EXPECT_TRUE(ref::is_nan_code(ref::kE4m3, encode_quotient(Format::e4m3, 1.0, NAN)));
}

// Isolation tests poison unselected experts: every value of that expert must
// decode to NaN in every format, the others must keep their bits, and the
// stack must stay a valid input (NVFP4's tensor scale untouched).
TEST(Weights, PoisonExpertNanMakesEveryValueOfThatExpertNan) {
  const int64_t E = 3, R = 4, K = 70;
  std::vector<float> m(static_cast<size_t>(E * R * K));
  Rng rng(7);
  for (float& v : m) v = static_cast<float>(rng.normal());
  for (WeightFormat f : all_weight_formats()) {
    const WeightStack clean = quantize_weights(f, E, R, K, m);
    WeightStack w = clean;
    poison_expert_nan(w, 1);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t k = 0; k < K; ++k) {
        ASSERT_TRUE(std::isnan(w.value(1, r, k))) << weight_format_name(f) << " r=" << r << " k=" << k;
        for (int64_t e : {0, 2}) ASSERT_EQ(w.code(e, r, k), clean.code(e, r, k)) << weight_format_name(f);
        for (int64_t e : {0, 2}) ASSERT_EQ(w.scale(e, r, k), clean.scale(e, r, k)) << weight_format_name(f);
      }
    EXPECT_EQ(w.tensor_scale, clean.tensor_scale) << weight_format_name(f);
  }
}

}  // namespace
}  // namespace moecheck

#include "core/weights.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/error.hpp"

namespace moecheck {

namespace {

struct WeightFormatInfo {
  WeightFormat fmt;
  std::string_view name;
  Format element;
  Format scale;   // f32 when the scale is an fp32 value
  int block;      // values per scale along K; 0 per row; -1 128x128
  bool scaled;
};

constexpr WeightFormatInfo kInfo[] = {
    {WeightFormat::bf16, "bf16", Format::bf16, Format::f32, 0, false},
    {WeightFormat::f16, "f16", Format::f16, Format::f32, 0, false},
    {WeightFormat::fp8_channel, "fp8_channel", Format::e4m3, Format::f32, 0, true},
    {WeightFormat::fp8_block128, "fp8_block128", Format::e4m3, Format::f32, -1, true},
    {WeightFormat::mxfp8, "mxfp8", Format::e4m3, Format::e8m0, 32, true},
    {WeightFormat::mxfp4, "mxfp4", Format::e2m1, Format::e8m0, 32, true},
    {WeightFormat::nvfp4, "nvfp4", Format::e2m1, Format::e4m3, 16, true},
};

const WeightFormatInfo& info(WeightFormat f) {
  for (auto& i : kInfo)
    if (i.fmt == f) return i;
  throw InputError("invalid weight format id " + std::to_string(static_cast<int>(f)));
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// floor(log2 a) for finite a > 0, from the bits.
int floor_log2(double a) {
  const uint64_t b = double_bits(a);
  const int be = static_cast<int>((b >> 52) & 0x7ff);
  if (be != 0) return be - 1023;
  uint64_t m = b & ((uint64_t{1} << 52) - 1);
  int lead = 51;
  while (!((m >> lead) & 1u)) --lead;
  return lead - 1074;
}

// Exponent of the largest normal of an element format (OCP MX emax_elem).
int emax_elem(Format f) { return floor_log2(mini_max(f)); }

void put_f32(std::vector<uint8_t>& v, int64_t idx, float x) { std::memcpy(&v[idx * 4], &x, 4); }
float get_f32(const std::vector<uint8_t>& v, int64_t idx) {
  float x;
  std::memcpy(&x, &v[idx * 4], 4);
  return x;
}

// Store one element code at (e, r, k).
void put_code(WeightStack& w, int64_t e, int64_t r, int64_t k, uint32_t code) {
  const int64_t row = (e * w.R + r) * w.row_bytes();
  switch (format_bits(element_format(w.format))) {
    case 16:
      w.data[row + 2 * k] = static_cast<uint8_t>(code);
      w.data[row + 2 * k + 1] = static_cast<uint8_t>(code >> 8);
      break;
    case 8: w.data[row + k] = static_cast<uint8_t>(code); break;
    default: {
      uint8_t& b = w.data[row + k / 2];
      b = (k & 1) ? static_cast<uint8_t>((b & 0x0f) | ((code & 0xf) << 4))
                  : static_cast<uint8_t>((b & 0xf0) | (code & 0xf));
    }
  }
}

float amax_of(const float* v, int64_t n, bool& finite) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) finite = false;
    m = std::max(m, std::fabs(v[i]));
  }
  return m;
}

// fp32 scale mapping amax onto the element format's max finite value.
float fit_scale(double amax, Format elem) {
  const float s = static_cast<float>(amax / mini_max(elem));
  return (s > 0 && std::isfinite(s)) ? s : 1.0f;
}

void quantize_row_scaled(WeightStack& w, int64_t e, int64_t r, const float* row, int64_t k0, int64_t n, double s) {
  const Format elem = element_format(w.format);
  for (int64_t k = k0; k < k0 + n; ++k) put_code(w, e, r, k, encode_quotient(elem, row[k], s));
}

void quantize_mx(WeightStack& w, const std::vector<float>& master) {
  const Format elem = element_format(w.format);
  const int64_t KB = ceil_div(w.K, 32);
#pragma omp parallel for collapse(2) schedule(static) if (w.E * w.R * w.K > (1 << 18))
  for (int64_t e = 0; e < w.E; ++e)
    for (int64_t r = 0; r < w.R; ++r) {
      const float* row = &master[(e * w.R + r) * w.K];
      for (int64_t b = 0; b < KB; ++b) {
        const int64_t k0 = b * 32, n = std::min<int64_t>(32, w.K - k0);
        bool finite = true;
        const float amax = amax_of(row + k0, n, finite);
        uint32_t sc;
        if (!finite) {
          sc = 0xff;  // OCP MX: a block with NaN/Inf gets a NaN scale
        } else if (amax == 0) {
          sc = 0;
        } else {
          const int x = std::clamp(floor_log2(amax) - emax_elem(elem), -127, 127);
          sc = static_cast<uint32_t>(x + 127);
        }
        w.scales[(e * w.R + r) * KB + b] = static_cast<uint8_t>(sc);
        if (sc == 0xff) continue;  // elements are don't-care under a NaN scale
        quantize_row_scaled(w, e, r, row, k0, n, decode_e8m0(sc));
      }
    }
}

void quantize_nvfp4(WeightStack& w, const std::vector<float>& master) {
  const int64_t KB = ceil_div(w.K, 16);
  w.tensor_scale.assign(w.E, 1.0f);
  for (int64_t e = 0; e < w.E; ++e) {
    bool finite = true;
    const float amax = amax_of(&master[e * w.R * w.K], w.R * w.K, finite);
    // Two-level rule: the fp32 tensor scale maps amax onto 448 * 6, so block
    // scales (amax_b / 6 / ts) use e4m3's whole range.
    const float ts = fit_scale(amax, Format::e4m3) / 6.0f;
    w.tensor_scale[e] = ts > 0 ? ts : 1.0f;
#pragma omp parallel for schedule(static) if (w.R * w.K > (1 << 18))
    for (int64_t r = 0; r < w.R; ++r) {
      const float* row = &master[(e * w.R + r) * w.K];
      for (int64_t b = 0; b < KB; ++b) {
        const int64_t k0 = b * 16, n = std::min<int64_t>(16, w.K - k0);
        bool bf = true;
        const float bamax = amax_of(row + k0, n, bf);
        const uint32_t sc = encode(Format::e4m3, bf ? bamax / 6.0 / w.tensor_scale[e] : NAN);
        w.scales[(e * w.R + r) * KB + b] = static_cast<uint8_t>(sc);
        const double s = decode(Format::e4m3, sc) * w.tensor_scale[e];
        if (!(s > 0)) continue;  // zero block (codes stay 0) or NaN scale
        quantize_row_scaled(w, e, r, row, k0, n, s);
      }
    }
  }
}

void quantize_fp8_channel(WeightStack& w, const std::vector<float>& master) {
#pragma omp parallel for collapse(2) schedule(static) if (w.E * w.R * w.K > (1 << 18))
  for (int64_t e = 0; e < w.E; ++e)
    for (int64_t r = 0; r < w.R; ++r) {
      const float* row = &master[(e * w.R + r) * w.K];
      bool finite = true;
      const float s = fit_scale(amax_of(row, w.K, finite), Format::e4m3);
      put_f32(w.scales, e * w.R + r, finite ? s : NAN);
      quantize_row_scaled(w, e, r, row, 0, w.K, finite ? s : NAN);
    }
}

void quantize_fp8_block(WeightStack& w, const std::vector<float>& master) {
  const int64_t RB = ceil_div(w.R, 128), KB = ceil_div(w.K, 128);
#pragma omp parallel for collapse(2) schedule(static) if (w.E * w.R * w.K > (1 << 18))
  for (int64_t e = 0; e < w.E; ++e)
    for (int64_t rb = 0; rb < RB; ++rb)
      for (int64_t kb = 0; kb < KB; ++kb) {
        const int64_t r1 = std::min(w.R, (rb + 1) * 128), k0 = kb * 128, n = std::min<int64_t>(128, w.K - k0);
        bool finite = true;
        float amax = 0;
        for (int64_t r = rb * 128; r < r1; ++r)
          amax = std::max(amax, amax_of(&master[(e * w.R + r) * w.K + k0], n, finite));
        const float s = finite ? fit_scale(amax, Format::e4m3) : NAN;
        put_f32(w.scales, (e * RB + rb) * KB + kb, s);
        for (int64_t r = rb * 128; r < r1; ++r) quantize_row_scaled(w, e, r, &master[(e * w.R + r) * w.K], k0, n, s);
      }
}

// The value between adjacent representable lo < hi where rounding switches:
// their midpoint, or max + ulp/2 where hi is the overflow result (inf).
double rounding_boundary(Format f, double lo, double hi) {
  if (std::isinf(hi) || std::isinf(lo)) {
    const double m = mini_max(f);
    const double ulp = m - decode(f, encode(f, m) - 1);
    return hi > 0 ? m + ulp / 2 : -(m + ulp / 2);
  }
  return (lo + hi) / 2;
}

}  // namespace

std::string_view weight_format_name(WeightFormat f) { return info(f).name; }

WeightFormat parse_weight_format(std::string_view name) {
  for (auto& i : kInfo)
    if (i.name == name) return i.fmt;
  std::string known;
  for (auto& i : kInfo) known += (known.empty() ? "" : ", ") + std::string(i.name);
  throw InputError("unknown weight format '" + std::string(name) + "' (known: " + known + ")");
}

const std::vector<WeightFormat>& all_weight_formats() {
  static const std::vector<WeightFormat> all = [] {
    std::vector<WeightFormat> v;
    for (auto& i : kInfo) v.push_back(i.fmt);
    return v;
  }();
  return all;
}

Format element_format(WeightFormat f) { return info(f).element; }
bool has_scales(WeightFormat f) { return info(f).scaled; }
Format scale_format(WeightFormat f) { return info(f).scale; }
int scale_block(WeightFormat f) { return info(f).block; }

int64_t WeightStack::row_bytes() const {
  const int bits = format_bits(element_format(format));
  return bits == 4 ? ceil_div(K, 2) : K * (bits / 8);
}

std::vector<int64_t> WeightStack::scale_shape() const {
  switch (format) {
    case WeightFormat::fp8_channel: return {E, R};
    case WeightFormat::fp8_block128: return {E, ceil_div(R, 128), ceil_div(K, 128)};
    case WeightFormat::mxfp8:
    case WeightFormat::mxfp4: return {E, R, ceil_div(K, 32)};
    case WeightFormat::nvfp4: return {E, R, ceil_div(K, 16)};
    default: return {};
  }
}

int64_t WeightStack::scale_bytes() const {
  auto shape = scale_shape();
  if (shape.empty()) return 0;
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n * (scale_format(format) == Format::f32 ? 4 : 1);
}

uint32_t WeightStack::code(int64_t e, int64_t r, int64_t k) const {
  const int64_t row = (e * R + r) * row_bytes();
  switch (format_bits(element_format(format))) {
    case 16: return data[row + 2 * k] | (static_cast<uint32_t>(data[row + 2 * k + 1]) << 8);
    case 8: return data[row + k];
    default: return (k & 1) ? (data[row + k / 2] >> 4) : (data[row + k / 2] & 0xfu);
  }
}

double WeightStack::scale(int64_t e, int64_t r, int64_t k) const {
  switch (format) {
    case WeightFormat::fp8_channel: return get_f32(scales, e * R + r);
    case WeightFormat::fp8_block128: {
      const int64_t RB = ceil_div(R, 128), KB = ceil_div(K, 128);
      return get_f32(scales, (e * RB + r / 128) * KB + k / 128);
    }
    case WeightFormat::mxfp8:
    case WeightFormat::mxfp4: return decode_e8m0(scales[(e * R + r) * ceil_div(K, 32) + k / 32]);
    case WeightFormat::nvfp4:
      return decode(Format::e4m3, scales[(e * R + r) * ceil_div(K, 16) + k / 16]) * tensor_scale[e];
    default: return 1.0;
  }
}

double WeightStack::value(int64_t e, int64_t r, int64_t k) const {
  return decode(element_format(format), code(e, r, k)) * scale(e, r, k);
}

void WeightStack::dequant_row(int64_t e, int64_t r, double* out) const {
  for (int64_t k = 0; k < K; ++k) out[k] = value(e, r, k);
}

uint32_t encode_quotient(Format f, double v, double s) {
  const double q = v / s;
  const uint32_t c = encode(f, q);
  if (!std::isfinite(q) || !std::isfinite(s) || s == 0) return c;
  // A rounding boundary of f, a midpoint (2n + 1) 2^(e-1) of neighbours
  // n 2^e and (n + 1) 2^e, has at most mbits + 2 significant bits; nearly
  // every quotient has more, and nothing else to check (this test halved
  // the time quantization took in fuzz case building).
  if (f != Format::f32 && f != Format::e8m0) {
    const uint64_t b = double_bits(q), frac = b & ((uint64_t{1} << 52) - 1);
    const uint64_t m = ((b >> 52) & 0x7ff) ? frac | uint64_t{1} << 52 : frac;  // q's significand
    if (m != 0 && highest_bit(m) - __builtin_ctzll(m) + 1 > mini_spec(f).mbits + 2) return c;
  }
  const double resid = std::fma(-q, s, v);  // exact: v - q*s
  if (resid == 0) return c;  // v / s is exact (always so for power-of-two scales)
  // q = RN(v/s) can land exactly on a rounding boundary of f that v/s itself
  // is not on; only then does the side of v/s (the residual's sign) matter.
  const double lo = decode(f, encode(f, std::nextafter(q, -INFINITY)));
  const double hi = decode(f, encode(f, std::nextafter(q, INFINITY)));
  if (lo == hi || q != rounding_boundary(f, lo, hi)) return c;
  const bool exact_above_q = s > 0 ? resid > 0 : resid < 0;
  return encode(f, exact_above_q ? hi : lo);
}

WeightStack quantize_weights(WeightFormat fmt, int64_t E, int64_t R, int64_t K, const std::vector<float>& master) {
  WeightStack w;
  quantize_weights_into(w, fmt, E, R, K, master);
  return w;
}

void quantize_weights_into(WeightStack& w, WeightFormat fmt, int64_t E, int64_t R, int64_t K,
                           const std::vector<float>& master) {
  if (static_cast<int64_t>(master.size()) != E * R * K)
    throw InputError("quantize_weights: master has " + std::to_string(master.size()) + " values, expected " +
                     std::to_string(E * R * K));
  w.format = fmt;
  w.E = E;
  w.R = R;
  w.K = K;
  w.data.assign(static_cast<size_t>(w.data_bytes()), 0);
  w.scales.assign(static_cast<size_t>(w.scale_bytes()), 0);
  w.tensor_scale.clear();
  switch (fmt) {
    case WeightFormat::bf16:
    case WeightFormat::f16: {
      // f32_to_code is encode() on an fp32 input without the general
      // double path: full-size presets spend most of their generation here.
      const Format elem = element_format(fmt);
#pragma omp parallel for schedule(static) if (E * R * K > (1 << 18))
      for (int64_t er = 0; er < E * R; ++er) {
        uint8_t* row = w.data.data() + er * 2 * K;
        for (int64_t k = 0; k < K; ++k) {
          const uint32_t code = f32_to_code(elem, master[er * K + k]);
          row[2 * k] = static_cast<uint8_t>(code);
          row[2 * k + 1] = static_cast<uint8_t>(code >> 8);
        }
      }
      break;
    }
    case WeightFormat::fp8_channel: quantize_fp8_channel(w, master); break;
    case WeightFormat::fp8_block128: quantize_fp8_block(w, master); break;
    case WeightFormat::mxfp8:
    case WeightFormat::mxfp4: quantize_mx(w, master); break;
    case WeightFormat::nvfp4: quantize_nvfp4(w, master); break;
  }
}

void poison_expert_nan(WeightStack& w, int64_t e) {
  const int64_t per = w.R * w.row_bytes();
  uint8_t* d = w.data.data() + e * per;
  const Format ef = element_format(w.format);
  if (ef == Format::bf16 || ef == Format::f16) {
    const uint16_t nan = ef == Format::bf16 ? 0x7FC0 : 0x7E00;
    for (int64_t i = 0; i < per / 2; ++i) std::memcpy(d + 2 * i, &nan, 2);
  } else if (ef == Format::e4m3) {
    std::fill(d, d + per, uint8_t{0x7F});
  }
  if (has_scales(w.format)) {
    const int64_t sp = w.scale_bytes() / w.E;
    // fp32 0xFFFFFFFF and e8m0 0xFF are NaN; e4m3's NaN is 0x7F.
    const uint8_t nan = scale_format(w.format) == Format::e4m3 ? 0x7F : 0xFF;
    std::fill(w.scales.begin() + e * sp, w.scales.begin() + (e + 1) * sp, nan);
  }
}

}  // namespace moecheck

#include "oracle/rows.hpp"

#include <array>
#include <cstring>
#include <vector>

namespace moecheck {
namespace {

struct Tables {
  std::array<double, 256> e4m3, e8m0;
  std::array<double, 16> e2m1;
  std::vector<double> f16;  // 65536 entries
  Tables() : f16(65536) {
    for (uint32_t c = 0; c < 256; ++c) {
      e4m3[c] = decode(Format::e4m3, c);
      e8m0[c] = decode(Format::e8m0, c);
    }
    for (uint32_t c = 0; c < 16; ++c) e2m1[c] = decode(Format::e2m1, c);
    for (uint32_t c = 0; c < 65536; ++c) f16[c] = decode(Format::f16, c);
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

float f32_at(const std::vector<uint8_t>& v, int64_t idx) {
  float x;
  std::memcpy(&x, &v[idx * 4], 4);
  return x;
}

__attribute__((target_clones("avx2", "default")))
void decode_bf16(const uint8_t* d, int64_t K, double* out) {
  for (int64_t k = 0; k < K; ++k) {
    uint16_t c;
    std::memcpy(&c, d + 2 * k, 2);  // little-endian host
    const uint32_t b = static_cast<uint32_t>(c) << 16;
    float f;
    std::memcpy(&f, &b, 4);
    out[k] = static_cast<double>(f);
  }
}

// Element values times a scale that is constant over `block` elements.
template <class Scale>
void decode_e4m3(const uint8_t* d, int64_t K, int64_t block, Scale scale, double* out) {
  const auto& t = tables().e4m3;
  for (int64_t k0 = 0; k0 < K; k0 += block) {
    const double s = scale(k0);
    const int64_t k1 = k0 + block < K ? k0 + block : K;
    for (int64_t k = k0; k < k1; ++k) out[k] = t[d[k]] * s;
  }
}

template <class Scale>
void decode_e2m1(const uint8_t* d, int64_t K, int64_t block, Scale scale, double* out) {
  const auto& t = tables().e2m1;
  for (int64_t k0 = 0; k0 < K; k0 += block) {
    const double s = scale(k0);
    const int64_t k1 = k0 + block < K ? k0 + block : K;
    for (int64_t k = k0; k < k1; ++k) {
      const uint32_t byte = d[k / 2];
      out[k] = t[(k & 1) ? (byte >> 4) : (byte & 0xfu)] * s;
    }
  }
}

// WeightStack::row_bytes without its table lookup (hot path).
int64_t row_bytes_fast(WeightFormat f, int64_t K) {
  switch (f) {
    case WeightFormat::bf16:
    case WeightFormat::f16: return 2 * K;
    case WeightFormat::mxfp4:
    case WeightFormat::nvfp4: return (K + 1) / 2;
    default: return K;
  }
}

}  // namespace

void decode_row(const WeightStack& w, int64_t e, int64_t r, double* out) {
  const uint8_t* d = w.data.data() + (e * w.R + r) * row_bytes_fast(w.format, w.K);
  const int64_t K = w.K;
  const auto& t = tables();
  switch (w.format) {
    case WeightFormat::bf16: decode_bf16(d, K, out); return;
    case WeightFormat::f16:
      for (int64_t k = 0; k < K; ++k) out[k] = t.f16[d[2 * k] | (d[2 * k + 1] << 8)];
      return;
    case WeightFormat::fp8_channel: {
      const double s = f32_at(w.scales, e * w.R + r);
      decode_e4m3(d, K, K, [&](int64_t) { return s; }, out);
      return;
    }
    case WeightFormat::fp8_block128: {
      const int64_t RB = ceil_div(w.R, 128), KB = ceil_div(K, 128);
      const int64_t base = (e * RB + r / 128) * KB;
      decode_e4m3(d, K, 128, [&](int64_t k) { return static_cast<double>(f32_at(w.scales, base + k / 128)); }, out);
      return;
    }
    case WeightFormat::mxfp8: {
      const uint8_t* sc = w.scales.data() + (e * w.R + r) * ceil_div(K, 32);
      decode_e4m3(d, K, 32, [&](int64_t k) { return t.e8m0[sc[k / 32]]; }, out);
      return;
    }
    case WeightFormat::mxfp4: {
      const uint8_t* sc = w.scales.data() + (e * w.R + r) * ceil_div(K, 32);
      decode_e2m1(d, K, 32, [&](int64_t k) { return t.e8m0[sc[k / 32]]; }, out);
      return;
    }
    case WeightFormat::nvfp4: {
      const uint8_t* sc = w.scales.data() + (e * w.R + r) * ceil_div(K, 16);
      const double ts = w.tensor_scale[e];
      decode_e2m1(d, K, 16, [&](int64_t k) { return t.e4m3[sc[k / 16]] * ts; }, out);
      return;
    }
  }
  w.dequant_row(e, r, out);
}

int weight_value_bits(WeightFormat f) {
  switch (f) {
    case WeightFormat::bf16: return 8;
    case WeightFormat::f16: return 11;
    case WeightFormat::fp8_channel:
    case WeightFormat::fp8_block128: return 4 + 24;
    case WeightFormat::mxfp8: return 4;
    case WeightFormat::mxfp4: return 2;
    case WeightFormat::nvfp4: return 2 + 4 + 24;
  }
  return 53;
}

int format_precision_bits(Format f) { return mini_spec(f).mbits + 1; }

}  // namespace moecheck

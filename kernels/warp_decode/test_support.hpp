// Test support shared by the warp decode family's tests (twin_test,
// grouped_twin_test, gpu_test, grouped_gpu_test): test-name identifiers,
// the first differing output of two code buffers, the exact-integer check
// and the GPU skip. Test code only.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/formats.hpp"
#include "core/generate.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "kernels/registry.hpp"

namespace moecheck::warp_decode::test {

#define SKIP_WITHOUT_GPU()                            \
  do {                                                \
    std::string why_;                                 \
    if (!cuda_available(&why_)) GTEST_SKIP() << why_; \
  } while (0)

// s with every character that is not a letter or digit made '_' (gtest names).
inline std::string ident(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// First differing element of two buffers of (T, H) codes of format f, as
// text (empty when equal).
inline std::string first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int64_t H,
                                    Format f) {
  if (a.size() != b.size()) return "sizes differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  const size_t n = static_cast<size_t>(format_bits(f) / 8);
  for (size_t i = 0; i < a.size(); i += n) {
    if (std::memcmp(&a[i], &b[i], n) != 0) {
      uint32_t x = 0, y = 0;
      std::memcpy(&x, &a[i], n);
      std::memcpy(&y, &b[i], n);
      char buf[200];
      std::snprintf(buf, sizeof buf, "t=%lld i=%lld: %s 0x%0*x (%.9g) vs 0x%0*x (%.9g)",
                    static_cast<long long>(i / n / H), static_cast<long long>(i / n % H),
                    std::string(format_name(f)).c_str(), static_cast<int>(2 * n), x, decode(f, x),
                    static_cast<int>(2 * n), y, decode(f, y));
      return buf;
    }
  }
  return {};
}

// Integer inputs (x in -2..2, weights in -1..1, routing weights 1, 1/2, 1/4)
// and the bilinear activation keep every step of variant `name` exact while
// every intermediate fits its format (the caller picks the shape: |h| <= 256
// for bf16 h needs H = 7; < 2^24 for fp32 h and sums allows H = 60, I = 15).
// The output must then be the exact value rounded once to each output format
// (f32: the exact value itself).
inline void expect_exact_integer_bilinear(const char* name, Shape shape) {
  for (Format yf : {Format::bf16, Format::f16, Format::f32}) {
    GenSpec g;
    g.shape = shape;
    g.act.kind = Activation::bilinear;
    g.values = ValueDist::integer;
    g.y_format = yf;
    g.seed = 77;
    const Case c = generate_case(g);
    std::vector<uint8_t> y;
    find_variant(name).run_host(c, y);
    const OracleResult o = run_oracle(c);
    const auto yd = decode_output(y, yf, c.shape.T * c.shape.H);
    int64_t nonzero = 0;
    for (size_t i = 0; i < yd.size(); ++i) {
      ASSERT_EQ(o.err[i], 0.0) << "oracle not exact at " << i;
      ASSERT_EQ(yd[i], round_to(yf, o.y(static_cast<int64_t>(i)))) << name << " y " << format_name(yf) << " element " << i;
      nonzero += yd[i] != 0;
    }
    EXPECT_GT(nonzero, static_cast<int64_t>(yd.size()) / 2) << "integer case is mostly zero: test would be vacuous";
  }
}

}  // namespace moecheck::warp_decode::test

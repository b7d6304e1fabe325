// Test support shared by the warp decode family's tests (twin_test,
// grouped_twin_test, gpu_test, grouped_gpu_test): test-name identifiers,
// the first differing output of two code buffers, the exact-integer check,
// full-size preset cases checked on sampled tokens, and the GPU skip. Test
// code only.
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
#include "kernels/bench/check_case.hpp"
#include "kernels/bench/oracle_check.hpp"
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

// A full-size preset's case: a pool of hash-filled experts in format wf
// (bench::pool_case: deepseek-v3's 8 experts in bf16 took 2 s against
// generate_case's 15 s on a 2-core box; quantizing costs the same in both)
// holding k experts for one token or 2k for a batch, T tokens routed
// uniformly over it or all on one set of k (full tiles).
inline Case preset_case(const std::string& preset, int64_t T, WeightFormat wf, bench::PoolRouting r, uint64_t seed) {
  const Preset& p = find_preset(preset);
  ActivationSpec act;
  GateUpLayout layout = GateUpLayout::concatenated;
  if (preset == "gpt-oss-120b") act.kind = Activation::swiglu_clamped, layout = GateUpLayout::interleaved;
  const int64_t pool = T == 1 || r == bench::PoolRouting::one_set ? p.k : 2 * p.k;
  Case c = bench::pool_case(Shape{T, p.H, p.I, p.E, p.k}, pool, act, layout, seed, wf);
  bench::reroute(c, T, r, seed + 1);
  return c;
}

inline const char* pool_routing_name(bench::PoolRouting r) {
  return r == bench::PoolRouting::one_set ? "one_set" : "uniform";
}

// One device run of v on a full-size case checked every way one run can be,
// with the host side on the first, middle and last token (the oracle and the
// twin of a whole batch take minutes here; a token's output depends on
// nothing else in the batch, which the batch invariance tests check): every
// output finite (the NaN sentinel marks an unwritten one), those tokens
// within the bound and bitwise the twin's, a second run bitwise the first.
inline void check_sampled_on_device(const Variant& v, const Case& c) {
  ASSERT_TRUE(v.claims().batch_invariant) << v.name() << ": the twin of sampled tokens needs batch invariance";
  const std::string replay = "case " + c.provenance;
  const std::vector<uint8_t> y = run_on_device(v, c);
  const bench::OracleCheck r = bench::check_against_oracle(v, c, y, 3);
  EXPECT_TRUE(r.ok) << v.name() << ": " << r.message;
  const Format yf = v.numerics(c).output_format;
  const int64_t T = c.shape.T, row = c.shape.H * format_bits(yf) / 8;
  std::vector<int64_t> tokens = r.tokens;
  if (tokens.empty())
    for (int64_t t = 0; t < T; ++t) tokens.push_back(t);
  std::vector<uint8_t> rows, twin;
  for (int64_t t : tokens) rows.insert(rows.end(), y.begin() + t * row, y.begin() + (t + 1) * row);
  v.run_host(bench::token_subset(c, tokens), twin);
  const std::string diff = first_difference(rows, twin, c.shape.H, yf);
  EXPECT_TRUE(diff.empty()) << v.name() << ": device != host twin at " << diff << " (t counts the " << tokens.size()
                            << " checked tokens of " << T << ")\n" << replay;
  const std::vector<uint8_t> again = run_on_device(v, c);
  EXPECT_TRUE(again == y) << v.name() << ": second device run differs at " << first_difference(y, again, c.shape.H, yf)
                          << "\n" << replay;
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

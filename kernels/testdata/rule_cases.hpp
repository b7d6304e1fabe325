// Cases and a zero-writing variant for the tests of the accuracy rule
// (kernels/check.hpp): shared by the rule's own tests and the property
// tests, which must judge the same cases the same way.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/generate.hpp"
#include "kernels/variant.hpp"
#include "oracle/oracle.hpp"

namespace moecheck::testing {

// Declares what `base` declares and writes 0 everywhere: it must fail every
// case whose exact output is nonzero or NaN.
class ZeroWriter : public Variant {
 public:
  explicit ZeroWriter(const Variant& base) : base_(base) {}
  std::string name() const override { return "zero_writer"; }
  std::string family() const override { return "test"; }
  std::string description() const override { return "writes 0 to every output"; }
  Claims claims() const override { return base_.claims(); }
  Numerics numerics(const Case& c) const override { return base_.numerics(c); }
  Support supports(const Case& c) const override { return base_.supports(c); }
  bool has_device() const override { return false; }
  size_t workspace_bytes(const Shape&) const override { return 0; }
  void run_device(const DeviceArgs&, void*, CUstream_st*) const override {}
  void run_host(const Case& c, std::vector<uint8_t>& y) const override {
    y.assign(static_cast<size_t>(c.shape.T * c.shape.H * format_bits(numerics(c).output_format) / 8), 0);
  }

 private:
  const Variant& base_;
};

struct RuleCase {
  std::string name;
  Case c;
};

inline GenSpec small_spec(uint64_t seed, Format y = Format::bf16) {
  GenSpec g;
  g.shape = {2, 64, 32, 4, 2};
  g.y_format = y;
  g.seed = seed;
  return g;
}

inline void set_x(Case& c, int64_t t, int64_t n, uint16_t bf16_code) {
  std::memcpy(&c.x[static_cast<size_t>((t * c.shape.H + n) * 2)], &bf16_code, 2);
}

// A routing weight of 3e38 on the first seed where some exact output then
// lies past bf16's range (its correctly rounded value is +-inf).
inline Case overflowing_routing_weight() {
  for (uint64_t seed = 1; seed <= 64; ++seed) {
    Case c = generate_case(small_spec(seed));
    c.topk_weights[0] = 3e38f;
    c.provenance.clear();  // the generator spec no longer describes it
    const OracleResult o = run_oracle(c);
    for (int64_t i = 0; i < c.shape.H; ++i)
      if (std::fabs(o.y(i)) > 3.3962e38) return c;
  }
  throw std::logic_error("no seed in 1..64 puts an exact output past bf16's range");
}

// bf16 weights, x and y unless named: NaN codes are bf16's 0x7FC0, +inf 0x7F80.
inline std::vector<RuleCase> rule_cases() {
  std::vector<RuleCase> v;
  v.push_back({"normal", generate_case(small_spec(1))});
  v.push_back({"y_f16", generate_case(small_spec(2, Format::f16))});
  v.push_back({"y_f32", generate_case(small_spec(3, Format::f32))});
  Case nan_w13 = generate_case(small_spec(4));
  for (size_t b = 0; b + 1 < nan_w13.w13.data.size(); b += 2) nan_w13.w13.data[b] = 0xC0, nan_w13.w13.data[b + 1] = 0x7F;
  nan_w13.provenance.clear();
  v.push_back({"every_w13_nan", nan_w13});
  Case specials = generate_case(small_spec(5));
  set_x(specials, 0, 3, 0x7FC0);
  set_x(specials, 1, 5, 0x7F80);
  specials.provenance.clear();
  v.push_back({"x_nan_and_inf", specials});
  v.push_back({"routing_weight_3e38", overflowing_routing_weight()});
  return v;
}

}  // namespace moecheck::testing

// Test helpers of the expert-centric family: case configurations whose names
// spell the case (the accuracy check is bench::check_against_oracle).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/generate.hpp"
#include "kernels/variant.hpp"
#include "kernels/bench/oracle_check.hpp"

namespace moecheck::ec::test {

struct Config {
  std::string variant;
  std::string shape_name;  // preset name or a synthetic shape's name
  Shape shape;
  WeightFormat weights = WeightFormat::bf16;
  Format x = Format::bf16;
  Format y = Format::bf16;  // output format asked for
  Activation act = Activation::swiglu;
  GateUpLayout layout = GateUpLayout::concatenated;
  RoutingDist routing = RoutingDist::uniform;
  ValueDist values = ValueDist::normal;
  ExpertStorage storage = ExpertStorage::routed;
  uint64_t seed = 1;
};

inline std::string ident(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

// e.g. expert_centric_mxfp4_swiglu_T8_qwen3_30b_a3b_uniform_normal_concat
// (weight format; "_x<f>" / "_y<f>" follow it when x / y are not bf16)
inline std::string name_of(const Config& c) {
  std::ostringstream o;
  o << c.variant << "_" << weight_format_name(c.weights);
  if (c.x != Format::bf16) o << "_x" << format_name(c.x);
  if (c.y != Format::bf16) o << "_y" << format_name(c.y);
  o << "_" << activation_name(c.act) << "_T" << c.shape.T << "_" << c.shape_name << "_"
    << routing_name(c.routing) << "_" << values_name(c.values) << "_"
    << (c.layout == GateUpLayout::concatenated ? "concat" : "interleaved");
  return ident(o.str());
}

// A judge for declaration tests: variant v with its declaration changed by
// `edit` (e.g. a rounding it does left out); runs nothing itself.
class EditedDeclaration final : public Variant {
 public:
  EditedDeclaration(std::unique_ptr<Variant> v, void (*edit)(Numerics&)) : v_(std::move(v)), edit_(edit) {}
  std::string name() const override { return v_->name() + " (edited declaration)"; }
  std::string family() const override { return v_->family(); }
  std::string description() const override { return v_->description(); }
  Claims claims() const override { return v_->claims(); }
  Numerics numerics(const Case& c) const override {
    Numerics n = v_->numerics(c);
    edit_(n);
    return n;
  }
  Support supports(const Case& c) const override { return v_->supports(c); }
  bool has_device() const override { return false; }
  size_t workspace_bytes(const Shape&) const override { return 0; }
  void run_device(const DeviceArgs&, void*, CUstream_st*) const override {}
  void run_host(const Case&, std::vector<uint8_t>&) const override {}

 private:
  std::unique_ptr<Variant> v_;
  void (*edit_)(Numerics&);
};

inline void without_requant(Numerics& n) {
  n.x_requant.reset();
  n.h_requant.reset();
}

inline GenSpec spec_of(const Config& c) {
  GenSpec g;
  g.preset = c.shape_name;
  g.shape = c.shape;
  g.weights = c.weights;
  g.x_format = c.x;
  g.y_format = c.y;
  g.act.kind = c.act;
  g.layout = c.layout;
  g.routing = c.routing;
  g.values = c.values;
  g.storage = c.storage;
  g.seed = c.seed;
  return g;
}

// The host evaluation of v on cfg's case is within v's derived bound.
inline void expect_host_within_bound(const Variant& v, const Config& cfg) {
  const Case c = generate_case(spec_of(cfg));
  ASSERT_TRUE(v.supports(c).ok) << v.supports(c).reason;
  std::vector<uint8_t> y;
  v.run_host(c, y);
  const bench::OracleCheck r = bench::check_against_oracle(v, c, y);
  EXPECT_TRUE(r.ok) << r.message;
}

}  // namespace moecheck::ec::test

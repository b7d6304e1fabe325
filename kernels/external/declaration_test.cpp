// Numerics declaration files: every built-in declaration survives the file
// format, and a declaration that contradicts itself is an input error.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "kernels/external/declaration.hpp"
#include "kernels/registry.hpp"

namespace moecheck::external {
namespace {

using nlohmann::json;

bool same_reduction(const ReductionShape& a, const ReductionShape& b) {
  return a.lanes == b.lanes && a.fma == b.fma && a.block == b.block && a.chunk == b.chunk;
}

// Field by field, not through numerics_to_json: a field the file format
// forgot must show up here.
bool same(const Numerics& a, const Numerics& b) {
  return a.accumulator == b.accumulator && a.accumulator_unit == b.accumulator_unit &&
         a.weight_roundings == b.weight_roundings && a.weight_tile_format == b.weight_tile_format &&
         a.x_requant == b.x_requant && same_reduction(a.gate_up, b.gate_up) && a.gate_up_format == b.gate_up_format &&
         a.gate_act_format == b.gate_act_format && a.activation_ulps == b.activation_ulps &&
         a.h_format == b.h_format && a.h_requant == b.h_requant && a.requant_block == b.requant_block &&
         a.requant_scale == b.requant_scale && a.epilogue_roundings == b.epilogue_roundings &&
         same_reduction(a.down, b.down) && a.combine == b.combine && a.expert_out_format == b.expert_out_format &&
         a.topk_sum_format == b.topk_sum_format && a.output_format == b.output_format;
}

// A new Numerics field changes the size: add it to `same`, the file format
// (declaration.cpp) and kernels/external/README.md, then update this.
static_assert(sizeof(Numerics) == 96, "Numerics changed: extend the declaration file format and same()");

std::string error_of(const json& j) {
  try {
    Declaration::parse(j, "decl");
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError thrown)";
}

json minimal() { return {{"moecheck_numerics", 1}, {"output_format", "case"}}; }

TEST(Declaration, EveryBuiltinVariantRoundTripsThroughTheFileFormat_AllWeightXYFormats) {
  int checked = 0;
  for (const Variant* v : all_variants()) {
    // auto's declaration is its pick's, per shape: declaration_of refuses it.
    if (Registry::instance().origin(v->name()) != "builtin" || v->family() == "auto") continue;
    const std::string text = declaration_of(*v).dump(2);
    const Declaration d = Declaration::parse(json::parse(text), v->name());
    for (WeightFormat w : all_weight_formats())
      for (Format x : {Format::bf16, Format::f16, Format::f32})
        for (Format y : {Format::bf16, Format::f16, Format::f32}) {
          GenSpec s;
          s.shape = {1, 64, 32, 4, 2};
          s.weights = w, s.x_format = x, s.y_format = y;
          const Case c = generate_case(s);
          if (!v->supports(c).ok) continue;
          EXPECT_TRUE(same(d.for_case(c), v->numerics(c)))
              << v->name() << " weights " << weight_format_name(w) << " x " << format_name(x) << " y "
              << format_name(y) << ": file gives " << numerics_to_json(d.for_case(c)).dump() << ", variant declares "
              << numerics_to_json(v->numerics(c)).dump();
          ++checked;
        }
  }
  EXPECT_GT(checked, 20);
}

TEST(Declaration, ShippedExamplesParse_PytorchEagerAndVllmTriton) {
  for (const char* f : {"pytorch_eager_bf16.json", "vllm_triton_fused_moe.json"}) {
    const Declaration d = Declaration::load(std::string(MOECHECK_SOURCE_DIR) + "/examples/numerics/" + f);
    Case c;
    c.y_format = Format::f16;
    EXPECT_EQ(d.for_case(c).output_format, Format::f16) << f;
    EXPECT_EQ(d.for_case(c).gate_up_format, Format::bf16) << f;
  }
}

TEST(Declaration, AnyOrderIsOneChainWithRoundedProducts) {
  json j = minimal();
  j["gate_up"] = "any";
  const Numerics n = Declaration::parse(j, "d").for_case(Case{});
  EXPECT_TRUE(same_reduction(n.gate_up, ReductionShape{1, false, 0, 0}));
}

TEST(Declaration, CasesOverrideWhereTheirFormatsMatch_WeightsMxfp8) {
  json j = minimal();
  j["cases"] = json::array({{{"if", {{"weights", "mxfp8"}}}, {"set", {{"h_format", "bf16"}}}}});
  const Declaration d = Declaration::parse(j, "d");
  Case c;
  EXPECT_EQ(d.for_case(c).h_format, Format::f32);
  c.w13.format = WeightFormat::mxfp8;
  EXPECT_EQ(d.for_case(c).h_format, Format::bf16);
}

struct Bad {
  const char* what;
  json edit;
  const char* message;
};

TEST(Declaration, ContradictionsAndMalformedFieldsAreInputErrorsNamingTheField) {
  const Bad bad[] = {
      {"unknown field", {{"h_fromat", "bf16"}}, "unknown field 'h_fromat'"},
      {"version", {{"moecheck_numerics", 2}}, "moecheck_numerics"},
      {"folded expert rounding", {{"expert_out_format", "bf16"}}, "fold_partials never forms"},
      {"folded top-k sum", {{"topk_sum_format", "bf16"}}, "no separate top-k sum"},
      {"unused fp32_row", {{"requant_scale", "fp32_row"}, {"requant_block", 0}}, "neither x_requant nor h_requant"},
      {"row scale with a block", {{"requant_scale", "fp32_row"}, {"x_requant", "e4m3"}}, "requant_block is unused"},
      {"ordered weighted down",
       {{"combine", "weighted_expert_outputs"}, {"down", {{"lanes", 32}, {"chunk", 1}}}},
       "no derived bound"},
      {"bad format", {{"h_format", "e8m0"}}, "h_format must be"},
      {"unknown format", {{"h_format", "bf17"}}, "h_format: unknown number format 'bf17'"},
      {"lanes", {{"gate_up", {{"lanes", 0}}}}, "lanes must be >= 1"},
      {"reduction key", {{"down", {{"lane", 4}}}}, "down: unknown key 'lane'"},
      {"type", {{"weight_roundings", "one"}}, "wants an integer"},
      {"case key", {{"cases", json::array({{{"if", {{"w", "bf16"}}}, {"set", json::object()}}})}}, "unknown key 'w'"},
      {"case field", {{"cases", json::array({{{"if", {{"x", "f16"}}}, {"set", {{"hh", 1}}}}})}}, "unknown field 'hh'"},
      // A contradiction only some formats reach is still found at load.
      {"case contradiction",
       {{"cases", json::array({{{"if", {{"y", "f16"}}}, {"set", {{"topk_sum_format", "bf16"}}}}})}},
       "no separate top-k sum"},
  };
  for (const Bad& b : bad) {
    json j = minimal();
    j.update(b.edit);
    const std::string msg = error_of(j);
    EXPECT_NE(msg.find(b.message), std::string::npos) << b.what << ": " << msg;
  }
  json no_out = minimal();
  no_out.erase("output_format");
  EXPECT_NE(error_of(no_out).find("output_format: required"), std::string::npos);
}

}  // namespace
}  // namespace moecheck::external

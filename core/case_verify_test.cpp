// The provenance is a claim: verify_case regenerates the case from it and
// finds any tensor or metadata the file changed, naming where.
#include "core/case_verify.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "core/generate.hpp"

namespace moecheck {
namespace {

GenSpec small_spec(WeightFormat f) {
  GenSpec s;
  s.shape = {3, 40, 24, 12, 2};
  s.weights = f;
  s.storage = ExpertStorage::routed;
  s.act.kind = Activation::swiglu_clamped;
  s.seed = 9;
  return s;
}

TEST(VerifyCase, GeneratedCaseOfEveryWeightFormatIsEqual) {
  for (WeightFormat f : all_weight_formats()) {
    const Case c = generate_case(small_spec(f));
    const Verification v = verify_case(c);
    EXPECT_TRUE(v.equal) << weight_format_name(f) << ": " << v.first_difference;
    EXPECT_EQ(v.experts_compared, c.stored_count()) << weight_format_name(f);
  }
}

TEST(VerifyCase, ChangedTensorOrMetadataIsTheFirstDifference) {
  const Case base = generate_case(small_spec(WeightFormat::nvfp4));
  struct Edit {
    const char* where;
    void (*apply)(Case&);
  };
  const Edit edits[] = {
      {"tensor w2 (slot 1", [](Case& c) { c.w2.data[c.w2.data.size() / c.w2.E + 5] ^= 1; }},
      {"tensor w13.scale (slot 0)", [](Case& c) { c.w13.scales[3] ^= 1; }},
      {"tensor w2.tensor_scale element 2", [](Case& c) { c.w2.tensor_scale[2] *= 2; }},
      {"tensor x element 7", [](Case& c) { c.x[14] ^= 1; }},
      {"tensor topk_weights element 1", [](Case& c) { c.topk_weights[1] = 0.5f; }},
      {"metadata alpha: file has 0x1.b3b648p+0", [](Case& c) { c.act.alpha = std::nextafter(c.act.alpha, 2.0f); }},
      {"metadata layout", [](Case& c) { c.layout = GateUpLayout::interleaved; }},
  };
  for (const Edit& e : edits) {
    Case c = base;
    e.apply(c);
    const Verification v = verify_case(c);
    EXPECT_FALSE(v.equal) << e.where;
    EXPECT_NE(v.first_difference.find(e.where), std::string::npos) << e.where << " vs " << v.first_difference;
  }
}

TEST(VerifyCase, MissingForeignOrPostProcessedProvenanceIsAnInputError) {
  Case c = generate_case(small_spec(WeightFormat::bf16));
  const std::string spec = c.provenance;
  for (const std::string& p : {std::string(""), std::string("not json"), std::string("{\"pool_case\": {}}"),
                               spec.substr(0, spec.size() - 1) + ",\"fuzz_specials\":\"special(x nan)\"}"}) {
    c.provenance = p;
    EXPECT_THROW(verify_case(c), InputError) << p;
  }
}

}  // namespace
}  // namespace moecheck

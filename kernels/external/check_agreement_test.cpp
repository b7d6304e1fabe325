// `moecheck check` agrees with `moecheck run`: a built-in variant's output
// written to a file and judged with that variant's declaration file gives
// the same bounds and bound ratios, bit for bit.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "core/safetensors.hpp"
#include "kernels/external/check_file.hpp"
#include "kernels/external/output_file.hpp"
#include "kernels/registry.hpp"
#include "properties/properties.hpp"

namespace moecheck::external {
namespace {

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

struct Point {
  const char* variant;
  WeightFormat weights;
  Format x, y;
};

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("moecheck-" + std::to_string(getpid()) + "-" + name)).string();
}

TEST(CheckAgreement, BuiltinOutputFileGivesRunsBoundRatiosBitForBit_T3_H96_I64_E8_k2) {
  const Point points[] = {
      {"warp_decode", WeightFormat::bf16, Format::bf16, Format::bf16},
      {"warp_decode", WeightFormat::mxfp4, Format::f16, Format::f32},
      {"warp_decode_h32", WeightFormat::nvfp4, Format::bf16, Format::f16},
      {"warp_decode_grouped", WeightFormat::bf16, Format::bf16, Format::bf16},
      {"expert_centric", WeightFormat::fp8_channel, Format::f32, Format::bf16},
      {"expert_centric_fused", WeightFormat::bf16, Format::bf16, Format::f32},
      {"expert_centric_mxfp8", WeightFormat::mxfp8, Format::bf16, Format::bf16},
  };
  int checked = 0;
  for (const Point& p : points) {
    const Variant* v = Registry::instance().find(p.variant);
    if (!v) continue;  // a family this build leaves out
    GenSpec s;
    s.shape = {3, 96, 64, 8, 2};
    s.weights = p.weights, s.x_format = p.x, s.y_format = p.y;
    s.seed = 7;
    const Case c = generate_case(s);
    const std::string at = std::string(p.variant) + " " + props::case_summary(c) + " seed 7";
    if (!v->supports(c).ok) continue;
    const std::vector<uint8_t> y = props::run_variant(*v, c, props::Backend::host);
    const OracleResult o = run_oracle(c, 1);
    const CheckResult run = check_output(c, o, *v, y);

    const std::string path = tmp_path(std::string(p.variant) + "-y.safetensors");
    write_output_file(path, c.shape, v->numerics(c).output_format, y);
    const Declaration d = Declaration::parse(nlohmann::json::parse(declaration_of(*v).dump()), p.variant);
    const CheckResult file = check_output_file(c, o, d, path);
    std::filesystem::remove(path);

    EXPECT_EQ(bits(file.metrics.max_bound_ratio), bits(run.metrics.max_bound_ratio)) << at;
    EXPECT_EQ(file.metrics.violations, run.metrics.violations) << at;
    EXPECT_EQ(file.ok(), run.ok()) << at;
    ASSERT_EQ(file.bounds.rigorous.size(), run.bounds.rigorous.size()) << at;
    for (size_t i = 0; i < run.bounds.rigorous.size(); ++i)
      ASSERT_EQ(bits(file.bounds.rigorous[i]), bits(run.bounds.rigorous[i])) << at << " element " << i;
    EXPECT_TRUE(run.ok()) << at << ": " << run.first_violation;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError thrown)";
}

TEST(CheckFile, MismatchedOutputFilesAreInputErrorsNamingTheProblem_T2_H8) {
  const Shape s{2, 8, 4, 2, 1};
  const std::string path = tmp_path("bad-y.safetensors");
  const std::vector<uint8_t> codes(2 * 8 * 2, 0);
  write_output_file(path, Shape{2, 4, 4, 2, 1}, Format::bf16, std::vector<uint8_t>(2 * 4 * 2, 0));
  EXPECT_NE(error_of([&] { read_output_file(path, s, Format::bf16); }).find("y has shape (2, 4), the case needs (2, 8)"),
            std::string::npos);
  write_output_file(path, s, Format::bf16, codes);
  EXPECT_NE(error_of([&] { read_output_file(path, s, Format::f32); }).find("y is BF16 but the declared output format is f32"),
            std::string::npos);
  StFile other;
  other.tensors["out"] = StTensor{"BF16", {2, 8}, codes};
  write_safetensors(path, other);
  EXPECT_NE(error_of([&] { read_output_file(path, s, Format::bf16); }).find("no tensor 'y' (has: out)"),
            std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace moecheck::external

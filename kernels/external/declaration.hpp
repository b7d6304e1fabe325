// Numerics declaration files: a kernel's numerics (core/numerics.hpp) written
// as JSON, so a kernel moecheck did not build (a PyTorch layer, a Triton
// kernel, a worker process) is judged against a bound derived from what it
// says it does. Schema and examples: kernels/external/README.md.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/numerics.hpp"
#include "core/problem.hpp"
#include "kernels/variant.hpp"

namespace moecheck::external {

inline constexpr int kDeclarationVersion = 1;

// Every field, output_format spelled out (the file may say "case" instead).
nlohmann::json numerics_to_json(const Numerics& n);

// Throws InputError (exit 2) naming `where` and the field when the JSON is
// malformed, has unknown keys or contradicts itself (validate_numerics).
Numerics numerics_from_json(const nlohmann::json& j, const std::string& where, const Case* c = nullptr);

// Contradictions a declaration can hold (a per-expert rounding with a
// folded combine, an unused fp32_row scale, ...): InputError naming them.
void validate_numerics(const Numerics& n, const std::string& where);

// A declaration file: base fields, then "cases" whose "set" applies where
// "if" matches the case's formats (weights, x, y), in file order.
class Declaration {
 public:
  static Declaration parse(const nlohmann::json& j, const std::string& where);
  static Declaration load(const std::string& path);  // InputError on unreadable or bad files
  Numerics for_case(const Case& c) const;
  const std::string& name() const { return name_; }
  const nlohmann::json& source() const { return json_; }

 private:
  nlohmann::json json_;
  std::string where_, name_;
};

// The declaration of a registered variant over every weight, x and y format
// it supports (probed on tiny generated cases): base from the first, one
// "cases" entry per group of combinations that differs. InputError for
// `auto`, whose declaration changes with the shape.
nlohmann::json declaration_of(const Variant& v);

}  // namespace moecheck::external

// `moecheck check`: an output file judged like `moecheck run` judges a
// variant's output, with the bound derived from a declaration file.
#pragma once

#include <string>

#include "kernels/check.hpp"
#include "kernels/external/declaration.hpp"

namespace moecheck::external {

// A variant that only declares: check_output needs one, and the output was
// computed elsewhere. Name: the declaration's, or "declared".
std::unique_ptr<Variant> declared_variant(Declaration d);

// Reads y (read_output_file: InputError when malformed or mismatched) and
// checks it against the oracle and the declaration's bound.
CheckResult check_output_file(const Case& c, const OracleResult& o, const Declaration& d, const std::string& y_path);

}  // namespace moecheck::external

// Flags shared by every subcommand that builds a case from a spec
// (case new, run, bench-oracle, ...), so they read the same everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "core/generate.hpp"

namespace moecheck::cli {

struct SpecFlags {
  std::string preset = "qwen3-30b-a3b";
  std::string shape;  // "H,I,E,k" overriding the preset
  int64_t tokens = 1;
  std::string weights = "bf16";
  std::string x_format = "bf16";
  std::string y_format = "bf16";
  std::string activation = "swiglu";
  float alpha = 1.702f;
  float limit = 7.0f;
  std::string layout = "concatenated";
  std::string routing = "uniform";
  std::string values = "normal";
  std::string storage = "auto";
  uint64_t seed = 1;
};

// The options added, for commands where another flag excludes them.
std::vector<CLI::Option*> add_spec_flags(CLI::App& cmd, SpecFlags& f);
GenSpec spec_from_flags(const SpecFlags& f);  // throws InputError

}  // namespace moecheck::cli

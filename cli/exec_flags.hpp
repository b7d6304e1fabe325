// --exec: variants served by worker processes (kernels/external/), the same
// two flags on every command that takes --variant or --plugin.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace moecheck::cli {

struct ExecFlags {
  std::vector<std::string> commands;
  double timeout_s = 60;
};

void add_exec_flags(CLI::App& cmd, ExecFlags& f);
// Starts every worker and registers its variant; returns their names.
std::vector<std::string> load_execs(const ExecFlags& f);
// The variant to use: `variant` when given, else the one worker's; throws
// InputError asking for --variant when neither decides it.
std::string variant_or_worker(const std::string& variant, const std::vector<std::string>& worker_names);

}  // namespace moecheck::cli

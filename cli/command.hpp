// Subcommands register themselves (one static line per file), so each
// component adds its commands without touching main.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace moecheck::cli {

using CommandSetup = void (*)(CLI::App& root);

inline std::vector<CommandSetup>& command_table() {
  static std::vector<CommandSetup> table;
  return table;
}
inline int register_command(CommandSetup setup) {
  command_table().push_back(setup);
  return 0;
}

}  // namespace moecheck::cli

// Use inside the namespace that declares setup_fn.
#define MOECHECK_COMMAND(setup_fn) \
  static const int moecheck_command_##setup_fn = ::moecheck::cli::register_command(setup_fn)

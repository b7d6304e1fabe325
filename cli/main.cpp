// moecheck: exit 0 ok, 1 a check failed, 2 bad usage or bad input.
#include <cstdio>
#include <exception>

#include "cli/command.hpp"
#include "core/error.hpp"

int main(int argc, char** argv) {
  CLI::App app{"moecheck: numerical verification, fuzzing and benchmarking of MoE decode kernels"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  for (auto setup : moecheck::cli::command_table()) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  } catch (const moecheck::CheckFailure& e) {
    std::fprintf(stderr, "moecheck: check failed: %s\n", e.what());
    return 1;
  } catch (const moecheck::InputError& e) {
    std::fprintf(stderr, "moecheck: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "moecheck: error: %s\n", e.what());
    return 2;
  }
  return 0;
}

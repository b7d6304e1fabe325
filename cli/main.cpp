// moecheck: exit 0 ok, 1 a check failed, 2 bad usage or bad input.
#include <cstdio>
#include <exception>

#include "cli/command.hpp"
#include "core/error.hpp"

#ifndef MOECHECK_VERSION
#define MOECHECK_VERSION "unknown"
#define MOECHECK_GIT_COMMIT "unknown"
#define MOECHECK_CUDA_ARCHS "unknown"
#endif

int main(int argc, char** argv) {
  CLI::App app{"moecheck: numerical verification, fuzzing and benchmarking of MoE decode kernels", "moecheck"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  app.set_version_flag("--version", "moecheck " MOECHECK_VERSION ", commit " MOECHECK_GIT_COMMIT
                                    ", CUDA architectures " MOECHECK_CUDA_ARCHS);
  for (auto setup : moecheck::cli::command_table()) setup(app);
  if (argc < 2) {
    // A newcomer's first call: show what there is to run.
    std::fprintf(stderr, "%s", app.help().c_str());
    return 2;
  }
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

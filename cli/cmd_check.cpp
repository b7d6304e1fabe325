// moecheck check: an output computed anywhere (a PyTorch or Triton kernel,
// any program), judged against the oracle and the rigorous bound derived
// from a numerics declaration file. moecheck numerics: a registered
// variant's declaration in that file format.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command.hpp"
#include "cli/verdict.hpp"
#include "core/case_io.hpp"
#include "core/error.hpp"
#include "kernels/external/check_file.hpp"
#include "kernels/plugin.hpp"
#include "kernels/registry.hpp"

namespace moecheck::cli {
namespace {

struct CheckFlags {
  std::string case_file, y_file, numerics;
  int threads = 0;
};

void check_command(const CheckFlags& f) {
  const Case c = load_case(f.case_file);
  const external::Declaration d = external::Declaration::load(f.numerics);
  const Numerics n = d.for_case(c);
  const OracleResult o = run_oracle(c, f.threads);
  const CheckResult r = external::check_output_file(c, o, d, f.y_file);
  const Shape& s = c.shape;
  std::printf("output    %s (%s, judged as %s)\n", f.y_file.c_str(), std::string(format_name(n.output_format)).c_str(),
              d.name().empty() ? "declared" : d.name().c_str());
  std::printf("case      %s: T=%lld H=%lld I=%lld E=%lld k=%lld, weights %s, x %s, y %s\n", f.case_file.c_str(),
              static_cast<long long>(s.T), static_cast<long long>(s.H), static_cast<long long>(s.I),
              static_cast<long long>(s.E), static_cast<long long>(s.k),
              std::string(weight_format_name(c.w13.format)).c_str(), std::string(format_name(c.x_format)).c_str(),
              std::string(format_name(c.y_format)).c_str());
  std::printf("numerics  %s\n", f.numerics.c_str());
  print_judgement(r, o, s, f.y_file + " on " + f.case_file + " (numerics " + f.numerics + ")",
                  "moecheck check " + f.case_file + " " + f.y_file + " --numerics " + f.numerics);
}

void setup_check(CLI::App& root) {
  auto f = std::make_shared<CheckFlags>();
  CLI::App* cmd = root.add_subcommand(
      "check", "Judge an output file (tensor y, (T, H) bf16/f16/f32) against the oracle and a declared bound");
  cmd->add_option("case", f->case_file, "Case file (safetensors)")->required();
  cmd->add_option("y", f->y_file, "Output file (safetensors with tensor y)")->required();
  cmd->add_option("--numerics", f->numerics, "Numerics declaration file (JSON; examples/numerics/)")->required();
  cmd->add_option("--threads", f->threads, "Oracle threads (0: by case size)");
  cmd->callback([f] { check_command(*f); });
}
MOECHECK_COMMAND(setup_check);

void setup_numerics(CLI::App& root) {
  auto name = std::make_shared<std::string>();
  auto plugins = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = root.add_subcommand("numerics", "Print a variant's numerics declaration file (JSON)");
  cmd->add_option("variant", *name, "Variant name")->required();
  cmd->add_option("--plugin", *plugins, "Plugin shared library adding variants (repeatable)");
  cmd->callback([name, plugins] {
    for (const auto& p : *plugins) load_plugin(p);
    std::cout << external::declaration_of(find_variant(*name)).dump(2) << "\n";
  });
}
MOECHECK_COMMAND(setup_numerics);

}  // namespace
}  // namespace moecheck::cli

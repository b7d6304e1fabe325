#include "cli/exec_flags.hpp"

#include "core/error.hpp"
#include "kernels/external/external.hpp"

namespace moecheck::cli {

void add_exec_flags(CLI::App& cmd, ExecFlags& f) {
  cmd.add_option("--exec", f.commands,
                 "Worker command serving a variant over JSON lines (repeatable; see examples/python)");
  cmd.add_option("--exec-timeout", f.timeout_s, "Seconds a worker may take per reply before it is killed")
      ->capture_default_str();
}

std::vector<std::string> load_execs(const ExecFlags& f) {
  std::vector<std::string> names;
  for (const auto& c : f.commands) names.push_back(external::load_worker(c, f.timeout_s));
  return names;
}

std::string variant_or_worker(const std::string& variant, const std::vector<std::string>& worker_names) {
  if (!variant.empty()) return variant;
  if (worker_names.size() == 1) return worker_names[0];
  throw InputError("--variant is required (or one --exec, whose worker names the variant)");
}

}  // namespace moecheck::cli

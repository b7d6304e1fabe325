// moecheck fuzz: property-based fuzzing of one variant with shrinking and a
// saved, replayable minimal case. moecheck replay: every property on a saved
// case. Both need RapidCheck (moecheck_fuzz); without it they are absent.
#if defined(MOECHECK_HAVE_FUZZ)
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/checks.hpp"
#include "cli/command.hpp"
#include "cli/exec_flags.hpp"
#include "core/error.hpp"
#include "core/shard.hpp"
#include "fuzz/runner.hpp"
#include "kernels/device_case.hpp"
#include "kernels/plugin.hpp"
#include "kernels/registry.hpp"

namespace moecheck::cli {
namespace {

struct FuzzFlags {
  std::string variant, time = "60s", backend, properties, corpus = "fuzz/corpus", shard = "1/1";
  std::vector<std::string> plugins;
  ExecFlags exec;
  int64_t cases = -1;
  uint64_t seed = 1;
  int max_size = 40;
  double shrink_time = 60;
};

// Seconds in a duration like 60s, 5m, 1h or 90; none unless positive and
// finite (a zero budget would print PASS having checked nothing).
std::optional<double> parse_duration(const std::string& s) {
  try {
    size_t used = 0;
    double v = std::stod(s, &used);
    const std::string unit = s.substr(used);
    if (unit == "m" || unit == "min") v *= 60;
    else if (unit == "h") v *= 3600;
    else if (!unit.empty() && unit != "s") return std::nullopt;
    if (!(v > 0) || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// A variant without a device entry point (a worker's) runs on the host.
std::string default_backend(const std::string& variant) {
  return cuda_available() && find_variant(variant).has_device() ? "cuda" : "host";
}

void fuzz_command(const FuzzFlags& f) {
  // RapidCheck prints its global configuration, a random seed unless told,
  // on first use; the cases come from --seed, so that is the one to echo.
  // A user's own RC_PARAMS wins.
  setenv("RC_PARAMS", ("seed=" + std::to_string(f.seed)).c_str(), 0);
  for (const auto& p : f.plugins) load_plugin(p);
  fuzz::FuzzOptions o;
  o.variant = variant_or_worker(f.variant, load_execs(f.exec));
  o.plugins = f.plugins;
  o.time_s = *parse_duration(f.time);  // checked where parsed
  o.cases = f.cases;
  o.seed = f.seed;
  o.shard = parse_shard(f.shard);
  o.backend = props::parse_backend(f.backend.empty() ? default_backend(o.variant) : f.backend);
  o.properties = props::parse_property_list(f.properties);
  o.corpus = f.corpus;
  o.max_size = f.max_size;
  o.shrink_time_s = f.shrink_time;
  o.live = isatty(fileno(stdout)) != 0;
  if (fuzz::run_fuzz(o, std::cout) != 0) throw CheckFailure("fuzzing " + o.variant + " found a failure (above)");
}

void setup_fuzz(CLI::App& root) {
  auto f = std::make_shared<FuzzFlags>();
  CLI::App* cmd = root.add_subcommand("fuzz", "Fuzz a variant with every property; shrink and save any failure");
  cmd->add_option("--variant", f->variant, "Variant to fuzz (optional with one --exec)");
  cmd->add_option("--plugin", f->plugins, "Plugin library to load first (repeatable)");
  add_exec_flags(*cmd, f->exec);
  cmd->add_option("--time", f->time, "Search time, e.g. 60s or 5m (default 60s)")
      ->check(CLI::Validator(
          [](std::string& s) {
            return parse_duration(s) ? std::string() : "wants a positive finite duration like 60s, 5m or 90, got '" + s + "'";
          },
          "DURATION"));
  cmd->add_option("--cases", f->cases, "Stop after this many passing cases instead of a time (1..)")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  cmd->add_option("--seed", f->seed, "RapidCheck seed: the same seed and --cases replay the same cases")
      ->check(uint64_text());
  cmd->add_option("--backend", f->backend, "cuda or host (default: cuda where a device answers)");
  cmd->add_option("--shard", f->shard,
                  "i/n: fuzz only the i-th of n disjoint slices of the seed's case stream (CI matrix; "
                  "--time/--cases apply per shard)");
  cmd->add_option("--properties", f->properties, "Comma-separated properties (default: all)");
  cmd->add_option("--corpus", f->corpus, "Directory for shrunk failing cases (default fuzz/corpus)");
  cmd->add_option("--max-size", f->max_size, "RapidCheck size 0..100: shapes grow with it (default 40)")
      ->check(CLI::Range(0, 100));
  cmd->add_option("--shrink-time", f->shrink_time, "Seconds to spend shrinking a failure (default 60)")
      ->check(finite_in(0, 1e9));
  cmd->callback([f] { fuzz_command(*f); });
}
MOECHECK_COMMAND(setup_fuzz);

struct ReplayFlags {
  std::string file, variant, backend;
  std::vector<std::string> plugins;
  ExecFlags exec;
};

void setup_replay(CLI::App& root) {
  auto f = std::make_shared<ReplayFlags>();
  CLI::App* cmd = root.add_subcommand("replay", "Rerun every property on a saved case and print each verdict");
  cmd->add_option("file", f->file, "Case file (.safetensors)")->required();
  cmd->add_option("--variant", f->variant, "Only this variant (default: every registered variant)");
  cmd->add_option("--plugin", f->plugins, "Plugin library to load first (repeatable)");
  cmd->add_option("--backend", f->backend, "cuda or host (default: both where available)");
  add_exec_flags(*cmd, f->exec);
  cmd->callback([f] {
    for (const auto& p : f->plugins) load_plugin(p);
    load_execs(f->exec);
    std::string why;
    if (f->backend == "cuda" && !cuda_available(&why)) {
      // 77: CTest's SKIP_RETURN_CODE for the GPU corpus tests.
      std::cout << "skipped: no CUDA device: " << why << "\n" << std::flush;
      std::exit(77);
    }
    std::vector<std::string> backends;
    if (!f->backend.empty()) backends.push_back(f->backend);
    if (fuzz::run_replay(f->file, f->variant, backends, f->plugins, std::cout) != 0)
      throw CheckFailure("a property failed on " + f->file);
  });
}
MOECHECK_COMMAND(setup_replay);

}  // namespace
}  // namespace moecheck::cli
#endif

// moecheck run: one case through one variant, checked against the oracle and
// the rigorous bound derived from the variant's numerics declaration.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/checks.hpp"
#include "cli/command.hpp"
#include "cli/exec_flags.hpp"
#include "cli/options.hpp"
#include "cli/verdict.hpp"
#include "core/case_io.hpp"
#include "core/error.hpp"
#include "core/output_path.hpp"
#include "core/generate.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "kernels/external/output_file.hpp"
#include "kernels/plugin.hpp"
#include "kernels/registry.hpp"

namespace moecheck::cli {
namespace {

struct RunOptions {
  std::string variant;
  std::vector<std::string> plugins;
  ExecFlags exec;
  std::string case_file, save_case, save_output;
  SpecFlags spec;       // the generator flags every case-building command shares
  std::string backend;  // empty: cuda where a device answers, else host
  int threads = 0;
};

Case make_case(const RunOptions& o) {
  if (!o.case_file.empty()) return load_case(o.case_file);
  return generate_case(spec_from_flags(o.spec));
}

std::string fmt_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string describe_numerics(const Numerics& n) {
  auto red = [](const ReductionShape& r) {
    return std::to_string(r.lanes) + (r.lanes == 1 ? " chain" : " lanes") + (r.fma ? " fma" : " mul+add") +
           (r.block > 0 ? " block " + std::to_string(r.block) : "");
  };
  std::string s = "accumulate " + std::string(format_name(n.accumulator)) + "; gate/up " + red(n.gate_up) +
                  "; activation " + fmt_g(n.activation_ulps) + " ulp; h " +
                  std::string(format_name(n.h_format)) + "; down " + red(n.down) + "; combine " +
                  (n.combine == Combine::fold_partials ? "fold partials" : "per-expert outputs (" +
                                                                               std::string(format_name(n.expert_out_format)) + ")") +
                  "; output " + std::string(format_name(n.output_format));
  return s;
}

void run_command(const RunOptions& o) {
  if (!o.save_case.empty())
    check_output_file(o.save_case, "--save-case", o.case_file.empty() ? std::vector<std::string>{}
                                                                      : std::vector<std::string>{o.case_file});
  for (const auto& p : o.plugins) load_plugin(p);
  const Variant& v = find_variant(variant_or_worker(o.variant, load_execs(o.exec)));
  const Case c = make_case(o);
  validate(c);
  if (!o.save_case.empty()) save_case(o.save_case, c);
  const Support sup = v.supports(c);
  if (!sup.ok) throw InputError("skipped: " + v.name() + " does not support this case: " + sup.reason);

  std::string backend = o.backend;
  std::string why_host;
  if (backend.empty()) {
    const bool dev = v.has_device() && cuda_available(&why_host);
    if (!v.has_device()) why_host = v.name() + " has no device implementation";
    backend = dev ? "cuda" : "host";
  }
  if (backend != "cuda" && backend != "host") throw InputError("--backend is cuda or host, got '" + backend + "'");
  if (backend == "host" && !v.claims().runs_on_host())
    throw InputError(v.name() + " has no host implementation (--backend host)");
  // A host evaluation that is no twin is judged by the same bound, but it
  // says nothing about the device's bits: the output line must not suggest it.
  if (backend == "host" && !v.claims().host_twin)
    why_host += std::string(why_host.empty() ? "" : "; ") + "host evaluation, not bit-exact with the device";

  const Shape& s = c.shape;
  std::printf("variant   %s (family %s, from %s)\n", v.name().c_str(), v.family().c_str(),
              Registry::instance().origin(v.name()).c_str());
  std::printf("backend   %s%s\n", backend.c_str(),
              backend == "cuda" ? (" on " + cuda_device_name()).c_str()
                                : (why_host.empty() ? "" : (" (" + why_host + ")").c_str()));
  std::printf("case      T=%lld H=%lld I=%lld E=%lld k=%lld, weights %s, x %s, y %s, %s, %s layout, stored experts %lld\n",
              static_cast<long long>(s.T), static_cast<long long>(s.H), static_cast<long long>(s.I),
              static_cast<long long>(s.E), static_cast<long long>(s.k),
              std::string(weight_format_name(c.w13.format)).c_str(), std::string(format_name(c.x_format)).c_str(),
              std::string(format_name(c.y_format)).c_str(),
              std::string(activation_name(c.act.kind)).c_str(), std::string(layout_name(c.layout)).c_str(),
              static_cast<long long>(c.stored_count()));
  std::printf("numerics  %s\n", describe_numerics(v.numerics(c)).c_str());

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<uint8_t> y;
  if (backend == "cuda")
    y = run_on_device(v, c);
  else
    v.run_host(c, y);
  const auto t1 = std::chrono::steady_clock::now();
  if (!o.save_output.empty()) external::write_output_file(o.save_output, s, v.numerics(c).output_format, y);
  const OracleResult oracle = run_oracle(c, o.threads);
  const auto t2 = std::chrono::steady_clock::now();
  const CheckResult r = check_output(c, oracle, v, y);
  const auto ms = [](auto a, auto b) { return std::chrono::duration<double, std::milli>(b - a).count(); };
  std::printf("time      variant %.1f ms (incl. upload; not a benchmark), oracle %.1f ms on %d threads\n", ms(t0, t1),
              ms(t1, t2), oracle.threads_used);
  const std::string replay = replay_command(c, v.name(), backend, o.plugins, o.case_file);
  const std::string what = v.name() + " (" + backend + ", weights " + std::string(weight_format_name(c.w13.format)) +
                           ", x " + std::string(format_name(c.x_format)) + ", y " +
                           std::string(format_name(c.y_format)) + ", T=" + std::to_string(s.T) +
                           " H=" + std::to_string(s.H) + " I=" + std::to_string(s.I) + " E=" + std::to_string(s.E) +
                           " k=" + std::to_string(s.k) + ")";
  print_judgement(r, oracle, s, what, replay);
}

void setup_run(CLI::App& root) {
  auto opt = std::make_shared<RunOptions>();
  CLI::App* cmd = root.add_subcommand("run", "Run one case through one variant and check it against the oracle");
  cmd->add_option("--variant", opt->variant, "Variant name (see the registry; optional with one --exec)");
  cmd->add_option("--plugin", opt->plugins, "Plugin shared library adding variants (repeatable)");
  add_exec_flags(*cmd, opt->exec);
  CLI::Option* case_file =
      cmd->add_option("--case", opt->case_file, "Case file (safetensors) instead of generating one (no spec flags)");
  // The file fixes every spec value: a spec flag beside it would be ignored.
  for (CLI::Option* spec : add_spec_flags(*cmd, opt->spec)) case_file->excludes(spec);
  cmd->add_option("--backend", opt->backend, "cuda or host (default: cuda where a device answers)")
      ->check(CLI::IsMember({"cuda", "host"}));  // before generating a case that may take seconds
  cmd->add_option("--threads", opt->threads, "Oracle threads (0: OpenMP default)")->check(thread_count());
  cmd->add_option("--save-case", opt->save_case, "Also write the case to this file");
  cmd->add_option("--save-output", opt->save_output, "Also write y to this file (tensor y, for moecheck check)");
  cmd->callback([opt] { run_command(*opt); });
}

}  // namespace

MOECHECK_COMMAND(setup_run);

}  // namespace moecheck::cli

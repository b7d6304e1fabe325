// moecheck report: sweep variants over shapes, formats, batch sizes and
// value distributions; write report.json/.md/.html; with --baseline, exit 1
// when accuracy or (same card) throughput regressed. `report merge` joins
// the reports of a sharded sweep (--shard i/n) into one.
#include <cstdio>
#include <memory>
#include <regex>

#include <nlohmann/json.hpp>

#include "cli/checks.hpp"
#include "cli/command.hpp"
#include "cli/exec_flags.hpp"
#include "core/error.hpp"
#include "core/output_path.hpp"
#include "core/shard.hpp"
#include "reports/gate.hpp"
#include "reports/merge.hpp"
#include "reports/plan.hpp"
#include "reports/report.hpp"

namespace moecheck::cli {
namespace {

struct ReportArgs {
  report::Options o;
  report::Thresholds t;
  std::string only, shard = "1/1";
  bool no_progress = false;
  ExecFlags exec;
};

void print_gate(const report::GateResult& g) {
  std::printf("regression gate: %d accuracy results, %d timings compared\n", g.accuracy_compared,
              g.throughput_compared);
  for (const std::string& n : g.notes) std::printf("  note: %s\n", n.c_str());
  for (const std::string& r : g.regressions) std::printf("  regressed: %s\n", r.c_str());
}

void print_summary(const report::json& r) {
  std::printf("backend: %s%s\n", r["backend"]["name"].get<std::string>().c_str(),
              r["backend"]["name"] == "host"
                  ? (" (" + r["backend"]["why_host"].get<std::string>() + "; throughput not measured)").c_str()
                  : "");
  for (const auto& v : r["aggregate"]["variants"])
    std::printf("  %-24s ok %d  violation %d  failed %d  skipped %d\n", v["variant"].get<std::string>().c_str(),
                v["ok"].get<int>(), v["violation"].get<int>(), v["failed"].get<int>(), v["skipped"].get<int>());
}

// Bound violations and failed runs make the report exit 1 after it is
// written: the report is also a check.
std::string check_failures(const report::json& r) {
  int bad = 0;
  std::string first;
  for (const auto& c : r["configs"])
    for (const auto& x : c["results"])
      if (x["status"] == "violation" || x["status"] == "failed") {
        if (!bad++) first = c["id"].get<std::string>() + " " + x["variant"].get<std::string>() + ": " +
                            x.value("first_violation", x.value("reason", "")) + "\n  replay: " + x.value("replay", "");
      }
  return bad ? std::to_string(bad) + " result(s) outside their rigorous bound or failed; first: " + first : "";
}

// The baseline, parsed before any work so a bad path fails first (null: none).
report::json read_baseline(const ReportArgs& a) {
  return a.o.baseline.empty() ? report::json() : report::read_report_json(a.o.baseline);
}

// Gate against the baseline, write the three files, print; the same for a
// swept and a merged report.
void finish(report::json r, const ReportArgs& a, const report::json& baseline) {
  const report::Options& o = a.o;
  report::GateResult g;
  if (!o.baseline.empty()) {
    g = report::compare(baseline, r, a.t);
    r["gate"] = report::gate_json(g, a.t, o.baseline, baseline);
  }
  for (const std::string& p : report::write_report(r, o.out)) std::printf("wrote %s\n", p.c_str());
  print_summary(r);
  if (!o.baseline.empty()) print_gate(g);
  const std::string failures = check_failures(r);
  if (!g.ok()) {
    throw CheckFailure(std::to_string(g.regressions.size()) + " regression(s) against " + o.baseline +
                       (failures.empty() ? "" : "; also " + failures));
  }
  if (!failures.empty()) throw CheckFailure(failures);
}

void run(ReportArgs& a) {
  load_execs(a.exec);
  report::Options o = a.o;
  o.progress = !a.no_progress;
  o.shard = parse_shard(a.shard);
  if (!a.only.empty()) {
    try {
      o.only = std::regex(a.only);
    } catch (const std::regex_error& e) {
      throw InputError("--only: bad regular expression '" + a.only + "': " + e.what());
    }
  }
  check_output_dir(o.out, "--out");  // before the sweep, not after it
  const report::json baseline = read_baseline(a);
  finish(report::build_report(o), a, baseline);
}

// The command line as run, for the report's header.
std::string command_line(const std::string& head, const CLI::App* cmd) {
  std::string line = head;
  for (const auto* opt : cmd->get_options())
    if (opt->count() > 0 && opt->get_name() != "--help")
      for (const std::string& v : opt->results())
        line += " " + (opt->get_name().empty() ? v : opt->get_name() + (opt->get_expected_max() == 0 || v.empty() ? "" : " " + v));
  return line;
}

void add_gate_options(CLI::App* cmd, ReportArgs& a) {
  // Below 1 every point would count as regressed.
  static const CLI::Validator kGateRatio = finite_in(1, 1e6);
  cmd->add_option("--baseline", a.o.baseline, "Earlier report.json: exit 1 when this run regressed against it");
  cmd->add_option("--gate-accuracy-ratio", a.t.rel_l2_ratio, "Gate: relative L2 error may grow by this factor")
      ->capture_default_str()
      ->check(kGateRatio);
  cmd->add_option("--gate-max-error-ratio", a.t.max_ucond_ratio, "Gate: max u*c error may grow by this factor")
      ->capture_default_str()
      ->check(kGateRatio);
  cmd->add_option("--gate-time-ratio", a.t.time_ratio, "Gate: median time may grow by this factor (same card)")
      ->capture_default_str()
      ->check(kGateRatio);
}

void setup_merge(CLI::App* report_cmd) {
  auto a = std::make_shared<ReportArgs>();
  auto files = std::make_shared<std::vector<std::string>>();
  CLI::App* cmd = report_cmd->add_subcommand(
      "merge", "Join the report.json of every shard (report --shard i/n) into one report, as if run unsharded");
  cmd->add_option("reports", *files, "report.json of shards 1..n, any order")->required();
  cmd->add_option("--out", a->o.out, "Output directory")->capture_default_str();
  add_gate_options(cmd, *a);
  cmd->callback([a, files, cmd] {
    check_output_dir(a->o.out, "--out");
    std::vector<report::ShardReport> parts;
    for (const std::string& f : *files) parts.push_back({f, report::read_report_json(f)});
    const report::json baseline = read_baseline(*a);
    finish(report::merge_reports(parts, command_line("moecheck report merge", cmd)), *a, baseline);
  });
}

void setup_report(CLI::App& root) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* cmd = root.add_subcommand(
      "report", "Accuracy (and on a GPU throughput) report: report.json, report.md, report.html; regression gate");
  cmd->add_option("--preset", a->o.preset, "Sweep: smoke (host, < 1 min), ci (GPU job), full (nightly)")
      ->capture_default_str();
  cmd->add_option("--variants,--variant", a->o.variants, "Variants (default: every registered one)")->delimiter(',');
  cmd->add_option("--plugin", a->o.plugins, "Plugin library adding variants (repeatable)");
  add_exec_flags(*cmd, a->exec);
  cmd->add_option("--backend", a->o.backend, "cuda or host (default: cuda where a device answers, else host)");
  cmd->add_option("--out", a->o.out, "Output directory")->capture_default_str();
  cmd->add_option("--seed", a->o.seed, "Report seed (each point derives its own)")
      ->capture_default_str()
      ->check(uint64_text());
  cmd->add_option("--threads", a->o.threads, "Oracle threads (0: OpenMP default)")->check(thread_count());
  cmd->add_option("--only", a->only, "Only sweep points whose id matches this regular expression");
  cmd->add_flag("--no-progress", a->no_progress, "No progress bar / progress lines");
  cmd->add_flag("!--no-throughput", a->o.throughput, "Accuracy only: skip the throughput half on a GPU");
  cmd->add_option("--shard", a->shard,
                  "i/n: only the i-th of n slices of the sweep (and of the bench presets), numbered from 1; "
                  "join the parts with `report merge`")
      ->capture_default_str();
  add_gate_options(cmd, *a);
  cmd->callback([a, cmd] {
    if (cmd->got_subcommand("merge")) return;
    a->o.command_line = command_line("moecheck report", cmd);
    run(*a);
  });
  setup_merge(cmd);
}

}  // namespace

MOECHECK_COMMAND(setup_report);

}  // namespace moecheck::cli

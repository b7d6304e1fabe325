// moecheck bench: time every variant per (preset, T) against the device's
// streaming-read bandwidth; each variant's output is checked against the
// oracle before it is timed. Exit 1 when any check failed.
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/checks.hpp"
#include "cli/command.hpp"
#include "core/error.hpp"
#include "core/output_path.hpp"
#include "kernels/bench/bench.hpp"
#include "kernels/plugin.hpp"

namespace moecheck::cli {
namespace {

struct BenchArgs {
  bench::Options o;
  std::string weights = "bf16";
  std::vector<std::string> plugins;
  std::string json;
};

std::string utc_now() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

void print_row(const bench::Row& r) {
  if (r.skipped || r.failed) {
    std::printf("%-16s %3" PRId64 "  %-22s %s: %s\n", r.preset.c_str(), r.T, r.variant.c_str(),
                r.failed ? "FAILED" : "skipped", r.note.c_str());
    return;
  }
  char sp[16] = "-";
  if (r.speedup > 0) std::snprintf(sp, sizeof sp, "%.2fx", r.speedup);
  std::printf("%-16s %3" PRId64 "  %-22s %9.1f  [%8.1f .. %8.1f]  %3d  %9.1f  %7.0f  %5.1f  %6s\n", r.preset.c_str(), r.T,
              r.variant.c_str(), r.us.median, r.us.p10, r.us.p90, r.layers, r.bytes / 1e6, r.gbps, r.pct_read, sp);
}

void print_table_head() {
  std::printf("%-16s %3s  %-22s %9s  %-22s  %3s  %9s  %7s  %5s  %6s\n", "preset", "T", "variant", "us/layer",
              "[p10 .. p90]", "L", "MB/layer", "GB/s", "%read", "vs ec");
}

void print_header(const bench::Header& h, const std::string& when, const bench::Options& o) {
  std::printf("moecheck bench  %s  device: %s (%d SMs, L2 %.1f MiB, %.1f GiB)\n", when.c_str(), h.device.c_str(), h.sms,
              h.l2_bytes / 1048576.0, h.mem_bytes / 1073741824.0);
  std::printf("streaming read bandwidth: %.0f GB/s (read-only kernel over a %.2f GiB buffer, median of 10)\n",
              h.read_gbps, h.read_buffer_bytes / 1073741824.0);
  std::printf("MB/layer: unique bytes (each expert routed to by any token read once, + x, y, routing); %%read = GB/s "
              "over the streaming read bandwidth\n");
  std::printf("weights: %s (bytes counted in that format: codes + scales)\n", std::string(weight_format_name(o.weights)).c_str());
}

nlohmann::ordered_json to_json(const bench::Header& h, const std::string& when, const std::vector<bench::Row>& rows,
                               const bench::Options& o) {
  nlohmann::ordered_json j;
  j["tool"] = "moecheck bench";
  j["date"] = when;
  j["device"] = {{"name", h.device}, {"sms", h.sms}, {"l2_bytes", h.l2_bytes}, {"mem_bytes", h.mem_bytes},
                 {"read_gbps", h.read_gbps}, {"read_buffer_bytes", h.read_buffer_bytes}};
  j["options"] = {{"presets", o.presets}, {"tokens", o.tokens}, {"replays", o.replays}, {"warmup", o.warmup},
                  {"seed", o.seed}, {"check_tokens", o.check_tokens}, {"check_values", o.check_values},
                  {"weights", std::string(weight_format_name(o.weights))}};
  j["bytes_counted"] = "unique: each expert routed to by any token once (codes + scales), plus x, y and routing";
  j["rows"] = nlohmann::ordered_json::array();
  for (const bench::Row& r : rows) {
    nlohmann::ordered_json x;
    x["preset"] = r.preset, x["T"] = r.T, x["variant"] = r.variant;
    x["status"] = r.failed ? "failed" : r.skipped ? "skipped" : "ok";
    x["note"] = r.note;
    if (!r.failed && !r.skipped) {
      x["layers"] = r.layers;
      x["us_per_layer"] = {{"median", r.us.median}, {"p10", r.us.p10}, {"p90", r.us.p90}, {"min", r.us.min},
                           {"max", r.us.max}, {"replays", r.us.n}};
      x["bytes_per_layer"] = r.bytes;
      x["gbps"] = r.gbps;
      x["pct_read_bandwidth"] = r.pct_read;
      if (r.speedup > 0) x["speedup_vs_expert_centric"] = r.speedup;
    }
    j["rows"].push_back(x);
  }
  return j;
}

void run(BenchArgs& a) {
  if (!a.json.empty()) check_output_file(a.json, "--json");
  a.o.weights = parse_weight_format(a.weights);  // InputError (exit 2) on unknown names
  for (const std::string& p : a.plugins) load_plugin(p);
  bench::Header h;
  const std::string when = utc_now();
  bool head = false;
  const std::vector<bench::Row> rows = bench::run_bench(a.o, h, [&](const bench::Row& r) {
    if (!head) print_header(h, when, a.o), print_table_head(), head = true;
    print_row(r);
    std::fflush(stdout);
  });
  if (!a.json.empty()) {
    std::ofstream f(a.json);
    if (!f) throw InputError("cannot write " + a.json);
    f << to_json(h, when, rows, a.o).dump(2) << "\n";
  }
  // The compact table last: what a reader of the log's tail sees.
  std::printf("\n");
  print_header(h, when, a.o);
  print_table_head();
  int failed = 0;
  for (const bench::Row& r : rows) print_row(r), failed += r.failed;
  if (failed) throw CheckFailure(std::to_string(failed) + " variant run(s) failed the oracle or output check (see above)");
}

void setup(CLI::App& root) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = root.add_subcommand("bench", "Time variants per preset and batch size against the read bandwidth");
  cmd->add_option("--preset", a->o.presets, "Presets, comma-separated")->delimiter(',');
  cmd->add_option("--tokens", a->o.tokens, "Batch sizes T, comma-separated")->delimiter(',');
  cmd->add_option("--variants,--variant", a->o.variants, "Variants (default: every one with a device path)")
      ->delimiter(',');
  cmd->add_option("--plugin", a->plugins, "Variant plugin library to load (repeatable)");
  cmd->add_option("--json", a->json, "Write every row as JSON to FILE");
  cmd->add_option("--replays", a->o.replays, "Timed graph replays per variant")->check(CLI::Range(1, 100000));
  cmd->add_option("--warmup", a->o.warmup, "Untimed replays first")->check(CLI::Range(0, 1000));
  cmd->add_option("--seed", a->o.seed, "Seed of routings, check layers and device fills")->check(uint64_text());
  cmd->add_option("--weights", a->weights,
                  "Weight format of every layer (bf16, f16, fp8_channel, fp8_block128, mxfp8, mxfp4, nvfp4)");
  cmd->add_option("--check-tokens", a->o.check_tokens,
                  "Oracle-check at most this many tokens of a batch (first, middle, last); 0 = all")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  cmd->add_option("--check-values", a->o.check_values,
                  "Stored weight elements of the host-generated check layer (its expert pool)")
      ->check(finite_in(1, 1e12));
  cmd->callback([a] { run(*a); });
}

MOECHECK_COMMAND(setup);

}  // namespace
}  // namespace moecheck::cli

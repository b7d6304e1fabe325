// moecheck oracle | bench-oracle: the certified reference of a case file, and
// its speed against a naive cpp_bin_float_quad evaluation (oracle/README.md).
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cli/checks.hpp"
#include "cli/command.hpp"
#include "cli/options.hpp"
#include "core/case_io.hpp"
#include "core/error.hpp"
#include "core/output_path.hpp"
#include "core/generate.hpp"
#include "core/safetensors.hpp"
#include "oracle/naive.hpp"
#include "oracle/oracle.hpp"

namespace moecheck::cli {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct OracleArgs {
  std::string file, out;
  int threads = 0;
};

StTensor f64_tensor(const std::vector<double>& v, int64_t T, int64_t H) {
  StTensor t;
  t.dtype = "F64";
  t.shape = {T, H};
  t.bytes.resize(v.size() * 8);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());  // little endian host
  return t;
}

void run_oracle_cmd(const OracleArgs& a) {
  check_output_file(a.out, "--out", {a.file});
  const Case c = load_case(a.file);
  const auto t0 = Clock::now();
  const OracleResult o = run_oracle(c, a.threads);
  const double secs = seconds_since(t0);
  const Shape& s = c.shape;
  StFile f;
  f.metadata["moecheck.oracle"] = "1";
  f.metadata["y"] =
      "y = y_hi + y_lo exactly (double-double); |y_true - y| <= err (certified, rounded upward); err <= 2^-100 |y| "
      "wherever |y| >= 2^-916 and |y| >= ~2^-690 of its grouped condition, err = 0 for exact zeros; non-finite inputs by IEEE rules on the exact values (+-inf "
      "with err = 0; NaN only from NaN, inf * 0, inf - inf); cond = sum_j |w_j| sum_n |D[i,n]| |h_j[n]|";
  // The precision is not the outputs' accuracy (err is): say which it is.
  f.metadata["precision_bits"] = std::to_string(o.precision_bits);
  f.metadata["precision_bits.meaning"] =
      "MPFR working precision of the activation (402 or 804 bits for outputs refined by Ziv's strategy); the "
      "accuracy of each output is err";
  f.metadata["case_provenance"] = c.provenance;
  f.tensors["y_hi"] = f64_tensor(o.y_hi, s.T, s.H);
  f.tensors["y_lo"] = f64_tensor(o.y_lo, s.T, s.H);
  f.tensors["err"] = f64_tensor(o.err, s.T, s.H);
  f.tensors["cond"] = f64_tensor(o.cond, s.T, s.H);
  write_safetensors(a.out, f);
  double min_bits = 1e9;
  for (size_t i = 0; i < o.y_hi.size(); ++i) min_bits = std::min(min_bits, oracle_correct_bits(o, i));
  std::printf("oracle: %" PRId64 " x %" PRId64 " outputs in %.3f s on %d threads; min certified bits %.1f "
              "(0 only where y = 0 exactly); wrote %s\n",
              s.T, s.H, secs, o.threads_used, min_bits, a.out.c_str());
}

struct BenchArgs {
  SpecFlags spec;
  int threads = 0;
  double naive_budget = 3e7;  // naive multiply-adds per phase
};

// Certified bits of the oracle: min and median of -log2(err / |y|) over
// outputs that are not cancellation residues (|y| >= 2^-20 c).
void oracle_bits(const OracleResult& o, double& min_bits, double& median_bits) {
  std::vector<double> b;
  for (size_t i = 0; i < o.y_hi.size(); ++i)
    if (std::fabs(o.y_hi[i]) >= 0x1p-20 * o.cond[i] && o.y_hi[i] != 0) b.push_back(oracle_correct_bits(o, i));
  if (b.empty()) b.push_back(0);
  std::sort(b.begin(), b.end());
  min_bits = b.front();
  median_bits = b[b.size() / 2];
}

void bench_oracle(const BenchArgs& a) {
  GenSpec spec = spec_from_flags(a.spec);
  // The oracle reads only routed experts; storing all of a large preset's
  // experts would only slow the generator down.
  if (a.spec.storage == "auto") spec.storage = ExpertStorage::routed;
  const Shape& s = spec.shape;
  auto t0 = Clock::now();
  const Case c = generate_case(spec);
  std::printf("case: %s T=%" PRId64 " H=%" PRId64 " I=%" PRId64 " E=%" PRId64 " k=%" PRId64 " weights %s, x %s, %s "
              "(generated in %.2f s)\n",
              spec.preset.c_str(), s.T, s.H, s.I, s.E, s.k, std::string(weight_format_name(spec.weights)).c_str(),
              std::string(format_name(spec.x_format)).c_str(), std::string(activation_name(spec.act.kind)).c_str(),
              seconds_since(t0));
  const double madds = static_cast<double>(s.T * s.k) * (3.0 * static_cast<double>(s.I * s.H)) +
                       static_cast<double>(s.T * s.k * s.H);  // gate, up, down, combine

  t0 = Clock::now();
  const double cpu0 = thread_cpu_seconds();
  const OracleResult o1 = run_oracle(c, 1);  // one OpenMP thread: this one
  const double t1 = seconds_since(t0), cpu1 = thread_cpu_seconds() - cpu0;
  double tn = t1;
  int nthreads = 1;
  if (a.threads != 1) {
    t0 = Clock::now();
    const OracleResult on = run_oracle(c, a.threads);
    tn = seconds_since(t0);
    nthreads = on.threads_used;
    if (on.y_hi != o1.y_hi || on.y_lo != o1.y_lo || on.err != o1.err)
      throw CheckFailure("oracle results differ between 1 and " + std::to_string(nthreads) + " threads");
  }
  double min_bits, med_bits;
  oracle_bits(o1, min_bits, med_bits);

  const int64_t rows = std::min<int64_t>(s.T * s.k * s.I, std::max<int64_t>(1, static_cast<int64_t>(a.naive_budget / (2.0 * s.H))));
  const int64_t outs = std::min<int64_t>(s.T * s.H, std::max<int64_t>(1, static_cast<int64_t>(a.naive_budget / (s.k * (s.I + 1.0)))));
  const NaiveRun nv = naive_quad_subset(c, o1.h, rows, outs);
  const double naive_madds = static_cast<double>(nv.gate_up_madds + nv.down_madds);
  const double naive_secs = nv.seconds();
  const double naive_rate = naive_madds / naive_secs;
  const bool subset = rows < s.T * s.k * s.I || outs < s.T * s.H;
  // Naive quad's accuracy against the oracle on the outputs whose h it
  // computed itself.
  double naive_min_bits = 1e9;
  int64_t compared = 0;
  for (size_t q = 0; q < nv.y.size(); ++q) {
    const int64_t i = nv.y_index[q];
    if (!nv.naive_h[q] || !(std::fabs(o1.y_hi[i]) >= 0x1p-20 * o1.cond[i]) || o1.y_hi[i] == 0) continue;
    ++compared;
    const double e = std::fabs(((nv.y[q] - o1.y_hi[i]) + nv.y_lo[q]) - o1.y_lo[i]);
    naive_min_bits = std::min(naive_min_bits, e == 0 ? 106.0 : -std::log2(e / std::fabs(o1.y_hi[i])));
  }

  std::printf("oracle (1 thread):    %.3f s, %.3g multiply-adds/s (%.1f ns each); CPU time %.3f s\n", t1, madds / t1,
              1e9 * t1 / madds, cpu1);
  if (a.threads != 1)
    std::printf("oracle (%d threads):   %.3f s, %.3g multiply-adds/s\n", nthreads, tn, madds / tn);
  std::printf("naive cpp_bin_float_quad: %.3g multiply-adds/s (%.1f ns each) over %.3g multiply-adds%s\n", naive_rate,
              1e9 / naive_rate, naive_madds,
              subset ? " -- timed on a subset and extrapolated per multiply-add: " : "");
  if (subset)
    std::printf("  subset: %" PRId64 " of %" PRId64 " gate/up neurons, %" PRId64 " of %" PRId64
                " outputs (the down subset uses the oracle's h rounded to quad); full naive estimate %.1f s\n",
                rows, s.T * s.k * s.I, outs, s.T * s.H, madds / naive_rate);
  // CPU-time ratio: what the two cost where other processes share the cores.
  std::printf("ratio (naive / oracle, single-threaded): %.1f (by CPU time: %.1f)\n", (madds / naive_rate) / t1,
              (madds * nv.cpu_seconds / naive_madds) / cpu1);
  std::printf("correct bits: oracle certified min %.1f, median %.1f (activation at %d bits)", min_bits, med_bits,
              o1.precision_bits);
  if (compared)
    std::printf("; naive quad correct to >= %.1f bits on %" PRId64 " outputs (|y| >= 2^-20 c)\n", naive_min_bits,
                compared);
  else
    std::printf("; naive quad y not compared (its h budget did not cover a whole token)\n");
  std::printf("threads: %d\n", nthreads);
}

void setup(CLI::App& root) {
  auto oa = std::make_shared<OracleArgs>();
  auto* cmd = root.add_subcommand("oracle", "Compute the certified multiprecision reference of a case file");
  cmd->add_option("case", oa->file, "Case file (safetensors)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out,-o", oa->out, "Output safetensors: y_hi, y_lo, err, cond (T, H) F64")->required();
  cmd->add_option("--threads", oa->threads, "OpenMP threads (0: default); results do not depend on it")
      ->check(thread_count());
  cmd->callback([oa] { run_oracle_cmd(*oa); });

  auto ba = std::make_shared<BenchArgs>();
  auto* bench = root.add_subcommand("bench-oracle", "Time the oracle against a naive cpp_bin_float_quad evaluation");
  add_spec_flags(*bench, ba->spec);
  bench->add_option("--threads", ba->threads, "OpenMP threads for the parallel run (0: default)")
      ->check(thread_count());
  bench->add_option("--naive-madds", ba->naive_budget, "Naive multiply-adds timed per phase (subset beyond it)")
      ->capture_default_str()
      ->check(finite_in(1, 1e15));
  bench->callback([ba] { bench_oracle(*ba); });
}

}  // namespace

MOECHECK_COMMAND(setup);

}  // namespace moecheck::cli

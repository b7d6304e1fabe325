// `moecheck bench`: per (preset, T, variant) the median and spread of
// microseconds per layer over CUDA-graph replays that rotate across layer
// copies whose weights exceed L2 several times, with fresh routing per layer;
// the bytes each layer must move (DESIGN.md section 7), GB/s, percent of the
// device's streaming-read bandwidth measured in the same process, speedup
// over expert_centric; every variant's output checked against the oracle
// before it is timed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace moecheck::bench {

// ---- byte counting (host, tested on the CPU) -------------------------------

// Weight bytes of one expert: gate/up (2I, H) and down (H, I), data and scales.
int64_t expert_bytes(const Shape& s, WeightFormat wf);

// Bytes one layer call must move: each expert touched by at least one token
// read once, x read, y written, routing ids and weights read.
struct LayerBytes {
  int64_t weights = 0, x = 0, y = 0, routing = 0;
  int64_t total() const { return weights + x + y + routing; }
};
LayerBytes layer_bytes(const Shape& s, WeightFormat wf, int64_t unique_experts, Format x_fmt, Format y_fmt);

int64_t count_unique(const std::vector<int32_t>& ids);

// Layer copies to rotate: enough that one rotation's weights exceed
// `l2_multiple` x L2, at least 2 (consecutive replays never hit the same
// layer), at most max_layers and what `budget_bytes` holds (at least 1).
int choose_layers(int64_t layer_weight_bytes, int64_t l2_bytes, int64_t budget_bytes, int max_layers = 16,
                  double l2_multiple = 8.0);

struct Stats {
  double median = 0, p10 = 0, p90 = 0, min = 0, max = 0;
  int n = 0;
};
Stats summarize(std::vector<double> v);

// Fresh uniform routing for one layer: each token k distinct experts of E
// (seeded), positive weights summing to 1; `slots` renumbers the touched
// experts densely (ascending global id) as the kernels' storage slots.
struct LayerRouting {
  std::vector<int32_t> ids;      // (T, k) global
  std::vector<int32_t> slots;    // (T, k) into `experts`
  std::vector<int32_t> experts;  // (U) ascending global ids
  std::vector<float> weights;    // (T, k)
};
LayerRouting random_routing(const Shape& s, uint64_t seed);

// ---- the benchmark -----------------------------------------------------------

struct Options {
  std::vector<std::string> presets = {"qwen3-235b-a22b", "deepseek-v3", "qwen3-30b-a3b"};
  std::vector<int64_t> tokens = {1, 2, 4, 8, 16, 32, 64};
  std::vector<std::string> variants;  // empty: every registered variant with a device path
  // Format of every layer's weights, check layer included; bytes are counted
  // in it (codes + scales + tensor scales, expert_bytes).
  WeightFormat weights = WeightFormat::bf16;
  int replays = 30;
  int warmup = 3;
  uint64_t seed = 1;
  // Host-generated check layer (check_case.hpp): a pool of experts of at
  // most this many weight elements (at least k experts) that the check
  // batch routes over, and the oracle on at most check_tokens tokens of the
  // batch (first, middle, last).
  double check_values = 4e8;
  int64_t check_tokens = 3;
  int64_t read_buffer_bytes = int64_t{4} << 30;
};

struct Row {
  std::string preset;
  int64_t T = 0;
  std::string variant;
  bool skipped = false;
  bool failed = false;           // the oracle check failed: not timed
  std::string note;              // why skipped/failed, else what the check covered
  int layers = 0;
  Stats us;                      // microseconds per layer
  double bytes = 0;              // mean bytes per layer
  double gbps = 0, pct_read = 0;
  double speedup = 0;            // over expert_centric; 0 when not measured
};

struct Header {
  std::string device;
  int sms = 0;
  int64_t l2_bytes = 0, mem_bytes = 0;
  double read_gbps = 0;
  int64_t read_buffer_bytes = 0;
};

// Throws InputError without a device or for unknown presets/variants. A
// variant whose output fails the oracle check is not timed (its row has
// failed = true). `progress` sees each row as it completes.
std::vector<Row> run_bench(const Options& o, Header& header, const std::function<void(const Row&)>& progress);

}  // namespace moecheck::bench

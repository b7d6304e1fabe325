// The throughput half of a report (GPU backend only): `moecheck bench`'s
// library run over the plan's presets and batch sizes, plus the roofline
// time per row and the crossover batch size per preset.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/bench/bench.hpp"
#include "reports/plan.hpp"

namespace moecheck::report {

using json = nlohmann::ordered_json;

json run_throughput(const Plan& p, const std::vector<std::string>& variants, uint64_t seed,
                    const std::function<void(const bench::Row&)>& progress);

// Pure functions of bench rows, tested on the CPU.
json throughput_json(const bench::Header& h, const std::vector<bench::Row>& rows);
// Per preset and variant: the batch size where its speedup over
// expert_centric crosses 1 (interpolated in log2 T between the measured
// neighbours), or null where it never does within the measured range.
json crossovers(const std::vector<bench::Row>& rows);

}  // namespace moecheck::report

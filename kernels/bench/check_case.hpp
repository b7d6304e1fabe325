// Check cases for full-size presets. generate_case builds weights at about
// 1e7 values/s (a deepseek-v3 expert is 4.4e7), too slow for checks that
// run before every benchmark and in the GPU tests, so these cases draw bf16
// weights from a counter hash in parallel instead: a pool of experts of the
// preset's shape, then any number of batches routed over that pool.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/problem.hpp"

namespace moecheck::bench {

// For each of T tokens k distinct experts of `pool` (one_set: the same k for
// every token), and positive weights summing to 1. (T, k) each.
void draw_routing(std::mt19937_64& rng, int64_t T, int64_t k, std::vector<int32_t> pool, bool one_set,
                  std::vector<int32_t>& ids, std::vector<float>& w);

// Weights of `pool` experts (distinct global ids spread over E), uniform in
// (-1, 1)/sqrt(K) rounded to bf16, then quantized to `wf` when not bf16
// (core/weights.hpp's quantize_weights), no token yet (call reroute).
Case pool_case(const Shape& s, int64_t pool, ActivationSpec act, GateUpLayout layout, uint64_t seed,
               WeightFormat wf = WeightFormat::bf16);

enum class PoolRouting : uint8_t {
  uniform,  // each token k distinct experts of the pool, uniformly
  one_set,  // every token the same k experts (several M tiles per expert)
};

// Replaces the case's batch: T tokens of x ~ N(0, 1) in bf16, routing over the
// pool's experts, positive weights summing to 1; provenance says how to
// rebuild it.
void reroute(Case& c, int64_t T, PoolRouting r, uint64_t seed);

}  // namespace moecheck::bench

// The measured crossover table of the `auto` variant: per model shape, which
// variant is fastest up to which T. The lookup key is (H, I, k): the device
// sees storage slots only, so E cannot be part of it (host and device must
// pick the same variant for the same case).
//
// Provenance (every row below): NVIDIA H200, driver 580.159.04, 2026-11-26
// 04:15 UTC, commit 81ce80e,
//   moecheck bench --preset qwen3-235b-a22b,deepseek-v3,qwen3-30b-a3b
// (T = 1,2,4,8,16,32,64; median of 30 CUDA-graph replays; figures in
// kernels/expert_centric/NOTES.md "Crossover against warp decode"). Each
// segment ends at the largest measured T the variant won; between measured
// points the earlier variant is kept.
//
// warp_decode_grouped has no segment: measured on an H200 at 2026-11-26
// 07:23 UTC (commit 9570480, T = 1, 8, 16, 32 on the three presets; table in
// kernels/PERF.md) it won no point against the faster of warp_decode and
// expert_centric_fused. That run also shows warp_decode slower at T = 1..8
// than in the 04:15 run (see PERF.md); the rows below stay the 04:15 run's
// until both are re-measured in one run.
#pragma once

#include <cstdint>

namespace moecheck::autovariant {

constexpr int64_t kAnyT = INT64_MAX;

// `variant` runs every T <= max_T not taken by an earlier segment.
struct Segment {
  int64_t max_T;
  const char* variant;
};

struct CrossoverRow {
  const char* preset;  // where the figures came from; not part of the key
  int64_t H, I, k;
  Segment segments[4];
};

inline constexpr const char* kCrossoverProvenance =
    "NVIDIA H200, 2026-11-26 04:15 UTC, commit 81ce80e: moecheck bench --preset "
    "qwen3-235b-a22b,deepseek-v3,qwen3-30b-a3b (T 1..64); warp_decode_grouped (07:23 UTC, commit 9570480) won no point";

// Measured (µs, same run): qwen3-30b-a3b warp 140.5 vs fused 151.4 at T = 8,
// fused 227.3 vs warp 269.6 at 16; qwen3-235b-a22b 286.1 vs 303.0 at 4,
// fused 504.2 vs 555.7 at 8; deepseek-v3 639.8 vs 707.9 at 4, fused 1262.7 vs
// 1274.4 at 8.
inline constexpr CrossoverRow kCrossover[] = {
    {"qwen3-30b-a3b", 2048, 768, 8, {{8, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"qwen3-235b-a22b", 4096, 1536, 8, {{4, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"deepseek-v3", 7168, 2048, 8, {{4, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
};

// Shapes not in the table: the earliest crossover measured on any preset.
inline constexpr Segment kDefaultSegments[4] = {{4, "warp_decode"}, {kAnyT, "expert_centric_fused"}};

}  // namespace moecheck::autovariant

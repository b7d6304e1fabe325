// The measured crossover table of the `auto` variant: per model shape and
// weight class, which variant is fastest up to which T. The lookup key is
// (H, I, k, weight class): the device sees storage slots only, so E cannot
// be part of it (host and device must pick the same variant for the same
// case). Each segment ends at the largest measured T the variant won;
// between measured points the earlier variant is kept.
//
// bf16 / f16 weights (provenance kCrossoverProvenance16): NVIDIA H200, driver
// 580.159.04, 2026-11-26 04:15 UTC, commit 81ce80e,
//   moecheck bench --preset qwen3-235b-a22b,deepseek-v3,qwen3-30b-a3b
// (T = 1,2,4,8,16,32,64; median of 30 CUDA-graph replays; figures in
// kernels/expert_centric/NOTES.md "Crossover against warp decode").
// warp_decode_grouped has no segment: measured on an H200 at 07:23 UTC
// (commit 9570480, T = 1, 8, 16, 32 on the three presets; kernels/PERF.md)
// it won no point against the faster of warp_decode and expert_centric_fused.
// That run also shows warp_decode slower at T = 1..8 than in the 04:15 run
// (see PERF.md); the 16-bit rows stay the 04:15 run's until both are
// re-measured in one run.
//
// Quantized weights (provenance kCrossoverProvenanceQ): NVIDIA H100 80GB
// HBM3, 2026-11-26 12:45 UTC, commit 9733a2d,
//   moecheck bench --preset qwen3-235b-a22b,deepseek-v3,qwen3-30b-a3b
//     --tokens 1,4,8,16,32 --variants warp_decode,expert_centric_fused
//     --weights W --replays 20   (W = fp8_channel, mxfp8, mxfp4)
// The expert-centric path dequantizes quantized weights into its bf16 tile
// (weight-only), so warp decode, which streams the quantized bytes, wins
// longer: to T = 16 on qwen3-235b-a22b and qwen3-30b-a3b, and at every
// measured T (to 32) on deepseek-v3, for all three formats alike. The
// quantized rows also stand for fp8_block128 and nvfp4 (not measured).
#pragma once

#include <cstdint>

#include "core/weights.hpp"

namespace moecheck::autovariant {

constexpr int64_t kAnyT = INT64_MAX;

// `variant` runs every T <= max_T not taken by an earlier segment.
struct Segment {
  int64_t max_T;
  const char* variant;
};

// 16-bit weights (bf16, f16) and quantized weights (every scaled format).
enum class WeightClass : uint8_t { wide, quantized };
inline WeightClass weight_class(WeightFormat f) {
  return f == WeightFormat::bf16 || f == WeightFormat::f16 ? WeightClass::wide : WeightClass::quantized;
}

struct CrossoverRow {
  const char* preset;  // where the figures came from; not part of the key
  int64_t H, I, k;
  WeightClass weights;
  Segment segments[4];
};

inline constexpr const char* kCrossoverProvenance16 =
    "bf16/f16: NVIDIA H200, 2026-11-26 04:15 UTC, commit 81ce80e: moecheck bench --preset "
    "qwen3-235b-a22b,deepseek-v3,qwen3-30b-a3b (T 1..64); warp_decode_grouped (07:23 UTC, commit 9570480) won no point";
inline constexpr const char* kCrossoverProvenanceQ =
    "quantized: NVIDIA H100 80GB HBM3, 2026-11-26 12:45 UTC, commit 9733a2d: moecheck bench --preset "
    "qwen3-235b-a22b,deepseek-v3,qwen3-30b-a3b --tokens 1,4,8,16,32 --weights fp8_channel|mxfp8|mxfp4";

// Measured (µs, same run), bf16: qwen3-30b-a3b warp 140.5 vs fused 151.4 at
// T = 8, fused 227.3 vs warp 269.6 at 16; qwen3-235b-a22b 286.1 vs 303.0 at
// 4, fused 504.2 vs 555.7 at 8; deepseek-v3 639.8 vs 707.9 at 4, fused
// 1262.7 vs 1274.4 at 8.
// Quantized (warp / fused, fp8_channel; mxfp8 and mxfp4 cross at the same T):
// qwen3-30b-a3b 231.0 / 284.8 at 16, 447.1 / 373.9 at 32; qwen3-235b-a22b
// 790.9 / 1030.2 at 16, 1564.0 / 1367.8 at 32; deepseek-v3 3619.5 / 4576.6
// at 32.
inline constexpr CrossoverRow kCrossover[] = {
    {"qwen3-30b-a3b", 2048, 768, 8, WeightClass::wide, {{8, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"qwen3-235b-a22b", 4096, 1536, 8, WeightClass::wide, {{4, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"deepseek-v3", 7168, 2048, 8, WeightClass::wide, {{4, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"qwen3-30b-a3b", 2048, 768, 8, WeightClass::quantized, {{16, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"qwen3-235b-a22b", 4096, 1536, 8, WeightClass::quantized,
     {{16, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
    {"deepseek-v3", 7168, 2048, 8, WeightClass::quantized, {{32, "warp_decode"}, {kAnyT, "expert_centric_fused"}}},
};

// Shapes not in the table: the earliest crossover measured on any preset.
inline constexpr Segment kDefaultSegments16[4] = {{4, "warp_decode"}, {kAnyT, "expert_centric_fused"}};
inline constexpr Segment kDefaultSegmentsQ[4] = {{16, "warp_decode"}, {kAnyT, "expert_centric_fused"}};

}  // namespace moecheck::autovariant

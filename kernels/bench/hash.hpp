// The counter hash behind the bench's random fills, shared by the device fill
// (timing-only layers) and the host fill (check layers).
#pragma once

#include <cstdint>

#include "core/formats.hpp"

namespace moecheck::bench {

// splitmix64's finalizer.
MOECHECK_HD uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Element i of a fill: bf16 code of a value uniform in (-scale, scale), from
// 24 hash bits with the lowest set (never exactly 0 before rounding).
MOECHECK_HD uint16_t hashed_bf16(uint64_t seed, uint64_t i, float scale) {
  const uint64_t h = mix64(seed * 0x9e3779b97f4a7c15ull + i);
  const float u = static_cast<float>((h >> 40) | 1u) * (1.0f / 8388608.0f) - 1.0f;
  return f32_to_bf16_rn(u * scale);
}

}  // namespace moecheck::bench

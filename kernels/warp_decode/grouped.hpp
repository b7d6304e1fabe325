// warp_decode_grouped: warp decode that reads each weight row once per step.
// The (t, j) pairs of a step are grouped by storage slot (a deterministic
// counting sort on the device) and cut into tiles of at most kM pairs of one
// slot; a warp then owns one row of one tile and streams that row once for
// all the tile's tokens, one fp32 chain per token. Each token's chain is
// warp_decode's lane order (warp_math.hpp), so h is bitwise warp_decode's h
// and a token's result never depends on which tokens share its tile.
//
// Device: grouping (one block) -> gate_up (warp per (tile, n), h bf16) ->
// down (warp per (tile, i), p[t, j, i] fp32) -> combine (thread per (t, i):
// y = sum_j RN(w_j p_j) in order j = 0..k-1 from +0, rounded to y's format), each a
// programmatic dependent of the one before (sm_90+).
#pragma once

#include <cstdint>
#include <vector>

#include "core/problem.hpp"

struct CUstream_st;

namespace moecheck {
struct DeviceArgs;
}

namespace moecheck::warp_decode::grouped {

constexpr int kM = 8;                // tokens (pairs) per tile: one fp32 accumulator pair each
constexpr int64_t kMaxSlots = 4096;  // the grouping block keeps 2 ints per slot in shared memory

// One tile: up to kM pairs routed to one slot, sorted[first .. first + count).
struct Tile {
  int32_t slot, first, count, pad;
};

inline int64_t pair_count(const Shape& s) { return s.T * s.k; }

// Upper bound on tiles over any routing (the grids are sized on the host,
// which never sees the routing): sum_s ceil(c_s / kM) <= (N + (kM - 1) A) / kM
// with N pairs and A <= min(N, S) active slots.
inline int64_t max_tiles(const Shape& s) {
  const int64_t n = pair_count(s), a = n < s.E ? n : s.E;
  return (n + (kM - 1) * a) / kM;
}

// Byte offsets into the caller's workspace (s.E = storage slots), each
// region on a 256-byte boundary.
struct Layout {
  int64_t h = 0;          // bf16 (T, k, I): as warp_decode, row (t, j) at (t k + j) I
  int64_t p = 0;          // f32 (T, k, H): per-expert outputs D_e h before the routing weight
  int64_t sorted = 0;     // int32 (T k): pair indices t k + j, by slot, ascending within a slot
  int64_t tiles = 0;      // Tile (max_tiles)
  int64_t num_tiles = 0;  // int32 (1): tiles of this call
  int64_t total = 0;
};

inline Layout plan_layout(const Shape& s) {
  Layout l;
  int64_t off = 0;
  auto take = [&](int64_t bytes) {
    const int64_t at = off;
    off = (off + bytes + 255) / 256 * 256;
    return at;
  };
  const int64_t n = pair_count(s);
  l.h = take(2 * n * s.I);
  l.p = take(4 * n * s.H);
  l.sorted = take(4 * n);
  l.tiles = take(static_cast<int64_t>(sizeof(Tile)) * max_tiles(s));
  l.num_tiles = take(4);
  l.total = off;
  return l;
}

// The grouping the device computes, on the host (tests compare the two):
// `sorted` gets the pair indices by slot, ascending within a slot; `tiles`
// the tiles in slot order. slots: (T k) storage slots in [0, S).
void group_pairs_host(const std::vector<int32_t>& slots, int64_t S, std::vector<int32_t>& sorted,
                      std::vector<Tile>& tiles);

// Device entry (grouped.cu).
void launch(const DeviceArgs& a, void* workspace, CUstream_st* stream);

}  // namespace moecheck::warp_decode::grouped

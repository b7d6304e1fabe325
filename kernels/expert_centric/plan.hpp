// Host-side planning for the expert-centric family: the worst-case padded
// layout and the workspace carve-up. Everything here depends only on the
// shape, never on the routing, because the device path may not read expert
// counts back to the host (no host sync, graph capture): buffers are sized
// for the worst routing and kernels read the real tile count on the device.
#pragma once

#include <cstdint>

#include "core/problem.hpp"

namespace moecheck::ec {

// Rows of one GEMM tile along M (tokens of one expert). mma.sync m16n8k16
// is 16 rows tall; decode batches give most experts 1-16 tokens, so one tile.
inline constexpr int64_t kTileM = 16;

// Pairs (token, slot) in one call.
inline int64_t pair_count(const Shape& s) { return s.T * s.k; }

// Upper bound on the number of M tiles over all experts: each active expert
// e with c_e pairs needs ceil(c_e / 16) tiles, and at most min(E, N) experts
// are active, so sum ceil(c_e/16) <= sum (c_e + 15) / 16 <= (N + 15 A) / 16.
inline int64_t max_tiles(const Shape& s) {
  const int64_t n = pair_count(s);
  const int64_t a = n < s.E ? n : s.E;
  return (n + (kTileM - 1) * a) / kTileM;
}
inline int64_t max_rows(const Shape& s) { return max_tiles(s) * kTileM; }

// Tiles one expert with `count` pairs occupies.
inline int64_t tiles_for(int64_t count) { return (count + kTileM - 1) / kTileM; }

// Byte offsets into the caller's workspace. Each region starts on a 256-byte
// boundary (vector loads, and cudaMalloc alignment for the whole buffer).
struct Layout {
  // Routing (both variants)
  int64_t sorted_pair = 0;   // int32 (max_rows): pair index t*k+j, -1 = padding
  int64_t row_of_pair = 0;   // int32 (N): padded row of each pair
  int64_t tile_expert = 0;   // int32 (max_tiles): storage slot of each tile
  int64_t num_tiles = 0;     // int32 (1): tiles actually used this call
  // expert_centric only
  int64_t xg = 0;            // bf16 (max_rows, H): gathered activations
  int64_t gu = 0;            // f32 (max_rows, 2I): gate/up GEMM output
  int64_t ye = 0;            // bf16 (max_rows, H): per-expert outputs, expert-major
  int64_t ys = 0;            // bf16 (N, H): per-expert outputs, pair order
  // expert_centric_fp8 only (ye unused there: ys is formed from yacc)
  int64_t sx = 0;            // f32 (max_rows): x rows' fp8 scales
  int64_t sh = 0;            // f32 (max_rows): h rows' fp8 scales
  int64_t yacc = 0;          // f32 (max_rows, H): down GEMM sums of code products
  // both
  int64_t h = 0;             // bf16 (max_rows, I): activation output
  // expert_centric_fused only
  int64_t yw = 0;            // f32 (N, H): w_j * (D_j h_j), pair order
  int64_t total = 0;
};

inline int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

// fused = false: expert_centric's eight-stage buffers; true: the fused path.
// fp8_row: the eight-stage path of expert_centric_fp8 (fp8_row.hpp).
inline Layout plan_layout(const Shape& s, bool fused, bool fp8_row = false) {
  Layout l;
  int64_t off = 0;
  auto take = [&](int64_t bytes) {
    const int64_t at = off;
    off = align_up(off + bytes, 256);
    return at;
  };
  const int64_t n = pair_count(s), rows = max_rows(s);
  l.sorted_pair = take(4 * rows);
  l.row_of_pair = take(4 * n);
  l.tile_expert = take(4 * max_tiles(s));
  l.num_tiles = take(4);
  l.h = take(2 * rows * s.I);
  if (fused) {
    l.yw = take(4 * n * s.H);
  } else {
    l.xg = take(2 * rows * s.H);
    l.gu = take(4 * rows * 2 * s.I);
    if (fp8_row) {
      l.sx = take(4 * rows);
      l.sh = take(4 * rows);
      l.yacc = take(4 * rows * s.H);
    } else {
      l.ye = take(2 * rows * s.H);
    }
    l.ys = take(2 * n * s.H);
  }
  l.total = off;
  return l;
}

}  // namespace moecheck::ec

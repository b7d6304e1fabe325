// Host twin of the warp decode kernels: the lanes of each warp are emulated
// one after another (lane_dot / lane_dot2 from warp_math.hpp), then the xor
// butterfly, the activation and the stores exactly as on the device. Output
// is bitwise the device's (checked by the GPU tests).
#pragma once

#include <cstring>
#include <vector>

#include "core/error.hpp"
#include "kernels/activation.hpp"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::warp_decode {

template <class HT>
void run_twin(const Case& c, std::vector<uint8_t>& y) {
  const Shape s = c.shape;
  const int64_t T = s.T, H = s.H, I = s.I, k = s.k;
  if (c.x_format != Format::bf16 || c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
    throw InputError("warp_decode twin: bf16 x and weights only");
  std::vector<int64_t> slots(static_cast<size_t>(T * k));  // (T, k)
  for (int64_t tj = 0; tj < T * k; ++tj) {
    slots[tj] = c.slot_of(c.topk_ids[tj]);
    if (slots[tj] < 0) throw InputError("warp_decode twin: routed expert " + std::to_string(c.topk_ids[tj]) + " not stored");
  }
  const uint8_t* w13 = c.w13.data.data();
  const uint8_t* w2 = c.w2.data.data();
  const int64_t w13_row = c.w13.row_bytes(), w2_row = c.w2.row_bytes();

  // Kernel 1: one warp per (t, j, n).
  std::vector<typename HT::Store> h(static_cast<size_t>(T * k * I));  // (T, k, I)
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < T * k * I; ++w) {
    const int64_t n = w % I, tj = w / I, t = tj / k;
    const int64_t slot = slots[tj];
    const uint8_t* g_row = w13 + (slot * 2 * I + gate_row_of(c.layout, I, n)) * w13_row;
    const uint8_t* u_row = w13 + (slot * 2 * I + up_row_of(c.layout, I, n)) * w13_row;
    const uint8_t* x_row = c.x.data() + t * H * 2;
    float g[kWarp], u[kWarp];
    for (int l = 0; l < kWarp; ++l) {
      g[l] = 0.0f;
      u[l] = 0.0f;
      lane_dot2<Bf16Weights, Bf16Vec>(g_row, u_row, x_row, H, l, g[l], u[l]);
    }
    const float gs = butterfly_host(g), us = butterfly_host(u);
    h[w] = HT::store(act::apply(c.act, gs, us));
  }

  // Kernel 2: one warp per (t, i), w_j folded into one accumulator per lane.
  y.assign(static_cast<size_t>(T * H) * 2, 0);  // (T, H) bf16 codes
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < T * H; ++w) {
    const int64_t i = w % H, t = w / H;
    float acc[kWarp];
    for (int l = 0; l < kWarp; ++l) acc[l] = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t tj = t * k + j;
      const uint8_t* d_row = w2 + (slots[tj] * H + i) * w2_row;
      const void* h_row = h.data() + tj * I;
      const float wj = c.topk_weights[tj];
      for (int l = 0; l < kWarp; ++l) {
        const float p = lane_dot<Bf16Weights, typename HT::Read>(d_row, h_row, I, l, 0.0f);
        acc[l] = ffma(wj, p, acc[l]);
      }
    }
    const uint16_t code = f32_to_bf16_rn(butterfly_host(acc));
    std::memcpy(&y[static_cast<size_t>(w) * 2], &code, 2);
  }
}

}  // namespace moecheck::warp_decode

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

template <class HT, class W, class X>
void run_twin_fmt(const Case& c, std::vector<uint8_t>& y) {
  const Shape s = c.shape;
  const int64_t T = s.T, H = s.H, I = s.I, k = s.k;
  std::vector<int64_t> slots(static_cast<size_t>(T * k));  // (T, k)
  for (int64_t tj = 0; tj < T * k; ++tj) {
    slots[tj] = c.slot_of(c.topk_ids[tj]);
    if (slots[tj] < 0) throw InputError("warp_decode twin: routed expert " + std::to_string(c.topk_ids[tj]) + " not stored");
  }
  const float* ts13 = c.w13.tensor_scale.empty() ? nullptr : c.w13.tensor_scale.data();  // (S) nvfp4
  const float* ts2 = c.w2.tensor_scale.empty() ? nullptr : c.w2.tensor_scale.data();

  // Kernel 1: one warp per (t, j, n).
  std::vector<typename HT::Store> h(static_cast<size_t>(T * k * I));  // (T, k, I)
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < T * k * I; ++w) {
    const int64_t n = w % I, tj = w / I, t = tj / k;
    const int64_t slot = slots[tj];
    const auto g_row = W::row(c.w13.data.data(), c.w13.scales.data(), ts13, slot, 2 * I, H, gate_row_of(c.layout, I, n));
    const auto u_row = W::row(c.w13.data.data(), c.w13.scales.data(), ts13, slot, 2 * I, H, up_row_of(c.layout, I, n));
    const uint8_t* x_row = c.x.data() + t * H * X::kBytes;  // (H)
    float g[kWarp], u[kWarp];
    for (int l = 0; l < kWarp; ++l) {
      g[l] = 0.0f;
      u[l] = 0.0f;
      lane_dot2<W, X>(g_row, u_row, x_row, H, l, g[l], u[l]);
    }
    const float gs = butterfly_host(g), us = butterfly_host(u);
    h[w] = HT::store(act::apply(c.act, gs, us));
  }

  // Kernel 2: one warp per (t, i), w_j folded into one accumulator per lane.
  const int64_t yb = format_bits(c.y_format) / 8;
  y.assign(static_cast<size_t>(T * H * yb), 0);  // (T, H) codes of y_format, little endian
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < T * H; ++w) {
    const int64_t i = w % H, t = w / H;
    float acc[kWarp];
    for (int l = 0; l < kWarp; ++l) acc[l] = 0.0f;
    for (int64_t j = 0; j < k; ++j) {
      const int64_t tj = t * k + j;
      const auto d_row = W::row(c.w2.data.data(), c.w2.scales.data(), ts2, slots[tj], H, I, i);
      const void* h_row = h.data() + tj * I;
      const float wj = c.topk_weights[tj];
      for (int l = 0; l < kWarp; ++l) {
        const float p = lane_dot<W, typename HT::Read>(d_row, h_row, I, l, 0.0f);
        acc[l] = ffma(wj, p, acc[l]);
      }
    }
    const uint32_t code = f32_to_code(c.y_format, butterfly_host(acc));
    std::memcpy(&y[static_cast<size_t>(w * yb)], &code, static_cast<size_t>(yb));  // little endian host
  }
}

template <class HT>
void run_twin(const Case& c, std::vector<uint8_t>& y) {
  if (c.w13.format != c.w2.format)
    throw InputError("warp_decode twin: w13 and w2 must share one weight format");
  check_output_format("warp_decode twin", c.y_format);
  with_weights(c.w13.format, [&](auto w) {
    with_x(c.x_format, [&](auto x) { run_twin_fmt<HT, decltype(w), decltype(x)>(c, y); });
  });
}

}  // namespace moecheck::warp_decode

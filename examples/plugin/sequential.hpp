// example_sequential: the simplest correct MoE layer, as a plugin template.
// One thread per h element and one per output element, each a single
// sequential fp32 fma chain (no lane split, no tree); h kept in fp32. The
// device kernels and the host twin share these functions, so the twin is
// bit-exact by construction.
#pragma once

#include <cstdint>

#include <moecheck/core/formats.hpp>
#include <moecheck/core/problem.hpp>
#include <moecheck/kernels/activation.hpp>

// Host and device code alike: CMakeLists.txt asks for C++20 from g++ and nvcc.
static_assert(__cplusplus >= 202002L, "the plugin template compiles as C++20 (see CMakeLists.txt)");

namespace example {

MOECHECK_HD float fma32(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fmaf(a, b, c);
#endif
}

// h[t, j, n] for slot `e` of token t: x (T, H) bf16, w13 (S, 2I, H) bf16.
MOECHECK_HD float h_element(const uint16_t* x, const uint16_t* w13, const moecheck::ActivationSpec& act,
                            moecheck::GateUpLayout layout, int64_t H, int64_t I, int64_t t, int64_t e, int64_t n) {
  const bool cat = layout == moecheck::GateUpLayout::concatenated;
  const uint16_t* g_row = w13 + (e * 2 * I + (cat ? n : 2 * n)) * H;
  const uint16_t* u_row = w13 + (e * 2 * I + (cat ? I + n : 2 * n + 1)) * H;
  const uint16_t* x_row = x + t * H;
  float g = 0.0f, u = 0.0f;
  for (int64_t c = 0; c < H; ++c) {
    const float xv = moecheck::bf16_to_f32(x_row[c]);
    g = fma32(moecheck::bf16_to_f32(g_row[c]), xv, g);
    u = fma32(moecheck::bf16_to_f32(u_row[c]), xv, u);
  }
  return moecheck::act::apply(act, g, u);
}

// y[t, i] as the fp32 accumulator: expert outputs D_e[i] . h[t, j] finished
// one by one, then acc = fma(w_j, y_j, acc) in slot order. The caller stores
// it in the format the case asks for (moecheck::f32_to_code).
MOECHECK_HD float y_element(const float* h, const uint16_t* w2, const int32_t* slots, const float* weights,
                               int64_t H, int64_t I, int64_t k, int64_t t, int64_t i) {
  float acc = 0.0f;
  for (int64_t j = 0; j < k; ++j) {
    const uint16_t* d_row = w2 + (static_cast<int64_t>(slots[t * k + j]) * H + i) * I;
    const float* h_row = h + (t * k + j) * I;
    float p = 0.0f;
    for (int64_t n = 0; n < I; ++n) p = fma32(moecheck::bf16_to_f32(d_row[n]), h_row[n], p);
    acc = fma32(weights[t * k + j], p, acc);
  }
  return acc;
}

}  // namespace example

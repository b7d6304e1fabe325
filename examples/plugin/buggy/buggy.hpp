// The element functions of the planted-bug variants, shared by the device
// kernels (buggy.cu) and the host twins (buggy.cpp) so that both have the
// same bug and the twin is bit-exact by construction. Each bug is otherwise
// the simplest correct layer: one sequential fp32 fma chain per dot product,
// h in fp32, output in the case's y format.
#pragma once

#include <cstdint>

#include "core/formats.hpp"
#include "core/problem.hpp"
#include "kernels/activation.hpp"

namespace buggy {

enum class Bug : uint8_t {
  tail_h, topk4, token_off1, h_bf16, layout, dense, unwritten, batch_split, nondet,
  // Production-scale-only bugs: correct below their trigger.
  split_t40, tail_i1536, slot_wrap192, token_wrap96, topk12,
};

MOECHECK_HD float fma32(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fmaf(a, b, c);
#endif
}

// Routing entries a token combines: bug_topk4 ignores those past the 4th,
// bug_topk12 those past the 12th.
MOECHECK_HD int64_t combined_k(Bug bug, int64_t k) {
  if (bug == Bug::topk4 && k > 4) return 4;
  return bug == Bug::topk12 && k > 12 ? 12 : k;
}

// The storage slot actually read for slot e: bug_slot_wrap192 keeps slot ids
// in a 192-entry table, so they wrap once more than 192 experts are stored.
MOECHECK_HD int64_t read_slot(Bug bug, int64_t e, int64_t S) { return bug == Bug::slot_wrap192 && S > 192 ? e % 192 : e; }

// Length of each token's expert list: bug_dense appends every stored expert
// the token did not select (up to S of them).
MOECHECK_HD int64_t list_len(Bug bug, int64_t k, int64_t S) { return combined_k(bug, k) + (bug == Bug::dense ? S : 0); }

// Whether token t selected storage slot e (among all k of its slots).
MOECHECK_HD bool selected(const int32_t* slots, int64_t k, int64_t t, int64_t e) {
  for (int64_t q = 0; q < k; ++q)
    if (slots[t * k + q] == e) return true;
  return false;
}

// Storage slot of entry j of token t's expert list, or -1 past its end:
// the selected slots (T, k) in order, then for bug_dense the unselected
// slots in increasing order.
MOECHECK_HD int64_t list_slot(Bug bug, const int32_t* slots, int64_t k, int64_t S, int64_t t, int64_t j) {
  const int64_t kk = combined_k(bug, k);
  if (j < kk) return read_slot(bug, slots[t * k + j], S);
  if (bug != Bug::dense) return -1;
  int64_t unused = j - kk;
  for (int64_t e = 0; e < S; ++e)
    if (!selected(slots, k, t, e) && unused-- == 0) return e;
  return -1;
}

// The token whose x row token t reads: bug_token_off1 gives the last token
// of a batch the previous one's; bug_token_wrap96 keeps token indices in a
// 96-entry table.
MOECHECK_HD int64_t x_token(Bug bug, int64_t T, int64_t t) {
  if (bug == Bug::token_wrap96) return t % 96;
  return bug == Bug::token_off1 && T > 1 && t == T - 1 ? t - 1 : t;
}

// h[n] of storage slot e for x row `x_row`: x (H) bf16, w13 (S, 2I, H) bf16.
MOECHECK_HD float h_element(Bug bug, const uint16_t* x_row, const uint16_t* w13, const moecheck::ActivationSpec& act,
                            moecheck::GateUpLayout layout, int64_t H, int64_t I, int64_t e, int64_t n) {
  // bug_layout: reads interleaved gate/up as if concatenated.
  const bool cat = bug == Bug::layout || layout == moecheck::GateUpLayout::concatenated;
  const uint16_t* g_row = w13 + (e * 2 * I + (cat ? n : 2 * n)) * H;
  const uint16_t* u_row = w13 + (e * 2 * I + (cat ? I + n : 2 * n + 1)) * H;
  // bug_tail_h: vectorized by 8 without the remainder loop.
  const int64_t len = bug == Bug::tail_h ? H - H % 8 : H;
  float g = 0.0f, u = 0.0f;
  for (int64_t c = 0; c < len; ++c) {
    const float xv = moecheck::bf16_to_f32(x_row[c]);
    g = fma32(moecheck::bf16_to_f32(g_row[c]), xv, g);
    u = fma32(moecheck::bf16_to_f32(u_row[c]), xv, u);
  }
  const float hv = moecheck::act::apply(act, g, u);
  // bug_h_bf16: an undeclared rounding of h.
  return bug == Bug::h_bf16 ? moecheck::bf16_to_f32(moecheck::f32_to_bf16_rn(hv)) : hv;
}

// D_e[i] . h for one down row d (I): sequential, except that bug_batch_split
// splits it in halves when T > 1 (bug_split_t40 when T >= 40), bug_nondet
// reverses it on odd calls and bug_tail_i1536 drops the I % 64 tail of large
// intermediate sizes (a 64-wide tile loop without its remainder).
MOECHECK_HD float down_dot(Bug bug, const uint16_t* d, const float* h, int64_t I, int64_t T, bool reverse) {
  if (bug == Bug::tail_i1536 && I >= 1536) I -= I % 64;
  if (((bug == Bug::batch_split && T > 1) || (bug == Bug::split_t40 && T >= 40)) && I > 1) {
    float a = 0.0f, b = 0.0f;
    for (int64_t n = 0; n < I / 2; ++n) a = fma32(moecheck::bf16_to_f32(d[n]), h[n], a);
    for (int64_t n = I / 2; n < I; ++n) b = fma32(moecheck::bf16_to_f32(d[n]), h[n], b);
    return a + b;
  }
  float p = 0.0f;
  for (int64_t q = 0; q < I; ++q) {
    const int64_t n = reverse ? I - 1 - q : q;
    p = fma32(moecheck::bf16_to_f32(d[n]), h[n], p);
  }
  return p;
}

// y[t, i] as fp32 before the rounding to y's format: each list entry's finished dot
// product scaled by its routing weight (0 for bug_dense's extra entries) and
// folded in list order. h is (T, L, I), L = list_len; w2 (S, H, I) bf16.
// The list is walked in one pass (list_slot per entry would be quadratic).
MOECHECK_HD float y_element(Bug bug, const float* h, const uint16_t* w2, const int32_t* slots, const float* weights,
                            moecheck::Shape s, int64_t S, int64_t t, int64_t i, bool reverse) {
  const int64_t L = list_len(bug, s.k, S), kk = combined_k(bug, s.k);
  float acc = 0.0f;
  int64_t j = 0;  // list entry
  for (int64_t q = 0; q < L; ++q) {
    int64_t e;
    float w = 0.0f;  // bug_dense's unselected slots
    if (q < kk) {
      e = read_slot(bug, slots[t * s.k + q], S);
      w = weights[t * s.k + q];
    } else {
      e = q - kk;  // slot e, in the list only where token t did not select it
      if (selected(slots, s.k, t, e)) continue;
    }
    acc = fma32(w, down_dot(bug, w2 + (e * s.H + i) * s.I, h + (t * L + j++) * s.I, s.I, s.T, reverse), acc);
  }
  return acc;
}

// bug_unwritten: the last output column of odd tokens is never stored.
MOECHECK_HD bool skips_write(Bug bug, int64_t H, int64_t t, int64_t i) {
  return bug == Bug::unwritten && t % 2 == 1 && i == H - 1;
}

}  // namespace buggy

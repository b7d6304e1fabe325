// Deliberately wrong variants, each a bug class real MoE kernels have had.
// They exist so that `moecheck fuzz` can be shown (and CI can check) to find
// and shrink each one. Every one is otherwise the simplest correct layer: one
// sequential fp32 fma chain per dot product, h in fp32, bf16 output, with a
// host twin (no device code), so CPU-only CI fuzzes them.
//
//   bug_tail_h       gate/up loop vectorized by 8 without the remainder: the
//                    last H % 8 hidden channels are dropped
//   bug_topk4        top-k hard-coded to 4: experts past the 4th are ignored
//   bug_token_off1   the last token of a batch reads the previous token's x
//   bug_h_bf16       h rounded to bf16 while the declaration says fp32
//   bug_layout       gate/up always read as concatenated, even when interleaved
//   bug_dense        computes every stored expert, the unselected ones with
//                    weight 0: right on finite data, but 0 * NaN leaks NaN
//   bug_unwritten    never writes the last output column of odd tokens
//   bug_batch_split  with T > 1 splits the down reduction in two halves: a
//                    token's bits depend on the batch it is in
//   bug_nondet       alternates the down reduction order between calls, as an
//                    atomics-based reduction does
#include <algorithm>
#include <cmath>
#include <utility>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "kernels/activation.hpp"
#include "kernels/plugin_api.hpp"

namespace buggy {

using namespace moecheck;

enum class Bug { tail_h, topk4, token_off1, h_bf16, layout, dense, unwritten, batch_split, nondet };

struct Info {
  const char* name;
  const char* what;
};
constexpr Info kInfo[] = {
    {"bug_tail_h", "planted bug: drops the last H % 8 channels of the gate/up dot products"},
    {"bug_topk4", "planted bug: ignores experts past the 4th (top-k hard-coded to 4)"},
    {"bug_token_off1", "planted bug: the last token of a batch reads the previous token's x"},
    {"bug_h_bf16", "planted bug: rounds h to bf16 but declares h in fp32"},
    {"bug_layout", "planted bug: reads fused gate/up as concatenated even when interleaved"},
    {"bug_dense", "planted bug: computes unselected experts with weight 0 (NaN leaks)"},
    {"bug_unwritten", "planted bug: leaves the last output column of odd tokens unwritten"},
    {"bug_batch_split", "planted bug: reduction split depends on the batch size"},
    {"bug_nondet", "planted bug: reduction order alternates between calls"},
};

class Buggy final : public Variant {
 public:
  explicit Buggy(Bug b) : bug_(b) {}
  std::string name() const override { return kInfo[static_cast<int>(bug_)].name; }
  std::string family() const override { return "buggy"; }
  std::string description() const override { return kInfo[static_cast<int>(bug_)].what; }
  Claims claims() const override { return {true, true, true}; }

  // The declaration of a correct sequential kernel: the bugs are undeclared.
  Numerics numerics(const Case&) const override {
    Numerics n;
    n.gate_up = ReductionShape{1, true, 0};
    n.activation_ulps = 1;
    n.h_format = Format::f32;
    n.down = ReductionShape{1, true, 0};
    n.combine = Combine::fold_partials;
    n.output_format = Format::bf16;
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16) return Support::no(name() + " takes bf16 x");
    if (c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
      return Support::no(name() + " takes bf16 weights");
    return Support::yes();
  }

  bool has_device() const override { return false; }
  size_t workspace_bytes(const Shape&) const override { return 0; }
  void run_device(const DeviceArgs&, void*, CUstream_st*) const override {
    throw InputError(name() + " is host-only");
  }

  void run_host(const Case& c, std::vector<uint8_t>& y) const override {
    const Shape s = c.shape;
    const auto* x = reinterpret_cast<const uint16_t*>(c.x.data());
    const auto* w13 = reinterpret_cast<const uint16_t*>(c.w13.data.data());
    const int64_t kk = bug_ == Bug::topk4 ? std::min<int64_t>(s.k, 4) : s.k;
    // bug_unwritten relies on the caller's NaN prefill staying visible.
    if (bug_ == Bug::unwritten)
      y.resize(static_cast<size_t>(s.T * s.H) * 2, 0xFF);
    else
      y.assign(static_cast<size_t>(s.T * s.H) * 2, 0);
    const bool reverse = bug_ == Bug::nondet && (calls_++ % 2 == 1);
    std::vector<float> h(static_cast<size_t>(s.I));  // (I) of one (token, expert)
    for (int64_t t = 0; t < s.T; ++t) {
      const int64_t xt = bug_ == Bug::token_off1 && s.T > 1 && t == s.T - 1 ? t - 1 : t;
      // (slot, weight) pairs this token combines, in order.
      std::vector<std::pair<int64_t, float>> experts;
      for (int64_t j = 0; j < kk; ++j) experts.emplace_back(c.slot_of(c.id(t, j)), c.weight(t, j));
      if (bug_ == Bug::dense)
        for (int64_t e = 0; e < c.stored_count(); ++e) {
          bool used = false;
          for (int64_t j = 0; j < s.k; ++j) used |= c.slot_of(c.id(t, j)) == e;
          if (!used) experts.emplace_back(e, 0.0f);
        }
      std::vector<float> acc(static_cast<size_t>(s.H), 0.0f);
      for (const auto& [e, w] : experts) {
        for (int64_t n = 0; n < s.I; ++n) h[n] = h_element(c, x + xt * s.H, w13, e, n);
        for (int64_t i = 0; i < s.H; ++i) acc[i] = std::fmaf(w, down_dot(c, e, i, h.data(), reverse), acc[i]);
      }
      for (int64_t i = 0; i < s.H; ++i) {
        if (bug_ == Bug::unwritten && t % 2 == 1 && i == s.H - 1) continue;
        const uint16_t code = f32_to_bf16_rn(acc[i]);
        std::memcpy(&y[(t * s.H + i) * 2], &code, 2);
      }
    }
  }

 private:
  // D_e[i] . h, sequential (or, for the planted bugs, split or reversed).
  float down_dot(const Case& c, int64_t e, int64_t i, const float* h, bool reverse) const {
    const int64_t I = c.shape.I;
    const uint16_t* d = reinterpret_cast<const uint16_t*>(c.w2.data.data()) + (e * c.shape.H + i) * I;
    if (bug_ == Bug::batch_split && c.shape.T > 1 && I > 1) {
      float a = 0.0f, b = 0.0f;
      for (int64_t n = 0; n < I / 2; ++n) a = std::fmaf(bf16_to_f32(d[n]), h[n], a);
      for (int64_t n = I / 2; n < I; ++n) b = std::fmaf(bf16_to_f32(d[n]), h[n], b);
      return a + b;
    }
    float p = 0.0f;
    for (int64_t q = 0; q < I; ++q) {
      const int64_t n = reverse ? I - 1 - q : q;
      p = std::fmaf(bf16_to_f32(d[n]), h[n], p);
    }
    return p;
  }

  float h_element(const Case& c, const uint16_t* xrow, const uint16_t* w13, int64_t e, int64_t n) const {
    const int64_t H = c.shape.H, I = c.shape.I;
    const GateUpLayout l = bug_ == Bug::layout ? GateUpLayout::concatenated : c.layout;
    const uint16_t* g_row = w13 + (e * 2 * I + gate_row(l, I, n)) * H;
    const uint16_t* u_row = w13 + (e * 2 * I + up_row(l, I, n)) * H;
    const int64_t len = bug_ == Bug::tail_h ? H - H % 8 : H;
    float g = 0.0f, u = 0.0f;
    for (int64_t q = 0; q < len; ++q) {
      const float xv = bf16_to_f32(xrow[q]);
      g = std::fmaf(bf16_to_f32(g_row[q]), xv, g);
      u = std::fmaf(bf16_to_f32(u_row[q]), xv, u);
    }
    const float hv = act::apply(c.act, g, u);
    return bug_ == Bug::h_bf16 ? bf16_to_f32(f32_to_bf16_rn(hv)) : hv;
  }

  Bug bug_;
  mutable int calls_ = 0;
};

}  // namespace buggy

MOECHECK_PLUGIN(registrar) {
  for (auto b : {buggy::Bug::tail_h, buggy::Bug::topk4, buggy::Bug::token_off1, buggy::Bug::h_bf16, buggy::Bug::layout,
                 buggy::Bug::dense, buggy::Bug::unwritten, buggy::Bug::batch_split, buggy::Bug::nondet})
    registrar.add(std::make_unique<buggy::Buggy>(b));
}

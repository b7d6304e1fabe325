// Deliberately wrong variants, each a bug class real MoE kernels have had.
// They exist so that `moecheck fuzz` can be shown (and CI can check) to find
// and shrink each one, on the host twins (CPU-only CI) and on the device.
// Every one is otherwise the simplest correct layer (buggy.hpp); the device
// kernels (buggy.cu) and the host twins share its element functions.
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
//                    atomics-based reduction does (a call counter per backend)
// and five that only production-scale shapes trigger:
//   bug_split_t40    splits the down reduction in halves when T >= 40
//   bug_tail_i1536   drops the I % 64 tail of the down reduction when I >= 1536
//   bug_slot_wrap192 storage slots wrap modulo 192 when more are stored
//   bug_token_wrap96 token t reads x row t % 96
//   bug_topk12       ignores routing entries past the 12th
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "buggy.hpp"
#include "core/error.hpp"
#include "kernels/plugin_api.hpp"

#if EXAMPLE_WITH_CUDA
#include <cuda_runtime.h>
namespace buggy {
void launch_buggy(Bug bug, const moecheck::DeviceArgs& a, void* workspace, cudaStream_t stream);
}
#endif

namespace buggy {

using namespace moecheck;

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
    {"bug_split_t40", "planted bug: down reduction split in halves when T >= 40"},
    {"bug_tail_i1536", "planted bug: drops the I % 64 tail of the down reduction when I >= 1536"},
    {"bug_slot_wrap192", "planted bug: storage slots wrap modulo 192 when more than 192 experts are stored"},
    {"bug_token_wrap96", "planted bug: token t reads the x row of token t % 96"},
    {"bug_topk12", "planted bug: ignores routing entries past the 12th"},
};

class Buggy final : public Variant {
 public:
  explicit Buggy(Bug b) : bug_(b) {}
  std::string name() const override { return kInfo[static_cast<int>(bug_)].name; }
  std::string family() const override { return "buggy"; }
  std::string description() const override { return kInfo[static_cast<int>(bug_)].what; }
  Claims claims() const override { return {true, true, true}; }

  // The declaration of a correct sequential kernel: the bugs are undeclared.
  Numerics numerics(const Case& c) const override {
    Numerics n;
    n.gate_up = ReductionShape{1, true, 0};
    n.activation_ulps = 1;
    n.h_format = Format::f32;
    n.down = ReductionShape{1, true, 0};
    n.combine = Combine::fold_partials;
    n.output_format = c.y_format;
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16) return Support::no(name() + " takes bf16 x");
    if (c.y_format != Format::bf16 && c.y_format != Format::f16 && c.y_format != Format::f32)
      return Support::no(name() + " writes y in bf16, f16 or f32");
    if (c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
      return Support::no(name() + " takes bf16 weights");
    return Support::yes();
  }

  bool has_device() const override { return EXAMPLE_WITH_CUDA != 0; }
  size_t workspace_bytes(const Shape& s) const override {
    return static_cast<size_t>(s.T * list_len(bug_, s.k, s.E) * s.I) * sizeof(float);  // h (T, L, I)
  }
  void run_device(const DeviceArgs& a, void* ws, CUstream_st* stream) const override {
#if EXAMPLE_WITH_CUDA
    launch_buggy(bug_, a, ws, stream);
#else
    (void)a, (void)ws, (void)stream;
    throw InputError(name() + " was built without CUDA");
#endif
  }

  void run_host(const Case& c, std::vector<uint8_t>& y) const override {
    const Shape s = c.shape;
    const int64_t S = c.stored_count(), L = list_len(bug_, s.k, S);
    std::vector<int32_t> slots(c.topk_ids.size());  // (T, k) storage slots
    for (size_t i = 0; i < slots.size(); ++i) slots[i] = static_cast<int32_t>(c.slot_of(c.topk_ids[i]));
    const auto* x = reinterpret_cast<const uint16_t*>(c.x.data());
    const auto* w13 = reinterpret_cast<const uint16_t*>(c.w13.data.data());
    const auto* w2 = reinterpret_cast<const uint16_t*>(c.w2.data.data());
    std::vector<float> h(static_cast<size_t>(s.T * L * s.I));  // (T, L, I)
    for (int64_t tj = 0; tj < s.T * L; ++tj) {
      const int64_t t = tj / L, e = list_slot(bug_, slots.data(), s.k, S, t, tj % L);
      if (e < 0) continue;
      for (int64_t n = 0; n < s.I; ++n)
        h[tj * s.I + n] = h_element(bug_, x + x_token(bug_, s.T, t) * s.H, w13, c.act, c.layout, s.H, s.I, e, n);
    }
    const bool reverse = bug_ == Bug::nondet && calls_++ % 2 == 1;
    // bug_unwritten relies on the caller's NaN prefill staying visible.
    const int64_t yb = format_bits(c.y_format) / 8;
    y.resize(static_cast<size_t>(s.T * s.H * yb), 0xFF);  // (T, H) codes of y_format, little endian
    for (int64_t idx = 0; idx < s.T * s.H; ++idx) {
      const int64_t t = idx / s.H, i = idx % s.H;
      if (skips_write(bug_, s.H, t, i)) continue;
      const uint32_t code = f32_to_code(
          c.y_format, y_element(bug_, h.data(), w2, slots.data(), c.topk_weights.data(), s, S, t, i, reverse));
      std::memcpy(&y[idx * yb], &code, static_cast<size_t>(yb));  // little endian host
    }
  }

 private:
  Bug bug_;
  mutable int calls_ = 0;  // bug_nondet's host call counter
};

}  // namespace buggy

MOECHECK_PLUGIN(registrar) {
  for (int b = 0; b < static_cast<int>(std::size(buggy::kInfo)); ++b)
    registrar.add(std::make_unique<buggy::Buggy>(static_cast<buggy::Bug>(b)));
}

// warp_decode_grouped: numerics declaration, host twin and registration.
#include "kernels/warp_decode/grouped.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "kernels/activation.hpp"
#include "kernels/variant.hpp"
#include "kernels/warp_decode/family.hpp"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck {
namespace warp_decode::grouped {

void group_pairs_host(const std::vector<int32_t>& slots, int64_t S, std::vector<int32_t>& sorted,
                      std::vector<Tile>& tiles) {
  std::vector<int32_t> count(static_cast<size_t>(S), 0), cur(static_cast<size_t>(S));
  for (int32_t s : slots) ++count[static_cast<size_t>(s)];
  sorted.assign(slots.size(), -1);
  tiles.clear();
  int32_t first = 0;
  for (int32_t s = 0; s < S; ++s) {
    cur[s] = first;
    for (int32_t q = 0; q < count[s]; q += kM) tiles.push_back(Tile{s, first + q, std::min(kM, count[s] - q), 0});
    first += count[s];
  }
  for (size_t q = 0; q < slots.size(); ++q) sorted[static_cast<size_t>(cur[slots[q]]++)] = static_cast<int32_t>(q);
}

namespace {

// Host twin. Each token's arithmetic is independent of its tile (the device
// runs the same chain for a token whichever tile holds it), so the twin
// walks the pairs directly: per (t, j, n) warp_decode's gate/up lanes, per
// (t, j, i) the down lanes and butterfly, then the ordered combine.
void run_twin(const Case& c, std::vector<uint8_t>& y) {
  const Shape s = c.shape;
  const int64_t T = s.T, H = s.H, I = s.I, k = s.k;
  if (c.x_format != Format::bf16 || c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
    throw InputError("warp_decode_grouped twin: bf16 x and weights only");
  check_output_format("warp_decode_grouped twin", c.y_format);
  std::vector<int64_t> slots(static_cast<size_t>(T * k));  // (T, k)
  for (int64_t tj = 0; tj < T * k; ++tj) {
    slots[tj] = c.slot_of(c.topk_ids[tj]);
    if (slots[tj] < 0)
      throw InputError("warp_decode_grouped twin: routed expert " + std::to_string(c.topk_ids[tj]) + " not stored");
  }
  const uint8_t* w13 = c.w13.data.data();
  const uint8_t* w2 = c.w2.data.data();
  const int64_t w13_row = c.w13.row_bytes(), w2_row = c.w2.row_bytes();

  std::vector<uint16_t> h(static_cast<size_t>(T * k * I));  // (T, k, I) bf16
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < T * k * I; ++w) {
    const int64_t n = w % I, tj = w / I, t = tj / k;
    const uint8_t* g_row = w13 + (slots[tj] * 2 * I + gate_row_of(c.layout, I, n)) * w13_row;
    const uint8_t* u_row = w13 + (slots[tj] * 2 * I + up_row_of(c.layout, I, n)) * w13_row;
    const uint8_t* x_row = c.x.data() + t * H * 2;
    float g[kWarp], u[kWarp];
    for (int l = 0; l < kWarp; ++l) {
      g[l] = 0.0f;
      u[l] = 0.0f;
      lane_dot2<Bf16Weights, Bf16Vec>(g_row, u_row, x_row, H, l, g[l], u[l]);
    }
    const float gs = butterfly_host(g), us = butterfly_host(u);
    h[w] = f32_to_bf16_rn(act::apply(c.act, gs, us));
  }

  std::vector<float> p(static_cast<size_t>(T * k * H));  // (T, k, H)
#pragma omp parallel for schedule(static)
  for (int64_t w = 0; w < T * k * H; ++w) {
    const int64_t i = w % H, tj = w / H;
    const uint8_t* d_row = w2 + (slots[tj] * H + i) * w2_row;
    float acc[kWarp];
    for (int l = 0; l < kWarp; ++l) acc[l] = lane_dot<Bf16Weights, Bf16Vec>(d_row, h.data() + tj * I, I, l, 0.0f);
    p[w] = butterfly_host(acc);
  }

  const int64_t yb = format_bits(c.y_format) / 8;
  y.assign(static_cast<size_t>(T * H * yb), 0);  // (T, H) codes of y_format, little endian
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < H; ++i) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        const float wp = c.topk_weights[t * k + j] * p[(t * k + j) * H + i];  // one rounding (no contraction)
        acc = fadd(acc, wp);
      }
      const uint32_t code = f32_to_code(c.y_format, acc);
      std::memcpy(&y[static_cast<size_t>((t * H + i) * yb)], &code, static_cast<size_t>(yb));  // little endian host
    }
  }
}

class GroupedVariant final : public Variant {
 public:
  std::string name() const override { return "warp_decode_grouped"; }
  std::string family() const override { return "warp_decode"; }
  std::string description() const override {
    return "warp decode with pairs grouped by expert: warp per (expert tile of <= 8 tokens, row) streams each "
           "gate/up and down row once per step, one fp32 chain per token in warp_decode's lane order (h bitwise "
           "warp_decode's, bf16); per-expert outputs fp32, combined in expert order";
  }
  // Every token runs its own chains in a fixed order whatever its tile; the
  // grouping is a counting sort with a routing-only order; no float atomics.
  Claims claims() const override { return {true, true, true}; }

  Numerics numerics(const Case& c) const override {
    // warp_math.hpp's lane order, declared exactly: 8-term chunks dealt
    // round-robin to 32 lanes, one fma chain each from +0, xor butterfly.
    constexpr ReductionShape lane_order{kWarp, true, 0, kChunk};
    Numerics n;
    n.accumulator = Format::f32;
    n.gate_up = lane_order;
    n.activation_ulps = 1;  // kernels/activation.hpp: double evaluation, one rounding
    n.h_format = Format::bf16;
    n.down = lane_order;
    // y = sum_j RN(w_j p_j) in order from +0, p_j the finished fp32 D_j h_j.
    n.combine = Combine::per_expert_outputs;
    n.expert_out_format = Format::f32;
    n.output_format = c.y_format;
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16)
      return Support::no("warp_decode_grouped takes bf16 x (got " + std::string(format_name(c.x_format)) + ")");
    if (c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
      return Support::no("warp_decode_grouped takes bf16 weights (got " +
                         std::string(weight_format_name(c.w13.format)) + ")");
    if (c.stored_count() > kMaxSlots)
      return Support::no("warp_decode_grouped: at most " + std::to_string(kMaxSlots) + " stored experts (got " +
                         std::to_string(c.stored_count()) + ")");
    return Support::yes();
  }

  bool has_device() const override {
#if MOECHECK_WITH_CUDA
    return true;
#else
    return false;
#endif
  }
  size_t workspace_bytes(const Shape& s) const override { return static_cast<size_t>(plan_layout(s).total); }

  void run_device(const DeviceArgs& a, void* ws, CUstream_st* stream) const override {
#if MOECHECK_WITH_CUDA
    launch(a, ws, stream);
#else
    (void)a, (void)ws, (void)stream;
    throw InputError("warp_decode_grouped: built without CUDA");
#endif
  }

  void run_host(const Case& c, std::vector<uint8_t>& y) const override { run_twin(c, y); }
};

}  // namespace
}  // namespace warp_decode::grouped

std::unique_ptr<Variant> make_warp_decode_grouped() {
  return std::make_unique<warp_decode::grouped::GroupedVariant>();
}

}  // namespace moecheck
